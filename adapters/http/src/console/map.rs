//! The map of the grids, drawn here as SVG from the world's boundaries: no
//! tiles, no request to any other host.
//!
//! - `GET /board/map?scope=`: each grid of the caller's place (or `scope`
//!   within it) shaded by its open tickets and outlined red when one of
//!   them missed a deadline ([`Ticket::overdue`], the board's own flag).
//! - `GET /metrics/map?scope=&rate=&from=&to=`: each grid shaded by a rate
//!   (`completion`, `on_time`, `satisfaction`, `in_grid`, `acceptance`,
//!   `closed_loop`) of the tickets submitted in `[from, to)`.
//!
//! Every grid is a `path` carrying `data-grid` (its code), `data-name`, and
//! what it counts (`data-open`, `data-overdue`, or `data-permille`), with a
//! `title` a pointer shows; the console makes a click on one filter the
//! board. The projection is equirectangular, scaled by the cosine of the
//! middle latitude, which is exact enough for a district. Colours are
//! presentation, chosen here so the page derives nothing.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use gridloop_engine::Error;
use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, GridTree, Level};
use gridloop_engine::permit::{Access, Read, Target, permit};
use gridloop_engine::store::EventStore;
use gridloop_projections::calendar::parse_day_or_instant;
use gridloop_projections::{By, Cohort, Rate, Rates};
use maud::{Markup, html};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::{AppError, AppState};

/// The map's width in SVG units; the height follows the place's shape.
const WIDTH: f64 = 800.0;
/// The most grids one map draws (a district's few hundred fit).
pub const MAP_GRIDS_MAX: usize = 5_000;
/// Open-ticket shades: none, 1, 2–3, 4–7, 8 or more.
const OPEN_SHADES: [(u64, &str); 5] = [(0, "#eef2f6"), (1, "#cfe3f7"), (2, "#9cc5ee"), (4, "#5b9bd8"), (8, "#1f5fa8")];
/// Rate shades from worst to best, by per mille: below 600, 750, 900, 970.
const RATE_SHADES: [(u64, &str); 5] =
    [(0, "#b91c1c"), (600, "#ea580c"), (750, "#facc15"), (900, "#86efac"), (970, "#15803d")];
/// A grid with no data for the rate.
const NO_DATA: &str = "#f3f4f6";
/// The outline of a grid with a ticket that missed a deadline.
const OVERDUE_STROKE: &str = "#c2410c";

/// `?scope=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoardMapParams {
    /// A place within the caller's (the caller's place by default).
    scope: Option<String>,
}

/// `?scope=&rate=&from=&to=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsMapParams {
    /// A place within the caller's (the caller's place by default).
    scope: Option<String>,
    /// `completion` (default), `on_time`, `satisfaction`, `in_grid`,
    /// `acceptance` or `closed_loop`.
    rate: Option<String>,
    /// A day (`2026-11-01`) or an RFC 3339 instant; by default the first ticket.
    from: Option<String>,
    /// A day or an RFC 3339 instant, excluded; by default just past now.
    to: Option<String>,
}

/// How one grid is drawn.
struct Shade {
    fill: &'static str,
    overdue: bool,
    /// Open tickets and those that missed a deadline (the board's map).
    counts: Option<(u64, u64)>,
    /// The rate in per mille, when it has data (the metrics' map).
    per_mille: Option<u64>,
    title: String,
}

/// `GET /board/map`: the grids shaded by open and overdue tickets.
#[utoipa::path(
    get,
    path = "/board/map",
    operation_id = "board_map",
    tag = "console",
    summary = "The grids of the caller's place as SVG, shaded by open tickets, outlined where one missed a deadline",
    params(BoardMapParams),
    responses((status = 200, description = "The map", body = String, content_type = "image/svg+xml"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn board_map<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<BoardMapParams>, QueryRejection>,
) -> Result<Response, AppError> {
    permit(&who, Access::Read(Read::Board), Target::District)?;
    let p = super::api::params(query)?;
    let world = state.service.world();
    let asked = p.scope.as_deref().map(|s| super::api::known_grid(&world.grids, "scope", s)).transpose()?;
    let scope = super::api::scope_for(&world.grids, &who, asked)?;
    state.live.catch_up(state.service.store()).await?;
    let now = state.service.clock().now();
    let views = state.live.read().await;
    let mut counts: BTreeMap<GridCode, (u64, u64)> = BTreeMap::new();
    for ticket in views.board.state().open_tickets() {
        let Some(grid) = ticket.grid.as_ref().filter(|g| g.is_within(&scope)) else { continue };
        let Some(grid) = grid.at_level(Level::Grid) else { continue };
        let count = counts.entry(grid).or_default();
        count.0 += 1;
        count.1 += u64::from(ticket.overdue(now));
    }
    drop(views);
    let svg = draw(&world.grids, &scope, "open", |node| {
        let (open, overdue) = counts.get(&node.code).copied().unwrap_or_default();
        let fill = OPEN_SHADES.iter().rev().find(|(from, _)| open >= *from).map_or(OPEN_SHADES[0].1, |(_, c)| c);
        Shade {
            fill,
            overdue: overdue > 0,
            counts: Some((open, overdue)),
            per_mille: None,
            title: format!("{} {}: {open} open, {overdue} overdue", node.code, node.name),
        }
    })?;
    Ok(svg_answer(svg))
}

/// `GET /metrics/map`: the grids shaded by a rate.
#[utoipa::path(
    get,
    path = "/metrics/map",
    operation_id = "metrics_map",
    tag = "metrics",
    summary = "The grids of the caller's place as SVG, shaded by a rate of the tickets submitted in a range",
    params(MetricsMapParams),
    responses((status = 200, description = "The map", body = String, content_type = "image/svg+xml"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn metrics_map<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<MetricsMapParams>, QueryRejection>,
) -> Result<Response, AppError> {
    permit(&who, Access::Read(Read::Metrics), Target::District)?;
    let p = super::api::params(query)?;
    let world = state.service.world();
    let asked = p.scope.as_deref().map(|s| super::api::known_grid(&world.grids, "scope", s)).transpose()?;
    let scope = super::api::scope_for(&world.grids, &who, asked)?;
    let rate_name = p.rate.as_deref().map(|r| super::api::text("rate", r)).transpose()?.unwrap_or("completion");
    let pick = rate_of(rate_name)?;
    let instant = |name: &'static str, value: &str| {
        parse_day_or_instant(super::api::text(name, value)?)
            .ok_or_else(|| Error::invalid(name, "expected YYYY-MM-DD or RFC 3339"))
    };
    let from = p.from.as_deref().map(|t| instant("from", t)).transpose()?;
    let to = p.to.as_deref().map(|t| instant("to", t)).transpose()?;
    state.live.catch_up(state.service.store()).await?;
    let as_of = state.service.clock().now();
    let views = state.live.read().await;
    let metrics = views.metrics.state();
    let from = from.unwrap_or(gridloop_engine::time::Timestamp::from_millis(946_684_800_000)?);
    let to = to.unwrap_or(as_of.plus(gridloop_engine::time::Millis(1)));
    if from >= to {
        return Err(Error::invalid("from", "must be before to").into());
    }
    let cohort = Cohort { from, to, scope: Some(scope.clone()) };
    let rates: BTreeMap<String, Rates> = metrics.rates_by(&cohort, as_of, By::Place(Level::Grid));
    drop(views);
    let svg = draw(&world.grids, &scope, rate_name, |node| {
        let rate = rates.get(node.code.as_str()).map(pick);
        let per_mille = rate.and_then(Rate::per_mille);
        let fill = per_mille.map_or(NO_DATA, |pm| {
            RATE_SHADES.iter().rev().find(|(from, _)| pm >= *from).map_or(RATE_SHADES[0].1, |(_, c)| c)
        });
        let shown = per_mille.map_or("no data".to_string(), |pm| format!("{}.{}%", pm / 10, pm % 10));
        let parts = rate.map_or(String::new(), |r| format!(" ({}/{})", r.numerator, r.denominator));
        Shade {
            fill,
            overdue: false,
            counts: None,
            per_mille,
            title: format!("{} {}: {rate_name} {shown}{parts}", node.code, node.name),
        }
    })?;
    Ok(svg_answer(svg))
}

/// The rate a name picks out of [`Rates`].
fn rate_of(name: &str) -> Result<fn(&Rates) -> Rate, Error> {
    Ok(match name {
        "completion" => |r| r.completion,
        "on_time" => |r| r.on_time,
        "satisfaction" => |r| r.satisfaction,
        "in_grid" => |r| r.in_grid,
        "acceptance" => |r| r.acceptance,
        "closed_loop" => |r| r.closed_loop,
        _ => {
            return Err(Error::invalid(
                "rate",
                "must be completion, on_time, satisfaction, in_grid, acceptance or closed_loop",
            ));
        }
    })
}

fn svg_answer(svg: Markup) -> Response {
    ([(CONTENT_TYPE, "image/svg+xml; charset=utf-8"), (CACHE_CONTROL, "no-store")], svg.into_string()).into_response()
}

/// Fits longitude and latitude (micro-degrees) into the map's frame.
struct Frame {
    west: f64,
    north: f64,
    scale: f64,
    squeeze: f64,
    height: f64,
}

impl Frame {
    fn around<'a>(points: impl Iterator<Item = &'a GeoPoint>) -> Option<Self> {
        let (mut west, mut east, mut south, mut north) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in points {
            let (x, y) = (f64::from(p.lon), f64::from(p.lat));
            (west, east, south, north) = (west.min(x), east.max(x), south.min(y), north.max(y));
        }
        if west >= east || south >= north {
            return None;
        }
        let squeeze = ((south + north) / 2.0 / 1e6).to_radians().cos();
        let scale = WIDTH / ((east - west) * squeeze);
        Some(Self { west, north, scale, squeeze, height: (north - south) * scale })
    }

    fn path(&self, ring: &[GeoPoint]) -> String {
        let mut d = String::new();
        for (i, p) in ring.iter().enumerate() {
            let x = (f64::from(p.lon) - self.west) * self.squeeze * self.scale;
            let y = (self.north - f64::from(p.lat)) * self.scale;
            d.push_str(&format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" }));
        }
        d.push('Z');
        d
    }
}

/// The grids within `scope` as one SVG, each shaded by `shade`, with the
/// communities' outlines over them.
fn draw(grids: &GridTree, scope: &GridCode, kind: &str, shade: impl Fn(&GridNode) -> Shade) -> Result<Markup, Error> {
    let inside = |level: Level| grids.at_level(level).filter(|n| n.code.is_within(scope) && n.boundary.len() >= 3);
    let cells: Vec<&GridNode> = inside(Level::Grid).take(MAP_GRIDS_MAX + 1).collect();
    if cells.len() > MAP_GRIDS_MAX {
        return Err(Error::invalid("scope", format!("more than {MAP_GRIDS_MAX} grids: narrow it")));
    }
    let frame = Frame::around(cells.iter().flat_map(|n| n.boundary.iter()))
        .ok_or_else(|| Error::invalid("scope", "its grids have no boundaries to draw"))?;
    let outlines: Vec<&GridNode> =
        if scope.level() < Level::Community { inside(Level::Community).collect() } else { Vec::new() };
    let height = frame.height.ceil();
    Ok(html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {}", height + 34.0)) class="grid-map"
            role="img" aria-label=(format!("{} {}", scope, grids.get(scope).map_or("", |n| n.name.as_str())))
            data-scope=(scope) data-kind=(kind) {
            g class="grids" {
                @for node in &cells {
                    @let s = shade(node);
                    path d=(frame.path(&node.boundary)) fill=(s.fill)
                        stroke=(if s.overdue { OVERDUE_STROKE } else { "#ffffff" })
                        stroke-width=(if s.overdue { "2.5" } else { "0.8" })
                        data-grid=(node.code) data-name=(node.name) data-name-en=(node.name_en)
                        data-open=[s.counts.map(|c| c.0)] data-overdue=[s.counts.map(|c| c.1)]
                        data-permille=[s.per_mille] tabindex="0" role="button"
                        aria-label=(s.title) {
                        title { (s.title) }
                    }
                }
            }
            g class="outlines" fill="none" stroke="#334155" stroke-width="1.2" pointer-events="none" {
                @for node in &outlines { path d=(frame.path(&node.boundary)) {} }
            }
            (legend(kind, height))
        }
    })
}

/// The key below the map.
fn legend(kind: &str, top: f64) -> Markup {
    let y = top + 10.0;
    let swatches: Vec<(&str, String)> = if kind == "open" {
        let mut s: Vec<(&str, String)> = vec![
            (OPEN_SHADES[0].1, "0".into()),
            (OPEN_SHADES[1].1, "1".into()),
            (OPEN_SHADES[2].1, "2–3".into()),
            (OPEN_SHADES[3].1, "4–7".into()),
            (OPEN_SHADES[4].1, "8+".into()),
        ];
        s.push(("none", "超时 overdue".into()));
        s
    } else {
        vec![
            (RATE_SHADES[0].1, "<60%".into()),
            (RATE_SHADES[1].1, "60–75%".into()),
            (RATE_SHADES[2].1, "75–90%".into()),
            (RATE_SHADES[3].1, "90–97%".into()),
            (RATE_SHADES[4].1, "≥97%".into()),
            (NO_DATA, "无数据 no data".into()),
        ]
    };
    html! {
        g class="legend" font-size="12" fill="#334155" {
            @for (i, (colour, label)) in swatches.iter().enumerate() {
                @let x = 8.0 + i as f64 * 110.0;
                rect x=(x) y=(y) width="16" height="14" fill=(if *colour == "none" { "#ffffff" } else { colour })
                    stroke=(if *colour == "none" { OVERDUE_STROKE } else { "#94a3b8" })
                    stroke-width=(if *colour == "none" { "2.5" } else { "1" }) {}
                text x=(x + 22.0) y=(y + 12.0) { (label) }
            }
        }
    }
}
