//! `/metrics` counts requests by class, times them, and reports the board's
//! tickets by status and the projections' position and lag.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use crate::{VOLUNTEER_ITEM, harness};

#[tokio::test]
async fn metrics_report_requests_tickets_and_lag_in_prometheus_text() {
    let h = harness().await;
    h.order(VOLUNTEER_ITEM).await;
    let (status, _) = h.get("/api/v1/tickets/T-99", "auditor").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A read route catches the projections up; the scrape itself does not,
    // so that it can show a lag.
    let (status, _) = h.get("/api/v1/tickets", "auditor").await;
    assert_eq!(status, StatusCode::OK);
    let scrape = || async {
        let request = Request::get("/metrics").body(Body::empty()).expect("request");
        let response = h.router.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "no token needed");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        String::from_utf8(body.to_vec()).expect("utf-8")
    };
    let text = scrape().await;
    let value_in = |text: &str, name: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        line.rsplit(' ').next().expect("a value").parse().expect("a number")
    };
    let value = |name: &str| value_in(&text, name);
    assert!(value("gridloop_http_requests_total{class=\"2xx\"}") >= 1);
    assert!(value("gridloop_http_requests_total{class=\"4xx\"}") >= 1);
    assert_eq!(value("gridloop_tickets{status=\"submitted\"}"), 1);
    assert_eq!(value("gridloop_projection_lag_events"), 0, "reads catch up with the writes");
    assert!(value("gridloop_projection_position") >= 1);
    assert!(value("gridloop_http_request_duration_seconds_count") >= 2);
    assert!(text.contains("# TYPE gridloop_http_request_duration_seconds histogram"));
    h.order(VOLUNTEER_ITEM).await;
    let later = scrape().await;
    assert!(value_in(&later, "gridloop_projection_lag_events") >= 1, "a new order is not applied until a read");
    assert_eq!(value("gridloop_tickets_overdue "), 0, "a fresh order missed nothing");
    // Both orders pass their accept deadline (a day) untaken.
    h.clock.advance(gridloop_engine::time::Millis::days(2));
    let (status, _) = h.get("/api/v1/tickets", "auditor").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(value_in(&scrape().await, "gridloop_tickets_overdue "), 2, "open tickets that missed a deadline");
}
