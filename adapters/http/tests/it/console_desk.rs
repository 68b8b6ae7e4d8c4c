//! The dispatcher's desk without a browser: a call logged through
//! `/intake` (the caller to the personal store and the tail index, never
//! the log), found again by the phone's last digits, by words and by id;
//! names beside ids, masked, and only for those who may read residents;
//! paging; the grids' maps; a ticket's audit; `/me`'s answers per role.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridloop_engine::account::MemoryAccounts;
use gridloop_engine::envelope::Role;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::{EventStore as _, MemoryStore};
use gridloop_engine::time::Timestamp;
use gridloop_http::{AppState, TokenTable, router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::people::MemoryPersonal;

struct Desk {
    router: Router,
    store: MemoryStore,
    grids: Vec<GridCode>,
    tokens: std::collections::HashMap<&'static str, String>,
}

async fn desk() -> Desk {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let store = MemoryStore::new();
    let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock, 7));
    let grids: Vec<GridCode> = district.world.grids.at_level(Level::Grid).map(|n| n.code.clone()).collect();
    let street = grids[0].at_level(Level::Street).expect("a street");
    let far = district.world.grids.at_level(Level::Street).map(|n| n.code.clone()).find(|s| *s != street);
    let mut table = TokenTable::new();
    let mut tokens = std::collections::HashMap::new();
    let callers: [(&'static str, Role, &str, Option<GridCode>); 6] = [
        ("dispatcher", Role::Dispatcher, "d-1", None),
        ("far_dispatcher", Role::Dispatcher, "d-far", far),
        ("auditor", Role::Auditor, "a-1", None),
        ("grid_worker", Role::GridWorker, "gw-1", Some(grids[0].clone())),
        ("department", Role::Department, "civil_affairs", None),
        ("volunteer", Role::Volunteer, "V-1", None),
    ];
    for (name, role, subject, place) in callers {
        let (token, entry) = TokenTable::issue(role, subject, place).expect("issued");
        table.insert(entry).expect("inserted");
        tokens.insert(name, token);
    }
    let state = AppState::new(service, table, gridloop_http::Cold::default())
        .await
        .expect("state")
        .with_personal(Arc::new(MemoryPersonal::default()))
        .with_accounts(Arc::new(MemoryAccounts::new([5; 32])));
    Desk { router: router(state), store, grids, tokens }
}

impl Desk {
    async fn raw(&self, method: &str, path: &str, who: &str, key: Option<&str>, body: &str) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.tokens[who]));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body.to_string())).expect("a request"));
        let response = response.await.expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("a body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn json(&self, method: &str, path: &str, who: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
        let (status, text) = self.raw(method, path, who, key, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn log_len(&self) -> usize {
        self.store.read_all(0, 100_000).await.expect("the log").len()
    }

    async fn call(
        &self,
        who: &str,
        key: &str,
        name: &str,
        phone: &str,
        grid: &GridCode,
        text: &str,
    ) -> (StatusCode, Value) {
        let body = json!({ "channel": "phone", "name": name, "phone": phone, "address": "幸福路 12 号",
            "item": "CS-001", "grid": grid, "description": text });
        self.json("POST", "/api/v1/intake", who, Some(key), &body.to_string()).await
    }
}

fn ids(board: &Value) -> Vec<String> {
    board["rows"].as_array().expect("rows").iter().map(|r| r["id"].as_str().expect("an id").to_string()).collect()
}

#[tokio::test]
async fn a_call_is_logged_for_the_phones_resident_and_found_by_its_last_digits() {
    let d = desk().await;
    let (status, first) = d.call("dispatcher", "k-1", "王秀英", "138-0013-5678", &d.grids[0], "老人摔倒需要探访").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["returning"], false);
    let id = first["id"].as_str().expect("an id").to_string();
    // The same request again is the same ticket; the same phone later is the
    // same resident, known.
    let (status, again) = d.call("dispatcher", "k-1", "王秀英", "138-0013-5678", &d.grids[0], "老人摔倒需要探访").await;
    assert_eq!((status, again["id"].clone()), (StatusCode::CREATED, first["id"].clone()));
    let (_, second) = d.call("dispatcher", "k-2", "王秀英", "+86 13800135678", &d.grids[1], "楼道灯坏了").await;
    assert_eq!((second["resident"].clone(), second["returning"].clone()), (first["resident"].clone(), json!(true)));
    let (_, other) = d.call("dispatcher", "k-3", "李四", "13900139999", &d.grids[2], "噪音扰民").await;

    // The log names an opaque resident, never the name or the phone.
    let (_, history) = d.raw("GET", &format!("/api/v1/tickets/{id}/history"), "dispatcher", None, "").await;
    assert!(!history.contains("5678") && !history.contains("王秀英"), "{history}");
    assert!(history.contains(r#""channel":"phone""#), "{history}");

    // By the last four digits, or more; both tickets of that phone, no other.
    let (status, found) = d.json("GET", "/api/v1/board?q=5678", "dispatcher", None, "").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let mut found_ids = ids(&found);
    found_ids.sort();
    let mut expected = vec![id.clone(), second["id"].as_str().expect("an id").to_string()];
    expected.sort();
    assert_eq!(found_ids, expected);
    let (_, longer) = d.json("GET", "/api/v1/board?q=0013-5678", "dispatcher", None, "").await;
    assert_eq!(ids(&longer).len(), 2);
    let (_, wrong) = d.json("GET", "/api/v1/board?q=10013-5678", "dispatcher", None, "").await;
    assert!(ids(&wrong).is_empty(), "more digits must all match");
    // Beside the ticket: the resident masked.
    let row = &found["rows"][0];
    assert_eq!(row["resident"]["name"], "王**");
    assert_eq!(row["resident"]["phone"], "138****5678");
    // By words, and by id (closed tickets too, as a caller asks after one).
    let (_, words) = d.json("GET", "/api/v1/board?q=%E5%99%AA%E9%9F%B3", "dispatcher", None, "").await;
    assert_eq!(ids(&words), vec![other["id"].as_str().expect("an id").to_string()]);
    let (_, by_id) = d.json("GET", &format!("/api/v1/board?q={}", id.to_lowercase()), "dispatcher", None, "").await;
    assert_eq!(ids(&by_id), vec![id.clone()]);

    // An auditor sees no resident and may not search by phone.
    let (_, board) = d.json("GET", "/api/v1/board", "auditor", None, "").await;
    assert!(board["rows"].as_array().expect("rows").iter().all(|r| r["resident"].is_null()));
    let (status, refused) = d.json("GET", "/api/v1/board?q=5678", "auditor", None, "").await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_permitted")));
    // Three digits find too many phones to help.
    let (status, _) = d.json("GET", "/api/v1/board?q=678", "dispatcher", None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_refused_call_writes_nothing_and_others_may_not_log_calls() {
    let d = desk().await;
    let before = d.log_len().await;
    let grid = d.grids[0].clone();
    let cases = [
        (
            "dispatcher",
            json!({ "channel": "phone", "name": "", "phone": "13800135678", "item": "CS-001", "grid": grid, "description": "x" }),
        ),
        (
            "dispatcher",
            json!({ "channel": "phone", "name": "王", "phone": "12", "item": "CS-001", "grid": grid, "description": "x" }),
        ),
        (
            "dispatcher",
            json!({ "channel": "phone", "name": "王", "phone": "13800135678", "item": "NO-1", "grid": grid, "description": "x" }),
        ),
        (
            "dispatcher",
            json!({ "channel": "phone", "name": "王", "phone": "13800135678", "item": "CS-001", "grid": grid, "description": " " }),
        ),
        (
            "dispatcher",
            json!({ "channel": "fax", "name": "王", "phone": "13800135678", "item": "CS-001", "grid": grid, "description": "x" }),
        ),
        (
            "dispatcher",
            json!({ "channel": "walk_in", "name": "王", "phone": "13800135678", "item": "CS-001", "address": "nowhere", "description": "x" }),
        ),
        (
            "auditor",
            json!({ "channel": "phone", "name": "王", "phone": "13800135678", "item": "CS-001", "grid": grid, "description": "x" }),
        ),
        (
            "volunteer",
            json!({ "channel": "phone", "name": "王", "phone": "13800135678", "item": "CS-001", "grid": grid, "description": "x" }),
        ),
        (
            "grid_worker",
            json!({ "channel": "phone", "name": "王", "phone": "13800135678", "item": "CS-001", "grid": d.grids[9], "description": "x" }),
        ),
    ];
    for (who, body) in cases {
        let (status, answer) = d.json("POST", "/api/v1/intake", who, None, &body.to_string()).await;
        assert!(status.is_client_error(), "{who} {body}: {status} {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    assert_eq!(d.log_len().await, before, "nothing written");
    let (_, found) = d.json("GET", "/api/v1/board?q=5678", "dispatcher", None, "").await;
    assert!(ids(&found).is_empty(), "and no phone indexed");
    // A walk-in placed by its address; a grid worker in their own grid.
    let body = json!({ "channel": "walk_in", "name": "赵", "phone": "13700001111", "item": "CS-001",
        "address": d.grids[4].to_string(), "grid": d.grids[4], "description": "来访" });
    let (status, answer) = d.json("POST", "/api/v1/intake", "dispatcher", None, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = d.call("grid_worker", "g-1", "钱", "13700002222", &grid, "上门代办").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn names_paging_maps_audit_and_me_answer_per_role() {
    let d = desk().await;
    let (_, logged) = d.call("dispatcher", "k-1", "王秀英", "13800135678", &d.grids[0], "探访").await;
    let id = logged["id"].as_str().expect("an id").to_string();
    // The ticket's names: the resident masked; assigned to a department, named.
    let assign = json!({ "to": { "kind": "department", "id": "civil_affairs" }, "reason": "民政" });
    let (status, _) =
        d.json("POST", &format!("/api/v1/tickets/{id}/assign"), "dispatcher", None, &assign.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, c) = d.json("GET", &format!("/api/v1/tickets/{id}/candidates"), "dispatcher", None, "").await;
    assert_eq!(c["names"]["resident"]["phone"], "138****5678", "{c}");
    assert!(c["names"]["holders"]["department:civil_affairs"].as_str().is_some_and(|n| !n.is_empty()), "{c}");
    let (_, board) = d.json("GET", "/api/v1/board", "dispatcher", None, "").await;
    assert!(board["rows"][0]["holder_name"].as_str().is_some_and(|n| !n.is_empty()), "{board}");

    // Paging: past the first page, the next rows.
    for n in 0..3 {
        d.call("dispatcher", &format!("p-{n}"), "某", &format!("1390000000{n}"), &d.grids[1], "x").await;
    }
    let (_, all) = d.json("GET", "/api/v1/board", "dispatcher", None, "").await;
    let (_, page) = d.json("GET", "/api/v1/board?offset=2", "dispatcher", None, "").await;
    assert_eq!(page["total"], all["total"]);
    assert_eq!(ids(&page), ids(&all)[2..].to_vec());

    // The board's map: the grid with a ticket counts it; clicking is the page's.
    let (status, svg) = d.raw("GET", "/api/v1/board/map", "dispatcher", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(svg.starts_with("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    let cell = format!("data-grid=\"{}\"", d.grids[1]);
    let at = svg.find(&cell).expect("the grid is drawn");
    assert!(svg[at..].split('>').next().is_some_and(|tag| tag.contains("data-open=\"3\"")), "{}", &svg[at..at + 400]);
    let (_, far) = d.raw("GET", "/api/v1/board/map", "far_dispatcher", None, "").await;
    assert!(!far.contains(&cell), "a street's dispatcher sees their street's grids");
    let (status, _) = d.raw("GET", "/api/v1/board/map", "volunteer", None, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, rates) = d.raw("GET", "/api/v1/metrics/map?rate=on_time", "auditor", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(rates.contains("data-kind=\"on_time\""));
    let (status, _) = d.raw("GET", "/api/v1/metrics/map?rate=speed", "auditor", None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The audit: the chain verified, and the ticket as of before its assignment.
    let (status, audit) = d.json("GET", &format!("/api/v1/tickets/{id}/audit"), "auditor", None, "").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["chain"]["ok"], true);
    let (_, early) =
        d.json("GET", &format!("/api/v1/tickets/{id}/audit?as_of=2026-11-23T07:00:00Z"), "auditor", None, "").await;
    assert_eq!(early["audit"]["events"].as_array().map(Vec::len), Some(0), "{early}");

    // /me: what each role's console shows, and where the others work.
    let (_, me) = d.json("GET", "/api/v1/me", "dispatcher", None, "").await;
    assert_eq!(
        me["may"],
        json!({ "board": true, "history": true, "metrics": true, "residents": true, "intake": true, "act": true })
    );
    let (_, me) = d.json("GET", "/api/v1/me", "auditor", None, "").await;
    assert_eq!(
        (me["may"]["board"].clone(), me["may"]["intake"].clone(), me["may"]["act"].clone()),
        (json!(true), json!(false), json!(false))
    );
    let (_, me) = d.json("GET", "/api/v1/me", "department", None, "").await;
    assert_eq!(me["workspace"], "/d/");
    let (_, me) = d.json("GET", "/api/v1/me", "grid_worker", None, "").await;
    assert_eq!(me["workspace"], "/w/");
    let (_, me) = d.json("GET", "/api/v1/me", "volunteer", None, "").await;
    assert_eq!((me["may"]["board"].clone(), me["workspace"].clone()), (json!(false), Value::Null));
}
