//! The department's desktop page (`/d/`) in a real browser (`gridloop
//! serve` on a demo store, headless Chromium over WebDriver, as
//! `console_desk.rs`), at desktop width: a ticket assigned to a department
//! shows in its queue; the department returns it through the page; the
//! dispatcher insists through the API; the department asks for an
//! extension through the page; the dispatcher grants it; the page shows the
//! new deadline. The log holds each of the four events once.
//!
//! Screenshots go to `target/screenshots/`; with
//! `GRIDLOOP_BLESS_SCREENSHOTS=1` they are also copied to
//! `docs/screenshots/department-queue.png` and `department-ticket.png`.

use gridloop_engine::grid::Level;
use serde_json::{Value, json};

use crate::browser::{Browser, http, screenshots_dir, tool, until, workspace};
use crate::console_desk::{serve, token};
use crate::support::{gridloop, stderr};

/// `GET path` as `auth`, as JSON.
fn get(addr: &str, auth: &str, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[("Authorization", auth)], "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// `POST path` as `auth`, which must succeed.
fn post(addr: &str, auth: &str, path: &str, body: &Value) {
    let (status, answer) = http(addr, "POST", path, &[("Authorization", auth)], &body.to_string());
    assert_eq!(status, 200, "{path}: {answer}");
}

#[test]
fn a_department_returns_a_ticket_and_asks_for_an_extension_through_its_page() {
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "5", "--seed", "3", "--data", data]);
    assert!(demo.status.success(), "demo: {}", stderr(&demo));
    let dispatcher = token(data, &["--role", "dispatcher", "--subject", "d-440802", "--place", "440802"]);
    let department = token(data, &["--role", "department", "--subject", "civil_affairs"]);
    let (mut server, addr) = serve(data);
    let origin = format!("http://{addr}");
    let auth = format!("Bearer {dispatcher}");

    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).nth(2).expect("a grid").code.to_string();
    let body = json!({ "category": "CS-001", "grid": grid, "description": "独居老人低保待遇咨询", "resident": "r-9" });
    let (status, answer) = http(&addr, "POST", "/api/v1/tickets", &[("Authorization", &auth)], &body.to_string());
    assert_eq!(status, 201, "{answer}");
    let id = serde_json::from_str::<Value>(&answer).expect("json")["id"].as_str().expect("an id").to_string();
    let path = format!("/api/v1/tickets/{id}");
    let to = json!({ "to": { "kind": "department", "id": "civil_affairs" }, "reason": "派单" });
    post(&addr, &auth, &format!("{path}/assign"), &to);

    let browser = Browser::start(&dir.path().join("profile"));
    browser.resize(1280, 900);
    browser.open(&format!("{origin}/d/"));
    browser.type_into("#token", &format!("{department}\u{e007}"));
    browser.wait(&format!("#queue tr[data-id='{id}']"));
    browser.screenshot("department-queue");
    browser.click(&format!("#queue tr[data-id='{id}'] a"));
    browser.wait("#act-return");
    browser.type_into("#return-reason", "不属民政职责");
    browser.click("#return-button");
    until("the ticket returned", || get(&addr, &auth, &path)["status"] == "returned");
    until("gone from the queue", || {
        browser.script(&format!("return document.querySelector(\"#queue tr[data-id='{id}']\") === null")) == true
    });

    post(&addr, &auth, &format!("{path}/insist"), &json!({ "note": "属民政" }));
    // Another address than the page's (a hash alone would not load it again).
    browser.open(&format!("{origin}/d/?after=insist#{id}"));
    browser.wait("#act-ask-extension");
    let before = get(&addr, &auth, &path)["resolve_by"].as_str().expect("a deadline").to_string();
    // The picker takes local minutes; two days past the deadline, whole minutes.
    let until_at = browser.script(&format!(
        "const d = new Date(Date.parse('{before}') + 2 * 86400000); d.setSeconds(0, 0); const p = (n) => String(n).padStart(2, '0');\n\
         document.querySelector('#extension-until').value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());\n\
         return d.getTime();"
    ));
    browser.type_into("#extension-reason", "等待上级审批材料");
    browser.click("#ask-extension-button");
    until("the extension asked", || get(&addr, &auth, &path)["extension"].is_object());
    browser.wait("#t-extension");

    post(&addr, &auth, &format!("{path}/grant-extension"), &json!({}));
    let after = get(&addr, &auth, &path)["resolve_by"].as_str().expect("a deadline").to_string();
    assert_ne!(after, before, "the deadline moved");
    let moved = browser.script(&format!("return Date.parse('{after}')"));
    assert_eq!(moved, until_at, "the granted deadline is the one asked for");
    browser.open(&format!("{origin}/d/?after=grant#{id}"));
    browser.wait(&format!("#t-deadlines [data-kind='resolve'][data-at='{after}']"));
    assert!(browser.script("return document.querySelector('#t-extension') === null") == true, "no open request");
    browser.screenshot("department-ticket");

    let history = get(&addr, &auth, &format!("{path}/history"));
    let schemas: Vec<&str> =
        history["events"].as_array().expect("events").iter().map(|e| e["schema"].as_str().unwrap_or("")).collect();
    for schema in ["ticket.returned", "ticket.return_overruled", "ticket.extension_asked", "ticket.extension_granted"] {
        let count = schemas.iter().filter(|s| s.split('/').next() == Some(schema)).count();
        assert_eq!(count, 1, "{schema} once: {schemas:?}");
    }

    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_some() {
        let docs = workspace().join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for name in ["department-queue", "department-ticket"] {
            std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("{name}.png")))
                .expect("copy a screenshot");
        }
    }
    drop(browser);
    let _ = server.0.kill();
}
