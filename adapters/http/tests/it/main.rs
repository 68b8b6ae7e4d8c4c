//! Router tests through `tower::ServiceExt::oneshot`: no socket, a
//! `MemoryStore`, the Chikan fixture world and a manual clock.

mod admin;
mod after_photos;
mod authorization;
mod console;
mod console_desk;
mod department;
mod door;
mod errors;
mod hygiene;
mod limits;
mod link_codes;
mod matrix;
mod open311;
mod openapi;
mod people;
mod photos;
mod reads;
mod restart;
mod routes;
mod telemetry;
mod weekly;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridloop_engine::envelope::Role;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::Timestamp;
use gridloop_http::{AppState, TokenTable, router};
use serde_json::Value;
use tower::ServiceExt as _;

/// A volunteer item, admitted to the grid catalog.
pub const VOLUNTEER_ITEM: &str = "IC-003";
/// An item not admitted: it stays with its department.
pub const DEPARTMENT_ITEM: &str = "IC-006";

/// A router over a fresh store, and a token for each kind of caller.
#[derive(Debug)]
pub struct Harness {
    pub router: Router,
    pub store: MemoryStore,
    pub service: Arc<CommandService<MemoryStore>>,
    /// The service's clock, for tests that move time.
    pub clock: Arc<ManualClock>,
    /// The first grid of the district.
    pub grid: GridCode,
    tokens: HashMap<&'static str, String>,
}

pub async fn harness() -> Harness {
    harness_on(MemoryStore::new()).await
}

/// The callers: two residents, two volunteers, a dispatcher for the whole
/// district, one for a street the first grid is not in, an auditor, a grid
/// worker, a department and an admin.
pub async fn harness_on(store: MemoryStore) -> Harness {
    harness_with(store, None).await
}

/// [`harness_on`], keeping photos in `blobs` when given.
pub async fn harness_with(store: MemoryStore, blobs: Option<Arc<dyn gridloop_engine::blob::BlobStore>>) -> Harness {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid time")));
    let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock.clone(), 7));
    let grids = &district.world.grids;
    let grid = grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let other_street =
        grids.at_level(Level::Street).map(|n| n.code.clone()).find(|s| !grid.is_within(s)).expect("a second street");
    let mut table = TokenTable::new();
    let mut tokens = HashMap::new();
    let callers: [(&'static str, Role, &str, Option<GridCode>); 12] = [
        ("resident", Role::Resident, "r-1", None),
        ("neighbour", Role::Resident, "r-2", None),
        ("volunteer", Role::Volunteer, "V-1", None),
        ("rival", Role::Volunteer, "V-2", None),
        ("dispatcher", Role::Dispatcher, "d-440802", None),
        ("far_dispatcher", Role::Dispatcher, "d-far", Some(other_street.clone())),
        ("auditor", Role::Auditor, "a-1", None),
        ("grid_worker", Role::GridWorker, "gw-1", None),
        ("department", Role::Department, "civil_affairs", None),
        ("admin", Role::Admin, "ops-1", None),
        ("grid_head", Role::GridHead, "gh-1", Some(grid.clone())),
        ("far_official", Role::Official, "o-far", Some(other_street.clone())),
    ];
    for (name, role, subject, place) in callers {
        let (token, entry) = TokenTable::issue(role, subject, place).expect("issued");
        table.insert(entry).expect("inserted");
        tokens.insert(name, token);
    }
    let mut state = AppState::new(service.clone(), table, gridloop_http::Cold::default()).await.expect("state");
    if let Some(blobs) = blobs {
        state = state.with_blobs(blobs);
    }
    Harness { router: router(state), store, service, clock, grid, tokens }
}

impl Harness {
    pub fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }

    /// Sends one request as `who` (`None`: no token) and returns the status
    /// and the JSON body (`Value::Null` when the body is not JSON).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        key: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(who) = who {
            request = request.header("authorization", format!("Bearer {}", self.token(who)));
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let request = request.body(Body::from(body.to_string())).expect("a valid request");
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, who: &str, body: &str) -> (StatusCode, Value) {
        self.send("POST", path, Some(who), None, body).await
    }

    pub async fn get(&self, path: &str, who: &str) -> (StatusCode, Value) {
        self.send("GET", path, Some(who), None, "").await
    }

    /// Registers V-1 (the harness's volunteer) living in the first grid,
    /// able to care for the elderly.
    pub async fn register_v1(&self) {
        self.register(1).await;
    }

    /// Registers `V-n` as [`Harness::register_v1`] registers V-1 (once:
    /// a second call for one volunteer is a repeat of the first).
    pub async fn register(&self, n: u64) {
        use gridloop_engine::ids::{CommandId, Skill, TeamId, VolunteerId};
        use gridloop_engine::service::{Command, CommandEnvelope};
        use gridloop_engine::volunteer::VolunteerCommand;
        let skills: std::collections::BTreeSet<Skill> = [Skill::new("elderly_care").expect("a skill")].into();
        let register = VolunteerCommand::Register {
            team: TeamId::from_number(1),
            home_grid: self.grid.clone(),
            skills,
            open_orders_max: 3,
        };
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("register-V-{n}")).expect("an id"),
            correlation_id: None,
            actor: gridloop_engine::envelope::Actor::new(Role::Dispatcher, "d-440802").expect("an actor"),
            command: Command::Volunteer { id: VolunteerId::from_number(n), command: register },
            expected_version: None,
        };
        self.service.execute(envelope).await.expect("registered");
    }

    /// A resident's order of `item` in the first grid; returns its id.
    pub async fn order(&self, item: &str) -> String {
        let body = format!(r#"{{"category":"{item}","grid":"{}","description":"a leaking tap"}}"#, self.grid);
        let (status, answer) = self.post("/api/v1/tickets", "resident", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["id"].as_str().expect("an id").to_string()
    }

    /// Orders a volunteer item and offers it to V-1 and V-2 (registered
    /// first: an offer names only volunteers who exist).
    pub async fn offered(&self) -> String {
        self.register(1).await;
        self.register(2).await;
        let id = self.order(VOLUNTEER_ITEM).await;
        let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"},{"kind":"volunteer","id":"V-2"}],"expires_in_minutes":30}"#;
        let (status, answer) = self.post(&format!("/api/v1/tickets/{id}/offer"), "dispatcher", offer).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        id
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("(no error code)")
}

/// The manual clock's time as a query-string value.
pub trait NowString {
    fn now_string(&self) -> String;
}

impl NowString for ManualClock {
    fn now_string(&self) -> String {
        gridloop_engine::service::Clock::now(self).to_string()
    }
}
