//! Photos through the binary: `audit --all --verify` checks every photo the
//! log names (a missing or changed one fails, naming its ticket and hash;
//! an erased one is reported as erased), `export`/`import --photos` carry
//! them, and `resident erase` erases the photos of that resident's orders.

use std::path::Path;
use std::sync::Arc;

use gridloop_engine::blob::{BlobHash, BlobState, BlobStore};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::Level;
use gridloop_engine::ids::{CommandId, ItemCode, ResidentId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::ticket::{Channel, TicketCommand, Urgency};
use gridloop_engine::time::Timestamp;
use gridloop_store_sled::SledStore;

use crate::support::{gridloop, stderr, stdout, with_chikan};

const GPS_JPEG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.jpg");
const GPS_PNG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.png");
const GPS_WEBP: &[u8] = include_bytes!("../../../../fixtures/photos/gps.webp");

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The three photos as stored (stripped), and their hashes.
fn stored() -> Vec<(BlobHash, Vec<u8>)> {
    [GPS_JPEG, GPS_PNG, GPS_WEBP]
        .iter()
        .map(|bytes| {
            let photo = gridloop_media::check(bytes).expect("a photo");
            (BlobHash::of(&photo.bytes), photo.bytes)
        })
        .collect()
}

/// Chikan in `data`; T-1 ordered for r-1 with the JPEG and the PNG, T-2 for
/// r-2 with the WebP, each photo put in the data directory's blob store.
async fn with_orders(data: &Path) -> Vec<BlobHash> {
    with_chikan(data, None);
    let store = SledStore::open(data).expect("open");
    let blobs = store.blobs().expect("blobs");
    let mut hashes = Vec::new();
    for (_, bytes) in stored() {
        hashes.push(blobs.put(bytes).await.expect("put"));
    }
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")));
    let service = CommandService::open(store.clone(), clock, 7).await.expect("service");
    let grid = service.world().grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    for (n, resident, photos) in [(1, "r-1", vec![hashes[0], hashes[1]]), (2, "r-2", vec![hashes[2]])] {
        let submit = TicketCommand::Submit {
            item: ItemCode::new("IC-003").expect("an item"),
            grid: grid.clone(),
            resident: ResidentId::new(resident).expect("a resident"),
            description: "a leaking tap".into(),
            urgency: Urgency::Normal,
            channel: Channel::Web,
            location: None,
            photos,
        };
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("order-{n}")).expect("an id"),
            correlation_id: None,
            actor: Actor::new(Role::Resident, resident).expect("an actor"),
            command: Command::Ticket { id: TicketId::from_number(n), command: submit },
            expected_version: None,
        };
        service.execute(envelope).await.expect("ordered");
    }
    hashes
}

fn verify(data: &Path) -> std::process::Output {
    gridloop(&["audit", "--all", "--verify", "--data", path(data)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_a_missing_or_changed_photo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let hashes = with_orders(&data).await;
    let ok = verify(&data);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("3 photos named by the log: 3 present"), "{}", stdout(&ok));
    let one = gridloop(&["audit", "T-1", "--verify", "--data", path(&data)]);
    assert!(one.status.success(), "{}", stderr(&one));

    {
        // One photo's bytes changed, another's removed, behind the store's back.
        let db = gridloop_store_sled::open_database(&data).expect("raw sled");
        let blobs = db.open_tree("blobs").expect("tree");
        blobs.insert(hashes[0].as_bytes(), b"not the photo".to_vec()).expect("changed");
        blobs.remove(hashes[2].as_bytes()).expect("removed");
        db.flush().expect("flush");
    }
    let failed = verify(&data);
    assert!(!failed.status.success(), "{}", stdout(&failed));
    let said = stderr(&failed);
    assert!(said.contains(&format!("T-1: photo {} was changed", hashes[0])), "{said}");
    assert!(said.contains(&format!("T-2: photo {} is missing", hashes[2])), "{said}");
    assert!(!said.contains(&hashes[1].to_hex()), "the intact photo is not named: {said}");
    let one = gridloop(&["audit", "T-1", "--verify", "--data", path(&data)]);
    assert!(!one.status.success(), "{}", stdout(&one));
    assert!(stderr(&one).contains(&format!("T-1: photo {} was changed", hashes[0])), "{}", stderr(&one));
    let other = gridloop(&["audit", "T-2", "--verify", "--data", path(&data)]);
    assert!(stderr(&other).contains(&format!("T-2: photo {} is missing", hashes[2])), "{}", stderr(&other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_carry_the_photos_and_their_erasure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let hashes = with_orders(&data).await;
    let erase = gridloop(&["resident", "erase", "r-2", "--data", path(&data)]);
    assert!(erase.status.success(), "{}", stderr(&erase));

    let photos = dir.path().join("photos");
    let export = gridloop(&["export", "--photos", path(&photos), "--data", path(&data)]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert!(stderr(&export).contains("exported 2 photos and 1 erased"), "{}", stderr(&export));
    let log = dir.path().join("log.ndjson");
    std::fs::write(&log, &export.stdout).expect("the export");
    for (hash, bytes) in &stored()[..2] {
        assert_eq!(&std::fs::read(photos.join(hash.to_hex())).expect("a photo file"), bytes);
    }
    assert_eq!(std::fs::read_to_string(photos.join("ERASED")).expect("ERASED"), format!("{}\n", hashes[2]));

    let copy = dir.path().join("copy");
    let import = gridloop(&["import", path(&log), "--photos", path(&photos), "--data", path(&copy)]);
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(stdout(&import).contains("imported 2 photos and 1 erased"), "{}", stdout(&import));
    let ok = verify(&copy);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("2 present and matching their hashes, 1 erased on request"), "{}", stdout(&ok));
    let store = SledStore::open(&copy).expect("open the copy");
    let blobs = store.blobs().expect("blobs");
    assert_eq!(blobs.get(&hashes[0]).await.expect("get"), Some(stored()[0].1.clone()));
    assert_eq!(blobs.state(&hashes[2]).await.expect("state"), BlobState::Erased);
}

#[test]
fn an_import_refuses_a_photo_file_that_was_changed_and_stores_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let hashes = runtime.block_on(with_orders(&data));
    let photos = dir.path().join("photos");
    let export = gridloop(&["export", "--photos", path(&photos), "--data", path(&data)]);
    assert!(export.status.success(), "{}", stderr(&export));
    let log = dir.path().join("log.ndjson");
    std::fs::write(&log, &export.stdout).expect("the export");
    // The PNG put back with its metadata: it hashes to another name.
    std::fs::write(photos.join(hashes[1].to_hex()), GPS_PNG).expect("changed");

    let copy = dir.path().join("copy");
    let import = gridloop(&["import", path(&log), "--photos", path(&photos), "--data", path(&copy)]);
    assert!(!import.status.success(), "{}", stdout(&import));
    assert!(stderr(&import).contains(&hashes[1].to_hex()), "names the file: {}", stderr(&import));
    let store = SledStore::open(&copy).expect("open the copy");
    let blobs = store.blobs().expect("blobs");
    for hash in &hashes {
        assert_eq!(runtime.block_on(blobs.state(hash)).expect("state"), BlobState::Missing, "no photo stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_resident_erases_the_photos_of_their_orders_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let hashes = with_orders(&data).await;
    let erase = gridloop(&["resident", "erase", "r-1", "--data", path(&data)]);
    assert!(erase.status.success(), "{}", stderr(&erase));
    assert!(stdout(&erase).contains("2 photos of their orders erased"), "{}", stdout(&erase));
    let ok = verify(&data);
    assert!(ok.status.success(), "erased photos are no failure: {}", stderr(&ok));
    assert!(stdout(&ok).contains("1 present and matching their hashes, 2 erased on request"), "{}", stdout(&ok));
    let again = gridloop(&["resident", "erase", "r-1", "--data", path(&data)]);
    assert!(!again.status.success(), "nothing left to erase: {}", stdout(&again));
    let store = SledStore::open(&data).expect("open");
    let blobs = store.blobs().expect("blobs");
    assert_eq!(blobs.state(&hashes[0]).await.expect("state"), BlobState::Erased);
    assert_eq!(blobs.state(&hashes[1]).await.expect("state"), BlobState::Erased);
    assert_eq!(blobs.get(&hashes[2]).await.expect("get"), Some(stored()[2].1.clone()), "r-2's photo stays");
}
