//! The ticket routes.
//!
//! - `POST /tickets`: order; the server numbers the ticket (`T-n`).
//! - `POST /tickets/{id}/{action}`: one [`TicketCommand`] per action, each
//!   with a small JSON body ([`command_for`]); the actor is the token's.
//! - `GET /tickets/{id}`: the engine's [`Ticket`], folded from its stream.
//! - `GET /tickets/{id}/history`: the stored events, for auditors and
//!   dispatchers.
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
//! Numbering: the next ticket number starts one past the highest in the log,
//! and a submission that meets an existing ticket (another process numbered
//! it) moves on to the next number. Which key submitted which ticket is
//! remembered (from the log at start, then as tickets are ordered), so a
//! repeated submission goes to the same ticket instead of a new number.
//! That memory grows by one entry per ticket: fine at district scale.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, RecordedEvent, Role};
use gridloop_engine::grid::{GeoPoint, GridCode};
use gridloop_engine::ids::{CommandId, DepartmentId, ItemCode, ResidentId, StreamId, TeamId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, Outcome};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Channel, EscalationReason, Rating, Ticket, TicketCommand, Urgency};
use gridloop_engine::time::{MINUTE_MS, Millis, Timestamp};
use gridloop_engine::{Context, Error};
use gridloop_projections::board::BoardStatus;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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
/// How many ticket numbers one submission tries before giving up.
pub const SUBMIT_ATTEMPTS_MAX: u32 = 16;
/// How many request fingerprints are remembered (the oldest go first).
pub const FINGERPRINTS_MAX: usize = 100_000;
/// Events read per batch when scanning the log at start.
const SCAN_BATCH: usize = 1_000;

/// Ticket numbers, and which command id submitted which ticket; also the
/// fingerprint of the request each recent command id came with.
#[derive(Debug)]
pub(crate) struct Numbering {
    next: AtomicU64,
    by_command: Mutex<HashMap<CommandId, TicketId>>,
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

impl Numbering {
    /// Reads the whole log once: the highest ticket number, and the command
    /// id of every submission.
    pub(crate) async fn scan<S: EventStore>(store: &S) -> Result<Self, Error> {
        let (mut highest, mut by_command, mut from) = (0, HashMap::new(), 1);
        loop {
            let batch = store.read_all(from, SCAN_BATCH).await?;
            let Some(last) = batch.last() else { break };
            from = last.position + 1;
            for event in batch.iter().filter(|e| e.stream.kind() == "ticket") {
                let id = TicketId::new(event.stream.id())?;
                highest = highest.max(id.number());
                if event.schema.name == "ticket.submitted" {
                    by_command.insert(event.command_id.clone(), id);
                }
            }
        }
        let fingerprints = Mutex::new(Fingerprints::default());
        Ok(Self { next: AtomicU64::new(highest + 1), by_command: Mutex::new(by_command), fingerprints })
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

    /// The ticket this command id submitted (or is submitting), else a new number.
    fn reserve(&self, command_id: &CommandId) -> TicketId {
        let mut by_command = self.by_command.lock().expect("numbering lock");
        by_command
            .entry(command_id.clone())
            .or_insert_with(|| TicketId::from_number(self.next.fetch_add(1, Ordering::SeqCst)))
            .clone()
    }

    /// Forgets a reservation that wrote nothing, so a retry numbers afresh.
    fn release(&self, command_id: &CommandId, id: &TicketId) {
        let mut by_command = self.by_command.lock().expect("numbering lock");
        if by_command.get(command_id) == Some(id) {
            by_command.remove(command_id);
        }
    }

    /// Submits under the next free number; returns the ticket's id.
    async fn submit<S: EventStore>(
        &self,
        service: &CommandService<S>,
        command_id: CommandId,
        actor: Actor,
        command: TicketCommand,
    ) -> Result<TicketId, Error> {
        for _attempt in 0..SUBMIT_ATTEMPTS_MAX {
            let id = self.reserve(&command_id);
            let ticket = Command::Ticket { id: id.clone(), command: command.clone() };
            let envelope = CommandEnvelope {
                command_id: command_id.clone(),
                correlation_id: None,
                actor: actor.clone(),
                command: ticket,
                expected_version: None,
            };
            match service.execute(envelope).await {
                Ok(_) => return Ok(id),
                Err(Error::AlreadyExists { .. }) => self.release(&command_id, &id),
                Err(other) => {
                    self.release(&command_id, &id);
                    return Err(other);
                }
            }
        }
        Err(Error::Contended { stream: "ticket numbering".into(), attempts: SUBMIT_ATTEMPTS_MAX })
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
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        _ => AppError::InvalidJson(rejection.body_text()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The catalog item ordered.
    category: ItemCode,
    grid: Option<String>,
    location: Option<GeoPoint>,
    address: Option<String>,
    description: String,
    #[serde(default)]
    urgency: Option<Urgency>,
    /// Whom a grid worker or dispatcher orders for; a resident orders for themself.
    resident: Option<ResidentId>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Submitted {
    pub id: TicketId,
    pub status: String,
}

/// `POST /tickets`.
pub(crate) async fn submit<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), AppError> {
    let bytes = read_body(body)?;
    let body: SubmitBody = parse(&bytes)?;
    let command_id = command_id(&headers, &who)?;
    let taken = state.numbering.take_up(&command_id, fingerprint("POST /tickets", &bytes))?;
    let submitted = submit_taken_up(&state, who, command_id, body).await;
    state.numbering.settle(taken, &submitted);
    Ok((StatusCode::CREATED, Json(submitted?)))
}

/// The submission once its key is taken up.
async fn submit_taken_up<S: EventStore>(
    state: &AppState<S>,
    who: Principal,
    command_id: CommandId,
    body: SubmitBody,
) -> Result<Submitted, AppError> {
    let grid = place_of(state, &body)?;
    check_place(&who, &grid)?;
    let location = body.location.map(|p| GeoPoint::new(p.lon, p.lat)).transpose()?;
    let command = TicketCommand::Submit {
        item: body.category,
        grid,
        resident: resident_of(&who, body.resident)?,
        description: body.description,
        urgency: body.urgency.unwrap_or(Urgency::Normal),
        channel: Channel::Web,
        location,
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

/// A resident orders for themself; others name the resident.
fn resident_of(who: &Principal, named: Option<ResidentId>) -> Result<ResidentId, Error> {
    match (who.actor.role, named) {
        (Role::Resident, None) => ResidentId::new(who.actor.id.as_str()),
        (Role::Resident, Some(other)) if other.as_str() != who.actor.id.as_str() => {
            Err(Error::NotPermitted { role: "resident", command: "submit for another resident" })
        }
        (_, Some(resident)) => Ok(resident),
        (_, None) => Err(Error::invalid("resident", "name the resident this order is for")),
    }
}

/// A dispatcher with a place acts only on tickets within it.
pub(crate) fn check_place(who: &Principal, grid: &GridCode) -> Result<(), Error> {
    match &who.place {
        Some(place) if !grid.is_within(place) => {
            Err(Error::NotPermitted { role: "dispatcher", command: "act outside the place they serve" })
        }
        _ => Ok(()),
    }
}

/// A ticket as `GET /tickets/{id}` shows it: the engine's state, plus what
/// the engine and the board derive from it, so that no client derives them
/// again (the console shows these as given).
#[derive(Debug, Serialize)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// [`BoardStatus::of`] by name (`awaiting_feedback`, `escalated`, ...).
    pub board_status: &'static str,
    /// [`Ticket::pending_deadlines`], earliest first; empty once final.
    pub pending_deadlines: Vec<Deadline>,
    /// Which of [`CONSOLE_ACTIONS`] the caller may take now, as the engine decides.
    pub actions: Vec<&'static str>,
}

impl TicketView {
    fn new(ticket: Ticket, actions: Vec<&'static str>) -> Self {
        let board_status = BoardStatus::of(&ticket).name();
        let pending = ticket.pending_deadlines().into_iter().map(|(kind, at)| Deadline { kind, at }).collect();
        Self { ticket, board_status, pending_deadlines: pending, actions }
    }
}

/// The dispatcher's actions the console offers, by their route name.
pub const CONSOLE_ACTIONS: [&str; 8] =
    ["offer", "assign", "escalate", "summon", "mark-duplicate", "cancel", "close", "note"];

/// Which of [`CONSOLE_ACTIONS`] the caller may take on `ticket` now, as the
/// engine decides: each is decided with a stand-in body ([`stand_in`]), and
/// only a refusal no body could lift (the status, the tier, the caller's
/// role or place) leaves it out. So a client offers what the engine would
/// allow, with no rule of its own.
fn allowed_actions<S: EventStore>(state: &AppState<S>, who: &Principal, ticket: &Ticket) -> Vec<&'static str> {
    let (Some(id), Some(grid)) = (&ticket.id, &ticket.grid) else { return Vec::new() };
    if check_place(who, grid).is_err() {
        return Vec::new();
    }
    let world = state.service.world();
    let now = state.service.clock().now();
    let ctx = Context { now, catalog: &world.catalog, grids: &world.grids, routing: &world.routing, emergency: false };
    let allowed = |action: &&str| {
        let refused = ticket.decide(id, &stand_in(action, now), &who.actor, &ctx);
        !matches!(
            refused,
            Err(Error::IllegalTransition { .. }
                | Error::NotPermitted { .. }
                | Error::NotHolder { .. }
                | Error::NotOffered { .. })
        )
    };
    CONSOLE_ACTIONS.into_iter().filter(allowed).collect()
}

/// A command for `action` whose body passes no judgement: the engine checks
/// the status, tier and role before it reads the body, so deciding it says
/// whether the action is open at all.
fn stand_in(action: &str, now: Timestamp) -> TicketCommand {
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

/// `GET /tickets/{id}`. A resident sees only their own tickets; another's
/// is "not found", so that ticket numbers reveal nothing.
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, AppError> {
    let id = TicketId::new(id)?;
    let ticket = state.service.ticket(&id).await?;
    let own = ticket.resident.as_ref().is_some_and(|r| r.as_str() == who.actor.id.as_str());
    if ticket.id.is_none() || (who.actor.role == Role::Resident && !own) {
        return Err(Error::NotFound { kind: "ticket", id: id.to_string() }.into());
    }
    let actions = allowed_actions(&state, &who, &ticket);
    Ok(Json(TicketView::new(ticket, actions)))
}

#[derive(Debug, Serialize)]
pub struct History {
    pub id: TicketId,
    /// When set, only the events up to this instant, and the state then.
    pub as_of: Option<Timestamp>,
    pub events: Vec<RecordedEvent>,
    /// The ticket folded from `events`: exactly as it was at `as_of`.
    pub state: Ticket,
    /// With `verify=true`: whether the hash chain of `events` verifies.
    pub verified: Option<bool>,
    /// The first event that does not verify, and why.
    pub verification_error: Option<String>,
}

/// `?as_of=<RFC 3339>&verify=true`
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    as_of: Option<String>,
    verify: Option<bool>,
}

/// `GET /tickets/{id}/history[?as_of=&verify=]`: every stored event, in
/// order (up to `as_of`), the state they fold to, and whether their hash
/// chain verifies; auditors and dispatchers only.
pub(crate) async fn history<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<History>, AppError> {
    if !matches!(who.actor.role, Role::Auditor | Role::Dispatcher) {
        return Err(Error::NotPermitted { role: who.actor.role.name(), command: "read a ticket's history" }.into());
    }
    let id = TicketId::new(id)?;
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
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub id: TicketId,
    /// The ticket's version after the command; `None` when nothing needed doing.
    pub version: Option<u64>,
    pub events: Vec<Written>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Written {
    pub schema: String,
    pub payload: serde_json::Value,
}

impl Answer {
    fn new(id: TicketId, outcome: Outcome) -> Self {
        let version = outcome.append.as_ref().map(|a| a.last_version);
        Self { id, version, events: written(outcome) }
    }
}

/// The events an outcome holds, as the answers show them.
pub(crate) fn written(outcome: Outcome) -> Vec<Written> {
    outcome.events.into_iter().map(|e| Written { schema: e.schema.to_string(), payload: e.payload }).collect()
}

/// Runs one command under the request's `Idempotency-Key`: the key is
/// taken up with the request's fingerprint (`route` and body), so the same
/// key with another request is refused before anything is decided, and a
/// repeat gets the engine's first outcome. Every keyed route but the ticket
/// submission (which numbers tickets first) comes through here.
pub(crate) async fn run_keyed<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    command: Command,
) -> Result<Outcome, AppError> {
    let command_id = command_id(headers, who)?;
    let taken = state.numbering.take_up(&command_id, fingerprint(route, body))?;
    let envelope =
        CommandEnvelope { command_id, correlation_id: None, actor: who.actor.clone(), command, expected_version: None };
    let outcome = state.service.execute(envelope).await;
    state.numbering.settle(taken, &outcome);
    Ok(outcome?)
}

/// `POST /tickets/{id}/{action}`.
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
    let command_id = command_id(&headers, &who)?;
    let taken = state.numbering.take_up(&command_id, fingerprint(&format!("POST /tickets/{id}/{action}"), &body))?;
    let answer = act_taken_up(&state, who, id, command, command_id).await;
    state.numbering.settle(taken, &answer);
    answer.map(Json)
}

/// A ticket action once its key is taken up.
async fn act_taken_up<S: EventStore>(
    state: &AppState<S>,
    who: Principal,
    id: TicketId,
    command: TicketCommand,
    command_id: CommandId,
) -> Result<Answer, AppError> {
    if who.place.is_some() {
        let ticket = state.service.ticket(&id).await?;
        if let Some(grid) = &ticket.grid {
            check_place(&who, grid)?;
        }
    }
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageBody {
    mode: HandlingMode,
    item: Option<ItemCode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferBody {
    candidates: Vec<Assignee>,
    expires_in_minutes: u32,
}

/// Accept and decline: `by` is derived from the token unless a dispatcher
/// answers for someone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    by: Option<Assignee>,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    #[serde(default, alias = "reason", alias = "note", alias = "comment", alias = "report", alias = "result")]
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateBody {
    reason: EscalationReason,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    to: Assignee,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    result: String,
    minutes_spent: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    rating: Rating,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateBody {
    of: TicketId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummonBody {
    departments: Vec<DepartmentId>,
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
        "resolve" => {
            parse::<ResolveBody>(body).map(|b| C::Resolve { result: b.result, minutes_spent: b.minutes_spent })?
        }
        "feedback" => parse::<FeedbackBody>(body).map(|b| C::GiveFeedback { rating: b.rating, comment: b.comment })?,
        "reopen" => parse::<TextBody>(body).map(|b| C::Reopen { reason: b.text })?,
        "close" => parse::<Empty>(body).map(|_| C::Close)?,
        "cancel" => parse::<TextBody>(body).map(|b| C::Cancel { reason: b.text })?,
        "mark-duplicate" => parse::<DuplicateBody>(body).map(|b| C::MarkDuplicate { of: b.of })?,
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
        Role::GridWorker => Ok(Assignee::GridWorker(who.actor.id.clone())),
        Role::Dispatcher => Err(Error::invalid("by", "a dispatcher names whom they answer for")),
        role => Err(Error::NotPermitted { role: role.name(), command: "answer an offer" }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    points: u64,
    reward: String,
}

/// `POST /volunteers/{id}/redeem`: a volunteer spends points on a reward
/// (积分置换): their own, or a dispatcher on their behalf; beyond the
/// balance is a 422. Answers with what was written, like ticket actions.
pub(crate) async fn redeem<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = VolunteerId::new(id)?;
    let bytes = read_body(body)?;
    let body: RedeemBody = parse(&bytes)?;
    let command =
        gridloop_engine::volunteer::VolunteerCommand::RedeemPoints { points: body.points, reward: body.reward };
    let route = format!("POST /volunteers/{id}/redeem");
    let command = Command::Volunteer { id: id.clone(), command };
    let outcome = run_keyed(&state, &who, &headers, &route, &bytes, command).await?;
    Ok(Json(serde_json::json!({ "id": id, "events": written(outcome) })))
}
