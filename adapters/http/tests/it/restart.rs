//! Restart: the views and the ticket numbering resume from their snapshots
//! in the cold store and read only the log's tail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use gridloop_engine::Error;
use gridloop_engine::envelope::{NewEvent, RecordedEvent, Role};
use gridloop_engine::ids::StreamId;
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::time::{MINUTE_MS, Millis, Timestamp};
use gridloop_http::reads::Live;
use gridloop_http::{AppState, Cold, TokenTable, router};
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{Checkpointed, Projection};
use tower::ServiceExt as _;

use crate::{DEPARTMENT_ITEM, Harness, VOLUNTEER_ITEM, harness};

/// A store that serves the log only up to `upto` and counts the events it
/// hands out at or before `watched` (a restart should read none of them).
#[derive(Clone, Debug)]
struct Counting {
    inner: MemoryStore,
    upto: Arc<AtomicU64>,
    watched: Arc<AtomicU64>,
    old_reads: Arc<AtomicU64>,
}

impl Counting {
    fn new(inner: MemoryStore) -> Self {
        let (upto, watched) = (Arc::new(AtomicU64::new(u64::MAX)), Arc::new(AtomicU64::new(0)));
        Self { inner, upto, watched, old_reads: Arc::default() }
    }
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
        self.inner.read_stream(stream, from_version).await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        let upto = self.upto.load(Ordering::SeqCst);
        let mut events = self.inner.read_all(from_position, max).await?;
        events.retain(|e| e.position <= upto);
        let watched = self.watched.load(Ordering::SeqCst);
        let old = events.iter().filter(|e| e.position <= watched).count() as u64;
        self.old_reads.fetch_add(old, Ordering::SeqCst);
        Ok(events)
    }

    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        self.inner.wait_for(position).await
    }
}

/// A random history: tickets ordered, some offered and taken some steps
/// along their way, the clock moving between them.
async fn history(h: &Harness, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    h.register(1).await;
    h.register(2).await;
    let steps = [
        ("accept", "volunteer", ""),
        ("start", "volunteer", ""),
        ("note", "volunteer", r#"{"text":"on my way"}"#),
        ("resolve", "volunteer", r#"{"result":"fixed","minutes_spent":40}"#),
        ("feedback", "resident", r#"{"rating":"satisfied","comment":"thanks"}"#),
        ("close", "dispatcher", ""),
    ];
    for _ in 0..(4 + rng.below(8)) {
        h.clock.advance(Millis(rng.below(120) * MINUTE_MS));
        if rng.below(4) == 0 {
            h.order(DEPARTMENT_ITEM).await;
            continue;
        }
        let id = h.order(VOLUNTEER_ITEM).await;
        let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
        let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/offer"), "dispatcher", offer).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        for (action, who, body) in steps.iter().take(rng.below(steps.len() as u64 + 1) as usize) {
            let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/{action}"), who, body).await;
            assert_eq!(status, StatusCode::OK, "seed {seed}, {action}: {answer}");
        }
    }
}

/// Every view's snapshot bytes, and the open311 updates.
async fn state_of(live: &Live) -> (Vec<Vec<u8>>, Vec<gridloop_http::public::Update>) {
    let v = live.read().await;
    let bytes = vec![
        v.board.snapshot(),
        v.metrics.snapshot(),
        v.ledger.snapshot(),
        v.directory.snapshot(),
        v.open311.snapshot(),
        v.weekly.snapshot(),
        v.texts.snapshot(),
        v.patrols.snapshot(),
        v.numbers.snapshot(),
    ];
    let (from, to) = (
        Timestamp::parse("2000-01-01T00:00:00Z").expect("valid"),
        Timestamp::parse("2199-01-01T00:00:00Z").expect("valid"),
    );
    (bytes, v.updates.between(from, to, 100_000).expect("reads the updates"))
}

async fn fresh_fold(store: &MemoryStore) -> (Vec<Vec<u8>>, Vec<gridloop_http::public::Update>) {
    let live = Live::new(Cold::default()).expect("resumes");
    live.catch_up(store).await.expect("folds");
    state_of(&live).await
}

#[tokio::test]
async fn resuming_at_any_cut_equals_a_fresh_fold() {
    for seed in [1_u64, 2, 3, 0x5eed] {
        println!("seed {seed}");
        let h = harness().await;
        history(&h, seed).await;
        let whole = fresh_fold(&h.store).await;
        let head = h.store.read_all(1, usize::MAX).await.expect("reads").len() as u64;
        let mut rng = SplitMix64::new(seed ^ 0xc07);
        for _ in 0..6 {
            let (cut, every) = (rng.below(head + 1), 1 + rng.below(head + 1));
            let store = Counting::new(h.store.clone());
            store.upto.store(cut, Ordering::SeqCst);
            let cold = Cold::default();
            let first = Live::new(cold.clone()).expect("resumes").with_save_every(every);
            first.catch_up(&store).await.expect("folds to the cut");
            first.save().await.expect("saves");
            store.upto.store(u64::MAX, Ordering::SeqCst);
            store.watched.store(cut, Ordering::SeqCst);
            let second = Live::new(cold).expect("resumes");
            second.catch_up(&store).await.expect("folds the tail");
            assert_eq!(store.old_reads.load(Ordering::SeqCst), 0, "seed {seed}, cut {cut}: read before the cut");
            assert!(state_of(&second).await == whole, "seed {seed}, cut {cut}, save every {every}");
        }
    }
}

#[tokio::test]
async fn a_snapshot_of_another_version_is_rebuilt() {
    let h = harness().await;
    history(&h, 7).await;
    let cold = Cold::default();
    let live = Live::new(cold.clone()).expect("resumes");
    live.catch_up(&h.store).await.expect("folds");
    live.save().await.expect("saves");
    let head = live.checkpoint().await;
    // An empty ledger claiming to be at the head, saved by another version.
    let stale = Checkpointed { version: Ledger::VERSION + 1, checkpoint: head, state: Ledger::default() };
    cold.commit(vec![(Ledger::NAME, serde_json::to_vec(&stale).expect("serialises"))]).expect("commits");
    let resumed = Live::new(cold).expect("resumes");
    assert_eq!(resumed.read().await.ledger.checkpoint(), 0, "another version is not read");
    resumed.catch_up(&h.store).await.expect("folds");
    assert!(state_of(&resumed).await == fresh_fold(&h.store).await);
}

/// A router over `store` whose resident may order, resumed from `cold`.
async fn app(store: &Counting, cold: Cold, token: &TokenTable) -> (axum::Router, Arc<Live>) {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock, 7));
    let state = AppState::new(service, token.clone(), cold).await.expect("state");
    let live = state.live.clone();
    (router(state), live)
}

async fn order(router: &axum::Router, token: &str, key: &str, grid: &str) -> String {
    let body = format!(r#"{{"category":"{DEPARTMENT_ITEM}","grid":"{grid}","description":"a leaking tap"}}"#);
    let request = axum::http::Request::post("/api/v1/tickets")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("answers");
    assert!(response.status().is_success(), "{}", response.status());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    answer["id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn numbering_resumes_without_a_scan_and_a_retry_finds_its_ticket() {
    let h = harness().await;
    let grid = h.grid.to_string();
    let store = Counting::new(MemoryStore::new());
    let mut table = TokenTable::new();
    let (token, entry) = TokenTable::issue(Role::Resident, "r-1", None).expect("issued");
    table.insert(entry).expect("inserted");
    let cold = Cold::default();
    let (first, live) = app(&store, cold.clone(), &table).await;
    assert_eq!(order(&first, &token, "k-1", &grid).await, "T-1");
    assert_eq!(order(&first, &token, "k-2", &grid).await, "T-2");
    live.catch_up(&store).await.expect("folds");
    live.save().await.expect("saves");
    store.watched.store(live.checkpoint().await, Ordering::SeqCst);
    let (second, _) = app(&store, cold, &table).await;
    assert_eq!(store.old_reads.load(Ordering::SeqCst), 0, "the restart read only the tail");
    assert_eq!(order(&second, &token, "k-1", &grid).await, "T-1", "a retry finds its ticket");
    assert_eq!(order(&second, &token, "k-3", &grid).await, "T-3", "a new order takes the next number");
}
