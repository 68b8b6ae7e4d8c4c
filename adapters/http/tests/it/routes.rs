//! Every route's happy path, every mapped error, idempotency, and what a
//! resident may read.

use axum::http::StatusCode;
use gridloop_engine::envelope::Actor;
use gridloop_engine::envelope::Role;
use gridloop_engine::ids::{CommandId, ItemCode, ResidentId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Channel, TicketCommand, Urgency};
use gridloop_http::BODY_BYTES_MAX;

use crate::{DEPARTMENT_ITEM, NowString as _, VOLUNTEER_ITEM, code, harness, harness_on};

#[tokio::test]
async fn healthz_answers_ok() {
    let h = harness().await;
    let request = axum::http::Request::get("/healthz").body(axum::body::Body::empty()).expect("request");
    let response = tower::ServiceExt::oneshot(h.router.clone(), request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 64).await.expect("body");
    assert_eq!(&body[..], b"ok");
}

#[tokio::test]
async fn a_ticket_goes_from_order_to_close() {
    let h = harness().await;
    let id = h.offered().await;
    assert_eq!(id, "T-1");
    let path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    let (status, answer) = h.post(&path("accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "ticket.accepted/1");
    assert_eq!(answer["events"][0]["payload"]["by"]["id"], "V-1", "by comes from the token");
    let steps = [
        ("start", "volunteer", ""),
        ("note", "volunteer", r#"{"text":"on my way"}"#),
        ("resolve", "volunteer", r#"{"result":"fixed","minutes_spent":40}"#),
        ("feedback", "resident", r#"{"rating":"satisfied","comment":"thanks"}"#),
        ("close", "dispatcher", ""),
    ];
    for (action, who, body) in steps {
        let (status, answer) = h.post(&path(action), who, body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    }
    let (status, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["status"], "closed");
    assert_eq!(ticket["holder"]["id"], "V-1");
    let (status, history) = h.get(&format!("/api/v1/tickets/{id}/history"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let schemas: Vec<&str> =
        history["events"].as_array().expect("events").iter().map(|e| e["schema"].as_str().unwrap()).collect();
    assert_eq!(schemas.first(), Some(&"ticket.submitted/3"));
    assert_eq!(schemas.last(), Some(&"ticket.closed/1"));
    assert_eq!(schemas.len(), 8, "{schemas:?}");
}

#[tokio::test]
async fn dispatchers_triage_assign_escalate_and_cancel() {
    let h = harness().await;
    h.register(2).await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    let steps = [
        ("triage", r#"{"mode":"volunteer"}"#, "ticket.triaged/1"),
        ("assign", r#"{"to":{"kind":"volunteer","id":"V-2"},"reason":"nearest"}"#, "ticket.reassigned/1"),
        ("escalate", r#"{"reason":"whistle","note":"needs the community"}"#, "ticket.escalated/2"),
        ("cancel", r#"{"reason":"resident withdrew"}"#, "ticket.cancelled/1"),
    ];
    for (action, body, schema) in steps {
        let (status, answer) = h.post(&path(action), "dispatcher", body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
        assert_eq!(answer["events"][0]["schema"], schema, "{action}");
    }
}

#[tokio::test]
async fn a_volunteer_declines() {
    let h = harness().await;
    let id = h.offered().await;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/decline"), "rival", r#"{"reason":"busy"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["payload"]["by"]["id"], "V-2");
}

#[tokio::test]
async fn the_second_volunteer_to_accept_gets_already_taken() {
    let h = harness().await;
    let id = h.offered().await;
    let path = format!("/api/v1/tickets/{id}/accept");
    let (first, second) = tokio::join!(h.post(&path, "volunteer", ""), h.post(&path, "rival", ""));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{first:?} {second:?}");
    let loser = if first.0 == StatusCode::CONFLICT { first.1 } else { second.1 };
    assert_eq!(code(&loser), "already_taken");
}

#[tokio::test]
async fn no_token_or_an_unknown_one_is_401() {
    let h = harness().await;
    let (status, body) = h.send("GET", "/api/v1/tickets/T-1", None, None, "").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let request = axum::http::Request::get("/api/v1/tickets/T-1")
        .header("authorization", "Bearer 00")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(h.router.clone(), request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refusals_map_to_403() {
    let h = harness().await;
    let id = h.offered().await;
    let (status, body) = h.post(&format!("/api/v1/tickets/{id}/close"), "volunteer", "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"), "{body}");
    let (status, body) = h.get(&format!("/api/v1/tickets/{id}/history"), "resident").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"), "{body}");
    let (status, body) = h.post(&format!("/api/v1/tickets/{id}/cancel"), "far_dispatcher", "").await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_permitted"), "{body}");
}

#[tokio::test]
async fn unknown_tickets_and_actions_are_404() {
    let h = harness().await;
    let (status, body) = h.get("/api/v1/tickets/T-99", "dispatcher").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let id = h.order(VOLUNTEER_ITEM).await;
    let (status, body) = h.post(&format!("/api/v1/tickets/{id}/teleport"), "dispatcher", "").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _) = h.get("/api/v2/nothing", "dispatcher").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_resident_cannot_read_anothers_ticket() {
    let h = harness().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let (status, body) = h.get(&format!("/api/v1/tickets/{id}"), "neighbour").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, _) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_400() {
    let h = harness().await;
    let (status, body) = h.post("/api/v1/tickets", "resident", "{not json").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_json"));
    let bad_item = format!(r#"{{"category":"xx 1","grid":"{}","description":"d"}}"#, h.grid);
    let (status, body) = h.post("/api/v1/tickets", "resident", &bad_item).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{body}");
    let no_place = r#"{"category":"IC-003","description":"d"}"#;
    let (status, body) = h.post("/api/v1/tickets", "resident", no_place).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{body}");
    let bad_grid = r#"{"category":"IC-003","grid":"440802-x","description":"d"}"#;
    let (status, body) = h.post("/api/v1/tickets", "resident", bad_grid).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "bad_grid_code"), "{body}");
    assert!(h.store.snapshot().is_empty(), "nothing is written on an error");
}

#[tokio::test]
async fn a_bad_idempotency_key_is_400() {
    let h = harness().await;
    let body = format!(r#"{{"category":"IC-003","grid":"{}","description":"d"}}"#, h.grid);
    let (status, answer) = h.send("POST", "/api/v1/tickets", Some("resident"), Some("has space"), &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    let long = "k".repeat(gridloop_http::tickets::IDEMPOTENCY_KEY_BYTES_MAX + 1);
    let (status, answer) = h.send("POST", "/api/v1/tickets", Some("resident"), Some(&long), &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let h = harness().await;
    let description = "x".repeat(BODY_BYTES_MAX);
    let body = format!(r#"{{"category":"IC-003","grid":"{}","description":"{description}"}}"#, h.grid);
    let (status, answer) = h.post("/api/v1/tickets", "resident", &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"), "{answer}");
}

#[tokio::test]
async fn offering_an_item_not_admitted_to_volunteers_is_422() {
    let h = harness().await;
    let id = h.order(DEPARTMENT_ITEM).await;
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    let (status, body) = h.post(&format!("/api/v1/tickets/{id}/offer"), "dispatcher", offer).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "not_admitted"), "{body}");
}

#[tokio::test]
async fn acting_in_the_wrong_status_is_409() {
    let h = harness().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let (status, body) = h.post(&format!("/api/v1/tickets/{id}/start"), "volunteer", "").await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "illegal_transition"), "{body}");
}

#[tokio::test]
async fn the_same_key_twice_answers_the_same_and_writes_once() {
    let h = harness().await;
    h.register_v1().await;
    let body = format!(r#"{{"category":"IC-003","grid":"{}","description":"d"}}"#, h.grid);
    let first = h.send("POST", "/api/v1/tickets", Some("resident"), Some("order-1"), &body).await;
    let again = h.send("POST", "/api/v1/tickets", Some("resident"), Some("order-1"), &body).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(first, again);
    assert_eq!(h.store.snapshot().len(), 1 + 1, "V-1's registration and the order");
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    let path = "/api/v1/tickets/T-1/offer";
    let first = h.send("POST", path, Some("dispatcher"), Some("offer-1"), offer).await;
    let again = h.send("POST", path, Some("dispatcher"), Some("offer-1"), offer).await;
    assert_eq!(first.0, StatusCode::OK, "{first:?}");
    assert_eq!(first, again);
    assert_eq!(h.store.snapshot().len(), 1 + 2);
    // The same key from another caller is another command.
    let other = h.send("POST", "/api/v1/tickets", Some("neighbour"), Some("order-1"), &body).await;
    assert_eq!(other.1["id"], "T-2");
}

#[tokio::test]
async fn numbering_continues_after_the_tickets_in_the_store() {
    let store = MemoryStore::new();
    let h = harness_on(store.clone()).await;
    let submit = TicketCommand::Submit {
        photos: vec![],
        item: ItemCode::new(VOLUNTEER_ITEM).unwrap(),
        grid: h.grid.clone(),
        resident: ResidentId::new("r-9").unwrap(),
        description: "before the server".into(),
        urgency: Urgency::Normal,
        channel: Channel::Phone,
        location: None,
    };
    let envelope = CommandEnvelope {
        command_id: CommandId::new("phone-1").unwrap(),
        correlation_id: None,
        actor: Actor::new(Role::Dispatcher, "d-1").unwrap(),
        command: Command::Ticket { id: TicketId::from_number(41), command: submit },
        expected_version: None,
    };
    h.service.execute(envelope).await.expect("submitted");
    // A server started on this store after T-41 was written numbers from T-42.
    let later = harness_on(store).await;
    assert_eq!(later.order(VOLUNTEER_ITEM).await, "T-42");
}

#[tokio::test]
async fn an_order_by_location_or_address_finds_its_grid() {
    let h = harness().await;
    let grids = &h.service.world().grids;
    let node = grids.get(&h.grid).expect("the grid");
    let (xs, ys): (Vec<i32>, Vec<i32>) = node.boundary.iter().map(|p| (p.lon, p.lat)).unzip();
    let centre = (
        (xs.iter().min().unwrap() + xs.iter().max().unwrap()) / 2,
        (ys.iter().min().unwrap() + ys.iter().max().unwrap()) / 2,
    );
    let body =
        format!(r#"{{"category":"IC-003","location":{{"lon":{},"lat":{}}},"description":"d"}}"#, centre.0, centre.1);
    let (status, answer) = h.post("/api/v1/tickets", "resident", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, ticket) = h.get("/api/v1/tickets/T-1", "resident").await;
    let located = ticket["grid"].as_str().expect("a grid");
    assert!(located.starts_with(h.grid.as_str()), "{located} is in {}", h.grid);
    let body = format!(r#"{{"category":"IC-003","address":"{} 12号","description":"d"}}"#, node.name);
    let (status, answer) = h.post("/api/v1/tickets", "resident", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn an_auditor_reads_a_history_as_of_a_time_and_verified() {
    let h = harness().await;
    let id = h.offered().await;
    let path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    let before_accept = h.clock.now_string();
    h.clock.advance(gridloop_engine::time::Millis::minutes(10));
    let (status, answer) = h.post(&path("accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, now) = h.get(&format!("/api/v1/tickets/{id}/history?verify=true"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!((now["verified"].as_bool(), now["state"]["status"].as_str()), (Some(true), Some("accepted")));
    let (status, then) = h.get(&format!("/api/v1/tickets/{id}/history?as_of={before_accept}"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{then}");
    assert_eq!(then["state"]["status"], "offered", "as it was before the acceptance");
    assert_eq!(then["events"].as_array().map(Vec::len), now["events"].as_array().map(|e| e.len() - 1));
    let (status, body) = h.get(&format!("/api/v1/tickets/{id}/history?as_of=yesterday"), "auditor").await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (status, _) = h.get(&format!("/api/v1/tickets/{id}/history"), "volunteer").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
