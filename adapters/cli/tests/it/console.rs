//! The dispatcher console in a real browser: `gridloop serve` (the binary)
//! on a demo store, headless Chromium driven through ChromeDriver with the
//! W3C WebDriver protocol (plain JSON over HTTP, spoken here over
//! `std::net::TcpStream`, so the test needs no client crate).
//!
//! A dispatcher logs in, an order posted through the API appears on the
//! board without a reload, the dispatcher offers it from the ticket page,
//! a volunteer's acceptance (through the API) arrives live, the metrics page
//! draws its charts; the emergency switch, the English toggle and the phone
//! width are exercised too. Screenshots go to `target/screenshots/`; with
//! `GRIDLOOP_BLESS_SCREENSHOTS=1` the board, ticket and metrics ones are
//! also copied to `docs/screenshots/` for the README.
//!
//! Chromium and ChromeDriver come from `scripts/install-tools`; without them
//! the test fails and says so (a browser test that skips proves nothing).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridloop_engine::grid::Level;
use serde_json::{Value, json};

use crate::support::{gridloop, stderr, stdout};

/// How long any one wait in the browser may take.
const WAIT: Duration = Duration::from_secs(15);
/// How soon an event must show on the board once the API has answered. The
/// console itself takes well under a second; the margin is for a loaded
/// two-core CI machine.
const LIVE_WITHIN: Duration = Duration::from_secs(3);
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed when the test ends, also when it fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body
/// (chunked bodies are joined). The body is read by its length, since not
/// every server closes the connection when asked to.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("send");
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let complete = |raw: &[u8]| -> Option<(u16, Vec<u8>)> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let body = &raw[split + 4..];
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        if head.contains("transfer-encoding: chunked") {
            return unchunk(body).map(|b| (status, b));
        }
        let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|l| l.trim().parse::<usize>());
        match length {
            Some(Ok(length)) if body.len() >= length => Some((status, body[..length].to_vec())),
            _ => None,
        }
    };
    loop {
        if let Some((status, body)) = complete(&raw) {
            return (status, String::from_utf8(body).expect("a UTF-8 body"));
        }
        let read = stream.read(&mut buffer).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
        if read == 0 {
            let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
            let status = String::from_utf8_lossy(&raw[..split]).split(' ').nth(1).and_then(|s| s.parse().ok());
            return (status.expect("a status"), String::from_utf8_lossy(&raw[split + 4..]).to_string());
        }
        raw.extend_from_slice(&buffer[..read]);
    }
}

/// A chunked body joined, once its last chunk is in.
fn unchunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let chunk = raw.get(end + 2..end + 2 + size)?;
        out.extend_from_slice(chunk);
        raw = raw.get(end + 2 + size + 2..)?;
    }
}

/// A free loopback port (bound, read, released: the driver binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A program from an environment variable or the usual places, or a failure
/// that says how to install it.
fn tool(variable: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let paths = std::env::var_os("PATH").unwrap_or_default();
    let found = names.iter().find_map(|name| {
        std::env::split_paths(&paths).chain([PathBuf::from("/usr/bin")]).map(|d| d.join(name)).find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{} not found (nor ${variable}): run scripts/install-tools to install Chromium and ChromeDriver",
            names[0]
        )
    })
}

/// A WebDriver session on a ChromeDriver process; both end on drop.
struct Browser {
    driver: String,
    session: String,
    _process: Killed,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(&self.driver, "DELETE", &format!("/session/{}", self.session), &[], "");
    }
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        let chromedriver = tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
        let chromium = tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
        let port = free_port();
        // The browser lives in New York: the console must still show the
        // district's times (Asia/Shanghai), as the server names the zone.
        let process = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .env("TZ", "America/New_York")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start ({e}): run scripts/install-tools", chromedriver.display()));
        let process = Killed(process);
        let driver = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while TcpStream::connect(&driver).is_err() || http(&driver, "GET", "/status", &[], "").0 != 200 {
            assert!(started.elapsed() < WAIT, "chromedriver did not answer on {driver}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1366,768",
            "--lang=zh-CN",
            "--hide-scrollbars",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args } } } });
        let (status, body) = http(&driver, "POST", "/session", &[], &capabilities.to_string());
        assert_eq!(status, 200, "a browser session: {body}");
        let answer: Value = serde_json::from_str(&body).expect("json");
        let session = answer["value"]["sessionId"].as_str().expect("a session id").to_string();
        Browser { driver, session, _process: process }
    }

    /// A WebDriver command; its `value`, or the driver's error.
    fn call(&self, method: &str, command: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{command}", self.session);
        let text = if method == "GET" { String::new() } else { body.to_string() };
        let (status, answer) = http(&self.driver, method, &path, &[], &text);
        let answer: Value = serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}"))?;
        if status != 200 {
            return Err(format!("{method} {command}: {}", answer["value"]["message"]));
        }
        Ok(answer["value"].clone())
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url })).expect("navigate");
    }

    fn find(&self, css: &str) -> Result<String, String> {
        let found = self.call("POST", "/element", json!({ "using": "css selector", "value": css }))?;
        Ok(found[ELEMENT].as_str().ok_or("no element reference")?.to_string())
    }

    /// The element, once it exists.
    fn wait(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            match self.find(css) {
                Ok(element) => return element,
                Err(error) if started.elapsed() > WAIT => {
                    let shown = self.script("return document.body.innerText.slice(0, 2000)");
                    panic!("{css} did not appear within {WAIT:?} ({error}); the page shows: {shown}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn click(&self, css: &str) {
        let element = self.wait(css);
        self.call("POST", &format!("/element/{element}/click"), json!({}))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.wait(css);
        self.call("POST", &format!("/element/{element}/value"), json!({ "text": text }))
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The element's text. The console re-renders what the event stream
    /// changes, so an element found a moment ago may be replaced before its
    /// text is read ("stale element reference"): it is then found again.
    fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let element = self.wait(css);
            match self.call("GET", &format!("/element/{element}/text"), json!({})) {
                Ok(text) => return text.as_str().unwrap_or("").to_string(),
                Err(error) if error.contains("stale element") && started.elapsed() < WAIT => {}
                Err(error) => panic!("text of {css}: {error}"),
            }
        }
    }

    fn script(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", json!({ "script": script, "args": [] })).expect("script")
    }

    fn resize(&self, width: u32, height: u32) {
        self.call("POST", "/window/rect", json!({ "width": width, "height": height })).expect("resize");
    }

    /// Saves a PNG of the viewport, scrolled to the top, to
    /// `target/screenshots/NAME.png`.
    fn screenshot(&self, name: &str) -> PathBuf {
        self.script("window.scrollTo(0, 0); return null");
        let encoded = self.call("GET", "/screenshot", json!({})).expect("screenshot");
        let png = base64_decode(encoded.as_str().expect("base64 text"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn screenshots_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("screenshots"),
        None => workspace().join("target/screenshots"),
    }
}

/// Standard base64 with padding, as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The token `gridloop token create` printed (its last word).
fn token(args: &[&str]) -> String {
    let out = gridloop(args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
}

/// Waits until `check` holds, and says how long that took.
fn until(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < WAIT, "{what} did not happen within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
    started.elapsed()
}

/// The tickets already on the board when the dispatcher logs in.
struct Background {
    /// Offered for five minutes: its countdown is amber.
    offered: String,
}

/// Orders a few tickets across the district and moves them on through the
/// API, so the board has work in several states.
fn background_work(addr: &str, auth: &str) -> Background {
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grids: Vec<String> =
        district.world.grids.at_level(Level::Grid).map(|n| n.code.to_string()).step_by(37).take(4).collect();
    let headers = [("Authorization", auth)];
    let order = |item: &str, grid: &str, text: &str| {
        let body = json!({ "category": item, "grid": grid, "description": text, "resident": "r-7" });
        let (status, body) = http(addr, "POST", "/api/v1/tickets", &headers, &body.to_string());
        assert_eq!(status, 201, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("an id").to_string()
    };
    let act = |id: &str, action: &str, body: Value| {
        let (status, answer) =
            http(addr, "POST", &format!("/api/v1/tickets/{id}/{action}"), &headers, &body.to_string());
        assert_eq!(status, 200, "{action}: {answer}");
    };
    let visit = order("CS-001", &grids[0], "独居老人需要上门探访");
    act(
        &visit,
        "assign",
        json!({ "to": { "kind": "department", "id": "civil_affairs" }, "reason": "社区安排民政专干" }),
    );
    let offered = order("CS-001", &grids[1], "老人行动不便，需陪同就医");
    act(&offered, "offer", json!({ "candidates": [{ "kind": "volunteer", "id": "V-9" }], "expires_in_minutes": 5 }));
    let patrol = order("GP-007", &grids[2], "楼顶疑似违建");
    act(&patrol, "escalate", json!({ "reason": "difficulty", "note": "网格无法处置" }));
    order("SC-001", &grids[3], "小区停车位纠纷");
    Background { offered }
}

#[test]
fn the_console_follows_a_ticket_live_in_a_real_browser() {
    // Find the tools first: without them there is nothing to test.
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    // Five simulated days give the metrics page something to chart and the
    // directory volunteers to suggest.
    let demo = gridloop(&["demo", "--days", "5", "--orders-per-day", "30", "--seed", "1", "--data", data]);
    assert!(demo.status.success(), "demo: {}", stderr(&demo));
    let dispatcher = token(&[
        "token",
        "create",
        "--role",
        "dispatcher",
        "--subject",
        "d-440802",
        "--place",
        "440802",
        "--data",
        data,
    ]);
    let volunteer = token(&["token", "create", "--role", "volunteer", "--subject", "V-1", "--data", data]);

    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut server = Killed(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("serve prints its address").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.trim().to_string();
        }
    };
    let origin = format!("http://{addr}");
    let bearer = |token: &str| format!("Bearer {token}");
    let auth = bearer(&dispatcher);
    let background = background_work(&addr, &auth);

    let browser = Browser::start(&dir.path().join("profile"));
    browser.open(&format!("{origin}/"));
    assert_eq!(browser.script("return document.documentElement.lang"), "zh-CN", "Chinese by default");
    // Logged in from the keyboard: the token, then Enter.
    browser.type_into("#token", &format!("{dispatcher}\u{e007}"));
    browser.wait("body[data-view=board][data-board=ready]");
    assert_eq!(browser.text("#who-level"), "区级", "the dispatcher's level");
    assert_eq!(browser.text("#who-place"), "赤坎区", "and place");
    let count = browser.text("#board-count");
    assert!(count.contains("Asia/Shanghai"), "the board names the zone its times are in: {count}");

    // An order through the API shows on the open board, no reload.
    let order = json!({ "category": "IC-003", "grid": "440802-001-001-001", "description": "独居老人家中水管漏水",
        "resident": "r-1", "urgency": "urgent" });
    let (status, body) = http(&addr, "POST", "/api/v1/tickets", &[("Authorization", &auth)], &order.to_string());
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("an id").to_string();
    let row = format!("#board-rows tr[data-id='{id}']");
    let took = until("the new ticket on the board", || browser.find(&row).is_ok());
    eprintln!("the new ticket was on the board {took:?} after the API answered");
    assert!(took < LIVE_WITHIN, "the ticket took {took:?} to appear");
    let first = browser.script("return document.querySelector('#board-rows tr').dataset.id");
    assert_eq!(first, id.as_str(), "an urgent new ticket leads the board");
    let countdown = browser.text(&format!("{row} .due"));
    assert!(
        countdown.contains("受理时限") && countdown.contains('剩'),
        "a countdown to its next deadline: {countdown}"
    );
    // Colours: an offer ending within ten minutes is amber; a deadline past
    // is red (a row made to end a second ago shows how the clock turns it).
    browser.wait(&format!("#board-rows tr[data-id='{}'] .due.near", background.offered));
    browser.script(
        "const s = document.createElement('span'); s.className = 'due'; s.id = 'probe'; \
         s.dataset.at = new Date(Date.now() - 1000).toISOString(); document.body.append(s); return null",
    );
    browser.wait("#probe.due.past");
    browser.script("document.getElementById('probe').remove(); return null");
    browser.screenshot("board");

    // The ticket page: timeline, suggestions, and an offer to several.
    browser.click(&format!("{row} a"));
    browser.wait("#t-status[data-status=submitted]");
    browser.wait("#t-timeline li[data-schema^='ticket.submitted']");
    // Times in the district's zone, not the browser's (New York) nor UTC.
    let shown = "#t-timeline li[data-schema^='ticket.submitted'] time";
    let at = browser.script(&format!("return document.querySelector(\"{shown}\").getAttribute('datetime')"));
    let at = gridloop_engine::time::Timestamp::parse(at.as_str().expect("a datetime")).expect("RFC 3339");
    let minutes = (at.as_millis() / 60_000 + 8 * 60).rem_euclid(24 * 60);
    let shanghai = format!("{:02}:{:02}", minutes / 60, minutes % 60);
    assert_eq!(browser.script("return Intl.DateTimeFormat().resolvedOptions().timeZone"), "America/New_York");
    let text = browser.text(shown);
    assert!(text.contains(&shanghai), "{text} shows {at} in Asia/Shanghai ({shanghai})");
    let first_candidate = browser.script("return document.querySelector('input[name=cand]')?.value ?? null");
    let first_candidate = first_candidate.as_str().expect("the routing policy suggests a volunteer").to_string();
    browser.click("input[name=cand]");
    if first_candidate != "V-1" {
        browser.type_into("#offer-others", "V-1");
    }
    browser.click("#offer-button");
    browser.wait("#t-status[data-status=offered]");
    let offered = browser.text("#t-timeline li[data-schema^='ticket.offered']");
    assert!(offered.contains(&first_candidate) && offered.contains("V-1"), "offered to both: {offered}");

    // A refusal is a plain sentence: closing an offered ticket is not allowed.
    let (status, _) = http(&addr, "POST", &format!("/api/v1/tickets/{id}/close"), &[("Authorization", &auth)], "");
    assert_eq!(status, 409);

    // The volunteer accepts through the API; the page follows by itself.
    let volunteer_auth = bearer(&volunteer);
    let (status, body) =
        http(&addr, "POST", &format!("/api/v1/tickets/{id}/accept"), &[("Authorization", &volunteer_auth)], "");
    assert_eq!(status, 200, "{body}");
    let took = until("the acceptance on the ticket page", || browser.find("#t-status[data-status=accepted]").is_ok());
    eprintln!("the acceptance was on the ticket page {took:?} after the API answered");
    assert!(took < LIVE_WITHIN, "the acceptance took {took:?} to arrive");
    browser.wait("#t-timeline li[data-schema^='ticket.accepted']");
    assert!(browser.text("#t-holder").contains("V-1"));
    browser.screenshot("ticket");

    // Refused by the engine: marking a ticket a duplicate of itself.
    browser.type_into("#dup-of", &id);
    browser.click("#act-duplicate button");
    until("a refusal sentence", || browser.find("#t-result.error").is_ok());
    let refusal = browser.text("#t-result");
    assert!(refusal.starts_with("未能执行") && refusal.contains(&format!("cannot duplicate {id}")), "{refusal}");

    // Back on the board the row says accepted.
    browser.click("#nav-board");
    browser.wait(&format!("#board-rows tr[data-id='{id}'][data-status=accepted]"));

    // Metrics: charts drawn from the demo's days (the range set to them, as
    // a dispatcher would pick dates; the last day with orders is today's).
    let (status, body) = http(&addr, "GET", "/api/v1/metrics/rates?by=day", &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "{body}");
    let days: Vec<String> = serde_json::from_str::<Value>(&body).expect("json")["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["key"].as_str().filter(|k| *k != "all").map(str::to_string))
        .collect();
    assert!(days.len() >= 3, "the demo's days and today: {days:?}");
    browser.click("#nav-metrics");
    browser.wait("body[data-metrics=ready]");
    let (first_day, last_day) = (&days[0], &days[days.len() - 2]);
    browser.script(&format!(
        "document.querySelector('#m-from').value = '{first_day}'; document.querySelector('#m-to').value = '{last_day}'; return null"
    ));
    browser.click("#metrics form button[type=submit]");
    browser.wait("body[data-metrics=ready]");
    let lines = browser.script("return document.querySelectorAll('#m-charts figure.chart svg circle').length");
    assert!(lines.as_u64().unwrap_or(0) > 4, "the charts have points: {lines}");
    assert_eq!(browser.script("return document.querySelectorAll('#m-charts figure.chart').length"), 4);
    browser.wait("#m-worst-table tbody tr");
    browser.screenshot("metrics");
    // The CSV export, caught on its way to the download.
    browser.script(
        "window.csv = null; const make = URL.createObjectURL; \
         URL.createObjectURL = (blob) => { blob.text().then((t) => { window.csv = t; }); return make(blob); }; \
         document.querySelector('#m-csv').click(); return null",
    );
    until("the CSV export", || browser.script("return window.csv !== null") == true);
    let csv = browser.script("return window.csv");
    let csv = csv.as_str().expect("text");
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("place,name,period,submitted,valid,acceptance_numerator")));
    assert!(lines.clone().any(|l| l.contains(&format!(",{first_day},"))), "a row per place and day");
    assert!(lines.any(|l| l.contains(",all,")), "and each place's whole range");

    // English, at phone width.
    browser.click("#lang");
    assert_eq!(browser.script("return document.documentElement.lang"), "en");
    browser.wait("body[data-metrics=ready]");
    assert_eq!(browser.text("#nav-metrics"), "Metrics");
    browser.click("#nav-board");
    browser.wait(&format!("#board-rows tr[data-id='{id}']"));
    browser.resize(390, 844);
    browser.screenshot("board-phone-en");
    browser.click(&format!("#board-rows tr[data-id='{id}'] a"));
    browser.wait("#t-status[data-status=accepted]");
    assert_eq!(browser.text("#t-status"), "accepted");
    browser.screenshot("ticket-phone-en");
    browser.click("#nav-metrics");
    browser.wait("body[data-metrics=ready]");
    browser.screenshot("metrics-phone-en");
    browser.resize(1366, 768);
    browser.click("#nav-board");
    browser.wait("body[data-view=board]");
    browser.click("#lang");

    // The emergency switch, confirmed, then seen by everyone in the place.
    browser.click("#em-toggle");
    browser.type_into("#em-reason", "台风“摩羯”登陆");
    browser.click("#em-confirm-button");
    until("the emergency banner", || {
        browser.script("return !document.querySelector('#emergency-banner').hidden") == true
    });
    assert!(browser.text("#emergency-banner").contains("赤坎区"));
    browser.screenshot("emergency");
    let (status, body) = http(&addr, "GET", "/api/v1/me", &[("Authorization", &auth)], "");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["emergency"][0]["code"], "440802");

    // Every request the page made went to the server itself.
    let requests = browser.script("return performance.getEntriesByType('resource').map(e => e.name)");
    let requests = requests.as_array().expect("a list");
    assert!(!requests.is_empty());
    for url in requests {
        assert!(url.as_str().is_some_and(|u| u.starts_with(&origin)), "an external request: {url}");
    }

    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_some() {
        let docs = workspace().join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for name in ["board", "ticket", "metrics"] {
            std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("console-{name}.png")))
                .expect("copy a screenshot");
        }
    }
    // Ctrl-C while the console follows the log: the event stream ends, so
    // the graceful shutdown does not wait on it.
    browser.wait("#live[data-state=on]");
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill runs").success());
    let took = until("serve to stop on Ctrl-C", || matches!(server.0.try_wait(), Ok(Some(_))));
    assert!(took < Duration::from_secs(5), "serve took {took:?} to stop with a console open");
    drop(browser);
    drop(server);
}
