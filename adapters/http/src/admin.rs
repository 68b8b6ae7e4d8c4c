//! Token administration, the admin role's whole job:
//!
//! - `GET /tokens`: every token's id, role, subject and place (never a token:
//!   the table holds only hashes);
//! - `POST /tokens` `{ role, subject, place? }`: a new token, shown in this
//!   answer once;
//! - `DELETE /tokens/{id}`: revokes a token at once (its next request is 401).
//!
//! The admin acts on no ticket or place: the ticket and emergency
//! allow-lists leave `Role::Admin` out, so an admin's token is refused (403)
//! by those command routes; and nobody but an admin reaches these routes.
//! The admin does keep the people and the world ([`crate::people`],
//! [`crate::world`]): registering and changing volunteers, assigning staff
//! and issuing their tokens, changing the world. An admin
//! may not revoke the token it is using, so a deployment cannot lock its
//! last admin out by accident. Each change is saved to the token file
//! (written whole, then renamed) before it is answered; if saving fails, the
//! change is undone and the answer is 503. A revoked token's open event
//! streams (`/console/stream`) end at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::store::EventStore;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::{Caller, Principal, TokenTable};
use crate::error::Path;
use crate::{AppError, AppState};

/// The longest subject a token may name.
pub const SUBJECT_LEN_MAX: usize = 128;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueBody {
    #[schema(value_type = crate::openapi::IssuableRole)]
    role: String,
    #[schema(max_length = 128)]
    subject: String,
    /// A dispatcher's or grid worker's place: a district, street,
    /// community or grid code of the district.
    #[serde(default)]
    place: Option<String>,
}

pub(crate) fn row(id: &str, principal: &Principal) -> Value {
    json!({
        "id": id,
        "role": principal.actor.role,
        "subject": principal.actor.id.as_str(),
        "place": principal.place.as_ref().map(ToString::to_string),
    })
}

/// `GET /tokens`.
#[utoipa::path(
    get,
    path = "/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    summary = "Admins: every token's id, role, subject and place (never the token)",
    responses((status = 200, description = "The tokens", body = crate::openapi::shapes::TokenList), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn list<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::Tokens), Target::District)?;
    let table = state.tokens.read().expect("token table lock");
    let rows: Vec<Value> = table
        .entries()
        .iter()
        .map(|e| {
            let hash = blake3::Hash::from_hex(&e.hash).expect("the table holds valid hashes");
            row(&TokenTable::id_of(&hash), &e.principal)
        })
        .collect();
    Ok(Json(json!({ "tokens": rows })))
}

/// `POST /tokens`: 201 with the token, shown once.
#[utoipa::path(
    post,
    path = "/tokens",
    operation_id = "issue_token",
    tag = "tokens",
    summary = "Admins: issue a token, shown once in the answer",
    request_body = IssueBody,
    responses((status = 201, description = "The new token", body = crate::openapi::shapes::IssuedToken), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn issue<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    permit(&who, Access::Write(Write::Tokens), Target::District)?;
    let body = crate::tickets::read_body(body)?;
    let body: IssueBody = serde_json::from_slice(&body).map_err(|e| AppError::InvalidJson(e.to_string()))?;
    let role = Role::parse_issuable(&body.role).ok_or_else(|| {
        let names: Vec<&str> = Role::ISSUABLE.iter().map(|(name, _)| *name).collect();
        Error::invalid("role", format!("must be one of {}", names.join(", ")))
    })?;
    if body.subject.is_empty() || body.subject.len() > SUBJECT_LEN_MAX {
        return Err(Error::invalid("subject", "must be 1 to 128 characters").into());
    }
    let place = body.place.as_deref().map(GridCode::parse).transpose()?;
    // Only a place and a department the district knows: a token for
    // neither would act nowhere, or anywhere.
    state.service.refresh_world().await?;
    let holder = Principal::admit(&state.service.world(), Actor::new(role, &body.subject)?, place)?;
    let (token, entry) = TokenTable::issue(role, &body.subject, holder.place)?;
    let hash = blake3::Hash::from_hex(&entry.hash).expect("issued hashes are valid");
    let id = TokenTable::id_of(&hash);
    let principal = entry.principal.clone();
    change(&state, |table| table.insert(entry), |table, ()| drop(table.revoke(&id)))?;
    tracing::info!(admin = %who.actor.id.as_str(), token = %id, role = role.name(), "token issued");
    let mut answer = row(&id, &principal);
    answer["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `DELETE /tokens/{id}`.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    summary = "Admins: revoke a token at once (not the one in use)",
    params(("id" = String, Path, description = "16 hex digits, from GET /api/v1/tokens")),
    responses((status = 200, description = "Revoked", body = crate::openapi::shapes::Revoked), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn revoke<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Write(Write::Tokens), Target::District)?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid("id", "a token id is 16 hex digits (GET /tokens lists them)").into());
    }
    if own_token_id(&headers).as_deref() == Some(id.as_str()) {
        return Err(Error::invalid("id", "an admin may not revoke the token it is using").into());
    }
    change(
        &state,
        |table| table.revoke(&id).ok_or_else(|| Error::NotFound { kind: "token", id: id.clone() }),
        |table, removed| {
            let _ = table.insert(removed.clone());
        },
    )?;
    tracing::info!(admin = %who.actor.id.as_str(), token = %id, "token revoked");
    Ok(Json(json!({ "id": id, "revoked": true })))
}

/// The id of the bearer token of this request.
fn own_token_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let token = crate::auth::bearer_token(headers)?;
    Some(TokenTable::id_of(&blake3::hash(token.as_bytes())))
}

/// Applies `apply` to the table and saves it; undoes the change with `undo`
/// if it cannot be saved.
pub(crate) fn change<S, T>(
    state: &AppState<S>,
    apply: impl FnOnce(&mut TokenTable) -> Result<T, Error>,
    undo: impl FnOnce(&mut TokenTable, &T),
) -> Result<T, AppError> {
    let mut table = state.tokens.write().expect("token table lock");
    let done = apply(&mut table)?;
    if let Some(path) = &state.token_file
        && let Err(e) = table.save(path)
    {
        undo(&mut table, &done);
        return Err(Error::Storage(format!("saving the token file: {e}")).into());
    }
    drop(table);
    // Open event streams check that their token is still in the table.
    state.token_changes.send_modify(|changes| *changes = changes.wrapping_add(1));
    Ok(done)
}
