//! Evidence photos across the whole log: which photos the events name,
//! whether the blob store still holds each as named (`audit --all
//! --verify`), carrying them out and back in (`export --photos DIR`,
//! `import --photos DIR`, `docs/photos.md`), and erasing a resident's.
//!
//! The events say which photos exist; the blob store only keeps bytes. So
//! every walk here starts from the log ([`named_photos`]) and asks the
//! store about each hash: a photo no event names is nobody's evidence.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use gridloop_engine::Error;
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobHash, BlobState, BlobStore};
use gridloop_engine::envelope::{EventPayload as _, RecordedEvent};
use gridloop_engine::ids::{ResidentId, TicketId};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::TicketEvent;

use crate::store::scan_log;

/// The file of an export's photo directory listing the photos that were
/// erased on request, one hash a line (their bytes are not exported).
pub const ERASED_FILE: &str = "ERASED";

/// One photo as the log names it: which ticket, and the resident whose
/// order it came with (when it is an order's photo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPhoto {
    /// The photo's hash.
    pub hash: BlobHash,
    /// The ticket whose event names it.
    pub ticket: TicketId,
    /// The resident the order was for, when the order named the photo.
    pub ordered_by: Option<ResidentId>,
}

/// The photos one event names, and the resident when it is an order.
fn photos_of(event: &RecordedEvent) -> Result<(TicketId, Vec<BlobHash>, Option<ResidentId>)> {
    let ticket = TicketId::new(event.stream.id())?;
    let decoded = TicketEvent::decode(&event.schema, &event.payload)
        .with_context(|| format!("decoding event {} of {}", event.version, event.stream))?;
    let photos = decoded.photos().to_vec();
    let ordered_by = match decoded {
        TicketEvent::Submitted { resident, .. } => resident,
        _ => None,
    };
    Ok((ticket, photos, ordered_by))
}

/// Every (ticket, photo) pair the log names, in log order, each once.
pub async fn named_photos<S: EventStore>(store: &S) -> Result<Vec<NamedPhoto>> {
    let mut named = Vec::new();
    let mut seen = BTreeSet::new();
    scan_log(store, |batch| {
        for event in batch.iter().filter(|e| e.stream.kind() == "ticket") {
            let (ticket, photos, ordered_by) = photos_of(event)?;
            for hash in photos {
                if seen.insert((ticket.clone(), hash)) {
                    named.push(NamedPhoto { hash, ticket: ticket.clone(), ordered_by: ordered_by.clone() });
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(named)
}

/// What `audit --verify` found of the photos.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhotoCheck {
    /// Photos named and present, their bytes matching their hash.
    pub present: usize,
    /// Photos named and erased on request (not a failure).
    pub erased: usize,
    /// Each photo missing or changed, with its ticket, as a sentence.
    pub failures: Vec<String>,
}

/// Checks every photo the log names: present and matching its hash, or
/// erased; anything else is a failure naming the ticket and the hash.
pub async fn verify_photos<S: EventStore>(store: &S, blobs: &dyn BlobStore) -> Result<PhotoCheck> {
    verify_named(named_photos(store).await?, blobs).await
}

/// [`verify_photos`] for one ticket's events (`audit T-12 --verify`).
pub async fn verify_ticket_photos(events: &[RecordedEvent], blobs: &dyn BlobStore) -> Result<PhotoCheck> {
    let mut named = Vec::new();
    for event in events {
        let (ticket, photos, _) = photos_of(event)?;
        for hash in photos {
            if !named.iter().any(|n: &NamedPhoto| n.hash == hash) {
                named.push(NamedPhoto { hash, ticket: ticket.clone(), ordered_by: None });
            }
        }
    }
    verify_named(named, blobs).await
}

/// Each named photo's state; a present one is read once, so its bytes are
/// checked against its hash.
async fn verify_named(named: Vec<NamedPhoto>, blobs: &dyn BlobStore) -> Result<PhotoCheck> {
    let mut check = PhotoCheck::default();
    let mut verified: BTreeSet<BlobHash> = BTreeSet::new();
    for NamedPhoto { hash, ticket, .. } in named {
        match blobs.state(&hash).await? {
            BlobState::Erased => check.erased += 1,
            BlobState::Missing => check.failures.push(format!("{ticket}: photo {hash} is missing")),
            BlobState::Present if verified.contains(&hash) => check.present += 1,
            BlobState::Present => match blobs.get(&hash).await {
                Ok(Some(_)) => {
                    verified.insert(hash);
                    check.present += 1;
                }
                Ok(None) => check.failures.push(format!("{ticket}: photo {hash} is missing")),
                Err(Error::Corrupt(_)) => {
                    check.failures.push(format!("{ticket}: photo {hash} was changed: its bytes no longer match"))
                }
                Err(other) => return Err(other.into()),
            },
        }
    }
    Ok(check)
}

/// What an export or import of photos did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhotoTransfer {
    /// Photos written (export) or stored (import).
    pub photos: usize,
    /// Photos erased on request, carried as such.
    pub erased: usize,
    /// Photos the log names that could not be carried, as sentences.
    pub missing: Vec<String>,
}

/// Writes every photo the log names into `dir` as a file named by its hash,
/// and the erased ones' hashes into [`ERASED_FILE`].
pub async fn export_photos<S: EventStore>(store: &S, blobs: &dyn BlobStore, dir: &Path) -> Result<PhotoTransfer> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut done = PhotoTransfer::default();
    let (mut written, mut erased) = (BTreeSet::new(), BTreeSet::new());
    for NamedPhoto { hash, ticket, .. } in named_photos(store).await? {
        if written.contains(&hash) || erased.contains(&hash) {
            continue;
        }
        match blobs.get(&hash).await {
            Ok(Some(bytes)) => {
                let path = dir.join(hash.to_hex());
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
                written.insert(hash);
            }
            Ok(None) if blobs.state(&hash).await? == BlobState::Erased => {
                erased.insert(hash);
            }
            Ok(None) => done.missing.push(format!("{ticket}: photo {hash} is missing")),
            Err(Error::Corrupt(_)) => done.missing.push(format!("{ticket}: photo {hash} was changed")),
            Err(other) => return Err(other.into()),
        }
    }
    let list: String = erased.iter().map(|hash| format!("{hash}\n")).collect();
    std::fs::write(dir.join(ERASED_FILE), list).with_context(|| format!("writing {ERASED_FILE}"))?;
    (done.photos, done.erased) = (written.len(), erased.len());
    Ok(done)
}

/// Reads the photos of an export's directory that the (imported) log
/// names: each file must hash to its name and be a photo as checked on
/// upload (a checked photo checks to itself), else nothing is stored;
/// then stores them, and records the erased ones as erased.
pub async fn import_photos<S: EventStore>(store: &S, blobs: &dyn BlobStore, dir: &Path) -> Result<PhotoTransfer> {
    let erased = read_erased(dir)?;
    let mut photos = Vec::new();
    let mut done = PhotoTransfer::default();
    let mut wanted = BTreeSet::new();
    for NamedPhoto { hash, ticket, .. } in named_photos(store).await? {
        if !wanted.insert(hash) || erased.contains(&hash) {
            continue;
        }
        let path = dir.join(hash.to_hex());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.missing.push(format!("{ticket}: photo {hash} is not in {}", dir.display()));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        check_exported(&hash, &bytes).with_context(|| format!("{}", path.display()))?;
        photos.push(bytes);
    }
    for bytes in photos {
        blobs.put(bytes).await?;
        done.photos += 1;
    }
    for hash in erased.iter().filter(|hash| wanted.contains(hash)) {
        blobs.erase(hash).await?;
        done.erased += 1;
    }
    Ok(done)
}

/// An exported photo is what was stored: its hash is its name, and it is a
/// photo that the upload check leaves as it is.
fn check_exported(hash: &BlobHash, bytes: &[u8]) -> Result<()> {
    if bytes.len() > BLOB_BYTES_MAX || BlobHash::of(bytes) != *hash {
        bail!("the file's bytes do not hash to its name: it was changed after the export");
    }
    match gridloop_media::check(bytes) {
        Ok(photo) if photo.bytes == bytes => Ok(()),
        Ok(_) => bail!("the file carries metadata a stored photo never has"),
        Err(e) => bail!("the file is not a photo gridloop stores: {e}"),
    }
}

/// The hashes of [`ERASED_FILE`] (none when there is no such file).
fn read_erased(dir: &Path) -> Result<BTreeSet<BlobHash>> {
    let path = dir.join(ERASED_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut erased = BTreeSet::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let hash = line.trim().parse().with_context(|| format!("{} line {}", path.display(), n + 1))?;
        erased.insert(hash);
    }
    Ok(erased)
}

/// Erases the photos of the orders made for `resident` (their tickets'
/// `Submitted.photos`); how many had bytes to erase.
pub async fn erase_resident_photos<S: EventStore>(
    store: &S,
    blobs: &dyn BlobStore,
    resident: &ResidentId,
) -> Result<usize> {
    let mut erased = 0;
    for photo in named_photos(store).await? {
        if photo.ordered_by.as_ref() == Some(resident) && blobs.erase(&photo.hash).await? {
            erased += 1;
        }
    }
    Ok(erased)
}
