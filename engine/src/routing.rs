//! The routing policy: for a ticket, by its catalog item and grid, who
//! handles it (社区派单: *the community dispatches*).
//!
//! [`route`] is a pure function of the item, the ticket's grid, the offer
//! round, the volunteers as a directory sees them ([`VolunteerView`]) and the
//! [`World`]. It reads no clock and no store: whoever calls it (the
//! dispatcher task, a dispatcher's screen, a bench) brings the volunteers'
//! current load, so the same inputs always give the same [`Route`].
//!
//! # The rules, in order
//!
//! 1. **Department items, and items not admitted to the grid catalog, go to
//!    the item's department.** An item a department pushed down without review
//!    stays that department's responsibility (the catalog's admission rule);
//!    a department item (巡办分离) is one the grids cannot handle at all.
//! 2. **Self-handle items (巡办合一) go to the grid worker**, who fixes them on
//!    the spot while patrolling: offering them to volunteers would only add
//!    a hop.
//! 3. **Volunteer items are offered to volunteers** chosen by their skills
//!    (按照志愿者的特长): a volunteer qualifies when they have *at least one* of
//!    the item's skills (the catalog lists alternatives: a tap can be fixed by
//!    a plumber or by a general repairer; requiring every listed skill would
//!    leave most items with nobody), is available, holds fewer open orders than
//!    their limit, was not excluded by the caller (declined or let the last
//!    offer lapse), and lives inside the round's **ring** of the grid tree:
//!
//!    | round | ring |
//!    | --- | --- |
//!    | 0 | the ticket's grid (a sub-grid ticket: its whole grid) |
//!    | 1 | its community |
//!    | 2 and later | its street |
//!
//!    Small matters should not leave the grid (小事不出网格), so the first
//!    offer stays in it; each expired offer widens the pool one level. The
//!    ring stops at the street: a volunteer sent across the district is no
//!    longer a neighbour, and a ticket nobody in the street takes is one to
//!    escalate, which the caller decides (after
//!    [`RoutingPolicy::offer_rounds_max`] rounds).
//!
//!    Candidates are ordered **nearest first** (same sub-grid, same grid, same
//!    community, same street: the fewest steps to walk), then **fairest first**
//!    (fewest orders within [`RoutingPolicy::fairness_window`], so that the
//!    same few willing people are not sent everything), then fewest open
//!    orders, then by id number, so that the order is total and the choice
//!    deterministic. At most [`RoutingPolicy::offers_max`] are offered (抢单:
//!    the first to accept wins).
//! 4. **When no volunteer fits the ring, the team that owns the grid** gets
//!    it: the team listed in [`World::teams`] for the grid or its nearest
//!    ancestor. A team answers through its dispatcher and can find someone
//!    the directory cannot see.
//! 5. **With no team either, the item's department** keeps it: something
//!    must own every ticket.
//!
//! # Bounds
//!
//! An offer names 1 to [`OFFER_CANDIDATES_MAX`] candidates whatever the
//! policy says (`offers_max` is clamped into that range), never the same
//! volunteer twice. The work is linear in the volunteers given, plus sorting
//! those that qualify.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalog::{CatalogItem, HandlingMode};
use crate::grid::{GridCode, Level};
use crate::ids::{DepartmentId, Skill, TeamId, VolunteerId};
use crate::ticket::{Assignee, OFFER_CANDIDATES_MAX, OFFER_ROUNDS_MAX, OFFER_WINDOW_MAX, Status, Ticket, Tier};
use crate::time::Millis;
use crate::{Error, World};

/// The knobs of routing and of the deadlines it sets. Loaded from
/// `fixtures/data/routing.toml` for the fixture district.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingPolicy {
    /// The most candidates one offer goes to.
    pub offers_max: usize,
    /// How long an offer stays open.
    pub offer_window: Millis,
    /// Offer rounds (each to a wider ring) before the ticket escalates.
    pub offer_rounds_max: u32,
    /// Orders within this span count as "recent" for fairness.
    pub fairness_window: Millis,
    /// How long a tier has to take an escalated or reopened ticket.
    pub respond_within: RespondWithin,
    /// How long a summoned department has to report (吹哨报到).
    pub summons_report_within: Millis,
    /// Unsatisfied feedback reopens one tier up instead of at the last
    /// holder's tier.
    pub reopen_one_up: bool,
}

/// How long each tier has to take an escalated or reopened ticket (a grid's
/// tickets answer to its community). Stored in events and written in
/// `routing.toml` as the array `[community, street, district]`, the form the
/// log has always held, so no upcaster is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[Millis; 3]", into = "[Millis; 3]")]
pub struct RespondWithin {
    /// How long the community tier (网格化管理站) has; a ticket reopened at the grid
    /// tier gets this too.
    pub community: Millis,
    /// How long the street tier (分中心) has.
    pub street: Millis,
    /// How long the district centre (管理中心) has.
    pub district: Millis,
}

impl From<[Millis; 3]> for RespondWithin {
    fn from([community, street, district]: [Millis; 3]) -> Self {
        Self { community, street, district }
    }
}

impl From<RespondWithin> for [Millis; 3] {
    fn from(r: RespondWithin) -> Self {
        [r.community, r.street, r.district]
    }
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            offers_max: 5,
            offer_window: Millis::minutes(30),
            offer_rounds_max: 3,
            fairness_window: Millis::days(30),
            respond_within: RespondWithin {
                community: Millis::hours(2),
                street: Millis::hours(4),
                district: Millis::hours(8),
            },
            summons_report_within: Millis::days(1),
            reopen_one_up: false,
        }
    }
}

/// The longest span any policy duration may have (a year, as in the catalog
/// files).
const POLICY_SPAN_MAX: Millis = Millis(366 * 24 * 60 * 60 * 1000);

impl RoutingPolicy {
    /// Checks every knob against the engine's bounds: 1 to 64 candidates an
    /// offer, 1 to 16 rounds, an offer window of at most 7 days, and every
    /// other span more than zero and at most a year. The error names the
    /// knob.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=OFFER_CANDIDATES_MAX).contains(&self.offers_max) {
            return Err(Error::invalid("offers_max", "must be 1 to 64"));
        }
        if self.offer_window.0 == 0 || self.offer_window > OFFER_WINDOW_MAX {
            return Err(Error::invalid("offer_window", "must be more than zero and at most 7 days"));
        }
        if !(1..=OFFER_ROUNDS_MAX).contains(&self.offer_rounds_max) {
            return Err(Error::invalid("offer_rounds_max", "must be 1 to 16"));
        }
        let spans = [
            ("fairness_window", self.fairness_window),
            ("respond_within", self.respond_within.community),
            ("respond_within", self.respond_within.street),
            ("respond_within", self.respond_within.district),
            ("summons_report_within", self.summons_report_within),
        ];
        for (field, span) in spans {
            if span.0 == 0 || span > POLICY_SPAN_MAX {
                return Err(Error::invalid(field, "must be more than zero and at most a year"));
            }
        }
        Ok(())
    }

    /// `offers_max` clamped to what an offer may carry (1 to 64).
    pub fn offers_cap(&self) -> usize {
        self.offers_max.clamp(1, OFFER_CANDIDATES_MAX)
    }
}

/// A volunteer as routing sees them: who, where, what they can do, and how
/// loaded they are now. Built by the volunteer directory projection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerView {
    /// The volunteer's id; offers name them by it.
    pub id: VolunteerId,
    /// The team they serve with.
    pub team: TeamId,
    /// Their home grid: where the ring and the distance are measured from.
    pub home_grid: GridCode,
    /// What they can do; they qualify for an item with at least one of its
    /// skills.
    pub skills: BTreeSet<Skill>,
    /// Whether they take offers now: they said they are available, and they are
    /// neither stood down nor exited.
    pub available: bool,
    /// Tickets they hold now (accepted or in progress).
    pub open_orders: u32,
    /// How many tickets they may hold at once.
    pub open_orders_max: u32,
    /// Orders they took within the fairness window.
    pub recent_orders: u32,
}

impl VolunteerView {
    /// Whether they have at least one of the item's skills (anyone covers an
    /// item that needs none).
    pub fn covers(&self, item: &CatalogItem) -> bool {
        item.skills.is_empty() || item.skills.iter().any(|s| self.skills.contains(s))
    }

    /// Available and below their open-order limit.
    pub fn can_take_more(&self) -> bool {
        self.available && self.open_orders < self.open_orders_max
    }
}

/// Who a ticket goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The grid worker handles it on the spot (巡办合一).
    SelfHandle,
    /// Offer it to these volunteers, best first, drawn from the ring at
    /// `ring` (grid, community or street) around the ticket's grid.
    Offer {
        /// The volunteers to offer it to, best first: nearest, then fairest,
        /// then least loaded, then by id; 1 to `offers_max`.
        candidates: Vec<VolunteerId>,
        /// The level of the ring they were drawn from.
        ring: Level,
    },
    /// The team owning the grid: no single volunteer fits.
    Team(TeamId),
    /// The responsible department.
    Department(DepartmentId),
}

/// The level of the ring an offer round draws from: round 0 the grid, round
/// 1 the community, round 2 and later the street.
pub fn ring_level(round: u32) -> Level {
    match round {
        0 => Level::Grid,
        1 => Level::Community,
        _ => Level::Street,
    }
}

/// The place whose volunteers an offer round draws from: the ticket's grid,
/// community or street (see [`ring_level`]). A code already above that level
/// is its own ring.
pub fn ring_scope(grid: &GridCode, round: u32) -> GridCode {
    grid.at_level(ring_level(round)).unwrap_or_else(|| grid.clone())
}

/// The team owning a place: the one listed for it or for its nearest
/// ancestor.
pub fn owning_team<'a>(grid: &GridCode, teams: &'a BTreeMap<GridCode, TeamId>) -> Option<&'a TeamId> {
    let mut here = Some(grid.clone());
    while let Some(code) = here {
        if let Some(team) = teams.get(&code) {
            return Some(team);
        }
        here = code.parent();
    }
    None
}

/// Decides who handles a ticket for `item` placed in `grid`, at offer round
/// `round` (the number of offer rounds already made: 0 for the first
/// dispatch), skipping the volunteers in `exclude`. See the module docs for
/// the rules.
pub fn route(
    item: &CatalogItem,
    grid: &GridCode,
    round: u32,
    exclude: &BTreeSet<VolunteerId>,
    volunteers: &[VolunteerView],
    world: &World,
) -> Route {
    if !item.dispatchable_to_grid() {
        return Route::Department(item.department.clone());
    }
    if item.mode == HandlingMode::SelfHandle {
        return Route::SelfHandle;
    }
    let scope = ring_scope(grid, round);
    let candidates = candidates(item, grid, &scope, exclude, volunteers, world.routing.offers_cap());
    if !candidates.is_empty() {
        return Route::Offer { candidates, ring: scope.level() };
    }
    match owning_team(grid, &world.owners) {
        Some(team) => Route::Team(team.clone()),
        None => Route::Department(item.department.clone()),
    }
}

/// What the routing policy suggests to a dispatcher looking at a ticket
/// now (the console's candidates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// The policy's own route at the ticket's round.
    pub route: Route,
    /// The ring the volunteers shown come from.
    pub ring: GridCode,
    /// The volunteers to show, best first: the route's candidates; or, when
    /// the policy falls back to the team because this round's ring has
    /// nobody, those of the first wider ring that has someone.
    pub volunteers: Vec<VolunteerView>,
    /// Whether `volunteers` come from a ring wider than the ticket's round.
    pub wider: bool,
    /// The offer round the ring is for, counted from 0 (the rounds made
    /// before it): the offer out now's, or the next one.
    pub round: u32,
}

/// The routing policy's suggestion for a ticket at offer round `round`
/// (see [`route`]), reaching past the round's ring when it has nobody: a
/// dispatcher may reach further than the policy would this round. The ring
/// stops widening at the street, as offers do. `within(ring)` gives the
/// volunteers inside a ring.
pub fn suggest(
    item: &CatalogItem,
    grid: &GridCode,
    round: u32,
    exclude: &BTreeSet<VolunteerId>,
    world: &World,
    mut within: impl FnMut(&GridCode) -> Vec<VolunteerView>,
) -> Suggestion {
    let mut ring = ring_scope(grid, round);
    let mut views = within(&ring);
    let policy = route(item, grid, round, exclude, &views, world);
    let mut offered = match &policy {
        Route::Offer { candidates, .. } => candidates.clone(),
        _ => Vec::new(),
    };
    let mut shown_round = round;
    let widest = ring_level(u32::MAX);
    while matches!(policy, Route::Team(_)) && offered.is_empty() && ring.level() > widest {
        shown_round += 1;
        ring = ring_scope(grid, shown_round);
        views = within(&ring);
        if let Route::Offer { candidates, .. } = route(item, grid, shown_round, exclude, &views, world) {
            offered = candidates;
        }
    }
    let volunteers = offered.iter().filter_map(|id| views.iter().find(|v| &v.id == id).cloned()).collect();
    Suggestion { route: policy, ring, volunteers, wider: shown_round != round, round }
}

/// Who a ticket waiting above the grid tier goes to, as the dispatcher
/// policy routes it: at the community, the team owning the grid (the
/// item's department for an item the grid may not take, or when no team
/// owns the grid); at the street and the district, the item's department.
/// `None` at the grid tier, where offer rounds decide ([`route`]).
pub fn route_at_tier(tier: Tier, item: &CatalogItem, grid: &GridCode, world: &World) -> Option<Route> {
    let department = || Route::Department(item.department.clone());
    match tier {
        Tier::Grid => None,
        Tier::Community => Some(
            owning_team(grid, &world.owners)
                .filter(|_| item.dispatchable_to_grid())
                .map_or_else(department, |team| Route::Team(team.clone())),
        ),
        Tier::Street | Tier::District => Some(department()),
    }
}

/// The routing policy's suggestion for `ticket` as it stands now (the
/// console's candidates), or `None` once it is resolved or final: nothing
/// is left to route. It follows the ticket's current round: while an offer
/// is out, that offer's ring, leaving out whoever declined it; otherwise the
/// next round's, as the dispatcher policy would route it. Above the grid
/// tier the tier's own route ([`route_at_tier`]) stands, and the volunteers
/// shown come from a ring at least as wide as the tier (the community's at
/// the community, the street's above).
pub fn suggest_for(
    ticket: &Ticket,
    item: &CatalogItem,
    world: &World,
    within: impl FnMut(&GridCode) -> Vec<VolunteerView>,
) -> Option<Suggestion> {
    if ticket.status.is_final() || ticket.status == Status::Resolved {
        return None;
    }
    let grid = ticket.grid.as_ref()?;
    let (round, exclude) = match ticket.offer.as_ref().filter(|_| ticket.status == Status::Offered) {
        Some(offer) => {
            let declined = offer.declined.iter().filter_map(|a| match a {
                Assignee::Volunteer(v) => Some(v.clone()),
                _ => None,
            });
            (offer.round.saturating_sub(1), declined.collect())
        }
        None => (ticket.offer_rounds, BTreeSet::new()),
    };
    let tier = ticket.tier.unwrap_or(Tier::Grid);
    let tier_ring = match tier {
        Tier::Grid => 0,
        Tier::Community => 1,
        Tier::Street | Tier::District => 2,
    };
    let mut suggestion = suggest(item, grid, round.max(tier_ring), &exclude, world, within);
    if let Some(route) = route_at_tier(tier, item, grid, world) {
        suggestion.route = route;
    }
    Some(suggestion)
}

/// The best `cap` qualifying volunteers inside `scope`, in routing order.
fn candidates(
    item: &CatalogItem,
    grid: &GridCode,
    scope: &GridCode,
    exclude: &BTreeSet<VolunteerId>,
    volunteers: &[VolunteerView],
    cap: usize,
) -> Vec<VolunteerId> {
    let mut fit: Vec<&VolunteerView> = volunteers
        .iter()
        .filter(|v| v.can_take_more() && v.covers(item) && !exclude.contains(&v.id) && v.home_grid.is_within(scope))
        .collect();
    // Nearest (most levels shared with the ticket's grid), fairest, least
    // loaded, then by id number: ids have no leading zeros, so (length, text)
    // is numeric order.
    fit.sort_unstable_by_key(|v| {
        (Reverse(shared_levels(&v.home_grid, grid)), v.recent_orders, v.open_orders, v.id.as_str().len(), v.id.as_str())
    });
    let mut seen = BTreeSet::new();
    fit.into_iter().filter(|v| seen.insert(&v.id)).take(cap).map(|v| v.id.clone()).collect()
}

/// How many levels, from the district down, two codes share: 5 for the same
/// sub-grid, 4 the same grid, 3 the same community, 2 the same street.
fn shared_levels(a: &GridCode, b: &GridCode) -> usize {
    a.as_str().split('-').zip(b.as_str().split('-')).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> GridCode {
        GridCode::parse(text).unwrap()
    }

    #[test]
    fn rings_widen_to_the_street_and_stop() {
        let sub = code("440802-001-002-015-03");
        assert_eq!(ring_scope(&sub, 0), code("440802-001-002-015"));
        assert_eq!(ring_scope(&sub, 1), code("440802-001-002"));
        assert_eq!(ring_scope(&sub, 2), code("440802-001"));
        assert_eq!(ring_scope(&sub, u32::MAX), code("440802-001"));
        assert_eq!(ring_scope(&code("440802-001"), 0), code("440802-001"), "a street is its own grid ring");
    }

    #[test]
    fn shared_levels_count_from_the_district() {
        let a = code("440802-001-002-015-03");
        assert_eq!(shared_levels(&a, &a), 5);
        assert_eq!(shared_levels(&a, &code("440802-001-002-015")), 4);
        assert_eq!(shared_levels(&a, &code("440802-001-002-016-03")), 3);
        assert_eq!(shared_levels(&a, &code("440802-002-002-015-03")), 1);
    }

    #[test]
    fn the_default_policy_is_valid_and_bad_knobs_are_named() {
        RoutingPolicy::default().validate().unwrap();
        let bad = |p: RoutingPolicy| match p.validate() {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(RoutingPolicy { offers_max: 0, ..Default::default() }), "offers_max");
        assert_eq!(bad(RoutingPolicy { offers_max: 65, ..Default::default() }), "offers_max");
        assert_eq!(bad(RoutingPolicy { offer_window: Millis::days(8), ..Default::default() }), "offer_window");
        assert_eq!(bad(RoutingPolicy { offer_rounds_max: 17, ..Default::default() }), "offer_rounds_max");
        assert_eq!(bad(RoutingPolicy { fairness_window: Millis(0), ..Default::default() }), "fairness_window");
        let respond = RespondWithin { street: Millis(0), ..RoutingPolicy::default().respond_within };
        assert_eq!(bad(RoutingPolicy { respond_within: respond, ..Default::default() }), "respond_within");
        assert_eq!(
            bad(RoutingPolicy { summons_report_within: Millis(0), ..Default::default() }),
            "summons_report_within"
        );
    }
}
