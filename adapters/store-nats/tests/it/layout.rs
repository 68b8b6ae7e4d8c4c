//! What another NATS client sees, and what gridloop refuses to open.

use async_nats::jetstream;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_store_conformance::event;
use gridloop_store_nats::server::NatsServer;
use gridloop_store_nats::{NatsConfig, NatsStore, NatsStoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_nats_client_reads_one_message_per_append_on_the_aggregate_subject() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = NatsServer::start(dir.path(), false);
    let store = NatsStore::connect(NatsConfig::parse(&server.url()).expect("url")).await.expect("connect");
    let stream = StreamId::new("ticket-T-7").expect("stream");
    let appended =
        store.append(&stream, ExpectedVersion::NoStream, vec![event("cmd-7", 1), event("cmd-7", 2)]).await.unwrap();
    let client = async_nats::connect(server.url()).await.expect("a plain client");
    let js = jetstream::new(client);
    let raw = js.get_stream("GRIDLOOP").await.expect("the stream");
    let message = raw.get_last_raw_message_by_subject("gridloop.ticket.T-7").await.expect("the message");
    assert_eq!(message.headers.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str()), Some("cmd-7"));
    assert_eq!(message.headers.get("Gridloop-Stream").map(|v| v.as_str()), Some("ticket-T-7"));
    assert_eq!(message.headers.get("Gridloop-Versions").map(|v| v.as_str()), Some("1-2"));
    let body: Vec<serde_json::Value> = serde_json::from_slice(&message.payload).expect("a JSON array");
    assert_eq!(body.len(), 2, "one message carries the whole append");
    assert_eq!(gridloop_store_nats::layout::position(message.sequence, 1), appended.position);
    let info = js.get_stream("GRIDLOOP").await.expect("stream").cached_info().config.clone();
    assert_eq!(
        info.duplicate_window,
        std::time::Duration::from_secs(600),
        "the duplicate window is set, not defaulted"
    );
    assert!(info.deny_delete && info.deny_purge, "a log of record refuses deletes and purges");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_could_drop_events_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = NatsServer::start(dir.path(), false);
    let client = async_nats::connect(server.url()).await.expect("client");
    let js = jetstream::new(client);
    js.create_stream(jetstream::stream::Config {
        name: "GRIDLOOP".into(),
        subjects: vec!["gridloop.>".into()],
        max_age: std::time::Duration::from_secs(86_400),
        duplicate_window: std::time::Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .expect("an operator's stream");
    let refused = NatsStore::connect(NatsConfig::parse(&server.url()).expect("url")).await.expect_err("refused");
    assert!(matches!(refused, NatsStoreError::StreamConfig { field: "max_age", .. }), "{refused}");
    assert!(refused.to_string().contains("max_age"), "the message names the setting: {refused}");
    let kept = js.get_stream("GRIDLOOP").await.expect("stream").cached_info().config.max_age;
    assert_eq!(kept, std::time::Duration::from_secs(86_400), "the stream was not altered");
    let missing = NatsConfig::parse(&format!("{}?stream=OTHER&prefix=other&create=false", server.url())).unwrap();
    let refused = NatsStore::connect(missing).await.expect_err("not created");
    assert!(refused.to_string().contains("does not exist"), "{refused}");
}
