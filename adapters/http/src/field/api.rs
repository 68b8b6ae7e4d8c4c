//! The grid worker's JSON routes: patrols (start, check in, end, the log)
//! and problems found on patrol (reported, handled on the spot, or handled
//! in part with the rest dispatched as a linked child ticket).
//!
//! Every write takes an `Idempotency-Key` on the one keyed path of
//! [`crate::tickets::keyed`], so the phone's offline queue can send an
//! action again and again: the first arrival writes, the rest answer what
//! it wrote. Every rule is the engine's; this maps bodies to commands.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::blob::BlobHash;
use gridloop_engine::grid::{GeoPoint, GridCode};
use gridloop_engine::ids::{ActorId, CommandId, ItemCode, TicketId};
use gridloop_engine::patrol::{PatrolCommand, Patrols, VisitKind};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::service::{Command, CommandEnvelope};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Found, TicketCommand};
use gridloop_projections::patrols::PatrolRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Principal};
use crate::error::{Path, Query};
use crate::tickets::{Answer, ensure_stored, keyed, parse, read_body, written};
use crate::{AppError, AppState};

/// A point as the phone gives it, in micro-degrees.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Point {
    lon: i32,
    lat: i32,
}

impl Point {
    fn checked(self) -> Result<GeoPoint, Error> {
        GeoPoint::new(self.lon, self.lat)
    }
}

/// `POST /patrols/{action}`'s body: `start` takes `grid`; `check-in` takes
/// `kind`, `label`, `note` and `point`; `end` takes `note`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatrolBody {
    /// `start`: the grid to walk (default: the place the caller serves).
    grid: Option<String>,
    /// `check-in`: `household` or `site`.
    #[schema(value_type = Option<String>)]
    kind: Option<VisitKind>,
    /// `check-in`: which household or site (1 to 100 characters).
    label: Option<String>,
    /// `check-in`, `end`: a note.
    #[serde(default)]
    note: String,
    /// `check-in`: where.
    point: Option<Point>,
}

/// What a patrol command wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatrolAnswer {
    /// The worker's patrol stream's version after it.
    pub version: Option<u64>,
    /// The events written (for a repeat: those of the first time).
    pub events: Vec<crate::tickets::Written>,
}

/// `POST /patrols/{action}`: start, check in on, or end the caller's patrol.
#[utoipa::path(
    post,
    path = "/patrols/{action}",
    operation_id = "patrol",
    tag = "field",
    summary = "A grid worker starts, checks in on, or ends their patrol (网格巡查)",
    params(crate::openapi::IdempotencyKey, ("action" = String, Path, description = "`start`, `check-in` or `end`")),
    request_body = PatrolBody,
    responses((status = 200, description = "What was written", body = PatrolAnswer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn patrol<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PatrolAnswer>, AppError> {
    let access = Access::Write(Write::Patrol);
    permit(&who, access, Target::District)?;
    let bytes = read_body(body)?;
    let body: PatrolBody = parse(&bytes)?;
    let worker = who.actor.id.clone();
    let (command, place) = match action.as_str() {
        "start" => {
            let grid = match (&body.grid, &who.place) {
                (Some(code), _) => GridCode::parse(code)?,
                (None, Some(place)) => place.clone(),
                (None, None) => return Err(Error::invalid("grid", "name the grid to patrol").into()),
            };
            (PatrolCommand::StartPatrol { grid: grid.clone() }, Some(grid))
        }
        "check-in" => {
            let kind = body.kind.ok_or_else(|| Error::invalid("kind", "household or site"))?;
            let label = body.label.clone().ok_or_else(|| Error::invalid("label", "name the household or site"))?;
            let point = body.point.map(Point::checked).transpose()?;
            let command = PatrolCommand::CheckIn { kind, label, note: body.note.clone(), point };
            (command, open_grid(&state, &worker).await?)
        }
        "end" => (PatrolCommand::EndPatrol { note: body.note.clone() }, open_grid(&state, &worker).await?),
        _ => return Err(Error::NotFound { kind: "patrol action", id: action }.into()),
    };
    // The place checked is the patrol's grid: a worker moved to another
    // place may still end the patrol they started within their old one
    // only while it lies within the new.
    if let Some(place) = &place {
        permit(&who, access, Target::Place(place))?;
    }
    let route = format!("POST /patrols/{action}");
    let service = &state.service;
    let outcome = keyed(&state, &who.clone(), &headers, &route, &bytes, |command_id| async move {
        let envelope = CommandEnvelope {
            command_id,
            correlation_id: None,
            actor: who.actor.clone(),
            command: Command::Patrol { worker, command },
            expected_version: None,
        };
        Ok(service.execute(envelope).await?)
    })
    .await?;
    let version = outcome.append.as_ref().map(|a| a.last_version);
    Ok(Json(PatrolAnswer { version, events: written(outcome) }))
}

/// The grid of the worker's open patrol (`None`: none open; the engine
/// then refuses the command as "not on a patrol").
async fn open_grid<S: EventStore>(state: &AppState<S>, worker: &ActorId) -> Result<Option<GridCode>, Error> {
    let events = state.service.store().read_stream(&gridloop_engine::ids::StreamId::patrol(worker), 1).await?;
    let patrols: Patrols = gridloop_engine::service::fold(&events)?;
    Ok(patrols.open.map(|open| open.grid))
}

/// `?grid=&worker=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PatrolsQuery {
    /// A place: the patrols within it (default: the caller's place).
    grid: Option<String>,
    /// One worker's patrols; `me` for the caller's own.
    worker: Option<String>,
}

/// The patrol log.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatrolLogAnswer {
    /// Patrols, newest first (at most 200).
    #[schema(value_type = Vec<Object>)]
    pub patrols: Vec<PatrolRow>,
}

/// `GET /patrols`: the patrol log of a place, or of one worker.
#[utoipa::path(
    get,
    path = "/patrols",
    operation_id = "patrols",
    tag = "field",
    summary = "The patrol log per grid and per worker, newest first",
    params(PatrolsQuery),
    responses((status = 200, description = "Patrols with their check-ins", body = PatrolLogAnswer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn patrols<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Query(query): Query<PatrolsQuery>,
) -> Result<Json<PatrolLogAnswer>, AppError> {
    let access = Access::Read(Read::Patrols);
    permit(&who, access, Target::District)?;
    let grids = &state.service.world().grids;
    let asked = query.grid.as_deref().map(|g| crate::reads::known_grid(grids, "grid", g)).transpose()?;
    let place = who.scope(asked)?;
    if let Some(place) = &place {
        permit(&who, access, Target::Place(place))?;
    }
    let worker = match query.worker.as_deref() {
        Some("me") => Some(who.actor.id.clone()),
        Some(id) => Some(ActorId::new(id)?),
        None => None,
    };
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let patrols = views.patrols.state().list(place.as_ref(), worker.as_ref()).into_iter().cloned().collect();
    Ok(Json(PatrolLogAnswer { patrols }))
}

/// A problem found on patrol. `result` and `minutes_spent` (and after-
/// `photos`) handle it on the spot; without them it is only reported.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FoundBody {
    /// The catalog item, e.g. `GP-001`.
    #[schema(value_type = String)]
    category: ItemCode,
    /// The grid (default: the place the caller serves).
    grid: Option<String>,
    /// What the worker found.
    #[schema(max_length = 2000)]
    description: String,
    location: Option<Point>,
    /// Photos of the problem, by hash.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    photos: Vec<BlobHash>,
    /// 巡办合一: what the worker did on the spot.
    result: Option<String>,
    /// 巡办合一: minutes spent.
    minutes_spent: Option<u32>,
    /// 巡办合一: after-photos, by hash.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    result_photos: Vec<BlobHash>,
}

/// The ticket a found problem became.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundAnswer {
    /// Its id.
    #[schema(value_type = String)]
    pub id: TicketId,
    /// `submitted`, or `resolved` when handled on the spot.
    pub status: String,
}

/// `POST /field/found`: report a problem found on patrol, or handle it on
/// the spot (with `result`).
#[utoipa::path(
    post,
    path = "/field/found",
    operation_id = "found_on_patrol",
    tag = "field",
    summary = "A problem found on patrol: reported for no resident, or handled on the spot (巡办合一)",
    params(crate::openapi::IdempotencyKey),
    request_body = FoundBody,
    responses((status = 201, description = "The ticket", body = FoundAnswer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn found<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<FoundAnswer>), AppError> {
    // Reporting what a patrol found is patrol work: grid workers and
    // grid heads, within their place.
    let access = Access::Write(Write::Patrol);
    permit(&who, access, Target::District)?;
    let bytes = read_body(body)?;
    let body: FoundBody = parse(&bytes)?;
    let grid = grid_of(&who, body.grid.as_deref())?;
    permit(&who, access, Target::Place(&grid))?;
    ensure_stored(&state, &body.photos).await?;
    ensure_stored(&state, &body.result_photos).await?;
    let location = body.location.map(Point::checked).transpose()?;
    let found = Found { item: body.category, grid, description: body.description, location, photos: body.photos };
    let (command, status) = match (body.result, body.minutes_spent) {
        (Some(result), minutes) => {
            let minutes_spent = minutes.unwrap_or(0);
            (TicketCommand::HandleOnSpot { found, result, minutes_spent, photos: body.result_photos }, "resolved")
        }
        (None, _) => (TicketCommand::Report(found), "submitted"),
    };
    let (service, numbering) = (&state.service, &state.numbering);
    let id = keyed(&state, &who.clone(), &headers, "POST /field/found", &bytes, |command_id: CommandId| async move {
        Ok(numbering.submit(service, command_id, who.actor, command).await?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(FoundAnswer { id, status: status.into() })))
}

fn grid_of(who: &Principal, code: Option<&str>) -> Result<GridCode, Error> {
    match (code, &who.place) {
        (Some(code), _) => GridCode::parse(code),
        (None, Some(place)) => Ok(place.clone()),
        (None, None) => Err(Error::invalid("grid", "name the grid")),
    }
}

/// 巡办协同: what the worker did, and the rest to dispatch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CoordinateBody {
    /// What the worker did themself.
    #[schema(max_length = 2000)]
    done: String,
    #[serde(default)]
    minutes_spent: u32,
    /// After-photos of the worker's part, by hash.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    photos: Vec<BlobHash>,
    /// The rest's catalog item (default: the ticket's).
    #[schema(value_type = Option<String>)]
    rest_category: Option<ItemCode>,
    /// The rest, as the child ticket will say it.
    #[schema(max_length = 2000)]
    rest: String,
}

/// `POST /field/coordinate/{id}`: handle part of a ticket and dispatch the
/// rest as a linked child ticket; the ticket resolves when the child has.
#[utoipa::path(
    post,
    path = "/field/coordinate/{id}",
    operation_id = "coordinate",
    tag = "field",
    summary = "Handle part of a ticket and dispatch the rest as a linked child ticket (巡办协同)",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "The parent ticket, `T-1024`")),
    request_body = CoordinateBody,
    responses((status = 200, description = "What was written on the parent", body = Answer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn coordinate<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, AppError> {
    let access = Access::Write(Write::Patrol);
    permit(&who, access, Target::District)?;
    let id = TicketId::new(id)?;
    let parent = crate::tickets::existing(&state, &id).await?;
    let grid = parent.grid.clone().ok_or_else(|| Error::NotFound { kind: "ticket", id: id.to_string() })?;
    permit(&who, access, Target::Place(&grid))?;
    let bytes = read_body(body)?;
    let body: CoordinateBody = parse(&bytes)?;
    ensure_stored(&state, &body.photos).await?;
    // Decided first with a stand-in child, so that a coordination the
    // parent refuses (its status, the caller) numbers no child.
    let stand_in = TicketCommand::Coordinate {
        done: body.done.clone(),
        minutes_spent: body.minutes_spent,
        photos: body.photos.clone(),
        children: vec![TicketId::from_number(id.number() + 1)],
    };
    let world = state.service.world();
    let ctx = gridloop_engine::Context {
        now: state.service.clock().now(),
        catalog: &world.catalog,
        grids: &world.grids,
        routing: &world.routing,
        emergency: false,
        calendar: &world.calendar,
    };
    if parent.children.is_empty() {
        parent.decide(&id, &stand_in, &who.actor, &ctx)?;
    }
    let item = body
        .rest_category
        .clone()
        .or(parent.item.clone())
        .ok_or_else(|| Error::NotFound { kind: "ticket", id: id.to_string() })?;
    let route = format!("POST /field/coordinate/{id}");
    let (service, numbering) = (&state.service, &state.numbering);
    let answer = keyed(&state, &who.clone(), &headers, &route, &bytes, |command_id: CommandId| async move {
        // The child under a command id derived from the request's, so a
        // repeat finds the same child; then the link on the parent.
        let child_key = CommandId::new(format!("{command_id}.child"))?;
        let found = Found { item, grid, description: body.rest, location: None, photos: Vec::new() };
        let child = numbering.submit(service, child_key, who.actor.clone(), TicketCommand::Report(found));
        let child = child.await?;
        let command = TicketCommand::Coordinate {
            done: body.done,
            minutes_spent: body.minutes_spent,
            photos: body.photos,
            children: vec![child],
        };
        let envelope = CommandEnvelope {
            command_id,
            correlation_id: None,
            actor: who.actor.clone(),
            command: Command::Ticket { id: id.clone(), command },
            expected_version: None,
        };
        let outcome = service.execute(envelope).await?;
        Ok(Answer::new(id, outcome))
    })
    .await?;
    Ok(Json(answer))
}
