//! The fuzz corpus as regression tests: every file under `fuzz/corpus/<target>/`
//! (the seeds, and what `scripts/fuzz` found and kept) goes through the same
//! function its libFuzzer target calls (`fuzz/src/lib.rs`, included here as a
//! module), so an input that once crashed a parser stays fixed, in the normal
//! test run, without libFuzzer or a nightly toolchain.

#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

#[test]
fn every_fuzz_corpus_input_runs_clean() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut ran = Vec::new();
    for (name, target) in targets::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name} has a corpus");
        for file in &files {
            let bytes = std::fs::read(file).expect("a corpus file reads");
            let outcome = std::panic::catch_unwind(|| target(&bytes));
            assert!(outcome.is_ok(), "{name} panicked on {}", file.display());
        }
        ran.push(format!("{name} {}", files.len()));
    }
    println!("fuzz corpus: {}", ran.join(", "));
}
