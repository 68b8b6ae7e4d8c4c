//! `gridloop report weekly` and `gridloop report ranking`: a grid head's
//! week (周报告) and the weekly ranking (通报), printed, as JSON, or as the
//! same page the server shows (`--html FILE`, A4 print rules) or CSV.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::time::Timestamp;
use gridloop_engine::weekly::IsoWeek;
use gridloop_http::weekly::{as_of_for, last_whole_week, local, ranking_table, sheet};
use gridloop_projections::Metrics;
use gridloop_projections::directory::Directory;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::weekly::{GridWeek, RankBy, Sources, Weekly, ranking};
use gridloop_report::weekly as pages;

use super::{DataDir, Host, catch_up};

/// Weekly reports: a grid head's week, the ranking of departments,
/// streets or communities.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// A grid head's week (周报告): tickets by status and category,
    /// patrols, overdue and escalated matters, the rates, volunteers'
    /// service and points, and the head's narrative if submitted.
    Weekly(WeeklyArgs),
    /// The weekly ranking (通报) by on-time resolution, then satisfaction.
    Ranking(RankingArgs),
}

#[derive(Debug, Args)]
pub struct WeeklyArgs {
    /// The grid's code, e.g. 440802-001-001-001.
    #[arg(long)]
    grid: String,
    /// The ISO week, e.g. 2026-W49 (China time).
    #[arg(long)]
    week: String,
    /// Evaluate as of this instant (RFC 3339); default: now, or the close
    /// of the week's correction window once it has passed.
    #[arg(long)]
    as_of: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the printable page (A4) to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

#[derive(Debug, Args)]
pub struct RankingArgs {
    /// The ISO week, e.g. 2026-W49; default: the last whole week.
    #[arg(long)]
    week: Option<String>,
    /// department, street or community.
    #[arg(long, default_value = "community")]
    by: String,
    /// Evaluate as of this instant (RFC 3339).
    #[arg(long)]
    as_of: Option<String>,
    /// Write the CSV (UTF-8 with a BOM, for Excel) to this file.
    #[arg(long, value_name = "FILE")]
    csv: Option<std::path::PathBuf>,
    /// Write the page to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

impl ReportArgs {
    pub fn data(&self) -> &DataDir {
        match &self.what {
            What::Weekly(a) => &a.data,
            What::Ranking(a) => &a.data,
        }
    }
}

pub async fn run(args: ReportArgs, host: &Host<'_>) -> Result<()> {
    match args.what {
        What::Weekly(a) => weekly(a, host).await,
        What::Ranking(a) => ranking_run(a, host).await,
    }
}

fn week_arg(text: &str) -> Result<IsoWeek> {
    IsoWeek::parse(text).with_context(|| format!("--week {text:?}: expected an ISO week such as 2026-W49"))
}

fn as_of_arg(asked: Option<&str>, week: IsoWeek, now: Timestamp) -> Result<Timestamp> {
    Ok(match asked {
        Some(text) => Timestamp::parse(text).context("--as-of: expected RFC 3339")?,
        None => as_of_for(week, now),
    })
}

async fn weekly(args: WeeklyArgs, host: &Host<'_>) -> Result<()> {
    let week = week_arg(&args.week)?;
    let grid = GridCode::parse(&args.grid).with_context(|| format!("--grid {:?}", args.grid))?;
    let deployment = host.open(&args.data).await?;
    let as_of = as_of_arg(args.as_of.as_deref(), week, deployment.clock().now())?;
    let world = deployment.world();
    world.grids.require(&grid).with_context(|| format!("--grid {grid}"))?;
    if grid.level() != Level::Grid {
        bail!("--grid {grid} is a {} code, not a grid's", grid.level().name());
    }
    let store = deployment.store();
    let metrics = catch_up::<Metrics>(store).await?;
    let ledger = catch_up::<Ledger>(store).await?;
    let weekly = catch_up::<Weekly>(store).await?;
    let directory = catch_up::<Directory>(store).await?;
    let residents: Vec<_> = directory
        .state()
        .views_within(&grid, as_of, gridloop_engine::time::Millis(0))
        .into_iter()
        .map(|v| v.id)
        .collect();
    let sources = Sources { metrics: metrics.state(), ledger: ledger.state(), weekly: weekly.state() };
    let generated = GridWeek::generate(sources, &grid, week, as_of, &residents);
    let report = serde_json::to_value(weekly.state().report(&grid, week))?;
    let page = sheet(&world, &generated, week, &report);
    if let Some(path) = &args.html {
        let html = pages::standalone(&format!("{week} {grid} 周报告"), pages::weekly_fragment(&page));
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        let answer = serde_json::json!({ "week": generated, "figures": generated.figures(), "report": report });
        say!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    print_week(&page);
    Ok(())
}

fn print_week(w: &pages::WeekSheet) {
    say!("网格长周报告 · weekly report: {} {}", w.place, w.grid);
    say!("{} ({}), figures as of {}", w.week, w.dates, w.as_of);
    let list = |rows: &[(String, u64)]| rows.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    say!("tickets by status: {}", if w.by_status.is_empty() { "none".into() } else { list(&w.by_status) });
    say!("tickets by category: {}", if w.by_category.is_empty() { "none".into() } else { list(&w.by_category) });
    say!("patrols {}, visits {}, found on patrol {}", w.patrols.0, w.patrols.1, w.patrols.2);
    say!("overdue ({}): {}", w.overdue.len(), w.overdue.join(" "));
    say!("escalated ({}): {}", w.escalated.len(), w.escalated.join(" "));
    for (label, (n, d)) in &w.rates {
        let value =
            if *d == 0 { "no data".to_string() } else { format!("{} ({n}/{d})", gridloop_report::percent(*n, *d)) };
        say!("  {label}: {value}");
    }
    say!("volunteers ({}):", w.volunteers.len());
    for (id, services, minutes, points) in &w.volunteers {
        say!("  {id}: {services} services, {minutes} minutes, {points} points");
    }
    match &w.submitted {
        Some((revision, by, at, narrative)) => say!("report: revision {revision} by {by} at {at}\n{narrative}"),
        None => say!("report: not submitted"),
    }
}

async fn ranking_run(args: RankingArgs, host: &Host<'_>) -> Result<()> {
    let by = RankBy::parse(&args.by)
        .with_context(|| format!("--by {:?}: expected department, street or community", args.by))?;
    let asked = args.week.as_deref().map(week_arg).transpose()?;
    let deployment = host.open(&args.data).await?;
    let week = asked.unwrap_or_else(|| last_whole_week(deployment.clock().now()));
    let as_of = as_of_arg(args.as_of.as_deref(), week, deployment.clock().now())?;
    let world = deployment.world();
    let metrics = catch_up::<Metrics>(deployment.store()).await?;
    let rows = ranking(metrics.state(), week, None, as_of, by);
    let table = ranking_table(&world, week, as_of, by, &rows);
    if let Some(path) = &args.csv {
        std::fs::write(path, pages::ranking_csv(&table)).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        let html = pages::standalone(&table.title, pages::ranking_fragment(&table));
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    say!("{} · {} · as of {}", table.title, table.week, local(as_of));
    say!("{:>4}  {:<24} {:>7} {:>22} {:>22}", "rank", "name", "tickets", "on time", "satisfied");
    for l in &table.rows {
        let rate = |(n, d): (u64, u64)| {
            if d == 0 { "no data".into() } else { format!("{} ({n}/{d})", gridloop_report::percent(n, d)) }
        };
        say!("{:>4}  {:<24} {:>7} {:>22} {:>22}", l.rank, l.name, l.submitted, rate(l.on_time), rate(l.satisfaction));
    }
    Ok(())
}
