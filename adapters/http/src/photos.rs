//! Evidence photos over HTTP: the one path by which a photo's bytes reach
//! the blob store ([`store`]), used by every route that takes photos (the
//! resident's order, a handler's result, Open311's upload), and the two
//! photo routes:
//!
//! - `POST /photos`: the raw image as the body (at most
//!   [`PHOTO_BODY_BYTES_MAX`], this route's own limit); answers 201 with its
//!   hash, type and size. The hash is what an order or a result names.
//! - `GET /tickets/{id}/photos/{hash}`: the bytes of a photo the ticket's
//!   events name, for whoever may read the ticket (the permit rule).
//!
//! Bytes are checked by `gridloop-media` before anything is stored: a type
//! that is not JPEG, PNG or WebP by its bytes, a damaged image or one past
//! the pixel bound is `invalid_input` on `photo` (400), more than
//! [`BLOB_BYTES_MAX`] is `too_large` (413); either way nothing is stored.
//! What is stored is the image without its location and camera metadata.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gridloop_engine::Error;
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobHash};
use gridloop_engine::envelope::{EventPayload as _, RecordedEvent};
use gridloop_engine::ids::{StreamId, TicketId};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::TicketEvent;
use gridloop_media::{Kind, MediaError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::Path;
use crate::tickets::{existing, read_body_within};
use crate::{AppError, AppState};

/// The photo upload's body limit: a photo's bound and a little more, so
/// that a photo just past the bound hears the photo's own sentence.
pub const PHOTO_BODY_BYTES_MAX: usize = BLOB_BYTES_MAX + 64 * 1024;

/// How long a browser may keep a photo: a hash names its bytes forever.
pub const PHOTO_MAX_AGE_S: u64 = 365 * 24 * 3_600;

/// A stored photo, as the upload answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoredPhoto {
    /// The BLAKE3 hash of the stored (stripped) bytes, 64 hex digits: what
    /// an order or a result names.
    #[schema(value_type = String)]
    pub hash: BlobHash,
    /// `image/jpeg`, `image/png` or `image/webp`, from the bytes.
    pub content_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Checks `bytes` as a photo and stores them; the hash names them in events.
/// A server without a blob store refuses photos rather than drop them.
pub async fn store<S: EventStore>(state: &AppState<S>, bytes: Vec<u8>) -> Result<BlobHash, AppError> {
    Ok(store_photo(state, bytes).await?.hash)
}

/// [`store`], answering what was stored: the photo without its metadata,
/// checked by `gridloop_media::check`.
pub async fn store_photo<S: EventStore>(state: &AppState<S>, bytes: Vec<u8>) -> Result<StoredPhoto, AppError> {
    let Some(blobs) = &state.blobs else {
        return Err(Error::invalid("photo", "this server keeps no photos").into());
    };
    let photo = gridloop_media::check(&bytes).map_err(refusal)?;
    let (content_type, width, height) = (photo.kind.content_type(), photo.width, photo.height);
    let hash = blobs.put(photo.bytes).await?;
    Ok(StoredPhoto { hash, content_type, width, height })
}

/// A media refusal as the API answers it: too many bytes is the API's 413,
/// anything else a bad `photo` (400).
fn refusal(error: MediaError) -> AppError {
    match error {
        MediaError::TooLarge { max, .. } => AppError::TooLarge(max),
        other => AppError::Engine(other.into()),
    }
}

/// Every photo a ticket's events name (the engine's `TicketEvent::photos`:
/// the order's and the result's), in the order first named.
pub fn named_by(events: &[RecordedEvent]) -> Result<Vec<BlobHash>, Error> {
    let mut named: Vec<BlobHash> = Vec::new();
    for event in events {
        let decoded = TicketEvent::decode(&event.schema, &event.payload)?;
        for hash in decoded.photos() {
            if !named.contains(hash) {
                named.push(*hash);
            }
        }
    }
    Ok(named)
}

/// `POST /photos`: stores one photo (the raw image as the body) for an
/// order or a result to name.
#[utoipa::path(
    post,
    path = "/photos",
    operation_id = "upload_photo",
    tag = "photos",
    summary = "Store a photo for an order or a result (JPEG, PNG or WebP; at most 5 MB)",
    request_body(content = Vec<u8>, description = "The image's bytes; its type is read from them, not from Content-Type", content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored without its location and camera metadata", body = StoredPhoto), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn upload<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<StoredPhoto>), AppError> {
    permit(&who, Access::Write(Write::TicketAction), Target::District)?;
    let bytes = read_body_within(body, PHOTO_BODY_BYTES_MAX)?;
    let stored = store_photo(&state, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// `GET /tickets/{id}/photos/{hash}`: a photo the ticket names, for whoever
/// may read the ticket; "not found" for a hash the ticket does not name,
/// so a hash opens nothing by itself.
#[utoipa::path(
    get,
    path = "/tickets/{id}/photos/{hash}",
    operation_id = "ticket_photo",
    tag = "photos",
    summary = "A photo of a ticket's order or result",
    params(
        ("id" = String, Path, description = "A ticket id, `T-1024`"),
        ("hash" = String, Path, description = "The photo's hash, as the ticket's events name it"),
    ),
    responses(
        (status = 200, description = "The photo, with its type, cached as immutable", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
        crate::openapi::Refusals,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn show<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = TicketId::new(id)?;
    let ticket = existing(&state, &id).await?;
    permit(&who, Access::Read(Read::Ticket), Target::Ticket(&ticket))?;
    let shown: String = hash.chars().take(64).collect();
    let not_found = || Error::NotFound { kind: "photo", id: format!("{shown} of ticket {id}") };
    let wanted: BlobHash = hash.parse().map_err(|_| not_found())?;
    let events = state.service.store().read_stream(&StreamId::ticket(&id), 1).await?;
    if !named_by(&events)?.contains(&wanted) {
        return Err(not_found().into());
    }
    let blobs = state.blobs.as_ref().ok_or_else(not_found)?;
    let bytes = blobs.get(&wanted).await?.ok_or_else(not_found)?;
    let content_type = Kind::sniff(&bytes).map_or("application/octet-stream", Kind::content_type);
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, cache_control()),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
    ];
    Ok((headers, bytes).into_response())
}

fn cache_control() -> HeaderValue {
    HeaderValue::from_str(&format!("private, max-age={PHOTO_MAX_AGE_S}, immutable"))
        .unwrap_or(HeaderValue::from_static("private"))
}
