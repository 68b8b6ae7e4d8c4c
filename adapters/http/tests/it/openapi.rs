//! The OpenAPI document describes the routes the router really has, and is
//! a valid OpenAPI 3.1 document a schema-driven client can use.
//!
//! The router and the document are built from one route table
//! (`gridloop_http::routes`): each handler is registered at the path and
//! methods of its own `#[utoipa::path]` annotation, so a route cannot be
//! added undocumented. The probes below check the other direction through
//! the real router, including Open311, whose routes read the last segment
//! whole and so are documented beside its router rather than by it.

use std::collections::{BTreeSet, HashSet};

use axum::http::StatusCode;
use gridloop_http::openapi::{document, operations};
use serde_json::Value;

use crate::harness;

#[tokio::test]
async fn the_document_is_served_and_lists_every_operation() {
    let h = harness().await;
    let (status, served) = h.get("/api/v1/openapi.json", "auditor").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, document());
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["servers"][0]["url"], "/", "paths are absolute");
    let documented: BTreeSet<(String, String)> = operations().into_iter().collect();
    for (method, path) in [
        ("post", "/api/v1/tickets"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/volunteers/{id}/skills"),
        ("get", "/console/stream"),
        ("get", "/healthz"),
        ("get", "/open311/v2/requests.{format}"),
        ("get", "/open311/v2/requests/{service_request_id}.{format}"),
        ("get", "/open311/v2/services/{service_code}.{format}"),
        ("get", "/open311/v2/tokens/{token}.{format}"),
        ("post", "/open311/v2/requests.{format}"),
    ] {
        assert!(documented.contains(&(method.to_string(), path.to_string())), "{method} {path} is documented");
    }
    assert!(!documented.iter().any(|(_, p)| p.starts_with("/api/v1/open311")), "Open311 is not under /api/v1");
}

/// A documented path with its parameters filled in.
fn concrete(path: &str, ticket: &str) -> String {
    let id = if path.starts_with("/api/v1/volunteers") {
        "V-1"
    } else if path.starts_with("/api/v1/tokens") {
        "0123456789abcdef"
    } else {
        ticket
    };
    let action = if path.starts_with("/api/v1/emergency") { "declare" } else { "note" };
    path.replace("{id}", id)
        .replace("{action}", action)
        .replace("{kind}", "volunteer")
        .replace("{place}", "440802")
        .replace("{subject}", "d-1")
        .replace("{format}", "json")
        .replace("{service_code}", "IC-003")
        .replace("{service_request_id}", ticket)
        .replace("{token}", ticket)
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let h = harness().await;
    let id = h.order(crate::VOLUNTEER_ITEM).await;
    let operations = operations();
    assert!(operations.len() >= 49, "{} operations", operations.len());
    for (method, path) in &operations {
        assert!(!path.contains('{') || path.contains('}'), "{path}");
        let full = concrete(path, &id);
        assert!(!full.contains('{'), "{path}: every parameter is filled in");
        let who = if full.starts_with("/api/v1/tokens") { "admin" } else { "dispatcher" };
        if full == "/console/stream" {
            // An event stream stays open: its status is enough.
            let request = axum::http::Request::get(&full)
                .header("authorization", format!("Bearer {}", h.token(who)))
                .body(axum::body::Body::empty())
                .expect("request");
            let response = tower::ServiceExt::oneshot(h.router.clone(), request).await.expect("answer");
            assert_eq!(response.status(), StatusCode::OK, "{method} {full}");
            continue;
        }
        let (status, body) = match method.as_str() {
            "get" => h.get(&full, who).await,
            "delete" => h.send("DELETE", &full, Some("admin"), None, "").await,
            "post" => h.post(&full, who, "{}").await,
            other => panic!("{other} {path}: an unexpected method"),
        };
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {full} is documented but not routed");
        let message = body["error"]["message"].as_str().or(body[0]["description"].as_str()).unwrap_or("");
        assert_ne!(message, "no such route", "{method} {full} is documented but not routed");
        assert!(!message.starts_with("no such Open311 resource"), "{method} {full} is documented but not routed");
    }
    // And the router's other routes still answer as before.
    let (status, body) = h.get("/api/v1/nothing", "dispatcher").await;
    assert_eq!((status, body["error"]["message"].as_str()), (StatusCode::NOT_FOUND, Some("no such route")));
}

/// What a `$ref` points at.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => {
            let target = &document["components"]["schemas"][name];
            assert!(target.is_object(), "the schema {name} is defined");
            resolve(document, target)
        }
        None => schema,
    }
}

/// Whether a body's schema says what the body holds: not a bare object.
fn is_real(document: &Value, schema: &Value) -> bool {
    let schema = resolve(document, schema);
    let bare = schema["type"] == "object"
        && schema.get("properties").is_none()
        && schema.get("additionalProperties").is_none()
        && schema.get("oneOf").is_none();
    schema.is_object() && !bare && schema.as_object().is_some_and(|o| !o.is_empty())
}

/// Every `$ref` anywhere in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn the_document_is_valid_openapi_with_real_schemas_and_declared_parameters() {
    let document = document();
    let text = serde_json::to_string(&document).expect("serialises");
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let mut found = Vec::new();
    refs(&document, &mut found);
    for target in found {
        let name = target.strip_prefix("#/components/schemas/").expect("a local schema reference");
        assert!(document["components"]["schemas"][name].is_object(), "{target} resolves");
    }
    let mut operation_ids = HashSet::new();
    for (method, path) in operations() {
        let operation = &document["paths"][&path][&method];
        let what = format!("{method} {path}");
        let id = operation["operationId"].as_str().expect("an operation id");
        assert!(operation_ids.insert(id.to_string()), "{what}: the operation id {id} is unique");
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("a name"))
            .collect();
        let in_path: BTreeSet<&str> =
            path.split('{').skip(1).map(|rest| rest.split('}').next().expect("a closing brace")).collect();
        assert_eq!(declared, in_path, "{what}: every path parameter is declared, and only those");
        if let Some(body) = operation.get("requestBody") {
            for (media, content) in body["content"].as_object().expect("request content") {
                assert!(is_real(&document, &content["schema"]), "{what}: the {media} body has a real schema");
            }
        }
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            // The document itself is the one body that is free-form.
            let free_form = id == "openapi" && status == "200";
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                let schema = &content["schema"];
                assert!(free_form || is_real(&document, schema), "{what}: the {status} {media} answer has a schema");
            }
        }
        let public = path.starts_with("/open311") || !path.starts_with("/api/v1") && path != "/console/stream";
        let bearer = operation["security"][0]["bearer"].is_array();
        assert!(public || id == "openapi" || bearer, "{what}: needs a bearer token");
        if path.starts_with("/api/v1") && id != "openapi" {
            assert!(responses.contains_key("401") && responses.contains_key("404"), "{what}: the error answers");
            let error = &responses["400"]["content"]["application/json"]["schema"];
            assert_eq!(resolve(&document, error)["properties"]["error"]["$ref"], "#/components/schemas/ErrorDetail");
        }
    }
    assert!(operation_ids.len() >= 49);
}

#[tokio::test]
async fn documented_answers_have_the_fields_they_are_served_with() {
    let h = harness().await;
    let id = h.order(crate::VOLUNTEER_ITEM).await;
    let document = document();
    for (path, operation, who) in [
        (format!("/api/v1/tickets/{id}"), "/api/v1/tickets/{id}", "dispatcher"),
        ("/api/v1/me".to_string(), "/api/v1/me", "dispatcher"),
        ("/api/v1/board".to_string(), "/api/v1/board", "dispatcher"),
        ("/api/v1/catalog".to_string(), "/api/v1/catalog", "dispatcher"),
        ("/api/v1/grids".to_string(), "/api/v1/grids", "dispatcher"),
        ("/api/v1/world".to_string(), "/api/v1/world", "dispatcher"),
        ("/api/v1/tokens".to_string(), "/api/v1/tokens", "admin"),
        (format!("/api/v1/tickets/{id}/candidates"), "/api/v1/tickets/{id}/candidates", "dispatcher"),
    ] {
        let (status, body) = h.get(&path, who).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let schema = &document["paths"][operation]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        let properties = resolve(&document, schema)["properties"].as_object().expect("properties");
        let served: BTreeSet<&String> = body.as_object().expect("an object").keys().collect();
        let documented: BTreeSet<&String> = properties.keys().collect();
        assert_eq!(served, documented, "{path}: the answer's fields are the documented ones");
    }
}
