//! The timer task: keeps the deadline index current and fires what falls
//! due, for a long-running process (`gridloop serve`).
//!
//! It sleeps until the earliest pending deadline, or until the log grows
//! (a new event may bring an earlier deadline), whichever comes first, and
//! never longer than [`NAP_MAX`], so that a clock that jumps (or a manual
//! clock in a test) is noticed within that time. On start it rebuilds the
//! index from the log, so whatever fell due while the process was down fires
//! at once. Every command it sends carries the ticket's version, so a
//! second timer process, or a restart in the middle of firing, writes
//! nothing twice.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_projections::deadlines::{DeadlineIndex, Fired};
use gridloop_projections::runner::Runner;
use tokio::sync::watch;

/// The longest the task sleeps before looking at the clock again.
pub const NAP_MAX: Duration = Duration::from_secs(1);
/// How long the task waits before trying a failing store again.
pub const RETRY: Duration = Duration::from_millis(250);

/// Runs until `stop` turns true; returns what it fired in all.
pub async fn run<S: EventStore>(
    service: Arc<CommandService<S>>,
    mut stop: watch::Receiver<bool>,
) -> Result<Fired, Error> {
    let store = service.store().clone();
    let mut index = Runner::<DeadlineIndex>::fresh();
    let mut total = Fired::default();
    while !*stop.borrow() {
        let step = async {
            index.catch_up(&store, None, |_| {}).await.map_err(|e| Error::Storage(e.to_string()))?;
            let now = service.clock().now();
            let fired = index.state().fire(&service, now).await?;
            total.written += fired.written;
            total.stale += fired.stale;
            if fired.written > 0 {
                tracing::info!(written = fired.written, stale = fired.stale, "timers fired");
                return Ok(());
            }
            let until_next =
                index.state().next_at().map_or(NAP_MAX, |at| Duration::from_millis(at.since(now).0).min(NAP_MAX));
            tokio::select! {
                _ = tokio::time::sleep(until_next) => Ok(()),
                woken = store.wait_for(index.checkpoint() + 1) => woken,
                _ = stop.changed() => Ok(()),
            }
        };
        match step.await {
            Ok(()) => {}
            // A store failing for a while (a NATS server restarting) is
            // waited out; what fell due meanwhile fires when it is back.
            Err(Error::Storage(reason)) => {
                tracing::warn!(%reason, "the timers wait for the store");
                tokio::time::sleep(RETRY).await;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(total)
}
