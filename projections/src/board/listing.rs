//! `Board::query`: open rows from memory merged, in ticket-number order,
//! with final ones walked from the cold indexes.

use std::borrow::Cow;

use gridloop_engine::envelope::Role;
use gridloop_engine::time::Timestamp;

use super::shelf::{self, Mark, Walk};
use super::{Board, PAGE_SIZE_MAX, Page, Query, Row, matches, row};
use crate::ProjectionError;

/// Where the final tickets of a query are walked, and whether the tallies
/// count them.
struct Plan {
    ranges: Vec<Vec<u8>>,
    /// The ranges are grids, and no filter but status and place applies:
    /// the tallies can count.
    by_grid: bool,
    /// Walk the rows themselves rather than the ranges (too many grids).
    rows: bool,
}

impl Board {
    /// One page of the tickets matching `query`, in ticket-number order
    /// (newest last), with the total count of matches and of overdue ones.
    ///
    /// Open tickets are filtered in memory; final ones are walked through
    /// the narrowest cold index the query names (the caller's own tickets
    /// for a resident, volunteer or department; a resident's; a holder's;
    /// else the grids in scope), each entry's mark deciding the filters, so
    /// the pages before this one are skipped without reading a row. Counts
    /// of final tickets come from the tallies when only status and place
    /// filter (O(page) then); otherwise the walk runs to the end (O(matches
    /// in that index)).
    pub fn query(&self, query: &Query, now: Timestamp) -> Result<Page<Row<'_>>, ProjectionError> {
        let per_page = query.per_page.clamp(1, PAGE_SIZE_MAX);
        let page = query.page.max(1);
        let skip = u64::from(page - 1) * u64::from(per_page);
        let as_of = query.overdue_as_of.unwrap_or(now);
        let hot: Vec<Row<'_>> = self.open.values().map(|t| row(t, as_of)).filter(|r| matches(query, r)).collect();
        let mut overdue = hot.iter().filter(|r| r.overdue).count() as u64;
        let mut hot = hot.into_iter().filter(|r| query.overdue_as_of.is_none() || r.overdue).peekable();
        let plan = self.plan(query);
        let tallied = if plan.by_grid { self.tallied(query, as_of) } else { None };
        let walk = if plan.rows { Walk::rows(&self.cold) } else { Walk::new(&self.cold, plan.ranges) };
        let mut cold = Matches { walk, query, as_of, total: 0, overdue: 0 };
        let (mut items, mut index, mut hot_total) = (Vec::new(), 0u64, 0u64);
        let mut next_cold = cold.next()?;
        loop {
            let take_hot = match (hot.peek(), next_cold) {
                (None, None) => break,
                (Some(h), Some(c)) => number(h) < c,
                (hot, _) => hot.is_some(),
            };
            let in_page = index >= skip && items.len() < per_page as usize;
            if take_hot {
                let row = hot.next().expect("peeked");
                hot_total += 1;
                if in_page {
                    items.push(row);
                }
            } else {
                if let (true, Some(number)) = (in_page, next_cold) {
                    items.push(self.cold_row(number, as_of)?);
                }
                next_cold = cold.next()?;
            }
            index += 1;
            if tallied.is_some() && items.len() == per_page as usize {
                break;
            }
        }
        hot_total += hot.count() as u64;
        let (cold_total, cold_overdue) = tallied.unwrap_or((cold.total, cold.overdue));
        overdue += cold_overdue;
        Ok(Page { items, total: hot_total + cold_total, overdue, page, per_page })
    }

    /// The ranges to walk for `query`'s final tickets.
    fn plan(&self, query: &Query) -> Plan {
        let index =
            |prefix: &[u8], name: &str| Plan { ranges: vec![shelf::range(prefix, name)], by_grid: false, rows: false };
        let reach = query.reach.as_ref().map(|who| (who.actor.role, who.actor.id.as_str()));
        match reach {
            Some((Role::Resident, id)) => return index(shelf::BY_RESIDENT, id),
            Some((Role::Volunteer, id)) => {
                let ranges = [format!("volunteer:{id}"), format!("team:{id}")];
                return Plan {
                    ranges: ranges.iter().map(|p| shelf::range(shelf::BY_PARTY, p)).collect(),
                    by_grid: false,
                    rows: false,
                };
            }
            Some((Role::Department, id)) => return index(shelf::BY_PARTY, &format!("department:{id}")),
            _ => {}
        }
        if let Some(resident) = &query.resident {
            return index(shelf::BY_RESIDENT, resident.as_str());
        }
        if let Some(holder) = &query.holder {
            return index(shelf::BY_PARTY, &shelf::party(holder));
        }
        let ranges: Vec<Vec<u8>> = self
            .settled
            .grids()
            .filter(|grid| grid_admitted(query, grid))
            .map(|grid| shelf::range(shelf::BY_GRID, grid))
            .collect();
        // Every walked entry is checked against the query's grid filter
        // (`admitted`), so walking the rows gives the same matches.
        let rows = ranges.len() > self.grid_ranges_max.unwrap_or(shelf::GRID_RANGES_MAX);
        Plan { ranges, by_grid: true, rows }
    }

    /// The tallies' count of final matches (all, overdue as of `as_of`),
    /// when they can give it.
    fn tallied(&self, query: &Query, as_of: Timestamp) -> Option<(u64, u64)> {
        let status = query.status.as_deref();
        let (total, overdue) =
            self.settled.count(as_of, |grid, name| grid_admitted(query, grid) && status.is_none_or(|s| s == name))?;
        Some((if query.overdue_as_of.is_some() { overdue } else { total }, overdue))
    }

    fn cold_row(&self, number: u64, as_of: Timestamp) -> Result<Row<'_>, ProjectionError> {
        let ticket = self.cold_ticket(number)?.ok_or_else(|| shelf::corrupt("an index entry without its row"))?;
        Ok(row(&ticket, as_of).into_owned())
    }
}

impl Row<'_> {
    /// The row with its ticket owned.
    fn into_owned(self) -> Row<'static> {
        Row {
            ticket: Cow::Owned(self.ticket.into_owned()),
            status: self.status,
            next_deadline: self.next_deadline,
            overdue: self.overdue,
            offer: None,
        }
    }
}

/// Whether a grid name (of final tickets) passes `query`'s scope and, for a
/// placed role, the caller's place (a ticket without a grid is in no
/// place's reach).
fn grid_admitted(query: &Query, grid: &str) -> bool {
    let placed = query
        .reach
        .as_ref()
        .filter(|who| matches!(who.actor.role, Role::GridWorker | Role::GridHead | Role::Dispatcher | Role::Official));
    query.scope.as_ref().is_none_or(|s| shelf::name_within(grid, s.as_str()))
        && placed.is_none_or(|who| {
            !grid.is_empty() && who.place.as_ref().is_none_or(|p| shelf::name_within(grid, p.as_str()))
        })
}

/// Whether a final ticket's mark passes every filter of `query` but the
/// overdue one (the caller's relation is the walked index's).
fn admitted(query: &Query, mark: &Mark) -> bool {
    let grid = shelf::grid_name(mark.grid.as_ref());
    query.status.as_deref().is_none_or(|s| mark.status.name() == s)
        && grid_admitted(query, grid)
        && query.holder.as_ref().is_none_or(|h| mark.holder.as_ref() == Some(h))
        && query.resident.as_ref().is_none_or(|r| mark.resident.as_ref() == Some(r))
}

fn number(row: &Row<'_>) -> u64 {
    row.ticket.id.as_ref().map_or(0, |id| id.number())
}

/// The final tickets matching a query, counted as they are walked.
struct Matches<'a, 'c> {
    walk: Walk<'c>,
    query: &'a Query,
    as_of: Timestamp,
    total: u64,
    overdue: u64,
}

impl Matches<'_, '_> {
    fn next(&mut self) -> Result<Option<u64>, ProjectionError> {
        while let Some((number, mark)) = self.walk.next_mark()? {
            if !admitted(self.query, &mark) {
                continue;
            }
            let overdue = mark.overdue(self.as_of);
            self.overdue += u64::from(overdue);
            if self.query.overdue_as_of.is_some() && !overdue {
                continue;
            }
            self.total += 1;
            return Ok(Some(number));
        }
        Ok(None)
    }
}
