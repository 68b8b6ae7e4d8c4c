//! The durable outbox, in four trees of the deployment's local sled
//! database:
//!
//! - `notify-outbox`: deliveries waiting to go, keyed `channel/key`;
//! - `notify-done`: deliveries that went, failed for good, or had nowhere
//!   to go (same keys), kept for [`FINISHED_KEPT_DAYS`] so that failures
//!   stay visible and a notice written again is recognised and not queued
//!   twice;
//! - `notify-page`: each resident's page notices, keyed `resident ∅ time
//!   position` (big-endian), so a prefix scan backwards reads them newest
//!   first;
//! - `notify-meta`: the follower's position (the first log position it has
//!   not written notices for).
//!
//! [`Outbox::write`] puts a batch's page notices, its deliveries and the
//! position into all four in **one sled transaction**, then flushes: either
//! the follower's position moved past an event and its notices are there,
//! or neither happened. That is what makes a restart neither lose nor
//! double a notice; the senders then only move entries from the first tree
//! to the second.

use gridloop_engine::ids::ResidentId;
use gridloop_engine::time::Timestamp;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::Error;
use crate::notice::{self, Channel, Kind, Notice};

/// The trees the outbox keeps, in the order [`Outbox::open`] opens them.
pub const TREES: [&str; 4] = ["notify-outbox", "notify-done", "notify-page", "notify-meta"];
/// How long finished deliveries are kept, in days.
pub const FINISHED_KEPT_DAYS: u64 = 30;
/// The key of the follower's position in `notify-meta`.
const POSITION: &[u8] = b"position";

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its channel's sender (first try or a retry).
    Pending,
    /// The channel took it (an SMTP server accepted the mail; the webhook
    /// answered 2xx).
    Sent,
    /// Refused for good, or every attempt failed; kept visible.
    Failed,
    /// Nowhere to send it: the resident has no e-mail address, or was
    /// erased.
    Skipped,
}

/// One notice through one channel, as the outbox keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The idempotency key ([`notice::key`]).
    pub key: String,
    /// The channel it goes through.
    pub channel: Channel,
    /// What it tells. A code's text is dropped once it is finished.
    pub notice: Notice,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not to be tried before then (the backoff).
    pub next_at: Timestamp,
    /// Where it stands.
    pub state: State,
    /// The last failure, in the channel's words.
    pub last_error: Option<String>,
    /// When it was sent, failed for good or skipped.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
}

impl Delivery {
    fn id(&self) -> Vec<u8> {
        entry_id(self.channel, &self.key)
    }
}

fn entry_id(channel: Channel, key: &str) -> Vec<u8> {
    format!("{}/{key}", channel.name()).into_bytes()
}

fn page_key(notice: &Notice) -> Vec<u8> {
    // Timestamps are within 2000–2199, so positive: big-endian bytes sort
    // as the times do.
    let at = u64::try_from(notice.at.as_millis()).unwrap_or(0);
    [notice.resident.as_str().as_bytes(), &[0], &at.to_be_bytes(), &notice.position.to_be_bytes()].concat()
}

/// The outbox on one sled database. Cheap to clone (trees are handles).
#[derive(Clone, Debug)]
pub struct Outbox {
    pending: sled::Tree,
    done: sled::Tree,
    page: sled::Tree,
    meta: sled::Tree,
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Outbox(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Outbox(format!("an outbox entry does not decode: {e}")))
}

fn transaction_failed(error: TransactionError<()>) -> Error {
    match error {
        TransactionError::Storage(e) => Error::Outbox(e.to_string()),
        TransactionError::Abort(()) => Error::Outbox("the outbox transaction was aborted".into()),
    }
}

impl Outbox {
    /// Opens (or makes) the outbox's trees with `open_tree` (a sled
    /// database's, or the local store's).
    pub fn open<E: std::fmt::Display>(open_tree: impl Fn(&str) -> Result<sled::Tree, E>) -> Result<Self, Error> {
        let open = |name: &str| open_tree(name).map_err(|e| Error::Outbox(format!("opening {name}: {e}")));
        Ok(Self { pending: open(TREES[0])?, done: open(TREES[1])?, page: open(TREES[2])?, meta: open(TREES[3])? })
    }

    /// The follower's saved position, if it ever saved one.
    pub fn position(&self) -> Result<Option<u64>, Error> {
        let Some(bytes) = self.meta.get(POSITION)? else { return Ok(None) };
        let bytes: [u8; 8] =
            bytes.as_ref().try_into().map_err(|_| Error::Outbox("the position is malformed".into()))?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Writes `notices` in one transaction: each on its resident's page
    /// (unless it is a code), and as a pending delivery through each of
    /// `channels` unless that delivery is already pending or finished; and
    /// the follower's next `position`, when given. Returns how many
    /// deliveries it queued.
    pub async fn write(&self, notices: &[Notice], channels: &[Channel], position: Option<u64>) -> Result<usize, Error> {
        let mut pages = Vec::new();
        let mut deliveries = Vec::new();
        for notice in notices {
            if notice.kind != Kind::Code {
                pages.push((page_key(notice), to_json(notice)?));
            }
            for &channel in channels.iter().filter(|c| Channel::SENT.contains(c)) {
                let key = notice::key(&notice.source, &notice.resident, channel);
                let delivery = Delivery {
                    key,
                    channel,
                    notice: notice.clone(),
                    attempts: 0,
                    next_at: notice.at,
                    state: State::Pending,
                    last_error: None,
                    finished_at: None,
                };
                deliveries.push((delivery.id(), to_json(&delivery)?));
            }
        }
        let queued = (&self.pending, &self.done, &self.page, &self.meta)
            .transaction(|(pending, done, page, meta)| {
                for (key, value) in &pages {
                    page.insert(key.as_slice(), value.as_slice())?;
                }
                let mut queued = 0;
                for (id, value) in &deliveries {
                    if pending.get(id)?.is_none() && done.get(id)?.is_none() {
                        pending.insert(id.as_slice(), value.as_slice())?;
                        queued += 1;
                    }
                }
                if let Some(position) = position {
                    meta.insert(POSITION, &position.to_be_bytes())?;
                }
                Ok::<usize, ConflictableTransactionError<()>>(queued)
            })
            .map_err(transaction_failed)?;
        self.meta.flush_async().await?;
        Ok(queued)
    }

    /// The deliveries of `channel` due at `now`, at most `max`.
    pub fn due(&self, channel: Channel, now: Timestamp, max: usize) -> Result<Vec<Delivery>, Error> {
        let mut due = Vec::new();
        for entry in self.pending.scan_prefix(entry_id(channel, "")) {
            let delivery: Delivery = from_json(&entry?.1)?;
            if delivery.next_at <= now {
                due.push(delivery);
                if due.len() >= max {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// How many deliveries of `channel` wait, and the earliest time one is
    /// due.
    pub fn pending(&self, channel: Channel) -> Result<(u64, Option<Timestamp>), Error> {
        let mut count = 0;
        let mut earliest: Option<Timestamp> = None;
        for entry in self.pending.scan_prefix(entry_id(channel, "")) {
            let delivery: Delivery = from_json(&entry?.1)?;
            count += 1;
            earliest = Some(earliest.map_or(delivery.next_at, |e| e.min(delivery.next_at)));
        }
        Ok((count, earliest))
    }

    /// Keeps a delivery that will be tried again (its attempts and next
    /// time changed).
    pub fn reschedule(&self, delivery: &Delivery) -> Result<(), Error> {
        self.pending.insert(delivery.id(), to_json(delivery)?)?;
        Ok(())
    }

    /// Moves a delivery that went, failed for good or was skipped out of the
    /// pending tree, in one transaction, and flushes. A code's text (the
    /// code itself) is not kept.
    pub async fn finish(&self, delivery: &Delivery) -> Result<(), Error> {
        let mut kept = delivery.clone();
        if kept.notice.kind == Kind::Code {
            kept.notice.text.clear();
        }
        let (id, value) = (delivery.id(), to_json(&kept)?);
        (&self.pending, &self.done)
            .transaction(|(pending, done)| {
                pending.remove(id.as_slice())?;
                done.insert(id.as_slice(), value.as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(transaction_failed)?;
        self.meta.flush_async().await?;
        Ok(())
    }

    /// Forgets the finished deliveries of `channel` that finished before
    /// `cutoff`, so the finished tree does not grow forever. (A notice is
    /// never written again once its event is behind the follower's
    /// position, so forgetting its delivery cannot make it go twice.)
    /// Returns how many it forgot.
    pub fn prune(&self, channel: Channel, cutoff: Timestamp) -> Result<usize, Error> {
        let mut old = Vec::new();
        for entry in self.done.scan_prefix(entry_id(channel, "")) {
            let (id, value) = entry?;
            let delivery: Delivery = from_json(&value)?;
            if delivery.finished_at.is_some_and(|at| at < cutoff) {
                old.push(id);
            }
        }
        for id in &old {
            self.done.remove(id)?;
        }
        Ok(old.len())
    }

    /// The finished deliveries of `channel` (sent, failed, skipped), in key
    /// order.
    pub fn finished(&self, channel: Channel) -> Result<Vec<Delivery>, Error> {
        self.done.scan_prefix(entry_id(channel, "")).map(|entry| from_json(&entry?.1)).collect()
    }

    /// The notices on `resident`'s page, newest first, at most `max`.
    pub fn page(&self, resident: &ResidentId, max: usize) -> Result<Vec<Notice>, Error> {
        let prefix = [resident.as_str().as_bytes(), &[0]].concat();
        self.page.scan_prefix(prefix).rev().take(max).map(|entry| from_json(&entry?.1)).collect()
    }
}
