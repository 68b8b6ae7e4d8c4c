//! The closed-loop board: every ticket's current state, and the queues of
//! open work.
//!
//! Each row is the engine's own [`Ticket`], folded with the engine's own
//! `evolve`: the board cannot disagree with the aggregate about a status or
//! a deadline, because it is the same fold. On top of the rows the board
//! answers the dispatcher's questions: tickets by status, by place at any
//! level of the grid tree, by holder, overdue only, a page at a time; and the
//! queue of open work of a volunteer, team, department, grid or community,
//! soonest deadline first, with the offers still open to a holder beside
//! what it holds.
//!
//! "Overdue" is the engine's [`Ticket::overdue`]: the ticket missed a
//! deadline (by the same rule the rates judge it), and stays so after the
//! timers escalate it and someone else takes it on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ResidentId, TicketId};
use gridloop_engine::permit::{self, Principal};
pub use gridloop_engine::ticket::DeadlineKind;
use gridloop_engine::ticket::{Assignee, Offer, Status, Ticket, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;

use crate::ProjectionError;
use crate::runner::Projection;

/// The most rows one page may hold.
pub const PAGE_SIZE_MAX: u32 = 200;

/// A ticket's status as the board shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "tier", rename_all = "snake_case")]
pub enum BoardStatus {
    /// Submitted by a resident and not yet triaged.
    Submitted,
    /// Waiting for dispatch.
    Triaged,
    /// Offered to volunteers; nobody has accepted yet.
    Offered,
    /// Accepted by a volunteer, or assigned directly by a dispatcher; work has
    /// not started.
    Accepted,
    /// The holder has started work.
    InProgress,
    /// Escalated to a tier and waiting for its dispatch.
    Escalated(Tier),
    /// Resolved; the resident has not rated it yet.
    AwaitingFeedback,
    /// Resolved and rated; waiting to be closed.
    Resolved,
    /// The resident found the resolution wanting and reopened it.
    Reopened,
    /// Closed: the loop is complete (final).
    Closed,
    /// Cancelled by the resident or a dispatcher (final).
    Cancelled,
    /// Marked a duplicate of another ticket (final).
    Duplicate,
    /// Returned by its department (退单): waiting for the tier's dispatcher
    /// to re-route it or insist.
    Returned,
}

impl BoardStatus {
    /// The board status of `ticket`: the engine's status, with a resolved ticket
    /// split by whether the resident has rated it yet, and an escalated one
    /// carrying its tier (grid when none is recorded).
    pub fn of(ticket: &Ticket) -> BoardStatus {
        match ticket.status {
            Status::None | Status::Submitted => BoardStatus::Submitted,
            Status::Triaged => BoardStatus::Triaged,
            Status::Offered => BoardStatus::Offered,
            Status::Accepted => BoardStatus::Accepted,
            Status::InProgress => BoardStatus::InProgress,
            Status::Escalated => BoardStatus::Escalated(ticket.tier.unwrap_or(Tier::Grid)),
            Status::Resolved if ticket.feedback.is_none() => BoardStatus::AwaitingFeedback,
            Status::Resolved => BoardStatus::Resolved,
            Status::Reopened => BoardStatus::Reopened,
            Status::Closed => BoardStatus::Closed,
            Status::Cancelled => BoardStatus::Cancelled,
            Status::Duplicate => BoardStatus::Duplicate,
            Status::Returned => BoardStatus::Returned,
        }
    }

    /// The status's name without its tier: what a `status=` filter names.
    pub fn name(self) -> &'static str {
        match self {
            BoardStatus::Submitted => "submitted",
            BoardStatus::Triaged => "triaged",
            BoardStatus::Offered => "offered",
            BoardStatus::Accepted => "accepted",
            BoardStatus::InProgress => "in_progress",
            BoardStatus::Escalated(_) => "escalated",
            BoardStatus::AwaitingFeedback => "awaiting_feedback",
            BoardStatus::Resolved => "resolved",
            BoardStatus::Reopened => "reopened",
            BoardStatus::Closed => "closed",
            BoardStatus::Cancelled => "cancelled",
            BoardStatus::Duplicate => "duplicate",
            BoardStatus::Returned => "returned",
        }
    }
}

/// The next pending deadline of an open ticket; `None` for a final one.
pub fn next_deadline(ticket: &Ticket) -> Option<(DeadlineKind, Timestamp)> {
    ticket.pending_deadlines().into_iter().next()
}

/// A board row as a query returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row<'a> {
    /// The ticket as the engine folds it.
    pub ticket: &'a Ticket,
    /// Its status as the board shows it.
    pub status: BoardStatus,
    /// The next pending deadline, which kind and when; `None` for a final
    /// ticket.
    pub next_deadline: Option<(DeadlineKind, Timestamp)>,
    /// Whether the ticket had missed a deadline as of the query's instant
    /// ([`Ticket::overdue`]).
    pub overdue: bool,
    /// In a holder's queue, the offer open to that holder when the row is
    /// an offer they may still accept rather than a ticket they hold.
    pub offer: Option<&'a Offer>,
}

/// What to list. Every filter is optional; all given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// By status name (`escalated` matches every tier).
    pub status: Option<String>,
    /// Inside this place (any level of the grid tree).
    pub scope: Option<GridCode>,
    /// Only tickets this volunteer, grid worker, team or department holds now.
    pub holder: Option<Assignee>,
    /// Only this resident's tickets (what a resident may list).
    pub resident: Option<ResidentId>,
    /// Only tickets that had missed a deadline as of this instant
    /// ([`Ticket::overdue`]).
    pub overdue_as_of: Option<Timestamp>,
    /// Only tickets in this caller's reach, by the engine's permit rule
    /// (`permit::visible`): a volunteer's offered or held tickets, a
    /// department's, a placed dispatcher's or grid worker's place.
    pub reach: Option<Principal>,
    /// 1-based.
    pub page: u32,
    /// Rows per page, at most [`PAGE_SIZE_MAX`].
    pub per_page: u32,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the query across all pages.
    pub total: u64,
    /// Rows matching every filter of the query but the overdue one that had
    /// missed a deadline: the count beside a list.
    pub overdue: u64,
    /// Which page this is, 1-based.
    pub page: u32,
    /// Rows per page as applied (the query's, capped at [`PAGE_SIZE_MAX`]).
    pub per_page: u32,
}

/// What a queue belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOf {
    /// The open work of one holder: a volunteer, grid worker, team or
    /// department.
    Holder(Assignee),
    /// The open work inside one place, at any level of the grid tree.
    Place(GridCode),
}

/// The board projection: every ticket, folded with the engine's own
/// `Ticket::evolve`, keyed by ticket number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    tickets: BTreeMap<u64, Ticket>,
}

impl Projection for Board {
    const NAME: &'static str = "board";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        let payload: TicketEvent = event.decode()?;
        let is_submission = matches!(payload, TicketEvent::Submitted { .. });
        let ticket = self.tickets.entry(number).or_default();
        if is_submission != (ticket.version == 0) || ticket.version + 1 != event.version {
            return Err(ProjectionError::OutOfOrder { stream: event.stream.to_string(), version: event.version });
        }
        ticket.evolve(&payload, event.occurred_at);
        Ok(())
    }
}

impl Board {
    /// The ticket `id`, if it has been submitted.
    pub fn get(&self, id: &TicketId) -> Option<&Ticket> {
        self.tickets.get(&id.number())
    }

    /// Tickets on the board.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Whether no ticket has been submitted yet.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Every ticket, in ticket-number order.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    /// One page of the tickets matching `query`, in ticket-number order
    /// (newest last), with the total count of matches.
    pub fn query(&self, query: &Query, now: Timestamp) -> Page<Row<'_>> {
        let per_page = query.per_page.clamp(1, PAGE_SIZE_MAX);
        let page = query.page.max(1);
        let skip = u64::from(page - 1) * u64::from(per_page);
        let (mut total, mut overdue) = (0u64, 0u64);
        let mut items = Vec::new();
        for ticket in self.tickets.values() {
            let row = row(ticket, query.overdue_as_of.unwrap_or(now));
            if !matches(query, &row) {
                continue;
            }
            overdue += u64::from(row.overdue);
            if query.overdue_as_of.is_some() && !row.overdue {
                continue;
            }
            if total >= skip && items.len() < per_page as usize {
                items.push(row);
            }
            total += 1;
        }
        Page { items, total, overdue, page, per_page }
    }

    /// The open work of a holder or a place, soonest deadline first. A
    /// holder's queue holds what it holds and the offers it may still accept
    /// ([`Ticket::open_offer_to`]), each of those rows carrying its offer.
    pub fn queue(&self, of: &QueueOf, now: Timestamp) -> Vec<Row<'_>> {
        let mut rows: Vec<Row<'_>> = self
            .tickets
            .values()
            .filter(|t| !t.status.is_final())
            .filter_map(|t| match of {
                QueueOf::Holder(h) if t.holder.as_ref() == Some(h) && t.status != Status::Resolved => Some(row(t, now)),
                QueueOf::Holder(h) => t.open_offer_to(h, now).map(|offer| Row { offer: Some(offer), ..row(t, now) }),
                QueueOf::Place(p) => t.grid.as_ref().is_some_and(|g| g.is_within(p)).then(|| row(t, now)),
            })
            .collect();
        rows.sort_by_key(|r| (r.next_deadline.map(|(_, at)| at), r.ticket.id.as_ref().map(TicketId::number)));
        rows
    }

    /// Tickets that had missed a deadline as of `now` ([`Ticket::overdue`]),
    /// open ones and all: what the overdue filter lists.
    pub fn overdue_counts(&self, now: Timestamp) -> OverdueCounts {
        let mut counts = OverdueCounts::default();
        for ticket in self.tickets.values().filter(|t| t.overdue(now)) {
            counts.all += 1;
            counts.open += u64::from(!ticket.status.is_final());
        }
        counts
    }

    /// Open tickets by board status.
    pub fn counts_by_status(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for ticket in self.tickets.values() {
            *counts.entry(BoardStatus::of(ticket).name()).or_default() += 1;
        }
        counts
    }
}

/// How many tickets had missed a deadline at an instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OverdueCounts {
    /// Every ticket that missed one, final ones included.
    pub all: u64,
    /// Of those, the ones still open.
    pub open: u64,
}

fn row(ticket: &Ticket, now: Timestamp) -> Row<'_> {
    Row {
        ticket,
        status: BoardStatus::of(ticket),
        next_deadline: next_deadline(ticket),
        overdue: ticket.overdue(now),
        offer: None,
    }
}

fn matches(query: &Query, row: &Row<'_>) -> bool {
    let t = row.ticket;
    query.status.as_deref().is_none_or(|s| row.status.name() == s)
        && query.scope.as_ref().is_none_or(|scope| t.grid.as_ref().is_some_and(|g| g.is_within(scope)))
        && query.holder.as_ref().is_none_or(|h| t.holder.as_ref() == Some(h))
        && query.resident.as_ref().is_none_or(|r| t.resident.as_ref() == Some(r))
        && query.reach.as_ref().is_none_or(|who| permit::visible(who, t))
}
