//! The library half of the `gridloop` binary: what its subcommands do, kept
//! apart from argument parsing so that tests can drive it.
//!
//! - [`demo`]: simulated days of the closed loop through the real command
//!   service and the sled store.
//! - [`report`]: folding the log into the metrics and printing the rates table.

pub mod demo;
pub mod report;
