//! `POST /volunteers/{id}/link-code`: a dispatcher issues a one-time code
//! that the volunteer sends to the chat bot (`绑定 123456` / `link 123456`)
//! to link their chat account.
//!
//! The code is drawn from the operating system's randomness and shown in
//! this answer only: the engine keeps its BLAKE3 hash and expiry
//! (`volunteer.link_code_issued`), and a new code replaces the one
//! outstanding. The route is on the one idempotency path of every write
//! (`tickets::keyed`): a request without an `Idempotency-Key` gets a fresh
//! one, so a retry issues a fresh code (harmless: the previous code simply
//! stops working); a repeat under the same key writes nothing and, since it
//! cannot show the first code again, is refused with 409 `already_exists`.

use axum::Json;
use axum::extract::State;
use gridloop_engine::Error;
use gridloop_engine::envelope::EventPayload;
use gridloop_engine::ids::VolunteerId;
use gridloop_engine::service::Command;
use gridloop_engine::store::EventStore;
use gridloop_engine::volunteer::{VolunteerCommand, VolunteerEvent, link_code_hash};

use crate::auth::Caller;
use crate::error::Path;
use crate::{AppError, AppState};

/// `{ volunteer, code, expires_at }`; dispatchers only (the engine refuses
/// anyone else with 403).
#[utoipa::path(
    post,
    path = "/volunteers/{id}/link-code",
    operation_id = "issue_link_code",
    tag = "volunteers",
    summary = "A dispatcher issues a one-time 6-digit code (valid 24 h, replacing any outstanding one) for the volunteer to send to the chat bot; a retry without the Idempotency-Key issues a fresh code, a repeat with it is refused (the code is shown once)",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    responses((status = 200, description = "The code, shown only here", body = crate::openapi::shapes::LinkCode), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn issue<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let volunteer = VolunteerId::new(id)?;
    // The issuer links their own chat account with the code, as this
    // volunteer: only staff who serve the volunteer's place may issue it.
    let access = gridloop_engine::permit::Access::Write(gridloop_engine::permit::Write::LinkCode);
    crate::people::reach_volunteer(&state, &who, access, &volunteer).await?;
    let random = crate::random_hex(8)
        .map_err(|e| AppError::Internal(format!("no randomness from the operating system: {e}")))?;
    let random = u64::from_str_radix(&random, 16).map_err(|e| AppError::Internal(e.to_string()))?;
    let code = format!("{:06}", random % 1_000_000);
    let command = Command::Volunteer {
        id: volunteer.clone(),
        command: VolunteerCommand::IssueLinkCode { code_hash: link_code_hash(&code) },
    };
    let route = format!("POST /volunteers/{volunteer}/link-code");
    let outcome = crate::tickets::run_keyed(&state, &who, &headers, &route, &[], command).await?;
    if outcome.is_duplicate() {
        let kind = "link code issued under this Idempotency-Key (it was shown once) for volunteer";
        return Err(Error::AlreadyExists { kind, id: volunteer.to_string() }.into());
    }
    let expires_at = outcome
        .events
        .iter()
        .find_map(|e| match VolunteerEvent::decode(&e.schema, &e.payload) {
            Ok(VolunteerEvent::LinkCodeIssued { expires_at, .. }) => Some(expires_at),
            _ => None,
        })
        .ok_or_else(|| AppError::Engine(Error::Corrupt("the engine issued no link code".into())))?;
    Ok(Json(serde_json::json!({ "volunteer": volunteer, "code": code, "expires_at": expires_at })))
}
