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
use crate::cold::Cold;

/// A read model folded from the log.
pub trait Projection: Default + Serialize + DeserializeOwned + Send {
    /// The snapshot's name: `board`, `metrics`, `ledger`; also the prefix
    /// (`board/`) of the rows it keeps in the cold store.
    const NAME: &'static str;
    /// The version of the state's shape. A snapshot saved under another
    /// version is not read but rebuilt from position 0 (its cold rows
    /// dropped with it): change it whenever the state's meaning changes.
    const VERSION: u32 = 1;
    /// Folds one event in. Deterministic: the same events give the same state.
    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError>;
    /// Hands the projection the cold store in which it keeps what has
    /// settled, under its own prefix (`NAME/`). A projection that keeps
    /// everything in memory ignores it; one that is never attached keeps
    /// its cold rows in memory.
    fn attach(&mut self, _cold: &Cold) {}
}

/// A projection's state with the last position it applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpointed<P> {
    /// The projection's [`Projection::VERSION`] when it was saved (0: saved
    /// before versions were kept, so rebuilt).
    #[serde(default)]
    pub version: u32,
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

/// The prefix of the cold rows of projection `P`: `NAME/`.
pub fn cold_prefix<P: Projection>() -> Vec<u8> {
    [P::NAME.as_bytes(), b"/"].concat()
}

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
        let current = Checkpointed { version: P::VERSION, checkpoint: 0, state: P::default() };
        Self { current, save_every: 50_000, unsaved: 0 }
    }

    /// Resumes from the saved snapshot, or starts fresh without one.
    pub fn resume(snapshots: &dyn SnapshotStore) -> Result<Self, ProjectionError> {
        let mut runner = Self::fresh();
        if let Some(bytes) = snapshots.load(P::NAME)? {
            let current: Checkpointed<P> = serde_json::from_slice(&bytes)
                .map_err(|e| ProjectionError::Snapshot { name: P::NAME, detail: e.to_string() })?;
            if current.version == P::VERSION {
                runner.current = current;
            }
        }
        Ok(runner)
    }

    /// Resumes from the snapshot committed in `cold` with the projection's
    /// cold rows, and attaches `cold`. Without a snapshot, or with one of
    /// another [`Projection::VERSION`] or one that does not decode, the
    /// projection starts from position 0 and its old rows are dropped (at
    /// the next commit), so that an older shape is rebuilt, never misread.
    pub fn resume_cold(cold: &Cold) -> Result<Self, ProjectionError> {
        let mut runner = Self::fresh();
        let saved = cold.snapshot(P::NAME)?.map(|bytes| serde_json::from_slice::<Checkpointed<P>>(&bytes));
        match saved {
            Some(Ok(current)) if current.version == P::VERSION => runner.current = current,
            Some(Ok(current)) => {
                tracing::warn!(
                    name = P::NAME,
                    saved = current.version,
                    now = P::VERSION,
                    "snapshot of another version: rebuilding"
                );
                cold.clear_prefix(&cold_prefix::<P>())?;
            }
            Some(Err(e)) => {
                tracing::warn!(name = P::NAME, error = %e, "snapshot does not decode: rebuilding");
                cold.clear_prefix(&cold_prefix::<P>())?;
            }
            None => cold.clear_prefix(&cold_prefix::<P>())?,
        }
        runner.current.state.attach(cold);
        Ok(runner)
    }

    /// Starts from position 0 whatever `cold` holds, its old rows dropped
    /// (at the next commit), and attaches `cold`: for a projection whose
    /// snapshot disagrees with a companion's (saved beside it, at its
    /// checkpoint) and so must be folded again with it.
    pub fn rebuild_cold(cold: &Cold) -> Result<Self, ProjectionError> {
        let mut runner = Self::fresh();
        cold.clear_prefix(&cold_prefix::<P>())?;
        runner.current.state.attach(cold);
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

    /// Events applied since the last save.
    pub fn unsaved(&self) -> u64 {
        self.unsaved
    }

    /// Notes that the [`snapshot`](Self::snapshot) taken last was saved by
    /// the caller (as [`Cold::commit`] does for many projections at once).
    pub fn mark_saved(&mut self) {
        self.unsaved = 0;
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
