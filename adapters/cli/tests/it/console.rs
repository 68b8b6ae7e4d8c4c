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

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gridloop_engine::grid::Level;
use serde_json::{Value, json};

use crate::browser::{Browser, Killed, http, screenshots_dir, tool, until, workspace};
use crate::support::{gridloop, stderr, stdout};

/// How soon an event must show on the board once the API has answered. The
/// console itself takes well under a second; the margin is for a loaded
/// two-core CI machine.
const LIVE_WITHIN: Duration = Duration::from_secs(3);

/// The token `gridloop token create` printed (its last word).
fn token(args: &[&str]) -> String {
    let out = gridloop(args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
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
