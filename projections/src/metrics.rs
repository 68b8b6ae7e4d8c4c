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

use std::collections::{BTreeMap, BTreeSet};
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
use crate::calendar::{Period, bucket, local_day};
use crate::cold::{self, Cold, SCAN_KEYS_MAX, numbered_key};
use crate::runner::Projection;

mod counters;

use counters::{Bucket, Histogram};

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
    /// When it became final (closed, cancelled or marked a duplicate), if
    /// it did: nothing the metrics count happens to it after that.
    pub fn final_at(&self) -> Option<Timestamp> {
        self.marks.iter().find(|m| matches!(m.what, What::Closed | What::Cancelled | What::Duplicate)).map(|m| m.at)
    }

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
    /// Durations are counted in whole seconds, exactly below 2048 s and
    /// then to 11 significant bits (within 0.1%, rounded down), so that
    /// counters of any window merge at a bounded cost.
    pub time_to_accept: Option<Spread>,
    /// Time from submission to the standing resolution; `None` when none was
    /// resolved. Same resolution as `time_to_accept`.
    pub time_to_resolve: Option<Spread>,
    /// Returns, extensions and urges of the cohort's tickets by the instant.
    pub supervision: Supervision,
}

/// What supervision a cohort's tickets saw (退单, 延期, 催办): counts of
/// events by the instant, each return's arbitration, each extension's
/// answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

    fn merge(&mut self, other: &Supervision) {
        self.returned += other.returned;
        self.insisted += other.insisted;
        self.rerouted += other.rerouted;
        self.extensions_asked += other.extensions_asked;
        self.extensions_granted += other.extensions_granted;
        self.extensions_refused += other.extensions_refused;
        self.urged += other.urged;
        self.tickets_urged += other.tickets_urged;
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

/// The metrics projection: per open ticket, its [`TicketFacts`]; per day
/// of submission, grid and item, the counters of the settled ones (cold
/// rows, see [`counters`]); plus the volunteers' teams, teams' kinds and
/// items' categories the world and volunteer streams set, to evaluate any
/// [`Cohort`] as of any instant.
///
/// Until it is [attached](Projection::attach) to a cold store, nothing
/// settles: every ticket's facts stay in memory, as a plain fold of the
/// events (what the tests' oracle and `replay` into nothing use).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// The tickets not settled yet (every ticket when not attached).
    tickets: BTreeMap<u64, TicketFacts>,
    /// The local days of submission that have settled tickets in the cold
    /// store: a few hundred numbers a year.
    #[serde(default)]
    days: BTreeSet<i64>,
    teams: BTreeMap<VolunteerId, TeamId>,
    /// Each team's kind as the world stream last set it. A disbanded team
    /// keeps its last kind: a resolution it made stays what it was.
    #[serde(default)]
    team_kinds: BTreeMap<TeamId, TeamKind>,
    /// Each item's category as the world stream last set it.
    #[serde(default)]
    categories: BTreeMap<ItemCode, CategoryCode>,
    #[serde(skip)]
    cold: Attached,
}

/// The cold store a projection was attached to. It is not part of the
/// state: two states are equal whatever store holds their rows.
#[derive(Clone, Debug, Default)]
struct Attached(Option<Cold>);

impl PartialEq for Attached {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Attached {}

impl Projection for Metrics {
    const NAME: &'static str = "metrics";
    /// 2: settled tickets are counters and cold rows.
    const VERSION: u32 = 3;

    fn attach(&mut self, cold: &Cold) {
        self.cold = Attached(Some(cold.clone()));
    }

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

    /// The facts held in memory, in ticket-number order: every ticket's
    /// when not attached, the tickets not settled yet when attached (see
    /// [`active_since`](Self::active_since) for the settled ones a report
    /// needs).
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
        let Some(facts) = self.tickets.get_mut(&number) else {
            // A settled ticket is final: the engine takes no counted event
            // for it (a note, a follow may still come), so it is let be.
            if self.cold.0.is_some() {
                return Ok(());
            }
            return Err(ProjectionError::OutOfOrder { stream: event.stream.to_string(), version: event.version });
        };
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
        if matches!(what, What::Closed | What::Cancelled | What::Duplicate) {
            self.settle(number)?;
        }
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

    /// The rates of a cohort, as of `as_of`. A cold store that fails to
    /// read is logged and its rows left out; [`try_rates`](Self::try_rates)
    /// says so instead.
    pub fn rates(&self, cohort: &Cohort, as_of: Timestamp) -> Rates {
        self.try_rates(cohort, as_of).unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics: the cold store failed; rates of open tickets only");
            let mut tallies = BTreeMap::new();
            self.count_open(cohort, as_of, &|_| Some(String::new()), &mut tallies);
            tallies.remove("").unwrap_or_default().finish()
        })
    }

    /// The rates of a cohort broken down by `by`, keyed in order (a failing
    /// cold store as for [`rates`](Self::rates)).
    pub fn rates_by(&self, cohort: &Cohort, as_of: Timestamp, by: By) -> BTreeMap<String, Rates> {
        self.try_rates_by(cohort, as_of, by).unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics: the cold store failed; rates of open tickets only");
            let mut tallies = BTreeMap::new();
            self.count_open(cohort, as_of, &|key| key.of(self, by), &mut tallies);
            tallies.into_iter().map(|(k, t)| (k, t.finish())).collect()
        })
    }

    /// The rates of a cohort, as of `as_of`: the open tickets evaluated one
    /// by one, the settled ones from their day's counters.
    pub fn try_rates(&self, cohort: &Cohort, as_of: Timestamp) -> Result<Rates, ProjectionError> {
        let mut tallies = BTreeMap::new();
        self.count_open(cohort, as_of, &|_| Some(String::new()), &mut tallies);
        self.count_settled(cohort, as_of, None, &|_| Some(String::new()), &mut tallies)?;
        Ok(tallies.remove("").unwrap_or_default().finish())
    }

    /// The rates of a cohort broken down by `by`, keyed in order. Every
    /// breakdown is exact from the counters: a bucket's grid gives the
    /// place, its day the period, and its classes the category and last
    /// holder (a volunteer's team is looked up now, as for an open ticket).
    pub fn try_rates_by(
        &self,
        cohort: &Cohort,
        as_of: Timestamp,
        by: By,
    ) -> Result<BTreeMap<String, Rates>, ProjectionError> {
        let mut tallies = BTreeMap::new();
        self.count_open(cohort, as_of, &|key| key.of(self, by), &mut tallies);
        let place = match by {
            By::Place(level) => Some(level),
            _ => None,
        };
        self.count_settled(cohort, as_of, place, &|key| key.of(self, by), &mut tallies)?;
        Ok(tallies.into_iter().map(|(k, t)| (k, t.finish())).collect())
    }

    /// Counts the open tickets of the cohort into the tally of the key
    /// `key` gives each (none: left out of the breakdown).
    fn count_open(&self, cohort: &Cohort, as_of: Timestamp, key: &KeyFn<'_>, tallies: &mut Tallies) {
        for facts in self.tickets.values().filter(|t| cohort.holds(t)) {
            if let Some(key) = key(Key::of_facts(facts)) {
                tallies.entry(key).or_default().count(facts, as_of);
            }
        }
    }

    /// Counts the settled tickets of the cohort: a bucket whose day lies
    /// wholly in the cohort and that settled by `as_of` adds its counters;
    /// any other evaluates its facts one by one.
    fn count_settled(
        &self,
        cohort: &Cohort,
        as_of: Timestamp,
        place: Option<Level>,
        key: &KeyFn<'_>,
        tallies: &mut Tallies,
    ) -> Result<(), ProjectionError> {
        let Some(cold) = &self.cold.0 else { return Ok(()) };
        let Some(last) = cohort.to.as_millis().checked_sub(1).and_then(|ms| Timestamp::from_millis(ms).ok()) else {
            return Ok(());
        };
        let rollup = rollup_level(cohort.scope.as_ref(), place);
        for &day in self.days.range(local_day(cohort.from)..=local_day(last)) {
            let whole = day_start(day) >= cohort.from && day_start(day + 1) <= cohort.to;
            if let Some(level) = rollup.filter(|_| whole) {
                self.count_rollups(cold, cohort, as_of, (level, day), key, tallies)?;
                continue;
            }
            if !whole {
                // A day cut by the cohort's bounds is judged ticket by
                // ticket: its facts in one scan, not one scan per bucket.
                for (_, row) in scan_all(cold, &counters::facts_scope_prefix(day, cohort.scope.as_ref()))? {
                    let facts: TicketFacts = counters::decode(&row)?;
                    if cohort.holds(&facts) {
                        if let Some(key) = key(Key::of_facts(&facts)) {
                            tallies.entry(key).or_default().count(&facts, as_of);
                        }
                    }
                }
                continue;
            }
            for (_, row) in scan_all(cold, &counters::scope_prefix(day, cohort.scope.as_ref()))? {
                let bucket: Bucket = counters::decode(&row)?;
                if cohort.scope.as_ref().is_some_and(|s| !bucket.grid.is_within(s)) {
                    continue;
                }
                if whole && as_of >= bucket.settled_max {
                    add_classes(&bucket, day, key, tallies);
                    continue;
                }
                for (_, row) in scan_all(cold, &counters::facts_prefix(day, &bucket.grid, &bucket.item))? {
                    let facts: TicketFacts = counters::decode(&row)?;
                    if cohort.holds(&facts) && facts.grid == bucket.grid && facts.item == bucket.item {
                        if let Some(key) = key(Key::of_facts(&facts)) {
                            tallies.entry(key).or_default().count(&facts, as_of);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts one whole day of settled tickets from the roll-ups of the
    /// places at `level` within the cohort's scope: a roll-up settled by
    /// `as_of` adds its counters; one not yet settled then has its facts
    /// evaluated one by one (an as-of in the past).
    fn count_rollups(
        &self,
        cold: &Cold,
        cohort: &Cohort,
        as_of: Timestamp,
        (level, day): (Level, i64),
        key: &KeyFn<'_>,
        tallies: &mut Tallies,
    ) -> Result<(), ProjectionError> {
        for (_, row) in scan_all(cold, &counters::rollup_prefix(level, day, cohort.scope.as_ref()))? {
            let rollup: Bucket = counters::decode(&row)?;
            if cohort.scope.as_ref().is_some_and(|s| !rollup.grid.is_within(s)) {
                continue;
            }
            if as_of >= rollup.settled_max {
                add_classes(&rollup, day, key, tallies);
                continue;
            }
            for (_, row) in scan_all(cold, &counters::facts_day_prefix(day, &rollup.grid))? {
                let facts: TicketFacts = counters::decode(&row)?;
                if cohort.holds(&facts) && facts.grid.is_within(&rollup.grid) {
                    if let Some(key) = key(Key::of_facts(&facts)) {
                        tallies.entry(key).or_default().count(&facts, as_of);
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves a final ticket's facts to the cold store and adds it to its
    /// bucket's counters (when attached; otherwise it stays in memory).
    fn settle(&mut self, number: u64) -> Result<(), ProjectionError> {
        let Some(cold) = self.cold.0.clone() else { return Ok(()) };
        let Some(settled_at) = self.tickets.get(&number).and_then(counters::settles_at) else { return Ok(()) };
        let Some(facts) = self.tickets.remove(&number) else { return Ok(()) };
        let day = local_day(facts.submitted_at);
        let key = counters::bucket_key(day, &facts.grid, &facts.item);
        let mut bucket = match cold.get(&key)? {
            Some(row) => counters::decode(&row)?,
            None => Bucket::new(&facts, day),
        };
        bucket.add(&facts, settled_at);
        cold.put(key, counters::encode(&bucket));
        for level in counters::ROLLUP_LEVELS {
            let Some(place) = facts.grid.at_level(level) else { continue };
            let key = counters::rollup_key(level, day, &place);
            let mut rollup = match cold.get(&key)? {
                Some(row) => counters::decode(&row)?,
                None => Bucket { grid: place, ..Bucket::new(&facts, day) },
            };
            rollup.add(&facts, settled_at);
            cold.put(key, counters::encode(&rollup));
        }
        let facts_key = numbered_key(&counters::facts_prefix(day, &facts.grid, &facts.item), number);
        let final_at = facts.marks.last().map_or(facts.submitted_at, |m| m.at);
        cold.put(numbered_key(&counters::settled_prefix(local_day(final_at)), number), facts_key.clone());
        cold.put(facts_key, counters::encode(&facts));
        self.days.insert(day);
        Ok(())
    }

    /// When the first ticket inside `scope` was submitted, settled or not.
    pub fn first_submitted(&self, scope: &GridCode) -> Result<Option<Timestamp>, ProjectionError> {
        let mut first = self.tickets.values().filter(|f| f.grid.is_within(scope)).map(|f| f.submitted_at).min();
        if let Some(cold) = &self.cold.0 {
            for &day in &self.days {
                if first.is_some_and(|at| at < day_start(day)) {
                    break;
                }
                for (_, row) in scan_all(cold, &counters::scope_prefix(day, Some(scope)))? {
                    let bucket: Bucket = counters::decode(&row)?;
                    if bucket.grid.is_within(scope) {
                        first = Some(first.map_or(bucket.first, |at| at.min(bucket.first)));
                    }
                }
            }
        }
        Ok(first)
    }

    /// When the last ticket was submitted, settled or not.
    pub fn last_submitted(&self) -> Result<Option<Timestamp>, ProjectionError> {
        let mut last = self.tickets.values().map(|f| f.submitted_at).max();
        if let (Some(cold), Some(&day)) = (&self.cold.0, self.days.last()) {
            for (_, row) in scan_all(cold, &counters::day_prefix(day))? {
                let bucket: Bucket = counters::decode(&row)?;
                last = Some(last.map_or(bucket.last, |at| at.max(bucket.last)));
            }
        }
        Ok(last)
    }

    /// The tickets inside `scope` that were open at `since` or opened
    /// later: the open ones, and the settled ones whose final mark came at
    /// or after `since` (read from the cold store by the day of that mark,
    /// so the cost follows the tickets settled since, not the history).
    pub fn active_since(
        &self,
        scope: &GridCode,
        since: Timestamp,
    ) -> Result<Vec<(TicketId, TicketFacts)>, ProjectionError> {
        let mut found: BTreeMap<u64, TicketFacts> =
            self.tickets.iter().filter(|(_, f)| f.grid.is_within(scope)).map(|(n, f)| (*n, f.clone())).collect();
        if let Some(cold) = &self.cold.0 {
            // Every key of the day of `since` and after sorts past the day's
            // prefix without its final `/`.
            let mut after = counters::settled_prefix(local_day(since));
            after.pop();
            loop {
                let rows = cold.scan(b"metrics/s/", Some(&after), false, SCAN_KEYS_MAX)?;
                let Some((last, _)) = rows.last() else { break };
                after = last.clone();
                for (key, facts_key) in &rows {
                    let Some(row) = cold.get(facts_key)? else { continue };
                    let facts: TicketFacts = counters::decode(&row)?;
                    let final_at = facts.marks.last().map_or(facts.submitted_at, |m| m.at);
                    if facts.grid.is_within(scope) && final_at >= since {
                        let number = u64::from_be_bytes(key[key.len() - 8..].try_into().unwrap_or_default());
                        found.insert(number, facts);
                    }
                }
            }
        }
        Ok(found.into_iter().map(|(n, f)| (TicketId::from_number(n), f)).collect())
    }
}

/// Tallies by breakdown key.
type Tallies = BTreeMap<String, Tally>;

/// The breakdown key of a ticket or a bucket's class (none: left out).
type KeyFn<'k> = dyn Fn(Key<'_>) -> Option<String> + 'k;

/// What places a ticket (or a bucket's class) in a breakdown.
#[derive(Clone, Copy)]
struct Key<'a> {
    grid: &'a GridCode,
    category: Option<&'a CategoryCode>,
    holder: Option<&'a Assignee>,
    /// The submission, or the start of its day for a bucket (which falls
    /// in the same day, week and month).
    submitted_at: Timestamp,
}

impl<'a> Key<'a> {
    fn of_facts(facts: &'a TicketFacts) -> Self {
        Key {
            grid: &facts.grid,
            category: facts.category.as_ref(),
            holder: facts.holder.as_ref(),
            submitted_at: facts.submitted_at,
        }
    }

    fn of(self, metrics: &Metrics, by: By) -> Option<String> {
        match by {
            By::Place(level) => self.grid.at_level(level).map(|g| g.to_string()),
            By::Department => match self.holder {
                Some(Assignee::Department(d)) => Some(d.to_string()),
                _ => None,
            },
            By::Team => match self.holder {
                Some(Assignee::Team(t)) => Some(t.to_string()),
                Some(Assignee::Volunteer(v)) => metrics.teams.get(v).map(ToString::to_string),
                _ => None,
            },
            By::Category => Some(self.category.map_or("uncategorised", |c| c.as_str()).to_string()),
            By::Period(period) => Some(bucket(self.submitted_at, period)),
        }
    }
}

impl Cohort {
    /// Whether the cohort holds a ticket: submitted in it, inside its scope.
    fn holds(&self, facts: &TicketFacts) -> bool {
        facts.submitted_at >= self.from
            && facts.submitted_at < self.to
            && self.scope.as_ref().is_none_or(|s| facts.grid.is_within(s))
    }
}

/// Adds a settled bucket's (or roll-up's) counters, class by class, to the
/// tallies of the keys they fall under.
fn add_classes(bucket: &Bucket, day: i64, key: &KeyFn<'_>, tallies: &mut Tallies) {
    for (class, counts) in &bucket.classes {
        let class = Key {
            grid: &bucket.grid,
            category: class.category.as_ref(),
            holder: class.holder.as_ref(),
            submitted_at: day_start(day),
        };
        if let Some(key) = key(class) {
            tallies.entry(key).or_default().merge(counts);
        }
    }
}

/// The roll-up level a cohort reads its whole days from: its scope's level
/// (the district's without one), or finer when the breakdown is by places
/// of a finer level; `None` below grids (sub-grids keep no roll-up), where
/// the per-item buckets are read.
fn rollup_level(scope: Option<&GridCode>, place: Option<Level>) -> Option<Level> {
    let level = scope.map_or(Level::District, GridCode::level).max(place.unwrap_or(Level::District));
    counters::ROLLUP_LEVELS.contains(&level).then_some(level)
}

/// The instant local day `day` begins (China time).
fn day_start(day: i64) -> Timestamp {
    const DAY_MS: i64 = 86_400_000;
    const CST_OFFSET_MS: i64 = 8 * 3_600_000;
    Timestamp::from_millis(day.saturating_mul(DAY_MS) - CST_OFFSET_MS).unwrap_or_default()
}

/// Every entry under `prefix`, page by page.
fn scan_all(cold: &Cold, prefix: &[u8]) -> Result<Vec<cold::Entry>, ProjectionError> {
    let mut all = Vec::new();
    loop {
        let page = cold.scan(prefix, all.last().map(|(k, _): &cold::Entry| k.as_slice()), false, SCAN_KEYS_MAX)?;
        let done = page.len() < SCAN_KEYS_MAX;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// The numerators, denominators and durations of a set of tickets: what a
/// cohort sums, and what a settled bucket keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tally {
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
    to_accept: Histogram,
    to_resolve: Histogram,
    supervision: Supervision,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.submitted += other.submitted;
        self.valid += other.valid;
        self.taken_on_time += other.taken_on_time;
        self.accept_due += other.accept_due;
        self.completed += other.completed;
        self.on_time += other.on_time;
        self.resolve_due += other.resolve_due;
        self.satisfied += other.satisfied;
        self.rated += other.rated;
        self.resolved += other.resolved;
        self.in_grid += other.in_grid;
        self.closed += other.closed;
        self.close_due += other.close_due;
        self.to_accept.merge(&other.to_accept);
        self.to_resolve.merge(&other.to_resolve);
        self.supervision.merge(&other.supervision);
    }

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
            self.to_accept.add(taken.since(facts.submitted_at));
        }
        let resolve = s.resolution(t);
        self.resolve_due += u64::from(resolve.is_due());
        self.on_time += u64::from(resolve == Due::Met);
        if let Some(resolved) = s.resolved_at {
            self.resolved += 1;
            self.completed += 1;
            self.in_grid += u64::from(s.highest_tier <= Tier::Community && resolved_by_own(facts, &s));
            self.to_resolve.add(resolved.since(facts.submitted_at));
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
            time_to_accept: self.to_accept.spread(),
            time_to_resolve: self.to_resolve.spread(),
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
