//! Criterion benches live in `benches/`; run them with
//! `cargo bench -p gridloop-benches`. Figures go to BENCHMARKS.md.
