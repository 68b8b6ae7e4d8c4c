//! The dispatcher policy as a task (`gridloop serve --auto-dispatch`): every
//! ticket waiting for dispatch gets the policy's next step
//! ([`crate::dispatch`]) as soon as the log shows it waiting.
//!
//! It follows the log with two projections, the deadline index (which
//! tickets are open, and in what state) and the volunteer directory (who
//! can be offered what), wakes on every new event, and sends the policy's
//! commands. Each carries the ticket's version and a command id derived from
//! it, so a second process running the same policy, or a human dispatcher
//! acting first, makes the policy's step write nothing.
//!
//! It is a [`Follow`]er, like the timers: it waits out a store that fails
//! for a while and stops with an error naming the event on a log that does
//! not decode.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_projections::cold::Cold;
use gridloop_projections::directory::Directory;
use gridloop_projections::runner::Runner;
use tokio::sync::watch;

use crate::deadlines::DeadlineIndex;
use crate::dispatch;
use crate::follower::{self, Follow, fold_into};
use crate::saved::{Saved, stored};

/// The dispatcher policy as a follower: which tickets are open, who can be
/// offered what, and how many commands wrote events.
#[derive(Debug)]
struct AutoDispatch<S: EventStore> {
    service: Arc<CommandService<S>>,
    index: Runner<DeadlineIndex>,
    directory: Runner<Directory>,
    written: u64,
    saved: Saved,
}

impl<S: EventStore> Follow for AutoDispatch<S> {
    type Error = Error;

    fn name(&self) -> &'static str {
        "dispatcher policy"
    }

    fn is_transient(error: &Error) -> bool {
        follower::storage_failed(error)
    }

    fn next_position(&self) -> u64 {
        self.index.checkpoint().min(self.directory.checkpoint()) + 1
    }

    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        fold_into(&mut self.index, batch)?;
        fold_into(&mut self.directory, batch)
    }

    /// Sends the policy's next step for every ticket waiting for dispatch;
    /// after writing, looks again at once (its own events may call for the
    /// next step), else sleeps until the log grows or a ring widens.
    async fn caught_up(&mut self) -> Result<Option<Duration>, Error> {
        if self.saved.due(self.index.unsaved().max(self.directory.unsaved())) {
            self.save()?;
        }
        let now = self.service.clock().now();
        let index = self.index.state();
        let waiting: Vec<_> = index.open_tickets().filter(|t| t.status.awaits_dispatch()).cloned().collect();
        let wrote = dispatch::dispatch(waiting.iter(), self.directory.state(), &self.service, now).await?;
        self.written += wrote;
        Ok((wrote > 0).then_some(Duration::ZERO))
    }
}

impl<S: EventStore> AutoDispatch<S> {
    /// Saves both states; each carries its own checkpoint, and the
    /// follower resumes from the lower one (a runner skips what it has).
    fn save(&mut self) -> Result<(), Error> {
        self.index.save(&self.saved).map_err(stored)?;
        self.directory.save(&self.saved).map_err(stored)?;
        self.saved.saved();
        Ok(())
    }
}

/// Runs until `stop` turns true, from position 0 (nothing saved); returns
/// how many commands wrote events.
pub async fn run<S: EventStore>(service: Arc<CommandService<S>>, stop: watch::Receiver<bool>) -> Result<u64, Error> {
    run_saved(service, Cold::default(), stop).await
}

/// Runs until `stop` turns true, resumed from its snapshots in `cold`
/// (`dispatcher.deadlines`, `dispatcher.directory`) and saving them
/// periodically and when it stops; returns how many commands wrote events.
pub async fn run_saved<S: EventStore>(
    service: Arc<CommandService<S>>,
    cold: Cold,
    stop: watch::Receiver<bool>,
) -> Result<u64, Error> {
    let store = service.store().clone();
    let saved = Saved::new(cold, "dispatcher");
    let (index, directory) = (Runner::resume(&saved).map_err(stored)?, Runner::resume(&saved).map_err(stored)?);
    let mut policy = AutoDispatch { service, index, directory, written: 0, saved };
    let ran = follower::run(&store, &mut policy, stop).await;
    if policy.index.unsaved().max(policy.directory.unsaved()) > 0 {
        policy.save()?;
    }
    ran?;
    Ok(policy.written)
}
