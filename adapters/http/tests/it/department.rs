//! A department's return (退单), the dispatcher's arbitration, an
//! extension (延期) granted, and urges (催办), over HTTP: what each caller
//! is offered (`actions`), what is written, and the refusals with their
//! codes (nothing written for any of them).

use axum::http::StatusCode;
use gridloop_engine::store::EventStore;
use serde_json::Value;

use crate::{Harness, VOLUNTEER_ITEM, code, harness};

async fn log_len(h: &Harness) -> usize {
    h.store.read_all(1, usize::MAX).await.expect("reads").len()
}

fn actions(ticket: &Value) -> Vec<String> {
    ticket["actions"].as_array().expect("a list").iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

/// A refused request: its status and code, and nothing written.
async fn refused(h: &Harness, path: &str, who: &str, body: &str, status: StatusCode, expected: &str) {
    let before = log_len(h).await;
    let (got, answer) = h.post(path, who, body).await;
    assert_eq!((got, code(&answer)), (status, expected), "{path} by {who}: {answer}");
    assert_eq!(log_len(h).await, before, "{path} by {who} wrote nothing");
}

#[tokio::test]
async fn a_department_returns_the_dispatcher_insists_then_grants_an_extension_and_urges() {
    let h = harness().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let path = format!("/api/v1/tickets/{id}");
    let assign = r#"{"to":{"kind":"department","id":"civil_affairs"},"reason":"派单"}"#;
    assert_eq!(h.post(&format!("{path}/assign"), "dispatcher", assign).await.0, StatusCode::OK);

    let (_, held) = h.get(&path, "department").await;
    let offered = actions(&held);
    for action in ["start", "resolve", "return", "ask-extension", "note"] {
        assert!(offered.contains(&action.to_string()), "{action} open to the holder: {offered:?}");
    }
    assert!(!offered.iter().any(|a| a == "insist" || a == "urge"), "{offered:?}");

    refused(&h, &format!("{path}/return"), "department", r#"{"reason":" "}"#, StatusCode::BAD_REQUEST, "invalid_input")
        .await;
    refused(&h, &format!("{path}/insist"), "dispatcher", r#"{"note":"x"}"#, StatusCode::CONFLICT, "illegal_transition")
        .await;
    let (status, answer) = h.post(&format!("{path}/return"), "department", r#"{"reason":"不属民政"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "ticket.returned/1", "{answer}");

    let (_, returned) = h.get(&path, "dispatcher").await;
    assert_eq!((&returned["status"], &returned["board_status"]), (&"returned".into(), &"returned".into()));
    assert_eq!(returned["returned_by"]["id"], "civil_affairs");
    assert_eq!(returned["pending_deadlines"][0]["at"], returned["respond_by"], "{returned}");
    assert!(actions(&returned).contains(&"insist".to_string()), "{returned}");
    let (status, _) = h.get(&path, "department").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer the department's");
    refused(&h, &format!("{path}/assign"), "dispatcher", assign, StatusCode::BAD_REQUEST, "invalid_input").await;
    let (status, answer) = h.post(&format!("{path}/insist"), "dispatcher", r#"{"note":"属民政"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, again) = h.get(&path, "department").await;
    assert_eq!((&again["status"], &again["holder"]["id"]), (&"accepted".into(), &"civil_affairs".into()));

    let deadline = again["resolve_by"].as_str().expect("a deadline").to_string();
    let until = gridloop_engine::time::Timestamp::parse(&deadline)
        .expect("an instant")
        .plus(gridloop_engine::time::Millis(2 * 86_400_000));
    let ask = format!(r#"{{"until":"{until}","reason":"等配件"}}"#);
    refused(
        &h,
        &format!("{path}/ask-extension"),
        "department",
        r#"{"until":"soon","reason":"x"}"#,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    let (status, answer) = h.post(&format!("{path}/ask-extension"), "department", &ask).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    refused(&h, &format!("{path}/ask-extension"), "department", &ask, StatusCode::CONFLICT, "illegal_transition").await;
    let (_, asked) = h.get(&path, "dispatcher").await;
    assert!(actions(&asked).contains(&"grant-extension".to_string()), "{asked}");
    assert!(actions(&asked).contains(&"refuse-extension".to_string()), "{asked}");
    refused(&h, &format!("{path}/grant-extension"), "department", "", StatusCode::FORBIDDEN, "not_permitted").await;
    let (status, answer) = h.post(&format!("{path}/grant-extension"), "dispatcher", "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["payload"]["resolve_by_before"], deadline.as_str(), "{answer}");
    let (_, extended) = h.get(&path, "department").await;
    assert_eq!(extended["resolve_by"], until.to_string(), "{extended}");
    assert_eq!(extended["judged_resolve_by"], until.to_string(), "{extended}");
    assert_eq!(extended["extension"], Value::Null);

    refused(&h, &format!("{path}/urge"), "department", "", StatusCode::FORBIDDEN, "not_permitted").await;
    refused(&h, &format!("{path}/urge"), "far_dispatcher", "", StatusCode::FORBIDDEN, "not_permitted").await;
    let (status, answer) = h.post(&format!("{path}/urge"), "dispatcher", r#"{"note":"居民再次来电"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, board) = h.get("/api/v1/board", "dispatcher").await;
    let row = board["rows"].as_array().expect("rows").iter().find(|r| r["id"] == id.as_str()).cloned();
    assert_eq!(row.map(|r| r["urges"].clone()), Some(1.into()), "the board row counts the urge: {board}");

    let (_, rates) = h.get("/api/v1/metrics/rates", "dispatcher").await;
    let all = &rates["rows"][0]["rates"]["supervision"];
    let counts: Vec<u64> = ["returned", "insisted", "rerouted", "extensions_asked", "extensions_granted", "urged"]
        .iter()
        .map(|k| all[*k].as_u64().expect("a count"))
        .collect();
    assert_eq!(counts, [1, 1, 0, 1, 1, 1], "{all}");
}

/// The department's page at `/d/` and its assets: served without a token
/// (what they show comes from the API), fenced to this origin like the
/// console's, and naming no other host.
#[tokio::test]
async fn the_department_page_and_its_assets_are_embedded_and_fenced_to_this_origin() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;
    let h = harness().await;
    for (path, kind) in [("/d/", "text/html"), ("/d/app.js", "text/javascript"), ("/d/app.css", "text/css")] {
        let request = Request::builder().uri(path).body(Body::empty()).expect("a request");
        let response = h.router.clone().oneshot(request).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{path} needs no token");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().expect("ascii").starts_with(kind), "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{policy}");
    }
    use gridloop_http::department::{PAGE_HTML, SCRIPT_JS, STYLE_CSS};
    for asset in [PAGE_HTML, SCRIPT_JS, STYLE_CSS] {
        assert_eq!(
            asset.matches("http://").count() + asset.matches("https://").count(),
            0,
            "an external URL in an asset"
        );
    }
    assert!(SCRIPT_JS.contains("ticket.actions"), "the forms follow the API's actions");
}
