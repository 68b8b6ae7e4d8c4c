//! The one conformance suite every gridloop event store must pass.
//!
//! Each check is an async function taking a fresh, empty store. An adapter's
//! tests call [`conformance_tests!`] with an expression that makes one, and
//! get one `#[tokio::test]` per check:
//!
//! ```text
//! gridloop_store_conformance::conformance_tests!(async { (MemoryStore::new(), ()) });
//! ```
//!
//! What is checked is the contract written in `gridloop_engine::store`:
//! expected-version semantics, atomic multi-event appends, global order,
//! the per-stream hash chain, idempotency by command id, catch-up-then-live
//! subscriptions with no gap under concurrent appends, and the accept race
//! (64 tasks, exactly one winner) through the real command service.
//!
//! [`blobs`] is the same for photo stores (`blob_conformance_tests!`), and
//! [`cold`] for the projections' cold stores (`cold_conformance_tests!`).
#![warn(missing_docs, unreachable_pub)]

pub mod blobs;
pub mod cold;

use std::collections::BTreeSet;
use std::sync::Arc;

use gridloop_engine::catalog::{Catalog, CatalogItem, Department, HandlingMode, Sla};
use gridloop_engine::envelope::{Actor, NewEvent, Role, Schema, verify_stream};
use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, GridTree};
use gridloop_engine::ids::{
    CommandId, CorrelationId, DepartmentId, ItemCode, ResidentId, Skill, StreamId, TicketId, VolunteerId,
};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_engine::ticket::{Assignee, Channel, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::{Error, World};

/// Generates one `#[tokio::test]` per conformance check. The expression is
/// a future of `(store, guard)`; the guard is dropped after the check.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            expected_version_semantics,
            multi_event_append_is_atomic_and_ordered,
            refused_appends_write_nothing,
            read_all_pages_cover_the_log_once,
            hash_chain_links_every_stream,
            repeated_command_id_returns_first_result,
            subscription_catches_up_then_goes_live_without_gaps,
            accept_race_has_exactly_one_winner,
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                // `make` returns the store and a guard (a temporary
                // directory, say) that must outlive it.
                let (store, _guard) = $make.await;
                $crate::$check(store).await;
            }
        )*
    };
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A new event with a payload of `n`, under `command`, with a unique id.
pub fn event(command: &str, n: u64) -> NewEvent {
    NewEvent {
        event_id: gridloop_engine::rng::SplitMix64::new(NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            .uuid_v7(1_800_000_000_000),
        occurred_at: Timestamp::from_millis(1_800_000_000_000).expect("valid"),
        actor: Actor::system(),
        command_id: CommandId::new(command).expect("valid command id"),
        correlation_id: CorrelationId::new("conformance").expect("valid"),
        schema: Schema::parse("test.happened/1").expect("valid"),
        payload: serde_json::json!({ "n": n }),
    }
}

fn stream(name: &str) -> StreamId {
    StreamId::new(format!("test-{name}")).expect("valid stream")
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::WrongExpectedVersion { .. })), "expected a version conflict, got {result:?}");
}

async fn log_len<S: EventStore>(store: &S) -> usize {
    store.read_all(1, usize::MAX).await.expect("read_all").len()
}

/// Checks the expected-version rules: `NoStream` only on a stream with no
/// events, `Exact(n)` only when the stream's last version is `n` (and
/// `Exact(0)` also on a new stream), `Any` always; a mismatch is
/// `WrongExpectedVersion`. Also that `read_stream` starts at the version
/// asked for and is empty for a stream never written.
pub async fn expected_version_semantics<S: EventStore>(store: S) {
    let s = stream("ev");
    let first =
        store.append(&s, ExpectedVersion::NoStream, vec![event("c1", 1)]).await.expect("NoStream on a new stream");
    assert_eq!((first.first_version, first.last_version, first.duplicate), (1, 1, false));
    assert_conflict(store.append(&s, ExpectedVersion::NoStream, vec![event("c2", 2)]).await);
    assert_conflict(store.append(&s, ExpectedVersion::Exact(0), vec![event("c3", 3)]).await);
    assert_conflict(store.append(&s, ExpectedVersion::Exact(2), vec![event("c4", 4)]).await);
    let second = store.append(&s, ExpectedVersion::Exact(1), vec![event("c5", 5)]).await.expect("Exact(1)");
    assert_eq!(second.last_version, 2);
    let third = store.append(&s, ExpectedVersion::Any, vec![event("c6", 6)]).await.expect("Any");
    assert_eq!(third.last_version, 3);
    store
        .append(&stream("ev2"), ExpectedVersion::Exact(0), vec![event("c7", 7)])
        .await
        .expect("Exact(0) on a new stream");
    let versions: Vec<u64> = store.read_stream(&s, 1).await.expect("read").iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    let tail: Vec<u64> = store.read_stream(&s, 2).await.expect("read").iter().map(|e| e.version).collect();
    assert_eq!(tail, [2, 3]);
    assert!(store.read_stream(&stream("absent"), 1).await.expect("read").is_empty());
}

/// Checks that one append of several events gives them consecutive stream
/// versions and increasing log positions, in the order given, and that the
/// result's position is that of the append's last event.
pub async fn multi_event_append_is_atomic_and_ordered<S: EventStore>(store: S) {
    let s = stream("multi");
    let batch = (1..=5).map(|n| event("multi", n)).collect();
    let result = store.append(&s, ExpectedVersion::NoStream, batch).await.expect("append");
    assert_eq!((result.first_version, result.last_version), (1, 5));
    let events = store.read_stream(&s, 1).await.expect("read");
    assert_eq!(events.len(), 5);
    assert_eq!(events.last().map(|e| e.position), Some(result.position));
    assert!(events.windows(2).all(|w| w[0].position < w[1].position), "positions increase within an append");
    let payloads: Vec<u64> = events.iter().map(|e| e.payload["n"].as_u64().expect("n")).collect();
    assert_eq!(payloads, [1, 2, 3, 4, 5], "events keep their order");
}

/// Checks that every refused append (version conflict, mixed command ids,
/// no events, a payload over the size limit) leaves the log exactly as it
/// was: refusal is all or nothing.
pub async fn refused_appends_write_nothing<S: EventStore>(store: S) {
    let s = stream("refused");
    store.append(&s, ExpectedVersion::NoStream, vec![event("ok", 1)]).await.expect("append");
    let before = log_len(&store).await;
    assert_conflict(store.append(&s, ExpectedVersion::Exact(7), vec![event("r1", 2), event("r1", 3)]).await);
    let mixed = store.append(&s, ExpectedVersion::Any, vec![event("r2", 4), event("r3", 5)]).await;
    assert!(matches!(mixed, Err(Error::Invalid { .. })), "mixed command ids are refused: {mixed:?}");
    let empty = store.append(&s, ExpectedVersion::Any, vec![]).await;
    assert!(matches!(empty, Err(Error::Invalid { .. })), "an empty append is refused: {empty:?}");
    let mut huge = event("r4", 6);
    huge.payload = serde_json::json!({ "blob": "x".repeat(70_000) });
    assert!(matches!(store.append(&s, ExpectedVersion::Any, vec![huge]).await, Err(Error::Invalid { .. })));
    assert_eq!(log_len(&store).await, before);
    assert_eq!(store.read_stream(&s, 1).await.expect("read").len(), 1);
}

/// Checks that the global log is in strictly increasing position order, and
/// that reading it in small pages (each from the position after the last
/// one seen) yields every event exactly once, as one read of it all does.
pub async fn read_all_pages_cover_the_log_once<S: EventStore>(store: S) {
    for i in 0..30u64 {
        let s = stream(&format!("page{}", i % 4));
        store
            .append(&s, ExpectedVersion::Any, vec![event(&format!("p{i}"), i), event(&format!("p{i}"), i + 100)])
            .await
            .expect("append");
    }
    let all = store.read_all(1, usize::MAX).await.expect("read_all");
    assert_eq!(all.len(), 60);
    assert!(all.windows(2).all(|w| w[0].position < w[1].position), "global order is strictly increasing");
    let mut paged = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, 7).await.expect("page");
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        paged.extend(page);
    }
    assert_eq!(paged, all, "paging sees every event exactly once");
    let from_middle = store.read_all(all[30].position, 1000).await.expect("read");
    assert_eq!(from_middle.first(), Some(&all[30]));
    // `scan`, the one way readers walk the log, over this store's read_all:
    // the same events once each, in batches no larger than asked, ending
    // (not waiting) at the end of the log, from wherever it starts.
    let mut scan = store.scan(1).batch_max(7);
    let mut scanned = Vec::new();
    while let Some(batch) = scan.next_batch().await.expect("scan") {
        assert!(!batch.is_empty() && batch.len() <= 7, "a batch holds 1 to 7 events");
        scanned.extend(batch);
    }
    assert_eq!(scanned, all, "a scan sees every event exactly once");
    assert_eq!(scan.next_position(), all[59].position + 1, "a finished scan points past the last event");
    let mut middle = store.scan(all[30].position);
    let rest = middle.next_batch().await.expect("scan").expect("events from the middle");
    assert_eq!(rest.first(), Some(&all[30]));
}

/// Checks that each stream's events carry a hash chain that
/// `verify_stream` accepts, with single and multi-event appends
/// interleaved across streams (some of them refused).
pub async fn hash_chain_links_every_stream<S: EventStore>(store: S) {
    let names = ["h1", "h2", "h3"];
    for i in 0..12u64 {
        let s = stream(names[(i % 3) as usize]);
        let expected = if i % 2 == 0 { ExpectedVersion::Any } else { ExpectedVersion::Exact(i / 3) };
        let n = if i % 2 == 0 { 2 } else { 1 };
        let events = (0..n).map(|k| event(&format!("h{i}"), i * 10 + k)).collect();
        let _ = store.append(&s, expected, events).await;
    }
    for name in names {
        let events = store.read_stream(&stream(name), 1).await.expect("read");
        assert!(!events.is_empty());
        verify_stream(&events).expect("the chain verifies");
    }
}

/// Checks idempotency by command id: appending again under a command id
/// already written returns the first append's result, marked duplicate,
/// and writes nothing, even when the repeat names another stream.
pub async fn repeated_command_id_returns_first_result<S: EventStore>(store: S) {
    let s = stream("idem");
    let first =
        store.append(&s, ExpectedVersion::NoStream, vec![event("same", 1), event("same", 2)]).await.expect("first");
    let before = log_len(&store).await;
    let again =
        store.append(&s, ExpectedVersion::NoStream, vec![event("same", 1), event("same", 2)]).await.expect("repeat");
    assert!(again.duplicate);
    assert_eq!(
        (again.first_version, again.last_version, again.position),
        (first.first_version, first.last_version, first.position)
    );
    let other_stream =
        store.append(&stream("idem2"), ExpectedVersion::Any, vec![event("same", 3)]).await.expect("repeat elsewhere");
    assert!(other_stream.duplicate && other_stream.stream == s, "the first result names the first stream");
    assert_eq!(log_len(&store).await, before, "a repeat writes nothing");
}

/// Checks that `subscribe_all` delivers the events already in the log and
/// then, while eight writers append concurrently, every new event: the
/// subscriber sees exactly the final log, each event once, in order.
pub async fn subscription_catches_up_then_goes_live_without_gaps<S: EventStore>(store: S) {
    const WRITERS: u64 = 8;
    const APPENDS: u64 = 40;
    for i in 0..20 {
        store.append(&stream("pre"), ExpectedVersion::Any, vec![event(&format!("pre{i}"), i)]).await.expect("append");
    }
    let mut subscription = store.subscribe_all(1);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..APPENDS {
                    let events = (0..1 + i % 3).map(|k| event(&format!("w{w}-{i}"), k)).collect();
                    store.append(&stream(&format!("w{w}")), ExpectedVersion::Any, events).await.expect("append");
                }
            })
        })
        .collect();
    let total = 20 + WRITERS * (0..APPENDS).map(|i| 1 + i % 3).sum::<u64>();
    let mut seen = Vec::new();
    while (seen.len() as u64) < total {
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), subscription.next())
            .await
            .expect("the subscription keeps up")
            .expect("next");
        seen.push(event);
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let log = store.read_all(1, usize::MAX).await.expect("read_all");
    assert_eq!(seen, log, "the subscription saw the log: every event once, in order");
    let ids: BTreeSet<_> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len() as u64, total);
}

/// A world of one grid and one volunteer item, for the race.
pub fn tiny_world() -> World {
    let p = |lon, lat| GeoPoint { lon, lat };
    let square = vec![p(0, 0), p(10, 0), p(10, 10), p(0, 10)];
    let node = |code: &str, kind| GridNode {
        code: GridCode::parse(code).expect("valid"),
        name: code.to_string(),
        name_en: code.to_string(),
        kind,
        property_form: None,
        management_class: None,
        boundary: square.clone(),
    };
    let grids = GridTree::new([
        node("440802", None),
        node("440802-001", None),
        node("440802-001-001", None),
        node("440802-001-001-001", Some(gridloop_engine::grid::GridKind::Comprehensive)),
    ])
    .expect("tree");
    let department = DepartmentId::new("civil_affairs").expect("valid");
    let catalog = Catalog::new(
        vec![Department { code: department.clone(), name: "民政".into(), name_en: "Civil affairs".into() }],
        vec![CatalogItem {
            code: ItemCode::new("CS-001").expect("valid"),
            name: "探访".into(),
            name_en: "Visit".into(),
            category: gridloop_engine::ids::CategoryCode::new("community_service").expect("a valid category code"),
            mode: HandlingMode::Volunteer,
            department,
            skills: vec![Skill::new("elderly_care").expect("valid")],
            sla: Sla {
                accept_within: Millis::hours(2),
                resolve_within: Millis::days(2),
                feedback_window: Millis::days(3),
                accept_working_days: None,
                resolve_working_days: None,
            },
            points: 10,
            admitted: true,
            emergency: false,
        }],
    )
    .expect("catalog");
    World { grids, catalog, ..World::default() }
}

/// Checks the accept race through the real command service: 64 volunteers
/// accept the same offer at once; exactly one succeeds, the others get
/// `AlreadyTaken`, and exactly one `ticket.accepted` event is written.
pub async fn accept_race_has_exactly_one_winner<S: EventStore>(store: S) {
    const RACERS: u64 = 64;
    let start = Timestamp::parse("2026-11-23T08:00:00Z").expect("valid");
    let clock = Arc::new(ManualClock::new(start));
    let service = Arc::new(CommandService::new(store.clone(), Arc::new(tiny_world()), clock, 7));
    let ticket = TicketId::new("T-1").expect("valid");
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").expect("valid");
    let send = |command_id: &str, actor: &Actor, command: TicketCommand| CommandEnvelope {
        expected_version: None,
        command_id: CommandId::new(command_id).expect("valid"),
        correlation_id: None,
        actor: actor.clone(),
        command: Command::Ticket { id: ticket.clone(), command },
    };
    let resident = Actor::new(Role::Resident, "r-1").expect("valid");
    let submit = TicketCommand::Submit {
        photos: vec![],
        item: ItemCode::new("CS-001").expect("valid"),
        grid: GridCode::parse("440802-001-001-001").expect("valid"),
        resident: ResidentId::new("r-1").expect("valid"),
        description: "老人需要探访".into(),
        urgency: Urgency::Normal,
        channel: Channel::QrCode,
        location: None,
    };
    service.execute(send("submit", &resident, submit)).await.expect("submit");
    // The engine offers only to volunteers who exist: register the racers.
    for n in 1..=RACERS {
        let register = gridloop_engine::volunteer::VolunteerCommand::Register {
            team: gridloop_engine::ids::TeamId::from_number(1),
            home_grid: GridCode::parse("440802-001-001-001").expect("valid"),
            skills: BTreeSet::new(),
            open_orders_max: 3,
        };
        let envelope = CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("register-{n}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher.clone(),
            command: Command::Volunteer { id: VolunteerId::from_number(n), command: register },
        };
        service.execute(envelope).await.expect("registered");
    }
    let candidates: Vec<Assignee> = (1..=RACERS).map(|n| Assignee::Volunteer(VolunteerId::from_number(n))).collect();
    let offer = TicketCommand::Offer { candidates: candidates.clone(), expires_at: start.plus(Millis::minutes(30)) };
    service.execute(send("offer", &dispatcher, offer)).await.expect("offer");
    let racers: Vec<_> = candidates
        .into_iter()
        .enumerate()
        .map(|(n, by)| {
            let service = service.clone();
            let actor = Actor::new(Role::Volunteer, &format!("V-{}", n + 1)).expect("valid");
            let envelope = send(&format!("accept-{n}"), &actor, TicketCommand::AcceptOffer { by });
            tokio::spawn(async move { service.execute(envelope).await })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        match racer.await.expect("task") {
            Ok(outcome) => {
                assert!(!outcome.is_duplicate());
                winners += 1;
            }
            Err(Error::AlreadyTaken { .. }) => {}
            Err(other) => panic!("a racer got {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one acceptance wins");
    let accepted = store
        .read_stream(&StreamId::ticket(&ticket), 1)
        .await
        .expect("read")
        .iter()
        .filter(|e| e.schema.name == "ticket.accepted")
        .count();
    assert_eq!(accepted, 1, "exactly one Accepted event is written");
}
