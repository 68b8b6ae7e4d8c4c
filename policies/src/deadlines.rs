//! The deadline index and the timer commands it calls for.
//!
//! The index folds every ticket (with the engine's own `evolve`, as the board
//! does) and keeps each open ticket's pending deadlines — offer expiry, the
//! accept or response deadline, the resolve deadline, summons reports, the
//! feedback window — in one ordered set. [`DeadlineIndex::due`] lists, for
//! each ticket with a deadline passed, the one command that deadline calls
//! for:
//!
//! | deadline          | command                                   |
//! |-------------------|-------------------------------------------|
//! | offer expiry      | `ExpireOffer { round }`                   |
//! | accept / response | `Escalate { Timeout }` (below the district) |
//! | resolve           | `Escalate { Timeout }` (below the district) |
//! | summons report    | `Escalate { Timeout }` (below the district) |
//! | feedback window   | `Close` (confirmed, or "no feedback")     |
//!
//! Each command carries the ticket's version as its expected version, and a
//! command id made of the ticket, that version and the deadline's kind. So a
//! timer that fires twice sends the same command id (written once), and one
//! that fires after the ticket moved on is refused by the version check:
//! either way nothing is written twice. After a restart the index is rebuilt
//! from the log (or resumed from its snapshot) and everything that fell due
//! while the process was down is due at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, RecordedEvent};
use gridloop_engine::ids::{CommandId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{DeadlineKind, EscalationReason, Ticket, TicketCommand, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;

use gridloop_projections::ProjectionError;
use gridloop_projections::runner::Projection;

/// Every open ticket's pending deadlines, in the order they fall due.
///
/// A projection over the ticket streams: it keeps each open ticket's folded
/// state (to know its version and what a deadline calls for) and forgets a
/// ticket once it is final. Serializable so the runner can snapshot it
/// instead of refolding the whole log after a restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeadlineIndex {
    tickets: BTreeMap<u64, Ticket>,
    /// (when, ticket number, kind) of every pending deadline.
    pending: BTreeSet<(Timestamp, u64, DeadlineKind)>,
}

impl Projection for DeadlineIndex {
    const NAME: &'static str = "deadlines";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        let payload: TicketEvent = event.decode()?;
        let ticket = self.tickets.entry(number).or_default();
        if ticket.version + 1 != event.version {
            return Err(ProjectionError::OutOfOrder { stream: event.stream.to_string(), version: event.version });
        }
        for (kind, at) in ticket.pending_deadlines() {
            self.pending.remove(&(at, number, kind));
        }
        ticket.evolve(&payload, event.occurred_at);
        let now_pending = ticket.pending_deadlines();
        if ticket.status.is_final() {
            // A final ticket has no deadline left; forget it to stay small.
            self.tickets.remove(&number);
        }
        self.pending.extend(now_pending.into_iter().map(|(kind, at)| (at, number, kind)));
        Ok(())
    }
}

/// One timer command and the deadline behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    /// The ticket whose deadline has passed.
    pub ticket: TicketId,
    /// Which of the ticket's deadlines it is (offer expiry, resolve, ...).
    pub kind: DeadlineKind,
    /// When the deadline fell due; may lie well before now after a restart.
    pub at: Timestamp,
    /// The command to send, with the ticket's version as expected version and
    /// a command id derived from ticket, version and kind, so sending it
    /// twice writes nothing the second time.
    pub envelope: CommandEnvelope,
}

/// What firing the due timers did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Commands that wrote events.
    pub written: u64,
    /// Commands that found the ticket moved on (or a repeat): nothing written.
    pub stale: u64,
}

impl DeadlineIndex {
    /// The earliest pending deadline, for a timer to sleep until.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.pending.first().map(|(at, _, _)| *at)
    }

    /// How many deadlines are pending across all open tickets (a ticket may
    /// have several); a size gauge for metrics and tests.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The open tickets the index holds (final ones are dropped).
    pub fn open_tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    /// For every ticket with a deadline passed by `now`, the command its
    /// earliest actionable deadline calls for; in deadline order.
    pub fn due(&self, now: Timestamp) -> Vec<Due> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for &(at, number, kind) in self.pending.range(..=(now, u64::MAX, DeadlineKind::Feedback)) {
            let Some(ticket) = self.tickets.get(&number).filter(|_| !seen.contains(&number)) else { continue };
            if let Some(command) = command_for(ticket, kind) {
                seen.insert(number);
                let id = TicketId::from_number(number);
                let command_id = CommandId::new(format!("timer-{id}-v{}-{}", ticket.version, kind_name(kind)))
                    .expect("timer command ids are valid");
                let envelope = CommandEnvelope {
                    command_id,
                    correlation_id: None,
                    actor: Actor::system(),
                    command: Command::Ticket { id: id.clone(), command },
                    expected_version: Some(ticket.version),
                };
                out.push(Due { ticket: id, kind, at, envelope });
            }
        }
        out
    }

    /// Sends every due command through the command service. A command that
    /// finds the ticket moved on is counted as stale, not as a failure.
    pub async fn fire<S: EventStore>(&self, service: &CommandService<S>, now: Timestamp) -> Result<Fired, Error> {
        let mut fired = Fired::default();
        for due in self.due(now) {
            match service.execute(due.envelope).await {
                Ok(outcome) if !outcome.is_duplicate() && outcome.append.is_some() => fired.written += 1,
                Ok(_) | Err(Error::WrongExpectedVersion { .. }) | Err(Error::IllegalTransition { .. }) => {
                    fired.stale += 1
                }
                Err(other) => return Err(other),
            }
        }
        Ok(fired)
    }
}

/// The command a passed deadline calls for, if any: at the district centre
/// there is no higher tier, and an overdue ticket stays on the board for
/// the centre to supervise (督办).
fn command_for(ticket: &Ticket, kind: DeadlineKind) -> Option<TicketCommand> {
    let below_district = ticket.tier.unwrap_or(Tier::Grid) < Tier::District;
    let escalate = |note: &str| TicketCommand::Escalate { reason: EscalationReason::Timeout, note: note.into() };
    match kind {
        DeadlineKind::OfferExpiry => ticket.offer.as_ref().map(|o| TicketCommand::ExpireOffer { round: o.round }),
        DeadlineKind::Accept if below_district => Some(escalate("not taken by its deadline")),
        DeadlineKind::Resolve if below_district => Some(escalate("not resolved by its deadline")),
        DeadlineKind::Summons if below_district => Some(escalate("a summoned department did not report")),
        // Rated or not, the loop closes when the window ends (a rated ticket
        // closes as confirmed, an unrated one with "no feedback").
        DeadlineKind::Feedback => Some(TicketCommand::Close),
        _ => None,
    }
}

fn kind_name(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::OfferExpiry => "offer",
        DeadlineKind::Accept => "accept",
        DeadlineKind::Resolve => "resolve",
        DeadlineKind::Summons => "summons",
        DeadlineKind::Feedback => "feedback",
    }
}
