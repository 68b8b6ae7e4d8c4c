//! The NATS store against the same server's raw limit, in one run:
//!
//! - **raw**: pipelined async publishes of messages the size of one
//!   gridloop append, acks awaited in batches of 1,000, to a stream with the
//!   same settings (file storage, one replica, duplicate window);
//! - **gridloop**: `NatsStore::append` with optimistic concurrency (exact
//!   expected versions, `Nats-Expected-Last-Subject-Sequence`) and message
//!   ids, from 1, 16, 64 and 256 concurrent writers, each awaiting its own ack.
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

const EVENTS: usize = 20_000;
const RAW_BATCH: usize = 1_000;
const STREAMS_PER_WRITER: usize = 8;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("events per run: {EVENTS}, payload ≈ one gridloop event");
    println!("{:<14} {:<26} {:>10} {:>9}", "server sync", "writer", "events/s", "of raw");
    for sync_always in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NatsServer::start(dir.path(), sync_always);
        let sync = if sync_always { "always" } else { "default (2m)" };
        runtime.block_on(async {
            let raw = raw_rate(&server.url()).await;
            println!("{sync:<14} {:<26} {raw:>10.0} {:>8.0}%", "raw pipelined publish", 100.0);
            for (run, writers) in [1usize, 16, 64, 256].into_iter().enumerate() {
                let rate = gridloop_rate(&server.url(), writers, run).await;
                let label = format!("gridloop, {writers} writers");
                println!("{sync:<14} {label:<26} {rate:>10.0} {:>8.0}%", rate / raw * 100.0);
            }
        });
    }
}

/// The body of a one-event append, as the store would publish it.
fn sample_body() -> Vec<u8> {
    let stream = StreamId::new("ticket-T-1").expect("stream");
    let mut new = event("bench-command-id-0001", 1);
    new.payload = serde_json::json!({
        "candidates": [{"kind": "volunteer", "id": "V-1024"}, {"kind": "volunteer", "id": "V-2048"}],
        "expires_at": "2026-11-23T08:00:00.000Z", "round": 1, "scope": "community"
    });
    let recorded = new.record(stream, 1, 0, gridloop_engine::envelope::Hash::GENESIS);
    gridloop_store_nats::layout::encode(&[recorded]).expect("encode")
}

async fn raw_rate(url: &str) -> f64 {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    js.create_stream(jetstream::stream::Config {
        name: "RAW".into(),
        subjects: vec!["raw.>".into()],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: std::time::Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("raw stream");
    let body = sample_body();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(RAW_BATCH);
    for i in 0..EVENTS {
        let ack = js.publish(format!("raw.{}", i % 1_000), body.clone().into()).await.expect("publish");
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

async fn gridloop_rate(url: &str, writers: usize, run: usize) -> f64 {
    let config = NatsConfig::parse(&format!("{url}?stream=BENCH{run}&prefix=bench{run}")).expect("url");
    let store = NatsStore::connect(config).await.expect("connect");
    let per_writer = EVENTS / writers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move { writer(store, w, per_writer).await })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("writer");
    }
    written as f64 / started.elapsed().as_secs_f64()
}

/// Appends `count` one-event appends round-robin over the writer's own
/// streams, each with the exact expected version.
async fn writer(store: NatsStore, number: usize, count: usize) -> usize {
    let streams: Vec<StreamId> =
        (0..STREAMS_PER_WRITER).map(|s| StreamId::new(format!("ticket-W{number}S{s}")).expect("stream")).collect();
    let mut versions = vec![0u64; STREAMS_PER_WRITER];
    for i in 0..count {
        let s = i % STREAMS_PER_WRITER;
        let mut new = event(&format!("w{number}-{i}"), i as u64);
        new.payload = serde_json::json!({
            "candidates": [{"kind": "volunteer", "id": "V-1024"}, {"kind": "volunteer", "id": "V-2048"}],
            "expires_at": "2026-11-23T08:00:00.000Z", "round": 1, "scope": "community"
        });
        let result = store.append(&streams[s], ExpectedVersion::Exact(versions[s]), vec![new]).await.expect("append");
        versions[s] = result.last_version;
    }
    count
}
