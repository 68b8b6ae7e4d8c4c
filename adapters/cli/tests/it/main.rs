//! The `gridloop` binary and its demo, end to end.

mod audit;
mod bad_input;
mod binary;
mod browser;
mod chat;
mod console;
mod console_desk;
mod crash;
mod demo;
mod department_browser;
mod field;
mod fuzz_corpus;
mod month;
mod nats;
mod notify;
mod operator;
mod photos;
mod resident;
mod scale;
mod sealing;
mod security;
mod serve;
mod simulation;
// The auditor's small test log, shared with the projections' audit tests.
#[path = "../../../../projections/tests/it/small_log.rs"]
mod small_log;
// The real SMTP server the notifier's tests start, for the resident's journey.
#[path = "../../../notify/tests/it/smtp.rs"]
mod smtp;
mod support;
mod weekly;
mod weekly_browser;
mod world;
