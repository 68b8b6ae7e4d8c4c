//! `gridloop audit`, `export` and `import`: a ticket's timeline and its
//! as-of views against the engine's own fold, the hash chain checks, and
//! moving a log between stores byte for byte, refusing broken files whole.

use std::path::{Path, PathBuf};

use gridloop_cli::audit::{self, ImportError};
use gridloop_engine::envelope::{Hash, RecordedEvent};
use gridloop_engine::service::fold;
use gridloop_engine::store::{EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::ticket::Ticket;
use gridloop_engine::time::Timestamp;
use gridloop_projections::audit::verify_log;
use serde_json::{Value, json};

use crate::small_log::{new_event, small_log, stream};
use crate::support::{gridloop, stderr, stdout};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A one-day demo store in `dir/name`.
fn demo(dir: &Path, name: &str) -> PathBuf {
    let data = dir.join(name);
    let out = gridloop(&["demo", "--days", "1", "--orders-per-day", "30", "--seed", "2", "--data", path(&data)]);
    assert!(out.status.success(), "demo: {}", stderr(&out));
    data
}

fn export(data: &Path) -> Vec<u8> {
    let out = gridloop(&["export", "--data", path(data)]);
    assert!(out.status.success(), "export: {}", stderr(&out));
    out.stdout
}

fn parse_log(ndjson: &[u8]) -> Vec<RecordedEvent> {
    ndjson
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("an export line is an event"))
        .collect()
}

fn stream_of(log: &[RecordedEvent], ticket: &str) -> Vec<RecordedEvent> {
    log.iter().filter(|e| e.stream.as_str() == format!("ticket-{ticket}")).cloned().collect()
}

/// The ticket with the longest stream (escalations, reopenings...).
fn busiest_ticket(log: &[RecordedEvent]) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for event in log.iter().filter(|e| e.stream.kind() == "ticket") {
        *counts.entry(event.stream.id()).or_default() += 1;
    }
    counts.into_iter().max_by_key(|&(id, n)| (n, std::cmp::Reverse(id))).expect("tickets").0.to_string()
}

fn audit_json(data: &Path, ticket: &str, extra: &[&str]) -> Value {
    let mut args = vec!["audit", ticket, "--json", "--data", path(data)];
    args.extend_from_slice(extra);
    let out = gridloop(&args);
    assert!(out.status.success(), "audit {ticket} {extra:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("audit --json prints JSON")
}

#[test]
fn audit_shows_a_timeline_and_as_of_equals_the_fold_of_a_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demo(dir.path(), "demo");
    let log = parse_log(&export(&data));
    let ticket = busiest_ticket(&log);
    let events = stream_of(&log, &ticket);
    assert!(events.len() >= 5, "{ticket} has a story: {} events", events.len());

    let text = gridloop(&["audit", &ticket, "--data", path(&data)]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    for part in ["ticket.submitted/3", "submitted ", "accept by", "→ ", "deadline accept", "state now:", "v1 "] {
        assert!(text.contains(part), "the timeline lacks {part:?}:\n{text}");
    }
    assert_eq!(text.lines().filter(|l| l.starts_with('v')).count(), events.len(), "one block per event:\n{text}");

    let answer = audit_json(&data, &ticket, &["--verify"]);
    assert_eq!(answer["ticket"], ticket.as_str());
    assert_eq!(answer["as_of"], Value::Null);
    assert_eq!(answer["verified"]["events"], events.len() as u64);
    assert_eq!(answer["verified"]["head"], events.last().expect("events").hash.to_string());
    let shown = answer["events"].as_array().expect("events");
    assert_eq!(shown.len(), events.len());
    for (entry, event) in shown.iter().zip(&events) {
        assert_eq!(entry["version"], event.version);
        assert_eq!(entry["time"], event.occurred_at.to_string());
        assert_eq!(entry["actor"]["role"], serde_json::to_value(event.actor.role).expect("role"));
        assert_eq!(entry["actor"]["id"], event.actor.id.as_str());
        assert_eq!(entry["event"], event.schema.to_string());
        assert!(!entry["change"].as_str().expect("change").is_empty());
        let after: Ticket = fold(&events[..event.version as usize]).expect("folds");
        assert_eq!(entry["state_after"]["status"], serde_json::to_value(after.status).expect("status"));
        assert_eq!(entry["state_after"]["holder"], serde_json::to_value(&after.holder).expect("holder"));
        assert!(entry["deadlines"].is_array());
    }
    let whole: Ticket = fold(&events).expect("folds");
    assert_eq!(answer["state"]["status"], serde_json::to_value(whole.status).expect("status"));
    assert_eq!(answer["state"]["version"], events.len() as u64);

    // As of: before the submission, at and just after a few events, after
    // the last; each equals the engine's fold of that prefix of the stream.
    let mut instants = vec![events[0].occurred_at.as_millis() - 1];
    for event in events.iter().step_by(2) {
        instants.push(event.occurred_at.as_millis());
        instants.push(event.occurred_at.as_millis() + 60_000);
    }
    instants.push(events.last().expect("events").occurred_at.as_millis() + 86_400_000);
    for &ms in &instants {
        let as_of = Timestamp::from_millis(ms).expect("in range");
        let prefix: Vec<RecordedEvent> = events.iter().take_while(|e| e.occurred_at <= as_of).cloned().collect();
        let filtered = events.iter().filter(|e| e.occurred_at <= as_of).count();
        assert_eq!(prefix.len(), filtered, "a stream's times never go backwards");
        let then: Ticket = fold(&prefix).expect("folds");
        let answer = audit_json(&data, &ticket, &["--as-of", &as_of.to_string()]);
        assert_eq!(answer["as_of"], as_of.to_string());
        assert_eq!(answer["events"].as_array().expect("events").len(), prefix.len(), "as of {as_of}");
        assert_eq!(answer["later_events"], (events.len() - prefix.len()) as u64);
        let state = &answer["state"];
        assert_eq!(state["status"], serde_json::to_value(then.status).expect("status"), "as of {as_of}");
        assert_eq!(state["holder"], serde_json::to_value(&then.holder).expect("holder"), "as of {as_of}");
        assert_eq!(state["tier"], serde_json::to_value(then.tier).expect("tier"), "as of {as_of}");
        assert_eq!(state["version"], then.version);
        let expected: Vec<Value> = then
            .pending_deadlines()
            .into_iter()
            .map(|(kind, due)| json!({ "kind": kind, "due": due, "overdue": due <= as_of }))
            .collect();
        assert_eq!(state["deadlines"], Value::Array(expected), "as of {as_of}");
    }

    let all = gridloop(&["audit", "--all", "--verify", "--data", path(&data)]);
    assert!(all.status.success(), "{}", stderr(&all));
    assert!(stdout(&all).contains(&format!("{} events", log.len())) && stdout(&all).contains("OK"), "{}", stdout(&all));
    let all_json = gridloop(&["audit", "--all", "--verify", "--json", "--data", path(&data)]);
    let all_json: Value = serde_json::from_slice(&all_json.stdout).expect("json");
    assert_eq!(all_json["log"]["events"], log.len() as u64);

    for (args, says) in [
        (vec!["audit", "T-99999", "--data", path(&data)], "T-99999 not found"),
        (vec!["audit", "ticket-1", "--data", path(&data)], "is not a ticket id"),
        (vec!["audit", &ticket, "--as-of", "yesterday", "--data", path(&data)], "--as-of"),
        (vec!["audit", "--all", "--data", path(&data)], "--verify"),
        (vec!["audit", "--data", path(&data)], "TICKET"),
    ] {
        let out = gridloop(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(says), "{args:?} should say {says:?}: {}", stderr(&out));
    }
}

#[test]
fn export_import_export_is_byte_identical_and_a_non_empty_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demo(dir.path(), "demo");
    let first = export(&data);
    assert!(!first.is_empty() && first.ends_with(b"\n"));
    let file = dir.path().join("log.ndjson");
    std::fs::write(&file, &first).expect("write");

    let copy = dir.path().join("copy");
    let out = gridloop(&["import", path(&file), "--data", path(&copy)]);
    assert!(out.status.success(), "import: {}", stderr(&out));
    assert!(stdout(&out).contains("imported"), "{}", stdout(&out));
    assert_eq!(export(&copy), first, "export → import → export gives the same bytes");
    let verified = gridloop(&["audit", "--all", "--verify", "--data", path(&copy)]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // Part of the log, from a position on.
    let log = parse_log(&first);
    let from = log[log.len() / 2].position;
    let tail = gridloop(&["export", "--from", &from.to_string(), "--data", path(&data)]);
    assert!(tail.status.success());
    assert_eq!(parse_log(&tail.stdout), log[log.len() / 2..].to_vec());

    for target in [&data, &copy] {
        let again = gridloop(&["import", path(&file), "--data", path(target)]);
        assert!(!again.status.success());
        assert!(stderr(&again).contains("already holds"), "{}", stderr(&again));
    }
    assert_eq!(export(&copy), first, "a refused import writes nothing");
}

/// Flips one ASCII letter inside the payload's first string value, so that
/// the line is still valid JSON.
fn flip_in_payload(line: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(line).expect("utf-8");
    let start = text.find("\"payload\":").expect("a payload");
    let end = text.find("\"prev_hash\"").expect("prev_hash after the payload");
    let at = (start + 10..end)
        .find(|&i| text.as_bytes()[i].is_ascii_alphabetic() && text[..i].ends_with("\":\""))
        .expect("a string value in the payload");
    let mut out = line.to_vec();
    out[at] ^= 0x01;
    out
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect()
}

#[test]
fn a_broken_line_stops_the_import_with_its_number_and_nothing_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demo(dir.path(), "demo");
    let good = lines(&export(&data));
    let log = parse_log(&join(&good));
    // A ticket's second event late in the file, and its third.
    let (index, second) = log
        .iter()
        .enumerate()
        .rev()
        .find(|(_, e)| e.stream.kind() == "ticket" && e.version == 2)
        .expect("a ticket's second event");
    let third = log.iter().position(|e| e.stream == second.stream && e.version == 3).expect("a third event");

    let mut flipped = good.clone();
    flipped[index] = flip_in_payload(&good[index]);
    assert!(serde_json::from_slice::<Value>(&flipped[index]).is_ok(), "still valid JSON");
    let mut truncated = good.clone();
    truncated[index].truncate(good[index].len() / 2);
    let mut garbage = good.clone();
    garbage[6] = b"hello, auditor".to_vec();
    let mut gap = good.clone();
    gap.remove(index); // the stream's v3 now follows v1
    let mut empty_line = good.clone();
    empty_line.insert(3, Vec::new());
    // Two neighbouring events of different streams, swapped: each stream's
    // versions still run on, only the positions go back.
    let neighbours = log.windows(2).position(|w| w[0].stream != w[1].stream).expect("two streams side by side");
    let mut reordered = good.clone();
    reordered.swap(neighbours, neighbours + 1);
    let mut long = good.clone();
    long[2] = vec![b' '; audit::IMPORT_LINE_BYTES_MAX + 1];

    let n = index as u64 + 1;
    let cases: [(&str, Vec<u8>, u64, &str); 7] = [
        ("flipped", join(&flipped), n, "hash does not match"),
        ("truncated", join(&truncated), n, "not an event"),
        ("garbage", join(&garbage), 7, "not an event"),
        ("gap", join(&gap), third as u64, "without gaps"),
        ("empty-line", join(&empty_line), 4, "empty line"),
        ("reordered", join(&reordered), neighbours as u64 + 2, "position"),
        ("long", join(&long), 3, "longer than"),
    ];
    for (name, bytes, line, says) in cases {
        let file = dir.path().join(format!("{name}.ndjson"));
        std::fs::write(&file, bytes).expect("write");
        // Into a directory that does not exist yet, and into an empty one.
        let new = dir.path().join(format!("{name}-new"));
        let empty = dir.path().join(format!("{name}-empty"));
        std::fs::create_dir(&empty).expect("mkdir");
        for target in [&new, &empty] {
            let out = gridloop(&["import", path(&file), "--data", path(target)]);
            assert!(!out.status.success(), "{name} should fail");
            let message = stderr(&out);
            assert!(message.contains(&format!("line {line}: ")), "{name} should name line {line}: {message}");
            assert!(message.contains(says), "{name} should say {says:?}: {message}");
        }
        assert!(!new.exists(), "{name}: a failed import creates no store");
        let after = gridloop(&["export", "--data", path(&empty)]);
        assert!(after.status.success() && after.stdout.is_empty(), "{name}: the store stays empty");
    }
}

// ---------------------------------------------------------------------------
// The library, on the in-memory store
// ---------------------------------------------------------------------------

/// `verify_store` reads the whole store and finds what the library's
/// `verify_log` finds in the same events.
#[tokio::test]
async fn verify_store_reads_the_whole_log_and_verifies_it() {
    let store = small_log().await;
    let summary = verify_log(store.snapshot()).expect("an untouched log verifies");
    assert_eq!((summary.events, summary.streams), (6, 3));
    assert_eq!(audit::verify_store(&store, |_| {}).await.expect("verifies"), summary);
}

async fn export_to(store: &MemoryStore, file: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    audit::export(store, 1, &mut bytes, |_| {}).await.expect("export");
    std::fs::write(file, &bytes).expect("write");
    bytes
}

#[tokio::test]
async fn import_through_the_store_trait_round_trips_and_keeps_appends_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = small_log().await;
    let file = dir.path().join("log.ndjson");
    let bytes = export_to(&source, &file).await;
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 6);

    let target = MemoryStore::new();
    let mut phases = Vec::new();
    let summary =
        audit::import(&target, &file, |phase, done, total| phases.push((phase, done, total))).await.expect("imports");
    assert_eq!((summary.events, summary.appends, summary.streams), (6, 5, 3));
    assert_eq!(target.snapshot(), source.snapshot(), "the same envelopes, positions included");
    assert!(phases.contains(&(audit::ImportPhase::Appending, 6, 6)), "{phases:?}");
    // The two-event append is one append again: its command id was taken
    // once, so a repeat writes nothing.
    let repeat = target.append(&stream("test-b"), ExpectedVersion::Any, vec![new_event(99, "c2", json!({}))]).await;
    assert!(repeat.expect("answers").duplicate);

    let again = audit::import(&target, &file, |_, _, _| {}).await.expect_err("not empty");
    assert!(matches!(again, ImportError::NotEmpty), "{again}");

    // A command id reused by a later append (which no store writes) would be
    // dropped as a repeat: the file is refused at that line.
    let first = new_event(1, "c1", json!({})).record(stream("test-a"), 1, 1, Hash::GENESIS);
    let reused = new_event(2, "c1", json!({})).record(stream("test-b"), 1, 2, Hash::GENESIS);
    let lines = [&first, &reused].map(|e| serde_json::to_string(e).expect("json")).join("\n");
    let bad = dir.path().join("reused.ndjson");
    std::fs::write(&bad, lines).expect("write");
    let empty = MemoryStore::new();
    let error = audit::import(&empty, &bad, |_, _, _| {}).await.expect_err("refused");
    assert!(matches!(error, ImportError::Line { line: 2, .. }), "{error}");
    assert!(error.to_string().contains("earlier append"), "{error}");
    assert!(empty.snapshot().is_empty(), "nothing written");
}

/// Opens the store's sled database directly. A handle dropped a moment ago
/// may still hold sled's file lock (its flusher thread lets go on its own
/// time), so a refused lock is retried for up to ten seconds.
fn open_sled(path: &std::path::Path) -> sled::Db {
    for _ in 0..200 {
        match gridloop_store_sled::open_database(path) {
            Ok(db) => return db,
            Err(gridloop_store_sled::SledStoreError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("the store's database opens: {e}"),
        }
    }
    panic!("the store's database stayed locked for ten seconds")
}

/// The drill on sled: a byte of a stored event changed in the database
/// itself (as someone with the data directory and sled's own API could, so
/// that sled's checksums stay right), for 24 seeded events and bytes; every
/// time `audit --all --verify` fails and names the event's position.
#[test]
fn a_byte_changed_in_a_sled_record_is_named_by_audit_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demo(dir.path(), "demo");
    let events = parse_log(&export(&data)).len() as u64;
    let mut rng = gridloop_engine::rng::SplitMix64::new(2026);
    for drill in 0..24 {
        let position = 1 + rng.below(events);
        let key = [&b"e"[..], &position.to_be_bytes()].concat();
        let (original, at) = {
            let db = open_sled(&data);
            let original = db.get(&key).expect("read").expect("the event is stored").to_vec();
            let at = rng.below(original.len() as u64) as usize;
            let mut changed = original.clone();
            changed[at] ^= 1 + rng.below(255) as u8;
            db.insert(&key, changed).expect("write");
            db.flush().expect("flush");
            (original, at)
        };
        let out = gridloop(&["audit", "--all", "--verify", "--data", path(&data)]);
        let said = stderr(&out);
        assert!(!out.status.success(), "drill {drill}: byte {at} of position {position} changed, yet the log verifies");
        assert!(said.contains(&format!("position {position}")), "drill {drill}: names position {position}: {said}");
        let db = open_sled(&data);
        db.insert(&key, original).expect("restore");
        db.flush().expect("flush");
    }
    let out = gridloop(&["audit", "--all", "--verify", "--data", path(&data)]);
    assert!(out.status.success(), "restored, the log verifies again: {}", stderr(&out));
}
