//! One module per subcommand. Each has its clap `Args` and a `run` that
//! takes them and the [`Host`] it runs in: its own process (it opens the
//! data directory) or a running `serve`, for a client of its control socket
//! (it uses the deployment `serve` has open).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Args;
use gridloop_cli::store::LogStore;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_projections::calendar::parse_day_or_instant;
use gridloop_projections::cold::{Cold, snapshot_key};
use gridloop_projections::runner::{Projection, Runner, cold_prefix};
use gridloop_store_sled::SledSnapshots;

use crate::deployment::Deployment;
use crate::output::progress_bar;

pub mod audit;
pub mod bench;
pub mod chatbot;
pub mod demo;
pub mod duty;
pub mod export;
pub mod import;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod qr;
pub mod replay;
pub mod report;
pub mod resident;
pub mod scale;
pub mod scale_plot;
pub mod seal;
pub mod serve;
pub mod token;
pub mod volunteer;
pub mod world;

#[derive(Debug, Args)]
pub struct DataDir {
    /// The data directory: created if missing; must be empty or a gridloop
    /// data directory.
    #[arg(long = "data", value_name = "DIR", default_value = "gridloop-data")]
    pub dir: PathBuf,
    /// The event log: `sled` (in the data directory, the default) or
    /// `nats://HOST:PORT[,…][?stream=NAME&replicas=3&creds=FILE&ca=FILE&…]`.
    #[arg(long = "store", value_name = "URL")]
    pub store: Option<String>,
}

impl DataDir {
    /// Whether the log is the data directory's own sled database.
    pub fn on_sled(&self) -> bool {
        matches!(self.store.as_deref(), None | Some("sled"))
    }
}

/// What a running `serve` shares with the subcommands it runs for control
/// clients.
#[derive(Debug)]
pub struct Serving {
    pub deployment: Deployment,
    /// The live token table of the API (a new token works at once).
    pub tokens: Arc<RwLock<gridloop_http::TokenTable>>,
}

/// Where a subcommand runs.
#[derive(Clone, Copy, Debug)]
pub enum Host<'a> {
    /// In its own process.
    Offline,
    /// Inside a running `serve`, for a client of its control socket.
    Serve(&'a Serving),
}

impl Host<'_> {
    /// The deployment: opened from `data` (which must exist), or the one
    /// `serve` has open.
    pub async fn open(&self, data: &DataDir) -> Result<Deployment> {
        match self {
            Host::Offline => Deployment::open(data).await,
            Host::Serve(serving) => Ok(serving.deployment.clone()),
        }
    }
}

/// The time of the log's last activity: its last event that is not a seal
/// (seals are written after the fact, at the end of a run or a day).
pub async fn store_last_event_time(store: &LogStore) -> Result<Option<Timestamp>> {
    const LOOK_BACK: u64 = 1_000;
    // Positions are dense on sled and sparse on NATS (64 per message).
    let span = match store {
        LogStore::Sled(_) => LOOK_BACK,
        LogStore::Nats { .. } => LOOK_BACK * 64,
    };
    let from = store.head_position().await?.saturating_sub(span).max(1);
    let (mut activity, mut last) = (None, None);
    let mut scan = store.scan(from).batch_max(LOOK_BACK as usize);
    while let Some(page) = scan.next_batch().await? {
        last = page.last().map(|e| e.occurred_at);
        activity = page.iter().rev().find(|e| e.stream.kind() != "seal").map(|e| e.occurred_at).or(activity);
    }
    Ok(activity.or(last))
}

/// `YYYY-MM-DD` (midnight, China time) or RFC 3339.
pub fn parse_instant(text: &str, flag: &str) -> Result<Timestamp> {
    parse_day_or_instant(text).with_context(|| format!("{flag} {text:?}: expected YYYY-MM-DD or RFC 3339"))
}

/// Folds the whole log into a fresh projection, with a progress bar, and
/// saves its snapshot. The projection's cold rows (the board's final
/// tickets) go to the same database, committed with its snapshot every
/// `save_every` events, so a rebuild's memory follows the open work too;
/// its old rows and snapshot are dropped first.
pub async fn rebuild<P: Projection>(store: &LogStore, snapshots: &SledSnapshots) -> Result<(u64, f64, Vec<u8>)> {
    let bar = progress_bar(store.head_position().await?, P::NAME);
    let started = Instant::now();
    let cold = Cold::new(Arc::new(snapshots.clone()));
    cold.delete(snapshot_key(P::NAME));
    cold.clear_prefix(&cold_prefix::<P>())?;
    cold.commit(vec![])?;
    let mut runner = Runner::<P>::resume_cold(&cold)?;
    let events = runner.catch_up(store, Some(&cold), |position| bar.set_position(position)).await?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    runner.save(&cold)?;
    Ok((events, seconds, runner.snapshot()))
}

/// Folds the log into projection `P` from its snapshot, with a progress
/// bar, and saves the snapshot again.
///
/// The projection resumes from its snapshot in the cold store with its
/// cold rows attached (what has settled lives there, not in the snapshot),
/// and commits its rows with its snapshot.
pub async fn catch_up<P: Projection>(store: &LogStore) -> Result<Runner<P>> {
    let cold = Cold::new(Arc::new(store.local().snapshots()?));
    let bar = progress_bar(store.head_position().await?, "events folded");
    let mut runner = Runner::<P>::resume_cold(&cold)?;
    runner.catch_up(store, Some(&cold), |position| bar.set_position(position)).await?;
    bar.finish_and_clear();
    Ok(runner)
}

/// A random 64-bit number (ids, codes).
pub fn random_u64() -> Result<u64> {
    Ok(u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?)
}
