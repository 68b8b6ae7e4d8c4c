//! `gridloop bench`: gridloop beside its limits in one run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_cli::bench::{self, BenchOptions, Scenario};

use super::scale;

/// Measure gridloop beside its limits in one run: durable commands at 1,
/// 8 and 64 clients, the raw store, the peer (cqrs-es on PostgreSQL,
/// from --peer-results), the accept race, rebuild, submit → offer and
/// HTTP. Prints a table; --quick finishes in about a minute.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A short run for CI smoke: small counts, one small rebuild.
    #[arg(long)]
    quick: bool,
    /// `sled` (default) or `nats://HOST:PORT[?…]` (each scenario uses a new stream).
    #[arg(long = "store", value_name = "URL")]
    store: Option<String>,
    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The peer's JSON lines, written by scripts/bench-peer.
    #[arg(long, value_name = "FILE")]
    peer_results: Option<PathBuf>,
    /// Events in each rebuild log, comma-separated (default 1000000; --quick 60000).
    #[arg(long, value_name = "N,...", value_delimiter = ',')]
    rebuild_events: Option<Vec<u64>>,
    /// Run only these scenarios, comma-separated: commands, raw, race,
    /// rebuild, offer, http (default: all of them).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    only: Option<Vec<Scenario>>,
    /// Where the stores go (default: a new directory under the system's temp dir, removed after).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Instead of the scenarios: a city's log at each of --sizes, and what
    /// a running `serve` costs on it (RSS, disk, start and restart to ready,
    /// p99 of a board page, a year's rates and an audit, rebuild events/s).
    /// Writes results.json, SVG plots and table.md into --out.
    #[arg(long)]
    scale: bool,
    /// --scale: the log lengths, in events (k and M suffixes: 20k, 1M, 10M).
    #[arg(long, value_name = "N,...", value_delimiter = ',', value_parser = scale::parse_size, default_value = "1M,3M,10M")]
    sizes: Vec<u64>,
    /// --scale: where the results, the plots and (while measured) the data go.
    #[arg(long, value_name = "DIR", default_value = "bench-scale")]
    out: PathBuf,
    /// --scale: keep each size's data directory (and NATS stream) after measuring it.
    #[arg(long)]
    keep: bool,
    /// --scale: open tickets at the end of every log, whatever its length.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    open: u64,
    /// --scale: requests behind each p99.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    requests: u64,
    /// --scale: the seed of every generated choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// --scale: stop a size whose data would pass this many GB at the bytes per event measured so far.
    #[arg(long, default_value_t = 15.0)]
    disk_limit_gb: f64,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.scale {
        return run_scale(args).await;
    }
    const REBUILD_EVENTS_MAX: u64 = 20_000_000;
    let quick = args.quick;
    let rebuild_events = args.rebuild_events.unwrap_or_else(|| vec![if quick { 60_000 } else { 1_000_000 }]);
    if rebuild_events.iter().any(|&n| n == 0 || n > REBUILD_EVENTS_MAX) || rebuild_events.len() > 4 {
        bail!("--rebuild-events: up to 4 sizes, each 1 to {REBUILD_EVENTS_MAX}");
    }
    let (work_dir, temporary) = match args.work_dir {
        Some(dir) => (dir, false),
        None => (std::env::temp_dir().join(format!("gridloop-bench-{}", std::process::id())), true),
    };
    let options = BenchOptions {
        quick,
        store: args.store,
        work_dir: work_dir.clone(),
        peer_results: args.peer_results,
        rebuild_events,
        only: args.only.unwrap_or_else(|| Scenario::ALL.to_vec()),
    };
    let started = Instant::now();
    let report = bench::run(options, |what| say_err!("bench: {what} ({:.0}s)", started.elapsed().as_secs_f64())).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    let report = report?;
    say_raw!("{}", bench::render(&report));
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `--scale`: every size in turn, then the table on stdout.
async fn run_scale(args: BenchArgs) -> Result<()> {
    if args.sizes.is_empty() || args.sizes.len() > 8 {
        bail!("--sizes: 1 to 8 sizes");
    }
    if !(0.1..=1000.0).contains(&args.disk_limit_gb) {
        bail!("--disk-limit-gb: 0.1 to 1000");
    }
    let options = scale::ScaleOptions {
        sizes: args.sizes,
        store: args.store,
        out: args.out,
        keep: args.keep,
        open: args.open,
        requests: args.requests as usize,
        seed: args.seed,
        disk_limit_bytes: (args.disk_limit_gb * 1e9) as u64,
    };
    let results = scale::run(options.clone()).await?;
    say_raw!("{}", scale::table(&results));
    say_err!("bench --scale: results.json, table.md and scale-*.svg in {}", options.out.display());
    Ok(())
}
