//! Bytes on disk per event, in each format, for the same events.
//!
//! ```text
//! gridloop demo --days 7 --orders-per-day 1000 --data D
//! gridloop export --data D > log.ndjson
//! cargo run --release -p gridloop-store-sled --example disk -- log.ndjson WORK_DIR
//! ```
//!
//! Appends the export's events (64 clients, each with its own streams, so
//! that appends group-commit as in `serve`) into a new directory of format 1
//! and one of format 2, then reopens each and reads the whole log. Prints,
//! per format: the events' JSON bytes, the keys and values sled holds (what
//! it is asked to keep), the directory's bytes on disk (`du`), and append
//! and read events/s.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::{EventStore, ExpectedVersion, READ_BATCH_MAX};
use gridloop_store_sled::{Format, SledStore};

const CLIENTS: usize = 64;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, log, work] = &args[..] else { panic!("usage: disk LOG.ndjson WORK_DIR") };
    let text = std::fs::read_to_string(log).expect("the export reads");
    let events: Vec<RecordedEvent> =
        text.lines().map(|line| serde_json::from_str(line).expect("an envelope per line")).collect();
    let json: u64 = text.lines().map(|line| line.len() as u64).sum();
    println!("{} events, {json} bytes of JSON, {:.0} B/event", events.len(), json as f64 / events.len() as f64);
    for format in [Format::One, Format::Two, Format::Three] {
        let dir = Path::new(work).join(format!("{format:?}"));
        let _ = std::fs::remove_dir_all(&dir);
        let appended = append_all(&dir, format, &events).await;
        let (read, logical) = read_all(&dir).await;
        let disk = du(&dir);
        let n = events.len() as f64;
        println!(
            "{format:?}: {:.0} B/event on disk ({:.2}x the JSON); sled holds {:.0} B/event of keys and values \
             (sled's own overhead {:.2}x); append {:.0} events/s, read {:.0} events/s",
            disk as f64 / n,
            disk as f64 / json as f64,
            logical as f64 / n,
            disk as f64 / logical as f64,
            appended,
            read
        );
    }
}

/// Appends every event, each append being one stream's run of one
/// command, by 64 clients each owning some streams; events/s.
async fn append_all(dir: &Path, format: Format, events: &[RecordedEvent]) -> f64 {
    let store = SledStore::open_or_create(dir, format).expect("open");
    let mut clients: Vec<Vec<Vec<RecordedEvent>>> = vec![Vec::new(); CLIENTS];
    let mut owner: HashMap<String, usize> = HashMap::new();
    for event in events {
        let next = owner.len() % CLIENTS;
        let client = *owner.entry(event.stream.to_string()).or_insert(next);
        let appends = &mut clients[client];
        match appends.last_mut() {
            Some(last) if last[0].stream == event.stream && last[0].command_id == event.command_id => {
                last.push(event.clone())
            }
            _ => appends.push(vec![event.clone()]),
        }
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|appends| {
            let store = store.clone();
            tokio::spawn(async move {
                for append in appends {
                    let expected = ExpectedVersion::Exact(append[0].version - 1);
                    let new = append.iter().map(RecordedEvent::to_new).collect();
                    store.append(&append[0].stream, expected, new).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client");
    }
    events.len() as f64 / started.elapsed().as_secs_f64()
}

/// Reads the whole log after a reopen (sled's cache empty); events/s, and
/// the bytes of every key and value in every tree.
async fn read_all(dir: &Path) -> (f64, u64) {
    let opened = Instant::now();
    let store = reopen(dir);
    // sled writes its snapshot only at open: the first reopen replays every
    // page written since the directory was created.
    println!("  reopen (sled's recovery of every write since the last open): {:.2}s", opened.elapsed().as_secs_f64());
    drop(store);
    let opened = Instant::now();
    let store = reopen(dir);
    println!("  a second reopen (nothing written since): {:.2}s", opened.elapsed().as_secs_f64());
    let started = Instant::now();
    let (mut from, mut count) = (1, 0u64);
    loop {
        let page = store.read_all(from, READ_BATCH_MAX).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        count += page.len() as u64;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    drop(store);
    let db = loop {
        match gridloop_store_sled::open_database(dir) {
            Ok(db) => break db,
            Err(gridloop_store_sled::SledStoreError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("raw: {e}"),
        }
    };
    let mut logical = 0u64;
    for name in db.tree_names() {
        for entry in db.open_tree(name).expect("tree").iter() {
            let (k, v) = entry.expect("entry");
            logical += (k.len() + v.len()) as u64;
        }
    }
    (rate, logical)
}

/// Opens `dir` again, waiting for the last handle's flusher to let go of
/// sled's lock.
fn reopen(dir: &Path) -> SledStore {
    for _ in 0..200 {
        match SledStore::open(dir) {
            Ok(store) => return store,
            Err(gridloop_store_sled::SledStoreError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
    panic!("the store stayed locked")
}

/// Bytes the directory takes on disk, as `du` counts them (blocks).
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("dir") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() { du(&entry.path()) } else { meta.blocks() * 512 };
    }
    total
}
