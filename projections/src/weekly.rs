//! The weekly views: a grid's week for its head's report (周报告), the
//! community's reports and who has not reported, and the weekly ranking
//! (通报) of departments, streets and communities.
//!
//! Nothing here judges a deadline or counts a rate of its own: the rates
//! are [`Metrics::rates`] of the week's cohort, a ticket's standing is the
//! metrics' [`TicketFacts::as_of`] judged by the engine's `Due` rule, and
//! volunteers' service and points are the [`Ledger`]'s weeks. This module
//! only selects (the grid, the week) and sorts.
//!
//! The [`Weekly`] projection folds what the others do not keep: the
//! reports submitted (the `weekly-<grid>@<week>` streams) and which tickets
//! were filed on patrol, and the patrols begun and the check-ins made in
//! each grid (the patrol aggregate's `patrol.started` / `patrol.checked_in`
//! events; a check-in counts in the grid its patrol walked).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use gridloop_engine::due::Due;
use gridloop_engine::envelope::{Actor, RecordedEvent};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{TicketId, VolunteerId};
use gridloop_engine::patrol::PatrolEvent;
use gridloop_engine::ticket::{Channel, TicketEvent, Tier};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::weekly::{IsoWeek, WeeklyEvent, WeeklyFigures};

use crate::ProjectionError;
use crate::ledger::Ledger;
use crate::metrics::{By, Cohort, Metrics, Rate, Rates, TicketFacts};
use crate::runner::Projection;

/// The most rows a ranking has (a district's departments, streets or
/// communities are far fewer).
pub const RANKING_ROWS_MAX: usize = 1_000;
/// The most tickets a week's overdue or escalated list names.
pub const MATTERS_MAX: usize = 200;

/// One submitted report, as the community reads it: the standing revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The revision standing (1, then one more per correction).
    pub revision: u32,
    /// Who submitted it.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
    /// The head's words.
    pub narrative: String,
    /// The figures it was submitted with.
    pub figures: WeeklyFigures,
}

/// What the weekly views need beyond the metrics and the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weekly {
    /// Reports by grid and week (`2026-W49`), the standing revision.
    reports: BTreeMap<GridCode, BTreeMap<String, Submission>>,
    /// The numbers of the tickets filed on patrol.
    patrol_tickets: BTreeSet<u64>,
    /// When each patrol began, by the grid it walked.
    #[serde(default)]
    patrols: BTreeMap<GridCode, Vec<Timestamp>>,
    /// When each check-in (a household visited, a site inspected) was made,
    /// by the grid of its patrol.
    #[serde(default)]
    visits: BTreeMap<GridCode, Vec<Timestamp>>,
    /// The grid of each worker's open patrol (by patrol stream), so that a
    /// check-in, which names no grid, is counted in its patrol's.
    #[serde(default)]
    walking: BTreeMap<String, GridCode>,
}

impl Projection for Weekly {
    const NAME: &'static str = "weekly";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.kind() {
            "ticket" => {
                if let TicketEvent::Submitted { ticket, channel: Channel::Patrol, .. } = event.decode()? {
                    self.patrol_tickets.insert(ticket.number());
                }
            }
            "patrol" => match event.decode()? {
                PatrolEvent::Started { grid, .. } => {
                    self.patrols.entry(grid.clone()).or_default().push(event.occurred_at);
                    self.walking.insert(event.stream.to_string(), grid);
                }
                PatrolEvent::CheckedIn { .. } => {
                    if let Some(grid) = self.walking.get(&event.stream.to_string()) {
                        self.visits.entry(grid.clone()).or_default().push(event.occurred_at);
                    }
                }
                PatrolEvent::Ended { .. } => {
                    self.walking.remove(&event.stream.to_string());
                }
            },
            "weekly" => {
                let WeeklyEvent::ReportSubmitted { grid, week, revision, narrative, figures, .. } = event.decode()?;
                let submission =
                    Submission { revision, by: event.actor.clone(), at: event.occurred_at, narrative, figures };
                self.reports.entry(grid).or_default().insert(week.to_string(), submission);
            }
            _ => {}
        }
        Ok(())
    }
}

impl Weekly {
    /// An empty projection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The standing report of `grid` for `week`, if submitted.
    pub fn report(&self, grid: &GridCode, week: IsoWeek) -> Option<&Submission> {
        self.reports.get(grid)?.get(&week.to_string())
    }

    /// Patrols begun and check-ins made in `grid` (or within it) from
    /// `start` up to (not including) `end`.
    pub fn patrols_in(&self, grid: &GridCode, start: Timestamp, end: Timestamp) -> (u64, u64) {
        let count = |by_grid: &BTreeMap<GridCode, Vec<Timestamp>>| {
            by_grid
                .iter()
                .filter(|(g, _)| g.is_within(grid))
                .flat_map(|(_, at)| at.iter())
                .filter(|at| (start..end).contains(*at))
                .count() as u64
        };
        (count(&self.patrols), count(&self.visits))
    }

    /// Whether ticket `id` was filed on patrol.
    pub fn found_on_patrol(&self, id: &TicketId) -> bool {
        self.patrol_tickets.contains(&id.number())
    }
}

/// Where a ticket of the week stood when the figures were taken: a
/// reading of the metrics' replay, for counting, not a status of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Nobody has taken it yet.
    Waiting,
    /// Taken and being handled.
    InHand,
    /// Resolved, waiting for the resident or the feedback window.
    Resolved,
    /// Closed.
    Closed,
    /// Cancelled or marked a duplicate.
    Withdrawn,
}

impl Standing {
    /// The name the API and CSV use.
    pub fn name(self) -> &'static str {
        match self {
            Standing::Waiting => "waiting",
            Standing::InHand => "in_hand",
            Standing::Resolved => "resolved",
            Standing::Closed => "closed",
            Standing::Withdrawn => "withdrawn",
        }
    }

    fn of(facts: &TicketFacts, t: Timestamp) -> Standing {
        let s = facts.as_of(t);
        if s.duplicate || s.cancelled_at.is_some() {
            Standing::Withdrawn
        } else if s.closed {
            Standing::Closed
        } else if s.resolved_at.is_some() {
            Standing::Resolved
        } else if s.taken_at.is_some() {
            Standing::InHand
        } else {
            Standing::Waiting
        }
    }
}

/// One volunteer's week in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolunteerWeek {
    /// The volunteer (living in the grid).
    pub volunteer: VolunteerId,
    /// Services (resolutions) in the week.
    pub services: u32,
    /// Minutes of those services.
    pub minutes: u64,
    /// Points awarded in the week.
    pub points_awarded: u64,
}

/// A grid's week, generated from the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GridWeek {
    /// The grid.
    pub grid: GridCode,
    /// The week, `2026-W49`.
    pub week: String,
    /// When the figures were evaluated.
    pub as_of: Timestamp,
    /// The week's cohort rates (tickets submitted in the week in the grid).
    pub rates: Rates,
    /// The week's tickets by where they stood, by [`Standing::name`].
    pub by_status: BTreeMap<String, u64>,
    /// The week's tickets by category (`uncategorised` when unknown).
    pub by_category: BTreeMap<String, u64>,
    /// Tickets of the grid past their resolve deadline and still open when
    /// the week began or opened during it: the week's overdue matters.
    pub overdue: Vec<TicketId>,
    /// Tickets of the grid escalated beyond it during the week.
    pub escalated: Vec<TicketId>,
    /// Tickets of the week filed on patrol.
    pub found_on_patrol: u64,
    /// Patrols made (from the patrol aggregate's events; 0 until it records any).
    pub patrols: u64,
    /// Visits and check-ins made on patrol.
    pub visits: u64,
    /// The grid's volunteers (by home) with service or points in the week.
    pub volunteers: Vec<VolunteerWeek>,
}

/// The logs a week is generated from.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// The completion-rate metrics.
    pub metrics: &'a Metrics,
    /// Volunteers' weeks.
    pub ledger: &'a Ledger,
    /// Reports and patrol tickets.
    pub weekly: &'a Weekly,
}

impl GridWeek {
    /// Generates `grid`'s `week` as of `as_of`; `residents` lists the
    /// volunteers living in the grid (the directory knows homes).
    pub fn generate(
        from: Sources<'_>,
        grid: &GridCode,
        week: IsoWeek,
        as_of: Timestamp,
        residents: &[VolunteerId],
    ) -> GridWeek {
        let (start, end) = (week.start(), week.end());
        let cohort = Cohort { from: start, to: end, scope: Some(grid.clone()) };
        let mut out = GridWeek {
            grid: grid.clone(),
            week: week.to_string(),
            as_of,
            rates: from.metrics.rates(&cohort, as_of),
            by_status: BTreeMap::new(),
            by_category: BTreeMap::new(),
            overdue: vec![],
            escalated: vec![],
            found_on_patrol: 0,
            patrols: 0,
            visits: 0,
            volunteers: vec![],
        };
        // The week's matters are tickets open when it began or opened
        // since: the metrics read those alone, not the grid's history.
        let active = from.metrics.active_since(grid, start).unwrap_or_else(|e| {
            tracing::error!(error = %e, "weekly: the metrics' cold store failed; open tickets only");
            from.metrics.tickets().filter(|(_, f)| f.grid.is_within(grid)).map(|(id, f)| (id, f.clone())).collect()
        });
        for (id, facts) in active.into_iter().filter(|(_, f)| f.submitted_at <= as_of) {
            out.count_ticket(from.weekly, id, &facts, start, end);
        }
        (out.patrols, out.visits) = from.weekly.patrols_in(grid, start, end.min(as_of.plus(Millis(1))));
        out.volunteers = volunteers(from.ledger, residents, &week.to_string());
        out
    }

    fn count_ticket(&mut self, weekly: &Weekly, id: TicketId, facts: &TicketFacts, start: Timestamp, end: Timestamp) {
        let as_of = self.as_of;
        if facts.submitted_at >= start && facts.submitted_at < end {
            *self.by_status.entry(Standing::of(facts, as_of).name().to_string()).or_default() += 1;
            let category = facts.category.as_ref().map_or("uncategorised", |c| c.as_str());
            *self.by_category.entry(category.to_string()).or_default() += 1;
            self.found_on_patrol += u64::from(weekly.found_on_patrol(&id));
        }
        // A ticket closed or withdrawn before the week began is no matter
        // of the week, whatever its deadlines said.
        if facts.submitted_at >= end || facts.final_at().is_some_and(|at| at < start) {
            return;
        }
        // Overdue by the engine's rule, as of the figures' instant; a
        // ticket resolved before the week began is last week's matter.
        let s = facts.as_of(as_of);
        let resolved_before = s.resolved_at.is_some_and(|at| at < start);
        if s.resolution(as_of) == Due::Missed && !resolved_before && self.overdue.len() < MATTERS_MAX {
            self.overdue.push(id.clone());
        }
        let escalated = facts.marks.iter().any(|m| {
            matches!(m.what, crate::metrics::What::Escalated(tier) if tier > Tier::Grid)
                && m.at >= start
                && m.at < end.min(as_of.plus(gridloop_engine::time::Millis(1)))
        });
        if escalated && self.escalated.len() < MATTERS_MAX {
            self.escalated.push(id);
        }
    }

    /// The figures a submission names.
    pub fn figures(&self) -> WeeklyFigures {
        WeeklyFigures {
            as_of: self.as_of,
            submitted: self.rates.submitted,
            open: ["waiting", "in_hand"].iter().map(|k| self.by_status.get(*k).copied().unwrap_or(0)).sum(),
            resolved: ["resolved", "closed"].iter().map(|k| self.by_status.get(*k).copied().unwrap_or(0)).sum(),
            overdue: self.overdue.len() as u64,
            escalated: self.escalated.len() as u64,
            on_time: self.rates.on_time.numerator,
            resolve_due: self.rates.on_time.denominator,
            satisfied: self.rates.satisfaction.numerator,
            rated: self.rates.satisfaction.denominator,
            patrols: self.patrols,
            visits: self.visits,
            found_on_patrol: self.found_on_patrol,
            volunteer_services: self.volunteers.iter().map(|v| u64::from(v.services)).sum(),
            volunteer_minutes: self.volunteers.iter().map(|v| v.minutes).sum(),
            points_awarded: self.volunteers.iter().map(|v| v.points_awarded).sum(),
        }
    }
}

fn volunteers(ledger: &Ledger, residents: &[VolunteerId], week: &str) -> Vec<VolunteerWeek> {
    residents
        .iter()
        .filter_map(|id| {
            let stats = ledger.account(id)?.weeks.get(week).copied()?;
            Some(VolunteerWeek {
                volunteer: id.clone(),
                services: stats.services,
                minutes: stats.minutes,
                points_awarded: stats.points_awarded,
            })
        })
        .collect()
}

/// One grid of a community's week: its report, or none yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GridReport {
    /// The grid.
    pub grid: GridCode,
    /// Its standing report; `None`: not reported.
    pub report: Option<Submission>,
}

/// Every grid of `grids` (a community's) with its report for `week`.
pub fn community_reports<'a>(
    weekly: &Weekly,
    grids: impl IntoIterator<Item = &'a GridCode>,
    week: IsoWeek,
) -> Vec<GridReport> {
    grids
        .into_iter()
        .filter(|g| g.level() == Level::Grid)
        .map(|grid| GridReport { grid: grid.clone(), report: weekly.report(grid, week).cloned() })
        .collect()
}

/// What a ranking ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// The departments that last held the week's tickets.
    Department,
    /// Streets.
    Street,
    /// Communities.
    Community,
}

impl RankBy {
    /// `department`, `street` or `community`.
    pub fn parse(text: &str) -> Option<RankBy> {
        match text {
            "department" => Some(RankBy::Department),
            "street" => Some(RankBy::Street),
            "community" => Some(RankBy::Community),
            _ => None,
        }
    }

    /// The name [`parse`](Self::parse) reads.
    pub fn name(self) -> &'static str {
        match self {
            RankBy::Department => "department",
            RankBy::Street => "street",
            RankBy::Community => "community",
        }
    }

    fn by(self) -> By {
        match self {
            RankBy::Department => By::Department,
            RankBy::Street => By::Place(Level::Street),
            RankBy::Community => By::Place(Level::Community),
        }
    }
}

/// One row of the ranking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RankRow {
    /// 1 for the best; rows equal on both rates share a rank.
    pub rank: u32,
    /// The department's code or the place's grid code.
    pub key: String,
    /// The week's tickets of that department or place.
    pub submitted: u64,
    /// 按期办结率: resolved on time ÷ due against the resolve deadline.
    pub on_time: Rate,
    /// 满意率.
    pub satisfaction: Rate,
    /// 办结率.
    pub completion: Rate,
}

/// The ranking of `week`'s tickets (submitted in it) within `scope`, as
/// of `as_of`: by on-time resolution, then satisfaction, best first; a
/// rate with no data ranks below every rate with data; ties share a rank
/// and are listed by key.
pub fn ranking(
    metrics: &Metrics,
    week: IsoWeek,
    scope: Option<GridCode>,
    as_of: Timestamp,
    by: RankBy,
) -> Vec<RankRow> {
    let cohort = Cohort { from: week.start(), to: week.end(), scope };
    let mut rows: Vec<RankRow> = metrics
        .rates_by(&cohort, as_of, by.by())
        .into_iter()
        .take(RANKING_ROWS_MAX)
        .map(|(key, r)| RankRow {
            rank: 0,
            key,
            submitted: r.submitted,
            on_time: r.on_time,
            satisfaction: r.satisfaction,
            completion: r.completion,
        })
        .collect();
    // Per mille as `Some` sorts above `None`; reversed, best first.
    let order = |r: &RankRow| (r.on_time.per_mille(), r.satisfaction.per_mille());
    rows.sort_by(|a, b| order(b).cmp(&order(a)).then_with(|| a.key.cmp(&b.key)));
    let mut rank = 0;
    for i in 0..rows.len() {
        if i == 0 || order(&rows[i]) != order(&rows[i - 1]) {
            rank = i as u32 + 1;
        }
        rows[i].rank = rank;
    }
    rows
}
