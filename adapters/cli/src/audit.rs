//! Moving the log between stores as NDJSON (`gridloop export`, `gridloop
//! import`), and verifying a whole store's log. The timeline and the chain
//! checks themselves are pure folds in `gridloop_projections::audit`.
//!
//! # Export and import
//!
//! An export is one `RecordedEvent` per line, serde_json of the envelope as
//! stored, in position order. [`import`] goes into an empty store only, in
//! two passes over the file: the first parses and verifies every line
//! ([`check_file`]) and writes nothing, so a broken line stops the import
//! with its number and an empty store; the second appends the events through
//! the [`EventStore`] trait, one append per original append (consecutive
//! events of one stream and one command id), with the expected version the
//! original had, and reads back every event to check that the store computed
//! the very same hash. Positions are the target store's own: they are not
//! hashed.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::Serialize;

use gridloop_engine::Error;
use gridloop_engine::envelope::{Hash, NewEvent, RecordedEvent};
use gridloop_engine::ids::{CommandId, StreamId};
use gridloop_engine::store::{EventStore, ExpectedVersion, validate_append};
use gridloop_projections::audit::{LogVerifier, VerifySummary};

/// The longest line an import reads, in bytes (without its newline).
pub const IMPORT_LINE_BYTES_MAX: usize = 1 << 20;
/// The most lines an import reads.
pub const IMPORT_LINES_MAX: u64 = 100_000_000;

/// Reads a store's whole log in position order and verifies it.
/// `progress` is called with the position reached after each batch.
pub async fn verify_store<S: EventStore>(store: &S, mut progress: impl FnMut(u64)) -> anyhow::Result<VerifySummary> {
    let mut verifier = LogVerifier::new();
    let mut scan = store.scan(1);
    loop {
        let batch = scan.next_batch().await.map_err(|error| {
            let after = verifier.summary().last_position.map_or("the start".to_string(), |p| format!("position {p}"));
            anyhow::anyhow!("the log does not read after {after}: {error}")
        })?;
        let Some(batch) = batch else { break };
        for event in &batch {
            verifier.check(event).map_err(|e| anyhow::Error::new(e).context("the log does not verify"))?;
        }
        progress(scan.next_position() - 1);
    }
    Ok(verifier.finish())
}

// ---------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub events: u64,
    pub last_position: Option<u64>,
}

/// Writes every event at `from` or later, in position order, one
/// `RecordedEvent` JSON per line. `progress` gets the position reached.
pub async fn export<S: EventStore, W: Write>(
    store: &S,
    from: u64,
    out: &mut W,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<ExportSummary> {
    let mut summary = ExportSummary::default();
    let mut scan = store.scan(from);
    while let Some(batch) = scan.next_batch().await? {
        let last = scan.next_position() - 1;
        for event in &batch {
            // Encoded first, so that a write error stays an `io::Error`
            // (a closed pipe is told apart from a failure).
            let mut line = serde_json::to_vec(event)?;
            line.push(b'\n');
            out.write_all(&line)?;
        }
        summary.events += batch.len() as u64;
        summary.last_position = Some(last);
        progress(last);
    }
    out.flush()?;
    Ok(summary)
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/// Why an import stopped.
#[derive(Debug)]
pub enum ImportError {
    /// The target store holds events already. Nothing was written.
    NotEmpty,
    /// A line of the file is broken. Nothing was written.
    Line { line: u64, reason: String },
    /// The file does not read.
    File(std::io::Error),
    /// The store refused or failed. Events before `line` may have been
    /// written: the store is a partial import.
    Store { line: u64, error: Error },
    /// The store wrote something other than the file says (another hash,
    /// another version, a repeat): events before `line` were written.
    Mismatch { line: u64, reason: String },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PARTIAL: &str = "the store now holds a partial import: remove it before importing again";
        match self {
            ImportError::NotEmpty => {
                write!(f, "the store already holds events; import goes into an empty store only")
            }
            ImportError::Line { line, reason } => write!(f, "line {line}: {reason}"),
            ImportError::File(error) => write!(f, "reading the file: {error}"),
            ImportError::Store { line, error } => write!(f, "line {line}: the store refused: {error}; {PARTIAL}"),
            ImportError::Mismatch { line, reason } => write!(f, "line {line}: {reason}; {PARTIAL}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// What the first pass found: the file is a whole, verified log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    pub lines: u64,
    pub bytes: u64,
    /// Original appends (runs of one stream and one command id).
    pub appends: u64,
    pub log: VerifySummary,
}

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub events: u64,
    pub appends: u64,
    pub streams: u64,
}

/// Which pass an import's progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportPhase {
    /// Reading and verifying: `done` and `total` count bytes.
    Checking,
    /// Appending: `done` and `total` count events.
    Appending,
}

/// Imports an NDJSON export into an empty store: checks the whole file
/// first (writing nothing if any line is broken), then appends.
pub async fn import<S: EventStore>(
    store: &S,
    path: &Path,
    mut progress: impl FnMut(ImportPhase, u64, u64),
) -> Result<ImportSummary, ImportError> {
    ensure_empty(store).await?;
    let check = check_file(path, &mut progress)?;
    append_file(store, path, &check, progress).await
}

/// Refuses a store that holds any event.
pub async fn ensure_empty<S: EventStore>(store: &S) -> Result<(), ImportError> {
    let first = store.scan(1).batch_max(1).next_batch().await.map_err(|error| ImportError::Store { line: 0, error })?;
    if first.is_none() { Ok(()) } else { Err(ImportError::NotEmpty) }
}

/// The lines of an export file, bounded in length and number.
struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    line: u64,
    bytes: u64,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Self { reader, buffer: Vec::with_capacity(4096), line: 0, bytes: 0 }
    }

    /// The next line without its newline, or `None` at the end.
    fn next_line(&mut self) -> Result<Option<&[u8]>, ImportError> {
        self.buffer.clear();
        let limit = IMPORT_LINE_BYTES_MAX as u64 + 1;
        let read = std::io::Read::take(&mut self.reader, limit)
            .read_until(b'\n', &mut self.buffer)
            .map_err(ImportError::File)?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.bytes += read as u64;
        if self.line > IMPORT_LINES_MAX {
            return Err(self.broken(format!("an import holds at most {IMPORT_LINES_MAX} lines")));
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        } else if self.buffer.len() > IMPORT_LINE_BYTES_MAX {
            return Err(self.broken(format!("longer than {IMPORT_LINE_BYTES_MAX} bytes")));
        }
        Ok(Some(&self.buffer))
    }

    /// The next event, parsed.
    fn next_event(&mut self) -> Result<Option<RecordedEvent>, ImportError> {
        let Some(bytes) = self.next_line()? else { return Ok(None) };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(self.broken("an empty line".into()));
        }
        match serde_json::from_slice(bytes) {
            Ok(event) => Ok(Some(event)),
            Err(error) => Err(self.broken(format!("not an event: {error}"))),
        }
    }

    fn broken(&self, reason: String) -> ImportError {
        ImportError::Line { line: self.line, reason }
    }
}

/// The run of events of one original append, as it is being read.
#[derive(Debug, Default)]
struct Run {
    stream: Option<StreamId>,
    command: Option<CommandId>,
    events: Vec<NewEvent>,
    /// (line, version, hash) of each event.
    expected: Vec<(u64, u64, Hash)>,
}

impl Run {
    fn continues(&self, event: &RecordedEvent) -> bool {
        self.stream.as_ref() == Some(&event.stream) && self.command.as_ref() == Some(&event.command_id)
    }
}

/// Groups verified events into the original appends and checks what the
/// store would refuse, so that a file that passes imports whole.
#[derive(Debug, Default)]
struct Grouper {
    verifier: LogVerifier,
    run: Run,
    /// Command ids of finished runs (a digest of each): the store would
    /// take a second run with one of them as a repeat and drop it.
    commands: HashSet<[u8; 16]>,
    appends: u64,
}

impl Grouper {
    /// Takes the next line's event; returns the finished previous run when
    /// this event starts a new one.
    fn push(&mut self, line: u64, event: RecordedEvent) -> Result<Option<Run>, ImportError> {
        let broken = |reason: String| ImportError::Line { line, reason };
        self.verifier.check(&event).map_err(|e| broken(e.to_string()))?;
        let finished = if self.run.continues(&event) { None } else { self.finish_run() };
        if self.run.events.is_empty() {
            if self.commands.contains(&command_digest(&event.command_id)) {
                return Err(broken(format!(
                    "{} v{}: command id {} belongs to an earlier append; the store would drop these events as a repeat",
                    event.stream, event.version, event.command_id
                )));
            }
            self.run.stream = Some(event.stream.clone());
            self.run.command = Some(event.command_id.clone());
        }
        if self.run.events.len() == gridloop_engine::store::APPEND_EVENTS_MAX {
            return Err(broken(format!(
                "{} v{}: one append carries at most {} events",
                event.stream,
                event.version,
                gridloop_engine::store::APPEND_EVENTS_MAX
            )));
        }
        let (stream, version, hash) = (event.stream.to_string(), event.version, event.hash);
        let new = event.to_new();
        validate_append(std::slice::from_ref(&new)).map_err(|e| broken(format!("{stream} v{version}: {e}")))?;
        self.run.events.push(new);
        self.run.expected.push((line, version, hash));
        Ok(finished)
    }

    fn finish_run(&mut self) -> Option<Run> {
        if self.run.events.is_empty() {
            return None;
        }
        let run = std::mem::take(&mut self.run);
        self.commands.insert(command_digest(run.command.as_ref().expect("a run has a command id")));
        self.appends += 1;
        Some(run)
    }
}

fn command_digest(command: &CommandId) -> [u8; 16] {
    let hash = blake3::hash(command.as_str().as_bytes());
    let mut digest = [0; 16];
    digest.copy_from_slice(&hash.as_bytes()[..16]);
    digest
}

fn open_file(path: &Path) -> Result<(std::io::BufReader<std::fs::File>, u64), ImportError> {
    let file = std::fs::File::open(path).map_err(ImportError::File)?;
    let size = file.metadata().map_err(ImportError::File)?.len();
    Ok((std::io::BufReader::with_capacity(1 << 16, file), size))
}

/// The first pass: parses and verifies every line, writing nothing.
pub fn check_file(path: &Path, mut progress: impl FnMut(ImportPhase, u64, u64)) -> Result<FileCheck, ImportError> {
    let (reader, size) = open_file(path)?;
    let mut lines = Lines::new(reader);
    let mut grouper = Grouper::default();
    while let Some(event) = lines.next_event()? {
        grouper.push(lines.line, event)?;
        if lines.line % 4096 == 0 {
            progress(ImportPhase::Checking, lines.bytes, size);
        }
    }
    grouper.finish_run();
    progress(ImportPhase::Checking, lines.bytes, size);
    Ok(FileCheck { lines: lines.line, bytes: lines.bytes, appends: grouper.appends, log: grouper.verifier.finish() })
}

/// The second pass: appends the checked file to an empty store, one append
/// per original append, and checks every hash the store computed.
pub async fn append_file<S: EventStore>(
    store: &S,
    path: &Path,
    check: &FileCheck,
    mut progress: impl FnMut(ImportPhase, u64, u64),
) -> Result<ImportSummary, ImportError> {
    ensure_empty(store).await?;
    let (reader, _) = open_file(path)?;
    let mut lines = Lines::new(reader);
    // The file is read and verified again: if it changed since the first
    // pass, the changed line stops the import before it is appended.
    let changed = |e: ImportError| match e {
        ImportError::Line { line, reason } => {
            ImportError::Mismatch { line, reason: format!("the file changed since it was checked: {reason}") }
        }
        other => other,
    };
    let mut grouper = Grouper::default();
    let mut readback = Readback::default();
    let total = check.log.events;
    let mut appended = 0;
    loop {
        let next = lines.next_event().map_err(changed)?;
        let end = next.is_none();
        let run = match next {
            Some(event) => grouper.push(lines.line, event).map_err(changed)?,
            None => grouper.finish_run(),
        };
        if let Some(run) = run {
            appended += run.events.len() as u64;
            append_run(store, run, &mut readback).await?;
            if readback.pending.len() >= 4096 {
                readback.check(store).await?;
            }
            progress(ImportPhase::Appending, appended, total);
        }
        if end {
            break;
        }
    }
    readback.check(store).await?;
    progress(ImportPhase::Appending, appended, total);
    if appended != total || lines.line != check.lines {
        return Err(ImportError::Mismatch {
            line: lines.line,
            reason: format!("the file changed since it was checked ({total} events then, {appended} now)"),
        });
    }
    Ok(ImportSummary { events: appended, appends: grouper.appends, streams: grouper.verifier.summary().streams })
}

async fn append_run<S: EventStore>(store: &S, run: Run, readback: &mut Readback) -> Result<(), ImportError> {
    let stream = run.stream.expect("a run has a stream");
    let (first_line, first_version, _) = run.expected[0];
    let last_version = run.expected[run.expected.len() - 1].1;
    let expected =
        if first_version == 1 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(first_version - 1) };
    let result = store
        .append(&stream, expected, run.events)
        .await
        .map_err(|error| ImportError::Store { line: first_line, error })?;
    if result.duplicate || result.first_version != first_version || result.last_version != last_version {
        return Err(ImportError::Mismatch {
            line: first_line,
            reason: format!(
                "{stream}: the store wrote v{}..v{}{} where the file has v{first_version}..v{last_version}",
                result.first_version,
                result.last_version,
                if result.duplicate { " (as a repeat, writing nothing)" } else { "" }
            ),
        });
    }
    readback
        .pending
        .extend(run.expected.into_iter().map(|(line, version, hash)| (line, stream.clone(), version, hash)));
    Ok(())
}

/// Events appended but not yet read back, in append order.
#[derive(Debug, Default)]
struct Readback {
    pending: std::collections::VecDeque<(u64, StreamId, u64, Hash)>,
    /// The position to read back from next (none: from the start, since
    /// the store was empty).
    next_position: Option<u64>,
}

impl Readback {
    /// Reads the appended events back and compares them with the file.
    async fn check<S: EventStore>(&mut self, store: &S) -> Result<(), ImportError> {
        while let Some(&(line, _, _, _)) = self.pending.front() {
            let from = self.next_position.unwrap_or(1);
            let mut scan = store.scan(from).batch_max(self.pending.len());
            let batch = scan.next_batch().await.map_err(|error| ImportError::Store { line, error })?;
            let Some(batch) = batch else {
                return Err(ImportError::Mismatch { line, reason: "the appended event does not read back".into() });
            };
            for stored in batch {
                let Some((line, stream, version, hash)) = self.pending.pop_front() else {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "the store holds an event nobody imported: {} v{}",
                            stored.stream, stored.version
                        ),
                    });
                };
                if stored.stream != stream || stored.version != version {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "the store holds {} v{} where {stream} v{version} was appended",
                            stored.stream, stored.version
                        ),
                    });
                }
                if stored.hash != hash {
                    return Err(ImportError::Mismatch {
                        line,
                        reason: format!(
                            "{stream} v{version}: the store computed hash {} where the file has {hash}",
                            stored.hash
                        ),
                    });
                }
                self.next_position = Some(stored.position + 1);
            }
        }
        Ok(())
    }
}
