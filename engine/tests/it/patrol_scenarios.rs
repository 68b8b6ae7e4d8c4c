//! Patrols (网格巡查): start, check in, end; one open patrol per worker,
//! bounded check-ins, points inside the patrol's grid, only the worker.

use gridloop_engine::Error;
use gridloop_engine::grid::GeoPoint;
use gridloop_engine::patrol::{CHECK_INS_MAX, PatrolCommand, PatrolEvent, Patrols, VisitKind};

use crate::support::*;

fn start() -> PatrolCommand {
    PatrolCommand::StartPatrol { grid: grid(GRID) }
}

fn started(patrol: u32) -> PatrolEvent {
    PatrolEvent::Started { patrol, grid: grid(GRID) }
}

fn check_in(label: &str, point: Option<GeoPoint>) -> PatrolCommand {
    PatrolCommand::CheckIn {
        kind: VisitKind::Household, label: label.into(), note: "独居老人, 一切正常".into(), point
    }
}

fn no_patrol() -> Given<Patrols> {
    given::<PatrolEvent>(&[])
}

#[test]
fn a_grid_worker_starts_checks_in_and_ends_a_patrol() {
    let state = no_patrol().when(&grid_worker(), start()).then(&[started(1)]);
    assert_eq!(state.open.as_ref().map(|o| o.patrol), Some(1));
    let point = Some(GeoPoint { lon: 100, lat: 100 });
    let state =
        given(&[started(1)]).when(&grid_worker(), check_in(" 3栋 201 ", point)).then(&[PatrolEvent::CheckedIn {
            patrol: 1,
            kind: VisitKind::Household,
            label: "3栋 201".into(),
            note: "独居老人, 一切正常".into(),
            point,
        }]);
    assert_eq!(state.open.as_ref().map(|o| o.check_ins), Some(1));
    let checked = PatrolEvent::CheckedIn {
        patrol: 1,
        kind: VisitKind::Site,
        label: "路口".into(),
        note: String::new(),
        point: None,
    };
    let state = given(&[started(1), checked])
        .when(&grid_worker(), PatrolCommand::EndPatrol { note: "完".into() })
        .then(&[PatrolEvent::Ended { patrol: 1, check_ins: 1, note: "完".into() }]);
    assert_eq!(state.open, None);
    let ended = PatrolEvent::Ended { patrol: 1, check_ins: 0, note: String::new() };
    // The next patrol takes the next number.
    given(&[started(1), ended]).when(&grid_worker(), start()).then(&[started(2)]);
}

#[test]
fn one_patrol_is_open_at_a_time() {
    let refused = given(&[started(1)])
        .when(&grid_worker(), start())
        .then_refused(|e| matches!(e, Error::IllegalTransition { status, .. } if status.contains("already")));
    assert_eq!(refused.code(), "illegal_transition");
}

#[test]
fn without_an_open_patrol_there_is_nothing_to_check_in_on_or_end() {
    let not_on_patrol = |e: &Error| matches!(e, Error::IllegalTransition { status: "not on a patrol", .. });
    no_patrol().when(&grid_worker(), check_in("1栋", None)).then_refused(not_on_patrol);
    no_patrol().when(&grid_worker(), PatrolCommand::EndPatrol { note: String::new() }).then_refused(not_on_patrol);
}

#[test]
fn only_the_grid_worker_themself_patrols() {
    for actor in [resident(), dispatcher(), volunteer(1), department(CIVIL_AFFAIRS), auditor()] {
        no_patrol().when_refused_for(&actor);
    }
    no_patrol()
        .when(&other_grid_worker(), start())
        .then_refused(|e| matches!(e, Error::NotPermitted { command: "patrol as another worker", .. }));
}

#[test]
fn a_patrol_walks_a_known_grid_not_a_community() {
    no_patrol()
        .when(&grid_worker(), PatrolCommand::StartPatrol { grid: grid(UNKNOWN_GRID) })
        .then_refused(|e| matches!(e, Error::NotFound { .. }));
    no_patrol()
        .when(&grid_worker(), PatrolCommand::StartPatrol { grid: grid(COMMUNITY) })
        .then_refused(|e| matches!(e, Error::Invalid { field: "grid", .. }));
    no_patrol()
        .when(&grid_worker(), PatrolCommand::StartPatrol { grid: grid(SUB_GRID) })
        .then(&[PatrolEvent::Started { patrol: 1, grid: grid(SUB_GRID) }]);
}

#[test]
fn a_check_in_is_bounded_and_in_the_patrols_grid() {
    let on_patrol = given(&[started(1)]);
    let outside = Some(GeoPoint { lon: 1_500, lat: 100 });
    on_patrol
        .clone()
        .when(&grid_worker(), check_in("1栋", outside))
        .then_refused(|e| matches!(e, Error::LocationOutsideGrid { .. }));
    for label in ["", "   ", &"楼".repeat(101)] {
        on_patrol
            .clone()
            .when(&grid_worker(), check_in(label, None))
            .then_refused(|e| matches!(e, Error::Invalid { field: "label", .. }));
    }
    on_patrol.clone().when(&grid_worker(), check_in(&"楼".repeat(100), None)).then(&[PatrolEvent::CheckedIn {
        patrol: 1,
        kind: VisitKind::Household,
        label: "楼".repeat(100),
        note: "独居老人, 一切正常".into(),
        point: None,
    }]);
    let full: Vec<PatrolEvent> = std::iter::once(started(1))
        .chain((0..CHECK_INS_MAX).map(|i| PatrolEvent::CheckedIn {
            patrol: 1,
            kind: VisitKind::Site,
            label: format!("{i}"),
            note: String::new(),
            point: None,
        }))
        .collect();
    given(&full)
        .when(&grid_worker(), check_in("one more", None))
        .then_refused(|e| matches!(e, Error::Invalid { field: "check-ins", .. }));
}

trait RefusedFor {
    fn when_refused_for(self, actor: &gridloop_engine::envelope::Actor);
}

impl RefusedFor for Given<Patrols> {
    /// Any role but a grid worker is refused by the role rule, even on
    /// their own stream.
    fn when_refused_for(self, actor: &gridloop_engine::envelope::Actor) {
        self.when(actor, start()).on(actor.id.clone()).then_refused(|e| matches!(e, Error::NotPermitted { .. }));
    }
}
