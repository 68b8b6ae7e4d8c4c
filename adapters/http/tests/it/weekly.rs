//! The weekly ranking and the grid heads' weekly reports over HTTP: who
//! may read and submit, what a submission writes, the community's view,
//! the formats (JSON, an HTML fragment, CSV with a BOM), and bad input
//! that writes nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridloop_engine::grid::Level;
use gridloop_engine::store::EventStore as _;
use tower::ServiceExt as _;

use crate::{Harness, VOLUNTEER_ITEM, code, harness};

async fn log_length(h: &Harness) -> usize {
    h.store.read_all(0, 100_000).await.expect("the log").len()
}

/// The raw answer: status, content type, body text.
async fn raw(h: &Harness, path: &str, who: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", h.token(who)))
        .body(Body::empty())
        .expect("a request");
    let response = h.router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    (status, kind, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

fn weekly_path(h: &Harness) -> String {
    format!("/api/v1/reports/weekly/{}/2026-W48", h.grid)
}

#[tokio::test]
async fn a_grid_head_submits_the_week_and_the_community_sees_who_has_not_reported() {
    let h = harness().await;
    let ticket = h.order(VOLUNTEER_ITEM).await;
    let (status, week) = h.get(&weekly_path(&h), "grid_head").await;
    assert_eq!(status, StatusCode::OK, "{week}");
    assert_eq!(week["figures"]["submitted"], 1);
    assert_eq!(week["week"]["by_status"]["waiting"], 1);
    assert!(week["report"].is_null());

    let before = log_length(&h).await;
    let (status, answer) = h
        .send("POST", &weekly_path(&h), Some("grid_head"), Some("w-1"), r#"{"narrative":"本周报修 1 件，待受理。"}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(log_length(&h).await, before + 1);
    let event = &answer["events"][0];
    assert_eq!(event["schema"], "weekly.report_submitted/1");
    let community = h.grid.at_level(Level::Community).expect("a community");
    assert_eq!(event["payload"]["community"], community.as_str());
    assert_eq!(event["payload"]["revision"], 1);
    assert_eq!(event["payload"]["figures"]["submitted"], 1);

    // The same narrative on the same figures again writes nothing.
    let (status, again) = h
        .send("POST", &weekly_path(&h), Some("grid_head"), Some("w-2"), r#"{"narrative":"本周报修 1 件，待受理。"}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["events"].as_array().map(Vec::len), Some(0));
    assert_eq!(log_length(&h).await, before + 1);

    let (status, reports) = h.get(&format!("/api/v1/reports/community/{community}/2026-W48"), "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{reports}");
    let grids = reports["grids"].as_array().expect("grids");
    let ours = grids.iter().find(|g| g["grid"] == h.grid.as_str()).expect("our grid");
    assert_eq!(ours["reported"], true);
    assert_eq!(ours["report"]["narrative"], "本周报修 1 件，待受理。");
    assert_eq!(ours["report"]["by"]["id"], "gh-1");
    let missing = reports["not_reported"].as_array().expect("a list");
    assert_eq!(missing.len(), grids.len() - 1, "every other grid has not reported");
    assert!(!missing.iter().any(|g| g == h.grid.as_str()));

    let (status, kind, html) = raw(&h, &format!("{}?format=html", weekly_path(&h)), "dispatcher").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains(r#"data-test="weekly""#) && html.contains("本周报修 1 件，待受理。"), "{html}");
    assert!(html.contains(&ticket) || html.contains("待受理 Waiting"));
}

#[tokio::test]
async fn only_the_grids_head_submits_and_readers_stay_within_their_place() {
    let h = harness().await;
    let body = r#"{"narrative":"本周平稳"}"#;
    let before = log_length(&h).await;
    for who in ["grid_worker", "dispatcher", "resident", "volunteer", "department", "auditor", "far_official"] {
        let (status, answer) = h.send("POST", &weekly_path(&h), Some(who), Some("w-x"), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {answer}");
    }
    for who in ["far_official", "far_dispatcher", "resident", "volunteer", "department"] {
        let (status, answer) = h.get(&weekly_path(&h), who).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {answer}");
    }
    for who in ["resident", "volunteer", "grid_worker"] {
        let (status, _) = h.get("/api/v1/reports/ranking?week=2026-W48", who).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    // An official reads the ranking of their own street, not another's.
    let (status, answer) = h.get("/api/v1/reports/ranking?week=2026-W48", "far_official").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let inside = h.grid.at_level(Level::Street).expect("a street");
    let (status, _) = h.get(&format!("/api/v1/reports/ranking?week=2026-W48&scope={inside}"), "far_official").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(log_length(&h).await, before);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_writes_nothing() {
    let h = harness().await;
    let before = log_length(&h).await;
    let community = h.grid.at_level(Level::Community).expect("a community");
    let posts = [
        (format!("/api/v1/reports/weekly/{}/2026-W99", h.grid), r#"{"narrative":"x"}"#.to_string()),
        // A community is no grid, and lies outside a grid head's place.
        (format!("/api/v1/reports/weekly/{}/2026-W48", community), r#"{"narrative":"x"}"#.to_string()),
        (weekly_path(&h), r#"{"narrative":""}"#.to_string()),
        (weekly_path(&h), r#"{"narrative":"x","extra":1}"#.to_string()),
        (weekly_path(&h), format!(r#"{{"narrative":"{}"}}"#, "字".repeat(2_001))),
        // Next week has not begun.
        (format!("/api/v1/reports/weekly/{}/2026-W49", h.grid), r#"{"narrative":"x"}"#.to_string()),
    ];
    for (path, body) in &posts {
        let (status, answer) = h.send("POST", path, Some("grid_head"), Some("k"), body).await;
        assert!(status.is_client_error(), "{path} {body}: {status} {answer}");
        assert!(matches!(code(&answer), "invalid_input" | "illegal_transition" | "not_permitted"), "{path}: {answer}");
    }
    let (status, answer) = h.send("POST", &weekly_path(&h), Some("grid_head"), Some("k"), "{not json").await;
    assert!(status.is_client_error(), "{answer}");
    for path in [
        "/api/v1/reports/ranking?week=2026-W54".to_string(),
        "/api/v1/reports/ranking?by=volunteer".to_string(),
        "/api/v1/reports/ranking?format=xml".to_string(),
        format!("/api/v1/reports/ranking?week={}", "9".repeat(200)),
        format!("/api/v1/reports/community/{}/2026-W48", h.grid),
        format!("/api/v1/reports/weekly/{}/2026-W48?format=csv", h.grid),
        "/api/v1/reports/weekly/not-a-grid/2026-W48".to_string(),
    ] {
        let (status, answer) = h.get(&path, "dispatcher").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert!(matches!(code(&answer), "invalid_input" | "bad_grid_code"), "{path}: {answer}");
    }
    assert_eq!(log_length(&h).await, before);
}

#[tokio::test]
async fn the_ranking_comes_as_json_an_html_fragment_and_csv_for_excel() {
    let h = harness().await;
    h.order(VOLUNTEER_ITEM).await;
    let (status, ranking) = h.get("/api/v1/reports/ranking?week=2026-W48&by=street", "dispatcher").await;
    assert_eq!(status, StatusCode::OK, "{ranking}");
    let street = h.grid.at_level(Level::Street).expect("a street");
    let rows = ranking["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{ranking}");
    assert_eq!((rows[0]["rank"].as_u64(), rows[0]["key"].as_str()), (Some(1), Some(street.as_str())));
    assert_eq!(rows[0]["submitted"], 1);
    assert_eq!(rows[0]["on_time"]["denominator"], 0, "nothing is due yet");

    let (status, kind, csv) = raw(&h, "/api/v1/reports/ranking?week=2026-W48&by=street&format=csv", "dispatcher").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with(&format!("\"1\",\"{street}\",")), "{}", lines[1]);

    let (status, kind, html) = raw(&h, "/api/v1/reports/ranking?week=2026-W48&by=street&format=html", "auditor").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"));
    assert!(html.contains(&format!(r#"data-key="{street}""#)), "{html}");
    // The pages are shells anyone may load; their data needs a token.
    let (status, _, page) = raw(&h, "/reports/ranking", "resident").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/reports/app.js"));
}
