//! `gridloop serve` as a process: one ticket from order to close over HTTP,
//! with a tiny HTTP/1.1 client on `std::net::TcpStream`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridloop_engine::grid::Level;

use crate::support::with_chikan;

/// How long the test waits for the server to answer `/healthz`.
const START_TRIES: u32 = 100;

/// Kills the server when the test ends, also when it fails.
pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request, `Connection: close`; the status and the body.
pub(crate) fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn serve_drives_a_ticket_from_order_to_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    with_chikan(dir.path(), None);
    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let (mut addr, mut token) = (None, None);
    while addr.is_none() || token.is_none() {
        let line = lines.next().expect("the server prints its address and tokens").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = Some(rest.trim().to_string());
        }
        if line.starts_with("dispatcher token") {
            token = line.rsplit(' ').next().map(str::to_string);
        }
    }
    let (addr, token) = (addr.unwrap(), token.unwrap());
    let healthy = (0..START_TRIES).any(|_| {
        let up = TcpStream::connect(&addr).is_ok() && request(&addr, "GET", "/healthz", None, "").0 == 200;
        if !up {
            std::thread::sleep(Duration::from_millis(50));
        }
        up
    });
    assert!(healthy, "the server answers /healthz");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}}"#);
    let (status, body) = request(&addr, "POST", "/api/v1/tickets", Some(&token), &order);
    assert_eq!(status, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    let id = answer["id"].as_str().expect("an id").to_string();
    let steps = [
        ("assign", r#"{"to":{"kind":"volunteer","id":"V-1"},"reason":"nearest"}"#),
        ("start", ""),
        ("resolve", r#"{"result":"fixed","minutes_spent":30}"#),
        ("feedback", r#"{"rating":"satisfied"}"#),
        ("close", ""),
    ];
    for (action, body) in steps {
        let (status, answer) = request(&addr, "POST", &format!("/api/v1/tickets/{id}/{action}"), Some(&token), body);
        assert_eq!(status, 200, "{action}: {answer}");
    }
    let (status, body) = request(&addr, "GET", &format!("/api/v1/tickets/{id}"), Some(&token), "");
    assert_eq!(status, 200, "{body}");
    let ticket: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ticket["status"], "closed");
    let (status, _) = request(&addr, "GET", &format!("/api/v1/tickets/{id}"), None, "");
    assert_eq!(status, 401);
}

/// Starts `gridloop serve` on `data`; its address and the tokens it printed
/// on first start (role → token; none on a later start).
fn start(data: &std::path::Path) -> (Server, String, std::collections::HashMap<String, String>) {
    if !data.join("GRIDLOOP").exists() {
        with_chikan(data, None);
    }
    start_with(data, &[])
}

/// [`start`] on a data directory as it is, with more flags.
pub(crate) fn start_with(
    data: &std::path::Path,
    flags: &[&str],
) -> (Server, String, std::collections::HashMap<String, String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(flags)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
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
    std::thread::spawn(move || lines.for_each(drop));
    let up = (0..START_TRIES).any(|_| {
        let up = TcpStream::connect(&addr).is_ok() && request(&addr, "GET", "/healthz", None, "").0 == 200;
        if !up {
            std::thread::sleep(Duration::from_millis(50));
        }
        up
    });
    assert!(up, "the server answers /healthz");
    (server, addr, tokens)
}

#[test]
fn tokens_an_admin_issues_over_http_survive_a_restart_and_revocation_sticks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, addr, printed) = start(dir.path());
    let admin = printed.get("admin").expect("an admin token on first start").clone();
    let (status, body) =
        request(&addr, "POST", "/api/v1/tokens", Some(&admin), r#"{"role":"auditor","subject":"a-2"}"#);
    assert_eq!(status, 201, "{body}");
    let issued: serde_json::Value = serde_json::from_str(&body).expect("json");
    let auditor = issued["token"].as_str().expect("a token").to_string();
    let id = issued["id"].as_str().expect("an id").to_string();
    let dispatcher = printed.get("dispatcher").expect("a dispatcher token").clone();
    let (status, body) = request(&addr, "GET", "/api/v1/tokens", Some(&dispatcher), "");
    assert_eq!(status, 403, "only an admin lists tokens: {body}");
    drop(server);
    let (server, addr, printed) = start(dir.path());
    assert!(printed.is_empty(), "a restart prints no new tokens");
    assert_eq!(request(&addr, "GET", "/api/v1/tickets", Some(&auditor), "").0, 200, "the issued token survived");
    let (status, body) = request(&addr, "DELETE", &format!("/api/v1/tokens/{id}"), Some(&admin), "");
    assert_eq!(status, 200, "{body}");
    drop(server);
    let (_server, addr, _) = start(dir.path());
    assert_eq!(request(&addr, "GET", "/api/v1/tickets", Some(&auditor), "").0, 401, "the revocation survived");
}

/// `serve` runs the one serve loop: a client sending its request head a
/// byte at a time is cut off after `HEADER_READ_TIMEOUT`, and the token
/// file it wrote on first start is its owner's only.
#[test]
fn serve_cuts_off_a_request_head_that_never_ends_and_keeps_its_token_file_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr, _) = start(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("tokens.json")).expect("the token file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "tokens.json is its owner's only");
    }
    let bound = gridloop_http::server::HEADER_READ_TIMEOUT;
    let mut stream = TcpStream::connect(&addr).expect("connect");
    let mut writer = stream.try_clone().expect("a second handle");
    let started = std::time::Instant::now();
    // Ten bytes a second: the head would take a minute.
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}\r\n\r\n", "a".repeat(600));
    std::thread::spawn(move || {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    stream.set_read_timeout(Some(bound * 3)).expect("a read timeout");
    let mut buffer = [0u8; 256];
    let read = stream.read(&mut buffer);
    let elapsed = started.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_))
            && read.as_ref().err().is_none_or(|e| e.kind() != std::io::ErrorKind::WouldBlock),
        "the server closed the connection: {read:?}"
    );
    assert!(elapsed >= bound && elapsed < bound * 2, "cut off after {elapsed:?}, the bound being {bound:?}");
    // The server goes on serving others.
    assert_eq!(request(&addr, "GET", "/healthz", None, "").0, 200);
}
