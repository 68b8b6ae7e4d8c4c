//! The security review, as tests: tokens are kept only as hashes; no
//! secret reaches the logs, even at the most verbose level. Who may call
//! each route is the engine's permit rule (`gridloop_engine::permit`); the
//! test that every route answers every role, inside and outside its place,
//! as the rule says is generated from the router in
//! `adapters/http/tests/it/authorization.rs`.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridloop_engine::grid::Level;
use gridloop_http::TokenTable;

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
    assert_eq!(status, 403, "GeoReport v2 answers an invalid api_key 403");
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
