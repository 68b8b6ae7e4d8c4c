//! The NATS store against the same server's raw limit, in one run:
//!
//! - **raw, 64 in flight**: 64 publishes of messages the size of one
//!   gridloop append, with the headers an append carries (`Nats-Msg-Id`,
//!   `Nats-Expected-Last-Subject-Sequence` on 64 subjects, `Gridloop-Stream`,
//!   `Gridloop-Versions`), then their 64 acks awaited together; repeated;
//! - **gridloop, N clients**: `NatsStore::append` from N concurrent clients,
//!   each appending to its own stream with the exact expected version and
//!   awaiting its own ack before its next append (so N appends in flight on
//!   the store's one connection);
//! - for scale, raw publishes without headers with acks awaited in batches of
//!   1,000 (what the server takes when nothing waits on anything).
//!
//! The figure the issue asks for is gridloop at 64 clients over raw at 64 in
//! flight. Each mode runs `ROUNDS` times, interleaved, and the median is
//! printed, because the figures come from one noisy two-core machine shared
//! by the server and the client.
//!
//! `cargo bench -p gridloop-benches --bench nats` starts its own
//! nats-server (from `tools/`, see scripts/install-tools), once with the
//! server's default sync (fsync every 2 minutes) and once with
//! `sync_interval: always`, and prints a table; figures go to BENCHMARKS.md.

use std::time::Instant;

use async_nats::jetstream;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_store_conformance::event;
use gridloop_store_nats::server::NatsServer;
use gridloop_store_nats::{NatsConfig, NatsStore};

const EVENTS: usize = 10_240;
const RAW_BATCH: usize = 1_000;
const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 3;
const CLIENTS: [usize; 4] = [1, 16, 64, 256];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("events per run: {EVENTS}, payload ≈ one gridloop event, median of {ROUNDS} interleaved rounds");
    println!("{:<14} {:<34} {:>10} {:>12}", "server sync", "writer", "events/s", "of raw@64");
    for sync_always in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NatsServer::start(dir.path(), sync_always);
        let sync = if sync_always { "always" } else { "default (2m)" };
        runtime.block_on(async { run(&server.url(), sync).await });
    }
}

async fn run(url: &str, sync: &str) {
    let (mut batch, mut raw) = (Vec::new(), Vec::new());
    let mut clients = vec![Vec::new(); CLIENTS.len()];
    for round in 0..ROUNDS {
        batch.push(raw_batched_rate(url, round).await);
        raw.push(raw_in_flight_rate(url, round).await);
        for (index, count) in CLIENTS.into_iter().enumerate() {
            clients[index].push(gridloop_rate(url, count, round * CLIENTS.len() + index).await);
        }
    }
    let raw = median(raw);
    let row = |label: &str, rate: f64| println!("{sync:<14} {label:<34} {rate:>10.0} {:>11.0}%", rate / raw * 100.0);
    row("raw, no headers, acks by 1,000", median(batch));
    row("raw, append headers, 64 in flight", raw);
    for (index, count) in CLIENTS.into_iter().enumerate() {
        row(&format!("gridloop append, {count} clients"), median(clients[index].clone()));
    }
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// The body of a one-event append, as the store would publish it.
fn sample_body() -> Vec<u8> {
    let stream = StreamId::new("ticket-T-1").expect("stream");
    let mut new = event("bench-command-id-0001", 1);
    new.payload = payload();
    let recorded = new.record(stream, 1, 0, gridloop_engine::envelope::Hash::GENESIS);
    gridloop_store_nats::layout::encode(&[recorded]).expect("encode")
}

fn payload() -> serde_json::Value {
    serde_json::json!({
        "candidates": [{"kind": "volunteer", "id": "V-1024"}, {"kind": "volunteer", "id": "V-2048"}],
        "expires_at": "2026-11-23T08:00:00.000Z", "round": 1, "scope": "community"
    })
}

/// A stream with the settings the store gives its own.
async fn raw_stream(url: &str, name: &str) -> jetstream::Context {
    let client = async_nats::connect(url).await.expect("connect");
    let mut js = jetstream::new(client);
    // As the store's: 1,000 acks in flight on a busy machine outlast 5 s.
    js.set_timeout(gridloop_store_nats::REQUEST_TIMEOUT);
    js.create_stream(jetstream::stream::Config {
        name: name.into(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: std::time::Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("raw stream");
    js
}

async fn raw_batched_rate(url: &str, round: usize) -> f64 {
    let js = raw_stream(url, &format!("BATCH{round}")).await;
    let body = sample_body();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(RAW_BATCH);
    for i in 0..EVENTS {
        let ack = js.publish(format!("batch{round}.{}", i % 1_000), body.clone().into()).await.expect("publish");
        pending.push(std::future::IntoFuture::into_future(ack));
        if pending.len() == RAW_BATCH {
            for ack in pending.drain(..) {
                ack.await.expect("ack");
            }
        }
    }
    for ack in pending {
        ack.await.expect("ack");
    }
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

/// 64 publishes with an append's headers, one per subject, each expecting
/// its subject's last sequence; then the 64 acks, awaited together.
async fn raw_in_flight_rate(url: &str, round: usize) -> f64 {
    let name = format!("RAW{round}");
    let js = raw_stream(url, &name).await;
    let body = sample_body();
    let subjects: Vec<String> = (0..IN_FLIGHT).map(|s| format!("raw{round}.ticket.T-{s}")).collect();
    let mut last = [0u64; IN_FLIGHT];
    let started = Instant::now();
    for wave in 0..EVENTS / IN_FLIGHT {
        let mut pending = Vec::with_capacity(IN_FLIGHT);
        for (s, subject) in subjects.iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, format!("r{round}-{wave}-{s}").as_str());
            headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, last[s].to_string().as_str());
            headers.insert(gridloop_store_nats::layout::HEADER_STREAM, format!("ticket-T-{s}").as_str());
            headers.insert(gridloop_store_nats::layout::HEADER_VERSIONS, format!("{}-{}", wave + 1, wave + 1).as_str());
            let ack = js.publish_with_headers(subject.clone(), headers, body.clone().into()).await.expect("publish");
            pending.push(std::future::IntoFuture::into_future(ack));
        }
        // All 64 are on the wire before the first await: awaiting them in
        // order waits for the slowest, as awaiting them together would.
        for (s, ack) in pending.into_iter().enumerate() {
            last[s] = ack.await.expect("ack").sequence;
        }
    }
    (EVENTS / IN_FLIGHT * IN_FLIGHT) as f64 / started.elapsed().as_secs_f64()
}

async fn gridloop_rate(url: &str, clients: usize, run: usize) -> f64 {
    let config = NatsConfig::parse(&format!("{url}?stream=BENCH{run}&prefix=bench{run}")).expect("url");
    let store = NatsStore::connect(config).await.expect("connect");
    let per_client = EVENTS / clients;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move { client(store, c, per_client).await })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("client");
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// Appends `count` one-event appends to the client's own stream, each with
/// the exact expected version, one at a time (as a caller awaiting each
/// command's answer does).
async fn client(store: NatsStore, number: usize, count: usize) -> usize {
    let stream = StreamId::new(format!("ticket-C{number}")).expect("stream");
    let mut version = 0u64;
    for i in 0..count {
        let mut new = event(&format!("c{number}-{i}"), i as u64);
        new.payload = payload();
        let result = store.append(&stream, ExpectedVersion::Exact(version), vec![new]).await.expect("append");
        version = result.last_version;
    }
    count
}
