//! `gridloop metrics`: the completion-rate metrics of a window of tickets.

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use gridloop_cli::report;
use gridloop_engine::grid::{GridCode, GridTree, Level};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_projections::{By, Cohort, Metrics};

use super::{DataDir, Host, catch_up, parse_instant, store_last_event_time};

/// Print the completion-rate metrics (受理率, 办结率, 按期, 满意率,
/// 网格内, 闭环率) of the tickets submitted in a window, broken down by
/// place, department, team, category or period.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Only tickets in this place: district|street|community|grid:CODE,
    /// e.g. community:440802-001-002.
    #[arg(long, value_name = "LEVEL:CODE")]
    scope: Option<String>,
    /// Submitted at or after this (YYYY-MM-DD, China time, or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Submitted before this (YYYY-MM-DD, China time, or RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// Rows per street, community, grid, department, team, category,
    /// day, week or month.
    #[arg(long, value_enum, default_value_t = ByArg::Street)]
    by: ByArg,
    /// Evaluate as of this instant (RFC 3339); default: just after the
    /// last event.
    #[arg(long)]
    as_of: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// What `--by` takes: the names `By::parse` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ByArg {
    Street,
    Community,
    Grid,
    Department,
    Team,
    Category,
    Day,
    Week,
    Month,
}

impl ByArg {
    fn by(self) -> By {
        let name = self.to_possible_value().expect("no variant is skipped");
        By::parse(name.get_name()).expect("every --by name is one By::parse knows")
    }
}

pub async fn run(args: MetricsArgs, host: &Host<'_>) -> Result<()> {
    let by = args.by.by();
    let from = args.from.as_deref().map(|t| parse_instant(t, "--from")).transpose()?;
    let to = args.to.as_deref().map(|t| parse_instant(t, "--to")).transpose()?;
    let deployment = host.open(&args.data).await?;
    let world = deployment.world();
    let grids = &world.grids;
    let scope = args.scope.as_deref().map(|s| parse_scope(s, grids)).transpose()?;
    let store = deployment.store();
    let runner = catch_up::<Metrics>(store).await?;
    let metrics = runner.state();
    let last = metrics.last_submitted()?.unwrap_or_default();
    let as_of = match args.as_of {
        Some(text) => Timestamp::parse(&text).context("--as-of")?,
        None => store_last_event_time(store).await?.unwrap_or(last).plus(Millis(1)),
    };
    let cohort = Cohort { from: from.unwrap_or_else(report::beginning), to: to.unwrap_or(as_of), scope };
    if cohort.from >= cohort.to {
        bail!("--from must be before --to");
    }
    let rows = report::breakdown_named(metrics, grids, &cohort, as_of, by, |key| key_name(&world, key));
    if args.json {
        let rows: Vec<serde_json::Value> =
            rows.iter().map(|(key, rates)| serde_json::json!({ "key": key, "rates": rates })).collect();
        say!("{}", serde_json::to_string_pretty(&serde_json::json!({ "as_of": as_of, "rows": rows }))?);
    } else {
        let zone = world.district.as_ref().map(|d| d.time_zone.as_str());
        say!("as of {}:", report::local_time(as_of, zone));
        say_raw!("{}", report::rates_table(&rows));
    }
    Ok(())
}

/// `--scope LEVEL:CODE`: a place of the district's grid tree at that level.
pub fn parse_scope(text: &str, grids: &GridTree) -> Result<GridCode> {
    let (level, code) = text.split_once(':').context("--scope is LEVEL:CODE, e.g. community:440802-001-002")?;
    let code = GridCode::parse(code)?;
    let expected = match level {
        "district" => Level::District,
        "street" => Level::Street,
        "community" => Level::Community,
        "grid" => Level::Grid,
        other => bail!("--scope level {other:?} is not one of district, street, community, grid"),
    };
    if code.level() != expected {
        bail!("--scope {code} is a {} code, not a {level} code", code.level().name());
    }
    grids.require(&code)?;
    Ok(code)
}

/// The name the world in the log gives a category, department or team code.
fn key_name(world: &gridloop_engine::World, key: &str) -> Option<String> {
    if let Ok(code) = gridloop_engine::ids::CategoryCode::new(key)
        && let Ok(category) = world.catalog.category(&code)
    {
        return Some(category.name.clone());
    }
    if let Ok(code) = gridloop_engine::ids::DepartmentId::new(key)
        && let Ok(department) = world.catalog.department(&code)
    {
        return Some(department.name.clone());
    }
    let team = gridloop_engine::ids::TeamId::new(key).ok()?;
    world.teams.get(&team).map(|t| t.name.clone())
}
