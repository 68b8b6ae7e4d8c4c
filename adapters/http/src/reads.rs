//! Projection-backed reads: lists, queues, metrics, volunteers, the catalog
//! and the grid tree.
//!
//! # Map
//!
//! - [`Live`]: the projections the API reads (board, metrics, ledger,
//!   directory), each in its [`Runner`], behind one `RwLock`; [`Live::catch_up`]
//!   folds whatever the log holds past their checkpoint.
//! - [`follow`]: the background task of `gridloop serve` that keeps them
//!   warm, waking on every new event (or at least every [`FOLLOW_NAP_MAX`]).
//! - The handlers, one per route: [`list`] (`GET /tickets`), [`queue`]
//!   (`GET /queues/{kind}/{id}`), [`rates`] (`GET /metrics/rates`),
//!   [`volunteer`] (`GET /volunteers/{id}`), [`volunteers`]
//!   (`GET /volunteers`), [`catalog`] (`GET /catalog`), [`grids`]
//!   (`GET /grids`).
//! - The parsers of query parameters (status, scope, holder, instants,
//!   breakdowns): every malformed parameter is `400 invalid_input`.
//!
//! # Read your writes
//!
//! Every handler first catches the projections up with the store, so a read
//! that follows a write (from the same client or any other) sees it. When
//! nothing is new that costs one read of an empty batch under a shared lock;
//! the follower does the folding in the background, so a handler rarely
//! waits for it.
//!
//! # Who reads what
//!
//! Nothing here writes. A resident lists only their own tickets and may read
//! the catalog and the grid tree; a volunteer reads their own account; a
//! dispatcher who serves a place lists and queues only within it; everyone
//! else (auditors included) reads everything.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use gridloop_engine::Error;
use gridloop_engine::envelope::{RecordedEvent, Role};
use gridloop_engine::grid::{GridCode, GridTree};
use gridloop_engine::ids::{ItemCode, ResidentId, Skill, TicketId, VolunteerId};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Tier};
use gridloop_engine::time::{MINUTE_MS, Millis, Timestamp};
use gridloop_projections::board::{self, Board, QueueOf, Row};
use gridloop_projections::calendar::parse_day_or_instant;
use gridloop_projections::directory::Directory;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{CATCH_UP_BATCH, Runner};
use gridloop_projections::{By, Cohort, Metrics, ProjectionError, Rates};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{RwLock, RwLockReadGuard, watch};

use crate::auth::{Caller, Principal};
use crate::error::Path;
use crate::{AppError, AppState};

/// The longest the follower sleeps before looking at the log again.
pub const FOLLOW_NAP_MAX: Duration = Duration::from_secs(1);
/// Rows a ticket page holds unless `per_page` says otherwise.
pub const PER_PAGE_DEFAULT: u32 = 50;
/// The most rows a ticket page may hold (the board's own bound).
pub const PER_PAGE_MAX: u32 = board::PAGE_SIZE_MAX;
/// The highest page number asked for: past it no district has tickets.
pub const PAGE_MAX: u32 = 100_000;
/// The most rows a queue answers with, soonest deadline first.
pub const QUEUE_ROWS_MAX: usize = 200;
/// The most volunteers `GET /volunteers` answers with.
pub const VOLUNTEERS_MAX: usize = 200;
/// The most rows a metrics breakdown may have (a day per row over years is
/// refused: ask for weeks or months, or a shorter range).
pub const RATE_ROWS_MAX: usize = 1_000;
/// The longest query parameter value read, in bytes.
pub const PARAM_BYTES_MAX: usize = 128;

/// The status names a `status=` filter may give ([`board::BoardStatus::name`]).
const STATUS_NAMES: [&str; 12] = [
    "submitted",
    "triaged",
    "offered",
    "accepted",
    "in_progress",
    "escalated",
    "awaiting_feedback",
    "resolved",
    "reopened",
    "closed",
    "cancelled",
    "duplicate",
];

/// The projections the API reads, folded to the same position.
#[derive(Debug)]
pub struct Views {
    pub board: Runner<Board>,
    pub metrics: Runner<Metrics>,
    pub ledger: Runner<Ledger>,
    pub directory: Runner<Directory>,
}

impl Views {
    /// The position all four have applied (they advance together; after a
    /// failed event one may be ahead, and redelivery to it is harmless).
    pub fn checkpoint(&self) -> u64 {
        let positions = [self.metrics.checkpoint(), self.ledger.checkpoint(), self.directory.checkpoint()];
        positions.into_iter().fold(self.board.checkpoint(), u64::min)
    }

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        self.board.evolve(event)?;
        self.metrics.evolve(event)?;
        self.ledger.evolve(event)?;
        self.directory.evolve(event)?;
        Ok(())
    }
}

/// The live projections: folded in memory from position 0 at start, then
/// kept current by [`catch_up`](Self::catch_up).
#[derive(Debug)]
pub struct Live {
    views: RwLock<Views>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        let views = Views {
            board: Runner::fresh(),
            metrics: Runner::fresh(),
            ledger: Runner::fresh(),
            directory: Runner::fresh(),
        };
        Self { views: RwLock::new(views) }
    }

    /// Folds every event past the checkpoint; returns how many were read.
    /// Checks under the shared lock first, so that readers only queue
    /// behind the exclusive lock when there is something to fold.
    pub async fn catch_up<S: EventStore>(&self, store: &S) -> Result<u64, Error> {
        let next = self.views.read().await.checkpoint() + 1;
        if store.read_all(next, 1).await?.is_empty() {
            return Ok(0);
        }
        let mut views = self.views.write().await;
        let mut read = 0;
        loop {
            let batch = store.read_all(views.checkpoint() + 1, CATCH_UP_BATCH).await?;
            if batch.is_empty() {
                return Ok(read);
            }
            for event in &batch {
                views.evolve(event).map_err(|e| log_error(e, event))?;
            }
            read += batch.len() as u64;
        }
    }

    /// The views, for reading; hold the guard only while answering.
    pub async fn read(&self) -> RwLockReadGuard<'_, Views> {
        self.views.read().await
    }

    pub async fn checkpoint(&self) -> u64 {
        self.views.read().await.checkpoint()
    }
}

/// A projection's failure on `event` as the engine's error. A store failure
/// stays one (the follower waits it out); anything else means the log and
/// the fold disagree, so the log is corrupt at that event, and the error
/// names it for the operator who has to look.
fn log_error(error: ProjectionError, event: &RecordedEvent) -> Error {
    let reason = match error {
        ProjectionError::Log(Error::Storage(reason)) | ProjectionError::SnapshotStore(reason) => {
            return Error::Storage(reason);
        }
        ProjectionError::Log(Error::Corrupt(reason)) => reason,
        other => other.to_string(),
    };
    Error::Corrupt(format!("{} v{} at position {}: {reason}", event.stream, event.version, event.position))
}

/// Keeps `live` current until `stop` turns true: catches up, then sleeps
/// until the log grows (or [`FOLLOW_NAP_MAX`] passes, so a missed wake-up
/// costs at most that). Handlers catch up themselves too; this only keeps
/// the fold off their path.
///
/// A store that fails for a while (a NATS server restarting) is waited out:
/// the follower logs it and tries again, so the projections resume where
/// they stopped. Only a log that does not decode ends it.
pub async fn follow<S: EventStore>(live: Arc<Live>, store: S, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
    while !*stop.borrow() {
        let step = async {
            live.catch_up(&store).await?;
            let next = live.checkpoint().await + 1;
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_NAP_MAX) => Ok(()),
                woken = store.wait_for(next) => woken,
                _ = stop.changed() => Ok(()),
            }
        };
        match step.await {
            Ok(()) => {}
            Err(Error::Storage(reason)) => {
                tracing::warn!(%reason, "the projection follower waits for the store");
                tokio::time::sleep(FOLLOW_RETRY).await;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// How long the follower waits before trying a failing store again.
pub const FOLLOW_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// The parameters of a query string, or `400 invalid_input` naming what is
/// wrong (an unknown parameter, a number that is not one).
pub(crate) fn params<T: DeserializeOwned>(query: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    let Query(params) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(params)
}

/// A parameter's text, bounded.
pub(crate) fn text<'a>(name: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if value.len() > PARAM_BYTES_MAX {
        return Err(Error::invalid(name, format!("must be at most {PARAM_BYTES_MAX} bytes")));
    }
    Ok(value)
}

/// Refuses a caller whose role is in `refused`.
fn refuse(who: &Principal, refused: &[Role], what: &'static str) -> Result<(), Error> {
    if refused.contains(&who.actor.role) {
        return Err(Error::NotPermitted { role: who.actor.role.name(), command: what });
    }
    Ok(())
}

/// A grid code the tree knows, as a filter: an unknown one is a bad
/// parameter, not a missing resource.
pub(crate) fn known_grid(grids: &GridTree, name: &'static str, value: &str) -> Result<GridCode, Error> {
    let code = GridCode::parse(text(name, value)?)?;
    grids.get(&code).map(|_| code.clone()).ok_or_else(|| Error::invalid(name, format!("{code} is not in the district")))
}

/// `volunteer:V-7`, `team:TM-3`, `department:civil_affairs`,
/// `grid_worker:gw-...`: the ids are validated as the write routes do.
fn holder(value: &str) -> Result<Assignee, Error> {
    let (kind, id) = text("holder", value)?
        .split_once(':')
        .ok_or_else(|| Error::invalid("holder", "is KIND:ID, e.g. volunteer:V-7 or team:TM-3"))?;
    serde_json::from_value(json!({ "kind": kind, "id": id })).map_err(|e| Error::invalid("holder", e.to_string()))
}

/// The scope a caller may see: a placed dispatcher only within their
/// place (their whole place when they name none).
pub(crate) fn scope_for(who: &Principal, asked: Option<GridCode>) -> Result<Option<GridCode>, Error> {
    match (&who.place, asked) {
        (Some(place), Some(scope)) if !scope.is_within(place) => {
            Err(Error::NotPermitted { role: "dispatcher", command: "read outside the place they serve" })
        }
        (Some(place), None) => Ok(Some(place.clone())),
        (_, asked) => Ok(asked),
    }
}

/// A board row as the API shows it.
#[derive(Debug, Serialize)]
pub struct Item {
    pub id: Option<TicketId>,
    pub status: &'static str,
    pub tier: Option<Tier>,
    pub grid: Option<GridCode>,
    pub item: Option<ItemCode>,
    pub holder: Option<Assignee>,
    pub next_deadline: Option<Deadline>,
    pub overdue: bool,
}

#[derive(Debug, Serialize)]
pub struct Deadline {
    pub kind: board::DeadlineKind,
    pub at: Timestamp,
}

impl From<Row<'_>> for Item {
    fn from(row: Row<'_>) -> Self {
        let t = row.ticket;
        Item {
            id: t.id.clone(),
            status: row.status.name(),
            tier: t.tier,
            grid: t.grid.clone(),
            item: t.item.clone(),
            holder: t.holder.clone(),
            next_deadline: row.next_deadline.map(|(kind, at)| Deadline { kind, at }),
            overdue: row.overdue,
        }
    }
}

/// `?status=&scope=&holder=&overdue=&page=&per_page=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    status: Option<String>,
    scope: Option<String>,
    holder: Option<String>,
    overdue: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// `GET /tickets`: one page of the board. A resident's list holds only
/// their own tickets, whatever the filters say.
pub(crate) async fn list<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ItemPage>, AppError> {
    let now = state.service.clock().now();
    let query = board_query(&state, &who, params(query)?, now)?;
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let page = views.board.state().query(&query, now);
    let items = page.items.into_iter().map(Item::from).collect();
    Ok(Json(ItemPage { items, total: page.total, page: page.page, per_page: page.per_page }))
}

/// The board query the parameters ask for, checked.
fn board_query<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    p: ListParams,
    now: Timestamp,
) -> Result<board::Query, Error> {
    let page = p.page.unwrap_or(1);
    if !(1..=PAGE_MAX).contains(&page) {
        return Err(Error::invalid("page", format!("must be 1 to {PAGE_MAX}")));
    }
    let per_page = p.per_page.unwrap_or(PER_PAGE_DEFAULT);
    if !(1..=PER_PAGE_MAX).contains(&per_page) {
        return Err(Error::invalid("per_page", format!("must be 1 to {PER_PAGE_MAX}")));
    }
    if let Some(status) = p.status.as_deref().filter(|s| !STATUS_NAMES.contains(s)) {
        let status = text("status", status)?;
        return Err(Error::invalid("status", format!("{status:?} is not one of {}", STATUS_NAMES.join(", "))));
    }
    let grids = &state.service.world().grids;
    let scope = p.scope.as_deref().map(|s| known_grid(grids, "scope", s)).transpose()?;
    let resident = match who.actor.role {
        Role::Resident => Some(ResidentId::new(who.actor.id.as_str())?),
        _ => None,
    };
    Ok(board::Query {
        status: p.status,
        scope: scope_for(who, scope)?,
        holder: p.holder.as_deref().map(holder).transpose()?,
        resident,
        overdue_as_of: p.overdue.unwrap_or(false).then_some(now),
        page,
        per_page,
    })
}

#[derive(Debug, Serialize)]
pub struct QueueAnswer {
    pub items: Vec<Item>,
    /// Open tickets in the queue, of which the first [`QUEUE_ROWS_MAX`] are listed.
    pub total: u64,
}

/// `GET /queues/{kind}/{id}`: a holder's (`volunteer`, `team`,
/// `department`) or a place's open work, soonest deadline first.
pub(crate) async fn queue<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<QueueAnswer>, AppError> {
    refuse(&who, &[Role::Resident], "read a queue")?;
    let of = match kind.as_str() {
        "volunteer" | "team" | "department" => QueueOf::Holder(holder(&format!("{kind}:{id}"))?),
        "place" => {
            let place = known_grid(&state.service.world().grids, "place", &id)?;
            QueueOf::Place(scope_for(&who, Some(place))?.expect("a place was given"))
        }
        _ => return Err(Error::NotFound { kind: "queue kind", id: kind }.into()),
    };
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let rows = views.board.state().queue(&of, state.service.clock().now());
    let total = rows.len() as u64;
    let items = rows.into_iter().take(QUEUE_ROWS_MAX).map(Item::from).collect();
    Ok(Json(QueueAnswer { items, total }))
}

/// `?scope=&from=&to=&by=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RateRow {
    pub key: String,
    pub rates: Rates,
}

#[derive(Debug, Serialize)]
pub struct RatesAnswer {
    pub as_of: Timestamp,
    /// One row per key of the breakdown (none without `by`), then the
    /// cohort's total, keyed `all`.
    pub rows: Vec<RateRow>,
}

/// `GET /metrics/rates`: the rates of the tickets submitted in
/// `[from, to)` within `scope`, as of now, broken down `by` one dimension.
/// `to` defaults to just past now, so tickets submitted this instant count.
pub(crate) async fn rates<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<RateParams>, QueryRejection>,
) -> Result<Json<RatesAnswer>, AppError> {
    refuse(&who, &[Role::Resident, Role::Volunteer], "read the metrics")?;
    let p = params(query)?;
    let as_of = state.service.clock().now();
    let grids = &state.service.world().grids;
    let scope = p.scope.as_deref().map(|s| known_grid(grids, "scope", s)).transpose()?;
    let from = p.from.as_deref().map(|t| instant("from", t)).transpose()?.unwrap_or_else(beginning);
    let to = p.to.as_deref().map(|t| instant("to", t)).transpose()?.unwrap_or(as_of.plus(Millis(1)));
    if from >= to {
        return Err(Error::invalid("from", "must be before to").into());
    }
    let by = p.by.as_deref().map(breakdown).transpose()?;
    let cohort = Cohort { from, to, scope: scope_for(&who, scope)? };
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let metrics = views.metrics.state();
    let mut rows: Vec<RateRow> = match by {
        Some(by) => {
            metrics.rates_by(&cohort, as_of, by).into_iter().map(|(key, rates)| RateRow { key, rates }).collect()
        }
        None => Vec::new(),
    };
    if rows.len() > RATE_ROWS_MAX {
        return Err(
            Error::invalid("by", format!("more than {RATE_ROWS_MAX} rows: narrow the range or the scope")).into()
        );
    }
    rows.push(RateRow { key: "all".into(), rates: metrics.rates(&cohort, as_of) });
    Ok(Json(RatesAnswer { as_of, rows }))
}

/// The earliest instant a cohort may start (2000-01-01, the engine's first).
fn beginning() -> Timestamp {
    Cohort::earliest()
}

/// `YYYY-MM-DD` (local midnight, China time, as the CLI's `metrics` reads
/// it) or RFC 3339.
fn instant(name: &'static str, value: &str) -> Result<Timestamp, Error> {
    parse_day_or_instant(text(name, value)?).ok_or_else(|| Error::invalid(name, "expected YYYY-MM-DD or RFC 3339"))
}

/// What `by=` names.
fn breakdown(value: &str) -> Result<By, Error> {
    By::parse(value).ok_or_else(|| {
        Error::invalid("by", "must be street, community, grid, department, team, category, day, week or month")
    })
}

/// `GET /volunteers/{id}`: the ledger's account (points, services and
/// minutes per month), the directory's view (team, home, skills,
/// availability, open orders) and the standing (`active`, `inactive` or
/// `exited`, with the reason) folded from the volunteer's own stream, since
/// the directory keeps only whether they stand down. A volunteer reads only
/// their own.
pub(crate) async fn volunteer<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    refuse(&who, &[Role::Resident], "read a volunteer")?;
    let id = VolunteerId::new(id)?;
    if who.actor.role == Role::Volunteer && who.actor.id.as_str() != id.as_str() {
        return Err(Error::NotPermitted { role: "volunteer", command: "read another volunteer" }.into());
    }
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let window = state.service.world().routing.fairness_window;
    let view = views.directory.state().view(&id, state.service.clock().now(), window);
    let account = views.ledger.state().account(&id).cloned();
    drop(views);
    if view.is_none() && account.is_none() {
        return Err(Error::NotFound { kind: "volunteer", id: id.to_string() }.into());
    }
    let (status, reason) = standing(&state.service.volunteer(&id).await?);
    let account = account.unwrap_or_default();
    let points = json!({
        "balance": account.points_balance,
        "awarded": account.points_awarded,
        "redeemed": account.points_redeemed,
    });
    Ok(Json(json!({
        "id": id, "status": status, "status_reason": reason,
        "profile": view, "points": points, "months": account.months,
    })))
}

/// A volunteer's standing and why: `None` for one never registered (only
/// named by a ticket or an award).
fn standing(volunteer: &gridloop_engine::volunteer::Volunteer) -> (Option<&'static str>, Option<String>) {
    match (&volunteer.id, &volunteer.exited, &volunteer.inactive) {
        (None, _, _) => (None, None),
        (Some(_), Some(reason), _) => (Some("exited"), Some(reason.clone())),
        (Some(_), None, Some(reason)) => (Some("inactive"), Some(reason.clone())),
        (Some(_), None, None) => (Some("active"), None),
    }
}

/// `?grid=&skill=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VolunteerParams {
    grid: Option<String>,
    skill: Option<String>,
}

/// `GET /volunteers`: the registered volunteers living within `grid` (the
/// whole district by default), with `skill` if given, by home then id; at
/// most [`VOLUNTEERS_MAX`], with the total count.
pub(crate) async fn volunteers<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<VolunteerParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    refuse(&who, &[Role::Resident, Role::Volunteer], "list volunteers")?;
    let p = params(query)?;
    let grids = &state.service.world().grids;
    let grid = match p.grid.as_deref() {
        Some(code) => known_grid(grids, "grid", code)?,
        None => grids.root().code.clone(),
    };
    let skill = p.skill.as_deref().map(|s| text("skill", s).and_then(Skill::new)).transpose()?;
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let window = state.service.world().routing.fairness_window;
    let mut found = views.directory.state().views_within(&grid, state.service.clock().now(), window);
    found.retain(|v| skill.as_ref().is_none_or(|s| v.skills.contains(s)));
    let total = found.len();
    found.truncate(VOLUNTEERS_MAX);
    Ok(Json(json!({ "items": found, "total": total })))
}

/// `GET /catalog`: every item, with its SLA in minutes.
pub(crate) async fn catalog<S: EventStore>(State(state): State<AppState<S>>, Caller(_who): Caller) -> Json<Value> {
    let minutes = |m: Millis| m.0 / MINUTE_MS;
    let items: Vec<Value> = state
        .service
        .world()
        .catalog
        .items()
        .map(|i| {
            json!({
                "code": i.code, "name": i.name, "name_en": i.name_en, "category": i.category, "mode": i.mode,
                "department": i.department, "skills": i.skills, "points": i.points,
                "admitted": i.admitted, "emergency": i.emergency,
                "sla_minutes": {
                    "accept": minutes(i.sla.accept_within),
                    "resolve": minutes(i.sla.resolve_within),
                    "feedback": minutes(i.sla.feedback_window),
                },
            })
        })
        .collect();
    Json(json!({ "items": items }))
}

/// `?parent=CODE`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GridParams {
    parent: Option<String>,
}

/// `GET /grids?parent=CODE`: one level of the tree, the children of
/// `parent` (the district by default); an unknown parent is 404.
pub(crate) async fn grids<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(_who): Caller,
    query: Result<Query<GridParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let p = params(query)?;
    let tree = &state.service.world().grids;
    let parent = match p.parent.as_deref() {
        Some(code) => tree.require(&GridCode::parse(text("parent", code)?)?)?,
        None => tree.root(),
    };
    let node = |code: &GridCode| {
        tree.get(code).map(|n| {
            json!({ "code": n.code, "name": n.name, "name_en": n.name_en, "level": n.code.level(), "kind": n.kind })
        })
    };
    let children: Vec<Value> = tree.children(&parent.code).iter().filter_map(node).collect();
    Ok(Json(json!({ "parent": node(&parent.code), "children": children })))
}
