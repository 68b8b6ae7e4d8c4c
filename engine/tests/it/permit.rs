//! The permit rule, as a table a person can check: who may use each access
//! at all, then inside and outside their place or relation.

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{DepartmentId, TicketId, VolunteerId};
use gridloop_engine::permit::{Access, Principal, Read, Target, Write, permit, visible};
use gridloop_engine::ticket::{Assignee, Offer, Status, Summons, Ticket};
use gridloop_engine::time::Timestamp;

const ROLES: [Role; 9] = [
    Role::Resident,
    Role::GridWorker,
    Role::GridHead,
    Role::Dispatcher,
    Role::Official,
    Role::Volunteer,
    Role::Department,
    Role::Auditor,
    Role::Admin,
];

/// Who may use each access, for resident, grid worker, grid head,
/// dispatcher, official, volunteer, department, auditor and admin in that
/// order. Written out by hand: a change to `Access::roles` must change this
/// table too.
const TABLE: [(Access, &str); 33] = [
    (Access::Public, "+++++++++"),
    (Access::Read(Read::Reference), "+++++++++"),
    (Access::Read(Read::Tickets), "+++++++++"),
    (Access::Read(Read::Ticket), "+++++++++"),
    (Access::Read(Read::History), "---++--+-"),
    (Access::Read(Read::Queue), "-++++++++"),
    (Access::Read(Read::Metrics), "-++++-+++"),
    (Access::Read(Read::Volunteers), "-++++-+++"),
    (Access::Read(Read::Volunteer), "-++++++++"),
    (Access::Read(Read::Board), "---++--+-"),
    (Access::Read(Read::World), "---+---++"),
    (Access::Read(Read::Tokens), "--------+"),
    (Access::Read(Read::Account), "+--------"),
    (Access::Write(Write::Submit), "++++-----"),
    (Access::Write(Write::TicketAction), "++++-++--"),
    (Access::Write(Write::Follow), "+--------"),
    (Access::Write(Write::RegisterVolunteer), "---+----+"),
    (Access::Write(Write::ManageVolunteer), "---+----+"),
    (Access::Write(Write::VolunteerSkills), "---+-+--+"),
    (Access::Write(Write::Redeem), "---+-+---"),
    (Access::Write(Write::LinkCode), "---+-----"),
    (Access::Write(Write::Emergency), "---+-----"),
    (Access::Write(Write::World), "--------+"),
    (Access::Write(Write::Tokens), "--------+"),
    (Access::Write(Write::Account), "+--------"),
    (Access::Read(Read::Residents), "-+++-----"),
    (Access::Write(Write::Intake), "-+++-----"),
    (Access::Read(Read::Ranking), "---++-+++"),
    (Access::Read(Read::WeeklyReports), "-++++--++"),
    (Access::Write(Write::WeeklyReport), "--+------"),
    (Access::Write(Write::Urge), "---++----"),
    (Access::Read(Read::Patrols), "-++++--++"),
    (Access::Write(Write::Patrol), "-++------"),
];

fn code(text: &str) -> GridCode {
    GridCode::parse(text).expect("a grid code")
}

fn who(role: Role, id: &str, place: Option<&str>) -> Principal {
    Principal { actor: Actor::new(role, id).expect("an actor"), place: place.map(code) }
}

/// T-1 in grid 440802-001-001-001, ordered by r-1, offered to V-1, summoned
/// department `civil_affairs`.
fn ticket() -> Ticket {
    Ticket {
        id: Some(TicketId::from_number(1)),
        status: Status::Offered,
        grid: Some(code("440802-001-001-001")),
        resident: Some(gridloop_engine::ids::ResidentId::new("r-1").expect("id")),
        offer: Some(Offer {
            round: 1,
            candidates: vec![Assignee::Volunteer(VolunteerId::new("V-1").expect("id"))],
            expires_at: Timestamp::parse("2026-11-23T09:00:00Z").expect("instant"),
            declined: Vec::new(),
        }),
        summons: vec![Summons {
            department: DepartmentId::new("civil_affairs").expect("id"),
            report_by: Timestamp::parse("2026-11-24T09:00:00Z").expect("instant"),
            reported: false,
        }],
        ..Ticket::default()
    }
}

#[test]
fn every_access_is_in_the_table_and_lets_through_the_roles_it_says() {
    assert_eq!(TABLE.len(), Access::ALL.len());
    for access in Access::ALL {
        let (_, roles) = TABLE.iter().find(|(a, _)| *a == access).expect("every access has a row");
        for (role, allowed) in ROLES.iter().zip(roles.chars()) {
            let caller = who(*role, "x-1", None);
            let through = permit(&caller, access, Target::District).is_ok();
            assert_eq!(through, allowed == '+', "{access:?} for {role:?}");
        }
    }
}

#[test]
fn a_placed_dispatcher_grid_worker_grid_head_or_official_acts_and_reads_only_within_their_place() {
    let inside = code("440802-001-001-001");
    let outside = code("440802-002-001-001");
    for role in [Role::Dispatcher, Role::GridWorker, Role::GridHead] {
        let placed = who(role, "s-1", Some("440802-001"));
        let submit = Access::Write(Write::Submit);
        assert!(permit(&placed, submit, Target::Place(&inside)).is_ok(), "{role:?} inside");
        let refused = permit(&placed, submit, Target::Place(&outside));
        assert!(matches!(refused, Err(Error::NotPermitted { .. })), "{role:?} outside: {refused:?}");
        let mut elsewhere = ticket();
        elsewhere.grid = Some(outside.clone());
        assert!(visible(&placed, &ticket()));
        assert!(!visible(&placed, &elsewhere));
        // Without a place: the whole district.
        assert!(permit(&who(role, "s-2", None), submit, Target::Place(&outside)).is_ok());
    }
}

#[test]
fn a_placed_callers_reads_narrow_to_their_place_and_refuse_outside_it() {
    let placed = who(Role::Dispatcher, "d-1", Some("440802-001"));
    assert_eq!(placed.scope(None).expect("scope"), Some(code("440802-001")));
    assert_eq!(placed.scope(Some(code("440802-001-001"))).expect("scope"), Some(code("440802-001-001")));
    assert!(matches!(placed.scope(Some(code("440802-002"))), Err(Error::NotPermitted { .. })));
    assert_eq!(who(Role::Auditor, "a-1", None).scope(None).expect("scope"), None);
}

#[test]
fn a_ticket_out_of_a_residents_volunteers_or_departments_reach_is_not_found() {
    let t = ticket();
    let read = Access::Read(Read::Ticket);
    let cases = [
        (who(Role::Resident, "r-1", None), true),
        (who(Role::Resident, "r-2", None), false),
        (who(Role::Volunteer, "V-1", None), true),
        (who(Role::Volunteer, "V-2", None), false),
        (who(Role::Department, "civil_affairs", None), true),
        (who(Role::Department, "housing", None), false),
        (who(Role::Auditor, "a-1", None), true),
    ];
    for (caller, reaches) in cases {
        let answer = permit(&caller, read, Target::Ticket(&t));
        match reaches {
            true => assert!(answer.is_ok(), "{caller:?}: {answer:?}"),
            false => assert!(matches!(answer, Err(Error::NotFound { kind: "ticket", .. })), "{caller:?}: {answer:?}"),
        }
    }
}

#[test]
fn a_volunteer_reaches_the_tickets_they_hold_and_their_own_account_only() {
    let mut held = ticket();
    held.offer = None;
    held.holder = Some(Assignee::Volunteer(VolunteerId::new("V-2").expect("id")));
    assert!(visible(&who(Role::Volunteer, "V-2", None), &held));
    assert!(!visible(&who(Role::Volunteer, "V-1", None), &held), "the offer is gone: V-1 no longer reaches it");
    let home = code("440802-001-001-001");
    let v1 = VolunteerId::new("V-1").expect("id");
    let account = Target::Volunteer { id: &v1, home: &home };
    let read = Access::Read(Read::Volunteer);
    assert!(permit(&who(Role::Volunteer, "V-1", None), read, account).is_ok());
    assert!(permit(&who(Role::Volunteer, "V-2", None), read, account).is_err());
    let link = Access::Write(Write::LinkCode);
    assert!(permit(&who(Role::Dispatcher, "d-1", Some("440802-001")), link, account).is_ok());
    assert!(
        permit(&who(Role::Dispatcher, "d-2", Some("440802-002")), link, account).is_err(),
        "a link code for a volunteer outside the place would let its issuer act as them"
    );
}

#[test]
fn a_holders_queue_is_read_by_the_holder_and_by_staff_who_oversee() {
    let v1 = Assignee::Volunteer(VolunteerId::new("V-1").expect("id"));
    let queue = Access::Read(Read::Queue);
    assert!(permit(&who(Role::Volunteer, "V-1", None), queue, Target::Holder(&v1)).is_ok());
    assert!(permit(&who(Role::Volunteer, "V-2", None), queue, Target::Holder(&v1)).is_err());
    assert!(permit(&who(Role::GridWorker, "gw-1", None), queue, Target::Holder(&v1)).is_err());
    assert!(permit(&who(Role::Dispatcher, "d-1", None), queue, Target::Holder(&v1)).is_ok());
    assert!(permit(&who(Role::Resident, "r-1", None), queue, Target::Holder(&v1)).is_err());
}

#[test]
fn an_official_reads_and_supervises_within_their_place_and_handles_no_ticket() {
    let official = who(Role::Official, "o-1", Some("440802-001-001"));
    let mut elsewhere = ticket();
    elsewhere.grid = Some(code("440802-002-001-001"));
    assert!(visible(&official, &ticket()));
    assert!(!visible(&official, &elsewhere));
    let board = Access::Read(Read::Board);
    assert!(permit(&official, board, Target::Ticket(&ticket())).is_ok());
    assert!(permit(&official, board, Target::Ticket(&elsewhere)).is_err());
    for write in [Write::Submit, Write::TicketAction, Write::Emergency] {
        let refused = permit(&official, Access::Write(write), Target::Ticket(&ticket()));
        assert!(matches!(refused, Err(Error::NotPermitted { .. })), "{write:?}: {refused:?}");
    }
}

#[test]
fn only_those_who_serve_a_place_carry_one() {
    for role in ROLES {
        let carried = gridloop_engine::permit::may_serve_a_place(role).is_ok();
        let serves = matches!(role, Role::GridWorker | Role::GridHead | Role::Dispatcher | Role::Official);
        assert_eq!(carried, serves, "{role:?}");
    }
}

#[test]
fn a_placed_dispatcher_urges_only_the_tickets_of_their_place() {
    let urge = Access::Write(Write::Urge);
    let mut elsewhere = ticket();
    elsewhere.grid = Some(code("440802-002-001-001"));
    let placed = who(Role::Dispatcher, "d-1", Some("440802-001"));
    assert!(permit(&placed, urge, Target::Ticket(&ticket())).is_ok());
    assert!(matches!(permit(&placed, urge, Target::Ticket(&elsewhere)), Err(Error::NotPermitted { .. })));
    let summoned = who(Role::Department, "civil_affairs", None);
    assert!(matches!(permit(&summoned, urge, Target::Ticket(&ticket())), Err(Error::NotPermitted { .. })));
    let official = who(Role::Official, "o-1", Some("440802-001-001"));
    assert!(permit(&official, urge, Target::Ticket(&ticket())).is_ok());
    assert!(permit(&official, urge, Target::Ticket(&elsewhere)).is_err());
}

#[test]
fn a_grid_worker_patrols_only_within_their_place() {
    let worker = who(Role::GridWorker, "gw-1", Some("440802-001-001-001"));
    let patrol = Access::Write(Write::Patrol);
    assert!(permit(&worker, patrol, Target::Place(&code("440802-001-001-001"))).is_ok());
    let refused = permit(&worker, patrol, Target::Place(&code("440802-001-001-002")));
    assert!(matches!(refused, Err(Error::NotPermitted { .. })), "{refused:?}");
    let dispatcher = who(Role::Dispatcher, "d-1", Some("440802-001"));
    let log = Access::Read(Read::Patrols);
    assert!(permit(&dispatcher, log, Target::Place(&code("440802-001-001-002"))).is_ok(), "reads its place's log");
    assert!(permit(&dispatcher, log, Target::Place(&code("440802-002-001-001"))).is_err(), "not another's");
}
