//! Points, hours and services per volunteer, and the duty report.

use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{StreamId, TeamId, VolunteerId};
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_projections::ledger::{Ledger, MonthStats};

use crate::support::*;

fn register(log: &mut Log, n: u64, team: u64, at: &str) {
    log.push(
        StreamId::volunteer(&VolunteerId::from_number(n)),
        at,
        VolunteerEvent::Registered {
            volunteer: VolunteerId::from_number(n),
            team: TeamId::from_number(team),
            home_grid: GridCode::parse(GRID_A).expect("valid"),
            skills: Default::default(),
            open_orders_max: 3,
        },
    );
}

fn points(log: &mut Log, n: u64, at: &str, event: VolunteerEvent) {
    log.push(StreamId::volunteer(&VolunteerId::from_number(n)), at, event);
}

/// Volunteers 1 and 2 are in backup-agency team 9; 3 in community team 1.
/// November (China time): 1 serves twice for 150 + 100 minutes; 2 once for
/// 300 minutes; a resolution at 17:00 UTC on 30 November counts in December.
fn history() -> Log {
    let mut log = Log::default();
    register(&mut log, 1, 9, "2026-11-01T00:00:00Z");
    register(&mut log, 2, 9, "2026-11-01T00:00:00Z");
    register(&mut log, 3, 1, "2026-11-01T00:00:00Z");
    let tickets = [
        (1, 1, 150, "2026-11-03T02:00:00Z"),
        (2, 1, 100, "2026-11-10T02:00:00Z"),
        (3, 2, 300, "2026-11-12T02:00:00Z"),
        (4, 2, 60, "2026-11-30T17:00:00Z"),
    ];
    for (ticket, v, minutes, at) in tickets {
        log.submit(ticket, "2026-11-02T00:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-12-20T00:00:00Z")
            .ticket(ticket, "2026-11-02T01:00:00Z", accepted(vol(v)))
            .ticket(ticket, at, resolved(vol(v), minutes, "2026-12-25T00:00:00Z"));
    }
    // A department's resolution is nobody's volunteer service.
    log.submit(5, "2026-11-02T00:00:00Z", GRID_A, "SC-001", "2026-11-02T03:00:00Z", "2026-12-20T00:00:00Z")
        .ticket(
            5,
            "2026-11-02T01:00:00Z",
            gridloop_engine::ticket::TicketEvent::Reassigned { to: dept("urban_management"), reason: "派单".into() },
        )
        .ticket(5, "2026-11-04T01:00:00Z", resolved(dept("urban_management"), 500, "2026-12-25T00:00:00Z"));
    points(
        &mut log,
        1,
        "2026-11-05T00:00:00Z",
        VolunteerEvent::PointsAwarded { points: 10, ticket: None, reason: "服务".into() },
    );
    points(
        &mut log,
        1,
        "2026-11-06T00:00:00Z",
        VolunteerEvent::PointsAwarded { points: 8, ticket: None, reason: "服务".into() },
    );
    points(&mut log, 1, "2026-11-07T00:00:00Z", VolunteerEvent::PointsRedeemed { points: 5, reward: "理发券".into() });
    log
}

#[test]
fn points_hours_and_services_per_volunteer() {
    let ledger: Ledger = history().fold();
    let one = ledger.account(&VolunteerId::from_number(1)).expect("volunteer 1");
    assert_eq!((one.points_balance, one.points_awarded, one.points_redeemed), (13, 18, 5));
    assert_eq!(one.months["2026-11"], MonthStats { services: 2, minutes: 250 });
    let two = ledger.account(&VolunteerId::from_number(2)).expect("volunteer 2");
    assert_eq!(two.months["2026-11"], MonthStats { services: 1, minutes: 300 });
    assert_eq!(
        two.months["2026-12"],
        MonthStats { services: 1, minutes: 60 },
        "17:00 UTC on the 30th is 1 December in China"
    );
    assert_eq!(ledger.accounts().count(), 3, "departments get no account");
}

#[test]
fn duty_report_lists_backup_agency_members_and_who_meets_the_duty() {
    let ledger: Ledger = history().fold();
    let backup = TeamId::from_number(9);
    let report = ledger.duty_report("2026-11", |team| team == &backup);
    let lines: Vec<(u64, u32, u64, bool)> = report
        .iter()
        .map(|l| (l.volunteer.as_str()[2..].parse().expect("n"), l.services, l.minutes, l.meets_duty))
        .collect();
    assert_eq!(lines, [(1, 2, 250, true), (2, 1, 300, false)], "2 served only once; 3 is not a member");
    let december = ledger.duty_report("2026-12", |team| team == &backup);
    assert_eq!(december.iter().filter(|l| l.meets_duty).count(), 0);
    assert_eq!(december.len(), 2, "members with little or no service are listed too");
}
