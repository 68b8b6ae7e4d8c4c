//! What a ticket event tells residents, and through which channels: pure,
//! no I/O.
//!
//! Three moments are told (the "accepted, resolved and closed"):
//!
//! - **taken** (`accepted`): an `Accepted`, `SelfHandled` or `Reassigned`
//!   event that gives a ticket a holder when it had none. All three mean
//!   "someone took it" to a resident; a reassignment from one holder to
//!   another changes nothing they wait for, so it is not told again. After
//!   an escalation or a reopening (which clear the holder) the next taker
//!   is told, since the resident is waiting again.
//! - **resolved** (`resolved`): with the holder's result, and a word that
//!   they may rate it.
//! - **closed** (`closed`): confirmed by the resident, or the feedback
//!   window passed.
//!
//! Each goes to the ticket's resident and its co-reporters, once each, in
//! Chinese then English (a notice answers no message whose language it
//! could follow). One-time codes ([`code`]) are notices too, but only for
//! the channels that leave the page.
//!
//! Every notice has a key per channel ([`key`]): a hash of where it comes
//! from (the event id, or the code), the recipient and the channel, stable
//! across restarts, so a receiver can drop a repeat.

use gridloop_engine::catalog::Catalog;
use gridloop_engine::ids::{ResidentId, TicketId};
use gridloop_engine::ticket::{CloseReason, Ticket, TicketEvent};
use gridloop_engine::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a notice goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The resident's "my requests" page: always, kept readable there.
    Page,
    /// E-mail over SMTP to the address in the resident's personal record.
    Email,
    /// A signed JSON POST to the URL a city points at its SMS gateway or
    /// work-chat.
    Webhook,
}

impl Channel {
    /// The channels that leave the process: each has an outbox and a sender.
    pub const SENT: [Channel; 2] = [Channel::Email, Channel::Webhook];

    /// Its name in keys, metrics and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Page => "page",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// What a notice tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone took the ticket.
    Accepted,
    /// The ticket was resolved; the text carries the result.
    Resolved,
    /// The ticket was closed.
    Closed,
    /// A one-time code (never on the page).
    Code,
}

impl Kind {
    /// Its name on the page, in the webhook's JSON and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Accepted => "accepted",
            Kind::Resolved => "resolved",
            Kind::Closed => "closed",
            Kind::Code => "code",
        }
    }
}

/// One thing to tell one resident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Where it comes from: the event id, or a code's own source; with the
    /// recipient and the channel it makes the notice's key.
    pub source: String,
    /// Whom it is for.
    pub resident: ResidentId,
    /// The ticket it is about (`None` for a code).
    pub ticket: Option<TicketId>,
    /// What it tells.
    pub kind: Kind,
    /// A mail's subject line.
    pub subject: String,
    /// The notice itself, Chinese then English.
    pub text: String,
    /// When what it tells happened.
    pub at: Timestamp,
    /// The log position of the event it tells of (0 for a code): the page
    /// orders notices of the same instant by it.
    #[serde(default)]
    pub position: u64,
}

/// The idempotency key of a notice from `source` to `resident` through
/// `channel`: 32 hex digits of a BLAKE3 hash, so it is short, has no
/// character a header or a `Message-ID` would need escaped, and says
/// nothing about the resident.
pub fn key(source: &str, resident: &ResidentId, channel: Channel) -> String {
    let text = format!("{source}\n{resident}\n{}", channel.name());
    blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
}

/// Whom a ticket's notices go to: its resident, then its co-reporters, each
/// once.
pub fn recipients(ticket: &Ticket) -> Vec<ResidentId> {
    let mut all: Vec<ResidentId> = ticket.resident.iter().cloned().collect();
    // Co-reporters (residents who followed the ticket instead of reporting
    // it again) are told the same.
    for follower in &ticket.followers {
        if !all.contains(follower) {
            all.push(follower.clone());
        }
    }
    all
}

/// The notices `event` (the ticket's event `source` at log `position`,
/// at `at`) calls for,
/// given the ticket just `before` it and `after` it.
pub fn tells(
    source: &str,
    position: u64,
    event: &TicketEvent,
    before: &Ticket,
    after: &Ticket,
    catalog: &Catalog,
    at: Timestamp,
) -> Vec<Notice> {
    let Some(ticket) = after.id.clone() else { return vec![] };
    let (name, name_en) = after
        .item
        .as_ref()
        .and_then(|code| catalog.item(code).ok())
        .map_or_else(|| (String::new(), String::new()), |item| (item.name.clone(), item.name_en.clone()));
    let t = ticket.as_str();
    let (kind, subject, text) = match event {
        TicketEvent::Accepted { .. } | TicketEvent::SelfHandled { .. } | TicketEvent::Reassigned { .. }
            if before.holder.is_none() =>
        {
            let subject = format!("您的诉求 {t} 已受理 / Your request {t} was taken");
            let text = format!(
                "您的诉求 {t}（{name}）已有人受理，正在处理。\nYour request {t} ({name_en}) has been taken and is being handled."
            );
            (Kind::Accepted, subject, text)
        }
        TicketEvent::Resolved { result, .. } => {
            let subject = format!("您的诉求 {t} 已办结 / Your request {t} was resolved");
            let text = format!(
                "您的诉求 {t}（{name}）已办结。\n处理结果：{result}\n请在“我的诉求”页面评价。\n\
                 Your request {t} ({name_en}) was resolved.\nResult: {result}\nPlease rate it on your requests page."
            );
            (Kind::Resolved, subject, text)
        }
        TicketEvent::Closed { reason } => {
            let subject = format!("您的诉求 {t} 已结案 / Your request {t} was closed");
            let (why, why_en) = match reason {
                CloseReason::Confirmed => ("感谢您的评价。", "Thank you for your feedback."),
                CloseReason::NoFeedback => ("评价期已过。", "The time to rate it has passed."),
            };
            let text =
                format!("您的诉求 {t}（{name}）已结案，{why}\nYour request {t} ({name_en}) was closed. {why_en}");
            (Kind::Closed, subject, text)
        }
        _ => return vec![],
    };
    recipients(after)
        .into_iter()
        .map(|resident| Notice {
            source: source.to_string(),
            resident,
            ticket: Some(ticket.clone()),
            kind,
            subject: subject.clone(),
            text: text.clone(),
            at,
            position,
        })
        .collect()
}

/// A one-time `code` for `resident`, sent at `at`; `purpose` is the door's
/// reason, in words for the source of its key (the same code for the same
/// purpose is the same notice).
pub fn code(resident: &ResidentId, code: &str, purpose: &str, at: Timestamp) -> Notice {
    Notice {
        source: format!("code/{purpose}/{code}"),
        resident: resident.clone(),
        ticket: None,
        kind: Kind::Code,
        subject: "您的验证码 / Your code".to_string(),
        text: format!(
            "您的验证码是 {code}，请勿告诉他人。如非本人操作，请忽略。\n\
             Your code is {code}. Do not share it; if you did not ask for it, ignore this message."
        ),
        at,
        position: 0,
    }
}
