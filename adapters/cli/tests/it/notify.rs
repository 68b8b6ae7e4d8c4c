//! `gridloop serve --webhook`: the notifier runs with the server, tells a
//! resolved ticket's resident through the signed webhook, and shows the
//! channel on `/metrics`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use gridloop_engine::grid::Level;

use crate::serve::{request, start_with};
use crate::support::with_chikan;

const SECRET: &str = "a-serve-test-secret-0123456789";

/// A webhook receiver on a thread: each request's signature check and JSON
/// body go to the channel; every call is answered 200.
fn receiver() -> (String, mpsc::Receiver<(bool, serde_json::Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clones"));
            let (mut length, mut timestamp, mut signature) = (0, String::new(), String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or(("", ""));
                let value = value.trim().to_string();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "x-gridloop-timestamp" => timestamp = value,
                    "x-gridloop-signature" => signature = value,
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("reads the body");
            let signed = gridloop_notify::webhook::verify(SECRET.as_bytes(), &timestamp, &body, &signature);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send((signed, serde_json::from_slice(&body).unwrap_or_default()));
        }
    });
    (url, rx)
}

#[test]
fn serve_tells_a_resolved_ticket_through_the_signed_webhook() {
    // Given a server with a webhook,
    let dir = tempfile::tempdir().expect("tempdir");
    with_chikan(dir.path(), None);
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("writes the secret");
    let (url, calls) = receiver();
    let secret = secret_file.to_str().expect("UTF-8");
    let (_server, addr, tokens) = start_with(dir.path(), &["--webhook", &url, "--webhook-secret-file", secret]);
    let token = tokens.get("dispatcher").expect("a dispatcher token");

    // when a ticket is assigned and resolved,
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let order = format!(r#"{{"category":"IC-003","grid":"{grid}","description":"a leaking tap","resident":"r-1"}}"#);
    let (status, body) = request(&addr, "POST", "/api/v1/tickets", Some(token), &order);
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"].as_str().expect("an id").to_string();
    for (action, body) in [
        ("assign", r#"{"to":{"kind":"volunteer","id":"V-1"},"reason":"nearest"}"#),
        ("resolve", r#"{"result":"换了新龙头","minutes_spent":30}"#),
    ] {
        let (status, answer) = request(&addr, "POST", &format!("/api/v1/tickets/{id}/{action}"), Some(token), body);
        assert_eq!(status, 200, "{action}: {answer}");
    }

    // then the receiver gets the taking and the result, signed,
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(calls.recv_timeout(Duration::from_secs(20)).expect("a webhook call"));
    }
    assert!(got.iter().all(|(signed, _)| *signed), "{got:?}");
    let mut kinds: Vec<&str> = got.iter().map(|(_, body)| body["kind"].as_str().unwrap_or("")).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["accepted", "resolved"]);
    let resolved = &got.iter().find(|(_, body)| body["kind"] == "resolved").expect("the result").1;
    assert!(resolved["text"].as_str().unwrap_or("").contains("换了新龙头"), "{resolved}");
    assert_eq!(resolved["ticket"], id.as_str());
    // and /metrics counts them.
    let (_, metrics) = request(&addr, "GET", "/metrics", None, "");
    assert!(metrics.lines().any(|l| l == "gridloop_notify_sent_total{channel=\"webhook\"} 2"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "gridloop_notify_pending{channel=\"webhook\"} 0"), "{metrics}");
}
