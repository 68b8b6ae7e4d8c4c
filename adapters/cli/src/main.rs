//! `gridloop`: the command line of the closed loop (居民点单 · 社区派单 · 志愿接单).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use gridloop_cli::demo::{self, DemoConfig};
use gridloop_cli::report;
use gridloop_engine::service::CommandService;
use gridloop_engine::time::Timestamp;
use gridloop_store_sled::SledStore;

/// gridloop runs the closed loop of community service requests: a resident
/// orders, the community dispatches, a volunteer accepts. Every step is an
/// immutable event in a local store (sled, in --data DIR).
///
/// Start with `gridloop demo`: it simulates a week in a district shaped like
/// Zhanjiang's Chikan and prints the rates cities are judged by.
#[derive(Debug, Parser)]
#[command(name = "gridloop", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Simulate N days of residents ordering, dispatch, volunteers accepting
    /// (some racing), escalations, resolutions, feedback and closing, into a
    /// fresh store; then print the district's rates.
    Demo {
        /// Simulated days (1 to 366).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Seed of every random choice: the same seed gives the same result.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Resident orders per simulated day (1 to 100000).
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        orders_per_day: u32,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the completion-rate metrics of the store's log, per street and
    /// for the whole district.
    Metrics {
        /// Evaluate as of this instant (RFC 3339, UTC); default: the last event.
        #[arg(long)]
        as_of: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Args)]
struct DataDir {
    /// The data directory: created if missing; must be empty or a gridloop
    /// data directory.
    #[arg(long = "data", value_name = "DIR", default_value = "gridloop-data")]
    dir: PathBuf,
}

fn main() -> std::process::ExitCode {
    install_tracing();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gridloop: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRIDLOOP_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match cli.command {
        Cmd::Demo { days, seed, orders_per_day, data } => runtime.block_on(run_demo(days, seed, orders_per_day, data)),
        Cmd::Metrics { as_of, json, data } => runtime.block_on(run_metrics(as_of, json, data)),
    }
}

async fn run_demo(days: u32, seed: u64, orders_per_day: u32, data: DataDir) -> Result<()> {
    let store = SledStore::open(&data.dir)?;
    if store.head_position() > 0 {
        bail!(
            "{} already holds {} events; the demo needs a fresh store: pass --data with a new directory",
            data.dir.display(),
            store.head_position()
        );
    }
    let district = Arc::new(gridloop_fixtures::chikan(seed)?);
    println!(
        "district {} ({}): {} grids and sub-grids, {} catalog items, {} teams, {} volunteers",
        district.world.grids.root().name,
        district.world.grids.root().code,
        district.world.grids.len(),
        district.world.catalog.items().count(),
        district.teams.len(),
        district.volunteers.len()
    );
    let config = DemoConfig { orders_per_day, ..DemoConfig::new(days, seed) };
    let started = Instant::now();
    let bar = progress_bar(u64::from(days) * 24 * 12, "simulated 5-minute steps");
    let bar_for_progress = bar.clone();
    let summary = demo::run(store.clone(), district.clone(), &config, move |done, total| {
        bar_for_progress.set_length(total);
        bar_for_progress.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let clock = Arc::new(gridloop_engine::service::ManualClock::new(summary.end));
    let service = CommandService::new(store.clone(), district.world.clone(), clock, seed);
    let awarded = gridloop_projections::policy::PointsPolicy::default().catch_up(&service).await?;
    let (metrics, events) = report::fold_metrics(&store, |_| {}).await?;
    println!(
        "{} days, {} tickets, {} commands, {} events ({} races lost, as they should be; {} point awards) in {:.1}s",
        days,
        summary.tickets,
        summary.commands,
        events,
        summary.races_lost,
        awarded,
        started.elapsed().as_secs_f64()
    );
    if !summary.unexpected.is_empty() {
        println!("unexpected refusals: {:?}", summary.unexpected);
    }
    println!(
        "\ntickets ordered in the {days} days, as of {} when {}:",
        summary.end,
        if summary.open == 0 {
            "the last one was closed".to_string()
        } else {
            format!("{} were still open", summary.open)
        }
    );
    let rows = report::rates_by_street(&metrics, &district.world.grids, summary.orders_end, summary.end);
    print!("{}", report::rates_table(&rows));
    println!("\nstore: {} ({} bytes on disk)", data.dir.display(), store.size_on_disk());
    Ok(())
}

async fn run_metrics(as_of: Option<String>, json: bool, data: DataDir) -> Result<()> {
    if !data.dir.join(gridloop_store_sled::MARKER_FILE).exists() {
        bail!("{} is not a gridloop data directory (run `gridloop demo` first, or pass --data)", data.dir.display());
    }
    let store = SledStore::open(&data.dir)?;
    let bar = progress_bar(store.head_position(), "events folded");
    let (metrics, _) = report::fold_metrics(&store, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    let as_of = match as_of {
        Some(text) => Timestamp::parse(&text).context("--as-of")?,
        None => metrics.tickets().map(|(_, t)| t.submitted_at).max().unwrap_or_default(),
    };
    // The grid tree is the fixture district's until deployments bring their own.
    let district = gridloop_fixtures::chikan(1)?;
    let as_of = as_of.plus(gridloop_engine::time::Millis(1));
    let rows = report::rates_by_street(&metrics, &district.world.grids, as_of, as_of);
    if json {
        let rows: Vec<serde_json::Value> =
            rows.iter().map(|(place, rates)| serde_json::json!({ "place": place, "rates": rates })).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", report::rates_table(&rows));
    }
    Ok(())
}

fn progress_bar(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what);
    bar
}
