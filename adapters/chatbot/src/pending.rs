//! Photos a volunteer sent, waiting for their next `完成` / `done`.
//!
//! A Matrix message carries one image and no command, so a photo cannot
//! name the ticket it belongs to: it waits here, per chat account, and the
//! account's next resolve carries every photo still waiting. The table is
//! bounded three ways, so no volunteer (or stranger) can grow it without
//! limit: at most [`RESULT_PHOTOS_MAX`] photos per account (the engine's
//! own bound on a resolve), at most [`ACCOUNTS_MAX`] accounts, and a photo
//! waits at most [`PENDING_MS`] before it is forgotten (the bytes stay in
//! the blob store, unreferenced, as any photo never attached does).
//!
//! It is pure data: the bot changes it, and the transport keeps it in the
//! state file ([`crate::state`]) after every message, so a restart neither
//! loses a photo nor attaches one twice.

use std::collections::BTreeMap;

use gridloop_engine::blob::{BlobHash, RESULT_PHOTOS_MAX};
use gridloop_engine::time::{HOUR_MS, Timestamp};
use serde::{Deserialize, Serialize};

/// How long a photo waits for its resolve: a day, long enough for a
/// volunteer who photographs the work and writes `完成` after going home.
pub const PENDING_MS: u64 = 24 * HOUR_MS;
/// The most accounts with photos waiting at once.
pub const ACCOUNTS_MAX: usize = 10_000;

/// One photo waiting: its hash in the blob store and when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The photo, as stored.
    pub hash: BlobHash,
    /// When the bot received it.
    pub at: Timestamp,
}

/// Why a photo was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account already has [`RESULT_PHOTOS_MAX`] photos waiting.
    Full,
    /// [`ACCOUNTS_MAX`] other accounts have photos waiting.
    Busy,
}

/// Chat account → its photos waiting, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPhotos {
    accounts: BTreeMap<String, Vec<Pending>>,
}

impl PendingPhotos {
    /// Keeps `hash` for `account`; returns how many photos now wait. The
    /// same photo twice (a redelivered message) is kept once.
    pub fn add(&mut self, account: &str, hash: BlobHash, now: Timestamp) -> Result<usize, Refusal> {
        self.expire(now);
        if !self.accounts.contains_key(account) && self.accounts.len() >= ACCOUNTS_MAX {
            return Err(Refusal::Busy);
        }
        let photos = self.accounts.entry(account.to_string()).or_default();
        if photos.iter().any(|p| p.hash == hash) {
            return Ok(photos.len());
        }
        if photos.len() >= RESULT_PHOTOS_MAX {
            return Err(Refusal::Full);
        }
        photos.push(Pending { hash, at: now });
        Ok(photos.len())
    }

    /// The photos waiting for `account` at `now`, oldest first.
    pub fn waiting(&self, account: &str, now: Timestamp) -> Vec<BlobHash> {
        let fresh = |p: &&Pending| now.since(p.at).0 <= PENDING_MS;
        self.accounts.get(account).into_iter().flatten().filter(fresh).map(|p| p.hash).collect()
    }

    /// Forgets `sent` for `account` (they went with a resolve).
    pub fn remove(&mut self, account: &str, sent: &[BlobHash]) {
        if let Some(photos) = self.accounts.get_mut(account) {
            photos.retain(|p| !sent.contains(&p.hash));
            if photos.is_empty() {
                self.accounts.remove(account);
            }
        }
    }

    /// Forgets every photo older than [`PENDING_MS`] at `now`.
    pub fn expire(&mut self, now: Timestamp) {
        self.accounts.retain(|_, photos| {
            photos.retain(|p| now.since(p.at).0 <= PENDING_MS);
            !photos.is_empty()
        });
    }

    /// How many accounts have photos waiting.
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }
}
