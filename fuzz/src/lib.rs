//! What each fuzz target does with its input, in one place: the libFuzzer
//! targets in `fuzz_targets/` call these functions, and the main
//! workspace's corpus regression test (`adapters/cli/tests/it/fuzz_corpus.rs`)
//! includes this very file and feeds every corpus file to the same
//! functions, so a crash found by fuzzing stays fixed.
//!
//! Each function must never panic on any input; where a property holds for
//! every input that is accepted (a parsed grid code parses again to itself,
//! a decoded event re-encodes to one that decodes the same, a checked export
//! imports), it asserts that too. Inputs are bounded by libFuzzer's
//! `-max_len` (see `scripts/fuzz`).
//!
//! This file is also compiled as a module of another crate, so it uses no
//! crate-level attributes and no `crate::` paths.

use gridloop_engine::emergency::EmergencyEvent;
use gridloop_engine::envelope::{EventPayload, RecordedEvent, Schema, verify_stream};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::seal::SealEvent;
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::TicketEvent;
use gridloop_engine::volunteer::VolunteerEvent;

/// Event decoding and upcasting: the input as a stored envelope, and as
/// `schema\npayload` (any schema and version, so that every upcaster meets
/// hostile payloads).
/// A format-3 stored event value (`gridloop_store_sled::codec`): a
/// changed or truncated value is refused with an error, never a panic or
/// an allocation its header alone asked for; a value that decodes parses
/// as an envelope or is refused.
pub fn stored_event(data: &[u8]) {
    use std::sync::OnceLock;
    static CODEC: OnceLock<gridloop_store_sled::codec::Codec> = OnceLock::new();
    let codec = CODEC.get_or_init(|| gridloop_store_sled::codec::Codec::new(gridloop_store_sled::codec::DICTIONARY));
    if let Ok(json) = codec.decode(data) {
        let _ = serde_json::from_slice::<RecordedEvent>(&json);
        let again = codec.encode(&json).expect("what decoded encodes");
        assert_eq!(codec.decode(&again).expect("round trip"), json);
    }
}

pub fn event_decode(data: &[u8]) {
    if let Ok(event) = serde_json::from_slice::<RecordedEvent>(data) {
        round_trip::<TicketEvent>(&event.schema, &event.payload);
        round_trip::<VolunteerEvent>(&event.schema, &event.payload);
        round_trip::<EmergencyEvent>(&event.schema, &event.payload);
        round_trip::<SealEvent>(&event.schema, &event.payload);
        let _ = verify_stream(std::slice::from_ref(&event));
    }
    let Some(split) = data.iter().position(|&b| b == b'\n') else { return };
    let (Ok(schema), Ok(payload)) = (std::str::from_utf8(&data[..split]), serde_json::from_slice(&data[split + 1..]))
    else {
        return;
    };
    if let Ok(schema) = Schema::parse(schema.trim()) {
        round_trip::<TicketEvent>(&schema, &payload);
        round_trip::<VolunteerEvent>(&schema, &payload);
        round_trip::<EmergencyEvent>(&schema, &payload);
        round_trip::<SealEvent>(&schema, &payload);
    }
}

/// A payload that decodes (through any upcaster) re-encodes at the current
/// version, and that decodes to the same event.
fn round_trip<E: EventPayload + PartialEq + std::fmt::Debug>(schema: &Schema, payload: &serde_json::Value) {
    let Ok(event) = E::decode(schema, payload) else { return };
    let (current, encoded) = event.to_payload();
    let again = E::decode(&current, &encoded).expect("a re-encoded event decodes");
    assert_eq!(again, event, "{schema} re-encoded as {current} decodes to another event");
}

/// Grid codes: a code that parses prints as text that parses to it again,
/// and lies within each of its ancestors.
pub fn grid_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(code) = GridCode::parse(text) else { return };
    let again = GridCode::parse(code.as_str()).expect("a parsed grid code parses again");
    assert_eq!(again, code);
    for level in [Level::District, Level::Street, Level::Community, Level::Grid] {
        if let Some(ancestor) = code.at_level(level) {
            assert!(code.is_within(&ancestor), "{code} lies within its {level:?} {ancestor}");
        }
    }
}

/// Chat commands: any text parses (to a command or to help) and gets a
/// language, without panicking.
pub fn chat_command(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = gridloop_chatbot::grammar::parse(&text);
    let _ = gridloop_chatbot::grammar::language(&text);
}

/// Open311 forms: the input is the form body of `POST requests.json`
/// after a valid `api_key`, so that it reaches the form's own fields. Any
/// answer but a server error is fine; a panic or a 5xx is a finding, and
/// so is a refusal that wrote to the log.
pub fn open311_form(data: &[u8]) {
    let server = http::server();
    let body = [format!("api_key={}&", server.token("dispatcher").unwrap_or_default()).as_bytes(), data].concat();
    let form = [("content-type", b"application/x-www-form-urlencoded".to_vec())];
    server.send("POST", b"/open311/v2/requests.json", None, &form, body, http::Shape::Open311);
}

/// The boundary of [`open311_upload`]'s multipart bodies.
pub const UPLOAD_BOUNDARY: &str = "gridloop-fuzz-boundary";

/// Open311's `POST requests` as `multipart/form-data`, as a GeoReport v2
/// client sends a photo: the input is the body after a first part that
/// holds a dispatcher's `api_key` (fields, `media` file parts, the closing
/// boundary), under the boundary [`UPLOAD_BOUNDARY`]. The server keeps
/// photos in memory, so a `media` part reaches the blob store. No server
/// error, and a refusal in the spec's shape that wrote nothing.
pub fn open311_upload(data: &[u8]) {
    let server = http::server();
    let key = server.token("dispatcher").unwrap_or_default();
    let head = format!("--{UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\n{key}\r\n");
    let body = [head.as_bytes(), data].concat();
    let content_type = format!("multipart/form-data; boundary={UPLOAD_BOUNDARY}").into_bytes();
    server.send(
        "POST",
        b"/open311/v2/requests.json",
        None,
        &[("content-type", content_type)],
        body,
        http::Shape::Open311,
    );
}

/// Open311 reads, as an anonymous client sends them: the input is the
/// request target after `/open311/v2/` (`requests.json?start_date=...`,
/// `requests/T-1.xml`, `services.json`, ...); bytes a URL cannot hold are
/// percent-encoded, so every byte reaches the query and path decoders. No
/// server error, and a read writes nothing.
pub fn open311_query(data: &[u8]) {
    let server = http::server();
    let target = [b"/open311/v2/".as_slice(), data].concat();
    server.send("GET", &target, None, &[], Vec::new(), http::Shape::Open311);
}

/// The JSON API's reads: the input is `CALLER TARGET` on one line
/// (`auditor api/v1/tickets?status=open&page=2`), the target relative to
/// the root, so it reaches every GET route (the API, the console's JSON,
/// `/metrics`); `{ticket}`, `{grid}` and the other names of
/// [`http::Server::names`] stand for things that exist. No server error,
/// every refusal in the JSON error shape, and a read writes nothing.
pub fn api_query(data: &[u8]) {
    let server = http::server();
    let (caller, target) = http::caller_and_rest(data);
    let target = [b"/".as_slice(), target].concat();
    server.send("GET", &target, caller, &[], Vec::new(), http::Shape::Json);
}

/// The JSON API's writes: the first line is `CALLER METHOD TARGET`
/// (`dispatcher POST api/v1/tickets/{ticket}/note`), the rest of the input
/// the body, sent as JSON: every body type (submit, each ticket action,
/// volunteers, staff, tokens, world changes, emergency, redeem, link codes)
/// has seeds. No server error, every refusal in the JSON error shape and
/// nothing written by it.
pub fn api_body(data: &[u8]) {
    let server = http::server();
    let cut = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (caller, rest) = http::caller_and_rest(&data[..cut]);
    let (method, target) = http::method_and_rest(rest);
    let body = data.get(cut + 1..).unwrap_or_default().to_vec();
    let target = [b"/".as_slice(), target].concat();
    let json = [("content-type", b"application/json".to_vec())];
    server.send(method, &target, caller, &json, body, http::Shape::Json);
}

/// `Idempotency-Key`: the input is the header's value on a resident's
/// order. Whatever the key, the server answers without failing; a key it
/// takes answers a repeat of the same order with the same ticket, and the
/// same key on another order is refused without writing.
pub fn idempotency_key(data: &[u8]) {
    let Ok(key) = axum::http::HeaderValue::from_bytes(data) else { return };
    let server = http::server();
    let order = |description: &str| {
        format!(r#"{{"category":"IC-003","grid":"{}","description":"{description}"}}"#, server.name("{grid}"))
    };
    let headers = [("content-type", b"application/json".to_vec()), ("idempotency-key", key.as_bytes().to_vec())];
    let target = b"/api/v1/tickets";
    let first =
        server.send("POST", target, Some("resident"), &headers, order("a leaking tap").into(), http::Shape::Json);
    let again =
        server.send("POST", target, Some("resident"), &headers, order("a leaking tap").into(), http::Shape::Json);
    let Some((status, answer)) = first else { return };
    let (again_status, again_answer) = again.expect("the same request is sent again");
    if status.is_success() {
        assert!(again_status.is_success(), "a repeat answers as the first did: {again_status} {again_answer}");
        assert_eq!(again_answer["id"], answer["id"], "a repeat finds the first ticket");
        let other = server.send("POST", target, Some("resident"), &headers, order("another").into(), http::Shape::Json);
        let (other_status, other_answer) = other.expect("the other order is sent");
        assert!(
            other_status.is_client_error(),
            "a key reused on another order is refused: {other_status} {other_answer}"
        );
    } else {
        assert!(status.is_client_error(), "{status} {answer}");
    }
}

/// The server the HTTP targets send to, one per process: the Chikan fixture
/// on a memory store with a manual clock, a token per kind of caller, two
/// volunteers, a ticket offered to them and one fresh, and names for them
/// that inputs use (`{ticket}`, `{grid}`, ...).
pub mod http {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    use axum::http::StatusCode;
    use gridloop_engine::envelope::Role;
    use gridloop_engine::grid::{GridCode, Level};
    use gridloop_engine::ids::ResidentId;
    use gridloop_engine::personal::{Lookup, Person, PersonalStore};
    use gridloop_engine::service::{CommandService, ManualClock};
    use gridloop_engine::store::{EventStore, MemoryStore};
    use gridloop_engine::time::{Millis, Timestamp};
    use serde_json::Value;
    use tower::ServiceExt as _;

    /// The callers an input may name, with their role, subject and whether
    /// they serve a street (the one the first grid is not in).
    pub const CALLERS: [(&str, Role, &str, bool); 10] = [
        ("resident", Role::Resident, "r-1", false),
        ("volunteer", Role::Volunteer, "V-1", false),
        ("dispatcher", Role::Dispatcher, "d-440802", false),
        ("far_dispatcher", Role::Dispatcher, "d-far", true),
        ("grid_worker", Role::GridWorker, "gw-1", false),
        ("department", Role::Department, "civil_affairs", false),
        ("auditor", Role::Auditor, "a-1", false),
        ("admin", Role::Admin, "ops-1", false),
        ("other_resident", Role::Resident, "r-2", false),
        ("grid_head", Role::GridHead, "gh-1", false),
    ];

    /// How a refusal must look.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Shape {
        /// `{ "error": { "code", "message" } }`.
        Json,
        /// Open311's own error list (JSON or XML by the suffix).
        Open311,
    }

    /// The server and what inputs may name.
    pub struct Server {
        runtime: tokio::runtime::Runtime,
        router: axum::Router,
        clock: Arc<ManualClock>,
        store: MemoryStore,
        tokens: HashMap<&'static str, String>,
        /// What `{ticket}`, `{grid}`, ... in an input stand for.
        pub names: Vec<(&'static str, String)>,
        /// The log's length after the last request; the lock also sends
        /// one request at a time, so a refusal's check sees only its own.
        seen: Mutex<usize>,
        /// How many answers of each status this process got (0: the target
        /// was no valid URL, nothing sent), to show what the inputs reach.
        answered: Mutex<std::collections::BTreeMap<u16, u64>>,
    }

    /// Names and phones kept in memory, so the people routes take them.
    #[derive(Default)]
    struct MemoryPersonal(Mutex<HashMap<ResidentId, Person>>);

    impl PersonalStore for MemoryPersonal {
        fn put(&self, resident: &ResidentId, person: &Person) -> Result<(), gridloop_engine::Error> {
            self.0.lock().expect("personal lock").insert(resident.clone(), person.clone());
            Ok(())
        }
        fn get(&self, resident: &ResidentId) -> Result<Lookup, gridloop_engine::Error> {
            Ok(self.0.lock().expect("personal lock").get(resident).cloned().map_or(Lookup::Unknown, Lookup::Found))
        }
        fn erase(&self, resident: &ResidentId) -> Result<bool, gridloop_engine::Error> {
            Ok(self.0.lock().expect("personal lock").remove(resident).is_some())
        }
    }

    /// The photo `{photo}` names: a JPEG with GPS EXIF, stored stripped.
    const PHOTO: &[u8] = include_bytes!("../../fixtures/photos/gps.jpg");

    /// The hash the stored (stripped) photo has.
    fn photo_hash() -> String {
        let photo = gridloop_media::check(PHOTO).expect("the fixture is a photo");
        gridloop_engine::blob::BlobHash::of(&photo.bytes).to_hex()
    }

    /// The one server of this process.
    pub fn server() -> &'static Server {
        static SERVER: OnceLock<Server> = OnceLock::new();
        SERVER.get_or_init(Server::start)
    }

    impl Server {
        fn start() -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            let district = gridloop_fixtures::chikan(1).expect("the fixture district");
            let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("a valid time")));
            let store = MemoryStore::new();
            let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock.clone(), 1));
            let grids = &district.world.grids;
            let grid = grids.at_level(Level::Grid).next().expect("a grid").code.clone();
            let within = |level| grid.at_level(level).expect("the grid's ancestor");
            let far_street: GridCode =
                grids.at_level(Level::Street).map(|n| n.code.clone()).find(|s| !grid.is_within(s)).expect("a street");
            let mut table = gridloop_http::TokenTable::new();
            let mut tokens = HashMap::new();
            let mut token_id = String::new();
            for (name, role, subject, placed) in CALLERS {
                let place = placed.then(|| far_street.clone());
                let (token, entry) = gridloop_http::TokenTable::issue(role, subject, place).expect("a token");
                if name == "other_resident" {
                    token_id = entry.hash[..16].to_string();
                }
                table.insert(entry).expect("inserted");
                tokens.insert(name, token);
            }
            let personal: Arc<dyn PersonalStore> = Arc::new(MemoryPersonal::default());
            let state = runtime
                .block_on(gridloop_http::AppState::new(service, table, gridloop_http::Cold::default()))
                .expect("the state")
                .with_personal(personal)
                .with_blobs(Arc::new(gridloop_engine::blob::MemoryBlobs::new()))
                .with_accounts(Arc::new(gridloop_engine::account::MemoryAccounts::new([7; 32])));
            let names = vec![
                ("{grid}", grid.to_string()),
                ("{community}", within(Level::Community).to_string()),
                ("{street}", within(Level::Street).to_string()),
                ("{far_street}", far_street.to_string()),
                ("{district}", within(Level::District).to_string()),
                ("{ticket}", "T-1".to_string()),
                ("{fresh}", "T-2".to_string()),
                ("{token_id}", token_id),
                ("{photo}", photo_hash()),
            ];
            let server = Server {
                runtime,
                router: gridloop_http::router(state),
                clock,
                store,
                tokens,
                names,
                seen: Mutex::new(0),
                answered: Mutex::default(),
            };
            server.prepare();
            server
        }

        /// A photo stored, V-1 and V-2 registered in the first grid, T-1
        /// ordered and offered to both, T-2 ordered.
        fn prepare(&self) {
            let steps = [
                (
                    "admin",
                    "/api/v1/volunteers",
                    r#"{"id":"V-1","team":"TM-1","home_grid":"{grid}","skills":["elderly_care"]}"#,
                ),
                ("admin", "/api/v1/volunteers", r#"{"id":"V-2","team":"TM-1","home_grid":"{grid}"}"#),
                (
                    "resident",
                    "/api/v1/tickets",
                    r#"{"category":"IC-003","grid":"{grid}","description":"a leaking tap"}"#,
                ),
                (
                    "resident",
                    "/api/v1/tickets",
                    r#"{"category":"IC-003","grid":"{grid}","description":"a broken lamp"}"#,
                ),
                (
                    "dispatcher",
                    "/api/v1/tickets/T-1/offer",
                    r#"{"candidates":[{"kind":"volunteer","id":"V-1"},{"kind":"volunteer","id":"V-2"}],"expires_in_minutes":600}"#,
                ),
            ];
            let photo = self.send("POST", b"/api/v1/photos", Some("resident"), &[], PHOTO.to_vec(), Shape::Json);
            let (status, answer) = photo.expect("a valid request");
            assert!(status.is_success() && answer["hash"] == self.name("{photo}"), "preparing the photo: {answer}");
            let json = [("content-type", b"application/json".to_vec())];
            for (caller, target, body) in steps {
                let body = self.substitute(body.as_bytes());
                let answer = self.send("POST", target.as_bytes(), Some(caller), &json, body, Shape::Json);
                let (status, answer) = answer.expect("a valid request");
                assert!(status.is_success(), "preparing {target}: {status} {answer}");
            }
        }

        /// The token of a caller of [`CALLERS`].
        pub fn token(&self, caller: &str) -> Option<&str> {
            self.tokens.get(caller).map(String::as_str)
        }

        /// What a name of [`Server::names`] stands for.
        pub fn name(&self, name: &str) -> &str {
            self.names.iter().find(|(n, _)| *n == name).map_or("", |(_, value)| value.as_str())
        }

        /// The input with every name replaced by what it stands for.
        pub fn substitute(&self, input: &[u8]) -> Vec<u8> {
            let mut out = input.to_vec();
            for (name, value) in &self.names {
                out = replace(&out, name.as_bytes(), value.as_bytes());
            }
            out
        }

        /// Sends one request as `caller` (`None` or an unknown name: no
        /// token) and checks the answer: no server error; a refusal in
        /// `shape` that wrote nothing; a read that wrote nothing. The
        /// target's names are replaced and the bytes a URL cannot hold
        /// percent-encoded; `None` when it is still no valid URL. Each
        /// request is a minute after the last, so the rate limit never
        /// answers first.
        pub fn send(
            &self,
            method: &str,
            target: &[u8],
            caller: Option<&str>,
            headers: &[(&str, Vec<u8>)],
            body: Vec<u8>,
            shape: Shape,
        ) -> Option<(StatusCode, Value)> {
            let mut request = axum::http::Request::builder().method(method).uri(url(&self.substitute(target)));
            if let Some(token) = caller.and_then(|c| self.token(c)) {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            for (name, value) in headers {
                request = request.header(*name, value.as_slice());
            }
            let Ok(request) = request.body(axum::body::Body::from(self.substitute(&body))) else {
                self.count(0);
                return None;
            };
            let shown = format!("{method} {}", request.uri());
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.clock.advance(Millis::minutes(1));
            let (status, text) = self.runtime.block_on(async {
                let response = self.router.clone().oneshot(request).await.expect("the router answers");
                let status = response.status();
                let streamed = response.headers().get("content-type").is_some_and(|t| t == "text/event-stream");
                if streamed {
                    return (status, Vec::new());
                }
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.expect("the body is read");
                (status, bytes.to_vec())
            });
            let appended = self.appended_after(*seen);
            let wrote = appended > 0;
            *seen += appended;
            drop(seen);
            self.count(status.as_u16());
            if std::env::var_os("GRIDLOOP_FUZZ_SHOW").is_some() {
                // To see what the seeds reach: each request and its answer's start.
                let start: String = String::from_utf8_lossy(&text).chars().take(160).collect();
                eprintln!("{shown} {status} {start}");
            }
            let answer: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
            let text = String::from_utf8_lossy(&text);
            assert!(!status.is_server_error(), "{shown}: a server error: {status} {text}");
            assert!(!(wrote && (status.is_client_error() || method == "GET")), "{shown}: {status} wrote to the log");
            if shape == Shape::Json && status.is_client_error() {
                let code = answer["error"]["code"].as_str().unwrap_or_default();
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(!code.is_empty() && !message.is_empty(), "{shown}: {status} not in the error shape: {text}");
            }
            Some((status, answer))
        }

        fn count(&self, status: u16) {
            *self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(status).or_default() += 1;
        }

        /// The answers so far by status, `200×12 400×90 ...` (`0`: not sent).
        pub fn answered(&self) -> String {
            let answered = self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            answered.iter().map(|(status, n)| format!("{status}×{n}")).collect::<Vec<_>>().join(" ")
        }

        /// How many events the log holds past its first `length`.
        fn appended_after(&self, length: usize) -> usize {
            let after = self.store.read_all(length as u64 + 1, usize::MAX);
            self.runtime.block_on(after).expect("the memory store reads").len()
        }
    }

    /// `CALLER REST`: the caller when the first word names one (else none:
    /// the request goes without a token), and the rest.
    pub fn caller_and_rest(line: &[u8]) -> (Option<&'static str>, &[u8]) {
        let cut = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let first = std::str::from_utf8(&line[..cut]).unwrap_or_default();
        match CALLERS.iter().find(|(name, ..)| *name == first) {
            Some((name, ..)) => (Some(*name), line.get(cut + 1..).unwrap_or_default()),
            None => (None, line),
        }
    }

    /// `METHOD REST`: a write method when the first word is one (else POST),
    /// and the rest.
    pub fn method_and_rest(line: &[u8]) -> (&'static str, &[u8]) {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            if let Some(rest) = line.strip_prefix(method.as_bytes()).and_then(|r| r.strip_prefix(b" ")) {
                return (method, rest);
            }
        }
        ("POST", line)
    }

    /// The target as a URL: each byte outside the printable ASCII a URL
    /// may hold literally is percent-encoded (a `%` is kept, so an input's
    /// own escapes reach the decoders).
    fn url(target: &[u8]) -> String {
        let mut out = String::with_capacity(target.len());
        for &b in target {
            if b.is_ascii_graphic() && !b"\"<>\\^`{|}#".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(haystack.len());
        let mut rest = haystack;
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(with);
            rest = &rest[at + needle.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
}

/// NDJSON import: the input as an export file. The importer's check never
/// panics; a file it accepts imports into an empty store, which then holds
/// exactly the file's events.
pub fn ndjson_import(data: &[u8]) {
    use gridloop_cli::audit::{append_file, check_file};
    let path = std::env::temp_dir().join(format!(
        "gridloop-fuzz-import-{}-{:?}.ndjson",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, data).expect("the input is written to a temporary file");
    if let Ok(check) = check_file(&path, |_, _, _| {}) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let store = MemoryStore::new();
        let imported = runtime.block_on(append_file(&store, &path, &check, |_, _, _| {}));
        let summary = imported.expect("a file that checks imports");
        assert_eq!(summary.events, check.log.events);
        assert_eq!(store.snapshot().len() as u64, check.log.events);
    }
    let _ = std::fs::remove_file(&path);
}

/// World bundles: the input cut into an encoding and files
/// (`gridloop_world::fuzzing::split`: NUL-separated, each file its name,
/// a line break, its bytes) and read. Reading never panics; a bundle that
/// reads builds its world (the engine's own check), and a refusal names at
/// least one problem, each printable.
pub fn world_bundle(data: &[u8]) {
    let (encoding, files) = gridloop_world::fuzzing::split(data);
    match gridloop_world::read_files(&files, encoding) {
        Ok(bundle) => {
            bundle.world.world().expect("a bundle that reads builds its world");
            let _ = gridloop_world::describe(&bundle.world);
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a refused bundle names a problem");
            assert!(problems.iter().all(|p| !p.to_string().is_empty()));
        }
    }
}

/// The token file (`tokens.json`, a JSON array of hashed entries): a file
/// that loads saves and loads again to the same table.
pub fn token_file(data: &[u8]) {
    use gridloop_http::TokenTable;
    let path = scratch("tokens.json");
    std::fs::write(&path, data).expect("the input is written to a temporary file");
    if let Ok(table) = TokenTable::load(&path) {
        let saved = scratch("tokens-saved.json");
        table.save(&saved).expect("a table that loads saves");
        let again = TokenTable::load(&saved).expect("a saved table loads");
        assert_eq!(again.entries(), table.entries(), "a saved table loads the same");
        let _ = std::fs::remove_file(&saved);
    }
    let _ = std::fs::remove_file(&path);
}

/// The seal key file (64 hex digits): read as `gridloop serve` reads it, a
/// key is taken exactly when its text, trimmed, is 64 hex digits, and it is
/// those digits.
pub fn sealing_key(data: &[u8]) {
    let dir = scratch("seal");
    let path = gridloop_cli::sealing::key_path(&dir);
    let folder = path.parent().expect("a key file has a folder");
    if !folder.exists() {
        std::fs::create_dir_all(folder).expect("the folder is made");
    }
    std::fs::write(&path, data).expect("the input is written to a temporary file");
    let loaded = gridloop_cli::sealing::load_key(&dir);
    let text = std::str::from_utf8(data).map(str::trim).unwrap_or_default();
    let hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    assert_eq!(loaded.is_ok(), hex, "{text:?}: a key is taken exactly when it is 64 hex digits");
    if let Some(key) = std::str::from_utf8(data).ok().and_then(gridloop_cli::sealing::parse_key) {
        let digits: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digits, text.to_ascii_lowercase());
    }
    // The key's file goes; its two folders stay for the next input.
    let _ = std::fs::remove_file(&path);
}

/// The engine's own text parsers, each on the whole input: timestamps,
/// durations, schemas, hashes, ids and roles. Whatever one accepts prints
/// as text it accepts again, to the same value.
pub fn engine_text(data: &[u8]) {
    use gridloop_engine::envelope::{Hash, Role};
    use gridloop_engine::ids::{ActorId, CategoryCode, DepartmentId, ItemCode, Skill, TeamId, TicketId, VolunteerId};
    use gridloop_engine::time::{Millis, Timestamp};
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(at) = Timestamp::parse(text) {
        assert_eq!(Timestamp::parse(&at.to_string()).ok(), Some(at), "{text:?} prints as {at}");
    }
    if let Ok(span) = Millis::parse_span(text) {
        assert!(span.0 > 0 && span <= Millis::days(366), "{text:?}");
    }
    if let Ok(schema) = Schema::parse(text) {
        assert_eq!(Schema::parse(&schema.to_string()).ok(), Some(schema));
    }
    if let Ok(hash) = Hash::parse_hex(text) {
        assert_eq!(hash.to_string(), text.to_ascii_lowercase());
    }
    if let Ok(id) = TicketId::new(text) {
        assert_eq!(TicketId::from_number(id.number()), id, "{text:?}");
    }
    if let Ok(id) = VolunteerId::new(text) {
        assert_eq!(id.as_str(), text);
    }
    let kept = [
        TeamId::new(text).map(|id| id.to_string()),
        ItemCode::new(text).map(|id| id.to_string()),
        DepartmentId::new(text).map(|id| id.to_string()),
        Skill::new(text).map(|id| id.to_string()),
        CategoryCode::new(text).map(|id| id.to_string()),
        ActorId::new(text).map(|id| id.to_string()),
    ];
    assert!(kept.iter().flatten().all(|id| id == text), "{text:?}: an id is its text");
    if let Some(role) = Role::parse_issuable(text) {
        assert_ne!(role, Role::System, "the system role is never issued");
    }
}

/// A path under the temporary directory that no other process or thread
/// uses at the same time.
fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gridloop-fuzz-{}-{:?}-{name}", std::process::id(), std::thread::current().id()))
}

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// Photos: any bytes are checked without a panic, and a photo that passes
/// checks again to itself (same bytes, so the same hash in any store).
pub fn photo_check(data: &[u8]) {
    if let Ok(photo) = gridloop_media::check(data) {
        let again = gridloop_media::check(&photo.bytes).expect("a checked photo checks again");
        assert_eq!(again, photo);
    }
}

/// Every target by name, for the corpus regression test.
pub const TARGETS: [(&str, Target); 16] = [
    ("event_decode", event_decode),
    ("stored_event", stored_event),
    ("grid_code", grid_code),
    ("chat_command", chat_command),
    ("open311_form", open311_form),
    ("open311_upload", open311_upload),
    ("open311_query", open311_query),
    ("api_query", api_query),
    ("api_body", api_body),
    ("idempotency_key", idempotency_key),
    ("ndjson_import", ndjson_import),
    ("world_bundle", world_bundle),
    ("token_file", token_file),
    ("sealing_key", sealing_key),
    ("engine_text", engine_text),
    ("photo_check", photo_check),
];
