//! Faults under load: a server killed and restarted, a cluster node killed
//! and returned. Writers retry an append whose outcome they did not learn
//! with the same command id and expected version, as the engine's callers
//! do; in the end every acknowledged append is in the log exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_store_conformance::event;
use gridloop_store_nats::server::{NatsCluster, NatsServer};
use gridloop_store_nats::{NatsConfig, NatsStore};

const WRITERS: usize = 6;
/// How long one append may keep failing (server down) before the test gives up.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// What a writer learnt: command id → (stream, first version, events).
type Acks = HashMap<String, (StreamId, u64, usize)>;

/// One writer: appends 1–3 events at a time to its own streams with exact
/// expected versions until told to stop, retrying unknown outcomes.
async fn writer(store: NatsStore, number: usize, stop: Arc<AtomicBool>) -> Acks {
    let mut acks = Acks::new();
    let mut versions: HashMap<StreamId, u64> = HashMap::new();
    let mut serial = 0u64;
    while !stop.load(Ordering::SeqCst) {
        serial += 1;
        let stream = StreamId::new(format!("test-w{number}s{}", serial % 5)).expect("stream");
        let version = *versions.get(&stream).unwrap_or(&0);
        let command = format!("w{number}-{serial}");
        let count = 1 + (serial % 3) as usize;
        let started = std::time::Instant::now();
        let result = loop {
            let events = (0..count).map(|k| event(&command, k as u64)).collect();
            match store.append(&stream, ExpectedVersion::Exact(version), events).await {
                Err(Error::Storage(_)) if started.elapsed() < RETRY_FOR => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other,
            }
        };
        let result = result.unwrap_or_else(|e| panic!("writer {number}, {command}: {e}"));
        assert_eq!((result.first_version, result.last_version), (version + 1, version + count as u64));
        versions.insert(stream.clone(), result.last_version);
        acks.insert(command, (stream, version + 1, count));
    }
    acks
}

async fn run_writers(store: &NatsStore, stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<Acks>> {
    (0..WRITERS).map(|n| tokio::spawn(writer(store.clone(), n, stop.clone()))).collect()
}

async fn collect(handles: Vec<tokio::task::JoinHandle<Acks>>) -> Acks {
    let mut all = Acks::new();
    for handle in handles {
        all.extend(handle.await.expect("writer"));
    }
    all
}

async fn whole_log(store: &NatsStore) -> Vec<RecordedEvent> {
    let (mut out, mut from) = (Vec::new(), 1);
    loop {
        let page = store.read_all(from, 1_000).await.expect("read_all");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        out.extend(page);
    }
    out
}

/// Every acknowledged append is there once, with its versions; nothing else is.
fn assert_exactly_once(log: &[RecordedEvent], acks: &Acks) {
    let mut by_command: HashMap<&str, Vec<&RecordedEvent>> = HashMap::new();
    for event in log {
        by_command.entry(event.command_id.as_str()).or_default().push(event);
    }
    for (command, (stream, first, count)) in acks {
        let events = by_command.get(command.as_str()).unwrap_or_else(|| panic!("acknowledged {command} was lost"));
        assert_eq!(events.len(), *count, "{command} is in the log {} events, not {count}", events.len());
        assert!(events.iter().all(|e| &e.stream == stream), "{command} is in its stream");
        assert_eq!(events[0].version, *first, "{command} has its versions");
    }
    assert_eq!(by_command.len(), acks.len(), "the log holds no append that was not acknowledged");
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions strictly increase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_under_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = NatsServer::start(dir.path(), true);
    let store = NatsStore::connect(NatsConfig::parse(&server.url()).expect("url")).await.expect("connect");
    let stop = Arc::new(AtomicBool::new(false));
    let handles = run_writers(&store, &stop).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let server = tokio::task::spawn_blocking(move || {
        server.kill();
        std::thread::sleep(Duration::from_millis(500));
        server.restart();
        server
    })
    .await
    .expect("restart");
    // The load goes on after the restart before it stops.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    stop.store(true, Ordering::SeqCst);
    let acks = collect(handles).await;
    assert!(acks.len() > 20, "the writers got work done ({} appends)", acks.len());
    let log = whole_log(&store).await;
    assert_exactly_once(&log, &acks);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_killed_under_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = NatsCluster::start(dir.path(), false);
    let config = NatsConfig::parse(&format!("{}?replicas=3", cluster.urls())).expect("url");
    let store = connect_retrying(config).await;
    let stop = Arc::new(AtomicBool::new(false));
    let handles = run_writers(&store, &stop).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The stream's leader goes: the hardest node to lose.
    let leader = store.leader().await.expect("stream info").expect("a replicated stream has a leader");
    let index = cluster.nodes.iter().position(|n| n.name() == leader).expect("the leader is one of ours");
    let mut node = cluster.nodes.remove(index);
    let node = tokio::task::spawn_blocking(move || {
        node.kill();
        node
    })
    .await
    .expect("kill");
    // The load goes on with two of three nodes.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut node = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.restart();
        node
    })
    .await
    .expect("restart");
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::SeqCst);
    let acks = collect(handles).await;
    assert!(acks.len() > 20, "the writers got work done ({} appends)", acks.len());
    // Read back through the node that was down, once it has caught up.
    let returned = NatsConfig::parse(&format!("{}?replicas=3", node.url())).expect("url");
    let reader = connect_retrying(returned).await;
    let log = whole_log(&reader).await;
    assert_exactly_once(&log, &acks);
    node.kill();
}

async fn connect_retrying(config: NatsConfig) -> NatsStore {
    let mut last = None;
    for _ in 0..100 {
        match NatsStore::connect(config.clone()).await {
            Ok(store) => return store,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot open the store: {last:?}");
}
