//! The command service's cache of folded streams (`service::cache`): it
//! saves reads and changes no decision.
//!
//! - A ticket's loop through one service reads the ticket's stream never.
//! - A service whose kept state is stale (another service moved the ticket)
//!   is corrected by the store's version check, and a refusal it would make
//!   on the stale state is checked against the log first.
//! - A repeated command id is answered from the log, from a warm, a cold
//!   and a stale cache alike.
//! - Property: random commands sent through two long-lived services that
//!   share a store give the same outcomes and the same log as each command
//!   sent through a new service (no cache at all). A failure prints the seed.

use std::sync::{Arc, Mutex};

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, NewEvent, RecordedEvent, verify_stream};
use gridloop_engine::ids::{CommandId, StreamId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::ticket::{Status, TicketCommand};
use gridloop_engine::{Error, World};

use crate::support::*;

/// A memory store that counts the reads of ticket streams.
#[derive(Clone, Debug, Default)]
struct Counting {
    inner: MemoryStore,
    ticket_reads: Arc<Mutex<u64>>,
}

impl EventStore for Counting {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        self.inner.append(stream, expected, events).await
    }
    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        if stream.to_string().starts_with("ticket") {
            *self.ticket_reads.lock().expect("lock") += 1;
        }
        self.inner.read_stream(stream, from_version).await
    }
    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        self.inner.read_all(from_position, max).await
    }
    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        self.inner.wait_for(position).await
    }
}

impl Counting {
    fn reads(&self) -> u64 {
        *self.ticket_reads.lock().expect("lock")
    }
}

/// The store with V-1 and V-2 registered: offers name only volunteers
/// who exist (`service::references`).
fn with_volunteers<S: EventStore + Clone>(store: S) -> S {
    let registrar = service_on(store.clone(), 0);
    for n in 1..=2 {
        let command = gridloop_engine::volunteer::VolunteerCommand::Register {
            team: team_id(1),
            home_grid: grid(GRID),
            skills: skills(&["elderly_care"]),
            open_orders_max: 3,
        };
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("register-{n}")).expect("valid command id"),
            correlation_id: None,
            actor: dispatcher(),
            command: Command::Volunteer { id: vid(n), command },
            expected_version: None,
        };
        block_on(registrar.execute(envelope)).expect("registered");
    }
    store
}

fn service_on<S: EventStore>(store: S, id_seed: u64) -> CommandService<S> {
    let w = world();
    let shared = World { grids: w.grids.clone(), catalog: w.catalog.clone(), ..World::default() };
    CommandService::new(store, Arc::new(shared), Arc::new(ManualClock::new(t0())), id_seed)
}

fn send<S: EventStore>(
    service: &CommandService<S>,
    id: &str,
    actor: Actor,
    command: TicketCommand,
) -> Result<gridloop_engine::service::Outcome, Error> {
    let envelope = CommandEnvelope {
        command_id: CommandId::new(id).expect("valid command id"),
        correlation_id: None,
        actor,
        command: Command::Ticket { id: tid(1), command },
        expected_version: None,
    };
    block_on(service.execute(envelope))
}

fn triage() -> TicketCommand {
    TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None }
}

fn offer_to_v1() -> TicketCommand {
    TicketCommand::Offer { candidates: vec![vol(1)], expires_at: offer_deadline() }
}

#[test]
fn a_loop_through_one_service_never_reads_the_ticket_stream() {
    let store = with_volunteers(Counting::default());
    let service = service_on(store.clone(), 1);
    send(&service, "s", resident(), submit_cmd(VISIT, GRID)).expect("submits");
    send(&service, "t", dispatcher(), triage()).expect("triages");
    send(&service, "o", dispatcher(), offer_to_v1()).expect("offers");
    send(&service, "a", volunteer(1), TicketCommand::AcceptOffer { by: vol(1) }).expect("accepts");
    send(
        &service,
        "r",
        volunteer(1),
        TicketCommand::Resolve { photos: vec![], result: "已探访".into(), minutes_spent: 30 },
    )
    .expect("resolves");
    assert_eq!(store.reads(), 0, "every decision was made on the kept state");
    assert_eq!(service.tickets_cached(), 1);
    let folded = block_on(service.ticket(&tid(1))).expect("reads");
    assert_eq!(folded.status, Status::Resolved, "the log says what the kept state said");
    verify_stream(&block_on(store.read_stream(&StreamId::ticket(&tid(1)), 1)).expect("reads")).expect("chained");
}

#[test]
fn a_stale_state_is_corrected_by_the_version_check() {
    let store = with_volunteers(MemoryStore::new());
    let (a, b) = (service_on(store.clone(), 1), service_on(store.clone(), 2));
    send(&a, "s", resident(), submit_cmd(VISIT, GRID)).expect("submits");
    send(&a, "t", dispatcher(), triage()).expect("triages");
    send(&b, "o", dispatcher(), offer_to_v1()).expect("b offers: a's kept state is now one version behind");
    let noted = send(&a, "n", dispatcher(), TicketCommand::AddNote { text: "已电话联系".into() }).expect("notes");
    assert_eq!(noted.append.expect("written").first_version, 4, "appended after b's offer, not over it");
    let log = block_on(store.read_stream(&StreamId::ticket(&tid(1)), 1)).expect("reads");
    assert_eq!(log.len(), 4);
    verify_stream(&log).expect("one unbroken chain");
}

#[test]
fn a_refusal_on_a_stale_state_is_checked_against_the_log() {
    let store = with_volunteers(MemoryStore::new());
    let (a, b) = (service_on(store.clone(), 1), service_on(store.clone(), 2));
    send(&a, "s", resident(), submit_cmd(VISIT, GRID)).expect("submits");
    send(&a, "t", dispatcher(), triage()).expect("triages");
    send(&b, "o", dispatcher(), offer_to_v1()).expect("b offers to V-1");
    // On a's kept state there is no offer, so it would refuse the acceptance.
    let accepted = send(&a, "a", volunteer(1), TicketCommand::AcceptOffer { by: vol(1) });
    assert!(accepted.is_ok(), "decided again on the log: {accepted:?}");
    let refused = send(&b, "a2", volunteer(1), TicketCommand::AcceptOffer { by: vol(1) });
    assert!(refused.is_err(), "b's kept state is stale the other way, and the log refuses: {refused:?}");
}

#[test]
fn a_repeated_command_is_answered_from_the_log_warm_cold_or_stale() {
    let store = with_volunteers(MemoryStore::new());
    let (a, b) = (service_on(store.clone(), 1), service_on(store.clone(), 2));
    send(&a, "s", resident(), submit_cmd(VISIT, GRID)).expect("submits");
    let note = || TicketCommand::AddNote { text: "已电话联系".into() };
    let first = send(&a, "n", dispatcher(), note()).expect("notes");
    let warm = send(&a, "n", dispatcher(), note()).expect("repeats");
    assert!(warm.is_duplicate() && warm.events == first.events, "warm: {warm:?}");
    let cold = send(&b, "n", dispatcher(), note()).expect("repeats on a service that kept nothing");
    assert!(cold.is_duplicate() && cold.events == first.events, "cold: {cold:?}");
    send(&b, "t", dispatcher(), triage()).expect("b moves the ticket on");
    let stale = send(&a, "n", dispatcher(), note()).expect("repeats on a stale state");
    assert!(stale.is_duplicate() && stale.events == first.events, "stale: {stale:?}");
    assert_eq!(store.snapshot().len(), 2 + 3, "two registrations; submitted, noted, triaged: no second note");
}

/// The commands the property draws from, with who sends them.
fn random_command(rng: &mut SplitMix64) -> (Actor, TicketCommand) {
    let v = 1 + rng.below(2);
    match rng.below(20) {
        0 => (resident(), submit_cmd(VISIT, GRID)),
        1..=3 => (dispatcher(), triage()),
        4..=6 => {
            (dispatcher(), TicketCommand::Offer { candidates: vec![vol(1), vol(2)], expires_at: offer_deadline() })
        }
        7..=10 => (volunteer(v), TicketCommand::AcceptOffer { by: vol(v) }),
        11 => (volunteer(v), TicketCommand::DeclineOffer { by: vol(v), reason: "没空".into() }),
        12..=13 => (volunteer(v), TicketCommand::Start),
        14..=16 => (dispatcher(), TicketCommand::AddNote { text: format!("note {}", rng.below(3)) }),
        17..=18 => {
            (volunteer(v), TicketCommand::Resolve { photos: vec![], result: "已探访".into(), minutes_spent: 30 })
        }
        _ => (resident(), TicketCommand::Cancel { reason: "不需要了".into() }),
    }
}

/// What a log says, without the parts a service draws at random.
fn shape(log: &[RecordedEvent]) -> Vec<(String, u64, String, String)> {
    log.iter().map(|e| (e.stream.to_string(), e.version, e.command_id.to_string(), e.payload.to_string())).collect()
}

#[test]
fn two_caching_services_decide_as_a_service_without_a_cache() {
    let (mut written, mut repeats) = (0, 0);
    for case in 0..64u64 {
        let seed = 0xCAC4E ^ case;
        let mut rng = SplitMix64::new(seed);
        let cached_store = with_volunteers(MemoryStore::new());
        let services = [service_on(cached_store.clone(), 1), service_on(cached_store.clone(), 2)];
        let plain_store = with_volunteers(MemoryStore::new());
        let mut ids: Vec<String> = Vec::new();
        for step in 0..40 {
            let (actor, command) = match step {
                0 => (resident(), submit_cmd(VISIT, GRID)),
                _ => random_command(&mut rng),
            };
            // One command in five repeats an earlier command id.
            let id = match rng.below(5) {
                0 if !ids.is_empty() => ids[rng.below(ids.len() as u64) as usize].clone(),
                _ => format!("c{step}"),
            };
            ids.push(id.clone());
            let via = &services[rng.below(2) as usize];
            let cached = send(via, &id, actor.clone(), command.clone()).map(|o| o.is_duplicate());
            let plain = send(&service_on(plain_store.clone(), 3), &id, actor, command).map(|o| o.is_duplicate());
            repeats += usize::from(plain == Ok(true));
            assert_eq!(
                cached.as_ref().map_err(|e| e.code()),
                plain.as_ref().map_err(|e| e.code()),
                "seed {seed:#x}, step {step}: the cached services decided otherwise"
            );
        }
        assert_eq!(shape(&cached_store.snapshot()), shape(&plain_store.snapshot()), "seed {seed:#x}: the logs differ");
        written += plain_store.snapshot().len();
    }
    // The property is only worth something if the random commands write.
    assert!(written > 64 * 5 && repeats > 64, "{written} events written, {repeats} repeats answered");
}
