//! The runner's promises on random histories driven through the real
//! command service: resume from a snapshot, ignore redeliveries, survive a
//! crash between applying and saving, and rebuild to the same bytes.

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::EventStore;
use gridloop_projections::Metrics;
use gridloop_projections::board::Board;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{MemorySnapshots, Projection, Runner};
use proptest::prelude::*;

use crate::support::random_history;

fn log_of(seed: u64, steps: u32) -> Vec<RecordedEvent> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(async {
        let store = random_history(seed, steps).await;
        store.read_all(1, usize::MAX).await.expect("read")
    })
}

fn rebuild<P: Projection>(log: &[RecordedEvent]) -> Vec<u8> {
    let mut runner = Runner::<P>::fresh();
    for event in log {
        runner.evolve(event).expect("applies");
    }
    runner.snapshot()
}

/// Applies the log, saving at `saves` and "crashing" (dropping the runner
/// and resuming from the last save) at `crashes`, redelivering a few events
/// each time; returns the final snapshot.
fn live<P: Projection>(log: &[RecordedEvent], saves: &[usize], crashes: &[usize]) -> Vec<u8> {
    let snapshots = MemorySnapshots::default();
    let mut runner = Runner::<P>::fresh();
    let mut pending_crashes: std::collections::BTreeSet<usize> = crashes.iter().copied().collect();
    let mut i = 0;
    while i < log.len() {
        // Each crash happens once: after it, the runner rewinds to its
        // checkpoint and passes this index again.
        if pending_crashes.remove(&i) {
            runner = Runner::<P>::resume(&snapshots).expect("resumes");
            // Redeliver from the checkpoint on, as a subscription would.
            i = log.iter().position(|e| e.position > runner.checkpoint()).unwrap_or(log.len());
            if i > 0 {
                assert!(!runner.evolve(&log[i - 1]).expect("redelivery"), "an event at the checkpoint is skipped");
            }
        }
        if i < log.len() {
            runner.evolve(&log[i]).expect("applies");
        }
        if saves.contains(&i) {
            runner.save(&snapshots).expect("saves");
        }
        i += 1;
    }
    runner.snapshot()
}

#[test]
fn a_random_history_is_rich_enough_to_test_with() {
    let log = log_of(11, 800);
    let kinds: std::collections::BTreeSet<&str> = log.iter().map(|e| e.schema.name.as_str()).collect();
    for kind in [
        "ticket.submitted",
        "ticket.accepted",
        "ticket.resolved",
        "ticket.closed",
        "ticket.reopened",
        "volunteer.points_awarded",
    ] {
        assert!(kinds.contains(kind), "the generator never wrote {kind}: {kinds:?}");
    }
}

#[test]
fn crash_between_apply_and_save_loses_and_duplicates_nothing() {
    let log = log_of(3, 300);
    let n = log.len();
    let saves = [n / 5, n / 2];
    // Crash after applying events that were never saved: they are applied
    // again from the last checkpoint, once.
    let crashes = [n / 5 + 7, n / 2 + 11, n - 3];
    assert_eq!(live::<Board>(&log, &saves, &crashes), rebuild::<Board>(&log));
    assert_eq!(live::<Metrics>(&log, &saves, &crashes), rebuild::<Metrics>(&log));
    assert_eq!(live::<Ledger>(&log, &saves, &crashes), rebuild::<Ledger>(&log));
}

#[tokio::test]
async fn catch_up_saves_and_a_restart_resumes_where_it_stopped() {
    let store = random_history(5, 200).await;
    let snapshots = MemorySnapshots::default();
    let mut first = Runner::<Metrics>::fresh();
    first.save_every = 50;
    let applied = first.catch_up(&store, Some(&snapshots), |_| {}).await.expect("catches up");
    let head = store.read_all(1, usize::MAX).await.expect("read").last().map_or(0, |e| e.position);
    assert_eq!((first.checkpoint(), first.lag(head).behind()), (head, 0));
    let mut resumed = Runner::<Metrics>::resume(&snapshots).expect("resumes");
    assert_eq!(resumed.checkpoint(), head);
    assert_eq!(resumed.catch_up(&store, Some(&snapshots), |_| {}).await.expect("nothing new"), 0);
    assert_eq!(resumed.snapshot(), first.snapshot());
    assert!(applied as usize > 0);
}

#[test]
fn a_corrupt_snapshot_is_a_clear_error() {
    let snapshots = MemorySnapshots::default();
    gridloop_projections::runner::SnapshotStore::save(&snapshots, "board", b"{not json").expect("saves");
    let err = Runner::<Board>::resume(&snapshots).expect_err("refused");
    assert!(err.to_string().contains("snapshot board"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Live (with saves, crashes and redeliveries anywhere) == rebuilt,
    /// byte for byte, for every projection.
    #[test]
    fn live_equals_rebuilt(seed in any::<u64>(), steps in 20u32..160, saves in proptest::collection::vec(0usize..400, 0..6), crashes in proptest::collection::vec(0usize..400, 0..4)) {
        let log = log_of(seed, steps);
        prop_assert_eq!(live::<Board>(&log, &saves, &crashes), rebuild::<Board>(&log), "board, seed {}", seed);
        prop_assert_eq!(live::<Metrics>(&log, &saves, &crashes), rebuild::<Metrics>(&log), "metrics, seed {}", seed);
        prop_assert_eq!(live::<Ledger>(&log, &saves, &crashes), rebuild::<Ledger>(&log), "ledger, seed {}", seed);
    }
}
