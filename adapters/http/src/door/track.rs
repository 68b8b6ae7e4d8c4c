//! "My requests" and one ticket, as a resident reads them: in plain words,
//! in both languages, from what the engine decided (statuses, deadlines,
//! whether feedback is open); the page shows them as given. Feedback itself
//! is the ticket API's own action (`POST /api/v1/tickets/{id}/feedback`),
//! which a personal link may call like any token.

use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use gridloop_engine::blob::BlobHash;
use gridloop_engine::envelope::Actor;
use gridloop_engine::ids::{ResidentId, StreamId, TicketId};
use gridloop_engine::permit::{Access, Principal, Read, Target, permit};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Rating, Ticket, TicketCommand, TicketEvent};
use gridloop_engine::time::Timestamp;
use gridloop_engine::{Context, Error};
use gridloop_projections::board::BoardStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::courier::Notice;
use crate::error::Path;
use crate::{AppError, AppState};

/// The most tickets "my requests" lists, newest first.
pub const REQUESTS_MAX: usize = 100;
/// The most notices shown on a ticket's page.
pub const NOTICES_MAX: usize = 20;

/// A phrase in both languages of the pages.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Words {
    /// In Chinese (zh-CN).
    pub zh: String,
    /// In English.
    pub en: String,
}

fn words(zh: impl Into<String>, en: impl Into<String>) -> Words {
    Words { zh: zh.into(), en: en.into() }
}

/// A board status (its name) in words.
pub fn status_words(status: &str) -> Words {
    let (zh, en) = match status {
        "submitted" => ("已受理，等待派单", "Received, waiting to be sent out"),
        "triaged" => ("已分类，等待派单", "Sorted, waiting to be sent out"),
        "offered" => ("正在寻找处理人", "Looking for someone to take it"),
        "accepted" => ("已有人接单", "Someone has taken it"),
        "in_progress" => ("正在处理", "Being handled"),
        "escalated" => ("已上报上级处理", "Passed up to a higher level"),
        "awaiting_feedback" => ("已办结，请您评价", "Done: please tell us how it went"),
        "resolved" => ("已办结", "Done"),
        "reopened" => ("已重新处理", "Reopened"),
        "closed" => ("已结案", "Closed"),
        "cancelled" => ("已撤销", "Withdrawn"),
        "duplicate" => ("与其他诉求重复", "A duplicate of another request"),
        "returned" => ("正在重新派单", "Being sent to the right office"),
        _ => ("处理中", "In hand"),
    };
    words(zh, en)
}

/// One row of "my requests".
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestRow {
    /// The ticket's id.
    pub id: String,
    /// The item ordered, `{ "zh", "en" }`.
    #[schema(value_type = Object)]
    pub item: Words,
    /// The grid, `{ "zh", "en" }`.
    #[schema(value_type = Object)]
    pub place: Words,
    /// The board status.
    pub status: &'static str,
    /// The status in words.
    #[schema(value_type = Object)]
    pub status_text: Words,
    /// When it was submitted.
    #[schema(value_type = Option<String>)]
    pub submitted_at: Option<Timestamp>,
}

fn item_words<S: EventStore>(state: &AppState<S>, ticket: &Ticket) -> Words {
    let world = state.service.world();
    match ticket.item.as_ref().and_then(|i| world.catalog.item(i).ok()) {
        Some(item) => words(item.name.clone(), item.name_en.clone()),
        None => words("", ""),
    }
}

fn place_words<S: EventStore>(state: &AppState<S>, ticket: &Ticket) -> Words {
    let world = state.service.world();
    match ticket.grid.as_ref().and_then(|g| world.grids.get(g)) {
        Some(node) => words(node.name.clone(), node.name_en.clone()),
        None => words("", ""),
    }
}

fn row<S: EventStore>(state: &AppState<S>, ticket: &Ticket) -> Option<RequestRow> {
    let status = BoardStatus::of(ticket).name();
    Some(RequestRow {
        id: ticket.id.as_ref()?.to_string(),
        item: item_words(state, ticket),
        place: place_words(state, ticket),
        status,
        status_text: status_words(status),
        submitted_at: ticket.submitted_at,
    })
}

/// `GET /resident/requests`: the tickets in the caller's reach (for a
/// resident, their own, by the permit rule), newest first.
#[utoipa::path(get, path = "/resident/requests", operation_id = "resident_requests", tag = "resident",
    summary = "My requests: the caller's tickets, newest first",
    responses((status = 200, description = "At most 100 tickets", body = Vec<RequestRow>), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn requests<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<Json<Vec<RequestRow>>, AppError> {
    permit(&who, Access::Read(Read::Tickets), Target::District)?;
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let mut mine = newest_in_reach(views.board.state(), &who, state.service.clock().now())?;
    mine.sort_by_key(|t| std::cmp::Reverse(t.submitted_at));
    Ok(Json(mine.iter().take(REQUESTS_MAX).filter_map(|t| row(&state, t)).collect()))
}

/// The newest [`REQUESTS_MAX`] tickets in `who`'s reach (the permit rule's
/// `visible`): the board's last two pages of that size, in ticket-number
/// order. For a resident the board walks their own index (their tickets
/// and those they follow), so the cost is their tickets', not the city's.
fn newest_in_reach<'b>(
    board: &'b gridloop_projections::board::Board,
    who: &Principal,
    now: gridloop_engine::time::Timestamp,
) -> Result<Vec<std::borrow::Cow<'b, Ticket>>, AppError> {
    let per_page = REQUESTS_MAX as u32;
    let query =
        |page| gridloop_projections::board::Query { reach: Some(who.clone()), page, per_page, ..Default::default() };
    let ask = |page| board.query(&query(page), now).map_err(AppError::from);
    let first = ask(1)?;
    let last = u32::try_from(first.total.div_ceil(u64::from(per_page))).unwrap_or(u32::MAX).max(1);
    let mut tickets = Vec::new();
    for page in last.saturating_sub(1).max(1)..=last {
        let rows = if page == 1 { first.items.clone() } else { ask(page)?.items };
        tickets.extend(rows.into_iter().map(|r| r.ticket));
    }
    Ok(tickets)
}

/// One step of a ticket's life, in words.
#[derive(Debug, Serialize, ToSchema)]
pub struct Step {
    /// When it happened.
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// What happened: `received`, `taken`, `started`, `escalated`,
    /// `resolved`, `rated`, `reopened`, `closed`, `cancelled`, `duplicate`.
    pub kind: &'static str,
    /// In words.
    #[schema(value_type = Object)]
    pub text: Words,
}

/// A deadline still to be met, in words.
#[derive(Debug, Serialize, ToSchema)]
pub struct Due {
    /// The engine's kind of deadline.
    pub kind: String,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// In words.
    #[schema(value_type = Object)]
    pub text: Words,
}

/// A ticket as its resident reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentTicket {
    /// The ticket's id.
    pub id: String,
    /// The item, in words.
    #[schema(value_type = Object)]
    pub item: Words,
    /// The grid, in words.
    #[schema(value_type = Object)]
    pub place: Words,
    /// The board status.
    pub status: &'static str,
    /// The status in words.
    #[schema(value_type = Object)]
    pub status_text: Words,
    /// Deadlines still to be met, earliest first (the engine's).
    pub due: Vec<Due>,
    /// What happened, oldest first.
    pub timeline: Vec<Step>,
    /// The handler's note when it was resolved.
    pub result: Option<String>,
    /// Hashes of the photos of the order.
    pub order_photos: Vec<String>,
    /// Hashes of the photos of the result.
    pub result_photos: Vec<String>,
    /// The rating given, if any.
    #[schema(value_type = Option<crate::openapi::Rating>)]
    pub feedback: Option<Rating>,
    /// Whether the caller may give feedback now (the engine decides).
    pub feedback_open: bool,
    /// Until when feedback may be given.
    #[schema(value_type = Option<String>)]
    pub feedback_by: Option<Timestamp>,
    /// What the resident was told about this ticket, newest first.
    #[schema(value_type = Vec<Object>)]
    pub notices: Vec<Notice>,
}

/// `GET /resident/tickets/{id}`: one ticket in the caller's reach, in words.
#[utoipa::path(get, path = "/resident/tickets/{id}", operation_id = "resident_ticket", tag = "resident",
    summary = "One of my requests: timeline, deadlines, result, notices, whether feedback is open",
    params(("id" = String, Path, description = "A ticket id, `T-1024`")),
    responses((status = 200, description = "The ticket in words", body = ResidentTicket), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<ResidentTicket>, AppError> {
    let id = TicketId::new(id)?;
    let ticket = crate::tickets::existing(&state, &id).await?;
    permit(&who, Access::Read(Read::Ticket), Target::Ticket(&ticket))?;
    let events = state.service.store().read_stream(&StreamId::ticket(&id), 1).await?;
    let mut timeline = Vec::new();
    for event in &events {
        if let Some((kind, text)) = step(&state, &event.decode::<TicketEvent>()?) {
            timeline.push(Step { at: event.occurred_at, kind, text });
        }
    }
    let notices = match (&state.courier, ResidentId::new(who.actor.id.as_str())) {
        (Some(courier), Ok(resident)) => courier.notices(&resident, NOTICES_MAX * 5).await?,
        _ => Vec::new(),
    };
    let status = BoardStatus::of(&ticket).name();
    let due = ticket.pending_deadlines().into_iter().map(|(kind, at)| due_words(kind, at)).collect();
    Ok(Json(ResidentTicket {
        id: id.to_string(),
        item: item_words(&state, &ticket),
        place: place_words(&state, &ticket),
        status,
        status_text: status_words(status),
        due,
        timeline,
        result: ticket.result.clone(),
        order_photos: ticket.order_photos.iter().map(BlobHash::to_hex).collect(),
        result_photos: ticket.result_photos.iter().map(BlobHash::to_hex).collect(),
        feedback: ticket.feedback,
        feedback_open: ticket.may_give_feedback(&who.actor, state.service.clock().now()),
        feedback_by: ticket.feedback_by,
        notices: notices.into_iter().filter(|n| n.ticket == id).take(NOTICES_MAX).collect(),
    }))
}

fn due_words(kind: gridloop_engine::ticket::DeadlineKind, at: Timestamp) -> Due {
    use gridloop_engine::ticket::DeadlineKind as K;
    let text = match kind {
        K::Accept => words("应于此前受理", "To be taken by"),
        K::Resolve => words("应于此前办结", "To be done by"),
        K::Feedback => words("可于此前评价", "Feedback open until"),
        K::Summons => words("部门应于此前报到", "Departments to report by"),
        _ => words("下一步时限", "Next step by"),
    };
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Due { kind, at, text }
}

/// Who holds a ticket, in words (volunteers and teams by id, departments
/// by name: no person's name).
fn holder_words<S: EventStore>(state: &AppState<S>, by: &Assignee) -> Words {
    match by {
        Assignee::Volunteer(v) => words(format!("志愿者 {v}"), format!("volunteer {v}")),
        Assignee::Team(t) => words(format!("志愿服务队 {t}"), format!("team {t}")),
        Assignee::GridWorker(_) => words("网格员", "a grid worker"),
        Assignee::Department(d) => match state.service.world().catalog.department(d) {
            Ok(dept) => words(dept.name.clone(), dept.name_en.clone()),
            Err(_) => words(d.to_string(), d.to_string()),
        },
    }
}

/// The steps a resident is told of, in words; the rest (offers, notes,
/// summons) stay the staff's.
fn step<S: EventStore>(state: &AppState<S>, event: &TicketEvent) -> Option<(&'static str, Words)> {
    use TicketEvent as E;
    let joined = |prefix_zh: &str, prefix_en: &str, w: Words| {
        words(format!("{prefix_zh}{}", w.zh), format!("{prefix_en}{}", w.en))
    };
    Some(match event {
        E::Submitted { .. } => ("received", words("已收到您的诉求", "Your request was received")),
        E::Accepted { by, .. } => ("taken", joined("接单：", "Taken by ", holder_words(state, by))),
        E::SelfHandled { .. } => ("taken", words("网格员自行处理", "A grid worker took it on")),
        E::Reassigned { to, .. } => ("taken", joined("转交：", "Handed to ", holder_words(state, to))),
        E::Started { .. } => ("started", words("开始处理", "Work started")),
        E::Escalated { .. } => ("escalated", words("已上报上级处理", "Passed up to a higher level")),
        E::Resolved { by, .. } => ("resolved", joined("已办结：", "Done by ", holder_words(state, by))),
        E::FeedbackGiven { rating, .. } => ("rated", rating_words(*rating)),
        E::Reopened { .. } => ("reopened", words("已重新处理", "Reopened")),
        E::Closed { .. } => ("closed", words("已结案", "Closed")),
        E::Cancelled { .. } => ("cancelled", words("已撤销", "Withdrawn")),
        E::MarkedDuplicate { of } => ("duplicate", words(format!("与 {of} 重复"), format!("A duplicate of {of}"))),
        E::Followed { .. } => ("followed", words("又一位居民关注了此诉求", "Another resident follows this request")),
        _ => return None,
    })
}

fn rating_words(rating: Rating) -> Words {
    match rating {
        Rating::Satisfied => words("评价：满意", "Rated: satisfied"),
        Rating::BasicallySatisfied => words("评价：基本满意", "Rated: basically satisfied"),
        Rating::Unsatisfied => words("评价：不满意", "Rated: unsatisfied"),
    }
}

fn context<S: EventStore>(state: &AppState<S>, f: impl FnOnce(&Context<'_>) -> bool) -> bool {
    let world = state.service.world();
    let now = state.service.clock().now();
    let ctx = world.context(now, false);
    f(&ctx)
}

/// Whether a resident may follow `ticket` instead of ordering again: the
/// engine decides a stand-in resident's `Follow` (a ticket settled, or
/// followed by as many as it keeps, is not followable; one the resident
/// reported already still shows, and the engine says so if they try).
pub(crate) fn followable<S: EventStore>(state: &AppState<S>, ticket: &Ticket) -> bool {
    let Some(id) = &ticket.id else { return false };
    let Ok(stand_in) = Actor::new(gridloop_engine::envelope::Role::Resident, "R-0") else { return false };
    context(state, |ctx| ticket.decide(id, &TicketCommand::Follow, &stand_in, ctx).is_ok())
}

/// `GET /resident/tickets/{id}/photos/{hash}`: a photo of a ticket in the
/// caller's reach (of the order or of the result).
#[utoipa::path(get, path = "/resident/tickets/{id}/photos/{hash}", operation_id = "resident_ticket_photo", tag = "resident",
    summary = "A photo of one of my requests",
    params(("id" = String, Path, description = "A ticket id"), ("hash" = String, Path, description = "The photo's hash")),
    responses((status = 200, description = "The photo", body = Vec<u8>, content_type = "image/*"), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn photo<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = TicketId::new(id)?;
    let ticket = crate::tickets::existing(&state, &id).await?;
    permit(&who, Access::Read(Read::Ticket), Target::Ticket(&ticket))?;
    let not_its = || Error::invalid("photo", "is not a photo of this ticket");
    let hash: BlobHash = hash.parse().map_err(|_| not_its())?;
    if !photos_of(&ticket).contains(&hash) {
        return Err(not_its().into());
    }
    let bytes = match &state.blobs {
        Some(blobs) => blobs.get(&hash).await?.ok_or_else(not_its)?,
        None => return Err(not_its().into()),
    };
    let headers = [
        (CONTENT_TYPE, image_type(&bytes)),
        (CACHE_CONTROL, "private, max-age=86400"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    Ok((headers, bytes).into_response())
}

/// The photos a ticket names (its order's and its result's).
fn photos_of(ticket: &Ticket) -> Vec<BlobHash> {
    ticket.order_photos.iter().chain(&ticket.result_photos).copied().collect()
}

/// The image type of a photo by its first bytes (the photos were checked
/// when stored).
fn image_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "application/octet-stream",
    }
}
