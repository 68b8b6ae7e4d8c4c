//! A resident's whole journey through the door, in a real browser at phone
//! width (390×844), against `gridloop serve` (the binary) with a real SMTP
//! server (aiosmtpd) and a webhook receiver that checks each signature.
//!
//! The resident opens a grid's QR URL, orders with a photo that carries GPS
//! metadata, and keeps their personal link; a dispatcher and a volunteer act
//! through the API; the server restarts in the middle; the volunteer
//! resolves with an after-photo; the resident sees the result and the
//! photo, says "unsatisfied", and the ticket reopens. The mail and the
//! webhook each bring "taken" and "resolved" exactly once, across the
//! restart. With `GRIDLOOP_BLESS_SCREENSHOTS=1` the pages' screenshots are
//! copied to `docs/screenshots/` for the README.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, Killed, http, screenshots_dir, tool, until, workspace};
use crate::smtp::{Smtp, free_port};
use crate::support::{gridloop, stderr, stdout};

/// The grid whose QR code the resident scans.
const GRID: &str = "440802-001-001-001";
/// An admitted item handled by volunteers: a home visit.
const ITEM: &str = "CS-001";
/// The webhook's shared secret.
const SECRET: &[u8] = b"the-city-sms-gateway-shared-secret";

/// One request the webhook receiver got: its idempotency key and body.
#[derive(Clone, Debug)]
struct Hook {
    body: Value,
}

/// A webhook receiver on loopback: answers 200 to every POST whose
/// signature verifies, and keeps its body; a bad signature fails the test.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<Hook>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some((headers, body)) = read_request(&mut stream) else { continue };
            let header =
                |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
            let timestamp = header(gridloop_notify::webhook::TIMESTAMP_HEADER).unwrap_or_default();
            let signature = header(gridloop_notify::webhook::SIGNATURE_HEADER).unwrap_or_default();
            let signed = gridloop_notify::webhook::verify(SECRET, &timestamp, &body, &signature);
            let status = if signed { "200 OK" } else { "401 Unauthorized" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
            assert!(signed, "a webhook whose signature does not verify: {}", String::from_utf8_lossy(&body));
            let body = serde_json::from_slice(&body).expect("the webhook's body is JSON");
            kept.lock().expect("lock").push(Hook { body });
        }
    });
    (url, received)
}

/// The head (as name/value pairs) and body of one HTTP/1.1 request.
fn read_request(stream: &mut std::net::TcpStream) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?.1.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// `gridloop serve` on a fixed port (so the resident's browser keeps its
/// origin, and their link, across the restart), with both channels.
fn serve(data: &str, port: u16, smtp: &str, hook: &str, secret: &Path) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data", data])
        .args(["--smtp", smtp, "--mail-from", "网格通 <noreply@gridloop.test>"])
        .args(["--webhook", hook, "--webhook-secret-file"])
        .arg(secret)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Killed(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    loop {
        let line = lines.next().expect("serve prints its address").expect("a line");
        if line.starts_with("listening on http://") {
            break;
        }
    }
    // Keep reading its output, so that serve never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    server
}

/// Stops serve as an operator does (Ctrl-C) and waits for it to finish.
fn stop(mut server: Killed) {
    let pid = server.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
    assert!(sent.success(), "SIGINT to serve");
    let status = server.0.wait().expect("serve ends");
    assert!(status.success(), "serve stops cleanly on Ctrl-C: {status}");
}

fn token(args: &[&str]) -> String {
    let out = gridloop(args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
}

/// A ticket action through the API, as `auth`; the answer's JSON.
fn act(addr: &str, auth: &str, id: &str, action: &str, body: Value) -> Value {
    let headers = [("Authorization", auth), ("Idempotency-Key", &format!("{id}-{action}"))];
    let (status, answer) = http(addr, "POST", &format!("/api/v1/tickets/{id}/{action}"), &headers, &body.to_string());
    assert_eq!(status, 200, "{action}: {answer}");
    serde_json::from_str(&answer).expect("json")
}

/// A photo uploaded through the API, as `auth`; its hash.
fn upload(addr: &str, auth: &str, photo: &Path) -> String {
    let bytes = std::fs::read(photo).expect("the photo");
    let (status, answer) =
        crate::browser::http_bytes(addr, "POST", "/api/v1/photos", &[("Authorization", auth)], &bytes);
    assert_eq!(status, 201, "upload: {answer}");
    serde_json::from_str::<Value>(&answer).expect("json")["hash"].as_str().expect("a hash").to_string()
}

fn photo(name: &str) -> PathBuf {
    workspace().join("fixtures/photos").join(name).canonicalize().expect("the fixture photo")
}

/// What each channel brought about `ticket`: the kinds, in order.
fn kinds_mailed(smtp: &Smtp, ticket: &str) -> Vec<String> {
    let subjects = smtp.mails().into_iter().map(|m| m["subject"].as_str().unwrap_or("").to_string());
    subjects
        .filter(|s| s.contains(ticket))
        .map(|s| {
            if s.contains("已受理") {
                "accepted"
            } else if s.contains("已办结") {
                "resolved"
            } else {
                "other"
            }
            .into()
        })
        .collect()
}

fn kinds_hooked(hooks: &Mutex<Vec<Hook>>, ticket: &str) -> Vec<String> {
    let hooks = hooks.lock().expect("lock");
    hooks
        .iter()
        .filter(|h| h.body["ticket"] == ticket)
        .map(|h| h.body["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_resident_orders_by_qr_code_and_is_told_the_result_once_across_a_restart() {
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let smtp = Smtp::start();
    let (hook, hooks) = webhook_receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("webhook.secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "5", "--seed", "3", "--data", data]);
    assert!(demo.status.success(), "demo: {}", stderr(&demo));
    let dispatcher =
        format!("Bearer {}", token(&["token", "create", "--role", "dispatcher", "--subject", "d-1", "--data", data]));
    let volunteer =
        format!("Bearer {}", token(&["token", "create", "--role", "volunteer", "--subject", "V-1", "--data", data]));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = serve(data, port, &smtp.url(), &hook, &secret);

    // The resident scans the grid's QR code with a phone.
    let browser = Browser::start(&dir.path().join("profile"));
    browser.resize(390, 844);
    browser.open(&format!("http://{addr}/r/g/{GRID}"));
    browser.wait(&format!("[data-test=place-name][data-grid='{GRID}']"));
    browser.click(&format!("[data-test=item-{ITEM}]"));
    browser.type_into("[data-test=description]", "家里老人独居，想请志愿者上门看看");
    browser.type_into("[data-test=photos]", photo("gps.jpg").to_str().expect("a UTF-8 path"));
    browser.type_into("[data-test=name]", "李阿姨");
    browser.type_into("[data-test=phone]", "13800138000");
    browser.type_into("[data-test=email]", "li@example.org");
    browser.screenshot("resident-order");
    browser.click("[data-test=send]");
    let ticket = browser.text("[data-test=sent-ticket]");
    assert!(ticket.starts_with("T-"), "the page names the new ticket: {ticket}");
    browser.wait("[data-test=my-link]");
    browser.screenshot("resident-sent");

    // The order came with its photo, stripped of its location.
    let (status, body) =
        http(&addr, "GET", &format!("/api/v1/tickets/{ticket}"), &[("Authorization", &dispatcher)], "");
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(view["channel"].as_str().unwrap_or("qr_code"), "qr_code");
    let order_photo = view["order_photos"][0].as_str().expect("the order names its photo").to_string();
    let path = format!("/api/v1/tickets/{ticket}/photos/{order_photo}");
    let (status, served) = crate::browser::http_raw(&addr, "GET", &path, &[("Authorization", &dispatcher)]);
    assert_eq!(status, 200);
    let original = std::fs::read(photo("gps.jpg")).expect("the photo");
    assert!(find(&original, b"GPS").is_some() && find(&served, b"GPS").is_none(), "GPS metadata is stripped");

    // The dispatcher sends it to a volunteer, who takes it.
    act(&addr, &dispatcher, &ticket, "triage", json!({ "mode": "volunteer" }));
    act(
        &addr,
        &dispatcher,
        &ticket,
        "offer",
        json!({ "candidates": [{ "kind": "volunteer", "id": "V-1" }], "expires_in_minutes": 30 }),
    );
    act(&addr, &volunteer, &ticket, "accept", json!({ "by": { "kind": "volunteer", "id": "V-1" } }));
    until("the 'taken' mail and webhook", || {
        kinds_mailed(&smtp, &ticket).contains(&"accepted".into())
            && kinds_hooked(&hooks, &ticket).contains(&"accepted".into())
    });

    // The server restarts in the middle of the ticket's life.
    stop(server);
    let server = serve(data, port, &smtp.url(), &hook, &secret);

    // The volunteer resolves with an after-photo.
    let after = upload(&addr, &volunteer, &photo("gps.png"));
    act(&addr, &volunteer, &ticket, "start", json!({}));
    act(
        &addr,
        &volunteer,
        &ticket,
        "resolve",
        json!({ "result": "已上门探访，老人身体良好", "minutes_spent": 45, "photos": [after] }),
    );

    // The resident sees the result and the after-photo, and is not satisfied.
    browser.open(&format!("http://{addr}/r/t/{ticket}"));
    assert!(browser.text("[data-test=result-text]").contains("已上门探访"));
    browser.wait("[data-test=result-photo]");
    browser.wait("[data-test=feedback-form]:not([hidden])");
    browser.screenshot("resident-result");
    browser.click("[data-test=rate-unsatisfied]");
    browser.type_into("[data-test=comment]", "只待了五分钟");
    browser.click("[data-test=rate]");
    until("the ticket reopens", || {
        let (_, body) = http(&addr, "GET", &format!("/api/v1/tickets/{ticket}"), &[("Authorization", &dispatcher)], "");
        serde_json::from_str::<Value>(&body).is_ok_and(|v| v["status"] == "reopened")
    });

    // Each channel told the resident each thing once, restart or not.
    until("the 'resolved' mail and webhook", || {
        kinds_mailed(&smtp, &ticket).contains(&"resolved".into())
            && kinds_hooked(&hooks, &ticket).contains(&"resolved".into())
    });
    stop(server);
    assert_eq!(kinds_mailed(&smtp, &ticket), ["accepted", "resolved"], "one mail per notice");
    assert_eq!(kinds_hooked(&hooks, &ticket), ["accepted", "resolved"], "one webhook per notice");
    bless(&["resident-order", "resident-sent", "resident-result"]);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// With `GRIDLOOP_BLESS_SCREENSHOTS=1`, copies the named screenshots to
/// `docs/screenshots/` for the README.
fn bless(names: &[&str]) {
    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_none() {
        return;
    }
    let docs = workspace().join("docs/screenshots");
    for name in names {
        std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("{name}.png"))).expect("copy");
    }
}
