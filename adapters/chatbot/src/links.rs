//! Which chat account speaks for which volunteer, and the one-time codes
//! that bind them: a projection of the volunteer events in the log.
//!
//! Links live in the event log like everything else (see
//! `gridloop_engine::volunteer`): a dispatcher's `IssueLinkCode` writes
//! `LinkCodeIssued` with the code's BLAKE3 hash and its expiry, and the bot's
//! `LinkChat` writes `ChatLinked` once the engine has checked the code. This
//! table is a fold of those events, so it survives restarts by being rebuilt
//! from the log, and it can never disagree with what the engine decided.
//!
//! The bot needs three questions answered quickly: which volunteer a code
//! is for (by its hash: the code itself is never stored), which volunteer an
//! account speaks for, and which account a volunteer is reached at (to push
//! offers). Each volunteer has at most one code outstanding and at most one
//! account, so every map is bounded by the number of volunteers.
//!
//! [`unread`] and [`Links::fold`] read the log from where the table stopped;
//! the bot does so before answering a message, so a code issued a moment ago is
//! already known (read-your-writes across the API, the CLI and the chat).

use std::collections::HashMap;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::{CommandId, VolunteerId};
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_engine::volunteer::VolunteerEvent;

/// The account a volunteer is linked to, and the command that linked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The volunteer the account speaks for.
    pub volunteer: VolunteerId,
    /// The command id of the `ChatLinked` event: the chat message that linked
    /// the account, so that a redelivered link message gets the same answer
    /// although its code is used up.
    pub linked_by: CommandId,
}

/// The link table: outstanding link codes (by hash) and linked accounts,
/// folded from the volunteer events of the log.
#[derive(Debug, Default, Clone)]
pub struct Links {
    /// The next log position to fold.
    next_position: u64,
    /// Outstanding code hash → (volunteer, expiry).
    codes: HashMap<String, (VolunteerId, Timestamp)>,
    /// Volunteer → their outstanding code hash, to replace it.
    code_of: HashMap<VolunteerId, String>,
    /// Account → link.
    accounts: HashMap<String, Link>,
    /// Volunteer → account.
    account_of: HashMap<VolunteerId, String>,
}

impl Links {
    /// An empty table that will fold the log from its first position.
    pub fn new() -> Self {
        Self { next_position: 1, ..Self::default() }
    }

    /// The next log position this table will fold.
    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// Folds one recorded event (events of other streams are skipped, and so
    /// is an event at or before a position already folded).
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<(), Error> {
        if event.position < self.next_position {
            return Ok(());
        }
        self.next_position = event.position + 1;
        if event.stream.kind() != "volunteer" {
            return Ok(());
        }
        let volunteer = VolunteerId::new(event.stream.id())?;
        match event.decode::<VolunteerEvent>()? {
            VolunteerEvent::LinkCodeIssued { code_hash, expires_at } => {
                if let Some(old) = self.code_of.insert(volunteer.clone(), code_hash.clone()) {
                    self.codes.remove(&old);
                }
                self.codes.insert(code_hash, (volunteer, expires_at));
            }
            VolunteerEvent::ChatLinked { account } => {
                if let Some(used) = self.code_of.remove(&volunteer) {
                    self.codes.remove(&used);
                }
                // One account per volunteer and one volunteer per account:
                // whichever link came last wins on both sides.
                if let Some(old_account) = self.account_of.remove(&volunteer) {
                    self.accounts.remove(&old_account);
                }
                if let Some(old) = self.accounts.remove(&account) {
                    self.account_of.remove(&old.volunteer);
                }
                self.account_of.insert(volunteer.clone(), account.clone());
                self.accounts.insert(account, Link { volunteer, linked_by: event.command_id.clone() });
            }
            _ => {}
        }
        Ok(())
    }

    /// Folds what [`unread`] returned: the events, then the position after
    /// the last event read (so the events of other streams are not read
    /// again).
    pub fn fold(&mut self, events: &[RecordedEvent], end: u64) -> Result<(), Error> {
        for event in events {
            self.apply(event)?;
        }
        self.next_position = self.next_position.max(end);
        Ok(())
    }

    /// The volunteer an outstanding, unexpired code (given as its hash) is
    /// for. The engine checks again when linking; this only finds whom to
    /// ask.
    pub fn code_holder(&self, code_hash: &str, now: Timestamp) -> Option<&VolunteerId> {
        self.codes.get(code_hash).filter(|(_, expires_at)| now < *expires_at).map(|(v, _)| v)
    }

    /// The link of `account`, if any.
    pub fn link(&self, account: &str) -> Option<&Link> {
        self.accounts.get(account)
    }

    /// The volunteer `account` speaks for, if linked.
    pub fn volunteer(&self, account: &str) -> Option<&VolunteerId> {
        self.accounts.get(account).map(|l| &l.volunteer)
    }

    /// The account `volunteer` is reached at, if linked.
    pub fn account(&self, volunteer: &VolunteerId) -> Option<&str> {
        self.account_of.get(volunteer).map(String::as_str)
    }

    /// How many accounts are linked.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account is linked.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

/// Reads the log from `from` to its end, one batch at a time, and returns
/// the volunteer events and the position after the last event read; the
/// caller folds them with [`Links::fold`] under its own lock, so that the
/// lock is never held across a read.
pub async fn unread<S: EventStore>(store: &S, from: u64) -> Result<(Vec<RecordedEvent>, u64), Error> {
    let mut events = Vec::new();
    let mut scan = store.scan(from);
    while let Some(batch) = scan.next_batch().await? {
        events.extend(batch.into_iter().filter(|e| e.stream.kind() == "volunteer"));
    }
    Ok((events, scan.next_position()))
}

/// A 6-digit code from 64 random bits (the deployment's caller draws them
/// from the operating system; tests from a seeded generator). The modulo
/// bias over 2^64 is negligible.
pub fn code_from(random: u64) -> String {
    format!("{:06}", random % 1_000_000)
}

/// Issues `code` for `volunteer` as `actor` (a dispatcher, or the system):
/// the engine keeps only its hash. `command_id` makes a retry harmless.
pub async fn issue_code<S: EventStore>(
    service: &gridloop_engine::service::CommandService<S>,
    volunteer: &VolunteerId,
    actor: gridloop_engine::envelope::Actor,
    command_id: CommandId,
    code: &str,
) -> Result<(), Error> {
    use gridloop_engine::service::{Command, CommandEnvelope};
    use gridloop_engine::volunteer::{VolunteerCommand, is_link_code, link_code_hash};
    if !is_link_code(code) {
        return Err(Error::invalid("link code", "must be 6 digits"));
    }
    let command = VolunteerCommand::IssueLinkCode { code_hash: link_code_hash(code) };
    let envelope = CommandEnvelope {
        command_id,
        correlation_id: None,
        actor,
        command: Command::Volunteer { id: volunteer.clone(), command },
        expected_version: None,
    };
    service.execute(envelope).await.map(|_| ())
}
