//! The one error of the API, its JSON shape, and where it is logged.
//!
//! Every refusal answers `{ "error": { "code": "...", "message": "..." } }`.
//! Engine errors keep their stable [`Error::code`]; the API adds its own
//! codes for what never reaches the engine (`unauthorized`, `invalid_json`,
//! `too_large`, `rate_limited`, `timeout`, `idempotency_key_reused`,
//! `method_not_allowed`,
//! `internal`; an unknown route is `not_found`, like an unknown ticket).
//!
//! - **Status.** [`engine_status`] gives each engine error variant its
//!   status; it is the one place, and a test checks it against the handling
//!   note each variant's doc in the engine states.
//! - **Message.** A 500 says only [`INTERNAL_MESSAGE`] and its code: what
//!   failed inside is for the operator, not the caller, and goes to the log.
//! - **Log.** Building a response logs nothing; it leaves a [`Failed`] in the
//!   response's extensions, and [`log_failures`], around every route, logs
//!   it once: server failures at `error` with the detail, refusals at `debug`.
//! - **Extractors.** [`Path`] and [`Query`] are axum's, refusing in this
//!   shape (`invalid_input`, naming `path` or `query`) instead of axum's
//!   plain-text 400; [`panicked`] turns a handler's panic into a JSON 500.

use std::any::Any;

use axum::Json;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::RETRY_AFTER;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gridloop_engine::Error;
use serde::de::DeserializeOwned;

/// What a 500 tells the caller: the detail is in the server's log only.
pub const INTERNAL_MESSAGE: &str = "the server failed to answer this request; the cause is in its log";

/// The one error of the API: every failed request answers with one of these,
/// as its HTTP status ([`status`](Self::status)) and the body
/// `{ "error": { "code": ..., "message": ... } }`.
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
    /// The body is longer than this route's limit, in bytes (most routes'
    /// is [`BODY_BYTES_MAX`](crate::BODY_BYTES_MAX); some take less): the
    /// message names the route's own limit, so a client knows what fits.
    #[error("the request body is larger than this route's limit of {0} bytes ({kib} KiB)", kib = .0 / 1024)]
    TooLarge(usize),
    /// No route matches the path.
    #[error("no such route")]
    NoRoute,
    /// The path is a route, but not for this method.
    #[error("this route does not take the method {0}; the API's document (/api/v1/openapi.json) lists the methods")]
    MethodNotAllowed(String),
    /// The token has used its [`RATE_BURST`](crate::RATE_BURST) and
    /// [`RATE_PER_MINUTE`](crate::RATE_PER_MINUTE); the response carries
    /// `Retry-After` with these seconds.
    #[error("this token has made more than {per_minute} requests a minute; retry after {0} s", per_minute = crate::RATE_PER_MINUTE)]
    RateLimited(u64),
    /// Too many orders from one client address, or for one grid, on the
    /// resident's public pages ([`crate::door`]). Nothing was written.
    /// Caller: try again after `Retry-After` (these seconds).
    #[error("too many orders {from} just now; nothing was sent: try again in {} minutes", .seconds.div_ceil(60).max(1))]
    OrdersLimited {
        /// Seconds until one more order is let through.
        seconds: u64,
        /// Whose bucket is empty: "from this address", "for this place".
        from: &'static str,
    },
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
    /// random source, a task or handler that panicked).
    #[error("internal failure: {0}")]
    Internal(String),
}

/// A projection's cold rows could not be read (the local disk failed) or do
/// not decode: the store's failure (503, retry) or a corrupt row (500), as
/// the follower classifies the same errors.
impl From<gridloop_projections::ProjectionError> for AppError {
    fn from(error: gridloop_projections::ProjectionError) -> Self {
        use gridloop_projections::ProjectionError as P;
        match error {
            P::Log(error) => AppError::Engine(error),
            P::SnapshotStore(reason) => AppError::Engine(Error::Storage(reason)),
            other => AppError::Engine(Error::Corrupt(other.to_string())),
        }
    }
}

impl AppError {
    /// The stable, machine-readable code of the error's body (`not_found`,
    /// `rate_limited`, or the engine error's own code): clients branch on it,
    /// never on the message.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Engine(e) => e.code(),
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidJson(_) => "invalid_json",
            AppError::TooLarge(_) => "too_large",
            AppError::NoRoute => "not_found",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::RateLimited(_) | AppError::OrdersLimited { .. } => "rate_limited",
            AppError::Timeout(_) => "timeout",
            AppError::IdempotencyKeyReused => "idempotency_key_reused",
            AppError::Internal(_) => "internal",
        }
    }

    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Engine(e) => engine_status(e),
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RateLimited(_) | AppError::OrdersLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence the caller reads: the error's own, except on a 500,
    /// whose sentence would name the server's insides.
    pub fn public_message(&self) -> String {
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR { INTERNAL_MESSAGE.to_string() } else { self.to_string() }
    }
}

/// The status of each engine error variant: what the handling note of the
/// variant's doc in `engine/src/error.rs` says (a test reads those notes).
pub fn engine_status(error: &Error) -> StatusCode {
    match error {
        Error::Invalid { .. } | Error::BadGridCode { .. } => StatusCode::BAD_REQUEST,
        Error::NotPermitted { .. } | Error::NotOffered { .. } | Error::NotHolder { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::AlreadyTaken { .. }
        | Error::IllegalTransition { .. }
        | Error::WrongExpectedVersion { .. }
        | Error::AlreadyExists { .. }
        | Error::OfferExpired { .. } => StatusCode::CONFLICT,
        Error::NotAdmitted { .. }
        | Error::InsufficientPoints { .. }
        | Error::UnknownReference { .. }
        | Error::AssigneeUnavailable { .. }
        | Error::DuplicateCycle { .. }
        | Error::LocationOutsideGrid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Storage(_) | Error::Contended { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure a response stands for, left in its extensions for
/// [`log_failures`]: the code, and the whole sentence (which a 500's body
/// does not carry).
#[derive(Clone, Debug)]
pub struct Failed {
    /// The error's code, as in the body.
    pub code: &'static str,
    /// The error's whole message, including what a 500's body leaves out.
    pub detail: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = self.code();
        let body = serde_json::json!({ "error": { "code": code, "message": self.public_message() } });
        let mut response = (self.status(), Json(body)).into_response();
        if let AppError::RateLimited(seconds) | AppError::OrdersLimited { seconds, .. } = self {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Failed { code, detail: self.to_string() });
        response
    }
}

/// Logs each failed request once, with its method and path: a server
/// failure at `error` with the detail its body leaves out, a refusal at
/// `debug`. Around every route, so timeouts and panics are logged too.
pub async fn log_failures(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    if let Some(Failed { code, detail }) = response.extensions().get::<Failed>() {
        let status = response.status().as_u16();
        if response.status().is_server_error() {
            tracing::error!(%method, %path, status, code, %detail, "request failed");
        } else {
            tracing::debug!(%method, %path, status, code, %detail, "request refused");
        }
    }
    response
}

/// Gives axum's bare 405 (a route that does not take the method; nested
/// routers answer it before any fallback) the API's error shape, keeping
/// its `Allow` header.
pub async fn shape_method_not_allowed(request: Request, next: Next) -> Response {
    let method: String = request.method().as_str().chars().take(32).collect();
    let response = next.run(request).await;
    let bare = response.headers().get(axum::http::header::CONTENT_TYPE).is_none();
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || !bare {
        return response;
    }
    let mut shaped = AppError::MethodNotAllowed(method).into_response();
    if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
        shaped.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
    }
    shaped
}

/// The answer to a handler that panicked (for tower-http's `CatchPanic`):
/// a JSON 500 `internal`, the panic's message left for the log.
pub fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    AppError::Internal(format!("a handler panicked: {message}")).into_response()
}

/// axum's `Path`, refusing in the API's shape: a segment that does not
/// decode (invalid UTF-8 in its escapes) is 400 `invalid_input`.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(e) if e.status().is_server_error() => Err(AppError::Internal(e.body_text())),
            Err(e) => Err(Error::invalid("path", e.body_text()).into()),
        }
    }
}

/// axum's `Query`, refusing in the API's shape: a query string that does
/// not read as the route's parameters is 400 `invalid_input`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(e) => Err(Error::invalid("query", e.body_text()).into()),
        }
    }
}
