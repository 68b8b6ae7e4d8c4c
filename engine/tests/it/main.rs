//! Integration tests of the engine's pure core: `decide`/`evolve` scenarios
//! for the ticket and volunteer aggregates, property tests over random
//! command sequences and the event envelope, and the purity check of the
//! dependency tree. Nothing here needs an async runtime.
//!
//! - `support`: a small world, actors for every role, event builders with
//!   the deadlines the catalog implies, and the given/when/then harness.
//! - `ticket_scenarios`, `volunteer_scenarios`: one scenario per transition
//!   and per refusal.
//! - `props`: invariants under random command sequences, replay equivalence,
//!   serde round trips, hash chain tamper detection.
//! - `purity`: the engine depends on no runtime, store, clock or OS entropy.

mod dept_scenarios;
mod dispatch_scenarios;
mod due;
mod field_scenarios;
mod golden;
mod patrol_scenarios;
mod permit;
mod props;
mod purity;
mod references;
mod routing;
mod seals;
mod service_cache;
mod ticket_scenarios;
mod volunteer_scenarios;
mod weekly_scenarios;
mod world_scenarios;

#[allow(dead_code)]
pub mod support {
    use std::collections::BTreeSet;
    use std::fmt::Debug;
    use std::sync::OnceLock;

    use gridloop_engine::catalog::{Catalog, CatalogItem, Department, HandlingMode, Sla};
    use gridloop_engine::envelope::{Actor, Role};
    use gridloop_engine::grid::{GeoPoint, GridCode, GridKind, GridNode, GridTree, PropertyForm};
    use gridloop_engine::ids::CategoryCode;
    use gridloop_engine::ids::{ActorId, DepartmentId, ItemCode, ResidentId, Skill, TeamId, TicketId, VolunteerId};
    use gridloop_engine::ticket::{Assignee, Channel, Ticket, TicketCommand, TicketEvent, Tier, Urgency};
    use gridloop_engine::time::{Millis, Timestamp};
    use gridloop_engine::volunteer::{Volunteer, VolunteerCommand, VolunteerEvent};
    use gridloop_engine::{Context, Error, World};

    // ---------------------------------------------------------------- world

    /// The district and its tree:
    ///
    /// ```text
    /// 440802                        district
    /// 440802-001                    street
    /// 440802-001-001                community A
    /// 440802-001-001-001            grid A1 (comprehensive)   <- GRID
    /// 440802-001-001-001-01         sub-grid A1.1             <- SUB_GRID
    /// 440802-001-001-002            grid A2 (unit)            <- OTHER_GRID
    /// 440802-001-002                community B
    /// 440802-001-002-001            grid B1 (exclusive)
    /// ```
    pub const DISTRICT: &str = "440802";
    pub const STREET: &str = "440802-001";
    pub const COMMUNITY: &str = "440802-001-001";
    pub const GRID: &str = "440802-001-001-001";
    pub const SUB_GRID: &str = "440802-001-001-001-01";
    pub const OTHER_GRID: &str = "440802-001-001-002";
    pub const FAR_GRID: &str = "440802-001-002-001";
    /// A well-formed grid code that is not in the tree.
    pub const UNKNOWN_GRID: &str = "440802-009-001-001";

    /// A volunteer item: admitted, dispatched to volunteers by skill.
    pub const VISIT: &str = "CS-001";
    /// A self-handle item (巡办合一): the grid worker fixes it on the spot.
    pub const FLYERS: &str = "GP-001";
    /// A department item, admitted to the grid catalog.
    pub const STREET_LIGHT: &str = "SC-001";
    /// A department item a department pushed down without review.
    pub const UNREVIEWED: &str = "SC-002";
    /// A well-formed item code that is not in the catalog.
    pub const UNKNOWN_ITEM: &str = "IC-999";

    pub const CIVIL_AFFAIRS: &str = "civil_affairs";
    pub const URBAN_MANAGEMENT: &str = "urban_management";

    pub const VISIT_SLA: Sla = Sla {
        accept_within: Millis(2 * 3_600_000),
        resolve_within: Millis(2 * 86_400_000),
        feedback_window: Millis(3 * 86_400_000),
        accept_working_days: None,
        resolve_working_days: None,
    };
    pub const FLYERS_SLA: Sla = Sla {
        accept_within: Millis(3_600_000),
        resolve_within: Millis(86_400_000),
        feedback_window: Millis(2 * 86_400_000),
        accept_working_days: None,
        resolve_working_days: None,
    };
    pub const STREET_LIGHT_SLA: Sla = Sla {
        accept_within: Millis(4 * 3_600_000),
        resolve_within: Millis(5 * 86_400_000),
        feedback_window: Millis(5 * 86_400_000),
        accept_working_days: None,
        resolve_working_days: None,
    };
    pub const UNREVIEWED_SLA: Sla = Sla {
        accept_within: Millis(8 * 3_600_000),
        resolve_within: Millis(10 * 86_400_000),
        feedback_window: Millis(7 * 86_400_000),
        accept_working_days: None,
        resolve_working_days: None,
    };

    pub fn world() -> &'static World {
        static WORLD: OnceLock<World> = OnceLock::new();
        WORLD.get_or_init(build_world)
    }

    fn build_world() -> World {
        let p = |lon, lat| GeoPoint { lon, lat };
        let node =
            |code: &str, kind: Option<GridKind>, form: Option<PropertyForm>, class: Option<u8>, x0: i32, x1: i32| {
                GridNode {
                    code: GridCode::parse(code).expect("valid code"),
                    name: format!("网格 {code}"),
                    name_en: format!("Grid {code}"),
                    kind,
                    property_form: form,
                    management_class: class,
                    boundary: vec![p(x0, 0), p(x1, 0), p(x1, 1_000), p(x0, 1_000)],
                }
            };
        let grids = GridTree::new([
            node(DISTRICT, None, None, None, 0, 4_000),
            node(STREET, None, None, None, 0, 4_000),
            node(COMMUNITY, None, None, None, 0, 2_000),
            node(GRID, Some(GridKind::Comprehensive), Some(PropertyForm::Residential), Some(1), 0, 1_000),
            node(SUB_GRID, None, None, None, 0, 500),
            node(OTHER_GRID, Some(GridKind::Unit), Some(PropertyForm::CommercialIndustrial), Some(2), 1_000, 2_000),
            node("440802-001-002", None, None, None, 2_000, 4_000),
            node(FAR_GRID, Some(GridKind::Exclusive), Some(PropertyForm::Mixed), Some(3), 2_000, 4_000),
        ])
        .expect("the test district is a valid tree");
        let department = |code: &str, name: &str, name_en: &str| Department {
            code: dept_id(code),
            name: name.into(),
            name_en: name_en.into(),
        };
        let item = |code: &str, name: &str, category, mode, dept: &str, skills: &[&str], sla, admitted| CatalogItem {
            code: item_code(code),
            name: name.into(),
            name_en: name.into(),
            category,
            mode,
            department: dept_id(dept),
            skills: skills.iter().map(|s| skill(s)).collect(),
            sla,
            points: 10,
            admitted,
            // The street-light item matters in emergencies (typhoons).
            emergency: code == STREET_LIGHT,
        };
        let catalog = Catalog::new(
            vec![
                department(CIVIL_AFFAIRS, "民政", "Civil affairs"),
                department(URBAN_MANAGEMENT, "城管", "Urban management"),
            ],
            vec![
                item(
                    VISIT,
                    "探访",
                    CategoryCode::new("community_service").unwrap(),
                    HandlingMode::Volunteer,
                    CIVIL_AFFAIRS,
                    &["elderly_care"],
                    VISIT_SLA,
                    true,
                ),
                item(
                    FLYERS,
                    "清理小广告",
                    CategoryCode::new("grid_patrol").unwrap(),
                    HandlingMode::SelfHandle,
                    URBAN_MANAGEMENT,
                    &[],
                    FLYERS_SLA,
                    true,
                ),
                item(
                    STREET_LIGHT,
                    "路灯维修",
                    CategoryCode::new("street_community_coordination").unwrap(),
                    HandlingMode::Department,
                    URBAN_MANAGEMENT,
                    &["electrician"],
                    STREET_LIGHT_SLA,
                    true,
                ),
                item(
                    UNREVIEWED,
                    "违建核查",
                    CategoryCode::new("street_community_coordination").unwrap(),
                    HandlingMode::Department,
                    URBAN_MANAGEMENT,
                    &[],
                    UNREVIEWED_SLA,
                    false,
                ),
            ],
        )
        .expect("the test catalog is valid");
        World { grids, catalog, ..World::default() }
    }

    pub fn ctx(now: Timestamp) -> Context<'static> {
        let w = world();
        w.context(now, false)
    }

    /// Polls a future to completion: the memory store never waits, so the
    /// service tests need no runtime.
    pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    // ----------------------------------------------------------------- time

    /// 2026-11-23T08:00:00Z: when every scenario's history starts.
    pub fn t0() -> Timestamp {
        Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")
    }
    pub fn mins(n: u64) -> Millis {
        Millis::minutes(n)
    }
    pub fn hours(n: u64) -> Millis {
        Millis::hours(n)
    }
    pub fn days(n: u64) -> Millis {
        Millis::days(n)
    }
    /// `t0()` plus a span.
    pub fn at(span: Millis) -> Timestamp {
        t0().plus(span)
    }
    /// One millisecond before `t`.
    pub fn just_before(t: Timestamp) -> Timestamp {
        Timestamp::from_millis(t.as_millis() - 1).expect("in range")
    }

    // ------------------------------------------------------------ ids, codes

    pub fn grid(code: &str) -> GridCode {
        GridCode::parse(code).expect("valid grid code")
    }
    pub fn item_code(code: &str) -> ItemCode {
        ItemCode::new(code).expect("valid item code")
    }
    pub fn dept_id(code: &str) -> DepartmentId {
        DepartmentId::new(code).expect("valid department")
    }
    pub fn skill(s: &str) -> Skill {
        Skill::new(s).expect("valid skill")
    }
    pub fn skills(list: &[&str]) -> BTreeSet<Skill> {
        list.iter().map(|s| skill(s)).collect()
    }
    pub fn tid(n: u64) -> TicketId {
        TicketId::from_number(n)
    }
    pub fn vid(n: u64) -> VolunteerId {
        VolunteerId::from_number(n)
    }
    pub fn team_id(n: u64) -> TeamId {
        TeamId::from_number(n)
    }
    pub fn resident_id(id: &str) -> ResidentId {
        ResidentId::new(id).expect("valid resident id")
    }

    // --------------------------------------------------------------- actors

    pub const RESIDENT: &str = "r-1";
    pub const OTHER_RESIDENT: &str = "r-2";
    pub const WORKER: &str = "gw-1";
    pub const OTHER_WORKER: &str = "gw-2";

    pub fn actor(role: Role, id: &str) -> Actor {
        Actor::new(role, id).expect("valid actor id")
    }
    /// The resident who ordered ticket T-1.
    pub fn resident() -> Actor {
        actor(Role::Resident, RESIDENT)
    }
    pub fn other_resident() -> Actor {
        actor(Role::Resident, OTHER_RESIDENT)
    }
    pub fn grid_worker() -> Actor {
        actor(Role::GridWorker, WORKER)
    }
    pub fn other_grid_worker() -> Actor {
        actor(Role::GridWorker, OTHER_WORKER)
    }
    /// The grid head of the grid (网格长), who may do what a grid worker does.
    pub fn grid_head() -> Actor {
        actor(Role::GridHead, "gh-1")
    }
    /// A community official, who supervises and handles no ticket.
    pub fn official() -> Actor {
        actor(Role::Official, "o-1")
    }
    pub fn dispatcher() -> Actor {
        actor(Role::Dispatcher, "d-1")
    }
    /// Volunteer `V-n`, acting for themself.
    pub fn volunteer(n: u64) -> Actor {
        actor(Role::Volunteer, &format!("V-{n}"))
    }
    /// A team's account (a volunteer actor speaking as the team).
    pub fn team_account(n: u64) -> Actor {
        actor(Role::Volunteer, &format!("TM-{n}"))
    }
    pub fn department(code: &str) -> Actor {
        actor(Role::Department, code)
    }
    pub fn auditor() -> Actor {
        actor(Role::Auditor, "a-1")
    }
    pub fn system() -> Actor {
        Actor::system()
    }
    /// One actor of every role (two residents, two grid workers).
    pub fn every_actor() -> Vec<Actor> {
        vec![
            resident(),
            other_resident(),
            grid_worker(),
            other_grid_worker(),
            grid_head(),
            dispatcher(),
            official(),
            volunteer(1),
            volunteer(2),
            volunteer(3),
            team_account(1),
            department(CIVIL_AFFAIRS),
            department(URBAN_MANAGEMENT),
            auditor(),
            system(),
        ]
    }

    // ------------------------------------------------------------ assignees

    pub fn vol(n: u64) -> Assignee {
        Assignee::Volunteer(vid(n))
    }
    pub fn team(n: u64) -> Assignee {
        Assignee::Team(team_id(n))
    }
    pub fn dept(code: &str) -> Assignee {
        Assignee::Department(dept_id(code))
    }
    pub fn worker(id: &str) -> Assignee {
        Assignee::GridWorker(ActorId::new(id).expect("valid actor id"))
    }

    // ------------------------------------------------- ticket event builders

    /// The description every default submission carries.
    pub const NEED: &str = "独居老人需要探访";

    /// T-1, ordered by `r-1` in `GRID` at `t0()` for `item`, with the
    /// deadlines the catalog gives that item.
    pub fn submitted_item(code: &str) -> TicketEvent {
        let sla = world().catalog.item(&item_code(code)).expect("catalog item").sla;
        TicketEvent::Submitted {
            photos: vec![],
            ticket: tid(1),
            item: item_code(code),
            grid: grid(GRID),
            resident: Some(resident_id(RESIDENT)),
            description: NEED.into(),
            urgency: Urgency::Normal,
            channel: Channel::QrCode,
            location: None,
            tier: Tier::Grid,
            accept_by: t0().plus(sla.accept_within),
            resolve_by: t0().plus(sla.resolve_within),
        }
    }
    /// T-1 for the volunteer item `VISIT`.
    pub fn submitted() -> TicketEvent {
        submitted_item(VISIT)
    }
    pub fn triaged(mode: HandlingMode, code: &str) -> TicketEvent {
        TicketEvent::Triaged { mode, item: item_code(code) }
    }
    pub fn offered(round: u32, candidates: &[Assignee], expires_at: Timestamp) -> TicketEvent {
        TicketEvent::Offered { round, candidates: candidates.to_vec(), expires_at }
    }
    pub fn accepted(by: Assignee, round: u32) -> TicketEvent {
        TicketEvent::Accepted { by, round }
    }
    pub fn started(by: Assignee) -> TicketEvent {
        TicketEvent::Started { by }
    }
    pub fn resolved(by: Assignee, feedback_by: Timestamp) -> TicketEvent {
        TicketEvent::Resolved { photos: vec![], by, result: "已上门探访".into(), minutes_spent: 60, feedback_by }
    }

    /// The offer every offered scenario starts from: round 1 to V-1 and V-2,
    /// expiring 30 minutes after `t0()`.
    pub fn offer_deadline() -> Timestamp {
        at(mins(30))
    }
    pub fn h_triaged() -> Vec<TicketEvent> {
        vec![submitted(), triaged(HandlingMode::Volunteer, VISIT)]
    }
    pub fn h_offered() -> Vec<TicketEvent> {
        let mut h = h_triaged();
        h.push(offered(1, &[vol(1), vol(2)], offer_deadline()));
        h
    }
    /// Accepted by V-1.
    pub fn h_accepted() -> Vec<TicketEvent> {
        let mut h = h_offered();
        h.push(accepted(vol(1), 1));
        h
    }
    /// In progress with V-1.
    pub fn h_in_progress() -> Vec<TicketEvent> {
        let mut h = h_accepted();
        h.push(started(vol(1)));
        h
    }
    /// When the default resolution's feedback window ends: the history is
    /// folded at `t0()`, so this is `t0() + 3 days`.
    pub fn feedback_deadline() -> Timestamp {
        t0().plus(VISIT_SLA.feedback_window)
    }
    /// Resolved by V-1.
    pub fn h_resolved() -> Vec<TicketEvent> {
        let mut h = h_in_progress();
        h.push(resolved(vol(1), feedback_deadline()));
        h
    }
    /// Resolved and closed, the resident satisfied.
    pub fn h_closed() -> Vec<TicketEvent> {
        let mut h = h_resolved();
        h.push(TicketEvent::FeedbackGiven {
            rating: gridloop_engine::ticket::Rating::Satisfied,
            comment: String::new(),
        });
        h.push(TicketEvent::Closed { reason: gridloop_engine::ticket::CloseReason::Confirmed });
        h
    }
    pub fn h_cancelled() -> Vec<TicketEvent> {
        let mut h = h_offered();
        h.push(TicketEvent::Cancelled { reason: "已自行解决".into() });
        h
    }
    pub fn h_duplicate() -> Vec<TicketEvent> {
        let mut h = h_triaged();
        h.push(TicketEvent::MarkedDuplicate { of: tid(2) });
        h
    }
    /// Escalated from the grid to `to`, with `escalations` steps.
    pub fn h_escalated_to(to: Tier) -> Vec<TicketEvent> {
        let mut h = h_triaged();
        let mut from = Tier::Grid;
        while from < to {
            let next = from.above().expect("below the district");
            h.push(TicketEvent::Escalated {
                from,
                to: next,
                reason: gridloop_engine::ticket::EscalationReason::Timeout,
                note: String::new(),
                respond_by: None,
                resolve_by: None,
            });
            from = next;
        }
        h
    }

    /// A command submitting the default order (as `submitted()` records it).
    pub fn submit_cmd(code: &str, grid_code: &str) -> TicketCommand {
        TicketCommand::Submit {
            photos: vec![],
            item: item_code(code),
            grid: grid(grid_code),
            resident: resident_id(RESIDENT),
            description: NEED.into(),
            urgency: Urgency::Normal,
            channel: Channel::QrCode,
            location: None,
        }
    }

    // ---------------------------------------------- volunteer event builders

    /// V-1 of team TM-1, living in `GRID`, an elderly carer and driver.
    pub fn registered() -> VolunteerEvent {
        VolunteerEvent::Registered {
            volunteer: vid(1),
            team: team_id(1),
            home_grid: grid(GRID),
            skills: skills(&["elderly_care", "driving"]),
            open_orders_max: 3,
        }
    }
    pub fn awarded(points: u64) -> VolunteerEvent {
        VolunteerEvent::PointsAwarded { points, ticket: Some(tid(1)), reason: "探访".into() }
    }

    // ------------------------------------------------------ given/when/then

    /// One aggregate as the scenarios drive it: `given` folds with
    /// `evolve`, `when` calls `decide` with a `Context` over the test world.
    pub trait Aggregate: Default + Clone + Debug + PartialEq {
        type Id: Clone + Debug;
        type Command: Clone + Debug;
        type Event: Clone + Debug + PartialEq;
        /// The instance the scenarios talk about: T-1, V-1.
        fn default_id() -> Self::Id;
        fn evolve(&mut self, event: &Self::Event, at: Timestamp);
        fn decide(
            &self,
            id: &Self::Id,
            command: &Self::Command,
            actor: &Actor,
            ctx: &Context,
        ) -> Result<Vec<Self::Event>, Error>;
        fn version(&self) -> u64;
    }

    impl Aggregate for Ticket {
        type Id = TicketId;
        type Command = TicketCommand;
        type Event = TicketEvent;
        fn default_id() -> TicketId {
            tid(1)
        }
        fn evolve(&mut self, event: &TicketEvent, at: Timestamp) {
            Ticket::evolve(self, event, at);
        }
        fn decide(
            &self,
            id: &TicketId,
            command: &TicketCommand,
            actor: &Actor,
            ctx: &Context,
        ) -> Result<Vec<TicketEvent>, Error> {
            Ticket::decide(self, id, command, actor, ctx)
        }
        fn version(&self) -> u64 {
            self.version
        }
    }

    impl Aggregate for Volunteer {
        type Id = VolunteerId;
        type Command = VolunteerCommand;
        type Event = VolunteerEvent;
        fn default_id() -> VolunteerId {
            vid(1)
        }
        fn evolve(&mut self, event: &VolunteerEvent, _at: Timestamp) {
            Volunteer::evolve(self, event);
        }
        fn decide(
            &self,
            id: &VolunteerId,
            command: &VolunteerCommand,
            actor: &Actor,
            ctx: &Context,
        ) -> Result<Vec<VolunteerEvent>, Error> {
            Volunteer::decide(self, id, command, actor, ctx)
        }
        fn version(&self) -> u64 {
            self.version
        }
    }

    /// Which aggregate an event type belongs to, so `given(&[events])`
    /// needs no type annotation.
    pub trait EventOf: Sized {
        type Agg: Aggregate<Event = Self>;
    }
    impl EventOf for TicketEvent {
        type Agg = Ticket;
    }
    impl EventOf for VolunteerEvent {
        type Agg = Volunteer;
    }
    impl EventOf for gridloop_engine::patrol::PatrolEvent {
        type Agg = gridloop_engine::patrol::Patrols;
    }

    impl Aggregate for gridloop_engine::patrol::Patrols {
        type Id = gridloop_engine::ids::ActorId;
        type Command = gridloop_engine::patrol::PatrolCommand;
        type Event = gridloop_engine::patrol::PatrolEvent;
        /// The default grid worker's patrol stream.
        fn default_id() -> gridloop_engine::ids::ActorId {
            grid_worker().id
        }
        fn evolve(&mut self, event: &Self::Event, _at: Timestamp) {
            gridloop_engine::patrol::Patrols::evolve(self, event);
        }
        fn decide(
            &self,
            id: &Self::Id,
            command: &Self::Command,
            actor: &Actor,
            ctx: &Context,
        ) -> Result<Vec<Self::Event>, Error> {
            gridloop_engine::patrol::Patrols::decide(self, id, command, actor, ctx)
        }
        fn version(&self) -> u64 {
            self.version
        }
    }

    impl Aggregate for gridloop_engine::weekly::WeeklyReport {
        type Id = gridloop_engine::weekly::WeeklyId;
        type Command = gridloop_engine::weekly::WeeklyCommand;
        type Event = gridloop_engine::weekly::WeeklyEvent;
        /// Grid `GRID`'s report for the week of `t0()`, 2026-W48.
        fn default_id() -> Self::Id {
            gridloop_engine::weekly::WeeklyId {
                grid: grid(GRID),
                week: gridloop_engine::weekly::IsoWeek::parse("2026-W48").expect("a week"),
            }
        }
        fn evolve(&mut self, event: &Self::Event, at: Timestamp) {
            gridloop_engine::weekly::WeeklyReport::evolve(self, event, at);
        }
        fn decide(
            &self,
            id: &Self::Id,
            command: &Self::Command,
            actor: &Actor,
            ctx: &Context,
        ) -> Result<Vec<Self::Event>, Error> {
            gridloop_engine::weekly::WeeklyReport::decide(self, id, command, actor, ctx)
        }
        fn version(&self) -> u64 {
            self.version
        }
    }
    impl EventOf for gridloop_engine::weekly::WeeklyEvent {
        type Agg = gridloop_engine::weekly::WeeklyReport;
    }

    /// A history, folded.
    #[derive(Debug, Clone)]
    pub struct Given<A: Aggregate> {
        state: A,
        clock: Timestamp,
    }

    /// The history `events`, each folded in at `t0()`.
    pub fn given<E: EventOf>(events: &[E]) -> Given<E::Agg> {
        Given { state: E::Agg::default(), clock: t0() }.and_at(t0(), events)
    }
    /// No ticket yet (the stream does not exist).
    pub fn no_ticket() -> Given<Ticket> {
        given::<TicketEvent>(&[])
    }
    /// No volunteer yet.
    pub fn no_volunteer() -> Given<Volunteer> {
        given::<VolunteerEvent>(&[])
    }

    impl<A: Aggregate> Given<A> {
        /// More history, folded in at `at`; later commands default to `at`.
        pub fn and_at(mut self, at: Timestamp, events: &[A::Event]) -> Self {
            for event in events {
                self.state.evolve(event, at);
            }
            self.clock = at;
            self
        }
        pub fn state(&self) -> &A {
            &self.state
        }
        /// `actor` sends `command` to the default instance, at the time of
        /// the last history (override with `.at`, `.on`).
        pub fn when(self, actor: &Actor, command: A::Command) -> When<A> {
            When { state: self.state, id: A::default_id(), actor: actor.clone(), command, now: self.clock }
        }
    }

    #[derive(Debug, Clone)]
    pub struct When<A: Aggregate> {
        state: A,
        id: A::Id,
        actor: Actor,
        command: A::Command,
        now: Timestamp,
    }

    impl<A: Aggregate> When<A> {
        /// The clock's `now` for this decision.
        pub fn at(mut self, now: Timestamp) -> Self {
            self.now = now;
            self
        }
        /// Addresses another instance id.
        pub fn on(mut self, id: A::Id) -> Self {
            self.id = id;
            self
        }
        pub fn decide(&self) -> Result<Vec<A::Event>, Error> {
            self.state.decide(&self.id, &self.command, &self.actor, &ctx(self.now))
        }
        /// Asserts that the command is accepted and decides exactly
        /// `expected`; returns the state with them folded in at `now`.
        #[track_caller]
        pub fn then(self, expected: &[A::Event]) -> A {
            match self.decide() {
                Ok(events) => {
                    assert_eq!(
                        events, expected,
                        "\n{:?} by {:?} at {} decided other events",
                        self.command, self.actor, self.now
                    );
                    let mut state = self.state;
                    let before = state.version();
                    for event in &events {
                        state.evolve(event, self.now);
                    }
                    assert_eq!(state.version(), before + events.len() as u64, "evolve counts every event");
                    state
                }
                Err(e) => panic!("\n{:?} by {:?} at {} was refused: {e:?} ({e})", self.command, self.actor, self.now),
            }
        }
        /// Asserts that the command is refused with an error matching `check`.
        #[track_caller]
        pub fn then_refused(self, check: impl FnOnce(&Error) -> bool) -> Error {
            match self.decide() {
                Ok(events) => panic!(
                    "\n{:?} by {:?} at {} should be refused, but decided {events:?}",
                    self.command, self.actor, self.now
                ),
                Err(e) => {
                    assert!(
                        check(&e),
                        "\n{:?} by {:?} at {} was refused with an unexpected error: {e:?} ({e})",
                        self.command,
                        self.actor,
                        self.now
                    );
                    e
                }
            }
        }
        /// Asserts that the command is refused with exactly `expected`.
        #[track_caller]
        pub fn then_error(self, expected: Error) {
            let (command, actor, now) = (format!("{:?}", self.command), self.actor.clone(), self.now);
            match self.decide() {
                Ok(events) => panic!(
                    "\n{command} by {actor:?} at {now} should be refused with {expected:?}, but decided {events:?}"
                ),
                Err(e) => assert_eq!(e, expected, "\n{command} by {actor:?} at {now}"),
            }
        }
    }
}
