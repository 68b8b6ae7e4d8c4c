//! Projection-backed reads: lists, queues, metrics, volunteers, the catalog
//! and the grid tree.
//!
//! # Map
//!
//! - [`Live`]: the projections the API reads (board, metrics, ledger,
//!   directory, ... and the ticket numbering), each in its [`Runner`],
//!   behind one `RwLock`, resumed from their snapshots in the cold store;
//!   [`Live::catch_up`] folds whatever the log holds past their checkpoint,
//!   and [`Live::save`] commits all their snapshots in one atomic commit.
//! - [`follow`]: the background task of `gridloop serve` that keeps them
//!   warm, waking on every new event (the one log follower).
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
use std::sync::atomic::{AtomicU64, Ordering};

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
use gridloop_policies::follower::{self, Follow, fold_error};
use gridloop_projections::board::{self, Board, BoardStatus, QueueOf, Row};
use gridloop_projections::calendar::parse_day_or_instant;
use gridloop_projections::cold::Cold;
use gridloop_projections::directory::Directory;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{Projection, Runner};
use gridloop_projections::{By, Cohort, Metrics, ProjectionError, Rates};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{RwLock, RwLockReadGuard, watch};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Principal};
use crate::error::Path;
use crate::{AppError, AppState};
use gridloop_engine::permit::{Access, Read, Target, permit, visible};

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

/// The projections the API reads, folded to the same position.
#[derive(Debug)]
pub struct Views {
    /// The closed-loop board: every ticket's status, holder and deadlines.
    pub board: Runner<Board>,
    /// The completion-rate metrics, for `GET /metrics/rates`.
    pub metrics: Runner<Metrics>,
    /// Volunteers' points, hours and services, and the duty report.
    pub ledger: Runner<Ledger>,
    /// Volunteers' profiles and loads, for routing and the people routes.
    pub directory: Runner<Directory>,
    /// What Open311's public reads add to the board ([`crate::public`]).
    pub open311: Runner<crate::public::Requests>,
    /// Grid heads' weekly reports and the tickets found on patrol
    /// ([`crate::weekly`]).
    pub weekly: Runner<gridloop_projections::weekly::Weekly>,
    /// Every change of a ticket's status, for Open311's
    /// `servicerequestupdates`: noted as the board applies each event.
    pub updates: crate::public::Updates,
    /// Descriptions for the console's search ([`crate::console::search`]).
    pub texts: Runner<crate::console::search::Texts>,
    /// The patrol log, for `GET /patrols` and the grid worker's pages.
    pub patrols: Runner<gridloop_projections::patrols::PatrolLog>,
    /// The ticket numbering (the highest number, recent submissions'
    /// command ids), which the API resumes its numbering from at start.
    pub numbers: Runner<crate::tickets::Numbers>,
}

impl Views {
    /// The position all of them have applied (they advance together; after a
    /// failed event one may be ahead, and redelivery to it is harmless).
    pub fn checkpoint(&self) -> u64 {
        let positions = [
            self.metrics.checkpoint(),
            self.ledger.checkpoint(),
            self.directory.checkpoint(),
            self.open311.checkpoint(),
            self.texts.checkpoint(),
            self.weekly.checkpoint(),
            self.patrols.checkpoint(),
            self.numbers.checkpoint(),
        ];
        positions.into_iter().fold(self.board.checkpoint(), u64::min)
    }

    /// Resumes every view from its snapshot in `cold` (one of another
    /// version, or none, is rebuilt from position 0).
    fn resume(cold: &Cold) -> Result<Self, ProjectionError> {
        let mut views = Self {
            board: Runner::resume_cold(cold)?,
            metrics: Runner::resume_cold(cold)?,
            ledger: Runner::resume_cold(cold)?,
            directory: Runner::resume_cold(cold)?,
            open311: Runner::resume_cold(cold)?,
            weekly: Runner::resume_cold(cold)?,
            updates: crate::public::Updates::default(),
            texts: Runner::resume_cold(cold)?,
            patrols: Runner::resume_cold(cold)?,
            numbers: Runner::resume_cold(cold)?,
        };
        // The updates are cold rows under the board's prefix: committed
        // with its snapshot, dropped with it when the board is rebuilt.
        views.updates.attach(cold);
        Ok(views)
    }

    /// Every view's snapshot, to be committed together (with the cold rows
    /// their folds left pending).
    fn snapshots(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            (Board::NAME, self.board.snapshot()),
            (Metrics::NAME, self.metrics.snapshot()),
            (Ledger::NAME, self.ledger.snapshot()),
            (Directory::NAME, self.directory.snapshot()),
            (crate::public::Requests::NAME, self.open311.snapshot()),
            (gridloop_projections::weekly::Weekly::NAME, self.weekly.snapshot()),
            (crate::console::search::Texts::NAME, self.texts.snapshot()),
            (gridloop_projections::patrols::PatrolLog::NAME, self.patrols.snapshot()),
            (crate::tickets::Numbers::NAME, self.numbers.snapshot()),
        ]
    }

    /// Notes that the snapshots taken last were committed.
    fn mark_saved(&mut self) {
        self.board.mark_saved();
        self.metrics.mark_saved();
        self.ledger.mark_saved();
        self.directory.mark_saved();
        self.open311.mark_saved();
        self.weekly.mark_saved();
        self.texts.mark_saved();
        self.patrols.mark_saved();
        self.numbers.mark_saved();
    }

    /// The most events any view folded since the last save.
    fn unsaved(&self) -> u64 {
        let counts = [
            self.metrics.unsaved(),
            self.ledger.unsaved(),
            self.directory.unsaved(),
            self.open311.unsaved(),
            self.texts.unsaved(),
            self.weekly.unsaved(),
            self.patrols.unsaved(),
            self.numbers.unsaved(),
        ];
        counts.into_iter().fold(self.board.unsaved(), u64::max)
    }

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let before = self.ticket_status(event);
        if self.board.evolve(event)? {
            if let (Some(before), Some(after)) = (before, self.ticket_status(event)) {
                self.updates.note(event, before, after)?;
            }
        }
        self.metrics.evolve(event)?;
        self.ledger.evolve(event)?;
        self.directory.evolve(event)?;
        self.open311.evolve(event)?;
        self.texts.evolve(event)?;
        self.weekly.evolve(event)?;
        self.patrols.evolve(event)?;
        self.numbers.evolve(event)?;
        Ok(())
    }

    /// The board's status of the ticket `event` belongs to (`None`: not a
    /// ticket's event; [`Status::None`]: a ticket not yet on the board).
    fn ticket_status(&self, event: &RecordedEvent) -> Option<gridloop_engine::ticket::Status> {
        if event.stream.kind() != "ticket" {
            return None;
        }
        let id = gridloop_engine::ids::TicketId::new(event.stream.id()).ok()?;
        Some(self.board.state().get(&id).ok().flatten().map_or(gridloop_engine::ticket::Status::None, |t| t.status))
    }
}

/// Events folded between two saves of the views' snapshots, unless
/// [`Live::with_save_every`] says otherwise: bounds the cold rows pending in
/// memory and the tail a restart reads.
pub const SAVE_EVERY: u64 = 50_000;
/// The longest a serving process keeps folded events unsaved.
pub const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The live projections: resumed at start from the snapshots committed in
/// the cold store (only the log's tail is read), then kept current by
/// [`catch_up`](Self::catch_up) and saved, all views in one commit, every
/// [`SAVE_EVERY`] events, by [`follow`] at least each [`SAVE_INTERVAL`],
/// and when it stops.
#[derive(Debug)]
pub struct Live {
    views: RwLock<Views>,
    /// The views' checkpoint, readable without the lock: written under the
    /// exclusive lock after every batch, so it never runs ahead of them.
    checkpoint: AtomicU64,
    /// Where the views' snapshots and cold rows are committed.
    cold: Cold,
    save_every: u64,
}

impl Live {
    /// The views resumed from their snapshots in `cold`; the first
    /// [`catch_up`](Self::catch_up) folds only what the log holds past them.
    pub fn new(cold: Cold) -> Result<Self, Error> {
        let views = Views::resume(&cold).map_err(stored)?;
        let checkpoint = AtomicU64::new(views.checkpoint());
        Ok(Self { views: RwLock::new(views), checkpoint, cold, save_every: SAVE_EVERY })
    }

    /// Saves after every `events` folded (at least 1).
    pub fn with_save_every(mut self, events: u64) -> Self {
        self.save_every = events.max(1);
        self
    }

    /// Folds every event past the checkpoint; returns how many were read.
    /// Looks for one new event without any lock first, so that readers
    /// only queue behind the exclusive lock when there is something to fold.
    pub async fn catch_up<S: EventStore>(&self, store: &S) -> Result<u64, Error> {
        let next = self.checkpoint.load(Ordering::Acquire) + 1;
        if store.scan(next).batch_max(1).next_batch().await?.is_none() {
            return Ok(0);
        }
        let mut views = self.views.write().await;
        let mut scan = store.scan(views.checkpoint() + 1);
        let mut read = 0;
        while let Some(batch) = scan.next_batch().await? {
            self.fold(&mut views, &batch)?;
            read += batch.len() as u64;
        }
        Ok(read)
    }

    fn fold(&self, views: &mut Views, batch: &[RecordedEvent]) -> Result<(), Error> {
        for event in batch {
            views.evolve(event).map_err(|e| fold_error(e, event))?;
        }
        self.checkpoint.store(views.checkpoint(), Ordering::Release);
        if views.unsaved() >= self.save_every {
            self.save_views(views)?;
        }
        Ok(())
    }

    /// Commits every view's snapshot, with the cold rows their folds left
    /// pending, in one atomic commit.
    pub async fn save(&self) -> Result<(), Error> {
        let mut views = self.views.write().await;
        self.save_views(&mut views)
    }

    fn save_views(&self, views: &mut Views) -> Result<(), Error> {
        self.cold.commit(views.snapshots()).map_err(stored)?;
        views.mark_saved();
        Ok(())
    }

    /// The most events a view folded since the last save.
    pub async fn unsaved(&self) -> u64 {
        self.views.read().await.unsaved()
    }

    /// The views, for reading; hold the guard only while answering.
    pub async fn read(&self) -> RwLockReadGuard<'_, Views> {
        self.views.read().await
    }

    /// The position the views have applied, waiting for any fold in progress
    /// to finish.
    pub async fn checkpoint(&self) -> u64 {
        self.views.read().await.checkpoint()
    }
}

/// The live projections as a [`Follow`]er of the log.
#[derive(Debug)]
struct LiveFollower(Arc<Live>);

impl Follow for LiveFollower {
    type Error = Error;

    fn name(&self) -> &'static str {
        "projections"
    }

    fn is_transient(error: &Error) -> bool {
        follower::storage_failed(error)
    }

    fn next_position(&self) -> u64 {
        self.0.checkpoint.load(Ordering::Acquire) + 1
    }

    /// A handler may have folded part of the batch meanwhile: the runners
    /// skip what they have applied.
    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        let mut views = self.0.views.write().await;
        self.0.fold(&mut views, batch)
    }
}

/// Keeps `live` current until `stop` turns true, as the one log follower
/// does: catches up, then sleeps until the log grows; waits out a store that
/// fails for a while; ends only on a log that does not decode. Handlers
/// catch up themselves too; this only keeps the fold off their path.
pub async fn follow<S: EventStore>(live: Arc<Live>, store: S, stop: watch::Receiver<bool>) -> Result<(), Error> {
    let saver = save_while_serving(live.clone(), stop.clone());
    let mut following = LiveFollower(live.clone());
    let run = follower::run(&store, &mut following, stop);
    tokio::pin!(run);
    // The saver ends when `stop` turns; a follower that fails ends it too.
    let followed = tokio::select! {
        followed = &mut run => followed,
        () = saver => run.await,
    };
    // Saved at the end even after a failure: what was folded is sound.
    if live.unsaved().await > 0 {
        live.save().await?;
    }
    followed
}

/// Saves the views each [`SAVE_INTERVAL`] when something is unsaved, until
/// `stop` turns true; a failed save is logged and tried at the next turn.
async fn save_while_serving(live: Arc<Live>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        tokio::select! {
            () = tokio::time::sleep(SAVE_INTERVAL) => {}
            changed = stop.changed() => if changed.is_err() { return } else { continue },
        }
        if live.unsaved().await > 0 {
            if let Err(error) = live.save().await {
                tracing::warn!(%error, "saving the views' snapshots failed; trying again later");
            }
        }
    }
}

/// A cold store's failure as the engine's error: a store that failed (worth
/// trying again) unless the log itself is at fault.
fn stored(error: ProjectionError) -> Error {
    match error {
        ProjectionError::Log(error) => error,
        other => Error::Storage(other.to_string()),
    }
}

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

/// A board row as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    /// The ticket's id (`T-` and its number).
    #[schema(value_type = Option<String>)]
    pub id: Option<TicketId>,
    /// The board's status: the ticket's, or `awaiting_feedback`, `rated`, `escalated_<tier>`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// `grid`, `community`, `street` or `district`.
    #[schema(value_type = Option<String>)]
    pub tier: Option<Tier>,
    /// The grid (the smallest place) the ticket is in.
    #[schema(value_type = Option<String>)]
    pub grid: Option<GridCode>,
    /// The service item the resident ordered, from the world's catalogue.
    #[schema(value_type = Option<String>)]
    pub item: Option<ItemCode>,
    /// Who holds the ticket now: a volunteer, grid worker, team or department;
    /// none before it is taken or after it leaves them.
    #[schema(value_type = Option<crate::openapi::Assignee>)]
    pub holder: Option<Assignee>,
    /// The next pending deadline; none once the ticket is final.
    pub next_deadline: Option<Deadline>,
    /// Whether the ticket missed a deadline (its accept or resolve deadline,
    /// a tier's response or a summons report), as the rates judge it: it
    /// stays so after an escalation renews its deadlines or someone else
    /// takes it on.
    pub overdue: bool,
    /// In a holder's queue, `held` for a ticket they hold, `offered` for an
    /// offer they may still accept (then `offer` says until when).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub queued: Option<&'static str>,
    /// For an `offered` queue row: the offer's round and when it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<OpenOffer>,
}

/// An offer open to the queue's holder.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenOffer {
    /// The offer round, from 1.
    pub round: u32,
    /// When the offer lapses (RFC 3339, UTC); accepting is refused from then.
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// A pending deadline of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deadline {
    /// Which deadline: offer expiry, accept, resolve, feedback, ...
    #[schema(value_type = String)]
    pub kind: board::DeadlineKind,
    /// When it falls due (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub at: Timestamp,
}

impl From<Row<'_>> for Item {
    fn from(row: Row<'_>) -> Self {
        let t = &*row.ticket;
        Item {
            id: t.id.clone(),
            status: row.status.name(),
            tier: t.tier,
            grid: t.grid.clone(),
            item: t.item.clone(),
            holder: t.holder.clone(),
            next_deadline: row.next_deadline.map(|(kind, at)| Deadline { kind, at }),
            overdue: row.overdue,
            queued: None,
            offer: row.offer.map(|o| OpenOffer { round: o.round, expires_at: o.expires_at }),
        }
    }
}

/// `?status=&scope=&holder=&overdue=&page=&per_page=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// A board status (`submitted`, `offered`, `awaiting_feedback`, ...).
    status: Option<String>,
    /// A place's code: tickets within it.
    scope: Option<String>,
    /// `kind:id`, e.g. `volunteer:V-7`.
    holder: Option<String>,
    /// `true`: only tickets that missed a deadline (accept, resolve, a
    /// tier's response, a summons report), final ones included, and still
    /// after an escalation renewed it (each row's `overdue`); `false` or
    /// absent: no filter.
    overdue: Option<bool>,
    /// From 1.
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    /// At most 200; 50 by default.
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<u32>,
}

/// One page of board rows, for `GET /tickets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPage {
    /// The rows of this page, in ticket-number order.
    pub items: Vec<Item>,
    /// Rows matching the filters across all pages.
    pub total: u64,
    /// Of the tickets matching every filter but `overdue`, how many missed a
    /// deadline: the count beside the list.
    pub overdue: u64,
    /// Which page this is, from 1.
    pub page: u32,
    /// Rows per page as applied (at most 200).
    pub per_page: u32,
}

/// `GET /tickets`: one page of the board. A resident's list holds only
/// their own tickets, whatever the filters say.
#[utoipa::path(
    get,
    path = "/tickets",
    operation_id = "list_tickets",
    tag = "tickets",
    summary = "Lists tickets on the board (residents: their own), a page at a time",
    params(ListParams),
    responses((status = 200, description = "A page of tickets", body = ItemPage), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn list<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ItemPage>, AppError> {
    permit(&who, Access::Read(Read::Tickets), Target::District)?;
    let now = state.service.clock().now();
    let query = board_query(&state, &who, params(query)?, now)?;
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let page = views.board.state().query(&query, now)?;
    let items = page.items.into_iter().map(Item::from).collect();
    Ok(Json(ItemPage { items, total: page.total, overdue: page.overdue, page: page.page, per_page: page.per_page }))
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
    if let Some(status) = p.status.as_deref().filter(|s| BoardStatus::named(s).is_none()) {
        let status = text("status", status)?;
        let names: Vec<&str> = BoardStatus::ALL.iter().map(|s| s.name()).collect();
        return Err(Error::invalid("status", format!("{status:?} is not one of {}", names.join(", "))));
    }
    let grids = &state.service.world().grids;
    let scope = p.scope.as_deref().map(|s| known_grid(grids, "scope", s)).transpose()?;
    let resident = match who.actor.role {
        Role::Resident => Some(ResidentId::new(who.actor.id.as_str())?),
        _ => None,
    };
    Ok(board::Query {
        status: p.status,
        scope: who.scope(scope)?,
        holder: p.holder.as_deref().map(holder).transpose()?,
        resident,
        reach: Some(who.clone()),
        overdue_as_of: p.overdue.unwrap_or(false).then_some(now),
        page,
        per_page,
    })
}

/// A holder's or a place's open work, for `GET /queues/{kind}/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueAnswer {
    /// The open tickets, soonest deadline first, at most [`QUEUE_ROWS_MAX`]:
    /// for a holder, those it holds (`queued: held`) and the offers it may
    /// still accept (`queued: offered`, with the offer's expiry).
    pub items: Vec<Item>,
    /// Open tickets in the queue, of which the first [`QUEUE_ROWS_MAX`] are listed.
    pub total: u64,
    /// Of the total, the tickets the holder holds (a place's queue: all).
    pub held: u64,
    /// Of the total, the offers open to the holder (a place's queue: none).
    pub offered: u64,
    /// Of the total, the tickets that missed a deadline.
    pub overdue: u64,
}

/// `GET /queues/{kind}/{id}`: a holder's (`volunteer`, `team`,
/// `department`) or a place's open work, soonest deadline first.
#[utoipa::path(
    get,
    path = "/queues/{kind}/{id}",
    operation_id = "queue",
    tag = "tickets",
    summary = "Open work of a volunteer, team, department or place, soonest deadline first",
    params(("kind" = String, Path, description = "`volunteer`, `team`, `department` or `place`"), ("id" = String, Path, description = "The holder's id, or a place's grid code")),
    responses((status = 200, description = "The queue", body = QueueAnswer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn queue<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<QueueAnswer>, AppError> {
    let access = Access::Read(Read::Queue);
    permit(&who, access, Target::District)?;
    let of = match kind.as_str() {
        "volunteer" | "team" | "department" => {
            let holder = holder(&format!("{kind}:{id}"))?;
            permit(&who, access, Target::Holder(&holder))?;
            QueueOf::Holder(holder)
        }
        "place" => {
            let place = known_grid(&state.service.world().grids, "place", &id)?;
            permit(&who, access, Target::Place(&place))?;
            QueueOf::Place(place)
        }
        _ => return Err(Error::NotFound { kind: "queue kind", id: kind }.into()),
    };
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let mut rows = views.board.state().queue(&of, state.service.clock().now());
    // A placed dispatcher sees a holder's work within their place only.
    rows.retain(|row| visible(&who, &row.ticket));
    let total = rows.len() as u64;
    let offered = rows.iter().filter(|r| r.offer.is_some()).count() as u64;
    let overdue = rows.iter().filter(|r| r.overdue).count() as u64;
    let by_holder = matches!(of, QueueOf::Holder(_));
    let items = rows
        .into_iter()
        .take(QUEUE_ROWS_MAX)
        .map(|row| {
            let queued = by_holder.then_some(if row.offer.is_some() { "offered" } else { "held" });
            Item { queued, ..Item::from(row) }
        })
        .collect();
    Ok(Json(QueueAnswer { items, total, held: total - offered, offered, overdue }))
}

/// `?scope=&from=&to=&by=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateParams {
    /// A place's code (the caller's place, or the district, by default).
    scope: Option<String>,
    /// RFC 3339: the cohort's tickets were submitted at or after it.
    from: Option<String>,
    /// RFC 3339: ... and before it (just past now by default).
    to: Option<String>,
    /// One breakdown: a level (`street`, `community`, `grid`), `department`, `team`, `category`, `day`, `week` or `month`.
    by: Option<String>,
}

/// The rates of one key of the breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateRow {
    /// The breakdown's key: a place's code, a department, team or category id,
    /// a day (`2026-11-03`), week (`2026-W45`) or month (`2026-11`); `all` for
    /// the whole cohort.
    pub key: String,
    /// Each rate with its numerator and denominator.
    #[schema(value_type = Object)]
    pub rates: Rates,
}

/// The completion-rate metrics of a cohort, for `GET /metrics/rates`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatesAnswer {
    /// The instant the rates were computed as of (RFC 3339, UTC): tickets count
    /// by what had happened by then.
    #[schema(value_type = String)]
    pub as_of: Timestamp,
    /// One row per key of the breakdown (none without `by`), then the
    /// cohort's total, keyed `all`.
    pub rows: Vec<RateRow>,
}

/// `GET /metrics/rates`: the rates of the tickets submitted in
/// `[from, to)` within `scope`, as of now, broken down `by` one dimension.
/// `to` defaults to just past now, so tickets submitted this instant count.
#[utoipa::path(
    get,
    path = "/metrics/rates",
    operation_id = "rates",
    tag = "metrics",
    summary = "Completion-rate metrics of the tickets submitted in [from, to) within scope, broken down by one dimension",
    params(RateParams),
    responses((status = 200, description = "Rows of rates with numerators and denominators", body = RatesAnswer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn rates<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<RateParams>, QueryRejection>,
) -> Result<Json<RatesAnswer>, AppError> {
    permit(&who, Access::Read(Read::Metrics), Target::District)?;
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
    let cohort = Cohort { from, to, scope: who.scope(scope)? };
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
pub(crate) fn instant(name: &'static str, value: &str) -> Result<Timestamp, Error> {
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
#[utoipa::path(
    get,
    path = "/volunteers/{id}",
    operation_id = "show_volunteer",
    tag = "volunteers",
    summary = "A volunteer's standing (active, inactive, exited, with the reason), points, hours and open orders (volunteers: their own)",
    params(("id" = String, Path, description = "A volunteer id, `V-7`")),
    responses((status = 200, description = "The volunteer", body = crate::openapi::shapes::VolunteerStanding), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn volunteer<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = VolunteerId::new(id)?;
    crate::people::reach_volunteer(&state, &who, Access::Read(Read::Volunteer), &id).await?;
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
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct VolunteerParams {
    /// A place's code: volunteers living within it (the district by default).
    grid: Option<String>,
    /// Only volunteers with this skill.
    skill: Option<String>,
}

/// `GET /volunteers`: the registered volunteers living within `grid` (the
/// whole district by default), with `skill` if given, by home then id; at
/// most [`VOLUNTEERS_MAX`], with the total count.
#[utoipa::path(
    get,
    path = "/volunteers",
    operation_id = "list_volunteers",
    tag = "volunteers",
    summary = "Volunteers living within a grid (the district by default), with a skill if given",
    params(VolunteerParams),
    responses((status = 200, description = "Volunteers and their total", body = crate::openapi::shapes::Listed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn volunteers<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<VolunteerParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::Volunteers), Target::District)?;
    let p = params(query)?;
    let grids = &state.service.world().grids;
    let asked = p.grid.as_deref().map(|code| known_grid(grids, "grid", code)).transpose()?;
    let grid = who.scope(asked)?.unwrap_or_else(|| grids.root().code.clone());
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
#[utoipa::path(
    get,
    path = "/catalog",
    operation_id = "catalog",
    tag = "world",
    summary = "The service catalog, with each SLA in minutes",
    responses((status = 200, description = "Items", body = crate::openapi::shapes::Catalog), crate::openapi::Refusals),
    security(("bearer" = []))
)]
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
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct GridParams {
    /// A place's code: its children (the district's by default).
    parent: Option<String>,
}

/// `GET /grids?parent=CODE`: one level of the tree, the children of
/// `parent` (the district by default); an unknown parent is 404.
#[utoipa::path(
    get,
    path = "/grids",
    operation_id = "grids",
    tag = "world",
    summary = "The grid tree one level at a time: the children of parent (the district by default)",
    params(GridParams),
    responses((status = 200, description = "The parent and its children", body = crate::openapi::shapes::GridLevel), crate::openapi::Refusals),
    security(("bearer" = []))
)]
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
