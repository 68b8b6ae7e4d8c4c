//! The error path: each engine error's status is the one its doc states, a
//! 500 names nothing inside, a panic is a counted JSON 500, and every
//! extractor refuses in the JSON error shape.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse as _;
use axum::routing::get;
use gridloop_engine::Error;
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::Timestamp;
use gridloop_http::error::INTERNAL_MESSAGE;
use gridloop_http::{AppError, AppState, TokenTable, telemetry, with_layers};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{code, harness};

/// The engine's error module, whose variant docs state the HTTP status.
const ENGINE_ERRORS: &str = include_str!("../../../../engine/src/error.rs");

/// One error of every variant. The match in [`name`] has no wildcard, so a
/// new variant fails to compile here until it is added to this list.
fn every_variant() -> Vec<Error> {
    let s = || "x".to_string();
    vec![
        Error::Invalid { field: "f", reason: s() },
        Error::BadGridCode { code: s(), part: "street", reason: s() },
        Error::NotFound { kind: "ticket", id: s() },
        Error::AlreadyExists { kind: "ticket", id: s() },
        Error::IllegalTransition { command: "accept", status: "closed" },
        Error::NotOffered { ticket: s(), who: s() },
        Error::AlreadyTaken { ticket: s() },
        Error::OfferExpired { ticket: s() },
        Error::NotHolder { ticket: s(), who: s() },
        Error::NotPermitted { role: "resident", command: "close" },
        Error::NotAdmitted { item: s(), department: s() },
        Error::InsufficientPoints { balance: 1, asked: 2 },
        Error::UnknownReference { kind: "volunteer", id: s() },
        Error::AssigneeUnavailable { who: s(), status: "stood down" },
        Error::DuplicateCycle { ticket: s(), of: s() },
        Error::LocationOutsideGrid { grid: s() },
        Error::WrongExpectedVersion { stream: s(), expected: s(), actual: 3 },
        Error::Contended { stream: s(), attempts: 16 },
        Error::Storage(s()),
        Error::Corrupt("the secret inside".into()),
    ]
}

fn name(error: &Error) -> &'static str {
    match error {
        Error::Invalid { .. } => "Invalid",
        Error::BadGridCode { .. } => "BadGridCode",
        Error::NotFound { .. } => "NotFound",
        Error::AlreadyExists { .. } => "AlreadyExists",
        Error::IllegalTransition { .. } => "IllegalTransition",
        Error::NotOffered { .. } => "NotOffered",
        Error::AlreadyTaken { .. } => "AlreadyTaken",
        Error::OfferExpired { .. } => "OfferExpired",
        Error::NotHolder { .. } => "NotHolder",
        Error::NotPermitted { .. } => "NotPermitted",
        Error::NotAdmitted { .. } => "NotAdmitted",
        Error::InsufficientPoints { .. } => "InsufficientPoints",
        Error::UnknownReference { .. } => "UnknownReference",
        Error::AssigneeUnavailable { .. } => "AssigneeUnavailable",
        Error::DuplicateCycle { .. } => "DuplicateCycle",
        Error::LocationOutsideGrid { .. } => "LocationOutsideGrid",
        Error::WrongExpectedVersion { .. } => "WrongExpectedVersion",
        Error::Contended { .. } => "Contended",
        Error::Storage(_) => "Storage",
        Error::Corrupt(_) => "Corrupt",
    }
}

/// Each variant of `pub enum Error` with the status its doc states
/// ("HTTP 409"); panics when a doc states none, or two.
fn documented_statuses() -> BTreeMap<String, u16> {
    let body = ENGINE_ERRORS.split("pub enum Error {").nth(1).expect("the enum").split("\n}").next().expect("its end");
    let (mut statuses, mut doc) = (BTreeMap::new(), String::new());
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(' ');
            doc.push_str(text.trim());
        } else if line.starts_with(|c: char| c.is_ascii_uppercase()) {
            let variant: String = line.chars().take_while(char::is_ascii_alphanumeric).collect();
            let mut stated: Vec<u16> =
                doc.split("HTTP ").skip(1).filter_map(|rest| rest.get(..3)?.parse().ok()).collect();
            stated.dedup();
            assert_eq!(stated.len(), 1, "{variant}'s doc states one HTTP status: {doc}");
            statuses.insert(variant, stated[0]);
            doc.clear();
        }
    }
    statuses
}

#[tokio::test]
async fn every_engine_error_answers_the_status_its_doc_states() {
    let documented = documented_statuses();
    let errors = every_variant();
    let mut names: Vec<&str> = errors.iter().map(name).collect();
    names.sort_unstable();
    let documented_names: Vec<&str> = documented.keys().map(String::as_str).collect();
    assert_eq!(names, documented_names, "the variants tested are the variants documented");
    for error in errors {
        let (variant, engine_code) = (name(&error), error.code());
        let response = AppError::from(error).into_response();
        let status = response.status().as_u16();
        assert_eq!(status, documented[variant], "{variant} ({engine_code}): the doc and the HTTP mapping agree");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
        let body: Value = serde_json::from_slice(&bytes).expect("a JSON body");
        assert_eq!(code(&body), engine_code, "{variant}: the stable code: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn a_500_names_nothing_inside() {
    for error in [AppError::from(Error::Corrupt("chain broken at /var/lib/x".into())), AppError::Internal("rng".into())]
    {
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
        let body: Value = serde_json::from_slice(&bytes).expect("a JSON body");
        assert_eq!(body["error"]["message"], INTERNAL_MESSAGE, "{body}");
        assert!(["corrupt_log", "internal"].contains(&code(&body)), "{body}");
    }
    // A refusal keeps its sentence: the caller can act on it.
    let response = AppError::from(Error::invalid("grid", "no such grid")).into_response();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
    assert!(String::from_utf8_lossy(&bytes).contains("no such grid"));
}

async fn call(router: &Router, path: &str) -> (StatusCode, String, String) {
    let response = router.clone().oneshot(Request::get(path).body(Body::empty()).expect("a request")).await;
    let response = response.expect("the router answers");
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, kind.unwrap_or_default(), String::from_utf8_lossy(&bytes).into_owned())
}

async fn boom() -> &'static str {
    panic!("the secret inside")
}

/// A request part whose extraction panics: a panic before the handler runs.
struct Exploding;

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Exploding {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, AppError> {
        // Text cut by byte inside a character: the class of bug this guards.
        let text = format!("十{}", parts.uri.path());
        Err(AppError::Internal(text[..1].to_string()))
    }
}

async fn exploding(_: Exploding) -> &'static str {
    "never"
}

/// A middleware (inside the layers every route runs in) that panics.
async fn exploding_layer(_: axum::extract::Request, _: axum::middleware::Next) -> axum::response::Response {
    panic!("a layer gave way")
}

/// Only this test's router has routes that panic; the production router has
/// none. Each panic (in a handler, an extractor, a middleware) answers a
/// JSON 500 without its message, and `/metrics` counts it as a 5xx and as
/// a panic.
#[tokio::test]
async fn a_panicking_handler_answers_a_counted_json_500() {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let service = Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock, 7));
    let state = AppState::new(service, TokenTable::new(), gridloop_http::Cold::default()).await.expect("state");
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/extract/{x}", get(exploding))
        .route("/layer", get(boom).route_layer(axum::middleware::from_fn(exploding_layer)))
        .route("/metrics", get(telemetry::metrics::<MemoryStore>));
    let router = with_layers(routes, state);
    for path in ["/boom", "/extract/x", "/layer"] {
        let (status, kind, text) = call(&router, path).await;
        assert_eq!((status, kind.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "application/json"), "{path}: {text}");
        let body: Value = serde_json::from_str(&text).expect("a JSON body");
        assert_eq!((code(&body), &body["error"]["message"]), ("internal", &Value::from(INTERNAL_MESSAGE)), "{path}");
        assert!(!text.contains("secret") && !text.contains("gave way"), "{path}: {text}");
    }
    let (_, _, metrics) = call(&router, "/metrics").await;
    assert!(metrics.contains("gridloop_http_requests_total{class=\"5xx\"} 3"), "{metrics}");
    assert!(metrics.contains("gridloop_http_panics_total 3"), "{metrics}");
    let (_, _, metrics) = call(&router, "/metrics").await;
    assert!(metrics.contains("gridloop_http_panics_total 3"), "a scrape is no panic: {metrics}");
}

#[tokio::test]
async fn every_extractor_refuses_in_the_json_shape() {
    let h = harness().await;
    let id = h.order(crate::VOLUNTEER_ITEM).await;
    let refused = [
        (format!("/api/v1/tickets/{id}/history?verify=1"), "GET", "", "invalid_input"),
        (format!("/api/v1/tickets/{id}/history?as_of=%FF"), "GET", "", "invalid_input"),
        ("/api/v1/tickets/%FF".to_string(), "GET", "", "invalid_input"),
        ("/api/v1/tickets/T-1/%FF".to_string(), "POST", "{}", "invalid_input"),
        ("/api/v1/volunteers/%FF".to_string(), "GET", "", "invalid_input"),
        ("/api/v1/queues/%FF/x".to_string(), "GET", "", "invalid_input"),
        ("/api/v1/tickets?page=many".to_string(), "GET", "", "invalid_input"),
        ("/api/v1/tickets".to_string(), "POST", "{not json", "invalid_json"),
        (format!("/api/v1/tickets/{id}/cancel"), "POST", "[1,2", "invalid_input"),
    ];
    for (path, method, body, expected) in refused {
        let (status, answer) = h.send(method, &path, Some("auditor"), None, body).await;
        let (status, answer) = if status == StatusCode::FORBIDDEN {
            h.send(method, &path, Some("dispatcher"), None, body).await
        } else {
            (status, answer)
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(code(&answer), expected, "{method} {path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() > 10, "{method} {path}: a sentence: {answer}");
    }
    // A route that does not take the method: 405 in the same shape, nested
    // routes too (axum answers those with an empty body of its own).
    for (method, path) in [("DELETE", "/api/v1/tickets"), ("POST", "/api/v1/volunteers/V-1"), ("PUT", "/healthz")] {
        let (status, answer) = h.send(method, path, Some("dispatcher"), None, "").await;
        assert_eq!((status, code(&answer)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"), "{method} {path}");
    }
    // Open311 refuses in its own shape, XML being its required format.
    let (status, kind, text) = call(&h.router, "/open311/v2/requests/%FF.xml").await;
    assert_eq!((status, kind.as_str()), (StatusCode::BAD_REQUEST, "text/xml; charset=utf-8"), "{text}");
    assert!(text.contains("<errors><error><code>400</code><description>"), "{text}");
}
