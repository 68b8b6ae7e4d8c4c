//! The weekly ranking (通报) and the grid heads' weekly reports (周报告).
//!
//! JSON, HTML and CSV under `/api/v1/reports/...`, asked of the permit
//! rule like every read (`Read::Ranking`, `Read::WeeklyReports`,
//! `Write::WeeklyReport`), and two page shells at `/reports/ranking` and
//! `/reports/weekly` whose script (`assets/reports.js`) fetches the HTML
//! fragments with the token the console keeps in the tab, and submits a
//! head's narrative. The fragments, the CSV and the A4 print rules are
//! `gridloop-report`'s; the figures are the projections' (`weekly.rs`
//! there); the rules of a submission are the engine's (`weekly.rs`).
//!
//! Figures are evaluated as of now, or as of the end of the week's
//! correction window once it has closed, so a settled week's ranking
//! stays what it was when it was published.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use gridloop_engine::grid::{GridCode, GridTree, Level};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::service::Command;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::{DAY_MS, HOUR_MS, Timestamp, civil_from_days};
use gridloop_engine::weekly::{IsoWeek, WeeklyCommand, WeeklyId};
use gridloop_engine::{Error, World};
use gridloop_projections::weekly::{GridWeek, RankBy, RankRow, Sources, community_reports, ranking};
use gridloop_report::weekly::{self as pages, RankLine, Ranking, WeekSheet};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::Path;
use crate::{AppError, AppState};

/// The longest query parameter or path segment read, in bytes.
pub const PARAM_BYTES_MAX: usize = 128;
/// The largest submission body (a narrative of 2,000 characters fits).
pub const SUBMIT_BODY_BYTES_MAX: usize = 16 * 1024;
/// The pages' script.
pub const SCRIPT_JS: &str = include_str!("../assets/reports.js");

/// `?week=2026-W49&by=community&scope=CODE&format=json|html|csv`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RankingParams {
    /// The ISO week, `2026-W49` (China time); default: the last whole week.
    week: Option<String>,
    /// `department`, `street` or `community` (default).
    by: Option<String>,
    /// Rank within this place (default: the caller's place, or the district).
    scope: Option<String>,
    /// `json` (default), `html` (a fragment) or `csv`.
    format: Option<String>,
}

/// `?format=json|html`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormatParams {
    /// `json` (default) or `html` (a fragment).
    format: Option<String>,
}

/// A head's submission.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeeklyReportBody {
    /// The head's narrative (not empty, at most 2,000 characters).
    #[schema(max_length = 2000)]
    narrative: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
    Csv,
}

fn format(asked: Option<&str>, csv: bool) -> Result<Format, Error> {
    match asked.map(|t| bounded("format", t)).transpose()? {
        None | Some("json") => Ok(Format::Json),
        Some("html") => Ok(Format::Html),
        Some("csv") if csv => Ok(Format::Csv),
        Some(_) => {
            Err(Error::invalid("format", if csv { "must be json, html or csv" } else { "must be json or html" }))
        }
    }
}

fn bounded<'a>(name: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if value.len() > PARAM_BYTES_MAX {
        return Err(Error::invalid(name, format!("must be at most {PARAM_BYTES_MAX} bytes")));
    }
    Ok(value)
}

fn params<T: serde::de::DeserializeOwned>(query: Result<Query<T>, QueryRejection>) -> Result<T, Error> {
    let Query(params) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(params)
}

fn known_grid(grids: &GridTree, name: &'static str, value: &str) -> Result<GridCode, Error> {
    let code = GridCode::parse(bounded(name, value)?)?;
    grids
        .get(&code)
        .map(|n| n.code.clone())
        .ok_or_else(|| Error::invalid(name, format!("{code} is not in the district")))
}

fn week_of(text: &str) -> Result<IsoWeek, Error> {
    IsoWeek::parse(bounded("week", text)?)
}

/// The instant a week's figures are evaluated at: now, or the close of its
/// correction window once that has passed.
pub fn as_of_for(week: IsoWeek, now: Timestamp) -> Timestamp {
    now.min(week.closes())
}

/// `2026-12-07 16:05` in China time.
pub fn local(at: Timestamp) -> String {
    let ms = at.as_millis() + 8 * HOUR_MS as i64;
    let (day, rest) = (ms.div_euclid(DAY_MS as i64), ms.rem_euclid(DAY_MS as i64));
    let (y, m, d) = civil_from_days(day);
    let minutes = rest / 60_000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

fn dates(week: IsoWeek) -> String {
    let last = Timestamp::from_millis(week.end().as_millis() - 1).unwrap_or(week.end());
    format!("{} — {}", &local(week.start())[..10], &local(last)[..10])
}

/// `GET /reports/ranking`: the week's departments, streets or communities
/// ranked by on-time resolution, then satisfaction, as JSON, an HTML
/// fragment or CSV (UTF-8 with a BOM).
#[utoipa::path(
    get,
    path = "/reports/ranking",
    operation_id = "ranking",
    tag = "reports",
    summary = "The weekly ranking (通报) by on-time resolution and satisfaction, as JSON, HTML or CSV",
    params(RankingParams),
    responses((status = 200, description = "The ranking (JSON; `format=html` a fragment, `format=csv` CSV with a BOM)", body = crate::openapi::shapes::WeeklyRanking), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn ranking_route<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<RankingParams>, QueryRejection>,
) -> Result<Response, AppError> {
    permit(&who, Access::Read(Read::Ranking), Target::District)?;
    let p = params(query)?;
    let fmt = format(p.format.as_deref(), true)?;
    let world = state.service.world();
    let now = state.service.clock().now();
    let week = match p.week.as_deref() {
        Some(text) => week_of(text)?,
        None => last_whole_week(now),
    };
    let by = match p.by.as_deref() {
        None => RankBy::Community,
        Some(text) => RankBy::parse(bounded("by", text)?)
            .ok_or_else(|| Error::invalid("by", "must be department, street or community"))?,
    };
    let asked = p.scope.as_deref().map(|s| known_grid(&world.grids, "scope", s)).transpose()?;
    let scope = who.scope(asked)?;
    if let Some(place) = &scope {
        permit(&who, Access::Read(Read::Ranking), Target::Place(place))?;
    }
    state.live.catch_up(state.service.store()).await?;
    let as_of = as_of_for(week, now);
    let rows = {
        let views = state.live.read().await;
        ranking(views.metrics.state(), week, scope.clone(), as_of, by)
    };
    let table = ranking_table(&world, week, as_of, by, &rows);
    Ok(match fmt {
        Format::Json => Json(json!({
            "week": week.to_string(), "by": by.name(), "scope": scope, "as_of": as_of,
            "rows": rows.iter().zip(&table.rows).map(|(r, l)| json!({
                "rank": r.rank, "key": r.key, "name": l.name, "submitted": r.submitted,
                "on_time": r.on_time, "satisfaction": r.satisfaction, "completion": r.completion,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Format::Html => fragment(pages::ranking_fragment(&table)),
        Format::Csv => {
            let name = format!("attachment; filename=\"ranking-{}-{}.csv\"", week, by.name());
            let headers = [(CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (CONTENT_DISPOSITION, name)];
            (headers, pages::ranking_csv(&table)).into_response()
        }
    })
}

/// The week before the one `now` is in: the week a ranking is about by
/// default.
pub fn last_whole_week(now: Timestamp) -> IsoWeek {
    let week = IsoWeek::containing(now);
    IsoWeek::containing(Timestamp::from_millis(week.start().as_millis() - 1).unwrap_or(week.start()))
}

/// The ranking's rows with names from the world, ready to render.
pub fn ranking_table(world: &World, week: IsoWeek, as_of: Timestamp, by: RankBy, rows: &[RankRow]) -> Ranking {
    let ranked = match by {
        RankBy::Department => "部门 Departments",
        RankBy::Street => "街道 Streets",
        RankBy::Community => "社区 Communities",
    };
    let name = |key: &str| -> String {
        let place = GridCode::parse(key).ok().and_then(|c| world.grids.get(&c).map(|n| n.name.clone()));
        let dept = || {
            gridloop_engine::ids::DepartmentId::new(key)
                .ok()
                .and_then(|d| world.catalog.department(&d).ok().map(|d| d.name.clone()))
        };
        match by {
            RankBy::Department => dept(),
            _ => place,
        }
        .unwrap_or_else(|| key.to_string())
    };
    Ranking {
        title: format!("{week} 按期办结与满意度通报 · Weekly ranking"),
        ranked: ranked.into(),
        week: format!("{week} ({})", dates(week)),
        as_of: local(as_of),
        rows: rows
            .iter()
            .map(|r| RankLine {
                rank: r.rank,
                key: r.key.clone(),
                name: name(&r.key),
                submitted: r.submitted,
                on_time: (r.on_time.numerator, r.on_time.denominator),
                satisfaction: (r.satisfaction.numerator, r.satisfaction.denominator),
                completion: (r.completion.numerator, r.completion.denominator),
            })
            .collect(),
    }
}

fn fragment(markup: Markup) -> Response {
    let headers = [(CONTENT_TYPE, "text/html; charset=utf-8"), (X_CONTENT_TYPE_OPTIONS, "nosniff")];
    (headers, markup.into_string()).into_response()
}

/// A grid's week generated now (the live projections, caught up).
async fn generate<S: EventStore>(
    state: &AppState<S>,
    grid: &GridCode,
    week: IsoWeek,
) -> Result<(GridWeek, Value), AppError> {
    state.live.catch_up(state.service.store()).await?;
    let as_of = as_of_for(week, state.service.clock().now());
    let views = state.live.read().await;
    let residents: Vec<_> = views
        .directory
        .state()
        .views_within(grid, as_of, gridloop_engine::time::Millis(0))
        .into_iter()
        .map(|v| v.id)
        .collect();
    let sources =
        Sources { metrics: views.metrics.state(), ledger: views.ledger.state(), weekly: views.weekly.state() };
    let generated = GridWeek::generate(sources, grid, week, as_of, &residents);
    let report = views.weekly.state().report(grid, week).cloned();
    Ok((generated, serde_json::to_value(report).map_err(|e| Error::Corrupt(e.to_string()))?))
}

/// `GET /reports/weekly/{grid}/{week}`: the grid's week generated from the
/// log, and the head's report if submitted.
#[utoipa::path(
    get,
    path = "/reports/weekly/{grid}/{week}",
    operation_id = "weekly_report",
    tag = "reports",
    summary = "A grid's week (tickets, patrols, overdue and escalated matters, rates, volunteers) and its head's report",
    params(("grid" = String, Path, description = "A grid code"), ("week" = String, Path, description = "An ISO week, 2026-W49"), FormatParams),
    responses((status = 200, description = "The week (JSON; `format=html` a fragment)", body = crate::openapi::shapes::GridWeek), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((grid, week)): Path<(String, String)>,
    query: Result<Query<FormatParams>, QueryRejection>,
) -> Result<Response, AppError> {
    permit(&who, Access::Read(Read::WeeklyReports), Target::District)?;
    let fmt = format(params(query)?.format.as_deref(), false)?;
    let world = state.service.world();
    let grid = known_grid(&world.grids, "grid", &grid)?;
    let week = week_of(&week)?;
    permit(&who, Access::Read(Read::WeeklyReports), Target::Place(&grid))?;
    if grid.level() != Level::Grid {
        return Err(Error::invalid("grid", format!("{grid} is not a grid")).into());
    }
    let (generated, report) = generate(&state, &grid, week).await?;
    Ok(match fmt {
        Format::Html => fragment(pages::weekly_fragment(&sheet(&world, &generated, week, &report))),
        _ => Json(json!({ "week": generated, "figures": generated.figures(), "report": report })).into_response(),
    })
}

/// A grid's week with names from the world, and its report (the
/// projection's `Submission` as JSON, or null), ready to render.
pub fn sheet(world: &World, w: &GridWeek, week: IsoWeek, report: &Value) -> WeekSheet {
    let name = |code: &GridCode| world.grids.get(code).map_or(code.to_string(), |n| n.name.clone());
    let community = w.grid.at_level(Level::Community).map(|c| name(&c)).unwrap_or_default();
    let status_label = |k: &str| match k {
        "waiting" => "待受理 Waiting",
        "in_hand" => "办理中 In hand",
        "resolved" => "已办结 Resolved",
        "closed" => "已关闭 Closed",
        _ => "已撤销 Withdrawn",
    };
    let category = |k: &str| {
        gridloop_engine::ids::CategoryCode::new(k)
            .ok()
            .and_then(|c| world.catalog.category(&c).ok().map(|c| c.name.clone()))
            .unwrap_or_else(|| k.to_string())
    };
    let r = &w.rates;
    let pair = |x: gridloop_projections::Rate| (x.numerator, x.denominator);
    WeekSheet {
        grid: w.grid.to_string(),
        place: format!("{} · {}", community, name(&w.grid)),
        week: week.to_string(),
        dates: dates(week),
        as_of: local(w.as_of),
        rates: vec![
            ("受理率 Accepted in time".into(), pair(r.acceptance)),
            ("办结率 Completed".into(), pair(r.completion)),
            ("按期办结率 On time".into(), pair(r.on_time)),
            ("满意率 Satisfied".into(), pair(r.satisfaction)),
            ("小事不出网格 Kept in the grid".into(), pair(r.in_grid)),
            ("闭环率 Closed loop".into(), pair(r.closed_loop)),
        ],
        by_status: w.by_status.iter().map(|(k, v)| (status_label(k).to_string(), *v)).collect(),
        by_category: w.by_category.iter().map(|(k, v)| (category(k), *v)).collect(),
        patrols: (w.patrols, w.visits, w.found_on_patrol),
        patrols_recorded: w.patrols + w.visits > 0,
        overdue: w.overdue.iter().map(ToString::to_string).collect(),
        escalated: w.escalated.iter().map(ToString::to_string).collect(),
        volunteers: w
            .volunteers
            .iter()
            .map(|v| (v.volunteer.to_string(), v.services, v.minutes, v.points_awarded))
            .collect(),
        submitted: report.get("revision").map(|rev| {
            let text = |k: &str| report.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let at = report.get("at").and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok()).map(local);
            let by = report.get("by").and_then(|b| b.get("id")).and_then(Value::as_str).unwrap_or_default();
            (rev.as_u64().unwrap_or(0) as u32, by.to_string(), at.unwrap_or_default(), text("narrative"))
        }),
    }
}

/// `POST /reports/weekly/{grid}/{week}` with `{ "narrative": "..." }`: the
/// grid head submits the week, with the figures generated now, to the
/// community. A resubmission replaces the report (the engine's rule).
#[utoipa::path(
    post,
    path = "/reports/weekly/{grid}/{week}",
    operation_id = "submit_weekly_report",
    tag = "reports",
    summary = "A grid head submits the week's report with a narrative (figures generated from the log)",
    params(crate::openapi::IdempotencyKey, ("grid" = String, Path, description = "A grid code"), ("week" = String, Path, description = "An ISO week, 2026-W49")),
    request_body = WeeklyReportBody,
    responses((status = 200, description = "What was written and the figures", body = crate::openapi::shapes::WeeklyReportSubmitted), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn submit<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((grid, week)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let body = crate::tickets::read_body_within(body, SUBMIT_BODY_BYTES_MAX)?;
    permit(&who, Access::Write(Write::WeeklyReport), Target::District)?;
    let grid = known_grid(&state.service.world().grids, "grid", &grid)?;
    let week = week_of(&week)?;
    permit(&who, Access::Write(Write::WeeklyReport), Target::Place(&grid))?;
    let narrative = match serde_json::from_slice::<WeeklyReportBody>(&body) {
        Ok(b) => b.narrative,
        Err(e) if e.is_data() || e.is_eof() => return Err(Error::invalid("body", e.to_string()).into()),
        Err(e) => return Err(AppError::InvalidJson(e.to_string())),
    };
    let (generated, _) = generate(&state, &grid, week).await?;
    let figures = generated.figures();
    let route = format!("POST /reports/weekly/{grid}/{week}");
    let command = Command::Weekly {
        id: WeeklyId { grid, week },
        command: WeeklyCommand::SubmitWeeklyReport { narrative, figures },
    };
    let outcome = crate::tickets::run_keyed(&state, &who, &headers, &route, &body, command).await?;
    let events: Vec<Value> =
        outcome.events.into_iter().map(|e| json!({ "schema": e.schema.to_string(), "payload": e.payload })).collect();
    Ok(Json(json!({ "events": events, "figures": generated.figures() })))
}

/// `GET /reports/community/{community}/{week}`: every grid of the
/// community with its head's report for the week, or none (not reported).
#[utoipa::path(
    get,
    path = "/reports/community/{community}/{week}",
    operation_id = "community_reports",
    tag = "reports",
    summary = "A community's grids' weekly reports for a week, and who has not reported",
    params(("community" = String, Path, description = "A community code"), ("week" = String, Path, description = "An ISO week, 2026-W49")),
    responses((status = 200, description = "The grids and their reports", body = crate::openapi::shapes::CommunityReports), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn community<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((community, week)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::WeeklyReports), Target::District)?;
    let world = state.service.world();
    let community = known_grid(&world.grids, "community", &community)?;
    let week = week_of(&week)?;
    if community.level() != Level::Community {
        return Err(Error::invalid("community", format!("{community} is not a community")).into());
    }
    permit(&who, Access::Read(Read::WeeklyReports), Target::Place(&community))?;
    state.live.catch_up(state.service.store()).await?;
    let grids: Vec<GridCode> =
        world.grids.at_level(Level::Grid).filter(|g| g.code.is_within(&community)).map(|g| g.code.clone()).collect();
    let views = state.live.read().await;
    let rows = community_reports(views.weekly.state(), &grids, week);
    let missing: Vec<&GridCode> = rows.iter().filter(|r| r.report.is_none()).map(|r| &r.grid).collect();
    let name = |c: &GridCode| world.grids.get(c).map_or("", |n| n.name.as_str()).to_string();
    let grids: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "grid": r.grid, "name": name(&r.grid), "reported": r.report.is_some(), "report": r.report }))
        .collect();
    Ok(Json(json!({ "community": community, "week": week.to_string(), "grids": grids, "not_reported": missing })))
}

/// `GET /reports/ranking` (the page) and `GET /reports/weekly` (the page):
/// shells the script fills from the API with the tab's token.
#[utoipa::path(get, path = "/reports/ranking", operation_id = "ranking_page", tag = "reports", summary = "The weekly ranking's page",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
pub(crate) async fn ranking_page() -> Response {
    shell(
        "ranking",
        "通报 · Weekly ranking",
        html! {
            label { "周 Week " input id="week" placeholder="2026-W49" size="9"; }
            label { " 排名 Rank " select id="by" {
                option value="community" { "社区 Communities" }
                option value="street" { "街道 Streets" }
                option value="department" { "部门 Departments" }
            } }
            button id="show" type="button" { "显示 Show" }
            button id="csv" type="button" data-test="csv" { "导出 CSV" }
            button id="print" type="button" { "打印 Print" }
        },
        html! {},
    )
}

#[utoipa::path(get, path = "/reports/weekly", operation_id = "weekly_page", tag = "reports", summary = "A grid head's weekly report page (printable, A4)",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
pub(crate) async fn weekly_page() -> Response {
    shell(
        "weekly",
        "周报告 · Weekly report",
        html! {
            label { "网格 Grid " input id="grid" size="20"; }
            label { " 周 Week " input id="week" placeholder="2026-W49" size="9"; }
            button id="show" type="button" { "显示 Show" }
            button id="print" type="button" { "打印 Print" }
        },
        html! {
            section.submit id="submit" hidden {
                h2 { "提交周报告 Submit the report" }
                textarea id="narrative" maxlength="2000" data-test="narrative-input" {}
                p { button id="send" type="button" data-test="submit" { "提交 Submit" } " " span.status id="sent" role="status" {} }
            }
        },
    )
}

fn shell(page: &str, title: &str, controls: Markup, after: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/reports/app.css";
                script src="/reports/app.js" defer {}
            }
            body data-page=(page) {
                div.toolbar {
                    label.token { "令牌 Token " input id="token" type="password" size="16" autocomplete="off"; }
                    (controls)
                    span.error id="error" role="alert" {}
                }
                div id="content" {}
                (after)
            }
        }
    };
    asset("text/html; charset=utf-8", markup.into_string())
}

/// `GET /reports/app.js`.
#[utoipa::path(get, path = "/reports/app.js", operation_id = "reports_script", tag = "reports", summary = "The report pages' script",
    responses((status = 200, description = "The script", body = String, content_type = "text/javascript")))]
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT_JS.to_string())
}

/// `GET /reports/app.css`: the charts' and the pages' styles (A4 print rules).
#[utoipa::path(get, path = "/reports/app.css", operation_id = "reports_style", tag = "reports", summary = "The report pages' stylesheet",
    responses((status = 200, description = "The stylesheet", body = String, content_type = "text/css")))]
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", format!("{}{}", gridloop_report::chart::CSS, pages::STYLE_CSS))
}

fn asset(content_type: &'static str, body: String) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, crate::console::CONTENT_POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The API routes, to nest under `/api/v1`.
pub fn api_routes<S: EventStore>() -> crate::openapi::Routes<S> {
    use axum::extract::DefaultBodyLimit;
    use axum::handler::Handler as _;
    crate::openapi::Routes::new()
        .add(__path_ranking_route, ranking_route::<S>, Access::Read(Read::Ranking))
        .add(__path_show, show::<S>, Access::Read(Read::WeeklyReports))
        .add(
            __path_submit,
            submit::<S>.layer(DefaultBodyLimit::max(SUBMIT_BODY_BYTES_MAX)),
            Access::Write(Write::WeeklyReport),
        )
        .add(__path_community, community::<S>, Access::Read(Read::WeeklyReports))
}

/// The pages and their assets.
pub fn routes<S: EventStore>() -> crate::openapi::Routes<S> {
    crate::openapi::Routes::new()
        .add(__path_ranking_page, ranking_page, Access::Public)
        .add(__path_weekly_page, weekly_page, Access::Public)
        .add(__path_script, script, Access::Public)
        .add(__path_style, style, Access::Public)
}
