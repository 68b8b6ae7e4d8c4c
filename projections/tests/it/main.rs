//! Projections on hand-built histories with known answers, and the runner's
//! promises (resume, redelivery, crash between apply and save, rebuild ==
//! live) on random histories.

mod audit;
mod board;
mod cold;
mod directory;
mod ledger;
mod metrics;
mod runner;
mod small_log;
mod support;
mod weekly;
