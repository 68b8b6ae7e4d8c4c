//! The department's return (退单), the holder's extension (延期) and the
//! urge (催办), given/when/then as in `ticket_scenarios`. The street-light
//! item (`SC-001`) is its department's: accept within 4 h, resolve within
//! 5 days; a grid-tier ticket's dispatcher must respond within 2 h.

use gridloop_engine::Error;
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::ticket::{
    EXTENSION_MAX, EXTENSIONS_MAX, RETURNS_MAX, Status, Ticket, TicketCommand, TicketEvent, URGES_MAX,
};
use gridloop_engine::time::Timestamp;

use crate::support::*;

fn illegal(e: &Error) -> bool {
    matches!(e, Error::IllegalTransition { .. })
}

fn not_permitted(e: &Error) -> bool {
    matches!(e, Error::NotPermitted { .. })
}

fn invalid(field: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Invalid { field: f, .. } if *f == field)
}

/// Five days after `t0()`: the street light's resolve deadline.
fn deadline() -> Timestamp {
    at(days(5))
}

/// The street light assigned to urban management, which holds it.
fn h_held_by_department() -> Vec<TicketEvent> {
    vec![
        submitted_item(STREET_LIGHT),
        triaged(HandlingMode::Department, STREET_LIGHT),
        TicketEvent::Reassigned { to: dept(URBAN_MANAGEMENT), reason: "派单".into() },
    ]
}

fn h_returned() -> Vec<TicketEvent> {
    let mut h = h_held_by_department();
    h.push(TicketEvent::Returned {
        by: dept(URBAN_MANAGEMENT), reason: "不属本部门".into(), respond_by: at(hours(2))
    });
    h
}

fn h_extension_asked() -> Vec<TicketEvent> {
    let mut h = h_held_by_department();
    h.push(TicketEvent::ExtensionAsked {
        by: dept(URBAN_MANAGEMENT), until: at(days(8)), reason: "需采购灯杆".into()
    });
    h
}

fn ret(reason: &str) -> TicketCommand {
    TicketCommand::Return { reason: reason.into() }
}

fn ask(until: Timestamp) -> TicketCommand {
    TicketCommand::AskExtension { until, reason: "需采购灯杆".into() }
}

fn urban() -> gridloop_engine::envelope::Actor {
    department(URBAN_MANAGEMENT)
}

// ---------------------------------------------------------------------
// 退单
// ---------------------------------------------------------------------

#[test]
fn the_department_returns_a_misrouted_ticket_and_it_waits_for_the_tiers_dispatcher() {
    let state: Ticket =
        given(&h_held_by_department()).when(&urban(), ret(" 不属本部门 ")).then(&[TicketEvent::Returned {
            by: dept(URBAN_MANAGEMENT),
            reason: "不属本部门".into(),
            respond_by: at(hours(2)),
        }]);
    assert_eq!((state.status, state.holder.clone()), (Status::Returned, None));
    assert_eq!(state.returned_by, Some(dept(URBAN_MANAGEMENT)));
    assert_eq!(state.returns, 1);
    assert!(state.status.awaits_dispatch());
    // The dispatcher's response deadline is what the board and timers show.
    let pending = state.pending_deadlines();
    assert_eq!(pending.first().map(|(_, at)| *at), Some(at(hours(2))), "{pending:?}");
}

#[test]
fn a_return_needs_a_reason_the_holding_department_and_a_held_ticket() {
    given(&h_held_by_department()).when(&urban(), ret("  ")).then_refused(invalid("reason"));
    given(&h_held_by_department())
        .when(&department(CIVIL_AFFAIRS), ret("不是我们的"))
        .then_refused(|e| matches!(e, Error::NotHolder { .. }));
    given(&h_held_by_department()).when(&dispatcher(), ret("代退")).then_refused(not_permitted);
    given(&h_returned()).when(&urban(), ret("再退")).then_refused(illegal);
    given(&h_in_progress()).when(&volunteer(1), ret("不会修")).then_refused(not_permitted);
}

#[test]
fn a_ticket_returned_as_often_as_it_may_be_is_not_returned_again() {
    let mut h = h_held_by_department();
    for _ in 0..RETURNS_MAX {
        h.push(TicketEvent::Returned { by: dept(URBAN_MANAGEMENT), reason: "x".into(), respond_by: at(hours(2)) });
        h.push(TicketEvent::ReturnOverruled { to: dept(URBAN_MANAGEMENT), note: "y".into() });
    }
    given(&h).when(&urban(), ret("第九次")).then_refused(illegal);
}

#[test]
fn the_dispatcher_insists_and_the_department_holds_it_again() {
    let state = given(&h_returned())
        .when(&dispatcher(), TicketCommand::Insist { note: "路灯属城管".into() })
        .then(&[TicketEvent::ReturnOverruled { to: dept(URBAN_MANAGEMENT), note: "路灯属城管".into() }]);
    assert_eq!((state.status, state.holder), (Status::Accepted, Some(dept(URBAN_MANAGEMENT))));
    assert_eq!((state.returned_by, state.respond_by), (None, None));
}

#[test]
fn only_a_dispatcher_insists_with_a_note_on_a_returned_ticket() {
    let insist = |note: &str| TicketCommand::Insist { note: note.into() };
    given(&h_returned()).when(&urban(), insist("我们做")).then_refused(not_permitted);
    given(&h_returned()).when(&dispatcher(), insist("")).then_refused(invalid("note"));
    given(&h_held_by_department()).when(&dispatcher(), insist("坚持")).then_refused(illegal);
}

#[test]
fn the_dispatcher_reroutes_a_returned_ticket_to_another_department_but_not_back() {
    let assign = |to| TicketCommand::Assign { to, reason: "改派民政".into() };
    let state = given(&h_returned())
        .when(&dispatcher(), assign(dept(CIVIL_AFFAIRS)))
        .then(&[TicketEvent::Reassigned { to: dept(CIVIL_AFFAIRS), reason: "改派民政".into() }]);
    assert_eq!((state.status, state.returned_by), (Status::Accepted, None));
    given(&h_returned()).when(&dispatcher(), assign(dept(URBAN_MANAGEMENT))).then_refused(invalid("assignee"));
}

// ---------------------------------------------------------------------
// 延期
// ---------------------------------------------------------------------

#[test]
fn the_holder_asks_for_an_extension_and_the_dispatcher_grants_it() {
    let state = given(&h_held_by_department()).when(&urban(), ask(at(days(8)))).then(&[TicketEvent::ExtensionAsked {
        by: dept(URBAN_MANAGEMENT),
        until: at(days(8)),
        reason: "需采购灯杆".into(),
    }]);
    assert!(state.extension.is_some());
    assert_eq!(state.resolve_by, Some(deadline()), "asking changes no deadline");
    let state = given(&h_extension_asked())
        .when(&dispatcher(), TicketCommand::GrantExtension)
        .at(at(days(4)))
        .then(&[TicketEvent::ExtensionGranted { resolve_by_before: deadline(), resolve_by: at(days(8)) }]);
    assert_eq!((state.resolve_by, state.judged_resolve_by), (Some(at(days(8))), Some(at(days(8)))));
    assert_eq!(state.extension, None);
    // The timers and the rates judge by the new deadline: not overdue a
    // day past the old one.
    assert!(!state.overdue(at(days(6))));
    assert!(state.overdue(at(days(8)).plus(hours(1))));
    assert!(state.pending_deadlines().contains(&(gridloop_engine::ticket::DeadlineKind::Resolve, at(days(8)))));
}

#[test]
fn the_dispatcher_refuses_an_extension_and_the_deadline_stands() {
    let state = given(&h_extension_asked())
        .when(&dispatcher(), TicketCommand::RefuseExtension { reason: "按期完成".into() })
        .then(&[TicketEvent::ExtensionRefused { reason: "按期完成".into() }]);
    assert_eq!((state.resolve_by, state.extension.clone()), (Some(deadline()), None));
    given(&h_extension_asked())
        .when(&dispatcher(), TicketCommand::RefuseExtension { reason: " ".into() })
        .then_refused(invalid("reason"));
}

#[test]
fn an_extension_is_bounded() {
    let held = h_held_by_department;
    // Not before the deadline in force, not past the bound.
    given(&held()).when(&urban(), ask(deadline())).then_refused(invalid("until"));
    given(&held()).when(&urban(), ask(deadline().plus(EXTENSION_MAX).plus(hours(1)))).then_refused(invalid("until"));
    given(&held()).when(&urban(), ask(deadline().plus(EXTENSION_MAX))).then(&[TicketEvent::ExtensionAsked {
        by: dept(URBAN_MANAGEMENT),
        until: deadline().plus(EXTENSION_MAX),
        reason: "需采购灯杆".into(),
    }]);
    // Asked before the deadline passes, one request at a time.
    given(&held()).when(&urban(), ask(at(days(8)))).at(deadline()).then_refused(illegal);
    given(&h_extension_asked()).when(&urban(), ask(at(days(9)))).then_refused(illegal);
    // Only the holder asks; a dispatcher grants.
    given(&held())
        .when(&department(CIVIL_AFFAIRS), ask(at(days(8))))
        .then_refused(|e| matches!(e, Error::NotHolder { .. }));
    given(&held()).when(&dispatcher(), ask(at(days(8)))).then_refused(not_permitted);
    given(&h_extension_asked()).when(&urban(), TicketCommand::GrantExtension).then_refused(not_permitted);
    given(&held()).when(&dispatcher(), TicketCommand::GrantExtension).then_refused(illegal);
}

#[test]
fn a_grant_after_the_old_deadline_passed_is_refused_so_a_miss_stays_a_miss() {
    given(&h_extension_asked()).when(&dispatcher(), TicketCommand::GrantExtension).at(deadline()).then_refused(illegal);
}

#[test]
fn at_most_three_extensions_are_asked() {
    let mut h = h_held_by_department();
    let mut until = deadline();
    for _ in 0..EXTENSIONS_MAX {
        let before = until;
        until = until.plus(days(1));
        h.push(TicketEvent::ExtensionAsked { by: dept(URBAN_MANAGEMENT), until, reason: "x".into() });
        h.push(TicketEvent::ExtensionGranted { resolve_by_before: before, resolve_by: until });
    }
    given(&h).when(&urban(), ask(until.plus(days(1)))).then_refused(illegal);
}

#[test]
fn a_return_drops_the_open_extension_request() {
    let state = given(&h_extension_asked()).when(&urban(), ret("不属本部门")).then(&[TicketEvent::Returned {
        by: dept(URBAN_MANAGEMENT),
        reason: "不属本部门".into(),
        respond_by: at(hours(2)),
    }]);
    assert_eq!(state.extension, None);
    given(&h_returned()).when(&dispatcher(), TicketCommand::GrantExtension).then_refused(illegal);
}

// ---------------------------------------------------------------------
// 催办
// ---------------------------------------------------------------------

#[test]
fn a_dispatcher_urges_and_the_ticket_counts_it() {
    let state = given(&h_held_by_department())
        .when(&dispatcher(), TicketCommand::Urge { note: "居民再次来电".into() })
        .then(&[TicketEvent::Urged { note: "居民再次来电".into() }]);
    assert_eq!((state.urges, state.status), (1, Status::Accepted));
}

#[test]
fn urging_is_for_supervisors_on_open_tickets_and_bounded() {
    let urge = || TicketCommand::Urge { note: String::new() };
    given(&h_held_by_department()).when(&urban(), urge()).then_refused(not_permitted);
    given(&h_held_by_department()).when(&resident(), urge()).then_refused(not_permitted);
    given(&h_resolved()).when(&dispatcher(), urge()).then_refused(illegal);
    given(&h_closed()).when(&dispatcher(), urge()).then_refused(illegal);
    let mut h = h_held_by_department();
    h.extend((0..URGES_MAX).map(|_| TicketEvent::Urged { note: String::new() }));
    given(&h).when(&dispatcher(), urge()).then_refused(illegal);
}
