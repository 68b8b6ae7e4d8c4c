//! The bad-input catalogue: one table of malformed and hostile inputs across
//! every door into gridloop — the JSON API, Open311 (form, JSON and XML),
//! chat commands, NDJSON import and CLI flags — each refused with its
//! documented error code, and nothing written (the log's length is checked
//! before and after each one).
//!
//! The HTTP cases go over a real socket (raw bytes: invalid UTF-8, huge
//! headers) to the router on a `MemoryStore`; chat messages go to the bot
//! core on the same store; import and CLI cases run the `gridloop` binary.
//! Every failing row is reported at once, with its name.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gridloop_chatbot::bot::Bot;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::CommandId;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::{VolunteerCommand, link_code_hash};
use gridloop_http::{AppState, TokenTable, router};
use serde_json::Value;

use crate::support::{gridloop, stderr};

/// One HTTP request of the catalogue.
pub(crate) struct Http {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    /// Which caller's token (a key of the token map), or none.
    pub(crate) token: Option<&'static str>,
    pub(crate) key: Option<String>,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

/// What a refusal must look like.
enum Expect {
    /// A JSON API error: the status and `error.code`.
    Api(u16, &'static str),
    /// An Open311 error: the status, in the spec's format (JSON or XML).
    Open311(u16, Format),
    /// A chat reply's code.
    Chat(&'static str),
    /// A failed run of the binary: its exit code and a piece of stderr.
    Exit(i32, &'static str),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Json,
    Xml,
}

enum Input {
    Http(Http),
    Chat(&'static str),
    Import(Vec<u8>),
    Cli(Vec<std::ffi::OsString>),
}

struct Case {
    name: &'static str,
    input: Input,
    expect: Expect,
}

fn http(method: &'static str, path: &str, token: Option<&'static str>, body: impl Into<Vec<u8>>) -> Http {
    Http { method, path: path.into(), token, key: None, content_type: "application/json", body: body.into() }
}

fn post(path: &str, token: &'static str, body: impl Into<Vec<u8>>) -> Input {
    Input::Http(http("POST", path, Some(token), body))
}

fn get(path: &str, token: &'static str) -> Input {
    Input::Http(http("GET", path, Some(token), ""))
}

fn form(path: &str, body: &str) -> Input {
    let mut request = http("POST", path, None, body);
    request.content_type = "application/x-www-form-urlencoded";
    Input::Http(request)
}

fn keyed(path: &str, token: &'static str, key: &str, body: &str) -> Input {
    let mut request = http("POST", path, Some(token), body);
    request.key = Some(key.into());
    Input::Http(request)
}

fn case(name: &'static str, input: Input, expect: Expect) -> Case {
    Case { name, input, expect }
}

fn cli(args: &[&str]) -> Input {
    Input::Cli(args.iter().map(std::ffi::OsString::from).collect())
}

/// One request over a socket, `Connection: close`: the status and body.
pub(crate) fn send(addr: &str, request: &Http, tokens: &HashMap<&'static str, String>) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let auth = request.token.map(|t| format!("Authorization: Bearer {}\r\n", tokens[t])).unwrap_or_default();
    let key = request.key.as_ref().map(|k| format!("Idempotency-Key: {k}\r\n")).unwrap_or_default();
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}{key}Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
        request.method,
        request.path,
        request.content_type,
        request.body.len()
    );
    stream.write_all(head.as_bytes()).expect("send");
    // A server may answer (413) and close before reading a huge body.
    let _ = stream.write_all(&request.body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.as_bytes().to_vec()).unwrap_or_default();
    (status, body)
}

/// Whether an answer is the refusal expected; `Err` says what came instead.
fn judge(expect: &Expect, status: u16, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    match *expect {
        Expect::Api(want, code) => {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match (status == want, value["error"]["code"].as_str() == Some(code)) {
                (true, true) => Ok(()),
                _ => Err(format!("expected {want} {code}, got {status} {text}")),
            }
        }
        Expect::Open311(want, format) => {
            let shaped = match format {
                Format::Json => serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v[0]["code"].as_u64())
                    .is_some_and(|c| c == u64::from(want)),
                Format::Xml => text.starts_with("<?xml") && text.contains("<errors>") && text.contains("<code>"),
            };
            match status == want && shaped {
                true => Ok(()),
                false => Err(format!("expected Open311 {want} ({format:?}), got {status} {text}")),
            }
        }
        _ => Err("not an HTTP expectation".into()),
    }
}

const GRID_PLACEHOLDER: &str = "{grid}";
/// Stands for a point of the district outside `{grid}`, as JSON.
const ELSEWHERE_PLACEHOLDER: &str = r#"{"elsewhere":0}"#;
/// The street whose emergency mode the setup declares, under the key
/// `setup-emergency` (Chikan's first street).
const SETUP_STREET: &str = "440802-001";

/// The JSON API and Open311 rows. `{grid}` stands for a real grid code.
fn http_cases() -> Vec<Case> {
    use Expect::{Api, Open311};
    let order = r#"{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}"#;
    let intake = r#"{"channel":"phone","name":"王秀英","phone":"13800135678","item":"CS-001","grid":"{grid}","description":"老人摔倒"}"#.to_string();
    let with = |field: &str, value: &str| -> String {
        let mut v: Value = serde_json::from_str(order).expect("json");
        v[field] = serde_json::from_str(value).expect("a JSON value");
        v.to_string()
    };
    let without = |field: &str| -> String {
        let mut v: Value = serde_json::from_str(order).expect("json");
        v.as_object_mut().expect("an object").remove(field);
        v.to_string()
    };
    let placed = |field: &str, value: &str| -> String {
        let mut v: Value = serde_json::from_str(&without("grid")).expect("json");
        v[field] = serde_json::from_str(value).expect("a JSON value");
        v.to_string()
    };
    let bomb = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let object_bomb = format!(r#"{{"category":{}1{}}}"#, r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
    let candidates: Vec<String> = (1..=65).map(|n| format!(r#"{{"kind":"volunteer","id":"V-{n}"}}"#)).collect();
    let too_many = format!(r#"{{"candidates":[{}],"expires_in_minutes":30}}"#, candidates.join(","));
    let t = "/api/v1/tickets";
    let act = |action: &str| format!("/api/v1/tickets/T-1/{action}");
    let o = "/open311/v2/requests.json";
    let ox = "/open311/v2/requests.xml";
    let o_order = "api_key={dispatcher}&service_code=IC-003&address_id={grid}&description=tap&account_id=r-1";
    let o_with = |replace: &str, by: &str| o_order.replace(replace, by);
    vec![
        // Orders: wrong types, missing fields, unknown codes.
        case("category is a number", post(t, "dispatcher", with("category", "123")), Api(400, "invalid_input")),
        case("category is null", post(t, "dispatcher", with("category", "null")), Api(400, "invalid_input")),
        case("category missing", post(t, "dispatcher", without("category")), Api(400, "invalid_input")),
        case("description missing", post(t, "dispatcher", without("description")), Api(400, "invalid_input")),
        case("category malformed", post(t, "dispatcher", with("category", r#""cs001""#)), Api(400, "invalid_input")),
        // Item codes are the city's own (docs/world.md): a well-formed code
        // this catalog lacks is not found, not malformed.
        case(
            "category of another city's catalog",
            post(t, "dispatcher", with("category", r#""ZZ-999""#)),
            Api(404, "not_found"),
        ),
        case("category unknown", post(t, "dispatcher", with("category", r#""IC-999""#)), Api(404, "not_found")),
        case("grid malformed", post(t, "dispatcher", with("grid", r#""440802-1""#)), Api(400, "bad_grid_code")),
        case("grid empty", post(t, "dispatcher", with("grid", r#""""#)), Api(400, "bad_grid_code")),
        case("grid is an array", post(t, "dispatcher", with("grid", "[1,2]")), Api(400, "invalid_input")),
        case(
            "grid well-formed but unknown",
            post(t, "dispatcher", with("grid", r#""440802-099-099-099""#)),
            Api(404, "not_found"),
        ),
        case(
            "grid of another district",
            post(t, "dispatcher", with("grid", r#""110101-001-001-001""#)),
            Api(404, "not_found"),
        ),
        case("no place at all", post(t, "dispatcher", without("grid")), Api(400, "invalid_input")),
        case(
            "description of 2,001 characters",
            post(t, "dispatcher", with("description", &format!("\"{}\"", "x".repeat(2_001)))),
            Api(400, "invalid_input"),
        ),
        case(
            "description with a bell character",
            post(t, "dispatcher", with("description", r#""ring\u0007ring""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "description with a NUL",
            post(t, "dispatcher", with("description", r#""a\u0000b""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "description with an escape sequence",
            post(t, "dispatcher", with("description", r#""\u001b[2Jcleared""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "body of invalid UTF-8",
            post(t, "dispatcher", b"{\"category\":\"\xff\xfe\"}".to_vec()),
            Api(400, "invalid_json"),
        ),
        case("body cut off", post(t, "dispatcher", r#"{"category":"IC-003","#), Api(400, "invalid_json")),
        case("body is null", post(t, "dispatcher", "null"), Api(400, "invalid_input")),
        case("body is a string", post(t, "dispatcher", r#""order""#), Api(400, "invalid_input")),
        // Well-formed JSON of the wrong shape is refused at its first wrong
        // token, long before any depth matters.
        case("nested array bomb", post(t, "dispatcher", bomb), Api(400, "invalid_input")),
        case("nested object bomb", post(t, "dispatcher", object_bomb), Api(400, "invalid_input")),
        case("nested bomb cut off", post(t, "dispatcher", "[".repeat(50_000)), Api(400, "invalid_input")),
        case("body over 64 KiB", post(t, "dispatcher", format!("\"{}\"", "x".repeat(70_000))), Api(413, "too_large")),
        case("unknown field", post(t, "dispatcher", with("evil", "true")), Api(400, "invalid_input")),
        case("urgency unknown", post(t, "dispatcher", with("urgency", r#""apocalyptic""#)), Api(400, "invalid_input")),
        case(
            "resident id malformed",
            post(t, "dispatcher", with("resident", r#""r 1; drop""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "location latitude overflows",
            post(t, "dispatcher", placed("location", r#"{"lon":110000000,"lat":99999999999}"#)),
            Api(400, "invalid_input"),
        ),
        case(
            "location outside the district",
            post(t, "dispatcher", placed("location", r#"{"lon":-1000,"lat":-1000}"#)),
            Api(400, "invalid_input"),
        ),
        case(
            "location as floats",
            post(t, "dispatcher", placed("location", r#"{"lon":110.3,"lat":21.2}"#)),
            Api(400, "invalid_input"),
        ),
        case(
            "address of 500 characters",
            post(t, "dispatcher", placed("address", &format!("\"{}\"", "路".repeat(500)))),
            Api(400, "invalid_input"),
        ),
        case(
            "address naming nothing",
            post(t, "dispatcher", placed("address", r#""Atlantis 1""#)),
            Api(400, "invalid_input"),
        ),
        // Who may do what.
        case("no token", Input::Http(http("POST", t, None, order)), Api(401, "unauthorized")),
        case("unknown token", post(t, "forged", order), Api(401, "unauthorized")),
        case("token of 10,000 characters", post(t, "long", order), Api(401, "unauthorized")),
        // HTTP hygiene: the router's own refusals in the JSON shape.
        case(
            "wrong method on a route",
            Input::Http(http("DELETE", t, Some("dispatcher"), "")),
            Api(405, "method_not_allowed"),
        ),
        case("unknown route", get("/api/v1/tickets-and-more", "dispatcher"), Api(404, "not_found")),
        case("history verify=1", get("/api/v1/tickets/T-1/history?verify=1", "auditor"), Api(400, "invalid_input")),
        case(
            "emergency switch body over its own 16 KiB",
            post(
                &format!("/api/v1/emergency/{GRID_PLACEHOLDER}/declare"),
                "dispatcher",
                format!(r#"{{"reason":"{}"}}"#, "x".repeat(20_000)),
            ),
            Api(413, "too_large"),
        ),
        case(
            "token issue body over 64 KiB",
            post("/api/v1/tokens", "admin", format!(r#"{{"role":"admin","subject":"{}"}}"#, "x".repeat(70_000))),
            Api(413, "too_large"),
        ),
        case(
            "resident orders for another",
            post(t, "resident", with("resident", r#""r-2""#)),
            Api(403, "not_permitted"),
        ),
        case("auditor orders", post(t, "auditor", order), Api(403, "not_permitted")),
        case("admin orders", post(t, "admin", order), Api(403, "not_permitted")),
        case("admin cancels", post(&act("cancel"), "admin", ""), Api(403, "not_permitted")),
        case(
            "dispatcher issues a token",
            post("/api/v1/tokens", "dispatcher", r#"{"role":"admin","subject":"d-2"}"#),
            Api(403, "not_permitted"),
        ),
        case(
            "admin issues a system token",
            post("/api/v1/tokens", "admin", r#"{"role":"system","subject":"x"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "admin issues a token for a place not in the district",
            post("/api/v1/tokens", "admin", r#"{"role":"dispatcher","subject":"d-9","place":"440802-099"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "admin issues a token for a department not in the catalog",
            post("/api/v1/tokens", "admin", r#"{"role":"department","subject":"ministry_of_magic"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "admin gives a volunteer's token a place",
            post("/api/v1/tokens", "admin", r#"{"role":"volunteer","subject":"V-9","place":"440802-001"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "admin issues a token with an empty subject",
            post("/api/v1/tokens", "admin", r#"{"role":"resident","subject":""}"#),
            Api(400, "invalid_input"),
        ),
        case("volunteer closes", post(&act("close"), "volunteer", ""), Api(403, "not_permitted")),
        case(
            "resident offers",
            post(
                &act("offer"),
                "resident",
                r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":30}"#,
            ),
            Api(403, "not_permitted"),
        ),
        case(
            "department triages",
            post(&act("triage"), "department", r#"{"mode":"volunteer"}"#),
            Api(403, "not_permitted"),
        ),
        case(
            "dispatcher of another street acts",
            post(&act("cancel"), "far_dispatcher", ""),
            Api(403, "not_permitted"),
        ),
        case("resident reads history", get("/api/v1/tickets/T-1/history", "resident"), Api(403, "not_permitted")),
        case(
            "resident reads a place's queue",
            get("/api/v1/queues/place/440802", "resident"),
            Api(403, "not_permitted"),
        ),
        // Actions: ids, numbers, enums.
        case("unknown action", post(&act("explode"), "dispatcher", ""), Api(404, "not_found")),
        case("ticket id malformed", post("/api/v1/tickets/T-abc/start", "dispatcher", ""), Api(400, "invalid_input")),
        case(
            "ticket id overflows",
            post("/api/v1/tickets/T-99999999999999999999999/start", "dispatcher", ""),
            Api(400, "invalid_input"),
        ),
        case("ticket does not exist", post("/api/v1/tickets/T-424242/start", "dispatcher", ""), Api(404, "not_found")),
        case(
            "minutes negative",
            post(&act("resolve"), "dispatcher", r#"{"result":"x","minutes_spent":-5}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "minutes overflow u32",
            post(&act("resolve"), "dispatcher", r#"{"result":"x","minutes_spent":4294967296}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "offer expiring in 0 minutes",
            post(
                &act("offer"),
                "dispatcher",
                r#"{"candidates":[{"kind":"volunteer","id":"V-1"}],"expires_in_minutes":0}"#,
            ),
            Api(400, "invalid_input"),
        ),
        case("offer to 65 candidates", post(&act("offer"), "dispatcher", too_many), Api(400, "invalid_input")),
        case(
            "offer to nobody",
            post(&act("offer"), "dispatcher", r#"{"candidates":[],"expires_in_minutes":5}"#),
            Api(400, "invalid_input"),
        ),
        case("rating unknown", post(&act("feedback"), "resident", r#"{"rating":"meh"}"#), Api(400, "invalid_input")),
        // References that must exist (T-2 is a duplicate of T-1 already).
        case(
            "duplicate of itself",
            post(&act("mark-duplicate"), "dispatcher", r#"{"of":"T-1"}"#),
            Api(422, "duplicate_cycle"),
        ),
        case(
            "duplicates of each other",
            post(&act("mark-duplicate"), "dispatcher", r#"{"of":"T-2"}"#),
            Api(422, "duplicate_cycle"),
        ),
        case(
            "duplicate of a ticket never submitted",
            post(&act("mark-duplicate"), "dispatcher", r#"{"of":"T-424242"}"#),
            Api(422, "unknown_reference"),
        ),
        case(
            "offer to a volunteer never registered",
            post(
                &act("offer"),
                "dispatcher",
                r#"{"candidates":[{"kind":"volunteer","id":"V-999999"}],"expires_in_minutes":30}"#,
            ),
            Api(422, "unknown_reference"),
        ),
        case(
            "offer to a stood-down volunteer",
            post(
                &act("offer"),
                "dispatcher",
                r#"{"candidates":[{"kind":"volunteer","id":"V-2"}],"expires_in_minutes":30}"#,
            ),
            Api(422, "assignee_unavailable"),
        ),
        case(
            "offer to a team not in the district",
            post(
                &act("offer"),
                "dispatcher",
                r#"{"candidates":[{"kind":"team","id":"TM-999999"}],"expires_in_minutes":30}"#,
            ),
            Api(422, "unknown_reference"),
        ),
        case(
            "assign to a grid worker not on the staff",
            post(&act("assign"), "dispatcher", r#"{"to":{"kind":"grid_worker","id":"gw-nobody"},"reason":"nearest"}"#),
            Api(422, "unknown_reference"),
        ),
        case(
            "assign to a department not in the catalog",
            post(&act("assign"), "dispatcher", r#"{"to":{"kind":"department","id":"water_board"},"reason":"theirs"}"#),
            Api(422, "unknown_reference"),
        ),
        case(
            "location outside the grid named",
            post(t, "dispatcher", with("location", ELSEWHERE_PLACEHOLDER)),
            Api(422, "location_outside_grid"),
        ),
        // Free text at the boundary: non-characters, bidi overrides, nothing visible.
        case(
            "description with U+FFFE",
            post(t, "dispatcher", with("description", r#""tap\ufffe""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "description with a right-to-left override",
            post(t, "dispatcher", with("description", r#""\u202eexe.pat""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "description of zero-width characters only",
            post(t, "dispatcher", with("description", r#""\u200b\u200d\ufeff""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "note with U+FFFF",
            post(&act("note"), "dispatcher", r#"{"text":"seen\uffff"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "emergency reason with an isolate",
            post("/api/v1/emergency/440802/declare", "dispatcher", r#"{"reason":"\u2067typhoon"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "intake without the caller's name",
            post("/api/v1/intake", "dispatcher", intake.replace(r#""name":"王秀英""#, r#""name":" ""#)),
            Api(400, "invalid_input"),
        ),
        case(
            "intake with a phone of three digits",
            post("/api/v1/intake", "dispatcher", intake.replace("13800135678", "138")),
            Api(400, "invalid_input"),
        ),
        case(
            "intake description with an isolate",
            post("/api/v1/intake", "dispatcher", intake.replace("老人摔倒", r"\u2067老人摔倒")),
            Api(400, "invalid_input"),
        ),
        case("intake by an auditor", post("/api/v1/intake", "auditor", intake.clone()), Api(403, "not_permitted")),
        case("search by three digits", get("/api/v1/board?q=678", "dispatcher"), Api(400, "invalid_input")),
        case("search by phone as an auditor", get("/api/v1/board?q=5678", "auditor"), Api(403, "not_permitted")),
        case("map shaded by no rate", get("/api/v1/metrics/map?rate=speed", "dispatcher"), Api(400, "invalid_input")),
        case(
            "redeem negative points",
            post("/api/v1/volunteers/V-1/redeem", "volunteer", r#"{"points":-1,"reward":"x"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "redeem points overflow u64",
            post("/api/v1/volunteers/V-1/redeem", "volunteer", r#"{"points":18446744073709551616,"reward":"x"}"#),
            Api(400, "invalid_input"),
        ),
        // Timestamps and query parameters.
        case(
            "history as of 2300",
            get("/api/v1/tickets/T-1/history?as_of=2300-01-01T00:00:00Z", "auditor"),
            Api(400, "invalid_input"),
        ),
        case(
            "history as of 1900",
            get("/api/v1/tickets/T-1/history?as_of=1900-01-01T00:00:00Z", "auditor"),
            Api(400, "invalid_input"),
        ),
        case(
            "history as of garbage",
            get("/api/v1/tickets/T-1/history?as_of=yesterday", "auditor"),
            Api(400, "invalid_input"),
        ),
        case(
            "rates from year 9999",
            get("/api/v1/metrics/rates?from=9999-01-01", "dispatcher"),
            Api(400, "invalid_input"),
        ),
        case("list page 0", get("/api/v1/tickets?page=0", "dispatcher"), Api(400, "invalid_input")),
        case("list page negative", get("/api/v1/tickets?page=-1", "dispatcher"), Api(400, "invalid_input")),
        case(
            "list per_page overflow",
            get("/api/v1/tickets?per_page=99999999999", "dispatcher"),
            Api(400, "invalid_input"),
        ),
        case("list status unknown", get("/api/v1/tickets?status=exploded", "dispatcher"), Api(400, "invalid_input")),
        case("list scope malformed", get("/api/v1/tickets?scope=999", "dispatcher"), Api(400, "bad_grid_code")),
        // Idempotency keys.
        case("key of 200 bytes", keyed(t, "dispatcher", &"k".repeat(200), order), Api(400, "invalid_input")),
        case("key with spaces", keyed(t, "dispatcher", "a key with spaces", order), Api(400, "invalid_input")),
        case(
            "key reused with another body",
            keyed(t, "dispatcher", "setup-order", &with("description", r#""another tap""#)),
            Api(422, "idempotency_key_reused"),
        ),
        case(
            "key reused for another action",
            keyed(&act("cancel"), "dispatcher", "setup-order", r#"{"reason":"x"}"#),
            Api(422, "idempotency_key_reused"),
        ),
        case(
            "emergency lift under a declaration's key",
            keyed(
                &format!("/api/v1/emergency/{SETUP_STREET}/lift"),
                "dispatcher",
                "setup-emergency",
                r#"{"reason":"calm"}"#,
            ),
            Api(422, "idempotency_key_reused"),
        ),
        // Open311: forms, JSON and XML errors.
        // GeoReport v2: a missing or invalid api_key is 403.
        case("open311 without api_key", form(o, &o_with("api_key={dispatcher}&", "")), Open311(403, Format::Json)),
        case("open311 forged api_key", form(o, &o_with("{dispatcher}", "forged")), Open311(403, Format::Json)),
        case("open311 auditor's api_key", form(o, &o_with("{dispatcher}", "{auditor}")), Open311(403, Format::Json)),
        case("open311 without service_code", form(o, &o_with("service_code=IC-003&", "")), Open311(400, Format::Json)),
        case("open311 unknown service_code", form(o, &o_with("IC-003", "IC-999")), Open311(404, Format::Json)),
        case(
            "open311 malformed address_id",
            form(o, &o_with("address_id={grid}", "address_id=44")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 lat not a number",
            form(o, &o_with("address_id={grid}", "lat=north&long=110.3")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 lat overflowing",
            form(o, &o_with("address_id={grid}", "lat=1e400&long=110.3")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 wrong jurisdiction",
            form(o, &(o_order.to_string() + "&jurisdiction_id=110101")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 description with control characters",
            form(o, &o_with("description=tap", "description=tap%07%1B")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 description with U+FFFF",
            form(o, &o_with("description=tap", "description=tap%EF%BF%BF")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 xml description with U+FFFE",
            form(ox, &o_with("description=tap", "description=tap%EF%BF%BE")),
            Open311(400, Format::Xml),
        ),
        case(
            "open311 description of zero-width spaces",
            form(o, &o_with("description=tap", "description=%E2%80%8B%E2%80%8B")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 form of invalid UTF-8",
            form(o, &o_with("description=tap", "description=%FF%FE")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 xml without service_code",
            form(ox, &o_with("service_code=IC-003&", "")),
            Open311(400, Format::Xml),
        ),
        case("open311 xml forged api_key", form(ox, &o_with("{dispatcher}", "forged")), Open311(403, Format::Xml)),
        case("open311 wrong method", Input::Http(http("PUT", o, None, "")), Open311(405, Format::Xml)),
        case("open311 unknown format", form("/open311/v2/requests.yaml", o_order), Open311(400, Format::Xml)),
        // Multi-byte characters where a byte-sliced parser would cut one:
        // each a 4xx in its door's shape, never a dropped connection.
        case(
            "open311 anonymous read, date offset of multi-byte characters",
            Input::Http(http("GET", "/open311/v2/requests.json?start_date=2026-11-23T08:00:00%2B%C3%A9:00", None, "")),
            Open311(400, Format::Json),
        ),
        case(
            "open311 anonymous read, multi-byte end_date in XML",
            Input::Http(http("GET", "/open311/v2/requests.xml?end_date=2026-11-23T08:00:0%E5%8D%81%2B08:00", None, "")),
            Open311(400, Format::Xml),
        ),
        case(
            "api history as_of of multi-byte characters",
            get("/api/v1/tickets/T-1/history?as_of=2026-11-23T08:00:00%2B08:%C3%A9", "auditor"),
            Api(400, "invalid_input"),
        ),
        // After-photos name stored photos by their hash.
        case(
            "resolve with a photo never stored",
            post(
                &act("resolve"),
                "dispatcher",
                format!(r#"{{"result":"x","minutes_spent":5,"photos":["{}"]}}"#, "ab".repeat(32)),
            ),
            Api(400, "invalid_input"),
        ),
        case(
            "resolve with a malformed photo hash",
            post(&act("resolve"), "dispatcher", r#"{"result":"x","minutes_spent":5,"photos":["../../etc/passwd"]}"#),
            Api(400, "invalid_input"),
        ),
        // Open311: updates' windows, keys on reads, multipart uploads.
        case(
            "open311 updates over 90 days",
            Input::Http(http(
                "GET",
                "/open311/v2/servicerequestupdates.json?start_date=2026-01-01T00:00:00Z&end_date=2026-11-23T00:00:00Z",
                None,
                "",
            )),
            Open311(400, Format::Json),
        ),
        case(
            "open311 xml updates ending before they start",
            Input::Http(http(
                "GET",
                "/open311/v2/servicerequestupdates.xml?start_date=2026-11-23T00:00:00Z&end_date=2026-11-22T00:00:00Z",
                None,
                "",
            )),
            Open311(400, Format::Xml),
        ),
        case(
            "open311 read with a forged api_key",
            Input::Http(http("GET", "/open311/v2/requests/T-1.json?api_key=forged", None, "")),
            Open311(403, Format::Json),
        ),
        case("open311 multipart with four photos", upload(o, &[MEDIA_PART; 4]), Open311(400, Format::Json)),
        case("open311 multipart cut off", upload_cut(o), Open311(400, Format::Json)),
        case("open311 multipart without api_key", upload_anonymous(o), Open311(403, Format::Json)),
    ]
    .into_iter()
    .chain(photo_cases())
    .chain(field_cases())
    .collect()
}

/// The grid worker's routes (`gw-1`, placed in `{grid}`): patrols and
/// problems found on patrol.
fn field_cases() -> Vec<Case> {
    use Expect::Api;
    let found = r#"{"category":"GP-001","grid":"{grid}","description":"楼道堆物"}"#;
    vec![
        case("patrol: an unknown action", post("/api/v1/patrols/jog", "grid_worker", "{}"), Api(404, "not_found")),
        case(
            "patrol: a malformed grid code",
            post("/api/v1/patrols/start", "grid_worker", r#"{"grid":"440802-x"}"#),
            Api(400, "bad_grid_code"),
        ),
        case(
            "patrol: outside the worker's place",
            post("/api/v1/patrols/start", "grid_worker", r#"{"grid":"440802-001-001-002"}"#),
            Api(403, "not_permitted"),
        ),
        case(
            "patrol: check in without a patrol",
            post("/api/v1/patrols/check-in", "grid_worker", r#"{"kind":"site","label":"路口"}"#),
            Api(409, "illegal_transition"),
        ),
        case(
            "patrol: a check-in of an unknown kind",
            post("/api/v1/patrols/check-in", "grid_worker", r#"{"kind":"shop","label":"路口"}"#),
            Api(400, "invalid_input"),
        ),
        case(
            "patrol: a volunteer",
            post("/api/v1/patrols/start", "volunteer", r#"{"grid":"{grid}"}"#),
            Api(403, "not_permitted"),
        ),
        case("found: by a resident", post("/api/v1/field/found", "resident", found), Api(403, "not_permitted")),
        case(
            "found: on the spot for 31 days",
            post(
                "/api/v1/field/found",
                "grid_worker",
                r#"{"category":"GP-001","grid":"{grid}","description":"x","result":"done","minutes_spent":44640}"#,
            ),
            Api(400, "invalid_input"),
        ),
        case(
            "found: an unknown field",
            post("/api/v1/field/found", "grid_worker", r#"{"category":"GP-001","description":"x","resident":"r-1"}"#),
            Api(400, "invalid_input"),
        ),
    ]
}

/// Photo uploads refused by their bytes (`gridloop-media`), whatever they
/// are called or claim to be.
fn photo_cases() -> Vec<Case> {
    use Expect::Api;
    let photo = |body: Vec<u8>, content_type: &'static str| {
        let mut request = http("POST", "/api/v1/photos", Some("resident"), body);
        request.content_type = content_type;
        Input::Http(request)
    };
    let jpeg: &[u8] = include_bytes!("../../../../fixtures/photos/gps.jpg");
    let mut oversized = jpeg.to_vec();
    oversized.resize(gridloop_engine::blob::BLOB_BYTES_MAX + 1, 0);
    let mut bomb = jpeg.to_vec();
    let frame = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a frame header");
    bomb[frame + 5..frame + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    vec![
        case(
            "photo: a text file sent as image/jpeg",
            photo(b"lift.jpg: the lift is broken again".to_vec(), "image/jpeg"),
            Api(400, "invalid_input"),
        ),
        case("photo: a GIF", photo(b"GIF89a\x01\x00\x01\x00".to_vec(), "image/gif"), Api(400, "invalid_input")),
        case(
            "photo: a JPEG cut short",
            photo(jpeg[..jpeg.len() / 2].to_vec(), "image/jpeg"),
            Api(400, "invalid_input"),
        ),
        case("photo: 65,535 × 65,535 pixels in its header", photo(bomb, "image/jpeg"), Api(400, "invalid_input")),
        case("photo: one byte past 5 MB", photo(oversized, "image/jpeg"), Api(413, "too_large")),
        case(
            "photo: no token",
            Input::Http(http("POST", "/api/v1/photos", None, jpeg.to_vec())),
            Api(401, "unauthorized"),
        ),
        case("photo: an auditor's upload", post("/api/v1/photos", "auditor", jpeg.to_vec()), Api(403, "not_permitted")),
    ]
}

/// The boundary of the multipart bodies below.
const BOUNDARY: &str = "bad-input-boundary";
/// A `media` part whose bytes are no photo (the refusals come first).
const MEDIA_PART: &str =
    "--bad-input-boundary\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\r\nnot a photo\r\n";

/// An Open311 multipart order with a dispatcher's key and `parts` after its fields.
fn upload(path: &str, parts: &[&str]) -> Input {
    let field = |name: &str, value: &str| {
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let fields: String = [
        ("api_key", "{dispatcher}"),
        ("service_code", "IC-003"),
        ("address_id", GRID_PLACEHOLDER),
        ("account_id", "r-1"),
    ]
    .iter()
    .map(|(name, value)| field(name, value))
    .collect();
    let body = format!("{fields}{}--{BOUNDARY}--\r\n", parts.concat());
    let mut request = http("POST", path, None, body);
    request.content_type = "multipart/form-data; boundary=bad-input-boundary";
    Input::Http(request)
}

/// [`upload`] with its body cut off inside a part.
fn upload_cut(path: &str) -> Input {
    let Input::Http(mut request) = upload(path, &[MEDIA_PART]) else { unreachable!("an HTTP input") };
    request.body.truncate(request.body.len() - 30);
    Input::Http(request)
}

/// [`upload`] without its `api_key` part.
fn upload_anonymous(path: &str) -> Input {
    let Input::Http(mut request) = upload(path, &[MEDIA_PART]) else { unreachable!("an HTTP input") };
    let text = String::from_utf8_lossy(&request.body).replace("name=\"api_key\"", "name=\"note\"");
    request.body = text.into_bytes();
    Input::Http(request)
}

/// Chat messages from a linked volunteer (V of the fixture's first one).
fn chat_cases() -> Vec<Case> {
    use Expect::Chat;
    vec![
        case("chat: empty message", Input::Chat(""), Chat("help")),
        case("chat: only whitespace", Input::Chat(" \t\n "), Chat("help")),
        case("chat: accept without a ticket", Input::Chat("接单"), Chat("help")),
        case("chat: accept a malformed ticket", Input::Chat("accept T-abc"), Chat("help")),
        case("chat: accept an overflowing ticket", Input::Chat("accept T-99999999999999999999999"), Chat("help")),
        case("chat: accept a ticket that does not exist", Input::Chat("accept T-424242"), Chat("not_found")),
        case("chat: accept a ticket not offered", Input::Chat("接单 T-1"), Chat("illegal_transition")),
        case("chat: done with negative minutes", Input::Chat("done T-1 -5 fixed"), Chat("help")),
        case("chat: done with overflowing minutes", Input::Chat("done T-1 99999999999 fixed"), Chat("help")),
        case("chat: control characters", Input::Chat("accept\u{0} T-1\u{7}"), Chat("help")),
        case("chat: right-to-left override", Input::Chat("\u{202e}1-T tpecca"), Chat("help")),
        case(
            "chat: message of 100,000 characters",
            Input::Chat(Box::leak("接单 T-1 ".repeat(10_000).into_boxed_str())),
            Chat("help"),
        ),
        case("chat: link code of 5 digits", Input::Chat("绑定 12345"), Chat("help")),
        case("chat: a SQL injection", Input::Chat("accept T-1'; DROP TABLE tickets; --"), Chat("help")),
    ]
}

/// NDJSON files that `gridloop import` must refuse whole. `good` is a
/// valid export; the cases are made from it.
fn import_cases(good: &str) -> Vec<Case> {
    use Expect::Exit;
    let lines: Vec<&str> = good.lines().collect();
    let first: Value = serde_json::from_str(lines[0]).expect("json");
    let edit = |line: usize, field: &str, value: Value| -> Vec<u8> {
        let mut all: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut v: Value = serde_json::from_str(lines[line]).expect("json");
        v[field] = value;
        all[line] = v.to_string();
        (all.join("\n") + "\n").into_bytes()
    };
    let joined = |extra: &str| (good.to_string() + extra).into_bytes();
    let mut huge = first.clone();
    huge["payload"]["description"] = Value::String("x".repeat(70_000));
    vec![
        case("import: a line that is not JSON", Input::Import(joined("not json\n")), Exit(1, "line")),
        case("import: a line cut off", Input::Import(joined(&lines[0][..lines[0].len() / 2])), Exit(1, "line")),
        case("import: invalid UTF-8", Input::Import([good.as_bytes(), b"{\"\xff\"}\n"].concat()), Exit(1, "")),
        case("import: a JSON array", Input::Import(b"[1,2,3]\n".to_vec()), Exit(1, "line 1")),
        case(
            "import: a tampered payload",
            Input::Import(edit(0, "payload", serde_json::json!({"evil": true}))),
            Exit(1, ""),
        ),
        case("import: a tampered hash", Input::Import(edit(0, "hash", Value::String("0".repeat(64)))), Exit(1, "")),
        case("import: a version gap", Input::Import(edit(1, "version", Value::from(9))), Exit(1, "")),
        case("import: a negative position", Input::Import(edit(0, "position", Value::from(-1))), Exit(1, "line 1")),
        case(
            "import: an overflowing position",
            Input::Import(edit(0, "position", serde_json::from_str("18446744073709551616").expect("n"))),
            Exit(1, "line 1"),
        ),
        case(
            "import: a time in 2300",
            Input::Import(edit(0, "occurred_at", Value::from("2300-01-01T00:00:00.000Z"))),
            Exit(1, "line 1"),
        ),
        case(
            "import: a time in 1900",
            Input::Import(edit(0, "occurred_at", Value::from("1900-01-01T00:00:00.000Z"))),
            Exit(1, "line 1"),
        ),
        case(
            "import: an unknown schema",
            Input::Import(edit(0, "schema", Value::from("ticket.exploded/1"))),
            Exit(1, ""),
        ),
        case("import: a payload over 64 KiB", Input::Import((huge.to_string() + "\n").into_bytes()), Exit(1, "")),
        case("import: the same event twice", Input::Import(joined(&(lines[0].to_string() + "\n"))), Exit(1, "")),
    ]
}

/// CLI flags the binary must refuse (usage errors exit 2, others 1).
fn cli_cases(data: &str, file: &str) -> Vec<Case> {
    use Expect::Exit;
    let invalid_utf8 = {
        use std::os::unix::ffi::OsStringExt as _;
        std::ffi::OsString::from_vec(b"T-\xff".to_vec())
    };
    vec![
        case("cli: demo --days 0", cli(&["demo", "--days", "0", "--data", data]), Exit(2, "--days")),
        case("cli: demo --days 367", cli(&["demo", "--days", "367", "--data", data]), Exit(2, "--days")),
        case("cli: demo --days -1", cli(&["demo", "--days", "-1", "--data", data]), Exit(2, "")),
        case(
            "cli: demo --seed overflow",
            cli(&["demo", "--seed", "18446744073709551616", "--data", data]),
            Exit(2, "--seed"),
        ),
        case(
            "cli: demo on a store with events",
            cli(&["demo", "--days", "1", "--data", data]),
            Exit(1, "already holds"),
        ),
        case("cli: metrics --by nonsense", cli(&["metrics", "--by", "nonsense", "--data", data]), Exit(1, "")),
        case("cli: metrics --from far future", cli(&["metrics", "--from", "2300-01-01", "--data", data]), Exit(1, "")),
        case("cli: audit a malformed ticket", cli(&["audit", "T-abc", "--data", data]), Exit(1, "not a ticket id")),
        case(
            "cli: audit --as-of garbage",
            cli(&["audit", "T-1", "--as-of", "soon", "--data", data]),
            Exit(1, "--as-of"),
        ),
        case(
            "cli: audit a ticket of invalid UTF-8",
            Input::Cli(vec!["audit".into(), invalid_utf8, "--data".into(), data.into()]),
            Exit(2, "UTF-8"),
        ),
        case(
            "cli: token for the system role",
            cli(&["token", "create", "--role", "system", "--subject", "x", "--data", data]),
            Exit(1, "--role"),
        ),
        case(
            "cli: token with an empty subject",
            cli(&["token", "create", "--role", "resident", "--subject", "", "--data", data]),
            Exit(1, ""),
        ),
        case(
            "cli: token with a malformed place",
            cli(&["token", "create", "--role", "dispatcher", "--subject", "d-1", "--place", "44", "--data", data]),
            Exit(1, "--place"),
        ),
        case(
            "cli: token for a place not in the district",
            cli(&[
                "token",
                "create",
                "--role",
                "grid_worker",
                "--subject",
                "gw-9",
                "--place",
                "440802-099",
                "--data",
                data,
            ]),
            Exit(1, "not in the district"),
        ),
        case(
            "cli: token for a department not in the catalog",
            cli(&["token", "create", "--role", "department", "--subject", "ministry", "--data", data]),
            Exit(1, "not a department"),
        ),
        case(
            "cli: serve on a bad address",
            cli(&["serve", "--listen", "nowhere", "--data", data]),
            Exit(2, "--listen"),
        ),
        case("cli: export --from negative", cli(&["export", "--from", "-1", "--data", data]), Exit(2, "")),
        case("cli: import into a store with events", cli(&["import", file, "--data", data]), Exit(1, "already holds")),
        case(
            "cli: resident erase a malformed id",
            cli(&["resident", "erase", "r 1", "--data", data]),
            Exit(1, "not a resident id"),
        ),
        case("cli: unknown subcommand", cli(&["explode"]), Exit(2, "explode")),
        case("cli: bench --only an unknown scenario", cli(&["bench", "--only", "warp"]), Exit(2, "warp")),
        case("cli: bench --rebuild-events 0", cli(&["bench", "--rebuild-events", "0"]), Exit(1, "--rebuild-events")),
        case(
            "cli: bench --rebuild-events over the limit",
            cli(&["bench", "--rebuild-events", "20000001"]),
            Exit(1, "--rebuild-events"),
        ),
    ]
}

#[test]
fn every_bad_input_is_refused_with_its_code_and_writes_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let store = MemoryStore::new();
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")));
    let service = Arc::new(CommandService::new(store.clone(), district.world.clone(), clock.clone(), 3));
    let grids = &district.world.grids;
    let grid = grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let other_street =
        grids.at_level(Level::Street).map(|n| n.code.clone()).find(|s| !grid.is_within(s)).expect("street");
    let mut table = TokenTable::new();
    let mut tokens: HashMap<&'static str, String> = HashMap::new();
    let callers: [(&'static str, Role, &str, Option<GridCode>); 8] = [
        ("grid_worker", Role::GridWorker, "gw-1", Some(grid.clone())),
        ("resident", Role::Resident, "r-1", None),
        ("volunteer", Role::Volunteer, "V-1", None),
        ("dispatcher", Role::Dispatcher, "d-440802", None),
        ("far_dispatcher", Role::Dispatcher, "d-far", Some(other_street)),
        ("auditor", Role::Auditor, "a-1", None),
        ("department", Role::Department, "civil_affairs", None),
        ("admin", Role::Admin, "admin-1", None),
    ];
    for (name, role, subject, place) in callers {
        let (token, entry) = TokenTable::issue(role, subject, place).expect("issued");
        table.insert(entry).expect("inserted");
        tokens.insert(name, token);
    }
    tokens.insert("forged", "0".repeat(64));
    tokens.insert("long", "x".repeat(10_000));
    let (addr, bot) = runtime.block_on(async {
        let blobs = Arc::new(gridloop_engine::blob::MemoryBlobs::new());
        let state = AppState::new(service.clone(), table, gridloop_http::Cold::default())
            .await
            .expect("state")
            .with_blobs(blobs);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let options = gridloop_http::server::Options::default();
        tokio::spawn(gridloop_http::serve(listener, router(state), options, std::future::pending()));
        (addr, Bot::new(service.clone()))
    });
    // What the cases act on: ticket T-1 (ordered with the key "setup-order"),
    // and volunteer V-1 registered and linked to a chat account.
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}}"#);
    let setup = keyed("/api/v1/tickets", "dispatcher", "setup-order", &order);
    let Input::Http(setup) = setup else { unreachable!() };
    let (status, body) = send(&addr, &setup, &tokens);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    setup_references(&addr, &tokens, &order);
    let account = "@v1:matrix.example";
    runtime.block_on(link_volunteer(&service, &bot, &district, account));
    runtime.block_on(stand_down_v2(&service, &district));

    let mut failures = Vec::new();
    let mut checked = 0;
    let log_len = || store.snapshot().len();
    let grid_text = grid.to_string();
    let elsewhere = point_elsewhere(grids, &grid);
    for case in http_cases().into_iter().chain(chat_cases()) {
        let before = log_len();
        // Each request a minute later: the rate limit never refuses first.
        clock.advance(Millis::minutes(1));
        let outcome = match case.input {
            Input::Http(mut request) => {
                request.path = request.path.replace(GRID_PLACEHOLDER, &grid_text);
                let body = String::from_utf8_lossy(&request.body).into_owned();
                let placeholders = [GRID_PLACEHOLDER, ELSEWHERE_PLACEHOLDER, "{dispatcher}", "{auditor}"];
                if placeholders.iter().any(|p| body.contains(p)) {
                    let body = body
                        .replace(ELSEWHERE_PLACEHOLDER, &elsewhere)
                        .replace(GRID_PLACEHOLDER, &grid_text)
                        .replace("{dispatcher}", &tokens["dispatcher"])
                        .replace("{auditor}", &tokens["auditor"]);
                    request.body = body.into_bytes();
                }
                let (status, body) = send(&addr, &request, &tokens);
                judge(&case.expect, status, &body)
            }
            Input::Chat(text) => {
                let message_id = format!("$bad-{checked}");
                let reply = runtime.block_on(bot.handle(account, &message_id, text));
                match case.expect {
                    Expect::Chat(code) if reply.code == code => Ok(()),
                    Expect::Chat(code) => Err(format!("expected chat {code}, got {} ({})", reply.code, reply.text)),
                    _ => Err("not a chat expectation".into()),
                }
            }
            _ => unreachable!("HTTP and chat only here"),
        };
        checked += 1;
        let after = log_len();
        let outcome = outcome.and_then(|()| match after == before {
            true => Ok(()),
            false => Err(format!("the log grew from {before} to {after} events")),
        });
        if let Err(why) = outcome {
            failures.push(format!("{}: {why}", case.name));
        }
    }

    // Not one of the refused orders took a ticket number: the next is T-3.
    let Input::Http(next) = keyed("/api/v1/tickets", "dispatcher", "next-order", &order) else { unreachable!() };
    let (status, body) = send(&addr, &next, &tokens);
    let id = serde_json::from_slice::<Value>(&body).map(|v| v["id"].clone()).unwrap_or_default();
    assert_eq!((status, id.as_str()), (201, Some("T-3")), "refused orders leave no gap in the numbers");

    // The binary's doors: an export of the log so far to import (and break).
    let dir = tempfile::tempdir().expect("tempdir");
    let good: String = store.snapshot().iter().map(|e| serde_json::to_string(e).expect("json") + "\n").collect();
    let good_file = dir.path().join("good.ndjson");
    std::fs::write(&good_file, &good).expect("write");
    let data = dir.path().join("data");
    let imported = gridloop(&["import", good_file.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")]);
    assert!(imported.status.success(), "the good export imports: {}", stderr(&imported));
    let events_in = |data: &Path| {
        let out = gridloop(&["export", "--data", data.to_str().expect("utf-8")]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let stored = events_in(&data);
    for (n, case) in import_cases(&good).into_iter().enumerate() {
        let Input::Import(bytes) = &case.input else { unreachable!() };
        let file = dir.path().join(format!("bad-{n}.ndjson"));
        std::fs::write(&file, bytes).expect("write");
        let target = dir.path().join(format!("import-{n}"));
        let out = gridloop(&["import", file.to_str().expect("utf-8"), "--data", target.to_str().expect("utf-8")]);
        checked += 1;
        let wrote = target.exists() && events_in(&target) > 0;
        if let Err(why) = exited(&case.expect, &out, wrote) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    let tokens_file = data.join("tokens.json");
    for case in cli_cases(data.to_str().expect("utf-8"), good_file.to_str().expect("utf-8")) {
        let Input::Cli(args) = &case.input else { unreachable!() };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridloop")).args(args).output().expect("runs");
        checked += 1;
        let wrote = events_in(&data) != stored || tokens_file.exists();
        if let Err(why) = exited(&case.expect, &out, wrote) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} bad inputs were not refused as documented:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 60, "the catalogue holds at least 60 inputs ({checked})");
    println!("bad-input catalogue: {checked} inputs refused with their codes, nothing written");
}

/// What the reference and idempotency cases act on besides T-1: T-2, a
/// duplicate of T-1, and emergency mode declared on [`SETUP_STREET`] under
/// the key `setup-emergency`.
fn setup_references(addr: &str, tokens: &HashMap<&'static str, String>, order: &str) {
    let declare = format!("/api/v1/emergency/{SETUP_STREET}/declare");
    let steps = [
        ("/api/v1/tickets", "setup-order-2", order, 201),
        ("/api/v1/tickets/T-2/mark-duplicate", "setup-duplicate", r#"{"of":"T-1"}"#, 200),
        (declare.as_str(), "setup-emergency", r#"{"reason":"calm"}"#, 200),
    ];
    for (path, key, body, want) in steps {
        let Input::Http(request) = keyed(path, "dispatcher", key, body) else { unreachable!() };
        let (status, answer) = send(addr, &request, tokens);
        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&answer));
    }
}

/// A point of the district outside `grid`, as the JSON of a location: the
/// middle of another grid's bounding box that locates outside `grid`.
fn point_elsewhere(grids: &gridloop_engine::grid::GridTree, grid: &GridCode) -> String {
    let point = grids
        .at_level(Level::Grid)
        .filter(|n| &n.code != grid)
        .map(|n| {
            let lon = n.boundary.iter().map(|p| i64::from(p.lon)).sum::<i64>() / n.boundary.len() as i64;
            let lat = n.boundary.iter().map(|p| i64::from(p.lat)).sum::<i64>() / n.boundary.len() as i64;
            gridloop_engine::grid::GeoPoint { lon: lon as i32, lat: lat as i32 }
        })
        .find(|p| grids.locate(*p).is_some_and(|at| !at.is_within(grid)))
        .expect("a point in another grid");
    format!(r#"{{"lon":{},"lat":{}}}"#, point.lon, point.lat)
}

/// Whether a run of the binary failed as expected and wrote nothing.
fn exited(expect: &Expect, out: &std::process::Output, wrote: bool) -> Result<(), String> {
    let Expect::Exit(code, fragment) = *expect else { return Err("not an exit expectation".into()) };
    let err = stderr(out);
    if out.status.code() != Some(code) || !err.contains(fragment) {
        return Err(format!("expected exit {code} mentioning {fragment:?}, got {:?}: {err}", out.status.code()));
    }
    match wrote {
        true => Err("it wrote to the store".into()),
        false => Ok(()),
    }
}

/// Registers the fixture's second volunteer as V-2 and stands them down.
async fn stand_down_v2(service: &Arc<CommandService<MemoryStore>>, district: &gridloop_fixtures::District) {
    let profile = &district.volunteers[1];
    let dispatcher = Actor::new(Role::Dispatcher, "d-440802").expect("valid");
    let commands = [
        VolunteerCommand::Register {
            team: profile.team.clone(),
            home_grid: profile.home_grid.clone(),
            skills: profile.skills.clone(),
            open_orders_max: profile.open_orders_max,
        },
        VolunteerCommand::Deactivate { reason: "away for a month".into() },
    ];
    for (n, command) in commands.into_iter().enumerate() {
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("setup-volunteer-2-{n}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher.clone(),
            command: Command::Volunteer { id: gridloop_engine::ids::VolunteerId::from_number(2), command },
            expected_version: None,
        };
        service.execute(envelope).await.expect("set up");
    }
}

/// Registers the fixture's first volunteer as V-1's profile and links it to
/// `account` through the bot, as a dispatcher and a volunteer would.
async fn link_volunteer(
    service: &Arc<CommandService<MemoryStore>>,
    bot: &Bot<MemoryStore>,
    district: &gridloop_fixtures::District,
    account: &str,
) {
    let profile = &district.volunteers[0];
    let dispatcher = Actor::new(Role::Dispatcher, "d-440802").expect("valid");
    let id = gridloop_engine::ids::VolunteerId::new("V-1").expect("valid");
    let commands = [
        VolunteerCommand::Register {
            team: profile.team.clone(),
            home_grid: profile.home_grid.clone(),
            skills: profile.skills.clone(),
            open_orders_max: profile.open_orders_max,
        },
        VolunteerCommand::IssueLinkCode { code_hash: link_code_hash("123456") },
    ];
    for (n, command) in commands.into_iter().enumerate() {
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("setup-volunteer-{n}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher.clone(),
            command: Command::Volunteer { id: id.clone(), command },
            expected_version: None,
        };
        service.execute(envelope).await.expect("set up");
    }
    let reply = bot.handle(account, "$link", "绑定 123456").await;
    assert_eq!(reply.code, "linked", "{}", reply.text);
}
