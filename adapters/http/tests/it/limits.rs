//! The per-token rate limit (429 `rate_limited` with `Retry-After`, on the
//! manual clock) and the request timeout (503 `timeout`). The body limit's
//! 413 is tested with the routes.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::RETRY_AFTER;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use gridloop_engine::store::EventStore as _;
use gridloop_engine::time::Millis;
use gridloop_http::{RATE_BURST, RATE_PER_MINUTE, with_timeout};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Harness, code, harness};

/// `GET /api/v1/catalog` as `who`: the status, the `Retry-After` header and the body.
async fn catalog(h: &Harness, who: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::get("/api/v1/catalog")
        .header("authorization", format!("Bearer {}", h.token(who)))
        .body(Body::empty())
        .expect("a valid request");
    let response = h.router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let retry_after = response.headers().get(RETRY_AFTER).map(|v| v.to_str().expect("ascii").to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_token_past_its_burst_is_told_to_wait_and_others_are_not() {
    let h = harness().await;
    for i in 0..RATE_BURST {
        let (status, _, body) = catalog(&h, "resident").await;
        assert_eq!(status, StatusCode::OK, "request {i} of the burst: {body}");
    }
    let (status, retry_after, body) = catalog(&h, "resident").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "rate_limited");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("requests a minute")), "{body}");
    let seconds: u64 = retry_after.expect("a Retry-After header").parse().expect("whole seconds");
    assert!(seconds >= 1, "{seconds}");

    // Another token has its own bucket.
    let (status, _, body) = catalog(&h, "neighbour").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A refused request takes nothing: once one request's worth has
    // refilled, the token goes again, once.
    h.clock.advance(Millis(60_000 / u64::from(RATE_PER_MINUTE)));
    let (status, retry_after, body) = catalog(&h, "resident").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(retry_after, None);
    let (status, _, body) = catalog(&h, "resident").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    // After Retry-After seconds, it may go again.
    h.clock.advance(Millis(seconds * 1_000));
    let (status, _, body) = catalog(&h, "resident").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn writes_are_limited_too_and_write_nothing() {
    let h = harness().await;
    for _ in 0..RATE_BURST {
        assert_eq!(catalog(&h, "resident").await.0, StatusCode::OK);
    }
    let events = || async { h.store.read_all(0, 10_000).await.expect("readable").len() };
    let before = events().await;
    let body = format!(r#"{{"category":"{}","grid":"{}","description":"a leak"}}"#, crate::VOLUNTEER_ITEM, h.grid);
    let (status, answer) = h.post("/api/v1/tickets", "resident", &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(code(&answer), "rate_limited");
    assert_eq!(events().await, before, "nothing written");
}

#[tokio::test]
async fn a_slow_request_times_out_and_a_fast_one_does_not() {
    let app: Router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/fast", get(|| async { "prompt" }));
    let app = with_timeout(app, Duration::from_millis(100));

    let request = Request::get("/slow").body(Body::empty()).expect("a valid request");
    let response = app.clone().oneshot(request).await.expect("the router answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON error");
    assert_eq!(code(&body), "timeout");

    let request = Request::get("/fast").body(Body::empty()).expect("a valid request");
    let response = app.oneshot(request).await.expect("the router answers");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    assert_eq!(&bytes[..], b"prompt");
}
