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
//!
//! # Hot and cold
//!
//! Memory follows the open work. In memory (and in the snapshot): the open
//! tickets (`!status.is_final()`), and small tallies of the final ones per
//! grid × status. Everything else is in the [`Cold`] store the runner
//! attaches ([`Projection::attach`]), under `board/`, committed atomically
//! with the snapshot:
//!
//! | key | value |
//! |---|---|
//! | `board/t/<number BE>` | the final ticket (JSON) |
//! | `board/g/<grid>\0<number BE>` | its [mark](shelf::Mark) (grid `""`: none) |
//! | `board/r/<resident>\0<number BE>` | its mark, for its resident and each follower |
//! | `board/h/<party>\0<number BE>` | its mark, for its holder, each offered candidate, each summoned department (`volunteer:V-1`, `team:..`, `department:..`, `grid_worker:..`) |
//!
//! Rows are JSON like the snapshots and the log: a ticket is read back
//! only when a page shows it or an event arrives for it, so the decoding
//! cost is per row shown, and the form stays readable when debugging a
//! store. Numbers are big-endian, so key order is ticket-number order; the
//! index names end in `\0`, which no grid code or id holds, so one name's
//! range is never another's prefix.
//!
//! An event for a final ticket (the engine refuses most commands on one;
//! the fold does not rely on which) reads its row back,
//! takes it off the indexes and tallies, evolves it, and writes it cold
//! again if it is still final, or keeps it open.
//!
//! # Why totals need no scan
//!
//! A final ticket has no pending deadline, so whether it is overdue as of
//! an instant only turns once, from false to true, at an instant fixed by
//! its own timestamps (`shelf::overdue_since`). The tallies count final
//! tickets per grid and status with the overdue ones among them as of the
//! *horizon* (the latest ticket event folded); the few whose flag turns
//! later are listed until the horizon passes them. So for any instant at
//! or after the horizon (a query's `now`), the totals and overdue counts of
//! final tickets are sums over the tallies of the grids in scope: no row is
//! read. An instant before the horizon (an `overdue_as_of` in the past)
//! walks the index instead.
//!
//! # Cost of each read
//!
//! - `get`: O(1) when open; one cold read when final.
//! - `query` with status, scope and a placed caller's reach only: O(open) +
//!   O(page × grids in scope) keys walked past the skipped pages, rows read
//!   for the page only; totals from the tallies. With a holder, resident,
//!   or a resident's, volunteer's or department's reach: the walk runs
//!   through that one index range, O(their final tickets) keys, rows still
//!   read for the page only.
//! - `queue`: O(open), memory only (a queue is open work).
//! - `overdue_counts`, `counts_by_status`, `len`: O(open + grids) from the
//!   tallies.
//! - `settled`, `settled_within`: a walk of cold rows, O(rows asked).
//!
//! Every cold read is a [`Cold::scan`] of at most [`SCAN_KEYS_MAX`] keys;
//! a walk over many grids reads small chunks from each.

use std::borrow::Cow;
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
use crate::cold::{Cold, SCAN_KEYS_MAX};
use crate::runner::Projection;

mod listing;
mod shelf;

use shelf::{Mark, Tallies, Walk};

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

    /// Every status once (an escalation at the grid tier standing for all
    /// tiers): the names a `status=` filter may give are theirs.
    pub const ALL: [BoardStatus; 13] = [
        BoardStatus::Submitted,
        BoardStatus::Triaged,
        BoardStatus::Offered,
        BoardStatus::Accepted,
        BoardStatus::InProgress,
        BoardStatus::Escalated(Tier::Grid),
        BoardStatus::AwaitingFeedback,
        BoardStatus::Resolved,
        BoardStatus::Reopened,
        BoardStatus::Closed,
        BoardStatus::Cancelled,
        BoardStatus::Duplicate,
        BoardStatus::Returned,
    ];

    /// The status named `name` (an escalation at the grid tier), if any.
    pub fn named(name: &str) -> Option<BoardStatus> {
        Self::ALL.into_iter().find(|s| s.name() == name)
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
    /// The ticket as the engine folds it (borrowed from memory when open,
    /// read from its cold row when final).
    pub ticket: Cow<'a, Ticket>,
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

/// The board projection: open tickets in memory, folded with the engine's
/// own `Ticket::evolve` and keyed by ticket number; final ones as cold rows
/// with their indexes, and their tallies (see the module doc).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Board {
    /// Tickets not in a final status.
    open: BTreeMap<u64, Ticket>,
    /// Final tickets counted per grid and status.
    settled: Tallies,
    /// Where final tickets' rows and indexes are kept (not in the snapshot).
    /// A clone shares it.
    #[serde(skip)]
    cold: Cold,
    /// Past how many grids' ranges a query walks the rows instead (unset:
    /// [`shelf::GRID_RANGES_MAX`]); not in the snapshot.
    #[serde(skip)]
    grid_ranges_max: Option<usize>,
}

/// Two boards are equal when their memory is: open tickets and tallies
/// (the cold rows follow from the same events).
impl PartialEq for Board {
    fn eq(&self, other: &Self) -> bool {
        self.open == other.open && self.settled == other.settled
    }
}

impl Board {
    /// The board with queries walking the rows of final tickets once more
    /// than `grids` grids' ranges would be merged (0: always), so that
    /// tests reach both walks with a handful of grids.
    pub fn with_grid_ranges_max(mut self, grids: usize) -> Self {
        self.grid_ranges_max = Some(grids);
        self
    }
}

impl Projection for Board {
    const NAME: &'static str = "board";
    /// 2: open tickets only in the snapshot, final ones as cold rows.
    const VERSION: u32 = 2;

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        let payload: TicketEvent = event.decode()?;
        self.settled.advance(event.occurred_at);
        // A submission starts a ticket (the store keeps each stream's
        // versions unique, so version 1 is never a cold ticket's); any other
        // event is for an open ticket, or a final one read back from its row.
        let is_submission = matches!(payload, TicketEvent::Submitted { .. });
        let mut ticket = match self.open.remove(&number) {
            Some(ticket) => ticket,
            None if is_submission => Ticket::default(),
            None => self.thaw(number)?.unwrap_or_default(),
        };
        if is_submission != (ticket.version == 0) || ticket.version + 1 != event.version {
            self.shelve(number, ticket)?;
            return Err(ProjectionError::OutOfOrder { stream: event.stream.to_string(), version: event.version });
        }
        ticket.evolve(&payload, event.occurred_at);
        self.shelve(number, ticket)
    }

    fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }
}

impl Board {
    /// Keeps `ticket` open in memory, or writes it cold when final.
    fn shelve(&mut self, number: u64, ticket: Ticket) -> Result<(), ProjectionError> {
        if ticket.version == 0 {
            return Ok(());
        }
        if !ticket.status.is_final() {
            self.open.insert(number, ticket);
            return Ok(());
        }
        let mark = Mark::of(&ticket);
        self.settled.add(number, &mark);
        let row = serde_json::to_vec(&ticket).expect("tickets serialise");
        let entry = serde_json::to_vec(&mark).expect("marks serialise");
        self.cold.put(shelf::row_key(number), row);
        for key in shelf::index_keys(&ticket, number) {
            self.cold.put(key, entry.clone());
        }
        Ok(())
    }

    /// Reads a final ticket back and takes it off the cold side (its row,
    /// its index entries, its tallies); `None` if there is none.
    fn thaw(&mut self, number: u64) -> Result<Option<Ticket>, ProjectionError> {
        let Some(ticket) = self.cold_ticket(number)? else { return Ok(None) };
        self.settled.remove(number, &Mark::of(&ticket));
        self.cold.delete(shelf::row_key(number));
        for key in shelf::index_keys(&ticket, number) {
            self.cold.delete(key);
        }
        Ok(Some(ticket))
    }

    fn cold_ticket(&self, number: u64) -> Result<Option<Ticket>, ProjectionError> {
        self.cold.get(&shelf::row_key(number))?.map(|bytes| shelf::decode(&bytes)).transpose()
    }

    /// The ticket `id`, if it has been submitted: from memory when open,
    /// from its cold row when final.
    pub fn get(&self, id: &TicketId) -> Result<Option<Cow<'_, Ticket>>, ProjectionError> {
        if let Some(ticket) = self.open.get(&id.number()) {
            return Ok(Some(Cow::Borrowed(ticket)));
        }
        Ok(self.cold_ticket(id.number())?.map(Cow::Owned))
    }

    /// Tickets on the board, open and final.
    pub fn len(&self) -> usize {
        let settled: u64 = self.settled.by_status().map(|(_, n)| n).sum();
        self.open.len() + settled as usize
    }

    /// Whether no ticket has been submitted yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Open tickets (those in memory), in ticket-number order. Final ones
    /// are read with [`settled`](Self::settled) or through [`query`](Self::query).
    pub fn open_tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.open.values()
    }

    /// Open tickets on the board.
    pub fn open_len(&self) -> usize {
        self.open.len()
    }

    /// Up to `limit` final tickets numbered past `after`, in ticket-number
    /// order, read from their cold rows (at most [`SCAN_KEYS_MAX`] a read):
    /// walk them all by asking again from the last number returned.
    pub fn settled(&self, after: Option<u64>, limit: usize) -> Result<Vec<Ticket>, ProjectionError> {
        let after = after.map(shelf::row_key);
        let rows = self.cold.scan(shelf::ROWS, after.as_deref(), false, limit.min(SCAN_KEYS_MAX))?;
        rows.iter().map(|(_, bytes)| shelf::decode(bytes)).collect()
    }

    /// Calls `each` with every final ticket inside `scope` (any level of the
    /// grid tree; `None`: all), grid by grid and in ticket-number order
    /// within a grid, until it returns `false`. O(final tickets in scope).
    pub fn settled_within(
        &self,
        scope: Option<&GridCode>,
        mut each: impl FnMut(Ticket) -> bool,
    ) -> Result<(), ProjectionError> {
        let grids: Vec<&str> =
            self.settled.grids().filter(|g| scope.is_none_or(|s| shelf::name_within(g, s.as_str()))).collect();
        for grid in grids {
            let mut walk = Walk::new(&self.cold, vec![shelf::range(shelf::BY_GRID, grid)]);
            while let Some((number, _)) = walk.next_entry()? {
                let ticket =
                    self.cold_ticket(number)?.ok_or_else(|| shelf::corrupt("an index entry without its row"))?;
                if !each(ticket) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The open work of a holder or a place, soonest deadline first. A
    /// holder's queue holds what it holds and the offers it may still accept
    /// ([`Ticket::open_offer_to`]), each of those rows carrying its offer.
    /// Only open tickets are queued: it reads memory alone.
    pub fn queue(&self, of: &QueueOf, now: Timestamp) -> Vec<Row<'_>> {
        let mut rows: Vec<Row<'_>> = self
            .open
            .values()
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
    /// open ones and all: what the overdue filter lists. Final ones come
    /// from the tallies (a walk of the grid index when `now` is before the
    /// last event folded).
    pub fn overdue_counts(&self, now: Timestamp) -> Result<OverdueCounts, ProjectionError> {
        let open = self.open.values().filter(|t| t.overdue(now)).count() as u64;
        let settled = match self.settled.count(now, |_, _| true) {
            Some((_, overdue)) => overdue,
            None => {
                let ranges = self.settled.grids().map(|g| shelf::range(shelf::BY_GRID, g)).collect();
                let mut walk = Walk::new(&self.cold, ranges);
                let mut overdue = 0;
                while let Some((_, mark)) = walk.next_mark()? {
                    overdue += u64::from(mark.overdue(now));
                }
                overdue
            }
        };
        Ok(OverdueCounts { all: open + settled, open })
    }

    /// Open tickets that had missed a deadline as of `now`: memory only.
    pub fn open_overdue(&self, now: Timestamp) -> u64 {
        self.open.values().filter(|t| t.overdue(now)).count() as u64
    }

    /// Tickets by board status, open and final (final ones from the
    /// tallies).
    pub fn counts_by_status(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for ticket in self.open.values() {
            *counts.entry(BoardStatus::of(ticket).name()).or_default() += 1;
        }
        for (status, n) in self.settled.by_status() {
            let name = [BoardStatus::Closed, BoardStatus::Cancelled, BoardStatus::Duplicate]
                .into_iter()
                .map(BoardStatus::name)
                .find(|name| *name == status);
            if let Some(name) = name {
                *counts.entry(name).or_default() += n;
            }
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
        ticket: Cow::Borrowed(ticket),
        status: BoardStatus::of(ticket),
        next_deadline: next_deadline(ticket),
        overdue: ticket.overdue(now),
        offer: None,
    }
}

fn matches(query: &Query, row: &Row<'_>) -> bool {
    let t = &*row.ticket;
    query.status.as_deref().is_none_or(|s| row.status.name() == s)
        && query.scope.as_ref().is_none_or(|scope| t.grid.as_ref().is_some_and(|g| g.is_within(scope)))
        && query.holder.as_ref().is_none_or(|h| t.holder.as_ref() == Some(h))
        && query.resident.as_ref().is_none_or(|r| t.resident.as_ref() == Some(r))
        && query.reach.as_ref().is_none_or(|who| permit::visible(who, t))
}
