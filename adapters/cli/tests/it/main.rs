//! The `gridloop` binary and its demo, end to end.

mod audit;
mod binary;
mod console;
mod crash;
mod demo;
mod month;
mod sealing;
mod serve;
mod support;
mod timers;
