//! The architecture invariant: the engine is pure. No async runtime, no
//! store, no socket, no clock library, no OS entropy among its normal
//! (non-dev) dependencies, however deep.

use std::process::Command;

/// Crates whose presence would mean I/O, a runtime, a wall clock or OS
/// randomness reached the domain.
const FORBIDDEN: [&str; 7] = ["tokio", "sled", "async-nats", "mio", "socket2", "chrono", "getrandom"];

#[test]
fn the_engine_depends_on_no_runtime_store_clock_or_entropy() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "gridloop-engine", "-e", "normal", "--prefix", "none"])
        .current_dir(&workspace)
        .output()
        .expect("cargo tree runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "cargo tree failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "cargo tree printed nothing");
    assert!(lines[0].starts_with("gridloop-engine "), "the tree starts at the engine: {:?}", lines[0]);
    // It really lists dependencies (so an empty or truncated tree cannot pass).
    for expected in ["serde ", "blake3 "] {
        assert!(lines.iter().any(|l| l.starts_with(expected)), "{expected:?} missing from the tree:\n{stdout}");
    }
    // `--prefix none` prints `name vX.Y.Z [(path)] [(*)]`: match the name exactly.
    let offending: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.split_whitespace().next().is_some_and(|name| FORBIDDEN.contains(&name)))
        .collect();
    assert!(offending.is_empty(), "the engine must stay pure, but depends on:\n{}", offending.join("\n"));
    // Dev-dependencies (proptest) must not leak into the normal tree either.
    assert!(!lines.iter().any(|l| l.starts_with("proptest ")), "proptest is a dev-dependency only");
}
