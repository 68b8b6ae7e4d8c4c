//! The security review, as tests: tokens are kept only as hashes; no
//! secret reaches the logs, even at the most verbose level; and every route
//! of the API is in the authorization table below, which says which roles
//! may call it (the per-action detail of `POST /tickets/{id}/{action}` is
//! the role matrix of `adapters/http/tests/it/matrix.rs`). A new route
//! without a row, or a route whose answer to a role changes, fails here.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridloop_engine::envelope::Role;
use gridloop_engine::grid::Level;
use gridloop_engine::service::{CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_http::openapi::operations;
use gridloop_http::{AppState, TokenTable, router};

use crate::bad_input::{Http, send};
use crate::support::{gridloop, stderr, stdout, with_chikan};

fn token_create(data: &Path, role: &str, subject: &str) -> String {
    let out =
        gridloop(&["token", "create", "--role", role, "--subject", subject, "--data", data.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().rsplit(' ').next().expect("a token").to_string()
}

#[test]
fn tokens_are_kept_only_as_hashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let token = token_create(&data, "dispatcher", "d-1");
    assert_eq!(token.len(), 64, "32 random bytes as hex");
    let file = std::fs::read_to_string(data.join("tokens.json")).expect("the token file");
    assert!(!file.contains(&token), "the token file holds no token");
    assert!(file.contains(blake3::hash(token.as_bytes()).to_hex().as_str()), "it holds the token's BLAKE3 hash");
    let table = TokenTable::load(&data.join("tokens.json")).expect("loads");
    assert!(table.lookup(&token).is_some());
    // A token one character off, or the stored hash itself, is nobody.
    let mut near = token.clone().into_bytes();
    near[63] = if near[63] == b'0' { b'1' } else { b'0' };
    assert!(table.lookup(std::str::from_utf8(&near).expect("hex")).is_none());
    assert!(table.lookup(blake3::hash(token.as_bytes()).to_hex().as_str()).is_none());
}

/// One request to the spawned server, returning the status and body text.
fn call(
    addr: &str,
    method: &'static str,
    path: &str,
    auth: Option<&str>,
    content_type: &'static str,
    body: &str,
) -> (u16, String) {
    let tokens = auth.map(|t| [("t", t.to_string())].into_iter().collect()).unwrap_or_default();
    let request = Http {
        method,
        path: path.into(),
        token: auth.map(|_| "t"),
        key: None,
        content_type,
        body: body.as_bytes().to_vec(),
    };
    let (status, body) = send(addr, &request, &tokens);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The status line of an answer that stays open (the console's event
/// stream): read up to the end of its head, then hang up.
fn call_stream(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("a status line");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, status_line)
}

#[test]
fn no_secret_reaches_the_logs_of_an_end_to_end_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let dispatcher = token_create(&data, "dispatcher", "d-logs");
    let resident = token_create(&data, "resident", "r-1");
    let admin = token_create(&data, "admin", "admin-logs");
    with_chikan(&data, None);
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("GRIDLOOP_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("an address").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let started = Instant::now();
    while call(&addr, "GET", "/healthz", None, "text/plain", "").0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "serve comes up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.to_string();
    let wrong = "f".repeat(64);
    let json = "application/json";
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"tap","resident":"r-1"}}"#);
    assert_eq!(call(&addr, "POST", "/api/v1/tickets", Some(&dispatcher), json, &order).0, 201);
    assert_eq!(call(&addr, "POST", "/api/v1/tickets", Some(&resident), json, &order).0, 201);
    assert_eq!(call(&addr, "POST", "/api/v1/tickets", Some(&wrong), json, &order).0, 401);
    assert_eq!(call(&addr, "GET", "/api/v1/tickets/T-1/history", Some(&resident), json, "").0, 403);
    let form = format!("api_key={dispatcher}&service_code=IC-003&address_id={grid}&description=tap&account_id=r-1");
    let (status, _) =
        call(&addr, "POST", "/open311/v2/requests.json", None, "application/x-www-form-urlencoded", &form);
    assert_eq!(status, 200);
    let bad_form = format!("api_key={wrong}&service_code=IC-003&address_id={grid}&description=tap");
    let (status, _) =
        call(&addr, "POST", "/open311/v2/requests.xml", None, "application/x-www-form-urlencoded", &bad_form);
    assert_eq!(status, 401);
    // A token issued over the API is a secret too (its id is not).
    let (status, body) =
        call(&addr, "POST", "/api/v1/tokens", Some(&admin), json, r#"{"role":"volunteer","subject":"V-9"}"#);
    assert_eq!(status, 201, "{body}");
    let issued = serde_json::from_str::<serde_json::Value>(&body).expect("json")["token"]
        .as_str()
        .expect("the new token")
        .to_string();
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).expect("the log");
    assert!(logs.contains("request refused"), "the trace level logged the run's refusals: {logs}");
    let secrets = vec![
        ("the dispatcher's token", dispatcher.clone()),
        ("the resident's token", resident),
        ("a wrong token", wrong),
        ("the admin's token", admin),
        ("a token issued over the API", issued),
    ];
    for (what, secret) in &secrets {
        assert!(!logs.contains(secret.as_str()), "{what} appears in the logs");
    }
    println!("no secret in {} bytes of trace logs ({} secrets checked)", logs.len(), secrets.len());
}

/// Who may call each route: `+` lets the role through (any answer but 401
/// or 403), `-` refuses it (403), for resident, grid worker, dispatcher,
/// volunteer, department, auditor and admin in that order; `public` routes
/// need no token, the others answer 401 without one.
/// The admin manages tokens and acts on nothing, but reads what every
/// other non-resident role reads (lists, tickets, metrics, volunteers); it
/// does not see histories or the dispatcher console's views.
const AUTHORIZATION: [(&str, &str, &str, bool); 49] = [
    ("post", "/api/v1/tickets", "+++----", false),
    ("get", "/api/v1/tickets", "+++++++", false),
    ("get", "/api/v1/tickets/{id}", "+++++++", false),
    ("get", "/api/v1/tickets/{id}/history", "--+--+-", false),
    // Per action and role: adapters/http/tests/it/matrix.rs; `note` here.
    ("post", "/api/v1/tickets/{id}/{action}", "-++++--", false),
    ("get", "/api/v1/queues/{kind}/{id}", "-++++++", false),
    ("get", "/api/v1/metrics/rates", "-++-+++", false),
    ("get", "/api/v1/volunteers", "-++-+++", false),
    ("get", "/api/v1/volunteers/{id}", "-++++++", false),
    ("post", "/api/v1/volunteers/{id}/redeem", "--++---", false),
    ("post", "/api/v1/volunteers/{id}/link-code", "--+----", false),
    // People and the world (issue 16): admins, and dispatchers for volunteers.
    ("post", "/api/v1/volunteers", "--+---+", false),
    ("post", "/api/v1/volunteers/{id}/transfer", "--+---+", false),
    // A volunteer changes their own skills (the engine's rule).
    ("post", "/api/v1/volunteers/{id}/skills", "--++--+", false),
    ("post", "/api/v1/volunteers/{id}/deactivate", "--+---+", false),
    ("post", "/api/v1/volunteers/{id}/reactivate", "--+---+", false),
    ("post", "/api/v1/volunteers/{id}/exit", "--+---+", false),
    ("get", "/api/v1/staff", "--+--++", false),
    ("post", "/api/v1/staff", "------+", false),
    ("post", "/api/v1/staff/{subject}/token", "------+", false),
    ("get", "/api/v1/world", "--+--++", false),
    ("post", "/api/v1/world/changes", "------+", false),
    ("get", "/api/v1/teams", "--+--++", false),
    ("get", "/api/v1/departments", "--+--++", false),
    ("get", "/api/v1/tokens", "------+", false),
    ("post", "/api/v1/tokens", "------+", false),
    ("delete", "/api/v1/tokens/{id}", "------+", false),
    ("get", "/api/v1/catalog", "+++++++", false),
    ("get", "/api/v1/grids", "+++++++", false),
    ("get", "/api/v1/me", "+++++++", false),
    ("get", "/api/v1/board", "--+--+-", false),
    ("get", "/api/v1/tickets/{id}/candidates", "--+--+-", false),
    ("get", "/api/v1/metrics/series", "-++-+++", false),
    ("post", "/api/v1/emergency/{place}/{action}", "--+----", false),
    ("get", "/api/v1/openapi.json", "+++++++", true),
    // The console and its event stream (dispatchers and auditors follow the board).
    ("get", "/console/stream", "--+--+-", false),
    ("get", "/", "+++++++", true),
    ("get", "/console/app.js", "+++++++", true),
    ("get", "/console/app.css", "+++++++", true),
    ("get", "/favicon.ico", "+++++++", true),
    ("get", "/healthz", "+++++++", true),
    ("get", "/metrics", "+++++++", true),
    // Open311: reads are public, as its clients expect; an order needs an api_key.
    ("get", "/open311/v2/discovery.{format}", "+++++++", true),
    ("get", "/open311/v2/services.{format}", "+++++++", true),
    ("get", "/open311/v2/services/{service_code}.{format}", "+++++++", true),
    ("get", "/open311/v2/requests.{format}", "+++++++", true),
    ("get", "/open311/v2/requests/{service_request_id}.{format}", "+++++++", true),
    ("get", "/open311/v2/tokens/{token}.{format}", "+++++++", true),
    ("post", "/open311/v2/requests.{format}", "+++----", false),
];

const ROLES: [(&str, Role, &str); 7] = [
    ("resident", Role::Resident, "r-1"),
    ("grid_worker", Role::GridWorker, "gw-1"),
    ("dispatcher", Role::Dispatcher, "d-440802"),
    ("volunteer", Role::Volunteer, "V-1"),
    ("department", Role::Department, "civil_affairs"),
    ("auditor", Role::Auditor, "a-1"),
    ("admin", Role::Admin, "admin-1"),
];

#[test]
fn every_route_is_in_the_authorization_table_and_answers_as_it_says() {
    // The document's paths are absolute: `/api/v1/...`, `/open311/v2/...`, `/`.
    let operations = operations();
    let documented: Vec<(&str, &str)> = operations.iter().map(|(m, p)| (m.as_str(), p.as_str())).collect();
    let table: BTreeMap<(&str, &str), (&str, bool)> =
        AUTHORIZATION.iter().map(|(m, p, roles, public)| ((*m, *p), (*roles, *public))).collect();
    for (method, path) in &documented {
        assert!(table.contains_key(&(*method, *path)), "{method} {path} has no row in the authorization table");
    }
    assert_eq!(table.len(), documented.len(), "every row is a documented route");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let store = MemoryStore::new();
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")));
    let service = Arc::new(CommandService::new(store, district.world.clone(), clock.clone(), 5));
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let street = grid.at_level(Level::Street).expect("a street");
    let mut tokens = TokenTable::new();
    let mut by_role = std::collections::HashMap::new();
    for (name, role, subject) in ROLES {
        let (token, entry) = TokenTable::issue(role, subject, None).expect("issued");
        tokens.insert(entry).expect("inserted");
        by_role.insert(name, token);
    }
    let addr = runtime.block_on(async {
        let state = AppState::new(service.clone(), tokens).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        addr
    });
    let json = "application/json";
    // The ticket every role reads: the resident's own, ordered by a dispatcher.
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"tap","resident":"r-1"}}"#);
    let (status, body) = call(&addr, "POST", "/api/v1/tickets", Some(&by_role["dispatcher"]), json, &order);
    assert_eq!(status, 201, "{body}");
    // V-1 exists, so that a refusal on a volunteer route is about who asks.
    let profile = &district.volunteers[0];
    let register = gridloop_engine::volunteer::VolunteerCommand::Register {
        team: profile.team.clone(),
        home_grid: profile.home_grid.clone(),
        skills: profile.skills.clone(),
        open_orders_max: profile.open_orders_max,
    };
    let envelope = gridloop_engine::service::CommandEnvelope {
        command_id: gridloop_engine::ids::CommandId::new("register-V-1").expect("valid"),
        correlation_id: None,
        actor: gridloop_engine::envelope::Actor::new(Role::Dispatcher, "d-440802").expect("valid"),
        command: gridloop_engine::service::Command::Volunteer {
            id: gridloop_engine::ids::VolunteerId::new("V-1").expect("valid"),
            command: register,
        },
        expected_version: None,
    };
    runtime.block_on(service.execute(envelope)).expect("V-1 registers");
    let mut mismatches = Vec::new();
    for (method, path) in &documented {
        let (roles, public) = table[&(*method, *path)];
        let concrete = path
            .replace("/volunteers/{id}", "/volunteers/V-1")
            .replace("/tokens/{id}", "/tokens/0123456789abcdef")
            .replace("{id}", "T-1")
            .replace("{subject}", "gw-1")
            .replace(
                "{action}",
                match *path {
                    p if p.starts_with("/api/v1/emergency") => "declare",
                    _ => "note",
                },
            )
            .replace("{kind}", "volunteer")
            .replace("{place}", street.as_str())
            .replace("{format}", "json")
            .replace("{service_code}", "IC-003")
            .replace("{service_request_id}", "T-1")
            .replace("{token}", "T-1");
        let full = concrete;
        let open311_post = full.starts_with("/open311") && *method == "post";
        let body = |token: Option<&str>| -> String {
            match (*path, token) {
                ("/api/v1/tickets", _) => order.clone(),
                ("/api/v1/tickets/{id}/{action}", _) => r#"{"text":"noted"}"#.into(),
                ("/api/v1/volunteers/{id}/redeem", _) => r#"{"points":1,"reward":"tea"}"#.into(),
                ("/api/v1/volunteers/{id}/deactivate" | "/api/v1/volunteers/{id}/exit", _) => {
                    r#"{"reason":"away"}"#.into()
                }
                ("/api/v1/volunteers/{id}/transfer", _) => r#"{"open_orders_max":2}"#.into(),
                ("/api/v1/volunteers/{id}/skills", _) => r#"{"skills":["tea"]}"#.into(),
                ("/api/v1/volunteers", _) => format!(r#"{{"id":"V-99","team":"TM-1","home_grid":"{grid}"}}"#),
                ("/api/v1/staff", _) => format!(r#"{{"subject":"gw-9","role":"grid_worker","place":"{grid}"}}"#),
                ("/api/v1/world/changes", _) => r#"{"changes":[]}"#.into(),
                ("/api/v1/emergency/{place}/{action}", _) => r#"{"reason":"typhoon"}"#.into(),
                ("/api/v1/tokens", _) if *method == "post" => r#"{"role":"resident","subject":"r-9"}"#.into(),
                (_, Some(token)) if open311_post => {
                    format!("api_key={token}&service_code=IC-003&address_id={grid}&description=tap&account_id=r-1")
                }
                (_, None) if open311_post => format!("service_code=IC-003&address_id={grid}&description=tap"),
                _ => String::new(),
            }
        };
        let content_type = if open311_post { "application/x-www-form-urlencoded" } else { json };
        let method_upper = match *method {
            "get" => "GET",
            "delete" => "DELETE",
            _ => "POST",
        };
        let send_as = |token: Option<&str>| {
            // Each request a minute later: the rate limit never answers first.
            clock.advance(Millis::minutes(1));
            let header = if open311_post { None } else { token };
            if full == "/console/stream" {
                return call_stream(&addr, &full, header);
            }
            call(&addr, method_upper, &full, header, content_type, &body(token))
        };
        let (status, answer) = send_as(None);
        let anonymous_ok = !matches!(status, 401 | 403);
        if anonymous_ok != public || status >= 500 {
            mismatches.push(format!("{method} {full} without a token: {status} {answer}"));
        }
        for ((name, _, _), allowed) in ROLES.iter().zip(roles.chars()) {
            let (status, answer) = send_as(Some(&by_role[name]));
            let through = !matches!(status, 401 | 403);
            if through != (allowed == '+') || status >= 500 {
                mismatches.push(format!("{method} {full} as {name}: {status} {answer}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "routes answering otherwise than the table says:\n{}", mismatches.join("\n"));
}
