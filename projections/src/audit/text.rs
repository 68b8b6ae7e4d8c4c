//! The timeline in words: a sentence per event, spans and instants for
//! people, and the whole timeline laid out for a terminal.

use serde::Serialize;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::ids::ItemCode;
use gridloop_engine::ticket::{Assignee, CloseReason, ExpiryReason, Ticket, TicketEvent, Tier, Urgency};
use gridloop_engine::time::Timestamp;

use super::timeline::{StateAfter, TicketAudit};

/// Free text in a timeline sentence is cut to this many characters (the
/// payload keeps all of it).
const TEXT_SHOWN_MAX: usize = 80;
/// Candidates named in an offer's sentence before "and N more".
const CANDIDATES_SHOWN_MAX: usize = 8;

/// What an event changed, in a short sentence; times relative to `at`.
pub(super) fn describe(event: &TicketEvent, before: &Ticket, at: Timestamp) -> String {
    use TicketEvent as E;
    let t = |x: &Timestamp| clock(*x, at);
    match event {
        E::Submitted { item, grid, urgency, channel, tier, accept_by, resolve_by, photos, .. } => {
            let urgent = if *urgency == Urgency::Urgent { " (urgent)" } else { "" };
            let tier = if *tier == Tier::Grid { String::new() } else { format!(", straight to the {}", words(tier)) };
            format!(
                "submitted {item}{urgent} in grid {grid} via {}{tier}; accept by {}, resolve by {}{}",
                words(channel),
                t(accept_by),
                t(resolve_by),
                photo_count(photos)
            )
        }
        E::Followed { resident } => format!("followed by resident {resident} as a co-reporter"),
        E::Triaged { mode, item } => triaged(*mode, item, before),
        E::SelfHandled { worker } => format!("taken by grid worker {worker} to handle on the spot"),
        E::Offered { round, candidates, expires_at } => {
            format!("offered to {} until {} (round {round})", candidate_names(candidates), t(expires_at))
        }
        E::OfferExpired { round, reason } => match reason {
            ExpiryReason::Deadline => format!("offer round {round} expired: nobody accepted in time"),
            ExpiryReason::AllDeclined => format!("offer round {round} withdrawn: every candidate declined"),
        },
        E::Accepted { by, .. } => format!("accepted by {by}"),
        E::Declined { by, reason, .. } => format!("declined by {by}{}", quoted(reason)),
        E::Started { by } => format!("work started by {by}"),
        E::NoteAdded { text } => format!("note{}", quoted(text)),
        E::Escalated { from, to, reason, note, respond_by, resolve_by } => {
            let mut text = format!("escalated {} → {} ({})", words(from), words(to), words(reason));
            if let Some(by) = respond_by {
                text.push_str(&format!(", to be taken by {}", t(by)));
            }
            if let Some(by) = resolve_by {
                text.push_str(&format!("; resolve deadline renewed to {}", t(by)));
            }
            text + &quoted(note)
        }
        E::Reassigned { to, reason } => match &before.holder {
            Some(from) if before.status.is_held() => format!("reassigned from {from} to {to}{}", quoted(reason)),
            _ => format!("assigned to {to}{}", quoted(reason)),
        },
        E::Resolved { by, minutes_spent, feedback_by, result, photos } => format!(
            "resolved by {by} after {minutes_spent} min of work; feedback until {}{}{}",
            t(feedback_by),
            photo_count(photos),
            quoted(result)
        ),
        E::FeedbackGiven { rating, comment } => format!("rated {} by the resident{}", words(rating), quoted(comment)),
        E::Reopened { reason, resolve_by, respond_by } => {
            let respond = respond_by.map(|by| format!(", to be taken by {}", t(&by))).unwrap_or_default();
            format!("reopened{respond}; resolve by {}{}", t(resolve_by), quoted(reason))
        }
        E::Closed { reason } => match reason {
            CloseReason::Confirmed => "closed: the resident confirmed it".to_string(),
            CloseReason::NoFeedback => "closed: no feedback within the window".to_string(),
        },
        E::Cancelled { reason } => format!("cancelled{}", quoted(reason)),
        E::MarkedDuplicate { of } => format!("marked a duplicate of {of}"),
        E::Summoned { departments, report_by } => {
            let names: Vec<&str> = departments.iter().map(|d| d.as_str()).collect();
            format!("summoned {} to report by {}", names.join(", "), t(report_by))
        }
        E::SummonsAnswered { department, report } => format!("{department} reported{}", quoted(report)),
        E::CountedInWorkingDays { calendar } => format!("those deadlines counted in working days on {calendar}"),
        E::Returned { by, reason, respond_by } => {
            format!("returned by {by} as misrouted, to be re-routed by {}{}", t(respond_by), quoted(reason))
        }
        E::ReturnOverruled { to, note } => format!("return overruled: {to} holds it again{}", quoted(note)),
        E::ExtensionAsked { by, until, reason } => {
            format!("{by} asked to extend the resolve deadline to {}{}", t(until), quoted(reason))
        }
        E::ExtensionGranted { resolve_by_before, resolve_by } => {
            format!("extension granted: resolve deadline {} → {}", t(resolve_by_before), t(resolve_by))
        }
        E::ExtensionRefused { reason } => format!("extension refused{}", quoted(reason)),
        E::Urged { note } => format!("urged{}", quoted(note)),
        E::Coordinated { done, minutes_spent, photos, children } => {
            let names: Vec<&str> = children.iter().map(|c| c.as_str()).collect();
            format!(
                "part handled by the grid worker after {minutes_spent} min, the rest dispatched as {}{}{}",
                names.join(", "),
                photo_count(photos),
                quoted(done)
            )
        }
        E::ChildSettled { child } => format!("linked ticket {child} settled"),
    }
}

/// `; 2 photos` after an event that carries photos; nothing without.
fn photo_count(photos: &[gridloop_engine::blob::BlobHash]) -> String {
    match photos.len() {
        0 => String::new(),
        1 => "; 1 photo".to_string(),
        n => format!("; {n} photos"),
    }
}

/// A triage: to whom the ticket goes, and its item when triage changed it.
fn triaged(mode: HandlingMode, item: &ItemCode, before: &Ticket) -> String {
    let to = match mode {
        HandlingMode::SelfHandle => "the grid worker",
        HandlingMode::Volunteer => "volunteers",
        HandlingMode::Department => "its department",
    };
    match before.item.as_ref().filter(|old| *old != item) {
        Some(old) => format!("triaged for {to}, item {old} → {item}"),
        None => format!("triaged for {to}"),
    }
}

/// The candidates of an offer, the first few by id, then "and N more".
fn candidate_names(candidates: &[Assignee]) -> String {
    let mut names: Vec<&str> = candidates.iter().take(CANDIDATES_SHOWN_MAX).map(bare_id).collect();
    let more = candidates.len().saturating_sub(CANDIDATES_SHOWN_MAX);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    names.dedup();
    format!("{}{more}", names.join(", "))
}

fn bare_id(who: &Assignee) -> &str {
    match who {
        Assignee::Volunteer(id) => id.as_str(),
        Assignee::Team(id) => id.as_str(),
        Assignee::Department(id) => id.as_str(),
        Assignee::GridWorker(id) => id.as_str(),
    }
}

/// `: "text"` on one line, cut to a readable length; nothing for no text.
fn quoted(text: &str) -> String {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return String::new();
    }
    let mut shown: String = text.chars().take(TEXT_SHOWN_MAX).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!(": \"{shown}\"")
}

/// The serde name of a unit enum value, with spaces: `basically satisfied`.
fn words<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name.replace('_', " "),
        _ => "?".to_string(),
    }
}

/// An instant in a sentence, UTC: `10:30` on the day of `reference`,
/// `11-03 10:30` in its year, the whole date otherwise; seconds only when
/// not zero, milliseconds only when not zero.
fn clock(t: Timestamp, reference: Timestamp) -> String {
    let (Some(when), Some(reference)) = (utc(t), utc(reference)) else { return t.to_string() };
    let ms = when.subsec_nanosecond() / 1_000_000;
    let (h, m, s) = (when.hour(), when.minute(), when.second());
    let time = match (s, ms) {
        (0, 0) => format!("{h:02}:{m:02}"),
        (s, 0) => format!("{h:02}:{m:02}:{s:02}"),
        (s, ms) => format!("{h:02}:{m:02}:{s:02}.{ms:03}"),
    };
    if when.date() == reference.date() {
        time
    } else if when.year() == reference.year() {
        format!("{:02}-{:02} {time}", when.month(), when.day())
    } else {
        format!("{} {time}", when.date())
    }
}

/// The UTC calendar date and time of an instant (every instant the engine
/// allows, the years 2000 to 2199, has one).
fn utc(t: Timestamp) -> Option<jiff::civil::DateTime> {
    let instant = jiff::Timestamp::from_millisecond(t.as_millis()).ok()?;
    Some(jiff::tz::Offset::UTC.to_datetime(instant))
}

/// A span for people: `45s`, `2h10m`, `1d3h`.
pub fn span(ms: u64) -> String {
    let minutes = ms / 60_000;
    if minutes == 0 {
        return format!("{}s", ms.div_ceil(1000));
    }
    let (d, h, m) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    let mut text = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
        if n > 0 {
            text.push_str(&format!("{n}{unit}"));
        }
    }
    text
}

/// The timeline as text, for a terminal.
pub fn render_text(audit: &TicketAudit) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let state = &audit.state.ticket;
    let _ = write!(out, "ticket {}", audit.ticket);
    if let (Some(item), Some(grid)) = (&state.item, &state.grid) {
        let _ = write!(out, ": {item} in grid {grid}");
    }
    let _ = writeln!(out, " (times are UTC)");
    match audit.as_of {
        Some(at) if audit.events.is_empty() => {
            let _ = writeln!(out, "as of {at}: not submitted yet ({} later events not shown)", audit.later_events);
        }
        Some(at) => {
            let total = audit.events.len() as u64 + audit.later_events;
            let _ = writeln!(out, "as of {at}: {} of {total} events", audit.events.len());
        }
        None => {
            let _ = writeln!(out, "{} events", audit.events.len());
        }
    }
    for entry in &audit.events {
        let _ = writeln!(
            out,
            "\nv{:<3} {}  {} {}  {}",
            entry.version,
            entry.time,
            entry.actor.role.name(),
            entry.actor.id,
            entry.event
        );
        let _ = writeln!(out, "     {}", entry.change);
        let _ = writeln!(out, "     → {}", state_line(&entry.state_after));
        for check in &entry.deadlines {
            let department = check.department.as_deref().map(|d| format!(" of {d}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "     deadline {}{department} (due {}): {}",
                check.deadline,
                clock(check.due, entry.time),
                check.outcome
            );
        }
    }
    let after = StateAfter { status: state.status, tier: state.tier, holder: state.holder.clone() };
    let when = match audit.as_of {
        Some(at) => format!("as of {at}"),
        None => "now".to_string(),
    };
    let _ = writeln!(out, "\nstate {when}: {} (version {})", state_line(&after), state.version);
    if audit.state.deadlines.is_empty() {
        let _ = writeln!(out, "running deadlines: none");
    } else {
        let _ = writeln!(out, "running deadlines, judged at {}:", audit.state.overdue_as_of);
        for deadline in &audit.state.deadlines {
            let overdue = if deadline.overdue {
                format!("overdue by {}", span(audit.state.overdue_as_of.since(deadline.due).0))
            } else {
                format!("{} left", span(deadline.due.since(audit.state.overdue_as_of).0))
            };
            let _ = writeln!(out, "  {:<13} due {}  {overdue}", words(&deadline.kind), deadline.due);
        }
    }
    if let Some(verified) = &audit.verified {
        let _ = writeln!(out, "hash chain verified: {} events, head {}", verified.events, verified.head);
    }
    out
}

fn state_line(state: &StateAfter) -> String {
    let tier = state.tier.map_or_else(|| "no tier".to_string(), |t| format!("tier {}", words(&t)));
    let holder = state.holder.as_ref().map_or_else(|| "no holder".to_string(), |h| format!("held by {h}"));
    format!("{} · {tier} · {holder}", state.status.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("a time")
    }

    #[test]
    fn clock_shows_as_little_of_the_date_and_seconds_as_tells_the_instant() {
        let reference = t("2026-11-02T12:00:00Z");
        assert_eq!(clock(t("2026-11-02T10:30:00Z"), reference), "10:30");
        assert_eq!(clock(t("2026-11-02T10:30:05Z"), reference), "10:30:05");
        assert_eq!(clock(t("2026-11-02T10:30:05.250Z"), reference), "10:30:05.250");
        assert_eq!(clock(t("2026-11-03T00:00:00Z"), reference), "11-03 00:00");
        assert_eq!(clock(t("2027-01-05T09:01:00Z"), reference), "2027-01-05 09:01");
    }
}
