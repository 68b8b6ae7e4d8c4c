//! The dispatcher's desk in a real browser (`gridloop serve` on a demo
//! store, headless Chromium over WebDriver, as `console.rs`): clicking a
//! grid on the map filters the board; a dispatcher logs a phone call
//! through the intake form and finds it again by the phone's last digits,
//! with the resident's name and phone masked beside it and the phone in no
//! event; an urgent order marks the tab; the missed-deadline view; an
//! auditor sees the audit (chain checked) and no action forms; a volunteer
//! and a department are sent to their own place.
//!
//! Screenshots go to `target/screenshots/`; with
//! `GRIDLOOP_BLESS_SCREENSHOTS=1` the map and the intake form are also
//! copied to `docs/screenshots/console-map.png` and `console-intake.png`.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use gridloop_engine::grid::Level;
use serde_json::{Value, json};

use crate::browser::{Browser, Killed, http, screenshots_dir, tool, until, workspace};
use crate::support::{gridloop, stderr, stdout};

/// The token `gridloop token create` printed (its last word).
pub(crate) fn token(data: &str, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", data]);
    let out = gridloop(&all);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
}

/// `gridloop serve` on `data`, and the address it listens on.
pub(crate) fn serve(data: &str) -> (Killed, String) {
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
    // Its output read to the end, so that a line it prints later never
    // meets a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}

/// Orders `text` in `grid` through the API; the new ticket's id.
fn order(addr: &str, auth: &str, grid: &str, text: &str, urgent: bool) -> String {
    let body = json!({ "category": "CS-001", "grid": grid, "description": text, "resident": "r-9",
        "urgency": if urgent { "urgent" } else { "normal" } });
    let (status, body) = http(addr, "POST", "/api/v1/tickets", &[("Authorization", auth)], &body.to_string());
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("an id").to_string()
}

/// The ids of the rows the board shows, with their grids.
fn rows(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser
        .script("return [...document.querySelectorAll('#board-rows tr')].map((r) => [r.dataset.id, r.dataset.grid])");
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| (r[0].as_str().unwrap_or("").to_string(), r[1].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn a_dispatcher_filters_by_the_map_logs_a_call_and_finds_it_by_the_phone() {
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let demo = gridloop(&["demo", "--days", "2", "--orders-per-day", "30", "--seed", "3", "--data", data]);
    assert!(demo.status.success(), "demo: {}", stderr(&demo));
    let dispatcher = token(data, &["--role", "dispatcher", "--subject", "d-440802", "--place", "440802"]);
    let auditor = token(data, &["--role", "auditor", "--subject", "a-1"]);
    let volunteer = token(data, &["--role", "volunteer", "--subject", "V-1"]);
    let (mut server, addr) = serve(data);
    let origin = format!("http://{addr}");
    let auth = format!("Bearer {dispatcher}");

    // Two grids far apart, each with an open ticket of its own.
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grids: Vec<String> = district.world.grids.at_level(Level::Grid).map(|n| n.code.to_string()).collect();
    let (here, there) = (grids[3].clone(), grids[grids.len() - 4].clone());
    let mine = order(&addr, &auth, &here, "路灯不亮，晚上看不清台阶", false);
    let other = order(&addr, &auth, &there, "垃圾桶满了没人清", false);

    let browser = Browser::start(&dir.path().join("profile"));
    browser.open(&format!("{origin}/"));
    browser.type_into("#token", &format!("{dispatcher}\u{e007}"));
    browser.wait("body[data-view=board][data-board=ready][data-map=ready]");
    let before = rows(&browser);
    assert!(before.iter().any(|(id, _)| *id == other), "the whole district's board first");

    // A click on a grid filters the board to it.
    let cell = format!("#board-map path[data-grid='{here}']");
    let open = browser.script(&format!("return document.querySelector(\"{cell}\").dataset.open"));
    assert!(open.as_str().is_some_and(|n| n.parse::<u32>().unwrap_or(0) >= 1), "the grid counts its ticket: {open}");
    browser.click(&cell);
    until("the board filtered to the grid", || {
        let shown = rows(&browser);
        !shown.is_empty() && shown.iter().all(|(_, g)| g.starts_with(here.as_str()))
    });
    let shown = rows(&browser);
    assert!(shown.iter().any(|(id, _)| *id == mine), "its ticket is there: {shown:?}");
    assert!(!shown.iter().any(|(id, _)| *id == other), "another grid's is not");
    browser.wait(&format!("{cell}.chosen"));
    assert!(browser.text("#map-chosen").contains(here.as_str()), "the page says which grid is chosen");
    browser.screenshot("console-map");
    browser.click("#map-clear");
    until("the whole board again", || rows(&browser).iter().any(|(id, _)| *id == other));

    // A phone call logged through the intake form.
    browser.click("#nav-intake");
    browser.wait("body[data-intake=ready] #intake-map path[data-grid]");
    browser.type_into("#in-name", "王秀英");
    browser.type_into("#in-phone", "138-0013-5678");
    browser.type_into("#in-address", "幸福路 12 号 3 栋 502");
    browser.click(&format!("#intake-map path[data-grid='{there}']"));
    assert_eq!(browser.script("return document.querySelector('#in-grid').value"), there.as_str());
    browser.type_into("#in-desc", "家里老人摔倒后行动不便，需要上门探访");
    browser.screenshot("console-intake");
    browser.click("#in-submit");
    browser.wait("#in-ticket");
    let called = browser.script("return document.querySelector('#in-ticket').dataset.id");
    let called = called.as_str().expect("the new ticket's id").to_string();
    assert!(browser.text("#in-result").contains(&called));

    // Found again by the phone's last four digits, the caller masked.
    browser.click("#nav-board");
    browser.wait("body[data-view=board][data-board=ready]");
    browser.type_into("#f-q", "5678\u{e007}");
    // The newest ticket heads the unfiltered board too, so wait for the
    // search's own answer: the caller's ticket alone.
    until("the call found by its phone, alone", || {
        let shown = rows(&browser);
        shown.len() == 1 && shown[0].0 == called
    });
    assert_eq!(rows(&browser).len(), 1, "only the caller's ticket ends in 5678");
    let resident = browser.text(&format!("#board-rows tr[data-id='{called}'] td.resident"));
    assert!(resident.contains("王**") && resident.contains("138****5678"), "masked beside the ticket: {resident}");
    // By words of the description, and by the ticket's id.
    browser.script("document.querySelector('#f-q').value = ''; return null");
    browser.type_into("#f-q", "摔倒\u{e007}");
    until("the call found by its words", || rows(&browser).iter().any(|(id, _)| *id == called));
    browser.script("document.querySelector('#f-q').value = ''; return null");
    browser.type_into("#f-q", &format!("{mine}\u{e007}"));
    until("a ticket found by its id", || rows(&browser) == vec![(mine.clone(), here.clone())]);
    // The phone is in no event: the log names the resident by an opaque id.
    let (status, history) =
        http(&addr, "GET", &format!("/api/v1/tickets/{called}/history"), &[("Authorization", &auth)], "");
    assert_eq!(status, 200);
    assert!(!history.contains("5678") && !history.contains("王秀英"), "no phone or name in the log: {history}");
    assert!(history.contains("\"channel\":\"phone\""), "the order came by phone");

    // An urgent order marks the tab's title.
    let urgent = order(&addr, &auth, &here, "燃气泄漏气味很重", true);
    browser.script("document.querySelector('#f-q').value = ''; return null");
    browser.type_into("#f-q", "\u{e007}");
    until("the tab marked for the urgent order", || {
        browser.script("return document.title").as_str().is_some_and(|t| t.starts_with("(1)"))
    });
    assert_eq!(browser.script("return document.body.dataset.alerted"), urgent.as_str());

    // The missed-deadline view is the server's overdue filter.
    browser.click("#nav-missed");
    browser.wait("#missed-title");
    browser.wait("body[data-board=ready]");
    let (status, body) = http(&addr, "GET", "/api/v1/board?overdue=true", &[("Authorization", &auth)], "");
    assert_eq!(status, 200);
    let total = serde_json::from_str::<Value>(&body).expect("json")["total"].as_u64().expect("a total");
    assert_eq!(rows(&browser).len() as u64, total.min(500), "the view lists what the server counts");

    // An auditor: the audit with the chain checked, and no action forms.
    browser.click("#logout");
    browser.type_into("#token", &format!("{auditor}\u{e007}"));
    browser.wait("body[data-board=ready]");
    assert_eq!(browser.script("return document.querySelectorAll('#board-table th').length"), 7, "no resident column");
    assert_eq!(browser.script("return document.querySelector('#nav-intake').hidden"), true);
    browser.open(&format!("{origin}/#/ticket/{called}"));
    browser.wait("#au-chain[data-ok=true]");
    browser.wait("#t-status");
    assert_eq!(browser.script("return document.querySelectorAll('#t-actions fieldset').length"), 0);
    assert_eq!(browser.script("return document.querySelector('#t-resident')"), Value::Null, "no resident for them");

    // A volunteer is told where their work is, not shown a refused board.
    browser.click("#logout");
    browser.type_into("#token", &format!("{volunteer}\u{e007}"));
    browser.wait("body[data-view=workspace] #ws-line");
    assert_eq!(browser.script("return document.querySelector('#board').hidden"), true);

    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_some() {
        let docs = workspace().join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for name in ["console-map", "console-intake"] {
            std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("{name}.png")))
                .expect("copy a screenshot");
        }
    }
    drop(browser);
    let _ = server.0.kill();
}
