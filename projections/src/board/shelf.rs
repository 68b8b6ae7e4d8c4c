//! The board's cold half: the keys of final tickets' rows and indexes, the
//! mark each index entry carries, the tallies kept in memory, and the walk
//! that merges index ranges in ticket-number order.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::ResidentId;
use gridloop_engine::ticket::{Assignee, Ticket};
use gridloop_engine::time::Timestamp;

use super::BoardStatus;
use crate::ProjectionError;
use crate::cold::{Cold, SCAN_KEYS_MAX};

/// `board/t/<number>`: a final ticket's row.
pub(super) const ROWS: &[u8] = b"board/t/";
/// Rows read at a time by a walk over the rows: a page of fifty among a
/// district's tickets needs a chunk or two.
const ROWS_CHUNK: usize = 64;
/// Past this many grids' ranges a query walks the rows instead: merging a
/// district's 1,500 ranges cost a scan each before the first row (0.5 s
/// for page 1 at a million events, 2.4 s at three).
pub(super) const GRID_RANGES_MAX: usize = 32;
/// `board/g/<grid>\0<number>`: final tickets by grid (`""`: none).
pub(super) const BY_GRID: &[u8] = b"board/g/";
/// `board/r/<resident>\0<number>`: by resident and by follower.
pub(super) const BY_RESIDENT: &[u8] = b"board/r/";
/// `board/h/<party>\0<number>`: by holder, offered candidate and summoned
/// department (the relations `permit::visible` looks at).
pub(super) const BY_PARTY: &[u8] = b"board/h/";

/// The key of a final ticket's row.
pub(super) fn row_key(number: u64) -> Vec<u8> {
    crate::cold::numbered_key(ROWS, number)
}

/// The range of one name in one index: `prefix` `name` `\0`.
pub(super) fn range(prefix: &[u8], name: &str) -> Vec<u8> {
    [prefix, name.as_bytes(), b"\0"].concat()
}

/// An assignee as an index name: `volunteer:V-1`, `team:T-1`,
/// `department:D-1`, `grid_worker:W-1`.
pub(super) fn party(who: &Assignee) -> String {
    match who {
        Assignee::Volunteer(id) => format!("volunteer:{id}"),
        Assignee::Team(id) => format!("team:{id}"),
        Assignee::Department(id) => format!("department:{id}"),
        Assignee::GridWorker(id) => format!("grid_worker:{id}"),
    }
}

/// A grid as an index and tally name (`""`: a ticket without one).
pub(super) fn grid_name(grid: Option<&GridCode>) -> &str {
    grid.map_or("", GridCode::as_str)
}

/// [`GridCode::is_within`] on names: equal, or a prefix followed by `-`.
pub(super) fn name_within(name: &str, scope: &str) -> bool {
    name == scope || (name.starts_with(scope) && name.as_bytes().get(scope.len()) == Some(&b'-'))
}

/// Every index key of a final ticket.
pub(super) fn index_keys(ticket: &Ticket, number: u64) -> Vec<Vec<u8>> {
    let key = |prefix: &[u8], name: &str| [range(prefix, name), number.to_be_bytes().to_vec()].concat();
    let mut keys = vec![key(BY_GRID, grid_name(ticket.grid.as_ref()))];
    keys.extend(ticket.resident.iter().chain(&ticket.followers).map(|r| key(BY_RESIDENT, r.as_str())));
    let candidates = ticket.offer.iter().flat_map(|o| &o.candidates);
    let summoned = ticket.summons.iter().map(|s| Assignee::Department(s.department.clone()));
    let parties: Vec<Assignee> = ticket.holder.iter().chain(candidates).cloned().chain(summoned).collect();
    keys.extend(parties.iter().map(|p| key(BY_PARTY, &party(p))));
    keys.sort();
    keys.dedup();
    keys
}

/// What an index entry says of its final ticket: enough for every filter
/// of a query, so that a walk counts and skips without reading rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Mark {
    /// The board status (closed, cancelled or duplicate).
    pub(super) status: BoardStatus,
    /// The ticket's grid.
    pub(super) grid: Option<GridCode>,
    /// Who held it last.
    pub(super) holder: Option<Assignee>,
    /// The resident it is for.
    pub(super) resident: Option<ResidentId>,
    /// From when it is overdue ([`overdue_since`]).
    pub(super) since: Option<Timestamp>,
}

impl Mark {
    /// The mark of a final ticket.
    pub(super) fn of(ticket: &Ticket) -> Mark {
        Mark {
            status: BoardStatus::of(ticket),
            grid: ticket.grid.clone(),
            holder: ticket.holder.clone(),
            resident: ticket.resident.clone(),
            since: overdue_since(ticket),
        }
    }

    /// Whether the ticket had missed a deadline as of `at`.
    pub(super) fn overdue(&self, at: Timestamp) -> bool {
        self.since.is_some_and(|since| since <= at)
    }
}

/// From which instant a final ticket counts as overdue, if ever.
///
/// A final ticket has no pending deadline, so [`Ticket::overdue`] judges
/// only its accept and resolve deadlines ([`Ticket::judged`]); a miss is
/// never undone as `now` grows (done late stays late; not done past the
/// deadline stays missed, or turns into done late), so the flag is false
/// until some instant and true from then on. It can only turn at a
/// deadline, a done instant or the withdrawal: the first of those at which
/// it holds is that instant.
pub(super) fn overdue_since(ticket: &Ticket) -> Option<Timestamp> {
    let resolve_by = ticket.judged_resolve_by.or(ticket.resolve_by);
    let mut turns: Vec<Timestamp> =
        [ticket.accept_by, resolve_by, ticket.accepted_at, ticket.resolved_at, ticket.closed_at]
            .into_iter()
            .flatten()
            .collect();
    turns.sort();
    turns.into_iter().find(|&at| ticket.overdue(at))
}

/// The counts of final tickets of one grid and status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Tally {
    /// Final tickets.
    pub(super) total: u64,
    /// Of those, the ones overdue from the horizon on.
    pub(super) overdue: u64,
}

/// A final ticket that turns overdue after the horizon (closed before a
/// deadline it had not met): counted as overdue once the horizon passes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Later {
    since: Timestamp,
    number: u64,
    grid: String,
    status: String,
}

/// The counts of final tickets, per grid and status, with the instant up to
/// which their overdue counts are exact. Part of the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Tallies {
    /// Grid name, then status name.
    by_grid: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Tally>>,
    /// Final tickets turning overdue after `horizon`, by instant then number.
    later: Vec<Later>,
    /// The latest instant of a ticket event folded: every query at or after
    /// it reads overdue counts from the tallies.
    // Unset (before any ticket event) it is the default instant, 1970,
    // which is no instant the engine parses back: leave it out of the
    // snapshot then, or a fresh board's snapshot would not decode.
    #[serde(default, skip_serializing_if = "unset")]
    horizon: Timestamp,
}

fn unset(at: &Timestamp) -> bool {
    *at == Timestamp::default()
}

impl Tallies {
    /// Moves the horizon to `at` (if later) and counts the tickets that
    /// turned overdue by then.
    pub(super) fn advance(&mut self, at: Timestamp) {
        self.horizon = self.horizon.max(at);
        let due = self.later.iter().take_while(|l| l.since <= self.horizon).count();
        for later in self.later.drain(..due).collect::<Vec<_>>() {
            self.tally(&later.grid, &later.status).overdue += 1;
        }
    }

    fn tally(&mut self, grid: &str, status: &str) -> &mut Tally {
        self.by_grid.entry(grid.to_string()).or_default().entry(status.to_string()).or_default()
    }

    /// Counts a ticket made final.
    pub(super) fn add(&mut self, number: u64, mark: &Mark) {
        let (grid, status) = (grid_name(mark.grid.as_ref()).to_string(), mark.status.name().to_string());
        self.tally(&grid, &status).total += 1;
        match mark.since {
            Some(since) if since <= self.horizon => self.tally(&grid, &status).overdue += 1,
            Some(since) => {
                let later = Later { since, number, grid, status };
                let at = self.later.partition_point(|l| (l.since, l.number) < (since, number));
                self.later.insert(at, later);
            }
            None => {}
        }
    }

    /// Uncounts a final ticket taken back (an event for it arrived).
    pub(super) fn remove(&mut self, number: u64, mark: &Mark) {
        let (grid, status) = (grid_name(mark.grid.as_ref()).to_string(), mark.status.name().to_string());
        let later = self.later.iter().position(|l| l.number == number);
        let tally = self.tally(&grid, &status);
        tally.total = tally.total.saturating_sub(1);
        match later {
            Some(at) => {
                self.later.remove(at);
            }
            None if mark.since.is_some() => tally.overdue = tally.overdue.saturating_sub(1),
            None => {}
        }
        let statuses = self.by_grid.get_mut(&grid).expect("just tallied");
        if statuses.get(&status).is_some_and(|t| t.total == 0) {
            statuses.remove(&status);
        }
        if statuses.is_empty() {
            self.by_grid.remove(&grid);
        }
    }

    /// The grid names that hold final tickets.
    pub(super) fn grids(&self) -> impl Iterator<Item = &str> {
        self.by_grid.keys().map(String::as_str)
    }

    /// Final tickets and overdue ones as of `at` among the grids and
    /// statuses `keep` admits; `None` before the horizon, where the tallies
    /// are not exact (the caller walks instead).
    pub(super) fn count(&self, at: Timestamp, keep: impl Fn(&str, &str) -> bool) -> Option<(u64, u64)> {
        if at < self.horizon {
            return None;
        }
        let (mut total, mut overdue) = (0, 0);
        for (grid, statuses) in &self.by_grid {
            for (_, tally) in statuses.iter().filter(|(status, _)| keep(grid, status)) {
                total += tally.total;
                overdue += tally.overdue;
            }
        }
        overdue += self.later.iter().filter(|l| l.since <= at && keep(&l.grid, &l.status)).count() as u64;
        Some((total, overdue))
    }

    /// Final tickets by status name.
    pub(super) fn by_status(&self) -> impl Iterator<Item = (&str, u64)> {
        self.by_grid.values().flat_map(|s| s.iter().map(|(status, t)| (status.as_str(), t.total)))
    }
}

/// Index ranges merged in ticket-number order, each read a chunk at a time
/// (at most [`SCAN_KEYS_MAX`] keys per read), a number found in two ranges
/// yielded once.
pub(super) struct Walk<'c> {
    cold: &'c Cold,
    cursors: Vec<Cursor>,
    chunk: usize,
    /// The one range is the rows themselves (`board/t/`): each entry is a
    /// ticket, whose mark is computed rather than read.
    rows: bool,
}

struct Cursor {
    range: Vec<u8>,
    after: Option<Vec<u8>>,
    buffer: VecDeque<(u64, Vec<u8>)>,
    done: bool,
}

impl<'c> Walk<'c> {
    /// A walk over the index `ranges` (each `prefix name \0`).
    pub(super) fn new(cold: &'c Cold, ranges: Vec<Vec<u8>>) -> Self {
        // Many ranges (a district's grids) read small chunks each, so that
        // the buffers stay near a few thousand keys in all.
        let chunk = (4_096 / ranges.len().max(1)).clamp(16, 1_024).min(SCAN_KEYS_MAX);
        let cursors = ranges
            .into_iter()
            .map(|range| Cursor { range, after: None, buffer: VecDeque::new(), done: false })
            .collect();
        Self { cold, cursors, chunk, rows: false }
    }

    /// A walk over every final ticket's row, in number order: for a query
    /// that would otherwise merge many grids' ranges (one scan each per
    /// chunk), the rows are one range, and the filters skip the rest.
    pub(super) fn rows(cold: &'c Cold) -> Self {
        let cursor = Cursor { range: ROWS.to_vec(), after: None, buffer: VecDeque::new(), done: false };
        Self { cold, cursors: vec![cursor], chunk: ROWS_CHUNK, rows: true }
    }

    /// The next ticket number and its entry's value, or `None` at the end.
    pub(super) fn next_entry(&mut self) -> Result<Option<(u64, Vec<u8>)>, ProjectionError> {
        for cursor in &mut self.cursors {
            cursor.fill(self.cold, self.chunk)?;
        }
        let Some(least) = self.cursors.iter().filter_map(|c| c.buffer.front().map(|(n, _)| *n)).min() else {
            return Ok(None);
        };
        let mut value = None;
        for cursor in &mut self.cursors {
            if cursor.buffer.front().is_some_and(|(n, _)| *n == least) {
                value = cursor.buffer.pop_front().map(|(_, v)| v);
            }
        }
        Ok(value.map(|v| (least, v)))
    }

    /// The next ticket number and its mark.
    pub(super) fn next_mark(&mut self) -> Result<Option<(u64, Mark)>, ProjectionError> {
        let Some((number, value)) = self.next_entry()? else { return Ok(None) };
        if self.rows {
            return Ok(Some((number, Mark::of(&decode::<Ticket>(&value)?))));
        }
        Ok(Some((number, decode(&value)?)))
    }
}

impl Cursor {
    fn fill(&mut self, cold: &Cold, chunk: usize) -> Result<(), ProjectionError> {
        if !self.buffer.is_empty() || self.done {
            return Ok(());
        }
        let entries = cold.scan(&self.range, self.after.as_deref(), false, chunk)?;
        self.done = entries.len() < chunk;
        if let Some((last, _)) = entries.last() {
            self.after = Some(last.clone());
        }
        for (key, value) in entries {
            let number = key.len().checked_sub(8).and_then(|at| key[at..].try_into().ok()).map(u64::from_be_bytes);
            let number = number.ok_or_else(|| corrupt("an index key without a ticket number"))?;
            self.buffer.push_back((number, value));
        }
        Ok(())
    }
}

/// A cold value as its type.
pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProjectionError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(&e.to_string()))
}

/// A cold row or index entry that does not read back.
pub(super) fn corrupt(detail: &str) -> ProjectionError {
    ProjectionError::Snapshot { name: "board", detail: format!("cold row: {detail}") }
}
