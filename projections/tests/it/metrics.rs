//! Each rate on hand-built histories whose answers are known, including the
//! edge cases: reopened, cancelled before and after acceptance, duplicate,
//! escalated to the street, feedback changed, no data, and as-of views.

use gridloop_engine::grid::Level;
use gridloop_engine::ids::ActorId;
use gridloop_engine::ticket::{Assignee, CloseReason, EscalationReason, Rating, TicketEvent, Tier};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::world::TeamKind;
use gridloop_projections::calendar::Period;
use gridloop_projections::metrics::{Spread, What};
use gridloop_projections::{By, Cohort, Metrics, Rate};

use crate::support::*;

fn all() -> Cohort {
    Cohort { from: t("2026-11-01T00:00:00Z"), to: t("2026-12-01T00:00:00Z"), scope: None }
}

fn rate(numerator: u64, denominator: u64) -> Rate {
    Rate { numerator, denominator }
}

/// Ticket 1: accepted in time, resolved in time, satisfied, closed.
/// Ticket 2: accepted late, resolved late, unsatisfied → reopened, resolved
///           again in time, basically satisfied, closed (feedback changed).
/// Ticket 3: cancelled before anyone took it (not valid).
/// Ticket 4: accepted, then cancelled (valid, never completed).
/// Ticket 5: marked duplicate (not valid).
/// Ticket 6: escalated to the street, assigned to a department, resolved in
///           time, no feedback, closed without feedback.
/// Ticket 7: never taken; its deadlines pass.
fn history() -> Log {
    let mut log = Log::default();
    log.item("2026-11-01T00:00:00Z", "CS-001", "community_service", false).item(
        "2026-11-01T00:00:00Z",
        "SC-001",
        "street_community_coordination",
        false,
    );
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(1, "2026-11-02T02:00:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-02T05:00:00Z", resolved(vol(1), 60, "2026-11-05T05:00:00Z"))
        .ticket(1, "2026-11-02T06:00:00Z", rated(Rating::Satisfied))
        .ticket(1, "2026-11-02T07:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed });
    log.submit(2, "2026-11-02T01:00:00Z", GRID_B, "CS-001", "2026-11-02T03:00:00Z", "2026-11-03T01:00:00Z")
        .ticket(2, "2026-11-02T04:00:00Z", accepted(vol(2)))
        .ticket(2, "2026-11-03T02:00:00Z", resolved(vol(2), 90, "2026-11-06T02:00:00Z"))
        .ticket(2, "2026-11-03T03:00:00Z", rated(Rating::Unsatisfied))
        .ticket(
            2,
            "2026-11-03T03:00:00Z",
            TicketEvent::Reopened {
                reason: "不满意".into(), resolve_by: t("2026-11-05T03:00:00Z"), respond_by: None
            },
        )
        .ticket(2, "2026-11-04T03:00:00Z", TicketEvent::Reassigned { to: vol(2), reason: "重办".into() })
        .ticket(2, "2026-11-04T09:00:00Z", resolved(vol(2), 30, "2026-11-07T09:00:00Z"))
        .ticket(2, "2026-11-04T10:00:00Z", rated(Rating::BasicallySatisfied))
        .ticket(2, "2026-11-04T11:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed });
    log.submit(3, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z").ticket(
        3,
        "2026-11-02T01:30:00Z",
        TicketEvent::Cancelled { reason: "不需要了".into() },
    );
    log.submit(4, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(4, "2026-11-02T02:00:00Z", accepted(vol(3)))
        .ticket(4, "2026-11-02T03:00:00Z", TicketEvent::Cancelled { reason: "不需要了".into() });
    log.submit(5, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z").ticket(
        5,
        "2026-11-02T01:10:00Z",
        TicketEvent::MarkedDuplicate { of: gridloop_engine::ids::TicketId::from_number(1) },
    );
    log.submit(6, "2026-11-02T01:00:00Z", GRID_C, "SC-001", "2026-11-02T05:00:00Z", "2026-11-09T01:00:00Z")
        .ticket(6, "2026-11-02T02:00:00Z", escalated(Tier::Grid, Tier::Community))
        .ticket(6, "2026-11-02T03:00:00Z", escalated(Tier::Community, Tier::Street))
        .ticket(
            6,
            "2026-11-02T04:00:00Z",
            TicketEvent::Reassigned { to: dept("urban_management"), reason: "吹哨".into() },
        )
        .ticket(6, "2026-11-05T01:00:00Z", resolved(dept("urban_management"), 300, "2026-11-08T01:00:00Z"))
        .ticket(6, "2026-11-08T01:00:00Z", TicketEvent::Closed { reason: CloseReason::NoFeedback });
    log.submit(7, "2026-11-02T01:00:00Z", GRID_C, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z");
    log
}

fn escalated(from: Tier, to: Tier) -> TicketEvent {
    TicketEvent::Escalated {
        from,
        to,
        reason: EscalationReason::Difficulty,
        note: String::new(),
        respond_by: None,
        resolve_by: None,
    }
}

#[test]
fn every_rate_on_a_known_history() {
    let metrics: Metrics = history().fold();
    let r = metrics.rates(&all(), t("2026-11-10T00:00:00Z"));
    assert_eq!((r.submitted, r.valid), (7, 5), "3 (cancelled untaken) and 5 (duplicate) are not valid");
    assert_eq!(r.acceptance, rate(3, 5), "1, 4 and 6 were taken in time; 2 late; 7 never");
    assert_eq!(
        r.completion,
        rate(3, 4),
        "1, 2 and 6 are resolved and not reopened; 7 is past due; 4 was cancelled before it fell due"
    );
    assert_eq!(r.on_time, rate(3, 4), "1, 2 (against its reopened deadline) and 6 in time; 7 past due");
    assert_eq!(r.satisfaction, rate(2, 2), "latest ratings: 1 satisfied, 2 basically satisfied");
    assert_eq!(r.in_grid, rate(2, 3), "6 went to the street");
    assert_eq!(r.closed_loop, rate(3, 3));
}

#[test]
fn a_ticket_cancelled_after_acceptance_stays_valid_and_taken() {
    // Ticket 4 was accepted at 02:00 with a 03:00 deadline, then cancelled.
    let metrics: Metrics = history().fold();
    let taken_in_time: Vec<u64> = metrics
        .tickets()
        .filter(|(_, f)| {
            let s = f.as_of(t("2026-11-10T00:00:00Z"));
            !s.cancelled_before_taken && !s.duplicate && s.taken_at.is_some_and(|a| a <= f.accept_by)
        })
        .map(|(id, _)| id.number())
        .collect();
    assert_eq!(taken_in_time, [1, 4, 6]);
}

#[test]
fn as_of_a_moment_between_resolution_and_reopening() {
    let metrics: Metrics = history().fold();
    // Ticket 2 resolved on the 3rd at 02:00 and was reopened at 03:00.
    let between = metrics.rates(&all(), t("2026-11-03T02:30:00Z"));
    let after = metrics.rates(&all(), t("2026-11-03T03:30:00Z"));
    assert_eq!(between.completion, rate(2, 2), "1 and 2 are resolved at 02:30; no other is due yet");
    assert_eq!(after.completion, rate(1, 1), "2 is reopened at 03:30, its fresh deadline ahead; 6 not yet due");
    assert_eq!(after.satisfaction, rate(1, 2), "2's latest rating then is unsatisfied");
    let before_any = metrics.rates(&all(), t("2026-11-02T00:30:00Z"));
    assert_eq!(before_any.submitted, 0);
    assert_eq!(before_any.completion.per_mille(), None, "no valid tickets: no data");
}

#[test]
fn empty_denominators_are_no_data_never_zero_or_hundred() {
    let metrics = Metrics::new();
    let r = metrics.rates(&all(), t("2026-11-10T00:00:00Z"));
    for rate in [r.acceptance, r.completion, r.on_time, r.satisfaction, r.in_grid, r.closed_loop] {
        assert_eq!(rate.per_mille(), None);
        assert_eq!(rate.to_string(), "no data");
    }
    assert_eq!(r.time_to_accept, None);
}

#[test]
fn rates_print_with_their_parts() {
    assert_eq!(rate(973, 1000).to_string(), "97.3% (973/1000)");
    assert_eq!(rate(2, 3).to_string(), "66.7% (2/3)");
    assert_eq!(rate(0, 4).to_string(), "0.0% (0/4)");
}

#[test]
fn times_to_accept_and_resolve() {
    let metrics: Metrics = history().fold();
    let r = metrics.rates(&all(), t("2026-11-10T00:00:00Z"));
    // Taken after 1h (1), 3h (2), 1h (4), 3h (6, assigned at 04:00).
    assert_eq!(
        r.time_to_accept,
        Some(Spread { median: Millis::hours(1), p90: Millis::hours(3), max: Millis::hours(3) })
    );
    // Resolved (latest) after 4h (1), 2d8h (2), 3d (6).
    let resolve = r.time_to_resolve.expect("some resolved");
    assert_eq!(resolve.median, Millis::hours(56));
    assert_eq!(resolve.max, Millis::days(3));
}

#[test]
fn scope_restricts_to_a_place() {
    let metrics: Metrics = history().fold();
    let street = Cohort { scope: Some(grid("440802-002")), ..all() };
    let r = metrics.rates(&street, t("2026-11-10T00:00:00Z"));
    assert_eq!((r.valid, r.completion, r.in_grid), (2, rate(1, 2), rate(0, 1)));
}

#[test]
fn breakdowns_by_place_department_team_category_and_period() {
    let metrics: Metrics = history().fold();
    let as_of = t("2026-11-10T00:00:00Z");
    let by_street = metrics.rates_by(&all(), as_of, By::Place(Level::Street));
    assert_eq!(by_street.keys().collect::<Vec<_>>(), ["440802-001", "440802-002"]);
    assert_eq!(by_street["440802-001"].valid, 3);
    let by_department = metrics.rates_by(&all(), as_of, By::Department);
    assert_eq!(by_department.keys().collect::<Vec<_>>(), ["urban_management"]);
    let by_category = metrics.rates_by(&all(), as_of, By::Category);
    assert_eq!(by_category["street_community_coordination"].valid, 1);
    assert_eq!(by_category["community_service"].valid, 4);
    let by_day = metrics.rates_by(&all(), as_of, By::Period(Period::Day));
    assert_eq!(by_day.keys().collect::<Vec<_>>(), ["2026-11-02"], "01:00 UTC is 09:00 in China");
    let by_week = metrics.rates_by(&all(), as_of, By::Period(Period::Week));
    assert_eq!(by_week.keys().collect::<Vec<_>>(), ["2026-W45"]);
    let by_team = metrics.rates_by(&all(), as_of, By::Team);
    assert!(by_team.is_empty(), "no volunteer in this history registered with a team");
}

/// A ticket keeps the category its item had when it was submitted: a later
/// revision of the catalog moves only the tickets submitted after it. The
/// category comes from the catalog, never from the item code's letters.
#[test]
fn categories_come_from_the_catalog_as_it_stood_at_submission() {
    let mut log = Log::default();
    log.item("2026-11-01T00:00:00Z", "SC-001", "elder_care", false);
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "SC-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z");
    log.item("2026-11-03T00:00:00Z", "SC-001", "public_safety", true);
    log.submit(2, "2026-11-04T01:00:00Z", GRID_A, "SC-001", "2026-11-04T03:00:00Z", "2026-11-06T01:00:00Z");
    log.submit(3, "2026-11-04T01:00:00Z", GRID_A, "XX-9", "2026-11-04T03:00:00Z", "2026-11-06T01:00:00Z");
    let metrics: Metrics = log.fold();
    let by_category = metrics.rates_by(&all(), t("2026-11-10T00:00:00Z"), By::Category);
    assert_eq!(by_category.keys().collect::<Vec<_>>(), ["elder_care", "public_safety", "uncategorised"]);
    assert_eq!((by_category["elder_care"].valid, by_category["public_safety"].valid), (1, 1));
}

#[test]
fn cohorts_are_half_open_windows_of_submission_time() {
    let mut log = Log::default();
    log.submit(1, "2026-11-02T00:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z");
    log.submit(2, "2026-11-03T00:00:00Z", GRID_A, "CS-001", "2026-11-03T03:00:00Z", "2026-11-05T01:00:00Z");
    let metrics: Metrics = log.fold();
    let window = Cohort { from: t("2026-11-02T00:00:00Z"), to: t("2026-11-03T00:00:00Z"), scope: None };
    assert_eq!(metrics.rates(&window, t("2026-11-10T00:00:00Z")).submitted, 1);
}

#[test]
fn marks_keep_time_order_and_the_state_of_a_reopened_ticket() {
    let metrics: Metrics = history().fold();
    let (_, two) = metrics.tickets().find(|(id, _)| id.number() == 2).expect("ticket 2");
    let whats: Vec<What> = two.marks.iter().map(|m| m.what).collect();
    assert_eq!(whats[..3], [What::Taken, What::Resolved, What::Rated(Rating::Unsatisfied)]);
    assert!(two.marks.windows(2).all(|w| w[0].at <= w[1].at));
    let _: Timestamp = two.submitted_at;
}

/// The teams and volunteers of the in-grid cases, as the world and the
/// volunteer streams say: TM-1 is a community team, TM-2 a volunteer team,
/// TM-3 a backup agency; V-1 belongs to TM-1 and V-2 to TM-3.
fn people() -> Log {
    let mut log = Log::default();
    log.team("2026-11-01T00:00:00Z", 1, TeamKind::Community, false)
        .team("2026-11-01T00:00:00Z", 2, TeamKind::Volunteer, false)
        .team("2026-11-01T00:00:00Z", 3, TeamKind::BackupAgency, false)
        .member("2026-11-01T00:00:00Z", 1, 1)
        .member("2026-11-01T00:00:00Z", 2, 3);
    log
}

/// Ticket 1, submitted at grid tier in `GRID_A`, taken by `holder` through
/// `taken` and resolved by it.
fn handled_by(log: &mut Log, taken: TicketEvent, holder: Assignee) -> &mut Log {
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(1, "2026-11-02T02:00:00Z", taken)
        .ticket(1, "2026-11-02T05:00:00Z", resolved(holder, 60, "2026-11-05T05:00:00Z"))
}

fn assigned(to: Assignee) -> TicketEvent {
    TicketEvent::Reassigned { to, reason: "派单".into() }
}

fn in_grid(log: &Log) -> Rate {
    log.fold::<Metrics>().rates(&all(), t("2026-11-10T00:00:00Z")).in_grid
}

#[test]
fn a_department_assigned_at_grid_tier_does_not_keep_a_ticket_in_the_grid() {
    let mut log = people();
    handled_by(&mut log, assigned(dept("urban_management")), dept("urban_management"));
    assert_eq!(in_grid(&log), rate(0, 1), "a department is never the grid's own people, whatever the tier");
}

#[test]
fn volunteers_grid_workers_and_community_and_volunteer_teams_keep_it_in_the_grid() {
    let worker = Assignee::GridWorker(ActorId::new("gw-1").expect("valid"));
    let cases = [
        ("a volunteer", accepted(vol(1)), vol(1)),
        ("a volunteer nobody registered", accepted(vol(9)), vol(9)),
        ("a community team", assigned(team(1)), team(1)),
        ("a volunteer team", assigned(team(2)), team(2)),
        (
            "a grid worker handling it himself",
            TicketEvent::SelfHandled { worker: ActorId::new("gw-1").expect("valid") },
            worker,
        ),
    ];
    for (who, taken, holder) in cases {
        let mut log = people();
        handled_by(&mut log, taken, holder);
        assert_eq!(in_grid(&log), rate(1, 1), "resolved at grid tier by {who}");
    }
}

#[test]
fn a_backup_agency_and_its_members_are_a_departments_staff() {
    for (who, holder) in [("the agency", team(3)), ("a member, V-2", vol(2))] {
        let mut log = people();
        handled_by(&mut log, assigned(holder.clone()), holder);
        assert_eq!(in_grid(&log), rate(0, 1), "resolved at grid tier by {who} of a backup agency");
    }
}

#[test]
fn a_ticket_escalated_to_the_street_leaves_the_grid_whoever_resolves_it() {
    let mut log = people();
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(1, "2026-11-02T02:00:00Z", escalated(Tier::Grid, Tier::Community))
        .ticket(1, "2026-11-02T03:00:00Z", escalated(Tier::Community, Tier::Street))
        .ticket(1, "2026-11-02T04:00:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-02T05:00:00Z", resolved(vol(1), 60, "2026-11-05T05:00:00Z"));
    assert_eq!(in_grid(&log), rate(0, 1));
}

/// A team's kind counts as it stood at the resolution: revising it later
/// changes neither the rate nor its past; a team the log's world does not
/// list is not counted, since nothing shows it is the community's own.
#[test]
fn a_teams_kind_counts_as_it_stood_when_it_resolved() {
    let mut log = people();
    handled_by(&mut log, assigned(team(1)), team(1)).team("2026-11-03T00:00:00Z", 1, TeamKind::BackupAgency, true);
    assert_eq!(in_grid(&log), rate(1, 1), "TM-1 was a community team when it resolved");
    let mut log = people();
    log.team("2026-11-02T00:00:00Z", 2, TeamKind::BackupAgency, true);
    handled_by(&mut log, assigned(team(2)), team(2));
    assert_eq!(in_grid(&log), rate(0, 1), "TM-2 was a backup agency by the time it resolved");
    let mut log = people();
    handled_by(&mut log, assigned(team(7)), team(7));
    assert_eq!(in_grid(&log), rate(0, 1), "TM-7 is in no world the log holds");
}

/// A ticket resolved by a volunteer, reopened, and resolved again by a
/// department is in the grid between the two and outside after the second.
#[test]
fn the_standing_resolution_decides_as_of_any_instant() {
    let mut log = people();
    handled_by(&mut log, accepted(vol(1)), vol(1))
        .ticket(
            1,
            "2026-11-03T00:00:00Z",
            TicketEvent::Reopened {
                reason: "不满意".into(), resolve_by: t("2026-11-06T00:00:00Z"), respond_by: None
            },
        )
        .ticket(1, "2026-11-03T01:00:00Z", assigned(dept("civil_affairs")))
        .ticket(1, "2026-11-04T00:00:00Z", resolved(dept("civil_affairs"), 60, "2026-11-07T00:00:00Z"));
    let metrics: Metrics = log.fold();
    assert_eq!(metrics.rates(&all(), t("2026-11-02T12:00:00Z")).in_grid, rate(1, 1));
    assert_eq!(metrics.rates(&all(), t("2026-11-03T12:00:00Z")).in_grid, rate(0, 0), "reopened: no data");
    assert_eq!(metrics.rates(&all(), t("2026-11-05T00:00:00Z")).in_grid, rate(0, 1));
}

/// A snapshot written before resolvers and team kinds were kept still
/// decodes; its resolutions are judged by the last holder it kept.
#[test]
fn a_snapshot_without_resolvers_still_decodes() {
    let mut log = people();
    handled_by(&mut log, assigned(dept("urban_management")), dept("urban_management"));
    log.submit(2, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(2, "2026-11-02T02:00:00Z", accepted(vol(1)))
        .ticket(2, "2026-11-02T05:00:00Z", resolved(vol(1), 60, "2026-11-05T05:00:00Z"));
    let mut json = serde_json::to_value(log.fold::<Metrics>()).expect("serialises");
    json.as_object_mut().expect("an object").remove("team_kinds");
    for facts in json["tickets"].as_object_mut().expect("tickets").values_mut() {
        for mark in facts["marks"].as_array_mut().expect("marks") {
            assert!(mark.as_object_mut().expect("a mark").remove("by").is_some() || mark["what"] != "resolved");
        }
    }
    let old: Metrics = serde_json::from_value(json).expect("an old snapshot decodes");
    assert_eq!(old.rates(&all(), t("2026-11-10T00:00:00Z")).in_grid, rate(1, 2), "T-1's last holder is a department");
}

/// Five tickets whose answers are counted by hand at four instants:
///
/// - 1, done on time: taken 01:00 (by 02:00), resolved 10:00 (by the 11th
///   00:00), satisfied and closed 11:00;
/// - 2, done late: taken 03:00, resolved the 11th 06:00, closed without
///   feedback when its window ended (the 14th 06:00);
/// - 3, overdue: never taken;
/// - 4, fresh: submitted the 11th 09:00 (take by 11:00, resolve by the 12th
///   09:00), nothing since;
/// - 5, in progress: submitted the 11th 00:00, taken 01:00, resolve by the
///   12th 00:00, never resolved.
fn due_history() -> Log {
    let mut log = Log::default();
    log.submit(1, "2026-11-10T00:00:00Z", GRID_A, "CS-001", "2026-11-10T02:00:00Z", "2026-11-11T00:00:00Z")
        .ticket(1, "2026-11-10T01:00:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-10T10:00:00Z", resolved(vol(1), 30, "2026-11-13T10:00:00Z"))
        .ticket(1, "2026-11-10T11:00:00Z", rated(Rating::Satisfied))
        .ticket(1, "2026-11-10T11:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed });
    log.submit(2, "2026-11-10T00:00:00Z", GRID_A, "CS-001", "2026-11-10T02:00:00Z", "2026-11-11T00:00:00Z")
        .ticket(2, "2026-11-10T03:00:00Z", accepted(vol(2)))
        .ticket(2, "2026-11-11T06:00:00Z", resolved(vol(2), 30, "2026-11-14T06:00:00Z"))
        .ticket(2, "2026-11-14T06:00:00Z", TicketEvent::Closed { reason: CloseReason::NoFeedback });
    log.submit(3, "2026-11-10T00:00:00Z", GRID_B, "CS-001", "2026-11-10T02:00:00Z", "2026-11-11T00:00:00Z");
    log.submit(4, "2026-11-11T09:00:00Z", GRID_B, "CS-001", "2026-11-11T11:00:00Z", "2026-11-12T09:00:00Z");
    log.submit(5, "2026-11-11T00:00:00Z", GRID_C, "CS-001", "2026-11-11T02:00:00Z", "2026-11-12T00:00:00Z").ticket(
        5,
        "2026-11-11T01:00:00Z",
        accepted(vol(3)),
    );
    log
}

#[test]
fn rates_count_only_the_tickets_due_at_each_instant() {
    let log = due_history();
    let metrics: Metrics = log.fold();
    let board: gridloop_projections::board::Board = log.fold();
    // (instant, submitted, acceptance, completion, on time, closed loop, overdue)
    let expected = [
        // 2 and 3 are untaken but their accept deadline (02:00) is ahead.
        ("2026-11-10T01:30:00Z", 3, rate(1, 1), rate(0, 0), rate(0, 0), rate(0, 0), 0),
        // 2 was taken late and 3 never; only 1 is resolved, and closed.
        ("2026-11-10T12:00:00Z", 3, rate(1, 3), rate(1, 1), rate(1, 1), rate(1, 1), 2),
        // 4 is fresh and 5's resolve deadline is ahead: neither counts yet;
        // 2 resolved late and 3 is past its resolve deadline; 2 is inside
        // its feedback window, so not yet due to be closed.
        ("2026-11-11T10:00:00Z", 5, rate(2, 4), rate(2, 3), rate(1, 3), rate(1, 1), 2),
        // Every deadline has passed: 4 was never taken, 4 and 5 never
        // resolved; 2 closed when its feedback window ended.
        ("2026-11-15T00:00:00Z", 5, rate(2, 5), rate(2, 5), rate(1, 5), rate(2, 2), 4),
    ];
    let cohort = Cohort { from: t("2026-11-10T00:00:00Z"), to: t("2026-11-12T00:00:00Z"), scope: None };
    for (instant, submitted, acceptance, completion, on_time, closed_loop, overdue) in expected {
        let r = metrics.rates(&cohort, t(instant));
        let got = (r.submitted, r.acceptance, r.completion, r.on_time, r.closed_loop);
        assert_eq!(got, (submitted, acceptance, completion, on_time, closed_loop), "as of {instant}");
        assert_eq!(board.overdue_counts(t(instant)).expect("counts").all, overdue, "overdue as of {instant}");
    }
    let last = board.overdue_counts(t("2026-11-15T00:00:00Z")).expect("counts");
    assert_eq!(last.open, 3, "2 missed its deadlines but is closed; 3, 4 and 5 are open");
}

// ---------------------------------------------------------------------
// Counters: settled tickets summed per day × grid × item must give what a
// plain fold of the raw events gives, as of any instant.
// ---------------------------------------------------------------------

mod counters {
    use std::sync::Arc;

    use gridloop_engine::envelope::RecordedEvent;
    use gridloop_engine::grid::{GridCode, Level};
    use gridloop_engine::rng::SplitMix64;
    use gridloop_engine::store::EventStore;
    use gridloop_engine::time::{Millis, Timestamp};
    use gridloop_engine::weekly::IsoWeek;
    use gridloop_projections::calendar::{Period, local_day};
    use gridloop_projections::cold::{Cold, MemoryCold};
    use gridloop_projections::ledger::Ledger;
    use gridloop_projections::runner::Runner;
    use gridloop_projections::weekly::{GridWeek, Sources, Weekly};
    use gridloop_projections::{By, Cohort, Metrics};
    use proptest::prelude::*;

    use crate::support::random_history;

    fn log_of(seed: u64, steps: u32) -> Vec<RecordedEvent> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async { random_history(seed, steps).await.read_all(1, usize::MAX).await.expect("read") })
    }

    /// The oracle: a projection never attached keeps every ticket's facts
    /// and evaluates each one as of the instant.
    fn folded(log: &[RecordedEvent]) -> Runner<Metrics> {
        let mut runner = Runner::<Metrics>::fresh();
        for event in log {
            runner.evolve(event).expect("applies");
        }
        runner
    }

    /// The projection under test: attached to `cold`, committing every
    /// `commit_every` events, so that counters are read both from the
    /// store and from pending writes.
    fn counted(log: &[RecordedEvent], cold: &Cold, commit_every: usize) -> Runner<Metrics> {
        let mut runner = Runner::<Metrics>::resume_cold(cold).expect("resumes");
        for (i, event) in log.iter().enumerate() {
            runner.evolve(event).expect("applies");
            if (i + 1) % commit_every == 0 {
                cold.commit(vec![("metrics", runner.snapshot())]).expect("commits");
                runner.mark_saved();
            }
        }
        runner
    }

    const BYS: [By; 9] = [
        By::Place(Level::Street),
        By::Place(Level::Community),
        By::Place(Level::Grid),
        By::Department,
        By::Team,
        By::Category,
        By::Period(Period::Day),
        By::Period(Period::Week),
        By::Period(Period::Month),
    ];

    /// Instants before, at, just around, between and after the log's events.
    fn instants(log: &[RecordedEvent], rng: &mut SplitMix64) -> Vec<Timestamp> {
        let first = log.first().expect("events").occurred_at;
        let last = log.iter().map(|e| e.occurred_at).max().expect("events");
        let mut out = vec![first.plus(Millis(0)), last, last.plus(Millis::days(40))];
        out.push(Timestamp::from_millis(first.as_millis() - 3_600_000).expect("in range"));
        for _ in 0..6 {
            let at = rng.pick(log).occurred_at;
            out.push(at);
            out.push(at.plus(Millis(1)));
            out.push(Timestamp::from_millis(at.as_millis() - 1).expect("in range"));
            let span = last.since(first).0.max(1);
            out.push(first.plus(Millis(rng.below(span + Millis::days(5).0))));
        }
        out
    }

    /// Whole local days, and windows cut inside days, in or out of scopes.
    fn cohorts(log: &[RecordedEvent], grids: &[GridCode], rng: &mut SplitMix64) -> Vec<Cohort> {
        let first = log.first().expect("events").occurred_at;
        let day_ms = Millis::days(1).0 as i64;
        let midnight = |at: Timestamp| Timestamp::from_millis(local_day(at) * day_ms - 8 * 3_600_000).expect("day");
        let mut out = vec![Cohort { from: Cohort::earliest(), to: first.plus(Millis::days(400)), scope: None }];
        for _ in 0..6 {
            let from = midnight(first).plus(Millis::days(rng.below(6)));
            let to = from.plus(Millis::days(1 + rng.below(5)));
            let (from, to) = if rng.chance(500) {
                (from.plus(Millis::minutes(rng.below(1440))), to.plus(Millis::minutes(rng.below(1440))))
            } else {
                (from, to)
            };
            let scope = match rng.below(4) {
                0 => None,
                n => rng.pick(grids).at_level([Level::Street, Level::Community, Level::Grid][n as usize - 1]),
            };
            out.push(Cohort { from, to, scope });
        }
        out
    }

    fn check(seed: u64, steps: u32, commit_every: usize) {
        let log = log_of(seed, steps);
        let oracle = folded(&log);
        let cold = Cold::default();
        let runner = counted(&log, &cold, commit_every);
        let (oracle, metrics) = (oracle.state(), runner.state());
        let mut rng = SplitMix64::new(seed ^ 0x5eed);
        let grids: Vec<GridCode> = oracle.tickets().map(|(_, f)| f.grid.clone()).collect();
        for cohort in cohorts(&log, &grids, &mut rng) {
            for as_of in instants(&log, &mut rng) {
                let want = oracle.rates(&cohort, as_of);
                assert_eq!(
                    metrics.try_rates(&cohort, as_of).expect("reads"),
                    want,
                    "seed {seed}: {cohort:?} as of {as_of}"
                );
                for by in BYS {
                    let got = metrics.try_rates_by(&cohort, as_of, by).expect("reads");
                    assert_eq!(
                        got,
                        oracle.rates_by(&cohort, as_of, by),
                        "seed {seed}: {cohort:?} by {by:?} as of {as_of}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// The counter-backed rates and breakdowns equal the per-ticket
        /// fold of the raw events, for random cohorts and instants; the
        /// failing seed is in the message.
        #[test]
        fn counters_equal_a_fold_of_the_events(seed in any::<u64>(), steps in 150u32..450, commit_every in 1usize..400) {
            check(seed, steps, commit_every);
        }
    }

    #[test]
    fn settled_tickets_leave_memory_and_reports_still_see_them() {
        let log = log_of(11, 500);
        let oracle = folded(&log);
        let cold = Cold::default();
        let runner = counted(&log, &cold, 100);
        let open: Vec<_> = oracle.state().tickets().filter(|(_, f)| f.final_at().is_none()).map(|(id, _)| id).collect();
        let held: Vec<_> = runner.state().tickets().map(|(id, _)| id).collect();
        let all = oracle.state().tickets().count();
        assert!(open.len() < all, "the history settles some tickets ({} of {all} open)", open.len());
        assert_eq!(held, open, "memory holds exactly the tickets not final");
        // A grid's week reads the tickets settled since it began from the
        // cold rows, and comes out as the plain fold's.
        let (ledger, weekly) = (Runner::<Ledger>::fresh(), Runner::<Weekly>::fresh());
        let as_of = log.iter().map(|e| e.occurred_at).max().expect("events");
        let grids: std::collections::BTreeSet<GridCode> =
            oracle.state().tickets().map(|(_, f)| f.grid.clone()).collect();
        for week in ["2026-W45", "2026-W46", "2026-W47"] {
            let week = IsoWeek::parse(week).expect("week");
            for grid in &grids {
                let of = |metrics| {
                    let sources = Sources { metrics, ledger: ledger.state(), weekly: weekly.state() };
                    GridWeek::generate(sources, grid, week, as_of, &[])
                };
                assert_eq!(of(runner.state()), of(oracle.state()), "{grid} {week}");
            }
        }
        assert_eq!(
            runner.state().last_submitted().expect("reads"),
            oracle.state().tickets().map(|(_, f)| f.submitted_at).max()
        );
        for grid in &grids {
            let first =
                oracle.state().tickets().filter(|(_, f)| f.grid.is_within(grid)).map(|(_, f)| f.submitted_at).min();
            assert_eq!(runner.state().first_submitted(grid).expect("reads"), first, "{grid}");
        }
    }

    #[test]
    fn resuming_from_committed_snapshot_and_rows_gives_the_same_rates() {
        let log = log_of(23, 400);
        let oracle = folded(&log);
        let store = Arc::new(MemoryCold::default());
        let cold = Cold::new(store.clone());
        let half = log.len() / 2;
        let mut runner = Runner::<Metrics>::resume_cold(&cold).expect("resumes");
        for event in &log[..half] {
            runner.evolve(event).expect("applies");
        }
        cold.commit(vec![("metrics", runner.snapshot())]).expect("commits");
        // Folded further but never committed: a crash loses these rows and
        // this state together.
        for event in &log[half..half + 50] {
            runner.evolve(event).expect("applies");
        }
        drop((runner, cold));
        let cold = Cold::new(store);
        let mut resumed = Runner::<Metrics>::resume_cold(&cold).expect("resumes");
        assert_eq!(resumed.checkpoint(), log[half - 1].position);
        for event in &log {
            resumed.evolve(event).expect("applies");
        }
        let all = Cohort { from: Cohort::earliest(), to: log[0].occurred_at.plus(Millis::days(400)), scope: None };
        let mut rng = SplitMix64::new(23);
        for as_of in instants(&log, &mut rng) {
            assert_eq!(resumed.state().try_rates(&all, as_of).expect("reads"), oracle.state().rates(&all, as_of));
            let by = By::Place(Level::Grid);
            assert_eq!(
                resumed.state().try_rates_by(&all, as_of, by).expect("reads"),
                oracle.state().rates_by(&all, as_of, by)
            );
        }
    }
}
