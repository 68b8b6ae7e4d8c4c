//! `gridloop demo`: simulated days of the closed loop into a fresh store.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_cli::demo::{self, DemoConfig, DemoSummary};
use gridloop_cli::report;
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::Level;
use gridloop_engine::personal::PersonalStore;
use gridloop_engine::service::ManualClock;
use gridloop_fixtures::{District, VolunteerProfile};
use gridloop_projections::Metrics;
use gridloop_projections::board::Board;
use gridloop_projections::ledger::Ledger;

use super::{DataDir, rebuild};
use crate::deployment::{Deployment, Setup};
use crate::output::progress_bar;

/// Simulate N days of residents ordering, dispatch, volunteers accepting
/// (some racing), escalations, resolutions, feedback and closing, into a
/// fresh store; then print the district's rates.
#[derive(Debug, Args)]
pub struct DemoArgs {
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
    pub data: DataDir,
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let (days, seed) = (args.days, args.seed);
    let config = DemoConfig {
        orders_per_day: args.orders_per_day,
        seal_dir: Some(args.data.dir.clone()),
        ..DemoConfig::new(days, seed)
    };
    // The service after the run: on the simulated clock, numbering as the seed says.
    let clock = Arc::new(ManualClock::new(config.start));
    let setup = Setup { clock: Some(clock.clone()), id_seed: Some(seed) };
    let deployment = Deployment::create(&args.data, setup).await?;
    let store = deployment.store();
    let head = store.head_position().await?;
    if head > 0 {
        bail!(
            "{} already holds events (up to position {head}); the demo needs a fresh store: pass --data with a new \
             directory (or a new NATS stream)",
            store.describe(deployment.dir())
        );
    }
    let district = Arc::new(import_chikan(&deployment).await?);
    say!(
        "district {} ({}): {} grids and sub-grids, {} catalog items, {} teams, {} volunteers",
        district.world.grids.root().name,
        district.world.grids.root().code,
        district.world.grids.len(),
        district.world.catalog.items().count(),
        district.teams.len(),
        district.volunteers.len()
    );
    let started = Instant::now();
    let summary = simulate(&deployment, district.clone(), &config).await?;
    clock.set(summary.end);
    let awarded = gridloop_policies::points::PointsPolicy::default().catch_up(deployment.service()).await?;
    let (metrics, events) = report::fold_metrics(store, |_| {}).await?;
    say!(
        "{} days, {} tickets, {} commands, {} events in {:.1}s: the dispatcher policy took {} steps, timers fired {}, \
         {} races lost (first acceptance wins), {} acts overtaken by events, {} point awards",
        days,
        summary.tickets,
        summary.commands,
        events,
        started.elapsed().as_secs_f64(),
        summary.dispatched,
        summary.timers_fired,
        summary.races_lost,
        summary.overtaken,
        awarded
    );
    if !summary.unexpected.is_empty() {
        say!("unexpected refusals: {:?}", summary.unexpected);
    }
    let zone = district.world.district.as_ref().map(|d| d.time_zone.as_str());
    say!(
        "\ntickets ordered in the {days} days, as of {} when {}:",
        report::local_time(summary.end, zone),
        if summary.open == 0 {
            "the last one was closed".to_string()
        } else {
            format!("{} were still open", summary.open)
        }
    );
    let rows = report::rates_by_street(&metrics, &district.world.grids, summary.orders_end, summary.end);
    say_raw!("{}", report::rates_table(&rows));
    finish(&deployment, &config, &summary, &metrics).await
}

/// Imports the Chikan bundle (`fixtures/worlds/chikan`, embedded in the
/// binary) through the same path as `gridloop world import`, and returns
/// the district the simulation draws its people from: the world now in the
/// log, the bundle's volunteers, and the grid workers among its staff.
pub(super) async fn import_chikan(deployment: &Deployment) -> Result<District> {
    let files = gridloop_fixtures::bundle_files("chikan").context("the Chikan bundle is embedded")?;
    let bundle = gridloop_world::read_files(&files, gridloop_world::Encoding::Auto).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the embedded Chikan bundle does not check out:\n{}", lines.join("\n"))
    })?;
    let operator = Actor::new(Role::Admin, "demo")?;
    super::world::import_bundle(deployment, &bundle, operator, "importing the district").await?;
    let world = deployment.world();
    let volunteers = bundle
        .volunteers
        .values()
        .map(|v| VolunteerProfile {
            id: v.id.clone(),
            team: v.team.clone(),
            home_grid: v.home_grid.clone(),
            skills: v.skills.clone(),
            open_orders_max: v.open_orders_max,
        })
        .collect();
    let grid_workers = world
        .staff
        .values()
        .filter(|s| s.role == Role::GridWorker)
        .filter_map(|s| Some((s.place.clone().filter(|p| p.level() == Level::Grid)?, s.subject.clone())))
        .collect();
    let teams = world.teams.values().cloned().collect();
    Ok(District { world, teams, volunteers, grid_workers })
}

/// The simulation itself, with a progress bar (the seal key made first).
async fn simulate(deployment: &Deployment, district: Arc<District>, config: &DemoConfig) -> Result<DemoSummary> {
    let bar = progress_bar(u64::from(config.days) * 24 * 12, "simulated 5-minute steps");
    let bar_for_progress = bar.clone();
    if !sealing::key_path(deployment.dir()).exists() {
        say!("seal key made; its public half, for auditors: {}", sealing::init_key(deployment.dir())?);
    }
    let store = deployment.store();
    let personal: Arc<dyn PersonalStore> = Arc::new(store.local().personal()?);
    let summary = demo::run_with_personal(store.clone(), Some(personal), district, config, move |done, total| {
        bar_for_progress.set_length(total);
        bar_for_progress.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    Ok(summary)
}

/// The last seal, the snapshots, and the HTML report.
async fn finish(deployment: &Deployment, config: &DemoConfig, summary: &DemoSummary, metrics: &Metrics) -> Result<()> {
    let (store, dir) = (deployment.store(), deployment.dir());
    let heads = gridloop_projections::cold::Cold::new(deployment.cold_store());
    let seal = sealing::seal_now(store, dir, summary.end, &heads).await?;
    let gridloop_engine::seal::SealEvent::Sealed { position, .. } = &seal;
    say!(
        "log sealed at every simulated midnight ({} seals) and at the end, position {position} (gridloop audit --all --verify checks them)",
        summary.seals
    );
    let snapshots = store.local().snapshots()?;
    rebuild::<Board>(store, &snapshots).await?;
    rebuild::<Metrics>(store, &snapshots).await?;
    rebuild::<Ledger>(store, &snapshots).await?;
    let world = deployment.world();
    let zone = world.district.as_ref().map(|d| d.time_zone.as_str());
    let local = |at| report::local_time(at, zone);
    let subtitle = format!(
        "{} 天 · {} 张工单 · seed {} · as of {} · tickets ordered {} to {}",
        config.days,
        summary.tickets,
        config.seed,
        local(summary.end),
        local(config.start),
        local(summary.orders_end)
    );
    let grids = &world.grids;
    let html = report::html_report(metrics, grids, (config.start, summary.orders_end), summary.end, subtitle);
    let report_path = dir.join("report.html");
    std::fs::write(&report_path, html).with_context(|| format!("writing {}", report_path.display()))?;
    say!("\nreport: {}", report_path.display());
    match store {
        LogStore::Sled(sled) => say!("store: {} ({} bytes on disk)", dir.display(), sled.size_on_disk()),
        LogStore::Nats { .. } => say!("store: {}", store.describe(dir)),
    }
    Ok(())
}
