//! A small log for the auditor's tests: three streams, one written by a
//! two-event append. Shared by the projections' audit tests and the CLI's
//! (which include this file), so the fixture is written once.

use gridloop_engine::envelope::NewEvent;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{EventStore, ExpectedVersion, MemoryStore};
use serde_json::{Value, json};

pub fn new_event(n: u32, command: &str, payload: Value) -> NewEvent {
    serde_json::from_value(json!({
        "event_id": format!("01a19c2a-99c0-79d2-bba1-{n:012x}"),
        "occurred_at": "2026-11-02T12:00:00.000Z",
        "actor": { "role": "system", "id": "gridloop" },
        "command_id": command,
        "correlation_id": "c-1",
        "schema": "test.noted/1",
        "payload": payload,
    }))
    .expect("a valid event")
}

pub fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("a stream name")
}

/// Three streams, one of them written by a two-event append.
pub async fn small_log() -> MemoryStore {
    let store = MemoryStore::new();
    let appends: [(&str, ExpectedVersion, &str, usize); 5] = [
        ("test-a", ExpectedVersion::NoStream, "c1", 1),
        ("test-b", ExpectedVersion::NoStream, "c2", 2),
        ("test-a", ExpectedVersion::Exact(1), "c3", 1),
        ("test-c", ExpectedVersion::NoStream, "c4", 1),
        ("test-a", ExpectedVersion::Exact(2), "c5", 1),
    ];
    let mut n = 0;
    for (name, expected, command, count) in appends {
        let events = (0..count)
            .map(|_| {
                n += 1;
                new_event(n, command, json!({ "text": format!("note {n}"), "n": n }))
            })
            .collect();
        store.append(&stream(name), expected, events).await.expect("append");
    }
    store
}
