//! Bounds on guessing link codes.
//!
//! A link code is 6 digits, and every outstanding code is a target: with
//! only the per-message flood limit, one account could try 14,400 codes a
//! day, and many accounts many more. So wrong codes are counted apart from
//! other messages: an account gets [`LINK_FAILURES_PER_ACCOUNT_MAX`] wrong
//! codes per [`LINK_FAILURE_WINDOW`], and all accounts together
//! [`LINK_FAILURES_MAX`]; past either, linking pauses (even with a right
//! code) until the window ends, and the sender is told to ask a dispatcher.
//! Together that is at most 1,200 guesses a day against a million codes: a
//! guess hits one of `n` outstanding codes with a chance of about
//! `n × 0.12 %` a day. A global pause lets an attacker stop others from
//! linking for an hour at a time; refusing to be guessed is the better
//! failure.
//!
//! Windows are fixed and counted on the engine's clock; the table of
//! accounts holds at most [`LINK_ACCOUNTS_MAX`] (ended windows are dropped
//! first, then, if still full, the new account counts only globally).

use std::collections::HashMap;

use gridloop_engine::time::{Millis, Timestamp};

/// Wrong link codes one account may send per window.
pub const LINK_FAILURES_PER_ACCOUNT_MAX: u32 = 5;
/// Wrong link codes all accounts together may send per window.
pub const LINK_FAILURES_MAX: u32 = 50;
/// The window of both limits.
pub const LINK_FAILURE_WINDOW: Millis = Millis(60 * 60 * 1000);
/// The most accounts whose failures are tracked.
pub const LINK_ACCOUNTS_MAX: usize = 10_000;

/// Wrong link codes counted per account and over all accounts, each in
/// fixed windows of [`LINK_FAILURE_WINDOW`].
#[derive(Debug, Default)]
pub struct GuessLimit {
    /// Account → (window start, wrong codes in it).
    accounts: HashMap<String, (Timestamp, u32)>,
    /// (window start, wrong codes in it) over all accounts.
    global: Option<(Timestamp, u32)>,
}

impl GuessLimit {
    /// An empty table: no failures counted, linking allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `account` may try a code at `now`.
    pub fn allowed(&self, account: &str, now: Timestamp) -> bool {
        let open = |window: Option<&(Timestamp, u32)>, max: u32| match window {
            Some((start, n)) if now < start.plus(LINK_FAILURE_WINDOW) => *n < max,
            _ => true,
        };
        open(self.global.as_ref(), LINK_FAILURES_MAX) && open(self.accounts.get(account), LINK_FAILURES_PER_ACCOUNT_MAX)
    }

    /// Counts a wrong code from `account` at `now`.
    pub fn failed(&mut self, account: &str, now: Timestamp) {
        let ended = |start: Timestamp| now >= start.plus(LINK_FAILURE_WINDOW);
        let global = self.global.get_or_insert((now, 0));
        if ended(global.0) {
            *global = (now, 0);
        }
        global.1 = global.1.saturating_add(1);
        if !self.accounts.contains_key(account) && self.accounts.len() >= LINK_ACCOUNTS_MAX {
            self.accounts.retain(|_, (start, _)| !ended(*start));
            if self.accounts.len() >= LINK_ACCOUNTS_MAX {
                return;
            }
        }
        let window = self.accounts.entry(account.to_string()).or_insert((now, 0));
        if ended(window.0) {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
    }
}
