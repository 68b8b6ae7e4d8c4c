//! Two `gridloop serve` processes on one NATS stream: both take commands, the
//! offer race across them has exactly one winner, each one's projections see
//! every event, and timers firing in both change nothing twice. Also the
//! demo on NATS writes the same tickets as on sled, and a sled log imported
//! into NATS exports the same.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridloop_engine::grid::Level;
use gridloop_store_nats::server::NatsServer;
use serde_json::Value;

use crate::support::{gridloop, stderr, stdout, with_chikan};

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process may take to see another's event in its projections.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(10);
const RACES: usize = 12;

struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, store: &str, ahead_secs: u64) -> Serve {
    if !data.join("LOG-STORE").exists() {
        with_chikan(data, Some(store));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store, "--data"])
        .arg(data)
        .env("GRIDLOOP_TEST_CLOCK_AHEAD_SECS", ahead_secs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("the server prints its address").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let server = Serve { child, addr };
    let started = Instant::now();
    while request(&server.addr, "GET", "/healthz", None, "").map(|r| r.0) != Some(200) {
        assert!(started.elapsed() < START_TIMEOUT, "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

fn call(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    request(addr, method, path, Some(token), body).unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

fn token(data: &Path, role: &str, subject: &str) -> String {
    let data = data.to_str().expect("utf-8 path");
    let out = gridloop(&["token", "create", "--role", role, "--subject", subject, "--data", data]);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).trim().rsplit(' ').next().expect("a token").to_string()
}

/// Polls a ticket on one process until `check` holds.
fn eventually(addr: &str, token: &str, ticket: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, answer) = call(addr, "GET", &format!("/api/v1/tickets/{ticket}"), token, "");
        if status == 200 && check(&answer) {
            return answer;
        }
        assert!(started.elapsed() < FOLLOW_TIMEOUT, "{addr} never saw {ticket} {what}: {status} {answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn history_schemas(addr: &str, token: &str, ticket: &str) -> Vec<String> {
    let (status, answer) = call(addr, "GET", &format!("/api/v1/tickets/{ticket}/history"), token, "");
    assert_eq!(status, 200, "{answer}");
    let events = answer["events"].as_array().or(answer.as_array()).cloned().unwrap_or_default();
    events.iter().filter_map(|e| e["schema"].as_str().map(str::to_string)).collect()
}

#[test]
fn two_processes_share_one_nats_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"), false);
    let store = nats.url();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let dispatcher_a = token(&data_a, "dispatcher", "d-a");
    let dispatcher_b = token(&data_b, "dispatcher", "d-b");
    let (volunteer_a, volunteer_b) = (token(&data_a, "volunteer", "V-1"), token(&data_b, "volunteer", "V-2"));
    let a = serve(&data_a, &store, 0);
    let b = serve(&data_b, &store, 0);
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}}"#);
    let offer =
        r#"{"candidates":[{"kind":"volunteer","id":"V-1"},{"kind":"volunteer","id":"V-2"}],"expires_in_minutes":1}"#;

    let mut tickets = Vec::new();
    for race in 0..RACES {
        // Orders go to both processes in turn; the offer to the other one.
        let (first, second, token_first, token_second) = match race % 2 {
            0 => (&a, &b, &dispatcher_a, &dispatcher_b),
            _ => (&b, &a, &dispatcher_b, &dispatcher_a),
        };
        let (status, answer) = call(&first.addr, "POST", "/api/v1/tickets", token_first, &order);
        assert_eq!(status, 201, "{answer}");
        let ticket = answer["id"].as_str().expect("an id").to_string();
        let (status, answer) =
            call(&second.addr, "POST", &format!("/api/v1/tickets/{ticket}/offer"), token_second, offer);
        assert_eq!(status, 200, "the other process offers {ticket}: {answer}");
        // V-1 accepts through A, V-2 through B, at the same moment.
        let path = format!("/api/v1/tickets/{ticket}/accept");
        let (addr_a, addr_b) = (a.addr.clone(), b.addr.clone());
        let (path_a, token_a, token_b) = (path.clone(), volunteer_a.clone(), volunteer_b.clone());
        let one = std::thread::spawn(move || call(&addr_a, "POST", &path_a, &token_a, "{}"));
        let two = std::thread::spawn(move || call(&addr_b, "POST", &path, &token_b, "{}"));
        let (one, two) = (one.join().expect("V-1"), two.join().expect("V-2"));
        let winners = [&one, &two].iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(winners, 1, "race {race} on {ticket}: exactly one acceptance wins: {one:?} {two:?}");
        let loser = if one.0 == 200 { &two } else { &one };
        assert_eq!(loser.0, 409, "the other is told it is taken: {loser:?}");
        let winner = if one.0 == 200 { "V-1" } else { "V-2" };
        tickets.push((ticket, winner));
    }
    // Each process's projections see every event, whichever process wrote it.
    for (ticket, winner) in &tickets {
        for (server, token) in [(&a, &dispatcher_a), (&b, &dispatcher_b)] {
            eventually(&server.addr, token, ticket, "accepted", |t| {
                t["status"] == "accepted" && t.to_string().contains(winner)
            });
        }
    }
    // Offers that nobody takes, then both processes stop.
    let mut lapsing = Vec::new();
    for _ in 0..4 {
        let (status, answer) = call(&a.addr, "POST", "/api/v1/tickets", &dispatcher_a, &order);
        assert_eq!(status, 201, "{answer}");
        let ticket = answer["id"].as_str().expect("an id").to_string();
        let (status, answer) = call(&b.addr, "POST", &format!("/api/v1/tickets/{ticket}/offer"), &dispatcher_b, offer);
        assert_eq!(status, 200, "{answer}");
        lapsing.push(ticket);
    }
    drop((a, b));
    // Both come back two minutes later: both timer tasks find the same
    // lapsed offers at once, and each offer expires exactly once.
    let a = serve(&data_a, &store, 120);
    let b = serve(&data_b, &store, 120);
    for ticket in &lapsing {
        for (server, token) in [(&a, &dispatcher_a), (&b, &dispatcher_b)] {
            eventually(&server.addr, token, ticket, "with its offer expired", |t| t["status"] != "offered");
        }
        let schemas = history_schemas(&a.addr, &dispatcher_a, ticket);
        let expired = schemas.iter().filter(|s| s.starts_with("ticket.offer_expired")).count();
        assert_eq!(expired, 1, "{ticket}'s offer expired once, not {expired} times: {schemas:?}");
    }
}

/// The demo on NATS writes the same tickets as on sled (seals differ: they
/// name positions, which each store numbers its own way).
#[test]
fn the_demo_writes_the_same_log_on_nats_as_on_sled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"), false);
    let (on_sled, on_nats) = (dir.path().join("sled"), dir.path().join("nats-data"));
    for (data, store) in [(&on_sled, "sled".to_string()), (&on_nats, nats.url())] {
        let data = data.to_str().expect("utf-8");
        let out = gridloop(&["demo", "--days", "1", "--seed", "5", "--data", data, "--store", &store]);
        assert!(out.status.success(), "demo on {store}: {}", stderr(&out));
    }
    let sled_log = export(&on_sled, "sled");
    let nats_log = export(&on_nats, &nats.url());
    let tickets = |log: &[Value]| -> Vec<Value> {
        let work = log.iter().filter(|e| e["stream"].as_str().is_some_and(|s| s != "seal-log"));
        work.map(|e| {
            let mut e = e.clone();
            e.as_object_mut().expect("object").remove("position");
            e
        })
        .collect()
    };
    let (sled_work, nats_work) = (tickets(&sled_log), tickets(&nats_log));
    assert!(sled_work.len() > 500, "the demo wrote a day of work");
    let first_difference = sled_work.iter().zip(&nats_work).position(|(a, b)| a != b);
    assert_eq!(sled_work.len(), nats_work.len(), "as many events on both stores");
    assert!(first_difference.is_none(), "the logs part at event {first_difference:?}");
}

/// A sled log exported, imported into NATS and exported again is the same
/// log, event for event (positions aside), and still verifies there.
#[test]
fn a_sled_log_moves_to_nats_and_back_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"), false);
    let on_sled = dir.path().join("sled");
    let data = on_sled.to_str().expect("utf-8");
    let out = gridloop(&["demo", "--days", "1", "--seed", "3", "--data", data]);
    assert!(out.status.success(), "demo: {}", stderr(&out));
    let file = dir.path().join("log.ndjson");
    let out = gridloop(&["export", "--data", data]);
    std::fs::write(&file, &out.stdout).expect("write export");
    let on_nats = dir.path().join("nats-data");
    let nats_data = on_nats.to_str().expect("utf-8");
    let file_arg = file.to_str().expect("utf-8");
    let out = gridloop(&["import", file_arg, "--data", nats_data, "--store", &nats.url()]);
    assert!(out.status.success(), "import into NATS: {}", stderr(&out));
    let out = gridloop(&["audit", "--all", "--verify", "--data", nats_data, "--store", &nats.url()]);
    assert!(out.status.success(), "the imported log verifies on NATS: {}", stderr(&out));
    let out = gridloop(&["import", file_arg, "--data", nats_data, "--store", &nats.url()]);
    assert!(!out.status.success(), "a second import into a non-empty stream is refused");
    let strip = |log: Vec<Value>| -> Vec<Value> {
        log.into_iter()
            .map(|mut e| {
                e.as_object_mut().expect("object").remove("position");
                e
            })
            .collect()
    };
    let before = strip(export(&on_sled, "sled"));
    let after = strip(export(&on_nats, &nats.url()));
    assert_eq!(before.len(), after.len());
    assert!(before == after, "sled → NATS → export is the same log");
}

fn export(data: &Path, store: &str) -> Vec<Value> {
    let data = data.to_str().expect("utf-8");
    let out = gridloop(&["export", "--data", data, "--store", store]);
    assert!(out.status.success(), "export from {store}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

/// Flip a byte of a stored NATS message and `audit --verify` names the
/// event. The messages are written the way gridloop lays them out, by a
/// plain NATS client (as someone with access to the server could), one per
/// event of a sled demo's log, with one byte changed in one of them.
#[test]
fn a_flipped_byte_in_a_nats_message_is_named_by_audit_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let on_sled = dir.path().join("sled");
    let out = gridloop(&["demo", "--days", "1", "--seed", "9", "--data", on_sled.to_str().expect("utf-8")]);
    assert!(out.status.success(), "demo: {}", stderr(&out));
    let log = export(&on_sled, "sled");
    let target = log
        .iter()
        .rposition(|e| e["stream"].as_str().is_some_and(|s| s.starts_with("ticket-")) && e["version"] == 2)
        .expect("a ticket's second event");
    let (stream, version) = (log[target]["stream"].as_str().expect("stream").to_string(), 2);
    for (case, field) in [("payload letter", "payload"), ("hash digit", "hash")] {
        let nats = NatsServer::start(&dir.path().join(format!("nats-{field}")), false);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(publish_flipped(&nats.url(), &log, target, field));
        let data = dir.path().join(format!("audit-{field}"));
        let data = data.to_str().expect("utf-8");
        let out = gridloop(&["audit", "--all", "--verify", "--data", data, "--store", &nats.url()]);
        let said = stderr(&out);
        assert!(!out.status.success(), "{case}: the tampered log must not verify");
        assert!(said.contains(&format!("{stream} v{version} ")), "{case}: names the event: {said}");
        let ticket = stream.trim_start_matches("ticket-");
        let out = gridloop(&["audit", ticket, "--verify", "--data", data, "--store", &nats.url()]);
        assert!(!out.status.success(), "{case}: the ticket's audit fails too: {}", stdout(&out));
    }
}

/// Writes `log` to a fresh GRIDLOOP stream, one message per event, with one
/// byte of event `target`'s `field` changed.
async fn publish_flipped(url: &str, log: &[Value], target: usize, field: &str) {
    use gridloop_engine::envelope::RecordedEvent;
    let config = gridloop_store_nats::NatsConfig::parse(url).expect("url");
    let store = gridloop_store_nats::NatsStore::connect(config).await.expect("the stream is made");
    let js = async_nats::jetstream::new(store.client().clone());
    for (i, value) in log.iter().enumerate() {
        let mut event: RecordedEvent = serde_json::from_value(value.clone()).expect("an event");
        event.position = 0;
        let mut body = gridloop_store_nats::layout::encode(std::slice::from_ref(&event)).expect("encode");
        if i == target {
            let text = String::from_utf8(body.clone()).expect("utf-8");
            let start = text.find(&format!("\"{field}\":")).expect("the field") + field.len() + 3;
            let at = (start..text.len()).find(|&k| body[k].is_ascii_alphanumeric()).expect("a letter or digit");
            // Another letter or hex digit: the message is still valid JSON.
            body[at] = if body[at] == b'a' { b'b' } else { b'a' };
        }
        let subject = gridloop_store_nats::layout::subject("gridloop", &event.stream);
        let ack = js.publish(subject, body.into()).await.expect("publish");
        ack.await.expect("stored");
    }
}
