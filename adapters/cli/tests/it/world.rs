//! `gridloop world` as an operator uses it, on the second example district
//! (`fixtures/worlds/dingzhou`: towns and villages, 24 categories in 8
//! fields, GB18030 CSVs): check, a broken copy named error by error, import
//! into a fresh store, `serve --auto-dispatch` offering an order to the
//! bundle's volunteers, metrics and duty in the district's own names, and a
//! changed bundle re-imported while serving: the admission, the redrawn grid
//! and the exit in the log, in `audit`, and the world as of before.

use std::path::{Path, PathBuf};

use crate::serve::{request, start_with};
use crate::support::{gridloop, stderr, stdout};

fn dingzhou() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/dingzhou")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A copy of the Dingzhou bundle to break or change.
fn copy_of_dingzhou(to: &Path) {
    crate::support::copy_dir(&dingzhou(), to);
}

fn gb18030(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("reads");
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad, "{} is GB18030", path.display());
    text.lines().map(str::to_string).collect()
}

fn write_gb18030(path: &Path, lines: &[String]) {
    let text = lines.join("\r\n") + "\r\n";
    std::fs::write(path, encoding_rs::GB18030.encode(&text).0).expect("writes");
}

/// Sets `column` of the first data row whose `key_column` satisfies `pick`.
fn set_cell(lines: &mut [String], column: &str, value: &str, pick: impl Fn(&[&str], &[&str]) -> bool) -> String {
    let header: Vec<String> = lines[0].trim_start_matches('\u{feff}').split(',').map(str::to_string).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let at = header.iter().position(|h| *h == column).expect("the column");
    for line in lines.iter_mut().skip(1) {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        let view: Vec<&str> = cells.iter().map(String::as_str).collect();
        if pick(&header, &view) {
            cells[at] = value.to_string();
            let first = cells[0].clone();
            *line = cells.join(",");
            return first;
        }
    }
    panic!("no row to change in {column}");
}

#[test]
fn check_passes_the_second_example_and_names_every_error_of_a_broken_copy() {
    let out = gridloop(&["world", "check", s(&dingzhou())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("定州市 (130682)") && stdout(&out).contains("24 categories"), "{}", stdout(&out));

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken");
    copy_of_dingzhou(&broken);
    let mut catalog = gb18030(&broken.join("catalog.csv"));
    set_cell(&mut catalog, "department", "nowhere", |_, row| row[0] == catalog_first_code());
    write_gb18030(&broken.join("catalog.csv"), &catalog);
    let mut geo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(broken.join("grids.geojson")).expect("reads")).expect("json");
    let ring = first_ring(&mut geo["features"][5]["geometry"]);
    ring.pop();
    std::fs::write(broken.join("grids.geojson"), serde_json::to_vec(&geo).expect("json")).expect("writes");
    let data = dir.path().join("data");

    for args in [vec!["world", "check", s(&broken)], vec!["world", "import", s(&broken), "--data", s(&data)]] {
        let out = gridloop(&args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = stderr(&out);
        assert!(err.contains("catalog.csv:2: column department: \"nowhere\" is not in departments.csv"), "{err}");
        assert!(err.contains("grids.geojson: feature 5 (") && err.contains("is not closed"), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
    }
    assert!(!data.exists(), "an invalid bundle creates no store");
}

fn catalog_first_code() -> String {
    let lines = gb18030(&dingzhou().join("catalog.csv"));
    lines[1].split(',').next().expect("a code").to_string()
}

fn first_ring(geometry: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    let polygon = match geometry["type"].as_str() {
        Some("MultiPolygon") => &mut geometry["coordinates"][0],
        _ => &mut geometry["coordinates"],
    };
    polygon[0].as_array_mut().expect("a ring")
}

#[test]
fn a_fresh_store_serves_the_imported_district_and_takes_its_changes_while_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = gridloop(&["world", "import", s(&dingzhou()), "--data", s(&data)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("318 registered"), "{}", stdout(&out));
    let again = gridloop(&["world", "import", s(&dingzhou()), "--data", s(&data)]);
    assert!(stdout(&again).contains("nothing to write"), "{}", stdout(&again));

    let (_server, addr, tokens) = start_with(&data, &["--auto-dispatch"]);
    let dispatcher = tokens.get("dispatcher").expect("a dispatcher token");
    let (item, grid, skilled) = volunteer_order();
    let body = format!(r#"{{"category":"{item}","grid":"{grid}","description":"路口有安全隐患","resident":"r-1"}}"#);
    let (status, answer) = request(&addr, "POST", "/api/v1/tickets", Some(dispatcher), &body);
    assert_eq!(status, 201, "{answer}");
    let offered = wait_for_offer(&addr, dispatcher);
    assert!(!offered.is_empty() && offered.iter().all(|v| skilled.contains(v)), "{offered:?} ⊂ {skilled:?}");

    let metrics = gridloop(&["metrics", "--by", "category", "--data", s(&data)]);
    assert!(metrics.status.success(), "{}", stderr(&metrics));
    assert!(stdout(&metrics).contains("定州市 (all)"), "{}", stdout(&metrics));
    assert!(!stdout(&metrics).contains(&format!("{} ", category_of(&item))), "named, not coded");
    let duty = gridloop(&["duty", "--data", s(&data)]);
    assert!(stdout(&duty).contains("后盾单位"), "{}", stdout(&duty));
    changes_while_serving(dir.path(), &data);
}

/// Re-imports a changed copy through the running server: an item admitted,
/// a grid redrawn, a volunteer exited; each in the log, by the operator.
fn changes_while_serving(dir: &Path, data: &Path) {
    let before = gridloop(&["world", "show", "--data", s(data)]);
    let changed = dir.join("changed");
    copy_of_dingzhou(&changed);
    let mut catalog = gb18030(&changed.join("catalog.csv"));
    let admitted = set_cell(&mut catalog, "admitted", "是", |h, row| {
        row[h.iter().position(|c| *c == "admitted").expect("admitted")] == "否"
    });
    write_gb18030(&changed.join("catalog.csv"), &catalog);
    let mut geo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(changed.join("grids.geojson")).expect("reads")).expect("json");
    let redrawn = geo["features"][30]["properties"]["code"].as_str().expect("a code").to_string();
    let ring = first_ring(&mut geo["features"][30]["geometry"]);
    let (x, y) = (ring[0][0].as_f64().expect("x"), ring[0][1].as_f64().expect("y"));
    let (nx, ny) = (ring[1][0].as_f64().expect("x"), ring[1][1].as_f64().expect("y"));
    ring.insert(1, serde_json::json!([((x + nx) / 2.0 * 1e6).round() / 1e6, ((y + ny) / 2.0 * 1e6).round() / 1e6]));
    std::fs::write(changed.join("grids.geojson"), serde_json::to_vec(&geo).expect("json")).expect("writes");
    let volunteers_path = changed.join("volunteers.csv");
    let mut volunteers: Vec<String> =
        std::fs::read_to_string(&volunteers_path).expect("utf-8").lines().map(str::to_string).collect();
    let exited = set_cell(&mut volunteers, "status", "exited", |h, row| {
        row[h.iter().position(|c| *c == "status").expect("status")].is_empty()
            || row[h.iter().position(|c| *c == "status").expect("status")] == "active"
    });
    set_cell(&mut volunteers, "reason", "连续三个月未服务，警示后退出", |_, row| {
        row[0] == exited.trim_start_matches('\u{feff}')
    });
    std::fs::write(&volunteers_path, volunteers.join("\r\n") + "\r\n").expect("writes");

    // Named relative to this directory: the running server, whose working
    // directory is another, gets it made absolute.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridloop"))
        .args(["world", "import", "changed", "--operator", "zhang", "--data", s(data)])
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 world events") && stdout(&out).contains("1 exited"), "{}", stdout(&out));
    let log = stdout(&gridloop(&["world", "log", "--data", s(data)]));
    assert!(log.contains(&format!("item_admitted      by admin zhang  {admitted}")), "{log}");
    assert!(log.contains(&format!("grid_redrawn       by admin zhang  {redrawn}")), "{log}");
    let exited = exited.trim_start_matches('\u{feff}');
    let audit = gridloop(&["audit", exited, "--verify", "--data", s(data)]);
    assert!(stdout(&audit).contains("exited") && stdout(&audit).contains("警示后退出"), "{}", stdout(&audit));
    let first_change = log.lines().find(|l| l.contains("item_admitted      by admin zhang")).expect("a line");
    let changed_at =
        gridloop_engine::time::Timestamp::parse(first_change.split_whitespace().next().expect("time")).expect("a time");
    let as_of = gridloop_engine::time::Timestamp::from_millis(changed_at.as_millis() - 1).expect("a time");
    let then = gridloop(&["world", "show", "--as-of", &as_of.to_string(), "--data", s(data)]);
    let now = gridloop(&["world", "show", "--data", s(data)]);
    let admitted_line = |o: &std::process::Output| {
        stdout(o).lines().find(|l| l.starts_with("Catalog:")).expect("a catalog line").to_string()
    };
    assert_eq!(admitted_line(&then), admitted_line(&before), "as of before the change: as it was");
    assert_ne!(admitted_line(&now), admitted_line(&before), "now: one more admitted");
}

/// A volunteer item of the catalog, a grid where volunteers with its skill
/// live, and those volunteers.
fn volunteer_order() -> (String, String, Vec<String>) {
    let catalog = gb18030(&dingzhou().join("catalog.csv"));
    let header: Vec<&str> = catalog[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("a column");
    let volunteers = std::fs::read_to_string(dingzhou().join("volunteers.csv")).expect("utf-8");
    let vlines: Vec<&str> = volunteers.lines().collect();
    let vheader: Vec<&str> = vlines[0].trim_start_matches('\u{feff}').split(',').collect();
    let vcol = |name: &str| vheader.iter().position(|h| *h == name).expect("a column");
    for row in catalog.iter().skip(1).map(|l| l.split(',').collect::<Vec<_>>()) {
        if row[col("mode")] != "volunteer" || !matches!(row[col("admitted")], "是" | "yes") {
            continue;
        }
        let skill = row[col("skills")].split([';', '；', '、', '|']).next().expect("a skill");
        let rows: Vec<Vec<&str>> = vlines.iter().skip(1).map(|l| l.split(',').collect()).collect();
        let skilled: Vec<&Vec<&str>> = rows
            .iter()
            .filter(|v| v[vcol("skills")].split([';', '；', '、', '|']).any(|s| s == skill))
            .filter(|v| v.get(vcol("status")).is_none_or(|s| s.is_empty() || *s == "active"))
            .collect();
        let Some(first) = skilled.first() else { continue };
        let ids = skilled.iter().map(|v| v[vcol("id")].to_string()).collect();
        return (row[col("code")].to_string(), first[vcol("home_grid")].to_string(), ids);
    }
    panic!("the bundle has a volunteer item someone can take");
}

fn wait_for_offer(addr: &str, token: &str) -> Vec<String> {
    for _ in 0..100 {
        let (_, body) = request(addr, "GET", "/api/v1/tickets/T-1", Some(token), "");
        let ticket: serde_json::Value = serde_json::from_str(&body).expect("json");
        if let Some(candidates) = ticket["offer"]["candidates"].as_array() {
            return candidates.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the dispatcher policy offered T-1 to no one");
}

fn category_of(item: &str) -> String {
    let catalog = gb18030(&dingzhou().join("catalog.csv"));
    let header: Vec<&str> = catalog[0].split(',').collect();
    let at = header.iter().position(|h| *h == "category").expect("a column");
    catalog
        .iter()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|row| row[0] == item)
        .map(|row| row[at].to_string())
        .expect("the item")
}

/// One volunteer at a time from the command line, as at the community
/// station: registered with a name kept out of the log, stood down,
/// reactivated, exited; `audit V-…` shows each step; after the exit a
/// change is refused with a sentence and a non-zero exit.
#[test]
fn an_operator_registers_stands_down_and_exits_a_volunteer_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    assert!(gridloop(&["world", "import", s(&dingzhou()), "--data", s(&data)]).status.success());
    let (_, grid, _) = volunteer_order();
    let team = {
        let teams = gb18030(&dingzhou().join("teams.csv"));
        teams[1].split(',').next().expect("a team id").to_string()
    };
    let d = s(&data);
    let register = [
        "volunteer",
        "register",
        "V-9001",
        "--team",
        &team,
        "--home-grid",
        &grid,
        "--skills",
        "patrol,first_aid",
        "--name",
        "王芳",
        "--phone",
        "13800001234",
        "--data",
        d,
    ];
    let out = gridloop(&register);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("volunteer.registered"), "{}", stdout(&out));
    for args in [
        vec!["volunteer", "deactivate", "V-9001", "--reason", "外出务工", "--data", d],
        vec!["volunteer", "reactivate", "V-9001", "--data", d],
        vec!["volunteer", "exit", "V-9001", "--reason", "本人申请退出", "--data", d],
    ] {
        let out = gridloop(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let again = gridloop(&["volunteer", "deactivate", "V-9001", "--reason", "x", "--data", d]);
    assert!(!again.status.success() && stderr(&again).contains("left for good"), "{}", stderr(&again));
    let audit = stdout(&gridloop(&["audit", "V-9001", "--verify", "--data", d]));
    for step in ["registered", "deactivated", "reactivated", "exited"] {
        assert!(audit.contains(step), "{step} in {audit}");
    }
    assert!(!audit.contains("王芳"), "the name is not in the log: {audit}");
    let export = stdout(&gridloop(&["export", "--data", d]));
    assert!(!export.contains("王芳") && !export.contains("13800001234"), "nor in the export");
}
