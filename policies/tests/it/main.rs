//! The policies on hand-built histories (the deadline index and its timer
//! commands, the points policy) and the tasks on live stores (the timers
//! and the dispatcher policy: firing, stopping, waiting out a failing
//! store, stopping on a corrupt log).

mod coordination;
mod deadlines;
mod points;
// The projections' hand-built histories, shared rather than copied.
#[path = "../../../projections/tests/it/support.rs"]
#[allow(dead_code, reason = "the projections' tests use the rest")]
mod support;
mod tasks;
