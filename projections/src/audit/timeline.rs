//! A ticket's timeline: each event with what it changed, the state after
//! it, and the deadlines it met or missed.

use serde::Serialize;

use gridloop_engine::envelope::{Actor, Hash, RecordedEvent};
use gridloop_engine::ids::{CommandId, TicketId};
use gridloop_engine::ticket::{Assignee, DeadlineKind, Status, Ticket, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;

use super::VerifiedChain;
use super::text::{describe, span};
use crate::ProjectionError;

/// A ticket's history as an auditor reads it.
#[derive(Clone, Debug, Serialize)]
pub struct TicketAudit {
    /// The ticket audited.
    pub ticket: TicketId,
    /// The instant asked for, if any: only events up to it are shown.
    pub as_of: Option<Timestamp>,
    /// The events shown, in version order.
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
    /// The event's version in the ticket's stream (1-based).
    pub version: u64,
    /// Its position in the global log.
    pub position: u64,
    /// When the command that wrote it was decided.
    pub time: Timestamp,
    /// Who sent that command.
    pub actor: Actor,
    /// The schema: `ticket.accepted/1`.
    pub event: String,
    /// What changed, in a short sentence.
    pub change: String,
    /// The ticket's status, tier and holder once this event applied.
    pub state_after: StateAfter,
    /// Deadlines this event ended, met or missed.
    pub deadlines: Vec<DeadlineCheck>,
    /// The event's UUIDv7.
    pub event_id: String,
    /// The command that wrote it (its idempotency key).
    pub command_id: CommandId,
    /// Its hash in the stream's chain.
    pub hash: Hash,
}

/// What an event left the ticket at: the columns a timeline shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateAfter {
    /// The ticket's status.
    pub status: Status,
    /// The tier handling it (`None` before submission).
    pub tier: Option<Tier>,
    /// Who holds it, if anyone.
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
    /// When the deadline fell due.
    pub due: Timestamp,
    /// Whether the event came at or before `due`.
    pub met: bool,
    /// How late, in milliseconds (0 when met).
    pub late_ms: u64,
    /// `met`, or `missed by 2h10m`.
    pub outcome: String,
}

/// The ticket as folded, with its running deadlines judged at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct StateAsOf {
    /// The ticket folded from the events shown.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The instant `overdue` is judged at: `as_of`, or the end of the log.
    pub overdue_as_of: Timestamp,
    /// The deadlines still running then, earliest first.
    pub deadlines: Vec<RunningDeadline>,
}

/// A deadline still running at the instant the audit judges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunningDeadline {
    /// Which deadline (offer expiry, accept, resolve, ...).
    pub kind: DeadlineKind,
    /// When it falls due.
    pub due: Timestamp,
    /// Whether it had passed at that instant.
    pub overdue: bool,
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
) -> Result<TicketAudit, ProjectionError> {
    let shown = match as_of {
        Some(at) => stream.iter().take_while(|e| e.occurred_at <= at).count(),
        None => stream.len(),
    };
    let mut state = Ticket::default();
    let mut events = Vec::with_capacity(shown);
    for recorded in &stream[..shown] {
        let event: TicketEvent = recorded
            .decode()
            .map_err(|e| gridloop_engine::Error::Corrupt(format!("{} v{}: {e}", recorded.stream, recorded.version)))?;
        let at = recorded.occurred_at;
        let change = describe(&event, &state, at);
        let deadlines = deadline_checks(&event, &state, at);
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

/// The deadlines `event` ends, judged at `at`, given the state before it.
fn deadline_checks(event: &TicketEvent, before: &Ticket, at: Timestamp) -> Vec<DeadlineCheck> {
    use TicketEvent as E;
    let mut checks = Vec::new();
    match event {
        E::Accepted { .. } | E::SelfHandled { .. } | E::Reassigned { .. } | E::ReturnOverruled { .. }
            if !before.status.is_held() =>
        {
            if before.accepted_at.is_none() {
                checks.extend(before.accept_by.map(|due| check("accept", None, due, at)));
            }
            checks.extend(before.respond_by.map(|due| check("respond", None, due, at)));
        }
        E::Resolved { .. } => {
            // The resolve deadline the on-time rate judges, by the engine's
            // rule (the metrics ask the same): not renewed by escalations.
            let judged = before.judged_resolve_by.or(before.resolve_by);
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
