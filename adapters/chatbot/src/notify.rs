//! What the log means for volunteers' chats: the notices the bot pushes.
//!
//! [`notices`] looks at one recorded event and says what to tell whom:
//!
//! - `ticket.offered`: each volunteer candidate gets the offer (category,
//!   place, description, deadline in China time, how to accept and
//!   decline), unless the offer is no longer out by the time the bot reads
//!   it (after a long stop, stale offers are not sent);
//! - `ticket.accepted` by someone else: "taken";
//! - `ticket.offer_expired`: "expired";
//! - the ticket escalated, reassigned, self-handled, cancelled or marked a
//!   duplicate while an offer was out: "withdrawn".
//!
//! Candidates who declined hear nothing more about that offer, and the one
//! who took it hears no "taken" (the reply to their own `accept` said it).
//! Only volunteers get notices (a team candidate has no chat account); the
//! caller sends them only to linked volunteers. Messages are written in
//! Chinese then English, one line each, since a pushed message answers no
//! message whose language it could follow.
//!
//! Each notice has a stable key (the event id and the volunteer): the
//! transport uses it as the Matrix transaction id, so a notice re-sent after
//! a crash is delivered once.

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::{StreamId, TicketId, VolunteerId};
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Offer, Status, Ticket, TicketEvent};
use gridloop_engine::time::Timestamp;

/// The most characters of a ticket's description an offer quotes.
pub const DESCRIPTION_CHARS_MAX: usize = 200;
/// China Standard Time, UTC+8 all year (no daylight saving time since
/// 1991): deadlines are shown as volunteers read clocks.
const CHINA: jiff::tz::Offset = jiff::tz::Offset::constant(8);

/// One message for one volunteer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Whom to tell; sent to the direct room of the account they linked.
    pub volunteer: VolunteerId,
    /// Stable across restarts: `<event id>-<volunteer>`.
    pub key: String,
    /// `offer`, `taken`, `expired` or `withdrawn`.
    pub kind: &'static str,
    /// The message itself, as sent to the volunteer.
    pub text: String,
}

/// The notices one event calls for (none for most events).
pub async fn notices<S: EventStore>(
    service: &CommandService<S>,
    event: &RecordedEvent,
) -> Result<Vec<Notice>, gridloop_engine::Error> {
    if event.stream.kind() != "ticket" {
        return Ok(vec![]);
    }
    let decoded = event.decode::<TicketEvent>()?;
    let concerns_offers = matches!(
        decoded,
        TicketEvent::Offered { .. }
            | TicketEvent::Accepted { .. }
            | TicketEvent::OfferExpired { .. }
            | TicketEvent::Escalated { .. }
            | TicketEvent::Reassigned { .. }
            | TicketEvent::SelfHandled { .. }
            | TicketEvent::Cancelled { .. }
            | TicketEvent::MarkedDuplicate { .. }
    );
    if !concerns_offers {
        return Ok(vec![]);
    }
    let ticket_id = TicketId::new(event.stream.id())?;
    let history = service.store().read_stream(&StreamId::ticket(&ticket_id), 1).await?;
    // The ticket just before this event, and now.
    let mut before = Ticket::default();
    let mut now = Ticket::default();
    let mut description = String::new();
    for recorded in &history {
        let e = recorded.decode::<TicketEvent>()?;
        if let TicketEvent::Submitted { description: d, .. } = &e {
            description = d.clone();
        }
        if recorded.version < event.version {
            before.evolve(&e, recorded.occurred_at);
        }
        now.evolve(&e, recorded.occurred_at);
    }
    let t = ticket_id.as_str();
    let notice = |volunteer: &VolunteerId, kind: &'static str, text: String| Notice {
        volunteer: volunteer.clone(),
        key: format!("{}-{}", event.event_id, volunteer),
        kind,
        text,
    };
    if let TicketEvent::Offered { round, candidates, expires_at } = &decoded {
        let still_out = now.status == Status::Offered && now.offer.as_ref().is_some_and(|o| o.round == *round);
        let Some(offer) = now.offer.as_ref().filter(|_| still_out) else { return Ok(vec![]) };
        let text = offer_text(service, &now, t, &description, *expires_at);
        return Ok(volunteers(candidates, offer, None).iter().map(|v| notice(v, "offer", text.clone())).collect());
    }
    let Some(offer) = before.offer.as_ref().filter(|_| before.status == Status::Offered) else { return Ok(vec![]) };
    let (kind, text, taker) = match &decoded {
        TicketEvent::Accepted { by, .. } => {
            ("taken", format!("{t} 已被其他志愿者接走，无需处理。\n{t} has been taken by another volunteer."), Some(by))
        }
        TicketEvent::OfferExpired { .. } => {
            ("expired", format!("{t} 的派单已过期。\nThe offer of {t} has expired."), None)
        }
        TicketEvent::Reassigned { to, .. } => {
            ("withdrawn", format!("{t} 的派单已撤回。\nThe offer of {t} was withdrawn."), Some(to))
        }
        _ => ("withdrawn", format!("{t} 的派单已撤回。\nThe offer of {t} was withdrawn."), None),
    };
    Ok(volunteers(&offer.candidates, offer, taker).iter().map(|v| notice(v, kind, text.clone())).collect())
}

/// The volunteers among `candidates` who have not declined `offer`, less
/// `except`.
fn volunteers(candidates: &[Assignee], offer: &Offer, except: Option<&Assignee>) -> Vec<VolunteerId> {
    candidates
        .iter()
        .filter(|c| !offer.declined.contains(c) && Some(*c) != except)
        .filter_map(|c| match c {
            Assignee::Volunteer(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// The offer as the volunteer reads it.
fn offer_text<S: EventStore>(
    service: &CommandService<S>,
    ticket: &Ticket,
    t: &str,
    description: &str,
    expires_at: Timestamp,
) -> String {
    let world = service.world();
    let item = ticket.item.as_ref().and_then(|code| world.catalog.item(code).ok());
    let (category_zh, category_en) = item.map_or_else(
        || {
            let code = ticket.item.as_ref().map_or_else(String::new, ToString::to_string);
            (code.clone(), code)
        },
        |i| (i.name.clone(), i.name_en.clone()),
    );
    // The grid and its community, which is how residents name a place.
    let nodes: Vec<_> = ticket
        .grid
        .iter()
        .flat_map(|g| [g.parent(), Some(g.clone())])
        .flatten()
        .filter_map(|code| world.grids.get(&code))
        .collect();
    let place_zh = nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(" ");
    let place_en = nodes.iter().map(|n| n.name_en.as_str()).collect::<Vec<_>>().join(", ");
    let mut quoted: String = description.chars().take(DESCRIPTION_CHARS_MAX).collect();
    if description.chars().count() > DESCRIPTION_CHARS_MAX {
        quoted.push('…');
    }
    let by = china_time(expires_at);
    format!(
        "新派单 {t}：{category_zh}，{place_zh}。「{quoted}」请在 {by} 前回复“接单 {t}”，不接请回复“拒绝 {t}”。\n\
         New offer {t}: {category_en}, {place_en}. \"{quoted}\" Reply \"accept {t}\" by {by} (China time), or \"decline {t}\"."
    )
}

/// `MM-DD HH:MM` in China time; the engine's RFC 3339 UTC form should jiff
/// ever refuse the instant.
fn china_time(at: Timestamp) -> String {
    jiff::Timestamp::from_millisecond(at.as_millis())
        .and_then(|t| jiff::fmt::strtime::format("%m-%d %H:%M", CHINA.to_datetime(t)))
        .unwrap_or_else(|_| at.to_string())
}
