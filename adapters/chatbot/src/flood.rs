//! The per-account flood limit.
//!
//! Each chat account may send [`FLOOD_MESSAGES_MAX`] messages in a window
//! of [`FLOOD_WINDOW`]; the first message over the limit gets one short
//! reply ([`Verdict::WarnOnce`]), the rest of the window is silence
//! ([`Verdict::Ignore`]), so a flooder can make the bot neither write to the
//! engine nor talk back at their pace. It also slows down anyone guessing
//! link codes. Windows are fixed and start at an account's first message;
//! the time comes from the engine's clock, so tests drive it.
//!
//! The table holds at most [`FLOOD_ACCOUNTS_MAX`] accounts: when full, the
//! windows that ended are dropped, and if that frees nothing the table is
//! cleared (letting everyone through once is better than refusing every
//! new account).

use std::collections::HashMap;

use gridloop_engine::time::{Millis, Timestamp};

/// Messages one account may send in one window.
pub const FLOOD_MESSAGES_MAX: u32 = 10;
/// The length of a window.
pub const FLOOD_WINDOW: Millis = Millis(60 * 1000);
/// The most accounts tracked at once.
pub const FLOOD_ACCOUNTS_MAX: usize = 10_000;

/// What to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle it.
    Handle,
    /// The first message over the limit: say so once, do nothing else.
    WarnOnce,
    /// Over the limit and already warned: drop it silently.
    Ignore,
}

/// Each chat account's current window and how many messages it sent in it.
#[derive(Debug, Default)]
pub struct FloodLimit {
    /// Account → (window start, messages in it).
    windows: HashMap<String, (Timestamp, u32)>,
}

impl FloodLimit {
    /// An empty table: every account starts with a full allowance.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one message from `account` at `now`.
    pub fn check(&mut self, account: &str, now: Timestamp) -> Verdict {
        let ended = |start: Timestamp| now >= start.plus(FLOOD_WINDOW);
        if !self.windows.contains_key(account) && self.windows.len() >= FLOOD_ACCOUNTS_MAX {
            self.windows.retain(|_, (start, _)| !ended(*start));
            if self.windows.len() >= FLOOD_ACCOUNTS_MAX {
                self.windows.clear();
            }
        }
        let window = self.windows.entry(account.to_string()).or_insert((now, 0));
        if ended(window.0) {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
        match window.1 {
            n if n <= FLOOD_MESSAGES_MAX => Verdict::Handle,
            n if n == FLOOD_MESSAGES_MAX + 1 => Verdict::WarnOnce,
            _ => Verdict::Ignore,
        }
    }

    /// How many accounts are tracked.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no account is tracked.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}
