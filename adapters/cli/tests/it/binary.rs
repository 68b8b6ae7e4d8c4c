//! The binary as a user meets it: help, the demo on sled, and refusals with
//! a clear message and a non-zero exit.

use std::process::Output;

use crate::support::{gridloop, stderr, stdout};

/// The demo's output without the lines that carry wall-clock figures.
fn stable_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.contains(" in ") && !l.starts_with("store:") && !l.starts_with("report:") && !l.starts_with("seal key")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn help_names_every_subcommand_and_the_data_flag() {
    let out = gridloop(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for word in ["demo", "metrics", "duty", "replay", "closed loop"] {
        assert!(text.contains(word), "help lacks {word}: {text}");
    }
    let demo = stdout(&gridloop(&["demo", "--help"]));
    assert!(demo.contains("--data <DIR>") && demo.contains("--seed") && demo.contains("--days"), "{demo}");
}

#[test]
fn demo_on_sled_prints_the_rates_and_is_reproducible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let run = |d: &std::path::Path| {
        gridloop(&[
            "demo",
            "--days",
            "1",
            "--seed",
            "4",
            "--orders-per-day",
            "40",
            "--data",
            d.to_str().expect("utf-8"),
        ])
    };
    let (first, second) = (run(&a), run(&b));
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    for column in ["accepted", "resolved", "on time", "satisfied", "in-grid", "赤坎区 (all)"] {
        assert!(text.contains(column), "the table lacks {column}: {text}");
    }
    assert_eq!(stable_lines(&text), stable_lines(&stdout(&second)), "same seed, same table");

    let metrics = gridloop(&["metrics", "--data", a.to_str().expect("utf-8"), "--json"]);
    assert!(metrics.status.success(), "{}", stderr(&metrics));
    let answer: serde_json::Value = serde_json::from_slice(&metrics.stdout).expect("json");
    let rows = answer["rows"].as_array().expect("rows");
    assert!(rows.len() >= 2 && rows.last().expect("total")["key"] == "赤坎区 (all)", "{answer}");
    let total = &rows.last().expect("total")["rates"];
    assert!(total["valid"].as_u64().expect("valid") > 0);
    assert!(total["completion"]["denominator"].as_u64().expect("denominator") > 0);

    let html = std::fs::read_to_string(a.join("report.html")).expect("the demo wrote its report");
    assert!(html.contains("<svg") && html.contains("中华街道"), "the report has charts and street names");
    assert!(!html.contains("https://"), "the report makes no network requests");

    let by_day =
        gridloop(&["metrics", "--data", a.to_str().expect("utf-8"), "--by", "day", "--scope", "street:440802-001"]);
    assert!(by_day.status.success(), "{}", stderr(&by_day));
    assert!(
        stdout(&by_day).contains("2026-11-02") && stdout(&by_day).contains("中华街道 (all)"),
        "{}",
        stdout(&by_day)
    );

    let default_month = gridloop(&["duty", "--data", a.to_str().expect("utf-8"), "--json"]);
    assert!(default_month.status.success(), "{}", stderr(&default_month));
    let default_month: serde_json::Value = serde_json::from_slice(&default_month.stdout).expect("json");
    let month = default_month["month"].as_str().expect("a month");
    assert!(month == "2026-11" || month == "2026-12", "the month of the last activity: {month}");
    let duty = gridloop(&["duty", "--data", a.to_str().expect("utf-8"), "--month", "2026-11", "--json"]);
    assert!(duty.status.success(), "{}", stderr(&duty));
    let duty: serde_json::Value = serde_json::from_slice(&duty.stdout).expect("json");
    assert_eq!(duty["month"], "2026-11");
    assert!(duty["members"].as_u64().expect("members") > 100, "every backup-agency member is listed");
    let bad_month = gridloop(&["duty", "--data", a.to_str().expect("utf-8"), "--month", "2026-13"]);
    assert!(!bad_month.status.success() && stderr(&bad_month).contains("YYYY-MM"));

    let replay = gridloop(&["replay", "--data", a.to_str().expect("utf-8")]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let replay_again = gridloop(&["replay", "--data", a.to_str().expect("utf-8")]);
    let digests =
        |o: &Output| stdout(o).lines().map(|l| l.rsplit(' ').next().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(digests(&replay).len(), 3);
    assert_eq!(digests(&replay), digests(&replay_again), "a rebuild gives the same bytes");
    let layers = gridloop(&["replay", "--layers", "--data", a.to_str().expect("utf-8")]);
    assert!(layers.status.success(), "{}", stderr(&layers));
    let passes: Vec<String> = stdout(&layers).lines().map(str::to_string).collect();
    assert_eq!(passes.len(), 4, "four passes: {passes:?}");
    let events: Vec<&str> = passes.iter().map(|l| l.split_whitespace().rev().nth(5).unwrap_or("")).collect();
    assert!(
        events.iter().all(|n| *n == events[0] && n.parse::<u64>().is_ok_and(|n| n > 0)),
        "every pass reads the whole log: {passes:?}"
    );

    let again = run(&a);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already holds"), "{}", stderr(&again));
}

#[test]
fn a_directory_holding_something_else_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let out = gridloop(&["demo", "--days", "1", "--data", dir.path().to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("holds something else"), "{}", stderr(&out));
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names, ["notes.txt"], "nothing was written");
}

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    for args in [&["demo", "--days", "0"][..], &["demo", "--days", "many"], &["demo", "--seed", "-1"], &["frobnicate"]]
    {
        let out = gridloop(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!stderr(&out).is_empty(), "{args:?} should say why");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let nothing = dir.path().join("nothing");
    let out = gridloop(&["metrics", "--data", nothing.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a gridloop data directory"), "{}", stderr(&out));
    assert!(!nothing.exists(), "metrics creates nothing");
    let cases: [(&[&str], &str); 7] = [
        (&["--scope", "street:440802-001-001"], "is a community code"),
        (&["--scope", "440802-001"], "LEVEL:CODE"),
        (&["--scope", "street:440802-099"], "not found"),
        (&["--by", "year"], "is not one of"),
        (&["--from", "2026-02-30"], "--from"),
        (&["--from", "2026-11-05", "--to", "2026-11-01"], "before --to"),
        (&["--as-of", "yesterday"], "--as-of"),
    ];
    let data = dir.path().join("data");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "10", "--data", data.to_str().expect("utf-8")]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    for (flags, says) in cases {
        let mut args = vec!["metrics", "--data", data.to_str().expect("utf-8")];
        args.extend_from_slice(flags);
        let out = gridloop(&args);
        assert!(!out.status.success(), "{flags:?}");
        assert!(stderr(&out).contains(says), "{flags:?} should say {says:?}: {}", stderr(&out));
    }
}

#[test]
fn a_resident_is_erased_and_the_sealed_history_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf-8");
    let demo = gridloop(&["demo", "--days", "1", "--orders-per-day", "15", "--data", d]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    assert!(stdout(&demo).contains("log sealed at every simulated midnight"), "{}", stdout(&demo));
    assert!(!gridloop(&["keys", "init", "--data", d]).status.success(), "the demo made the key; a second is refused");

    let audit = gridloop(&["audit", "T-1", "--json", "--data", d]);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let answer: serde_json::Value = serde_json::from_slice(&audit.stdout).expect("json");
    let resident = answer["resident"].as_str().expect("a resident line").to_string();
    let id = resident.split(' ').next().expect("the id").to_string();
    assert!(resident.contains("****") && !resident.contains("erased"), "a masked phone: {resident}");

    let erase = gridloop(&["resident", "erase", &id, "--data", d]);
    assert!(erase.status.success(), "{}", stderr(&erase));
    let again = gridloop(&["audit", "T-1", "--data", d]);
    assert!(stdout(&again).contains("erased"), "{}", stdout(&again));
    let name = resident.split(" · ").nth(1).expect("a name").to_string();
    assert!(!stdout(&again).contains(&name), "the name is gone");
    let verify = gridloop(&["audit", "--all", "--verify", "--data", d]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(stdout(&verify).contains("seals verified"), "{}", stdout(&verify));
    assert!(!gridloop(&["resident", "erase", &id, "--data", d]).status.success(), "nothing left to erase");
    assert!(!gridloop(&["resident", "erase", "not an id", "--data", d]).status.success());
}

#[test]
fn tokens_are_shown_once_and_stored_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("data");
    let d = d.to_str().expect("utf-8");
    let made = gridloop(&["token", "create", "--role", "volunteer", "--subject", "V-7", "--data", d]);
    assert!(made.status.success(), "{}", stderr(&made));
    let token = stdout(&made).trim().rsplit(' ').next().expect("the token").to_string();
    assert_eq!(token.len(), 64, "{}", stdout(&made));
    let stored = std::fs::read_to_string(dir.path().join("data/tokens.json")).expect("the token file");
    assert!(!stored.contains(&token), "only the hash is kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = std::fs::metadata(dir.path().join("data/tokens.json")).expect("the token file");
        assert_eq!(file.permissions().mode() & 0o777, 0o600, "the token file is its owner's only");
    }
    // A place must be in the district: refused before the world is there.
    let placed = ["token", "create", "--role", "dispatcher", "--subject", "d-1", "--place", "440802-001", "--data", d];
    let early = gridloop(&placed);
    assert!(!early.status.success(), "no district yet: {}", stdout(&early));
    assert!(stderr(&early).contains("not in the district"), "{}", stderr(&early));
    crate::support::with_chikan(std::path::Path::new(d), None);
    let dispatcher = gridloop(&[
        "token",
        "create",
        "--role",
        "dispatcher",
        "--subject",
        "d-1",
        "--place",
        "440802-001",
        "--data",
        d,
    ]);
    assert!(dispatcher.status.success(), "{}", stderr(&dispatcher));
    for bad in [
        &["token", "create", "--role", "king", "--subject", "x", "--data", d][..],
        &["token", "create", "--role", "dispatcher", "--subject", "d-2", "--place", "44", "--data", d],
        &["token", "create", "--role", "volunteer", "--subject", "has space", "--data", d],
    ] {
        let out = gridloop(bad);
        assert!(!out.status.success() && !stderr(&out).is_empty(), "{bad:?}");
    }
}
