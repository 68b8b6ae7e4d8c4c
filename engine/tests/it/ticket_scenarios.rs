//! The ticket aggregate, one given/when/then scenario per transition and per
//! refusal. Histories are folded at `t0()` (2026-11-23T08:00:00Z) unless a
//! scenario says otherwise; deadlines are checked as literal instants so
//! that the arithmetic is checked too, not just repeated.

use gridloop_engine::Error;
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GeoPoint;
use gridloop_engine::ticket::{
    Assignee, Channel, CloseReason, EscalationReason, ExpiryReason, MINUTES_SPENT_MAX, OFFER_CANDIDATES_MAX,
    OFFER_ROUNDS_MAX, OFFER_WINDOW_MAX, Offer, Rating, Status, TEXT_CHARS_MAX, Ticket, TicketCommand, TicketEvent,
    Tier, Urgency,
};
use gridloop_engine::time::Timestamp;

use crate::support::*;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

fn illegal(command: &'static str, status: &'static str) -> Error {
    Error::IllegalTransition { command, status }
}

fn not_permitted(role: &'static str, command: &'static str) -> Error {
    Error::NotPermitted { role, command }
}

fn invalid(field: &'static str) -> impl Fn(&Error) -> bool {
    move |e| matches!(e, Error::Invalid { field: f, .. } if *f == field)
}

fn t1() -> String {
    "T-1".to_string()
}

fn offer_cmd(candidates: &[Assignee], expires_at: Timestamp) -> TicketCommand {
    TicketCommand::Offer { candidates: candidates.to_vec(), expires_at }
}

fn accept(by: Assignee) -> TicketCommand {
    TicketCommand::AcceptOffer { by }
}

fn decline(by: Assignee, reason: &str) -> TicketCommand {
    TicketCommand::DeclineOffer { by, reason: reason.into() }
}

fn escalate(reason: EscalationReason, note: &str) -> TicketCommand {
    TicketCommand::Escalate { reason, note: note.into() }
}

fn resolve(result: &str, minutes_spent: u32) -> TicketCommand {
    TicketCommand::Resolve { photos: vec![], result: result.into(), minutes_spent }
}

fn feedback(rating: Rating, comment: &str) -> TicketCommand {
    TicketCommand::GiveFeedback { rating, comment: comment.into() }
}

fn note(text: &str) -> TicketCommand {
    TicketCommand::AddNote { text: text.into() }
}

fn assign(to: Assignee, reason: &str) -> TicketCommand {
    TicketCommand::Assign { to, reason: reason.into() }
}

fn cancel(reason: &str) -> TicketCommand {
    TicketCommand::Cancel { reason: reason.into() }
}

fn with(mut history: Vec<TicketEvent>, more: impl IntoIterator<Item = TicketEvent>) -> Vec<TicketEvent> {
    history.extend(more);
    history
}

/// A department item (`STREET_LIGHT`) triaged to its department.
fn h_department_triaged() -> Vec<TicketEvent> {
    vec![submitted_item(STREET_LIGHT), triaged(HandlingMode::Department, STREET_LIGHT)]
}

/// The unreviewed item, triaged to its department.
fn h_unreviewed_triaged() -> Vec<TicketEvent> {
    vec![submitted_item(UNREVIEWED), triaged(HandlingMode::Department, UNREVIEWED)]
}

/// Every command, with plausible arguments, for sweeping refusals.
fn every_command() -> Vec<TicketCommand> {
    vec![
        submit_cmd(VISIT, GRID),
        TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None },
        TicketCommand::SelfHandle,
        offer_cmd(&[vol(1)], at(hours(1))),
        TicketCommand::ExpireOffer { round: 1 },
        accept(vol(1)),
        decline(vol(1), ""),
        TicketCommand::Start,
        note("备注"),
        escalate(EscalationReason::Timeout, ""),
        escalate(EscalationReason::Difficulty, ""),
        escalate(EscalationReason::Complaint, ""),
        escalate(EscalationReason::Whistle, ""),
        escalate(EscalationReason::Emergency, ""),
        assign(vol(2), "改派"),
        resolve("已办结", 30),
        feedback(Rating::Satisfied, ""),
        feedback(Rating::Unsatisfied, ""),
        TicketCommand::Reopen { reason: "复查".into() },
        TicketCommand::Close,
        cancel("撤回"),
        TicketCommand::MarkDuplicate { of: tid(2) },
    ]
}

// =====================================================================
// Transitions
// =====================================================================

// ---- submit (点单)

#[test]
fn a_resident_orders_and_the_catalog_sets_the_deadlines() {
    let now = ts("2026-11-23T08:05:00Z");
    let command = TicketCommand::Submit {
        photos: vec![],
        item: item_code(VISIT),
        grid: grid(GRID),
        resident: resident_id(RESIDENT),
        description: format!("  {NEED}\n"),
        urgency: Urgency::Urgent,
        channel: Channel::Chat,
        location: Some(GeoPoint { lon: 120, lat: 340 }),
    };
    let state = no_ticket().when(&resident(), command).at(now).then(&[TicketEvent::Submitted {
        photos: vec![],
        ticket: tid(1),
        item: item_code(VISIT),
        grid: grid(GRID),
        resident: Some(resident_id(RESIDENT)),
        description: NEED.into(),
        urgency: Urgency::Urgent,
        channel: Channel::Chat,
        location: Some(GeoPoint { lon: 120, lat: 340 }),
        tier: Tier::Grid,
        // accept_within 2h, resolve_within 2d
        accept_by: ts("2026-11-23T10:05:00Z"),
        resolve_by: ts("2026-11-25T08:05:00Z"),
    }]);
    assert_eq!(state.status, Status::Submitted);
    assert_eq!(state.id, Some(tid(1)));
    assert_eq!(state.item, Some(item_code(VISIT)));
    assert_eq!(state.grid, Some(grid(GRID)));
    assert_eq!(state.resident, Some(resident_id(RESIDENT)));
    assert_eq!(state.urgency, Some(Urgency::Urgent));
    assert_eq!(state.tier, Some(Tier::Grid));
    assert_eq!(state.submitted_at, Some(now));
    assert_eq!(state.accept_by, Some(ts("2026-11-23T10:05:00Z")));
    assert_eq!(state.resolve_by, Some(ts("2026-11-25T08:05:00Z")));
    assert_eq!((state.holder.as_ref(), state.offer.as_ref(), state.version), (None, None, 1));
}

#[test]
fn a_grid_worker_records_an_order_on_patrol_in_a_sub_grid() {
    let now = ts("2026-11-24T09:30:00Z");
    let command = TicketCommand::Submit {
        photos: vec![],
        item: item_code(STREET_LIGHT),
        grid: grid(SUB_GRID),
        resident: resident_id(RESIDENT),
        description: "路灯不亮".into(),
        urgency: Urgency::Normal,
        channel: Channel::Patrol,
        location: None,
    };
    let state = no_ticket().when(&grid_worker(), command).on(tid(1024)).at(now).then(&[TicketEvent::Submitted {
        photos: vec![],
        ticket: tid(1024),
        item: item_code(STREET_LIGHT),
        grid: grid(SUB_GRID),
        resident: Some(resident_id(RESIDENT)),
        description: "路灯不亮".into(),
        urgency: Urgency::Normal,
        channel: Channel::Patrol,
        location: None,
        tier: Tier::Grid,
        // accept_within 4h, resolve_within 5d
        accept_by: ts("2026-11-24T13:30:00Z"),
        resolve_by: ts("2026-11-29T09:30:00Z"),
    }]);
    assert_eq!(state.id, Some(tid(1024)));
}

#[test]
fn a_dispatcher_takes_a_phone_order_for_an_unreviewed_item() {
    // Not admitted to the grid catalog: it may still be ordered; it goes to
    // its department.
    let state = no_ticket().when(&dispatcher(), submit_cmd(UNREVIEWED, OTHER_GRID)).at(at(hours(1))).then(&[
        TicketEvent::Submitted {
            photos: vec![],
            ticket: tid(1),
            item: item_code(UNREVIEWED),
            grid: grid(OTHER_GRID),
            resident: Some(resident_id(RESIDENT)),
            description: NEED.into(),
            urgency: Urgency::Normal,
            channel: Channel::QrCode,
            location: None,
            tier: Tier::Grid,
            accept_by: ts("2026-11-23T17:00:00Z"),
            resolve_by: ts("2026-12-03T09:00:00Z"),
        },
    ]);
    assert_eq!(state.status, Status::Submitted);
}

#[test]
fn submitted_helper_matches_what_submit_decides() {
    // The history builders are only trustworthy if they are what decide writes.
    no_ticket().when(&resident(), submit_cmd(VISIT, GRID)).at(t0()).then(&[submitted()]);
    no_ticket().when(&resident(), submit_cmd(STREET_LIGHT, GRID)).at(t0()).then(&[submitted_item(STREET_LIGHT)]);
}

// ---- triage

#[test]
fn a_dispatcher_triages_to_volunteers_keeping_the_item() {
    let state = given(&[submitted()])
        .when(&dispatcher(), TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None })
        .at(at(mins(3)))
        .then(&[triaged(HandlingMode::Volunteer, VISIT)]);
    assert_eq!((state.status, state.mode), (Status::Triaged, Some(HandlingMode::Volunteer)));
    assert_eq!(state.item, Some(item_code(VISIT)));
}

#[test]
fn a_grid_worker_reclassifies_the_item_while_triaging() {
    let state = given(&[submitted()])
        .when(&grid_worker(), TicketCommand::Triage { mode: HandlingMode::SelfHandle, item: Some(item_code(FLYERS)) })
        .then(&[triaged(HandlingMode::SelfHandle, FLYERS)]);
    assert_eq!(state.item, Some(item_code(FLYERS)));
    assert_eq!(state.mode, Some(HandlingMode::SelfHandle));
}

#[test]
fn an_unreviewed_item_is_triaged_to_its_department() {
    given(&[submitted_item(UNREVIEWED)])
        .when(&dispatcher(), TicketCommand::Triage { mode: HandlingMode::Department, item: None })
        .then(&[triaged(HandlingMode::Department, UNREVIEWED)]);
}

// ---- self-handle (巡办合一)

#[test]
fn a_grid_worker_handles_a_patrol_item_on_the_spot() {
    let now = at(mins(20));
    let state = given(&[submitted_item(FLYERS), triaged(HandlingMode::SelfHandle, FLYERS)])
        .when(&grid_worker(), TicketCommand::SelfHandle)
        .at(now)
        .then(&[TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new(WORKER).unwrap() }]);
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.holder, Some(worker(WORKER)));
    assert_eq!(state.accepted_at, Some(now));
}

#[test]
fn a_grid_head_handles_on_the_spot_as_a_grid_worker_would_and_an_official_may_not() {
    let head = gridloop_engine::ids::ActorId::new("gh-1").unwrap();
    given(&[submitted_item(FLYERS)])
        .when(&grid_head(), TicketCommand::SelfHandle)
        .then(&[TicketEvent::SelfHandled { worker: head.clone() }]);
    given(&[submitted_item(FLYERS), TicketEvent::SelfHandled { worker: head }])
        .when(&grid_head(), TicketCommand::Start)
        .then(&[TicketEvent::Started { by: worker("gh-1") }]);
    given(&[submitted_item(FLYERS)])
        .when(&official(), TicketCommand::SelfHandle)
        .then_error(not_permitted("official", TicketCommand::SelfHandle.verb()));
}

#[test]
fn self_handling_needs_no_triage_and_the_worker_then_resolves_it() {
    let state = given(&[submitted_item(FLYERS)])
        .when(&grid_worker(), TicketCommand::SelfHandle)
        .then(&[TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new(WORKER).unwrap() }]);
    assert!(state.status.is_held());
    // Resolving it: the feedback window of FLYERS is 2 days.
    given(&[
        submitted_item(FLYERS),
        TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new(WORKER).unwrap() },
    ])
    .when(&grid_worker(), resolve("已清理", 15))
    .at(at(hours(1)))
    .then(&[TicketEvent::Resolved {
        photos: vec![],
        by: worker(WORKER),
        result: "已清理".into(),
        minutes_spent: 15,
        feedback_by: ts("2026-11-25T09:00:00Z"),
    }]);
}

// ---- offer (派单)

#[test]
fn a_dispatcher_offers_to_one_volunteer() {
    let expires = ts("2026-11-23T08:31:00Z");
    let state = given(&h_triaged())
        .when(&dispatcher(), offer_cmd(&[vol(1)], expires))
        .at(at(mins(1)))
        .then(&[offered(1, &[vol(1)], expires)]);
    assert_eq!(state.status, Status::Offered);
    assert_eq!(state.offer_rounds, 1);
    assert_eq!(state.offer, Some(Offer { round: 1, candidates: vec![vol(1)], declined: vec![], expires_at: expires }));
}

#[test]
fn the_router_offers_to_many_at_once() {
    let candidates = [vol(1), vol(2), vol(3), team(1)];
    let state = given(&h_triaged()).when(&system(), offer_cmd(&candidates, at(mins(15)))).then(&[offered(
        1,
        &candidates,
        at(mins(15)),
    )]);
    assert_eq!(state.offer.unwrap().candidates, candidates);
}

#[test]
fn a_submitted_ticket_can_be_offered_without_triage_and_a_department_can_be_offered_a_department_item() {
    given(&[submitted_item(STREET_LIGHT)])
        .when(&dispatcher(), offer_cmd(&[dept(URBAN_MANAGEMENT)], at(hours(4))))
        .then(&[offered(1, &[dept(URBAN_MANAGEMENT)], at(hours(4)))]);
    // The unreviewed item goes to departments (any department of the catalog).
    given(&h_unreviewed_triaged())
        .when(&dispatcher(), offer_cmd(&[dept(URBAN_MANAGEMENT), dept(CIVIL_AFFAIRS)], at(hours(4))))
        .then(&[offered(1, &[dept(URBAN_MANAGEMENT), dept(CIVIL_AFFAIRS)], at(hours(4)))]);
}

#[test]
fn an_offer_may_go_to_64_candidates_and_expire_a_week_out() {
    let candidates: Vec<Assignee> = (1..=OFFER_CANDIDATES_MAX as u64).map(vol).collect();
    let expires = t0().plus(OFFER_WINDOW_MAX);
    assert_eq!(expires, ts("2026-11-30T08:00:00Z"));
    given(&h_triaged()).when(&dispatcher(), offer_cmd(&candidates, expires)).then(&[offered(1, &candidates, expires)]);
}

#[test]
fn an_offer_after_an_expired_one_is_the_next_round() {
    let history = with(h_offered(), [TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }]);
    let state = given(&history).when(&dispatcher(), offer_cmd(&[vol(3)], at(hours(1)))).then(&[offered(
        2,
        &[vol(3)],
        at(hours(1)),
    )]);
    assert_eq!(state.offer_rounds, 2);
}

#[test]
fn an_escalated_ticket_is_offered_again_at_its_new_tier() {
    let history = with(
        h_offered(),
        [TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Timeout,
            note: String::new(),
            respond_by: None,
            resolve_by: None,
        }],
    );
    let state = given(&history).when(&dispatcher(), offer_cmd(&[team(1)], at(hours(1)))).then(&[offered(
        2,
        &[team(1)],
        at(hours(1)),
    )]);
    assert_eq!(state.tier, Some(Tier::Community));
}

// ---- expire offer

#[test]
fn the_timer_expires_an_offer_at_its_deadline() {
    let state = given(&h_offered())
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(offer_deadline())
        .then(&[TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }]);
    assert_eq!(state.status, Status::Triaged);
    assert_eq!(state.offer, None);
    assert_eq!(state.offer_rounds, 1, "the round count survives the expiry");
}

#[test]
fn a_dispatcher_may_expire_an_offer_after_its_deadline() {
    given(&h_offered())
        .when(&dispatcher(), TicketCommand::ExpireOffer { round: 1 })
        .at(at(hours(5)))
        .then(&[TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }]);
}

// ---- accept (接单)

#[test]
fn a_candidate_accepts_the_offer() {
    let now = at(mins(10));
    let state = given(&h_offered()).when(&volunteer(1), accept(vol(1))).at(now).then(&[accepted(vol(1), 1)]);
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.holder, Some(vol(1)));
    assert_eq!(state.accepted_at, Some(now));
    assert_eq!(state.offer, None);
}

#[test]
fn a_candidate_may_accept_one_millisecond_before_the_offer_expires() {
    given(&h_offered())
        .when(&volunteer(2), accept(vol(2)))
        .at(just_before(offer_deadline()))
        .then(&[accepted(vol(2), 1)]);
}

#[test]
fn a_dispatcher_accepts_on_a_volunteers_behalf() {
    let state = given(&h_offered()).when(&dispatcher(), accept(vol(2))).at(at(mins(5))).then(&[accepted(vol(2), 1)]);
    assert_eq!(state.holder, Some(vol(2)));
}

#[test]
fn a_department_a_team_and_a_grid_worker_accept_offers_made_to_them() {
    let dept_offer = with(h_department_triaged(), [offered(1, &[dept(URBAN_MANAGEMENT)], at(hours(1)))]);
    let state = given(&dept_offer)
        .when(&department(URBAN_MANAGEMENT), accept(dept(URBAN_MANAGEMENT)))
        .then(&[accepted(dept(URBAN_MANAGEMENT), 1)]);
    assert_eq!(state.holder, Some(dept(URBAN_MANAGEMENT)));

    let team_offer = with(h_triaged(), [offered(1, &[team(1), worker(WORKER)], at(hours(1)))]);
    given(&team_offer).when(&team_account(1), accept(team(1))).then(&[accepted(team(1), 1)]);
    given(&team_offer).when(&grid_worker(), accept(worker(WORKER))).then(&[accepted(worker(WORKER), 1)]);
}

#[test]
fn an_acceptance_in_a_later_round_carries_that_round() {
    let history = with(
        h_offered(),
        [TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }, offered(2, &[vol(3)], at(hours(2)))],
    );
    given(&history).when(&volunteer(3), accept(vol(3))).at(at(hours(1))).then(&[accepted(vol(3), 2)]);
}

// ---- decline

#[test]
fn a_candidate_declines_and_the_offer_stays_out_for_the_others() {
    let state = given(&h_offered())
        .when(&volunteer(1), decline(vol(1), "  今天生病了 "))
        .at(at(mins(2)))
        .then(&[TicketEvent::Declined { by: vol(1), round: 1, reason: "今天生病了".into() }]);
    assert_eq!(state.status, Status::Offered);
    assert_eq!(state.offer.as_ref().unwrap().declined, vec![vol(1)]);
    // ... and the other candidate can still take it.
    given(&with(h_offered(), [TicketEvent::Declined { by: vol(1), round: 1, reason: String::new() }]))
        .when(&volunteer(2), accept(vol(2)))
        .at(at(mins(3)))
        .then(&[accepted(vol(2), 1)]);
}

#[test]
fn a_decline_may_give_no_reason() {
    given(&h_offered()).when(&volunteer(2), decline(vol(2), "")).then(&[TicketEvent::Declined {
        by: vol(2),
        round: 1,
        reason: String::new(),
    }]);
}

#[test]
fn when_every_candidate_declines_the_offer_expires_at_once() {
    let history = with(h_offered(), [TicketEvent::Declined { by: vol(1), round: 1, reason: String::new() }]);
    let state = given(&history).when(&volunteer(2), decline(vol(2), "不在家")).at(at(mins(4))).then(&[
        TicketEvent::Declined { by: vol(2), round: 1, reason: "不在家".into() },
        TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::AllDeclined },
    ]);
    assert_eq!(state.status, Status::Triaged);
    assert_eq!(state.offer, None);
    assert_eq!(state.version, history.len() as u64 + 2);
}

#[test]
fn a_single_candidate_declining_ends_the_offer() {
    let history = with(h_triaged(), [offered(1, &[dept(CIVIL_AFFAIRS)], at(hours(1)))]);
    given(&history).when(&department(CIVIL_AFFAIRS), decline(dept(CIVIL_AFFAIRS), "不属本部门")).then(&[
        TicketEvent::Declined { by: dept(CIVIL_AFFAIRS), round: 1, reason: "不属本部门".into() },
        TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::AllDeclined },
    ]);
}

// ---- start

#[test]
fn the_holder_starts_work() {
    let state =
        given(&h_accepted()).when(&volunteer(1), TicketCommand::Start).at(at(hours(1))).then(&[started(vol(1))]);
    assert_eq!(state.status, Status::InProgress);
    assert_eq!(state.holder, Some(vol(1)));
}

#[test]
fn a_dispatcher_starts_work_for_the_holder() {
    given(&h_accepted()).when(&dispatcher(), TicketCommand::Start).then(&[started(vol(1))]);
}

// ---- note

#[test]
fn a_note_is_trimmed_and_keeps_newlines_and_tabs() {
    let before = given(&h_in_progress()).state().clone();
    let state = given(&h_in_progress())
        .when(&volunteer(1), note("  已联系家属\n\t明早再去  "))
        .then(&[TicketEvent::NoteAdded { text: "已联系家属\n\t明早再去".into() }]);
    assert_eq!(state.status, before.status);
    assert_eq!(state.version, before.version + 1);
}

#[test]
fn dispatchers_grid_workers_and_the_system_add_notes() {
    for who in [dispatcher(), grid_worker(), system()] {
        given(&h_offered()).when(&who, note("跟进")).then(&[TicketEvent::NoteAdded { text: "跟进".into() }]);
    }
}

#[test]
fn volunteers_and_departments_note_only_tickets_they_have_to_do_with() {
    let noted = [TicketEvent::NoteAdded { text: "跟进".into() }];
    given(&h_offered()).when(&volunteer(2), note("跟进")).then(&noted);
    let mut summoned = h_offered();
    summoned.push(TicketEvent::Summoned {
        departments: vec![CIVIL_AFFAIRS.parse().expect("a department")],
        report_by: t0().plus(days(1)),
    });
    given(&summoned).when(&department(CIVIL_AFFAIRS), note("跟进")).then(&noted);
    let refused = Error::NotPermitted { role: "volunteer", command: "note a ticket not theirs" };
    given(&h_offered()).when(&volunteer(3), note("跟进")).then_error(refused);
    let refused = Error::NotPermitted { role: "department", command: "note a ticket not theirs" };
    given(&h_offered()).when(&department(CIVIL_AFFAIRS), note("跟进")).then_error(refused);
}

// ---- escalate (升级 / 吹哨)

#[test]
fn a_timeout_escalates_one_level() {
    let state = given(&h_triaged()).when(&system(), escalate(EscalationReason::Timeout, "")).at(at(hours(2))).then(&[
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Timeout,
            note: String::new(),
            respond_by: Some(at(hours(4))),
            resolve_by: None,
        },
    ]);
    assert_eq!(state.status, Status::Escalated);
    assert_eq!(state.tier, Some(Tier::Community));
    assert_eq!(state.escalations, 1);
}

#[test]
fn the_holder_escalates_a_matter_beyond_them_and_lets_go_of_it() {
    let state = given(&h_in_progress())
        .when(&volunteer(1), escalate(EscalationReason::Difficulty, " 需要专业电工 "))
        .then(&[TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Difficulty,
            note: "需要专业电工".into(),
            respond_by: Some(at(hours(2))),
            resolve_by: None,
        }]);
    assert_eq!(state.holder, None);
    assert_eq!(state.status, Status::Escalated);
    assert!(state.status.awaits_dispatch());
}

#[test]
fn a_resident_complains_and_it_goes_from_community_to_street() {
    let state = given(&h_escalated_to(Tier::Community))
        .when(&resident(), escalate(EscalationReason::Complaint, "三天没人管"))
        .then(&[TicketEvent::Escalated {
            from: Tier::Community,
            to: Tier::Street,
            reason: EscalationReason::Complaint,
            note: "三天没人管".into(),
            respond_by: Some(at(hours(4))),
            resolve_by: None,
        }]);
    assert_eq!((state.tier, state.escalations), (Some(Tier::Street), 2));
}

#[test]
fn the_street_blows_the_whistle_and_it_goes_to_the_district() {
    let state = given(&h_escalated_to(Tier::Street))
        .when(&dispatcher(), escalate(EscalationReason::Whistle, "街道吹哨"))
        .then(&[TicketEvent::Escalated {
            from: Tier::Street,
            to: Tier::District,
            reason: EscalationReason::Whistle,
            note: "街道吹哨".into(),
            respond_by: Some(at(hours(8))),
            resolve_by: None,
        }]);
    assert_eq!((state.tier, state.escalations), (Some(Tier::District), 3));
}

#[test]
fn an_emergency_jumps_straight_to_the_district_and_withdraws_the_offer() {
    let state = given(&h_offered()).when(&dispatcher(), escalate(EscalationReason::Emergency, "台风")).then(&[
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::District,
            reason: EscalationReason::Emergency,
            note: "台风".into(),
            respond_by: Some(at(hours(8))),
            resolve_by: None,
        },
    ]);
    assert_eq!(state.tier, Some(Tier::District));
    assert_eq!(state.escalations, 1);
    assert_eq!(state.offer, None);
    assert_eq!(state.status, Status::Escalated);
    // From the community too, it skips the street.
    given(&h_escalated_to(Tier::Community)).when(&dispatcher(), escalate(EscalationReason::Emergency, "")).then(&[
        TicketEvent::Escalated {
            from: Tier::Community,
            to: Tier::District,
            reason: EscalationReason::Emergency,
            note: String::new(),
            respond_by: Some(at(hours(8))),
            resolve_by: None,
        },
    ]);
}

#[test]
fn a_dispatcher_escalates_for_difficulty_without_holding_it() {
    given(&h_triaged()).when(&dispatcher(), escalate(EscalationReason::Difficulty, "")).then(&[
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Difficulty,
            note: String::new(),
            respond_by: Some(at(hours(2))),
            resolve_by: None,
        },
    ]);
}

// ---- assign (分拨 / 改派)

#[test]
fn a_dispatcher_assigns_an_escalated_ticket_to_a_department() {
    let now = at(hours(3));
    let state = given(&h_escalated_to(Tier::Street))
        .when(&dispatcher(), assign(dept(CIVIL_AFFAIRS), "街道统筹"))
        .at(now)
        .then(&[TicketEvent::Reassigned { to: dept(CIVIL_AFFAIRS), reason: "街道统筹".into() }]);
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.holder, Some(dept(CIVIL_AFFAIRS)));
    assert_eq!(state.accepted_at, Some(now));
    assert_eq!(state.tier, Some(Tier::Street));
}

#[test]
fn reassigning_moves_the_ticket_to_a_new_holder_and_keeps_the_first_acceptance_time() {
    let state = given(&h_in_progress())
        .when(&dispatcher(), assign(vol(2), "原志愿者请假"))
        .at(at(days(1)))
        .then(&[TicketEvent::Reassigned { to: vol(2), reason: "原志愿者请假".into() }]);
    assert_eq!(state.holder, Some(vol(2)));
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.accepted_at, Some(t0()));
}

#[test]
fn assigning_an_offered_ticket_withdraws_the_offer() {
    let state = given(&h_offered())
        .when(&dispatcher(), assign(worker(WORKER), "网格员顺路"))
        .then(&[TicketEvent::Reassigned { to: worker(WORKER), reason: "网格员顺路".into() }]);
    assert_eq!(state.offer, None);
    assert_eq!(state.holder, Some(worker(WORKER)));
}

// ---- resolve (办结)

#[test]
fn the_holder_resolves_and_the_feedback_window_opens() {
    let now = ts("2026-11-24T08:00:00Z");
    let state =
        given(&h_in_progress()).when(&volunteer(1), resolve("  已上门探访，老人身体良好 ", 90)).at(now).then(&[
            TicketEvent::Resolved {
                photos: vec![],
                by: vol(1),
                result: "已上门探访，老人身体良好".into(),
                minutes_spent: 90,
                // feedback_window 3d
                feedback_by: ts("2026-11-27T08:00:00Z"),
            },
        ]);
    assert_eq!(state.status, Status::Resolved);
    assert_eq!(state.resolved_at, Some(now));
    assert_eq!(state.feedback_by, Some(ts("2026-11-27T08:00:00Z")));
    assert_eq!(state.feedback, None);
    assert_eq!(state.holder, Some(vol(1)));
}

#[test]
fn a_department_resolves_straight_from_accepted_with_its_items_window() {
    let history = with(
        h_department_triaged(),
        [offered(1, &[dept(URBAN_MANAGEMENT)], at(hours(1))), accepted(dept(URBAN_MANAGEMENT), 1)],
    );
    given(&history)
        .when(&department(URBAN_MANAGEMENT), resolve("已更换灯泡", MINUTES_SPENT_MAX))
        .at(ts("2026-11-25T10:00:00Z"))
        .then(&[TicketEvent::Resolved {
            photos: vec![],
            by: dept(URBAN_MANAGEMENT),
            result: "已更换灯泡".into(),
            minutes_spent: MINUTES_SPENT_MAX,
            // STREET_LIGHT's feedback_window is 5d
            feedback_by: ts("2026-11-30T10:00:00Z"),
        }]);
}

#[test]
fn a_dispatcher_resolves_on_the_holders_behalf() {
    given(&h_in_progress()).when(&dispatcher(), resolve("电话确认已办结", 0)).then(&[TicketEvent::Resolved {
        photos: vec![],
        by: vol(1),
        result: "电话确认已办结".into(),
        minutes_spent: 0,
        feedback_by: feedback_deadline(),
    }]);
}

// ---- feedback (反馈)

#[test]
fn a_satisfied_resident_gives_feedback() {
    let state = given(&h_resolved())
        .when(&resident(), feedback(Rating::Satisfied, " 谢谢 "))
        .at(at(days(1)))
        .then(&[TicketEvent::FeedbackGiven { rating: Rating::Satisfied, comment: "谢谢".into() }]);
    assert_eq!(state.status, Status::Resolved);
    assert_eq!(state.feedback, Some(Rating::Satisfied));
}

#[test]
fn a_dispatcher_records_basically_satisfied_from_a_phone_follow_up_at_the_last_moment() {
    given(&h_resolved())
        .when(&dispatcher(), feedback(Rating::BasicallySatisfied, ""))
        .at(feedback_deadline())
        .then(&[TicketEvent::FeedbackGiven { rating: Rating::BasicallySatisfied, comment: String::new() }]);
}

#[test]
fn unsatisfied_feedback_reopens_the_matter_with_a_new_resolve_deadline() {
    let now = ts("2026-11-25T08:00:00Z");
    let state = given(&h_resolved()).when(&resident(), feedback(Rating::Unsatisfied, "没有人来")).at(now).then(&[
        TicketEvent::FeedbackGiven { rating: Rating::Unsatisfied, comment: "没有人来".into() },
        // resolve_within 2d from now
        TicketEvent::Reopened {
            reason: "unsatisfied feedback".into(),
            resolve_by: ts("2026-11-27T08:00:00Z"),
            respond_by: Some(ts("2026-11-25T10:00:00Z")),
        },
    ]);
    assert_eq!(state.status, Status::Reopened);
    assert_eq!(state.reopenings, 1);
    assert_eq!(state.holder, None);
    assert_eq!(state.resolved_at, None);
    assert_eq!(state.feedback_by, None);
    assert_eq!(state.resolve_by, Some(ts("2026-11-27T08:00:00Z")));
    assert!(state.status.awaits_dispatch());
}

// ---- reopen

#[test]
fn a_dispatcher_reopens_a_resolved_ticket() {
    let state = given(&h_resolved())
        .when(&dispatcher(), TicketCommand::Reopen { reason: "回访发现未解决".into() })
        .at(ts("2026-11-24T12:00:00Z"))
        .then(&[TicketEvent::Reopened {
            reason: "回访发现未解决".into(),
            resolve_by: ts("2026-11-26T12:00:00Z"),
            respond_by: Some(ts("2026-11-24T14:00:00Z")),
        }]);
    assert_eq!((state.status, state.reopenings, state.holder.as_ref()), (Status::Reopened, 1, None));
}

#[test]
fn a_reopened_ticket_is_offered_again_in_the_next_round() {
    let history = with(
        h_resolved(),
        [TicketEvent::Reopened { reason: "复查".into(), resolve_by: at(days(2)), respond_by: None }],
    );
    given(&history).when(&dispatcher(), offer_cmd(&[vol(2)], at(hours(1)))).then(&[offered(
        2,
        &[vol(2)],
        at(hours(1)),
    )]);
}

// ---- close (销号)

#[test]
fn a_confirmed_ticket_is_closed() {
    let history =
        with(h_resolved(), [TicketEvent::FeedbackGiven { rating: Rating::Satisfied, comment: String::new() }]);
    let now = at(days(1));
    let state = given(&history)
        .when(&dispatcher(), TicketCommand::Close)
        .at(now)
        .then(&[TicketEvent::Closed { reason: CloseReason::Confirmed }]);
    assert_eq!(state.status, Status::Closed);
    assert_eq!(state.closed_at, Some(now));
    // Basically satisfied also confirms it, and the system may close it.
    let history =
        with(h_resolved(), [TicketEvent::FeedbackGiven { rating: Rating::BasicallySatisfied, comment: String::new() }]);
    given(&history)
        .when(&system(), TicketCommand::Close)
        .then(&[TicketEvent::Closed { reason: CloseReason::Confirmed }]);
}

#[test]
fn without_feedback_the_ticket_closes_when_the_window_ends() {
    let state = given(&h_resolved())
        .when(&system(), TicketCommand::Close)
        .at(feedback_deadline())
        .then(&[TicketEvent::Closed { reason: CloseReason::NoFeedback }]);
    assert_eq!(state.status, Status::Closed);
    assert_eq!(state.closed_at, Some(feedback_deadline()));
}

// ---- cancel, duplicate

#[test]
fn the_resident_cancels_an_offered_order() {
    let state = given(&h_offered())
        .when(&resident(), cancel(" 已自行解决 "))
        .then(&[TicketEvent::Cancelled { reason: "已自行解决".into() }]);
    assert_eq!(state.status, Status::Cancelled);
    assert_eq!(state.offer, None);
    assert_eq!(state.closed_at, Some(t0()));
}

#[test]
fn a_dispatcher_cancels_a_held_ticket() {
    let state = given(&h_in_progress())
        .when(&dispatcher(), cancel("居民搬离"))
        .then(&[TicketEvent::Cancelled { reason: "居民搬离".into() }]);
    assert!(state.status.is_final());
}

#[test]
fn a_dispatcher_marks_a_duplicate() {
    let now = at(mins(7));
    let state = given(&h_offered())
        .when(&dispatcher(), TicketCommand::MarkDuplicate { of: tid(2) })
        .at(now)
        .then(&[TicketEvent::MarkedDuplicate { of: tid(2) }]);
    assert_eq!(state.status, Status::Duplicate);
    assert_eq!(state.duplicate_of, Some(tid(2)));
    assert_eq!(state.closed_at, Some(now));
    assert_eq!(state.offer, None);
}

// ---- the whole loop

/// 居民点单 · 社区派单 · 志愿接单 · 办结 · 反馈 · 销号, one command at a
/// time through decide and evolve, with the clock moving.
#[test]
fn the_closed_loop_from_order_to_closure() {
    let mut ticket = Ticket::default();
    let mut run = |who: &Actor, command: TicketCommand, now: Timestamp| -> Vec<TicketEvent> {
        let events = ticket.decide(&tid(1), &command, who, &ctx(now)).unwrap_or_else(|e| panic!("{command:?}: {e}"));
        for e in &events {
            ticket.evolve(e, now);
        }
        events
    };
    run(&resident(), submit_cmd(VISIT, GRID), t0());
    run(&dispatcher(), TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None }, at(mins(1)));
    run(&system(), offer_cmd(&[vol(1), vol(2), vol(3)], at(mins(31))), at(mins(1)));
    run(&volunteer(3), decline(vol(3), ""), at(mins(2)));
    assert_eq!(run(&volunteer(2), accept(vol(2)), at(mins(5))), [accepted(vol(2), 1)]);
    run(&volunteer(2), TicketCommand::Start, at(hours(1)));
    run(&volunteer(2), note("老人需要买药"), at(hours(2)));
    let resolved = run(&volunteer(2), resolve("已代购药品", 45), at(hours(3)));
    assert_eq!(
        resolved,
        [TicketEvent::Resolved {
            photos: vec![],
            by: vol(2),
            result: "已代购药品".into(),
            minutes_spent: 45,
            feedback_by: ts("2026-11-26T11:00:00Z")
        }]
    );
    run(&resident(), feedback(Rating::Satisfied, "很好"), at(hours(5)));
    assert_eq!(
        run(&system(), TicketCommand::Close, at(hours(5))),
        [TicketEvent::Closed { reason: CloseReason::Confirmed }]
    );
    assert_eq!(ticket.status, Status::Closed);
    assert_eq!(ticket.version, 10);
    assert_eq!(ticket.accepted_at, Some(at(mins(5))));
    assert_eq!(ticket.resolved_at, Some(at(hours(3))));
    assert_eq!(ticket.closed_at, Some(at(hours(5))));
    assert_eq!(ticket.feedback, Some(Rating::Satisfied));
}

// =====================================================================
// Refusals
// =====================================================================

// ---- the stream must (not) exist

#[test]
fn submitting_twice_is_refused() {
    given(&[submitted()])
        .when(&resident(), submit_cmd(VISIT, GRID))
        .then_error(Error::AlreadyExists { kind: "ticket", id: t1() });
    given(&h_closed())
        .when(&dispatcher(), submit_cmd(FLYERS, GRID))
        .then_error(Error::AlreadyExists { kind: "ticket", id: t1() });
}

#[test]
fn every_command_on_a_ticket_never_submitted_is_not_found() {
    for command in every_command().into_iter().filter(|c| !matches!(c, TicketCommand::Submit { .. })) {
        for who in every_actor() {
            no_ticket()
                .when(&who, command.clone())
                .on(tid(9))
                .then_error(Error::NotFound { kind: "ticket", id: "T-9".into() });
        }
    }
}

// ---- where and what

#[test]
fn an_order_is_placed_in_a_grid_not_a_street_community_or_district() {
    for code in [STREET, COMMUNITY, DISTRICT] {
        no_ticket().when(&resident(), submit_cmd(VISIT, code)).then_refused(invalid("grid"));
    }
}

#[test]
fn an_order_in_an_unknown_grid_or_for_an_unknown_item_is_not_found() {
    no_ticket()
        .when(&resident(), submit_cmd(VISIT, UNKNOWN_GRID))
        .then_error(Error::NotFound { kind: "grid", id: UNKNOWN_GRID.into() });
    no_ticket()
        .when(&resident(), submit_cmd(UNKNOWN_ITEM, GRID))
        .then_error(Error::NotFound { kind: "catalog item", id: UNKNOWN_ITEM.into() });
    given(&[submitted()])
        .when(
            &dispatcher(),
            TicketCommand::Triage { mode: HandlingMode::Volunteer, item: Some(item_code(UNKNOWN_ITEM)) },
        )
        .then_error(Error::NotFound { kind: "catalog item", id: UNKNOWN_ITEM.into() });
}

// ---- free text

#[test]
fn descriptions_must_be_non_empty_bounded_and_free_of_control_characters() {
    let with_description = |d: String| match submit_cmd(VISIT, GRID) {
        TicketCommand::Submit { item, grid, resident, urgency, channel, location, .. } => {
            TicketCommand::Submit { photos: vec![], item, grid, resident, description: d, urgency, channel, location }
        }
        _ => unreachable!(),
    };
    for bad in [String::new(), " \n\t ".into(), "x".repeat(TEXT_CHARS_MAX + 1), "漏水".repeat(TEXT_CHARS_MAX / 2 + 1)]
    {
        no_ticket().when(&resident(), with_description(bad)).then_refused(invalid("description"));
    }
    for bad in ["bell\u{7}", "nul\u{0}", "\u{1b}[31mred", "cr\rlf", "del\u{7f}", "c1\u{85}c1"] {
        let e = no_ticket().when(&resident(), with_description(bad.into())).then_refused(invalid("description"));
        assert!(e.to_string().contains("control characters"), "{e}");
    }
    // The bounds are inclusive, counted in characters after trimming.
    let longest = "漏".repeat(TEXT_CHARS_MAX);
    let state = no_ticket()
        .when(&resident(), with_description(format!("  {longest}  ")))
        .decide()
        .expect("2,000 characters are allowed");
    assert!(matches!(&state[0], TicketEvent::Submitted { description, .. } if *description == longest));
}

/// Submit T-1 for `VISIT` in `GRID` with this description.
fn describing(description: &str) -> TicketCommand {
    match submit_cmd(VISIT, GRID) {
        TicketCommand::Submit { item, grid, resident, urgency, channel, location, .. } => TicketCommand::Submit {
            photos: vec![],
            item,
            grid,
            resident,
            description: description.into(),
            urgency,
            channel,
            location,
        },
        _ => unreachable!(),
    }
}

#[test]
fn a_description_with_a_noncharacter_bidi_override_or_only_invisible_characters_is_refused() {
    // U+FFFE/U+FFFF make an XML document unparseable (Open311's requests.xml).
    for bad in ["漏水\u{FFFE}", "\u{FFFF}", "a\u{FDD0}b", "plane 1 \u{1FFFE}", "plane 16 \u{10FFFF}"] {
        let e = no_ticket().when(&resident(), describing(bad)).then_refused(invalid("description"));
        assert!(e.to_string().contains("non-characters"), "{bad:?}: {e}");
    }
    // Overrides and isolates make the text read otherwise than it says.
    for bad in ["\u{202E}gnp.exe", "a\u{202A}b", "a\u{202D}b", "a\u{2066}b\u{2069}", "a\u{2068}b"] {
        let e = no_ticket().when(&resident(), describing(bad)).then_refused(invalid("description"));
        assert!(e.to_string().contains("bidirectional"), "{bad:?}: {e}");
    }
    for bad in ["\u{200B}", "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}", " \u{00AD} \u{3164} ", "\u{FE0F}\u{200B}\n"] {
        let e = no_ticket().when(&resident(), describing(bad)).then_refused(invalid("description"));
        assert!(e.to_string().contains("empty"), "{bad:?}: {e}");
    }
}

#[test]
fn a_description_is_stored_in_nfc_and_keeps_what_shows() {
    // "é" typed as e + combining acute (NFD) is stored as one character.
    let decided = no_ticket().when(&resident(), describing("  cafe\u{301} 漏水  ")).decide().expect("taken");
    assert!(matches!(&decided[0], TicketEvent::Submitted { description, .. } if description == "caf\u{e9} 漏水"));
    // A zero-width joiner inside visible text (an emoji sequence) and a
    // right-to-left mark stay: they show nothing wrong.
    let emoji = "\u{1F468}\u{200D}\u{1F469} \u{5D0}\u{200F}";
    let decided = no_ticket().when(&resident(), describing(emoji)).decide().expect("taken");
    assert!(matches!(&decided[0], TicketEvent::Submitted { description, .. } if description == emoji));
}

#[test]
fn every_free_text_field_follows_the_boundary_rule() {
    let (nonchar, bidi, blank) = ("a\u{FFFF}", "a\u{202E}b", "\u{200B}\u{200B}");
    given(&h_offered()).when(&dispatcher(), note(nonchar)).then_refused(invalid("note"));
    given(&h_offered()).when(&dispatcher(), note(blank)).then_refused(invalid("note"));
    given(&h_offered()).when(&volunteer(1), decline(vol(1), bidi)).then_refused(invalid("reason"));
    given(&h_triaged()).when(&dispatcher(), escalate(EscalationReason::Whistle, bidi)).then_refused(invalid("note"));
    given(&h_triaged()).when(&dispatcher(), assign(vol(1), blank)).then_refused(invalid("reason"));
    given(&h_in_progress()).when(&volunteer(1), resolve(nonchar, 10)).then_refused(invalid("result"));
    given(&h_resolved()).when(&resident(), feedback(Rating::Satisfied, nonchar)).then_refused(invalid("comment"));
    given(&h_offered()).when(&resident(), cancel(blank)).then_refused(invalid("reason"));
    // Where a text may be empty, one that shows nothing is stored empty.
    given(&h_offered()).when(&volunteer(1), decline(vol(1), "\u{200B}")).then(&[TicketEvent::Declined {
        by: vol(1),
        round: 1,
        reason: String::new(),
    }]);
}

#[test]
fn a_location_outside_the_named_grid_is_refused() {
    let placed = |code: &str, lon: i32, lat: i32| match submit_cmd(VISIT, code) {
        TicketCommand::Submit { item, grid, resident, description, urgency, channel, .. } => {
            let location = Some(GeoPoint { lon, lat });
            TicketCommand::Submit { photos: vec![], item, grid, resident, description, urgency, channel, location }
        }
        _ => unreachable!(),
    };
    // GRID spans longitudes 0–1,000 µ°, OTHER_GRID 1,000–2,000, SUB_GRID 0–500.
    no_ticket()
        .when(&resident(), placed(GRID, 1_500, 500))
        .then_error(Error::LocationOutsideGrid { grid: GRID.into() });
    no_ticket()
        .when(&resident(), placed(SUB_GRID, 700, 500))
        .then_error(Error::LocationOutsideGrid { grid: SUB_GRID.into() });
    no_ticket()
        .when(&resident(), placed(GRID, 9_000, 500))
        .then_error(Error::LocationOutsideGrid { grid: GRID.into() });
    // Inside, in a sub-grid of it, or on its shared edge: taken.
    for (lon, lat) in [(700, 500), (200, 500), (1_000, 500)] {
        let decided = no_ticket().when(&resident(), placed(GRID, lon, lat)).decide();
        assert!(decided.is_ok(), "({lon}, {lat}): {decided:?}");
    }
}

#[test]
fn every_free_text_field_is_checked() {
    let control = "a\u{1}b";
    let long = "字".repeat(TEXT_CHARS_MAX + 1);
    given(&h_offered()).when(&dispatcher(), note("")).then_refused(invalid("note"));
    given(&h_offered()).when(&dispatcher(), note(&long)).then_refused(invalid("note"));
    given(&h_offered()).when(&volunteer(1), decline(vol(1), control)).then_refused(invalid("reason"));
    given(&h_triaged()).when(&dispatcher(), escalate(EscalationReason::Whistle, control)).then_refused(invalid("note"));
    given(&h_triaged()).when(&dispatcher(), assign(vol(1), "  ")).then_refused(invalid("reason"));
    given(&h_in_progress()).when(&volunteer(1), resolve("", 10)).then_refused(invalid("result"));
    given(&h_in_progress()).when(&volunteer(1), resolve(&long, 10)).then_refused(invalid("result"));
    given(&h_resolved()).when(&resident(), feedback(Rating::Satisfied, control)).then_refused(invalid("comment"));
    given(&h_resolved()).when(&resident(), feedback(Rating::Unsatisfied, &long)).then_refused(invalid("comment"));
    given(&h_resolved())
        .when(&dispatcher(), TicketCommand::Reopen { reason: String::new() })
        .then_refused(invalid("reason"));
    given(&h_offered()).when(&resident(), cancel("")).then_refused(invalid("reason"));
}

// ---- offers

#[test]
fn an_offer_goes_to_one_to_64_distinct_candidates() {
    let too_many: Vec<Assignee> = (1..=OFFER_CANDIDATES_MAX as u64 + 1).map(vol).collect();
    given(&h_triaged()).when(&dispatcher(), offer_cmd(&too_many, at(hours(1)))).then_refused(invalid("candidates"));
    given(&h_triaged()).when(&dispatcher(), offer_cmd(&[], at(hours(1)))).then_refused(invalid("candidates"));
    let e = given(&h_triaged())
        .when(&dispatcher(), offer_cmd(&[vol(1), vol(2), vol(1)], at(hours(1))))
        .then_refused(invalid("candidates"));
    assert!(e.to_string().contains("twice"), "{e}");
}

#[test]
fn an_offer_must_expire_after_now_and_within_a_week() {
    let now = at(hours(1));
    for expires in [t0(), now, just_before(now), now.plus(OFFER_WINDOW_MAX).plus(gridloop_engine::time::Millis(1))] {
        given(&h_triaged())
            .when(&dispatcher(), offer_cmd(&[vol(1)], expires))
            .at(now)
            .then_refused(invalid("expires at"));
    }
}

#[test]
fn after_16_rounds_the_ticket_must_be_assigned_or_escalated() {
    let mut history = h_triaged();
    for round in 1..=OFFER_ROUNDS_MAX {
        history.push(offered(round, &[vol(1)], at(mins(30))));
        history.push(TicketEvent::OfferExpired { round, reason: ExpiryReason::Deadline });
    }
    given(&history).when(&system(), offer_cmd(&[vol(2)], at(hours(1)))).then_refused(invalid("offer"));
    // ... assigning still works.
    given(&history)
        .when(&dispatcher(), assign(vol(2), "直接指派"))
        .then(&[TicketEvent::Reassigned { to: vol(2), reason: "直接指派".into() }]);
}

#[test]
fn an_offer_cannot_go_out_while_one_is_out_or_someone_holds_the_ticket() {
    given(&h_offered()).when(&dispatcher(), offer_cmd(&[vol(3)], at(hours(1)))).then_error(illegal("offer", "offered"));
    given(&h_accepted())
        .when(&dispatcher(), offer_cmd(&[vol(3)], at(hours(1))))
        .then_error(illegal("offer", "accepted"));
    given(&h_resolved())
        .when(&dispatcher(), offer_cmd(&[vol(3)], at(hours(1))))
        .then_error(illegal("offer", "resolved"));
}

#[test]
fn offering_an_unknown_department_is_an_unknown_reference() {
    given(&h_department_triaged())
        .when(&dispatcher(), offer_cmd(&[dept("water_board")], at(hours(1))))
        .then_error(Error::UnknownReference { kind: "department", id: "water_board".into() });
    given(&h_department_triaged())
        .when(&dispatcher(), assign(dept("water_board"), "分拨"))
        .then_error(Error::UnknownReference { kind: "department", id: "water_board".into() });
}

// ---- admission (事项准入)

#[test]
fn an_unreviewed_item_is_never_sent_to_the_grid() {
    let not_admitted = || Error::NotAdmitted { item: UNREVIEWED.into(), department: URBAN_MANAGEMENT.into() };
    for candidates in [vec![vol(1)], vec![team(1)], vec![dept(URBAN_MANAGEMENT), vol(2)], vec![worker(WORKER)]] {
        given(&h_unreviewed_triaged())
            .when(&dispatcher(), offer_cmd(&candidates, at(hours(1))))
            .then_error(not_admitted());
    }
    for to in [vol(1), team(1), worker(WORKER)] {
        given(&h_unreviewed_triaged()).when(&dispatcher(), assign(to, "下沉")).then_error(not_admitted());
    }
    given(&h_unreviewed_triaged()).when(&grid_worker(), TicketCommand::SelfHandle).then_error(not_admitted());
    for mode in [HandlingMode::Volunteer, HandlingMode::SelfHandle] {
        given(&[submitted_item(UNREVIEWED)])
            .when(&dispatcher(), TicketCommand::Triage { mode, item: None })
            .then_error(not_admitted());
        // Nor can triage reclassify an order into it and push it down.
        given(&[submitted()])
            .when(&dispatcher(), TicketCommand::Triage { mode, item: Some(item_code(UNREVIEWED)) })
            .then_error(not_admitted());
    }
}

#[test]
fn an_admitted_department_item_goes_to_its_department_not_to_volunteers() {
    let not_admitted = || Error::NotAdmitted { item: STREET_LIGHT.into(), department: URBAN_MANAGEMENT.into() };
    given(&h_department_triaged()).when(&dispatcher(), offer_cmd(&[vol(1)], at(hours(1)))).then_error(not_admitted());
    given(&h_department_triaged()).when(&dispatcher(), assign(team(1), "下沉")).then_error(not_admitted());
}

// ---- accepting

#[test]
fn accepting_a_closed_ticket_is_refused() {
    given(&h_closed()).when(&volunteer(2), accept(vol(2))).then_error(illegal("accept", "closed"));
    given(&h_cancelled()).when(&volunteer(1), accept(vol(1))).then_error(illegal("accept", "cancelled"));
}

#[test]
fn accepting_before_any_offer_is_refused() {
    given(&h_triaged()).when(&volunteer(1), accept(vol(1))).then_error(illegal("accept", "triaged"));
    given(&h_escalated_to(Tier::Community))
        .when(&volunteer(1), accept(vol(1)))
        .then_error(illegal("accept", "escalated"));
}

#[test]
fn a_volunteer_cannot_accept_an_offer_not_made_to_them() {
    given(&h_offered())
        .when(&volunteer(3), accept(vol(3)))
        .then_error(Error::NotOffered { ticket: t1(), who: "volunteer V-3".into() });
    given(&h_offered())
        .when(&team_account(1), accept(team(1)))
        .then_error(Error::NotOffered { ticket: t1(), who: "team TM-1".into() });
    given(&h_offered())
        .when(&dispatcher(), accept(dept(CIVIL_AFFAIRS)))
        .then_error(Error::NotOffered { ticket: t1(), who: "department civil_affairs".into() });
}

#[test]
fn a_candidate_who_declined_cannot_accept_or_decline_again() {
    let history = with(h_offered(), [TicketEvent::Declined { by: vol(1), round: 1, reason: String::new() }]);
    given(&history)
        .when(&volunteer(1), accept(vol(1)))
        .then_error(Error::NotOffered { ticket: t1(), who: "volunteer V-1".into() });
    given(&history)
        .when(&volunteer(1), decline(vol(1), ""))
        .then_error(Error::NotOffered { ticket: t1(), who: "volunteer V-1".into() });
    given(&history)
        .when(&volunteer(3), decline(vol(3), ""))
        .then_error(Error::NotOffered { ticket: t1(), who: "volunteer V-3".into() });
}

#[test]
fn nobody_accepts_or_declines_for_someone_else() {
    given(&h_offered())
        .when(&volunteer(2), accept(vol(1)))
        .then_error(not_permitted("volunteer", "accept for someone else"));
    given(&h_offered())
        .when(&volunteer(2), decline(vol(1), ""))
        .then_error(not_permitted("volunteer", "decline for someone else"));
    given(&h_offered())
        .when(&grid_worker(), accept(vol(1)))
        .then_error(not_permitted("grid worker", "accept for someone else"));
    let dept_offer = with(h_department_triaged(), [offered(1, &[dept(URBAN_MANAGEMENT)], at(hours(1)))]);
    given(&dept_offer)
        .when(&department(CIVIL_AFFAIRS), accept(dept(URBAN_MANAGEMENT)))
        .then_error(not_permitted("department", "accept for someone else"));
    // A volunteer is not a team, even with the team's number.
    let team_offer = with(h_triaged(), [offered(1, &[team(1)], at(hours(1)))]);
    given(&team_offer)
        .when(&volunteer(1), accept(team(1)))
        .then_error(not_permitted("volunteer", "accept for someone else"));
}

#[test]
fn the_second_acceptance_finds_it_taken() {
    given(&h_accepted())
        .when(&volunteer(2), accept(vol(2)))
        .at(at(mins(11)))
        .then_error(Error::AlreadyTaken { ticket: t1() });
    given(&h_in_progress()).when(&volunteer(2), accept(vol(2))).then_error(Error::AlreadyTaken { ticket: t1() });
    given(&h_resolved()).when(&volunteer(2), accept(vol(2))).then_error(Error::AlreadyTaken { ticket: t1() });
    // Also the winner sending it again (the service answers repeats by command id).
    given(&h_accepted()).when(&volunteer(1), accept(vol(1))).then_error(Error::AlreadyTaken { ticket: t1() });
}

#[test]
fn an_acceptance_at_or_after_the_deadline_finds_the_offer_expired() {
    given(&h_offered())
        .when(&volunteer(1), accept(vol(1)))
        .at(offer_deadline())
        .then_error(Error::OfferExpired { ticket: t1() });
    given(&h_offered())
        .when(&volunteer(2), accept(vol(2)))
        .at(at(days(2)))
        .then_error(Error::OfferExpired { ticket: t1() });
}

#[test]
fn an_acceptance_after_the_timer_expired_the_offer_is_told_it_expired() {
    let history = with(h_offered(), [TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }]);
    given(&history)
        .when(&volunteer(1), accept(vol(1)))
        .at(at(hours(1)))
        .then_error(Error::OfferExpired { ticket: t1() });
}

// ---- expiring

#[test]
fn expiring_the_wrong_round_or_before_the_deadline_changes_nothing() {
    given(&h_offered())
        .when(&system(), TicketCommand::ExpireOffer { round: 2 })
        .at(offer_deadline())
        .then_error(illegal("expire the offer", "offered"));
    given(&h_offered())
        .when(&system(), TicketCommand::ExpireOffer { round: 0 })
        .at(offer_deadline())
        .then_error(illegal("expire the offer", "offered"));
    given(&h_offered())
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(just_before(offer_deadline()))
        .then_error(illegal("expire the offer", "offered"));
    // An earlier round's timer firing late, while round 2 is out.
    let history = with(
        h_offered(),
        [TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }, offered(2, &[vol(3)], at(hours(5)))],
    );
    given(&history)
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(at(hours(1)))
        .then_error(illegal("expire the offer", "offered"));
}

#[test]
fn a_timer_firing_after_the_ticket_moved_on_changes_nothing() {
    given(&h_accepted())
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(at(hours(1)))
        .then_error(illegal("expire the offer", "accepted"));
    let expired = with(h_offered(), [TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline }]);
    given(&expired)
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(at(hours(1)))
        .then_error(illegal("expire the offer", "triaged"));
    given(&h_cancelled())
        .when(&system(), TicketCommand::ExpireOffer { round: 1 })
        .at(at(hours(1)))
        .then_error(illegal("expire the offer", "cancelled"));
}

// ---- roles

/// A history, a command, the roles allowed to send it, an actor that may,
/// and when.
type RoleCase = (Vec<TicketEvent>, TicketCommand, &'static [Role], Actor, Timestamp);

/// For each command on a history where it can succeed: every actor whose
/// role is not among `allowed` is refused with `NotPermitted`, and the
/// `ok` actor succeeds (so the refusal is about the role, not the state).
#[test]
fn wrong_roles_are_not_permitted() {
    use Role::*;
    use TicketCommand as C;
    let t = t0();
    let cases: Vec<RoleCase> = vec![
        (vec![], submit_cmd(VISIT, GRID), &[Resident, GridWorker, Dispatcher], resident(), t),
        (
            vec![submitted()],
            C::Triage { mode: HandlingMode::Volunteer, item: None },
            &[Dispatcher, GridWorker],
            grid_worker(),
            t,
        ),
        (vec![submitted_item(FLYERS)], C::SelfHandle, &[GridWorker], grid_worker(), t),
        (h_triaged(), offer_cmd(&[vol(1)], at(hours(1))), &[Dispatcher, System], system(), t),
        (h_offered(), C::ExpireOffer { round: 1 }, &[System, Dispatcher], system(), offer_deadline()),
        (h_offered(), accept(vol(1)), &[Volunteer, Department, GridWorker, Dispatcher], volunteer(1), t),
        (h_offered(), decline(vol(1), ""), &[Volunteer, Department, GridWorker, Dispatcher], volunteer(1), t),
        (h_offered(), note("x"), &[Dispatcher, GridWorker, Volunteer, Department, System], volunteer(1), t),
        (h_triaged(), escalate(EscalationReason::Timeout, ""), &[System, Dispatcher], system(), at(days(3))),
        (
            h_in_progress(),
            escalate(EscalationReason::Difficulty, ""),
            &[Volunteer, Department, GridWorker, Dispatcher],
            volunteer(1),
            t,
        ),
        (h_triaged(), escalate(EscalationReason::Complaint, ""), &[Resident, Dispatcher], resident(), t),
        (h_triaged(), escalate(EscalationReason::Whistle, ""), &[Dispatcher], dispatcher(), t),
        (h_triaged(), escalate(EscalationReason::Emergency, ""), &[Dispatcher], dispatcher(), t),
        (h_triaged(), assign(vol(1), "指派"), &[Dispatcher], dispatcher(), t),
        (h_resolved(), feedback(Rating::Satisfied, ""), &[Resident, Dispatcher], resident(), t),
        (h_resolved(), C::Reopen { reason: "复查".into() }, &[Dispatcher], dispatcher(), t),
        (h_resolved(), C::Close, &[Dispatcher, System], system(), feedback_deadline()),
        (h_offered(), cancel("撤回"), &[Resident, Dispatcher], resident(), t),
        (h_triaged(), C::MarkDuplicate { of: tid(2) }, &[Dispatcher], dispatcher(), t),
    ];
    let mut refusals = 0;
    for (history, command, allowed, ok, now) in cases {
        let decided = given(&history).when(&ok, command.clone()).at(now).decide();
        assert!(decided.is_ok(), "{command:?} by {ok:?} should succeed: {decided:?}");
        // A grid head may do whatever a grid worker may.
        let allowed_to = |role: Role| allowed.contains(&role) || (role == GridHead && allowed.contains(&GridWorker));
        for who in every_actor().into_iter().filter(|a| !allowed_to(a.role)) {
            given(&history)
                .when(&who, command.clone())
                .at(now)
                .then_error(not_permitted(who.role.name(), command.verb()));
            refusals += 1;
        }
    }
    assert!(refusals > 100, "the sweep refused only {refusals} times");
}

#[test]
fn an_auditor_only_reads() {
    // Commands without a role list refuse the auditor as a non-holder.
    given(&h_accepted())
        .when(&auditor(), TicketCommand::Start)
        .then_error(Error::NotHolder { ticket: t1(), who: "auditor a-1".into() });
    given(&h_in_progress())
        .when(&auditor(), resolve("x", 1))
        .then_error(Error::NotHolder { ticket: t1(), who: "auditor a-1".into() });
    // Every other command names the auditor's role in its refusal.
    for command in
        every_command().into_iter().filter(|c| !matches!(c, TicketCommand::Start | TicketCommand::Resolve { .. }))
    {
        let history = if matches!(command, TicketCommand::Submit { .. }) { vec![] } else { h_in_progress() };
        given(&history)
            .when(&auditor(), command)
            .then_refused(|e| matches!(e, Error::NotPermitted { role: "auditor", .. }));
    }
}

// ---- residents act only on their own tickets

#[test]
fn a_resident_cannot_act_on_another_residents_ticket() {
    let another = || not_permitted("resident", "act on another resident's ticket");
    given(&h_offered()).when(&other_resident(), cancel("不要了")).then_error(another());
    given(&h_resolved()).when(&other_resident(), feedback(Rating::Unsatisfied, "")).then_error(another());
    given(&h_triaged()).when(&other_resident(), escalate(EscalationReason::Complaint, "")).then_error(another());
}

#[test]
fn a_resident_cannot_order_in_another_residents_name() {
    no_ticket()
        .when(&other_resident(), submit_cmd(VISIT, GRID))
        .then_error(not_permitted("resident", "submit for another resident"));
}

// ---- only the holder acts as the handler

#[test]
fn only_the_holder_starts_resolves_or_escalates_for_difficulty() {
    let not_holder = |who: &str| Error::NotHolder { ticket: t1(), who: who.into() };
    given(&h_accepted()).when(&volunteer(2), TicketCommand::Start).then_error(not_holder("volunteer V-2"));
    given(&h_in_progress()).when(&volunteer(2), resolve("完成", 10)).then_error(not_holder("volunteer V-2"));
    given(&h_in_progress()).when(&grid_worker(), resolve("完成", 10)).then_error(not_holder("grid worker gw-1"));
    given(&h_in_progress()).when(&resident(), resolve("完成", 10)).then_error(not_holder("resident r-1"));
    given(&h_in_progress())
        .when(&department(CIVIL_AFFAIRS), resolve("完成", 10))
        .then_error(not_holder("department civil_affairs"));
    given(&h_in_progress())
        .when(&volunteer(2), escalate(EscalationReason::Difficulty, ""))
        .then_error(not_holder("volunteer V-2"));
    // Nobody holds a triaged ticket, so no handler can claim difficulty.
    given(&h_triaged())
        .when(&volunteer(1), escalate(EscalationReason::Difficulty, ""))
        .then_error(not_holder("volunteer V-1"));
    // A grid worker other than the one who took it on the spot.
    let self_handled = [
        submitted_item(FLYERS),
        TicketEvent::SelfHandled { worker: gridloop_engine::ids::ActorId::new(WORKER).unwrap() },
    ];
    given(&self_handled).when(&other_grid_worker(), resolve("完成", 10)).then_error(not_holder("grid worker gw-2"));
}

// ---- status rules

#[test]
fn start_resolve_and_triage_only_in_their_statuses() {
    given(&h_offered()).when(&volunteer(1), TicketCommand::Start).then_error(illegal("start", "offered"));
    given(&h_in_progress()).when(&volunteer(1), TicketCommand::Start).then_error(illegal("start", "in progress"));
    given(&h_offered()).when(&volunteer(1), resolve("完成", 1)).then_error(illegal("resolve", "offered"));
    given(&h_resolved()).when(&volunteer(1), resolve("完成", 1)).then_error(illegal("resolve", "resolved"));
    given(&h_triaged())
        .when(&dispatcher(), TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None })
        .then_error(illegal("triage", "triaged"));
    given(&h_offered()).when(&grid_worker(), TicketCommand::SelfHandle).then_error(illegal("self-handle", "offered"));
    given(&h_accepted()).when(&volunteer(1), decline(vol(1), "")).then_error(illegal("decline", "accepted"));
}

#[test]
fn resolved_minutes_are_bounded() {
    given(&h_in_progress())
        .when(&volunteer(1), resolve("完成", MINUTES_SPENT_MAX + 1))
        .then_refused(invalid("minutes spent"));
}

#[test]
fn feedback_before_resolution_is_refused() {
    given(&h_in_progress())
        .when(&resident(), feedback(Rating::Satisfied, ""))
        .then_error(illegal("give feedback", "in progress"));
    given(&h_offered())
        .when(&resident(), feedback(Rating::Unsatisfied, ""))
        .then_error(illegal("give feedback", "offered"));
}

#[test]
fn feedback_after_the_window_is_refused() {
    given(&h_resolved())
        .when(&resident(), feedback(Rating::Satisfied, ""))
        .at(feedback_deadline().plus(gridloop_engine::time::Millis(1)))
        .then_error(illegal("give feedback", "past its feedback window"));
}

#[test]
fn a_resolution_gets_one_verdict() {
    let rated = with(h_resolved(), [TicketEvent::FeedbackGiven { rating: Rating::Satisfied, comment: String::new() }]);
    for rating in [Rating::Satisfied, Rating::BasicallySatisfied, Rating::Unsatisfied] {
        given(&rated)
            .when(&resident(), feedback(rating, "改主意了"))
            .at(at(days(1)))
            .then_error(illegal("give feedback", "already rated"));
    }
}

#[test]
fn closing_before_the_feedback_window_ends_is_refused() {
    for now in [t0(), at(days(1)), just_before(feedback_deadline())] {
        given(&h_resolved())
            .when(&system(), TicketCommand::Close)
            .at(now)
            .then_error(illegal("close", "waiting for the resident's feedback"));
    }
}

#[test]
fn closing_an_unresolved_or_closed_ticket_is_refused() {
    given(&h_in_progress())
        .when(&dispatcher(), TicketCommand::Close)
        .at(at(days(30)))
        .then_error(illegal("close", "in progress"));
    given(&h_closed())
        .when(&dispatcher(), TicketCommand::Close)
        .at(at(days(30)))
        .then_error(illegal("close", "closed"));
    let reopened =
        with(h_resolved(), [TicketEvent::Reopened { reason: "x".into(), resolve_by: at(days(2)), respond_by: None }]);
    given(&reopened)
        .when(&dispatcher(), TicketCommand::Close)
        .at(at(days(30)))
        .then_error(illegal("close", "reopened"));
}

#[test]
fn reopening_needs_a_resolved_ticket() {
    given(&h_in_progress())
        .when(&dispatcher(), TicketCommand::Reopen { reason: "x".into() })
        .then_error(illegal("reopen", "in progress"));
    given(&h_closed())
        .when(&dispatcher(), TicketCommand::Reopen { reason: "x".into() })
        .then_error(illegal("reopen", "closed"));
}

#[test]
fn escalating_at_the_district_is_refused() {
    for (reason, who) in [
        (EscalationReason::Timeout, system()),
        (EscalationReason::Whistle, dispatcher()),
        (EscalationReason::Emergency, dispatcher()),
    ] {
        given(&h_escalated_to(Tier::District))
            .when(&who, escalate(reason, ""))
            .then_error(illegal("escalate", "already at the district centre"));
    }
}

#[test]
fn escalating_a_resolved_or_ended_ticket_is_refused() {
    given(&h_resolved())
        .when(&dispatcher(), escalate(EscalationReason::Whistle, ""))
        .then_error(illegal("escalate", "resolved"));
    given(&h_closed())
        .when(&resident(), escalate(EscalationReason::Complaint, ""))
        .then_error(illegal("escalate", "closed"));
    given(&h_duplicate())
        .when(&system(), escalate(EscalationReason::Timeout, ""))
        .then_error(illegal("escalate", "a duplicate"));
}

#[test]
fn assigning_to_the_current_holder_or_after_resolution_is_refused() {
    given(&h_in_progress()).when(&dispatcher(), assign(vol(1), "again")).then_refused(invalid("assignee"));
    given(&h_resolved()).when(&dispatcher(), assign(vol(2), "again")).then_error(illegal("assign", "resolved"));
    given(&h_cancelled()).when(&dispatcher(), assign(vol(2), "again")).then_error(illegal("assign", "cancelled"));
}

#[test]
fn cancelling_or_marking_a_duplicate_after_resolution_is_refused() {
    given(&h_resolved()).when(&resident(), cancel("不要了")).then_error(illegal("cancel", "resolved"));
    given(&h_closed()).when(&dispatcher(), cancel("不要了")).then_error(illegal("cancel", "closed"));
    given(&h_resolved())
        .when(&dispatcher(), TicketCommand::MarkDuplicate { of: tid(2) })
        .then_error(illegal("mark as duplicate", "resolved"));
    given(&h_cancelled())
        .when(&dispatcher(), TicketCommand::MarkDuplicate { of: tid(2) })
        .then_error(illegal("mark as duplicate", "cancelled"));
}

#[test]
fn a_ticket_cannot_duplicate_itself() {
    given(&h_triaged())
        .when(&dispatcher(), TicketCommand::MarkDuplicate { of: tid(1) })
        .then_error(Error::DuplicateCycle { ticket: "T-1".into(), of: "T-1".into() });
}

#[test]
fn a_note_on_an_ended_ticket_is_refused() {
    given(&h_closed()).when(&dispatcher(), note("补记")).then_error(illegal("add a note", "closed"));
    given(&h_cancelled()).when(&volunteer(1), note("补记")).then_error(illegal("add a note", "cancelled"));
    given(&h_duplicate()).when(&system(), note("补记")).then_error(illegal("add a note", "a duplicate"));
}

/// Closed, cancelled, duplicate: nothing more happens, whoever asks, whenever.
#[test]
fn an_ended_ticket_refuses_every_command() {
    for history in [h_closed(), h_cancelled(), h_duplicate()] {
        for command in every_command() {
            for who in every_actor() {
                for now in [t0(), at(days(30))] {
                    given(&history).when(&who, command.clone()).at(now).then_refused(|_| true);
                }
            }
        }
    }
}

// =====================================================================
// Photos and co-reporters (the resident's door)
// =====================================================================

fn photo(n: u8) -> gridloop_engine::blob::BlobHash {
    gridloop_engine::blob::BlobHash::of(&[n; 16])
}

#[test]
fn an_order_carries_its_photos_and_the_ticket_keeps_them() {
    let TicketCommand::Submit { item, grid, resident: who, description, urgency, channel, location, .. } =
        submit_cmd(VISIT, GRID)
    else {
        unreachable!("submit_cmd submits")
    };
    let photos = vec![photo(1), photo(2), photo(3)];
    let command = TicketCommand::Submit { item, grid, resident: who, description, urgency, channel, location, photos };
    let events = no_ticket().when(&resident(), command.clone()).decide().expect("three photos are allowed");
    assert_eq!(events[0].photos(), &[photo(1), photo(2), photo(3)]);
    let state = no_ticket().when(&resident(), command).then(&events);
    assert_eq!(state.order_photos, vec![photo(1), photo(2), photo(3)]);
}

#[test]
fn a_fourth_photo_or_the_same_photo_twice_is_refused() {
    for photos in [vec![photo(1), photo(2), photo(3), photo(4)], vec![photo(1), photo(1)]] {
        let TicketCommand::Submit { item, grid, resident: who, description, urgency, channel, location, .. } =
            submit_cmd(VISIT, GRID)
        else {
            unreachable!("submit_cmd submits")
        };
        let command =
            TicketCommand::Submit { item, grid, resident: who, description, urgency, channel, location, photos };
        no_ticket().when(&resident(), command).then_refused(invalid("photos"));
    }
}

#[test]
fn the_result_and_its_after_photos_show_until_the_ticket_is_reopened() {
    let command = TicketCommand::Resolve { result: "灯已修好".into(), minutes_spent: 20, photos: vec![photo(7)] };
    let state = given(&h_in_progress()).when(&volunteer(1), command).then(&[TicketEvent::Resolved {
        by: vol(1),
        result: "灯已修好".into(),
        minutes_spent: 20,
        feedback_by: feedback_deadline(),
        photos: vec![photo(7)],
    }]);
    assert_eq!(state.result.as_deref(), Some("灯已修好"));
    assert_eq!(state.result_photos, vec![photo(7)]);
    let reopened = given(&h_resolved())
        .when(&resident(), feedback(Rating::Unsatisfied, "没修好"))
        .decide()
        .expect("unsatisfied feedback reopens");
    let mut state = state;
    for event in &reopened {
        state.evolve(event, t0());
    }
    assert_eq!(state.result, None, "a reopened ticket has no result to show");
    assert!(state.result_photos.is_empty());
}

#[test]
fn a_resident_who_finds_the_matter_reported_follows_it_once() {
    let state = given(&[submitted()])
        .when(&other_resident(), TicketCommand::Follow)
        .then(&[TicketEvent::Followed { resident: resident_id(other_resident().id.as_str()) }]);
    assert_eq!(state.followers.len(), 1);
    // A repeat, or the resident who ordered it, is refused: they are a
    // reporter already.
    let again = given(&with(
        vec![submitted()],
        [TicketEvent::Followed { resident: resident_id(other_resident().id.as_str()) }],
    ));
    let exists = |e: &Error| matches!(e, Error::AlreadyExists { .. });
    again.when(&other_resident(), TicketCommand::Follow).then_refused(exists);
    given(&[submitted()]).when(&resident(), TicketCommand::Follow).then_refused(exists);
}

#[test]
fn only_a_resident_follows_and_only_an_unsettled_ticket() {
    given(&[submitted()])
        .when(&dispatcher(), TicketCommand::Follow)
        .then_refused(|e| *e == not_permitted("dispatcher", "follow"));
    given(&h_resolved())
        .when(&other_resident(), TicketCommand::Follow)
        .then_refused(|e| *e == illegal("follow", "resolved"));
}

#[test]
fn the_feedback_form_shows_exactly_when_feedback_would_be_accepted() {
    let resolved = given(&h_resolved());
    let ticket = resolved.state().clone();
    let open = feedback_deadline();
    let past = open.plus(gridloop_engine::time::Millis(1));
    for (who, now) in [(resident(), open), (resident(), past), (other_resident(), open), (dispatcher(), open)] {
        let accepted = given(&h_resolved()).when(&who, feedback(Rating::Satisfied, "")).at(now).decide().is_ok();
        assert_eq!(ticket.may_give_feedback(&who, now), accepted, "{who:?} at {now}");
    }
    assert!(!given(&h_in_progress()).state().may_give_feedback(&resident(), t0()));
}
