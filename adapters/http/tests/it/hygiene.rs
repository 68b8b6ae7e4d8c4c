//! HTTP hygiene: what a hostile or careless client meets before any rule
//! of the engine. A request head sent a byte at a time is cut off; every
//! refusal of the router itself (wrong method, unknown path, a body over
//! the route's own limit) is in the JSON error shape; the Bearer scheme is
//! read whatever its case; the token file is its owner's only; and a
//! revoked token's event stream ends.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt as _;
use gridloop_http::TokenTable;
use gridloop_http::server::Options;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::{code, harness};

/// The router of a harness on a real socket, with a short head timeout.
async fn listening(timeout: Duration) -> std::net::SocketAddr {
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let options = Options { header_read_timeout: timeout };
    tokio::spawn(gridloop_http::serve(listener, h.router.clone(), options, std::future::pending()));
    addr
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_off() {
    let timeout = Duration::from_millis(400);
    let addr = listening(timeout).await;
    // A whole request at once is answered, on the same server.
    let mut prompt = tokio::net::TcpStream::connect(addr).await.expect("connects");
    prompt.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("sent");
    let mut answer = String::new();
    prompt.read_to_string(&mut answer).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // 20 bytes a second: this head would take more than 10 s to arrive.
    let head = format!("GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: {}\r\n\r\n", "a".repeat(200));
    let (mut reader, mut writer) = tokio::net::TcpStream::connect(addr).await.expect("connects").into_split();
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    });
    let mut buffer = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buffer)).await;
    let elapsed = started.elapsed();
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the server closed the connection: {closed:?}");
    assert!(elapsed >= timeout && elapsed < timeout * 4, "closed after {elapsed:?}, the timeout being {timeout:?}");
    dribble.abort();
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_and_an_unknown_path_a_json_404() {
    let h = harness().await;
    for (method, path) in [("DELETE", "/api/v1/tickets"), ("PUT", "/api/v1/catalog"), ("POST", "/healthz")] {
        let request = Request::builder().method(method).uri(path).body(Body::empty()).expect("a request");
        let response = h.router.clone().oneshot(request).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(response.headers().contains_key("allow"), "{method} {path} names the methods it takes");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
        let body: Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(code(&body), "method_not_allowed", "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(method)), "{body}");
    }
    let (status, body) = h.send("GET", "/api/v1/no-such-thing", Some("auditor"), None, "").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    // Open311 answers a wrong method in its own error list.
    let request = Request::delete("/open311/v2/services.json").body(Body::empty()).expect("a request");
    let response = h.router.clone().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
    assert!(String::from_utf8_lossy(&body).contains("<code>405</code>"), "{body:?}");
}

#[tokio::test]
async fn a_413_names_the_limit_of_its_own_route() {
    let h = harness().await;
    let street = h.grid.at_level(gridloop_engine::grid::Level::Street).expect("a street");
    let switch = format!("/api/v1/emergency/{street}/declare");
    let body = |kib: usize| format!(r#"{{"reason":"{}"}}"#, "x".repeat(kib * 1024));
    let cases = [
        // Past the switch's own limit, within the router's: the switch's.
        (switch.as_str(), "dispatcher", 20, "16384 bytes (16 KiB)"),
        // Past both: still the route's own.
        (switch.as_str(), "dispatcher", 80, "16384 bytes (16 KiB)"),
        ("/api/v1/tickets", "resident", 80, "65536 bytes (64 KiB)"),
        ("/api/v1/tokens", "admin", 80, "65536 bytes (64 KiB)"),
    ];
    for (path, who, kib, limit) in cases {
        let before = h.store.snapshot().len();
        let (status, answer) = h.post(path, who, &body(kib)).await;
        assert_eq!((status, code(&answer)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"), "{path}: {answer}");
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(message.contains(limit), "{path} names its limit {limit}: {message}");
        assert_eq!(h.store.snapshot().len(), before, "nothing written");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let h = harness().await;
    let token = h.token("auditor");
    for header in [format!("Bearer {token}"), format!("bearer {token}"), format!("BEARER  {token} ")] {
        let request = Request::get("/api/v1/catalog").header("authorization", &header).body(Body::empty());
        let response = h.router.clone().oneshot(request.expect("a request")).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{header:?}");
    }
    for header in [format!("Basic {token}"), format!("Bearer{token}"), "Bearer ".to_string(), token.to_string()] {
        let request = Request::get("/api/v1/catalog").header("authorization", &header).body(Body::empty());
        let response = h.router.clone().oneshot(request.expect("a request")).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
    }
}

#[cfg(unix)]
#[test]
fn the_token_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("gridloop-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join("tokens.json");
    let mut table = TokenTable::new();
    let (_, entry) = TokenTable::issue(gridloop_engine::envelope::Role::Auditor, "a-1", None).expect("issued");
    table.insert(entry).expect("inserted");
    // A file left readable by everyone, by an older version or by hand.
    std::fs::write(&path, "[]").expect("written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(path.with_extension("json.tmp"), "").expect("a leftover temporary file");
    std::fs::set_permissions(path.with_extension("json.tmp"), std::fs::Permissions::from_mode(0o666)).expect("chmod");
    table.save(&path).expect("saved");
    let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    assert_eq!(TokenTable::load(&path).expect("read back").len(), 1);
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[tokio::test]
async fn revoking_a_token_ends_its_event_streams() {
    let h = harness().await;
    let (status, issued) = h.post("/api/v1/tokens", "admin", r#"{"role":"auditor","subject":"a-watch"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let (token, id) = (issued["token"].as_str().expect("a token"), issued["id"].as_str().expect("an id"));
    let open = |token: String| {
        let request = Request::get("/console/stream").header("authorization", format!("Bearer {token}"));
        h.router.clone().oneshot(request.body(Body::empty()).expect("a request"))
    };
    let mut revoked = open(token.to_string()).await.expect("an answer").into_body().into_data_stream();
    let mut kept = open(h.token("auditor").to_string()).await.expect("an answer").into_body().into_data_stream();
    for stream in [&mut revoked, &mut kept] {
        let hello = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("a first message");
        assert!(String::from_utf8_lossy(&hello.expect("open").expect("a chunk")).contains("event: hello"));
    }
    let (status, answer) = h.send("DELETE", &format!("/api/v1/tokens/{id}"), Some("admin"), None, "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ended = tokio::time::timeout(Duration::from_secs(2), revoked.next()).await;
    assert!(matches!(ended, Ok(None)), "the revoked token's stream ended: {ended:?}");
    // Another token's stream goes on, and still carries what happens.
    h.order(crate::VOLUNTEER_ITEM).await;
    let next = tokio::time::timeout(Duration::from_secs(5), kept.next()).await.expect("the other stream is open");
    assert!(String::from_utf8_lossy(&next.expect("open").expect("a chunk")).contains("event: ticket"));
    assert_eq!(open(token.to_string()).await.expect("an answer").status(), StatusCode::UNAUTHORIZED);
}
