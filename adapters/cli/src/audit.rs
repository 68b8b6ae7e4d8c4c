//! What an auditor runs: a ticket's timeline (`gridloop audit`), checking the
//! hash chain of a stream or of the whole log, and moving the log between
//! stores as NDJSON (`gridloop export`, `gridloop import`).
//!
//! # Timeline
//!
//! [`audit_ticket`] folds a ticket's stream event by event with the engine's
//! own `Ticket::evolve`, so the state shown after each event is the state the
//! command service saw. For each event it says who acted, what changed in a
//! short sentence, the state after it, and which deadlines the event ended,
//! met or missed:
//!
//! - taking the ticket (accepted, assigned, self-handled) against the accept
//!   deadline (受理时限, only the first time it is taken: that is what the
//!   acceptance rate judges) and against the tier's response deadline after
//!   an escalation or reopening;
//! - resolving against the resolve deadline the on-time rate judges (from
//!   the submission or the last reopening), and also against a renewed one an
//!   escalation gave, when there is one;
//! - a summoned department's report against its report deadline;
//! - an escalation: the running deadlines it found already passed.
//!
//! `as_of` keeps the longest prefix of the stream whose events occurred at or
//! before that instant, and judges every running deadline against it.
//!
//! # Verifying
//!
//! [`LogVerifier`] takes events in log order and checks, per stream, that
//! versions run 1, 2, 3… without gaps, that each event's `prev_hash` is the
//! previous event's hash and its own hash matches its contents (the engine's
//! `RecordedEvent::verify`), and that positions strictly increase. It keeps
//! one head (version, hash) per stream, so the whole log streams through it.
//!
//! # Export and import
//!
//! An export is one `RecordedEvent` per line, serde_json of the envelope as
//! stored, in position order. [`import`] goes into an empty store only, in
//! two passes over the file: the first parses and verifies every line
//! ([`check_file`]) and writes nothing, so a broken line stops the import
//! with its number and an empty store; the second appends the events through
//! the [`EventStore`] trait, one append per original append (consecutive
//! events of one stream and one command id), with the expected version the
//! original had, and reads back every event to check that the store computed
//! the very same hash. Positions are the target store's own: they are not
//! hashed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::Serialize;

use gridloop_engine::Error;
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Hash, NewEvent, RecordedEvent};
use gridloop_engine::ids::{CommandId, StreamId, TicketId};
use gridloop_engine::store::{EventStore, ExpectedVersion, READ_BATCH_MAX, validate_append};
use gridloop_engine::ticket::{
    Assignee, CloseReason, DeadlineKind, ExpiryReason, Status, Ticket, TicketEvent, Tier, Urgency,
};
use gridloop_engine::time::Timestamp;

/// The longest line an import reads, in bytes (without its newline).
pub const IMPORT_LINE_BYTES_MAX: usize = 1 << 20;
/// The most lines an import reads.
pub const IMPORT_LINES_MAX: u64 = 100_000_000;
/// Free text in a timeline sentence is cut to this many characters (the
/// payload keeps all of it).
const TEXT_SHOWN_MAX: usize = 80;
/// Candidates named in an offer's sentence before "and N more".
const CANDIDATES_SHOWN_MAX: usize = 8;

// ---------------------------------------------------------------------------
// Verifying the hash chain
// ---------------------------------------------------------------------------

/// The first event that does not verify, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyError {
    pub stream: String,
    pub version: u64,
    pub position: u64,
    pub reason: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{} (position {}): {}", self.stream, self.version, self.position, self.reason)
    }
}

impl std::error::Error for VerifyError {}

/// What a verified log holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    pub events: u64,
    pub streams: u64,
    /// Streams per kind (`ticket`, `volunteer`, ...).
    pub streams_by_kind: BTreeMap<String, u64>,
    pub first_position: Option<u64>,
    pub last_position: Option<u64>,
}

/// Checks events fed in log order: per stream, versions 1, 2, 3… without
/// gaps and each hash chained onto the previous event's; across the log,
/// strictly increasing positions.
#[derive(Debug, Default)]
pub struct LogVerifier {
    heads: HashMap<StreamId, (u64, Hash)>,
    summary: VerifySummary,
}

impl LogVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next event of the log.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), VerifyError> {
        let fail = |reason: String| VerifyError {
            stream: event.stream.to_string(),
            version: event.version,
            position: event.position,
            reason,
        };
        if let Some(last) = self.summary.last_position.filter(|&last| event.position <= last) {
            return Err(fail(format!("its position does not follow the previous event's ({last})")));
        }
        let (version, prev) = self.heads.get(&event.stream).copied().unwrap_or((0, Hash::GENESIS));
        if event.version != version + 1 {
            return Err(fail(if version == 0 {
                format!("the stream's first event is version {}, not 1", event.version)
            } else {
                format!("version {} follows version {version}: versions must run without gaps", event.version)
            }));
        }
        if event.verify(&prev).is_err() {
            return Err(fail(if event.prev_hash != prev {
                if version == 0 {
                    "prev_hash of a stream's first event is not 64 zeros".to_string()
                } else {
                    format!("prev_hash does not match the hash of v{version}")
                }
            } else {
                "hash does not match the event's contents (altered after it was written)".to_string()
            }));
        }
        if version == 0 {
            self.summary.streams += 1;
            *self.summary.streams_by_kind.entry(event.stream.kind().to_string()).or_default() += 1;
        }
        self.heads.insert(event.stream.clone(), (event.version, event.hash));
        self.summary.events += 1;
        self.summary.first_position.get_or_insert(event.position);
        self.summary.last_position = Some(event.position);
        Ok(())
    }

    pub fn summary(&self) -> &VerifySummary {
        &self.summary
    }

    pub fn finish(self) -> VerifySummary {
        self.summary
    }
}

/// Verifies events given in log order (a whole log, or one stream read in
/// version order); names the first event that does not verify.
pub fn verify_log(events: impl IntoIterator<Item = RecordedEvent>) -> Result<VerifySummary, VerifyError> {
    let mut verifier = LogVerifier::new();
    for event in events {
        verifier.check(&event)?;
    }
    Ok(verifier.finish())
}

/// Reads a store's whole log in position order and verifies it.
/// `progress` is called with the position reached after each batch.
pub async fn verify_store<S: EventStore>(store: &S, mut progress: impl FnMut(u64)) -> anyhow::Result<VerifySummary> {
    let mut verifier = LogVerifier::new();
    let mut next = 1;
    loop {
        let batch = store.read_all(next, READ_BATCH_MAX).await.map_err(|error| {
            let after = verifier.summary().last_position.map_or("the start".to_string(), |p| format!("position {p}"));
            anyhow::anyhow!("the log does not read after {after}: {error}")
        })?;
        let Some(last) = batch.last().map(|e| e.position) else { break };
        for event in &batch {
            verifier.check(event).map_err(|e| anyhow::Error::new(e).context("the log does not verify"))?;
        }
        progress(last);
        next = last + 1;
    }
    Ok(verifier.finish())
}

// ---------------------------------------------------------------------------
// A ticket's timeline
// ---------------------------------------------------------------------------

/// A ticket's history as an auditor reads it.
#[derive(Clone, Debug, Serialize)]
pub struct TicketAudit {
    pub ticket: TicketId,
    /// The instant asked for, if any: only events up to it are shown.
    pub as_of: Option<Timestamp>,
    pub events: Vec<TimelineEntry>,
    /// Events of the stream after `as_of`, not shown.
    pub later_events: u64,
    /// The ticket as of then (or now): folded from the events shown.
    pub state: StateAsOf,
    /// Set when the stream's chain was verified.
    pub verified: Option<VerifiedChain>,
}

/// One event of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    pub version: u64,
    pub position: u64,
    pub time: Timestamp,
    pub actor: Actor,
    /// The schema: `ticket.accepted/1`.
    pub event: String,
    /// What changed, in a short sentence.
    pub change: String,
    pub state_after: StateAfter,
    /// Deadlines this event ended, met or missed.
    pub deadlines: Vec<DeadlineCheck>,
    pub event_id: String,
    pub command_id: CommandId,
    pub hash: Hash,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateAfter {
    pub status: Status,
    pub tier: Option<Tier>,
    pub holder: Option<Assignee>,
}

/// A deadline an event ended, and whether it was met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadlineCheck {
    /// `accept` (受理时限), `respond` (the tier's, after an escalation or
    /// reopening), `resolve` (the one the on-time rate judges),
    /// `resolve_renewed` (given by an escalation), `summons`.
    pub deadline: &'static str,
    /// The summoned department, for `summons`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub due: Timestamp,
    pub met: bool,
    /// How late, in milliseconds (0 when met).
    pub late_ms: u64,
    /// `met`, or `missed by 2h10m`.
    pub outcome: String,
}

/// The ticket as folded, with its running deadlines judged at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct StateAsOf {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The instant `overdue` is judged at: `as_of`, or the end of the log.
    pub overdue_as_of: Timestamp,
    pub deadlines: Vec<RunningDeadline>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunningDeadline {
    pub kind: DeadlineKind,
    pub due: Timestamp,
    pub overdue: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedChain {
    pub events: u64,
    pub head: Hash,
}

/// Builds a ticket's timeline from its stream (in version order).
///
/// With `as_of`, only the longest prefix of events that occurred at or before
/// it is kept (a stream's times do not go backwards), and running deadlines
/// are judged at `as_of`; without it, every event is kept and deadlines are
/// judged at `log_end` (the time of the log's last event) or the stream's
/// last event, whichever is later.
pub fn audit_ticket(
    ticket: &TicketId,
    stream: &[RecordedEvent],
    as_of: Option<Timestamp>,
    log_end: Timestamp,
) -> Result<TicketAudit, Error> {
    let shown = match as_of {
        Some(at) => stream.iter().take_while(|e| e.occurred_at <= at).count(),
        None => stream.len(),
    };
    let mut state = Ticket::default();
    // The resolve deadline the on-time rate judges: set at submission and on
    // reopening, not renewed by escalations.
    let mut resolve_judged: Option<Timestamp> = None;
    let mut events = Vec::with_capacity(shown);
    for recorded in &stream[..shown] {
        let event: TicketEvent =
            recorded.decode().map_err(|e| Error::Corrupt(format!("{} v{}: {e}", recorded.stream, recorded.version)))?;
        let at = recorded.occurred_at;
        let change = describe(&event, &state, at);
        let deadlines = deadline_checks(&event, &state, resolve_judged, at);
        match &event {
            TicketEvent::Submitted { resolve_by, .. } | TicketEvent::Reopened { resolve_by, .. } => {
                resolve_judged = Some(*resolve_by);
            }
            _ => {}
        }
        state.evolve(&event, at);
        events.push(TimelineEntry {
            version: recorded.version,
            position: recorded.position,
            time: at,
            actor: recorded.actor.clone(),
            event: recorded.schema.to_string(),
            change,
            state_after: StateAfter { status: state.status, tier: state.tier, holder: state.holder.clone() },
            deadlines,
            event_id: recorded.event_id.to_string(),
            command_id: recorded.command_id.clone(),
            hash: recorded.hash,
        });
    }
    let overdue_as_of = as_of.unwrap_or_else(|| stream.last().map_or(log_end, |last| last.occurred_at.max(log_end)));
    let deadlines = state
        .pending_deadlines()
        .into_iter()
        .map(|(kind, due)| RunningDeadline { kind, due, overdue: due <= overdue_as_of })
        .collect();
    Ok(TicketAudit {
        ticket: ticket.clone(),
        as_of,
        events,
        later_events: (stream.len() - shown) as u64,
        state: StateAsOf { ticket: state, overdue_as_of, deadlines },
        verified: None,
    })
}

/// Verifies one stream read in version order, naming the first bad event.
pub fn verify_ticket_stream(stream: &[RecordedEvent]) -> Result<VerifiedChain, VerifyError> {
    let summary = verify_log(stream.iter().cloned())?;
    Ok(VerifiedChain { events: summary.events, head: stream.last().map_or(Hash::GENESIS, |e| e.hash) })
}

/// The deadlines `event` ends, judged at `at`, given the state before it.
fn deadline_checks(
    event: &TicketEvent,
    before: &Ticket,
    resolve_judged: Option<Timestamp>,
    at: Timestamp,
) -> Vec<DeadlineCheck> {
    use TicketEvent as E;
    let mut checks = Vec::new();
    match event {
        E::Accepted { .. } | E::SelfHandled { .. } | E::Reassigned { .. } if !before.status.is_held() => {
            if before.accepted_at.is_none() {
                checks.extend(before.accept_by.map(|due| check("accept", None, due, at)));
            }
            checks.extend(before.respond_by.map(|due| check("respond", None, due, at)));
        }
        E::Resolved { .. } => {
            let judged = resolve_judged.or(before.resolve_by);
            checks.extend(judged.map(|due| check("resolve", None, due, at)));
            if let Some(renewed) = before.resolve_by.filter(|&due| Some(due) != judged) {
                checks.push(check("resolve_renewed", None, renewed, at));
            }
        }
        E::SummonsAnswered { department, .. } => {
            let summons = before.summons.iter().find(|s| &s.department == department && !s.reported);
            checks.extend(summons.map(|s| check("summons", Some(department.to_string()), s.report_by, at)));
        }
        E::Escalated { .. } => {
            // The engine holds a deadline passed once its instant is reached.
            let passed = |name: &'static str, department: Option<String>, due: Timestamp| {
                let late_ms = at.since(due).0;
                let outcome = if late_ms == 0 {
                    "missed: it ran out at this instant".to_string()
                } else {
                    format!("missed by {}", span(late_ms))
                };
                DeadlineCheck { deadline: name, department, due, met: false, late_ms, outcome }
            };
            for (kind, due) in before.pending_deadlines() {
                if due > at {
                    continue;
                }
                match kind {
                    DeadlineKind::Accept => {
                        let name = if before.respond_by.is_some() { "respond" } else { "accept" };
                        checks.push(passed(name, None, due));
                    }
                    DeadlineKind::Resolve => checks.push(passed("resolve", None, due)),
                    DeadlineKind::Summons => {
                        let late = before.summons.iter().filter(|s| !s.reported && s.report_by <= at);
                        checks.extend(late.map(|s| passed("summons", Some(s.department.to_string()), s.report_by)));
                    }
                    DeadlineKind::OfferExpiry | DeadlineKind::Feedback => {}
                }
            }
        }
        _ => {}
    }
    checks
}

fn check(deadline: &'static str, department: Option<String>, due: Timestamp, at: Timestamp) -> DeadlineCheck {
    let late_ms = at.since(due).0;
    let met = at <= due;
    let outcome = if met { "met".to_string() } else { format!("missed by {}", span(late_ms)) };
    DeadlineCheck { deadline, department, due, met, late_ms, outcome }
}

/// What an event changed, in a short sentence; times relative to `at`.
fn describe(event: &TicketEvent, before: &Ticket, at: Timestamp) -> String {
    use TicketEvent as E;
    let t = |x: &Timestamp| clock(*x, at);
    match event {
        E::Submitted { item, grid, urgency, channel, tier, accept_by, resolve_by, .. } => {
            let urgent = if *urgency == Urgency::Urgent { " (urgent)" } else { "" };
            let tier = if *tier == Tier::Grid { String::new() } else { format!(", straight to the {}", words(tier)) };
            format!(
                "submitted {item}{urgent} in grid {grid} via {}{tier}; accept by {}, resolve by {}",
                words(channel),
                t(accept_by),
                t(resolve_by)
            )
        }
        E::Triaged { mode, item } => {
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
        E::SelfHandled { worker } => format!("taken by grid worker {worker} to handle on the spot"),
        E::Offered { round, candidates, expires_at } => {
            let mut names: Vec<&str> = candidates.iter().take(CANDIDATES_SHOWN_MAX).map(bare_id).collect();
            let more = candidates.len().saturating_sub(CANDIDATES_SHOWN_MAX);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            names.dedup();
            format!("offered to {}{more} until {} (round {round})", names.join(", "), t(expires_at))
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
        E::Resolved { by, minutes_spent, feedback_by, result } => format!(
            "resolved by {by} after {minutes_spent} min of work; feedback until {}{}",
            t(feedback_by),
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
    }
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
/// not zero.
fn clock(t: Timestamp, reference: Timestamp) -> String {
    let text = t.to_string();
    let reference = reference.to_string();
    let time = if &text[17..23] == "00.000" {
        &text[11..16]
    } else if &text[20..23] == "000" {
        &text[11..19]
    } else {
        &text[11..23]
    };
    if text[..10] == reference[..10] {
        time.to_string()
    } else if text[..4] == reference[..4] {
        format!("{} {time}", &text[5..10])
    } else {
        format!("{} {time}", &text[..10])
    }
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

// ---------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub events: u64,
    pub last_position: Option<u64>,
}

/// Writes every event at `from` or later, in position order, one
/// `RecordedEvent` JSON per line. `progress` gets the position reached.
pub async fn export<S: EventStore, W: Write>(
    store: &S,
    from: u64,
    out: &mut W,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<ExportSummary> {
    let mut summary = ExportSummary::default();
    let mut next = from.max(1);
    loop {
        let batch = store.read_all(next, READ_BATCH_MAX).await?;
        let Some(last) = batch.last().map(|e| e.position) else { break };
        for event in &batch {
            // Encoded first, so that a write error stays an `io::Error`
            // (a closed pipe is told apart from a failure).
            let mut line = serde_json::to_vec(event)?;
            line.push(b'\n');
            out.write_all(&line)?;
        }
        summary.events += batch.len() as u64;
        summary.last_position = Some(last);
        progress(last);
        next = last + 1;
    }
    out.flush()?;
    Ok(summary)
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/// Why an import stopped.
#[derive(Debug)]
pub enum ImportError {
    /// The target store holds events already. Nothing was written.
    NotEmpty,
    /// A line of the file is broken. Nothing was written.
    Line { line: u64, reason: String },
    /// The file does not read.
    File(std::io::Error),
    /// The store refused or failed. Events before `line` may have been
    /// written: the store is a partial import.
    Store { line: u64, error: Error },
    /// The store wrote something other than the file says (another hash,
    /// another version, a repeat): events before `line` were written.
    Mismatch { line: u64, reason: String },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PARTIAL: &str = "the store now holds a partial import: remove it before importing again";
        match self {
            ImportError::NotEmpty => {
                write!(f, "the store already holds events; import goes into an empty store only")
            }
            ImportError::Line { line, reason } => write!(f, "line {line}: {reason}"),
            ImportError::File(error) => write!(f, "reading the file: {error}"),
            ImportError::Store { line, error } => write!(f, "line {line}: the store refused: {error}; {PARTIAL}"),
            ImportError::Mismatch { line, reason } => write!(f, "line {line}: {reason}; {PARTIAL}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// What the first pass found: the file is a whole, verified log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    pub lines: u64,
    pub bytes: u64,
    /// Original appends (runs of one stream and one command id).
    pub appends: u64,
    pub log: VerifySummary,
}

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub events: u64,
    pub appends: u64,
    pub streams: u64,
}

/// Which pass an import's progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportPhase {
    /// Reading and verifying: `done` and `total` count bytes.
    Checking,
    /// Appending: `done` and `total` count events.
    Appending,
}

/// Imports an NDJSON export into an empty store: checks the whole file
/// first (writing nothing if any line is broken), then appends.
pub async fn import<S: EventStore>(
    store: &S,
    path: &Path,
    mut progress: impl FnMut(ImportPhase, u64, u64),
) -> Result<ImportSummary, ImportError> {
    ensure_empty(store).await?;
    let check = check_file(path, &mut progress)?;
    append_file(store, path, &check, progress).await
}

/// Refuses a store that holds any event.
pub async fn ensure_empty<S: EventStore>(store: &S) -> Result<(), ImportError> {
    let first = store.read_all(1, 1).await.map_err(|error| ImportError::Store { line: 0, error })?;
    if first.is_empty() { Ok(()) } else { Err(ImportError::NotEmpty) }
}

/// The lines of an export file, bounded in length and number.
struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    line: u64,
    bytes: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Self { reader, buffer: Vec::with_capacity(4096), line: 0, bytes: 0 }
    }

    /// The next line without its newline, or `None` at the end.
    fn next_line(&mut self) -> Result<Option<&[u8]>, ImportError> {
        self.buffer.clear();
        let limit = IMPORT_LINE_BYTES_MAX as u64 + 1;
        let read = std::io::Read::take(&mut self.reader, limit)
            .read_until(b'\n', &mut self.buffer)
            .map_err(ImportError::File)?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.bytes += read as u64;
        if self.line > IMPORT_LINES_MAX {
            return Err(self.broken(format!("an import holds at most {IMPORT_LINES_MAX} lines")));
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        } else if self.buffer.len() > IMPORT_LINE_BYTES_MAX {
            return Err(self.broken(format!("longer than {IMPORT_LINE_BYTES_MAX} bytes")));
        }
        Ok(Some(&self.buffer))
    }

    /// The next event, parsed.
    fn next_event(&mut self) -> Result<Option<RecordedEvent>, ImportError> {
        let Some(bytes) = self.next_line()? else { return Ok(None) };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(self.broken("an empty line".into()));
        }
        match serde_json::from_slice(bytes) {
            Ok(event) => Ok(Some(event)),
            Err(error) => Err(self.broken(format!("not an event: {error}"))),
        }
    }

    fn broken(&self, reason: String) -> ImportError {
        ImportError::Line { line: self.line, reason }
    }
}

/// The run of events of one original append, as it is being read.
#[derive(Debug, Default)]
struct Run {
    stream: Option<StreamId>,
    command: Option<CommandId>,
    events: Vec<NewEvent>,
    /// (line, version, hash) of each event.
    expected: Vec<(u64, u64, Hash)>,
}

impl Run {
    fn continues(&self, event: &RecordedEvent) -> bool {
        self.stream.as_ref() == Some(&event.stream) && self.command.as_ref() == Some(&event.command_id)
    }
}

/// Groups verified events into the original appends and checks what the
/// store would refuse, so that a file that passes imports whole.
#[derive(Debug, Default)]
struct Grouper {
    verifier: LogVerifier,
    run: Run,
    /// Command ids of finished runs (a digest of each): the store would
    /// take a second run with one of them as a repeat and drop it.
    commands: HashSet<[u8; 16]>,
    appends: u64,
}

impl Grouper {
    /// Takes the next line's event; returns the finished previous run when
    /// this event starts a new one.
    fn push(&mut self, line: u64, event: RecordedEvent) -> Result<Option<Run>, ImportError> {
        let broken = |reason: String| ImportError::Line { line, reason };
        self.verifier.check(&event).map_err(|e| broken(e.to_string()))?;
        let finished = if self.run.continues(&event) { None } else { self.finish_run() };
        if self.run.events.is_empty() {
            if self.commands.contains(&command_digest(&event.command_id)) {
                return Err(broken(format!(
                    "{} v{}: command id {} belongs to an earlier append; the store would drop these events as a repeat",
                    event.stream, event.version, event.command_id
                )));
            }
            self.run.stream = Some(event.stream.clone());
            self.run.command = Some(event.command_id.clone());
        }
        if self.run.events.len() == gridloop_engine::store::APPEND_EVENTS_MAX {
            return Err(broken(format!(
                "{} v{}: one append carries at most {} events",
                event.stream,
                event.version,
                gridloop_engine::store::APPEND_EVENTS_MAX
            )));
        }
        let (stream, version, hash) = (event.stream.to_string(), event.version, event.hash);
        let new = event.to_new();
        validate_append(std::slice::from_ref(&new)).map_err(|e| broken(format!("{stream} v{version}: {e}")))?;
        self.run.events.push(new);
        self.run.expected.push((line, version, hash));
        Ok(finished)
    }

    fn finish_run(&mut self) -> Option<Run> {
        if self.run.events.is_empty() {
            return None;
        }
        let run = std::mem::take(&mut self.run);
        self.commands.insert(command_digest(run.command.as_ref().expect("a run has a command id")));
        self.appends += 1;
        Some(run)
    }
}

fn command_digest(command: &CommandId) -> [u8; 16] {
    let hash = blake3::hash(command.as_str().as_bytes());
    let mut digest = [0; 16];
    digest.copy_from_slice(&hash.as_bytes()[..16]);
    digest
}

fn open_file(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, u64), ImportError> {
    let file = std::fs::File::open(path).map_err(ImportError::File)?;
    let size = file.metadata().map_err(ImportError::File)?.len();
    Ok((std::io::BufReader::with_capacity(1 << 16, file), size))
}

/// The first pass: parses and verifies every line, writing nothing.
pub fn check_file(path: &Path, mut progress: impl FnMut(ImportPhase, u64, u64)) -> Result<FileCheck, ImportError> {
    let (reader, size) = open_file(path)?;
    let mut lines = Lines::new(reader);
    let mut grouper = Grouper::default();
    while let Some(event) = lines.next_event()? {
        grouper.push(lines.line, event)?;
        if lines.line % 4096 == 0 {
            progress(ImportPhase::Checking, lines.bytes, size);
        }
    }
    grouper.finish_run();
    progress(ImportPhase::Checking, lines.bytes, size);
    Ok(FileCheck { lines: lines.line, bytes: lines.bytes, appends: grouper.appends, log: grouper.verifier.finish() })
}

/// The second pass: appends the checked file to an empty store, one append
/// per original append, and checks every hash the store computed.
pub async fn append_file<S: EventStore>(
    store: &S,
    path: &Path,
    check: &FileCheck,
    mut progress: impl FnMut(ImportPhase, u64, u64),
) -> Result<ImportSummary, ImportError> {
    ensure_empty(store).await?;
    let (reader, _) = open_file(path)?;
    let mut lines = Lines::new(reader);
    // The file is read and verified again: if it changed since the first
    // pass, the changed line stops the import before it is appended.
    let changed = |e: ImportError| match e {
        ImportError::Line { line, reason } => {
            ImportError::Mismatch { line, reason: format!("the file changed since it was checked: {reason}") }
        }
        other => other,
    };
    let mut grouper = Grouper::default();
    let mut readback = Readback::default();
    let total = check.log.events;
    let mut appended = 0;
    loop {
        let next = lines.next_event().map_err(changed)?;
        let end = next.is_none();
        let run = match next {
            Some(event) => grouper.push(lines.line, event).map_err(changed)?,
            None => grouper.finish_run(),
        };
        if let Some(run) = run {
            appended += run.events.len() as u64;
            append_run(store, run, &mut readback).await?;
            if readback.pending.len() >= 4096 {
                readback.check(store).await?;
            }
            progress(ImportPhase::Appending, appended, total);
        }
        if end {
            break;
        }
    }
    readback.check(store).await?;
    progress(ImportPhase::Appending, appended, total);
    if appended != total || lines.line != check.lines {
        return Err(ImportError::Mismatch {
            line: lines.line,
            reason: format!("the file changed since it was checked ({total} events then, {appended} now)"),
        });
    }
    Ok(ImportSummary { events: appended, appends: grouper.appends, streams: grouper.verifier.summary().streams })
}

async fn append_run<S: EventStore>(store: &S, run: Run, readback: &mut Readback) -> Result<(), ImportError> {
    let stream = run.stream.expect("a run has a stream");
    let (first_line, first_version, _) = run.expected[0];
    let last_version = run.expected[run.expected.len() - 1].1;
    let expected =
        if first_version == 1 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(first_version - 1) };
    let result = store
        .append(&stream, expected, run.events)
        .await
        .map_err(|error| ImportError::Store { line: first_line, error })?;
    if result.duplicate || result.first_version != first_version || result.last_version != last_version {
        return Err(ImportError::Mismatch {
            line: first_line,
            reason: format!(
                "{stream}: the store wrote v{}..v{}{} where the file has v{first_version}..v{last_version}",
                result.first_version,
                result.last_version,
                if result.duplicate { " (as a repeat, writing nothing)" } else { "" }
            ),
        });
    }
    readback
        .pending
        .extend(run.expected.into_iter().map(|(line, version, hash)| (line, stream.clone(), version, hash)));
    Ok(())
}

/// Events appended but not yet read back, in append order.
#[derive(Debug, Default)]
struct Readback {
    pending: std::collections::VecDeque<(u64, StreamId, u64, Hash)>,
    /// The position to read back from next (none: from the start, since
    /// the store was empty).
    next_position: Option<u64>,
}

impl Readback {
    /// Reads the appended events back and compares them with the file.
    async fn check<S: EventStore>(&mut self, store: &S) -> Result<(), ImportError> {
        while let Some(&(line, _, _, _)) = self.pending.front() {
            let from = self.next_position.unwrap_or(1);
            let batch = store
                .read_all(from, self.pending.len().min(READ_BATCH_MAX))
                .await
                .map_err(|error| ImportError::Store { line, error })?;
            if batch.is_empty() {
                return Err(ImportError::Mismatch { line, reason: "the appended event does not read back".into() });
            }
            for stored in batch {
                let Some((line, stream, version, hash)) = self.pending.pop_front() else {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "the store holds an event nobody imported: {} v{}",
                            stored.stream, stored.version
                        ),
                    });
                };
                if stored.stream != stream || stored.version != version {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "the store holds {} v{} where {stream} v{version} was appended",
                            stored.stream, stored.version
                        ),
                    });
                }
                if stored.hash != hash {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "{stream} v{version}: the store computed hash {} where the file has {hash}",
                            stored.hash
                        ),
                    });
                }
                self.next_position = Some(stored.position + 1);
            }
        }
        Ok(())
    }
}
