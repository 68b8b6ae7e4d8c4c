//! `gridloop report weekly` and `gridloop report ranking` on a demo log:
//! a grid head's week printed, as JSON and as a page; the ranking's CSV for
//! Excel; bad input refused with a message and a non-zero exit.

use std::path::Path;

use gridloop_engine::ticket::TicketEvent;
use gridloop_engine::weekly::IsoWeek;

use crate::support::{gridloop, stderr, stdout};

fn with_data(args: &[&str], data: &Path) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--data".to_string(), data.to_str().expect("utf-8").to_string()]);
    all
}

fn run(args: &[&str], data: &Path) -> std::process::Output {
    let all = with_data(args, data);
    gridloop(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The grid, week and submission instant of the demo's first ticket, from
/// the exported log.
fn first_ticket(data: &Path) -> (String, String, String) {
    let export = run(&["export"], data);
    assert!(export.status.success(), "{}", stderr(&export));
    for line in stdout(&export).lines() {
        let event: gridloop_engine::envelope::RecordedEvent = serde_json::from_str(line).expect("an event");
        if event.stream.kind() == "ticket"
            && let Ok(TicketEvent::Submitted { grid, .. }) = event.decode()
        {
            let week = IsoWeek::containing(event.occurred_at).to_string();
            // The ticket may be in a sub-grid; the report is its grid's.
            let grid = grid.at_level(gridloop_engine::grid::Level::Grid).expect("within a grid");
            return (grid.to_string(), week, event.occurred_at.to_string());
        }
    }
    panic!("the demo submitted no ticket");
}

#[test]
fn report_weekly_prints_a_grid_heads_week_and_writes_its_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let demo = run(&["demo", "--days", "2", "--orders-per-day", "40"], &data);
    assert!(demo.status.success(), "{}", stderr(&demo));
    let (grid, week, _) = first_ticket(&data);
    let closes = IsoWeek::parse(&week).expect("a week").closes().to_string();
    let page = dir.path().join("weekly.html");
    let args = ["report", "weekly", "--grid", &grid, "--week", &week, "--as-of", &closes];
    let mut with_page = args.to_vec();
    with_page.extend(["--html", page.to_str().expect("utf-8")]);
    let out = run(&with_page, &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("网格长周报告") && text.contains(&grid) && text.contains(&week), "{text}");
    assert!(text.contains("tickets by status: ") && !text.contains("tickets by status: none"), "{text}");
    assert!(text.contains("按期办结率 On time") && text.contains("report: not submitted"), "{text}");
    let html = std::fs::read_to_string(&page).expect("the page is written");
    assert!(html.contains("@page{size:A4 portrait") && html.contains(r#"data-test="weekly""#), "{html}");

    // The JSON's counts agree with the text's and with themselves.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(&json_args, &data))).expect("JSON");
    let submitted = json["figures"]["submitted"].as_u64().expect("a count");
    let by_status: u64 =
        json["week"]["by_status"].as_object().expect("an object").values().filter_map(|v| v.as_u64()).sum();
    assert!(submitted > 0);
    assert_eq!(by_status, submitted);
    assert_eq!(json["week"]["rates"]["submitted"].as_u64(), Some(submitted));

    let csv_path = dir.path().join("ranking.csv");
    let ranking = run(
        &[
            "report",
            "ranking",
            "--week",
            &week,
            "--by",
            "street",
            "--as-of",
            &closes,
            "--csv",
            csv_path.to_str().expect("utf-8"),
        ],
        &data,
    );
    assert!(ranking.status.success(), "{}", stderr(&ranking));
    assert!(stdout(&ranking).contains("rank"), "{}", stdout(&ranking));
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV is written");
    assert!(csv.starts_with('\u{feff}') && csv.contains("\r\n\"1\","), "{csv}");
}

#[test]
fn report_refuses_bad_input_with_a_message_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    crate::support::with_chikan(&data, None);
    let cases: [(&[&str], &str); 5] = [
        (&["report", "weekly", "--grid", "440802-001-001-001", "--week", "2026-W99"], "--week"),
        (&["report", "weekly", "--grid", "440802-001-001-001", "--week", "49"], "--week"),
        (&["report", "weekly", "--grid", "not a grid", "--week", "2026-W49"], "--grid"),
        (&["report", "weekly", "--grid", "440802-001", "--week", "2026-W49"], "--grid"),
        (&["report", "ranking", "--by", "volunteer"], "--by"),
    ];
    for (args, flag) in cases {
        let out = run(args, &data);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}
