//! What the resident's door asks of the notifier.
//!
//! The door (the resident's pages) must send a one-time code through the
//! resident's own channel — to link a second device, or to confirm a phone
//! before an order enters the dispatch queue — and show the notices the
//! resident was sent on their "my requests" page (the page is always a
//! channel). The notifier (`gridloop-notify`, wired in by `serve`) does
//! both; this trait is the seam, so the HTTP crate knows no SMTP, webhook
//! or outbox, and tests can hand in a courier that records what it sent.

use gridloop_engine::Error;
use gridloop_engine::blob::BlobFuture;
use gridloop_engine::ids::{ResidentId, TicketId};
use gridloop_engine::time::Timestamp;
use serde::Serialize;

/// Why a one-time code is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// To link another device to the resident's requests.
    LinkDevice,
    /// To confirm the phone number an order was made with.
    ConfirmPhone,
}

/// One notice a resident was sent, as their page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The ticket the notice is about.
    pub ticket: TicketId,
    /// What happened: `accepted`, `resolved`, `closed`.
    pub kind: String,
    /// The notice in the resident's words (the result, for `resolved`).
    pub text: String,
    /// When the event it tells of happened.
    pub at: Timestamp,
}

/// How one channel of the notifier fares, for `/metrics` and the console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    /// `email` or `webhook`.
    pub channel: String,
    /// Notices waiting to go (first try or a retry).
    pub pending: u64,
    /// Notices the channel took.
    pub sent_total: u64,
    /// Notices given up (refused, or out of attempts); they stay in the
    /// outbox.
    pub failed_total: u64,
    /// Attempts that failed and will be tried again, since the start.
    pub retried_total: u64,
    /// The channel's last failure, in its own words.
    pub last_error: Option<String>,
}

/// Sends a resident what only they should receive.
pub trait Courier: Send + Sync + 'static {
    /// Sends `code` to the resident through their own channel (e-mail, or
    /// the webhook a city points at its SMS gateway). An error means it
    /// could not be queued; delivery itself is retried by the notifier.
    fn send_code<'a>(&'a self, resident: &'a ResidentId, code: &'a str, purpose: CodePurpose) -> BlobFuture<'a, ()>;
    /// The notices sent to the resident, newest first, at most `max`.
    fn notices<'a>(&'a self, resident: &'a ResidentId, max: usize) -> BlobFuture<'a, Vec<Notice>>;
    /// How each of its channels fares (none: nothing to show).
    fn channels(&self) -> Vec<ChannelStatus> {
        Vec::new()
    }
}

/// A courier that has no channel: codes cannot be sent, and nobody has been
/// told anything. Used when `serve` runs without a notifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCourier;

impl Courier for NoCourier {
    fn send_code<'a>(&'a self, _: &'a ResidentId, _: &'a str, _: CodePurpose) -> BlobFuture<'a, ()> {
        Box::pin(async { Err(Error::invalid("channel", "this deployment has no channel to send a code through")) })
    }

    fn notices<'a>(&'a self, _: &'a ResidentId, _: usize) -> BlobFuture<'a, Vec<Notice>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
