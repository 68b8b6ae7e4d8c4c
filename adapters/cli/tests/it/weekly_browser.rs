//! The weekly pages in a real browser: `gridloop serve` on the Chikan world,
//! tickets ordered through the API this week, a grid head opens the week's
//! report, writes the narrative and submits it; the page is then laid out
//! for print (CDP `Emulation.setEmulatedMedia`) and printed to PDF
//! (`Page.printToPDF` with the page's own size), which must come out A4 in
//! at most two pages without the screen's controls; the ranking page shows
//! the community. Screenshots go to `target/screenshots/`; with
//! `GRIDLOOP_BLESS_SCREENSHOTS=1` also to `docs/screenshots/`
//! (`weekly-*.png`, `ranking-*.png`).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use gridloop_engine::grid::Level;
use gridloop_engine::weekly::IsoWeek;
use serde_json::{Value, json};

use crate::browser::{Browser, Killed, base64_decode, http, screenshots_dir, tool, workspace};
use crate::support::{gridloop, stderr, stdout};

fn token(args: &[&str]) -> String {
    let out = gridloop(args);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).split_whitespace().last().expect("a token").to_string()
}

/// A DevTools command through ChromeDriver.
fn cdp(browser: &Browser, cmd: &str, params: Value) -> Value {
    browser.call("POST", "/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).expect(cmd)
}

fn serve(data: &str) -> (Killed, String) {
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
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (server, addr)
}

fn order(addr: &str, auth: &str, grid: &str, item: &str, text: &str) -> String {
    let body = json!({ "category": item, "grid": grid, "description": text, "resident": "r-7" });
    let (status, body) = http(addr, "POST", "/api/v1/tickets", &[("Authorization", auth)], &body.to_string());
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["id"].as_str().expect("an id").to_string()
}

fn bless(names: &[&str]) {
    if std::env::var_os("GRIDLOOP_BLESS_SCREENSHOTS").is_some() {
        let docs = workspace().join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for name in names {
            std::fs::copy(screenshots_dir().join(format!("{name}.png")), docs.join(format!("{name}.png")))
                .expect("copy a screenshot");
        }
    }
}

#[test]
fn a_grid_head_submits_the_week_and_the_page_prints_on_a4() {
    tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
    tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    crate::support::with_chikan(&data_dir, None);
    let data = data_dir.to_str().expect("a UTF-8 path");
    let district = gridloop_fixtures::chikan(1).expect("fixtures");
    let grid = district.world.grids.at_level(Level::Grid).next().expect("a grid").code.clone();
    let community = grid.at_level(Level::Community).expect("a community");
    let dispatcher = token(&["token", "create", "--role", "dispatcher", "--subject", "d-1", "--data", data]);
    let head = token(&[
        "token",
        "create",
        "--role",
        "grid_head",
        "--subject",
        "gh-1",
        "--place",
        grid.as_str(),
        "--data",
        data,
    ]);
    let street = grid.at_level(Level::Street).expect("a street");
    let official = token(&[
        "token",
        "create",
        "--role",
        "official",
        "--subject",
        "o-1",
        "--place",
        street.as_str(),
        "--data",
        data,
    ]);
    let (_server, addr) = serve(data);
    let origin = format!("http://{addr}");
    let auth = format!("Bearer {dispatcher}");
    order(&addr, &auth, grid.as_str(), "IC-003", "独居老人家中水管漏水");
    order(&addr, &auth, grid.as_str(), "CS-001", "老人行动不便，需陪同就医");
    let lamp = order(&addr, &auth, grid.as_str(), "SC-001", "小区路灯不亮");
    let escalate = json!({ "reason": "difficulty", "note": "需街道协调" }).to_string();
    let (status, body) =
        http(&addr, "POST", &format!("/api/v1/tickets/{lamp}/escalate"), &[("Authorization", &auth)], &escalate);
    assert_eq!(status, 200, "{body}");
    let week = IsoWeek::containing(gridloop_engine::service::Clock::now(&gridloop_http::SystemClock)).to_string();

    let browser = Browser::start(&dir.path().join("profile"));
    browser.resize(1100, 1300);
    browser.open(&format!("{origin}/reports/weekly?grid={grid}&week={week}"));
    browser.type_into("#token", &head);
    browser.click("#show");
    browser.wait("[data-test=weekly]");
    assert_eq!(browser.text("[data-test=not-submitted]"), "尚未提交 · Not submitted yet");
    assert!(browser.text("[data-test=escalated]").contains(&lamp), "the escalated lamp is listed");
    let narrative = "本周受理 3 件：水管漏水、陪同就医已派单，路灯已上报街道协调。下周重点走访独居老人。";
    browser.type_into("#narrative", narrative);
    browser.click("[data-test=submit]");
    browser.wait("[data-test=narrative-text]");
    assert_eq!(browser.text("[data-test=narrative-text]"), narrative);
    browser.screenshot("weekly-report");

    // The community sees it, and which grids have not reported.
    let path = format!("/api/v1/reports/community/{community}/{week}");
    let (status, body) = http(&addr, "GET", &path, &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert!(!answer["not_reported"].as_array().expect("a list").iter().any(|g| g == grid.as_str()));

    // Laid out for print: no controls, and the PDF is A4 in at most two pages.
    cdp(&browser, "Emulation.setEmulatedMedia", json!({ "media": "print" }));
    let toolbar = browser.script("return getComputedStyle(document.querySelector('.toolbar')).display");
    assert_eq!(toolbar, "none", "the screen's controls are not printed");
    let form = browser.script("return getComputedStyle(document.querySelector('#submit')).display");
    assert_eq!(form, "none");
    browser.screenshot("weekly-print");
    let pdf = cdp(&browser, "Page.printToPDF", json!({ "preferCSSPageSize": true, "printBackground": true }));
    let pdf = base64_decode(pdf["data"].as_str().expect("base64 PDF"));
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page\n").count()
        + text.matches("/Type /Page ").count()
        + text.matches("/Type /Page>").count()
        + text.matches("/Type /Page/").count();
    assert!((1..=2).contains(&pages), "{pages} pages");
    let media = text.split("/MediaBox").nth(1).expect("a media box");
    let numbers: Vec<f64> = media
        .trim_start()
        .trim_start_matches('[')
        .split(']')
        .next()
        .expect("a box")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    // A4 is 595 × 842 points.
    assert!((numbers[2] - 595.0).abs() < 2.0 && (numbers[3] - 842.0).abs() < 2.0, "not A4: {numbers:?}");
    std::fs::create_dir_all(screenshots_dir()).expect("target/screenshots");
    std::fs::write(screenshots_dir().join("weekly-report.pdf"), &pdf).expect("write the PDF");
    cdp(&browser, "Emulation.setEmulatedMedia", json!({ "media": "" }));

    // The ranking, as the street's official reads it: their street's
    // communities. A grid head may not read it.
    browser.open(&format!("{origin}/reports/ranking?week={week}&by=community"));
    browser.wait("#error:not(:empty)");
    assert!(browser.text("#error").starts_with("not_permitted"), "{}", browser.text("#error"));
    browser.script("document.getElementById('token').value = ''; return null");
    browser.type_into("#token", &official);
    browser.click("#show");
    let row = format!("[data-test=rank-row][data-key='{community}']");
    browser.wait(&row);
    assert!(browser.text(&row).starts_with('1'), "{}", browser.text(&row));
    browser.screenshot("ranking-communities");
    bless(&["weekly-report", "weekly-print", "ranking-communities"]);
}
