//! A real Synapse for the tests, and a minimal Matrix user to talk to the
//! bot through it.
//!
//! [`Synapse::start`] writes a config into a temporary directory (SQLite,
//! one client listener on 127.0.0.1 at a free port, no federation, no key
//! servers, no presence or URL previews, registration only by shared
//! secret, rate limits raised unless a test asks for tight ones), starts
//! Synapse from `tools/synapse` (or the Python in `GRIDLOOP_SYNAPSE_PYTHON`),
//! and waits for `/health`. Dropping it kills the server; the directory
//! goes with it. A missing Synapse fails the test with what to run: the
//! tests never skip silently.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridloop_chatbot::client::{Client, Homeserver, str_field};
use serde_json::{Value, json};

/// How long Synapse may take to answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a test waits for one message from the bot.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "correct horse battery staple";

/// Rate limits for a test's server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `rc_message`: messages a second per user, and the burst.
    pub messages_per_second: f64,
    pub message_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { messages_per_second: 1000.0, message_burst: 1000 }
    }
}

#[derive(Debug)]
pub struct Synapse {
    child: Child,
    python: PathBuf,
    config: PathBuf,
    log: PathBuf,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The Python of the Synapse venv.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("GRIDLOOP_SYNAPSE_PYTHON") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/synapse/bin/python")
}

impl Synapse {
    pub fn start_with(limits: Limits) -> Self {
        let python = python();
        let installed = Command::new(&python)
            .args(["-c", "import synapse"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "Synapse is not installed: {} cannot import synapse. Run scripts/install-tools (it puts Synapse in \
             tools/synapse), or set GRIDLOOP_SYNAPSE_PYTHON to a Python that has matrix-synapse.",
            python.display()
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("creates the data directory");
        // A signing key made here rather than by Synapse's --generate-keys,
        // which costs a second Python start.
        let seed: Vec<u8> = blake3::hash(format!("{port}-{}", std::process::id()).as_bytes()).as_bytes().to_vec();
        std::fs::write(data.join("signing.key"), format!("ed25519 a_test {}\n", base64(&seed)))
            .expect("writes the key");
        let config = dir.path().join("homeserver.yaml");
        let d = data.display();
        let rate = |per_second: f64, burst: u32| format!("{{per_second: {per_second}, burst_count: {burst}}}");
        let high = rate(1000.0, 1000);
        let message = rate(limits.messages_per_second, limits.message_burst);
        let yaml = format!(
            r#"server_name: "localhost"
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
media_store_path: {d}/media
signing_key_path: {d}/signing.key
registration_shared_secret: "gridloop-test-secret"
macaroon_secret_key: "gridloop-test-macaroon"
form_secret: "gridloop-test-form"
report_stats: false
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
url_preview_enabled: false
enable_metrics: false
rc_message: {message}
rc_registration: {high}
rc_login:
  address: {high}
  account: {high}
  failed_attempts: {high}
rc_joins:
  local: {high}
  remote: {high}
rc_invites:
  per_room: {high}
  per_user: {high}
  per_issuer: {high}
"#
        );
        std::fs::write(&config, yaml).expect("writes the config");
        let log = dir.path().join("synapse.log");
        let out = std::fs::File::create(&log).expect("creates the log");
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&config)
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting Synapse with {}: {e}", python.display()));
        let mut server = Synapse { child, python, config, log, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        server.wait_healthy(port);
        server
    }

    fn wait_healthy(&mut self, port: u16) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Synapse exited ({status}) before it was ready:\n{}", self.log_tail());
            }
            if health(port) {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "Synapse was not healthy within {START_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of Synapse's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Registers users by shared secret (the way an operator would), all at
    /// once.
    pub fn register(&self, users: &[&str]) {
        let children: Vec<(String, Child)> = users
            .iter()
            .map(|user| {
                let child = Command::new(&self.python)
                    .args(["-m", "synapse._scripts.register_new_matrix_user", "-c"])
                    .arg(&self.config)
                    .args(["-u", user, "-p", PASSWORD, "--no-admin", &self.url])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("runs register_new_matrix_user");
                (user.to_string(), child)
            })
            .collect();
        for (user, child) in children {
            let out = child.wait_with_output().expect("register_new_matrix_user ends");
            assert!(
                out.status.success(),
                "registering {user} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub fn homeserver(&self) -> Homeserver {
        Homeserver::parse(&self.url).expect("a valid URL")
    }

    pub async fn login(&self, user: &str) -> Client {
        Client::login(self.homeserver(), user, PASSWORD).await.expect("logs in")
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    listener.local_addr().expect("has an address").port()
}

fn health(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// One message seen by a test user.
#[derive(Clone, Debug)]
pub struct Seen {
    pub room: String,
    pub sender: String,
    pub body: String,
}

/// A person on Matrix: syncs, joins whatever they are invited to, and keeps
/// every message from others.
#[derive(Debug)]
pub struct Person {
    pub client: Client,
    since: Option<String>,
    /// Every message from someone else, in order.
    pub seen: Vec<Seen>,
    /// Indices of `seen` already returned by `wait_for`.
    taken: HashSet<usize>,
    /// (room, user) pairs seen joining.
    joined: HashSet<(String, String)>,
    txn: u64,
}

impl Person {
    pub fn new(client: Client) -> Self {
        Self { client, since: None, seen: vec![], taken: HashSet::new(), joined: HashSet::new(), txn: 0 }
    }

    pub fn user_id(&self) -> String {
        self.client.user_id().to_string()
    }

    /// A direct room with `other` invited.
    pub async fn open_dm(&mut self, other: &str) -> String {
        self.client.create_direct_room(other).await.expect("creates a room")
    }

    pub async fn say(&mut self, room: &str, text: &str) {
        self.txn += 1;
        let txn = format!("t{}-{}", self.txn, std::process::id());
        self.client.send_text(room, &txn, text).await.expect("sends");
    }

    /// One short sync: joins invites, records messages and joins.
    pub async fn sync(&mut self) {
        let filter = json!({ "room": { "timeline": { "limit": 100 } }, "presence": { "types": [] } }).to_string();
        let batch = self.client.sync(self.since.as_deref(), 500, &filter).await.expect("syncs");
        self.since = Some(str_field(&batch, "next_batch").expect("a next_batch"));
        let rooms = &batch["rooms"];
        let invites: Vec<String> =
            rooms["invite"].as_object().into_iter().flatten().map(|(id, _)| id.clone()).collect();
        for room in invites {
            self.client.join(&room).await.expect("joins an invite");
        }
        let me = self.user_id();
        for (room, data) in rooms["join"].as_object().into_iter().flatten() {
            for event in data["timeline"]["events"].as_array().into_iter().flatten() {
                self.record(room, event, &me);
            }
        }
    }

    fn record(&mut self, room: &str, event: &Value, me: &str) {
        let sender = event["sender"].as_str().unwrap_or("").to_string();
        match event["type"].as_str() {
            Some("m.room.member") if event["content"]["membership"] == "join" => {
                let who = event["state_key"].as_str().unwrap_or("").to_string();
                self.joined.insert((room.to_string(), who));
            }
            Some("m.room.message") if sender != me => {
                let body = event["content"]["body"].as_str().unwrap_or("").to_string();
                self.seen.push(Seen { room: room.to_string(), sender, body });
            }
            _ => {}
        }
    }

    /// Waits until `user` has joined `room`.
    pub async fn wait_joined(&mut self, room: &str, user: &str) {
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        while !self.joined.contains(&(room.to_string(), user.to_string())) {
            assert!(Instant::now() < deadline, "{user} did not join {room} within {MESSAGE_TIMEOUT:?}");
            self.sync().await;
        }
    }

    /// Waits for a message not returned before whose body contains
    /// `needle`, and returns it.
    pub async fn wait_for(&mut self, needle: &str) -> Seen {
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        loop {
            let found = (0..self.seen.len()).find(|i| !self.taken.contains(i) && self.seen[*i].body.contains(needle));
            if let Some(i) = found {
                self.taken.insert(i);
                return self.seen[i].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{} saw no message containing {needle:?} within {MESSAGE_TIMEOUT:?}; saw {:#?}",
                self.user_id(),
                self.seen
            );
            self.sync().await;
        }
    }

    /// Waits for a message containing any of `needles`, and returns it.
    pub async fn wait_for_any(&mut self, needles: &[&str]) -> Seen {
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        loop {
            let found = (0..self.seen.len())
                .find(|i| !self.taken.contains(i) && needles.iter().any(|n| self.seen[*i].body.contains(n)));
            if let Some(i) = found {
                self.taken.insert(i);
                return self.seen[i].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{} saw no message containing any of {needles:?} within {MESSAGE_TIMEOUT:?}; saw {:#?}",
                self.user_id(),
                self.seen
            );
            self.sync().await;
        }
    }

    /// Syncs for `how_long` more, collecting whatever arrives.
    pub async fn settle(&mut self, how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            self.sync().await;
        }
    }

    /// How many messages so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.seen.iter().filter(|s| s.body.contains(needle)).count()
    }
}
