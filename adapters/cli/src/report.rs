//! Folding a store's log into the metrics, and the rates table people read.

use std::fmt::Write as _;

use gridloop_engine::grid::{GridTree, Level};
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_projections::runner::Runner;
use gridloop_projections::{Cohort, Metrics, ProjectionError, Rate, Rates};

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

/// One row per street and a district total, for every ticket submitted
/// before `submitted_before`, evaluated as of `as_of`.
pub fn rates_by_street(
    metrics: &Metrics,
    grids: &GridTree,
    submitted_before: Timestamp,
    as_of: Timestamp,
) -> Vec<(String, Rates)> {
    let from = Timestamp::from_millis(946_684_800_000).expect("year 2000 is in range");
    let cohort = |scope| Cohort { from, to: submitted_before, scope };
    let mut rows: Vec<(String, Rates)> = grids
        .at_level(Level::Street)
        .map(|street| (street.name.clone(), metrics.rates(&cohort(Some(street.code.clone())), as_of)))
        .collect();
    rows.push((format!("{} (all)", grids.root().name), metrics.rates(&cohort(None), as_of)));
    rows
}

/// The table: tickets, then each rate as a percentage.
pub fn rates_table(rows: &[(String, Rates)]) -> String {
    let mut out = String::new();
    let header = ["place", "tickets", "accepted", "resolved", "on time", "satisfied", "in-grid", "closed"];
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7]
    );
    for (place, r) in rows {
        let _ = writeln!(
            out,
            "{} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            pad(place, 16),
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

/// Pads to a display width, counting CJK characters as two columns.
fn pad(text: &str, width: usize) -> String {
    let shown: usize = text.chars().map(|c| if c.len_utf8() > 1 { 2 } else { 1 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}
