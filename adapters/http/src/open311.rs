//! Open311 GeoReport v2 under `/open311/v2`: the civic clients' door to the
//! same tickets.
//!
//! # Map
//!
//! - [`routes`]: the six resources, each answered in JSON or XML by the
//!   suffix of its last path segment (`services.json`, `requests/T-12.xml`);
//!   another suffix is 400.
//! - Discovery and services read the catalog: one service per catalog item,
//!   `service_code` its code, `service_name` its Chinese name, `description`
//!   its English name, `keywords` and `group` its category. Items ask no
//!   questions, so every service has `metadata: false` and an empty
//!   attribute list.
//! - `POST requests` ([`post_request`]) reads a form body (URL-encoded, or
//!   multipart with a `media` photo: up to [`UPLOAD_BYTES_MAX`]), finds the caller
//!   by `api_key` (a gridloop bearer token) and the grid by `address_id`,
//!   `lat`/`long` or `address_string`, and submits through the handler of
//!   `POST /api/v1/tickets`, so an Open311 request is an ordinary ticket with
//!   the same numbering, idempotency (`Idempotency-Key` is honoured here too)
//!   and rules.
//! - `GET requests`, `requests/{id}` and `tokens/{token}` are public reads
//!   ([`crate::public`]): answered from the live projections (the board
//!   and [`public::Requests`]), never a scan of the log, limited per client
//!   address ([`crate::limits`]; 429 with `Retry-After` in the spec's error
//!   list), and showing a request at its grid, without its description.
//! - Answers are built once as JSON values ([`Doc`]) and written as JSON or
//!   as XML with quick-xml's writer ([`xml`]), text that XML 1.0 cannot hold
//!   replaced ([`xml_text`]); every refusal is a [`Failure`] in the spec's
//!   error format, with the matching HTTP status.
//!
//! # Decisions
//!
//! - `jurisdiction_id` is optional; when given it must be the district's
//!   code (the grid tree's root, `440802` for Chikan), else 400.
//! - Reads are public, as Open311 clients expect: they show the service,
//!   the status, the times and the grid (its centre as `lat`/`long`), never
//!   the resident, their words or their point (`docs/adr/0004`). Writes
//!   need an `api_key`; a missing or unknown one is 403, as GeoReport v2
//!   says.
//! - A request's token is its id: gridloop numbers a ticket when it is
//!   submitted, so `tokens/{token}` only confirms that the ticket exists.
//! - `email`, `first_name`, `last_name` and `phone` are ignored: personal data
//!   never enter the log, and the personal store is filled through another
//!   route in a later slice. A grid worker or dispatcher names the resident
//!   in `account_id`; a resident's own token is the resident.
//! - An address that names only a street or community is unresolvable: the
//!   engine places tickets in grids, and guessing a grid would send the order
//!   to the wrong grid worker.
//! - Line breaks sent as CR LF (as HTML forms do) become LF, which the
//!   engine's free text allows; other control characters are refused.

use std::borrow::Cow;

use axum::Form;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Query, State};
use axum::handler::Handler as _;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gridloop_engine::Error;
use gridloop_engine::blob::{BLOB_BYTES_MAX, ORDER_PHOTOS_MAX};
use gridloop_engine::envelope::Role;
use gridloop_engine::grid::{GeoPoint, GridCode, GridTree, Level};
use gridloop_engine::ids::{ItemCode, TicketId};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::Ticket;
use gridloop_engine::time::{DAY_MS, Millis, Timestamp};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, Principal};
use crate::error::{Failed, INTERNAL_MESSAGE};
use crate::public;
use crate::reads::Views;
use crate::tickets::ADDRESS_CHARS_MAX;
use crate::{AppError, AppState};
use gridloop_engine::permit::{Access, Read, Target, permit};

/// The most requests one `GET requests` answers (the spec's default limit).
pub const REQUESTS_MAX: usize = 1_000;
/// The most tickets of the date window one `GET requests` looks at, newest
/// first, while filtering.
pub const TICKETS_FOLDED_MAX: usize = 5_000;
/// The most ids one `service_request_id` list may name.
pub const REQUEST_IDS_MAX: usize = 200;
/// The longest span `start_date`..`end_date` may cover, in days (the spec's).
pub const DATE_SPAN_DAYS_MAX: u64 = 90;
/// The most updates one `GET servicerequestupdates` answers, oldest first.
pub const UPDATES_MAX: usize = 1_000;
/// The window of `servicerequestupdates` without a `start_date`: the last
/// day before `end_date` (or now).
pub const UPDATES_DEFAULT_DAYS: u64 = 1;
/// The largest `POST requests` body: a photo (a blob's 5 MB) and the form's
/// fields (the API's body limit); a form without a photo keeps that limit.
pub const UPLOAD_BYTES_MAX: usize = BLOB_BYTES_MAX + crate::BODY_BYTES_MAX;
/// The longest text field of a multipart form, in bytes (2,000 characters
/// of description, at most four bytes each, with room to spare).
pub const FIELD_BYTES_MAX: usize = 16 * 1024;
/// The longest `lat` or `long` text, in bytes.
pub const DEGREES_BYTES_MAX: usize = 32;
/// When this API last changed, for discovery.
pub const CHANGESET: &str = "2026-12-01T00:00:00Z";
/// Where this API is mounted, for discovery.
pub const BASE_PATH: &str = "/open311/v2";
/// Decimal places kept from degrees: micro-degrees, about 0.1 m.
const DEGREE_DECIMALS: usize = 6;

/// The routes and their documented operations, to nest under
/// [`BASE_PATH`]: the router's routes read the last segment whole, so the
/// document's operations (`/services/{service_code}.{format}`) are added
/// beside it, and a test probes each of them.
pub fn documented<S: EventStore>() -> crate::openapi::Routes<S> {
    use gridloop_engine::permit::{Access, Write};
    crate::openapi::Routes::new()
        .serve(routes::<S>())
        .document(__path_discovery, Access::Public)
        .document(__path_services, Access::Public)
        .document(__path_list_requests, Access::Public)
        .document(__path_list_updates, Access::Public)
        .document(__path_post_top, Access::Write(Write::Submit))
        .document(__path_get_service, Access::Public)
        .document(__path_get_request, Access::Public)
        .document(__path_get_token, Access::Public)
}

/// The six resources. Each route takes the last segment whole and splits
/// off the format, because one segment holds both the name and the suffix.
pub fn routes<S: EventStore>() -> Router<AppState<S>> {
    Router::new()
        .route("/{file}", get(get_top::<S>).post(post_top::<S>.layer(DefaultBodyLimit::max(UPLOAD_BYTES_MAX))))
        .route("/services/{file}", get(get_service::<S>))
        .route("/requests/{file}", get(get_request::<S>))
        .route("/tokens/{file}", get(get_token::<S>))
        .fallback(|| async { Failure::not_found("no such Open311 resource").render(Format::Xml) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            let method: String = method.as_str().chars().take(32).collect();
            Failure::new(StatusCode::METHOD_NOT_ALLOWED, format!("this resource does not take {method}"))
                .render(Format::Xml)
        })
}

/// The two formats, by suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// A refusal in the spec's shape: `[{"code":400,"description":"..."}]`.
/// `detail` is what the log gets ([`Failed`]); it differs from the
/// description only for a 500, whose description names nothing inside.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    description: String,
    code: &'static str,
    detail: String,
    /// Seconds for `Retry-After`, on a 429.
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        let detail = description.into();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return Self { status, description: INTERNAL_MESSAGE.into(), code: "internal", detail, retry_after: None };
        }
        Self { status, description: detail.clone(), code: "open311_refused", detail, retry_after: None }
    }

    /// GeoReport v2's answer to a missing or unknown `api_key`: 403.
    fn no_api_key() -> Self {
        let mut failure = Self::new(StatusCode::FORBIDDEN, "api_key is missing or is not a valid key");
        failure.code = "unauthorized";
        failure
    }

    /// A client address past its rate on the public reads ([`crate::limits`]).
    fn rate_limited(seconds: u64) -> Self {
        let per_minute = crate::RATE_PER_MINUTE;
        let description =
            format!("this client has made more than {per_minute} requests a minute; retry after {seconds} s");
        let mut failure = Self::new(StatusCode::TOO_MANY_REQUESTS, description);
        (failure.code, failure.retry_after) = ("rate_limited", Some(seconds));
        failure
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    /// Answers in `format`; [`log_failures`](crate::error::log_failures)
    /// logs it, as it does every API error.
    fn render(self, format: Format) -> Response {
        let body = json!([{ "code": self.status.as_u16(), "description": self.description }]);
        let mut response = Doc::new("errors", body).render(format);
        *response.status_mut() = self.status;
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response.extensions_mut().insert(Failed { code: self.code, detail: self.detail });
        response
    }
}

/// The API's own errors keep their status, code and public message.
impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthorized => return Self::no_api_key(),
            AppError::RateLimited(seconds) => {
                let mut failure = Self::new(StatusCode::TOO_MANY_REQUESTS, error.public_message());
                (failure.code, failure.retry_after) = ("rate_limited", Some(seconds));
                return failure;
            }
            _ => {}
        }
        let (status, code, detail) = (error.status(), error.code(), error.to_string());
        Self { status, description: error.public_message(), code, detail, retry_after: None }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        AppError::from(error).into()
    }
}

/// axum's `Path`, refusing in the spec's shape (XML, its required format)
/// when a segment does not decode, instead of axum's plain-text 400.
#[derive(Debug)]
struct Path<T>(T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(e) => Err(Failure::new(e.status(), e.body_text()).render(Format::Xml)),
        }
    }
}

/// The client's address, when the server knows it ([`crate::server`] puts
/// it in every request); reads are limited per address.
#[derive(Debug)]
struct Peer(Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Peer(info.map(|axum::extract::ConnectInfo(address)| address.ip())))
    }
}

/// Takes one request from the client's bucket ([`crate::limits`]): the
/// public reads are limited as the API is, per address instead of token.
fn admit<S: EventStore>(state: &AppState<S>, peer: &Peer) -> Result<(), Failure> {
    let key = crate::limits::client_key(peer.0);
    state.clients.take(&key, state.service.clock().now()).map_err(Failure::rate_limited)
}

/// An answer: the XML root element's name and the body as JSON.
#[derive(Debug)]
struct Doc {
    root: &'static str,
    body: Value,
}

impl Doc {
    fn new(root: &'static str, body: Value) -> Self {
        Self { root, body }
    }

    fn render(self, format: Format) -> Response {
        match format {
            Format::Json => ([(CONTENT_TYPE, "application/json")], self.body.to_string()).into_response(),
            Format::Xml => match xml(self.root, &self.body) {
                Ok(text) => ([(CONTENT_TYPE, "text/xml; charset=utf-8")], text).into_response(),
                Err(e) => AppError::Internal(format!("writing XML: {e}")).into_response(),
            },
        }
    }
}

/// Renders a handler's result in the format asked for.
fn answer(format: Format, result: Result<Doc, Failure>) -> Response {
    match result {
        Ok(doc) => doc.render(format),
        Err(failure) => failure.render(format),
    }
}

/// Splits `services.json` into `services` and its format. A missing or
/// unknown suffix is 400, answered in XML, the spec's required format.
fn split_format(file: &str) -> Result<(&str, Format), Failure> {
    let (name, suffix) = file.rsplit_once('.').ok_or_else(|| Failure::bad_request("add a format: .json or .xml"))?;
    match suffix {
        "json" => Ok((name, Format::Json)),
        "xml" => Ok((name, Format::Xml)),
        _ => Err(Failure::bad_request("unknown format: use .json or .xml")),
    }
}

/// The query parameters the GET resources read; others are ignored.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// Optional on reads: a token whose holder may read a ticket sees its
    /// result and photo (`docs/adr/0004`); an unknown one is 403.
    api_key: Option<String>,
    jurisdiction_id: Option<String>,
    service_request_id: Option<String>,
    service_code: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    status: Option<String>,
}

/// The query string, checked for its jurisdiction.
fn params<S: EventStore>(state: &AppState<S>, query: Result<Query<Params>, QueryRejection>) -> Result<Params, Failure> {
    let Query(params) = query.map_err(|e| Failure::bad_request(e.body_text()))?;
    check_jurisdiction(&world(state).grids, params.jurisdiction_id.as_deref())?;
    Ok(params)
}

fn world<S: EventStore>(state: &AppState<S>) -> std::sync::Arc<gridloop_engine::World> {
    state.service.world()
}

/// A `jurisdiction_id`, when given, must be this district's code.
fn check_jurisdiction(grids: &GridTree, given: Option<&str>) -> Result<(), Failure> {
    let district = grids.root().code.as_str();
    match given {
        Some(id) if !id.is_empty() && id != district => {
            Err(Failure::bad_request(format!("unknown jurisdiction_id: this server serves {district}")))
        }
        _ => Ok(()),
    }
}

/// `GET discovery`, `GET services`, `GET requests`, `GET servicerequestupdates`.
async fn get_top<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(file): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let (name, format) = match split_format(&file) {
        Ok(split) => split,
        Err(failure) => return failure.render(Format::Xml),
    };
    let result = match (name, admit(&state, &peer).and_then(|()| params(&state, query))) {
        (_, Err(failure)) => Err(failure),
        ("discovery", Ok(_)) => Ok(discovery(&state)),
        ("services", Ok(_)) => Ok(services(&state)),
        ("requests", Ok(params)) => list_requests(&state, &params).await,
        ("servicerequestupdates", Ok(params)) => list_updates(&state, &params).await,
        _ => Err(Failure::not_found(format!("no such Open311 resource: {name}"))),
    };
    answer(format, result)
}

/// The discovery document: one production endpoint, this one. Its URL is
/// the mount path: behind a proxy only the operator knows the public host.
#[utoipa::path(
    get,
    path = "/discovery.{format}",
    operation_id = "open311_discovery",
    tag = "open311",
    summary = "Open311 GeoReport v2 discovery",
    params(("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The discovery document, in JSON or XML by the suffix", content((crate::openapi::shapes::Discovery = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
fn discovery<S: EventStore>(state: &AppState<S>) -> Doc {
    let world = world(state);
    let district = world.grids.root();
    let endpoint = json!({
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": BASE_PATH,
        "changeset": CHANGESET,
        "type": "production",
        "formats": ["application/json", "text/xml"],
    });
    Doc::new(
        "discovery",
        json!({
            "changeset": CHANGESET,
            "contact": format!("{} ({}) community service stations", district.name, district.name_en),
            "key_service": "api_key is a gridloop bearer token, issued by `gridloop token create`",
            "endpoints": [endpoint],
        }),
    )
}

/// One service per catalog item.
#[utoipa::path(
    get,
    path = "/services.{format}",
    operation_id = "open311_services",
    tag = "open311",
    summary = "Open311 services: the catalog",
    params(("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The services, in JSON or XML by the suffix", content((Vec<crate::openapi::shapes::Service> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
fn services<S: EventStore>(state: &AppState<S>) -> Doc {
    let world = state.service.world();
    let items = world.catalog.items().map(|item| {
        let category = Value::String(item.category.to_string());
        json!({
            "service_code": item.code.as_str(),
            "service_name": item.name,
            "description": item.name_en,
            "metadata": false,
            "type": "realtime",
            "keywords": category,
            "group": category,
        })
    });
    Doc::new("services", Value::Array(items.collect()))
}

/// `GET services/{code}`: the definition of one service (no attributes).
#[utoipa::path(
    get,
    path = "/services/{service_code}.{format}",
    operation_id = "open311_service_definition",
    tag = "open311",
    summary = "Open311: one service's definition (items ask no questions)",
    params(("service_code" = String, Path, description = "A catalog item code"), ("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The definition, in JSON or XML by the suffix", content((crate::openapi::shapes::ServiceDefinition = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn get_service<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(file): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let (code, format) = match split_format(&file) {
        Ok(split) => split,
        Err(failure) => return failure.render(Format::Xml),
    };
    let result = admit(&state, &peer).and_then(|()| params(&state, query)).and_then(|_| {
        let unknown = || Failure::not_found(format!("no such service_code: {code}"));
        let item = ItemCode::new(code).map_err(|_| unknown())?;
        state.service.world().catalog.item(&item).map_err(|_| unknown())?;
        Ok(Doc::new("service_definition", json!({ "service_code": code, "attributes": [] })))
    });
    answer(format, result)
}

/// The fields of `POST requests` this server reads; the rest (`email`,
/// `device_id`, `media_url`, attributes, ...) are ignored. A photo comes as
/// the `media` part of a multipart form, never as a URL to fetch.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RequestForm {
    api_key: Option<String>,
    jurisdiction_id: Option<String>,
    service_code: Option<String>,
    address_id: Option<String>,
    lat: Option<String>,
    long: Option<String>,
    address_string: Option<String>,
    description: Option<String>,
    /// Whom a grid worker or dispatcher orders for.
    account_id: Option<String>,
}

impl RequestForm {
    /// Whether a field read holds U+FFFD. Form decoding replaces bytes that
    /// are not UTF-8 with it instead of failing, so a request carrying one
    /// is refused rather than stored with its text silently changed.
    fn lost_bytes(&self) -> bool {
        let fields = [
            &self.api_key,
            &self.jurisdiction_id,
            &self.service_code,
            &self.address_id,
            &self.lat,
            &self.long,
            &self.address_string,
            &self.description,
            &self.account_id,
        ];
        fields.into_iter().flatten().any(|field| field.contains('\u{FFFD}'))
    }
}

/// `POST requests`; any other POST is 404.
#[utoipa::path(
    post,
    path = "/requests.{format}",
    operation_id = "open311_post_request",
    tag = "open311",
    summary = "Open311 service request, form-encoded, with api_key (a gridloop token)",
    params(("format" = crate::openapi::Format, Path, description = "The answer's format"), crate::openapi::IdempotencyKey),
    request_body(content(
        (crate::openapi::shapes::RequestForm = "application/x-www-form-urlencoded"),
        (crate::openapi::shapes::RequestUpload = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "The new request's id, in JSON or XML by the suffix", content((Vec<crate::openapi::shapes::ServiceRequestId> = "application/json"), (String = "text/xml"))),
        (status = 403, description = "No or unknown api_key (GeoReport v2's status for it), or not this caller's order", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn post_top<S: EventStore>(
    State(state): State<AppState<S>>,
    Path(file): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let (name, format) = match split_format(&file) {
        Ok(split) => split,
        Err(failure) => return failure.render(Format::Xml),
    };
    if name != "requests" {
        return Failure::not_found(format!("no such Open311 resource: {name}")).render(format);
    }
    let headers = request.headers().clone();
    let result = match read_form(&state, request).await {
        Ok((form, media)) => post_request(&state, headers, form, media).await,
        Err(failure) => Err(failure),
    };
    answer(format, result)
}

/// The form of a `POST requests`: URL-encoded (within the API's body
/// limit), or `multipart/form-data` with a `media` file part (a photo, at
/// most [`ORDER_PHOTOS_MAX`] of them) beside the same fields.
async fn read_form<S: EventStore>(
    state: &AppState<S>,
    request: axum::extract::Request,
) -> Result<(RequestForm, Vec<Bytes>), Failure> {
    let multipart =
        request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
            t.trim_start().get(..19).is_some_and(|head| head.eq_ignore_ascii_case("multipart/form-data"))
        });
    if multipart {
        let parts = Multipart::from_request(request, state).await.map_err(|e| Failure::bad_request(e.body_text()))?;
        return read_multipart(parts).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, crate::BODY_BYTES_MAX)
        .await
        .map_err(|_| Failure::from(AppError::TooLarge(crate::BODY_BYTES_MAX)))?;
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let Form(form) =
        Form::<RequestForm>::from_request(request, state).await.map_err(|e: FormRejection| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Failure::from(AppError::TooLarge(crate::BODY_BYTES_MAX)),
            _ => Failure::bad_request(e.body_text()),
        })?;
    Ok((form, Vec::new()))
}

/// A multipart form's fields and photos. Text fields are read as the
/// URL-encoded form reads them (unknown ones ignored, each bounded); every
/// non-empty `media` part is a photo.
async fn read_multipart(mut parts: Multipart) -> Result<(RequestForm, Vec<Bytes>), Failure> {
    let refuse = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Failure::from(AppError::TooLarge(UPLOAD_BYTES_MAX)),
        _ => Failure::bad_request(e.body_text()),
    };
    let (mut fields, mut media) = (serde_json::Map::new(), Vec::new());
    while let Some(field) = parts.next_field().await.map_err(refuse)? {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(refuse)?;
        if name == "media" {
            if bytes.is_empty() {
                continue;
            }
            if media.len() >= ORDER_PHOTOS_MAX {
                return Err(Failure::bad_request(format!("media: at most {ORDER_PHOTOS_MAX} photos")));
            }
            media.push(bytes);
            continue;
        }
        if bytes.len() > FIELD_BYTES_MAX {
            return Err(Failure::bad_request(format!(
                "{}: at most {FIELD_BYTES_MAX} bytes",
                name.chars().take(32).collect::<String>()
            )));
        }
        let text =
            String::from_utf8(bytes.to_vec()).map_err(|_| Failure::bad_request("the form is not valid UTF-8"))?;
        fields.insert(name, Value::String(text));
    }
    let form = serde_json::from_value(Value::Object(fields)).map_err(|e| Failure::bad_request(e.to_string()))?;
    Ok((form, media))
}

/// Checks the caller, the jurisdiction and the place, stores the photos
/// (through [`crate::photos::store`], which checks them first), then
/// submits the order as `POST /api/v1/tickets` would.
async fn post_request<S: EventStore>(
    state: &AppState<S>,
    headers: HeaderMap,
    form: RequestForm,
    media: Vec<Bytes>,
) -> Result<Doc, Failure> {
    if form.lost_bytes() {
        return Err(Failure::bad_request("the form is not valid UTF-8 (percent-encoded bytes must decode to UTF-8)"));
    }
    let key = form.api_key.as_deref().map(str::trim).unwrap_or_default();
    let who = state.authenticate(key)?;
    let world = world(state);
    check_jurisdiction(&world.grids, form.jurisdiction_id.as_deref())?;
    let code = form.service_code.as_deref().ok_or_else(|| Failure::bad_request("service_code is required"))?;
    let (grid, location) = place_of(&world.grids, &form)?;
    let resident = if who.actor.role == Role::Resident { None } else { form.account_id.clone() };
    let description = form.description.unwrap_or_default().replace("\r\n", "\n").replace('\r', "\n");
    let mut photos = Vec::new();
    for bytes in media {
        // Only a caller with a key gets this far: no one else stores bytes.
        photos.push(crate::photos::store(state, bytes.to_vec()).await?.to_hex());
    }
    let body = json!({
        "category": code,
        "grid": grid.as_str(),
        "location": location,
        "description": description,
        "resident": resident,
        "photos": photos,
    });
    let body = Ok(Bytes::from(body.to_string()));
    let (_, axum::Json(submitted)) =
        crate::tickets::submit::<S>(State(state.clone()), Caller(who), headers, body).await?;
    let row = json!({ "service_request_id": submitted.id.as_str(), "service_notice": "" });
    Ok(Doc::new("service_requests", json!([row])))
}

/// The grid of a request, and its point when one was given: `address_id`
/// (a grid code), else `lat` and `long`, else `address_string`.
fn place_of(grids: &GridTree, form: &RequestForm) -> Result<(GridCode, Option<GeoPoint>), Failure> {
    if let Some(code) = &form.address_id {
        let grid = GridCode::parse(code.trim()).map_err(|e| Failure::bad_request(format!("address_id: {e}")))?;
        return in_a_grid(grids, grid, "address_id").map(|grid| (grid, None));
    }
    if let (Some(lat), Some(long)) = (&form.lat, &form.long) {
        let point = GeoPoint::new(micro_degrees(long, "long")?, micro_degrees(lat, "lat")?)?;
        let grid =
            grids.locate(point).cloned().ok_or_else(|| Failure::bad_request("lat/long is outside the district"))?;
        return Ok((grid, Some(point)));
    }
    if let Some(address) = &form.address_string {
        if address.chars().count() > ADDRESS_CHARS_MAX {
            return Err(Failure::bad_request(format!("address_string: at most {ADDRESS_CHARS_MAX} characters")));
        }
        let grid = grids.match_address(address).cloned();
        let grid = grid.ok_or_else(|| Failure::bad_request("address_string names no place in the district"))?;
        return in_a_grid(grids, grid, "address_string").map(|grid| (grid, None));
    }
    Err(Failure::bad_request("a location is required: address_id, lat and long, or address_string"))
}

/// A place known to the tree and at grid level or below, where tickets live.
fn in_a_grid(grids: &GridTree, place: GridCode, field: &str) -> Result<GridCode, Failure> {
    let Some(node) = grids.get(&place) else {
        return Err(Failure::bad_request(format!("{field}: no such grid: {place}")));
    };
    if place.level() < Level::Grid {
        return Err(Failure::bad_request(format!(
            "{field} names {} ({place}), not a grid in it: give the grid, or lat and long",
            node.name
        )));
    }
    Ok(place)
}

/// Decimal degrees (`21.27`, `-110.3`) to integer micro-degrees, exactly:
/// digits past the sixth decimal are dropped (about a tenth of a metre).
fn micro_degrees(text: &str, field: &str) -> Result<i32, Failure> {
    let refuse = || Failure::bad_request(format!("{field}: expected decimal degrees, like 21.2701"));
    let text = text.trim();
    if text.len() > DEGREES_BYTES_MAX {
        return Err(refuse());
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || whole.len() > 3 || !digits(whole) || !digits(fraction) {
        return Err(refuse());
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| refuse())? };
    let padded = format!("{fraction:0<DEGREE_DECIMALS$}");
    let fraction: i64 = padded[..DEGREE_DECIMALS].parse().map_err(|_| refuse())?;
    let micro = whole * 1_000_000 + fraction;
    i32::try_from(if negative { -micro } else { micro }).map_err(|_| refuse())
}

/// `GET requests/{id}`: an array of the one request.
#[utoipa::path(
    get,
    path = "/requests/{service_request_id}.{format}",
    operation_id = "open311_request",
    tag = "open311",
    summary = "Open311: one service request",
    params(("service_request_id" = String, Path, description = "A ticket id, `T-1024`"), ("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The request, in a list of one, in JSON or XML by the suffix", content((Vec<crate::openapi::shapes::ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn get_request<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(file): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let (id, format) = match split_format(&file) {
        Ok(split) => split,
        Err(failure) => return failure.render(Format::Xml),
    };
    let result = async {
        admit(&state, &peer)?;
        let params = params(&state, query)?;
        let row = find(&state, id, reader(&state, &params)?.as_ref()).await?;
        Ok(Doc::new("service_requests", json!([row])))
    };
    answer(format, result.await)
}

/// The public row of the request with this id, or 404 (also for text that
/// is not a ticket id).
async fn find<S: EventStore>(state: &AppState<S>, id: &str, reader: Option<&Principal>) -> Result<Value, Failure> {
    let unknown = || Failure::not_found(format!("no such service request: {id}"));
    let ticket = TicketId::new(id).map_err(|_| unknown())?;
    let views = views(state).await?;
    let world = world(state);
    public_row(&world, &views, &ticket, reader).ok_or_else(unknown)
}

/// Who reads, when the query names an `api_key`: such a caller sees more
/// of the tickets the permit rule lets them read ([`public::Reach`]). An
/// unknown key is 403, as on writes, rather than a silent public answer.
fn reader<S: EventStore>(state: &AppState<S>, params: &Params) -> Result<Option<Principal>, Failure> {
    match params.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => Ok(Some(state.authenticate(key)?)),
        None => Ok(None),
    }
}

/// The live projections, caught up with the log (a read follows a write).
async fn views<S: EventStore>(state: &AppState<S>) -> Result<tokio::sync::RwLockReadGuard<'_, Views>, Error> {
    state.live.catch_up(state.service.store()).await?;
    Ok(state.live.read().await)
}

/// A ticket's public row, from the board and [`public::Requests`].
fn public_row(
    world: &gridloop_engine::World,
    views: &Views,
    id: &TicketId,
    reader: Option<&Principal>,
) -> Option<Value> {
    let ticket = views.board.state().get(id).ok()??;
    let permitted = reader.is_some_and(|who| permit(who, Access::Read(Read::Ticket), Target::Ticket(&ticket)).is_ok());
    let reach = if permitted { public::Reach::Permitted } else { public::Reach::Public };
    Some(public::row(world, &ticket, views.open311.state().updated(id), reach))
}

/// `GET tokens/{token}`: the token is the request's id.
#[utoipa::path(
    get,
    path = "/tokens/{token}.{format}",
    operation_id = "open311_token",
    tag = "open311",
    summary = "Open311: the request a token names (a request's token is its id)",
    params(("token" = String, Path, description = "A request's token: its id"), ("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The request's id, in JSON or XML by the suffix", content((Vec<crate::openapi::shapes::ServiceRequestId> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn get_token<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(file): Path<String>,
    query: Result<Query<Params>, QueryRejection>,
) -> Response {
    let (token, format) = match split_format(&file) {
        Ok(split) => split,
        Err(failure) => return failure.render(Format::Xml),
    };
    let result = async {
        admit(&state, &peer)?;
        params(&state, query)?;
        find(&state, token, None).await?;
        Ok(Doc::new("service_requests", json!([{ "service_request_id": token, "token": token }])))
    };
    answer(format, result.await)
}

/// What a `GET requests` asks for.
#[derive(Debug)]
struct Filter {
    service_code: Option<String>,
    closed: Option<bool>,
    from: Timestamp,
    to: Timestamp,
}

/// `GET requests`: the listed ids, else the newest requests in the window
/// that pass the filters, at most [`REQUESTS_MAX`].
#[utoipa::path(
    get,
    path = "/requests.{format}",
    operation_id = "open311_requests",
    tag = "open311",
    summary = "Open311 service requests: the listed ids, else the newest in the window that pass the filters",
    params(("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The requests, in JSON or XML by the suffix", content((Vec<crate::openapi::shapes::ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address (reads) or api_key (writes): the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn list_requests<S: EventStore>(state: &AppState<S>, params: &Params) -> Result<Doc, Failure> {
    let listed = params.service_request_id.as_deref().map(listed_ids).transpose()?;
    let filter = if listed.is_none() { Some(filter_of(state, params)?) } else { None };
    let reader = reader(state, params)?;
    let views = views(state).await?;
    let world = world(state);
    let board = views.board.state();
    let ids: Box<dyn Iterator<Item = TicketId>> = match (listed, &filter) {
        (Some(ids), _) => Box::new(ids.into_iter()),
        (None, Some(f)) => Box::new(
            views
                .open311
                .state()
                .submitted_between(f.from, f.to, TICKETS_FOLDED_MAX)
                .map_err(AppError::from)?
                .into_iter(),
        ),
        (None, None) => Box::new(std::iter::empty()),
    };
    let passing =
        ids.filter(|id| board.get(id).ok().flatten().is_some_and(|t| filter.as_ref().is_none_or(|f| passes(f, &t))));
    let rows = passing.filter_map(|id| public_row(&world, &views, &id, reader.as_ref())).take(REQUESTS_MAX).collect();
    Ok(Doc::new("service_requests", Value::Array(rows)))
}

/// A comma-separated id list; it overrides every other filter (the spec's rule).
fn listed_ids(list: &str) -> Result<Vec<TicketId>, Failure> {
    let ids: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if ids.len() > REQUEST_IDS_MAX {
        return Err(Failure::bad_request(format!("service_request_id: at most {REQUEST_IDS_MAX} ids")));
    }
    ids.into_iter()
        .map(|id| TicketId::new(id).map_err(|e| Failure::bad_request(format!("service_request_id: {e}"))))
        .collect()
}

/// The filters and the window: both dates, or one and 90 days from it, or
/// the last 90 days; a window over 90 days or ending before it starts is 400.
fn filter_of<S: EventStore>(state: &AppState<S>, params: &Params) -> Result<Filter, Failure> {
    let (from, to) = window(state, params, DATE_SPAN_DAYS_MAX)?;
    let closed = match params.status.as_deref() {
        None | Some("") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(_) => return Err(Failure::bad_request("status: open or closed")),
    };
    Ok(Filter { service_code: params.service_code.clone().filter(|c| !c.is_empty()), closed, from, to })
}

/// The window `start_date..=end_date`: both dates, or a start and
/// [`DATE_SPAN_DAYS_MAX`] days from it, or `default_days` before the end
/// (or now); a window over 90 days or ending before it starts is 400.
fn window<S: EventStore>(
    state: &AppState<S>,
    params: &Params,
    default_days: u64,
) -> Result<(Timestamp, Timestamp), Failure> {
    let span = Millis(DATE_SPAN_DAYS_MAX * DAY_MS);
    let before = |t: Timestamp| Timestamp::from_millis(t.as_millis() - (default_days * DAY_MS) as i64);
    let date = |text: &Option<String>, field| text.as_deref().map(|t| parse_date(t, field)).transpose();
    let (from, to) = match (date(&params.start_date, "start_date")?, date(&params.end_date, "end_date")?) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, from.plus(span)),
        (None, Some(to)) => (before(to)?, to),
        (None, None) => {
            let now = state.service.clock().now();
            (before(now)?, now)
        }
    };
    if to < from || to.since(from) > span {
        return Err(Failure::bad_request(format!("the dates must span 0 to {DATE_SPAN_DAYS_MAX} days")));
    }
    Ok((from, to))
}

/// `GET servicerequestupdates` (mySociety's extension, as FixMyStreet
/// reads it): every change of status within the window, oldest first, at
/// most [`UPDATES_MAX`], each in plain words (`docs/adr/0004`).
#[utoipa::path(
    get,
    path = "/servicerequestupdates.{format}",
    operation_id = "open311_request_updates",
    tag = "open311",
    summary = "Open311 (mySociety's extension): the changes of status within start_date..end_date, oldest first",
    params(("format" = crate::openapi::Format, Path, description = "The answer's format"), Params),
    responses(
        (status = 200, description = "The updates, in JSON or XML (service_requests_updates of request_update) by the suffix", content((Vec<crate::openapi::shapes::RequestUpdate> = "application/json"), (String = "text/xml"))),
        (status = 400, description = "Unknown format, jurisdiction or field, or a window over 90 days: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such resource: the spec's error list", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Past the rate of this client address: the spec's error list, with Retry-After", content((Vec<crate::openapi::Open311Error> = "application/json"), (String = "text/xml"))),
    )
)]
async fn list_updates<S: EventStore>(state: &AppState<S>, params: &Params) -> Result<Doc, Failure> {
    let (from, to) = window(state, params, UPDATES_DEFAULT_DAYS)?;
    let views = views(state).await?;
    let updates = views.updates.between(from, to, UPDATES_MAX).map_err(AppError::from)?;
    let rows = updates.iter().map(public::update_row).collect();
    Ok(Doc::new("service_requests_updates", Value::Array(rows)))
}

/// RFC 3339 with `Z` or an offset (`+08:00`), read by jiff; a `+` that a
/// client left unencoded in the query string arrives as a space, and is read
/// as `+`. The text is never sliced by byte, so no input can panic here.
fn parse_date(text: &str, field: &str) -> Result<Timestamp, Failure> {
    let refuse = || Failure::bad_request(format!("{field}: expected RFC 3339, like 2026-11-23T08:00:00+08:00"));
    let text = text.trim();
    let text = match text.rsplit_once(' ') {
        Some((local, offset)) => format!("{local}+{offset}"),
        None => text.to_string(),
    };
    let parsed: jiff::Timestamp = text.parse().map_err(|_| refuse())?;
    Timestamp::from_millis(parsed.as_millisecond()).map_err(|_| refuse())
}

fn passes(filter: &Filter, ticket: &Ticket) -> bool {
    let code_ok = filter.service_code.as_deref().is_none_or(|c| ticket.item.as_ref().is_some_and(|i| i.as_str() == c));
    let status_ok = filter.closed.is_none_or(|closed| closed == public::is_closed(ticket.status));
    code_ok && status_ok
}

/// Writes a document as XML with quick-xml's writer: objects become
/// elements per field, arrays repeat their item element ([`item_name`]),
/// nulls are left out, and text passes through [`xml_text`] first.
fn xml(root: &str, body: &Value) -> std::io::Result<String> {
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    writer.get_mut().push(b'\n');
    element(&mut writer, root, body)?;
    let mut out = writer.into_inner();
    out.push(b'\n');
    // Only `&str`s went in, so the bytes are UTF-8; lossy merely avoids a panic path.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn element(writer: &mut Writer<Vec<u8>>, name: &str, value: &Value) -> std::io::Result<()> {
    let text = match value {
        Value::Null => return Ok(()),
        Value::Object(fields) => {
            writer.write_event(Event::Start(BytesStart::new(name)))?;
            for (key, field) in fields {
                element(writer, key, field)?;
            }
            return writer.write_event(Event::End(BytesEnd::new(name)));
        }
        Value::Array(items) => {
            writer.write_event(Event::Start(BytesStart::new(name)))?;
            for item in items {
                element(writer, item_name(name), item)?;
            }
            return writer.write_event(Event::End(BytesEnd::new(name)));
        }
        Value::String(text) => xml_text(text),
        Value::Bool(_) | Value::Number(_) => Cow::Owned(value.to_string()),
    };
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(&text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))
}

/// The element of one item of each list the spec names.
fn item_name(list: &str) -> &'static str {
    match list {
        "service_requests" => "request",
        "service_requests_updates" => "request_update",
        "services" => "service",
        "errors" => "error",
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        _ => "item",
    }
}

/// Text as XML 1.0 allows it: each character outside its `Char` production
/// (control characters but tab, line feed and carriage return; U+FFFE and
/// U+FFFF) becomes U+FFFD. The engine's free text allows U+FFFE, and an
/// error may echo a path segment, so without this one such character would
/// make a whole `requests.xml` unreadable to every conforming parser.
fn xml_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().map(|c| if is_xml_char(c) { c } else { char::REPLACEMENT_CHARACTER }).collect())
}

/// XML 1.0's `Char` production (a `char` is never a surrogate).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_become_micro_degrees_exactly() {
        assert_eq!(micro_degrees("21.27", "lat").unwrap(), 21_270_000);
        assert_eq!(micro_degrees("-110.1234567", "long").unwrap(), -110_123_456);
        assert_eq!(micro_degrees(".5", "lat").unwrap(), 500_000);
        for bad in ["", "-", "1e5", "1234.5", "12.3.4", "abc", &"1".repeat(DEGREES_BYTES_MAX + 1)] {
            assert!(micro_degrees(bad, "lat").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_take_offsets() {
        let utc = Timestamp::parse("2026-11-23T00:00:00Z").unwrap();
        assert_eq!(parse_date("2026-11-23T08:00:00+08:00", "d").unwrap(), utc);
        assert_eq!(parse_date("2026-11-23T08:00:00 08:00", "d").unwrap(), utc);
        assert_eq!(parse_date("2026-11-22T19:00:00-05:00", "d").unwrap(), utc);
        assert_eq!(parse_date("2026-11-23T00:00:00Z", "d").unwrap(), utc);
        assert!(parse_date("yesterday", "d").is_err());
        assert!(parse_date("2026-11-23T08:00:00+0x:00", "d").is_err());
        // Multi-byte characters where the offset's digits go once made the
        // byte-sliced parser panic: now they are a 400 like any other typo.
        for bad in ["2026-11-23T08:00:00+é:00", "2026-11-23T08:00:00+08:é", "2026-11-23T08:00:0é+08:00", "十一月"]
        {
            assert!(parse_date(bad, "d").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn xml_escapes_and_names_items() {
        let body = json!([{ "code": 404, "description": "a<b & 'c' \"d\">" }]);
        let text = xml("errors", &body).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error>"), "{text}");
        assert!(text.contains("<code>404</code>"), "{text}");
        assert!(text.contains("a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;"), "{text}");
    }

    #[test]
    fn text_outside_xml_chars_is_replaced() {
        assert!(matches!(xml_text("水管 <&> 'x' \"y\"\t\n🚰"), Cow::Borrowed(_)));
        assert_eq!(xml_text("a\u{0}b\u{1B}c\u{FFFE}d\u{FFFF}e\u{7F}"), "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{7F}");
        let body = json!({ "description": "x\u{8}y\u{FFFF}" });
        let text = xml("request", &body).unwrap();
        assert!(text.contains("<description>x\u{FFFD}y\u{FFFD}</description>"), "{text:?}");
        assert!(text.chars().all(is_xml_char), "{text:?}");
    }
}
