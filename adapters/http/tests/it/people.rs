//! People over every door, the API's: volunteers registered and changed by
//! admins and by dispatchers within their place, the world read and changed,
//! staff assigned and given tokens, on a service whose world was written to
//! the log by a world command (as a bundle import writes it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CommandId, ResidentId, TeamId};
use gridloop_engine::personal::{Lookup, Person, PersonalStore};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::Timestamp;
use gridloop_engine::world::{DistrictInfo, Team, TeamKind, WorldCommand, WorldState};
use gridloop_http::{AppState, TokenTable, router};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Harness, code, harness};

/// A personal store in memory: `None` marks an erased record.
#[derive(Debug, Default)]
pub struct MemoryPersonal(Mutex<HashMap<ResidentId, Option<Person>>>);

impl PersonalStore for MemoryPersonal {
    fn put(&self, key: &ResidentId, person: &Person) -> Result<(), Error> {
        self.0.lock().expect("lock").insert(key.clone(), Some(person.clone()));
        Ok(())
    }
    fn get(&self, key: &ResidentId) -> Result<Lookup, Error> {
        Ok(match self.0.lock().expect("lock").get(key) {
            Some(Some(person)) => Lookup::Found(person.clone()),
            Some(None) => Lookup::Erased,
            None => Lookup::Unknown,
        })
    }
    fn erase(&self, key: &ResidentId) -> Result<bool, Error> {
        Ok(self.0.lock().expect("lock").insert(key.clone(), None).is_some())
    }
}

impl MemoryPersonal {
    pub fn name_of(&self, key: &str) -> Option<String> {
        match self.get(&ResidentId::new(key).expect("a key")).expect("read") {
            Lookup::Found(person) => Some(person.name),
            _ => None,
        }
    }
}

/// The harness on a world imported into the log, with a personal store.
#[derive(Debug)]
pub struct People {
    pub h: Harness,
    pub personal: Arc<MemoryPersonal>,
    /// The street of `h.grid`, which `near_dispatcher` serves.
    pub street: GridCode,
    /// A grid of another street, which `far_dispatcher` serves.
    pub far_grid: GridCode,
}

/// The fixture district's catalog and two of its grids (with their
/// ancestors), a district record and one community team `TM-1`.
fn desired(grid: &GridCode, far_grid: &GridCode) -> WorldState {
    let fixture = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let world = &fixture.world;
    let root = world.grids.root().code.clone();
    let mut state = WorldState {
        district: Some(DistrictInfo {
            code: root,
            name: "赤坎区".into(),
            name_en: "Chikan".into(),
            time_zone: "Asia/Shanghai".into(),
            levels: ["区", "街道", "社区", "网格", "分片"].map(String::from),
        }),
        ..WorldState::default()
    };
    state.categories = world.catalog.categories().map(|c| (c.code.clone(), c.clone())).collect();
    state.departments = world.catalog.departments().map(|d| (d.code.clone(), d.clone())).collect();
    state.items = world.catalog.items().map(|i| (i.code.clone(), i.clone())).collect();
    for code in [grid, far_grid] {
        for level in [Level::District, Level::Street, Level::Community, Level::Grid] {
            let at = code.at_level(level).expect("an ancestor");
            state.grids.insert(at.clone(), world.grids.get(&at).expect("in the fixture").clone());
        }
    }
    let community = grid.at_level(Level::Community).expect("a community");
    let team = Team {
        id: TeamId::from_number(1),
        name: "新江社区志愿队".into(),
        name_en: String::new(),
        kind: TeamKind::Community,
        scope: community,
        linked: vec![],
    };
    state.teams.insert(team.id.clone(), team);
    state
}

/// A fresh log, its world written by world commands of at most 64 changes,
/// and a token for each kind of caller (the matrix's names, plus a
/// dispatcher for the first grid's street and one for another street).
pub async fn people() -> People {
    let fixture = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let grids = &fixture.world.grids;
    let grid = grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let street = grid.at_level(Level::Street).expect("a street");
    let far_grid = grids.at_level(Level::Grid).map(|n| n.code.clone()).find(|g| !g.is_within(&street)).expect("far");
    let far_street = far_grid.at_level(Level::Street).expect("a street");
    let store = MemoryStore::new();
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let service = Arc::new(CommandService::open(store.clone(), clock.clone(), 7).await.expect("opened"));
    let operator = Actor::new(Role::Admin, "operator").expect("an actor");
    for (i, chunk) in WorldState::default().changes_to(&desired(&grid, &far_grid)).chunks(64).enumerate() {
        let command = Command::World { command: WorldCommand { changes: chunk.to_vec() } };
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("import-{i}")).expect("an id"),
            correlation_id: None,
            actor: operator.clone(),
            command,
            expected_version: None,
        };
        service.execute(envelope).await.expect("the world imports");
    }
    let callers: [(&'static str, Role, &str, Option<GridCode>); 9] = [
        ("resident", Role::Resident, "r-1", None),
        ("volunteer", Role::Volunteer, "V-1", None),
        ("grid_worker", Role::GridWorker, "gw-1", None),
        ("department", Role::Department, "civil_affairs", None),
        ("auditor", Role::Auditor, "a-1", None),
        ("admin", Role::Admin, "ops-1", None),
        ("dispatcher", Role::Dispatcher, "d-district", None),
        ("near_dispatcher", Role::Dispatcher, "d-near", Some(street.clone())),
        ("far_dispatcher", Role::Dispatcher, "d-far", Some(far_street)),
    ];
    let (mut table, mut tokens) = (TokenTable::new(), HashMap::new());
    for (name, role, subject, place) in callers {
        let (token, entry) = TokenTable::issue(role, subject, place).expect("issued");
        table.insert(entry).expect("inserted");
        tokens.insert(name, token);
    }
    let personal = Arc::new(MemoryPersonal::default());
    let state = AppState::new(service.clone(), table, gridloop_http::Cold::default())
        .await
        .expect("state")
        .with_personal(personal.clone());
    let h = Harness { router: router(state), store, service, clock, grid, tokens };
    People { h, personal, street, far_grid }
}

/// Sends a request with a bearer token that is not one of the harness's.
async fn send_with(h: &Harness, token: &str, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    let response = h.router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A registration body for `id` living in `grid`, in team TM-1.
pub fn registration(id: &str, grid: &GridCode) -> String {
    format!(
        r#"{{"id":"{id}","team":"TM-1","home_grid":"{grid}","skills":["elderly_care"],"name":"张三","phone":"13800138000"}}"#
    )
}

/// A volunteer's standing, as `GET /volunteers/{id}` shows it.
async fn standing(h: &Harness, id: &str) -> String {
    let (status, answer) = h.get(&format!("/api/v1/volunteers/{id}"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["status"].as_str().expect("a status").to_string()
}

#[tokio::test]
async fn an_admin_registers_a_volunteer_and_it_is_listed_with_its_name_kept_apart() {
    let p = people().await;
    let h = &p.h;
    let (status, answer) = h.post("/api/v1/volunteers", "admin", &registration("V-101", &h.grid)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "volunteer.registered/1");
    assert!(!answer.to_string().contains("张三"), "the name is not in the event: {answer}");
    assert!(!format!("{:?}", h.store.snapshot()).contains("13800138000"), "nor anywhere in the log");
    assert_eq!(p.personal.name_of("volunteer:V-101").as_deref(), Some("张三"));
    let (status, listed) = h.get("/api/v1/volunteers", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["items"][0]["id"], "V-101", "{listed}");
    assert_eq!(standing(h, "V-101").await, "active");
}

#[tokio::test]
async fn bad_registrations_are_refused_and_write_nothing() {
    let p = people().await;
    let h = &p.h;
    let before = h.store.snapshot().len();
    let unknown_grid = h.grid.parent().expect("a community").child(999).expect("a code");
    let community = h.grid.parent().expect("a community");
    let cases = [
        ("far_dispatcher", registration("V-102", &h.grid), StatusCode::FORBIDDEN, "not_permitted"),
        ("near_dispatcher", registration("V-102", &p.far_grid), StatusCode::FORBIDDEN, "not_permitted"),
        ("volunteer", registration("V-102", &h.grid), StatusCode::FORBIDDEN, "not_permitted"),
        ("admin", registration("V-102", &h.grid).replace("TM-1", "TM-99"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("admin", registration("V-102", &unknown_grid), StatusCode::NOT_FOUND, "not_found"),
        ("admin", registration("V-102", &community), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            "admin",
            registration("V-102", &h.grid).replace("\"id\"", "\"idd\""),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        ("admin", registration("not-an-id", &h.grid), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            "admin",
            format!(
                "{{\"id\":\"V-102\",\"team\":\"TM-1\",\"home_grid\":\"{}\",\"name\":\"{}\"}}",
                h.grid,
                "x".repeat(201)
            ),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        ("admin", "{\"id\":".into(), StatusCode::BAD_REQUEST, "invalid_json"),
    ];
    for (who, body, status, error) in cases {
        let (got, answer) = h.post("/api/v1/volunteers", who, &body).await;
        assert_eq!((got, code(&answer)), (status, error), "{who} {body}: {answer}");
    }
    assert_eq!(h.store.snapshot().len(), before, "nothing was written");
    assert_eq!(p.personal.name_of("volunteer:V-102"), None, "nor kept");
    // A server without a personal store takes no names, rather than drop them.
    let plain = harness().await;
    let body = registration("V-103", &plain.grid);
    let (status, answer) = plain.post("/api/v1/volunteers", "admin", &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    let unnamed = format!(r#"{{"id":"V-103","team":"TM-1","home_grid":"{}"}}"#, plain.grid);
    let (status, answer) = plain.post("/api/v1/volunteers", "admin", &unnamed).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn dispatchers_act_within_their_place_and_an_exit_is_final() {
    let p = people().await;
    let h = &p.h;
    let (status, answer) = h.post("/api/v1/volunteers", "near_dispatcher", &registration("V-101", &h.grid)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let path = |action: &str| format!("/api/v1/volunteers/V-101/{action}");
    let (status, answer) = h.post(&path("deactivate"), "far_dispatcher", r#"{"reason":"ill"}"#).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "not_permitted"), "{answer}");
    let (status, answer) = h.post(&path("deactivate"), "near_dispatcher", r#"{"reason":"ill"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "volunteer.deactivated/1");
    assert_eq!(standing(h, "V-101").await, "inactive");
    let (_, shown) = h.get("/api/v1/volunteers/V-101", "dispatcher").await;
    assert_eq!(shown["status_reason"], "ill");
    let transfer_far = format!(r#"{{"home_grid":"{}"}}"#, p.far_grid);
    let (status, answer) = h.post(&path("transfer"), "near_dispatcher", &transfer_far).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a dispatcher moves no one out of their place: {answer}");
    let steps = [
        ("reactivate", "near_dispatcher", "", "volunteer.reactivated/1"),
        ("skills", "admin", r#"{"skills":["repairs","elderly_care"]}"#, "volunteer.skills_changed/1"),
        ("transfer", "admin", r#"{"open_orders_max":5}"#, "volunteer.transferred/1"),
        ("exit", "admin", r#"{"reason":"warned twice"}"#, "volunteer.exited/1"),
    ];
    for (action, who, body, schema) in steps {
        let (status, answer) = h.post(&path(action), who, body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
        assert_eq!(answer["events"][0]["schema"], schema, "{action}");
    }
    assert_eq!(standing(h, "V-101").await, "exited");
    let before = h.store.snapshot().len();
    let (status, answer) = h.post(&path("transfer"), "admin", &transfer_far).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "illegal_transition"), "{answer}");
    let (status, answer) = h.post(&path("retire"), "admin", "").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "not_found"), "{answer}");
    let (status, answer) = h.post("/api/v1/volunteers/V-999/exit", "admin", r#"{"reason":"x"}"#).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "not_found"), "{answer}");
    assert_eq!(h.store.snapshot().len(), before, "refusals write nothing");
}

fn form_team(id: &str, scope: &GridCode) -> String {
    format!(
        r#"{{"changes":[{{"change":"form_team","team":{{"id":"{id}","name":"巾帼志愿队","name_en":"","kind":"volunteer","scope":"{scope}"}}}}]}}"#
    )
}

#[tokio::test]
async fn the_world_is_read_by_dispatchers_auditors_and_admins_and_changed_by_admins() {
    let p = people().await;
    let h = &p.h;
    let before = h.store.snapshot().len();
    let (status, answer) = h.post("/api/v1/world/changes", "dispatcher", &form_team("TM-2", &p.street)).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "not_permitted"), "{answer}");
    let too_many = format!(r#"{{"changes":[{}]}}"#, vec![r#"{"change":"admit_item","code":"IC-003"}"#; 65].join(","));
    let refused = [
        too_many,
        r#"{"changes":[]}"#.to_string(),
        r#"{"changes":[{"change":"disband_team","id":"TM-99"}]}"#.to_string(),
        r#"{"changes":[{"change":"sink_the_district"}]}"#.to_string(),
        // The first change is valid, the second not: neither is written.
        form_team("TM-3", &p.street).replace("}]}", r#"},{"change":"disband_team","id":"TM-99"}]}"#),
    ];
    for body in &refused {
        let (status, answer) = h.post("/api/v1/world/changes", "admin", body).await;
        assert!(status.is_client_error(), "{status} {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    assert_eq!(h.store.snapshot().len(), before, "refusals write nothing");
    let (status, answer) = h.post("/api/v1/world/changes", "admin", &form_team("TM-2", &p.street)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "world.team_formed/1");
    let (status, teams) = h.get("/api/v1/teams", "auditor").await;
    assert_eq!(status, StatusCode::OK, "{teams}");
    let ids: Vec<&str> = teams["items"].as_array().expect("items").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["TM-1", "TM-2"]);
    let (_, far) = h.get("/api/v1/teams", "far_dispatcher").await;
    assert_eq!(far["total"], 0, "a placed dispatcher sees the teams of their place: {far}");
    let (status, world) = h.get("/api/v1/world", "admin").await;
    assert_eq!(status, StatusCode::OK, "{world}");
    assert_eq!(world["district"]["name"], "赤坎区");
    assert_eq!(world["levels"][1]["name"], "街道");
    assert_eq!(world["counts"]["teams"], 2);
    let (status, departments) = h.get("/api/v1/departments", "dispatcher").await;
    assert_eq!(status, StatusCode::OK);
    assert!(departments["items"].as_array().is_some_and(|d| !d.is_empty()), "{departments}");
    for who in ["resident", "volunteer", "grid_worker", "department"] {
        for route in ["/api/v1/world", "/api/v1/teams", "/api/v1/departments", "/api/v1/staff"] {
            let (status, _) = h.get(route, who).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} reads {route}");
        }
    }
}

#[tokio::test]
async fn staff_are_assigned_and_get_tokens_for_their_role_and_place() {
    let p = people().await;
    let h = &p.h;
    let body = format!(
        r#"{{"subject":"d-new","role":"dispatcher","place":"{}","name":"李四","phone":"13900001234"}}"#,
        p.street
    );
    let (status, answer) = h.post("/api/v1/staff", "dispatcher", &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, answer) = h.post("/api/v1/staff", "admin", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["events"][0]["schema"], "world.staff_assigned/1");
    assert_eq!(p.personal.name_of("staff:d-new").as_deref(), Some("李四"));
    let (status, staff) = h.get("/api/v1/staff", "auditor").await;
    assert_eq!(status, StatusCode::OK, "{staff}");
    assert_eq!(staff["items"][0]["subject"], "d-new");
    assert_eq!(staff["items"][0]["name"], "李**");
    assert_eq!(staff["items"][0]["phone"], "****1234");
    assert!(!staff.to_string().contains("李四") && !staff.to_string().contains("13900001234"), "{staff}");
    let (status, issued) = h.post("/api/v1/staff/d-new/token", "admin", "").await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().expect("a token");
    let (status, me) = send_with(h, token, "GET", "/api/v1/me", "").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["role"].as_str(), me["id"].as_str()), (Some("dispatcher"), Some("d-new")));
    assert_eq!(me["place"]["code"], p.street.as_str());
    let (status, _) = send_with(h, token, "POST", "/api/v1/volunteers", &registration("V-7", &p.far_grid)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the token acts within its place only");
    let (status, answer) = send_with(h, token, "POST", "/api/v1/volunteers", &registration("V-7", &h.grid)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = h.post("/api/v1/staff/nobody/token", "admin", "").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "not_found"), "{answer}");
    let (status, _) = h.post("/api/v1/staff/d-new/token", "dispatcher", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn department_staff_act_as_their_department() {
    let p = people().await;
    let h = &p.h;
    let body = r#"{"subject":"dp-1","role":"department","department":"civil_affairs","name":"王五"}"#;
    let (status, answer) = h.post("/api/v1/staff", "admin", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, issued) = h.post("/api/v1/staff/dp-1/token", "admin", "").await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!((issued["role"].as_str(), issued["subject"].as_str()), (Some("department"), Some("civil_affairs")));
    let missing = r#"{"subject":"dp-2","role":"department","name":"赵六"}"#;
    let (status, answer) = h.post("/api/v1/staff", "admin", missing).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    assert_eq!(p.personal.name_of("staff:dp-2"), None, "a refused assignment keeps no name");
}

#[tokio::test]
async fn a_repeated_idempotency_key_writes_nothing_new() {
    let p = people().await;
    let h = &p.h;
    let register = registration("V-101", &h.grid);
    let first = h.send("POST", "/api/v1/volunteers", Some("admin"), Some("reg-101"), &register).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let written = h.store.snapshot().len();
    let again = h.send("POST", "/api/v1/volunteers", Some("admin"), Some("reg-101"), &register).await;
    assert_eq!(again, first, "a repeat answers as the first time");
    let other = registration("V-102", &h.grid);
    let (status, answer) = h.send("POST", "/api/v1/volunteers", Some("admin"), Some("reg-101"), &other).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"), "{answer}");
    let change = form_team("TM-2", &p.street);
    let first = h.send("POST", "/api/v1/world/changes", Some("admin"), Some("tm-2"), &change).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    let again = h.send("POST", "/api/v1/world/changes", Some("admin"), Some("tm-2"), &change).await;
    assert_eq!(again, first);
    let exit = h.send("POST", "/api/v1/volunteers/V-101/exit", Some("admin"), Some("x-1"), r#"{"reason":"r"}"#).await;
    let again = h.send("POST", "/api/v1/volunteers/V-101/exit", Some("admin"), Some("x-1"), r#"{"reason":"r"}"#).await;
    assert_eq!((exit.0, &again), (StatusCode::OK, &exit));
    let staff = r#"{"subject":"au-1","role":"auditor","name":"钱七"}"#;
    let first = h.send("POST", "/api/v1/staff", Some("admin"), Some("s-1"), staff).await;
    let again = h.send("POST", "/api/v1/staff", Some("admin"), Some("s-1"), staff).await;
    assert_eq!((first.0, &again), (StatusCode::CREATED, &first));
    assert_eq!(h.store.snapshot().len(), written + 3, "one team, one exit and one assignment since the registration");
    // An erased record stays erased when a request is repeated.
    p.personal.erase(&ResidentId::new("staff:au-1").expect("a key")).expect("erased");
    h.send("POST", "/api/v1/staff", Some("admin"), Some("s-1"), staff).await;
    assert_eq!(p.personal.name_of("staff:au-1"), None);
}
