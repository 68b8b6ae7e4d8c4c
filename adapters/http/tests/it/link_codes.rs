//! `POST /volunteers/{id}/link-code`: a dispatcher gets a one-time code for
//! the chat bot; the log keeps only its hash; nobody else may issue one.

use axum::http::StatusCode;
use gridloop_engine::ids::VolunteerId;
use gridloop_engine::service::Clock;
use gridloop_engine::store::EventStore;
use gridloop_engine::volunteer::{LINK_CODE_TTL, link_code_hash};

use crate::{code, harness};

#[tokio::test]
async fn a_dispatcher_gets_a_fresh_code_each_time_and_the_log_keeps_only_its_hash() {
    let h = harness().await;
    h.register_v1().await;
    let (status, first) = h.post("/api/v1/volunteers/V-1/link-code", "dispatcher", "").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let code = first["code"].as_str().expect("a code");
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(first["volunteer"], "V-1");
    let expected = h.clock.now().plus(LINK_CODE_TTL).to_string();
    assert_eq!(first["expires_at"], expected.as_str());

    let log = h.store.read_all(1, 1_000).await.expect("reads");
    let written = serde_json::to_string(&log.iter().map(|e| &e.payload).collect::<Vec<_>>()).expect("json");
    assert!(!written.contains(&format!("\"{code}\"")), "the code itself is never written");
    assert!(written.contains(&link_code_hash(code)), "its hash is");

    // Each call issues another code (the old one stops working).
    let (status, _) = h.post("/api/v1/volunteers/V-1/link-code", "dispatcher", "").await;
    assert_eq!(status, StatusCode::OK);
    let state = h.service.volunteer(&VolunteerId::from_number(1)).await.expect("loads");
    assert_ne!(state.link_code.map(|c| c.code_hash), Some(link_code_hash(code)));
}

#[tokio::test]
async fn only_dispatchers_issue_codes_and_only_for_volunteers_who_exist() {
    let h = harness().await;
    h.register_v1().await;
    for who in ["volunteer", "resident", "auditor", "grid_worker", "department"] {
        let (status, body) = h.post("/api/v1/volunteers/V-1/link-code", who, "").await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"), "{who}: {body}");
    }
    let (status, body) = h.post("/api/v1/volunteers/V-99/link-code", "dispatcher", "").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    let (status, body) = h.post("/api/v1/volunteers/nobody/link-code", "dispatcher", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_repeat_under_the_same_key_issues_no_second_code() {
    let h = harness().await;
    h.register_v1().await;
    let path = "/api/v1/volunteers/V-1/link-code";
    let (status, first) = h.send("POST", path, Some("dispatcher"), Some("code-1"), "").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let before = h.store.snapshot().len();
    let (status, again) = h.send("POST", path, Some("dispatcher"), Some("code-1"), "").await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "already_exists"), "{again}");
    assert_eq!(h.store.snapshot().len(), before, "nothing written");
    let state = h.service.volunteer(&VolunteerId::from_number(1)).await.expect("loads");
    let first_code = first["code"].as_str().expect("a code");
    assert_eq!(state.link_code.map(|c| c.code_hash), Some(link_code_hash(first_code)), "the first code still works");
}
