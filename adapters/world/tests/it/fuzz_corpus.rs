//! The `world_bundle` fuzz corpus (`fuzz/corpus/world_bundle/`) replayed
//! through the reader, with the target's own checks (`fuzz/src/lib.rs`):
//! no panic, a bundle that reads builds its world, a refusal names at
//! least one problem. The seeds are this crate's test bundles: valid,
//! broken, and in GB18030 (`GRIDLOOP_BLESS=1` rewrites them).

use std::path::Path;

use gridloop_world::fuzzing::{join, split};
use gridloop_world::read_files;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/world_bundle");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .collect();
    files.sort();
    files.into_iter().map(|f| (f.display().to_string(), std::fs::read(&f).expect("reads"))).collect()
}

#[test]
fn every_corpus_input_runs_clean() {
    let corpus = corpus();
    assert!(!corpus.is_empty());
    for (name, data) in corpus {
        let (encoding, files) = split(&data);
        match read_files(&files, encoding) {
            Ok(bundle) => assert!(bundle.world.world().is_ok(), "{name}: a bundle that reads builds"),
            Err(problems) => assert!(!problems.is_empty(), "{name}: a refusal names a problem"),
        }
    }
}

/// A routing policy with every knob, so the routing reader is fuzzed too.
const ROUTING_TOML: &str = r#"# 社区派单
offers_max = 5
offer_window = "30m"
offer_rounds_max = 3
fairness_window = "30d"
respond_within = ["2h", "4h", "8h"]
summons_report_within = "1d"
reopen_one_up = false
"#;

/// The same with a duration ending in a CJK character, a misspelt key and
/// a value of the wrong type: each a problem, none a panic.
const BROKEN_ROUTING_TOML: &str = r#"offers_max = "五"
offer_window = "30分"
offer_rounds_max = 3
fairness_windw = "30d"
respond_within = ["2h", "4十", "8h"]
summons_report_within = "1是"
reopen_one_up = false
"#;

/// The seeds: the test bundle, its broken variant, it in GB18030, and it
/// with a routing policy, good and bad.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let valid = crate::support::files();
    let mut broken = valid.clone();
    broken.insert("catalog.csv", crate::broken::BROKEN_CATALOG.as_bytes().to_vec());
    broken.insert("grids.geojson", crate::broken::broken_grids().into_bytes());
    let mut gb = valid.clone();
    for (name, bytes) in gb.iter_mut().filter(|(name, _)| name.ends_with(".csv")) {
        let text = String::from_utf8(bytes.clone()).expect("UTF-8");
        *bytes = encoding_rs::GB18030.encode(&text).0.into_owned();
        assert!(!name.is_empty());
    }
    let input = |encoding: &str, files: &std::collections::BTreeMap<&'static str, Vec<u8>>| {
        let parts: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        join(encoding, &parts)
    };
    let mut routed = valid.clone();
    routed.insert("routing.toml", ROUTING_TOML.as_bytes().to_vec());
    let mut misrouted = valid.clone();
    misrouted.insert("routing.toml", BROKEN_ROUTING_TOML.as_bytes().to_vec());
    vec![
        ("seed-valid", input("auto", &valid)),
        ("seed-broken", input("auto", &broken)),
        ("seed-gb18030", input("gb18030", &gb)),
        ("seed-routing", input("utf-8", &routed)),
        ("seed-routing-broken", input("auto", &misrouted)),
    ]
}

#[test]
fn the_seeds_are_the_test_bundles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/world_bundle");
    let bless = std::env::var("GRIDLOOP_BLESS").is_ok_and(|v| v == "1");
    for (name, data) in seeds() {
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).expect("the corpus directory");
            std::fs::write(&path, &data).expect("the seed is written");
        }
        let stored = std::fs::read(&path).unwrap_or_default();
        assert!(stored == data, "{} is not the test bundle; GRIDLOOP_BLESS=1 rewrites it", path.display());
        let (encoding, files) = split(&data);
        let read = read_files(&files, encoding);
        assert_eq!(read.is_ok(), !name.contains("broken"), "{name}: {:?}", read.err());
    }
}

/// A few thousand seeds cut and spliced at random (a seeded xorshift, so a
/// failure repeats): what libFuzzer does, in the normal test run. It found
/// that a duration cell ending in a CJK character split a character.
#[test]
fn mutated_seeds_never_panic() {
    let seeds: Vec<Vec<u8>> = seeds().into_iter().map(|(_, data)| data).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as usize
    };
    for i in 0..1_500 {
        let mut data = seeds[i % seeds.len()].clone();
        for _ in 0..1 + next() % 8 {
            let at = next() % data.len();
            match next() % 3 {
                0 => data[at] = next() as u8,
                1 => drop(data.remove(at)),
                _ => {
                    let end = (at + next() % 64).min(data.len());
                    let to = next() % data.len();
                    let chunk = data[at..end].to_vec();
                    data.splice(to..to, chunk);
                }
            }
        }
        let (encoding, files) = split(&data);
        match read_files(&files, encoding) {
            Ok(bundle) => assert!(bundle.world.world().is_ok(), "input {i}"),
            Err(problems) => assert!(!problems.is_empty(), "input {i}"),
        }
    }
}
