//! The volunteer directory on hand-built logs: open orders taken and
//! released through every way a ticket leaves a volunteer, recent orders
//! inside and outside the fairness window, views of one place; then the
//! runner's promises (rebuild == live, byte for byte), and on random
//! histories through the real command service, open orders equal to the
//! tickets each volunteer holds by the engine's own fold.

use std::collections::{BTreeMap, BTreeSet};

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::{Skill, TeamId, TicketId, VolunteerId};
use gridloop_engine::routing::{Route, VolunteerView, ring_scope, route};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, CloseReason, EscalationReason, Rating, Ticket, TicketEvent, Tier};
use gridloop_engine::time::Millis;
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_projections::directory::{Directory, ORDER_TIMES_MAX};
use gridloop_projections::runner::{MemorySnapshots, Runner};

use crate::support::*;

const SUB_A: &str = "440802-001-001-001-01";
const COMMUNITY: &str = "440802-001-001";

fn vid(n: u64) -> VolunteerId {
    VolunteerId::from_number(n)
}

fn skills(list: &[&str]) -> BTreeSet<Skill> {
    list.iter().map(|s| Skill::new(*s).expect("valid skill")).collect()
}

fn team(n: u64) -> Assignee {
    Assignee::Team(TeamId::from_number(n))
}

trait LogExt {
    fn register(&mut self, n: u64, at: &str, home: &str, skill_list: &[&str], open_orders_max: u32) -> &mut Self;
    fn volunteer(&mut self, n: u64, at: &str, event: VolunteerEvent) -> &mut Self;
    /// Submits ticket `n` in GRID_A (the directory does not read it).
    fn open(&mut self, n: u64, at: &str) -> &mut Self;
}

impl LogExt for Log {
    fn register(&mut self, n: u64, at: &str, home: &str, skill_list: &[&str], open_orders_max: u32) -> &mut Self {
        self.volunteer(
            n,
            at,
            VolunteerEvent::Registered {
                volunteer: vid(n),
                team: TeamId::from_number(1),
                home_grid: grid(home),
                skills: skills(skill_list),
                open_orders_max,
            },
        )
    }
    fn volunteer(&mut self, n: u64, at: &str, event: VolunteerEvent) -> &mut Self {
        self.push(gridloop_engine::ids::StreamId::volunteer(&vid(n)), at, event)
    }
    fn open(&mut self, n: u64, at: &str) -> &mut Self {
        self.submit(n, at, GRID_A, "CS-001", "2026-11-30T00:00:00Z", "2026-12-30T00:00:00Z")
    }
}

fn reassigned(to: Assignee) -> TicketEvent {
    TicketEvent::Reassigned { to, reason: "派单".into() }
}

fn escalated() -> TicketEvent {
    TicketEvent::Escalated {
        from: Tier::Grid,
        to: Tier::Community,
        reason: EscalationReason::Difficulty,
        note: String::new(),
        respond_by: None,
        resolve_by: None,
    }
}

fn reopened() -> TicketEvent {
    TicketEvent::Reopened { reason: "回访不满意".into(), resolve_by: t("2026-12-30T00:00:00Z"), respond_by: None }
}

fn open_orders(d: &Directory) -> Vec<(u64, u32)> {
    d.views(t("2026-11-02T00:00:00Z"), Millis::days(30))
        .iter()
        .map(|v| (v.id.as_str()[2..].parse().expect("V-n"), v.open_orders))
        .collect()
}

const T0: &str = "2026-11-02T00:00:00Z";

/// V-1 and V-2 in GRID_A, V-3 in GRID_B; nothing ordered yet.
fn three_volunteers() -> Log {
    let mut log = Log::default();
    log.register(1, T0, GRID_A, &["elderly_care"], 3).register(2, T0, GRID_A, &["elderly_care"], 3).register(
        3,
        T0,
        GRID_B,
        &["plumbing"],
        2,
    );
    log
}

#[test]
fn an_order_is_open_from_acceptance_to_resolution() {
    let mut log = three_volunteers();
    log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1)));
    log.open(2, "2026-11-02T09:00:00Z").ticket(2, "2026-11-02T09:10:00Z", accepted(vol(1)));
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 2), (2, 0), (3, 0)]);
    assert_eq!(d.holder(&TicketId::from_number(1)), Some(&vid(1)));

    log.ticket(1, "2026-11-02T10:00:00Z", TicketEvent::Started { by: vol(1) }).ticket(
        1,
        "2026-11-02T10:05:00Z",
        TicketEvent::NoteAdded { text: "在路上".into() },
    );
    assert_eq!(open_orders(&log.fold()), [(1, 2), (2, 0), (3, 0)], "starting and notes change nothing");

    log.ticket(1, "2026-11-02T11:00:00Z", resolved(vol(1), 60, "2026-11-05T11:00:00Z"));
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 1), (2, 0), (3, 0)], "resolving releases the order");
    assert_eq!(d.holder(&TicketId::from_number(1)), None);

    log.ticket(1, "2026-11-02T12:00:00Z", rated(Rating::Satisfied))
        .ticket(1, "2026-11-02T12:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed })
        .ticket(2, "2026-11-02T13:00:00Z", resolved(vol(1), 30, "2026-11-05T13:00:00Z"));
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 0), (2, 0), (3, 0)]);
    assert_eq!(d.load(&vid(1)).expect("ordered").order_times.len(), 2, "both orders stay in the history");
}

#[test]
fn reassigning_moves_the_order_to_the_new_holder() {
    let mut log = three_volunteers();
    log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1))).ticket(
        1,
        "2026-11-02T09:00:00Z",
        reassigned(vol(2)),
    );
    assert_eq!(open_orders(&log.fold()), [(1, 0), (2, 1), (3, 0)], "from V-1 to V-2");

    log.ticket(1, "2026-11-02T10:00:00Z", reassigned(team(1)));
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 0), (2, 0), (3, 0)], "to a team: no volunteer holds it");
    assert_eq!(d.holder(&TicketId::from_number(1)), None);

    log.ticket(1, "2026-11-02T11:00:00Z", reassigned(vol(1))).ticket(
        1,
        "2026-11-02T12:00:00Z",
        reassigned(dept("civil_affairs")),
    );
    assert_eq!(open_orders(&log.fold()), [(1, 0), (2, 0), (3, 0)], "back to V-1, then to a department");

    log.ticket(1, "2026-11-02T13:00:00Z", reassigned(vol(3)));
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 0), (2, 0), (3, 1)]);
    let orders = |n| d.load(&vid(n)).map_or(0, |l| l.order_times.len());
    assert_eq!((orders(1), orders(2), orders(3)), (2, 1, 1), "every taking is an order, even of the same ticket");
}

#[test]
fn every_way_a_ticket_leaves_a_volunteer_releases_it() {
    let releasing: Vec<(&str, Vec<TicketEvent>)> = vec![
        ("escalated", vec![escalated()]),
        ("cancelled", vec![TicketEvent::Cancelled { reason: "不需要了".into() }]),
        ("marked a duplicate", vec![TicketEvent::MarkedDuplicate { of: TicketId::from_number(9) }]),
        (
            "self-handled",
            vec![TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new("gw-1").expect("valid") }],
        ),
        (
            "resolved, then reopened",
            vec![resolved(vol(1), 60, "2026-11-05T00:00:00Z"), rated(Rating::Unsatisfied), reopened()],
        ),
        ("accepted by another", vec![accepted(vol(2))]),
    ];
    for (name, events) in releasing {
        let mut log = three_volunteers();
        log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1)));
        log.open(2, "2026-11-02T08:20:00Z").ticket(2, "2026-11-02T08:30:00Z", accepted(vol(1)));
        for event in events {
            log.ticket(1, "2026-11-02T09:00:00Z", event);
        }
        let d: Directory = log.fold();
        assert_eq!(d.open_orders(&vid(1)), 1, "{name}: V-1 keeps only ticket 2");
        assert_ne!(d.holder(&TicketId::from_number(1)), Some(&vid(1)), "{name}");
    }

    // Re-dispatched after escalation: taken again, released again, never
    // below zero.
    let mut log = three_volunteers();
    log.open(1, "2026-11-02T08:00:00Z")
        .ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-02T09:00:00Z", escalated())
        .ticket(1, "2026-11-02T09:30:00Z", reassigned(vol(1)))
        .ticket(1, "2026-11-02T10:00:00Z", resolved(vol(1), 60, "2026-11-05T00:00:00Z"))
        .ticket(1, "2026-11-02T11:00:00Z", rated(Rating::Unsatisfied))
        .ticket(1, "2026-11-02T11:00:00Z", reopened())
        .ticket(1, "2026-11-02T12:00:00Z", TicketEvent::Cancelled { reason: "撤单".into() });
    let d: Directory = log.fold();
    assert_eq!(d.open_orders(&vid(1)), 0);
    assert_eq!(d.load(&vid(1)).expect("ordered").order_times.len(), 2);
}

#[test]
fn recent_orders_count_the_fairness_window_only() {
    let mut log = three_volunteers();
    for (n, at) in [
        (1, "2026-10-01T00:00:00Z"),
        (2, "2026-10-20T00:00:00Z"),
        (3, "2026-11-19T00:00:00Z"),
        (4, "2026-11-20T12:00:00Z"),
    ] {
        log.open(n, at).ticket(n, at, accepted(vol(1))).ticket(n, at, resolved(vol(1), 10, "2026-12-01T00:00:00Z"));
    }
    let d: Directory = log.fold();
    let now = t("2026-11-20T00:00:00Z");
    let recent = |window: Millis| d.view(&vid(1), now, window).expect("registered").recent_orders;
    assert_eq!(recent(Millis::days(30)), 1, "19 Nov only: 20 Oct is 31 days back, 20 Nov 12:00 is after now");
    assert_eq!(recent(Millis::days(31)), 1, "20 Oct 00:00 is exactly 31 days back: outside (the window is open)");
    assert_eq!(recent(Millis::days(32)), 2);
    assert_eq!(recent(Millis::days(60)), 3, "never an order after now");
    assert_eq!(recent(Millis::hours(1)), 0);
    let at = |now: &str, window: Millis| d.view(&vid(1), t(now), window).expect("registered").recent_orders;
    assert_eq!(at("2026-11-20T12:00:00Z", Millis::hours(1)), 1, "an order at now is recent");
    assert_eq!(at("2026-11-21T00:00:00Z", Millis::days(2)), 1, "19 Nov 00:00 is exactly 2 days back");
    assert_eq!(at("2026-11-21T00:00:01Z", Millis::days(60)), 4);
    assert_eq!(d.view(&vid(2), now, Millis::days(30)).expect("v").recent_orders, 0);
    assert_eq!(d.view(&vid(9), now, Millis::days(30)), None, "not registered");
}

#[test]
fn order_history_is_bounded() {
    let mut log = three_volunteers();
    let n = ORDER_TIMES_MAX as u64 + 6;
    for i in 1..=n {
        let at = format!("2026-11-02T{:02}:{:02}:00Z", i / 60, i % 60);
        log.open(i, &at).ticket(i, &at, accepted(vol(2)));
    }
    let d: Directory = log.fold();
    let load = d.load(&vid(2)).expect("ordered");
    assert_eq!(load.open_orders, n as u32, "open orders are counted, not bounded");
    assert_eq!(load.order_times.len(), ORDER_TIMES_MAX);
    assert_eq!(load.order_times[0], t("2026-11-02T00:07:00Z"), "the oldest six were dropped");
    assert_eq!(d.view(&vid(2), t("2026-11-03T00:00:00Z"), Millis::days(30)).expect("v").recent_orders, 64);
}

#[test]
fn profiles_follow_skills_and_availability() {
    let mut log = three_volunteers();
    log.volunteer(1, "2026-11-03T00:00:00Z", VolunteerEvent::AvailabilityChanged { available: false })
        .volunteer(2, "2026-11-03T00:00:00Z", VolunteerEvent::SkillsChanged { skills: skills(&["driving"]) })
        .volunteer(
            2,
            "2026-11-03T00:00:00Z",
            VolunteerEvent::PointsAwarded { points: 5, ticket: None, reason: "奖励".into() },
        );
    let d: Directory = log.fold();
    let views = d.views(t("2026-11-04T00:00:00Z"), Millis::days(30));
    assert_eq!(views.len(), 3);
    assert_eq!(
        views[0],
        VolunteerView {
            id: vid(1),
            team: TeamId::from_number(1),
            home_grid: grid(GRID_A),
            skills: skills(&["elderly_care"]),
            available: false,
            open_orders: 0,
            open_orders_max: 3,
            recent_orders: 0,
        }
    );
    assert_eq!((views[1].available, &views[1].skills), (true, &skills(&["driving"])));
    assert_eq!(d.len(), 3);
}

#[test]
fn orders_taken_before_registration_are_counted() {
    let mut log = Log::default();
    log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(7)));
    let d: Directory = log.fold();
    assert!(d.views(t("2026-11-03T00:00:00Z"), Millis::days(30)).is_empty(), "no profile, no view");
    assert_eq!(d.open_orders(&vid(7)), 1);
    log.register(7, "2026-11-02T09:00:00Z", GRID_C, &["patrol"], 2);
    let d: Directory = log.fold();
    let view = d.view(&vid(7), t("2026-11-03T00:00:00Z"), Millis::days(30)).expect("registered");
    assert_eq!((view.open_orders, view.recent_orders), (1, 1));
}

#[test]
fn views_within_a_place_list_its_residents_only() {
    let mut log = three_volunteers();
    log.register(4, T0, SUB_A, &["elderly_care"], 1).register(5, T0, GRID_C, &["elderly_care"], 1);
    let d: Directory = log.fold();
    let ids = |scope: &str| -> Vec<u64> {
        d.views_within(&grid(scope), t("2026-11-03T00:00:00Z"), Millis::days(30))
            .iter()
            .map(|v| v.id.as_str()[2..].parse().expect("V-n"))
            .collect()
    };
    assert_eq!(ids("440802"), [1, 2, 4, 3, 5], "the district: everyone, by home grid then id");
    assert_eq!(ids("440802-001"), [1, 2, 4, 3]);
    assert_eq!(ids(COMMUNITY), [1, 2, 4, 3]);
    assert_eq!(ids(GRID_A), [1, 2, 4], "a grid includes its sub-grids");
    assert_eq!(ids(SUB_A), [4]);
    assert_eq!(ids(GRID_B), [3]);
    assert_eq!(ids("440802-002"), [5]);
    assert_eq!(ids("440802-003"), Vec::<u64>::new());
    let all = d.views(t("2026-11-03T00:00:00Z"), Millis::days(30));
    for scope in ["440802", "440802-001", COMMUNITY, GRID_A, SUB_A, GRID_B, GRID_C, "440802-002", "440802-002-001"] {
        let expected: BTreeSet<VolunteerId> =
            all.iter().filter(|v| v.home_grid.is_within(&grid(scope))).map(|v| v.id.clone()).collect();
        let got: BTreeSet<VolunteerId> = d
            .views_within(&grid(scope), t("2026-11-03T00:00:00Z"), Millis::days(30))
            .into_iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(got, expected, "{scope}");
    }
}

#[test]
fn the_directory_feeds_routing() {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let world = &district.world;
    let item =
        world.catalog.items().find(|i| i.mode == HandlingMode::Volunteer && i.admitted).expect("a volunteer item");
    let need = item.skills[0].as_str();
    let home = world.grids.at_level(gridloop_engine::grid::Level::Grid).next().expect("a grid").code.clone();
    let mut log = Log::default();
    log.register(1, T0, home.as_str(), &[need], 1).register(2, T0, home.as_str(), &[need], 2).register(
        3,
        T0,
        home.as_str(),
        &[need],
        2,
    );
    log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1)));
    log.open(2, "2026-11-02T09:00:00Z").ticket(2, "2026-11-02T09:10:00Z", accepted(vol(3))).ticket(
        2,
        "2026-11-02T10:00:00Z",
        resolved(vol(3), 30, "2026-11-05T00:00:00Z"),
    );
    let d: Directory = log.fold();
    let now = t("2026-11-02T12:00:00Z");
    let views = d.views_within(&ring_scope(&home, 0), now, world.routing.fairness_window);
    let got = route(item, &home, 0, &BTreeSet::new(), &views, world);
    assert_eq!(
        got,
        Route::Offer { candidates: vec![vid(2), vid(3)], ring: gridloop_engine::grid::Level::Grid },
        "V-1 is at its limit; V-3 served recently, so V-2 first"
    );
}

// ------------------------------------------------------------ the runner

/// Applies the log in a runner that saves after `save_at` events, crashes
/// (drops its state), resumes from the save, is redelivered everything from
/// the start, and finishes; returns the final snapshot.
fn live_with_crash(log: &[RecordedEvent], save_at: usize) -> Vec<u8> {
    let snapshots = MemorySnapshots::default();
    let mut runner = Runner::<Directory>::fresh();
    for event in &log[..save_at] {
        runner.evolve(event).expect("applies");
    }
    runner.save(&snapshots).expect("saves");
    for event in &log[save_at..log.len().min(save_at + 3)] {
        runner.evolve(event).expect("applies, then is lost in the crash");
    }
    let mut runner = Runner::<Directory>::resume(&snapshots).expect("resumes");
    for event in log {
        runner.evolve(event).expect("redelivery is skipped, the rest applies");
    }
    runner.snapshot()
}

fn rebuilt(log: &[RecordedEvent]) -> Vec<u8> {
    let mut runner = Runner::<Directory>::fresh();
    for event in log {
        runner.evolve(event).expect("applies");
    }
    runner.snapshot()
}

fn hand_built_log() -> Log {
    let mut log = three_volunteers();
    log.register(4, T0, SUB_A, &["elderly_care"], 1);
    log.open(1, "2026-11-02T08:00:00Z").ticket(1, "2026-11-02T08:10:00Z", accepted(vol(1)));
    log.open(2, "2026-11-02T08:20:00Z").ticket(2, "2026-11-02T08:30:00Z", accepted(vol(2))).ticket(
        2,
        "2026-11-02T08:40:00Z",
        reassigned(vol(4)),
    );
    log.volunteer(3, "2026-11-02T09:00:00Z", VolunteerEvent::AvailabilityChanged { available: false });
    log.ticket(1, "2026-11-02T09:10:00Z", escalated()).ticket(1, "2026-11-02T09:20:00Z", reassigned(vol(3)));
    log.open(3, "2026-11-02T09:30:00Z").ticket(3, "2026-11-02T09:40:00Z", accepted(vol(1)));
    log.ticket(2, "2026-11-02T10:00:00Z", resolved(vol(4), 30, "2026-11-05T00:00:00Z"));
    log.volunteer(1, "2026-11-02T10:30:00Z", VolunteerEvent::SkillsChanged { skills: skills(&["driving"]) });
    log.ticket(3, "2026-11-02T11:00:00Z", TicketEvent::MarkedDuplicate { of: TicketId::from_number(1) });
    log
}

#[test]
fn rebuild_equals_live_byte_for_byte() {
    let log = hand_built_log();
    let whole = rebuilt(&log.events);
    for save_at in 0..log.events.len() {
        assert_eq!(live_with_crash(&log.events, save_at), whole, "saved after {save_at} events");
    }
    let d: Directory = log.fold();
    assert_eq!(open_orders(&d), [(1, 0), (2, 0), (3, 1), (4, 0)]);
    let back: Directory = serde_json::from_slice(&serde_json::to_vec(&d).expect("serialises")).expect("decodes");
    assert_eq!(back, d, "the snapshot round-trips");
}

/// The engine's own fold of every ticket stream in the log.
fn tickets_of(log: &[RecordedEvent]) -> BTreeMap<String, Ticket> {
    let mut tickets: BTreeMap<String, Ticket> = BTreeMap::new();
    for event in log.iter().filter(|e| e.stream.kind() == "ticket") {
        let payload: TicketEvent = event.decode().expect("decodes");
        tickets.entry(event.stream.to_string()).or_default().evolve(&payload, event.occurred_at);
    }
    tickets
}

#[test]
fn on_random_histories_open_orders_are_the_tickets_each_volunteer_holds() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    for seed in [2, 5, 8] {
        let log = runtime.block_on(async {
            let store = random_history(seed, 500).await;
            store.read_all(1, usize::MAX).await.expect("read")
        });
        let taken = log.iter().filter(|e| matches!(e.schema.name.as_str(), "ticket.accepted" | "ticket.reassigned"));
        assert!(taken.count() > 10, "seed {seed}: the history takes orders");

        let mut held: BTreeMap<VolunteerId, u32> = BTreeMap::new();
        let mut holders: BTreeMap<TicketId, Option<VolunteerId>> = BTreeMap::new();
        for ticket in tickets_of(&log).into_values() {
            let holder = match (ticket.status.is_held(), &ticket.holder) {
                (true, Some(Assignee::Volunteer(v))) => Some(v.clone()),
                _ => None,
            };
            if let Some(v) = &holder {
                *held.entry(v.clone()).or_default() += 1;
            }
            holders.insert(ticket.id.clone().expect("submitted"), holder);
        }
        let d: Directory = {
            let mut runner = Runner::<Directory>::fresh();
            for event in &log {
                runner.evolve(event).expect("applies");
            }
            serde_json::from_slice(&serde_json::to_vec(runner.state()).expect("ser")).expect("de")
        };
        for v in 1..=3 {
            let id = vid(v);
            assert_eq!(d.open_orders(&id), held.get(&id).copied().unwrap_or(0), "seed {seed}: V-{v}");
        }
        for (ticket, v) in &holders {
            assert_eq!(d.holder(ticket), v.as_ref(), "seed {seed}: {ticket}");
        }
        let whole = rebuilt(&log);
        for save_at in [0, log.len() / 3, log.len() / 2, log.len() - 1] {
            assert_eq!(live_with_crash(&log, save_at), whole, "seed {seed}, saved after {save_at}");
        }
    }
}
