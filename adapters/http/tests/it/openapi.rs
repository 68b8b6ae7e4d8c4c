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
        ("get", "/open311/v2/servicerequestupdates.{format}"),
        ("post", "/open311/v2/requests.{format}"),
    ] {
        assert!(documented.contains(&(method.to_string(), path.to_string())), "{method} {path} is documented");
    }
    assert!(!documented.iter().any(|(_, p)| p.starts_with("/api/v1/open311")), "Open311 is not under /api/v1");
    // One server, `/`: a client joining it with each path gets the path.
    assert_eq!(served["servers"].as_array().map(Vec::len), Some(1), "{}", served["servers"]);
    let open311: Vec<&String> =
        served["paths"].as_object().expect("paths").keys().filter(|p| p.contains("open311")).collect();
    assert_eq!(open311.len(), 7, "{open311:?}");
    assert!(open311.iter().all(|p| p.starts_with(gridloop_http::open311::BASE_PATH)), "{open311:?}");
    // Public reads say they are limited; the write says a bad api_key is 403.
    let reads = ["requests", "requests/{service_request_id}", "tokens/{token}", "servicerequestupdates"];
    for path in reads.map(|read| format!("{read}.{{format}}")) {
        let responses = &served["paths"][format!("/open311/v2/{path}")]["get"]["responses"];
        assert!(responses["429"].is_object(), "{path}: {responses}");
    }
    let post = &served["paths"]["/open311/v2/requests.{format}"]["post"]["responses"];
    assert!(post["403"].is_object() && post["401"].is_null(), "{post}");
}

/// A documented path with its parameters filled in.
fn concrete(path: &str, ticket: &str) -> String {
    let id = if path.starts_with("/api/v1/volunteers") || path.starts_with("/api/v1/queues") {
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
        .replace("{grid}", "440802-001-001-001")
        .replace("{community}", "440802-001-001")
        .replace("{week}", "2026-W48")
        .replace("{hash}", &"0".repeat(64))
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
        // The resident's door takes orders from people without a token yet
        // (their first order makes their account): those routes are public.
        let door = gridloop_http::openapi::accesses()
            .iter()
            .any(|(m, p, access)| *m == method && *p == path && *access == gridloop_engine::permit::Access::Public);
        let public = path.starts_with("/open311") || door || !path.starts_with("/api/v1") && path != "/console/stream";
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

/// Whether `value` is what `schema` says, field for field: every object
/// with documented properties has every required one and no other, and every scalar
/// its documented type or one of its documented values. Free-form schemas
/// (no type, or an object without properties) take anything.
fn conforms(document: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(document, schema);
    if let Some(alternatives) = schema["oneOf"].as_array() {
        let fits = alternatives.iter().any(|alternative| {
            let mut found = Vec::new();
            conforms(document, alternative, value, at, &mut found);
            found.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: {value} is none of the alternatives"));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = match value {
        Value::Null => types.contains(&"null"),
        Value::Bool(_) => types.contains(&"boolean"),
        Value::Number(n) => types.contains(&"number") || (types.contains(&"integer") && !n.is_f64()),
        Value::String(text) => {
            types.contains(&"string")
                && schema["enum"].as_array().is_none_or(|values| values.contains(&Value::String(text.clone())))
        }
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, item)| {
                conforms(document, &schema["items"], item, &format!("{at}[{i}]"), problems);
            });
            types.contains(&"array")
        }
        Value::Object(fields) => {
            if let Some(properties) = schema["properties"].as_object() {
                let required: Vec<&str> =
                    schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                let missing: Vec<&&str> = required.iter().filter(|name| !fields.contains_key(**name)).collect();
                let extra: Vec<&String> = fields.keys().filter(|name| !properties.contains_key(*name)).collect();
                if !missing.is_empty() || !extra.is_empty() {
                    problems.push(format!("{at}: required but missing {missing:?}, served but undocumented {extra:?}"));
                }
                for (name, field) in fields {
                    if let Some(property) = properties.get(name) {
                        conforms(document, property, field, &format!("{at}.{name}"), problems);
                    }
                }
            }
            types.contains(&"object")
        }
    };
    if !fits {
        problems.push(format!("{at}: {value} is not {types:?} {}", schema["enum"]));
    }
}

/// The requests whose answers are compared with the document: method,
/// documented path (filled in by [`concrete`]), query, caller, body, and
/// the status expected.
const ANSWERS: [(&str, &str, &str, &str, &str, u16); 29] = [
    ("post", "/api/v1/tickets/{id}/{action}", "", "dispatcher", r#"{"text":"on my way"}"#, 200),
    ("get", "/api/v1/tickets/{id}", "", "dispatcher", "", 200),
    ("get", "/api/v1/tickets/{id}/history", "?verify=true", "auditor", "", 200),
    ("get", "/api/v1/tickets", "", "dispatcher", "", 200),
    ("get", "/api/v1/queues/{kind}/{id}", "", "dispatcher", "", 200),
    ("get", "/api/v1/metrics/rates", "?by=street", "dispatcher", "", 200),
    ("get", "/api/v1/volunteers", "", "dispatcher", "", 200),
    ("get", "/api/v1/volunteers/{id}", "", "dispatcher", "", 200),
    ("get", "/api/v1/catalog", "", "dispatcher", "", 200),
    ("get", "/api/v1/grids", "", "dispatcher", "", 200),
    ("get", "/api/v1/staff", "", "admin", "", 200),
    ("get", "/api/v1/world", "", "dispatcher", "", 200),
    ("get", "/api/v1/teams", "", "dispatcher", "", 200),
    ("get", "/api/v1/departments", "", "dispatcher", "", 200),
    ("get", "/api/v1/tokens", "", "admin", "", 200),
    ("get", "/api/v1/me", "", "dispatcher", "", 200),
    ("get", "/api/v1/board", "", "dispatcher", "", 200),
    ("get", "/api/v1/tickets/{id}/candidates", "", "dispatcher", "", 200),
    ("get", "/api/v1/metrics/series", "", "dispatcher", "", 200),
    ("post", "/api/v1/volunteers/{id}/link-code", "", "dispatcher", "", 200),
    ("post", "/api/v1/volunteers/{id}/skills", "", "admin", r#"{"skills":["tea"]}"#, 200),
    ("post", "/api/v1/tokens", "", "admin", r#"{"role":"resident","subject":"r-9"}"#, 201),
    ("post", "/api/v1/emergency/{place}/{action}", "", "dispatcher", r#"{"reason":"typhoon"}"#, 200),
    ("get", "/open311/v2/discovery.{format}", "", "dispatcher", "", 200),
    ("get", "/open311/v2/services.{format}", "", "dispatcher", "", 200),
    ("get", "/open311/v2/services/{service_code}.{format}", "", "dispatcher", "", 200),
    ("get", "/open311/v2/requests.{format}", "", "dispatcher", "", 200),
    ("get", "/open311/v2/requests/{service_request_id}.{format}", "", "dispatcher", "", 200),
    ("get", "/open311/v2/tokens/{token}.{format}", "", "dispatcher", "", 200),
];

#[tokio::test]
async fn answers_are_what_the_document_says() {
    let h = harness().await;
    h.register_v1().await;
    let id = h.offered().await;
    let document = document();
    let mut problems = Vec::new();
    let refusals = [
        ("get", "/api/v1/tickets/{id}", "/api/v1/tickets/T-99".to_string(), "dispatcher", "", 404),
        (
            "get",
            "/open311/v2/requests/{service_request_id}.{format}",
            "/open311/v2/requests/T-99.json".into(),
            "",
            "",
            404,
        ),
    ];
    let answers =
        ANSWERS.iter().map(|&(m, o, query, who, body, s)| (m, o, format!("{}{query}", concrete(o, &id)), who, body, s));
    for (method, operation, path, who, body, expected) in answers.chain(refusals) {
        let (status, answer) =
            h.send(&method.to_uppercase(), &path, Some(who).filter(|w| !w.is_empty()), None, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {answer}");
        let response = &document["paths"][operation][method]["responses"][status.as_str()];
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {operation} documents a {status} JSON answer");
        conforms(&document, schema, &answer, &format!("{method} {path}"), &mut problems);
    }
    assert!(problems.is_empty(), "answers unlike the document:\n{}", problems.join("\n"));
}

#[test]
fn no_two_schemas_share_a_name() {
    let routes = gridloop_http::routes::<gridloop_engine::store::MemoryStore>();
    assert_eq!(routes.clashing_schemas(), Vec::<String>::new());
}
