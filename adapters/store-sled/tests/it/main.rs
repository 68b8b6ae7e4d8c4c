//! The sled store passes the shared conformance suite, and keeps its own
//! promises: durability across reopen, refusing foreign or busy directories.

use gridloop_engine::envelope::verify_stream;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_store_conformance::event;
use gridloop_store_sled::{SledStore, SledStoreError};

/// A store in a fresh temporary directory, removed when the guard drops.
async fn fresh() -> (SledStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(&dir.path().join("data")).expect("open");
    (store, dir)
}

gridloop_store_conformance::conformance_tests!(fresh());

fn stream(name: &str) -> StreamId {
    StreamId::new(format!("test-{name}")).expect("valid")
}

#[tokio::test]
async fn events_survive_reopen_and_positions_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    {
        let store = SledStore::open(&data).expect("open");
        store
            .append(&stream("a"), ExpectedVersion::NoStream, vec![event("a1", 1), event("a1", 2)])
            .await
            .expect("append");
        store.append(&stream("b"), ExpectedVersion::NoStream, vec![event("b1", 3)]).await.expect("append");
    }
    let store = SledStore::open(&data).expect("reopen");
    assert_eq!(store.head_position(), 3);
    let a = store.read_stream(&stream("a"), 1).await.expect("read");
    assert_eq!(a.len(), 2);
    verify_stream(&a).expect("chain intact");
    let appended =
        store.append(&stream("a"), ExpectedVersion::Exact(2), vec![event("a2", 4)]).await.expect("append after reopen");
    assert_eq!((appended.last_version, appended.position), (3, 4));
    verify_stream(&store.read_stream(&stream("a"), 1).await.expect("read")).expect("chain continues across reopen");
    let repeat = store.append(&stream("b"), ExpectedVersion::Any, vec![event("b1", 3)]).await.expect("repeat");
    assert!(repeat.duplicate, "the command index survives reopen");
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = SledStore::open(dir.path()).expect("open");
    match SledStore::open(dir.path()) {
        Err(SledStoreError::InUse { .. }) => {}
        other => panic!("expected InUse, got {other:?}"),
    }
}

#[test]
fn a_directory_holding_something_else_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("thesis.docx"), b"precious").expect("write");
    let err = SledStore::open(dir.path()).expect_err("refused");
    assert!(matches!(err, SledStoreError::NotADataDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("thesis.docx"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("thesis.docx")).expect("untouched"), b"precious");
}

#[test]
fn a_corrupt_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledStore::open(dir.path()).expect("open"));
    let log = dir.path().join("log");
    for entry in std::fs::read_dir(&log).expect("log dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::write(&path, vec![0xA5; 4096]).expect("scribble");
        }
    }
    let err = SledStore::open(dir.path()).expect_err("refused");
    assert!(matches!(err, SledStoreError::Corrupt { .. } | SledStoreError::Io { .. }), "{err:?}");
}

#[tokio::test]
async fn projection_snapshots_survive_reopen() {
    use gridloop_projections::runner::SnapshotStore;
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        let snapshots = store.snapshots().expect("snapshots");
        snapshots.save("board", b"{\"checkpoint\":7}").expect("save");
        snapshots.save("board", b"{\"checkpoint\":9}").expect("overwrite");
    }
    let store = SledStore::open(dir.path()).expect("reopen");
    let snapshots = store.snapshots().expect("snapshots");
    assert_eq!(snapshots.load("board").expect("load").as_deref(), Some(&b"{\"checkpoint\":9}"[..]));
    assert_eq!(snapshots.load("metrics").expect("load"), None);
}

#[test]
fn personal_data_is_encrypted_per_resident_and_erasable() {
    use gridloop_engine::ids::ResidentId;
    use gridloop_engine::personal::{Lookup, Person, PersonalStore};
    let dir = tempfile::tempdir().expect("tempdir");
    let ming = ResidentId::new("r-1").expect("valid");
    let other = ResidentId::new("r-2").expect("valid");
    let person = Person::new("王小明", "13800138000", "赤坎区中华街道新江社区3栋201").expect("valid");
    {
        let store = SledStore::open(dir.path()).expect("open");
        let personal = store.personal().expect("personal");
        personal.put(&ming, &person).expect("put");
        personal.put(&other, &Person::new("李四", "", "").expect("valid")).expect("put");
        assert_eq!(personal.get(&ming).expect("get"), Lookup::Found(person.clone()));
    }
    // Nothing readable lands on disk.
    let mut plain_found = false;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        plain_found |= bytes.windows("13800138000".len()).any(|w| w == b"13800138000");
    }
    assert!(!plain_found, "the phone number is not stored in clear");
    let store = SledStore::open(dir.path()).expect("reopen");
    let personal = store.personal().expect("personal");
    assert!(personal.erase(&ming).expect("erase"));
    assert_eq!(personal.get(&ming).expect("get"), Lookup::Erased);
    assert!(!personal.erase(&ming).expect("erase again"), "a second erase finds nothing");
    assert!(matches!(personal.get(&other).expect("get"), Lookup::Found(_)), "others are untouched");
    assert_eq!(personal.get(&ResidentId::new("r-9").expect("valid")).expect("get"), Lookup::Unknown);
    assert!(Person::new(&"长".repeat(201), "", "").is_err(), "fields are bounded");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// Photos in the store's database pass the blob suite, survive a reopen,
/// and a changed one is refused as corrupt.
mod blobs {
    use gridloop_engine::Error;
    use gridloop_engine::blob::{BlobHash, BlobState, BlobStore};
    use gridloop_store_conformance::blobs::photo;
    use gridloop_store_sled::SledStore;
    use gridloop_store_sled::blobs::SledBlobs;

    async fn fresh() -> (SledBlobs, (SledStore, tempfile::TempDir)) {
        let (store, dir) = super::fresh().await;
        (store.blobs().expect("blobs"), (store, dir))
    }

    gridloop_store_conformance::blob_conformance_tests!(fresh());

    #[tokio::test]
    async fn photos_survive_a_reopen_and_a_changed_one_reads_as_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let (kept, erased, changed) = {
            let store = SledStore::open(&data).expect("open");
            let blobs = store.blobs().expect("blobs");
            let kept = blobs.put(photo(1)).await.expect("put");
            let erased = blobs.put(photo(2)).await.expect("put");
            let changed = blobs.put(photo(3)).await.expect("put");
            blobs.erase(&erased).await.expect("erase");
            (kept, erased, changed)
        };
        {
            // Change one photo's bytes behind the store's back, as a disk
            // or a careless hand would.
            let db = gridloop_store_sled::open_database(&data).expect("raw sled");
            db.open_tree("blobs").unwrap().insert(changed.as_bytes(), photo(4)).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(&data).expect("reopen");
        let blobs = store.blobs().expect("blobs");
        assert_eq!(blobs.get(&kept).await.expect("get"), Some(photo(1)));
        assert_eq!(blobs.state(&erased).await.expect("state"), BlobState::Erased);
        match blobs.get(&changed).await {
            Err(Error::Corrupt(detail)) => assert!(detail.contains(&changed.to_hex()), "{detail}"),
            other => panic!("expected corrupt, got {other:?}"),
        }
        assert_ne!(BlobHash::of(&photo(4)), changed);
    }
}

#[test]
fn accounts_survive_a_reopen_one_phone_one_resident_and_forgetting_clears_them() {
    use gridloop_engine::account::{
        AccountStore, CodeUse, HeldOrder, Link, PendingCode, PhoneKey, resident_id, secret_hash,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let at = gridloop_engine::time::Timestamp::parse("2026-11-23T08:00:00Z").expect("valid");
    let (a, b) = (resident_id([1; 8]).expect("id"), resident_id([2; 8]).expect("id"));
    let (secret, phone) = {
        let store = SledStore::open(dir.path()).expect("open");
        let accounts = store.accounts().expect("accounts");
        let secret = accounts.secret().expect("a secret");
        assert_eq!(accounts.secret().expect("the same secret"), secret);
        let phone = PhoneKey::of(&secret, "+86 138 0013 8000").expect("a phone");
        assert_eq!(accounts.claim(&phone, &a).expect("claimed"), a);
        assert_eq!(accounts.claim(&phone, &b).expect("claimed"), a, "the first claim wins");
        accounts.put_link(&[7; 32], &Link { resident: a.clone(), created_at: at }).expect("a link");
        let code = PendingCode::issue(CodeUse::LinkDevice, secret_hash(Some((&secret, &phone)), "123456"), at, None);
        accounts.set_code(&phone, Some(&code.expect("a code"))).expect("kept");
        let held = HeldOrder::new(phone, a.clone(), false, "{}".into(), at, 0, 0).expect("held");
        accounts.hold("h-1", &held).expect("held");
        (secret, phone)
    };
    let store = SledStore::open(dir.path()).expect("reopen");
    let accounts = store.accounts().expect("accounts");
    assert_eq!(accounts.secret().expect("the secret"), secret, "kept across a restart");
    assert_eq!(accounts.resident_of(&phone).expect("read"), Some(a.clone()));
    assert_eq!(accounts.link(&[7; 32]).expect("read").map(|l| l.resident), Some(a.clone()));
    assert!(accounts.code(&phone).expect("read").is_some());
    assert_eq!(accounts.held().expect("read").len(), 1);
    assert!(accounts.release("h-1").expect("released").is_some());
    assert_eq!(accounts.forget(&a).expect("forgotten"), 2);
    assert_eq!(accounts.resident_of(&phone).expect("read"), None);
    assert!(accounts.link(&[7; 32]).expect("read").is_none());
    // The phone itself is stored nowhere in clear.
    drop(accounts);
    drop(store);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(!bytes.windows(11).any(|w| w == b"13800138000"), "{}", entry.display());
    }
}

/// The projections' cold rows in the store's database pass the cold suite:
/// a database opened again reads every committed write and no pending one.
mod cold {
    use std::sync::Arc;

    use gridloop_projections::cold::ColdStore;
    use gridloop_store_conformance::cold::ColdFixture;
    use gridloop_store_sled::SledStore;

    /// A data directory that each `open` opens anew.
    struct SledFixture(tempfile::TempDir);

    impl ColdFixture for SledFixture {
        fn open(&mut self) -> Arc<dyn ColdStore> {
            // The handle dropped by the step before may still hold sled's
            // file lock for a moment (its flusher thread lets go on its own
            // time, later on a loaded machine): wait for it, as a restart would.
            for _ in 0..200 {
                match SledStore::open(&self.0.path().join("data")) {
                    Ok(store) => return Arc::new(store.snapshots().expect("the projections tree")),
                    Err(gridloop_store_sled::SledStoreError::InUse { .. }) => {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err(e) => panic!("open: {e}"),
                }
            }
            panic!("the data directory stayed locked for ten seconds")
        }
    }

    // Fewer cases than in memory: each opens a sled database and flushes.
    gridloop_store_conformance::cold_conformance_tests!(SledFixture(tempfile::tempdir().expect("tempdir")), 48);
}

/// Appends encoded on a head that moved before they reached the writer are
/// encoded again on the real head: the chain holds and positions are dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_to_one_stream_with_any_version_chain_in_order() {
    let (store, _dir) = fresh().await;
    let appends = (0..64u64).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let events = vec![event(&format!("any-{n}"), n), event(&format!("any-{n}"), n + 100)];
            store.append(&stream("busy"), ExpectedVersion::Any, events).await.expect("append")
        })
    });
    for append in appends {
        append.await.expect("task");
    }
    let events = store.read_stream(&stream("busy"), 1).await.expect("read");
    assert_eq!(events.len(), 128);
    verify_stream(&events).expect("one chain, whatever head each append was encoded on");
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=128).collect::<Vec<_>>(), "dense positions in stream order");
}

/// Directories written by older code (format 1: sled without compression;
/// format 2: sled compressing its pages) still open, read and append in
/// their own format; a new directory is written in format 3.
#[tokio::test]
async fn format_1_and_2_directories_still_open_read_and_append() {
    use gridloop_store_sled::Format;

    let dir = tempfile::tempdir().expect("tempdir");
    for (format, n) in [(Format::One, 1), (Format::Two, 2)] {
        let old = dir.path().join(format!("old{n}"));
        {
            let store = SledStore::open_or_create(&old, format).expect("create in an old format");
            store
                .append(&stream("a"), ExpectedVersion::NoStream, vec![event("f1a", 1), event("f1a", 2)])
                .await
                .expect("append");
            store.append(&stream("b"), ExpectedVersion::NoStream, vec![event("f1b", 3)]).await.expect("append");
        }
        let marker = std::fs::read_to_string(old.join("GRIDLOOP")).expect("marker");
        assert_eq!(marker, format!("gridloop data directory\nformat = {n}\n"));
        {
            let store = SledStore::open(&old).expect("an old directory opens");
            assert_eq!(store.format(), format, "it stays in its format");
            let all = store.read_all(1, 100).await.expect("read");
            assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2, 3]);
            verify_stream(&store.read_stream(&stream("a"), 1).await.expect("read")).expect("chain intact");
            store.append(&stream("a"), ExpectedVersion::Exact(2), vec![event("f1c", 4)]).await.expect("append");
        }
        let store = SledStore::open(&old).expect("opens again");
        let a = store.read_stream(&stream("a"), 1).await.expect("read");
        assert_eq!((a.len(), a[2].position), (3, 4));
        verify_stream(&a).expect("chain continues");
    }
    let new = SledStore::open(&dir.path().join("new")).expect("open");
    assert_eq!(new.format(), Format::Three, "a new directory compresses its events itself");
}

/// A format-3 directory keeps the dictionary it was created with: a
/// reopen reads the events back with the database's own dictionary, and a
/// log whose dictionary is gone is refused, not misread.
#[tokio::test]
async fn a_format_3_directory_reads_with_its_own_dictionary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    {
        let store = SledStore::open(&data).expect("open");
        store
            .append(&stream("a"), ExpectedVersion::NoStream, vec![event("d1", 1), event("d1", 2)])
            .await
            .expect("append");
    }
    {
        let store = SledStore::open(&data).expect("reopen");
        let all = store.read_all(1, 100).await.expect("read");
        assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2]);
        verify_stream(&all).expect("chain intact");
    }
    {
        let db = open_raw(&data);
        assert_eq!(
            db.get(gridloop_store_sled::codec::DICTIONARY_KEY).expect("get").as_deref(),
            Some(gridloop_store_sled::codec::DICTIONARY),
            "the dictionary is kept in the database"
        );
        db.remove(gridloop_store_sled::codec::DICTIONARY_KEY).expect("remove");
        db.flush().expect("flush");
    }
    match SledStore::open(&data) {
        Err(gridloop_store_sled::SledStoreError::Corrupt { detail, .. }) => {
            assert!(detail.contains("dictionary"), "{detail}")
        }
        other => panic!("expected corrupt, got {other:?}"),
    }
}

/// Opens a data directory's sled database directly, waiting out the lock a
/// handle dropped a moment ago may still hold.
fn open_raw(dir: &std::path::Path) -> sled::Db {
    for _ in 0..200 {
        match gridloop_store_sled::open_database(dir) {
            Ok(db) => return db,
            Err(gridloop_store_sled::SledStoreError::InUse { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("raw open: {e}"),
        }
    }
    panic!("the database stayed locked")
}

/// In format 3 the projections' rows are kept compressed with the
/// database's cold dictionary: a row reads back as written, is stored
/// smaller than its JSON, and a tree whose dictionary is gone is refused.
#[test]
fn a_format_3_projections_tree_keeps_its_rows_compressed() {
    use gridloop_projections::cold::ColdStore;

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let row = br#"{"number":42,"status":"closed","grid":"440802001001001","item":"CS-001","resident":"r-7"}"#.repeat(4);
    {
        let store = SledStore::open(&data).expect("open");
        let cold = store.snapshots().expect("tree");
        cold.commit(vec![(b"board/t/42".to_vec(), Some(row.clone()))]).expect("commit");
        assert_eq!(cold.get(b"board/t/42").expect("get"), Some(row.clone()));
    }
    {
        let db = open_raw(&data);
        let kept = db.open_tree("projections").expect("tree").get(b"board/t/42").expect("get").expect("the row");
        assert!(kept.len() < row.len() / 2, "{} bytes kept for {}", kept.len(), row.len());
    }
    {
        let store = SledStore::open(&data).expect("reopen");
        let rows = store.snapshots().expect("tree").scan(b"board/", None, false, 10).expect("scan");
        assert_eq!(rows, vec![(b"board/t/42".to_vec(), row)]);
    }
    {
        let db = open_raw(&data);
        db.remove(gridloop_store_sled::codec::COLD_DICTIONARY_KEY).expect("remove");
        db.flush().expect("flush");
    }
    match SledStore::open(&data) {
        Err(SledStoreError::Corrupt { detail, .. }) => assert!(detail.contains("dictionary"), "{detail}"),
        other => panic!("expected corrupt, got {other:?}"),
    }
}
