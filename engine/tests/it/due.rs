//! Which tickets are due against a deadline at an instant (`Due::judge`),
//! and a ticket's overdue flag, which stays after the timers escalate it
//! and someone else takes it on. VISIT's deadlines from `t0()`: taken by
//! +2h, resolved by +2d.

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::due::Due;
use gridloop_engine::ticket::{DeadlineKind, EscalationReason, Ticket, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;

use crate::support::*;

#[test]
fn a_deadline_is_due_once_it_passed_or_was_met() {
    let deadline = at(hours(2));
    let judge = |done: Option<_>, withdrawn: Option<_>, now| Due::judge(deadline, done, withdrawn, now);
    assert_eq!(judge(None, None, at(mins(5))), Due::NotYet, "minutes old: neither success nor failure");
    assert_eq!(judge(None, None, deadline), Due::Missed, "the deadline's instant counts as passed");
    assert_eq!(judge(Some(at(hours(1))), None, at(mins(90))), Due::Met, "done early is due at once");
    assert_eq!(judge(Some(deadline), None, at(days(1))), Due::Met, "done at the deadline's instant is on time");
    assert_eq!(judge(Some(at(hours(3))), None, at(days(1))), Due::Missed, "done late");
    assert_eq!(judge(Some(at(hours(3))), None, at(mins(150))), Due::Missed, "late and not yet done then");
    assert_eq!(judge(Some(at(hours(1))), None, at(mins(30))), Due::NotYet, "done later than the instant asked");
    assert_eq!(judge(None, Some(at(hours(1))), at(days(1))), Due::NotYet, "withdrawn before it fell due");
    assert_eq!(judge(None, Some(at(hours(3))), at(days(1))), Due::Missed, "withdrawn after it passed");
    assert!(!Due::NotYet.is_due() && Due::Met.is_due() && Due::Missed.is_due());
}

fn fold(events: &[(Timestamp, TicketEvent)]) -> Ticket {
    let mut ticket = Ticket::default();
    for (at, event) in events {
        ticket.evolve(event, *at);
    }
    ticket
}

fn escalated(from: Tier, to: Tier, respond_by: Timestamp, resolve_by: Option<Timestamp>) -> TicketEvent {
    TicketEvent::Escalated {
        from,
        to,
        reason: EscalationReason::Timeout,
        note: String::new(),
        respond_by: Some(respond_by),
        resolve_by,
    }
}

#[test]
fn a_missed_deadline_stays_after_escalation_and_a_new_holder() {
    let mut history = vec![(t0(), submitted()), (t0(), triaged(HandlingMode::Volunteer, VISIT))];
    let fresh = fold(&history);
    assert!(!fresh.overdue(at(mins(10))), "a ticket minutes old is not overdue");
    assert!(fresh.overdue(at(hours(2))), "untaken at its accept deadline");
    // The timers escalate at +2h; the community must respond by +3h: the
    // pending deadline is fresh, the miss is not.
    history.push((at(hours(2)), escalated(Tier::Grid, Tier::Community, at(hours(3)), None)));
    let escalated_ticket = fold(&history);
    assert_eq!(escalated_ticket.pending_deadlines()[0], (DeadlineKind::Accept, at(hours(3))));
    assert!(escalated_ticket.overdue(at(mins(150))), "still overdue before the new deadline");
    history.push((at(mins(150)), TicketEvent::Reassigned { to: team(1), reason: "按路由规则派单".into() }));
    let handed_on = fold(&history);
    assert!(handed_on.overdue(at(mins(160))), "the policy handed it on: it still missed its accept deadline");
    assert_eq!(
        handed_on.judged(at(mins(160))),
        [(DeadlineKind::Accept, Due::Missed), (DeadlineKind::Resolve, Due::NotYet)]
    );
}

#[test]
fn a_resolve_deadline_renewed_by_escalation_is_still_judged_by_the_old_one() {
    let late = t0().plus(VISIT_SLA.resolve_within);
    let history = vec![
        (t0(), submitted()),
        (at(hours(1)), TicketEvent::Reassigned { to: vol(1), reason: "派单".into() }),
        // Past its resolve deadline the timers escalate with a fresh one.
        (late, escalated(Tier::Grid, Tier::Community, late.plus(hours(1)), Some(late.plus(days(2))))),
        (late.plus(mins(30)), TicketEvent::Reassigned { to: team(1), reason: "派单".into() }),
    ];
    let ticket = fold(&history);
    assert_eq!(ticket.resolve_by, Some(late.plus(days(2))), "the deadline it works to is renewed");
    assert_eq!(ticket.judged_resolve_by, Some(late), "the judged one is not");
    assert!(ticket.pending_deadlines().iter().all(|(_, at)| *at > late.plus(hours(1))), "nothing pending is past");
    assert!(ticket.overdue(late.plus(hours(1))), "yet it missed its resolve deadline");
    let mut resolved = history.clone();
    resolved.push((late.plus(days(1)), resolved_event()));
    assert_eq!(fold(&resolved).judged(late.plus(days(1)))[1], (DeadlineKind::Resolve, Due::Missed), "resolved late");
}

fn resolved_event() -> TicketEvent {
    resolved(team(1), t0().plus(days(9)))
}

#[test]
fn on_time_work_and_early_withdrawal_are_never_overdue() {
    let on_time = fold(&[
        (t0(), submitted()),
        (at(hours(1)), TicketEvent::Reassigned { to: vol(1), reason: "派单".into() }),
        (at(days(1)), resolved(vol(1), at(days(4)))),
    ]);
    assert!(!on_time.overdue(at(days(30))), "taken and resolved in time");
    let cancelled = fold(&[(t0(), submitted()), (at(hours(1)), TicketEvent::Cancelled { reason: "不需要了".into() })]);
    assert!(!cancelled.overdue(at(days(30))), "cancelled before any deadline: its clock stopped");
    let cancelled_late =
        fold(&[(t0(), submitted()), (at(hours(3)), TicketEvent::Cancelled { reason: "不需要了".into() })]);
    assert!(cancelled_late.overdue(at(days(30))), "cancelled after its accept deadline passed untaken");
}

#[test]
fn open_offers_are_those_a_candidate_may_still_accept() {
    let mut ticket = given(&h_offered()).state().clone();
    assert!(ticket.open_offer_to(&vol(1), at(mins(10))).is_some());
    assert!(ticket.open_offer_to(&vol(3), at(mins(10))).is_none(), "not a candidate");
    assert!(ticket.open_offer_to(&vol(1), offer_deadline()).is_none(), "expired at its instant");
    ticket.evolve(&TicketEvent::Declined { by: vol(1), round: 1, reason: String::new() }, at(mins(5)));
    assert!(ticket.open_offer_to(&vol(1), at(mins(10))).is_none(), "declined");
    assert!(ticket.open_offer_to(&vol(2), at(mins(10))).is_some());
}
