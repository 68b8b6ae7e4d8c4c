//! One deployment as the binary opens it: the data directory, the event log
//! (`LogStore`), the clock, and the command service over them, opened once.
//!
//! Every subcommand that reads the log or sends commands takes it from here
//! (offline: opened by the subcommand's process; inside `serve`: the one
//! `serve` opened, shared with the control socket). The district's world is
//! taken here too, in one place ([`fixture`]), so that reading it from the
//! log instead changes this file only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_engine::World;
use gridloop_engine::seal::SealEvent;
use gridloop_engine::service::{Clock, CommandService};
use gridloop_fixtures::District;

use crate::cmd::DataDir;

/// The district the binary runs on today: the Chikan fixture. The one call
/// site of `gridloop_fixtures::chikan` (the demo draws its simulated people
/// with its own seed).
pub fn fixture(seed: u64) -> Result<District> {
    Ok(gridloop_fixtures::chikan(seed)?)
}

/// A district file (`serve --district`: a district.toml like
/// fixtures/data/district.toml) with the fixture's catalog and routing.
pub fn district_file(path: &Path) -> Result<District> {
    // Bounded: a district file is a few hundred kilobytes at most.
    const DISTRICT_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
    let size = std::fs::metadata(path).with_context(|| format!("--district {}", path.display()))?.len();
    if size > DISTRICT_FILE_BYTES_MAX {
        bail!("--district {} is larger than 16 MiB", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    gridloop_fixtures::load(&text, gridloop_fixtures::CATALOG_TOML, gridloop_fixtures::ROUTING_TOML, 1)
        .with_context(|| format!("--district {}", path.display()))
}

/// The data directory, its log, the clock and the command service.
#[derive(Clone, Debug)]
pub struct Deployment {
    dir: PathBuf,
    store: LogStore,
    clock: Arc<dyn Clock>,
    service: Arc<CommandService<LogStore>>,
    district: Arc<District>,
    /// One seal at a time (the schedule and `gridloop seal` may meet).
    sealing: Arc<tokio::sync::Mutex<()>>,
}

/// What a deployment is opened with besides its data directory.
#[derive(Debug, Default)]
pub struct Setup {
    /// `None`: the default district ([`fixture`]).
    pub district: Option<District>,
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
        let district = match setup.district {
            Some(district) => district,
            None => fixture(1)?,
        };
        let clock = match setup.clock {
            Some(clock) => clock,
            None => gridloop_cli::clock::serve_clock().map_err(anyhow::Error::msg)?,
        };
        let id_seed = match setup.id_seed {
            Some(seed) => seed,
            None => u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?,
        };
        let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock.clone(), id_seed));
        let (dir, district, sealing) = (data.dir.clone(), Arc::new(district), Arc::default());
        Ok(Self { dir, store, clock, service, district, sealing })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &LogStore {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn service(&self) -> &Arc<CommandService<LogStore>> {
        &self.service
    }

    /// The district's world: grids, catalog, teams' places, routing. (The
    /// world the service was given; once the service reads the world from
    /// the log, this is `self.service.world()`.)
    pub fn world(&self) -> Arc<World> {
        self.district.world.clone()
    }

    /// The district's teams and people as the fixture draws them (the
    /// demo's simulated volunteers, the backup agencies' names).
    pub fn district(&self) -> &Arc<District> {
        &self.district
    }

    /// Seals the log now (by the deployment's clock): appends the seal and
    /// journals it ([`sealing::seal_now`]).
    pub async fn seal(&self) -> Result<SealEvent> {
        let _one_at_a_time = self.sealing.lock().await;
        sealing::seal_now(&self.store, &self.dir, self.clock.now()).await
    }
}
