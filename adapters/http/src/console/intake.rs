//! `POST /intake`: a dispatcher (or a grid worker) logs a phone call or a
//! walk-in (来电 / 来访): who called, and what they asked for.
//!
//! The resident is found by their phone in the account index (one account
//! per phone, as at the door: a resident who calls and later opens the door
//! with the same phone sees the same requests), or given a new opaque id.
//! Their name, phone and address go to the encrypted personal store, never
//! the log; the phone's last four digits are listed in the tail index
//! ([`TailKey`]) so that the ticket is found again by them. The order is the
//! engine's one `Submit` command, as the dispatcher, for that resident, with
//! the channel `phone` or `walk_in`.
//!
//! Order of writes: the ticket first, then the record. A refused order
//! writes nothing, not even a name; a failure between the two leaves a
//! ticket whose resident has no record yet, and repeating the request with
//! its `Idempotency-Key` writes the record under the resident the ticket
//! names (the engine answers the repeat with the first ticket).
//! `docs/adr/0006-console-decisions.md` says why.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::account::{PhoneKey, TailKey, normalize_phone, resident_id};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ItemCode, ResidentId, TicketId};
use gridloop_engine::permit::{Access, Target, Write, permit};
use gridloop_engine::personal::{Lookup, Person};
use gridloop_engine::store::EventStore;
use gridloop_engine::text::bounded_text;
use gridloop_engine::ticket::{Channel, TicketCommand, Urgency};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Principal};
use crate::tickets::{keyed, parse, read_body};
use crate::{AppError, AppState};

/// How the resident reached the desk.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IntakeChannel {
    /// A phone call (来电).
    Phone,
    /// The resident came in person (来访).
    WalkIn,
}

/// A call or a visit: who, where, what.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntakeBody {
    channel: IntakeChannel,
    /// The resident's name as they gave it (personal store only).
    #[schema(max_length = 200)]
    name: String,
    /// A phone to call them back on, 5 to 15 digits (personal store only).
    #[schema(max_length = 200)]
    phone: String,
    /// Their address in their own words (personal store only); when no
    /// `grid` is given, the grid whose name it mentions.
    #[serde(default)]
    #[schema(max_length = 200)]
    address: String,
    /// The catalog item, e.g. `CS-001`.
    #[schema(value_type = String, example = "CS-001")]
    item: ItemCode,
    /// A grid code; or leave it out and give an `address` that names one.
    grid: Option<String>,
    #[schema(max_length = 2000)]
    description: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::Urgency>)]
    urgency: Option<Urgency>,
}

/// The logged order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Logged {
    /// The new ticket (`T-` and its number).
    #[schema(value_type = String, example = "T-1024")]
    pub id: TicketId,
    /// `submitted`.
    pub status: &'static str,
    /// The resident's opaque id (`R-` and hex): the phone's account.
    #[schema(value_type = String)]
    pub resident: ResidentId,
    /// Whether the phone already had an account (a returning caller).
    pub returning: bool,
}

/// `POST /intake`.
#[utoipa::path(
    post,
    path = "/intake",
    operation_id = "intake",
    tag = "console",
    summary = "Dispatchers and grid workers: log a phone call or a walk-in (name, phone and address to the personal store; the order for that resident)",
    params(crate::openapi::IdempotencyKey),
    request_body = IntakeBody,
    responses((status = 201, description = "The new ticket and the resident it is for", body = Logged), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn intake<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Logged>), AppError> {
    let bytes = read_body(body)?;
    permit(&who, Access::Write(Write::Intake), Target::District)?;
    let body: IntakeBody = parse(&bytes)?;
    let state = &state;
    let checked = check(state, &body)?;
    // Both stores first: no ticket is written that could not name its caller.
    personal(state)?;
    crate::door::account::accounts(state)?;
    permit(&who, Access::Write(Write::Intake), Target::Place(&checked.grid))?;
    let logged = keyed(state, &who.clone(), &headers, "POST /intake", &bytes, |command_id| async move {
        let (resident, returning) = resident_of(state, &checked.phone)?;
        let command = TicketCommand::Submit {
            item: body.item,
            grid: checked.grid,
            resident,
            description: checked.description,
            urgency: body.urgency.unwrap_or(Urgency::Normal),
            channel: match body.channel {
                IntakeChannel::Phone => Channel::Phone,
                IntakeChannel::WalkIn => Channel::WalkIn,
            },
            location: None,
            photos: Vec::new(),
        };
        let id = state.numbering.submit(&state.service, command_id, who.actor.clone(), command).await?;
        // The resident the ticket names: on a repeat, the first attempt's.
        let ticket = state.service.ticket(&id).await?;
        let resident = ticket.resident.ok_or_else(|| AppError::Internal("a ticket without a resident".into()))?;
        keep(state, &resident, &checked.person, &checked.phone)?;
        Ok(Logged { id, status: "submitted", resident, returning })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

/// What an intake holds once checked: nothing is written before.
struct Checked {
    grid: GridCode,
    person: Person,
    phone: String,
    description: String,
}

/// Every part of the request checked before anything is written: the
/// person's fields, the phone's shape, the item, the place, the text.
fn check<S: EventStore>(state: &AppState<S>, body: &IntakeBody) -> Result<Checked, Error> {
    if body.name.trim().is_empty() {
        return Err(Error::invalid("name", "the caller's name, as they gave it"));
    }
    let person = Person::new(&body.name, &body.phone, &body.address)?;
    let phone = normalize_phone(&body.phone)?;
    let world = state.service.world();
    world.catalog.item(&body.item)?;
    let grid = match &body.grid {
        Some(code) if !code.trim().is_empty() => crate::reads::known_grid(&world.grids, "grid", code)?,
        _ if !body.address.trim().is_empty() => world
            .grids
            .match_address(&person.address)
            .cloned()
            .ok_or_else(|| Error::invalid("address", "names no known grid: choose the grid"))?,
        _ => return Err(Error::invalid("grid", "choose the grid, or give an address that names it")),
    };
    let description = bounded_text("description", &body.description, false)?;
    Ok(Checked { grid, person, phone, description })
}

/// The phone's account, or a fresh opaque id (claimed only once the order
/// is written, in [`keep`]); whether the phone had one.
fn resident_of<S: EventStore>(state: &AppState<S>, phone: &str) -> Result<(ResidentId, bool), AppError> {
    let accounts = crate::door::account::accounts(state)?;
    let key = PhoneKey::of(&accounts.secret()?, phone)?;
    if let Some(resident) = accounts.resident_of(&key)? {
        return Ok((resident, true));
    }
    let random = crate::random_hex(8).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let bytes = u64::from_str_radix(&random, 16).unwrap_or_default().to_be_bytes();
    Ok((resident_id(bytes)?, false))
}

/// Keeps the caller's record under `resident` (what they said now; an
/// e-mail address they gave at the door stays), claims the phone for them
/// unless it has an account, and lists them under the phone's last digits.
fn keep<S: EventStore>(
    state: &AppState<S>,
    resident: &ResidentId,
    person: &Person,
    phone: &str,
) -> Result<(), AppError> {
    let personal = personal(state)?;
    let accounts = crate::door::account::accounts(state)?;
    let secret = accounts.secret()?;
    let mut record = person.clone();
    if let Lookup::Found(known) = personal.get(resident)? {
        record.email = known.email;
        if record.address.is_empty() {
            record.address = known.address;
        }
    }
    personal.put(resident, &record)?;
    accounts.claim(&PhoneKey::of(&secret, phone)?, resident)?;
    accounts.index_tail(&TailKey::of_phone(&secret, phone)?, resident)?;
    Ok(())
}

/// The personal store, or a refusal: a call's name is never dropped.
fn personal<S>(state: &AppState<S>) -> Result<&dyn gridloop_engine::personal::PersonalStore, Error> {
    state
        .personal
        .as_deref()
        .ok_or_else(|| Error::invalid("name", "this server keeps no personal store, so it takes no calls"))
}

/// Whether `who` may log calls at all: for `/me`, so the page shows the
/// form only to those the permit rule lets.
pub(crate) fn may_log(who: &Principal) -> bool {
    permit(who, Access::Write(Write::Intake), Target::District).is_ok()
}
