//! The library half of the `gridloop` binary: what its subcommands do, kept
//! apart from argument parsing so that tests can drive it.
//!
//! - [`demo`]: simulated days of the closed loop through the real command
//!   service and the sled store.
//! - [`report`]: folding the log into the metrics, the rates table, and the
//!   HTML report's contents.
//! - the HTML report page is rendered by `gridloop_report` (maud templates).
//! - [`clock`]: the clock `serve` runs on (the wall clock; tests may set it ahead).
//! - [`photos`]: the photos the log names, checked, exported, imported, erased.

pub mod audit;
pub mod bench;
pub mod clock;
pub mod demo;
pub mod photos;
pub mod report;
pub mod sealing;
pub mod store;
