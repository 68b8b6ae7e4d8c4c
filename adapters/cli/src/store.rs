//! Which event log a command runs on: the embedded sled store in the data
//! directory (the default), or a NATS JetStream stream (`--store nats://…`).
//!
//! Either way the data directory holds what is local to one process: the
//! token table, the seal key, the encrypted personal store and projection
//! snapshots (in the directory's own sled database). Photos go with the log
//! ([`LogStore::blobs`]). With NATS, that
//! database's log stays empty, and the file `LOG-STORE` pins the directory
//! to the stream it follows, because snapshot positions mean nothing on
//! another log: opening it against a different log is refused.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use gridloop_engine::Error;
use gridloop_engine::blob::BlobStore;
use gridloop_engine::envelope::{NewEvent, RecordedEvent};
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion};
use gridloop_store_nats::{NatsConfig, NatsStore};
use gridloop_store_sled::SledStore;

/// The file naming the log a data directory follows.
pub const LOG_STORE_FILE: &str = "LOG-STORE";

/// The event log of a command, and the data directory's local store.
#[derive(Clone, Debug)]
pub enum LogStore {
    Sled(SledStore),
    Nats { nats: NatsStore, local: SledStore },
}

impl LogStore {
    /// Opens the log named by `url` (`None` or `sled`: the data directory's).
    pub async fn open(dir: &Path, url: Option<&str>) -> Result<Self> {
        let local = SledStore::open(dir)?;
        let (wanted, config) = match url {
            None | Some("sled") => ("sled".to_string(), None),
            Some(url) if url.starts_with("nats://") || url.starts_with("tls://") => {
                let config = NatsConfig::parse(url)?;
                (format!("nats stream={} prefix={}", config.stream, config.prefix), Some(config))
            }
            Some(other) => bail!("--store {other:?}: expected sled or nats://HOST:PORT[?stream=NAME&…]"),
        };
        pin_log(dir, &wanted, &local)?;
        match config {
            None => Ok(Self::Sled(local)),
            Some(config) => {
                let nats = NatsStore::connect(config).await.context("opening the NATS store")?;
                Ok(Self::Nats { nats, local })
            }
        }
    }

    /// The data directory's own sled store (snapshots, personal data).
    pub fn local(&self) -> &SledStore {
        match self {
            Self::Sled(store) => store,
            Self::Nats { local, .. } => local,
        }
    }

    /// The photo store that goes with the log: on sled, trees in the data
    /// directory's database, beside the log (one directory to back up and
    /// move; `gridloop_store_sled::blobs`); on NATS, the JetStream Object
    /// Store bucket beside the stream, which every process of the
    /// deployment shares (a photo uploaded to one is served by all).
    pub async fn blobs(&self) -> Result<Arc<dyn BlobStore>> {
        Ok(match self {
            Self::Sled(store) => Arc::new(store.blobs()?),
            Self::Nats { nats, .. } => Arc::new(nats.blobs().await.context("opening the NATS photo bucket")?),
        })
    }

    /// The position of the log's last event (0: empty), for progress bars
    /// and emptiness checks. On NATS, an upper bound: the last message's
    /// first position plus the most events a message holds.
    pub async fn head_position(&self) -> Result<u64> {
        match self {
            Self::Sled(store) => Ok(store.head_position()),
            Self::Nats { nats, .. } => {
                let sequence = nats.last_sequence().await?;
                Ok(if sequence == 0 { 0 } else { gridloop_store_nats::layout::position(sequence, 63) })
            }
        }
    }

    /// What the log is, in a few words, for messages.
    pub fn describe(&self, dir: &Path) -> String {
        match self {
            Self::Sled(_) => dir.display().to_string(),
            Self::Nats { nats, .. } => format!("NATS stream {} at {}", nats.config().stream, nats.config().servers),
        }
    }
}

/// Refuses a data directory that follows another log; pins a fresh one.
fn pin_log(dir: &Path, wanted: &str, local: &SledStore) -> Result<()> {
    let path = dir.join(LOG_STORE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(pinned) if pinned.trim() == wanted => Ok(()),
        Ok(pinned) => bail!(
            "{} follows the log `{}`, not `{wanted}`: pass the same --store, or use another --data directory",
            dir.display(),
            pinned.trim()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if wanted != "sled" && local.head_position() > 0 {
                bail!("{} holds a sled log; a NATS-backed process needs its own --data directory", dir.display());
            }
            std::fs::write(&path, format!("{wanted}\n")).with_context(|| format!("writing {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

impl EventStore for LogStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        match self {
            Self::Sled(store) => store.append(stream, expected, events).await,
            Self::Nats { nats, .. } => nats.append(stream, expected, events).await,
        }
    }

    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        match self {
            Self::Sled(store) => store.read_stream(stream, from_version).await,
            Self::Nats { nats, .. } => nats.read_stream(stream, from_version).await,
        }
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        match self {
            Self::Sled(store) => store.read_all(from_position, max).await,
            Self::Nats { nats, .. } => nats.read_all(from_position, max).await,
        }
    }

    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        match self {
            Self::Sled(store) => store.wait_for(position).await,
            Self::Nats { nats, .. } => nats.wait_for(position).await,
        }
    }
}

/// Reads the log once from the start to where it ends now, handing each
/// batch to `each`: the one loop behind sealing, seal checks and the
/// rebuild bench. (Following the log as it grows is `Subscription`'s job.)
pub async fn scan_log<S: EventStore>(store: &S, mut each: impl FnMut(&[RecordedEvent]) -> Result<()>) -> Result<()> {
    let mut scan = store.scan(1);
    while let Some(batch) = scan.next_batch().await? {
        each(&batch)?;
    }
    Ok(())
}
