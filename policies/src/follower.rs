//! The one follower of the log: catch up, act, wait for more; back off on a
//! store that fails; stop, naming the event, on a log that does not fold.
//!
//! Every long-running reader of the log (the timers, the dispatcher policy,
//! the HTTP projections, the chat bot's offers and links) is a [`Follow`]:
//! it says where it needs the log from, folds the batches it is given, and,
//! once caught up, acts and says how long it may sleep. [`run`] owns the
//! loop around it, so that every follower classifies failures the same way:
//!
//! - A transient failure ([`Follow::is_transient`]: for the engine's
//!   errors, `Error::Storage`, a NATS server restarting or a sled flush
//!   failing; for the bot, a homeserver that does not answer) is waited out with a backoff from [`RETRY_MIN`] to [`RETRY_MAX`]; the
//!   follower resumes from its own position, so nothing is skipped. A
//!   follower must therefore be idempotent over a batch it was partly given
//!   before the failure: projections skip events at or before their
//!   checkpoint, and commands carry ids derived from the events.
//! - Anything else comes from the log itself, or from a rule the follower
//!   cannot get past; trying again would fail the same way forever, so `run`
//!   returns the error, which [`fold_error`] has made name the event.

use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::EventStore;
use gridloop_projections::ProjectionError;
use tokio::sync::watch;

/// The longest a follower sleeps before looking again, whatever it asked:
/// a clock that jumps (or a manual clock in a test) is noticed within it.
pub const NAP_MAX: Duration = Duration::from_secs(1);
/// The first wait after a store failure.
pub const RETRY_MIN: Duration = Duration::from_millis(250);
/// The longest wait between tries of a failing store.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// A reader of the log that [`run`] drives.
pub trait Follow: Send {
    /// What its steps fail with: the engine's error, or an adapter's own
    /// (the chat bot's, whose homeserver may fail too).
    type Error: std::fmt::Display + From<Error> + Send;

    /// Its name in the log's messages: "timers", "dispatcher policy".
    fn name(&self) -> &'static str;

    /// Whether trying again later may succeed (a store or a homeserver
    /// failing for a while); anything else stops the follower.
    fn is_transient(error: &Self::Error) -> bool;

    /// The position of the first event it has not folded.
    fn next_position(&self) -> u64;

    /// The most events one batch holds: smaller for a follower that saves
    /// its position after each batch and repeats a batch after a crash.
    fn batch_max(&self) -> usize {
        gridloop_engine::store::READ_BATCH_MAX
    }

    /// Folds one batch, in log order (never empty).
    fn fold(&mut self, batch: &[RecordedEvent]) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Acts on what it has folded, once caught up with the log. Returns
    /// how long it may sleep before it must act again (a deadline), or
    /// `None` to sleep until the log grows; zero to look again at once.
    fn caught_up(&mut self) -> impl Future<Output = Result<Option<Duration>, Self::Error>> + Send {
        async { Ok(None) }
    }
}

/// Folds what the log holds past the follower's position, batch by batch.
/// Returns the number of events given to it.
pub async fn catch_up<S: EventStore, F: Follow>(store: &S, follower: &mut F) -> Result<u64, F::Error> {
    let mut scan = store.scan(follower.next_position()).batch_max(follower.batch_max());
    let mut read = 0;
    while let Some(batch) = scan.next_batch().await? {
        read += batch.len() as u64;
        follower.fold(&batch).await?;
    }
    Ok(read)
}

/// Runs `follower` until `stop` turns true: catch up, act, sleep until the
/// log grows or the follower's next deadline. Returns the first error that
/// is not a store failing for a while (see the module doc).
pub async fn run<S: EventStore, F: Follow>(
    store: &S,
    follower: &mut F,
    mut stop: watch::Receiver<bool>,
) -> Result<(), F::Error> {
    let mut retry = RETRY_MIN;
    while !*stop.borrow() {
        let step = async {
            catch_up(store, follower).await?;
            let nap = follower.caught_up().await?.map_or(NAP_MAX, |nap| nap.min(NAP_MAX));
            if nap.is_zero() {
                return Ok::<(), F::Error>(());
            }
            tokio::select! {
                _ = tokio::time::sleep(nap) => Ok(()),
                woken = store.wait_for(follower.next_position()) => woken.map_err(F::Error::from),
                _ = stop.changed() => Ok(()),
            }
        };
        match step.await {
            Ok(()) => retry = RETRY_MIN,
            Err(error) if F::is_transient(&error) => {
                let wait_ms = retry.as_millis() as u64;
                tracing::warn!(%error, follower = follower.name(), wait_ms, "waiting to try again");
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = stop.changed() => {}
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
            Err(error) => {
                tracing::error!(%error, follower = follower.name(), "the follower stops");
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Whether the engine's `error` is worth trying again: only a store that
/// failed. The followers whose steps fail with the engine's error use it.
pub fn storage_failed(error: &Error) -> bool {
    matches!(error, Error::Storage(_))
}

/// A fold's failure on `event` as the engine's error a follower acts on.
///
/// Only a store that failed stays `Storage` (worth trying again). Anything
/// else means the log and the fold disagree (an event that does not decode,
/// one out of its stream's order), so it becomes `Corrupt`, naming the event
/// for the operator who has to look.
pub fn fold_error(error: ProjectionError, event: &RecordedEvent) -> Error {
    let reason = match error {
        ProjectionError::Log(Error::Storage(reason)) | ProjectionError::SnapshotStore(reason) => {
            return Error::Storage(reason);
        }
        ProjectionError::Log(Error::Corrupt(reason)) => reason,
        other => other.to_string(),
    };
    Error::Corrupt(format!("{} v{} at position {}: {reason}", event.stream, event.version, event.position))
}

/// Folds `batch` into a projection runner, each failure named by its event.
pub fn fold_into<P: gridloop_projections::runner::Projection>(
    runner: &mut gridloop_projections::runner::Runner<P>,
    batch: &[RecordedEvent],
) -> Result<(), Error> {
    for event in batch {
        runner.evolve(event).map_err(|error| fold_error(error, event))?;
    }
    Ok(())
}
