//! The month simulation of the dispatch issue: a seeded month of traffic
//! over the fixture district, driven by the manual clock through the real
//! command service, dispatcher policy and timers, checked against the
//! invariants the issue names. On failure, the seed is in the message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gridloop_cli::demo::{self, DemoConfig};
use gridloop_engine::envelope::{RecordedEvent, Role};
use gridloop_engine::ids::VolunteerId;
use gridloop_engine::routing::RoutingPolicy;
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Assignee, DeadlineKind, EscalationReason, Rating, Status, Ticket, TicketEvent, Tier};
use gridloop_engine::time::Timestamp;
use gridloop_engine::volunteer::VolunteerEvent;
use gridloop_engine::world::{TeamKind, WorldEvent};
use gridloop_projections::runner::Runner;
use gridloop_projections::{Cohort, Metrics};

const SEED: u64 = 2026;

async fn month(seed: u64, days: u32, orders_per_day: u32) -> (Vec<RecordedEvent>, demo::DemoSummary) {
    let store = MemoryStore::new();
    let district = Arc::new(gridloop_fixtures::chikan(seed).expect("fixture"));
    let config = DemoConfig { orders_per_day, ..DemoConfig::new(days, seed) };
    let summary = demo::run(store.clone(), district, &config, |_, _| {}).await.expect("the month runs");
    (store.snapshot(), summary)
}

fn tickets(log: &[RecordedEvent]) -> BTreeMap<String, Vec<&RecordedEvent>> {
    let mut by_stream: BTreeMap<String, Vec<&RecordedEvent>> = BTreeMap::new();
    for event in log.iter().filter(|e| e.stream.kind() == "ticket") {
        by_stream.entry(event.stream.to_string()).or_default().push(event);
    }
    by_stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_traffic_keeps_every_invariant() {
    let (log, summary) = month(SEED, 30, 350).await;
    let seed = SEED;
    assert!(summary.tickets >= 10_000, "seed {seed}: a month of the order of the domain's figures");
    assert!(summary.unexpected.is_empty(), "seed {seed}: unexpected refusals {:?}", summary.unexpected);
    assert!(summary.timers_fired > 0 && summary.races_lost > 0, "seed {seed}: timers and races happened");
    let policy = RoutingPolicy::default();
    let mut escalations: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (stream, events) in tickets(&log) {
        let mut ticket = Ticket::default();
        let mut accepted_rounds = BTreeMap::new();
        for event in events {
            let payload: TicketEvent = event.decode().expect("decodes");
            let at = event.occurred_at;
            match &payload {
                TicketEvent::Accepted { round, by } => {
                    assert!(
                        ticket.holder.is_none(),
                        "seed {seed}: {stream} taken by {by} while held by {:?}",
                        ticket.holder
                    );
                    assert!(
                        accepted_rounds.insert(*round, by.clone()).is_none(),
                        "seed {seed}: {stream} round {round} won twice"
                    );
                }
                TicketEvent::Escalated { reason, .. } => {
                    *escalations.entry(reason_name(*reason)).or_default() += 1;
                    assert_cause(&ticket, *reason, event, &policy, seed, &stream);
                }
                _ => {}
            }
            ticket.evolve(&payload, at);
        }
        // No ticket is lost: it ended, or a deadline is still watching it.
        let watched = !ticket.pending_deadlines().is_empty();
        assert!(ticket.status.is_final() || watched, "seed {seed}: {stream} is {:?} with no deadline", ticket.status);
    }
    for reason in ["timeout", "difficulty"] {
        assert!(
            escalations.get(reason).copied().unwrap_or(0) > 0,
            "seed {seed}: no {reason} escalation in {escalations:?}"
        );
    }
    assert_rates_match_an_independent_count(&log, summary.end, seed);
}

/// Every escalation has a cause: a timeout follows a passed deadline (or
/// offers run out), a difficulty comes from the holder or a dispatcher, a
/// complaint from the resident or the reopening policy.
fn assert_cause(
    before: &Ticket,
    reason: EscalationReason,
    event: &RecordedEvent,
    policy: &RoutingPolicy,
    seed: u64,
    stream: &str,
) {
    let at = event.occurred_at;
    let ok = match reason {
        EscalationReason::Timeout => {
            let passed = before
                .pending_deadlines()
                .iter()
                .any(|(kind, when)| *when <= at && !matches!(kind, DeadlineKind::OfferExpiry | DeadlineKind::Feedback));
            let exhausted = before.status == Status::Triaged && before.offer_rounds >= policy.offer_rounds_max;
            passed || exhausted
        }
        EscalationReason::Difficulty => {
            matches!(event.actor.role, Role::Volunteer | Role::Department | Role::GridWorker | Role::Dispatcher)
        }
        EscalationReason::Complaint => matches!(event.actor.role, Role::Resident | Role::Dispatcher),
        EscalationReason::Whistle | EscalationReason::Emergency => event.actor.role == Role::Dispatcher,
    };
    assert!(ok, "seed {seed}: {stream} escalated ({reason:?}) at {at} without a cause; before: {before:?}");
}

fn reason_name(reason: EscalationReason) -> &'static str {
    match reason {
        EscalationReason::Timeout => "timeout",
        EscalationReason::Difficulty => "difficulty",
        EscalationReason::Complaint => "complaint",
        EscalationReason::Whistle => "whistle",
        EscalationReason::Emergency => "emergency",
    }
}

/// Counts completion, closed-loop, satisfaction and in-grid straight from the
/// raw events, without the metrics projection, and compares.
pub(crate) fn assert_rates_match_an_independent_count(log: &[RecordedEvent], as_of: Timestamp, seed: u64) {
    let own = resolved_by_own_people(log);
    let (mut valid, mut completed, mut rated, mut satisfied, mut in_grid) = (0, 0, 0, 0, 0);
    let mut due = DueTally::default();
    for (_, events) in tickets(log) {
        let payloads: Vec<TicketEvent> = events.iter().map(|e| e.decode().expect("decodes")).collect();
        let taken_before_cancel =
            payloads.iter().take_while(|p| !matches!(p, TicketEvent::Cancelled { .. })).any(|p| {
                matches!(
                    p,
                    TicketEvent::Accepted { .. } | TicketEvent::Reassigned { .. } | TicketEvent::SelfHandled { .. }
                )
            });
        let cancelled = payloads.iter().any(|p| matches!(p, TicketEvent::Cancelled { .. }));
        let duplicate = payloads.iter().any(|p| matches!(p, TicketEvent::MarkedDuplicate { .. }));
        if duplicate || (cancelled && !taken_before_cancel) {
            continue;
        }
        valid += 1;
        let last_resolution = payloads.iter().rposition(|p| matches!(p, TicketEvent::Resolved { .. }));
        let last_reopening = payloads.iter().rposition(|p| matches!(p, TicketEvent::Reopened { .. }));
        let resolved = match (last_resolution, last_reopening) {
            (Some(r), Some(o)) => r > o,
            (Some(_), None) => true,
            _ => false,
        };
        due.count(&events, &payloads, last_resolution.filter(|_| resolved), as_of);
        if resolved {
            completed += 1;
            let submitted_tier = match &payloads[0] {
                TicketEvent::Submitted { tier, .. } => *tier,
                _ => panic!("seed {seed}: a ticket starts with its submission"),
            };
            let beyond =
                payloads.iter().any(|p| matches!(p, TicketEvent::Escalated { to, .. } if *to > Tier::Community));
            let by_own = last_resolution.is_some_and(|i| own.contains(&events[i].position));
            in_grid += u64::from(submitted_tier <= Tier::Community && !beyond && by_own);
        }
        if let Some(rating) = payloads.iter().rev().find_map(|p| match p {
            TicketEvent::FeedbackGiven { rating, .. } => Some(*rating),
            _ => None,
        }) {
            rated += 1;
            satisfied += u64::from(rating != Rating::Unsatisfied);
        }
    }
    let mut runner = Runner::<Metrics>::fresh();
    for event in log {
        runner.evolve(event).expect("folds");
    }
    let everything = Cohort { from: Timestamp::parse("2000-01-01T00:00:00Z").expect("valid"), to: as_of, scope: None };
    let r = runner.state().rates(&everything, as_of);
    let parts = |rate: gridloop_projections::Rate| (rate.numerator, rate.denominator);
    assert_eq!(r.valid, valid, "seed {seed}: valid");
    assert_eq!(parts(r.acceptance), (due.taken_in_time, due.accept_due), "seed {seed}: acceptance");
    assert_eq!(parts(r.completion), (completed, due.resolve_due), "seed {seed}: completion");
    assert_eq!(parts(r.on_time), (due.on_time, due.resolve_due), "seed {seed}: on time");
    assert_eq!(parts(r.closed_loop), (due.closed, due.close_due), "seed {seed}: closed loop");
    assert_eq!(parts(r.satisfaction), (satisfied, rated), "seed {seed}: satisfaction");
    assert_eq!(parts(r.in_grid), (in_grid, completed), "seed {seed}: in grid");
}

/// The rates that count a ticket against a deadline only once it passed or
/// was met (应结案), counted straight from a valid ticket's raw events.
#[derive(Default)]
struct DueTally {
    accept_due: u64,
    taken_in_time: u64,
    resolve_due: u64,
    on_time: u64,
    close_due: u64,
    closed: u64,
}

impl DueTally {
    /// One valid ticket; `standing` is the index of its resolution still
    /// standing (none if never resolved or reopened since).
    fn count(
        &mut self,
        events: &[&RecordedEvent],
        payloads: &[TicketEvent],
        standing: Option<usize>,
        as_of: Timestamp,
    ) {
        let TicketEvent::Submitted { accept_by, resolve_by: submitted_resolve_by, .. } = &payloads[0] else {
            panic!("a ticket starts with its submission");
        };
        let at = |wanted: fn(&TicketEvent) -> bool| {
            events.iter().zip(payloads).find(|(_, p)| wanted(p)).map(|(e, _)| e.occurred_at)
        };
        // The clock of a cancelled ticket stops at its cancellation.
        let clock = at(|p| matches!(p, TicketEvent::Cancelled { .. })).map_or(as_of, |c| c.min(as_of));
        let taken_at = at(|p| {
            matches!(p, TicketEvent::Accepted { .. } | TicketEvent::Reassigned { .. } | TicketEvent::SelfHandled { .. })
        });
        if taken_at.is_some() || *accept_by <= clock {
            self.accept_due += 1;
            self.taken_in_time += u64::from(taken_at.is_some_and(|t| t <= *accept_by));
        }
        let reopened = payloads.iter().rev().find_map(|p| match p {
            TicketEvent::Reopened { resolve_by, .. } => Some(*resolve_by),
            _ => None,
        });
        let resolve_by = reopened.unwrap_or(*submitted_resolve_by);
        if standing.is_some() || resolve_by <= clock {
            self.resolve_due += 1;
        }
        let Some(i) = standing else { return };
        self.on_time += u64::from(events[i].occurred_at <= resolve_by);
        let is_closed = payloads.iter().any(|p| matches!(p, TicketEvent::Closed { .. }));
        let window_over = matches!(&payloads[i], TicketEvent::Resolved { feedback_by, .. } if *feedback_by <= as_of);
        if is_closed || window_over {
            self.close_due += 1;
            self.closed += u64::from(is_closed);
        }
    }
}

/// The positions of the resolutions made by the grid's or community's own
/// people: a grid worker, a volunteer not in a backup agency, a community or
/// volunteer team, with teams and team kinds as the log stood at each
/// resolution (a team whose kind the log does not say is not counted).
fn resolved_by_own_people(log: &[RecordedEvent]) -> BTreeSet<u64> {
    let (mut kinds, mut teams, mut own) = (BTreeMap::new(), BTreeMap::new(), BTreeSet::new());
    for event in log {
        match event.stream.kind() {
            "world" => match event.decode().expect("decodes") {
                WorldEvent::TeamFormed { team } | WorldEvent::TeamRevised { team } => {
                    kinds.insert(team.id, team.kind);
                }
                _ => {}
            },
            "volunteer" => match event.decode().expect("decodes") {
                VolunteerEvent::Registered { volunteer, team, .. } => {
                    teams.insert(volunteer, team);
                }
                VolunteerEvent::Transferred { team, .. } => {
                    teams.insert(VolunteerId::new(event.stream.id()).expect("a volunteer stream"), team);
                }
                _ => {}
            },
            "ticket" => {
                if let TicketEvent::Resolved { by, .. } = event.decode().expect("decodes") {
                    let is_own = match by {
                        Assignee::GridWorker(_) => true,
                        Assignee::Department(_) => false,
                        Assignee::Team(t) => matches!(kinds.get(&t), Some(TeamKind::Community | TeamKind::Volunteer)),
                        Assignee::Volunteer(v) => {
                            teams.get(&v).and_then(|t| kinds.get(t)) != Some(&TeamKind::BackupAgency)
                        }
                    };
                    if is_own {
                        own.insert(event.position);
                    }
                }
            }
            _ => {}
        }
    }
    own
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_writes_the_same_event_log() {
    let (a, _) = month(SEED, 5, 200).await;
    let (b, _) = month(SEED, 5, 200).await;
    assert_eq!(a.len(), b.len(), "seed {SEED}");
    assert!(a == b, "seed {SEED}: the logs differ");
    let (c, _) = month(SEED + 1, 5, 200).await;
    assert!(a != c, "another seed writes another log");
}
