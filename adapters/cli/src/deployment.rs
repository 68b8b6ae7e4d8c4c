//! One deployment as the binary opens it: the data directory, the event log
//! (`LogStore`), the clock, and the command service over them, opened once.
//!
//! Every subcommand that reads the log or sends commands takes it from here
//! (offline: opened by the subcommand's process; inside `serve`: the one
//! `serve` opened, shared with the control socket). The district's world is
//! the one in the log (`gridloop world import` writes it): the service reads
//! it at open, at every submission and after every world command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_engine::World;
use gridloop_engine::blob::BlobStore;
use gridloop_engine::seal::SealEvent;
use gridloop_engine::service::{Clock, CommandService};
use gridloop_projections::cold::{Cold, ColdStore};

use crate::cmd::DataDir;

/// The data directory, its log, the clock and the command service.
#[derive(Clone)]
pub struct Deployment {
    dir: PathBuf,
    store: LogStore,
    clock: Arc<dyn Clock>,
    service: Arc<CommandService<LogStore>>,
    /// Where the log's photos are ([`LogStore::blobs`]).
    blobs: Arc<dyn BlobStore>,
    /// One seal at a time (the schedule and `gridloop seal` may meet).
    sealing: Arc<tokio::sync::Mutex<()>>,
    /// Where projections keep their snapshots and settled rows: the local
    /// sled database, on either log store ([`gridloop_projections::cold`]).
    cold: Arc<dyn ColdStore>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment").field("dir", &self.dir).field("store", &self.store).finish_non_exhaustive()
    }
}

/// What a deployment is opened with besides its data directory.
#[derive(Debug, Default)]
pub struct Setup {
    /// `None`: the clock `serve` runs on (`clock::serve_clock`).
    pub clock: Option<Arc<dyn Clock>>,
    /// `None`: random (each process numbers its command ids apart).
    pub id_seed: Option<u64>,
}

impl Deployment {
    /// Opens an existing log: on sled, an existing data directory (never
    /// creates one); on NATS, the stream (the data directory is only local
    /// state).
    pub async fn open(data: &DataDir) -> Result<Self> {
        if data.on_sled() && !data.dir.join(gridloop_store_sled::MARKER_FILE).exists() {
            bail!(
                "{} is not a gridloop data directory (run `gridloop demo` first, or pass --data)",
                data.dir.display()
            );
        }
        Self::create(data, Setup::default()).await
    }

    /// Opens the log, creating the data directory (and an empty log) if
    /// missing.
    pub async fn create(data: &DataDir, setup: Setup) -> Result<Self> {
        let store = LogStore::open(&data.dir, data.store.as_deref()).await?;
        let clock = match setup.clock {
            Some(clock) => clock,
            None => gridloop_cli::clock::serve_clock().map_err(anyhow::Error::msg)?,
        };
        let id_seed = match setup.id_seed {
            Some(seed) => seed,
            None => u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?,
        };
        let service = CommandService::open(store.clone(), clock.clone(), id_seed)
            .await
            .context("reading the district's world from the log")?;
        let blobs = store.blobs().await?;
        let cold: Arc<dyn ColdStore> = Arc::new(store.local().snapshots()?);
        let (dir, service, sealing) = (data.dir.clone(), Arc::new(service), Arc::default());
        Ok(Self { dir, store, clock, service, blobs, sealing, cold })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &LogStore {
        &self.store
    }

    /// The photo store that goes with the log.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The projections' cold store (snapshots and settled rows). Each
    /// group of projections committed together takes its own
    /// `Cold::new(deployment.cold_store())`, so that one group's commit never
    /// writes another's pending rows.
    pub fn cold_store(&self) -> Arc<dyn ColdStore> {
        self.cold.clone()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn service(&self) -> &Arc<CommandService<LogStore>> {
        &self.service
    }

    /// The district's world as the log holds it now.
    pub fn world(&self) -> Arc<World> {
        self.service.world()
    }

    /// Seals the log now (by the deployment's clock): appends the seal and
    /// journals it ([`sealing::seal_now`]).
    pub async fn seal(&self) -> Result<SealEvent> {
        let _one_at_a_time = self.sealing.lock().await;
        sealing::seal_now(&self.store, &self.dir, self.clock.now(), &Cold::new(self.cold.clone())).await
    }
}
