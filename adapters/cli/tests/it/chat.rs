//! `gridloop serve --matrix-…` runs the volunteers' chat bot beside the
//! API: against a real Synapse (the harness of the chatbot crate's tests),
//! a volunteer links with a code from `gridloop volunteer link-code`, gets
//! an offer made over the API, accepts it in chat, and the API shows it
//! accepted.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridloop_engine::grid::Level;

use crate::support::{gridloop, stderr, stdout};

#[path = "../../../chatbot/tests/it/synapse.rs"]
#[allow(dead_code)]
mod synapse;

use synapse::{Limits, Person, Synapse};

/// Kills the server when the test ends, also when it fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request, `Connection: close`; the status and the JSON body.
fn request(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_chat_bot_beside_the_api() {
    let synapse = Synapse::start_with(Limits::default());
    synapse.register(&["gridloop", "alice"]);
    let bot = synapse.login("gridloop").await;
    let mut alice = Person::new(synapse.login("alice").await);

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("a UTF-8 path");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "1", "--data", data_arg]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    let issued = gridloop(&["volunteer", "link-code", "V-1", "--data", data_arg]);
    assert!(issued.status.success(), "{}", stderr(&issued));
    let printed = stdout(&issued);
    let code = printed
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a code in {printed:?}"))
        .to_string();
    let token_file = dir.path().join("matrix-token");
    std::fs::write(&token_file, bot.access_token()).expect("writes the token");

    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data_arg, "--matrix-homeserver", &synapse.url])
        .args(["--matrix-user", bot.user_id(), "--matrix-token-file"])
        .arg(&token_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let (mut addr, mut token, mut bot_line) = (None, None, None);
    while addr.is_none() || token.is_none() || bot_line.is_none() {
        let line = lines.next().expect("serve prints its address, tokens and bot").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = Some(rest.trim().to_string());
        }
        if line.starts_with("dispatcher token") {
            token = line.rsplit(' ').next().map(str::to_string);
        }
        if line.starts_with("chat bot") {
            bot_line = Some(line);
        }
    }
    let (addr, token) = (addr.expect("an address"), token.expect("a token"));
    assert!(bot_line.expect("a bot line").contains(bot.user_id()));

    let room = alice.open_dm(bot.user_id()).await;
    alice.wait_joined(&room, bot.user_id()).await;
    alice.say(&room, &format!("link {code}")).await;
    alice.wait_for("Linked to volunteer V-1").await;

    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"水龙头漏水","resident":"r-1"}}"#);
    let (status, answer) = request(&addr, "POST", "/api/v1/tickets", &token, &order);
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_str().expect("an id").to_string();
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    let (status, answer) = request(&addr, "POST", &format!("/api/v1/tickets/{id}/offer"), &token, offer);
    assert_eq!(status, 200, "{answer}");

    let pushed = alice.wait_for(&format!("New offer {id}")).await;
    assert!(pushed.body.contains("水龙头漏水"), "{}", pushed.body);
    alice.say(&room, &format!("accept {id}")).await;
    alice.wait_for(&format!("You accepted {id}")).await;
    let (status, ticket) = request(&addr, "GET", &format!("/api/v1/tickets/{id}"), &token, "");
    assert_eq!(status, 200, "{ticket}");
    assert_eq!(ticket["status"], "accepted", "{ticket}");
    assert!(data.join("matrix.json").exists(), "the bot keeps its state in the data directory");
}

#[test]
fn the_matrix_flags_go_together_and_the_homeserver_is_http_or_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("UTF-8");
    let out = gridloop(&["serve", "--data", data, "--matrix-homeserver", "http://127.0.0.1:1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--matrix-user"), "{}", stderr(&out));

    let token = dir.path().join("token");
    std::fs::write(&token, "secret").expect("writes");
    let token = token.to_str().expect("UTF-8");
    // https:// is taken (rustls; the chatbot crate's tests check the TLS
    // handshake); any other scheme is refused before anything starts.
    let args = ["serve", "--listen", "127.0.0.1:0", "--data", data, "--matrix-homeserver", "ftp://matrix.org"];
    let more = ["--matrix-user", "@gridloop:matrix.org", "--matrix-token-file", token];
    let out = gridloop(&[&args[..], &more[..]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("only http:// and https://"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("token"), "refused before any token was issued: {}", stdout(&out));
}

#[test]
fn a_link_code_needs_a_volunteer_who_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("UTF-8");
    let out = gridloop(&["demo", "--days", "1", "--orders-per-day", "1", "--data", data]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = gridloop(&["volunteer", "link-code", "V-999999", "--data", data]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("V-999999 not found"), "{}", stderr(&out));
    let out = gridloop(&["volunteer", "link-code", "nobody", "--data", data]);
    assert!(!out.status.success());
}

/// Starts `gridloop` with `args` (`serve` or `chatbot`) and reads its
/// output until it has printed every line starting with one of `wanted`;
/// returns the process and those lines.
fn start(args: &[&str], wanted: &[&str]) -> (Server, Vec<String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    while found.iter().any(Option::is_none) {
        let line = lines.next().expect("it prints what is wanted").expect("a line");
        for (slot, prefix) in found.iter_mut().zip(wanted) {
            if line.starts_with(prefix) {
                *slot = Some(line.clone());
            }
        }
    }
    // Keep reading, so that the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, found.into_iter().flatten().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatbot_process_beside_serve_on_one_nats_log() {
    use gridloop_store_nats::server::NatsServer;
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"), false);
    let store = nats.url();
    let synapse = Synapse::start_with(Limits::default());
    synapse.register(&["gridloop", "alice"]);
    let bot = synapse.login("gridloop").await;
    let mut alice = Person::new(synapse.login("alice").await);
    let token_file = dir.path().join("matrix-token");
    std::fs::write(&token_file, bot.access_token()).expect("writes the token");
    let token_file = token_file.to_str().expect("UTF-8").to_string();

    // The volunteers are registered in the NATS log by a demo.
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_string();
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "1", "--store", &store, "--data", &path("demo")]);
    assert!(demo.status.success(), "{}", stderr(&demo));

    let (_serve, lines) = start(
        &["serve", "--listen", "127.0.0.1:0", "--store", &store, "--data", &path("serve")],
        &["listening on http://", "dispatcher token"],
    );
    let addr = lines[0].trim_start_matches("listening on http://").trim().to_string();
    let token = lines[1].rsplit(' ').next().expect("a token").to_string();
    let (_chatbot, _) = start(
        &["chatbot", "--store", &store, "--data", &path("bot"), "--matrix-homeserver", &synapse.url]
            .into_iter()
            .chain(["--matrix-user", bot.user_id(), "--matrix-token-file", &token_file])
            .collect::<Vec<_>>(),
        &["chat bot"],
    );

    // A dispatcher issues the code over serve's API; the bot process sees it
    // in the shared log.
    let (status, issued) = request(&addr, "POST", "/api/v1/volunteers/V-1/link-code", &token, "");
    assert_eq!(status, 200, "{issued}");
    let code = issued["code"].as_str().expect("a code");
    let room = alice.open_dm(bot.user_id()).await;
    alice.wait_joined(&room, bot.user_id()).await;
    alice.say(&room, &format!("绑定 {code}")).await;
    alice.wait_for("已绑定志愿者 V-1").await;

    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"楼道灯坏了","resident":"r-1"}}"#);
    let (status, answer) = request(&addr, "POST", "/api/v1/tickets", &token, &order);
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_str().expect("an id").to_string();
    let offer = r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#;
    let (status, answer) = request(&addr, "POST", &format!("/api/v1/tickets/{id}/offer"), &token, offer);
    assert_eq!(status, 200, "{answer}");
    alice.wait_for(&format!("新派单 {id}")).await;
    alice.say(&room, &format!("接单 {id}")).await;
    alice.wait_for(&format!("已接单 {id}")).await;
    // serve's projections follow the log the bot wrote to.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, ticket) = request(&addr, "GET", &format!("/api/v1/tickets/{id}"), &token, "");
        assert_eq!(status, 200, "{ticket}");
        if ticket["status"] == "accepted" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "serve never saw the acceptance: {ticket}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
