//! The grid worker's ticket commands: a problem found on patrol (no
//! resident), handled on the spot in one append (巡办合一), or handled in
//! part with the rest dispatched as linked child tickets that resolve the
//! parent when the last one settles (巡办协同).

use gridloop_engine::Error;
use gridloop_engine::blob::BlobHash;
use gridloop_engine::ticket::{Channel, Found, Status, TicketCommand, TicketEvent, Tier, Urgency};

use crate::support::*;

const FOUND: &str = "楼道堆满小广告";

fn found(item: &str) -> Found {
    Found { item: item_code(item), grid: grid(GRID), description: FOUND.into(), location: None, photos: vec![] }
}

/// T-1 reported on patrol by `gw-1` for `item`, at `t0()`.
fn reported(item: &str) -> TicketEvent {
    let sla = world().catalog.item(&item_code(item)).expect("catalog item").sla;
    TicketEvent::Submitted {
        ticket: tid(1),
        item: item_code(item),
        grid: grid(GRID),
        resident: None,
        description: FOUND.into(),
        urgency: Urgency::Normal,
        channel: Channel::Patrol,
        location: None,
        tier: Tier::Grid,
        accept_by: t0().plus(sla.accept_within),
        resolve_by: t0().plus(sla.resolve_within),
        photos: vec![],
    }
}

fn on_spot(item: &str) -> TicketCommand {
    TicketCommand::HandleOnSpot {
        found: found(item),
        result: "已清理".into(),
        minutes_spent: 15,
        photos: vec![BlobHash::of(b"after")],
    }
}

fn coordinate(children: &[u64]) -> TicketCommand {
    TicketCommand::Coordinate {
        done: "已清理一楼".into(),
        minutes_spent: 20,
        photos: vec![],
        children: children.iter().map(|n| tid(*n)).collect(),
    }
}

fn coordinated(children: &[u64]) -> TicketEvent {
    TicketEvent::Coordinated {
        done: "已清理一楼".into(),
        minutes_spent: 20,
        photos: vec![],
        children: children.iter().map(|n| tid(*n)).collect(),
    }
}

fn self_handled() -> TicketEvent {
    TicketEvent::SelfHandled { worker: grid_worker().id }
}

fn settle(n: u64) -> TicketCommand {
    TicketCommand::SettleChild { child: tid(n) }
}

#[test]
fn a_problem_found_on_patrol_is_a_ticket_for_no_resident() {
    let state = no_ticket().when(&grid_worker(), TicketCommand::Report(found(FLYERS))).then(&[reported(FLYERS)]);
    assert_eq!((state.status, state.resident.clone()), (Status::Submitted, None));
    for someone in [resident(), dispatcher(), volunteer(1), auditor()] {
        no_ticket()
            .when(&someone, TicketCommand::Report(found(FLYERS)))
            .then_refused(|e| matches!(e, Error::NotPermitted { .. }));
    }
}

#[test]
fn handled_on_the_spot_it_is_reported_taken_and_resolved_in_one_decision() {
    let feedback_by = t0().plus(FLYERS_SLA.feedback_window);
    let state = no_ticket().when(&grid_worker(), on_spot(FLYERS)).then(&[
        reported(FLYERS),
        self_handled(),
        TicketEvent::Resolved {
            by: worker(WORKER),
            result: "已清理".into(),
            minutes_spent: 15,
            feedback_by,
            photos: vec![BlobHash::of(b"after")],
        },
    ]);
    assert_eq!(state.status, Status::Resolved);
    assert_eq!(state.result_photos, vec![BlobHash::of(b"after")]);
}

#[test]
fn on_the_spot_is_refused_whole_by_any_of_its_rules() {
    // The item must be one the grid may handle; the report alone would be
    // accepted, so nothing of it may be decided either.
    no_ticket().when(&grid_worker(), on_spot(UNREVIEWED)).then_refused(|e| matches!(e, Error::NotAdmitted { .. }));
    no_ticket().when(&dispatcher(), on_spot(FLYERS)).then_refused(|e| matches!(e, Error::NotPermitted { .. }));
    given(&[reported(FLYERS)])
        .when(&grid_worker(), on_spot(FLYERS))
        .then_refused(|e| matches!(e, Error::AlreadyExists { .. }));
    let mut too_long = on_spot(FLYERS);
    if let TicketCommand::HandleOnSpot { minutes_spent, .. } = &mut too_long {
        *minutes_spent = 31 * 24 * 60;
    }
    no_ticket().when(&grid_worker(), too_long).then_refused(|e| matches!(e, Error::Invalid { .. }));
}

#[test]
fn coordinated_the_parent_resolves_when_its_last_child_settles() {
    let state = given(&[reported(STREET_LIGHT)])
        .when(&grid_worker(), coordinate(&[2, 3]))
        .then(&[self_handled(), coordinated(&[2, 3])]);
    assert!(state.awaits_children());
    let history = [reported(STREET_LIGHT), self_handled(), coordinated(&[2, 3])];
    given(&history)
        .when(&grid_worker(), TicketCommand::Resolve { result: "x".into(), minutes_spent: 1, photos: vec![] })
        .then_refused(|e| matches!(e, Error::IllegalTransition { status: "waiting for its child tickets", .. }));
    let one = given(&history).when(&system(), settle(2)).then(&[TicketEvent::ChildSettled { child: tid(2) }]);
    assert_eq!(one.status, Status::Accepted, "one child is still open");
    let mut settled_one = history.to_vec();
    settled_one.push(TicketEvent::ChildSettled { child: tid(2) });
    given(&settled_one)
        .when(&system(), settle(2))
        .then_refused(|e| matches!(e, Error::IllegalTransition { status: "not waiting for that child", .. }));
    let done = given(&settled_one).when(&system(), settle(3)).then(&[
        TicketEvent::ChildSettled { child: tid(3) },
        TicketEvent::Resolved {
            by: worker(WORKER),
            result: "已清理一楼".into(),
            minutes_spent: 20,
            feedback_by: t0().plus(STREET_LIGHT_SLA.feedback_window),
            photos: vec![],
        },
    ]);
    assert_eq!(done.status, Status::Resolved);
}

#[test]
fn a_coordination_names_its_children_once_and_only_by_the_worker_holding_it() {
    let reported = [reported(STREET_LIGHT)];
    for bad in [&[][..], &[1], &[2, 2], &[2, 3, 4, 5, 6, 7, 8, 9, 10]] {
        given(&reported)
            .when(&grid_worker(), coordinate(bad))
            .then_refused(|e| matches!(e, Error::Invalid { field: "children", .. }));
    }
    given(&reported).when(&dispatcher(), coordinate(&[2])).then_refused(|e| matches!(e, Error::NotPermitted { .. }));
    let held_by_other = [reported[0].clone(), TicketEvent::SelfHandled { worker: other_grid_worker().id }];
    given(&held_by_other)
        .when(&grid_worker(), coordinate(&[2]))
        .then_refused(|e| matches!(e, Error::IllegalTransition { .. }));
    let twice = [reported[0].clone(), self_handled(), coordinated(&[2])];
    given(&twice)
        .when(&grid_worker(), coordinate(&[3]))
        .then_refused(|e| matches!(e, Error::IllegalTransition { status: "coordinated already", .. }));
    given(&twice).when(&volunteer(1), settle(2)).then_refused(|e| matches!(e, Error::NotPermitted { .. }));
}
