//! Seals: signed digests over every stream's head, so that a deleted stream
//! or a truncated log is detected, not only an edited event.
//!
//! The hash chain of a stream shows an event was changed, or one was taken
//! out of the middle; it cannot show that a whole stream vanished, or that
//! the newest events of a stream were cut off. A seal can: at a global
//! position it records a digest over the heads (last version and hash) of
//! every stream up to that position, signed with the deployment's ed25519
//! key. An auditor recomputes the heads from the log and checks the digest
//! and the signature; a stream missing or shortened changes the digest.
//! Seals are themselves events (stream `seal-<deployment>`, chained like any
//! other) and are also written to a journal beside the log, so that cutting
//! the log's tail, seals and all, is caught by the journal.
//!
//! Pure: the key is handed in; nothing here reads a file.

use std::collections::BTreeMap;

/// The deployment's seal key (ed25519), re-exported so callers name one type.
pub use ed25519_dalek::SigningKey;
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::envelope::{EventPayload, Hash, RecordedEvent, event_payload};

/// What a seal says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum SealEvent {
    /// The log was sealed at an ordinal: a signed digest over every stream's
    /// head up to it.
    Sealed {
        /// The seal covers the log's first `position` events in log order
        /// (seals themselves excluded from the digest). An ordinal, not a
        /// store position: on sled, whose positions are dense from 1, the
        /// two are equal; on NATS they are not, and an ordinal keeps a seal
        /// true when the log moves from one store to another.
        position: u64,
        /// How many streams had events by then.
        streams: u64,
        /// BLAKE3 over the heads (see [`Heads::digest`]).
        digest: Hash,
        /// The signer's ed25519 public key, hex.
        public_key: String,
        /// The signature over [`signed_bytes`], hex.
        signature: String,
    },
}

fn seal_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_seal(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for seal.{tag}/{version}")))
}

event_payload!(SealEvent, "seal", seal_schema_version, upcast_seal);

/// The heads of every stream, folded from the log in position order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heads {
    heads: BTreeMap<String, (u64, Hash)>,
    /// How many events have been folded (the ordinal of the last one).
    pub position: u64,
}

impl Heads {
    /// Folds one event in (seal events are not part of what seals cover).
    pub fn apply(&mut self, event: &RecordedEvent) {
        self.position += 1;
        if event.stream.kind() != SealEvent::KIND {
            self.heads.insert(event.stream.to_string(), (event.version, event.hash));
        }
    }

    /// How many streams have events so far (seal streams not counted).
    pub fn streams(&self) -> u64 {
        self.heads.len() as u64
    }

    /// BLAKE3 over `stream \0 version(8 bytes BE) hash(32)` for every stream,
    /// in name order ([`HeadsDigest`]).
    pub fn digest(&self) -> Hash {
        let mut digest = HeadsDigest::default();
        for (stream, (version, hash)) in &self.heads {
            digest.add(stream, *version, hash);
        }
        digest.finish()
    }

    /// A signed seal over the heads as they stand.
    pub fn seal(&self, key: &SigningKey) -> SealEvent {
        sign(self.position, self.streams(), self.digest(), key)
    }
}

/// The seal's digest, fed one stream head at a time in stream-name order,
/// so that heads kept on disk (`gridloop_projections::audit::heads`) are
/// digested without holding them all in memory.
#[derive(Debug, Default)]
pub struct HeadsDigest(blake3::Hasher);

impl HeadsDigest {
    /// Adds one stream's head; heads must come in stream-name (byte) order.
    pub fn add(&mut self, stream: &str, version: u64, hash: &Hash) {
        self.0.update(stream.as_bytes());
        self.0.update(&[0]);
        self.0.update(&version.to_be_bytes());
        self.0.update(&hash.0);
    }

    /// The digest of every head added.
    pub fn finish(&self) -> Hash {
        Hash(*self.0.finalize().as_bytes())
    }
}

/// A seal of `streams` heads whose digest is `digest`, after `position`
/// events, signed with `key`.
pub fn sign(position: u64, streams: u64, digest: Hash, key: &SigningKey) -> SealEvent {
    let signature = key.sign(&signed_bytes(position, streams, &digest));
    SealEvent::Sealed {
        position,
        streams,
        digest,
        public_key: hex(key.verifying_key().as_bytes()),
        signature: hex(&signature.to_bytes()),
    }
}

/// What is signed: a domain tag, then position, stream count and digest.
pub fn signed_bytes(position: u64, streams: u64, digest: &Hash) -> Vec<u8> {
    [&b"gridloop-seal/1"[..], &position.to_be_bytes(), &streams.to_be_bytes(), &digest.0].concat()
}

/// A signing key from 32 secret bytes (the key file's contents).
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// The key's public half as 64 hex digits, as seals carry it and auditors are
/// given it.
pub fn public_key_hex(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

/// Checks one seal against heads folded up to its position: the digest, the
/// stream count, the signature, and (when the auditor names one) the key.
pub fn verify(seal: &SealEvent, heads: &Heads, trusted_key: Option<&str>) -> Result<(), Error> {
    let SealEvent::Sealed { position, streams, digest, public_key, signature } = seal;
    let fail = |why: String| Err(Error::Corrupt(format!("seal at position {position}: {why}")));
    if trusted_key.is_some_and(|k| !k.eq_ignore_ascii_case(public_key)) {
        return fail("signed by a key that is not the deployment's".into());
    }
    if heads.streams() != *streams || &heads.digest() != digest {
        return fail(format!(
            "the log's stream heads do not match ({} streams now, {streams} sealed): a stream was removed or cut short",
            heads.streams()
        ));
    }
    let key = unhex::<32>(public_key).and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let signature = unhex::<64>(signature).map(|b| Signature::from_bytes(&b));
    let (Some(key), Some(signature)) = (key, signature) else {
        return fail("the key or signature is malformed".into());
    };
    if key.verify(&signed_bytes(*position, *streams, digest), &signature).is_err() {
        return fail("the signature does not verify".into());
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        // Digits only: `from_str_radix` alone would also take a sign (`+f`).
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Checks seals while the log is read once, in position order: each seal
/// is checked when the heads reach its position (before any later event is
/// folded), so events appended after the seal was computed never disturb it.
#[derive(Debug)]
pub struct SealChecker {
    /// Seals to check, by the position they cover.
    seals: Vec<SealEvent>,
    next: usize,
    heads: Heads,
    trusted_key: Option<String>,
}

/// What the seal check found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// How many seals were verified (duplicates counted once).
    pub seals: u64,
    /// The highest position a verified seal covers.
    pub sealed_to: u64,
}

impl SealChecker {
    /// `seals` from the seal stream and the journal (duplicates are checked
    /// once); `trusted_key` the deployment's public key, hex, if known.
    pub fn new(mut seals: Vec<SealEvent>, trusted_key: Option<String>) -> Self {
        seals.sort_by_key(|s| match s {
            SealEvent::Sealed { position, digest, .. } => (*position, *digest),
        });
        seals.dedup();
        Self { seals, next: 0, heads: Heads::default(), trusted_key }
    }

    /// Folds the next event of the log (in position order).
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<(), Error> {
        self.check_up_to(self.heads.position)?;
        self.heads.apply(event);
        Ok(())
    }

    /// Checks the seals left; a seal beyond the end of the log means the log
    /// was cut after it was sealed.
    pub fn finish(mut self) -> Result<SealReport, Error> {
        let end = self.heads.position;
        self.check_up_to(end)?;
        if let Some(SealEvent::Sealed { position, .. }) = self.seals.get(self.next) {
            return Err(Error::Corrupt(format!(
                "seal at position {position}: the log ends at position {end}: it was truncated after it was sealed"
            )));
        }
        let sealed_to =
            self.seals[..self.next].iter().map(|SealEvent::Sealed { position, .. }| *position).max().unwrap_or(0);
        Ok(SealReport { seals: self.next as u64, sealed_to })
    }

    fn check_up_to(&mut self, position: u64) -> Result<(), Error> {
        while let Some(seal @ SealEvent::Sealed { position: sealed, .. }) = self.seals.get(self.next) {
            if *sealed > position {
                break;
            }
            verify(seal, &self.heads, self.trusted_key.as_deref())?;
            self.next += 1;
        }
        Ok(())
    }
}
