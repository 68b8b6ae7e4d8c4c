//! The world over the API: read by dispatchers, auditors and admins,
//! changed by admins.
//!
//! - `GET /world`: the district (code, names, time zone), what it calls
//!   each level and how many grids each has, the categories, and counts of
//!   items, departments, teams and staff; `version` is the world stream's.
//! - `GET /teams[?place=]`, `GET /departments`.
//! - `POST /world/changes` `{ "changes": [WorldChange, …] }`: one world
//!   command (at most 64 changes, all written or none), the changes in the
//!   engine's own JSON (`gridloop_engine::world::WorldChange`, tagged by
//!   `change`): how teams, departments, staff, grids and items are formed,
//!   revised and retired over the API, as a bundle import does it.
//!
//! Every read first catches the service's world up with the log (another
//! process may have imported a bundle), so a read after a change sees it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use gridloop_engine::grid::Level;
use gridloop_engine::service::Command;
use gridloop_engine::store::EventStore;
use gridloop_engine::world::{WorldChange, WorldCommand};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::reads::{known_grid, params};
use crate::tickets::{parse, read_body, run_keyed, written};
use crate::{AppError, AppState};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};

/// The five levels, from the district down.
const LEVELS: [Level; 5] = [Level::District, Level::Street, Level::Community, Level::Grid, Level::SubGrid];

/// `GET /world`.
#[utoipa::path(
    get,
    path = "/world",
    operation_id = "show_world",
    tag = "world",
    summary = "Dispatchers, auditors, admins: the district, its level names and grid counts, categories, and counts of items, departments, teams and staff",
    responses((status = 200, description = "The world in summary", body = crate::openapi::shapes::WorldSummary), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::World), Target::District)?;
    let version = state.service.refresh_world().await?;
    let world = state.service.world();
    let district = world
        .district
        .as_ref()
        .map(|d| json!({ "code": d.code, "name": d.name, "name_en": d.name_en, "time_zone": d.time_zone }));
    let levels: Vec<Value> = LEVELS
        .iter()
        .map(|&level| json!({ "level": level, "name": world.level_name(level), "grids": world.grids.at_level(level).count() }))
        .collect();
    let categories: Vec<Value> = world
        .catalog
        .categories()
        .map(|c| json!({ "code": c.code, "name": c.name, "name_en": c.name_en, "field": c.field }))
        .collect();
    let counts = json!({
        "grids": world.grids.len(),
        "items": world.catalog.items().count(),
        "admitted_items": world.catalog.items().filter(|i| i.admitted).count(),
        "categories": categories.len(),
        "departments": world.catalog.departments().count(),
        "teams": world.teams.len(),
        "staff": world.staff.len(),
    });
    Ok(Json(json!({
        "version": version, "district": district, "levels": levels, "counts": counts, "categories": categories,
    })))
}

/// `?place=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamParams {
    /// A place's code: teams serving within it.
    place: Option<String>,
}

/// `GET /teams[?place=]`: every team (at most the engine's 10,000), by id;
/// within `place` (a placed dispatcher's own by default) those serving a
/// place inside it.
#[utoipa::path(
    get,
    path = "/teams",
    operation_id = "list_teams",
    tag = "world",
    summary = "Dispatchers, auditors, admins: the volunteer teams and backup agencies, within place",
    params(TeamParams),
    responses((status = 200, description = "Teams and their total", body = crate::openapi::shapes::Listed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn teams<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<TeamParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::World), Target::District)?;
    let p = params(query)?;
    state.service.refresh_world().await?;
    let world = state.service.world();
    let asked = p.place.as_deref().map(|c| known_grid(&world.grids, "place", c)).transpose()?;
    let scope = who.scope(asked)?;
    let items: Vec<Value> = world
        .teams
        .values()
        .filter(|t| scope.as_ref().is_none_or(|s| t.scope.is_within(s)))
        .map(|t| json!(t))
        .collect();
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

/// `GET /departments`.
#[utoipa::path(
    get,
    path = "/departments",
    operation_id = "list_departments",
    tag = "world",
    summary = "Dispatchers, auditors, admins: the functional departments",
    responses((status = 200, description = "The departments", body = crate::openapi::shapes::Departments), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn departments<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::World), Target::District)?;
    state.service.refresh_world().await?;
    let items: Vec<Value> = state
        .service
        .world()
        .catalog
        .departments()
        .map(|d| json!({ "code": d.code, "name": d.name, "name_en": d.name_en }))
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangesBody {
    /// 1 to 64 changes, each tagged by `change`: define_district, define_category, define_department, propose_item, admit_item, revoke_admission, revise_item, withdraw_item, add_grid, redraw_grid, revise_grid, retire_grid, form_team, revise_team, disband_team, assign_staff, remove_staff, set_routing.
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 64)]
    changes: Vec<WorldChange>,
}

/// `POST /world/changes` (admins): `{ version, events }`, `version` the
/// world stream's after the change (null when nothing needed changing).
/// The engine checks each change against the world the ones before it
/// left, and refuses the whole batch for any one of them.
#[utoipa::path(
    post,
    path = "/world/changes",
    operation_id = "change_world",
    tag = "world",
    summary = "Admins: change the world in one command of 1 to 64 changes, all or none",
    params(crate::openapi::IdempotencyKey),
    request_body = ChangesBody,
    responses((status = 200, description = "What was written; `version` is null when nothing needed changing", body = crate::openapi::shapes::WorldChanged), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn change<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Write(Write::World), Target::District)?;
    let bytes = read_body(body)?;
    let body: ChangesBody = parse(&bytes)?;
    let command = Command::World { command: WorldCommand { changes: body.changes } };
    let outcome = run_keyed(&state, &who, &headers, "POST /world/changes", &bytes, command).await?;
    let version = outcome.append.as_ref().map(|a| a.last_version);
    Ok(Json(json!({ "version": version, "events": written(outcome) })))
}
