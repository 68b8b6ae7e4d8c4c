//! The on-disk half of the projections: settled work kept out of memory.
//!
//! A projection keeps what is still moving (open tickets, the deadline
//! index) in memory and puts what has settled (a closed ticket's row, its
//! metrics facts, its description) under keys of a [`ColdStore`]: sled trees
//! on the embedded store, a local sled database beside a NATS deployment,
//! a `BTreeMap` in tests. Memory then follows the open work, not the length
//! of the log.
//!
//! # Atomic with the snapshot
//!
//! Writes made while folding are not written at once: [`Cold`] holds them
//! as *pending* (reads see them), and [`Cold::commit`] writes them together
//! with every projection's snapshot in one atomic batch. So the rows on
//! disk and the snapshots' checkpoints always agree: after a crash, the
//! projections resume from snapshots whose checkpoint matches the rows, and
//! the events after it are folded once more — into the same rows, with the
//! same values. Pending writes are bounded by the events folded between two
//! commits (`Runner::save_every`).
//!
//! # Keys
//!
//! Each projection writes under its own prefix (`board/`, `metrics/`, ...),
//! and snapshots live under `snap/<name>`, so that a projection rebuilt
//! from position 0 can drop exactly its own rows ([`Cold::clear_prefix`]).
//! Numbers in keys are big-endian, so key order is number order.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use crate::ProjectionError;

/// One write of a commit: a value to put, or `None` to delete the key.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// A key and its value, as a scan yields them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The most keys one scan of the overlay and the store yields before the
/// caller must ask again from the last key (a bound on one read's memory).
pub const SCAN_KEYS_MAX: usize = 100_000;

/// Where settled rows are kept: ordered keys, atomic multi-key commits.
pub trait ColdStore: Send + Sync + fmt::Debug {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError>;
    /// Up to `limit` entries whose key starts with `prefix` and lies past
    /// `after` (exclusive; `None`: from the first), in key order, or in
    /// reverse key order (then "past" means "before").
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, ProjectionError>;
    /// Applies every write atomically and durably: after a crash, all of
    /// them are on disk or none.
    fn commit(&self, writes: Vec<Write>) -> Result<(), ProjectionError>;
}

/// A cold store in memory, for tests and for projections run without a
/// disk (`gridloop replay` into nothing, the engine's property tests).
#[derive(Debug, Default)]
pub struct MemoryCold(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

impl ColdStore for MemoryCold {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(self.0.lock().expect("cold lock").get(key).cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, ProjectionError> {
        let map = self.0.lock().expect("cold lock");
        Ok(scan_map(&map, prefix, after, reverse, limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn commit(&self, writes: Vec<Write>) -> Result<(), ProjectionError> {
        let mut map = self.0.lock().expect("cold lock");
        for (key, value) in writes {
            match value {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
        Ok(())
    }
}

/// The entries of an ordered map under `prefix` past `after`, in order or
/// reversed, at most `limit`.
fn scan_map<'a, V>(
    map: &'a BTreeMap<Vec<u8>, V>,
    prefix: &[u8],
    after: Option<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Box<dyn Iterator<Item = (&'a Vec<u8>, &'a V)> + 'a> {
    let (mut lower, mut upper) =
        (Bound::Included(prefix.to_vec()), prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded));
    match after {
        Some(after) if reverse => upper = tighter_upper(upper, after),
        Some(after) => lower = tighter_lower(lower, after),
        None => {}
    }
    if matches!((&lower, &upper), (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) if l >= u) {
        return Box::new(std::iter::empty());
    }
    let range = map.range((lower, upper));
    if reverse { Box::new(range.rev().take(limit)) } else { Box::new(range.take(limit)) }
}

/// The first key past every key that starts with `prefix` (`None`: there
/// is none, the prefix is all `0xFF`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn tighter_lower(lower: Bound<Vec<u8>>, after: &[u8]) -> Bound<Vec<u8>> {
    match lower {
        Bound::Included(l) if l.as_slice() > after => Bound::Included(l),
        _ => Bound::Excluded(after.to_vec()),
    }
}

fn tighter_upper(upper: Bound<Vec<u8>>, after: &[u8]) -> Bound<Vec<u8>> {
    match upper {
        Bound::Excluded(u) if u.as_slice() < after => Bound::Excluded(u),
        _ => Bound::Excluded(after.to_vec()),
    }
}

/// A shared handle on a cold store with the writes not yet committed.
///
/// Cheap to clone: every projection of one process holds the same handle,
/// so that one [`commit`](Self::commit) writes all their rows with all their
/// snapshots.
#[derive(Clone)]
pub struct Cold {
    store: Arc<dyn ColdStore>,
    pending: Arc<Mutex<BTreeMap<Vec<u8>, Option<Vec<u8>>>>>,
}

impl fmt::Debug for Cold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = self.pending.lock().map(|p| p.len()).unwrap_or(0);
        f.debug_struct("Cold").field("store", &self.store).field("pending", &pending).finish()
    }
}

impl Default for Cold {
    /// A cold store in memory.
    fn default() -> Self {
        Self::new(Arc::new(MemoryCold::default()))
    }
}

impl Cold {
    /// A handle on `store` with nothing pending.
    pub fn new(store: Arc<dyn ColdStore>) -> Self {
        Self { store, pending: Arc::default() }
    }

    /// Puts `value` under `key` (pending until the next commit).
    pub fn put(&self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.lock().expect("cold lock").insert(key, Some(value));
    }

    /// Deletes `key` (pending until the next commit).
    pub fn delete(&self, key: Vec<u8>) {
        self.pending.lock().expect("cold lock").insert(key, None);
    }

    /// The value under `key`, pending writes included.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        if let Some(pending) = self.pending.lock().expect("cold lock").get(key) {
            return Ok(pending.clone());
        }
        self.store.get(key)
    }

    /// Up to `limit` entries under `prefix` past `after`, in key order (or
    /// reversed), pending writes included. To walk a longer range, ask again
    /// with `after` set to the last key returned.
    pub fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, ProjectionError> {
        let limit = limit.min(SCAN_KEYS_MAX);
        let pending = self.pending.lock().expect("cold lock");
        let overlay: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            scan_map(&pending, prefix, after, reverse, usize::MAX).map(|(k, v)| (k.clone(), v.clone())).collect();
        drop(pending);
        // The store may hold keys the overlay deletes: ask for enough more.
        let stored = self.store.scan(prefix, after, reverse, limit + overlay.len())?;
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = stored.into_iter().map(|(k, v)| (k, Some(v))).collect();
        merged.extend(overlay);
        let live = merged.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
        Ok(if reverse { live.rev().take(limit).collect() } else { live.take(limit).collect() })
    }

    /// Deletes every key under `prefix` (a projection rebuilt from 0 drops
    /// its rows this way), pending until the next commit.
    pub fn clear_prefix(&self, prefix: &[u8]) -> Result<(), ProjectionError> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let keys = self.store.scan(prefix, after.as_deref(), false, SCAN_KEYS_MAX)?;
            let Some((last, _)) = keys.last() else { break };
            after = Some(last.clone());
            let mut pending = self.pending.lock().expect("cold lock");
            for (key, _) in keys {
                pending.insert(key, None);
            }
        }
        let mut pending = self.pending.lock().expect("cold lock");
        for value in pending.iter_mut().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v) {
            *value = None;
        }
        Ok(())
    }

    /// How many writes wait for the next commit.
    pub fn pending(&self) -> usize {
        self.pending.lock().expect("cold lock").len()
    }

    /// Writes every pending write and the `snapshots` (name, bytes) in one
    /// atomic commit; the pending writes are forgotten once it succeeded
    /// (a failed commit keeps them, to be tried again).
    pub fn commit(&self, snapshots: Vec<(&str, Vec<u8>)>) -> Result<(), ProjectionError> {
        let mut pending = self.pending.lock().expect("cold lock");
        let mut writes: Vec<Write> = pending.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        writes.extend(snapshots.into_iter().map(|(name, bytes)| (snapshot_key(name), Some(bytes))));
        self.store.commit(writes)?;
        pending.clear();
        Ok(())
    }

    /// The snapshot last committed under `name`.
    pub fn snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        self.store.get(&snapshot_key(name))
    }
}

/// Where the snapshot of projection `name` is kept.
pub fn snapshot_key(name: &str) -> Vec<u8> {
    [b"snap/".as_slice(), name.as_bytes()].concat()
}

/// Snapshots through the cold store: `save` commits whatever is pending
/// with the snapshot, so rows and checkpoint agree.
impl crate::runner::SnapshotStore for Cold {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, ProjectionError> {
        self.snapshot(name)
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<(), ProjectionError> {
        self.commit(vec![(name, bytes.to_vec())])
    }
}

/// A key under `prefix` ending in `number`, big-endian (key order is number
/// order).
pub fn numbered_key(prefix: &[u8], number: u64) -> Vec<u8> {
    [prefix, &number.to_be_bytes()].concat()
}
