//! The JSON routes the console reads and writes beyond the ticket API.
//!
//! - `GET /me`: who holds the token, the place they serve (code, name,
//!   level), the emergency modes on in or around that place, and the
//!   departments' names.
//! - `GET /board`: the open tickets of the caller's place, urgent first,
//!   then newest, each with its next deadline and the catalog's name of its
//!   item; filtered by status, place, category, holder and overdue.
//! - `GET /tickets/{id}/candidates`: what the routing policy suggests for a
//!   ticket now (the volunteers of the current offer ring, the owning team,
//!   the item's department) and every department, for assigning and
//!   summoning.
//! - `GET /metrics/series`: the rates of each street, community or grid of
//!   a place per day, week or month, for charts.
//! - `POST /emergency/{place}/{action}`: 平急转换, `declare` or `lift`, with
//!   a reason.
//!
//! Everything here is bounded ([`BOARD_ROWS_MAX`], [`SERIES_KEYS_MAX`],
//! [`SERIES_BUCKETS_MAX`], [`PARAM_BYTES_MAX`]) and scoped like the rest of
//! the API: a dispatcher who serves a place reads and acts only within it.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use gridloop_engine::emergency::{Emergency, EmergencyCommand, EmergencyEvent};
use gridloop_engine::grid::{GridCode, GridTree, Level};
use gridloop_engine::ids::{ItemCode, StreamId, TicketId};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::routing::{Route, owning_team, suggest_for};
use gridloop_engine::service::{Command, fold};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Ticket, Tier, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::{Error, World};
use gridloop_projections::board::{self, BoardStatus};
use gridloop_projections::calendar::{CALENDAR_ZONE, Period, bucket, parse_day_or_instant};
use gridloop_projections::{By, Cohort, Rates};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::search;
use crate::auth::{Caller, Principal};
use crate::error::Path;
use crate::reads::Deadline;
use crate::{AppError, AppState};

/// The most rows the board answers with (the total says how many matched).
pub const BOARD_ROWS_MAX: usize = 500;
/// The most places one series request may chart.
pub const SERIES_KEYS_MAX: usize = 64;
/// The most periods one series request may span.
pub const SERIES_BUCKETS_MAX: usize = 400;
/// The longest query parameter or path segment read, in bytes.
pub const PARAM_BYTES_MAX: usize = 128;
/// The largest emergency request body, in bytes (a reason of 2,000
/// characters fits).
pub const SWITCH_BODY_BYTES_MAX: usize = 16 * 1024;
/// A series spanning at most this many days is charted per day unless the
/// caller asks otherwise; up to [`WEEKS_SPAN_DAYS_MAX`], per ISO week.
pub const DAYS_SPAN_DAYS_MAX: u64 = 62;
/// See [`DAYS_SPAN_DAYS_MAX`]; longer spans are charted per month.
pub const WEEKS_SPAN_DAYS_MAX: u64 = 3 * 366;

/// A parameter's text, bounded.
pub(crate) fn text<'a>(name: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if value.len() > PARAM_BYTES_MAX {
        return Err(Error::invalid(name, format!("must be at most {PARAM_BYTES_MAX} bytes")));
    }
    Ok(value)
}

/// The parameters of a query string, or `400 invalid_input`.
pub(crate) fn params<T: serde::de::DeserializeOwned>(query: Result<Query<T>, QueryRejection>) -> Result<T, Error> {
    let Query(params) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(params)
}

/// A grid code the district knows.
pub(crate) fn known_grid(grids: &GridTree, name: &'static str, value: &str) -> Result<GridCode, Error> {
    let code = GridCode::parse(text(name, value)?)?;
    grids
        .get(&code)
        .map(|n| n.code.clone())
        .ok_or_else(|| Error::invalid(name, format!("{code} is not in the district")))
}

/// The place a caller looks at: what they ask for, which must lie within
/// the place they serve; by default that place (or the whole district).
/// (The engine's [`Principal::scope`], with the district for "anywhere".)
pub(crate) fn scope_for(grids: &GridTree, who: &Principal, asked: Option<GridCode>) -> Result<GridCode, Error> {
    Ok(who.scope(asked)?.unwrap_or_else(|| grids.root().code.clone()))
}

/// A place's names, for showing.
fn place_json(grids: &GridTree, code: &GridCode) -> Value {
    let node = grids.get(code);
    json!({
        "code": code,
        "level": code.level().name(),
        "name": node.map_or("", |n| n.name.as_str()),
        "name_en": node.map_or("", |n| n.name_en.as_str()),
    })
}

/// `GET /me`: the caller, their place and the emergency modes around it.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    tag = "console",
    summary = "Who holds the token: role, id, the place they serve, the emergency modes on in or around it",
    responses((status = 200, description = "The caller", body = crate::openapi::shapes::Me), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn me<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<Json<Value>, AppError> {
    let grids = &state.service.world().grids;
    let scope = scope_for(grids, &who, None)?;
    let emergency = emergency_modes(&state, &scope).await?;
    let may_switch =
        permit(&who, Access::Write(Write::Emergency), Target::Place(&scope)).is_ok() && scope.level() <= Level::Street;
    // Departments by name, so a holder or a summons reads as people say it.
    let departments: Vec<Value> = state
        .service
        .world()
        .catalog
        .departments()
        .map(|d| json!({ "code": d.code, "name": d.name, "name_en": d.name_en }))
        .collect();
    Ok(Json(json!({
        "role": who.actor.role.name(),
        "id": who.actor.id,
        "place": place_json(grids, &scope),
        "district": place_json(grids, &grids.root().code),
        "emergency": emergency,
        "may_switch_emergency": may_switch,
        "departments": departments,
        // The district's IANA time zone (the calendar's, China time, when no
        // district is recorded): the console shows every time in it.
        "time_zone": state.service.world().district.as_ref().map_or(CALENDAR_ZONE, |d| d.time_zone.as_str()),
        // How the residents' notices fare (counts only, nothing personal).
        "notify_channels": state.courier.as_ref().map(|c| c.channels()).unwrap_or_default(),
        "may": may(&who),
        "workspace": workspace(&who),
    })))
}

/// What the caller's console shows, as the permit rule answers for their
/// role: the page builds its views and forms from this, never from a
/// copy of the rule.
fn may(who: &Principal) -> Value {
    let can = |access| permit(who, access, Target::District).is_ok();
    json!({
        "board": can(Access::Read(Read::Board)),
        "history": can(Access::Read(Read::History)),
        "metrics": can(Access::Read(Read::Metrics)),
        "residents": can(Access::Read(Read::Residents)),
        "intake": super::intake::may_log(who),
        "act": can(Access::Write(Write::TicketAction)),
    })
}

/// Where a caller whose desk is not the board works: a department's
/// workspace, a grid worker's phone pages, a resident's door. `None` for
/// those the board serves, and for volunteers, whose work comes through
/// the chat bot (the console shows them their own queue).
fn workspace(who: &Principal) -> Option<&'static str> {
    use gridloop_engine::envelope::Role;
    if permit(who, Access::Read(Read::Board), Target::District).is_ok() {
        return None;
    }
    match who.actor.role {
        Role::Department => Some("/d/"),
        Role::GridWorker | Role::GridHead => Some("/w/"),
        Role::Resident => Some("/r/"),
        _ => None,
    }
}

/// The emergency modes on in the district or a street that contains
/// `scope` or lies within it: what everyone in the place must see.
async fn emergency_modes<S: EventStore>(state: &AppState<S>, scope: &GridCode) -> Result<Vec<Value>, Error> {
    let grids = &state.service.world().grids;
    let root = grids.root().code.clone();
    let places = std::iter::once(root.clone()).chain(grids.children(&root).iter().cloned());
    let mut on = Vec::new();
    for place in places.filter(|p| scope.is_within(p) || p.is_within(scope)) {
        let events = state.service.store().read_stream(&StreamId::emergency(&place), 1).await?;
        let mode: Emergency = fold(&events)?;
        if !mode.active {
            continue;
        }
        let declared = events.iter().rev().find_map(|e| match e.decode::<EmergencyEvent>() {
            Ok(EmergencyEvent::Declared { reason, .. }) => Some((e.occurred_at, reason, e.actor.id.to_string())),
            _ => None,
        });
        let mut shown = place_json(grids, &place);
        if let Some((since, reason, by)) = declared {
            shown["since"] = json!(since);
            shown["reason"] = json!(reason);
            shown["by"] = json!(by);
        }
        on.push(shown);
    }
    Ok(on)
}

/// `?status=&scope=&category=&holder=&overdue=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoardParams {
    /// A board status: that status only (open tickets by default).
    status: Option<String>,
    /// A place within the caller's.
    scope: Option<String>,
    /// A category code.
    category: Option<String>,
    /// `kind:id`, e.g. `volunteer:V-7`.
    holder: Option<String>,
    /// Only tickets that missed a deadline ([`Ticket::overdue`]), also after
    /// an escalation renewed it.
    overdue: Option<bool>,
    /// A search: a ticket id (`T-1024`), the last 4 or more digits of the
    /// resident's phone (dispatchers and grid workers), or words of the
    /// description or an address ([`super::search`]). With a search, every
    /// status is looked at unless `status` narrows it.
    q: Option<String>,
    /// Rows to skip, for the pages past the first 500.
    offset: Option<usize>,
    /// Final tickets too (closed, cancelled, duplicate): with `overdue`,
    /// every ticket that ever missed a deadline.
    closed: Option<bool>,
}

/// The final statuses' names: rows a board asks the cold side for.
const FINAL_STATUSES: [&str; 3] = ["closed", "cancelled", "duplicate"];

/// One row of the console's board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardRow {
    /// The ticket's id (`T-` and its number).
    #[schema(value_type = String)]
    pub id: TicketId,
    /// The board status by name (`offered`, `awaiting_feedback`, `escalated`,
    /// ...), as the engine's board derives it.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// `grid`, `community`, `street` or `district`.
    #[schema(value_type = Option<String>)]
    pub tier: Option<Tier>,
    /// The grid (the smallest place) the ticket is in.
    #[schema(value_type = String)]
    pub grid: GridCode,
    /// The grid's name in Chinese, from the world's grid tree (empty if the
    /// grid is unknown to it).
    pub place: String,
    /// The grid's name in English.
    pub place_en: String,
    /// The service item the resident ordered.
    #[schema(value_type = String)]
    pub item: ItemCode,
    /// The item's name in Chinese, from the catalogue (empty if unknown).
    pub item_name: String,
    /// The item's name in English.
    pub item_name_en: String,
    /// The item's category code, from the catalogue.
    pub category: String,
    /// How urgent the resident said it is; urgent rows sort first.
    #[schema(value_type = Option<crate::openapi::Urgency>)]
    pub urgency: Option<Urgency>,
    /// Who holds the ticket now: a volunteer, grid worker, team or department.
    #[schema(value_type = Option<crate::openapi::Assignee>)]
    pub holder: Option<Assignee>,
    /// When the resident submitted it (RFC 3339, UTC).
    #[schema(value_type = Option<String>)]
    pub submitted_at: Option<Timestamp>,
    /// The next pending deadline; none once the ticket is final.
    pub next_deadline: Option<Deadline>,
    /// Whether the ticket had missed a deadline when the row was built
    /// ([`Ticket::overdue`]: its accept or resolve deadline as the rates judge
    /// them, a tier's response or a summons report); it stays so after an
    /// escalation renews the deadlines.
    pub overdue: bool,
    /// How many times it was urged (催办).
    pub urges: u32,
    /// The ticket's version (events in its stream): a command quoting it acts
    /// only if nothing changed since the row was read.
    pub version: u64,
    /// The holder's name: a volunteer's or grid worker's masked (`张**`), a
    /// team's or department's whole; null when unknown.
    pub holder_name: Option<String>,
    /// The resident, masked, to callers who may read residents (null to
    /// others, and in the live stream's rows).
    pub resident: Option<super::names::ResidentShown>,
}

/// A ticket as a board row; `None` for one not submitted.
pub fn board_row(world: &World, ticket: &Ticket, now: Timestamp) -> Option<BoardRow> {
    let (id, grid, item) = (ticket.id.clone()?, ticket.grid.clone()?, ticket.item.clone()?);
    let node = world.grids.get(&grid);
    let entry = world.catalog.item(&item).ok();
    let next_deadline = board::next_deadline(ticket);
    let overdue = ticket.overdue(now);
    Some(BoardRow {
        id,
        status: BoardStatus::of(ticket).name(),
        tier: ticket.tier,
        place: node.map(|n| n.name.clone()).unwrap_or_default(),
        place_en: node.map(|n| n.name_en.clone()).unwrap_or_default(),
        item_name: entry.map(|e| e.name.clone()).unwrap_or_default(),
        item_name_en: entry.map(|e| e.name_en.clone()).unwrap_or_default(),
        category: entry.map(|e| e.category.to_string()).unwrap_or_default(),
        grid,
        item,
        urgency: ticket.urgency,
        holder: ticket.holder.clone(),
        submitted_at: ticket.submitted_at,
        next_deadline: next_deadline.map(|(kind, at)| Deadline { kind, at }),
        overdue,
        urges: ticket.urges,
        version: ticket.version,
        holder_name: None,
        resident: None,
    })
}

/// `volunteer:V-7`, `team:TM-3`, `department:civil_affairs`,
/// `grid_worker:gw-...`.
fn holder(value: &str) -> Result<Assignee, Error> {
    let (kind, id) = text("holder", value)?
        .split_once(':')
        .ok_or_else(|| Error::invalid("holder", "is KIND:ID, e.g. volunteer:V-7 or team:TM-3"))?;
    serde_json::from_value(json!({ "kind": kind.trim(), "id": id.trim() }))
        .map_err(|e| Error::invalid("holder", e.to_string()))
}

/// `GET /board`: the caller's open tickets (or those of one status, final
/// ones included when asked for), urgent first, then newest; at most
/// [`BOARD_ROWS_MAX`] rows, `total` counting every match. `position` is the
/// log position the answer reflects: the event stream continues from there.
#[utoipa::path(
    get,
    path = "/board",
    operation_id = "board",
    tag = "console",
    summary = "The console's board: open tickets of the caller's place (or one status), urgent first then newest",
    params(BoardParams),
    responses((status = 200, description = "The board", body = crate::openapi::shapes::Board), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn board<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<BoardParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::Board), Target::District)?;
    let p = params(query)?;
    let world = state.service.world();
    let scope = p.scope.as_deref().map(|s| known_grid(&world.grids, "scope", s)).transpose()?;
    let scope = scope_for(&world.grids, &who, scope)?;
    let status = p.status.as_deref().map(|s| text("status", s)).transpose()?;
    let category = p.category.as_deref().map(|s| text("category", s)).transpose()?;
    if let Some(c) = category.filter(|c| !world.catalog.categories().any(|k| k.code.as_str() == *c)) {
        let names: Vec<&str> = world.catalog.categories().map(|k| k.code.as_str()).collect();
        return Err(Error::invalid("category", format!("{c:?} is not one of {}", names.join(", "))).into());
    }
    let holder = p.holder.as_deref().filter(|h| !h.trim().is_empty()).map(holder).transpose()?;
    let overdue = p.overdue.unwrap_or(false);
    let offset = p.offset.unwrap_or(0);
    let with_closed = p.closed.unwrap_or(false);
    let query =
        p.q.as_deref()
            .map(|q| text("q", q))
            .transpose()?
            .map(|q| search::query(&world.grids, q))
            .transpose()?
            .flatten();
    // A phone's residents are found before the projections are locked.
    let residents = match &query {
        Some(search::Query::Phone(digits)) => Some(search::residents_by_phone(&state, &who, digits)?),
        _ => None,
    };
    state.live.catch_up(state.service.store()).await?;
    let now = state.service.clock().now();
    let views = state.live.read().await;
    let matcher = search::Matcher::of(query, residents, views.texts.state());
    // Open tickets from memory; final ones (asked for by status, with
    // `closed`, or by a search, which looks at closed tickets too: a caller
    // asks after one) walked from the board's cold rows in scope.
    let keep = |t: &Ticket| -> Option<BoardRow> {
        let wanted = status.is_none_or(|s| BoardStatus::of(t).name() == s)
            && holder.as_ref().is_none_or(|h| t.holder.as_ref() == Some(h))
            && matcher.as_ref().is_none_or(|m| m.finds(t));
        wanted.then(|| board_row(&world, t, now)).flatten().filter(|r| category.is_none_or(|c| r.category == c))
    };
    let board = views.board.state();
    let mut rows: Vec<BoardRow> = board
        .open_tickets()
        .filter(|t| t.grid.as_ref().is_some_and(|g| g.is_within(&scope)))
        .filter_map(keep)
        .collect();
    let finals = match status {
        Some(s) => FINAL_STATUSES.contains(&s),
        None => matcher.is_some() || with_closed,
    };
    if finals {
        board.settled_within(Some(&scope), |t| {
            rows.extend(keep(&t));
            true
        })?;
    }
    let position = views.checkpoint();
    drop(views);
    // The count beside the board: of the rows every other filter keeps, those
    // that missed a deadline.
    let overdue_count = rows.iter().filter(|r| r.overdue).count();
    rows.retain(|r| !overdue || r.overdue);
    rows.sort_by_key(|r| (r.urgency != Some(Urgency::Urgent), std::cmp::Reverse(r.id.number())));
    let total = rows.len();
    let mut rows: Vec<BoardRow> = rows.into_iter().skip(offset).take(BOARD_ROWS_MAX).collect();
    name_rows(&state, &who, &mut rows).await?;
    Ok(Json(json!({
        "now": now, "position": position, "total": total, "overdue": overdue_count, "offset": offset, "rows": rows,
    })))
}

/// Names beside the ids of the rows shown: the holder's, and the resident's
/// (masked) to those who may read residents.
async fn name_rows<S: EventStore>(state: &AppState<S>, who: &Principal, rows: &mut [BoardRow]) -> Result<(), AppError> {
    let world = state.service.world();
    let names = super::names::Names::for_caller(&world, state.personal.as_deref(), who);
    let views = state.live.read().await;
    for row in rows.iter_mut() {
        row.holder_name = row.holder.as_ref().and_then(|h| names.holder(h));
        if names.sees_residents() {
            let ticket = views.board.state().get(&row.id)?;
            row.resident = ticket.as_ref().and_then(|t| t.resident.as_ref()).and_then(|r| names.resident(r));
        }
    }
    Ok(())
}

/// `GET /tickets/{id}/candidates`: the routing policy's suggestion for the
/// ticket as it stands ([`suggest_for`]: the offer out now's ring, leaving
/// out whoever declined it, or the next round's; above the grid, the tier's
/// own route), each suggested volunteer with their load; none once the
/// ticket is resolved or final (`route` is null). Then the team owning the
/// grid, the item's department and every department, for the forms.
#[utoipa::path(
    get,
    path = "/tickets/{id}/candidates",
    operation_id = "candidates",
    tag = "console",
    summary = "What the routing policy suggests for a ticket now: the volunteers of its offer ring, the owning team, the departments",
    params(("id" = String, Path, description = "A ticket id, `T-1024`")),
    responses((status = 200, description = "Suggestions", body = crate::openapi::shapes::Candidates), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn candidates<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::Board), Target::District)?;
    let id = TicketId::new(text("id", &id)?)?;
    let ticket = state.service.ticket(&id).await?;
    let (Some(grid), Some(item)) = (ticket.grid.clone(), ticket.item.clone()) else {
        return Err(Error::NotFound { kind: "ticket", id: id.to_string() }.into());
    };
    permit(&who, Access::Read(Read::Board), Target::Ticket(&ticket))?;
    let world = state.service.world();
    let entry = world.catalog.item(&item)?;
    state.live.catch_up(state.service.store()).await?;
    let now = state.service.clock().now();
    let views = state.live.read().await;
    let directory = views.directory.state();
    let window = world.routing.fairness_window;
    let suggestion = suggest_for(&ticket, entry, &world, |ring| directory.views_within(ring, now, window));
    let kind = suggestion.as_ref().map(|s| match &s.route {
        Route::SelfHandle => "self_handle",
        Route::Offer { .. } => "offer",
        Route::Team(_) => "team",
        Route::Department(_) => "department",
    });
    let shown: Vec<Value> = suggestion
        .iter()
        .flat_map(|s| s.volunteers.iter())
        .map(|v| {
            json!({
                "id": v.id, "team": v.team, "home_grid": v.home_grid,
                "home": world.grids.get(&v.home_grid).map_or("", |n| n.name.as_str()),
                "home_en": world.grids.get(&v.home_grid).map_or("", |n| n.name_en.as_str()),
                "skills": v.skills, "open_orders": v.open_orders, "open_orders_max": v.open_orders_max,
                "recent_orders": v.recent_orders,
            })
        })
        .collect();
    let departments: Vec<Value> =
        world.catalog.departments().map(|d| json!({ "code": d.code, "name": d.name, "name_en": d.name_en })).collect();
    let department = world.catalog.department(&entry.department).ok();
    drop(views);
    let names = ticket_names(&state, &who, &ticket).await?;
    Ok(Json(json!({
        "id": id,
        "names": names,
        "route": kind,
        "ring": suggestion.as_ref().map(|s| place_json(&world.grids, &s.ring)),
        "round": suggestion.as_ref().map_or(ticket.offer_rounds, |s| s.round),
        "tier": ticket.tier,
        "wider": suggestion.as_ref().is_some_and(|s| s.wider),
        "volunteers": shown,
        "team": owning_team(&grid, &world.owners),
        "department": { "code": entry.department, "name": department.map_or("", |d| d.name.as_str()),
            "name_en": department.map_or("", |d| d.name_en.as_str()) },
        "item": { "code": entry.code, "name": entry.name, "name_en": entry.name_en, "mode": entry.mode,
            "skills": entry.skills, "admitted": entry.admitted, "dispatchable_to_grid": entry.dispatchable_to_grid() },
        "place": place_json(&world.grids, &grid),
        "departments": departments,
        "offer_minutes": world.routing.offer_window.0 / gridloop_engine::time::MINUTE_MS,
    })))
}

/// The names a ticket's page shows beside ids: the resident (masked, to
/// those who may read residents) and everyone who held, was offered or
/// acted on it, keyed `kind:id` as the page writes holders.
async fn ticket_names<S: EventStore>(state: &AppState<S>, who: &Principal, ticket: &Ticket) -> Result<Value, Error> {
    let world = state.service.world();
    let names = super::names::Names::for_caller(&world, state.personal.as_deref(), who);
    let mut named: BTreeSet<Assignee> = ticket.holder.iter().cloned().collect();
    if let Some(id) = &ticket.id {
        for event in state.service.store().read_stream(&StreamId::ticket(id), 1).await? {
            let payload = &event.payload;
            let one = ["by", "to"].into_iter().filter_map(|k| payload.get(k));
            let many = payload.get("candidates").and_then(Value::as_array);
            for value in one.chain(many.into_iter().flatten()) {
                if let Ok(assignee) = serde_json::from_value::<Assignee>(value.clone()) {
                    named.insert(assignee);
                }
            }
        }
    }
    Ok(json!({
        "resident": ticket.resident.as_ref().and_then(|r| names.resident(r)),
        "holders": names.holders(&named),
    }))
}

/// `?scope=&by=&period=&from=&to=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesParams {
    /// A place's code (the caller's place by default).
    scope: Option<String>,
    /// The level of the series: `street`, `community` or `grid` (the one below `scope` by default).
    by: Option<String>,
    /// `day`, `week` or `month` (the finest that keeps the chart readable by default).
    period: Option<String>,
    /// A day (`2026-11-01`) or an RFC 3339 instant.
    from: Option<String>,
    /// A day or an RFC 3339 instant, excluded.
    to: Option<String>,
}

/// `GET /metrics/series`: for each street, community or grid (`by`, by
/// default the level below `scope`) within `scope`, the rates of the
/// tickets submitted in each day, ISO week or month (`period`, by default
/// the finest that keeps the chart readable) of `[from, to)`, as of now;
/// and each place's rates over the whole range. `from` defaults to the
/// first ticket in the scope, `to` to just past now.
#[utoipa::path(
    get,
    path = "/metrics/series",
    operation_id = "series",
    tag = "metrics",
    summary = "Rates of each street, community or grid of a place per day, ISO week or month, and over the range",
    params(SeriesParams),
    responses((status = 200, description = "The series", body = crate::openapi::shapes::Series), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn series<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<SeriesParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::Metrics), Target::District)?;
    let p = params(query)?;
    let world = state.service.world();
    let grids = &world.grids;
    let scope = p.scope.as_deref().map(|s| known_grid(grids, "scope", s)).transpose()?;
    let scope = scope_for(grids, &who, scope)?;
    let level = match p.by.as_deref() {
        None => match scope.level() {
            Level::District => Level::Street,
            Level::Street => Level::Community,
            _ => Level::Grid,
        },
        Some("street") => Level::Street,
        Some("community") => Level::Community,
        Some("grid") => Level::Grid,
        Some(_) => return Err(Error::invalid("by", "must be street, community or grid").into()),
    };
    if level <= scope.level() {
        return Err(Error::invalid("by", format!("must be below the scope's level ({})", scope.level().name())).into());
    }
    let keys: Vec<GridCode> = grids
        .at_level(level)
        .map(|n| n.code.clone())
        .filter(|c| c.is_within(&scope))
        .take(SERIES_KEYS_MAX + 1)
        .collect();
    if keys.len() > SERIES_KEYS_MAX {
        return Err(Error::invalid("scope", format!("more than {SERIES_KEYS_MAX} places: narrow it")).into());
    }
    let instant = |name: &'static str, value: &str| {
        parse_day_or_instant(text(name, value)?).ok_or_else(|| Error::invalid(name, "expected YYYY-MM-DD or RFC 3339"))
    };
    let from = p.from.as_deref().map(|t| instant("from", t)).transpose()?;
    let to = p.to.as_deref().map(|t| instant("to", t)).transpose()?;
    let asked_period = match p.period.as_deref() {
        None => None,
        Some(t) => Some(
            Period::parse(text("period", t)?).ok_or_else(|| Error::invalid("period", "must be day, week or month"))?,
        ),
    };
    state.live.catch_up(state.service.store()).await?;
    let as_of = state.service.clock().now();
    let views = state.live.read().await;
    let metrics = views.metrics.state();
    let first = metrics.first_submitted(&scope).map_err(|e| Error::Storage(e.to_string()))?;
    let from = from.or(first).unwrap_or(as_of);
    let to = to.unwrap_or(as_of.plus(Millis(1)));
    if from >= to {
        return Err(Error::invalid("from", "must be before to").into());
    }
    let span_days = to.since(from).0 / Millis::days(1).0;
    let period = asked_period.unwrap_or(if span_days <= DAYS_SPAN_DAYS_MAX {
        Period::Day
    } else if span_days <= WEEKS_SPAN_DAYS_MAX {
        Period::Week
    } else {
        Period::Month
    });
    // Every period of the range, also those without tickets, so that a
    // chart's x axis is time and a quiet week shows as a gap.
    if span_days / 31 > SERIES_BUCKETS_MAX as u64 {
        return Err(Error::invalid("from", "the range is too long to chart: narrow it").into());
    }
    let mut buckets = BTreeSet::new();
    let mut at = from;
    while at < to {
        buckets.insert(bucket(at, period));
        if buckets.len() > SERIES_BUCKETS_MAX {
            return Err(Error::invalid(
                "period",
                format!("more than {SERIES_BUCKETS_MAX} periods: use a longer period or a shorter range"),
            )
            .into());
        }
        at = at.plus(Millis::days(1));
    }
    buckets.insert(bucket(Timestamp::from_millis(to.as_millis() - 1)?, period));
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for key in &keys {
        let cohort = Cohort { from, to, scope: Some(key.clone()) };
        let per_period: BTreeMap<String, Rates> = metrics.rates_by(&cohort, as_of, By::Period(period));
        for (bucket, rates) in per_period {
            rows.push(json!({ "key": key, "bucket": bucket, "rates": rates }));
        }
        totals.push(json!({ "key": key, "rates": metrics.rates(&cohort, as_of) }));
    }
    let all = metrics.rates(&Cohort { from, to, scope: Some(scope.clone()) }, as_of);
    let period_name = match period {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    };
    let places: Vec<Value> = keys.iter().map(|k| place_json(grids, k)).collect();
    Ok(Json(json!({
        "as_of": as_of, "from": from, "to": to, "period": period_name, "by": level.name(),
        "scope": place_json(grids, &scope), "keys": places, "buckets": buckets, "rows": rows, "totals": totals, "all": all,
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SwitchBody {
    #[schema(max_length = 2000)]
    reason: String,
}

/// `POST /emergency/{place}/{action}` with `{ "reason": "..." }`: a
/// dispatcher declares (`declare`) or lifts (`lift`) emergency mode for a
/// district or street within the place they serve. The engine refuses a
/// second declaration, a lift of a mode that is off, and places below the
/// street. `Idempotency-Key` is the command id, as for ticket actions.
#[utoipa::path(
    post,
    path = "/emergency/{place}/{action}",
    operation_id = "switch_emergency",
    tag = "console",
    summary = "A district or street dispatcher declares or lifts emergency mode within their place",
    params(crate::openapi::IdempotencyKey, ("place" = String, Path, description = "A district or street code"), ("action" = String, Path, description = "`declare` or `lift`")),
    request_body = SwitchBody,
    responses((status = 200, description = "The mode now, and what was written", body = crate::openapi::shapes::EmergencySwitched), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn switch_emergency<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((place, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let body = crate::tickets::read_body_within(body, SWITCH_BODY_BYTES_MAX)?;
    permit(&who, Access::Write(Write::Emergency), Target::District)?;
    let place = known_grid(&state.service.world().grids, "place", &place)?;
    permit(&who, Access::Write(Write::Emergency), Target::Place(&place))?;
    let reason = match serde_json::from_slice::<SwitchBody>(&body) {
        Ok(b) => b.reason,
        Err(e) if e.is_data() || e.is_eof() => return Err(Error::invalid("body", e.to_string()).into()),
        Err(e) => return Err(AppError::InvalidJson(e.to_string())),
    };
    let command = match text("action", &action)? {
        "declare" => EmergencyCommand::Declare { reason },
        "lift" => EmergencyCommand::Lift { reason },
        other => return Err(Error::NotFound { kind: "emergency action", id: other.to_string() }.into()),
    };
    let route = format!("POST /emergency/{place}/{action}");
    let command = Command::Emergency { place: place.clone(), command };
    let outcome = crate::tickets::run_keyed(&state, &who, &headers, &route, &body, command).await?;
    let events: Vec<Value> =
        outcome.events.into_iter().map(|e| json!({ "schema": e.schema.to_string(), "payload": e.payload })).collect();
    let mode: Emergency = fold(&state.service.store().read_stream(&StreamId::emergency(&place), 1).await?)?;
    let active = mode.active;
    Ok(Json(json!({ "place": place, "active": active, "events": events })))
}

/// `?as_of=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// A day (`2026-11-01`, its start in China time) or an RFC 3339 instant:
    /// the ticket as it stood then, its later events left out and counted.
    as_of: Option<String>,
}

/// `GET /tickets/{id}/audit`: what an auditor reads of a ticket, from the
/// projections' audit folds: every event with the state it left and the
/// deadlines it met or missed (judged as the rates judge them), the
/// ticket as of an instant, and its stream's hash chain checked from the
/// first event (`chain.ok`, or the first event that does not verify).
#[utoipa::path(
    get,
    path = "/tickets/{id}/audit",
    operation_id = "ticket_audit",
    tag = "console",
    summary = "Dispatchers and auditors: a ticket's timeline with deadlines judged, as of an instant, and its hash chain checked",
    params(("id" = String, Path, description = "A ticket id, `T-1024`"), AuditParams),
    responses((status = 200, description = "The audit", body = crate::openapi::shapes::TicketAudit), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn audit<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    use gridloop_projections::ProjectionError;
    use gridloop_projections::audit::{audit_ticket, verify_ticket_stream};
    permit(&who, Access::Read(Read::History), Target::District)?;
    let p = params(query)?;
    let id = TicketId::new(text("id", &id)?)?;
    let as_of = p
        .as_of
        .as_deref()
        .map(|t| {
            parse_day_or_instant(text("as_of", t)?)
                .ok_or_else(|| Error::invalid("as_of", "expected YYYY-MM-DD or RFC 3339"))
        })
        .transpose()?;
    let ticket = state.service.ticket(&id).await?;
    if ticket.id.is_none() {
        return Err(Error::NotFound { kind: "ticket", id: id.to_string() }.into());
    }
    permit(&who, Access::Read(Read::History), Target::Ticket(&ticket))?;
    let stream = state.service.store().read_stream(&StreamId::ticket(&id), 1).await?;
    let chain = match verify_ticket_stream(&stream) {
        Ok(chain) => json!({ "ok": true, "events": chain.events, "head": chain.head }),
        Err(ProjectionError::Unverified(broken)) => json!({ "ok": false, "break": broken }),
        Err(other) => return Err(Error::Corrupt(other.to_string()).into()),
    };
    let now = state.service.clock().now();
    let audit = audit_ticket(&id, &stream, as_of, now).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(Json(json!({ "audit": audit, "chain": chain })))
}
