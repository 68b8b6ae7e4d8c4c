//! The crash harness: `gridloop serve` on sled as a child process, concurrent
//! HTTP clients that record every command the server acknowledged, and
//! `kill -9` at seeded random moments, again and again.
//!
//! After every restart the deadline timers must fire what fell due while the
//! server was down: each restart sets the service clock two minutes further
//! ahead (`GRIDLOOP_TEST_CLOCK_AHEAD_SECS`), so every one-minute offer made
//! before the kill has expired by the time the server is back. At the end,
//! on the exported log: every acknowledged command's events are there
//! exactly once, in one append of the size the answer named; no command's
//! events are split (no half append); every chain verifies; and the board
//! the restarted server answers with equals the board folded afresh from the
//! exported log.
//!
//! CI runs [`CYCLES_CI`] kill cycles; `scripts/soak --cycles N` runs the same
//! test with `GRIDLOOP_CRASH_CYCLES=N` and prints the figures line. A failure
//! names the seed; `GRIDLOOP_CRASH_SEED=...` replays the same kill moments
//! and client choices (the operating system's scheduling still varies).
//!
//! The disk-full test is here too (the data directory on a small tmpfs), and
//! a write that fails past the free-space check (a file-size limit).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::Level;
use gridloop_engine::rng::SplitMix64;
use gridloop_projections::board::{Board, BoardStatus};
use gridloop_projections::runner::Runner;
use serde_json::Value;

use crate::support::{gridloop, stderr, stdout, with_chikan};

/// Kill cycles in CI (the issue's figure).
const CYCLES_CI: u32 = 20;
/// Kill cycles in CI for each NATS variant (each start also connects to NATS).
const NATS_CYCLES_CI: u32 = 5;
/// Concurrent clients, each with its own dispatcher token (and so its own
/// rate-limit bucket).
const CLIENTS: usize = 4;
/// How far each restart moves the service clock ahead: longer than the
/// one-minute offers the clients make, so every offer made before a kill has
/// expired by the next start.
const CLOCK_STEP_SECS: u64 = 120;
/// The shortest and longest time the server runs under load before a kill.
const RUN_MS_MIN: u64 = 150;
const RUN_MS_MAX: u64 = 900;
/// How long a (re)start may take before the test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the timers may take to fire what fell due while the server was down.
const TIMERS_TIMEOUT: Duration = Duration::from_secs(15);
/// How long clients may wait for work to resume after the last restart of
/// nats-server (its reconnect backs off, slower on a loaded machine).
const RESUME_TIMEOUT: Duration = Duration::from_secs(90);
/// The most tickets per cycle whose history is read to see their offer expired.
const SAMPLED_PER_CYCLE: usize = 4;

/// Kills the server when the test ends, also when it fails.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log the harness runs on: unset, the data directory's sled; set once
/// by the NATS variants to a `nats://` address (nextest runs every test in
/// a process of its own, so one test's setting is never another's).
static STORE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `--store URL` when the harness runs on NATS.
fn store_args() -> Vec<String> {
    STORE.get().map(|url| vec!["--store".to_string(), url.clone()]).unwrap_or_default()
}

/// Runs `gridloop` with `args` and the harness's store.
fn gridloop_on_store(args: &[&str]) -> std::process::Output {
    let extra = store_args();
    let all: Vec<&str> = args.iter().copied().chain(extra.iter().map(String::as_str)).collect();
    gridloop(&all)
}

/// Starts `gridloop serve` on `data` with the clock `ahead` seconds ahead and
/// waits until it answers `/healthz`.
fn start(data: &Path, ahead: u64, log_level: &str) -> Server {
    // The server's own messages go beside the data directory, so that a
    // start that fails can say why.
    with_district(data);
    let log_path = data.with_extension(format!("serve-{ahead}.log"));
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(store_args())
        .env("GRIDLOOP_TEST_CLOCK_AHEAD_SECS", ahead.to_string())
        .env("GRIDLOOP_LOG", log_level)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let status = child.wait().expect("the server ended");
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("the server ended ({status}) before printing its address: {log}");
        };
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so that the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let server = Server { child, addr };
    let started = Instant::now();
    while !matches!(request(&server.addr, "GET", "/healthz", None, None, ""), Ok((200, _))) {
        assert!(started.elapsed() < START_TIMEOUT, "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// One request, `Connection: close`; the status and the body, or the I/O
/// error of a server that went away.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let key = key.map(|k| format!("Idempotency-Key: {k}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}{key}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| std::io::Error::other("no status line: the server went away"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Before the first start on this data directory (sled's marker, or the
/// file pinning a NATS log, appears with it): the district, imported.
fn with_district(data: &Path) {
    if !data.join("GRIDLOOP").exists() && !data.join("LOG-STORE").exists() {
        with_chikan(data, STORE.get().map(String::as_str));
    }
}

/// Creates a dispatcher token with `gridloop token create` (before the
/// server starts: it reads the token file once).
fn token(data: &Path, subject: &str) -> String {
    with_district(data);
    let out = gridloop(&["token", "create", "--role", "dispatcher", "--subject", subject, "--data", data_str(data)]);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).trim().rsplit(' ').next().expect("a token").to_string()
}

fn data_str(data: &Path) -> &str {
    data.to_str().expect("a UTF-8 path")
}

/// A command the server acknowledged (2xx).
#[derive(Clone, Debug)]
struct Ack {
    /// The command id the server made of the key (see `command_id`).
    command_id: String,
    ticket: String,
    action: &'static str,
    /// How many events the answer said were written (`None` for a submission,
    /// whose answer does not list them).
    events: Option<usize>,
}

/// What the clients share with the test: where the server is (none while it
/// is down), whether to stop, and every acknowledgement.
struct Shared {
    addr: RwLock<Option<String>>,
    stop: AtomicBool,
    acks: Mutex<Vec<Ack>>,
    refused: Mutex<Vec<String>>,
}

/// The command id the HTTP layer makes of an `Idempotency-Key`: the key and
/// a short hash of the caller's role and id (see `adapters/http/src/tickets.rs`).
fn command_id(key: &str, subject: &str) -> String {
    let scope = blake3::hash(format!("dispatcher:{subject}").as_bytes()).to_hex();
    format!("{key}.{}", &scope[..16])
}

/// Sends one command until it gets a definite answer: 2xx (acknowledged)
/// or a 4xx refusal other than 429. Connection failures and 5xx (the server
/// being killed, or starting) are retried with the same key, which is the
/// whole point: a retry after a crash must not write twice.
fn send(shared: &Shared, token: &str, key: &str, path: &str, body: &str) -> (u16, Value) {
    loop {
        let addr = shared.addr.read().expect("addr lock").clone();
        let Some(addr) = addr else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        match request(&addr, "POST", path, Some(token), Some(key), body) {
            Ok((429, _)) => std::thread::sleep(Duration::from_millis(100)),
            Ok((status, _)) if status >= 500 => std::thread::sleep(Duration::from_millis(10)),
            Ok((status, answer)) => {
                let value = serde_json::from_str(&answer).unwrap_or(Value::Null);
                return (status, value);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// One client: orders, offers for one minute, and sometimes accepts and
/// starts, until told to stop; every step a fresh idempotency key.
fn client(shared: Arc<Shared>, number: usize, token: String, grids: Vec<String>, seed: u64) {
    let subject = format!("d-client-{number}");
    let mut rng = SplitMix64::new(seed ^ (number as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut serial = 0u64;
    let mut key = || {
        serial += 1;
        format!("crash-{seed}-{number}-{serial}")
    };
    let record = |key: &str, ticket: &str, action: &'static str, status: u16, answer: &Value| {
        if (200..300).contains(&status) {
            let events = answer["events"].as_array().map(Vec::len);
            let ack = Ack { command_id: command_id(key, &subject), ticket: ticket.into(), action, events };
            shared.acks.lock().expect("acks lock").push(ack);
            true
        } else {
            shared.refused.lock().expect("refused lock").push(format!("{action} {ticket}: {status} {answer}"));
            false
        }
    };
    while !shared.stop.load(Ordering::SeqCst) {
        let grid = rng.pick(&grids).clone();
        let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"crash test","resident":"r-1"}}"#);
        let k = key();
        let (status, answer) = send(&shared, &token, &k, "/api/v1/tickets", &order);
        assert_eq!(status, 201, "a submission is acknowledged: {answer}");
        let ticket = answer["id"].as_str().expect("an id").to_string();
        record(&k, &ticket, "submit", status, &answer);
        let candidates = r#"{"candidates":[{"kind":"volunteer","id":"V-1"},{"kind":"volunteer","id":"V-2"}],"expires_in_minutes":1}"#;
        let k = key();
        let (status, answer) = send(&shared, &token, &k, &format!("/api/v1/tickets/{ticket}/offer"), candidates);
        if !record(&k, &ticket, "offer", status, &answer) || rng.chance(500) {
            continue;
        }
        let k = key();
        let by = r#"{"by":{"kind":"volunteer","id":"V-1"}}"#;
        let (status, answer) = send(&shared, &token, &k, &format!("/api/v1/tickets/{ticket}/accept"), by);
        if !record(&k, &ticket, "accept", status, &answer) || rng.chance(500) {
            continue;
        }
        let k = key();
        let (status, answer) = send(&shared, &token, &k, &format!("/api/v1/tickets/{ticket}/start"), "");
        record(&k, &ticket, "start", status, &answer);
    }
}

/// The tickets on the board the server answers with: id → (status, holder, tier).
fn served_board(addr: &str, token: &str) -> BTreeMap<String, (String, Value, Value)> {
    let mut board = BTreeMap::new();
    for page in 1.. {
        let path = format!("/api/v1/tickets?per_page=200&page={page}");
        let (status, body) = request(addr, "GET", &path, Some(token), None, "").expect("the board answers");
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).expect("json");
        let items = answer["items"].as_array().expect("items");
        for item in items {
            let row =
                (item["status"].as_str().expect("status").to_string(), item["holder"].clone(), item["tier"].clone());
            board.insert(item["id"].as_str().expect("id").to_string(), row);
        }
        if items.len() < 200 {
            break;
        }
    }
    board
}

/// The same, folded afresh from the exported log.
fn folded_board(log: &[RecordedEvent]) -> BTreeMap<String, (String, Value, Value)> {
    let mut runner = Runner::<Board>::fresh();
    for event in log {
        runner.evolve(event).expect("the board folds the log");
    }
    // Open tickets from memory, final ones from the board's cold rows.
    let board = runner.state();
    let settled = board.settled(None, usize::MAX).expect("the board's cold rows");
    board
        .open_tickets()
        .chain(&settled)
        .map(|t| {
            let id = t.id.as_ref().expect("a ticket on the board has an id").to_string();
            let status = BoardStatus::of(t).name().to_string();
            let holder = serde_json::to_value(&t.holder).expect("json");
            (id, (status, holder, serde_json::to_value(t.tier).expect("json")))
        })
        .collect()
}

/// How many tickets the server lists with `status`.
fn count_with_status(addr: &str, token: &str, status: &str) -> u64 {
    let path = format!("/api/v1/tickets?status={status}&per_page=1");
    let (code, body) = request(addr, "GET", &path, Some(token), None, "").expect("the board answers");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["total"].as_u64().expect("a total")
}

/// Waits until no ticket is still offered: the timers have expired every
/// offer that fell due while the server was down. Then reads the history of
/// a few of them to see the expiry itself.
fn assert_offers_expired(addr: &str, token: &str, sampled: &[String], seed: u64, cycle: u32) {
    let started = Instant::now();
    while count_with_status(addr, token, "offered") > 0 {
        assert!(
            started.elapsed() < TIMERS_TIMEOUT,
            "seed {seed}, cycle {cycle}: offers that fell due while the server was down did not expire"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for ticket in sampled {
        let path = format!("/api/v1/tickets/{ticket}/history?verify=true");
        let (status, body) = request(addr, "GET", &path, Some(token), None, "").expect("history answers");
        assert_eq!(status, 200, "{body}");
        let history: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(history["verified"], true, "seed {seed}: {ticket}'s chain verifies");
        let schemas: Vec<&str> =
            history["events"].as_array().expect("events").iter().filter_map(|e| e["schema"].as_str()).collect();
        // An acceptance or decline in flight when the server was killed may
        // have been written without its answer reaching the client (the
        // acks still say "offered"); the clients stay away until this check,
        // so one found here was made before the kill and rightly ends the offer.
        let answered_in_flight =
            schemas.last().is_some_and(|s| s.starts_with("ticket.accepted") || s.starts_with("ticket.declined"))
                && schemas.iter().rev().nth(1).is_some_and(|s| s.starts_with("ticket.offered"));
        assert!(
            answered_in_flight || schemas.iter().any(|s| s.starts_with("ticket.offer_expired")),
            "seed {seed}, cycle {cycle}: {ticket}'s offer fell due while the server was down and did not expire: {schemas:?}"
        );
    }
}

/// Tickets whose last acknowledged command was an offer: still offered when
/// the server was killed, so due for expiry at the next start.
fn open_offers(acks: &[Ack]) -> Vec<String> {
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for ack in acks {
        last.insert(&ack.ticket, ack.action);
    }
    last.into_iter().filter(|(_, action)| *action == "offer").map(|(t, _)| t.to_string()).collect()
}

/// The log, as `gridloop export` writes it.
fn export(data: &Path) -> Vec<RecordedEvent> {
    let out = gridloop_on_store(&["export", "--data", data_str(data)]);
    assert!(out.status.success(), "export: {}", stderr(&out));
    stdout(&out).lines().map(|line| serde_json::from_str(line).expect("an exported line decodes")).collect()
}

/// Every acknowledged command's events are in the log exactly once, in one
/// append of the size its answer named; and no command id anywhere in the
/// log is split or written twice. Returns how many were checked.
fn assert_exactly_once(log: &[RecordedEvent], acks: &[Ack], seed: u64) -> usize {
    let mut by_command: HashMap<&str, Vec<&RecordedEvent>> = HashMap::new();
    for event in log {
        by_command.entry(event.command_id.as_str()).or_default().push(event);
    }
    for (command, events) in &by_command {
        let first = events[0];
        for (i, event) in events.iter().enumerate() {
            let contiguous = event.stream == first.stream
                && event.version == first.version + i as u64
                && event.position == first.position + i as u64;
            assert!(contiguous, "seed {seed}: command {command}'s events are not one append: {events:#?}");
        }
    }
    for ack in acks {
        let events = by_command.get(ack.command_id.as_str()).unwrap_or_else(|| {
            panic!("seed {seed}: LOST: {} of {} was acknowledged but is not in the log", ack.action, ack.ticket)
        });
        assert_eq!(events[0].stream.to_string(), format!("ticket-{}", ack.ticket), "seed {seed}: {ack:?}");
        match ack.events {
            Some(n) => assert_eq!(events.len(), n, "seed {seed}: {ack:?} wrote another number of events"),
            None => assert_eq!(events[0].schema.name, "ticket.submitted", "seed {seed}: {ack:?}"),
        }
    }
    acks.len()
}

/// Every offer in the log that nobody accepted has expired, after its deadline.
fn assert_every_lapsed_offer_expired(log: &[RecordedEvent], seed: u64) {
    let mut open: BTreeMap<String, bool> = BTreeMap::new();
    for event in log.iter().filter(|e| e.stream.kind() == "ticket") {
        match event.schema.name.as_str() {
            "ticket.offered" => {
                open.insert(event.stream.to_string(), true);
            }
            "ticket.accepted" | "ticket.offer_expired" | "ticket.escalated" => {
                open.insert(event.stream.to_string(), false);
            }
            _ => {}
        }
    }
    let lapsed: Vec<&String> = open.iter().filter(|(_, open)| **open).map(|(s, _)| s).collect();
    assert!(lapsed.is_empty(), "seed {seed}: offers never expired: {lapsed:?}");
}

fn seed_from_env() -> u64 {
    match std::env::var("GRIDLOOP_CRASH_SEED") {
        Ok(text) => text.parse().expect("GRIDLOOP_CRASH_SEED is a number"),
        Err(_) => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            nanos.as_nanos() as u64
        }
    }
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_command() {
    let cycles: u32 = std::env::var("GRIDLOOP_CRASH_CYCLES").map_or(CYCLES_CI, |n| n.parse().expect("a number"));
    let dir = tempfile::tempdir().expect("tempdir");
    engine_kill_cycles(&dir.path().join("data"), cycles);
}

/// The same on a NATS log: the engine killed -9 and restarted, the stream
/// (on a nats-server that stays up) keeps every acknowledged command once.
#[test]
fn kill_9_of_the_engine_on_nats_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = gridloop_store_nats::server::NatsServer::start(&dir.path().join("nats"), false);
    STORE.set(nats.url()).expect("set once");
    engine_kill_cycles(&dir.path().join("data"), NATS_CYCLES_CI);
}

/// On NATS, the other way round: the engine stays up while nats-server is
/// killed -9 and restarted under load; clients retry what got 503 with the
/// same key; every acknowledged command is in the stream exactly once, and
/// the engine's projections caught up again.
#[test]
fn kill_9_of_nats_server_under_load_loses_no_acknowledged_command() {
    let seed = seed_from_env();
    eprintln!("crash harness (nats-server killed): seed {seed} (replay with GRIDLOOP_CRASH_SEED={seed})");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nats = gridloop_store_nats::server::NatsServer::start(&dir.path().join("nats"), false);
    STORE.set(nats.url()).expect("set once");
    let data = dir.path().join("data");
    let (verifier, shared, clients) = clients_on(&data, seed);
    let server = start(&data, 0, "error");
    *shared.addr.write().expect("addr lock") = Some(server.addr.clone());
    let mut rng = SplitMix64::new(seed);
    for _ in 0..NATS_CYCLES_CI {
        std::thread::sleep(Duration::from_millis(RUN_MS_MIN + rng.below(RUN_MS_MAX - RUN_MS_MIN)));
        nats.kill();
        std::thread::sleep(Duration::from_millis(300));
        nats.restart();
    }
    // Work resumes once nats-server is back: the clients get submissions
    // acknowledged again. How long the reconnect takes depends on the load
    // on the machine, so this waits for the work (bounded), not for a time.
    let submitted = || shared.acks.lock().expect("acks lock").iter().filter(|a| a.action == "submit").count();
    let resumed_from = submitted();
    let resumed = until_within(RESUME_TIMEOUT, || submitted() >= resumed_from + NATS_CYCLES_CI as usize);
    assert!(
        resumed,
        "seed {seed}: work resumes after nats-server is back ({} submissions since)",
        submitted() - resumed_from
    );
    shared.stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("a client ends cleanly");
    }
    // One clean restart with the clock moved on: the offers fall due, the
    // timers settle, and the projections are compared with the log.
    drop(server);
    let server = start(&data, CLOCK_STEP_SECS, "warn");
    finish(server, &data, &shared, &verifier, seed, NATS_CYCLES_CI, started);
}

/// Tokens made in `data` for the clients and a verifier, and the client
/// threads, started (they wait while no server address is shared).
fn clients_on(data: &Path, seed: u64) -> (String, Arc<Shared>, Vec<std::thread::JoinHandle<()>>) {
    let tokens: Vec<String> = (0..CLIENTS).map(|n| token(data, &format!("d-client-{n}"))).collect();
    let verifier = token(data, "d-verify");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grids: Vec<String> = district.world.grids.at_level(Level::Grid).take(40).map(|g| g.code.to_string()).collect();
    let shared = Arc::new(Shared {
        addr: RwLock::new(None),
        stop: AtomicBool::new(false),
        acks: Mutex::default(),
        refused: Mutex::default(),
    });
    let clients = tokens
        .iter()
        .enumerate()
        .map(|(n, token)| {
            let (shared, token, grids) = (shared.clone(), token.clone(), grids.clone());
            std::thread::spawn(move || client(shared, n, token, grids, seed))
        })
        .collect();
    (verifier, shared, clients)
}

/// Kill cycles of the engine over the log in `data` (sled, or NATS when
/// [`STORE`] is set).
fn engine_kill_cycles(data: &Path, cycles: u32) {
    let seed = seed_from_env();
    eprintln!("crash harness: seed {seed} (replay with GRIDLOOP_CRASH_SEED={seed}), {cycles} kill cycles");
    let started = Instant::now();
    let data = data.to_path_buf();
    let (verifier, shared, clients) = clients_on(&data, seed);
    let mut rng = SplitMix64::new(seed);
    let mut acked_before_kill = 0;
    for cycle in 0..=cycles {
        let server = start(&data, u64::from(cycle) * CLOCK_STEP_SECS, "warn");
        // Before the clients come back: what fell due while it was down fires.
        let acks = shared.acks.lock().expect("acks lock").clone();
        let sampled: Vec<String> = open_offers(&acks).into_iter().rev().take(SAMPLED_PER_CYCLE).collect();
        assert_offers_expired(&server.addr, &verifier, &sampled, seed, cycle);
        if cycle == cycles {
            // The last start: the clients finish what they were sending and
            // stop. One more (clean) restart, the clock moved on again, makes
            // the offers of this last run fall due too; then the timers
            // settle and the projections are compared.
            shared.stop.store(true, Ordering::SeqCst);
            *shared.addr.write().expect("addr lock") = Some(server.addr.clone());
            for client in clients {
                client.join().expect("a client ends cleanly");
            }
            *shared.addr.write().expect("addr lock") = None;
            drop(server);
            let server = start(&data, u64::from(cycle + 1) * CLOCK_STEP_SECS, "warn");
            finish(server, &data, &shared, &verifier, seed, cycles, started);
            return;
        }
        *shared.addr.write().expect("addr lock") = Some(server.addr.clone());
        let run = RUN_MS_MIN + rng.below(RUN_MS_MAX - RUN_MS_MIN);
        std::thread::sleep(Duration::from_millis(run));
        *shared.addr.write().expect("addr lock") = None;
        drop(server); // SIGKILL: Child::kill sends kill -9 on Unix.
        let acked = shared.acks.lock().expect("acks lock").len();
        assert!(acked >= acked_before_kill, "acknowledgements only grow");
        acked_before_kill = acked;
    }
}

/// The end of the crash run: the last restart's projections against a fresh
/// fold of the exported log, exactly-once for every acknowledgement, the
/// chains, and the figures.
fn finish(server: Server, data: &Path, shared: &Shared, verifier: &str, seed: u64, cycles: u32, started: Instant) {
    let acks = shared.acks.lock().expect("acks lock").clone();
    // Waiting out the timers' nap once more after the last expiry leaves
    // nothing in flight when the board is read.
    assert_offers_expired(&server.addr, verifier, &[], seed, cycles);
    std::thread::sleep(Duration::from_millis(1_500));
    let served = served_board(&server.addr, verifier);
    drop(server);
    let log = export(data);
    let verify = gridloop_on_store(&["audit", "--all", "--verify", "--data", data_str(data)]);
    assert!(verify.status.success(), "seed {seed}: the log verifies: {}", stderr(&verify));
    let folded = folded_board(&log);
    assert_eq!(served.len(), folded.len(), "seed {seed}: the served board and the rebuilt one hold as many tickets");
    for (id, row) in &folded {
        assert_eq!(served.get(id), Some(row), "seed {seed}: {id} on the served board vs rebuilt from the log");
    }
    let checked = assert_exactly_once(&log, &acks, seed);
    assert_every_lapsed_offer_expired(&log, seed);
    let refused = shared.refused.lock().expect("refused lock");
    // Offers and acceptances retried across a restart may find the offer
    // expired (the clock jumped); that is a definite refusal, not a loss.
    for line in refused.iter() {
        assert!(line.contains("offer_expired") || line.contains("illegal_transition"), "seed {seed}: {line}");
    }
    let tickets = acks.iter().filter(|a| a.action == "submit").count();
    assert!(tickets >= cycles as usize, "seed {seed}: the clients got work done ({tickets} tickets)");
    println!(
        "crash harness: {cycles} kill cycles, {checked} commands acknowledged ({tickets} tickets, {} refused), \
         {} events in the log, lost: 0, seed {seed}, {:.1}s",
        refused.len(),
        log.len(),
        started.elapsed().as_secs_f64()
    );
}

/// A tmpfs of `size` mounted on `at` for as long as it lives.
struct Mount(std::path::PathBuf);

impl Mount {
    /// Mounts, or says why not (not root, no mount permission in a container).
    fn tmpfs(at: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "gridloop-disk-full"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount did not run: {e}"))?;
        match out.status.success() {
            true => Ok(Self(at.to_path_buf())),
            false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with a file of zeros until it is
/// full, leaving `leave` bytes free at most.
fn fill(dir: &Path, leave: u64) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 4096];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = file.sync_all();
    // Give back `leave` bytes, so the server can still start and write a little.
    file.set_len(written.saturating_sub(leave)).expect("truncate the filler");
    path
}

#[test]
fn a_full_disk_refuses_appends_with_a_clear_error_and_service_resumes_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = match Mount::tmpfs(&dir.path().join("fs"), "48m") {
        Ok(mount) => mount,
        Err(why) => {
            println!("SKIPPED a_full_disk_refuses_appends...: cannot mount a tmpfs here ({why}); run as root to test");
            return;
        }
    };
    let data = mount.0.join("data");
    let token = token(&data, "d-disk");
    // Reads get their own token, so that the writes' rate limit cannot refuse them.
    let reader = self::token(&data, "d-disk-read");
    let server = start(&data, 0, "warn");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.to_string();
    let order = |n: usize| {
        // A long description fills the disk in fewer requests.
        let text = format!("disk full test {n} {}", "x".repeat(1_500));
        format!(r#"{{"category":"IC-003","grid":"{grid}","description":"{text}","resident":"r-1"}}"#)
    };
    let submit = |n: usize| {
        request(&server.addr, "POST", "/api/v1/tickets", Some(&token), Some(&format!("disk-{n}")), &order(n))
            .expect("the server answers")
    };
    let mut acked = Vec::new();
    for n in 0..5 {
        let (status, body) = submit(n);
        assert_eq!(status, 201, "{body}");
        acked.push(serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("id").to_string());
    }
    let filler = fill(&mount.0, 64 * 1024);
    let mut refusal = None;
    for n in 5..2_000 {
        let (status, body) = submit(n);
        match status {
            201 => acked.push(serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("id").into()),
            _ => {
                refusal = Some((n, status, body));
                break;
            }
        }
    }
    let (failed_at, status, body) = refusal.expect("the disk fills up and an append is refused");
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("storage_failure")), "{body}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("space"), "the message says the disk is full: {message}");
    // What was acknowledged is intact, read through the server.
    for id in &acked {
        let (status, body) =
            request(&server.addr, "GET", &format!("/api/v1/tickets/{id}"), Some(&reader), None, "").expect("answers");
        assert_eq!(status, 200, "{id} readable while the disk is full: {body}");
    }
    // Space returns: the same request (same key) goes through.
    std::fs::remove_file(&filler).expect("remove the filler");
    let resumed = (0..50).any(|_| {
        let (status, _) = submit(failed_at);
        if status != 201 {
            std::thread::sleep(Duration::from_millis(100));
        }
        status == 201
    });
    assert!(resumed, "appends succeed again once space returns");
    drop(server);
    let verify = gridloop(&["audit", "--all", "--verify", "--data", data_str(&data)]);
    assert!(verify.status.success(), "the log verifies after the disk was full: {}", stderr(&verify));
    let log = export(&data);
    let submitted = log.iter().filter(|e| e.schema.name == "ticket.submitted").count();
    assert_eq!(submitted, acked.len() + 1, "every acknowledged order is there once, and the retried one");
    println!(
        "disk full: {} orders acknowledged, order {failed_at} refused with 503 storage_failure ({message}), \
         accepted with the same key once space returned; the log verifies",
        acked.len()
    );
}

#[test]
fn a_failed_write_stops_writing_until_a_restart_and_loses_nothing() {
    // A write that fails after the free-space check passed: the server's
    // soft file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so that a
    // write past it fails with EFBIG instead of killing the process) is
    // lowered to what its largest file holds, so the next growth of sled's
    // file fails; then it is lifted again (only the soft limit: raising a
    // hard one needs CAP_SYS_RESOURCE).
    let Ok(prlimit) = Command::new("prlimit").arg("--version").output() else {
        println!("SKIPPED a_failed_write_stops_writing...: prlimit (util-linux) is not installed");
        return;
    };
    assert!(prlimit.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Several dispatchers: with the district's world in the log, sled's file
    // has room for many orders before it must grow, more than one token's
    // rate limit lets through in a minute.
    let tokens: Vec<String> = (0..8).map(|i| token(&data, &format!("d-efbig-{i}"))).collect();
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.to_string();
    let submit = |addr: &str, n: usize| {
        let text = format!("write failure test {n} {}", "x".repeat(1_500));
        let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"{text}","resident":"r-1"}}"#);
        let token = &tokens[n % tokens.len()];
        request(addr, "POST", "/api/v1/tickets", Some(token), Some(&format!("efbig-{n}")), &order).expect("answers")
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; exec \"$0\" serve --listen 127.0.0.1:0 --data \"$1\"")
        .arg(env!("CARGO_BIN_EXE_gridloop"))
        .arg(&data)
        .env("GRIDLOOP_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let server = Server { child, addr };
    let mut acked = 0;
    for n in 0..3 {
        assert_eq!(submit(&server.addr, n).0, 201);
        acked += 1;
    }
    let largest = walk(&data).into_iter().map(|(_, size)| size).max().unwrap_or(0);
    let pid = server.child.id().to_string();
    let limit = |bytes: &str| {
        let out = Command::new("prlimit").args(["--pid", &pid, &format!("--fsize={bytes}:")]).output();
        let out = out.expect("prlimit runs");
        assert!(out.status.success(), "prlimit --fsize={bytes}: (soft limit): {}", stderr(&out));
    };
    limit(&largest.to_string());
    let mut refusal = None;
    for n in 3..6_000 {
        let (mut status, mut body) = submit(&server.addr, n);
        // The token's rate limit (600 a minute) is not what is tested: the
        // file's bound may take more orders than that to reach.
        while status == 429 {
            std::thread::sleep(std::time::Duration::from_secs(1));
            (status, body) = submit(&server.addr, n);
        }
        if status == 201 {
            acked += 1;
            continue;
        }
        refusal = Some((n, status, body));
        break;
    }
    let (failed_at, status, body) = refusal.expect("a write fails once the file may not grow");
    let first_body = body.clone();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage_failure"), "{body}");
    // The limit is lifted, but this process may hold in memory what the disk
    // does not: it keeps refusing rather than write on top of it.
    limit("unlimited");
    let (status, body) = submit(&server.addr, failed_at + 1);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("restarts"), "the refusal says a restart recovers: {body} (the first: {first_body})");
    drop(server);
    let server = start(&data, 0, "warn");
    for n in [failed_at, failed_at + 1] {
        let (status, body) = submit(&server.addr, n);
        assert_eq!(status, 201, "after a restart, order {n}: {body}");
    }
    drop(server);
    let verify = gridloop(&["audit", "--all", "--verify", "--data", data_str(&data)]);
    assert!(verify.status.success(), "the log verifies: {}", stderr(&verify));
    let orders = export(&data).iter().filter(|e| e.schema.name == "ticket.submitted").count();
    assert_eq!(orders, acked + 2, "every acknowledged order and the two retried ones, once each");
    println!("write failure: {acked} orders acknowledged, order {failed_at} failed ({body}); refused until restart");
}

/// Every file under `dir` and its size.
fn walk(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => files.extend(walk(&path)),
            Ok(m) => files.push((path, m.len())),
            Err(_) => {}
        }
    }
    files
}

/// Polls `done` every 50 ms until it holds or `timeout` passes; whether it held.
fn until_within(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}
