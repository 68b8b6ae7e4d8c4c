//! Evidence photos: a content-addressed blob store.
//!
//! Events never carry bytes. A photo is stored once under its BLAKE3 hash
//! ([`BlobHash`]) and events name it by that hash (`Submitted.photos`,
//! `Resolved.photos`), so the log stays small, its hash chain covers the
//! photo too (a photo that changes no longer matches the hash an event
//! names), and an auditor can check every referenced photo
//! ([`BlobState`]).
//!
//! Erasure (a resident's right under PIPL and GDPR) deletes the bytes and
//! leaves a tombstone, so the audit can tell "erased on request" from
//! "missing". What may be stored — a real JPEG, PNG or WebP, bounded,
//! without location metadata — is decided before a store sees the bytes
//! (`gridloop-media`); a store keeps what it is given.
//!
//! The trait is object-safe (boxed futures, no `Self: Sized` methods) so
//! that adapters hold one `Arc<dyn BlobStore>` whatever the deployment: a
//! sled tree beside the log, JetStream's Object Store on NATS, or
//! [`MemoryBlobs`] in tests.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The largest blob a store accepts, in bytes (a photo's bound, 5 MB).
pub const BLOB_BYTES_MAX: usize = 5 * 1024 * 1024;
/// The most photos a resident attaches to an order.
pub const ORDER_PHOTOS_MAX: usize = 3;
/// The most after-photos a handler attaches when resolving.
pub const RESULT_PHOTOS_MAX: usize = 6;

/// A future a blob store returns: boxed, so the trait stays object-safe.
pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// The BLAKE3 hash of a blob's bytes, as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as 64 lowercase hex digits (also its `Display`).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.to_hex())
    }
}

impl FromStr for BlobHash {
    type Err = Error;

    /// Exactly 64 lowercase hex digits; anything else is refused, so a hash
    /// has one spelling and can be compared as text.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("photo", "must be a BLAKE3 hash: 64 lowercase hex digits");
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

impl Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a store knows of a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobState {
    /// The bytes are there (and hash to the name: stores check on read).
    Present,
    /// The bytes were erased on request; a tombstone remains.
    Erased,
    /// Nothing was ever stored under this hash, or it was lost.
    Missing,
}

/// A content-addressed store of photos. Every method is idempotent: putting
/// the same bytes twice stores them once, erasing twice is the same as once.
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` (at most [`BLOB_BYTES_MAX`]) and returns their hash.
    /// Putting bytes whose hash was erased stores them again: erasure is of
    /// the bytes someone held, and a new upload is a new consent.
    fn put(&self, bytes: Vec<u8>) -> BlobFuture<'_, BlobHash>;
    /// The bytes stored under `hash`, checked against it; `None` when erased
    /// or missing. Bytes that no longer match their hash are `Error::Corrupt`.
    fn get<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, Option<Vec<u8>>>;
    /// Whether the bytes are there, erased, or missing (without reading them
    /// when the store can avoid it).
    fn state<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, BlobState>;
    /// Deletes the bytes and leaves a tombstone; `false` if there were none.
    fn erase<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, bool>;
}

/// Refuses a blob past the bound, before any store writes it.
pub fn check_size(bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() > BLOB_BYTES_MAX {
        return Err(Error::invalid("photo", format!("must be at most {} bytes", BLOB_BYTES_MAX)));
    }
    Ok(())
}

/// Blobs in memory, for tests and the demo.
#[derive(Debug, Default)]
pub struct MemoryBlobs {
    blobs: Mutex<BTreeMap<BlobHash, Option<Vec<u8>>>>,
}

impl MemoryBlobs {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<BlobHash, Option<Vec<u8>>>> {
        // A panic while holding the lock cannot leave the map half-changed
        // (every change is one insert), so a poisoned lock is still sound.
        self.blobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl BlobStore for MemoryBlobs {
    fn put(&self, bytes: Vec<u8>) -> BlobFuture<'_, BlobHash> {
        Box::pin(async move {
            check_size(&bytes)?;
            let hash = BlobHash::of(&bytes);
            self.lock().insert(hash, Some(bytes));
            Ok(hash)
        })
    }

    fn get<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { Ok(self.lock().get(hash).cloned().flatten()) })
    }

    fn state<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, BlobState> {
        Box::pin(async move {
            Ok(match self.lock().get(hash) {
                Some(Some(_)) => BlobState::Present,
                Some(None) => BlobState::Erased,
                None => BlobState::Missing,
            })
        })
    }

    fn erase<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, bool> {
        Box::pin(async move {
            let mut blobs = self.lock();
            let had = matches!(blobs.get(hash), Some(Some(_)));
            blobs.insert(*hash, None);
            Ok(had)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_has_one_spelling() {
        let hash = BlobHash::of(b"photo");
        assert_eq!(hash.to_hex().parse::<BlobHash>().unwrap(), hash);
        assert!(hash.to_hex().to_uppercase().parse::<BlobHash>().is_err());
        assert!("ab".parse::<BlobHash>().is_err());
        assert!(format!("{}g", &hash.to_hex()[..63]).parse::<BlobHash>().is_err());
    }
}
