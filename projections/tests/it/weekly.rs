//! The weekly views on a hand-built week (2026-W45, Monday 2 November to
//! Sunday 8 November, China time): a grid's week checked against what the
//! log says and against the metrics' own fold, the community's reports,
//! and the ranking's order.

use gridloop_engine::envelope::Actor;
use gridloop_engine::ids::{ItemCode, ResidentId, StreamId, TicketId, VolunteerId};
use gridloop_engine::ticket::{Channel, CloseReason, EscalationReason, Rating, TicketEvent, Tier, Urgency};
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_engine::weekly::{IsoWeek, WeeklyEvent, WeeklyFigures};
use gridloop_projections::ledger::Ledger;
use gridloop_projections::weekly::{GridWeek, RankBy, Sources, Weekly, community_reports, ranking};
use gridloop_projections::{Cohort, Metrics, Rate};

use crate::support::*;

fn w45() -> IsoWeek {
    IsoWeek::parse("2026-W45").unwrap()
}

fn tid(n: u64) -> TicketId {
    TicketId::from_number(n)
}

fn patrol_submission(n: u64, grid_code: &str) -> TicketEvent {
    TicketEvent::Submitted {
        photos: vec![],
        ticket: tid(n),
        item: ItemCode::new("SC-001").unwrap(),
        grid: grid(grid_code),
        resident: Some(ResidentId::new("r-9").unwrap()),
        description: "巡查发现井盖缺失".into(),
        urgency: Urgency::Normal,
        channel: Channel::Patrol,
        location: None,
        tier: Tier::Grid,
        accept_by: t("2026-11-03T01:00:00Z"),
        resolve_by: t("2026-11-04T01:00:00Z"),
    }
}

/// T-1 (grid A, Monday): taken, resolved in time by V-1, satisfied, closed.
/// T-2 (grid A, on patrol): never taken; both deadlines pass in the week.
/// T-3 (grid A): escalated to the community, assigned to a department.
/// T-4 (grid B): another grid of the community.
/// T-5 (grid A, last Sunday 23:00 China time): last week's, still open and
///     overdue this week.
/// T-6 (grid A, next Monday): next week's.
/// T-7 (grid C, another street): resolved in time, basically satisfied.
/// V-1 lives in grid A: one service of 60 minutes and 10 points this week.
fn week() -> Log {
    let mut log = Log::default();
    log.item("2026-10-01T00:00:00Z", "CS-001", "community_service", false)
        .item("2026-10-01T00:00:00Z", "SC-001", "street_community_coordination", false)
        .member("2026-10-01T00:00:00Z", 1, 1);
    log.submit(1, "2026-11-02T01:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T01:00:00Z")
        .ticket(1, "2026-11-02T02:00:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-02T05:00:00Z", resolved(vol(1), 60, "2026-11-05T05:00:00Z"))
        .ticket(1, "2026-11-02T06:00:00Z", rated(Rating::Satisfied))
        .ticket(1, "2026-11-02T07:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed });
    log.ticket(2, "2026-11-02T01:00:00Z", patrol_submission(2, GRID_A));
    log.submit(3, "2026-11-03T01:00:00Z", GRID_A, "SC-001", "2026-11-03T05:00:00Z", "2026-11-20T01:00:00Z")
        .ticket(
            3,
            "2026-11-03T02:00:00Z",
            TicketEvent::Escalated {
                from: Tier::Grid,
                to: Tier::Community,
                reason: EscalationReason::Difficulty,
                note: String::new(),
                respond_by: None,
                resolve_by: None,
            },
        )
        .ticket(
            3,
            "2026-11-03T03:00:00Z",
            TicketEvent::Reassigned { to: dept("urban_management"), reason: "转办".into() },
        );
    log.submit(4, "2026-11-03T01:00:00Z", GRID_B, "CS-001", "2026-11-03T03:00:00Z", "2026-11-05T01:00:00Z");
    log.submit(5, "2026-11-01T15:00:00Z", GRID_A, "CS-001", "2026-11-01T17:00:00Z", "2026-11-03T15:00:00Z");
    log.submit(6, "2026-11-09T01:00:00Z", GRID_A, "CS-001", "2026-11-09T03:00:00Z", "2026-11-11T01:00:00Z");
    log.submit(7, "2026-11-03T01:00:00Z", GRID_C, "CS-001", "2026-11-03T03:00:00Z", "2026-11-05T01:00:00Z")
        .ticket(7, "2026-11-03T02:00:00Z", accepted(vol(2)))
        .ticket(7, "2026-11-03T05:00:00Z", resolved(vol(2), 30, "2026-11-06T05:00:00Z"))
        .ticket(7, "2026-11-03T06:00:00Z", rated(Rating::BasicallySatisfied));
    let award = VolunteerEvent::PointsAwarded { points: 10, ticket: Some(tid(1)), reason: "探访".into() };
    log.push(StreamId::volunteer(&VolunteerId::from_number(1)), "2026-11-02T08:00:00Z", award);
    log
}

fn as_of() -> gridloop_engine::time::Timestamp {
    t("2026-11-09T00:00:00Z")
}

fn grid_a_week(log: &Log) -> GridWeek {
    let (metrics, ledger, weekly) = (log.fold::<Metrics>(), log.fold::<Ledger>(), log.fold::<Weekly>());
    let sources = Sources { metrics: &metrics, ledger: &ledger, weekly: &weekly };
    GridWeek::generate(sources, &grid(GRID_A), w45(), as_of(), &[VolunteerId::from_number(1)])
}

#[test]
fn a_grids_week_counts_what_the_log_says() {
    let week = grid_a_week(&week());
    assert_eq!(week.week, "2026-W45");
    assert_eq!(week.rates.submitted, 3, "T-1, T-2, T-3: not last week's T-5, next week's T-6 or grid B's T-4");
    let status: Vec<_> = week.by_status.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(status, [("closed", 1), ("in_hand", 1), ("waiting", 1)]);
    let categories: Vec<_> = week.by_category.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(categories, [("community_service", 1), ("street_community_coordination", 2)]);
    assert_eq!(week.overdue, [tid(2), tid(5)], "last week's open T-5 is still this week's matter");
    assert_eq!(week.escalated, [tid(3)]);
    assert_eq!(week.found_on_patrol, 1);
    assert_eq!(week.volunteers.len(), 1);
    assert_eq!(
        (week.volunteers[0].services, week.volunteers[0].minutes, week.volunteers[0].points_awarded),
        (1, 60, 10)
    );
    let figures = week.figures();
    assert_eq!((figures.open, figures.resolved, figures.overdue, figures.escalated), (2, 1, 2, 1));
    assert_eq!((figures.on_time, figures.resolve_due), (1, 2), "T-1 met, T-2 missed, T-3 not yet due");
    assert_eq!((figures.satisfied, figures.rated), (1, 1));
    assert_eq!((figures.volunteer_services, figures.volunteer_minutes, figures.points_awarded), (1, 60, 10));
}

#[test]
fn a_grids_week_agrees_with_a_fold_of_the_log_and_with_the_metrics() {
    let log = week();
    let week = grid_a_week(&log);
    let (start, end) = (w45().start(), w45().end());
    // Counted straight off the log: submissions in grid A in the week.
    let mut submitted = 0;
    let mut patrol = 0;
    for event in log.events.iter().filter(|e| e.stream.kind() == "ticket") {
        if let TicketEvent::Submitted { grid: g, channel, .. } = event.decode().unwrap()
            && g == grid(GRID_A)
            && event.occurred_at >= start
            && event.occurred_at < end
        {
            submitted += 1;
            patrol += u64::from(channel == Channel::Patrol);
        }
    }
    assert_eq!(week.rates.submitted, submitted);
    assert_eq!(week.by_status.values().sum::<u64>(), submitted);
    assert_eq!(week.by_category.values().sum::<u64>(), submitted);
    assert_eq!(week.found_on_patrol, patrol);
    let metrics = log.fold::<Metrics>();
    let rates = metrics.rates(&Cohort { from: start, to: end, scope: Some(grid(GRID_A)) }, as_of());
    assert_eq!(week.rates, rates);
    // As of the week's Monday noon, nothing was overdue yet.
    let metrics_ledger = (log.fold::<Metrics>(), log.fold::<Ledger>(), log.fold::<Weekly>());
    let sources = Sources { metrics: &metrics_ledger.0, ledger: &metrics_ledger.1, weekly: &metrics_ledger.2 };
    let early = GridWeek::generate(sources, &grid(GRID_A), w45(), t("2026-11-02T04:00:00Z"), &[]);
    assert!(early.overdue.is_empty(), "{:?}", early.overdue);
    assert_eq!(early.rates.submitted, 2);
}

#[test]
fn the_community_sees_each_grids_report_and_who_has_not_reported() {
    let mut log = week();
    let figures = grid_a_week(&log).figures();
    let report = |revision, narrative: &str, figures: WeeklyFigures| WeeklyEvent::ReportSubmitted {
        grid: grid(GRID_A),
        week: w45(),
        community: grid("440802-001-001"),
        revision,
        narrative: narrative.into(),
        figures,
    };
    let stream = StreamId::new(format!("weekly-{GRID_A}@2026-W45")).unwrap();
    log.push(stream.clone(), "2026-11-08T10:00:00Z", report(1, "初稿", figures.clone()));
    log.push(stream, "2026-11-09T02:00:00Z", report(2, "更正", figures.clone()));
    let weekly = log.fold::<Weekly>();
    let grids = [grid(GRID_A), grid(GRID_B)];
    let reports = community_reports(&weekly, &grids, w45());
    assert_eq!(reports.len(), 2);
    let a = reports[0].report.as_ref().expect("grid A reported");
    assert_eq!((a.revision, a.narrative.as_str(), a.at), (2, "更正", t("2026-11-09T02:00:00Z")));
    assert_eq!(a.figures, figures);
    assert_eq!(a.by, Actor::system());
    assert!(reports[1].report.is_none(), "grid B has not reported");
    assert!(community_reports(&weekly, &grids, w45().next()).iter().all(|r| r.report.is_none()));
}

#[test]
fn the_ranking_orders_by_on_time_then_satisfaction_with_no_data_last() {
    let metrics = week().fold::<Metrics>();
    let streets = ranking(&metrics, w45(), None, as_of(), RankBy::Street);
    let keys: Vec<_> = streets.iter().map(|r| (r.rank, r.key.as_str(), r.on_time)).collect();
    assert_eq!(
        keys,
        [
            (1, "440802-002", Rate { numerator: 1, denominator: 1 }),
            (2, "440802-001", Rate { numerator: 1, denominator: 3 }),
        ]
    );
    let communities = ranking(&metrics, w45(), None, as_of(), RankBy::Community);
    assert_eq!(communities.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["440802-002-001", "440802-001-001"]);
    // Inside street 001 only its community ranks.
    let inside = ranking(&metrics, w45(), Some(grid("440802-001")), as_of(), RankBy::Community);
    assert_eq!(inside.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["440802-001-001"]);
    // The department holds T-3, not yet due: no data, still listed.
    let departments = ranking(&metrics, w45(), None, as_of(), RankBy::Department);
    assert_eq!(departments.len(), 1);
    assert_eq!((departments[0].rank, departments[0].on_time.per_mille()), (1, None));
}

/// A grid's patrols and visits: those begun and made in the week in the
/// grid (a check-in counts in its patrol's grid), not another grid's, not
/// last week's.
#[test]
fn a_grids_week_counts_its_patrols_and_visits() {
    use gridloop_engine::patrol::{PatrolEvent, VisitKind};
    let mut log = week();
    let worker = |id: &str| StreamId::patrol(&gridloop_engine::ids::ActorId::new(id).unwrap());
    let visit = |patrol: u32, label: &str| PatrolEvent::CheckedIn {
        patrol,
        kind: VisitKind::Household,
        label: label.into(),
        note: String::new(),
        point: None,
    };
    let ended = |patrol: u32, check_ins: u32| PatrolEvent::Ended { patrol, check_ins, note: String::new() };
    // Last Sunday: a patrol in grid A, not this week's.
    log.push(worker("gw-a"), "2026-11-01T10:00:00Z", PatrolEvent::Started { patrol: 1, grid: grid(GRID_A) })
        .push(worker("gw-a"), "2026-11-01T10:10:00Z", visit(1, "1-101"))
        .push(worker("gw-a"), "2026-11-01T11:00:00Z", ended(1, 1));
    // Tuesday: a patrol in grid A with two visits; grid B's worker walks too.
    log.push(worker("gw-a"), "2026-11-03T01:00:00Z", PatrolEvent::Started { patrol: 2, grid: grid(GRID_A) })
        .push(worker("gw-b"), "2026-11-03T01:05:00Z", PatrolEvent::Started { patrol: 1, grid: grid(GRID_B) })
        .push(worker("gw-a"), "2026-11-03T01:10:00Z", visit(2, "2-201"))
        .push(worker("gw-b"), "2026-11-03T01:15:00Z", visit(1, "5-501"))
        .push(worker("gw-a"), "2026-11-03T01:20:00Z", visit(2, "2-202"))
        .push(worker("gw-a"), "2026-11-03T02:00:00Z", ended(2, 2));
    let week = grid_a_week(&log);
    assert_eq!((week.patrols, week.visits), (1, 2));
    let figures = week.figures();
    assert_eq!((figures.patrols, figures.visits), (1, 2));
}
