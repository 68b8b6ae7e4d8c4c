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
//! It is a [`Follow`]er: a store that fails for a while (a NATS server
//! restarting) is waited out, and a log that does not decode stops it with
//! an error naming the event, as every follower does.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_projections::cold::Cold;
use gridloop_projections::runner::Runner;
use tokio::sync::watch;

use crate::deadlines::{DeadlineIndex, Fired};
use crate::follower::{self, Follow, fold_into};
use crate::saved::{Saved, stored};

/// The timers as a follower: the deadline index, and what they fired.
#[derive(Debug)]
struct Timers<S: EventStore> {
    service: Arc<CommandService<S>>,
    index: Runner<DeadlineIndex>,
    total: Fired,
    saved: Saved,
}

impl<S: EventStore> Follow for Timers<S> {
    type Error = Error;

    fn name(&self) -> &'static str {
        "timers"
    }

    fn is_transient(error: &Error) -> bool {
        follower::storage_failed(error)
    }

    fn next_position(&self) -> u64 {
        self.index.checkpoint() + 1
    }

    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        fold_into(&mut self.index, batch)
    }

    /// Fires what fell due; sleeps until the earliest pending deadline.
    /// After writing, looks again at once: the commands' own events may
    /// bring deadlines of their own.
    async fn caught_up(&mut self) -> Result<Option<Duration>, Error> {
        if self.saved.due(self.index.unsaved()) {
            self.save()?;
        }
        let now = self.service.clock().now();
        let fired = self.index.state().fire(&self.service, now).await?;
        self.total.written += fired.written;
        self.total.stale += fired.stale;
        if fired.written > 0 {
            tracing::info!(written = fired.written, stale = fired.stale, "timers fired");
            return Ok(Some(Duration::ZERO));
        }
        Ok(self.index.state().next_at().map(|at| Duration::from_millis(at.since(now).0)))
    }
}

impl<S: EventStore> Timers<S> {
    fn save(&mut self) -> Result<(), Error> {
        self.index.save(&self.saved).map_err(stored)?;
        self.saved.saved();
        Ok(())
    }
}

/// Runs until `stop` turns true, from position 0 (nothing saved); returns
/// what it fired in all.
pub async fn run<S: EventStore>(service: Arc<CommandService<S>>, stop: watch::Receiver<bool>) -> Result<Fired, Error> {
    run_saved(service, Cold::default(), stop).await
}

/// Runs until `stop` turns true, resumed from the deadline index's
/// snapshot in `cold` (`timers.deadlines`) and saving it periodically and
/// when it stops; returns what it fired in all.
pub async fn run_saved<S: EventStore>(
    service: Arc<CommandService<S>>,
    cold: Cold,
    stop: watch::Receiver<bool>,
) -> Result<Fired, Error> {
    let store = service.store().clone();
    let saved = Saved::new(cold, "timers");
    let index = Runner::resume(&saved).map_err(stored)?;
    let mut timers = Timers { service, index, total: Fired::default(), saved };
    let ran = follower::run(&store, &mut timers, stop).await;
    if timers.index.unsaved() > 0 {
        timers.save()?;
    }
    ran?;
    Ok(timers.total)
}
