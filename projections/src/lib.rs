//! Read models folded from the event log.
//!
//! This crate starts with the completion-rate metrics that cities are judged
//! by. [`Metrics`] folds ticket events into one compact [`TicketFacts`] per
//! ticket (in a `BTreeMap`, so that iteration, and so every output, is
//! deterministic) and evaluates the rates for any cohort (a window of
//! submission time, a place in the grid tree) as of any instant:
//!
//! - valid = submitted in the window, less those cancelled before acceptance
//!   and those marked duplicate;
//! - acceptance rate (受理率) = valid tickets accepted (or self-handled, or
//!   assigned) by their accept deadline ÷ valid;
//! - completion rate (办结率) = valid tickets resolved and not reopened since ÷ valid;
//! - on-time rate (按期办结率) = resolved by the resolve deadline ÷ tickets
//!   resolved or whose resolve deadline has passed;
//! - satisfaction rate (满意率) = latest feedback satisfied or basically
//!   satisfied ÷ tickets with feedback;
//! - in-grid rate (小事不出网格) = resolved without escalation beyond the
//!   community ÷ resolved;
//! - closed-loop rate (闭环率) = closed ÷ resolved.
//!
//! Every rate carries its numerator and denominator; an empty denominator is
//! "no data", never 0% or 100%.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ItemCode, TicketId};
use gridloop_engine::ticket::{Rating, TicketEvent, Tier};
use gridloop_engine::time::{Millis, Timestamp};

/// What the metrics need to know of one ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketFacts {
    pub grid: GridCode,
    pub item: ItemCode,
    pub submitted_at: Timestamp,
    pub accept_by: Timestamp,
    pub resolve_by: Timestamp,
    /// The first time anyone took it (accepted, self-handled, assigned).
    pub accepted_at: Option<Timestamp>,
    /// The latest resolution, cleared by a reopening.
    pub resolved_at: Option<Timestamp>,
    /// Whether the latest resolution came by the resolve deadline then in force.
    pub resolved_on_time: bool,
    pub feedback: Option<Rating>,
    pub highest_tier: Tier,
    pub closed: bool,
    pub cancelled_before_acceptance: bool,
    pub duplicate: bool,
}

/// Tickets submitted in `[from, to)` under `scope` (or everywhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    pub from: Timestamp,
    pub to: Timestamp,
    pub scope: Option<GridCode>,
}

/// A rate with its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
}

impl Rate {
    /// Per mille, or `None` for no data.
    pub fn per_mille(self) -> Option<u64> {
        (self.denominator > 0).then(|| (self.numerator * 1000 + self.denominator / 2) / self.denominator)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per_mille() {
            None => write!(f, "no data"),
            Some(pm) => write!(f, "{}.{}% ({}/{})", pm / 10, pm % 10, self.numerator, self.denominator),
        }
    }
}

/// Median, 90th percentile and maximum of a set of durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub median: Millis,
    pub p90: Millis,
    pub max: Millis,
}

impl Spread {
    fn of(mut values: Vec<Millis>) -> Option<Spread> {
        values.sort();
        let at = |q: usize| values[(values.len() - 1) * q / 100];
        (!values.is_empty()).then(|| Spread { median: at(50), p90: at(90), max: at(100) })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rates {
    pub submitted: u64,
    pub valid: u64,
    pub acceptance: Rate,
    pub completion: Rate,
    pub on_time: Rate,
    pub satisfaction: Rate,
    pub in_grid: Rate,
    pub closed_loop: Rate,
    pub time_to_accept: Option<Spread>,
    pub time_to_resolve: Option<Spread>,
}

/// The metrics projection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    tickets: BTreeMap<TicketId, TicketFacts>,
    /// The last position applied.
    pub checkpoint: u64,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event in; events of other aggregates are skipped.
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<(), Error> {
        self.checkpoint = event.position;
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let ticket = TicketId::new(event.stream.id())?;
        let payload: TicketEvent = event.decode()?;
        let at = event.occurred_at;
        if let TicketEvent::Submitted { grid, item, accept_by, resolve_by, tier, .. } = &payload {
            self.tickets.insert(
                ticket,
                TicketFacts {
                    grid: grid.clone(),
                    item: item.clone(),
                    submitted_at: at,
                    accept_by: *accept_by,
                    resolve_by: *resolve_by,
                    accepted_at: None,
                    resolved_at: None,
                    resolved_on_time: false,
                    feedback: None,
                    highest_tier: *tier,
                    closed: false,
                    cancelled_before_acceptance: false,
                    duplicate: false,
                },
            );
            return Ok(());
        }
        let facts = self
            .tickets
            .get_mut(&ticket)
            .ok_or_else(|| Error::Corrupt(format!("{ticket} has events before its submission")))?;
        fold_facts(facts, &payload, at);
        Ok(())
    }

    pub fn tickets(&self) -> &BTreeMap<TicketId, TicketFacts> {
        &self.tickets
    }

    /// The rates of a cohort, evaluated as of `as_of`.
    pub fn rates(&self, cohort: &Cohort, as_of: Timestamp) -> Rates {
        let in_cohort = self.tickets.values().filter(|t| {
            t.submitted_at >= cohort.from
                && t.submitted_at < cohort.to
                && cohort.scope.as_ref().is_none_or(|s| t.grid.is_within(s))
        });
        let mut r = Tally::default();
        for t in in_cohort {
            r.count(t, as_of);
        }
        r.finish()
    }
}

fn fold_facts(facts: &mut TicketFacts, event: &TicketEvent, at: Timestamp) {
    use TicketEvent as E;
    match event {
        E::SelfHandled { .. } | E::Accepted { .. } | E::Reassigned { .. } => {
            facts.accepted_at.get_or_insert(at);
        }
        E::Escalated { to, .. } => facts.highest_tier = facts.highest_tier.max(*to),
        E::Resolved { .. } => {
            facts.resolved_at = Some(at);
            facts.resolved_on_time = at <= facts.resolve_by;
            facts.feedback = None;
        }
        E::FeedbackGiven { rating, .. } => facts.feedback = Some(*rating),
        E::Reopened { resolve_by, .. } => {
            facts.resolved_at = None;
            facts.resolve_by = *resolve_by;
        }
        E::Closed { .. } => facts.closed = true,
        E::Cancelled { .. } => facts.cancelled_before_acceptance = facts.accepted_at.is_none(),
        E::MarkedDuplicate { .. } => facts.duplicate = true,
        _ => {}
    }
}

#[derive(Default)]
struct Tally {
    submitted: u64,
    valid: u64,
    accepted_on_time: u64,
    completed: u64,
    on_time: u64,
    on_time_due: u64,
    satisfied: u64,
    with_feedback: u64,
    in_grid: u64,
    closed: u64,
    to_accept: Vec<Millis>,
    to_resolve: Vec<Millis>,
}

impl Tally {
    fn count(&mut self, t: &TicketFacts, as_of: Timestamp) {
        self.submitted += 1;
        if t.cancelled_before_acceptance || t.duplicate || t.submitted_at > as_of {
            return;
        }
        self.valid += 1;
        if let Some(accepted) = t.accepted_at.filter(|&a| a <= as_of) {
            self.accepted_on_time += u64::from(accepted <= t.accept_by);
            self.to_accept.push(accepted.since(t.submitted_at));
        }
        let resolved = t.resolved_at.filter(|&r| r <= as_of);
        if let Some(resolved_at) = resolved {
            self.completed += 1;
            self.on_time += u64::from(t.resolved_on_time);
            self.in_grid += u64::from(t.highest_tier <= Tier::Community);
            self.closed += u64::from(t.closed);
            self.to_resolve.push(resolved_at.since(t.submitted_at));
        }
        if resolved.is_some() || t.resolve_by <= as_of {
            self.on_time_due += 1;
        }
        if let Some(rating) = t.feedback {
            self.with_feedback += 1;
            self.satisfied += u64::from(rating != Rating::Unsatisfied);
        }
    }

    fn finish(self) -> Rates {
        let rate = |numerator, denominator| Rate { numerator, denominator };
        Rates {
            submitted: self.submitted,
            valid: self.valid,
            acceptance: rate(self.accepted_on_time, self.valid),
            completion: rate(self.completed, self.valid),
            on_time: rate(self.on_time, self.on_time_due),
            satisfaction: rate(self.satisfied, self.with_feedback),
            in_grid: rate(self.in_grid, self.completed),
            closed_loop: rate(self.closed, self.completed),
            time_to_accept: Spread::of(self.to_accept),
            time_to_resolve: Spread::of(self.to_resolve),
        }
    }
}
