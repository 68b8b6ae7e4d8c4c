//! The `gridloop` binary and its demo, end to end.

mod audit;
mod bad_input;
mod binary;
mod chat;
mod console;
mod crash;
mod demo;
mod month;
mod nats;
mod sealing;
mod serve;
mod simulation;
mod support;
mod timers;
