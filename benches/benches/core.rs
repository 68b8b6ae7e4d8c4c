//! The core paths, each measured next to a baseline in the same run:
//!
//! - `lifecycle`: one ticket's whole life (8 commands) decided and folded in
//!   memory: the engine's pure cost per command.
//! - `fold`: each projection folding a demo log from memory, against merely
//!   decoding the same payloads (the floor of any typed fold); and the
//!   board's heap bytes per ticket, from a counting allocator.
//! - `dispatch`: routing decisions over the fixture district (the directory
//!   folded from a demo log), and a submission's path to its offer on sled.
//! - `append`: the sled store appending one event per command, one at a time
//!   and 64 at once (group commit), against sled itself doing an insert and
//!   a flush per write.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gridloop_engine::envelope::EventPayload as _;
use gridloop_engine::envelope::{Actor, RecordedEvent, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ItemCode, ResidentId, StreamId, TicketId, VolunteerId};
use gridloop_engine::store::{EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::ticket::{Assignee, Channel, Rating, Ticket, TicketCommand, TicketEvent, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_projections::Metrics;
use std::collections::BTreeSet;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::grid::Level;
use gridloop_engine::routing::{ring_scope, route};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::ticket::Status;
use gridloop_policies::dispatch::plan;
use gridloop_projections::board::Board;
use gridloop_projections::directory::Directory;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{Projection, Runner};
use gridloop_store_conformance::{event, tiny_world};
use gridloop_store_sled::SledStore;

fn lifecycle(c: &mut Criterion) {
    let world = tiny_world();
    let id = TicketId::new("T-1").expect("valid");
    let t0 = Timestamp::parse("2026-11-23T08:00:00Z").expect("valid");
    let volunteer = VolunteerId::from_number(1);
    let by = Assignee::Volunteer(volunteer.clone());
    let steps: Vec<(Actor, TicketCommand)> = vec![
        (
            Actor::new(Role::Resident, "r-1").expect("valid"),
            TicketCommand::Submit {
                photos: vec![],
                item: ItemCode::new("CS-001").expect("valid"),
                grid: GridCode::parse("440802-001-001-001").expect("valid"),
                resident: ResidentId::new("r-1").expect("valid"),
                description: "楼道灯坏了".into(),
                urgency: Urgency::Normal,
                channel: Channel::QrCode,
                location: None,
            },
        ),
        (dispatcher(), TicketCommand::Triage { mode: gridloop_engine::catalog::HandlingMode::Volunteer, item: None }),
        (dispatcher(), TicketCommand::Offer { candidates: vec![by.clone()], expires_at: t0.plus(Millis::minutes(30)) }),
        (vol(&volunteer), TicketCommand::AcceptOffer { by: by.clone() }),
        (vol(&volunteer), TicketCommand::Start),
        (vol(&volunteer), TicketCommand::Resolve { photos: vec![], result: "已修好".into(), minutes_spent: 30 }),
        (
            Actor::new(Role::Resident, "r-1").expect("valid"),
            TicketCommand::GiveFeedback { rating: Rating::Satisfied, comment: String::new() },
        ),
        (dispatcher(), TicketCommand::Close),
    ];
    let mut group = c.benchmark_group("lifecycle");
    group.throughput(Throughput::Elements(steps.len() as u64));
    group.bench_function("decide_and_evolve_8_commands", |b| {
        b.iter(|| {
            let mut ticket = Ticket::default();
            for (actor, command) in &steps {
                let ctx = world.context(t0, false);
                for e in ticket.decide(&id, command, actor, &ctx).expect("legal") {
                    ticket.evolve(&e, t0);
                }
            }
            ticket
        });
    });
    group.finish();
}

fn dispatcher() -> Actor {
    Actor::new(Role::Dispatcher, "d-1").expect("valid")
}

fn vol(id: &VolunteerId) -> Actor {
    Actor::new(Role::Volunteer, id.as_str()).expect("valid")
}

fn demo_log() -> Vec<RecordedEvent> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = MemoryStore::new();
        let district = Arc::new(gridloop_fixtures::chikan(1).expect("fixture"));
        let config =
            gridloop_cli::demo::DemoConfig { orders_per_day: 400, ..gridloop_cli::demo::DemoConfig::new(3, 1) };
        gridloop_cli::demo::run(store.clone(), district, &config, |_, _| {}).await.expect("demo");
        store.snapshot()
    })
}

fn fold(c: &mut Criterion) {
    let log = demo_log();
    report_board_memory(&log);
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(log.len() as u64));
    group.bench_function("baseline_decode_payloads", |b| {
        b.iter(|| {
            log.iter()
                .filter(|e| e.stream.kind() == "ticket")
                .map(|e| TicketEvent::decode(&e.schema, &e.payload).is_ok() as u64)
                .sum::<u64>()
        });
    });
    group.bench_function("board", |b| b.iter(|| rebuild::<Board>(&log)));
    group.bench_function("metrics", |b| b.iter(|| rebuild::<Metrics>(&log)));
    group.bench_function("ledger", |b| b.iter(|| rebuild::<Ledger>(&log)));
    group.finish();
}

fn rebuild<P: Projection>(log: &[RecordedEvent]) -> u64 {
    let mut runner = Runner::<P>::fresh();
    for event in log {
        runner.evolve(event).expect("folds");
    }
    runner.checkpoint()
}

/// Heap bytes held by the board per ticket (every demo ticket is closed,
/// cancelled or a duplicate by the end), measured with the counting
/// allocator.
fn report_board_memory(log: &[RecordedEvent]) {
    let before = ALLOCATED.load(Ordering::SeqCst);
    let mut runner = Runner::<Board>::fresh();
    for event in log {
        runner.evolve(event).expect("folds");
    }
    let held = ALLOCATED.load(Ordering::SeqCst).saturating_sub(before);
    let tickets = runner.state().len().max(1);
    let inline = std::mem::size_of::<gridloop_engine::ticket::Ticket>();
    println!(
        "board memory: {} tickets, {held} heap bytes, {} bytes per ticket (of which {inline} inline), {} events",
        tickets,
        held / tickets,
        log.len()
    );
    drop(runner);
}

/// Counts live heap bytes, to measure the board's memory per ticket.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// The one `unsafe` in the workspace: a global allocator must be an
// `unsafe impl`. It only counts and forwards to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(64));

    let raw = sled::open(dir.path().join("raw")).expect("sled");
    let value = serde_json_bytes();
    let mut key = 0u64;
    group.bench_function("baseline_sled_insert_flush_x64", |b| {
        b.iter(|| {
            for _ in 0..64 {
                key += 1;
                raw.insert(key.to_be_bytes(), value.as_slice()).expect("insert");
                raw.flush().expect("flush");
            }
        });
    });

    let store = SledStore::open(&dir.path().join("store")).expect("store");
    let mut n = 0u64;
    group.bench_function("store_append_sequential_x64", |b| {
        b.iter(|| {
            runtime.block_on(async {
                for _ in 0..64 {
                    n += 1;
                    let s = StreamId::new(format!("bench-{}", n % 512)).expect("valid");
                    store.append(&s, ExpectedVersion::Any, vec![event(&format!("seq-{n}"), n)]).await.expect("append");
                }
            });
        });
    });
    group.bench_function("store_append_concurrent_x64", |b| {
        b.iter_batched(
            || {
                n += 64;
                n
            },
            |base| {
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..64)
                        .map(|i| {
                            let store = store.clone();
                            tokio::spawn(async move {
                                let s = StreamId::new(format!("bench-{}", (base + i) % 512)).expect("valid");
                                store
                                    .append(&s, ExpectedVersion::Any, vec![event(&format!("con-{base}-{i}"), i)])
                                    .await
                                    .expect("append");
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("task");
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// A stored event's bytes, for the raw baseline to write the same size.
fn serde_json_bytes() -> Vec<u8> {
    let e = event("size", 1).record(StreamId::new("bench-0").expect("valid"), 1, 1, Default::default());
    serde_json::to_vec(&e).unwrap_or_default()
}

/// Routing decisions over the fixture district, and the path from a
/// submission to its offer on the sled store (triage and offer by the
/// dispatcher policy, each an fsync'd append).
fn dispatch(c: &mut Criterion) {
    let log = demo_log();
    let district = Arc::new(gridloop_fixtures::chikan(1).expect("fixture"));
    let mut directory = Runner::<Directory>::fresh();
    for event in &log {
        directory.evolve(event).expect("folds");
    }
    let now = Timestamp::parse("2026-11-05T08:00:00Z").expect("valid");
    let items: Vec<_> = district.world.catalog.items().filter(|i| i.mode == HandlingMode::Volunteer).collect();
    let grids: Vec<_> = district.world.grids.at_level(Level::Grid).map(|g| g.code.clone()).collect();
    let mut rng = gridloop_engine::rng::SplitMix64::new(7);
    let cases: Vec<_> =
        (0..1_000).map(|_| (*rng.pick(&items), rng.pick(&grids).clone(), rng.below(3) as u32)).collect();
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.bench_function("route_decisions_x1000", |b| {
        b.iter(|| {
            let mut offers = 0;
            for (item, grid, round) in &cases {
                let scope = ring_scope(grid, *round);
                let volunteers = directory.state().views_within(&scope, now, district.world.routing.fairness_window);
                let decision = route(item, grid, *round, &BTreeSet::new(), &volunteers, &district.world);
                offers += u64::from(matches!(decision, gridloop_engine::routing::Route::Offer { .. }));
            }
            offers
        });
    });
    group.throughput(Throughput::Elements(1));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("store");
    let clock = Arc::new(gridloop_engine::service::ManualClock::new(now));
    let service = CommandService::new(store, district.world.clone(), clock, 1);
    let mut n = 0u64;
    group.bench_function("submit_then_triage_and_offer_on_sled", |b| {
        b.iter(|| {
            n += 1;
            runtime.block_on(submit_to_offer(&service, directory.state(), n, now))
        });
    });
    group.finish();
}

async fn submit_to_offer(service: &CommandService<SledStore>, directory: &Directory, n: u64, now: Timestamp) -> Status {
    let id = TicketId::from_number(n);
    let submit = CommandEnvelope {
        command_id: gridloop_engine::ids::CommandId::new(format!("bench-submit-{n}")).expect("valid"),
        correlation_id: None,
        actor: Actor::new(Role::Resident, "r-1").expect("valid"),
        command: Command::Ticket {
            id: id.clone(),
            command: TicketCommand::Submit {
                photos: vec![],
                item: ItemCode::new("CS-001").expect("valid"),
                grid: GridCode::parse("440802-001-001-001").expect("valid"),
                resident: ResidentId::new("r-1").expect("valid"),
                description: "老人需要探访".into(),
                urgency: Urgency::Normal,
                channel: Channel::QrCode,
                location: None,
            },
        },
        expected_version: None,
    };
    service.execute(submit).await.expect("submits");
    // The dispatcher policy: triage, then the offer.
    for _ in 0..2 {
        let ticket = service.ticket(&id).await.expect("loads");
        let envelope = plan(&ticket, &service.world(), directory, now).expect("a step to take");
        service.execute(envelope).await.expect("dispatches");
    }
    service.ticket(&id).await.expect("loads").status
}

/// A generated year: every day `TICKETS_A_DAY` tickets over 20 grids and 5
/// items, each submitted, accepted, resolved and closed within the day.
fn year_log() -> Vec<RecordedEvent> {
    use gridloop_engine::envelope::{Hash, NewEvent};
    use gridloop_engine::ids::{CommandId, CorrelationId};
    use gridloop_engine::ticket::{CloseReason, Tier};
    const TICKETS_A_DAY: u64 = 200;
    let start = Timestamp::parse("2025-12-31T16:00:00Z").expect("valid");
    let mut log = Vec::new();
    let mut push = |n: u64, at: Timestamp, event: TicketEvent, version: u64, prev: Hash| {
        let stream = StreamId::ticket(&TicketId::from_number(n));
        let position = log.len() as u64 + 1;
        let new = NewEvent {
            event_id: gridloop_engine::rng::SplitMix64::new(position).uuid_v7(at.as_millis()),
            occurred_at: at,
            actor: Actor::system(),
            command_id: CommandId::new(format!("c-{position}")).expect("valid"),
            correlation_id: CorrelationId::new(format!("t-{n}")).expect("valid"),
            schema: event.schema(),
            payload: event.encode(),
        };
        let recorded = new.record(stream, version, position, prev);
        let hash = recorded.hash;
        log.push(recorded);
        hash
    };
    for day in 0..365u64 {
        for k in 0..TICKETS_A_DAY {
            let n = day * TICKETS_A_DAY + k + 1;
            let at = start.plus(Millis::days(day)).plus(Millis::minutes(k * 5));
            let grid = GridCode::parse(&format!("440802-001-001-{:03}", 1 + n % 20)).expect("valid");
            let by = Assignee::Volunteer(VolunteerId::from_number(1 + n % 7));
            let submitted = TicketEvent::Submitted {
                photos: vec![],
                ticket: TicketId::from_number(n),
                item: ItemCode::new(format!("CS-00{}", 1 + n % 5)).expect("valid"),
                grid,
                resident: Some(ResidentId::new(format!("r-{n}")).expect("valid")),
                description: "楼道灯坏了".into(),
                urgency: Urgency::Normal,
                channel: Channel::QrCode,
                location: None,
                tier: Tier::Grid,
                accept_by: at.plus(Millis::hours(2)),
                resolve_by: at.plus(Millis::days(1)),
            };
            let resolved = TicketEvent::Resolved {
                photos: vec![],
                by: by.clone(),
                result: "已处理".into(),
                minutes_spent: 30,
                feedback_by: at.plus(Millis::hours(6)),
            };
            let h = push(n, at, submitted, 1, Hash::GENESIS);
            let h = push(n, at.plus(Millis::minutes(10 + n % 50)), TicketEvent::Accepted { by, round: 1 }, 2, h);
            let h = push(n, at.plus(Millis::minutes(100 + n % 300)), resolved, 3, h);
            let h = push(
                n,
                at.plus(Millis::minutes(420)),
                TicketEvent::FeedbackGiven { rating: Rating::Satisfied, comment: String::new() },
                4,
                h,
            );
            push(n, at.plus(Millis::minutes(430)), TicketEvent::Closed { reason: CloseReason::Confirmed }, 5, h);
        }
    }
    log
}

/// A year's rates and a day's, from the counters of settled tickets
/// (attached to a cold store) and from the plain per-ticket fold.
fn rates(c: &mut Criterion) {
    use gridloop_projections::Cohort;
    use gridloop_projections::cold::Cold;
    let log = year_log();
    let as_of = log.iter().map(|e| e.occurred_at).max().expect("events").plus(Millis::days(1));
    let cold = Cold::default();
    let mut counted = Runner::<Metrics>::resume_cold(&cold).expect("resumes");
    let mut folded = Runner::<Metrics>::fresh();
    for event in &log {
        counted.evolve(event).expect("folds");
        folded.evolve(event).expect("folds");
    }
    cold.commit(vec![("metrics", counted.snapshot())]).expect("commits");
    let start = Timestamp::parse("2025-12-31T16:00:00Z").expect("valid");
    let year = Cohort { from: start, to: start.plus(Millis::days(365)), scope: None };
    let day = Cohort { from: start.plus(Millis::days(180)), to: start.plus(Millis::days(181)), scope: None };
    assert_eq!(counted.state().rates(&year, as_of), folded.state().rates(&year, as_of));
    let mut group = c.benchmark_group("rates");
    group.bench_function("year_counters", |b| b.iter(|| counted.state().rates(&year, as_of).submitted));
    group.bench_function("day_counters", |b| b.iter(|| counted.state().rates(&day, as_of).submitted));
    group.bench_function("year_fold", |b| b.iter(|| folded.state().rates(&year, as_of).submitted));
    group.bench_function("day_fold", |b| b.iter(|| folded.state().rates(&day, as_of).submitted));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = lifecycle, fold, append, dispatch, rates
}
criterion_main!(benches);
