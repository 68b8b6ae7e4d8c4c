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
//!
//! A store that fails for a while (a NATS server restarting) is waited out.
//! A log that does not decode is not: folding it again would fail the same
//! way forever, so the task stops with an error naming the event
//! ([`fold_failure`]); the dispatcher policy does the same.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_projections::ProjectionError;
use gridloop_projections::deadlines::{DeadlineIndex, Fired};
use gridloop_projections::runner::{Projection, Runner};
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
            follow(&mut index, &store).await?;
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
            Err(error) => {
                tracing::error!(%error, "the timers stop");
                return Err(error);
            }
        }
    }
    Ok(total)
}

/// Folds what the log holds past the runner's checkpoint, with a failure
/// turned into the engine's error the tasks act on ([`fold_failure`]).
pub(crate) async fn follow<P: Projection, S: EventStore>(runner: &mut Runner<P>, store: &S) -> Result<(), Error> {
    match runner.catch_up(store, None, |_| {}).await {
        Ok(_) => Ok(()),
        Err(error) => Err(fold_failure(store, runner.checkpoint(), error).await),
    }
}

/// A projection's failure to fold the log, as the error a task acts on.
///
/// Only a store that failed (`Storage`) is worth trying again. Anything
/// else comes from the log itself (an event that does not decode, one out
/// of its stream's order, a stream id that does not parse), so trying again
/// would fail the same way every time: it becomes `Corrupt`, naming the
/// first event past the checkpoint, which is the one the fold stopped at.
pub async fn fold_failure<S: EventStore>(store: &S, checkpoint: u64, error: ProjectionError) -> Error {
    let reason = match error {
        ProjectionError::Log(Error::Storage(reason)) | ProjectionError::SnapshotStore(reason) => {
            return Error::Storage(reason);
        }
        ProjectionError::Log(Error::Corrupt(reason)) => reason,
        other => other.to_string(),
    };
    // If the store cannot even read that event again, the position is all
    // there is to name.
    let event = store.read_all(checkpoint + 1, 1).await.ok().and_then(|batch| batch.into_iter().next());
    let place = match event {
        Some(e) => format!("{} v{} at position {}", e.stream, e.version, e.position),
        None => format!("the event after position {checkpoint}"),
    };
    Error::Corrupt(format!("{place}: {reason}"))
}
