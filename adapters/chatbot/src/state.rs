//! The bot's own durable state: the Matrix sync token, its position in the
//! event log, each volunteer's direct room, and the photos waiting for a
//! volunteer's next resolve ([`crate::pending`]).
//!
//! One small JSON file, rewritten whole on every change: written to a
//! temporary file beside it, flushed to disk, renamed over the old one, and
//! the directory flushed, so that after a crash the file is either the old
//! state or the new one, never half of each. The bot saves the sync token
//! only after it has handled the batch it came with, and the log position
//! only after the notices of the events before it were sent: a crash
//! repeats work (which the command ids and transaction ids make harmless)
//! but never skips it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::pending::PendingPhotos;

/// The largest state file read, in bytes.
pub const STATE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// The most direct rooms remembered (one per linked account).
pub const ROOMS_MAX: usize = 100_000;

/// What is persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotState {
    /// The `next_batch` of the last sync handled completely.
    pub since: Option<String>,
    /// The next log position whose offer notices are still to be sent.
    pub log_position: u64,
    /// Chat account → its direct room with the bot.
    pub rooms: BTreeMap<String, String>,
    /// Photos volunteers sent, waiting for their next resolve (none in a
    /// state file written before photos existed).
    #[serde(default)]
    pub pending: PendingPhotos,
}

/// The state file and its content in memory; [`StateFile::update`] writes
/// every change to disk before it returns.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    state: Mutex<BotState>,
    existed: bool,
}

impl StateFile {
    /// Reads `path`, or starts empty when it does not exist yet.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let fail = |reason: String| Error::State { path: path.display().to_string(), reason };
        let (state, existed) = match std::fs::metadata(path) {
            Ok(meta) if meta.len() > STATE_BYTES_MAX => {
                return Err(fail(format!("larger than {STATE_BYTES_MAX} bytes")));
            }
            Ok(_) => {
                let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
                (serde_json::from_slice(&text).map_err(|e| fail(format!("not a bot state: {e}")))?, true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (BotState::default(), false),
            Err(e) => return Err(fail(e.to_string())),
        };
        Ok(Self { path: path.to_path_buf(), state: Mutex::new(state), existed })
    }

    /// Whether the file existed when opened (a restart, not a first start).
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// A copy of the state as it stands.
    pub fn get(&self) -> BotState {
        self.lock().clone()
    }

    /// The direct room of `account`, if known.
    pub fn room(&self, account: &str) -> Option<String> {
        self.lock().rooms.get(account).cloned()
    }

    /// Changes the state and writes it durably before returning.
    pub fn update(&self, change: impl FnOnce(&mut BotState)) -> Result<(), Error> {
        let mut state = self.lock();
        let mut next = state.clone();
        change(&mut next);
        if next.rooms.len() > ROOMS_MAX {
            return Err(Error::State {
                path: self.path.display().to_string(),
                reason: format!("more than {ROOMS_MAX} direct rooms"),
            });
        }
        if next != *state {
            self.write(&next)?;
            *state = next;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BotState> {
        // Every update replaces the state whole after its write succeeded,
        // so a panic while the lock was held left it consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, state: &BotState) -> Result<(), Error> {
        let fail = |e: std::io::Error| Error::State { path: self.path.display().to_string(), reason: e.to_string() };
        let bytes = serde_json::to_vec_pretty(state).expect("the state serialises");
        let tmp = self.path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(fail)?;
        file.write_all(&bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
        }
        Ok(())
    }
}
