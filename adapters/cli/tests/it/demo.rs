//! The demo simulation over the in-memory store: a healthy run meets no
//! unexpected refusal, its log verifies, and the same seed tells the same
//! story.

use std::collections::BTreeMap;
use std::sync::Arc;

use gridloop_cli::demo::{self, DemoConfig, DemoSummary};
use gridloop_cli::report;
use gridloop_engine::envelope::{RecordedEvent, verify_stream};
use gridloop_engine::service::{CommandService, ManualClock, fold};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Status, Ticket};
use gridloop_policies::points::PointsPolicy;

async fn run(seed: u64, days: u32) -> (MemoryStore, DemoSummary) {
    let store = MemoryStore::new();
    let district = Arc::new(gridloop_fixtures::chikan(seed).expect("fixture"));
    let config = DemoConfig { orders_per_day: 60, ..DemoConfig::new(days, seed) };
    let summary = demo::run(store.clone(), district, &config, |_, _| {}).await.expect("demo runs");
    (store, summary)
}

fn by_stream(log: &[RecordedEvent]) -> BTreeMap<String, Vec<RecordedEvent>> {
    let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
    for event in log {
        streams.entry(event.stream.to_string()).or_default().push(event.clone());
    }
    streams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_closes_every_loop_and_its_log_verifies() {
    let (store, summary) = run(3, 2).await;
    assert!(summary.unexpected.is_empty(), "unexpected refusals: {:?}", summary.unexpected);
    assert_eq!(summary.open, 0, "every ticket's story ends within the drain period");
    let log = store.snapshot();
    let streams = by_stream(&log);
    let mut final_statuses = BTreeMap::new();
    for (name, events) in &streams {
        verify_stream(events).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("ticket-") {
            let ticket: Ticket = fold(events).expect("folds");
            *final_statuses.entry(ticket.status).or_insert(0u64) += 1;
            assert!(ticket.status.is_final(), "{name} ended {:?}", ticket.status);
        }
    }
    assert_eq!(final_statuses.values().sum::<u64>(), summary.tickets);
    assert!(final_statuses.get(&Status::Closed).copied().unwrap_or(0) > summary.tickets * 9 / 10, "{final_statuses:?}");
    assert!(final_statuses.contains_key(&Status::Cancelled) || final_statuses.contains_key(&Status::Duplicate));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_counts_and_rates() {
    let (a_store, a) = run(5, 2).await;
    let (b_store, b) = run(5, 2).await;
    assert_eq!(a, b);
    assert_eq!(a_store.snapshot().len(), b_store.snapshot().len());
    let district = gridloop_fixtures::chikan(5).expect("fixture");
    let (ma, _) = report::fold_metrics(&a_store, |_| {}).await.expect("fold");
    let (mb, _) = report::fold_metrics(&b_store, |_| {}).await.expect("fold");
    let rows_a = report::rates_by_street(&ma, &district.world.grids, a.orders_end, a.end);
    let rows_b = report::rates_by_street(&mb, &district.world.grids, b.orders_end, b.end);
    assert_eq!(rows_a, rows_b);
    let (_, c) = run(6, 2).await;
    assert_ne!(a.commands, c.commands, "another seed tells another story");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_are_awarded_once_per_closed_ticket() {
    let (store, summary) = run(7, 2).await;
    let district = Arc::new(gridloop_fixtures::chikan(7).expect("fixture"));
    let service =
        CommandService::new(store.clone(), district.world.clone(), Arc::new(ManualClock::new(summary.end)), 7);
    let first = PointsPolicy::default().catch_up(&service).await.expect("award");
    assert!(first > 0, "some volunteers resolved closed tickets");
    let len = store.read_all(1, usize::MAX).await.expect("read").len();
    assert_eq!(
        PointsPolicy::default().catch_up(&service).await.expect("award again"),
        0,
        "a second pass awards nothing"
    );
    assert_eq!(store.read_all(1, usize::MAX).await.expect("read").len(), len, "and writes nothing");
}

/// Reports show times in the district's time zone, by the system's zone
/// database; a zone it lacks is shown in UTC, saying so.
#[test]
fn report_times_are_in_the_districts_time_zone() {
    let at = gridloop_engine::time::Timestamp::parse("2026-11-29T10:35:00Z").expect("valid");
    assert_eq!(report::local_time(at, Some("Asia/Shanghai")), "2026-11-29 18:35 Asia/Shanghai");
    assert_eq!(report::local_time(at, None), "2026-11-29 18:35 Asia/Shanghai", "the calendar's zone by default");
    assert_eq!(report::local_time(at, Some("America/New_York")), "2026-11-29 05:35 America/New_York");
    assert_eq!(report::local_time(at, Some("Nowhere/Atlantis")), "2026-11-29 10:35 UTC");
}
