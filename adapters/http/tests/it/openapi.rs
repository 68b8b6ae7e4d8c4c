//! The OpenAPI document describes the routes the router really has.

use axum::http::StatusCode;
use gridloop_http::openapi::{OPERATIONS, document};

use crate::harness;

#[tokio::test]
async fn the_document_is_served_and_lists_every_operation() {
    let h = harness().await;
    let (status, served) = h.get("/api/v1/openapi.json", "auditor").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, document());
    assert_eq!(served["openapi"], "3.0.3");
    for (method, path) in OPERATIONS {
        assert!(served["paths"][path][method].is_object(), "{method} {path} is documented");
    }
}

#[tokio::test]
async fn every_documented_route_exists() {
    let h = harness().await;
    let id = h.order(crate::VOLUNTEER_ITEM).await;
    for (method, path) in OPERATIONS {
        let concrete = path
            .replace("{id}", if path.starts_with("/volunteers") { "V-1" } else { &id })
            .replace("{action}", "note")
            .replace("{kind}", "volunteer")
            .replace("{format}", "json")
            .replace("{subject}", "d-1");
        let full = if concrete.starts_with("/open311") { concrete.clone() } else { format!("/api/v1{concrete}") };
        let (_, body) = match method {
            "get" if full.starts_with("/api/v1/tokens") => h.get(&full, "admin").await,
            "get" => h.get(&full, "auditor").await,
            "delete" => h.send("DELETE", &full, Some("admin"), None, "").await,
            _ => h.post(&full, "dispatcher", "{}").await,
        };
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert_ne!(message, "no such route", "{method} {full} is documented but not routed");
    }
}
