//! The console's routes without a browser: the embedded page and its
//! fence, who the caller is, the board, the routing suggestions, the
//! series for charts, the emergency switch and the event stream. (The page
//! itself is driven in Chromium by `adapters/cli/tests/it/console.rs`.)

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt as _;
use gridloop_engine::grid::Level;
use gridloop_engine::time::Millis;
use gridloop_http::console::{PAGE_HTML, SCRIPT_JS, STYLE_CSS};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{DEPARTMENT_ITEM, Harness, VOLUNTEER_ITEM, code, harness};

/// The ticket ids of a board answer, in order.
fn ids(answer: &Value) -> Vec<&str> {
    answer["rows"].as_array().expect("rows").iter().map(|r| r["id"].as_str().expect("an id")).collect()
}

async fn raw(h: &Harness, path: &str, who: Option<&str>) -> axum::response::Response {
    let mut request = Request::builder().uri(path);
    if let Some(who) = who {
        request = request.header("authorization", format!("Bearer {}", h.token(who)));
    }
    h.router.clone().oneshot(request.body(Body::empty()).expect("a request")).await.expect("an answer")
}

#[tokio::test]
async fn the_page_and_its_assets_are_embedded_and_fenced_to_this_origin() {
    let h = harness().await;
    for (path, kind) in [("/", "text/html"), ("/console/app.js", "text/javascript"), ("/console/app.css", "text/css")] {
        let response = raw(&h, path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path} needs no token");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().expect("ascii").starts_with(kind), "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{policy}");
    }
    // Nothing in the assets names another host: the only URL is the SVG
    // namespace, which is a name, not a request.
    for asset in [PAGE_HTML, SCRIPT_JS, STYLE_CSS] {
        let urls =
            asset.matches("http://").count() + asset.matches("https://").count() + asset.matches("//cdn").count();
        let namespaces = asset.matches("http://www.w3.org/2000/svg").count();
        assert_eq!(urls, namespaces, "an external URL in an asset");
    }
    assert!(PAGE_HTML.contains("lang=\"zh-CN\""), "Chinese by default");
}

#[tokio::test]
async fn me_names_the_role_the_place_and_its_level() {
    let h = harness().await;
    let (status, me) = h.get("/api/v1/me", "far_dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "dispatcher");
    assert_eq!(me["place"]["level"], "street");
    assert_eq!(me["may_switch_emergency"], true);
    assert!(me["place"]["name"].as_str().is_some_and(|n| n.ends_with("街道")), "{me}");
    let (_, me) = h.get("/api/v1/me", "auditor").await;
    assert_eq!(me["place"]["level"], "district");
    assert_eq!(me["may_switch_emergency"], false, "only dispatchers switch");
    assert_eq!(me["time_zone"], "Asia/Shanghai", "the district's zone, in which the console shows times");
    let (status, _) = h.send("GET", "/api/v1/me", None, None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_board_is_open_work_of_the_place_urgent_then_newest() {
    let h = harness().await;
    let first = h.order(VOLUNTEER_ITEM).await;
    let second = h.order(DEPARTMENT_ITEM).await;
    let urgent = format!(
        r#"{{"category":"{VOLUNTEER_ITEM}","grid":"{}","description":"water everywhere","urgency":"urgent"}}"#,
        h.grid
    );
    let (status, answer) = h.post("/api/v1/tickets", "resident", &urgent).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let urgent = answer["id"].as_str().expect("an id").to_string();
    let cancel = r#"{"reason":"solved by a neighbour"}"#;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{first}/cancel"), "dispatcher", cancel).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (status, board) = h.get("/api/v1/board", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(ids(&board), [urgent.as_str(), second.as_str()], "urgent first, then newest; cancelled ones gone");
    let row = &board["rows"][1];
    assert_eq!(row["next_deadline"]["kind"], "accept");
    assert!(row["item_name"].as_str().is_some_and(|n| !n.is_empty()) && row["place"].as_str().is_some());
    assert_eq!(board["position"], 4, "the log position it reflects: three orders and a cancellation");

    let (_, closed) = h.get("/api/v1/board?status=cancelled", "dispatcher").await;
    assert_eq!(ids(&closed), [first.as_str()], "a final status when asked for");
    let (_, far) = h.get("/api/v1/board", "far_dispatcher").await;
    assert_eq!(far["total"], 0, "another street's dispatcher sees none of it");
    let (status, _) = h.get(&format!("/api/v1/board?scope={}", h.grid), "far_dispatcher").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.get("/api/v1/board", "resident").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, service) = h.get("/api/v1/board?category=information_collection", "dispatcher").await;
    assert!(ids(&service).contains(&urgent.as_str()), "{service}");
    let (status, bad) = h.get("/api/v1/board?category=gossip", "dispatcher").await;
    assert_eq!((status, code(&bad)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (_, overdue) = h.get("/api/v1/board?overdue=true", "dispatcher").await;
    assert_eq!(overdue["total"], 0);
    h.clock.advance(Millis::days(30));
    let (_, overdue) = h.get("/api/v1/board?overdue=true", "dispatcher").await;
    assert_eq!(overdue["total"], 2, "both open tickets missed their accept deadline");
    let (_, board) = h.get("/api/v1/board", "dispatcher").await;
    assert_eq!((board["total"].as_u64(), board["overdue"].as_u64()), (Some(2), Some(2)), "the count beside the board");
    assert_eq!(board["rows"][0]["overdue"], true);
}

#[tokio::test]
async fn candidates_follow_the_round_and_the_tier_and_end_with_the_ticket() {
    let h = harness().await;
    h.register_v1().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let (harness, path) = (&h, format!("/api/v1/tickets/{id}/candidates"));
    let path = path.as_str();
    let candidates = move || async move { harness.get(path, "dispatcher").await.1 };
    let shape = |c: &Value| (c["route"].clone(), c["ring"]["level"].clone(), c["round"].clone(), c["tier"].clone());
    let first = candidates().await;
    assert_eq!(shape(&first), ("offer".into(), "grid".into(), 0.into(), "grid".into()), "{first}");
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/offer"), "dispatcher", offer).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let out = candidates().await;
    assert_eq!(
        shape(&out),
        ("offer".into(), "grid".into(), 0.into(), "grid".into()),
        "the offer out now's ring: {out}"
    );
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/decline"), "volunteer", r#"{"reason":"busy"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let next = candidates().await;
    assert_eq!(shape(&next), ("offer".into(), "community".into(), 1.into(), "grid".into()), "round 2 widens: {next}");
    let (status, answer) =
        h.post(&format!("/api/v1/tickets/{id}/escalate"), "dispatcher", r#"{"reason":"whistle"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let community = candidates().await;
    assert_eq!(
        (community["tier"].as_str(), community["ring"]["level"].as_str()),
        (Some("community"), Some("community"))
    );
    let team = community["team"].as_str().map(str::to_string);
    let expected = if team.is_some() { "team" } else { "department" };
    assert_eq!(community["route"], expected, "the community's own route, as the policy assigns it: {community}");
    let (status, answer) =
        h.post(&format!("/api/v1/tickets/{id}/escalate"), "dispatcher", r#"{"reason":"whistle"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let street = candidates().await;
    assert_eq!(shape(&street), ("department".into(), "street".into(), 2.into(), "street".into()), "{street}");
    let assign = r#"{"to":{"kind":"department","id":"civil_affairs"},"reason":"派单"}"#;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/assign"), "dispatcher", assign).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let resolve = r#"{"result":"done","minutes_spent":30}"#;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/resolve"), "department", resolve).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let done = candidates().await;
    assert_eq!((done["route"].clone(), done["ring"].clone()), (Value::Null, Value::Null), "nothing to route: {done}");
    assert!(done["volunteers"].as_array().is_some_and(Vec::is_empty), "{done}");
    assert!(done["departments"].as_array().is_some_and(|d| !d.is_empty()), "names for the page stay: {done}");
}

#[tokio::test]
async fn candidates_are_the_routing_policys_suggestion() {
    let h = harness().await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let (status, none) = h.get(&format!("/api/v1/tickets/{id}/candidates"), "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["route"], "team", "nobody registered: the owning team");
    assert!(none["volunteers"].as_array().is_some_and(Vec::is_empty));
    assert!(none["departments"].as_array().is_some_and(|d| d.len() > 5), "every department, for summons");

    h.register_v1().await;
    let (_, one) = h.get(&format!("/api/v1/tickets/{id}/candidates"), "dispatcher").await;
    assert_eq!(one["route"], "offer", "{one}");
    assert_eq!(one["volunteers"][0]["id"], "V-1");
    assert_eq!(one["ring"]["level"], "grid");

    let department = h.order(DEPARTMENT_ITEM).await;
    let (_, answer) = h.get(&format!("/api/v1/tickets/{department}/candidates"), "dispatcher").await;
    assert_eq!(answer["route"], "department");
    let (status, _) = h.get(&format!("/api/v1/tickets/{id}/candidates"), "far_dispatcher").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "outside their place");
    let (status, _) = h.get(&format!("/api/v1/tickets/{id}/candidates"), "volunteer").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.get("/api/v1/tickets/T-999/candidates", "dispatcher").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn series_chart_each_street_per_day() {
    let h = harness().await;
    h.order(VOLUNTEER_ITEM).await;
    let (status, series) = h.get("/api/v1/metrics/series", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["by"], "street");
    assert_eq!(series["period"], "day");
    let streets = h.service.world().grids.at_level(Level::Street).count();
    assert_eq!(series["keys"].as_array().map(Vec::len), Some(streets));
    assert_eq!(series["buckets"], serde_json::json!(["2026-11-23"]));
    assert_eq!(series["rows"].as_array().map(Vec::len), Some(1), "only the first street had an order");
    assert_eq!(series["all"]["submitted"], 1);

    let (status, weeks) = h.get("/api/v1/metrics/series?from=2026-01-01&period=week", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{weeks}");
    assert!(weeks["buckets"].as_array().is_some_and(|b| b.len() > 40), "every week, also the quiet ones");
    let (status, bad) = h.get("/api/v1/metrics/series?from=2001-01-01&period=day", "dispatcher").await;
    assert_eq!((status, code(&bad)), (StatusCode::BAD_REQUEST, "invalid_input"), "too many days to chart");
    let (status, _) = h.get("/api/v1/metrics/series?by=district", "dispatcher").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.get("/api/v1/metrics/series", "volunteer").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, mine) = h.get("/api/v1/metrics/series", "far_dispatcher").await;
    assert_eq!(mine["by"], "community", "a street dispatcher's places are its communities");
}

#[tokio::test]
async fn the_emergency_switch_is_a_dispatchers_within_their_place() {
    let h = harness().await;
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    let street = me["place"]["code"].as_str().expect("a street").to_string();
    let declare = r#"{"reason":"typhoon"}"#;
    let (status, answer) = h.post(&format!("/api/v1/emergency/{street}/declare"), "far_dispatcher", declare).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["active"], true);
    let (status, again) = h.post(&format!("/api/v1/emergency/{street}/declare"), "far_dispatcher", declare).await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "illegal_transition"), "declared already");
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    assert_eq!(me["emergency"][0]["code"], street.as_str());
    assert_eq!(me["emergency"][0]["reason"], "typhoon");
    let (_, me) = h.get("/api/v1/me", "auditor").await;
    assert_eq!(me["emergency"][0]["code"], street.as_str(), "seen from the district too");

    let (status, _) = h.post("/api/v1/emergency/440802/declare", "far_dispatcher", declare).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the district is not theirs");
    let (status, _) = h.post(&format!("/api/v1/emergency/{street}/declare"), "resident", declare).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, empty) =
        h.post(&format!("/api/v1/emergency/{street}/lift"), "far_dispatcher", r#"{"reason":" "}"#).await;
    assert_eq!((status, code(&empty)), (StatusCode::BAD_REQUEST, "invalid_input"), "a reason is required");
    let (status, _) = h.post(&format!("/api/v1/emergency/{street}/toggle"), "far_dispatcher", declare).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, lifted) =
        h.post(&format!("/api/v1/emergency/{street}/lift"), "far_dispatcher", r#"{"reason":"over"}"#).await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(lifted["active"], false);
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    assert_eq!(me["emergency"], serde_json::json!([]));
}

/// The next server-sent event of `stream` with its name, or a failure after
/// a few seconds.
async fn next_event(stream: &mut axum::body::BodyDataStream, buffer: &mut String, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut lines = block.lines();
            if lines.clone().any(|l| l == format!("event: {name}")) {
                let data = lines.find_map(|l| l.strip_prefix("data: ")).expect("data");
                return serde_json::from_str(data).expect("json data");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await;
        let chunk = chunk.unwrap_or_else(|_| panic!("no {name} event within 5 s")).expect("the stream is open");
        buffer.push_str(std::str::from_utf8(&chunk.expect("a chunk")).expect("utf-8"));
    }
}

#[tokio::test]
async fn the_stream_sends_each_event_of_the_place_as_its_board_row() {
    let h = harness().await;
    let response = raw(&h, "/console/stream", Some("dispatcher")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let hello = next_event(&mut stream, &mut buffer, "hello").await;
    let id = h.order(VOLUNTEER_ITEM).await;
    let event = next_event(&mut stream, &mut buffer, "ticket").await;
    assert_eq!(event["row"]["id"], id.as_str());
    assert_eq!(event["row"]["status"], "submitted");
    assert_eq!(event["schema"], "ticket.submitted/3");
    assert!(event["position"].as_u64() > hello["position"].as_u64());

    // Another street's dispatcher is not told; from a position, the missed
    // events come first.
    let far = raw(&h, "/console/stream", Some("far_dispatcher")).await;
    let mut far = far.into_body().into_data_stream();
    let mut far_buffer = String::new();
    next_event(&mut far, &mut far_buffer, "hello").await;
    h.order(DEPARTMENT_ITEM).await;
    let replay = raw(&h, "/console/stream?from=1", Some("dispatcher")).await;
    let mut replay = replay.into_body().into_data_stream();
    let mut replay_buffer = String::new();
    let missed = next_event(&mut replay, &mut replay_buffer, "ticket").await;
    assert_eq!(missed["row"]["id"], id.as_str());
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    let street = me["place"]["code"].as_str().expect("a street").to_string();
    let (status, _) =
        h.post(&format!("/api/v1/emergency/{street}/declare"), "far_dispatcher", r#"{"reason":"flood"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let switched = next_event(&mut far, &mut far_buffer, "emergency").await;
    assert_eq!(switched["place"], street.as_str());
    assert_eq!(switched["active"], true);
    assert!(!far_buffer.contains("event: ticket"), "no ticket of the other street");

    assert_eq!(raw(&h, "/console/stream", Some("resident")).await.status(), StatusCode::FORBIDDEN);
}

/// The ticket read the console shows carries what the engine derives: the
/// board status, the pending deadlines and the caller's open actions, so
/// the page computes none of them.
#[tokio::test]
async fn a_ticket_read_carries_its_board_status_deadlines_and_actions() {
    let h = harness().await;
    let id = h.offered().await;
    let path = format!("/api/v1/tickets/{id}");
    let (status, ticket) = h.get(&path, "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!((&ticket["status"], &ticket["board_status"]), (&Value::from("offered"), &Value::from("offered")));
    let kinds: Vec<&str> =
        ticket["pending_deadlines"].as_array().expect("a list").iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["offer_expiry", "accept"], "the engine's pending deadlines, earliest first: {ticket}");
    assert_eq!(ticket["pending_deadlines"][0]["at"], ticket["offer"]["expires_at"]);
    let actions = |t: &Value| -> Vec<String> {
        t["actions"].as_array().expect("a list").iter().map(|a| a.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(actions(&ticket), ["assign", "escalate", "mark-duplicate", "cancel", "note", "urge"], "{ticket}");
    let (_, own) = h.get(&path, "resident").await;
    assert_eq!(actions(&own), ["cancel"], "a resident may only cancel their own: {own}");
    let steps = [("accept", "volunteer", ""), ("resolve", "volunteer", r#"{"result":"fixed","minutes_spent":40}"#)];
    for (action, who, body) in steps {
        let (status, answer) = h.post(&format!("{path}/{action}"), who, body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    }
    let (_, resolved) = h.get(&path, "dispatcher").await;
    assert_eq!((&resolved["status"], &resolved["board_status"]), (&"resolved".into(), &"awaiting_feedback".into()));
    assert_eq!(resolved["pending_deadlines"][0]["kind"], "feedback", "{resolved}");
    assert_eq!(resolved["pending_deadlines"][0]["at"], resolved["feedback_by"]);
    assert_eq!(actions(&resolved), ["note"], "no close before the feedback or its deadline: {resolved}");
    let (status, answer) = h.post(&format!("{path}/feedback"), "resident", r#"{"rating":"satisfied"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, rated) = h.get(&path, "dispatcher").await;
    assert_eq!(rated["board_status"], "resolved", "{rated}");
    assert_eq!(actions(&rated), ["close", "note"], "{rated}");
    let (status, answer) = h.post(&format!("{path}/close"), "dispatcher", "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, closed) = h.get(&path, "dispatcher").await;
    assert_eq!((&closed["board_status"], &closed["actions"]), (&"closed".into(), &Value::Array(vec![])));
    assert_eq!(closed["pending_deadlines"], Value::Array(vec![]));
}

#[tokio::test]
async fn the_emergency_switch_is_on_the_one_idempotency_path() {
    let h = harness().await;
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    let street = me["place"]["code"].as_str().expect("a street").to_string();
    let (declare, lift) = (format!("/api/v1/emergency/{street}/declare"), format!("/api/v1/emergency/{street}/lift"));
    let body = r#"{"reason":"typhoon"}"#;
    let (status, first) = h.send("POST", &declare, Some("far_dispatcher"), Some("switch-1"), body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let before = h.store.snapshot().len();
    // The same key and request again: the first answer, nothing written.
    let (status, again) = h.send("POST", &declare, Some("far_dispatcher"), Some("switch-1"), body).await;
    assert_eq!((status, &again["events"]), (StatusCode::OK, &first["events"]), "{again}");
    // A lift under the declaration's key is another request: refused.
    let (status, reused) = h.send("POST", &lift, Some("far_dispatcher"), Some("switch-1"), body).await;
    assert_eq!((status, code(&reused)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{reused}");
    assert_eq!(h.store.snapshot().len(), before, "neither wrote anything");
    let (_, me) = h.get("/api/v1/me", "far_dispatcher").await;
    assert_eq!(me["emergency"][0]["code"], street.as_str(), "still declared");
}

#[tokio::test]
async fn the_console_sends_one_idempotency_key_per_act() {
    let script = gridloop_http::console::SCRIPT_JS;
    assert!(script.contains("headers['Idempotency-Key'] = key"), "the API call sends the key");
    for write in ["post('/api/v1/emergency/", "post('/api/v1/tickets/"] {
        assert!(script.contains(write), "{write} goes through the keyed post");
    }
    assert_eq!(script.matches("api('POST'").count(), 1, "no write bypasses the keyed post, which makes the one call");
}
