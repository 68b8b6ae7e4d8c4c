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

use std::sync::OnceLock;

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

/// One router over a memory store, built once per process, with a
/// dispatcher's token: the Open311 target's server.
struct Open311Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    clock: std::sync::Arc<gridloop_engine::service::ManualClock>,
}

fn open311_server() -> &'static Open311Server {
    static SERVER: OnceLock<Open311Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        use gridloop_engine::envelope::Role;
        use gridloop_engine::service::{CommandService, ManualClock};
        use gridloop_engine::time::Timestamp;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let district = gridloop_fixtures::chikan(1).expect("the fixture district");
        let clock =
            std::sync::Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("a valid time")));
        let service =
            std::sync::Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock.clone(), 1));
        let mut tokens = gridloop_http::TokenTable::new();
        let (token, entry) = gridloop_http::TokenTable::issue(Role::Dispatcher, "d-fuzz", None).expect("a token");
        tokens.insert(entry).expect("inserted");
        let state = runtime.block_on(gridloop_http::AppState::new(service, tokens)).expect("the state");
        Open311Server { runtime, router: gridloop_http::router(state), token, clock }
    })
}

/// Open311 forms: the input is the form body of `POST requests.json`
/// after a valid `api_key`, so that it reaches the form's own fields. Any
/// answer but a server error is fine; a panic or a 5xx is a finding.
pub fn open311_form(data: &[u8]) {
    use tower::ServiceExt as _;
    let server = open311_server();
    // A minute per request: the rate limit never answers first.
    server.clock.advance(gridloop_engine::time::Millis::minutes(1));
    let body = [format!("api_key={}&", server.token).as_bytes(), data].concat();
    let request = axum::http::Request::post("/open311/v2/requests.json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = server.runtime.block_on(server.router.clone().oneshot(request)).expect("the router answers");
    assert!(!response.status().is_server_error(), "a form made the server fail: {}", response.status());
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

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus regression test.
pub const TARGETS: [(&str, Target); 6] = [
    ("event_decode", event_decode),
    ("grid_code", grid_code),
    ("chat_command", chat_command),
    ("open311_form", open311_form),
    ("ndjson_import", ndjson_import),
    ("world_bundle", world_bundle),
];
