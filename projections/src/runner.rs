//! Running a projection: fold from a checkpoint, save state and checkpoint
//! together.
//!
//! A projection's state and the position of the last event it applied are
//! one value ([`Checkpointed`]), serialised as one blob and saved with one
//! atomic write to a [`SnapshotStore`]. After a crash the projection resumes
//! from whatever snapshot was last saved: its state and its checkpoint agree,
//! so the events after the checkpoint are applied once more — none twice,
//! none skipped. The runner also refuses an event at or before its
//! checkpoint, so a subscription that redelivers changes nothing.
//!
//! States keep their data in `BTreeMap`s and `Vec`s, never `HashMap`s, so
//! the serialised bytes depend only on the events folded: a rebuild from
//! position 0 is byte-for-byte the live state.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::EventStore;

use crate::ProjectionError;

/// A read model folded from the log.
pub trait Projection: Default + Serialize + DeserializeOwned + Send {
    /// The snapshot's name: `board`, `metrics`, `ledger`.
    const NAME: &'static str;
    /// Folds one event in. Deterministic: the same events give the same state.
    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError>;
}

/// A projection's state with the last position it applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpointed<P> {
    /// The position of the last event folded into `state` (0: none yet).
    pub checkpoint: u64,
    /// The projection's state after every event up to `checkpoint`.
    pub state: P,
}

/// Where snapshots are kept: one blob per projection name, each `save`
/// atomic and durable when it returns.
pub trait SnapshotStore: Send + Sync {
    /// The blob last saved under `name` (a projection's [`Projection::NAME`]),
    /// or `None` when nothing was saved yet.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError>;
    /// Replaces the blob under `name` with `bytes`, atomically: a reader sees
    /// the old blob or the new one, never a mix.
    fn save(&self, name: &str, bytes: &[u8]) -> Result<(), ProjectionError>;
}

/// Snapshots in memory, for tests.
#[derive(Debug, Default)]
pub struct MemorySnapshots(Mutex<BTreeMap<String, Vec<u8>>>);

impl SnapshotStore for MemorySnapshots {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(self.0.lock().expect("snapshot lock").get(name).cloned())
    }
    fn save(&self, name: &str, bytes: &[u8]) -> Result<(), ProjectionError> {
        self.0.lock().expect("snapshot lock").insert(name.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// How far behind the log a projection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// The position of the last event the projection applied.
    pub checkpoint: u64,
    /// The position of the newest event in the log.
    pub head: u64,
}

impl Lag {
    /// Positions between the checkpoint and the head (an upper bound on the
    /// events not yet applied, since positions need not be dense).
    pub fn behind(self) -> u64 {
        self.head.saturating_sub(self.checkpoint)
    }
}

/// Events read per batch while catching up.
pub const CATCH_UP_BATCH: usize = 5_000;

/// Drives one projection.
#[derive(Debug)]
pub struct Runner<P> {
    current: Checkpointed<P>,
    /// Save after this many applied events (and whenever asked).
    pub save_every: u64,
    unsaved: u64,
}

impl<P: Projection> Runner<P> {
    /// A projection at position 0.
    pub fn fresh() -> Self {
        Self { current: Checkpointed::default(), save_every: 50_000, unsaved: 0 }
    }

    /// Resumes from the saved snapshot, or starts fresh without one.
    pub fn resume(snapshots: &dyn SnapshotStore) -> Result<Self, ProjectionError> {
        let mut runner = Self::fresh();
        if let Some(bytes) = snapshots.load(P::NAME)? {
            runner.current = serde_json::from_slice(&bytes)
                .map_err(|e| ProjectionError::Snapshot { name: P::NAME, detail: e.to_string() })?;
        }
        Ok(runner)
    }

    /// The projection's state as of the checkpoint.
    pub fn state(&self) -> &P {
        &self.current.state
    }

    /// The position of the last event applied (0 for a fresh projection).
    pub fn checkpoint(&self) -> u64 {
        self.current.checkpoint
    }

    /// Applies one event; one at or before the checkpoint is skipped (a
    /// redelivery), so applying is idempotent.
    pub fn evolve(&mut self, event: &RecordedEvent) -> Result<bool, ProjectionError> {
        if event.position <= self.current.checkpoint {
            return Ok(false);
        }
        self.current.state.evolve(event)?;
        self.current.checkpoint = event.position;
        self.unsaved += 1;
        Ok(true)
    }

    /// The snapshot bytes: state and checkpoint together.
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&self.current).expect("projection states serialise")
    }

    /// Saves state and checkpoint together as one snapshot, and restarts the
    /// count towards the next periodic save.
    pub fn save(&mut self, snapshots: &dyn SnapshotStore) -> Result<(), ProjectionError> {
        snapshots.save(P::NAME, &self.snapshot())?;
        self.unsaved = 0;
        Ok(())
    }

    /// Reads and applies everything after the checkpoint, saving every
    /// `save_every` events and at the end; `progress(checkpoint)` after each
    /// batch. Returns the number of events applied.
    pub async fn catch_up<S: EventStore>(
        &mut self,
        store: &S,
        snapshots: Option<&dyn SnapshotStore>,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, ProjectionError> {
        let mut applied = 0;
        let mut scan = store.scan(self.current.checkpoint + 1).batch_max(CATCH_UP_BATCH);
        while let Some(batch) = scan.next_batch().await? {
            for event in &batch {
                applied += u64::from(self.evolve(event)?);
            }
            if let Some(snapshots) = snapshots.filter(|_| self.unsaved >= self.save_every) {
                self.save(snapshots)?;
            }
            progress(self.current.checkpoint);
        }
        if let Some(snapshots) = snapshots.filter(|_| self.unsaved > 0) {
            self.save(snapshots)?;
        }
        Ok(applied)
    }

    /// How far the projection is behind `head`, the log's newest position.
    pub fn lag(&self, head: u64) -> Lag {
        Lag { checkpoint: self.current.checkpoint, head }
    }
}
