//! Folding a store's log into the metrics, and the rates table people read.

use std::fmt::Write as _;

use gridloop_engine::grid::{GridCode, GridTree, Level};
use gridloop_engine::store::EventStore;
use gridloop_engine::time::{DAY_MS, HOUR_MS, Timestamp};
use gridloop_projections::calendar::{CALENDAR_ZONE, CST_OFFSET_MS, Period, bucket, local_day};
use gridloop_projections::runner::Runner;
use gridloop_projections::{By, Cohort, Metrics, ProjectionError, Rate, Rates};

use gridloop_report::{Chart, Report, Series, TableRow};

/// Folds the whole log into the metrics, calling `progress(position)` after
/// each batch; returns them with the number of events folded.
pub async fn fold_metrics<S: EventStore>(
    store: &S,
    progress: impl FnMut(u64),
) -> Result<(Metrics, u64), ProjectionError> {
    let mut runner = Runner::<Metrics>::fresh();
    let count = runner.catch_up(store, None, progress).await?;
    Ok((runner.state().clone(), count))
}

/// An instant as reports show it: `2026-11-29 18:35 Asia/Shanghai`, in the
/// district's time zone (the world's `time_zone`; the calendar's when the
/// log holds no district) looked up in the system's time zone database. A
/// zone the database lacks is shown in UTC, saying so, never silently in
/// another zone.
pub fn local_time(at: Timestamp, zone: Option<&str>) -> String {
    let Ok(instant) = jiff::Timestamp::from_millisecond(at.as_millis()) else {
        return at.to_string();
    };
    let zone = zone.unwrap_or(CALENDAR_ZONE);
    let (tz, name) = match jiff::tz::db().get(zone).ok().map(|tz| (tz, zone)) {
        Some((tz, name)) => (tz, name),
        None => (jiff::tz::TimeZone::UTC, "UTC"),
    };
    format!("{} {name}", tz.to_datetime(instant).strftime("%Y-%m-%d %H:%M"))
}

/// The earliest instant any cohort may start (2000-01-01).
pub fn beginning() -> Timestamp {
    Cohort::earliest()
}

/// One row per street and a district total, for every ticket submitted
/// before `submitted_before`, evaluated as of `as_of`.
pub fn rates_by_street(
    metrics: &Metrics,
    grids: &GridTree,
    submitted_before: Timestamp,
    as_of: Timestamp,
) -> Vec<(String, Rates)> {
    let cohort = Cohort { from: beginning(), to: submitted_before, scope: None };
    breakdown(metrics, grids, &cohort, as_of, By::Place(Level::Street))
}

/// The rows of a breakdown of `cohort` (places named from the grid tree),
/// then a total row for the whole cohort.
pub fn breakdown(
    metrics: &Metrics,
    grids: &GridTree,
    cohort: &Cohort,
    as_of: Timestamp,
    by: By,
) -> Vec<(String, Rates)> {
    breakdown_named(metrics, grids, cohort, as_of, by, |_| None)
}

/// [`breakdown`], with `name` naming the keys that are not places (a
/// category, department or team code, by the world in the log).
pub fn breakdown_named(
    metrics: &Metrics,
    grids: &GridTree,
    cohort: &Cohort,
    as_of: Timestamp,
    by: By,
    name: impl Fn(&str) -> Option<String>,
) -> Vec<(String, Rates)> {
    let mut rows: Vec<(String, Rates)> = metrics
        .rates_by(cohort, as_of, by)
        .into_iter()
        .map(|(key, rates)| (place_name(grids, &key).or_else(|| name(&key)).unwrap_or(key), rates))
        .collect();
    let scope_name = cohort.scope.as_ref().and_then(|s| grids.get(s)).unwrap_or_else(|| grids.root()).name.clone();
    rows.push((format!("{scope_name} (all)"), metrics.rates(cohort, as_of)));
    rows
}

fn place_name(grids: &GridTree, key: &str) -> Option<String> {
    let code = GridCode::parse(key).ok()?;
    grids.get(&code).map(|n| n.name.clone())
}

/// The columns of the rates table and the HTML report, in order.
pub const RATE_COLUMNS: [&str; 6] =
    ["受理率 accepted", "办结率 resolved", "按期 on time", "满意率 satisfied", "网格内 in-grid", "闭环率 closed"];

fn rate_parts(r: &Rates) -> Vec<(u64, u64)> {
    [r.acceptance, r.completion, r.on_time, r.satisfaction, r.in_grid, r.closed_loop]
        .iter()
        .map(|rate| (rate.numerator, rate.denominator))
        .collect()
}

/// The demo's report page: the rates table per street, and the daily
/// completion, satisfaction and on-time rates of each street as charts (by
/// the day the tickets were ordered).
pub fn html_report(
    metrics: &Metrics,
    grids: &GridTree,
    orders: (Timestamp, Timestamp),
    as_of: Timestamp,
    subtitle: String,
) -> String {
    let rows = rates_by_street(metrics, grids, orders.1, as_of);
    let table = rows.iter().map(|(place, r)| TableRow { place: place.clone(), tickets: r.valid, rates: rate_parts(r) });
    let days = day_labels(orders);
    let chart = |title: &str, pick: fn(&Rates) -> Rate| Chart {
        title: title.to_string(),
        labels: days.clone(),
        series: grids
            .at_level(Level::Street)
            .map(|street| {
                let cohort = Cohort { from: orders.0, to: orders.1, scope: Some(street.code.clone()) };
                let by_day = metrics.rates_by(&cohort, as_of, By::Period(Period::Day));
                let points = days
                    .iter()
                    .map(|day| {
                        by_day.get(day).map(pick).filter(|r| r.denominator > 0).map(|r| (r.numerator, r.denominator))
                    })
                    .collect();
                Series { label: street.name.clone(), points }
            })
            .collect(),
    };
    let report = Report {
        title: format!("{} · 闭环报告 closed-loop report", grids.root().name),
        subtitle,
        columns: RATE_COLUMNS.iter().map(|c| c.to_string()).collect(),
        rows: table.collect(),
        charts: vec![
            chart("每日办结率 · daily completion rate, by street", |r| r.completion),
            chart("每日满意率 · daily satisfaction rate, by street", |r| r.satisfaction),
            chart("每日按期办结率 · daily on-time rate, by street", |r| r.on_time),
        ],
    };
    gridloop_report::render(&report)
}

/// The local (China) days from the first order's day to the last's.
fn day_labels((from, to): (Timestamp, Timestamp)) -> Vec<String> {
    let (first, last) = (local_day(from), local_day(Timestamp::from_millis(to.as_millis() - 1).unwrap_or(to)));
    (first..=last)
        .filter_map(|day| Timestamp::from_millis(day * DAY_MS as i64 + 12 * HOUR_MS as i64 - CST_OFFSET_MS).ok())
        .map(|noon| bucket(noon, Period::Day))
        .collect()
}

/// The table: tickets, then each rate as a percentage.
pub fn rates_table(rows: &[(String, Rates)]) -> String {
    let mut out = String::new();
    let width = rows.iter().map(|(place, _)| display_width(place)).max().unwrap_or(0).max(16);
    let header = ["place", "tickets", "accepted", "resolved", "on time", "satisfied", "in-grid", "closed"];
    let _ = writeln!(
        out,
        "{} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        pad(header[0], width),
        header[1],
        header[2],
        header[3],
        header[4],
        header[5],
        header[6],
        header[7]
    );
    for (place, r) in rows {
        let _ = writeln!(
            out,
            "{} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            pad(place, width),
            r.valid,
            percent(r.acceptance),
            percent(r.completion),
            percent(r.on_time),
            percent(r.satisfaction),
            percent(r.in_grid),
            percent(r.closed_loop),
        );
    }
    out
}

fn percent(rate: Rate) -> String {
    match rate.per_mille() {
        None => "no data".into(),
        Some(pm) => format!("{}.{}%", pm / 10, pm % 10),
    }
}

/// Columns a text takes in a terminal, counting CJK characters as two.
fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.len_utf8() > 1 { 2 } else { 1 }).sum()
}

/// Pads to a display width.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(display_width(text))))
}
