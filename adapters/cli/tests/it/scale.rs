//! `gridloop bench --scale` at a small size: the harness runs end to end
//! (generate, serve, read, restart twice) and writes every measure.
//! No timing is asserted: only that each figure is there and sane.

use crate::support::{gridloop, stderr, stdout};

#[test]
fn bench_scale_measures_every_figure_on_a_small_log_with_the_open_tickets_asked_for() {
    let out = tempfile::tempdir().expect("a temp dir");
    let o = gridloop(&[
        "bench",
        "--scale",
        "--sizes",
        "20k",
        "--open",
        "90",
        "--requests",
        "20",
        "--out",
        out.path().to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "bench --scale failed:\n{}\n{}", stdout(&o), stderr(&o));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).expect("results.json")).expect("JSON");
    let size = &results["sizes"][0];
    let events = size["events"].as_f64().expect("events");
    assert!((18_000.0..=22_000.0).contains(&events), "20k events ±10%, got {events}");
    assert_eq!(size["open_tickets"], 90, "the open tickets asked for");
    assert!(size["tickets"].as_u64().expect("tickets") > 2_000, "a year of tickets behind the open ones");
    assert_eq!(size["refusals"], 0, "the engine accepted every generated step");
    let measures = size["measures"].as_object().expect("measures");
    for name in [
        "rss_ready_mib",
        "rss_after_queries_mib",
        "hwm_mib",
        "restart_rss_mib",
        "restart_again_rss_mib",
        "disk_bytes_per_event",
        "disk_gib",
        "first_ready_s",
        "restart_ready_s",
        "restart_again_ready_s",
        "p99_board_ms",
        "p99_rates_ms",
        "p99_audit_ms",
        "rebuild_events_per_s",
        "generate_events_per_s",
    ] {
        let v = measures.get(name).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
        assert!(v.is_finite() && v > 0.0, "{name} is positive, got {v}");
    }
    assert!(measures["rss_ready_mib"].as_f64() < Some(4096.0), "an RSS in MiB, not KiB");
    assert!(measures["first_ready_s"].as_f64() < Some(900.0), "ready before the harness's timeout");
    let per_event = measures["disk_bytes_per_event"].as_f64().expect("bytes per event");
    assert!((50.0..100_000.0).contains(&per_event), "bytes per event {per_event}");
    assert!(out.path().join("scale-rss-ready-mib.svg").exists(), "a plot per measure");
    assert!(std::fs::read_to_string(out.path().join("table.md")).expect("table.md").contains("p99 a year's rates"));
    assert!(stdout(&o).contains("| second restart to ready (nothing written since) (s) |"), "the table on stdout");
    assert!(!out.path().join("data-20000").exists(), "the data is deleted after measuring without --keep");
}
