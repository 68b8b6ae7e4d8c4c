//! Each failed request is logged once, by the middleware around every
//! route, with the detail a 500's body leaves out. Its own test binary:
//! tracing caches per call site whether anyone listens, so a subscriber set
//! for one test among many running in parallel could miss events.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use gridloop_engine::Error;
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::Timestamp;
use gridloop_http::{AppError, AppState, TokenTable, with_layers};
use tower::ServiceExt as _;

/// Failure logs seen: each event that carries a `code` field, with its
/// level and its `detail`.
#[derive(Debug, Default)]
struct Failures(Mutex<Vec<(tracing::Level, String)>>);

struct Detail(String);

impl tracing::field::Visit for Detail {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "detail" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Failures {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().fields().field("code").is_some() {
            let mut detail = Detail(String::new());
            event.record(&mut detail);
            self.0.lock().expect("not poisoned").push((*event.metadata().level(), detail.0));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

async fn boom() -> &'static str {
    panic!("the secret inside")
}

async fn refuse() -> Result<&'static str, AppError> {
    Err(Error::NotFound { kind: "ticket", id: "T-99".into() }.into())
}

async fn status(router: &Router, path: &str) -> StatusCode {
    let request = Request::get(path).body(Body::empty()).expect("a request");
    router.clone().oneshot(request).await.expect("the router answers").status()
}

#[test]
fn each_failure_is_logged_once_with_its_detail() {
    let failures = Arc::new(Failures::default());
    tracing::subscriber::with_default(failures.clone(), || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
            let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
            let service = Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock, 7));
            let state = AppState::new(service, TokenTable::new(), gridloop_http::Cold::default()).await.expect("state");
            let routes = Router::new().route("/boom", get(boom)).route("/refuse", get(refuse));
            let router = with_layers(routes, state);
            assert_eq!(status(&router, "/refuse").await, StatusCode::NOT_FOUND);
            assert_eq!(status(&router, "/boom").await, StatusCode::INTERNAL_SERVER_ERROR);
        });
    });
    let seen = failures.0.lock().expect("not poisoned").clone();
    assert_eq!(seen.len(), 2, "one log per failed request: {seen:?}");
    assert_eq!(seen[0].0, tracing::Level::DEBUG, "a refusal is not an error: {seen:?}");
    assert!(seen[0].1.contains("T-99"), "{seen:?}");
    assert_eq!(seen[1].0, tracing::Level::ERROR, "{seen:?}");
    assert!(seen[1].1.contains("the secret inside"), "the log has what the body leaves out: {seen:?}");
}
