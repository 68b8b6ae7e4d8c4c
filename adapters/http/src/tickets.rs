//! The ticket routes.
//!
//! - `POST /tickets`: order; the server numbers the ticket (`T-n`).
//! - `POST /tickets/{id}/{action}`: one [`TicketCommand`] per action, each
//!   with a small JSON body ([`command_for`]); the actor is the token's.
//! - `GET /tickets/{id}`: the engine's [`Ticket`], folded from its stream.
//! - `GET /tickets/{id}/history`: the stored events, for auditors and
//!   dispatchers.
//! - A resolve takes after-photos by hash (`photos`), each one already
//!   stored.
//!
//! Every POST takes an `Idempotency-Key` header as its command id (one is
//! generated when it is missing). The key is scoped to the token's actor,
//! so one caller can never replay another's key and read their answer. The
//! engine answers a repeated command id with what it wrote the first time,
//! and the answers here are built only from that outcome, so a repeat gets
//! the same status and body and writes nothing.
//!
//! A key reused for a *different* request (another body, or another ticket
//! or action) is refused with 422 `idempotency_key_reused` and writes
//! nothing: each command id's request fingerprint (BLAKE3 of the route and
//! the body's bytes) is remembered from the moment the request is taken up,
//! for the last [`FINGERPRINTS_MAX`] keys of this process. After a restart,
//! or past that window, a reused key still writes nothing and answers as the
//! first request did (the engine's idempotency, which the log keeps
//! forever); only the refusal of a different body is lost.
//!
//! Numbering is the engine's (`service::numbering`): the next free number,
//! a retried submission finding its ticket again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::blob::{BlobHash, BlobState, RESULT_PHOTOS_MAX};
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, RecordedEvent, Role};
use gridloop_engine::grid::{GeoPoint, GridCode};
use gridloop_engine::ids::{CommandId, DepartmentId, ItemCode, ResidentId, StreamId, TeamId, TicketId, VolunteerId};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::service::numbering::{Numbered, TicketNumbers};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, Outcome};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{
    Assignee, Channel, EscalationReason, Rating, Ticket, TicketCommand, Urgency, resident_for,
};
use gridloop_engine::time::{MINUTE_MS, Millis, Timestamp};
use gridloop_projections::ProjectionError;
use gridloop_projections::board::BoardStatus;
use gridloop_projections::runner::Projection;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Principal};
use crate::error::{Path, Query};
use crate::reads::Deadline;
use crate::{AppError, AppState};

/// The longest `Idempotency-Key` accepted, in bytes; the actor's scope is
/// appended to it and the whole must fit a command id (128 bytes).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 96;
/// The longest address text matched against the grid tree, in characters.
pub const ADDRESS_CHARS_MAX: usize = 200;
/// The longest an offer may stay open, in minutes (the engine's 7 days).
pub const OFFER_MINUTES_MAX: u32 = 7 * 24 * 60;
/// How many request fingerprints are remembered (the oldest go first).
pub const FINGERPRINTS_MAX: usize = 100_000;

/// Ticket numbers (the engine's [`TicketNumbers`]), and the fingerprint of
/// the request each recent command id came with.
#[derive(Debug)]
pub(crate) struct Numbering {
    tickets: TicketNumbers,
    fingerprints: Mutex<Fingerprints>,
}

/// The request each recent command id was used for, oldest first out:
/// `order` holds at most [`FINGERPRINTS_MAX`] ids, and `by_command` only
/// ids that are in it.
#[derive(Debug, Default)]
struct Fingerprints {
    by_command: HashMap<CommandId, [u8; 32]>,
    order: VecDeque<CommandId>,
}

/// What a request is, for telling a repeat from a different request under
/// the same key: the route (with its ticket and action) and the body.
pub(crate) fn fingerprint(route: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(route.as_bytes()).update(&[0]).update(body);
    *hasher.finalize().as_bytes()
}

/// A request taken up under its command id: [`Numbering::take_up`] made it,
/// [`Numbering::settle`] keeps or forgets it.
#[derive(Debug)]
#[must_use]
pub(crate) struct TakenUp {
    command_id: CommandId,
    /// Whether this request put the fingerprint there (so may take it away).
    first: bool,
}

/// The log's ticket numbering ([`Numbered`]) as a projection, so it is
/// checkpointed with the views and a server reads only the log's tail to
/// number tickets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Numbers(pub Numbered);

impl Projection for Numbers {
    const NAME: &'static str = "numbering";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        Ok(self.0.evolve(event)?)
    }
}

impl Numbering {
    /// The numbering of a log folded into `numbered` (the views' own copy,
    /// resumed from its snapshot and caught up with the tail).
    pub(crate) fn resume(numbered: &Numbered) -> Self {
        Self { tickets: TicketNumbers::resume(numbered), fingerprints: Mutex::default() }
    }

    /// Takes up a request under `command_id`: refuses it when the id was
    /// used for a different request, else remembers its fingerprint (if it
    /// is the first) so that a different request arriving meanwhile is
    /// refused too.
    pub(crate) fn take_up(&self, command_id: &CommandId, fingerprint: [u8; 32]) -> Result<TakenUp, AppError> {
        let mut table = self.fingerprints.lock().expect("fingerprints lock");
        match table.by_command.get(command_id) {
            Some(known) if *known != fingerprint => Err(AppError::IdempotencyKeyReused),
            Some(_) => Ok(TakenUp { command_id: command_id.clone(), first: false }),
            None => {
                if table.order.len() >= FINGERPRINTS_MAX {
                    if let Some(oldest) = table.order.pop_front() {
                        table.by_command.remove(&oldest);
                    }
                }
                table.by_command.insert(command_id.clone(), fingerprint);
                table.order.push_back(command_id.clone());
                Ok(TakenUp { command_id: command_id.clone(), first: true })
            }
        }
    }

    /// Keeps the fingerprint of a request that was carried out; forgets that
    /// of one refused (nothing was written, so the key may be used again,
    /// for a corrected request).
    pub(crate) fn settle<T, E>(&self, taken: TakenUp, result: &Result<T, E>) {
        if result.is_err() && taken.first {
            // Its place in the eviction order stays (removing it there would
            // cost a scan of the whole queue); evicting an id no longer
            // remembered is harmless, and the queue stays bounded.
            self.fingerprints.lock().expect("fingerprints lock").by_command.remove(&taken.command_id);
        }
    }

    /// Submits under the next free number; returns the ticket's id.
    pub(crate) async fn submit<S: EventStore>(
        &self,
        service: &CommandService<S>,
        command_id: CommandId,
        actor: Actor,
        command: TicketCommand,
    ) -> Result<TicketId, Error> {
        self.tickets.submit(service, command_id, actor, command).await
    }
}

/// The command id of a POST: its `Idempotency-Key` (or a fresh random one),
/// scoped to the caller by a short hash of their role and id.
pub(crate) fn command_id(headers: &HeaderMap, who: &Principal) -> Result<CommandId, AppError> {
    let key = match headers.get("idempotency-key") {
        Some(value) => {
            let text = value.to_str().map_err(|_| Error::invalid("idempotency key", "must be printable ASCII"))?;
            if text.len() > IDEMPOTENCY_KEY_BYTES_MAX {
                return Err(Error::invalid("idempotency key", "must be at most 96 bytes").into());
            }
            CommandId::new(text)?.to_string()
        }
        None => crate::random_hex(16)
            .map_err(|e| AppError::Internal(format!("no randomness from the operating system: {e}")))?,
    };
    let who = format!("{}:{}", who.actor.role.name(), who.actor.id);
    let scope = blake3::hash(who.as_bytes()).to_hex();
    Ok(CommandId::new(format!("{key}.{}", &scope[..16]))?)
}

/// Parses a JSON body; an empty body reads as `{}` (for actions without
/// fields). Syntax errors are `invalid_json`; well-formed JSON with a wrong
/// field (a bad id, an unknown rating) is `invalid_input`.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::Engine(Error::invalid("body", e.to_string())),
        _ => AppError::InvalidJson(e.to_string()),
    })
}

/// A body, or why it could not be read (too large, or cut off).
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, AppError> {
    read_body_within(body, crate::BODY_BYTES_MAX)
}

/// A body of at most `limit` bytes (a route's own limit, at most the
/// router's); a longer one is 413 naming `limit`.
pub(crate) fn read_body_within(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, AppError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge(limit),
        _ => AppError::InvalidJson(rejection.body_text()),
    })?;
    if body.len() > limit {
        return Err(AppError::TooLarge(limit));
    }
    Ok(body)
}

/// An order: the item, the place (a grid code, else a location, else an
/// address), and what is wrong.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitBody {
    /// The catalog item ordered, e.g. `CS-001`.
    #[schema(value_type = String, example = "IC-003")]
    category: ItemCode,
    /// A grid code; or give `location`, or `address`.
    grid: Option<String>,
    #[schema(value_type = Option<crate::openapi::GeoPoint>)]
    location: Option<GeoPoint>,
    #[schema(max_length = 200)]
    address: Option<String>,
    #[schema(max_length = 2000)]
    description: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::Urgency>)]
    urgency: Option<Urgency>,
    /// Whom a grid worker or dispatcher orders for; a resident orders for themself.
    #[schema(value_type = Option<String>)]
    resident: Option<ResidentId>,
    /// Photos of what is wrong, by the hashes `POST /photos` answered (at
    /// most three; the engine's bound).
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 3)]
    photos: Vec<BlobHash>,
}

/// The new ticket.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Submitted {
    /// The ticket's id (`T-` and its number); quote it to act on or read the
    /// ticket.
    #[schema(value_type = String, example = "T-1024")]
    pub id: TicketId,
    /// `submitted`.
    pub status: String,
}

/// `POST /tickets`.
#[utoipa::path(
    post,
    path = "/tickets",
    operation_id = "submit_ticket",
    tag = "tickets",
    summary = "A resident (or a grid worker, or a dispatcher) orders",
    params(crate::openapi::IdempotencyKey),
    request_body = SubmitBody,
    responses((status = 201, description = "The new ticket", body = Submitted), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn submit<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), AppError> {
    let bytes = read_body(body)?;
    let body: SubmitBody = parse(&bytes)?;
    let submitted = keyed(&state, &who.clone(), &headers, "POST /tickets", &bytes, |command_id| {
        submit_taken_up(&state, who, command_id, body)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(submitted)))
}

/// The submission once its key is taken up.
async fn submit_taken_up<S: EventStore>(
    state: &AppState<S>,
    who: Principal,
    command_id: CommandId,
    body: SubmitBody,
) -> Result<Submitted, AppError> {
    let grid = place_of(state, &body)?;
    permit(&who, Access::Write(Write::Submit), Target::Place(&grid))?;
    ensure_stored(state, &body.photos).await?;
    let location = body.location.map(|p| GeoPoint::new(p.lon, p.lat)).transpose()?;
    let command = TicketCommand::Submit {
        item: body.category,
        grid,
        resident: resident_for(&who.actor, body.resident)?,
        description: body.description,
        urgency: body.urgency.unwrap_or(Urgency::Normal),
        channel: Channel::Web,
        location,
        photos: body.photos,
    };
    let id = state.numbering.submit(&state.service, command_id, who.actor, command).await?;
    Ok(Submitted { id, status: "submitted".into() })
}

/// The grid of an order: its grid code, else the grid containing its
/// location, else the grid whose name its address mentions.
fn place_of<S: EventStore>(state: &AppState<S>, body: &SubmitBody) -> Result<GridCode, Error> {
    let grids = &state.service.world().grids;
    if let Some(code) = &body.grid {
        return GridCode::parse(code);
    }
    if let Some(point) = body.location {
        let point = GeoPoint::new(point.lon, point.lat)?;
        return grids.locate(point).cloned().ok_or_else(|| Error::invalid("location", "is outside the district"));
    }
    if let Some(address) = &body.address {
        if address.chars().count() > ADDRESS_CHARS_MAX {
            return Err(Error::invalid("address", "must be at most 200 characters"));
        }
        return grids.match_address(address).cloned().ok_or_else(|| Error::invalid("address", "names no known grid"));
    }
    Err(Error::invalid("grid", "give a grid code, a location or an address"))
}

/// A ticket as `GET /tickets/{id}` shows it: the engine's state, plus what
/// the engine and the board derive from it, so that no client derives them
/// again (the console shows these as given).
#[derive(Debug, Serialize)]
pub struct TicketView {
    /// The engine's state of the ticket, its fields inline in this object.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// [`BoardStatus::of`] by name (`awaiting_feedback`, `escalated`, ...).
    pub board_status: &'static str,
    /// [`Ticket::pending_deadlines`], earliest first; empty once final.
    pub pending_deadlines: Vec<Deadline>,
    /// [`Ticket::overdue`] now: it missed a deadline, and stays so after an
    /// escalation renews its deadlines.
    pub overdue: bool,
    /// Which of [`CONSOLE_ACTIONS`], [`SUPERVISION_ACTIONS`] and
    /// [`HOLDER_ACTIONS`] the caller may take now, as the engine decides.
    pub actions: Vec<&'static str>,
}

impl TicketView {
    fn new(ticket: Ticket, actions: Vec<&'static str>, now: Timestamp) -> Self {
        let board_status = BoardStatus::of(&ticket).name();
        let pending = ticket.pending_deadlines().into_iter().map(|(kind, at)| Deadline { kind, at }).collect();
        let overdue = ticket.overdue(now);
        Self { ticket, board_status, pending_deadlines: pending, overdue, actions }
    }
}

/// The dispatcher's actions the console offers, by their route name.
pub const CONSOLE_ACTIONS: [&str; 8] =
    ["offer", "assign", "escalate", "summon", "mark-duplicate", "cancel", "close", "note"];

/// The arbitration of a return or an extension (the console's ticket page)
/// and the urge (`POST /tickets/{id}/urge`).
pub const SUPERVISION_ACTIONS: [&str; 4] = ["insist", "grant-extension", "refuse-extension", "urge"];

/// A holder's actions, which the department's workspace offers.
pub const HOLDER_ACTIONS: [&str; 7] = ["accept", "decline", "start", "resolve", "return", "ask-extension", "report"];

/// Which of [`CONSOLE_ACTIONS`], [`SUPERVISION_ACTIONS`] and
/// [`HOLDER_ACTIONS`] the caller may take on `ticket` now, as the engine
/// decides: each is decided with a stand-in body ([`stand_in`]), and only a
/// refusal no body could lift (the status, the tier, the caller's role or
/// place, a holder or an offer that is someone else's) leaves it out. So a
/// client offers what the engine would allow, with no rule of its own.
fn allowed_actions<S: EventStore>(state: &AppState<S>, who: &Principal, ticket: &Ticket) -> Vec<&'static str> {
    let Some(id) = &ticket.id else { return Vec::new() };
    let world = state.service.world();
    let now = state.service.clock().now();
    let ctx = world.context(now, false);
    let allowed = |action: &&str| {
        let access = if *action == "urge" { Write::Urge } else { Write::TicketAction };
        if permit(who, Access::Write(access), Target::Ticket(ticket)).is_err() {
            return false;
        }
        let Some(command) = stand_in(action, who, ticket, now) else { return false };
        let refused = ticket.decide(id, &command, &who.actor, &ctx);
        !matches!(
            refused,
            Err(Error::IllegalTransition { .. }
                | Error::NotPermitted { .. }
                | Error::NotHolder { .. }
                | Error::NotOffered { .. }
                | Error::AlreadyTaken { .. }
                | Error::OfferExpired { .. })
        )
    };
    CONSOLE_ACTIONS.into_iter().chain(SUPERVISION_ACTIONS).chain(HOLDER_ACTIONS).filter(allowed).collect()
}

/// A command for `action` whose body passes no judgement: the engine checks
/// the status, tier and role before it reads the body, so deciding it says
/// whether the action is open at all. `None` for an answer to an offer by
/// a caller who answers for nobody in particular (a dispatcher names whom).
fn stand_in(action: &str, who: &Principal, ticket: &Ticket, now: Timestamp) -> Option<TicketCommand> {
    use TicketCommand as C;
    let text = || "-".to_string();
    let day = Millis(24 * 60 * MINUTE_MS);
    Some(match action {
        "accept" => C::AcceptOffer { by: speaker(who, None).ok()? },
        "decline" => C::DeclineOffer { by: speaker(who, None).ok()?, reason: text() },
        "start" => C::Start,
        "resolve" => C::Resolve { result: text(), minutes_spent: 0, photos: Vec::new() },
        "return" => C::Return { reason: text() },
        "ask-extension" => C::AskExtension { until: ticket.resolve_by.unwrap_or(now).plus(day), reason: text() },
        "report" => C::ReportToSummons { report: text() },
        "insist" => C::Insist { note: text() },
        "grant-extension" => C::GrantExtension,
        "refuse-extension" => C::RefuseExtension { reason: text() },
        "urge" => C::Urge { note: text() },
        _ => return Some(stand_in_console(action, now)),
    })
}

/// [`stand_in`] for the dispatcher's [`CONSOLE_ACTIONS`].
fn stand_in_console(action: &str, now: Timestamp) -> TicketCommand {
    use TicketCommand as C;
    let text = || "-".to_string();
    match action {
        "offer" => C::Offer {
            candidates: vec![Assignee::Volunteer(VolunteerId::from_number(1))],
            expires_at: now.plus(Millis(30 * MINUTE_MS)),
        },
        "assign" => C::Assign { to: Assignee::Team(TeamId::from_number(1)), reason: text() },
        "escalate" => C::Escalate { reason: EscalationReason::Whistle, note: text() },
        "summon" => C::Summon { departments: Vec::new() },
        "mark-duplicate" => C::MarkDuplicate { of: TicketId::from_number(1) },
        "cancel" => C::Cancel { reason: text() },
        "close" => C::Close,
        _ => C::AddNote { text: text() },
    }
}

/// `GET /tickets/{id}`, for whoever's reach it is in (the engine's permit
/// rule): a ticket out of a resident's, volunteer's or department's reach
/// is "not found", so that ticket numbers reveal nothing.
#[utoipa::path(
    get,
    path = "/tickets/{id}",
    operation_id = "show_ticket",
    tag = "tickets",
    summary = "One ticket (residents: their own)",
    params(("id" = String, Path, description = "A ticket id, `T-1024`")),
    responses((status = 200, description = "The ticket, its board status, pending deadlines and the actions open to the caller", body = crate::openapi::TicketView), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, AppError> {
    let id = TicketId::new(id)?;
    let ticket = existing(&state, &id).await?;
    permit(&who, Access::Read(Read::Ticket), Target::Ticket(&ticket))?;
    let actions = allowed_actions(&state, &who, &ticket);
    Ok(Json(TicketView::new(ticket, actions, state.service.clock().now())))
}

/// The ticket `id` as the engine folds it; `not_found` when it was never
/// submitted.
pub(crate) async fn existing<S: EventStore>(state: &AppState<S>, id: &TicketId) -> Result<Ticket, Error> {
    let ticket = state.service.ticket(id).await?;
    match ticket.id {
        Some(_) => Ok(ticket),
        None => Err(Error::NotFound { kind: "ticket", id: id.to_string() }),
    }
}

/// A ticket's history: the events of its stream in order, and the ticket
/// folded from them, optionally as of an instant and with the hash chain
/// verified.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// The ticket whose history this is.
    #[schema(value_type = String)]
    pub id: TicketId,
    /// When set, only the events up to this instant, and the state then.
    #[schema(value_type = Option<String>)]
    pub as_of: Option<Timestamp>,
    /// The ticket's events, oldest first (all of them, or those up to `as_of`).
    #[schema(value_type = Vec<crate::openapi::RecordedEvent>)]
    pub events: Vec<RecordedEvent>,
    /// The ticket folded from `events`: exactly as it was at `as_of`.
    #[schema(value_type = crate::openapi::Ticket)]
    pub state: Ticket,
    /// With `verify=true`: whether the hash chain of `events` verifies.
    pub verified: Option<bool>,
    /// The first event that does not verify, and why.
    pub verification_error: Option<String>,
}

/// `?as_of=<RFC 3339>&verify=true`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// An RFC 3339 instant: the events up to it, and the state then.
    as_of: Option<String>,
    /// Whether to verify the hash chain of the events.
    verify: Option<bool>,
}

/// `GET /tickets/{id}/history[?as_of=&verify=]`: every stored event, in
/// order (up to `as_of`), the state they fold to, and whether their hash
/// chain verifies; auditors and dispatchers only.
#[utoipa::path(
    get,
    path = "/tickets/{id}/history",
    operation_id = "ticket_history",
    tag = "tickets",
    summary = "Every event of a ticket (auditors, dispatchers)",
    params(("id" = String, Path, description = "A ticket id, `T-1024`"), HistoryQuery),
    responses((status = 200, description = "Events, state, verified", body = History), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn history<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<History>, AppError> {
    permit(&who, Access::Read(Read::History), Target::District)?;
    let id = TicketId::new(id)?;
    permit(&who, Access::Read(Read::History), Target::Ticket(&existing(&state, &id).await?))?;
    let as_of = query.as_of.as_deref().map(Timestamp::parse).transpose()?;
    let mut events = state.service.store().read_stream(&StreamId::ticket(&id), 1).await?;
    if events.is_empty() {
        return Err(Error::NotFound { kind: "ticket", id: id.to_string() }.into());
    }
    if let Some(at) = as_of {
        let shown = events.iter().take_while(|e| e.occurred_at <= at).count();
        events.truncate(shown);
    }
    let (verified, verification_error) = match query.verify {
        Some(true) => match gridloop_engine::envelope::verify_stream(&events) {
            Ok(_) => (Some(true), None),
            Err(e) => (Some(false), Some(e.to_string())),
        },
        _ => (None, None),
    };
    let ticket: Ticket = gridloop_engine::service::fold(&events)?;
    Ok(Json(History { id, as_of, events, state: ticket, verified, verification_error }))
}

/// What a command wrote: built from the engine's outcome only, so that a
/// repeated command id answers exactly as the first did.
#[derive(Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Answer {
    /// The ticket the command acted on.
    #[schema(value_type = String)]
    pub id: TicketId,
    /// The ticket's version after the command; `None` when nothing needed doing.
    pub version: Option<u64>,
    /// The events the command wrote, in order; empty when nothing needed doing.
    pub events: Vec<Written>,
}

/// An event a command wrote.
#[derive(Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Written {
    /// `ticket.accepted/1`.
    pub schema: String,
    /// The event's fields, by its schema.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl Answer {
    pub(crate) fn new(id: TicketId, outcome: Outcome) -> Self {
        let version = outcome.append.as_ref().map(|a| a.last_version);
        Self { id, version, events: written(outcome) }
    }
}

/// The events an outcome holds, as the answers show them.
pub(crate) fn written(outcome: Outcome) -> Vec<Written> {
    outcome.events.into_iter().map(|e| Written { schema: e.schema.to_string(), payload: e.payload }).collect()
}

/// The one idempotency path of every write route: the request's
/// `Idempotency-Key` (scoped to the caller) is taken up with the request's
/// fingerprint (`route` and body), so the same key with another request is
/// refused before anything is decided; `run` gets the command id, and a
/// repeat gets the engine's first outcome. A refused request forgets its
/// fingerprint, so the key may carry a corrected request.
pub(crate) async fn keyed<S, T, F>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    run: impl FnOnce(CommandId) -> F,
) -> Result<T, AppError>
where
    S: EventStore,
    F: std::future::Future<Output = Result<T, AppError>>,
{
    let command_id = command_id(headers, who)?;
    let taken = state.numbering.take_up(&command_id, fingerprint(route, body))?;
    let result = run(command_id).await;
    state.numbering.settle(taken, &result);
    result
}

/// Runs one command on the [`keyed`] path as the caller.
pub(crate) async fn run_keyed<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    command: Command,
) -> Result<Outcome, AppError> {
    keyed(state, who, headers, route, body, |command_id| async move {
        let actor = who.actor.clone();
        let envelope = CommandEnvelope { command_id, correlation_id: None, actor, command, expected_version: None };
        Ok(state.service.execute(envelope).await?)
    })
    .await
}

/// `POST /tickets/{id}/{action}`.
#[utoipa::path(
    post,
    path = "/tickets/{id}/{action}",
    operation_id = "act_on_ticket",
    tag = "tickets",
    summary = "Acts on a ticket: triage, self-handle, offer, accept, decline, start, note, escalate, summon, report, assign, resolve, feedback, reopen, close, cancel, mark-duplicate, return, insist, ask-extension, grant-extension, refuse-extension",
    params(
        crate::openapi::IdempotencyKey,
        ("id" = String, Path, description = "A ticket id, `T-1024`"),
        ("action" = crate::openapi::TicketAction, Path, description = "What to do; each takes its own body (none: an empty body or `{}`)"),
    ),
    request_body(content = ActionBody, description = "The action's fields; an empty body reads as `{}`"),
    responses((status = 200, description = "What was written", body = Answer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn act<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, AppError> {
    let id = TicketId::new(id)?;
    let body = read_body(body)?;
    let now = state.service.clock().now();
    let command = command_for(&action, &body, &who, now)?;
    if let TicketCommand::Resolve { photos, .. } = &command {
        ensure_stored(&state, photos).await?;
    }
    let route = format!("POST /tickets/{id}/{action}");
    keyed(&state, &who.clone(), &headers, &route, &body, |command_id| {
        act_taken_up(&state, who, id, command, command_id)
    })
    .await
    .map(Json)
}

/// `{"note": "..."}`: what an urge says (may be empty).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UrgeBody {
    /// What to tell the handler; at most 2,000 characters, may be empty.
    #[serde(default)]
    note: String,
}

/// `POST /tickets/{id}/urge` (催办): a dispatcher (or an official) urges
/// the handler on, within the place they serve. Its own route because its
/// own access: urging is supervision, not acting on the ticket.
#[utoipa::path(
    post,
    path = "/tickets/{id}/urge",
    operation_id = "urge_ticket",
    tag = "tickets",
    summary = "Urges a ticket's handler on (催办): recorded, counted, shown on the board",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A ticket id, `T-1024`")),
    request_body(content = UrgeBody, description = "What to say; an empty body reads as `{}`"),
    responses((status = 200, description = "What was written", body = Answer), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn urge<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, AppError> {
    let id = TicketId::new(id)?;
    let body = read_body(body)?;
    let command = TicketCommand::Urge { note: parse::<UrgeBody>(&body)?.note };
    let route = format!("POST /tickets/{id}/urge");
    let state = &state;
    keyed(state, &who.clone(), &headers, &route, &body, |command_id| async move {
        permit(&who, Access::Write(Write::Urge), Target::Ticket(&existing(state, &id).await?))?;
        let actor = who.actor;
        let ticket_command = Command::Ticket { id: id.clone(), command };
        let envelope = CommandEnvelope {
            command_id,
            correlation_id: None,
            actor,
            command: ticket_command,
            expected_version: None,
        };
        Ok(Answer::new(id, state.service.execute(envelope).await?))
    })
    .await
    .map(Json)
}

/// Refuses hashes that name no stored photo, so that no event names a
/// photo the audit would find missing. Checked past the engine's bound
/// only as far as the engine will look: it refuses more than
/// [`RESULT_PHOTOS_MAX`] itself.
pub(crate) async fn ensure_stored<S: EventStore>(state: &AppState<S>, photos: &[BlobHash]) -> Result<(), AppError> {
    if photos.is_empty() {
        return Ok(());
    }
    let Some(blobs) = &state.blobs else {
        return Err(Error::invalid("photos", "this server keeps no photos").into());
    };
    for hash in photos.iter().take(RESULT_PHOTOS_MAX) {
        if blobs.state(hash).await? != BlobState::Present {
            return Err(Error::invalid("photos", format!("{hash} is not a stored photo: upload it first")).into());
        }
    }
    Ok(())
}

/// A ticket action once its key is taken up.
async fn act_taken_up<S: EventStore>(
    state: &AppState<S>,
    who: Principal,
    id: TicketId,
    command: TicketCommand,
    command_id: CommandId,
) -> Result<Answer, AppError> {
    permit(&who, Access::Write(Write::TicketAction), Target::Ticket(&existing(state, &id).await?))?;
    let envelope = CommandEnvelope {
        command_id,
        correlation_id: None,
        actor: who.actor,
        command: Command::Ticket { id: id.clone(), command },
        expected_version: None,
    };
    let outcome = state.service.execute(envelope).await?;
    Ok(Answer::new(id, outcome))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TriageBody {
    #[schema(value_type = crate::openapi::HandlingMode)]
    mode: HandlingMode,
    #[schema(value_type = Option<String>)]
    item: Option<ItemCode>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OfferBody {
    #[schema(value_type = Vec<crate::openapi::Assignee>)]
    candidates: Vec<Assignee>,
    #[schema(minimum = 1, maximum = 10080)]
    expires_in_minutes: u32,
}

/// Accept and decline: `by` is derived from the token unless a dispatcher
/// answers for someone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    #[schema(value_type = Option<crate::openapi::Assignee>)]
    by: Option<Assignee>,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TextBody {
    /// Also read as `reason`, `note`, `comment`, `report` or `result`.
    #[serde(default, alias = "reason", alias = "note", alias = "comment", alias = "report", alias = "result")]
    text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EscalateBody {
    #[schema(value_type = crate::openapi::EscalationReason)]
    reason: EscalationReason,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    #[schema(value_type = crate::openapi::Assignee)]
    to: Assignee,
    #[serde(default)]
    reason: String,
}

/// A resolve: what was done, the time it took, and after-photos by the
/// hashes `POST /photos` answered (at most six; the engine's bound).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    result: String,
    minutes_spent: u32,
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 6)]
    photos: Vec<BlobHash>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    #[schema(value_type = crate::openapi::Rating)]
    rating: Rating,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DuplicateBody {
    #[schema(value_type = String)]
    of: TicketId,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SummonBody {
    #[schema(value_type = Vec<String>)]
    departments: Vec<DepartmentId>,
}

/// An extension request: the resolve deadline asked for (RFC 3339) and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtensionBody {
    /// The resolve deadline asked for, RFC 3339 (`2026-12-01T18:00:00+08:00`).
    #[schema(max_length = 40)]
    until: String,
    reason: String,
}

/// The instant an extension asks for, read as RFC 3339 (bounded first).
fn extension_until(text: &str) -> Result<Timestamp, Error> {
    if text.len() > 40 {
        return Err(Error::invalid("until", "an RFC 3339 instant of at most 40 characters"));
    }
    crate::reads::instant("until", text)
}

/// The bodies of the ticket actions, for the document: each action reads
/// one of them ([`command_for`] says which).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ActionBody {
    Triage(TriageBody),
    Offer(OfferBody),
    Answer(AnswerBody),
    Text(TextBody),
    Escalate(EscalateBody),
    Assign(AssignBody),
    Resolve(ResolveBody),
    Feedback(FeedbackBody),
    Duplicate(DuplicateBody),
    Summon(SummonBody),
    Extension(ExtensionBody),
    Empty(Empty),
}

/// The command an action names, from its body. An unknown action is 404.
fn command_for(action: &str, body: &[u8], who: &Principal, now: Timestamp) -> Result<TicketCommand, AppError> {
    use TicketCommand as C;
    let command = match action {
        "triage" => parse::<TriageBody>(body).map(|b| C::Triage { mode: b.mode, item: b.item })?,
        "self-handle" => parse::<Empty>(body).map(|_| C::SelfHandle)?,
        "offer" => {
            let b: OfferBody = parse(body)?;
            C::Offer { candidates: b.candidates, expires_at: offer_expiry(now, b.expires_in_minutes)? }
        }
        "accept" => C::AcceptOffer { by: speaker(who, parse::<AnswerBody>(body)?.by)? },
        "decline" => {
            let b: AnswerBody = parse(body)?;
            C::DeclineOffer { by: speaker(who, b.by)?, reason: b.reason }
        }
        "start" => parse::<Empty>(body).map(|_| C::Start)?,
        "note" => parse::<TextBody>(body).map(|b| C::AddNote { text: b.text })?,
        "escalate" => parse::<EscalateBody>(body).map(|b| C::Escalate { reason: b.reason, note: b.note })?,
        "summon" => parse::<SummonBody>(body).map(|b| C::Summon { departments: b.departments })?,
        "report" => parse::<TextBody>(body).map(|b| C::ReportToSummons { report: b.text })?,
        "assign" => parse::<AssignBody>(body).map(|b| C::Assign { to: b.to, reason: b.reason })?,
        "resolve" => parse::<ResolveBody>(body).map(|b| C::Resolve {
            result: b.result,
            minutes_spent: b.minutes_spent,
            photos: b.photos,
        })?,
        "feedback" => parse::<FeedbackBody>(body).map(|b| C::GiveFeedback { rating: b.rating, comment: b.comment })?,
        "reopen" => parse::<TextBody>(body).map(|b| C::Reopen { reason: b.text })?,
        "close" => parse::<Empty>(body).map(|_| C::Close)?,
        "cancel" => parse::<TextBody>(body).map(|b| C::Cancel { reason: b.text })?,
        "mark-duplicate" => parse::<DuplicateBody>(body).map(|b| C::MarkDuplicate { of: b.of })?,
        "return" => parse::<TextBody>(body).map(|b| C::Return { reason: b.text })?,
        "insist" => parse::<TextBody>(body).map(|b| C::Insist { note: b.text })?,
        "ask-extension" => {
            let b: ExtensionBody = parse(body)?;
            C::AskExtension { until: extension_until(&b.until)?, reason: b.reason }
        }
        "grant-extension" => parse::<Empty>(body).map(|_| C::GrantExtension)?,
        "refuse-extension" => parse::<TextBody>(body).map(|b| C::RefuseExtension { reason: b.text })?,
        _ => return Err(Error::NotFound { kind: "action", id: action.to_string() }.into()),
    };
    Ok(command)
}

/// When an offer made now for `minutes` expires.
fn offer_expiry(now: Timestamp, minutes: u32) -> Result<Timestamp, Error> {
    if minutes == 0 || minutes > OFFER_MINUTES_MAX {
        return Err(Error::invalid("expires in minutes", "must be 1 to 10080 (7 days)"));
    }
    Ok(now.plus(Millis(u64::from(minutes) * MINUTE_MS)))
}

/// Who answers an offer: whom a dispatcher names, else the caller themself.
fn speaker(who: &Principal, named: Option<Assignee>) -> Result<Assignee, Error> {
    if let Some(by) = named {
        // The engine refuses anyone but a dispatcher answering for another.
        return Ok(by);
    }
    let id = who.actor.id.as_str();
    match who.actor.role {
        Role::Volunteer => Ok(Assignee::Volunteer(VolunteerId::new(id)?)),
        Role::Department => Ok(Assignee::Department(DepartmentId::new(id)?)),
        Role::GridWorker | Role::GridHead => Ok(Assignee::GridWorker(who.actor.id.clone())),
        Role::Dispatcher => Err(Error::invalid("by", "a dispatcher names whom they answer for")),
        role => Err(Error::NotPermitted { role: role.name(), command: "answer an offer" }),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    #[schema(minimum = 1, maximum = 10000)]
    points: u64,
    reward: String,
}

/// `POST /volunteers/{id}/redeem`: a volunteer spends points on a reward
/// (积分置换): their own, or a dispatcher on their behalf; beyond the
/// balance is a 422. Answers with what was written, like ticket actions.
#[utoipa::path(
    post,
    path = "/volunteers/{id}/redeem",
    operation_id = "redeem_points",
    tag = "volunteers",
    summary = "A volunteer spends points on a reward (their own, or a dispatcher for them)",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = RedeemBody,
    responses((status = 200, description = "What was written", body = crate::openapi::shapes::Redeemed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn redeem<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = VolunteerId::new(id)?;
    let bytes = read_body(body)?;
    crate::people::reach_volunteer(&state, &who, Access::Write(Write::Redeem), &id).await?;
    let body: RedeemBody = parse(&bytes)?;
    let command =
        gridloop_engine::volunteer::VolunteerCommand::RedeemPoints { points: body.points, reward: body.reward };
    let route = format!("POST /volunteers/{id}/redeem");
    let command = Command::Volunteer { id: id.clone(), command };
    let outcome = run_keyed(&state, &who, &headers, &route, &bytes, command).await?;
    Ok(Json(serde_json::json!({ "id": id, "events": written(outcome) })))
}
