//! Operator commands while `gridloop serve` runs on sled: they go through
//! the server's control socket (`DATA/control.sock`) and print what they
//! would print offline; the seal schedule seals a log that is due.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridloop_engine::grid::Level;

use crate::support::{gridloop, stderr, stdout};

/// How long a server may take to start, stop, or print a line it owes.
const WAIT: Duration = Duration::from_secs(30);

/// A running `gridloop serve`: killed when the test ends, also when it fails.
struct Server {
    child: Child,
    addr: String,
    /// Tokens printed on a first start, by role.
    tokens: std::collections::HashMap<String, String>,
    /// Every line it printed after "listening on".
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data: &Path, flags: &[&str], clock_ahead_secs: Option<u64>) -> Server {
        if !data.join("GRIDLOOP").exists() {
            crate::support::with_chikan(data, None);
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_gridloop"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(data).args(flags);
        if let Some(secs) = clock_ahead_secs {
            command.env(gridloop_cli::clock::CLOCK_AHEAD_VAR, secs.to_string());
        }
        let mut child = command.stdout(Stdio::piped()).spawn().expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut tokens = std::collections::HashMap::new();
        let addr = loop {
            let line = lines.next().expect("the server prints its address").expect("a line");
            if let Some(rest) = line.strip_prefix("listening on http://") {
                break rest.trim().to_string();
            }
            if let Some((role, _)) = line.split_once(" token for ") {
                tokens.insert(role.to_string(), line.rsplit(' ').next().expect("a token").to_string());
            }
        };
        let later = Arc::new(Mutex::new(Vec::new()));
        let sink = later.clone();
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| sink.lock().expect("lines").push(l)));
        Server { child, addr, tokens, lines: later }
    }

    /// Waits until the server has printed a line containing `text`.
    fn wait_for_line(&self, text: &str) {
        let started = Instant::now();
        while !self.lines.lock().expect("lines").iter().any(|l| l.contains(text)) {
            assert!(started.elapsed() < WAIT, "the server never said {text:?}: {:?}", self.lines.lock());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, and waits for a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill runs").success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "serve stopped with {status}");
                return;
            }
            assert!(started.elapsed() < WAIT, "serve did not stop on Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body.
fn request(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// Orders a leaking tap through the API; the new ticket's id.
fn order_ticket(server: &Server, token: &str) -> String {
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}}"#);
    let (status, body) = request(&server.addr, "POST", "/api/v1/tickets", token, &order);
    assert_eq!(status, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    answer["id"].as_str().expect("an id").to_string()
}

/// `gridloop ARGS --data DATA`, which must succeed.
fn ok(args: &[&str], data: &Path) -> Output {
    let mut all = args.to_vec();
    all.extend(["--data", data.to_str().expect("utf-8")]);
    let out = gridloop(&all);
    assert!(out.status.success(), "{all:?}: {}{}", stderr(&out), stdout(&out));
    out
}

fn socket(data: &Path) -> PathBuf {
    data.join("control.sock")
}

/// The commands whose output depends only on the log: run through the
/// server, then again offline, they must print the same.
const DETERMINISTIC: [&[&str]; 5] =
    [&["audit", "--all", "--verify"], &["metrics", "--json"], &["duty"], &["export"], &["audit", "T-1", "--json"]];

#[test]
fn operator_commands_run_through_a_live_server_and_print_what_they_print_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ok(&["demo", "--days", "1", "--orders-per-day", "12"], &data);
    let server = Server::start(&data, &[], None);
    // The demo's last seal was made at its simulated end, long past
    // midnight: the schedule seals as soon as the server starts.
    server.wait_for_line("(on schedule)");
    {
        use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
        let meta = std::fs::metadata(socket(&data)).expect("serve made the control socket");
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "only its owner may use the control socket");
    }
    let dispatcher = server.tokens.get("dispatcher").expect("a dispatcher token on first start").clone();
    let ticket = order_ticket(&server, &dispatcher);

    let audit = stdout(&ok(&["audit", &ticket], &data));
    assert!(audit.contains(&ticket) && audit.contains("resident: r-1"), "{audit}");
    let verify = stdout(&ok(&["audit", "--all", "--verify"], &data));
    assert!(verify.contains(". OK") && verify.contains("seals verified"), "{verify}");
    let metrics = stdout(&ok(&["metrics"], &data));
    assert!(metrics.contains("as of") && metrics.contains("赤坎区 (all)"), "{metrics}");
    assert!(stdout(&ok(&["duty"], &data)).contains("backup-agency members"));
    let sealed = stdout(&ok(&["seal"], &data));
    assert!(sealed.starts_with("sealed ") && sealed.contains("up to position"), "{sealed}");
    assert!(stdout(&ok(&["replay", "--projection", "board"], &data)).starts_with("board "));

    // A token made now works at once, without a restart.
    let made = stdout(&ok(&["token", "create", "--role", "auditor", "--subject", "a-9"], &data));
    let auditor = made.trim().rsplit(' ').next().expect("the token").to_string();
    assert!(made.contains("the running server takes it now"), "{made}");
    let (status, body) = request(&server.addr, "GET", &format!("/api/v1/tickets/{ticket}"), &auditor, "");
    assert_eq!(status, 200, "the new token is taken by the live server: {body}");

    let code = stdout(&ok(&["volunteer", "link-code", "V-1"], &data));
    assert!(code.starts_with("link code for V-1: "), "{code}");

    let resident = resident_of_first_ticket(&data);
    let erased = stdout(&ok(&["resident", "erase", &resident], &data));
    assert!(erased.contains("personal data erased"), "{erased}");
    assert!(stdout(&ok(&["audit", "T-1"], &data)).contains("erased"));

    let export = ok(&["export"], &data);
    let lines = stdout(&export).lines().count();
    assert!(lines > 50, "the whole log is exported: {lines} lines");
    assert!(stderr(&export).contains(&format!("exported {lines} events")), "{}", stderr(&export));

    let online: Vec<Output> = DETERMINISTIC.iter().map(|args| ok(args, &data)).collect();
    refused_while_serving(&data);
    server.stop();
    assert!(!socket(&data).exists(), "serve removes its socket when it stops");
    for (args, online) in DETERMINISTIC.iter().zip(online) {
        let offline = ok(args, &data);
        assert_eq!(stdout(&online), stdout(&offline), "{args:?}: through the server as offline");
    }
}

/// The resident of the demo's first ticket, from `audit --json`.
fn resident_of_first_ticket(data: &Path) -> String {
    let answer: serde_json::Value =
        serde_json::from_slice(&ok(&["audit", "T-1", "--json"], data).stdout).expect("json");
    let line = answer["resident"].as_str().expect("a resident line");
    assert!(line.contains("****"), "a masked phone: {line}");
    line.split(' ').next().expect("the id").to_string()
}

/// What needs the store to itself is refused by the server, clearly.
fn refused_while_serving(data: &Path) {
    let d = data.to_str().expect("utf-8");
    for args in [&["demo", "--days", "1", "--data", d][..], &["keys", "init", "--data", d], &["serve", "--data", d]] {
        let out = gridloop(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = stderr(&out);
        assert!(text.contains("does not run while `gridloop serve` runs on") && text.contains(args[0]), "{text}");
    }
    // A usage error is still the client's own.
    let out = gridloop(&["audit", "--all", "--data", d]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn serve_seals_what_is_due_by_its_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = Server::start(&data, &[], None);
    assert!(sealing_key_made(&data), "the first start makes the seal key");
    let dispatcher = first.tokens.get("dispatcher").expect("a dispatcher token").clone();
    order_ticket(&first, &dispatcher);
    let none = stdout(&ok(&["audit", "--all", "--verify"], &data));
    assert!(none.contains("no seals yet"), "an hour has not passed, nor a midnight: {none}");
    first.stop();

    // Two hours later by the clock: an hourly seal is due since the ticket.
    let hourly = Server::start(&data, &["--seal-every", "1h"], Some(2 * 3600));
    hourly.wait_for_line("(on schedule)");
    let one = stdout(&ok(&["audit", "--all", "--verify"], &data));
    assert!(one.contains("1 seals verified"), "{one}");
    hourly.stop();

    // Three days later: a midnight has passed since that seal.
    let nightly = Server::start(&data, &[], Some(3 * 86_400));
    nightly.wait_for_line("(on schedule)");
    let two = stdout(&ok(&["audit", "--all", "--verify"], &data));
    assert!(two.contains("2 seals verified"), "{two}");
    nightly.stop();
    assert_eq!(stdout(&ok(&["audit", "--all", "--verify"], &data)), two, "offline, the same");
}

fn sealing_key_made(data: &Path) -> bool {
    gridloop_cli::sealing::key_path(data).exists()
}

#[test]
fn seal_every_takes_one_minute_to_seven_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("data");
    for bad in ["30s", "0m", "8d", "1w", "h", "-1h", "99999999999999999999d"] {
        let flag = format!("--seal-every={bad}");
        let out = gridloop(&["serve", &flag, "--data", d.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("--seal-every"), "{bad}: {}", stderr(&out));
    }
    assert!(!d.exists(), "nothing was created");
    let parse = gridloop_cli::sealing::parse_seal_every;
    assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse("6h"), Ok(Duration::from_secs(6 * 3600)));
    assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
}

#[test]
fn the_next_seal_is_at_midnight_china_time() {
    use gridloop_cli::sealing::next_seal_at;
    use gridloop_engine::time::Timestamp;
    let at = |t: &str| Timestamp::parse(t).expect("valid");
    // 15:59 UTC is 23:59 in China: the midnight a minute later.
    assert_eq!(next_seal_at(at("2026-12-07T15:59:00Z")), at("2026-12-07T16:00:00Z"));
    // At midnight exactly, the next one.
    assert_eq!(next_seal_at(at("2026-12-07T16:00:00Z")), at("2026-12-08T16:00:00Z"));
    assert_eq!(next_seal_at(at("2026-12-07T01:00:00Z")), at("2026-12-07T16:00:00Z"));
}

#[test]
fn a_stale_socket_is_passed_over_and_the_store_opened_directly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ok(&["demo", "--days", "1", "--orders-per-day", "5"], &data);
    // A socket nobody listens on, as a killed server leaves it.
    drop(std::os::unix::net::UnixListener::bind(socket(&data)).expect("bind"));
    assert!(socket(&data).exists());
    let verify = stdout(&ok(&["audit", "--all", "--verify"], &data));
    assert!(verify.contains(". OK"), "{verify}");
    // A server starting there replaces it.
    let server = Server::start(&data, &[], None);
    assert!(stdout(&ok(&["seal"], &data)).starts_with("sealed "));
    server.stop();
}

/// The frames a control socket answers `request` with: (kind, payload).
fn control_answer(data: &Path, request: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket(data)).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("send");
    let mut frames = Vec::new();
    let mut length = [0u8; 4];
    while stream.read_exact(&mut length).is_ok() {
        let mut body = vec![0u8; u32::from_be_bytes(length) as usize];
        stream.read_exact(&mut body).expect("a whole frame");
        let payload = body.split_off(1);
        frames.push((body[0], payload));
    }
    frames
}

#[test]
fn a_malformed_control_request_gets_an_error_and_the_server_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &[], None);
    let frame = |kind: u8, payload: &[u8]| {
        let mut bytes = (payload.len() as u32 + 1).to_be_bytes().to_vec();
        bytes.push(kind);
        bytes.extend_from_slice(payload);
        bytes
    };
    let cases: [(&str, Vec<u8>); 5] = [
        ("not JSON", frame(b'R', b"{nope")),
        ("another kind", frame(b'O', b"{}")),
        ("a length past the bound", u32::MAX.to_be_bytes().to_vec()),
        ("another protocol", frame(b'R', br#"{"protocol":99,"argv":["gridloop","seal"]}"#)),
        ("arguments clap refuses", frame(b'R', br#"{"protocol":1,"argv":["gridloop","explode"]}"#)),
    ];
    for (what, request) in cases {
        let frames = control_answer(&data, &request);
        let (kind, status) = frames.last().expect("an answer");
        assert_eq!((*kind, status.as_slice()), (b'X', &[2u8][..]), "{what}: {frames:?}");
        assert!(frames.iter().any(|(k, text)| *k == b'E' && !text.is_empty()), "{what} is explained");
    }
    // Nothing of it stopped the server.
    assert!(stdout(&ok(&["audit", "--all", "--verify"], &data)).contains(". OK"));
    server.stop();
}
