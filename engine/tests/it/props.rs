//! Property tests.
//!
//! (a) Random command sequences from random actors at random times, applied
//!     with `decide` then `evolve`, never break the ticket's invariants.
//! (b) Replay: the events of such a run, sealed into envelopes (JSON
//!     payloads via `EventPayload::encode`/`schema`), serialised, read back
//!     and decoded, fold from scratch into exactly the live state.
//! (c) Every ticket and volunteer event, and the recorded envelope, survive
//!     serde_json; the hash chain accepts an honest stream and rejects a
//!     flipped byte or reordered events.
//!
//! On failure proptest prints the minimal failing case (and stores its seed
//! under `proptest-regressions/`).

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, EventPayload, Hash, NewEvent, RecordedEvent, Role, Schema, verify_stream};
use gridloop_engine::grid::{GeoPoint, GridCode};
use gridloop_engine::ids::{
    ActorId, CommandId, CorrelationId, DepartmentId, ItemCode, ResidentId, Skill, StreamId, TeamId, TicketId,
    VolunteerId,
};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::ticket::{
    Assignee, Channel, CloseReason, EscalationReason, ExpiryReason, MINUTES_SPENT_MAX, OFFER_CANDIDATES_MAX,
    OFFER_ROUNDS_MAX, Rating, Status, Ticket, TicketCommand, TicketEvent, Tier, Urgency,
};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerEvent;

use crate::support::*;

const CASES: u32 = 256;

fn config() -> Config {
    Config { cases: CASES, ..Config::default() }
}

// =====================================================================
// (a) invariants under random command sequences
// =====================================================================

/// Who sends a step's command.
#[derive(Clone, Debug)]
enum Who {
    /// The actor the command would normally come from (the holder for
    /// Start/Resolve, the candidate for Accept/Decline, ...).
    Natural,
    /// Anyone at all, from `every_actor()`.
    Anyone(usize),
}

#[derive(Clone, Debug)]
struct Step {
    /// How far the clock moves before this step.
    advance_ms: u64,
    who: Who,
    command: TicketCommand,
    /// For `Offer`: its expiry relative to the step's `now` (may be in the past).
    expires_in_ms: i64,
}

fn arb_who() -> impl Strategy<Value = Who> {
    prop_oneof![3 => Just(Who::Natural), 1 => (0..every_actor().len()).prop_map(Who::Anyone)]
}

fn arb_advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        5 => 0..=10 * 60_000u64,
        3 => 0..=3 * 3_600_000u64,
        1 => 0..=4 * 86_400_000u64,
    ]
}

fn arb_expires_in() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 60_000..=2 * 3_600_000i64,
        1 => -3_600_000..=0i64,
        1 => 7 * 86_400_000 - 60_000..=7 * 86_400_000 + 60_000i64,
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["已处理", "需要帮助", "  有空格  ", "多行\n说明", "ok"]).prop_map(String::from),
        1 => Just(String::new()),
        1 => Just("bell\u{7}".to_string()),
    ]
}

fn arb_assignee_pool() -> impl Strategy<Value = Assignee> {
    prop_oneof![
        6 => (1..=3u64).prop_map(vol),
        1 => Just(team(1)),
        2 => prop::sample::select(vec![CIVIL_AFFAIRS, URBAN_MANAGEMENT]).prop_map(dept),
        1 => prop::sample::select(vec![WORKER, OTHER_WORKER]).prop_map(worker),
    ]
}

fn arb_item_code() -> impl Strategy<Value = ItemCode> {
    prop_oneof![
        4 => Just(VISIT),
        2 => Just(FLYERS),
        2 => Just(STREET_LIGHT),
        2 => Just(UNREVIEWED),
        1 => Just(UNKNOWN_ITEM),
    ]
    .prop_map(item_code)
}

fn arb_place() -> impl Strategy<Value = GridCode> {
    prop_oneof![6 => Just(GRID), 2 => Just(SUB_GRID), 1 => Just(OTHER_GRID), 1 => Just(STREET), 1 => Just(UNKNOWN_GRID)]
        .prop_map(grid)
}

fn arb_submit() -> impl Strategy<Value = TicketCommand> {
    (arb_item_code(), arb_place(), prop::sample::select(vec![RESIDENT, OTHER_RESIDENT]), arb_text(), any::<bool>())
        .prop_map(|(item, grid, resident, description, urgent)| TicketCommand::Submit {
            photos: vec![],
            item,
            grid,
            resident: resident_id(resident),
            description,
            urgency: if urgent { Urgency::Urgent } else { Urgency::Normal },
            channel: Channel::QrCode,
            location: None,
        })
}

fn arb_mode() -> impl Strategy<Value = HandlingMode> {
    prop_oneof![Just(HandlingMode::Volunteer), Just(HandlingMode::SelfHandle), Just(HandlingMode::Department)]
}

fn arb_escalation_reason() -> impl Strategy<Value = EscalationReason> {
    prop_oneof![
        Just(EscalationReason::Timeout),
        Just(EscalationReason::Difficulty),
        Just(EscalationReason::Complaint),
        Just(EscalationReason::Whistle),
        Just(EscalationReason::Emergency),
    ]
}

fn arb_rating() -> impl Strategy<Value = Rating> {
    prop_oneof![Just(Rating::Satisfied), Just(Rating::BasicallySatisfied), Just(Rating::Unsatisfied)]
}

fn arb_ticket_command() -> impl Strategy<Value = TicketCommand> {
    use TicketCommand as C;
    prop_oneof![
        1 => arb_submit(),
        4 => (arb_mode(), option::weighted(0.2, arb_item_code())).prop_map(|(mode, item)| C::Triage { mode, item }),
        2 => Just(C::SelfHandle),
        6 => vec(arb_assignee_pool(), 1..=3).prop_map(|candidates| C::Offer { candidates, expires_at: t0() }),
        3 => (0..=4u32).prop_map(|round| C::ExpireOffer { round }),
        6 => arb_assignee_pool().prop_map(|by| C::AcceptOffer { by }),
        3 => (arb_assignee_pool(), arb_text()).prop_map(|(by, reason)| C::DeclineOffer { by, reason }),
        4 => Just(C::Start),
        1 => arb_text().prop_map(|text| C::AddNote { text }),
        2 => (arb_escalation_reason(), arb_text()).prop_map(|(reason, note)| C::Escalate { reason, note }),
        2 => (arb_assignee_pool(), arb_text()).prop_map(|(to, reason)| C::Assign { to, reason }),
        5 => (arb_text(), prop_oneof![9 => 0..=600u32, 1 => MINUTES_SPENT_MAX - 1..=MINUTES_SPENT_MAX + 1])
            .prop_map(|(result, minutes_spent)| C::Resolve { photos: vec![], result, minutes_spent }),
        4 => (arb_rating(), arb_text()).prop_map(|(rating, comment)| C::GiveFeedback { rating, comment }),
        1 => arb_text().prop_map(|reason| C::Reopen { reason }),
        4 => Just(C::Close),
        1 => arb_text().prop_map(|reason| C::Cancel { reason }),
        1 => prop::sample::select(vec![1u64, 2]).prop_map(|n| C::MarkDuplicate { of: tid(n) }),
        2 => Just(C::Summon { departments: vec![CIVIL_AFFAIRS.parse().unwrap()] }),
        2 => arb_text().prop_map(|report| C::ReportToSummons { report }),
        1 => Just(C::Follow),
        // A department holding the ticket is what a return needs.
        3 => Just(C::Assign { to: dept(URBAN_MANAGEMENT), reason: "派单".into() }),
        4 => arb_text().prop_map(|reason| C::Return { reason }),
        4 => Just(C::Insist { note: "属你部门".into() }),
        4 => Just(C::AskExtension { until: t0(), reason: "需要更多时间".into() }),
        4 => Just(C::GrantExtension),
        5 => Just(C::RefuseExtension { reason: "请按期办结".into() }),
        1 => arb_text().prop_map(|note| C::Urge { note }),
        1 => (arb_text(), vec(prop::sample::select(vec![2u64, 3]), 1..=2)).prop_map(|(done, children)| {
            C::Coordinate { done, minutes_spent: 5, photos: vec![], children: children.into_iter().map(tid).collect() }
        }),
        2 => prop::sample::select(vec![2u64, 3]).prop_map(|n| C::SettleChild { child: tid(n) }),
    ]
}

fn arb_step_with(command: impl Strategy<Value = TicketCommand>) -> impl Strategy<Value = Step> {
    (arb_advance(), arb_who(), command, arb_expires_in()).prop_map(|(advance_ms, who, command, expires_in_ms)| Step {
        advance_ms,
        who,
        command,
        expires_in_ms,
    })
}

/// A start time, a submission, then up to 60 random steps.
fn arb_run() -> impl Strategy<Value = (u64, Vec<Step>)> {
    (0..=30 * 86_400_000u64, arb_step_with(arb_submit()), vec(arb_step_with(arb_ticket_command()), 0..60)).prop_map(
        |(start, first, rest)| {
            let mut steps = vec![first];
            steps.extend(rest);
            (start, steps)
        },
    )
}

/// The actor who speaks for an assignee.
fn speaker(a: &Assignee) -> Actor {
    match a {
        Assignee::Volunteer(v) => actor(Role::Volunteer, v.as_str()),
        Assignee::Team(t) => actor(Role::Volunteer, t.as_str()),
        Assignee::Department(d) => actor(Role::Department, d.as_str()),
        Assignee::GridWorker(w) => actor(Role::GridWorker, w.as_str()),
    }
}

fn natural_actor(command: &TicketCommand, state: &Ticket) -> Actor {
    use TicketCommand as C;
    let holder = || state.holder.as_ref().map_or_else(dispatcher, speaker);
    let owner = || state.resident.as_ref().map_or_else(resident, |r| actor(Role::Resident, r.as_str()));
    match command {
        C::Submit { resident, .. } => actor(Role::Resident, resident.as_str()),
        C::Triage { .. }
        | C::Offer { .. }
        | C::Assign { .. }
        | C::Reopen { .. }
        | C::MarkDuplicate { .. }
        | C::Summon { .. }
        | C::AddNote { .. }
        | C::Insist { .. }
        | C::GrantExtension
        | C::RefuseExtension { .. }
        | C::Urge { .. } => dispatcher(),
        C::ReportToSummons { .. } => {
            let summoned = state.summons.iter().find(|s| !s.reported).map(|s| s.department.clone());
            summoned.map_or_else(dispatcher, |d| actor(Role::Department, d.as_str()))
        }
        C::SelfHandle | C::Report(_) | C::HandleOnSpot { .. } | C::Coordinate { .. } => grid_worker(),
        C::SettleChild { .. } => system(),
        C::ExpireOffer { .. } | C::Close => system(),
        C::AcceptOffer { by } | C::DeclineOffer { by, .. } => speaker(by),
        C::Start | C::Resolve { .. } | C::Return { .. } | C::AskExtension { .. } => holder(),
        C::Escalate { reason, .. } => match reason {
            EscalationReason::Timeout => system(),
            EscalationReason::Difficulty => holder(),
            EscalationReason::Complaint => owner(),
            EscalationReason::Whistle | EscalationReason::Emergency => dispatcher(),
        },
        C::GiveFeedback { .. } | C::Cancel { .. } => owner(),
        C::Follow => actor(Role::Resident, "R-follower"),
    }
}

/// What a run did: every event with the instant it was folded at, the live
/// state, and every status it passed through.
#[derive(Debug)]
struct Run {
    log: Vec<(TicketEvent, Timestamp)>,
    live: Ticket,
    statuses: BTreeSet<&'static str>,
}

/// Applies the steps with decide then evolve, checking the invariants after
/// every step and the step rules across steps. Panics (which proptest
/// reports with the minimal case) on any violation.
fn run_steps(start_ms: u64, steps: &[Step]) -> Run {
    let id = tid(1);
    let mut now = t0().plus(Millis(start_ms));
    let mut live = Ticket::default();
    let mut log: Vec<(TicketEvent, Timestamp)> = vec![];
    let mut statuses = BTreeSet::new();
    let mut accepted_rounds: BTreeMap<u32, Assignee> = BTreeMap::new();
    let actors = every_actor();
    for (i, step) in steps.iter().enumerate() {
        now = now.plus(Millis(step.advance_ms));
        let mut command = step.command.clone();
        if let TicketCommand::Offer { expires_at, .. } = &mut command {
            *expires_at = Timestamp::from_millis(now.as_millis() + step.expires_in_ms).expect("in range");
        }
        // An extension asks for a day past the deadline in force (or, when
        // the step's expiry draw says so, past the bound).
        if let TicketCommand::AskExtension { until, .. } = &mut command {
            let base = live.resolve_by.unwrap_or(now).as_millis();
            let past = if step.expires_in_ms % 5 == 0 { 31 * 86_400_000 } else { 86_400_000 };
            *until = Timestamp::from_millis(base + past).expect("in range");
        }
        let who = match step.who {
            Who::Natural => natural_actor(&command, &live),
            Who::Anyone(n) => actors[n].clone(),
        };
        let before = live.clone();
        let decided = live.decide(&id, &command, &who, &ctx(now));
        let ctx_msg = || format!("step {i}: {command:?} by {who:?} at {now}, on {before:#?}");
        if let Ok(events) = &decided {
            assert!(!events.is_empty(), "an accepted command decides at least one event: {}", ctx_msg());
            assert!(!before.status.is_final(), "an ended ticket changed: {events:?} {}", ctx_msg());
            for event in events {
                check_event_rule(&live, event, now, &mut accepted_rounds, &ctx_msg);
                live.evolve(event, now);
                log.push((event.clone(), now));
            }
        }
        assert_invariants(&live);
        assert_step(&before, &live, &decided.map(|e| e.len()).unwrap_or(0), &ctx_msg);
        assert_eq!(live.version, log.len() as u64, "version counts every event applied: {}", ctx_msg());
        statuses.insert(live.status.name());
    }
    Run { log, live, statuses }
}

/// Rules that relate an event to the state it is applied to.
fn check_event_rule(
    state: &Ticket,
    event: &TicketEvent,
    now: Timestamp,
    accepted_rounds: &mut BTreeMap<u32, Assignee>,
    ctx_msg: &dyn Fn() -> String,
) {
    match event {
        TicketEvent::Submitted { tier, accept_by, resolve_by, .. } => {
            assert_eq!(state.status, Status::None, "only the first event submits: {}", ctx_msg());
            assert_eq!(*tier, Tier::Grid);
            assert!(
                now < *accept_by && accept_by <= resolve_by,
                "deadlines after submission, accept before resolve: {}",
                ctx_msg()
            );
        }
        TicketEvent::Accepted { by, round } => {
            let offer = state.offer.as_ref().unwrap_or_else(|| panic!("accepted without an offer: {}", ctx_msg()));
            assert_eq!(state.status, Status::Offered);
            assert_eq!(offer.round, *round);
            assert!(
                offer.candidates.contains(by) && !offer.declined.contains(by),
                "accepted by a non-candidate: {}",
                ctx_msg()
            );
            assert!(now < offer.expires_at, "accepted after the offer expired: {}", ctx_msg());
            if let Some(first) = accepted_rounds.insert(*round, by.clone()) {
                panic!("round {round} accepted twice: by {first} and by {by}: {}", ctx_msg());
            }
        }
        TicketEvent::OfferExpired { round, reason: ExpiryReason::Deadline } => {
            let offer = state.offer.as_ref().expect("an offer to expire");
            assert_eq!(offer.round, *round);
            assert!(now >= offer.expires_at, "expired before its deadline: {}", ctx_msg());
        }
        TicketEvent::Offered { round, candidates, expires_at } => {
            assert_eq!(*round, state.offer_rounds + 1, "rounds count up by one: {}", ctx_msg());
            assert!(*expires_at > now, "an offer expires in the future: {}", ctx_msg());
            let item = world().catalog.item(state.item.as_ref().unwrap()).unwrap();
            for c in candidates {
                if matches!(c, Assignee::Volunteer(_) | Assignee::Team(_)) {
                    assert!(item.dispatchable_to_grid(), "item {} offered to {c}: {}", item.code, ctx_msg());
                }
            }
        }
        TicketEvent::Reassigned { to, .. } if matches!(to, Assignee::Volunteer(_) | Assignee::Team(_)) => {
            let item = world().catalog.item(state.item.as_ref().unwrap()).unwrap();
            assert!(item.dispatchable_to_grid(), "item {} assigned to {to}: {}", item.code, ctx_msg());
        }
        TicketEvent::Closed { reason } => match reason {
            CloseReason::Confirmed => {
                assert!(matches!(state.feedback, Some(Rating::Satisfied | Rating::BasicallySatisfied)), "{}", ctx_msg())
            }
            CloseReason::NoFeedback => {
                assert_eq!(state.feedback, None, "{}", ctx_msg());
                assert!(now >= state.feedback_by.unwrap(), "closed for no feedback inside the window: {}", ctx_msg());
            }
        },
        TicketEvent::Returned { by, .. } => {
            assert!(state.status.is_held(), "returned while not held: {}", ctx_msg());
            assert_eq!(state.holder.as_ref(), Some(by), "only the holder returns: {}", ctx_msg());
            assert!(matches!(by, Assignee::Department(_)), "only a department returns: {}", ctx_msg());
        }
        TicketEvent::ReturnOverruled { to, .. } => {
            assert_eq!(state.status, Status::Returned, "{}", ctx_msg());
            assert_eq!(
                state.returned_by.as_ref(),
                Some(to),
                "insisting gives it back to who returned it: {}",
                ctx_msg()
            );
        }
        TicketEvent::ExtensionGranted { resolve_by_before, resolve_by } => {
            let request = state.extension.as_ref().unwrap_or_else(|| panic!("granted unasked: {}", ctx_msg()));
            assert_eq!(*resolve_by, request.until, "{}", ctx_msg());
            assert_eq!(Some(*resolve_by_before), state.resolve_by, "{}", ctx_msg());
            assert!(now < *resolve_by_before, "granted after the deadline passed: {}", ctx_msg());
            assert!(*resolve_by > *resolve_by_before, "an extension extends: {}", ctx_msg());
            assert!(
                resolve_by.since(*resolve_by_before) <= gridloop_engine::ticket::EXTENSION_MAX,
                "within the bound: {}",
                ctx_msg()
            );
        }
        TicketEvent::FeedbackGiven { .. } => {
            assert_eq!(state.status, Status::Resolved, "{}", ctx_msg());
            assert!(now <= state.feedback_by.unwrap(), "feedback after the window: {}", ctx_msg());
        }
        _ => {}
    }
}

/// The invariants of one ticket state, whatever happened to it.
pub fn assert_invariants(t: &Ticket) {
    use Status as S;
    let s = t.status;
    let msg = || format!("{t:#?}");
    // Existence.
    assert_eq!(s == S::None, t.id.is_none(), "{}", msg());
    if s == S::None {
        assert_eq!(*t, Ticket::default(), "nothing but a submission creates a ticket");
        return;
    }
    for (name, present) in [
        ("item", t.item.is_some()),
        ("grid", t.grid.is_some()),
        ("resident", t.resident.is_some()),
        ("urgency", t.urgency.is_some()),
        ("tier", t.tier.is_some()),
        ("submitted_at", t.submitted_at.is_some()),
        ("accept_by", t.accept_by.is_some()),
        ("resolve_by", t.resolve_by.is_some()),
    ] {
        assert!(present, "a submitted ticket has its {name}: {}", msg());
    }
    assert!(t.grid.as_ref().unwrap().level() >= gridloop_engine::grid::Level::Grid, "{}", msg());
    assert!(t.submitted_at <= t.accept_by && t.accept_by <= t.resolve_by, "deadlines ordered: {}", msg());

    // The offer is out exactly while the ticket is offered.
    assert_eq!(s == S::Offered, t.offer.is_some(), "Offered <=> offer is Some: {}", msg());
    assert!(t.offer_rounds <= OFFER_ROUNDS_MAX, "{}", msg());
    if let Some(offer) = &t.offer {
        assert_eq!(offer.round, t.offer_rounds, "{}", msg());
        assert!((1..=OFFER_CANDIDATES_MAX).contains(&offer.candidates.len()), "{}", msg());
        let distinct: BTreeSet<_> = offer.candidates.iter().collect();
        assert_eq!(distinct.len(), offer.candidates.len(), "candidates distinct: {}", msg());
        let declined: BTreeSet<_> = offer.declined.iter().collect();
        assert_eq!(declined.len(), offer.declined.len(), "nobody declines twice: {}", msg());
        assert!(declined.is_subset(&distinct), "only candidates decline: {}", msg());
        assert!(offer.declined.len() < offer.candidates.len(), "an offer everyone declined is over: {}", msg());
    }

    // Holding.
    if s.is_held() || s == S::Resolved {
        assert!(t.holder.is_some(), "{s:?} has a holder: {}", msg());
        assert!(t.accepted_at.is_some(), "{s:?} was accepted at some time: {}", msg());
    }
    if s.awaits_dispatch() || s == S::Offered {
        assert_eq!(t.holder, None, "{s:?} has no holder: {}", msg());
    }
    assert_eq!(s == S::Returned, t.returned_by.is_some(), "returned_by <=> returned: {}", msg());
    if t.extension.is_some() {
        assert!(s.is_held(), "an open extension request has a holder: {}", msg());
    }
    assert!(t.returns <= gridloop_engine::ticket::RETURNS_MAX && t.urges <= gridloop_engine::ticket::URGES_MAX);
    assert!(t.extensions_asked <= gridloop_engine::ticket::EXTENSIONS_MAX, "{}", msg());

    // Resolution and feedback.
    let resolved_or_closed = matches!(s, S::Resolved | S::Closed);
    assert_eq!(t.resolved_at.is_some(), resolved_or_closed, "resolved_at <=> resolved or closed: {}", msg());
    assert_eq!(t.feedback_by.is_some(), resolved_or_closed, "feedback_by <=> resolved or closed: {}", msg());
    if s == S::Resolved {
        assert!(t.feedback_by > t.resolved_at, "the window opens after resolution: {}", msg());
        assert_ne!(t.feedback, Some(Rating::Unsatisfied), "unsatisfied feedback reopens at once: {}", msg());
    }

    // The end.
    assert_eq!(t.closed_at.is_some(), s.is_final(), "closed_at <=> final: {}", msg());
    assert_eq!(t.duplicate_of.is_some(), s == S::Duplicate, "{}", msg());
    if s == S::Closed {
        let confirmed = matches!(t.feedback, Some(Rating::Satisfied | Rating::BasicallySatisfied));
        let timed_out = t.feedback.is_none() && t.closed_at >= t.feedback_by;
        assert!(confirmed || timed_out, "closed only when confirmed or after the window: {}", msg());
    }

    // Escalation only climbs: each escalation climbs at least one tier.
    let tier = t.tier.unwrap();
    assert!(t.escalations <= tier as u32, "{} escalations reached only {tier:?}: {}", t.escalations, msg());
    assert_eq!(t.escalations == 0, tier == Tier::Grid, "{}", msg());
}

/// Rules across one step.
fn assert_step(before: &Ticket, after: &Ticket, events: &usize, ctx_msg: &dyn Fn() -> String) {
    if before.status.is_final() {
        assert_eq!(before, after, "an ended ticket never changes: {}", ctx_msg());
    }
    assert!(
        after.tier >= before.tier,
        "the tier never goes down: {:?} -> {:?}: {}",
        before.tier,
        after.tier,
        ctx_msg()
    );
    assert!(after.offer_rounds >= before.offer_rounds, "{}", ctx_msg());
    assert!(after.escalations >= before.escalations && after.reopenings >= before.reopenings, "{}", ctx_msg());
    assert_eq!(after.version, before.version + *events as u64, "{}", ctx_msg());
    if before.status != Status::None {
        assert_eq!(
            (&after.id, &after.resident, &after.grid, after.submitted_at),
            (&before.id, &before.resident, &before.grid, before.submitted_at),
            "{}",
            ctx_msg()
        );
    }
    if before.accepted_at.is_some() {
        assert_eq!(after.accepted_at, before.accepted_at, "the first acceptance time stays: {}", ctx_msg());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_command_sequences_keep_the_ticket_invariants((start, steps) in arb_run()) {
        run_steps(start, &steps);
    }

    #[test]
    fn replaying_the_written_events_gives_the_live_state((start, steps) in arb_run(), seed in any::<u64>()) {
        let run = run_steps(start, &steps);
        let recorded = seal(&run.log, seed);
        prop_assert!(verify_stream(&recorded).is_ok());

        // Through the bytes a store would keep, one line per event.
        let mut replayed = Ticket::default();
        for event in &recorded {
            let line = serde_json::to_string(event).expect("serialises");
            let back: RecordedEvent = serde_json::from_str(&line).expect("reads back");
            prop_assert_eq!(&back, event);
            let schema = Schema::parse(&back.schema.to_string()).expect("schema text parses");
            let typed = TicketEvent::decode(&schema, &back.payload).expect("decodes");
            replayed.evolve(&typed, back.occurred_at);
        }
        prop_assert_eq!(&replayed, &run.live);
        prop_assert_eq!(verify_stream(&recorded).unwrap(), recorded.last().map_or(Hash::GENESIS, |e| e.hash));

        // And as the command service folds a stream.
        let folded: Ticket = gridloop_engine::service::fold(&recorded).expect("folds");
        prop_assert_eq!(&folded, &run.live);
    }
}

/// Seals `(event, at)` pairs into one stream's chain, as a store would.
fn seal(log: &[(TicketEvent, Timestamp)], seed: u64) -> Vec<RecordedEvent> {
    let stream = StreamId::ticket(&tid(1));
    let mut ids = SplitMix64::new(seed);
    let mut prev = Hash::GENESIS;
    let mut position = 0;
    log.iter()
        .enumerate()
        .map(|(i, (event, at))| {
            position += 1 + ids.below(3);
            let new = NewEvent {
                event_id: ids.uuid_v7(at.as_millis()),
                occurred_at: *at,
                actor: dispatcher(),
                command_id: CommandId::new(format!("cmd-{i}")).unwrap(),
                correlation_id: CorrelationId::new("T-1").unwrap(),
                schema: event.schema(),
                payload: event.encode(),
            };
            let recorded = new.record(stream.clone(), i as u64 + 1, position, prev);
            prev = recorded.hash;
            recorded
        })
        .collect()
}

/// The random runs are only worth something if they get somewhere: over a
/// fixed set of generated runs, every status and every event type occurs
/// (eight times the property tests' cases: with field and department
/// commands in the mix, the rarest events need that many).
#[test]
fn random_runs_reach_every_status_and_event() {
    let mut runner = TestRunner::deterministic();
    let strategy = arb_run();
    let mut statuses = BTreeSet::new();
    let mut events = BTreeSet::new();
    for _ in 0..CASES * 8 {
        let (start, steps) = strategy.new_tree(&mut runner).expect("generates").current();
        let run = run_steps(start, &steps);
        statuses.extend(run.statuses);
        events.extend(run.log.iter().map(|(e, _)| e.schema().name));
    }
    let all_statuses: BTreeSet<&str> = [
        Status::Submitted,
        Status::Triaged,
        Status::Offered,
        Status::Accepted,
        Status::InProgress,
        Status::Escalated,
        Status::Resolved,
        Status::Reopened,
        Status::Closed,
        Status::Cancelled,
        Status::Duplicate,
        Status::Returned,
    ]
    .map(Status::name)
    .into();
    let missing: Vec<_> = all_statuses.difference(&statuses).collect();
    assert!(missing.is_empty(), "random runs never reached {missing:?}");
    let missing: Vec<_> = ticket_schema_names().into_iter().filter(|n| !events.contains(n)).collect();
    assert!(missing.is_empty(), "random runs never wrote {missing:?}");
}

// =====================================================================
// (c) serde round trips and the hash chain
// =====================================================================

fn arb_ts() -> impl Strategy<Value = Timestamp> {
    // 2000-01-01 .. 2199-12-31
    (946_684_800_000i64..7_258_118_399_999).prop_map(|ms| Timestamp::from_millis(ms).unwrap())
}

fn arb_any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,40}", Just(String::new())]
}

fn arb_tid() -> impl Strategy<Value = TicketId> {
    (1..=999_999_999_999u64).prop_map(TicketId::from_number)
}

fn arb_vid() -> impl Strategy<Value = VolunteerId> {
    (1..=999_999_999_999u64).prop_map(VolunteerId::from_number)
}

fn arb_team() -> impl Strategy<Value = TeamId> {
    (1..=999_999_999_999u64).prop_map(TeamId::from_number)
}

fn arb_snake() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,64}"
}

fn arb_token() -> impl Strategy<Value = String> {
    "[!-~]{1,128}"
}

fn arb_item() -> impl Strategy<Value = ItemCode> {
    (prop::sample::select(vec!["IC-", "GP-", "CS-", "SC-"]), 0..1000u32)
        .prop_map(|(p, n)| ItemCode::new(format!("{p}{n:03}")).unwrap())
}

fn arb_grid() -> impl Strategy<Value = GridCode> {
    (100_000..=999_999u32, vec(1..=999u32, 0..=3), option::of(1..=99u32)).prop_map(|(district, segments, sub)| {
        let mut code = district.to_string();
        for s in &segments {
            code.push_str(&format!("-{s:03}"));
        }
        if let (3, Some(sub)) = (segments.len(), sub) {
            code.push_str(&format!("-{sub:02}"));
        }
        GridCode::parse(&code).unwrap()
    })
}

fn arb_assignee() -> impl Strategy<Value = Assignee> {
    prop_oneof![
        arb_vid().prop_map(Assignee::Volunteer),
        arb_team().prop_map(Assignee::Team),
        arb_snake().prop_map(|d| Assignee::Department(DepartmentId::new(d).unwrap())),
        arb_token().prop_map(|w| Assignee::GridWorker(ActorId::new(w).unwrap())),
    ]
}

fn arb_tier() -> impl Strategy<Value = Tier> {
    prop_oneof![Just(Tier::Grid), Just(Tier::Community), Just(Tier::Street), Just(Tier::District)]
}

fn arb_point() -> impl Strategy<Value = GeoPoint> {
    (-180_000_000..=180_000_000i32, -90_000_000..=90_000_000i32).prop_map(|(lon, lat)| GeoPoint::new(lon, lat).unwrap())
}

fn arb_ticket_event() -> impl Strategy<Value = TicketEvent> {
    use TicketEvent as E;
    let submitted = (
        arb_tid(),
        arb_item(),
        arb_grid(),
        arb_token(),
        arb_any_text(),
        prop_oneof![Just(Urgency::Normal), Just(Urgency::Urgent)],
        prop_oneof![
            Just(Channel::QrCode),
            Just(Channel::Phone),
            Just(Channel::Chat),
            Just(Channel::Web),
            Just(Channel::Patrol),
            Just(Channel::Open311)
        ],
        option::of(arb_point()),
        arb_tier(),
        arb_ts(),
        arb_ts(),
    )
        .prop_map(
            |(ticket, item, grid, resident, description, urgency, channel, location, tier, accept_by, resolve_by)| {
                E::Submitted {
                    photos: vec![],
                    ticket,
                    item,
                    grid,
                    resident: (resident.len() % 2 == 0).then(|| ResidentId::new(resident).unwrap()),
                    description,
                    urgency,
                    channel,
                    location,
                    tier,
                    accept_by,
                    resolve_by,
                }
            },
        );
    prop_oneof![
        submitted,
        (arb_mode(), arb_item()).prop_map(|(mode, item)| E::Triaged { mode, item }),
        arb_token().prop_map(|w| E::SelfHandled { worker: ActorId::new(w).unwrap() }),
        (any::<u32>(), vec(arb_assignee(), 0..5), arb_ts()).prop_map(|(round, candidates, expires_at)| E::Offered {
            round,
            candidates,
            expires_at
        }),
        (any::<u32>(), prop_oneof![Just(ExpiryReason::Deadline), Just(ExpiryReason::AllDeclined)])
            .prop_map(|(round, reason)| E::OfferExpired { round, reason }),
        (arb_assignee(), any::<u32>()).prop_map(|(by, round)| E::Accepted { by, round }),
        (arb_assignee(), any::<u32>(), arb_any_text()).prop_map(|(by, round, reason)| E::Declined {
            by,
            round,
            reason
        }),
        arb_assignee().prop_map(|by| E::Started { by }),
        arb_any_text().prop_map(|text| E::NoteAdded { text }),
        (
            arb_tier(),
            arb_tier(),
            arb_escalation_reason(),
            arb_any_text(),
            proptest::option::of(arb_ts()),
            proptest::option::of(arb_ts())
        )
            .prop_map(|(from, to, reason, note, respond_by, resolve_by)| E::Escalated {
                from,
                to,
                reason,
                note,
                respond_by,
                resolve_by
            }),
        (arb_assignee(), arb_any_text()).prop_map(|(to, reason)| E::Reassigned { to, reason }),
        (arb_assignee(), arb_any_text(), any::<u32>(), arb_ts()).prop_map(
            |(by, result, minutes_spent, feedback_by)| E::Resolved {
                photos: vec![],
                by,
                result,
                minutes_spent,
                feedback_by
            }
        ),
        (arb_rating(), arb_any_text()).prop_map(|(rating, comment)| E::FeedbackGiven { rating, comment }),
        (arb_any_text(), arb_ts(), proptest::option::of(arb_ts()))
            .prop_map(|(reason, resolve_by, respond_by)| E::Reopened { reason, resolve_by, respond_by }),
        prop_oneof![Just(CloseReason::Confirmed), Just(CloseReason::NoFeedback)]
            .prop_map(|reason| E::Closed { reason }),
        arb_any_text().prop_map(|reason| E::Cancelled { reason }),
        arb_tid().prop_map(|of| E::MarkedDuplicate { of }),
        (proptest::collection::vec(arb_snake().prop_map(|s| DepartmentId::new(s).unwrap()), 1..4), arb_ts())
            .prop_map(|(departments, report_by)| E::Summoned { departments, report_by }),
        (arb_snake().prop_map(|s| DepartmentId::new(s).unwrap()), arb_any_text())
            .prop_map(|(department, report)| E::SummonsAnswered { department, report }),
        (arb_any_text(), any::<u32>(), vec(arb_tid(), 1..4)).prop_map(|(done, minutes_spent, children)| {
            E::Coordinated { done, minutes_spent, photos: vec![], children }
        }),
        arb_tid().prop_map(|child| E::ChildSettled { child }),
    ]
}

fn arb_skills() -> impl Strategy<Value = BTreeSet<Skill>> {
    btree_set(arb_snake().prop_map(|s| Skill::new(s).unwrap()), 0..6)
}

fn arb_volunteer_event() -> impl Strategy<Value = VolunteerEvent> {
    use VolunteerEvent as E;
    prop_oneof![
        (arb_vid(), arb_team(), arb_grid(), arb_skills(), any::<u32>()).prop_map(
            |(volunteer, team, home_grid, skills, open_orders_max)| E::Registered {
                volunteer,
                team,
                home_grid,
                skills,
                open_orders_max
            }
        ),
        arb_skills().prop_map(|skills| E::SkillsChanged { skills }),
        any::<bool>().prop_map(|available| E::AvailabilityChanged { available }),
        (any::<u64>(), option::of(arb_tid()), arb_any_text()).prop_map(|(points, ticket, reason)| E::PointsAwarded {
            points,
            ticket,
            reason
        }),
        (any::<u64>(), arb_any_text()).prop_map(|(points, reward)| E::PointsRedeemed { points, reward }),
    ]
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop::sample::select(vec![
        Role::Resident,
        Role::GridWorker,
        Role::Dispatcher,
        Role::Volunteer,
        Role::Department,
        Role::Auditor,
        Role::System,
    ])
}

fn arb_actor() -> impl Strategy<Value = Actor> {
    (arb_role(), arb_token()).prop_map(|(role, id)| Actor { role, id: ActorId::new(id).unwrap() })
}

/// An event as the command service would hand it to a store.
fn arb_new_event() -> impl Strategy<Value = NewEvent> {
    (
        prop_oneof![
            arb_ticket_event().prop_map(|e| (e.schema(), e.encode())),
            arb_volunteer_event().prop_map(|e| (e.schema(), e.encode())),
        ],
        any::<u64>(),
        arb_ts(),
        arb_actor(),
        arb_token(),
        arb_token(),
    )
        .prop_map(|((schema, payload), seed, occurred_at, actor, command, correlation)| NewEvent {
            event_id: SplitMix64::new(seed).uuid_v7(occurred_at.as_millis()),
            occurred_at,
            actor,
            command_id: CommandId::new(command).unwrap(),
            correlation_id: CorrelationId::new(correlation).unwrap(),
            schema,
            payload,
        })
}

/// One stream's honest chain of 1..8 events.
fn arb_chain(min: usize) -> impl Strategy<Value = Vec<RecordedEvent>> {
    vec(arb_new_event(), min..8).prop_map(|events| {
        let stream = StreamId::ticket(&tid(7));
        let mut prev = Hash::GENESIS;
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let r = e.record(stream.clone(), i as u64 + 1, 10 * i as u64 + 3, prev);
                prev = r.hash;
                r
            })
            .collect()
    })
}

/// The version each ticket payload is written at now.
fn current_ticket_version(name: &str) -> u32 {
    let twice = ["ticket.escalated", "ticket.reopened", "ticket.resolved"];
    if name == "ticket.submitted" {
        3
    } else if twice.contains(&name) {
        2
    } else {
        1
    }
}

fn ticket_schema_names() -> Vec<String> {
    [
        "submitted",
        "triaged",
        "self_handled",
        "offered",
        "offer_expired",
        "accepted",
        "declined",
        "started",
        "note_added",
        "escalated",
        "reassigned",
        "resolved",
        "feedback_given",
        "reopened",
        "closed",
        "cancelled",
        "marked_duplicate",
        "summoned",
        "summons_answered",
        "followed",
        "returned",
        "return_overruled",
        "extension_asked",
        "extension_granted",
        "extension_refused",
        "urged",
        "coordinated",
        "child_settled",
    ]
    .iter()
    .map(|t| format!("ticket.{t}"))
    .collect()
}

/// Two chains are the same log, as far as the hash can tell: equal in every
/// field but the store's positions.
fn same_but_positions(a: &[RecordedEvent], b: &[RecordedEvent]) -> bool {
    let strip = |events: &[RecordedEvent]| {
        events
            .iter()
            .cloned()
            .map(|mut e| {
                e.position = 0;
                e
            })
            .collect::<Vec<_>>()
    };
    strip(a) == strip(b)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_ticket_event_survives_serde_and_the_schema_codec(event in arb_ticket_event()) {
        let text = serde_json::to_string(&event).unwrap();
        prop_assert_eq!(&serde_json::from_str::<TicketEvent>(&text).unwrap(), &event);
        let (schema, payload) = (event.schema(), event.encode());
        let current = current_ticket_version(&schema.name);
        prop_assert_eq!(schema.version, current);
        prop_assert!(ticket_schema_names().contains(&schema.name), "unexpected schema {}", schema);
        let payload_text = serde_json::to_string(&payload).unwrap();
        let decoded = TicketEvent::decode(&Schema::parse(&schema.to_string()).unwrap(), &serde_json::from_str(&payload_text).unwrap()).unwrap();
        prop_assert_eq!(&decoded, &event);
        // A payload is never read as the other aggregate's event.
        prop_assert!(VolunteerEvent::decode(&schema, &payload).is_err());
    }

    #[test]
    fn every_volunteer_event_survives_serde_and_the_schema_codec(event in arb_volunteer_event()) {
        let text = serde_json::to_string(&event).unwrap();
        prop_assert_eq!(&serde_json::from_str::<VolunteerEvent>(&text).unwrap(), &event);
        let (schema, payload) = (event.schema(), event.encode());
        prop_assert!(schema.name.starts_with("volunteer.") && schema.version == 1, "unexpected schema {}", schema);
        let decoded = VolunteerEvent::decode(&Schema::parse(&schema.to_string()).unwrap(), &serde_json::from_str(&serde_json::to_string(&payload).unwrap()).unwrap()).unwrap();
        prop_assert_eq!(&decoded, &event);
        prop_assert!(TicketEvent::decode(&schema, &payload).is_err());
    }

    #[test]
    fn recorded_events_survive_serde_and_still_verify(chain in arb_chain(1)) {
        let text: Vec<String> = chain.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        let back: Vec<RecordedEvent> = text.iter().map(|t| serde_json::from_str(t).unwrap()).collect();
        prop_assert_eq!(&back, &chain);
        prop_assert_eq!(verify_stream(&back).unwrap(), chain.last().unwrap().hash);
        // Pretty or compact, the record reads back the same (the hash covers
        // values, not the whitespace a tool put around them).
        let pretty: Vec<RecordedEvent> = chain.iter().map(|e| serde_json::from_str(&serde_json::to_string_pretty(e).unwrap()).unwrap()).collect();
        prop_assert!(verify_stream(&pretty).is_ok());
    }

    #[test]
    fn a_flipped_payload_byte_is_detected(chain in arb_chain(1), which in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), mask in 1..=255u8) {
        let i = which.index(chain.len());
        let mut bytes = serde_json::to_vec(&chain[i].payload).unwrap();
        let at = byte.index(bytes.len());
        bytes[at] ^= mask;
        // Either the bytes no longer read as JSON (refused on read), or they
        // read as a payload the chain does not vouch for.
        if let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let mut tampered = chain.clone();
            tampered[i].payload = payload;
            prop_assert_eq!(verify_stream(&tampered).is_ok(), tampered == chain, "tampered payload {} verified", tampered[i].payload);
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_in_a_stored_record_is_detected(chain in arb_chain(1), which in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), mask in 1..=255u8) {
        let i = which.index(chain.len());
        let mut bytes = serde_json::to_vec(&chain[i]).unwrap();
        let at = byte.index(bytes.len());
        bytes[at] ^= mask;
        if let Ok(record) = serde_json::from_slice::<RecordedEvent>(&bytes) {
            let mut tampered = chain.clone();
            tampered[i] = record;
            // Positions are the store's own numbering, outside the hash;
            // every other field is covered.
            prop_assert_eq!(verify_stream(&tampered).is_ok(), same_but_positions(&tampered, &chain));
        }
    }

    #[test]
    fn reordered_or_missing_events_are_detected(chain in arb_chain(2), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        // Two distinct indices, without rejecting cases.
        let i = a.index(chain.len());
        let j = (i + 1 + b.index(chain.len() - 1)) % chain.len();
        let mut swapped = chain.clone();
        swapped.swap(i, j);
        prop_assert!(verify_stream(&swapped).is_err());
        // Renumbering the versions to hide the swap does not help.
        for (n, e) in swapped.iter_mut().enumerate() {
            e.version = n as u64 + 1;
        }
        prop_assert!(verify_stream(&swapped).is_err());
        // Nor does dropping an event and renumbering.
        let mut dropped = chain.clone();
        dropped.remove(i.min(j));
        prop_assert!(verify_stream(&dropped).is_err());
        for (n, e) in dropped.iter_mut().enumerate() {
            e.version = n as u64 + 1;
        }
        prop_assert!(verify_stream(&dropped).is_err());
        // A prefix is an honest (shorter) chain.
        prop_assert_eq!(verify_stream(&chain[..i.max(j)]).unwrap(), chain[i.max(j) - 1].hash);
    }

    /// Two honest forks of one stream (say, two writers that both appended
    /// version 2): each event verifies on its own, so only the chaining
    /// catches a log that takes its head from one fork and its tail from
    /// the other.
    #[test]
    fn a_splice_of_two_honest_forks_is_detected(a in arb_chain(2), b in arb_chain(2), cut in any::<prop::sample::Index>()) {
        let k = 1 + cut.index(a.len().min(b.len()) - 1);
        prop_assume!(a[k - 1].hash != b[k - 1].hash);
        let spliced: Vec<RecordedEvent> = a[..k].iter().chain(&b[k..]).cloned().collect();
        prop_assert!(verify_stream(&spliced).is_err());
        // Each piece on its own is fine.
        prop_assert!(verify_stream(&a).is_ok() && verify_stream(&b).is_ok());
    }

    #[test]
    fn a_chain_of_another_stream_or_a_forged_head_is_detected(chain in arb_chain(1)) {
        let mut moved = chain.clone();
        for e in &mut moved {
            e.stream = StreamId::ticket(&tid(8));
        }
        prop_assert!(verify_stream(&moved).is_err(), "the stream name is covered");
        let mut forged = chain.clone();
        forged[0].prev_hash = Hash([1; 32]);
        prop_assert!(verify_stream(&forged).is_err());
    }
}

/// Every variant is generated by the strategies above and named as the
/// design says (`ticket.accepted/1`): one sample per variant.
#[test]
fn every_event_variant_has_its_schema_name() {
    let samples = [
        submitted(),
        triaged(HandlingMode::Volunteer, VISIT),
        TicketEvent::SelfHandled { worker: ActorId::new(WORKER).unwrap() },
        offered(1, &[vol(1)], at(mins(30))),
        TicketEvent::OfferExpired { round: 1, reason: ExpiryReason::Deadline },
        accepted(vol(1), 1),
        TicketEvent::Declined { by: vol(1), round: 1, reason: String::new() },
        started(vol(1)),
        TicketEvent::NoteAdded { text: "x".into() },
        TicketEvent::Escalated {
            from: Tier::Grid,
            to: Tier::Community,
            reason: EscalationReason::Timeout,
            note: String::new(),
            respond_by: None,
            resolve_by: None,
        },
        TicketEvent::Reassigned { to: vol(2), reason: "x".into() },
        resolved(vol(1), at(days(3))),
        TicketEvent::FeedbackGiven { rating: Rating::Satisfied, comment: String::new() },
        TicketEvent::Reopened { reason: "x".into(), resolve_by: at(days(2)), respond_by: None },
        TicketEvent::Closed { reason: CloseReason::Confirmed },
        TicketEvent::Cancelled { reason: "x".into() },
        TicketEvent::MarkedDuplicate { of: tid(2) },
        TicketEvent::Summoned { departments: vec![CIVIL_AFFAIRS.parse().unwrap()], report_by: at(days(1)) },
        TicketEvent::SummonsAnswered { department: CIVIL_AFFAIRS.parse().unwrap(), report: "x".into() },
        TicketEvent::Followed { resident: resident_id("r-2") },
        TicketEvent::Returned { by: dept(CIVIL_AFFAIRS), reason: "x".into(), respond_by: at(hours(2)) },
        TicketEvent::ReturnOverruled { to: dept(CIVIL_AFFAIRS), note: "x".into() },
        TicketEvent::ExtensionAsked { by: dept(CIVIL_AFFAIRS), until: at(days(3)), reason: "x".into() },
        TicketEvent::ExtensionGranted { resolve_by_before: at(days(2)), resolve_by: at(days(3)) },
        TicketEvent::ExtensionRefused { reason: "x".into() },
        TicketEvent::Urged { note: "x".into() },
        TicketEvent::Coordinated { done: "x".into(), minutes_spent: 1, photos: vec![], children: vec![tid(2)] },
        TicketEvent::ChildSettled { child: tid(2) },
    ];
    let names: Vec<String> = samples.iter().map(|e| e.schema().to_string()).collect();
    let version = |n: &str| current_ticket_version(n);
    let expected: Vec<String> = ticket_schema_names().into_iter().map(|n| format!("{n}/{}", version(&n))).collect();
    assert_eq!(names, expected);
    let volunteer = [
        registered(),
        VolunteerEvent::SkillsChanged { skills: skills(&["x"]) },
        VolunteerEvent::AvailabilityChanged { available: true },
        awarded(1),
        VolunteerEvent::PointsRedeemed { points: 1, reward: "x".into() },
    ];
    let names: Vec<String> = volunteer.iter().map(|e| e.schema().to_string()).collect();
    assert_eq!(
        names,
        [
            "volunteer.registered/1",
            "volunteer.skills_changed/1",
            "volunteer.availability_changed/1",
            "volunteer.points_awarded/1",
            "volunteer.points_redeemed/1"
        ]
    );
    // A payload of a newer schema than this build knows is refused, not guessed at.
    let newer = Schema { name: "ticket.accepted".into(), version: 2 };
    assert!(matches!(
        TicketEvent::decode(&newer, &accepted(vol(1), 1).encode()),
        Err(gridloop_engine::Error::Corrupt(_))
    ));
}
