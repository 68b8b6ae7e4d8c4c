//! The grid head's weekly report: who submits, for which place and week,
//! the correction window, resubmissions, and the ISO weeks in China time.

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::time::Timestamp;
use gridloop_engine::weekly::{
    IsoWeek, REVISIONS_MAX, WeeklyCommand, WeeklyEvent, WeeklyFigures, WeeklyId, WeeklyReport,
};

use crate::support::*;

/// The grid head of `GRID` (a grid head is placed on a grid; the place is
/// checked at the door, by the permit rule).
fn head() -> Actor {
    actor(Role::GridHead, "gh-1")
}

fn week48() -> IsoWeek {
    IsoWeek::parse("2026-W48").unwrap()
}

fn figures(submitted: u64) -> WeeklyFigures {
    WeeklyFigures {
        as_of: t0(),
        submitted,
        open: 1,
        resolved: submitted - 1,
        on_time: 2,
        resolve_due: 3,
        ..WeeklyFigures::default()
    }
}

fn submit(narrative: &str, figures: WeeklyFigures) -> WeeklyCommand {
    WeeklyCommand::SubmitWeeklyReport { narrative: narrative.into(), figures }
}

fn submitted(revision: u32, narrative: &str, figures: WeeklyFigures) -> WeeklyEvent {
    WeeklyEvent::ReportSubmitted {
        grid: grid(GRID),
        week: week48(),
        community: grid(COMMUNITY),
        revision,
        narrative: narrative.into(),
        figures,
    }
}

fn no_report() -> Given<WeeklyReport> {
    given::<WeeklyEvent>(&[])
}

fn invalid(field: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Invalid { field: f, .. } if *f == field)
}

#[test]
fn a_grid_head_submits_the_week_to_the_community_with_its_figures() {
    let state = no_report().when(&head(), submit("  本周走访独居老人 12 户。 ", figures(4))).then(&[submitted(
        1,
        "本周走访独居老人 12 户。",
        figures(4),
    )]);
    assert_eq!((state.revision, state.version), (1, 1));
    assert_eq!(state.submitted_at, Some(t0()));
    assert_eq!(state.figures.submitted, 4);
}

#[test]
fn a_resubmission_replaces_the_report_with_the_next_revision() {
    let state = given(&[submitted(1, "初稿", figures(4))])
        .when(&head(), submit("更正：走访 13 户", figures(5)))
        .at(at(days(2)))
        .then(&[submitted(2, "更正：走访 13 户", figures(5))]);
    assert_eq!(state.revision, 2);
    assert_eq!(state.narrative, "更正：走访 13 户");
    assert_eq!(state.submitted_at, Some(at(days(2))));
}

#[test]
fn an_identical_resubmission_writes_nothing() {
    given(&[submitted(1, "初稿", figures(4))]).when(&head(), submit("初稿", figures(4))).then(&[]);
}

#[test]
fn revisions_are_bounded() {
    let history: Vec<_> = (1..=REVISIONS_MAX).map(|r| submitted(r, &format!("第 {r} 稿"), figures(4))).collect();
    given(&history)
        .when(&head(), submit("再改一次", figures(4)))
        .then_refused(|e| matches!(e, Error::IllegalTransition { command: "resubmit a weekly report", .. }));
}

#[test]
fn only_a_grid_head_submits() {
    for actor in [resident(), grid_worker(), dispatcher(), volunteer(1), department(CIVIL_AFFAIRS), auditor(), system()]
    {
        no_report()
            .when(&actor, submit("本周", figures(4)))
            .then_refused(|e| matches!(e, Error::NotPermitted { command: "submit a weekly report", .. }));
    }
}

#[test]
fn the_place_is_a_grid_of_the_district() {
    let on = |code: &str| WeeklyId { grid: grid(code), week: week48() };
    for place in [COMMUNITY, STREET, DISTRICT] {
        no_report().when(&head(), submit("本周", figures(4))).on(on(place)).then_refused(invalid("grid"));
    }
    no_report()
        .when(&head(), submit("本周", figures(4)))
        .on(on(UNKNOWN_GRID))
        .then_refused(|e| matches!(e, Error::NotFound { .. } | Error::Invalid { .. }));
}

#[test]
fn a_week_is_reported_from_its_first_moment_until_the_end_of_the_next() {
    let start = week48().start();
    let closes = week48().end().plus(days(7));
    let figures_at = |t: Timestamp| WeeklyFigures { as_of: t, ..figures(4) };
    let early = no_report().when(&head(), submit("本周", figures_at(start))).at(just_before(start));
    early.clone().then_refused(|e| matches!(e, Error::IllegalTransition { status: "the week has not begun", .. }));
    no_report().when(&head(), submit("本周", figures_at(start))).at(start).then(&[submitted(
        1,
        "本周",
        figures_at(start),
    )]);
    let last = just_before(closes);
    no_report().when(&head(), submit("补报", figures_at(last))).at(last).then(&[submitted(
        1,
        "补报",
        figures_at(last),
    )]);
    no_report().when(&head(), submit("太迟", figures_at(closes))).at(closes).then_refused(|e| {
        matches!(e, Error::IllegalTransition { status: "the week's correction window has closed", .. })
    });
}

#[test]
fn figures_are_taken_in_the_week_or_after_and_not_in_the_future() {
    let before_week = WeeklyFigures { as_of: just_before(week48().start()), ..figures(4) };
    no_report().when(&head(), submit("本周", before_week)).then_refused(invalid("figures"));
    let future = WeeklyFigures { as_of: at(hours(1)), ..figures(4) };
    no_report().when(&head(), submit("本周", future)).then_refused(invalid("figures"));
}

#[test]
fn the_narrative_is_free_text_by_the_one_rule() {
    for bad in ["", "   ", "\u{202e}反转", &"字".repeat(2_001)] {
        no_report().when(&head(), submit(bad, figures(4))).then_refused(invalid("narrative"));
    }
}

#[test]
fn iso_weeks_are_counted_in_china_time() {
    let w = |text: &str| IsoWeek::parse(text).unwrap();
    assert_eq!(w("2026-W48").start(), Timestamp::parse("2026-11-22T16:00:00Z").unwrap());
    assert_eq!(w("2026-W48").end(), w("2026-W49").start());
    assert_eq!(w("2026-W53").start(), Timestamp::parse("2026-12-27T16:00:00Z").unwrap());
    assert_eq!(w("2026-W53").next(), w("2027-W01"));
    assert_eq!(w("2025-W01").start(), Timestamp::parse("2024-12-29T16:00:00Z").unwrap());
    assert_eq!(IsoWeek::containing(Timestamp::parse("2026-11-22T15:59:59Z").unwrap()), w("2026-W47"));
    assert_eq!(IsoWeek::containing(Timestamp::parse("2026-11-22T16:00:00Z").unwrap()), w("2026-W48"));
    assert_eq!(w("2026-W49").to_string(), "2026-W49");
    for bad in ["2027-W53", "2026-W00", "2026-W54", "2026-49", "2026-W4", "１２３４-W01", "1999-W01", "2026-w49", ""]
    {
        assert!(IsoWeek::parse(bad).is_err(), "{bad}");
    }
    let id = WeeklyId { grid: grid(GRID), week: w("2026-W49") };
    assert_eq!(WeeklyId::parse(&id.to_string()).unwrap(), id);
}
