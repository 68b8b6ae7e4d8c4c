//! Which chat account speaks for which volunteer, and the one-time codes
//! that bind them.
//!
//! A dispatcher issues a 6-digit code for a volunteer
//! ([`Links::issue_code`]); the volunteer sends `绑定 <code>` from their chat
//! account and [`Links::redeem`] binds the account and consumes the code.
//! Each volunteer has at most one code outstanding (a new one replaces the
//! old), so the table of codes is bounded by the number of volunteers.
//! Each volunteer is linked to at most one account: linking again (a new
//! phone, a new account) moves the link.
//!
//! Codes come from a seeded [`SplitMix64`], injected so that tests are
//! reproducible; a deployment seeds it from the operating system. Six digits
//! are guessable by a patient attacker, so the transport's per-user flood
//! limit is what bounds guessing; codes do not expire yet. The table lives
//! in memory: persisting it is the transport slice's job.

use std::collections::HashMap;

use gridloop_engine::ids::VolunteerId;
use gridloop_engine::rng::SplitMix64;

/// The longest account id kept, in bytes: a Matrix user id is at most 255.
pub const ACCOUNT_LEN_MAX: usize = 255;

/// What redeeming a code did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The account now speaks for this volunteer.
    Linked(VolunteerId),
    /// The code is unknown, already used, or the account id is unusable.
    Refused,
}

#[derive(Debug)]
pub struct Links {
    rng: SplitMix64,
    /// Outstanding codes and whom they are for.
    codes: HashMap<String, VolunteerId>,
    /// Account → (volunteer, the message id that linked it). The message id
    /// lets a redelivered link message get the same answer although its code
    /// is gone.
    accounts: HashMap<String, (VolunteerId, String)>,
}

impl Links {
    pub fn new(seed: u64) -> Self {
        Self { rng: SplitMix64::new(seed), codes: HashMap::new(), accounts: HashMap::new() }
    }

    /// Issues a fresh 6-digit code for `volunteer`, replacing any code the
    /// volunteer had not used yet.
    pub fn issue_code(&mut self, volunteer: &VolunteerId) -> String {
        self.codes.retain(|_, v| v != volunteer);
        loop {
            let code = format!("{:06}", self.rng.below(1_000_000));
            // Two volunteers must never hold the same code: draw again.
            if !self.codes.contains_key(&code) {
                self.codes.insert(code.clone(), volunteer.clone());
                return code;
            }
        }
    }

    /// Binds `account` with `code` in the message `message_id`.
    pub fn redeem(&mut self, account: &str, code: &str, message_id: &str) -> Redeemed {
        if let Some((volunteer, by)) = self.accounts.get(account) {
            if by == message_id {
                return Redeemed::Linked(volunteer.clone());
            }
        }
        if account.is_empty() || account.len() > ACCOUNT_LEN_MAX {
            return Redeemed::Refused;
        }
        let Some(volunteer) = self.codes.remove(code) else { return Redeemed::Refused };
        self.accounts.retain(|_, (v, _)| *v != volunteer);
        self.accounts.insert(account.to_string(), (volunteer.clone(), message_id.to_string()));
        Redeemed::Linked(volunteer)
    }

    /// The volunteer `account` speaks for, if linked.
    pub fn volunteer(&self, account: &str) -> Option<&VolunteerId> {
        self.accounts.get(account).map(|(v, _)| v)
    }
}
