//! The hash chain of a log or a stream, checked event by event.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use gridloop_engine::envelope::{Hash, RecordedEvent};
use gridloop_engine::ids::StreamId;

use crate::ProjectionError;

/// The first event that does not verify, and why
/// ([`ProjectionError::Unverified`] carries it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The stream of the event that does not verify (`ticket-T-1024`).
    pub stream: String,
    /// Its version within the stream (1-based).
    pub version: u64,
    /// Its position in the global log.
    pub position: u64,
    /// What is wrong, as a sentence for the auditor.
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{} (position {}): {}", self.stream, self.version, self.position, self.reason)
    }
}

/// What a verified log holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// How many events verified.
    pub events: u64,
    /// How many streams they belong to.
    pub streams: u64,
    /// Streams per kind (`ticket`, `volunteer`, ...).
    pub streams_by_kind: BTreeMap<String, u64>,
    /// The position of the first event checked (`None`: an empty log).
    pub first_position: Option<u64>,
    /// The position of the last event checked.
    pub last_position: Option<u64>,
}

/// Checks events fed in log order: per stream, versions 1, 2, 3… without
/// gaps and each hash chained onto the previous event's; across the log,
/// strictly increasing positions.
#[derive(Debug, Default)]
pub struct LogVerifier {
    heads: HashMap<StreamId, (u64, Hash)>,
    summary: VerifySummary,
}

impl LogVerifier {
    /// A verifier that has seen no event yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next event of the log.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let fail = |reason: String| {
            ProjectionError::Unverified(ChainBreak {
                stream: event.stream.to_string(),
                version: event.version,
                position: event.position,
                reason,
            })
        };
        if let Some(last) = self.summary.last_position.filter(|&last| event.position <= last) {
            return Err(fail(format!("its position does not follow the previous event's ({last})")));
        }
        let (version, prev) = self.heads.get(&event.stream).copied().unwrap_or((0, Hash::GENESIS));
        if event.version != version + 1 {
            return Err(fail(if version == 0 {
                format!("the stream's first event is version {}, not 1", event.version)
            } else {
                format!("version {} follows version {version}: versions must run without gaps", event.version)
            }));
        }
        if event.verify(&prev).is_err() {
            return Err(fail(if event.prev_hash != prev {
                if version == 0 {
                    "prev_hash of a stream's first event is not 64 zeros".to_string()
                } else {
                    format!("prev_hash does not match the hash of v{version}")
                }
            } else {
                "hash does not match the event's contents (altered after it was written)".to_string()
            }));
        }
        if version == 0 {
            self.summary.streams += 1;
            *self.summary.streams_by_kind.entry(event.stream.kind().to_string()).or_default() += 1;
        }
        self.heads.insert(event.stream.clone(), (event.version, event.hash));
        self.summary.events += 1;
        self.summary.first_position.get_or_insert(event.position);
        self.summary.last_position = Some(event.position);
        Ok(())
    }

    /// What the events checked so far hold.
    pub fn summary(&self) -> &VerifySummary {
        &self.summary
    }

    /// Ends the pass: what the verified events hold.
    pub fn finish(self) -> VerifySummary {
        self.summary
    }
}

/// Verifies events given in log order (a whole log, or one stream read in
/// version order); names the first event that does not verify.
pub fn verify_log(events: impl IntoIterator<Item = RecordedEvent>) -> Result<VerifySummary, ProjectionError> {
    let mut verifier = LogVerifier::new();
    for event in events {
        verifier.check(&event)?;
    }
    Ok(verifier.finish())
}

/// One stream's chain, verified: how long it is and the hash it ends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedChain {
    /// How many events the stream holds.
    pub events: u64,
    /// The hash of its last event (the genesis hash for an empty stream).
    pub head: Hash,
}

/// Verifies one stream read in version order, naming the first bad event.
pub fn verify_ticket_stream(stream: &[RecordedEvent]) -> Result<VerifiedChain, ProjectionError> {
    let summary = verify_log(stream.iter().cloned())?;
    Ok(VerifiedChain { events: summary.events, head: stream.last().map_or(Hash::GENESIS, |e| e.hash) })
}
