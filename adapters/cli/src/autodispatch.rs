//! The dispatcher policy as a task (`gridloop serve --auto-dispatch`): every
//! ticket waiting for dispatch gets the policy's next step
//! ([`gridloop_projections::dispatch`]) as soon as the log shows it waiting.
//!
//! It follows the log with two projections, the deadline index (which
//! tickets are open, and in what state) and the volunteer directory (who
//! can be offered what), wakes on every new event, and sends the policy's
//! commands. Each carries the ticket's version and a command id derived from
//! it, so a second process running the same policy, or a human dispatcher
//! acting first, makes the policy's step write nothing.
//!
//! Like the timers, it waits out a store that fails for a while and stops
//! with an error naming the event on a log that does not decode.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_projections::deadlines::DeadlineIndex;
use gridloop_projections::directory::Directory;
use gridloop_projections::dispatch;
use gridloop_projections::runner::Runner;
use tokio::sync::watch;

use crate::timers::follow;

/// The longest the task sleeps before looking again (a clock that jumps, or
/// a ring that widens with time, is noticed within it).
pub const NAP_MAX: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true; returns how many commands wrote events.
pub async fn run<S: EventStore>(
    service: Arc<CommandService<S>>,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, Error> {
    let store = service.store().clone();
    let mut index = Runner::<DeadlineIndex>::fresh();
    let mut directory = Runner::<Directory>::fresh();
    let mut written = 0;
    while !*stop.borrow() {
        let step = async {
            follow(&mut index, &store).await?;
            follow(&mut directory, &store).await?;
            let now = service.clock().now();
            let waiting: Vec<_> =
                index.state().open_tickets().filter(|t| t.status.awaits_dispatch()).cloned().collect();
            let wrote = dispatch::dispatch(waiting.iter(), directory.state(), &service, now).await?;
            written += wrote;
            if wrote > 0 {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(NAP_MAX) => Ok(()),
                woken = store.wait_for(index.checkpoint() + 1) => woken,
                _ = stop.changed() => Ok(()),
            }
        };
        match step.await {
            Ok(()) => {}
            // A store failing for a while (a NATS server restarting) is waited out.
            Err(Error::Storage(reason)) => {
                tracing::warn!(%reason, "the dispatcher policy waits for the store");
                tokio::time::sleep(crate::timers::RETRY).await;
            }
            Err(error) => {
                tracing::error!(%error, "the dispatcher policy stops");
                return Err(error);
            }
        }
    }
    Ok(written)
}
