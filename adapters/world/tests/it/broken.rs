//! A broken bundle is reported whole: every problem, each at its file and
//! line or feature, and nothing else (no problem that only repeats another).

use serde_json::json;

use crate::support::{collection, feature, features, files, printed, read, rect};

pub const BROKEN_CATALOG: &str = "\
code,name,category,department,mode,skills,accept_within,resolve_within,feedback_window,points,admitted,emergency,colour
CS-001,代购药品,community_service,civil_affairs,volunteer,errands,30m,4h,3d,5,yes,no,red
CS-002,下水道疏通,community_service,sewage,department,,1h,1d,3d,,no,,
CS-003,送餐,community_service,civil_affairs,volunteer,errands,4x,1d,3d,,yes,,

CS-001,代购药品,community_service,civil_affairs,volunteer,errands,30m,4h,3d,5,yes,no,
";

pub fn broken_grids() -> String {
    let grid = json!({"kind": "comprehensive"});
    let mut all = features();
    all.push(feature("130682-102-001", "孤村", json!({}), rect(115.0, 38.5, 115.05, 38.55)));
    let bow_tie = json!([[[114.96, 38.46], [114.99, 38.49], [114.99, 38.46], [114.96, 38.49], [114.96, 38.46]]]);
    all.push(feature("130682-101-001-003", "第3网格", grid.clone(), bow_tie));
    let open = json!([[[114.91, 38.46], [114.92, 38.46], [114.92, 38.47], [114.91, 38.47]]]);
    all.push(feature("130682-101-001-004", "第4网格", grid.clone(), open));
    all.push(feature("130682-101-001-005", "第5网格", grid, rect(114.98, 38.45, 115.2, 38.47)));
    collection(all)
}

#[test]
fn every_problem_is_named_by_file_and_line_or_feature() {
    let mut files = files();
    files.insert("catalog.csv", BROKEN_CATALOG.as_bytes().to_vec());
    files.insert("grids.geojson", broken_grids().into_bytes());
    let problems = read(&files).expect_err("the bundle is broken");
    let text = printed(&problems);
    let expected = [
        "catalog.csv:1: column colour: is not a column of catalog.csv (its columns: code, name,",
        "catalog.csv:3: column department: \"sewage\" is not in departments.csv\n",
        "catalog.csv:4: column accept_within: \"4x\": expected a whole number and a unit m, h or d, like 30m\n",
        "catalog.csv:6: column code: CS-001 is already on line 2\n",
        "grids.geojson: feature 5 (130682-102-001): property code: its parent 130682-102 is not in the file\n",
        "grids.geojson: feature 6 (130682-101-001-003): the ring crosses itself near 114.97500,38.47500\n",
        "grids.geojson: feature 7 (130682-101-001-004): the ring is not closed: its last point 114.910000,38.470000 is not its first, 114.910000,38.460000\n",
        "grids.geojson: feature 8 (130682-101-001-005): vertex 1 (115.200000,38.450000) lies outside the district's boundary\n",
    ];
    for line in expected {
        assert!(text.contains(line), "{line:?} is not among:\n{text}");
    }
    assert_eq!(problems.len(), expected.len(), "no other problem:\n{text}");
}

#[test]
fn a_missing_column_is_named_and_its_rows_are_not_guessed_at() {
    let mut files = files();
    files.insert("teams.csv", "id,name,scope\nTM-1,新江社区志愿队,130682-101-001\n".as_bytes().to_vec());
    let problems = read(&files).expect_err("teams.csv lacks its kind column");
    assert_eq!(printed(&problems), "teams.csv:1: column kind: is missing from the header; it is required\n");
}

#[test]
fn missing_files_and_references_across_files_are_problems() {
    let mut files = files();
    files.remove("departments.csv");
    files.insert(
        "volunteers.csv",
        "id,name,team,home_grid\nV-1,张三,TM-9,130682-101-001\nV-2,李四,TM-1,130682-101-001-009\n".as_bytes().to_vec(),
    );
    files.insert(
        "teams.csv",
        "id,name,kind,scope\nTM-1,甲队,community,130682-101-001\nTM-2,乙队,community,130682-101-001\n"
            .as_bytes()
            .to_vec(),
    );
    let text = printed(&read(&files).expect_err("broken"));
    for line in [
        "departments.csv: is missing; every bundle has it\n",
        "teams.csv:3: column scope: 130682-101-001 already has its own community team, TM-1 (line 2)\n",
        "volunteers.csv:2: column team: \"TM-9\" is not in teams.csv\n",
        "volunteers.csv:2: column home_grid: 130682-101-001 is a community; a volunteer's home is a grid or sub-grid\n",
        "volunteers.csv:3: column home_grid: \"130682-101-001-009\" is not in grids.geojson\n",
    ] {
        assert!(text.contains(line), "{line:?} is not among:\n{text}");
    }
    assert_eq!(text.lines().count(), 5, "{text}");
}

#[test]
fn the_engine_refuses_what_the_files_alone_allow() {
    // A volunteer item whose accept limit is longer than its resolve limit
    // is caught by the file check; a time zone the engine refuses by the
    // district file's check; what only the engine knows is reported at the
    // line that wrote it.
    let mut files = files();
    let district = crate::support::DISTRICT_TOML.replace("Asia/Shanghai", "Asia/Shang hai");
    files.insert("district.toml", district.into_bytes());
    let text = printed(&read(&files).expect_err("broken"));
    assert!(text.starts_with("district.toml:6: key district.time_zone: \"Asia/Shang hai\" is not an IANA"), "{text}");
}

#[test]
fn a_bad_toml_key_is_named_with_its_line() {
    let mut files = files();
    files.insert("district.toml", format!("{}\ncolour = \"red\"\n", crate::support::DISTRICT_TOML).into_bytes());
    let text = printed(&read(&files).expect_err("broken"));
    assert!(text.starts_with("district.toml:"), "{text}");
    assert!(text.contains("colour"), "{text}");
}

#[test]
fn a_duration_in_words_is_refused_not_split() {
    let mut files = files();
    let catalog = crate::support::CATALOG_CSV.replace(",30m,4h,", ",30m,4小时,");
    files.insert("catalog.csv", catalog.into_bytes());
    let text = printed(&read(&files).expect_err("broken"));
    assert!(text.starts_with("catalog.csv:2: column resolve_within: \"4小时\": expected a whole number"), "{text}");
}
