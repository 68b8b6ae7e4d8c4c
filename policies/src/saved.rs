//! Where a policy's follower keeps its snapshots: under its own names in
//! the cold store the server's views use, so a restart folds only the
//! log's tail past them.
//!
//! A policy's state and its position are one blob (a runner's
//! `Checkpointed`, or a state that holds its own position), saved with one
//! atomic commit. Each follower has its own [`gridloop_projections::cold::Cold`]
//! handle, so committing a policy's snapshot never commits rows the views
//! left pending for their own commit.

use std::time::{Duration, Instant};

use gridloop_engine::Error;
use gridloop_projections::ProjectionError;
use gridloop_projections::cold::Cold;
use gridloop_projections::runner::SnapshotStore;

/// Events folded between two saves of a policy's snapshot.
pub const SAVE_EVERY: u64 = 50_000;
/// The longest a running policy keeps folded events unsaved.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// A policy's snapshots, named `<policy>.<name>` in `cold`.
#[derive(Debug)]
pub struct Saved {
    cold: Cold,
    policy: &'static str,
    last: Instant,
}

impl Saved {
    /// The snapshots of `policy` (`timers`, `dispatcher`, ...) in `cold`.
    pub fn new(cold: Cold, policy: &'static str) -> Self {
        Self { cold, policy, last: Instant::now() }
    }

    /// Whether `unsaved` events are worth a save now: many of them, or
    /// some for longer than [`SAVE_INTERVAL`].
    pub fn due(&self, unsaved: u64) -> bool {
        unsaved >= SAVE_EVERY || (unsaved > 0 && self.last.elapsed() >= SAVE_INTERVAL)
    }

    /// Restarts the clock towards the next timed save.
    pub fn saved(&mut self) {
        self.last = Instant::now();
    }

    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.policy)
    }
}

impl SnapshotStore for Saved {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        self.cold.snapshot(&self.key(name))
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<(), ProjectionError> {
        self.cold.commit(vec![(&self.key(name), bytes.to_vec())])
    }
}

/// A snapshot store's failure as the engine's error (worth trying again).
pub fn stored(error: ProjectionError) -> Error {
    match error {
        ProjectionError::Log(error) => error,
        other => Error::Storage(other.to_string()),
    }
}
