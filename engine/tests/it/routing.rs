//! The routing policy: one table row per rule (department and unreviewed
//! items, self-handling, skills, availability, load, exclusion, rings per
//! round, nearest-first, fairness, the offers cap, team and department
//! fallbacks), and a property test that no offer ever names a volunteer the
//! rules skip, with an independent oracle for who qualifies.
//!
//! The test district is the support tree (see `support::world`), plus codes
//! the tree does not hold: routing works on codes alone.
//!
//! ```text
//! 440802-001                    STREET
//! 440802-001-001                COMMUNITY            team TM-1
//! 440802-001-001-001            GRID
//! 440802-001-001-001-01         SUB_GRID
//! 440802-001-001-001-02         SUB_GRID_2
//! 440802-001-001-002            OTHER_GRID
//! 440802-001-002                                     team TM-2
//! 440802-001-002-001            FAR_GRID
//! 440802-002-001-001            OTHER_STREET_GRID
//! ```

use std::collections::{BTreeMap, BTreeSet};

use gridloop_engine::World;
use gridloop_engine::catalog::{CatalogItem, HandlingMode};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{TeamId, VolunteerId};
use gridloop_engine::routing::{Route, RoutingPolicy, VolunteerView, owning_team, ring_scope, route, suggest};
use gridloop_engine::ticket::OFFER_CANDIDATES_MAX;
use proptest::prelude::*;

use crate::support::*;

const SUB_GRID_2: &str = "440802-001-001-001-02";
const OTHER_COMMUNITY: &str = "440802-001-002";
const OTHER_STREET_GRID: &str = "440802-002-001-001";

/// Community teams TM-1 (COMMUNITY) and TM-2 (the other community).
fn community_teams() -> BTreeMap<GridCode, TeamId> {
    [(grid(COMMUNITY), team_id(1)), (grid(OTHER_COMMUNITY), team_id(2))].into_iter().collect()
}

fn world_with(teams: BTreeMap<GridCode, TeamId>, offers_max: usize) -> World {
    let base = world();
    World {
        grids: base.grids.clone(),
        catalog: base.catalog.clone(),
        owners: teams,
        routing: RoutingPolicy { offers_max, ..RoutingPolicy::default() },
        ..World::default()
    }
}

fn item(code: &str) -> CatalogItem {
    world().catalog.item(&item_code(code)).expect("catalog item").clone()
}

/// A volunteer item needing a plumber or an electrician.
fn tap_repair() -> CatalogItem {
    CatalogItem { skills: vec![skill("plumbing"), skill("electrical")], ..item(VISIT) }
}

/// V-n of TM-1 living in `home`: an available elderly carer with no orders,
/// at most 3 at once.
fn v(n: u64, home: &str) -> VolunteerView {
    VolunteerView {
        id: vid(n),
        team: team_id(1),
        home_grid: grid(home),
        skills: skills(&["elderly_care"]),
        available: true,
        open_orders: 0,
        open_orders_max: 3,
        recent_orders: 0,
    }
}

fn with_skills(list: &[&str], view: VolunteerView) -> VolunteerView {
    VolunteerView { skills: skills(list), ..view }
}

fn with_load(recent_orders: u32, open_orders: u32, view: VolunteerView) -> VolunteerView {
    VolunteerView { recent_orders, open_orders, ..view }
}

fn offer(ns: &[u64], ring: Level) -> Route {
    Route::Offer { candidates: ns.iter().map(|&n| vid(n)).collect(), ring }
}

struct Case {
    name: &'static str,
    item: CatalogItem,
    grid: &'static str,
    round: u32,
    exclude: &'static [u64],
    volunteers: Vec<VolunteerView>,
    teams: BTreeMap<GridCode, TeamId>,
    offers_max: usize,
    expect: Route,
}

impl Case {
    /// A volunteer item (`VISIT`, elderly care) in `GRID`, round 0, the
    /// community teams, 5 offers at most.
    fn new(name: &'static str, volunteers: Vec<VolunteerView>, expect: Route) -> Self {
        Case {
            name,
            item: item(VISIT),
            grid: GRID,
            round: 0,
            exclude: &[],
            volunteers,
            teams: community_teams(),
            offers_max: 5,
            expect,
        }
    }
    fn item(self, item: CatalogItem) -> Self {
        Case { item, ..self }
    }
    fn grid(self, grid: &'static str) -> Self {
        Case { grid, ..self }
    }
    fn round(self, round: u32) -> Self {
        Case { round, ..self }
    }
    fn exclude(self, exclude: &'static [u64]) -> Self {
        Case { exclude, ..self }
    }
    fn teams(self, teams: BTreeMap<GridCode, TeamId>) -> Self {
        Case { teams, ..self }
    }
    fn offers_max(self, offers_max: usize) -> Self {
        Case { offers_max, ..self }
    }

    fn run(&self) -> Route {
        let exclude: BTreeSet<VolunteerId> = self.exclude.iter().map(|&n| vid(n)).collect();
        let world = world_with(self.teams.clone(), self.offers_max);
        route(&self.item, &grid(self.grid), self.round, &exclude, &self.volunteers, &world)
    }
}

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let got = case.run();
        if got != case.expect {
            failures.push(format!("{}:\n  expected {:?}\n  got      {:?}", case.name, case.expect, got));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn items_the_grid_does_not_take_go_to_their_department_or_grid_worker() {
    let everyone = || vec![v(1, GRID), with_skills(&["electrician"], v(2, GRID))];
    let unreviewed_volunteer_item = CatalogItem { admitted: false, ..item(VISIT) };
    check(vec![
        Case::new("a department item goes to its department", everyone(), Route::Department(dept_id(URBAN_MANAGEMENT)))
            .item(item(STREET_LIGHT)),
        Case::new(
            "an item not admitted goes to its department",
            everyone(),
            Route::Department(dept_id(URBAN_MANAGEMENT)),
        )
        .item(item(UNREVIEWED)),
        Case::new(
            "a volunteer item not admitted goes to its department, not to volunteers",
            everyone(),
            Route::Department(dept_id(CIVIL_AFFAIRS)),
        )
        .item(unreviewed_volunteer_item),
        Case::new("a self-handle item goes to the grid worker", everyone(), Route::SelfHandle).item(item(FLYERS)),
        Case::new("self-handling needs no volunteer and no team", vec![], Route::SelfHandle)
            .item(item(FLYERS))
            .teams(BTreeMap::new()),
    ]);
}

#[test]
fn volunteers_are_chosen_by_skill_availability_load_and_exclusion() {
    check(vec![
        Case::new(
            "only volunteers with the item's skill",
            vec![
                with_skills(&["driving"], v(1, GRID)),
                v(2, GRID),
                with_skills(&["driving", "elderly_care"], v(3, GRID)),
            ],
            offer(&[2, 3], Level::Grid),
        ),
        Case::new(
            "any one of the item's skills is enough",
            vec![
                with_skills(&["plumbing"], v(1, GRID)),
                with_skills(&["electrical"], v(2, GRID)),
                with_skills(&["driving", "elderly_care"], v(3, GRID)),
            ],
            offer(&[1, 2], Level::Grid),
        )
        .item(tap_repair()),
        Case::new(
            "unavailable volunteers are skipped",
            vec![VolunteerView { available: false, ..v(1, GRID) }, v(2, GRID)],
            offer(&[2], Level::Grid),
        ),
        Case::new(
            "volunteers at their open-order limit are skipped",
            vec![
                with_load(0, 3, v(1, GRID)),
                with_load(0, 2, v(2, GRID)),
                VolunteerView { open_orders_max: 0, ..v(3, GRID) },
            ],
            offer(&[2], Level::Grid),
        ),
        Case::new(
            "excluded volunteers are skipped",
            vec![v(1, GRID), v(2, GRID), v(3, GRID)],
            offer(&[2], Level::Grid),
        )
        .exclude(&[1, 3]),
        Case::new("excluding someone not in the directory changes nothing", vec![v(1, GRID)], offer(&[1], Level::Grid))
            .exclude(&[99]),
        Case::new(
            "a volunteer listed twice is offered once",
            vec![v(1, GRID), with_load(2, 0, v(1, GRID)), v(2, GRID)],
            offer(&[1, 2], Level::Grid),
        ),
    ]);
}

#[test]
fn each_round_widens_the_ring_up_to_the_street() {
    let spread = || {
        vec![
            v(1, OTHER_GRID),
            v(2, FAR_GRID),
            v(3, OTHER_STREET_GRID),
            VolunteerView { available: false, ..v(4, GRID) },
        ]
    };
    check(vec![
        Case::new("round 0: the grid only", spread(), Route::Team(team_id(1))),
        Case::new("round 1: the community", spread(), offer(&[1], Level::Community)).round(1),
        Case::new("round 2: the street", spread(), offer(&[1, 2], Level::Street)).round(2),
        Case::new("round 9: still the street, never the district", spread(), offer(&[1, 2], Level::Street)).round(9),
        Case::new(
            "a sub-grid ticket's round 0 is its whole grid",
            vec![v(1, SUB_GRID_2), v(2, OTHER_GRID)],
            offer(&[1], Level::Grid),
        )
        .grid(SUB_GRID),
        Case::new(
            "a grid ticket's round 0 includes its sub-grids, as near as the grid itself",
            vec![v(2, GRID), v(1, SUB_GRID)],
            offer(&[1, 2], Level::Grid),
        ),
    ]);
}

#[test]
fn candidates_are_nearest_then_fairest_then_least_loaded_then_by_id() {
    check(vec![
        Case::new(
            "same sub-grid, same grid, same community, same street",
            vec![
                v(1, FAR_GRID),
                v(2, OTHER_GRID),
                v(3, GRID),
                v(4, SUB_GRID_2),
                v(5, SUB_GRID),
                v(6, OTHER_STREET_GRID),
            ],
            offer(&[5, 3, 4, 2, 1], Level::Street),
        )
        .grid(SUB_GRID)
        .round(2)
        .offers_max(10),
        Case::new(
            "fewest recent orders first, then fewest open orders, then id number",
            vec![
                with_load(3, 0, v(1, GRID)),
                with_load(0, 0, v(2, GRID)),
                with_load(1, 2, v(3, GRID)),
                with_load(1, 0, v(4, GRID)),
                with_load(0, 0, v(10, GRID)),
            ],
            offer(&[2, 10, 4, 3, 1], Level::Grid),
        ),
        Case::new(
            "nearness outranks fairness",
            vec![with_load(0, 0, v(1, OTHER_GRID)), with_load(9, 2, v(2, SUB_GRID)), with_load(0, 0, v(3, GRID))],
            offer(&[2, 3, 1], Level::Community),
        )
        .grid(SUB_GRID)
        .round(1),
        Case::new(
            "the input order does not matter",
            vec![v(30, GRID), v(4, GRID), v(200, GRID), v(1, GRID)],
            offer(&[1, 4, 30, 200], Level::Grid),
        ),
    ]);
}

#[test]
fn offers_are_capped_by_the_policy_and_the_engine() {
    let many = |n: u64| (1..=n).map(|i| v(i, GRID)).collect::<Vec<_>>();
    let first = |n: u64| (1..=n).collect::<Vec<_>>();
    check(vec![
        Case::new("offers_max 3 of 8", many(8), offer(&first(3), Level::Grid)).offers_max(3),
        Case::new("fewer than offers_max: all of them", many(2), offer(&first(2), Level::Grid)).offers_max(3),
        Case::new("offers_max 0 still offers to one", many(4), offer(&first(1), Level::Grid)).offers_max(0),
        Case::new(
            "never more than an offer may carry",
            many(70),
            offer(&first(OFFER_CANDIDATES_MAX as u64), Level::Grid),
        )
        .offers_max(1_000),
    ]);
}

#[test]
fn when_nobody_fits_the_owning_team_then_the_department_takes_it() {
    let street_and_community: BTreeMap<GridCode, TeamId> =
        [(grid(STREET), team_id(9)), (grid(COMMUNITY), team_id(1))].into_iter().collect();
    let busy = || vec![with_load(0, 3, v(1, GRID)), with_skills(&["driving"], v(2, GRID))];
    check(vec![
        Case::new("no volunteer fits: the community's team", busy(), Route::Team(team_id(1))),
        Case::new("no volunteer at all: the community's team", vec![], Route::Team(team_id(1))),
        Case::new("a sub-grid ticket: the community's team", vec![], Route::Team(team_id(1))).grid(SUB_GRID),
        Case::new("everyone excluded: the team", vec![v(1, GRID)], Route::Team(team_id(1))).exclude(&[1]),
        Case::new("the nearest listed ancestor's team", busy(), Route::Team(team_id(9)))
            .grid(FAR_GRID)
            .teams(street_and_community.clone()),
        Case::new("a place's own team before its street's", busy(), Route::Team(team_id(1)))
            .teams(street_and_community),
        Case::new("no team owns the grid: the item's department", busy(), Route::Department(dept_id(CIVIL_AFFAIRS)))
            .teams(BTreeMap::new()),
        Case::new("another street's team does not own the grid", busy(), Route::Department(dept_id(URBAN_MANAGEMENT)))
            .item(CatalogItem { department: dept_id(URBAN_MANAGEMENT), ..item(VISIT) })
            .teams([(grid("440802-002"), team_id(5))].into_iter().collect()),
    ]);
}

#[test]
fn owning_team_walks_up_to_the_nearest_listed_place() {
    let teams = community_teams();
    assert_eq!(owning_team(&grid(SUB_GRID), &teams), Some(&team_id(1)));
    assert_eq!(owning_team(&grid(COMMUNITY), &teams), Some(&team_id(1)));
    assert_eq!(owning_team(&grid(FAR_GRID), &teams), Some(&team_id(2)));
    assert_eq!(owning_team(&grid(STREET), &teams), None, "a community's team does not own its street");
    assert_eq!(owning_team(&grid(OTHER_STREET_GRID), &teams), None);
}

// ------------------------------------------------------------- properties

/// Homes the generator draws from: every ring around every ticket grid.
const HOMES: [&str; 7] = [GRID, SUB_GRID, SUB_GRID_2, OTHER_GRID, FAR_GRID, OTHER_STREET_GRID, "440802-002-001-001-01"];
const TICKET_GRIDS: [&str; 5] = [GRID, SUB_GRID, OTHER_GRID, FAR_GRID, OTHER_STREET_GRID];
const SKILLS: [&str; 4] = ["elderly_care", "driving", "plumbing", "electrical"];

#[derive(Clone, Debug)]
struct Scenario {
    ticket_grid: &'static str,
    round: u32,
    repair: bool,
    offers_max: usize,
    with_teams: bool,
    volunteers: Vec<VolunteerView>,
    exclude: BTreeSet<VolunteerId>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let volunteer = (0..HOMES.len(), 0u8..16, any::<bool>(), 0u32..5, 0u32..5, 0u32..6, any::<bool>());
    (
        0..TICKET_GRIDS.len(),
        0u32..5,
        any::<bool>(),
        0usize..9,
        any::<bool>(),
        proptest::collection::vec(volunteer, 0..40),
    )
        .prop_map(|(g, round, repair, offers_max, with_teams, raw)| {
            let mut exclude = BTreeSet::new();
            let volunteers = raw
                .into_iter()
                .enumerate()
                .map(|(i, (home, mask, unavailable, open, max, recent, excluded))| {
                    let id = vid(i as u64 + 1);
                    if excluded && i % 3 == 0 {
                        exclude.insert(id.clone());
                    }
                    VolunteerView {
                        id,
                        team: team_id(1),
                        home_grid: grid(HOMES[home]),
                        skills: SKILLS
                            .iter()
                            .enumerate()
                            .filter(|(b, _)| mask & (1 << b) != 0)
                            .map(|(_, s)| skill(s))
                            .collect(),
                        available: !unavailable || i % 4 != 0,
                        open_orders: open,
                        open_orders_max: max,
                        recent_orders: recent,
                    }
                })
                .collect();
            Scenario { ticket_grid: TICKET_GRIDS[g], round, repair, offers_max, with_teams, volunteers, exclude }
        })
}

/// Who qualifies, computed without the engine's helpers.
fn qualifies(
    v: &VolunteerView,
    item: &CatalogItem,
    ticket: &GridCode,
    round: u32,
    exclude: &BTreeSet<VolunteerId>,
) -> bool {
    let level = [Level::Grid, Level::Community, Level::Street][round.min(2) as usize];
    let ring = ticket.at_level(level).expect("tickets are in grids");
    let inside = v.home_grid == ring || v.home_grid.as_str().starts_with(&format!("{ring}-"));
    let skilled = item.skills.iter().any(|s| v.skills.contains(s));
    inside && skilled && v.available && v.open_orders < v.open_orders_max && !exclude.contains(&v.id)
}

/// The ordering key, computed without the engine's helpers: nearer (more
/// shared code segments) first, then fewer recent orders, fewer open
/// orders, smaller id number.
fn rank(v: &VolunteerView, ticket: &GridCode) -> (std::cmp::Reverse<usize>, u32, u32, u64) {
    let shared = v.home_grid.as_str().split('-').zip(ticket.as_str().split('-')).take_while(|(a, b)| a == b).count();
    let number = v.id.as_str()[2..].parse().expect("V-n");
    (std::cmp::Reverse(shared), v.recent_orders, v.open_orders, number)
}

/// The team owning a ticket's grid when the community teams are listed.
fn owner(with_teams: bool, ticket: &GridCode) -> Option<TeamId> {
    let community = ticket.at_level(Level::Community).expect("tickets are in grids");
    match community.as_str() {
        _ if !with_teams => None,
        COMMUNITY => Some(team_id(1)),
        OTHER_COMMUNITY => Some(team_id(2)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_offer_names_anyone_the_rules_skip(s in scenario()) {
        let item = if s.repair { tap_repair() } else { item(VISIT) };
        let ticket = grid(s.ticket_grid);
        let teams = if s.with_teams { community_teams() } else { BTreeMap::new() };
        let world = world_with(teams, s.offers_max);
        let cap = s.offers_max.clamp(1, OFFER_CANDIDATES_MAX);
        let fit: Vec<&VolunteerView> =
            s.volunteers.iter().filter(|v| qualifies(v, &item, &ticket, s.round, &s.exclude)).collect();
        let by_id: BTreeMap<&VolunteerId, &VolunteerView> = s.volunteers.iter().map(|v| (&v.id, v)).collect();

        match route(&item, &ticket, s.round, &s.exclude, &s.volunteers, &world) {
            Route::Offer { candidates, ring } => {
                prop_assert_eq!(ring, ring_scope(&ticket, s.round).level());
                prop_assert!(!candidates.is_empty() && candidates.len() <= cap);
                prop_assert_eq!(candidates.len(), fit.len().min(cap), "as many as qualify, up to the cap");
                let unique: BTreeSet<&VolunteerId> = candidates.iter().collect();
                prop_assert_eq!(unique.len(), candidates.len(), "nobody twice");
                let chosen: Vec<&VolunteerView> = candidates.iter().map(|id| by_id[id]).collect();
                for v in &chosen {
                    prop_assert!(qualifies(v, &item, &ticket, s.round, &s.exclude), "{:?} does not qualify", v);
                }
                let ranks: Vec<_> = chosen.iter().map(|v| rank(v, &ticket)).collect();
                prop_assert!(ranks.windows(2).all(|w| w[0] < w[1]), "in routing order: {:?}", ranks);
                let worst = ranks.last().expect("not empty");
                for v in fit.iter().filter(|v| !candidates.contains(&v.id)) {
                    prop_assert!(rank(v, &ticket) > *worst, "{:?} left out for someone worse", v.id);
                }
            }
            Route::Team(team) => {
                prop_assert!(fit.is_empty(), "a team only when nobody qualifies");
                prop_assert_eq!(Some(team), owner(s.with_teams, &ticket));
            }
            Route::Department(d) => {
                prop_assert!(fit.is_empty(), "the department only when nobody qualifies");
                prop_assert_eq!(owner(s.with_teams, &ticket), None, "and no team owns the grid");
                prop_assert_eq!(d, dept_id(CIVIL_AFFAIRS));
            }
            Route::SelfHandle => prop_assert!(false, "a volunteer item is never self-handled"),
        }
    }
}

#[test]
fn item_modes_route_before_any_volunteer_is_looked_at() {
    // A sanity check on the fixture catalog's modes, so the table's items
    // mean what the table says.
    assert_eq!(item(VISIT).mode, HandlingMode::Volunteer);
    assert_eq!(item(FLYERS).mode, HandlingMode::SelfHandle);
    assert!(!item(STREET_LIGHT).dispatchable_to_grid() && item(STREET_LIGHT).admitted);
    assert!(!item(UNREVIEWED).admitted);
}

/// The console's suggestion: the policy's own route, and, when the round's
/// ring has nobody and the policy falls back to the team, the volunteers of
/// the first wider ring that has someone.
#[test]
fn suggestions_reach_past_an_empty_ring_but_keep_the_policys_route() {
    let world = world_with(community_teams(), 5);
    let (near, far) = (v(1, OTHER_GRID), v(2, FAR_GRID));
    let everyone = [near.clone(), far.clone()];
    let within = |ring: &GridCode| everyone.iter().filter(|v| v.home_grid.is_within(ring)).cloned().collect();
    let none = BTreeSet::new();

    // Round 0: nobody lives in the grid itself; the policy says team, the
    // suggestion shows the community ring's volunteer.
    let at_grid = suggest(&item(VISIT), &grid(GRID), 0, &none, &world, within);
    assert_eq!(at_grid.route, Route::Team(team_id(1)));
    assert_eq!((at_grid.ring.clone(), at_grid.wider), (grid(COMMUNITY), true));
    assert_eq!(at_grid.volunteers, vec![near.clone()]);

    // Round 1: the community ring has someone; the policy offers, nothing wider.
    let at_community = suggest(&item(VISIT), &grid(GRID), 1, &none, &world, within);
    assert_eq!(at_community.route, offer(&[1], Level::Community));
    assert!(!at_community.wider);

    // Round 1 with V-1 excluded: only the street reaches V-2.
    let declined: BTreeSet<VolunteerId> = [vid(1)].into_iter().collect();
    let at_street = suggest(&item(VISIT), &grid(GRID), 1, &declined, &world, within);
    assert_eq!(at_street.route, Route::Team(team_id(1)));
    assert_eq!((at_street.ring, at_street.wider, at_street.volunteers), (grid(STREET), true, vec![far]));

    // An item the grid does not take is never widened.
    let department = CatalogItem { mode: HandlingMode::Department, ..item(VISIT) };
    let routed = suggest(&department, &grid(GRID), 0, &none, &world, within);
    assert!(matches!(routed.route, Route::Department(_)) && routed.volunteers.is_empty() && !routed.wider);
}
