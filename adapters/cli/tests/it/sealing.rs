//! Seals through the CLI's library: a key is made once, a seal is appended
//! and journaled, and a log with a stream removed, or cut after a seal,
//! fails the check while the honest log passes.

use std::sync::Arc;

use gridloop_cli::demo::{self, DemoConfig};
use gridloop_cli::sealing::{check_seals, init_key, seal_now};
use gridloop_engine::envelope::{NewEvent, RecordedEvent};
use gridloop_engine::store::{EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::time::Timestamp;
use gridloop_projections::cold::Cold;

async fn demo_store() -> MemoryStore {
    let store = MemoryStore::new();
    let district = Arc::new(gridloop_fixtures::chikan(8).expect("fixture"));
    let config = DemoConfig { orders_per_day: 20, ..DemoConfig::new(1, 8) };
    demo::run(store.clone(), district, &config, |_, _| {}).await.expect("demo");
    store
}

/// A copy of `events` (minus what `keep` rejects) in a new store, appended
/// as the original appends were, so every hash comes out the same.
async fn copy(events: &[RecordedEvent], keep: impl Fn(&RecordedEvent) -> bool) -> MemoryStore {
    let store = MemoryStore::new();
    let mut i = 0;
    while i < events.len() {
        let first = &events[i];
        let mut group = vec![];
        while i < events.len() && events[i].stream == first.stream && events[i].command_id == first.command_id {
            group.push(events[i].clone());
            i += 1;
        }
        if !keep(first) {
            continue;
        }
        let news: Vec<NewEvent> = group.iter().map(RecordedEvent::to_new).collect();
        store.append(&first.stream, ExpectedVersion::Any, news).await.expect("appends");
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_pass_on_the_honest_log_and_name_a_removed_stream_or_a_cut_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let public = init_key(dir.path()).expect("makes a key");
    assert_eq!(public.len(), 64);
    assert!(init_key(dir.path()).is_err(), "a second key is refused");
    let store = demo_store().await;
    let now = Timestamp::parse("2026-12-01T00:00:00Z").expect("valid");
    seal_now(&store, dir.path(), now, &Cold::default()).await.expect("seals");
    let report = check_seals(&store, dir.path(), |_| {}).await.expect("the honest log verifies");
    assert_eq!(report.seals, 1, "the seal event and its journal line are one seal");

    let events = store.snapshot();
    let victim = events.iter().find(|e| e.stream.kind() == "ticket").expect("a ticket").stream.clone();
    let without = copy(&events, |e| e.stream != victim).await;
    let err = check_seals(&without, dir.path(), |_| {}).await.expect_err("a removed stream is caught");
    // Removing a stream also renumbers the copy's positions, so the check
    // may meet the journal's seal past the end first: either way it names
    // the seal that fails.
    let text = err.to_string();
    assert!(text.contains("seal at position") && (text.contains("removed") || text.contains("truncated")), "{text}");

    let half = events.len() / 2;
    let cut = copy(&events[..half], |_| true).await;
    let err = check_seals(&cut, dir.path(), |_| {}).await.expect_err("a cut log is caught by the journal");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn the_key_file_is_private_and_must_be_well_formed() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_key(dir.path()).expect("makes a key");
    let path = gridloop_cli::sealing::key_path(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only its owner may read the key");
    }
    std::fs::write(&path, "not a key").expect("overwrite");
    let err = gridloop_cli::sealing::load_key(dir.path()).expect_err("refused");
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    // 64 bytes, but a multi-byte character straddles a digit pair: the key
    // was once cut by byte index there, and the cut panicked.
    let straddling = format!("{}é{}", "a".repeat(31), "b".repeat(31));
    assert_eq!(straddling.len(), 64);
    std::fs::write(&path, &straddling).expect("overwrite");
    let err = gridloop_cli::sealing::load_key(dir.path()).expect_err("refused, not a panic");
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    for bad in ["+f".repeat(32), "十".repeat(21) + "a", format!("{}g", "0".repeat(63))] {
        assert_eq!(gridloop_cli::sealing::parse_key(&bad), None, "{bad:?}");
    }
    let key = "0123456789abcdefABCDEF".repeat(3)[..64].to_string();
    assert_eq!(
        gridloop_cli::sealing::parse_key(&format!(" {key}\n")).map(|k| k[..3].to_vec()),
        Some(vec![0x01, 0x23, 0x45])
    );
}
