//! The resident's door: accounts (one per phone), personal links, codes,
//! the order's limits, the confirm-phone hold, tracking and feedback, the
//! pages, the QR codes and the sheet.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use gridloop_engine::account::MemoryAccounts;
use gridloop_engine::blob::{BlobFuture, MemoryBlobs};
use gridloop_engine::envelope::Role;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::ResidentId;
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_http::courier::{CodePurpose, Courier, Notice};
use gridloop_http::{AppState, TokenTable, router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::people::MemoryPersonal;

/// A courier that keeps what it sent.
#[derive(Debug, Default)]
struct Recorder {
    codes: Mutex<Vec<(ResidentId, String, CodePurpose)>>,
}

impl Courier for Recorder {
    fn send_code<'a>(&'a self, resident: &'a ResidentId, code: &'a str, purpose: CodePurpose) -> BlobFuture<'a, ()> {
        self.codes.lock().expect("lock").push((resident.clone(), code.to_string(), purpose));
        Box::pin(async { Ok(()) })
    }

    fn notices<'a>(&'a self, _: &'a ResidentId, _: usize) -> BlobFuture<'a, Vec<Notice>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl Recorder {
    fn sent(&self) -> Vec<(ResidentId, String, CodePurpose)> {
        self.codes.lock().expect("lock").clone()
    }

    fn last_code(&self) -> String {
        self.sent().last().expect("a code was sent").1.clone()
    }
}

struct Door {
    router: Router,
    store: MemoryStore,
    clock: Arc<ManualClock>,
    courier: Arc<Recorder>,
    grid: GridCode,
    other_grid: GridCode,
    community: GridCode,
    tokens: std::collections::HashMap<&'static str, String>,
}

async fn door(confirm_phone: bool) -> Door {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let store = MemoryStore::new();
    let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock.clone(), 7));
    let grids: Vec<GridCode> = district.world.grids.at_level(Level::Grid).map(|n| n.code.clone()).take(2).collect();
    let mut table = TokenTable::new();
    let mut tokens = std::collections::HashMap::new();
    for (name, role, subject) in [("dispatcher", Role::Dispatcher, "d-1"), ("volunteer", Role::Volunteer, "V-1")] {
        let (token, entry) = TokenTable::issue(role, subject, None).expect("issued");
        table.insert(entry).expect("inserted");
        tokens.insert(name, token);
    }
    let courier = Arc::new(Recorder::default());
    let state = AppState::new(service, table, gridloop_http::Cold::default())
        .await
        .expect("state")
        .with_personal(Arc::new(MemoryPersonal::default()))
        .with_accounts(Arc::new(MemoryAccounts::new([5; 32])))
        .with_blobs(Arc::new(MemoryBlobs::new()))
        .with_courier(courier.clone())
        .with_confirm_phone(confirm_phone);
    let community = grids[0].at_level(Level::Community).expect("a community");
    Door {
        router: router(state),
        store,
        clock,
        courier,
        grid: grids[0].clone(),
        other_grid: grids[1].clone(),
        community,
        tokens,
    }
}

impl Door {
    /// One request from client address `from`, with an optional Bearer token.
    async fn send(&self, method: &str, path: &str, from: u8, token: Option<&str>, body: &str) -> (StatusCode, Value) {
        let (status, _, bytes) = self.raw(method, path, from, token, body).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        from: u8,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = request.body(Body::from(body.to_string())).expect("a request");
        let peer: SocketAddr = format!("198.51.100.{from}:40000").parse().expect("an address");
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.router.clone().oneshot(request).await.expect("an answer");
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 8 << 20).await.expect("a body");
        (status, headers, bytes.to_vec())
    }

    fn order_body(&self, grid: &GridCode, phone: &str) -> String {
        json!({ "item": crate::VOLUNTEER_ITEM, "grid": grid.to_string(), "description": "a leaking tap",
                "from_qr": true, "name": "李梅", "phone": phone })
        .to_string()
    }

    async fn order(&self, from: u8, phone: &str) -> (StatusCode, Value) {
        self.send("POST", "/api/v1/resident/orders", from, None, &self.order_body(&self.grid, phone)).await
    }

    async fn log_len(&self) -> usize {
        self.store.snapshot().len()
    }

    async fn requests(&self, token: &str) -> (StatusCode, Value) {
        self.send("GET", "/api/v1/resident/requests", 1, Some(token), "").await
    }
}

fn token_of(answer: &Value) -> String {
    answer["link"]["token"].as_str().expect("a link").to_string()
}

#[tokio::test]
async fn the_same_phone_is_the_same_resident_and_typing_it_opens_nothing() {
    let d = door(false).await;
    let (status, first) = d.order(1, "138 0013 8000").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["known_phone"], false);
    assert!(first["link"]["link"].as_str().expect("a link").starts_with("/r/me#k="));
    let token = token_of(&first);
    // Another device types the same number, in another shape.
    let (status, second) = d.order(2, "+86 138-0013-8000").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!((second["known_phone"].clone(), second["link"].clone()), (json!(true), Value::Null));
    // Both orders are the one resident's: the first device's link lists both.
    let (status, mine) = d.requests(&token).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let mut ids: Vec<&str> = mine.as_array().expect("rows").iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [first["ticket"].as_str().unwrap(), second["ticket"].as_str().unwrap()]);
    // The second device holds nothing that opens them.
    let (status, _) = d.send("GET", "/api/v1/resident/requests", 2, None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let path = format!("/api/v1/resident/tickets/{}", first["ticket"].as_str().unwrap());
    assert_eq!(d.send("GET", &path, 2, None, "").await.0, StatusCode::UNAUTHORIZED);
    // Guessing a code opens nothing either, and says nothing of the phone.
    let guess = json!({ "phone": "13800138000", "code": "000000" }).to_string();
    let (status, known) = d.send("POST", "/api/v1/resident/link", 2, None, &guess).await;
    let unknown = json!({ "phone": "13900000000", "code": "000000" }).to_string();
    let (other, unknown) = d.send("POST", "/api/v1/resident/link", 2, None, &unknown).await;
    assert_eq!((status, other), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(known["error"]["message"], unknown["error"]["message"]);
    // A resident id is opaque: no digit of the phone.
    let resident = d.courier.sent().first().map(|c| c.0.clone());
    assert!(resident.is_none(), "no code went out");
    let (_, me) = d.send("GET", "/api/v1/resident/me", 1, Some(&token), "").await;
    let id = me["resident"].as_str().expect("an id");
    assert!(id.starts_with("R-") && !id.contains("138001"), "{id}");
}

#[tokio::test]
async fn a_code_sent_to_the_residents_channel_links_a_second_device_once() {
    let d = door(false).await;
    let (_, first) = d.order(1, "13800138000").await;
    let ask = json!({ "phone": "13800138000" }).to_string();
    let (status, sent) = d.send("POST", "/api/v1/resident/codes", 2, None, &ask).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    // An unknown number gets the same answer, and nothing is sent.
    let ask_unknown = json!({ "phone": "13900000000" }).to_string();
    let (status, same) = d.send("POST", "/api/v1/resident/codes", 2, None, &ask_unknown).await;
    assert_eq!((status, same), (StatusCode::ACCEPTED, sent));
    let codes = d.courier.sent();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].2, CodePurpose::LinkDevice);
    let code = d.courier.last_code();
    // A wrong code first: refused, the right one still works after it.
    let wrong = json!({ "phone": "13800138000", "code": if code == "111111" { "222222" } else { "111111" } });
    assert_eq!(d.send("POST", "/api/v1/resident/link", 2, None, &wrong.to_string()).await.0, StatusCode::BAD_REQUEST);
    let right = json!({ "phone": "+8613800138000", "code": code }).to_string();
    let (status, linked) = d.send("POST", "/api/v1/resident/link", 2, None, &right).await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
    let (_, mine) = d.requests(linked["token"].as_str().expect("a token")).await;
    assert_eq!(mine[0]["id"], first["ticket"]);
    // Single use.
    assert_eq!(d.send("POST", "/api/v1/resident/link", 2, None, &right).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_code_is_spent_by_too_many_wrong_tries_and_expires() {
    let d = door(false).await;
    d.order(1, "13800138000").await;
    let ask = json!({ "phone": "13800138000" }).to_string();
    d.send("POST", "/api/v1/resident/codes", 2, None, &ask).await;
    let code = d.courier.last_code();
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..gridloop_engine::account::CODE_ATTEMPTS_MAX {
        let body = json!({ "phone": "13800138000", "code": wrong }).to_string();
        d.send("POST", "/api/v1/resident/link", 2, None, &body).await;
    }
    let right = json!({ "phone": "13800138000", "code": code }).to_string();
    assert_eq!(d.send("POST", "/api/v1/resident/link", 2, None, &right).await.0, StatusCode::BAD_REQUEST);
    // A new code, left past its ten minutes, is refused too.
    d.clock.advance(Millis::minutes(2));
    d.send("POST", "/api/v1/resident/codes", 3, None, &ask).await;
    let code = d.courier.last_code();
    d.clock.advance(Millis::minutes(11));
    let late = json!({ "phone": "13800138000", "code": code }).to_string();
    assert_eq!(d.send("POST", "/api/v1/resident/link", 3, None, &late).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_revoked_link_opens_nothing_and_another_link_stays() {
    let d = door(false).await;
    let (_, first) = d.order(1, "13800138000").await;
    let token = token_of(&first);
    let (status, second) = d.send("POST", "/api/v1/resident/links", 1, Some(&token), "").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let other = second["token"].as_str().expect("a token").to_string();
    let (_, me) = d.send("GET", "/api/v1/resident/me", 1, Some(&token), "").await;
    let links = me["links"].as_array().expect("links");
    assert_eq!(links.len(), 2);
    let current = links.iter().find(|l| l["current"] == true).expect("the current link");
    let path = format!("/api/v1/resident/links/{}", current["id"].as_str().unwrap());
    assert_eq!(d.send("DELETE", &path, 1, Some(&token), "").await.0, StatusCode::NO_CONTENT);
    assert_eq!(d.requests(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(d.requests(&other).await.0, StatusCode::OK);
    // Another resident cannot revoke it.
    let (_, stranger) = d.order(3, "13900000000").await;
    let path = format!("/api/v1/resident/links/{}", second["id"].as_str().unwrap());
    assert_eq!(d.send("DELETE", &path, 3, Some(&token_of(&stranger)), "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(d.requests(&other).await.0, StatusCode::OK);
}

#[tokio::test]
async fn orders_are_limited_per_client_and_per_grid_and_a_refusal_writes_nothing() {
    let d = door(false).await;
    let burst = gridloop_http::door::ORDERS_PER_CLIENT.burst;
    for n in 0..burst {
        let (status, answer) = d.order(1, &format!("1380013800{n}")).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let before = d.log_len().await;
    let (status, headers, bytes) =
        d.raw("POST", "/api/v1/resident/orders", 1, None, &d.order_body(&d.grid, "13800138009")).await;
    let answer: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(crate::code(&answer), "rate_limited");
    let message = answer["error"]["message"].as_str().expect("a message");
    assert!(message.contains("try again in") && message.contains("minutes"), "{message}");
    assert!(headers.get("retry-after").is_some());
    assert_eq!(d.log_len().await, before, "nothing written");
    // Another address may still order; the grid's own bound comes next.
    let per_grid = gridloop_http::door::ORDERS_PER_GRID.burst;
    let mut from = 10;
    for _ in burst..per_grid {
        let (status, answer) = d.order(from, &format!("1390000{from:04}")).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        from += 1;
    }
    let before = d.log_len().await;
    let (status, answer) = d.order(from, "13700000000").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("for this place"));
    assert_eq!(d.log_len().await, before, "nothing written");
    // Another grid is not bounded by this one's orders.
    let body = d.order_body(&d.other_grid, "13700000001");
    let (status, answer) = d.send("POST", "/api/v1/resident/orders", from + 1, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn with_confirm_phone_an_order_waits_outside_the_log_until_its_code() {
    let d = door(true).await;
    let before = d.log_len().await;
    let (status, held) = d.order(1, "13800138000").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    assert!(held["ticket"].is_null() && held["link"].is_null());
    assert_eq!(d.log_len().await, before, "held outside the log");
    let sent = d.courier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].2, CodePurpose::ConfirmPhone);
    let path = format!("/api/v1/resident/orders/{}/confirm", held["held"].as_str().expect("an id"));
    let code = d.courier.last_code();
    let wrong = json!({ "code": if code == "111111" { "222222" } else { "111111" } }).to_string();
    assert_eq!(d.send("POST", &path, 1, None, &wrong).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(d.log_len().await, before);
    let (status, done) = d.send("POST", &path, 1, None, &json!({ "code": code }).to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let (_, mine) = d.requests(&token_of(&done)).await;
    assert_eq!(mine[0]["id"], done["ticket"]);
    // Confirmed once: the held order is gone.
    assert_eq!(d.send("POST", &path, 1, None, &json!({ "code": code }).to_string()).await.0, StatusCode::NOT_FOUND);
    // A held order left past its half hour expires, unwritten.
    d.clock.advance(Millis::minutes(2));
    let (_, late) = d.order(2, "13900000000").await;
    let code = d.courier.last_code();
    d.clock.advance(Millis::minutes(31));
    let before = d.log_len().await;
    let path = format!("/api/v1/resident/orders/{}/confirm", late["held"].as_str().expect("an id"));
    assert_eq!(d.send("POST", &path, 2, None, &json!({ "code": code }).to_string()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(d.log_len().await, before);
}

#[tokio::test]
async fn feedback_is_open_only_while_the_engine_says_so_and_unsatisfied_reopens() {
    let d = door(false).await;
    let (_, ordered) = d.order(1, "13800138000").await;
    let token = token_of(&ordered);
    let id = ordered["ticket"].as_str().expect("an id").to_string();
    let show = format!("/api/v1/resident/tickets/{id}");
    let (status, view) = d.send("GET", &show, 1, Some(&token), "").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["feedback_open"], false);
    assert_eq!(view["timeline"][0]["kind"], "received");
    assert!(view["status_text"]["zh"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(!view["due"].as_array().expect("deadlines").is_empty(), "deadlines from the engine");
    resolve(&d, &id).await;
    let (_, view) = d.send("GET", &show, 1, Some(&token), "").await;
    assert_eq!(view["feedback_open"], true, "{view}");
    assert_eq!(view["status"], "awaiting_feedback");
    let kinds: Vec<&str> = view["timeline"].as_array().unwrap().iter().filter_map(|s| s["kind"].as_str()).collect();
    assert!(kinds.contains(&"taken") && kinds.contains(&"resolved"), "{kinds:?}");
    // Unsatisfied, through the ticket API with the personal link: reopened.
    let rate = json!({ "rating": "unsatisfied", "comment": "still dripping" }).to_string();
    let (status, answer) = d.send("POST", &format!("/api/v1/tickets/{id}/feedback"), 1, Some(&token), &rate).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, view) = d.send("GET", &show, 1, Some(&token), "").await;
    assert_eq!((view["status"].as_str(), view["feedback_open"].clone()), (Some("reopened"), json!(false)));
    // Past the window the form is gone.
    resolve(&d, &id).await;
    d.clock.advance(Millis::minutes(60 * 24 * 30));
    let (_, view) = d.send("GET", &show, 1, Some(&token), "").await;
    assert_eq!(view["feedback_open"], false, "{view}");
}

/// The dispatcher offers the ticket to V-1, who accepts and resolves it.
async fn resolve(d: &Door, id: &str) {
    let dispatcher = d.tokens["dispatcher"].clone();
    let volunteer = d.tokens["volunteer"].clone();
    register_v1(d).await;
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    for (who, action, body) in [
        (&dispatcher, "offer", offer),
        (&volunteer, "accept", "{}"),
        (&volunteer, "resolve", r#"{"result":"washer replaced","minutes_spent":20}"#),
    ] {
        let (status, answer) = d.send("POST", &format!("/api/v1/tickets/{id}/{action}"), 9, Some(who), body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    }
}

async fn register_v1(d: &Door) {
    let body = json!({ "id": "V-1", "team": "TM-1", "home_grid": d.grid.to_string(), "skills": ["elderly_care"] });
    // Registered once; a second call is refused as a repeat, which is fine.
    let _ = d.send("POST", "/api/v1/volunteers", 9, Some(&d.tokens["dispatcher"]), &body.to_string()).await;
}

#[tokio::test]
async fn pages_qr_codes_and_the_sheet() {
    let d = door(false).await;
    let (status, _, page) = d.raw("GET", &format!("/r/g/{}", d.grid), 1, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains(&format!(r#"data-grid="{}""#, d.grid)) && page.contains(r#"data-qr="1""#));
    assert!(page.contains(r#"lang="zh-CN""#) && page.contains(r#"data-test="order-form""#));
    let (status, headers, svg) = d.raw("GET", &format!("/r/qr/{}", d.grid), 1, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(String::from_utf8(svg).expect("utf-8").contains("<svg"));
    let (status, _, sheet) = d.raw("GET", &format!("/r/sheet/{}", d.community), 1, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let sheet = String::from_utf8(sheet).expect("utf-8");
    let world = gridloop_fixtures::chikan(1).expect("the district").world;
    let grids = world.grids.at_level(Level::Grid).filter(|g| g.code.is_within(&d.community)).count();
    assert_eq!(sheet.matches(r#"data-test="qr-card""#).count(), grids);
    assert!(sheet.contains(&format!("/r/g/{}", d.grid)));
    let (status, _, list) = d.raw("GET", "/r/sheets", 1, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(list).expect("utf-8").contains(&format!("/r/sheet/{}", d.community)));
    // A grid that is not the district's is refused, and so is a grid as a community.
    assert!(d.raw("GET", "/r/g/999999-001-001-001", 1, None, "").await.0.is_client_error());
    assert_eq!(d.raw("GET", &format!("/r/sheet/{}", d.grid), 1, None, "").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_catalog_shows_only_admitted_items_and_places_resolve_by_the_engine() {
    let d = door(false).await;
    let (status, catalog) = d.send("GET", "/api/v1/resident/catalog", 1, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = catalog
        .as_array()
        .expect("categories")
        .iter()
        .flat_map(|c| c["items"].as_array().expect("items").iter().filter_map(|i| i["code"].as_str()))
        .collect();
    assert!(codes.contains(&crate::VOLUNTEER_ITEM) && !codes.contains(&crate::DEPARTMENT_ITEM), "{codes:?}");
    let (status, place) = d.send("GET", &format!("/api/v1/resident/place?grid={}", d.grid), 1, None, "").await;
    assert_eq!((status, place["grid"].as_str()), (StatusCode::OK, Some(d.grid.as_str())));
    let (status, _) = d.send("GET", "/api/v1/resident/place?lon=0&lat=0", 1, None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Open tickets of the same item and grid are shown before ordering.
    let (_, ordered) = d.order(1, "13800138000").await;
    let path = format!("/api/v1/resident/open?grid={}&item={}", d.grid, crate::VOLUNTEER_ITEM);
    let (status, open) = d.send("GET", &path, 2, None, "").await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open[0]["id"], ordered["ticket"]);
    assert!(open[0].get("description").is_none(), "no description, no resident");
}

#[tokio::test]
async fn a_bad_order_writes_nothing_and_holds_nothing() {
    let d = door(true).await;
    let before = d.log_len().await;
    for body in [
        json!({ "item": "IC-999", "grid": d.grid.to_string(), "description": "x", "name": "a", "phone": "13800138000" }),
        json!({ "item": crate::VOLUNTEER_ITEM, "grid": d.grid.to_string(), "description": "", "name": "a", "phone": "13800138000" }),
        json!({ "item": crate::VOLUNTEER_ITEM, "grid": d.grid.to_string(), "description": "x", "name": "a", "phone": "12" }),
        json!({ "item": crate::VOLUNTEER_ITEM, "grid": d.grid.to_string(), "description": "x", "name": "a", "phone": "13800138000", "photos": ["0".repeat(64)] }),
        json!({ "item": crate::VOLUNTEER_ITEM, "description": "x", "name": "a", "phone": "13800138000" }),
    ] {
        let (status, answer) = d.send("POST", "/api/v1/resident/orders", 1, None, &body.to_string()).await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
    }
    assert_eq!(d.log_len().await, before);
    assert!(d.courier.sent().is_empty(), "no code for a refused order");
}

#[tokio::test]
async fn following_an_open_ticket_makes_a_co_reporter_not_a_duplicate() {
    let d = door(false).await;
    let (_, first) = d.order(1, "13800138000").await;
    let id = first["ticket"].as_str().expect("an id").to_string();
    // A neighbour finds it already reported, and follows it instead.
    let path = format!("/api/v1/resident/open?grid={}&item={}", d.grid, crate::VOLUNTEER_ITEM);
    let (_, open) = d.send("GET", &path, 2, None, "").await;
    assert_eq!(open[0]["id"], id.as_str());
    let tickets_before =
        d.store.snapshot().iter().filter(|e| e.schema.to_string().starts_with("ticket.submitted")).count();
    let who = json!({ "name": "王强", "phone": "13900000000" }).to_string();
    let (status, followed) = d.send("POST", &format!("/api/v1/resident/follow/{id}"), 2, None, &who).await;
    assert_eq!(status, StatusCode::CREATED, "{followed}");
    assert_eq!(followed["ticket"], id.as_str());
    let tickets_after =
        d.store.snapshot().iter().filter(|e| e.schema.to_string().starts_with("ticket.submitted")).count();
    assert_eq!(tickets_after, tickets_before, "no second ticket");
    // The co-reporter reads it through their own link, in "my requests" too.
    let token = token_of(&followed);
    let (_, mine) = d.requests(&token).await;
    assert_eq!(mine[0]["id"], id.as_str());
    let (status, view) = d.send("GET", &format!("/api/v1/resident/tickets/{id}"), 2, Some(&token), "").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert!(view["timeline"].as_array().unwrap().iter().any(|s| s["kind"] == "followed"));
    // Following twice is refused by the engine, and writes nothing.
    let before = d.log_len().await;
    let (status, _) = d.send("POST", &format!("/api/v1/resident/follow/{id}"), 2, Some(&token), "{}").await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(d.log_len().await, before);
}

#[tokio::test]
async fn an_orders_photos_are_the_tickets_and_only_its_readers_see_them() {
    let d = door(false).await;
    // A real photo, with GPS in its EXIF: it is stored stripped.
    let jpeg = include_bytes!("../../../../fixtures/photos/gps.jpg").to_vec();
    let stored = gridloop_media::check(&jpeg).expect("a photo").bytes;
    // Photos are uploaded as bytes; the blob store names them by hash.
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/resident/photos")
        .header("content-type", "image/jpeg")
        .body(Body::from(jpeg))
        .expect("a request");
    let response = d.router.clone().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::CREATED);
    let uploaded: Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body"))
            .expect("json");
    let hash = uploaded["hash"].as_str().expect("a hash").to_string();
    let mut body: Value = serde_json::from_str(&d.order_body(&d.grid, "13800138000")).expect("json");
    body["photos"] = json!([hash]);
    let (status, ordered) = d.send("POST", "/api/v1/resident/orders", 1, None, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{ordered}");
    let id = ordered["ticket"].as_str().expect("an id");
    let token = token_of(&ordered);
    let (_, view) = d.send("GET", &format!("/api/v1/resident/tickets/{id}"), 1, Some(&token), "").await;
    assert_eq!(view["order_photos"], json!([hash]));
    let path = format!("/api/v1/resident/tickets/{id}/photos/{hash}");
    let (status, headers, bytes) = d.raw("GET", &path, 1, Some(&token), "").await;
    assert_eq!((status, bytes), (StatusCode::OK, stored));
    assert_eq!(headers["content-type"], "image/jpeg");
    // A stranger's link does not reach it.
    let (_, stranger) = d.order(2, "13900000000").await;
    assert_eq!(d.raw("GET", &path, 2, Some(&token_of(&stranger)), "").await.0, StatusCode::NOT_FOUND);
}
