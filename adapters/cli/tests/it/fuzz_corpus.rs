//! The fuzz targets on the stable toolchain, in the normal test run: every
//! file under `fuzz/corpus/<target>/` (the seeds, and what `scripts/fuzz`
//! found and kept), then a bounded number of inputs made from them by a
//! seeded mutator, go through the same function its libFuzzer target calls
//! (`fuzz/src/lib.rs`, included here as a module). So an input that once
//! crashed a parser stays fixed, and every parser meets a few thousand
//! hostile inputs on each run, without libFuzzer or a nightly toolchain.
//!
//! Each target is its own test (nextest runs them side by side). The
//! mutations are seeded by the target's name, so a run repeats exactly;
//! `GRIDLOOP_FUZZ_SEED=N` picks another seed and `GRIDLOOP_FUZZ_RUNS=N`
//! another count. A failure names the seed and the input's number and
//! writes the input to a file, to replay or to add to the corpus.

#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::time::Instant;

use gridloop_engine::rng::SplitMix64;

/// The targets that send requests to [`targets::http::server`].
const HTTP_TARGETS: [&str; 6] =
    ["open311_form", "open311_upload", "open311_query", "api_query", "api_body", "idempotency_key"];

/// Generated inputs per target, unless `GRIDLOOP_FUZZ_RUNS` says otherwise.
const RUNS: u64 = 1_500;
/// The longest generated input, in bytes (`scripts/fuzz` gives libFuzzer
/// the same `-max_len`).
const INPUT_BYTES_MAX: usize = 65_536;

/// What mutations insert: text that breaks byte-sliced parsers (characters
/// of two, three and four bytes, invisible and bidi characters,
/// non-characters), escapes and separators of the formats the targets read,
/// and numbers at the edges of their types.
const DICTIONARY: [&str; 56] = [
    "é",
    "十",
    "🚰",
    "\u{FEFF}",
    "\u{202E}",
    "\u{200B}",
    "\u{FFFE}",
    "\u{FFFF}",
    "\u{FFFD}",
    "Ａ",
    "０",
    "－",
    "\u{3000}",
    "%FF",
    "%C3%A9",
    "%E5%8D",
    "%00",
    "%",
    "%2",
    "+",
    " ",
    "&",
    "=",
    "?",
    "/",
    "..",
    ";",
    "#",
    "\\u0000",
    "\\ud800",
    "\\uFFFF",
    "\\\"",
    "null",
    "true",
    "[]",
    "{}",
    "\"",
    ",",
    ":",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "1e309",
    "-0.0",
    "2199-12-31T23:59:59.999Z",
    "2026-11-23T08:00:00+08:00",
    "T-1",
    "V-1",
    "{grid}",
    "{ticket}",
    "440802-001",
];

/// A small mutator in libFuzzer's manner, on a seeded generator.
struct Mutator {
    rng: SplitMix64,
}

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n.max(1) as u64) as usize
    }

    /// A new input: a corpus entry (or nothing) changed one to eight times.
    /// For a request (`stemmed`), three times in four only what follows
    /// its stem (the first line of a body, the path before a query) is
    /// changed, so that most inputs still reach a route's own parser.
    fn input(&mut self, corpus: &[Vec<u8>], stemmed: bool) -> Vec<u8> {
        let mut data = if corpus.is_empty() { Vec::new() } else { corpus[self.below(corpus.len())].clone() };
        let stem = if stemmed && self.below(4) > 0 { stem(&data) } else { 0 };
        let mut tail = data.split_off(stem);
        for _ in 0..1 + self.below(8) {
            self.mutate(&mut tail, corpus);
        }
        data.append(&mut tail);
        data.truncate(INPUT_BYTES_MAX);
        data
    }

    fn mutate(&mut self, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let at = self.below(data.len() + 1);
        match self.below(9) {
            0 if at < data.len() => data[at] ^= 1 << self.below(8),
            1 if at < data.len() => data[at] = *self.rng.pick(b"\0\x7f\x80\xff\"\\%&={}[],:\n0 ~"),
            2 | 3 => {
                let word = self.rng.pick(&DICTIONARY).as_bytes();
                data.splice(at..at, word.iter().copied());
            }
            4 => {
                let end = (at + 1 + self.below(32)).min(data.len());
                data.drain(at.min(end)..end);
            }
            5 if at < data.len() => {
                let end = (at + 1 + self.below(64)).min(data.len());
                let chunk = data[at..end].to_vec();
                let to = self.below(data.len() + 1);
                data.splice(to..to, chunk);
            }
            6 if !corpus.is_empty() => {
                // Splices in a piece of another input: fields of one body
                // type into another, one file's lines into another.
                let other = &corpus[self.below(corpus.len())];
                let from = self.below(other.len());
                let end = (from + 1 + self.below(256)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            7 => data.truncate(at),
            _ => data.insert(at, self.below(256) as u8),
        }
    }
}

/// Where a request's stem ends: after its first line break or question
/// mark (the caller, method and path).
fn stem(data: &[u8]) -> usize {
    data.iter().position(|&b| b == b'\n' || b == b'?').map_or(0, |at| at + 1)
}

/// The seed a target's mutations start from: `GRIDLOOP_FUZZ_SEED`, else
/// one derived from the target's name (FNV-1a), the same on every run.
fn seed_for(name: &str) -> u64 {
    if let Some(seed) = std::env::var("GRIDLOOP_FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        return seed;
    }
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn runs() -> u64 {
    std::env::var("GRIDLOOP_FUZZ_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(RUNS)
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(name)
}

/// The target's corpus, sorted by file name.
fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files.into_iter().map(|file| (file.clone(), std::fs::read(&file).expect("a corpus file reads"))).collect()
}

/// Runs one target over its corpus, then over its generated inputs.
fn fuzz(name: &str) {
    let (_, target) = targets::TARGETS.iter().find(|(n, _)| *n == name).expect("a target of that name");
    let started = Instant::now();
    let files = corpus(name);
    assert!(!files.is_empty(), "{name} has a corpus in {}", corpus_dir(name).display());
    for (file, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| target(bytes));
        assert!(outcome.is_ok(), "{name} failed on {}", file.display());
    }
    let inputs: Vec<Vec<u8>> = files.into_iter().map(|(_, bytes)| bytes).collect();
    let (seed, runs) = (seed_for(name), runs());
    let mut mutator = Mutator { rng: SplitMix64::new(seed) };
    for i in 0..runs {
        let input = mutator.input(&inputs, HTTP_TARGETS.contains(&name));
        if std::panic::catch_unwind(|| target(&input)).is_err() {
            let saved = save_failure(name, seed, i, &input);
            panic!(
                "{name} failed on generated input {i} of seed {seed}: \"{}\"\nIt is in {}; replay with \
                 GRIDLOOP_FUZZ_SEED={seed}, or copy it into fuzz/corpus/{name}/ once fixed.",
                input.escape_ascii(),
                saved.display()
            );
        }
    }
    println!(
        "fuzz {name}: {} corpus inputs and {runs} generated (seed {seed}) in {:.1} s",
        inputs.len(),
        started.elapsed().as_secs_f64()
    );
    if HTTP_TARGETS.contains(&name) {
        println!("fuzz {name}: answers in this process: {}", targets::http::server().answered());
    }
}

fn save_failure(name: &str, seed: u64, i: u64, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let path = dir.join(format!("{name}-seed-{seed}-input-{i}"));
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    path
}

/// One test per target, so each runs in its own process under nextest.
macro_rules! fuzz_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name));
            }
        )*

        /// Every target of `fuzz/src/lib.rs` has its test here.
        #[test]
        fn every_fuzz_target_runs_here() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in targets::TARGETS {
                assert!(tested.contains(&name), "{name} has no test in fuzz_corpus.rs");
            }
        }
    };
}

fuzz_tests!(
    event_decode,
    stored_event,
    grid_code,
    chat_command,
    open311_form,
    open311_upload,
    open311_query,
    api_query,
    api_body,
    idempotency_key,
    ndjson_import,
    world_bundle,
    token_file,
    sealing_key,
    engine_text,
    photo_check,
);

/// Every documented route is reached by a seed: each GET by `api_query` or
/// `open311_query`, each write by `api_body` or `open311_form`. A new route
/// without a seed fails here, so its parameters and body get fuzzed.
#[test]
fn every_route_has_a_fuzz_seed() {
    let server = targets::http::server();
    let mut reached = Vec::new();
    for (target, prefix) in [("api_query", "/"), ("open311_query", "/open311/v2/"), ("api_body", "/")] {
        for (_, bytes) in corpus(target) {
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let (_, rest) = targets::http::caller_and_rest(line);
            let (method, rest) =
                if target == "api_body" { targets::http::method_and_rest(rest) } else { ("GET", rest) };
            let target = String::from_utf8_lossy(&server.substitute(rest)).into_owned();
            let path = target.split('?').next().unwrap_or_default().to_string();
            reached.push((method.to_ascii_lowercase(), format!("{prefix}{path}")));
        }
    }
    reached.push(("post".into(), "/open311/v2/requests.json".into()));
    for (method, template) in gridloop_http::openapi::operations() {
        let found = reached.iter().any(|(m, path)| *m == method && matches(&template, path));
        assert!(found, "{method} {template} has no seed in fuzz/corpus/ (api_query, api_body, open311_query)");
    }
}

/// Whether a concrete path fits a documented one: `{name}` takes one
/// segment, and `name.{format}` a segment with that name and any suffix.
fn matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template.iter().zip(&path).all(|(t, p)| match t.split_once('{') {
            None => t == p,
            Some((before, _)) => p.starts_with(before) && (!before.is_empty() || !p.is_empty()),
        })
}
