//! The one error of the API and its JSON shape.
//!
//! Every refusal answers `{ "error": { "code": "...", "message": "..." } }`.
//! Engine errors keep their stable [`Error::code`]; the API adds its own
//! codes for what never reaches the engine (`unauthorized`, `invalid_json`,
//! `too_large`, `no_route`, `rate_limited`, `timeout`,
//! `idempotency_key_reused`). Each error is logged once, when it becomes a
//! response: server failures at `error`, refusals at `debug`.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gridloop_engine::Error;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The engine refused the command or the store failed.
    #[error(transparent)]
    Engine(#[from] Error),
    /// No bearer token, or one the token table does not know.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The body is not JSON, or not the shape this route reads.
    #[error("malformed JSON body: {0}")]
    InvalidJson(String),
    /// The body is longer than [`BODY_BYTES_MAX`](crate::BODY_BYTES_MAX).
    #[error("the request body is larger than {} bytes", crate::BODY_BYTES_MAX)]
    TooLarge,
    /// No route matches the method and path.
    #[error("no such route")]
    NoRoute,
    /// The token has used its [`RATE_BURST`](crate::RATE_BURST) and
    /// [`RATE_PER_MINUTE`](crate::RATE_PER_MINUTE); the response carries
    /// `Retry-After` with these seconds.
    #[error("this token has made more than {per_minute} requests a minute; retry after {0} s", per_minute = crate::RATE_PER_MINUTE)]
    RateLimited(u64),
    /// The request took longer than its limit
    /// ([`REQUEST_TIMEOUT`](crate::REQUEST_TIMEOUT) in [`router`](crate::router)).
    #[error("the request took longer than {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// The `Idempotency-Key` was used before for a different request (another
    /// body, ticket or action). Nothing was written. Caller: use a new key
    /// for a new request; repeat a request only with its own key and body.
    #[error("this Idempotency-Key was used for a different request; use a new key for a new request")]
    IdempotencyKeyReused,
    /// Something in the server failed that is not the store's fault (the
    /// random source, a task that panicked).
    #[error("internal failure: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Engine(e) => e.code(),
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidJson(_) => "invalid_json",
            AppError::TooLarge => "too_large",
            AppError::NoRoute => "not_found",
            AppError::RateLimited(_) => "rate_limited",
            AppError::Timeout(_) => "timeout",
            AppError::IdempotencyKeyReused => "idempotency_key_reused",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Engine(e) => engine_status(e),
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The status of each engine error, by its stable code, so that a new
/// variant with an existing code needs no change here.
fn engine_status(error: &Error) -> StatusCode {
    match error.code() {
        "invalid_input" | "bad_grid_code" => StatusCode::BAD_REQUEST,
        "not_permitted" | "not_offered" | "not_holder" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "already_taken" | "illegal_transition" | "version_conflict" | "already_exists" | "offer_expired" => {
            StatusCode::CONFLICT
        }
        "not_admitted" | "insufficient_points" => StatusCode::UNPROCESSABLE_ENTITY,
        "storage_failure" | "contended" => StatusCode::SERVICE_UNAVAILABLE,
        // A corrupt log, or a code this table does not know yet: the server's fault.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match self {
            AppError::RateLimited(seconds) => Some(seconds),
            _ => None,
        };
        let code = self.code();
        let message = self.to_string();
        if status.is_server_error() {
            tracing::error!(code, %message, "request failed");
        } else {
            tracing::debug!(code, %message, "request refused");
        }
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
