//! The cold-store conformance suite: what every
//! [`ColdStore`](gridloop_projections::cold::ColdStore) promises, checked
//! against a model map by a property test.
//!
//! An adapter's tests call [`cold_conformance_tests!`](crate::cold_conformance_tests)
//! with an expression making a [`ColdFixture`]: a fresh, empty store that
//! can be closed and opened again on the same storage:
//!
//! ```text
//! gridloop_store_conformance::cold_conformance_tests!(MemoryFixture::default(), 256);
//! ```
//!
//! Random steps put, delete, commit (with a snapshot), scan (any prefix,
//! any `after`, either way, any limit) and reopen. After every step the
//! [`Cold`] handle must read what a model of committed rows plus pending
//! writes holds, and the store itself what the model holds committed. A
//! reopen drops the handle with its pending writes: the store opened again
//! must hold every write of every commit and none of the pending ones, so
//! each commit reached the store whole and nothing leaked before it.

use std::collections::BTreeMap;
use std::sync::Arc;

use gridloop_projections::cold::{Cold, ColdStore, snapshot_key};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Generates the cold-store property test for one store, run `$cases` times,
/// each case on a fresh fixture made by `$make`.
#[macro_export]
macro_rules! cold_conformance_tests {
    ($make:expr, $cases:expr) => {
        #[test]
        fn cold_scans_and_gets_equal_a_model_across_commits_and_reopens() {
            $crate::cold::scans_and_gets_equal_a_model(|| $make, $cases);
        }
    };
}

/// A cold store under test, and the storage behind it.
pub trait ColdFixture {
    /// Opens the store on this fixture's storage. The suite drops every
    /// handle of the last store it opened before it asks again, so a store
    /// that locks its files can be opened once more.
    fn open(&mut self) -> Arc<dyn ColdStore>;
}

/// One step against the cold store and the model beside it.
#[derive(Clone, Debug)]
enum Step {
    Put(Vec<u8>, u8),
    Delete(Vec<u8>),
    Commit,
    Scan { prefix: Vec<u8>, after: Option<Vec<u8>>, reverse: bool, limit: usize },
    Reopen,
}

/// Bytes from a few that sit at the edges of the order (0, 0xFF, 0xFE...),
/// so that prefixes whose end wraps and `after` keys outside the prefix come
/// up often.
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0x7F), Just(0xFE), Just(0xFF)], 0..=max)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (bytes(3), any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        2 => bytes(3).prop_map(Step::Delete),
        1 => Just(Step::Commit),
        3 => (bytes(2), proptest::option::of(bytes(3)), any::<bool>(), 0usize..12)
            .prop_map(|(prefix, after, reverse, limit)| Step::Scan { prefix, after, reverse, limit }),
        1 => Just(Step::Reopen),
    ]
}

/// The committed rows and the pending writes, as plain maps.
#[derive(Default)]
struct Model {
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Model {
    /// What a `Cold` handle reads: the committed rows under the pending writes.
    fn seen(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut seen = self.committed.clone();
        for (key, value) in &self.pending {
            match value {
                Some(value) => seen.insert(key.clone(), value.clone()),
                None => seen.remove(key),
            };
        }
        seen
    }

    fn commit(&mut self, snapshot: Vec<u8>) {
        self.committed = self.seen();
        self.pending.clear();
        self.committed.insert(snapshot_key(SNAPSHOT), snapshot);
    }
}

/// The projection name the suite's commits save a snapshot under.
const SNAPSHOT: &str = "conformance";

/// What a scan of `map` must answer, written the plain way.
fn model_scan(
    map: &BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &[u8],
    after: Option<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let past = map
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .filter(|(k, _)| after.is_none_or(|a| if reverse { k.as_slice() < a } else { k.as_slice() > a }))
        .map(|(k, v)| (k.clone(), v.clone()));
    if reverse { past.rev().take(limit).collect() } else { past.take(limit).collect() }
}

/// The property: through any steps, the handle reads the model's rows and
/// pending writes, the store its committed rows, and a reopened store every
/// committed write and no pending one. Panics with the shrunk failing steps.
pub fn scans_and_gets_equal_a_model<F: ColdFixture>(make: impl Fn() -> F, cases: u32) {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(
        config,
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let result = runner.run(&proptest::collection::vec(step(), 1..60), |steps| run_steps(make(), steps));
    if let Err(failure) = result {
        panic!("the cold store differs from the model: {failure}");
    }
}

fn run_steps<F: ColdFixture>(mut fixture: F, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut store = fixture.open();
    let mut cold = Cold::new(store.clone());
    let mut model = Model::default();
    for (n, step) in steps.into_iter().enumerate() {
        match step {
            Step::Put(key, value) => {
                cold.put(key.clone(), vec![value]);
                model.pending.insert(key, Some(vec![value]));
            }
            Step::Delete(key) => {
                cold.delete(key.clone());
                model.pending.insert(key, None);
            }
            Step::Commit => {
                let snapshot = format!("snapshot {n}").into_bytes();
                cold.commit(vec![(SNAPSHOT, snapshot.clone())]).map_err(fail)?;
                model.commit(snapshot);
            }
            Step::Scan { prefix, after, reverse, limit } => {
                let got = cold.scan(&prefix, after.as_deref(), reverse, limit).map_err(fail)?;
                let want = model_scan(&model.seen(), &prefix, after.as_deref(), reverse, limit);
                prop_assert_eq!(got, want, "Cold::scan {:?} after {:?} reverse {}", prefix, after, reverse);
                let got = store.scan(&prefix, after.as_deref(), reverse, limit).map_err(fail)?;
                let want = model_scan(&model.committed, &prefix, after.as_deref(), reverse, limit);
                prop_assert_eq!(got, want, "ColdStore::scan {:?} after {:?} reverse {}", prefix, after, reverse);
            }
            Step::Reopen => {
                drop((cold, store));
                store = fixture.open();
                cold = Cold::new(store.clone());
                model.pending.clear();
            }
        }
    }
    check_reads(&cold, store.as_ref(), &model)
}

/// Every key the model knows reads as the model says, through the handle
/// and from the store; and the whole store equals the committed rows.
fn check_reads(cold: &Cold, store: &dyn ColdStore, model: &Model) -> Result<(), TestCaseError> {
    let seen = model.seen();
    for key in model.committed.keys().chain(model.pending.keys()) {
        prop_assert_eq!(cold.get(key).map_err(fail)?, seen.get(key).cloned(), "Cold::get {:?}", key);
        prop_assert_eq!(store.get(key).map_err(fail)?, model.committed.get(key).cloned(), "ColdStore::get {:?}", key);
    }
    let everything = store.scan(&[], None, false, usize::MAX).map_err(fail)?;
    prop_assert_eq!(everything, model_scan(&model.committed, &[], None, false, usize::MAX));
    Ok(())
}

fn fail(e: gridloop_projections::ProjectionError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// The reference fixture: a [`MemoryCold`](gridloop_projections::cold::MemoryCold)
/// that a reopen hands back as it is (memory "on disk").
#[derive(Debug, Default)]
pub struct MemoryFixture(Arc<gridloop_projections::cold::MemoryCold>);

impl ColdFixture for MemoryFixture {
    fn open(&mut self) -> Arc<dyn ColdStore> {
        self.0.clone()
    }
}
