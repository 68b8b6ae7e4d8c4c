//! A grid worker's day on the phone page (`/w`), in a real browser at
//! phone width (390×844), against `gridloop serve` (the binary).
//!
//! The worker starts a patrol, checks in at a household, finds a fire
//! hazard in a stairwell and handles it on the spot with an after-photo
//! (one append: submitted, self-handled, resolved). Then the network is cut
//! (DevTools network conditions through chromedriver): two check-ins taken
//! offline wait in the page's queue; when the network returns they are sent,
//! and the log holds each exactly once.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::browser::{Browser, Killed, http, screenshots_dir, tool, until, workspace};
use crate::smtp::free_port;
use crate::support::{gridloop, stderr, stdout};

/// The grid the worker serves.
const GRID: &str = "440802-001-001-001";
/// Their id in the Chikan bundle.
const WORKER: &str = "gw-440802-001-001-001";
/// A self-handled item: fire hazards found on patrol.
const ITEM: &str = "GP-001";

fn serve(data: &str, port: u16) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data", data])
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
    std::thread::spawn(move || lines.for_each(drop));
    server
}

fn token(args: &[&str]) -> String {
    let out = gridloop(args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
}

/// Cuts or restores the browser's network (DevTools network conditions).
fn network(browser: &Browser, offline: bool) {
    let conditions = json!({
        "cmd": "Network.emulateNetworkConditions",
        "params": { "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 },
    });
    browser.call("POST", "/goog/cdp/execute", json!({ "cmd": "Network.enable", "params": {} })).expect("cdp");
    browser.call("POST", "/goog/cdp/execute", conditions).expect("network conditions");
}

/// The worker's patrol stream's events, by schema, from the audit's view.
fn patrol_events(addr: &str, auth: &str) -> Vec<Value> {
    let (status, body) = http(addr, "GET", "/api/v1/patrols?worker=me", &[("Authorization", auth)], "");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    answer["patrols"].as_array().cloned().unwrap_or_default()
}

fn check_ins(addr: &str, auth: &str) -> Vec<String> {
    let patrols = patrol_events(addr, auth);
    let open = patrols.iter().find(|p| p["ended_at"].is_null()).cloned().unwrap_or_default();
    open["check_ins"]
        .as_array()
        .map_or_else(Vec::new, |c| c.iter().map(|c| c["label"].as_str().unwrap_or_default().to_string()).collect())
}

#[test]
fn a_grid_worker_patrols_handles_on_the_spot_and_acts_offline_once() {
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "3", "--seed", "5", "--data", data]);
    assert!(demo.status.success(), "demo: {}", stderr(&demo));
    let worker =
        token(&["token", "create", "--role", "grid_worker", "--subject", WORKER, "--place", GRID, "--data", data]);
    let auth = format!("Bearer {worker}");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = serve(data, port);

    let browser = Browser::start(&dir.path().join("profile"));
    browser.resize(390, 844);
    browser.open(&format!("http://{addr}/w#token={worker}"));
    browser.wait("[data-test=who]");
    until("the page knows the worker", || browser.text("[data-test=who]").contains(WORKER));

    // A patrol, and a household visited.
    browser.click("[data-test=start]");
    until("the patrol is open", || browser.text("[data-test=patrol-state]").contains("#"));
    browser.type_into("[data-test=label]", "3栋 201");
    browser.type_into("[data-test=note]", "独居老人，身体良好");
    browser.click("[data-test=check-in]");
    until("the check-in is in the log", || check_ins(&addr, &auth) == ["3栋 201"]);
    browser.screenshot("field-patrol");

    // A fire hazard in the stairwell, cleared on the spot, with a photo.
    until("the catalog is shown", || browser.find(&format!("[data-test=item] option[value='{ITEM}']")).is_ok());
    browser.script(&format!("document.querySelector('[data-test=item]').value = '{ITEM}'; return true;"));
    browser.type_into("[data-test=what]", "楼道堆放纸箱，堵塞通道");
    browser.type_into("[data-test=result]", "已清理纸箱，通道畅通");
    let after = workspace().join("fixtures/photos/gps.png").canonicalize().expect("the fixture photo");
    browser.type_into("[data-test=after]", after.to_str().expect("a UTF-8 path"));
    browser.click("[data-test=on-spot]");
    until("the page names the resolved ticket", || browser.text("[data-test=notice]").contains("resolved"));
    let notice = browser.text("[data-test=notice]");
    let ticket = notice.split_whitespace().find(|w| w.starts_with("T-")).expect("a ticket id").to_string();
    browser.screenshot("field-on-the-spot");
    let (status, body) = http(&addr, "GET", &format!("/api/v1/tickets/{ticket}"), &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(view["status"], "resolved");
    assert!(view["resident"].is_null(), "a problem found on patrol is for no resident");
    assert_eq!(view["result_photos"].as_array().map(Vec::len), Some(1), "the after-photo");

    // The network goes; two check-ins wait in the page.
    network(&browser, true);
    for (label, note) in [("5栋 楼顶", "水箱盖松动"), ("6栋 302", "独居老人，已电话联系家属")] {
        browser.type_into("[data-test=label]", label);
        browser.type_into("[data-test=note]", note);
        browser.click("[data-test=check-in]");
    }
    until("two actions wait", || {
        browser.script("return document.querySelectorAll('[data-test=queued]').length;") == json!(2)
    });
    browser.screenshot("field-offline");
    assert_eq!(check_ins(&addr, &auth), ["3栋 201"], "nothing arrived while offline");

    // The network returns: each arrives once, and nothing waits.
    network(&browser, false);
    until("the queue is sent", || {
        browser.script("return document.querySelectorAll('[data-test=queued]').length;") == json!(0)
    });
    until("both check-ins are in the log", || check_ins(&addr, &auth).len() == 3);
    // Whatever the page sends again (its timer, a reload), the keys hold.
    browser.open(&format!("http://{addr}/w"));
    browser.wait("[data-test=who]");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(check_ins(&addr, &auth), ["3栋 201", "5栋 楼顶", "6栋 302"], "each arrived exactly once");
    browser.screenshot("field-back-online");
    bless(&["field-patrol", "field-on-the-spot", "field-offline", "field-back-online"]);
}

/// With `GRIDLOOP_BLESS_SCREENSHOTS=1`, copies the named screenshots to
/// `docs/screenshots/`.
fn bless(names: &[&str]) {
    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_none() {
        return;
    }
    let docs = workspace().join("docs/screenshots");
    for name in names {
        std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("{name}.png"))).expect("copy");
    }
}
