//! Completion-rate metrics (受理率, 办结率, 按期办结率, 满意率, 小事不出网格,
//! 闭环率) for any cohort, as of any instant.
//!
//! The projection keeps, per ticket, what it was (place, item, deadlines) and
//! a short time-ordered list of [`Mark`]s: taken, escalated, resolved,
//! reopened, rated, closed, cancelled, marked duplicate. Evaluating "as of T"
//! replays the marks up to T, so a ticket resolved on Monday and reopened on
//! Wednesday counts as completed as of Tuesday and as open as of Thursday.
//!
//! Definitions, for the cohort of tickets submitted in `[from, to)` inside a
//! scope, evaluated as of T. A ticket counts against a deadline only once it
//! is *due* against it: the deadline has passed, or the ticket did what it
//! asks (the engine's [`Due`] rule, which the board's overdue flag follows
//! too), as the 12345 hotlines divide by the tickets due to be closed
//! (应结案). A ticket submitted minutes ago is no failure yet.
//!
//! - **valid** = submitted (by T), less those cancelled before anyone took
//!   them and those marked duplicate;
//! - **acceptance** = valid tickets taken (accepted, self-handled, assigned)
//!   by their accept deadline ÷ valid tickets due against it (taken, or
//!   untaken past it);
//! - **completion** = valid tickets resolved and not reopened since ÷ valid
//!   tickets due against the resolve deadline in force (resolved, or
//!   unresolved past it);
//! - **on time** = valid tickets resolved by the resolve deadline in force ÷
//!   the same denominator as completion;
//! - **satisfaction** = latest rating satisfied or basically satisfied ÷
//!   rated;
//! - **in grid** (小事不出网格) = resolved by the grid's or community's own
//!   people and never escalated beyond the community ÷ resolved. Own people
//!   are grid workers, volunteers, and community or volunteer teams; a
//!   department, a backup agency (a department's staff) and a member of one
//!   are not, whatever the tier. Who resolved is the holder at the
//!   resolution, and a team's kind (or a volunteer's team) is taken as the
//!   log stood then;
//! - **closed loop** = closed ÷ resolved tickets due to be closed (closed,
//!   or past the feedback window of the resolution standing);
//! - time to accept and to resolve: median, 90th percentile, maximum.
//!
//! Every rate keeps its numerator and denominator; an empty denominator is
//! "no data", never 0% or 100%. A ticket cancelled before a deadline came
//! never becomes due against it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use gridloop_engine::due::Due;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CategoryCode, ItemCode, TeamId, TicketId, VolunteerId};
use gridloop_engine::ticket::{Assignee, Rating, TicketEvent, Tier};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_engine::world::{TeamKind, WorldEvent};

use crate::ProjectionError;
use crate::calendar::{Period, bucket};
use crate::runner::Projection;

/// One thing that happened to a ticket, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// Taken: accepted, self-handled by a grid worker, or assigned.
    Taken,
    /// Escalated to this tier.
    Escalated(Tier),
    /// Resolved by its holder (the mark's `by` says who, as the in-grid rate
    /// sorts them).
    Resolved,
    /// Reopened, with the new resolve deadline.
    Reopened(Timestamp),
    /// Rated by the resident; a later rating replaces an earlier one.
    Rated(Rating),
    /// Closed: the loop is complete.
    Closed,
    /// Cancelled (it counts against validity only if nobody had taken it).
    Cancelled,
    /// Marked a duplicate of another ticket: not a valid ticket.
    Duplicate,
    /// Returned by the department that held it (退单).
    Returned,
    /// The dispatcher insisted on a return: the department holds it again.
    Insisted,
    /// The dispatcher re-routed a returned ticket (assigned it elsewhere,
    /// offered it, or passed it up).
    Rerouted,
    /// The holder asked for an extension (延期).
    ExtensionAsked,
    /// An extension was granted: the resolve deadline in force from then.
    Extended(Timestamp),
    /// An extension was refused.
    ExtensionRefused,
    /// Urged (催办).
    Urged,
}

/// One [`What`] and when it happened, in a ticket's time-ordered list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// When it happened (the event's `occurred_at`).
    pub at: Timestamp,
    /// What happened.
    pub what: What,
    /// For a resolution, who resolved. Snapshots written before resolvers
    /// were kept have none, and their resolutions are judged by the last
    /// holder alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Resolver>,
    /// For a resolution, the end of its feedback window: the ticket is due
    /// to be closed from then. Snapshots written before it was kept have
    /// none, and such a resolution is due to be closed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_by: Option<Timestamp>,
}

/// Who resolved a ticket, as the in-grid rate sorts them. It is decided
/// when the resolution is folded, so that a team revised or a volunteer
/// transferred later does not rewrite what the rate said then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolver {
    /// The grid's or community's own people: a grid worker, a volunteer, a
    /// community team or a volunteer team.
    Own,
    /// A department, a backup agency, or a volunteer whose team is a backup
    /// agency: a department's staff.
    Outside,
    /// A team the log's world does not list (a log without a world import),
    /// so its kind is not known.
    UnknownTeam,
}

impl Resolver {
    /// Whether a resolution by this resolver stays in the grid. A team of
    /// unknown kind is not counted: the rate claims only what the log shows.
    pub fn is_own(self) -> bool {
        self == Resolver::Own
    }
}

/// What the metrics keep of one ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// The grid the ticket is in; scopes and place breakdowns use its ancestors.
    pub grid: GridCode,
    /// The catalogue item ordered.
    pub item: ItemCode,
    /// The item's category in the catalog as it stood at submission (none
    /// when the log holds no world that lists the item).
    #[serde(default)]
    pub category: Option<CategoryCode>,
    /// When the resident submitted it; cohorts select by this instant.
    pub submitted_at: Timestamp,
    /// The accept deadline set at submission: taken by then counts towards
    /// acceptance.
    pub accept_by: Timestamp,
    /// The resolve deadline set at submission; a reopening's mark carries the
    /// new one.
    pub resolve_by: Timestamp,
    /// The tier it started at: the district, in emergency mode.
    pub tier: Tier,
    /// The last holder, for the per-team and per-department breakdowns.
    pub holder: Option<Assignee>,
    /// What happened to it, oldest first.
    pub marks: Vec<Mark>,
}

/// A ticket as it stood at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsOf {
    /// When it was first taken, if by then.
    pub taken_at: Option<Timestamp>,
    /// When the resolution still standing was made; none if it was never
    /// resolved or was reopened since.
    pub resolved_at: Option<Timestamp>,
    /// The resolve deadline in force: the last reopening's, else the original.
    pub resolve_by: Timestamp,
    /// Whether the standing resolution came by the deadline in force then.
    pub resolved_on_time: bool,
    /// The resident's latest rating.
    pub rating: Option<Rating>,
    /// The highest tier it had been escalated to (its starting tier if never).
    pub highest_tier: Tier,
    /// Who resolved, for the latest resolution still standing.
    pub resolver: Option<Resolver>,
    /// Whether it was closed.
    pub closed: bool,
    /// When the feedback window of the standing resolution ends (none if it
    /// is not known or there is no standing resolution).
    pub feedback_by: Option<Timestamp>,
    /// When it was cancelled, if it was: its deadlines' clock stopped then.
    pub cancelled_at: Option<Timestamp>,
    /// Whether it was cancelled while nobody had taken it (then it is not
    /// valid).
    pub cancelled_before_taken: bool,
    /// Whether it was marked a duplicate (then it is not valid).
    pub duplicate: bool,
}

impl TicketFacts {
    /// Replays the marks up to `t`.
    pub fn as_of(&self, t: Timestamp) -> AsOf {
        let mut s = AsOf {
            taken_at: None,
            resolved_at: None,
            resolve_by: self.resolve_by,
            resolved_on_time: false,
            rating: None,
            highest_tier: self.tier,
            resolver: None,
            closed: false,
            feedback_by: None,
            cancelled_at: None,
            cancelled_before_taken: false,
            duplicate: false,
        };
        for mark in self.marks.iter().take_while(|m| m.at <= t) {
            match mark.what {
                What::Taken => s.taken_at = s.taken_at.or(Some(mark.at)),
                What::Escalated(tier) => s.highest_tier = s.highest_tier.max(tier),
                What::Resolved => {
                    s.resolved_at = Some(mark.at);
                    s.resolved_on_time = mark.at <= s.resolve_by;
                    s.resolver = mark.by;
                    s.feedback_by = mark.feedback_by;
                }
                What::Reopened(resolve_by) => {
                    s.resolved_at = None;
                    s.resolver = None;
                    s.feedback_by = None;
                    s.resolve_by = resolve_by;
                }
                What::Rated(rating) => s.rating = Some(rating),
                What::Closed => s.closed = true,
                What::Cancelled => {
                    s.cancelled_before_taken = s.taken_at.is_none();
                    s.cancelled_at = Some(mark.at);
                }
                What::Duplicate => s.duplicate = true,
                What::Extended(resolve_by) => s.resolve_by = resolve_by,
                What::Returned
                | What::Insisted
                | What::Rerouted
                | What::ExtensionAsked
                | What::ExtensionRefused
                | What::Urged => {}
            }
        }
        s
    }
}

impl AsOf {
    /// How the ticket stood against its accept deadline (`accept_by`, the
    /// submission's) as of `t`, by the engine's rule.
    pub fn acceptance(&self, accept_by: Timestamp, t: Timestamp) -> Due {
        Due::judge(accept_by, self.taken_at, self.cancelled_at, t)
    }

    /// How it stood against the resolve deadline in force as of `t`.
    pub fn resolution(&self, t: Timestamp) -> Due {
        Due::judge(self.resolve_by, self.resolved_at, self.cancelled_at, t)
    }

    /// Whether, as of `t`, it was due to be closed: closed, or resolved and
    /// past the feedback window (at once when the window is not known).
    pub fn due_to_close(&self, t: Timestamp) -> bool {
        self.resolved_at.is_some() && (self.closed || self.feedback_by.is_none_or(|by| by <= t))
    }
}

/// Tickets submitted in `[from, to)` under `scope` (or everywhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    /// The cohort's start: tickets submitted at or after it.
    pub from: Timestamp,
    /// The cohort's end: tickets submitted before it.
    pub to: Timestamp,
    /// Only tickets inside this place (any level of the grid tree); `None`
    /// for the whole log.
    pub scope: Option<GridCode>,
}

/// A rate with its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// The tickets that meet the rate's condition.
    pub numerator: u64,
    /// The tickets the rate is taken over; 0 means no data.
    pub denominator: u64,
}

impl Rate {
    /// Per mille, rounded half up, or `None` for no data.
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
    /// The median (nearest rank).
    pub median: Millis,
    /// The 90th percentile (nearest rank).
    pub p90: Millis,
    /// The longest.
    pub max: Millis,
}

impl Spread {
    /// Nearest-rank percentiles; `None` for an empty set.
    pub fn of(mut values: Vec<Millis>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort();
        let rank = |q: usize| values[(values.len() * q).div_ceil(100).max(1) - 1];
        Some(Spread { median: rank(50), p90: rank(90), max: rank(100) })
    }
}

/// The metrics of one cohort as of one instant (see the module doc for
/// the definitions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rates {
    /// Tickets of the cohort submitted by the instant.
    pub submitted: u64,
    /// Submitted, less those cancelled before anyone took them and those
    /// marked duplicate.
    pub valid: u64,
    /// Valid tickets taken by their accept deadline ÷ valid tickets due
    /// against it: taken, or untaken past it (受理率).
    pub acceptance: Rate,
    /// Valid tickets resolved and not reopened since ÷ valid tickets due
    /// against the resolve deadline in force: resolved, or unresolved past
    /// it (办结率, over 应结案).
    pub completion: Rate,
    /// Resolved by the resolve deadline in force ÷ the same tickets due as
    /// completion's (按期办结率).
    pub on_time: Rate,
    /// Latest rating satisfied or basically satisfied ÷ rated (满意率).
    pub satisfaction: Rate,
    /// Resolved by the grid's or community's own people and never escalated
    /// beyond the community ÷ resolved (小事不出网格).
    pub in_grid: Rate,
    /// Closed ÷ resolved tickets due to be closed: closed, or past their
    /// feedback window (闭环率).
    pub closed_loop: Rate,
    /// Time from submission to being taken; `None` when none was taken.
    pub time_to_accept: Option<Spread>,
    /// Time from submission to the standing resolution; `None` when none was
    /// resolved.
    pub time_to_resolve: Option<Spread>,
    /// Returns, extensions and urges of the cohort's tickets by the instant.
    pub supervision: Supervision,
}

/// What supervision a cohort's tickets saw (退单, 延期, 催办): counts of
/// events by the instant, each return's arbitration, each extension's
/// answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Supervision {
    /// Returns by departments (退单).
    pub returned: u64,
    /// Returns the dispatcher overruled: the department holds it again.
    pub insisted: u64,
    /// Returns the dispatcher upheld by sending the ticket elsewhere.
    pub rerouted: u64,
    /// Extensions asked (延期).
    pub extensions_asked: u64,
    /// Extensions granted.
    pub extensions_granted: u64,
    /// Extensions refused.
    pub extensions_refused: u64,
    /// Urges (催办).
    pub urged: u64,
    /// Tickets urged at least once.
    pub tickets_urged: u64,
}

impl Supervision {
    fn count(&mut self, facts: &TicketFacts, t: Timestamp) {
        let mut urged = false;
        for mark in facts.marks.iter().take_while(|m| m.at <= t) {
            match mark.what {
                What::Returned => self.returned += 1,
                What::Insisted => self.insisted += 1,
                What::Rerouted => self.rerouted += 1,
                What::ExtensionAsked => self.extensions_asked += 1,
                What::Extended(_) => self.extensions_granted += 1,
                What::ExtensionRefused => self.extensions_refused += 1,
                What::Urged => {
                    self.urged += 1;
                    urged = true;
                }
                _ => {}
            }
        }
        self.tickets_urged += u64::from(urged);
    }
}

/// How to break a cohort down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// Per street, community, grid... (the ancestor at that level).
    Place(Level),
    /// Per department that last held the ticket.
    Department,
    /// Per team that last held it, or whose volunteer last held it.
    Team,
    /// Per category of the item, as the catalogue stood at submission.
    Category,
    /// Per day, week or month of submission (China Standard Time).
    Period(Period),
}

impl By {
    /// What `--by` and `by=` name: street, community, grid, department,
    /// team, category, day, week or month.
    pub fn parse(text: &str) -> Option<By> {
        Some(match text {
            "street" => By::Place(Level::Street),
            "community" => By::Place(Level::Community),
            "grid" => By::Place(Level::Grid),
            "department" => By::Department,
            "team" => By::Team,
            "category" => By::Category,
            other => By::Period(Period::parse(other)?),
        })
    }
}

impl Cohort {
    /// The earliest instant a cohort may start: 2000-01-01, the engine's
    /// first supported year.
    pub fn earliest() -> Timestamp {
        Timestamp::from_millis(946_684_800_000).expect("year 2000 is in range")
    }
}

/// The metrics projection: per ticket, its [`TicketFacts`], plus the
/// volunteers' teams, teams' kinds and items' categories the world and
/// volunteer streams set, to evaluate any [`Cohort`] as of any instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    tickets: BTreeMap<u64, TicketFacts>,
    teams: BTreeMap<VolunteerId, TeamId>,
    /// Each team's kind as the world stream last set it. A disbanded team
    /// keeps its last kind: a resolution it made stays what it was.
    #[serde(default)]
    team_kinds: BTreeMap<TeamId, TeamKind>,
    /// Each item's category as the world stream last set it.
    #[serde(default)]
    categories: BTreeMap<ItemCode, CategoryCode>,
}

impl Projection for Metrics {
    const NAME: &'static str = "metrics";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.kind() {
            "ticket" => self.apply_ticket(event),
            "volunteer" => {
                match event.decode()? {
                    VolunteerEvent::Registered { volunteer, team, .. } => {
                        self.teams.insert(volunteer, team);
                    }
                    VolunteerEvent::Transferred { team, .. } => {
                        self.teams.insert(VolunteerId::new(event.stream.id())?, team);
                    }
                    _ => {}
                }
                Ok(())
            }
            "world" => {
                match event.decode()? {
                    WorldEvent::ItemProposed { item } | WorldEvent::ItemRevised { item } => {
                        self.categories.insert(item.code, item.category);
                    }
                    WorldEvent::TeamFormed { team } | WorldEvent::TeamRevised { team } => {
                        self.team_kinds.insert(team.id, team.kind);
                    }
                    _ => {}
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Metrics {
    /// An empty projection, at position 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every ticket's facts, in ticket-number order.
    pub fn tickets(&self) -> impl Iterator<Item = (TicketId, &TicketFacts)> {
        self.tickets.iter().map(|(n, f)| (TicketId::from_number(*n), f))
    }

    fn apply_ticket(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let number = TicketId::new(event.stream.id())?.number();
        let payload: TicketEvent = event.decode()?;
        let at = event.occurred_at;
        // Which resolve deadline the on-time rate judges is the engine's
        // rule: the submission's, then each reopening's.
        let judged = payload.judged_resolve_by();
        if let (TicketEvent::Submitted { grid, item, accept_by, tier, .. }, Some(resolve_by)) = (&payload, judged) {
            let facts = TicketFacts {
                grid: grid.clone(),
                item: item.clone(),
                category: self.categories.get(item).cloned(),
                submitted_at: at,
                accept_by: *accept_by,
                resolve_by,
                tier: *tier,
                holder: None,
                marks: vec![],
            };
            self.tickets.insert(number, facts);
            return Ok(());
        }
        let by = match &payload {
            TicketEvent::Resolved { by, .. } => Some(self.resolver(by)),
            _ => None,
        };
        let feedback_by = match &payload {
            TicketEvent::Resolved { feedback_by, .. } => Some(*feedback_by),
            _ => None,
        };
        let facts = self
            .tickets
            .get_mut(&number)
            .ok_or_else(|| ProjectionError::OutOfOrder { stream: event.stream.to_string(), version: event.version })?;
        // A return not yet arbitrated is re-routed by whatever next sends
        // the ticket elsewhere; `Insist` is its other outcome.
        let open_return = facts.marks.iter().rev().find_map(|m| match m.what {
            What::Returned => Some(true),
            What::Insisted | What::Rerouted => Some(false),
            _ => None,
        }) == Some(true);
        let rerouting = matches!(
            payload,
            TicketEvent::SelfHandled { .. }
                | TicketEvent::Reassigned { .. }
                | TicketEvent::Offered { .. }
                | TicketEvent::Escalated { .. }
        );
        if open_return && rerouting {
            facts.marks.push(Mark { at, what: What::Rerouted, by: None, feedback_by: None });
        }
        let what = match payload {
            TicketEvent::SelfHandled { worker } => {
                facts.holder = Some(Assignee::GridWorker(worker));
                What::Taken
            }
            TicketEvent::Accepted { by, .. } => {
                facts.holder = Some(by);
                What::Taken
            }
            TicketEvent::Reassigned { to, .. } => {
                facts.holder = Some(to);
                What::Taken
            }
            TicketEvent::Escalated { to, .. } => What::Escalated(to),
            TicketEvent::Resolved { .. } => What::Resolved,
            TicketEvent::Reopened { .. } => match judged {
                Some(resolve_by) => What::Reopened(resolve_by),
                None => return Ok(()),
            },
            TicketEvent::FeedbackGiven { rating, .. } => What::Rated(rating),
            TicketEvent::Closed { .. } => What::Closed,
            TicketEvent::Cancelled { .. } => What::Cancelled,
            TicketEvent::MarkedDuplicate { .. } => What::Duplicate,
            TicketEvent::Returned { .. } => What::Returned,
            TicketEvent::ReturnOverruled { to, .. } => {
                facts.holder = Some(to);
                What::Insisted
            }
            TicketEvent::ExtensionAsked { .. } => What::ExtensionAsked,
            TicketEvent::ExtensionGranted { .. } => match judged {
                Some(resolve_by) => What::Extended(resolve_by),
                None => return Ok(()),
            },
            TicketEvent::ExtensionRefused { .. } => What::ExtensionRefused,
            TicketEvent::Urged { .. } => What::Urged,
            _ => return Ok(()),
        };
        facts.marks.push(Mark { at, what, by, feedback_by });
        Ok(())
    }

    /// Sorts the holder at a resolution by the teams and team kinds folded
    /// so far, that is, as they stood when it resolved.
    fn resolver(&self, holder: &Assignee) -> Resolver {
        let kind_of = |team: &TeamId| self.team_kinds.get(team).copied();
        match holder {
            Assignee::GridWorker(_) => Resolver::Own,
            Assignee::Department(_) => Resolver::Outside,
            Assignee::Team(team) => match kind_of(team) {
                Some(TeamKind::Community | TeamKind::Volunteer) => Resolver::Own,
                Some(TeamKind::BackupAgency) => Resolver::Outside,
                None => Resolver::UnknownTeam,
            },
            // A volunteer is the community's own unless their team is a
            // backup agency, whose members are a department's staff.
            Assignee::Volunteer(v) => match self.teams.get(v).and_then(kind_of) {
                Some(TeamKind::BackupAgency) => Resolver::Outside,
                _ => Resolver::Own,
            },
        }
    }

    /// The rates of a cohort, as of `as_of`.
    pub fn rates(&self, cohort: &Cohort, as_of: Timestamp) -> Rates {
        let mut tally = Tally::default();
        for facts in self.cohort(cohort) {
            tally.count(facts, as_of);
        }
        tally.finish()
    }

    /// The rates of a cohort broken down by `by`, keyed in order.
    pub fn rates_by(&self, cohort: &Cohort, as_of: Timestamp, by: By) -> BTreeMap<String, Rates> {
        let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
        for facts in self.cohort(cohort) {
            if let Some(key) = self.key(facts, by) {
                tallies.entry(key).or_default().count(facts, as_of);
            }
        }
        tallies.into_iter().map(|(k, t)| (k, t.finish())).collect()
    }

    fn cohort<'a>(&'a self, cohort: &'a Cohort) -> impl Iterator<Item = &'a TicketFacts> {
        self.tickets.values().filter(move |t| {
            t.submitted_at >= cohort.from
                && t.submitted_at < cohort.to
                && cohort.scope.as_ref().is_none_or(|s| t.grid.is_within(s))
        })
    }

    fn key(&self, facts: &TicketFacts, by: By) -> Option<String> {
        match by {
            By::Place(level) => facts.grid.at_level(level).map(|g| g.to_string()),
            By::Department => match &facts.holder {
                Some(Assignee::Department(d)) => Some(d.to_string()),
                _ => None,
            },
            By::Team => match &facts.holder {
                Some(Assignee::Team(t)) => Some(t.to_string()),
                Some(Assignee::Volunteer(v)) => self.teams.get(v).map(ToString::to_string),
                _ => None,
            },
            By::Category => Some(facts.category.as_ref().map_or("uncategorised", |c| c.as_str()).to_string()),
            By::Period(period) => Some(bucket(facts.submitted_at, period)),
        }
    }
}

#[derive(Default)]
struct Tally {
    submitted: u64,
    valid: u64,
    taken_on_time: u64,
    accept_due: u64,
    completed: u64,
    on_time: u64,
    resolve_due: u64,
    satisfied: u64,
    rated: u64,
    resolved: u64,
    in_grid: u64,
    closed: u64,
    close_due: u64,
    to_accept: Vec<Millis>,
    to_resolve: Vec<Millis>,
    supervision: Supervision,
}

impl Tally {
    fn count(&mut self, facts: &TicketFacts, t: Timestamp) {
        if facts.submitted_at > t {
            return;
        }
        self.submitted += 1;
        self.supervision.count(facts, t);
        let s = facts.as_of(t);
        if s.cancelled_before_taken || s.duplicate {
            return;
        }
        self.valid += 1;
        let accept = s.acceptance(facts.accept_by, t);
        self.accept_due += u64::from(accept.is_due());
        self.taken_on_time += u64::from(accept == Due::Met);
        if let Some(taken) = s.taken_at {
            self.to_accept.push(taken.since(facts.submitted_at));
        }
        let resolve = s.resolution(t);
        self.resolve_due += u64::from(resolve.is_due());
        self.on_time += u64::from(resolve == Due::Met);
        if let Some(resolved) = s.resolved_at {
            self.resolved += 1;
            self.completed += 1;
            self.in_grid += u64::from(s.highest_tier <= Tier::Community && resolved_by_own(facts, &s));
            self.to_resolve.push(resolved.since(facts.submitted_at));
        }
        if s.due_to_close(t) {
            self.close_due += 1;
            self.closed += u64::from(s.closed);
        }
        if let Some(rating) = s.rating {
            self.rated += 1;
            self.satisfied += u64::from(rating != Rating::Unsatisfied);
        }
    }

    fn finish(self) -> Rates {
        let rate = |numerator, denominator| Rate { numerator, denominator };
        Rates {
            submitted: self.submitted,
            valid: self.valid,
            acceptance: rate(self.taken_on_time, self.accept_due),
            completion: rate(self.completed, self.resolve_due),
            on_time: rate(self.on_time, self.resolve_due),
            satisfaction: rate(self.satisfied, self.rated),
            in_grid: rate(self.in_grid, self.resolved),
            closed_loop: rate(self.closed, self.close_due),
            time_to_accept: Spread::of(self.to_accept),
            time_to_resolve: Spread::of(self.to_resolve),
            supervision: self.supervision,
        }
    }
}

/// Whether the standing resolution was made by the grid's or community's
/// own people. A resolution folded before resolvers were kept (a snapshot
/// from an older version) is judged by the last holder alone, which is all
/// such a snapshot knows: a department is outside, anyone else is counted.
fn resolved_by_own(facts: &TicketFacts, s: &AsOf) -> bool {
    match s.resolver {
        Some(resolver) => resolver.is_own(),
        None => !matches!(facts.holder, Some(Assignee::Department(_))),
    }
}
