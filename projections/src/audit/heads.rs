//! Every stream's head, kept on disk, so that a seal reads only the log's
//! tail and never holds a megacity's million stream heads in memory.
//!
//! [`StreamHeads`] is a projection: per stream a cold row `heads/<stream>`
//! holding its last version and hash, and in memory only how many events
//! and streams it has folded. A seal catches it up, then digests the rows
//! in key order — byte order of the stream names, which is the order the
//! engine's `Heads::digest` walks its `BTreeMap<String, _>` in — so the
//! digest is the one an auditor recomputes from the whole log.

use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::{EventPayload, Hash, RecordedEvent};
use gridloop_engine::seal::{HeadsDigest, SealEvent, sign};

use crate::ProjectionError;
use crate::cold::{Cold, SCAN_KEYS_MAX};
use crate::runner::Projection;

/// The prefix of the heads' cold rows.
const PREFIX: &[u8] = b"heads/";

/// The heads of every stream but the seals' own, as of the checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StreamHeads {
    /// Events folded (the seal's `position`: seal events count too).
    pub folded: u64,
    /// Streams with a head (seal streams not counted).
    pub streams: u64,
    #[serde(skip)]
    cold: Cold,
}

impl Projection for StreamHeads {
    const NAME: &'static str = "heads";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        self.folded += 1;
        if event.stream.kind() == SealEvent::KIND {
            return Ok(());
        }
        let key = [PREFIX, event.stream.to_string().as_bytes()].concat();
        if self.cold.get(&key)?.is_none() {
            self.streams += 1;
        }
        self.cold.put(key, [&event.version.to_be_bytes()[..], &event.hash.0].concat());
        Ok(())
    }

    fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }
}

impl StreamHeads {
    /// The digest over every head, read from the cold rows in name order,
    /// a bounded chunk at a time.
    pub fn digest(&self) -> Result<Hash, ProjectionError> {
        let mut digest = HeadsDigest::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let chunk = self.cold.scan(PREFIX, after.as_deref(), false, SCAN_KEYS_MAX)?;
            let Some((last, _)) = chunk.last() else { break };
            after = Some(last.clone());
            for (key, value) in &chunk {
                let (stream, version, hash) = decode(key, value)?;
                digest.add(stream, version, &hash);
            }
        }
        Ok(digest.finish())
    }

    /// A seal of the heads as they stand, signed with `key`.
    pub fn seal(&self, key: &gridloop_engine::seal::SigningKey) -> Result<SealEvent, ProjectionError> {
        Ok(sign(self.folded, self.streams, self.digest()?, key))
    }
}

fn decode<'a>(key: &'a [u8], value: &[u8]) -> Result<(&'a str, u64, Hash), ProjectionError> {
    let bad = || ProjectionError::SnapshotStore("a stream head row does not decode".into());
    let stream = std::str::from_utf8(&key[PREFIX.len()..]).map_err(|_| bad())?;
    let version = u64::from_be_bytes(value.get(..8).and_then(|v| v.try_into().ok()).ok_or_else(bad)?);
    let hash: [u8; 32] = value.get(8..40).and_then(|v| v.try_into().ok()).ok_or_else(bad)?;
    Ok((stream, version, Hash(hash)))
}
