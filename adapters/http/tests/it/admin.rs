//! The admin role: issues, lists and revokes tokens, and nothing else.

use axum::http::StatusCode;

use crate::harness;

#[tokio::test]
async fn an_admin_issues_lists_and_revokes_tokens() {
    let h = harness().await;
    let (status, issued) =
        h.post("/api/v1/tokens", "admin", r#"{"role":"dispatcher","subject":"d-new","place":"440802-001"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().expect("the token, once").to_string();
    let id = issued["id"].as_str().expect("an id").to_string();
    assert_eq!((issued["role"].as_str(), issued["place"].as_str()), (Some("dispatcher"), Some("440802-001")));
    // The new token works at once.
    let request = |token: String| {
        let h = &h;
        async move {
            let req = axum::http::Request::builder()
                .uri("/api/v1/tickets")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request");
            tower::ServiceExt::oneshot(h.router.clone(), req).await.expect("answer").status()
        }
    };
    assert_eq!(request(token.clone()).await, StatusCode::OK);
    let (status, listed) = h.get("/api/v1/tokens", "admin").await;
    assert_eq!(status, StatusCode::OK);
    let rows = listed["tokens"].as_array().expect("rows");
    assert!(rows.iter().any(|r| r["id"] == id.as_str() && r["subject"] == "d-new"), "{listed}");
    assert!(!listed.to_string().contains(&token), "a listing never shows a token");
    let (status, answer) = h.send("DELETE", &format!("/api/v1/tokens/{id}"), Some("admin"), None, "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(request(token).await, StatusCode::UNAUTHORIZED, "a revoked token is refused at once");
    let (status, _) = h.send("DELETE", &format!("/api/v1/tokens/{id}"), Some("admin"), None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoking twice finds nothing");
}

#[tokio::test]
async fn admins_manage_tokens_only_and_only_admins_do() {
    let h = harness().await;
    for who in ["dispatcher", "auditor", "resident", "volunteer"] {
        let (status, answer) = h.get("/api/v1/tokens", who).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} lists tokens: {answer}");
        let (status, _) = h.post("/api/v1/tokens", who, r#"{"role":"admin","subject":"x"}"#).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} issues a token");
        let (status, _) = h.send("DELETE", "/api/v1/tokens/0123456789abcdef", Some(who), None, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} revokes a token");
    }
    let order =
        format!(r#"{{"category":"IC-003","grid":"{}","description":"a leaking tap","resident":"r-1"}}"#, h.grid);
    let (status, answer) = h.post("/api/v1/tickets", "admin", &order).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin orders nothing: {answer}");
    let before = h.store.snapshot().len();
    for body in [
        r#"{"role":"system","subject":"x"}"#,
        r#"{"role":"emperor","subject":"x"}"#,
        r#"{"role":"auditor","subject":""}"#,
        r#"{"role":"auditor","subject":"x","place":"440802-001"}"#,
        r#"{"role":"dispatcher","subject":"x","place":"nowhere"}"#,
        r#"{"role":"auditor","subject":"x","extra":1}"#,
        r#"{"role":"auditor"}"#,
    ] {
        let (status, answer) = h.post("/api/v1/tokens", "admin", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    assert_eq!(h.store.snapshot().len(), before, "token administration writes nothing to the log");
    let own = gridloop_http::auth::TokenTable::id_of(&blake3::hash(h.token("admin").as_bytes()));
    let (status, answer) = h.send("DELETE", &format!("/api/v1/tokens/{own}"), Some("admin"), None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an admin keeps the token it is using: {answer}");
    let (status, _) = h.send("DELETE", "/api/v1/tokens/not-an-id", Some("admin"), None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
