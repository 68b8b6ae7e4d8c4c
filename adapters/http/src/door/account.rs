//! Accounts at the door: personal links and one-time codes.
//!
//! A personal link is 32 random bytes, shown once as hex inside the link
//! `/r/me#k=<hex>`; the account store keeps only its BLAKE3 hash, under
//! which it names a resident. Presented as a Bearer token, it is that
//! resident's [`Principal`] ([`capability`], asked by
//! [`AppState::authenticate`](crate::AppState::authenticate)), so the
//! engine's permit rule decides what it opens: the resident's own tickets.
//!
//! Typing a phone number opens nothing. Another device is linked by a
//! one-time code sent through the resident's own channel (the
//! [`Courier`](crate::courier::Courier)), or by copying the link. Asking
//! for a code answers the same whether the phone has an account or not,
//! and a wrong code the same as a phone without a code, so neither route
//! tells whether a number is known.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::account::{
    AccountStore, CodeUse, Link, PendingCode, PhoneKey, Verdict, code_from, link_id, secret_hash,
};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::ResidentId;
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::store::EventStore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Peer;
use crate::auth::{Caller, Principal};
use crate::courier::CodePurpose;
use crate::error::Path;
use crate::tickets::{parse, read_body};
use crate::{AppError, AppState};

/// Random bytes in a personal link.
pub const LINK_BYTES: usize = 32;

/// The account store, or the refusal of a server that keeps none.
pub(crate) fn accounts<S>(state: &AppState<S>) -> Result<&dyn AccountStore, AppError> {
    state
        .accounts
        .as_deref()
        .ok_or_else(|| Error::invalid("account", "this server keeps no residents' accounts").into())
}

/// The resident a personal link (by its hash) names, as a principal; `None`
/// for no such link (or no account store).
pub(crate) fn capability<S: EventStore>(state: &AppState<S>, hash: &[u8; 32]) -> Result<Option<Principal>, AppError> {
    let Some(store) = state.accounts.as_deref() else { return Ok(None) };
    let Some(link) = store.link(hash)? else { return Ok(None) };
    let actor = Actor::new(Role::Resident, link.resident.as_str())?;
    state.limiter.take(hash, state.service.clock().now()).map_err(AppError::RateLimited)?;
    Ok(Some(Principal { actor, place: None }))
}

/// A new personal link for `resident`: its text, shown once.
pub(crate) fn issue_link<S: EventStore>(state: &AppState<S>, resident: &ResidentId) -> Result<NewLink, AppError> {
    let token = crate::random_hex(LINK_BYTES).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let hash = secret_hash(None, &token);
    let link = Link { resident: resident.clone(), created_at: state.service.clock().now() };
    accounts(state)?.put_link(&hash, &link)?;
    Ok(NewLink { id: link_id(&hash), link: format!("/r/me#k={token}"), token })
}

/// A personal link, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewLink {
    /// The link's public id (for listing and revoking).
    pub id: String,
    /// The page that opens "my requests" with it; keep it private.
    pub link: String,
    /// The link's secret, as a Bearer token for the JSON routes.
    pub token: String,
}

/// `{ "phone": "..." }`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhoneBody {
    #[schema(max_length = 40)]
    phone: String,
}

/// `{ "phone": "...", "code": "123456" }`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeBody {
    #[schema(max_length = 40)]
    phone: String,
    #[schema(max_length = 12)]
    code: String,
}

/// The phone's key in the index, bounding the text first.
pub(crate) fn phone_key<S>(state: &AppState<S>, phone: &str) -> Result<PhoneKey, AppError> {
    if phone.len() > 40 {
        return Err(Error::invalid("phone", "must be a phone number of 5 to 15 digits").into());
    }
    Ok(PhoneKey::of(&accounts(state)?.secret()?, phone)?)
}

/// Makes a code for `phone`, keeps its hash and sends it to `resident`'s
/// own channel. Refused when one was sent less than a minute ago.
pub(crate) async fn send<S: EventStore>(
    state: &AppState<S>,
    phone: &PhoneKey,
    resident: &ResidentId,
    purpose: CodeUse,
) -> Result<(), AppError> {
    let store = accounts(state)?;
    let random = crate::random_hex(8).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let code = code_from(u64::from_str_radix(&random, 16).unwrap_or_default());
    let hash = secret_hash(Some((&store.secret()?, phone)), &code);
    let pending = PendingCode::issue(purpose, hash, state.service.clock().now(), store.code(phone)?.as_ref())?;
    let Some(courier) = &state.courier else {
        return Err(Error::invalid("channel", "this deployment has no channel to send a code through").into());
    };
    let purpose = match purpose {
        CodeUse::LinkDevice => CodePurpose::LinkDevice,
        CodeUse::ConfirmPhone => CodePurpose::ConfirmPhone,
    };
    courier.send_code(resident, &code, purpose).await?;
    store.set_code(phone, Some(&pending))?;
    Ok(())
}

/// Judges `code` for `phone`: `Ok` once it is accepted (and spent); a
/// wrong, expired or missing code is one refusal, which says nothing of
/// whether the phone has an account.
pub(crate) fn redeem<S: EventStore>(
    state: &AppState<S>,
    phone: &PhoneKey,
    code: &str,
    purpose: CodeUse,
) -> Result<(), AppError> {
    let store = accounts(state)?;
    let refused = || Error::invalid("code", "is not the code we sent, or has expired: ask for a new one");
    if code.len() > 12 {
        return Err(refused().into());
    }
    let Some(pending) = store.code(phone)? else { return Err(refused().into()) };
    let hash = secret_hash(Some((&store.secret()?, phone)), code.trim());
    let (verdict, kept) = pending.check(purpose, &hash, state.service.clock().now());
    store.set_code(phone, kept.as_ref())?;
    match verdict {
        Verdict::Accepted => Ok(()),
        Verdict::Wrong | Verdict::Spent => Err(refused().into()),
    }
}

/// Takes one try from the client's bucket of code requests and tries.
pub(crate) fn admit_code<S: EventStore>(state: &AppState<S>, peer: Peer) -> Result<(), AppError> {
    let now = state.service.clock().now();
    let limited = |seconds| AppError::OrdersLimited { seconds, from: "from this address" };
    state.door.codes_by_client.take(&peer.key(), now).map_err(limited)
}

/// What asking for a code answers, whatever the phone.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Always `true`: a code went out if the number has an account.
    pub accepted: bool,
    /// What the page tells the resident.
    pub message: String,
}

/// `POST /resident/codes`: sends a one-time code to link this device, to
/// the channel of the account the phone has (if it has one).
#[utoipa::path(post, path = "/resident/codes", operation_id = "resident_send_code", tag = "resident",
    summary = "Sends a code to link another device (to the resident's own channel)",
    request_body = PhoneBody,
    responses((status = 202, description = "Sent if the number has an account", body = CodeSent), crate::openapi::Refusals))]
pub(crate) async fn send_code<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<CodeSent>), AppError> {
    let body: PhoneBody = parse(&read_body(body)?)?;
    admit_code(&state, peer)?;
    let phone = phone_key(&state, &body.phone)?;
    if let Some(resident) = accounts(&state)?.resident_of(&phone)? {
        // A refusal here (sent a minute ago, no channel) would tell that
        // the number is known: it is logged, and the answer is the same.
        if let Err(error) = send(&state, &phone, &resident, CodeUse::LinkDevice).await {
            tracing::info!(%error, "a link code was not sent");
        }
    }
    let message = "If this number has an account, a code is on its way to the channel it gave.".to_string();
    Ok((StatusCode::ACCEPTED, Json(CodeSent { accepted: true, message })))
}

/// `POST /resident/link`: a code sent to the resident's channel, for a
/// personal link on this device.
#[utoipa::path(post, path = "/resident/link", operation_id = "resident_link_device", tag = "resident",
    summary = "Links this device with a code the resident was sent",
    request_body = CodeBody,
    responses((status = 201, description = "A personal link for this device", body = NewLink), crate::openapi::Refusals))]
pub(crate) async fn link_device<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<NewLink>), AppError> {
    let body: CodeBody = parse(&read_body(body)?)?;
    admit_code(&state, peer)?;
    let phone = phone_key(&state, &body.phone)?;
    redeem(&state, &phone, &body.code, CodeUse::LinkDevice)?;
    let resident = accounts(&state)?
        .resident_of(&phone)?
        .ok_or_else(|| Error::invalid("code", "is not the code we sent, or has expired: ask for a new one"))?;
    Ok((StatusCode::CREATED, Json(issue_link(&state, &resident)?)))
}

/// One of the resident's links, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkRow {
    /// The link's public id.
    pub id: String,
    /// When it was made.
    #[schema(value_type = String)]
    pub created_at: gridloop_engine::time::Timestamp,
    /// Whether it is the one this request came with.
    pub current: bool,
}

/// Who the resident is, and their links.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentMe {
    /// The resident's opaque id.
    pub resident: String,
    /// Their links, oldest first.
    pub links: Vec<LinkRow>,
}

/// `GET /resident/me`.
#[utoipa::path(get, path = "/resident/me", operation_id = "resident_me", tag = "resident",
    summary = "The resident and their personal links",
    responses((status = 200, description = "The resident", body = ResidentMe), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn me<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
) -> Result<Json<ResidentMe>, AppError> {
    permit(&who, Access::Read(Read::Account), Target::District)?;
    let current = crate::auth::bearer_token(&headers).map(|t| secret_hash(None, t));
    let links = match state.accounts.as_deref() {
        Some(store) => store.links_of(&ResidentId::new(who.actor.id.as_str())?)?,
        None => Vec::new(),
    };
    let links = links
        .into_iter()
        .map(|(hash, link)| LinkRow { id: link_id(&hash), created_at: link.created_at, current: Some(hash) == current })
        .collect();
    Ok(Json(ResidentMe { resident: who.actor.id.to_string(), links }))
}

/// `POST /resident/links`: another personal link (for another device).
#[utoipa::path(post, path = "/resident/links", operation_id = "resident_new_link", tag = "resident",
    summary = "Another personal link, from one the resident holds",
    responses((status = 201, description = "The new link", body = NewLink), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn new_link<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<(StatusCode, Json<NewLink>), AppError> {
    permit(&who, Access::Write(Write::Account), Target::District)?;
    let resident = ResidentId::new(who.actor.id.as_str())?;
    Ok((StatusCode::CREATED, Json(issue_link(&state, &resident)?)))
}

/// `DELETE /resident/links/{id}`: revokes one of the resident's links (the
/// current one too: "sign out this device").
#[utoipa::path(delete, path = "/resident/links/{id}", operation_id = "resident_revoke_link", tag = "resident",
    summary = "Revokes one of the resident's personal links",
    params(("id" = String, Path, description = "The link's id")),
    responses((status = 204, description = "Revoked"), crate::openapi::Refusals),
    security(("bearer" = [])))]
pub(crate) async fn revoke<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    permit(&who, Access::Write(Write::Account), Target::District)?;
    let resident = ResidentId::new(who.actor.id.as_str())?;
    let store = accounts(&state)?;
    let found = store.links_of(&resident)?.into_iter().find(|(hash, _)| link_id(hash) == id);
    let Some((hash, _)) = found else { return Err(Error::NotFound { kind: "link", id: bounded(&id) }.into()) };
    store.revoke(&hash)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The first 40 characters of caller text, for a refusal's sentence.
pub(crate) fn bounded(text: &str) -> String {
    text.chars().take(40).collect()
}
