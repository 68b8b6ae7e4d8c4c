//! The cold store's promises: reads see pending writes, a commit writes rows
//! and snapshots together, and a snapshot of another version is rebuilt, its
//! rows dropped. (That scans and gets equal a model, across commits and
//! reopens, is the cold-store conformance suite in
//! `gridloop-store-conformance`, run against `MemoryCold` and sled.)

use std::sync::Arc;

use gridloop_projections::ProjectionError;
use gridloop_projections::cold::{Cold, ColdStore, MemoryCold};
use gridloop_projections::runner::{Projection, Runner};
use serde::{Deserialize, Serialize};

#[test]
fn nothing_reaches_the_store_before_a_commit_and_the_snapshot_goes_with_the_rows() {
    let store = Arc::new(MemoryCold::default());
    let cold = Cold::new(store.clone());
    cold.put(b"board/1".to_vec(), b"row".to_vec());
    assert_eq!(cold.get(b"board/1").expect("reads"), Some(b"row".to_vec()), "a pending write is read");
    assert_eq!(store.get(b"board/1").expect("reads"), None, "and not yet written");
    cold.commit(vec![("board", b"snap".to_vec())]).expect("commits");
    assert_eq!(store.get(b"board/1").expect("reads"), Some(b"row".to_vec()));
    assert_eq!(cold.snapshot("board").expect("reads"), Some(b"snap".to_vec()));
    assert_eq!(cold.pending(), 0);
}

/// A projection that keeps one cold row per event folded.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Rows {
    folded: u64,
    #[serde(skip)]
    cold: Cold,
}

impl Projection for Rows {
    const NAME: &'static str = "rows";
    const VERSION: u32 = 2;
    fn evolve(&mut self, event: &gridloop_engine::envelope::RecordedEvent) -> Result<(), ProjectionError> {
        self.folded += 1;
        self.cold.put(format!("rows/{}", event.position).into_bytes(), vec![1]);
        Ok(())
    }
    fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }
}

#[test]
fn a_snapshot_of_another_version_is_rebuilt_and_its_rows_dropped() {
    let cold = Cold::default();
    cold.put(b"rows/7".to_vec(), vec![1]);
    cold.put(b"other/7".to_vec(), vec![1]);
    let old = serde_json::json!({ "version": 1, "checkpoint": 7, "state": { "folded": 7 } });
    cold.commit(vec![("rows", serde_json::to_vec(&old).expect("encodes"))]).expect("commits");

    let runner = Runner::<Rows>::resume_cold(&cold).expect("resumes");
    assert_eq!(runner.checkpoint(), 0, "an older shape is rebuilt from 0, not misread");
    assert_eq!(cold.get(b"rows/7").expect("reads"), None, "its rows are dropped");
    assert_eq!(cold.get(b"other/7").expect("reads"), Some(vec![1]), "another projection's rows stay");

    let current = serde_json::json!({ "version": 2, "checkpoint": 9, "state": { "folded": 9 } });
    cold.commit(vec![("rows", serde_json::to_vec(&current).expect("encodes"))]).expect("commits");
    let runner = Runner::<Rows>::resume_cold(&cold).expect("resumes");
    assert_eq!((runner.checkpoint(), runner.state().folded), (9, 9), "the same version resumes");
}

mod heads {
    //! The seal's stream heads kept on disk digest to what the engine's
    //! in-memory `Heads` digests, however the log was cut into catch-ups.

    use gridloop_engine::seal::Heads;
    use gridloop_engine::store::{EventStore, MemoryStore};
    use gridloop_projections::audit::heads::StreamHeads;
    use gridloop_projections::cold::Cold;
    use gridloop_projections::runner::Runner;
    use proptest::prelude::*;

    use crate::support::random_history;

    /// Folds the log into a cold-backed heads projection up to each cut (a
    /// seal), resuming from the cold store each time as a new process would.
    async fn sealed_in_steps(store: &MemoryStore, cuts: &[u64], cold: &Cold) -> (u64, u64, [u8; 32]) {
        let events = store.read_all(1, usize::MAX).await.expect("reads");
        for &cut in cuts.iter().chain(std::iter::once(&u64::MAX)) {
            let mut runner = Runner::<StreamHeads>::resume_cold(cold).expect("resumes");
            for event in events.iter().filter(|e| e.position <= cut) {
                runner.evolve(event).expect("folds");
            }
            runner.save(cold).expect("commits");
        }
        let runner = Runner::<StreamHeads>::resume_cold(cold).expect("resumes");
        (runner.state().folded, runner.state().streams, runner.state().digest().expect("digests").0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn cold_heads_seal_as_the_whole_log_does(seed in any::<u64>(), steps in 10u32..120, cuts in proptest::collection::vec(1u64..400, 0..4)) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let (expected, got) = runtime.block_on(async {
                let store = random_history(seed, steps).await;
                let mut heads = Heads::default();
                store.read_all(1, usize::MAX).await.expect("reads").iter().for_each(|e| heads.apply(e));
                let mut cuts = cuts.clone();
                cuts.sort_unstable();
                let got = sealed_in_steps(&store, &cuts, &Cold::default()).await;
                ((heads.position, heads.streams(), heads.digest().0), got)
            });
            prop_assert_eq!(expected, got, "seed {}", seed);
        }
    }
}
