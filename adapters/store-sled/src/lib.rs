//! The embedded event store, on sled: gridloop's default, with zero set-up.
//!
//! # Layout
//!
//! A data directory holds a marker file `GRIDLOOP` (so that gridloop never
//! writes into a directory that holds something else) and the sled database
//! in `log/`. The log lives in sled's default tree, under one-byte key
//! prefixes, so that one `apply_batch` covers every key an append touches:
//!
//! | key                                  | value                              |
//! |--------------------------------------|------------------------------------|
//! | `e` position (u64 BE)                | the event, JSON (the envelope)     |
//! | `s` stream `\0` version (u64 BE)     | position (u64 BE)                  |
//! | `h` stream                           | head: version, hash, position      |
//! | `c` command id                       | the append's result, JSON          |
//!
//! The marker also names the directory's [`Format`]. In format 3 (every new
//! directory) an `e` value is not the JSON itself but the JSON compressed
//! with a zstd dictionary the database keeps under `dictionary`
//! ([`codec`]), and the position is only in the key; sled's pages stay
//! plain, so appends, reads and sled's recovery at open cost what format
//! 1's did. The log takes about twice the events' JSON on disk (format 2:
//! 1.6 times; the values are a quarter of format 2's, but sled's own
//! overhead per key weighs more on small ones, BENCHMARKS.md).
//! What export and NATS carry is still the JSON envelope. A format-1
//! directory (no compression) or format-2 one (sled compressing its pages,
//! which made every page read and every page replayed at open create a
//! zstd context: slow) is read and written in its own format, as sled
//! cannot switch in place.
//!
//! # Writing: one writer, group commit
//!
//! An append is encoded on the caller's thread first ([`Prepared`]): the
//! events' JSON, their hashes chained onto the stream's head as sled holds
//! it then, the index keys. Appends are then sent to a single writer thread,
//! which keeps only what needs the one true order: it splices each event's
//! position into its JSON, and encodes again only an append whose head
//! moved in between. It takes every request that
//! is waiting (up to [`GROUP_MAX`]), checks each against the stream heads
//! (in sled, or earlier in the same group), builds one `sled::Batch` for the
//! whole group, applies it atomically, and flushes once (fsync). Only then
//! does it answer the callers and publish the new durable head. Many
//! concurrent appends thus share one flush, and an `Ok` always means "on
//! disk". When fewer appends are waiting than recent groups held, the
//! writer waits a little for the rest ([`Gathering`]), so that clients
//! answered together are flushed together again. Since there is one writer, positions are assigned without locks
//! and are dense.
//!
//! # A full disk
//!
//! Before it applies a group, the writer checks the free space of the data
//! directory's file system: a group that would leave less than
//! [`DISK_RESERVE_BYTES`] is refused whole (`storage_failure`, "disk full"),
//! before sled sees it, and the next group is checked afresh, so writing
//! resumes by itself once space returns. The check is there because sled
//! applies a batch in memory before it flushes it: a flush that fails for
//! want of space would leave the tree holding keys that are not on disk.
//! Should a write fail anyway (the disk filled faster than the reserve, an
//! I/O error), the writer refuses every later append until the process
//! restarts, which recovers the log to what was durable; nothing it
//! acknowledged is lost, and the readers never saw past the durable head.
//!
//! # Reading
//!
//! Readers never see past the durable head: an event that is applied but not
//! yet flushed is invisible, so a projection can never get ahead of what a
//! crash would keep. [`EventStore::wait_for`] waits on a watch channel of the
//! durable head.
#![warn(missing_docs, unreachable_pub)]

pub mod accounts;
pub mod blobs;
pub mod codec;
pub mod personal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use gridloop_engine::Error as EngineError;
use gridloop_engine::envelope::{Hash, NewEvent, RecordedEvent};
use gridloop_engine::ids::{CommandId, StreamId};
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion, READ_BATCH_MAX, validate_append};
use tokio::sync::{oneshot, watch};

/// The most appends one group commit takes.
pub const GROUP_MAX: usize = 1_024;
/// The longest the writer waits for a group to fill (see [`Gathering`]).
pub const GATHER_WAIT_MAX: std::time::Duration = std::time::Duration::from_micros(500);
/// How many recent groups say how large a group can be expected to be.
const GROUPS_REMEMBERED: usize = 8;
/// The free space a group commit must leave on the data directory's file
/// system, beyond twice the group's own bytes (sled's log and its segment
/// rewrites need room of their own).
pub const DISK_RESERVE_BYTES: u64 = 16 * 1024 * 1024;
/// The marker file's name and first line.
pub const MARKER_FILE: &str = "GRIDLOOP";
/// The sled database's zstd level in format 2 (sled's own default is 5;
/// 3 costs the writer less for nearly the same size, BENCHMARKS.md).
const COMPRESSION_LEVEL: i32 = 3;

/// How a data directory keeps its log: its marker file says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The first format: sled without compression, about 3.5 times the
    /// events' JSON on disk. Directories written in it are read and
    /// written in it as they are (sled cannot change compression in
    /// place); to move one to format 2, `gridloop export` it and
    /// `gridloop import` it into a new directory.
    One,
    /// sled compressing every page it writes with zstd (keys and values
    /// alike), and the same keys and values as format 1. Still read and
    /// written as it is; sled's page compression made its appends, reads
    /// and recovery at open slow ([`codec`]).
    Two,
    /// Every new directory: sled's pages plain, each event's JSON stored
    /// compressed with a dictionary the database keeps ([`codec`]), its
    /// position only in its key.
    Three,
}

impl Format {
    /// The marker file's text for this format.
    fn marker(self) -> &'static str {
        match self {
            Format::One => "gridloop data directory\nformat = 1\n",
            Format::Two => "gridloop data directory\nformat = 2\n",
            Format::Three => "gridloop data directory\nformat = 3\n",
        }
    }

    fn from_marker(text: &str) -> Option<Self> {
        [Format::One, Format::Two, Format::Three].into_iter().find(|f| f.marker() == text)
    }
}

/// The one error type of this crate: what can go wrong opening a store.
/// (Once open, failures are reported as the engine's `Error::Storage` or
/// `Error::Corrupt`, per the store contract.)
#[derive(Debug, thiserror::Error)]
pub enum SledStoreError {
    /// The directory exists and holds files that are not a gridloop store.
    /// Caller: pick an empty or new directory; never delete it for them.
    #[error("{path} holds something else ({found}); give --data an empty directory or a gridloop data directory")]
    NotADataDirectory {
        /// The directory given as the data directory.
        path: PathBuf,
        /// What was found there instead, in words for the operator (a file,
        /// another format's marker, or an example of a foreign entry).
        found: String,
    },
    /// Another process (or another handle in this one) has the store open.
    /// Caller: stop the other gridloop, or use another --data directory.
    #[error("{path} is in use by another gridloop process")]
    InUse {
        /// The data directory whose lock is held.
        path: PathBuf,
    },
    /// The database files do not read back. Caller: restore from a backup or
    /// an export; do not write.
    #[error("{path} is corrupt: {detail}")]
    Corrupt {
        /// The data directory that failed to read back.
        path: PathBuf,
        /// What did not read back, as sled or the open-time position check
        /// reported it.
        detail: String,
    },
    /// The file system refused (permissions, disk full). Caller: fix and retry.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The store handle: cheap to clone, shared by every task.
#[derive(Clone, Debug)]
pub struct SledStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: sled::Db,
    format: Format,
    /// Format 3's event compression (none in formats 1 and 2).
    codec: Option<Arc<codec::Codec>>,
    /// Format 3's compression of the projections' tree.
    cold_codec: Option<Arc<codec::Codec>>,
    /// Set by the writer when a write failed: from then on every read error
    /// is reported as that failure (sled keeps its IO error and hands it to
    /// readers too), so callers hear "restart" rather than a raw IO error.
    write_failure: Arc<std::sync::OnceLock<String>>,
    requests: Option<std::sync::mpsc::Sender<Request>>,
    durable: watch::Receiver<u64>,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Request {
    stream: StreamId,
    expected: ExpectedVersion,
    command: CommandId,
    /// The append encoded by the caller, on the head it expected.
    prepared: Prepared,
    /// The events as the caller gave them, for the rare append whose head
    /// moved since it was prepared. They go back with the answer, so that
    /// they are freed on the caller's thread, not the writer's.
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Answer>,
}

/// The writer's answer, and the request's events handed back.
type Answer = (Result<AppendResult, EngineError>, Vec<NewEvent>);

/// An append encoded on the caller's thread, before it reaches the writer.
///
/// Everything a write needs that does not depend on the position (the
/// events' JSON, their hashes, the index keys, the new head) is computed
/// here, on the head the caller read from sled. The hash covers the
/// version and the previous hash but not the position, so the writer uses
/// these bytes as they are when the stream's head is still that head, and
/// only splices in the positions; otherwise (another append to the same
/// stream got there first) it encodes the events again on the real head.
#[derive(Debug)]
struct Prepared {
    /// The head the events were chained onto.
    on: Head,
    /// The head after them.
    next: Head,
    events: Vec<PreparedEvent>,
    head_key: Vec<u8>,
    command_key: Vec<u8>,
}

/// One event's stored JSON, cut where its position goes, and its index key.
#[derive(Debug)]
struct PreparedEvent {
    /// Format 3: the stored value, whole (the position is in the key).
    stored: Option<Vec<u8>>,
    /// The JSON up to and including `"position":`.
    before: Vec<u8>,
    /// The JSON after the position (from the comma on).
    after: Vec<u8>,
    stream_key: Vec<u8>,
}

impl PreparedEvent {
    /// Encodes `recorded` (whose position is not yet known) once.
    fn new(recorded: &RecordedEvent, codec: Option<&codec::Codec>) -> Result<Self, EngineError> {
        let placeholder = RecordedEvent { position: 0, ..recorded.clone() };
        let json = serde_json::to_vec(&placeholder).map_err(|e| EngineError::Storage(e.to_string()))?;
        let stream_key = stream_key(&recorded.stream, recorded.version);
        if let Some(codec) = codec {
            let stored = codec.encode(&json).map_err(EngineError::Storage)?;
            return Ok(Self { stored: Some(stored), before: vec![], after: vec![], stream_key });
        }
        // `position` is the fourth field, after the stream's name; a quote
        // inside a JSON string is always escaped, so the first match of
        // this pattern is the field itself.
        const FIELD: &[u8] = b",\"position\":0,";
        let at = json
            .windows(FIELD.len())
            .position(|w| w == FIELD)
            .ok_or_else(|| EngineError::Storage("an event's JSON has no position field".into()))?;
        let cut = at + FIELD.len() - 2;
        Ok(Self { stored: None, before: json[..cut].to_vec(), after: json[cut + 1..].to_vec(), stream_key })
    }

    /// The stored value at `position`: format 3's as it is, or the JSON
    /// with `position` spliced in.
    fn at(&self, position: u64) -> Vec<u8> {
        if let Some(stored) = &self.stored {
            return stored.clone();
        }
        let digits = position.to_string();
        [&self.before[..], digits.as_bytes(), &self.after[..]].concat()
    }
}

impl Prepared {
    /// Chains `events` onto `on` and encodes them.
    fn new(
        stream: &StreamId,
        on: Head,
        events: &[NewEvent],
        codec: Option<&codec::Codec>,
    ) -> Result<Self, EngineError> {
        let command_key = command_key(&events[0].command_id);
        let mut next = on;
        let mut prepared = Vec::with_capacity(events.len());
        for event in events {
            next.version += 1;
            let recorded = event.clone().record(stream.clone(), next.version, 0, next.hash);
            next.hash = recorded.hash;
            prepared.push(PreparedEvent::new(&recorded, codec)?);
        }
        Ok(Self { on, next, events: prepared, head_key: head_key(stream), command_key })
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, SledStoreError> {
        Self::open_or_create(dir, Format::Three)
    }

    /// Opens the store in `dir`, or creates it there in `format` if `dir`
    /// is new or empty. Only tests create in [`Format::One`]: they check
    /// that a directory written by the old code still reads.
    pub fn open_or_create(dir: &Path, format: Format) -> Result<Self, SledStoreError> {
        let format = prepare_directory(dir, format)?;
        let db = sled_config(dir, format).open().map_err(|e| open_error(dir, e))?;
        let corrupt = |detail| SledStoreError::Corrupt { path: dir.to_path_buf(), detail };
        let next_position = last_position(&db).map_err(corrupt)? + 1;
        let (codec, cold_codec) = match format {
            Format::Three => {
                let events =
                    Kept { key: codec::DICTIONARY_KEY, new: codec::DICTIONARY, bytes_max: codec::EVENT_BYTES_MAX };
                let cold = Kept {
                    key: codec::COLD_DICTIONARY_KEY,
                    new: codec::COLD_DICTIONARY,
                    bytes_max: codec::COLD_BYTES_MAX,
                };
                let projections = db.open_tree(PROJECTIONS_TREE).map_err(|e| corrupt(e.to_string()))?;
                (
                    Some(Arc::new(events.codec(&db, next_position == 1).map_err(corrupt)?)),
                    Some(Arc::new(cold.codec(&db, projections.is_empty()).map_err(corrupt)?)),
                )
            }
            Format::One | Format::Two => (None, None),
        };
        let (durable_tx, durable) = watch::channel(next_position - 1);
        let (requests, receiver) = std::sync::mpsc::channel();
        let failed = Arc::new(std::sync::OnceLock::new());
        let writer = Writer {
            db: db.clone(),
            dir: dir.to_path_buf(),
            next_position,
            codec: codec.clone(),
            durable: durable_tx,
            failed: failed.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("gridloop-sled-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| SledStoreError::Io { path: dir.to_path_buf(), source })?;
        let inner = Inner {
            db,
            format,
            codec,
            cold_codec,
            write_failure: failed,
            requests: Some(requests),
            durable,
            writer: Some(writer),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// How this directory keeps its log.
    pub fn format(&self) -> Format {
        self.inner.format
    }

    /// The last durable position (0 for an empty log).
    pub fn head_position(&self) -> u64 {
        *self.inner.durable.borrow()
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.inner.db.size_on_disk().unwrap_or(0)
    }

    /// Walks every durable event's stored bytes without decoding them: how
    /// many, and how many bytes (the events' JSON). The rebuild bench uses
    /// it to split reading the log into sled's part and the decoding.
    pub fn scan_events(&self) -> Result<(u64, u64), EngineError> {
        let durable = self.durable_head();
        let (mut count, mut bytes) = (0u64, 0u64);
        if durable == 0 {
            return Ok((0, 0));
        }
        for entry in self.inner.db.range(event_key(1)..=event_key(durable)) {
            let (_, value) = entry.map_err(storage)?;
            count += 1;
            bytes += value.len() as u64;
        }
        Ok((count, bytes))
    }

    fn durable_head(&self) -> u64 {
        *self.inner.durable.borrow()
    }

    /// A read's sled error, or the write failure that explains it.
    fn read_failure(&self, e: sled::Error) -> EngineError {
        match self.inner.write_failure.get() {
            Some(failed) => EngineError::Storage(failed.clone()),
            None => storage(e),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it has answered every
        // request already sent; join it so the database is flushed and its
        // lock released before `open` can be called again.
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl EventStore for SledStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, EngineError> {
        validate_append(&events)?;
        let command = events[0].command_id.clone();
        // Encode on the caller's thread, on the head sled holds now (which
        // a group in flight may still change: the writer checks).
        let on = match expected {
            ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => Head::default(),
            _ => read_head(&self.inner.db, stream).unwrap_or_default(),
        };
        let prepared = Prepared::new(stream, on, &events, self.inner.codec.as_deref())?;
        let (reply, answer) = oneshot::channel();
        let request = Request { stream: stream.clone(), expected, command, prepared, events, reply };
        let sender = self.inner.requests.as_ref().ok_or_else(|| EngineError::Storage("the store is closed".into()))?;
        sender.send(request).map_err(|_| EngineError::Storage("the store's writer has stopped".into()))?;
        let (result, _events) =
            answer.await.map_err(|_| EngineError::Storage("the store's writer stopped before answering".into()))?;
        result
    }

    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, EngineError> {
        let durable = self.durable_head();
        let start = stream_key(stream, from_version.max(1));
        let end = stream_key(stream, u64::MAX);
        let mut events = Vec::new();
        for entry in self.inner.db.range(start..=end) {
            let (_, position) = entry.map_err(|e| self.read_failure(e))?;
            let position = u64_from(&position)?;
            if position > durable {
                break;
            }
            let bytes = self.inner.db.get(event_key(position)).map_err(|e| self.read_failure(e))?.ok_or_else(|| {
                EngineError::Corrupt(format!("{stream}: index names position {position}, which holds no event"))
            })?;
            events.push(decode_event(position, &bytes, self.inner.codec.as_deref())?);
        }
        Ok(events)
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, EngineError> {
        let durable = self.durable_head();
        let from = from_position.max(1);
        if from > durable {
            return Ok(vec![]);
        }
        let take = max.min(READ_BATCH_MAX);
        self.inner
            .db
            .range(event_key(from)..=event_key(durable))
            .take(take)
            .map(|entry| {
                let (key, bytes) = entry.map_err(|e| self.read_failure(e))?;
                decode_event(u64_from(&key[1..])?, &bytes, self.inner.codec.as_deref())
            })
            .collect()
    }

    async fn wait_for(&self, position: u64) -> Result<(), EngineError> {
        let mut durable = self.inner.durable.clone();
        durable
            .wait_for(|&head| head >= position)
            .await
            .map(|_| ())
            .map_err(|_| EngineError::Storage("the store's writer has stopped".into()))
    }
}

/// The single writer: owns position assignment and the group commit.
struct Writer {
    db: sled::Db,
    /// The data directory, whose file system's free space is checked.
    dir: PathBuf,
    next_position: u64,
    codec: Option<Arc<codec::Codec>>,
    durable: watch::Sender<u64>,
    /// Why writing stopped: set when a batch failed after sled may have
    /// applied it in memory, so that nothing is ever written on top of it.
    failed: Arc<std::sync::OnceLock<String>>,
}

/// What earlier appends of the same group changed, not yet in sled.
#[derive(Default)]
struct Pending {
    heads: HashMap<StreamId, Head>,
    commands: HashMap<CommandId, AppendResult>,
    /// The bytes of every value planned so far.
    bytes: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Head {
    version: u64,
    hash: Hash,
}

/// Adaptive group commit: how long the writer may wait for a group to fill.
///
/// Without it, groups fragment. Eight clients each waiting on one flush get
/// their answers together, and send their next appends a few microseconds
/// apart; the writer, woken by the first, would flush a group of one or
/// two while the other six wait a whole flush for the next. So when fewer
/// appends are waiting than the largest of the last few groups, the writer
/// waits for that many, but never longer than its last commit took (at
/// worst the wait costs what the flush it saves would have), nor
/// [`GATHER_WAIT_MAX`]. Measured: 8 clients 9.0–10.7 k → 14.5 k commands/s;
/// no change at 64 clients, whose groups were already full (BENCHMARKS.md). One writer alone is never kept waiting: its groups
/// are of one. When clients go away, the remembered sizes shrink within
/// [`GROUPS_REMEMBERED`] groups.
#[derive(Debug, Default)]
struct Gathering {
    sizes: std::collections::VecDeque<usize>,
    commit_took: std::time::Duration,
}

impl Gathering {
    fn target(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(1).min(GROUP_MAX)
    }

    /// Until when to wait for more, when `waiting` appends are in hand.
    fn deadline(&self, waiting: usize) -> Option<std::time::Instant> {
        (waiting < self.target()).then(|| std::time::Instant::now() + self.commit_took.min(GATHER_WAIT_MAX))
    }

    fn committed(&mut self, size: usize, took: std::time::Duration) {
        if self.sizes.len() == GROUPS_REMEMBERED {
            self.sizes.pop_front();
        }
        self.sizes.push_back(size);
        self.commit_took = took;
    }
}

impl Writer {
    fn run(mut self, requests: std::sync::mpsc::Receiver<Request>) {
        let mut gathering = Gathering::default();
        while let Ok(first) = requests.recv() {
            let mut group = vec![first];
            while group.len() < GROUP_MAX {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            if let Some(deadline) = gathering.deadline(group.len()) {
                while group.len() < gathering.target() {
                    let wait = deadline.saturating_duration_since(std::time::Instant::now());
                    match requests.recv_timeout(wait) {
                        Ok(request) => group.push(request),
                        Err(_) => break,
                    }
                }
            }
            let size = group.len();
            let started = std::time::Instant::now();
            self.commit(group);
            gathering.committed(size, started.elapsed());
        }
        let _ = self.db.flush();
    }

    /// Plans every request of the group into one batch, applies and flushes
    /// it, then answers. If the batch fails, every request that had been
    /// planned fails with it, and positions are rolled back.
    fn commit(&mut self, group: Vec<Request>) {
        let _span = tracing::debug_span!("group_commit", appends = group.len()).entered();
        if let Some(failed) = self.failed.get() {
            for request in group {
                let _ = request.reply.send((Err(EngineError::Storage(failed.clone())), request.events));
            }
            return;
        }
        let start_position = self.next_position;
        let mut batch = sled::Batch::default();
        let mut pending = Pending::default();
        let mut answers = Vec::with_capacity(group.len());
        for request in group {
            let result = self.plan(&request, &mut batch, &mut pending);
            answers.push((request.reply, result, request.events));
        }
        if self.next_position != start_position {
            let written = match self.check_space(pending.bytes) {
                Err(refusal) => Err(refusal),
                Ok(()) => self.db.apply_batch(batch).and_then(|()| self.db.flush().map(|_| ())).map_err(|e| {
                    let message = format!(
                        "writing to disk failed ({e}); this process writes nothing more until it restarts, \
                         which recovers the log to its last durable state"
                    );
                    let _ = self.failed.set(message.clone());
                    message
                }),
            };
            if let Err(message) = written {
                tracing::error!(error = %message, "group commit failed");
                self.next_position = start_position;
                for (_, result, _) in &mut answers {
                    // A repeat of an append planned in this same group fails with it.
                    if matches!(result, Ok(r) if !r.duplicate || r.position >= start_position) {
                        *result = Err(EngineError::Storage(message.clone()));
                    }
                }
            } else {
                self.durable.send_replace(self.next_position - 1);
            }
        }
        for (reply, result, events) in answers {
            let _ = reply.send((result, events));
        }
    }

    /// Refuses a group of `bytes` that would leave less than
    /// [`DISK_RESERVE_BYTES`] free. A file system that cannot say how much is
    /// free is written to as before.
    fn check_space(&self, bytes: u64) -> Result<(), String> {
        let Ok(available) = fs2::available_space(&self.dir) else { return Ok(()) };
        let needed = bytes.saturating_mul(2).saturating_add(DISK_RESERVE_BYTES);
        if available < needed {
            return Err(format!(
                "disk full: no space left for this append ({available} bytes available in {}, {needed} needed); \
                 nothing was written; retry with the same command id once space is freed",
                self.dir.display()
            ));
        }
        Ok(())
    }

    fn plan(
        &mut self,
        request: &Request,
        batch: &mut sled::Batch,
        pending: &mut Pending,
    ) -> Result<AppendResult, EngineError> {
        let command = &request.command;
        if let Some(first) = self.earlier_result(command, pending)? {
            return Ok(AppendResult { duplicate: true, ..first });
        }
        let head = match pending.heads.get(&request.stream) {
            Some(head) => *head,
            None => self.stored_head(&request.stream)?,
        };
        if !request.expected.matches(head.version) {
            return Err(EngineError::WrongExpectedVersion {
                stream: request.stream.to_string(),
                expected: request.expected.describe(),
                actual: head.version,
            });
        }
        let again;
        let prepared = if request.prepared.on == head {
            &request.prepared
        } else {
            again = Prepared::new(&request.stream, head, &request.events, self.codec.as_deref())?;
            &again
        };
        for event in &prepared.events {
            let position = self.next_position;
            self.next_position += 1;
            let bytes = event.at(position);
            pending.bytes += bytes.len() as u64 + 64;
            batch.insert(event_key(position).to_vec(), bytes);
            batch.insert(event.stream_key.as_slice(), position.to_be_bytes().to_vec());
        }
        let result = AppendResult {
            stream: request.stream.clone(),
            first_version: head.version + 1,
            last_version: prepared.next.version,
            position: self.next_position - 1,
            duplicate: false,
        };
        batch.insert(prepared.head_key.as_slice(), encode_head(prepared.next));
        let result_bytes = encode_result(&result, self.codec.is_some())?;
        batch.insert(prepared.command_key.as_slice(), result_bytes);
        pending.heads.insert(request.stream.clone(), prepared.next);
        pending.commands.insert(command.clone(), result.clone());
        Ok(result)
    }

    fn earlier_result(&self, command: &CommandId, pending: &Pending) -> Result<Option<AppendResult>, EngineError> {
        if let Some(result) = pending.commands.get(command) {
            return Ok(Some(result.clone()));
        }
        let Some(bytes) = self.db.get(command_key(command)).map_err(storage)? else { return Ok(None) };
        decode_result(&bytes, self.codec.is_some())
            .map(Some)
            .map_err(|e| EngineError::Corrupt(format!("command index of {command}: {e}")))
    }

    fn stored_head(&self, stream: &StreamId) -> Result<Head, EngineError> {
        read_head(&self.db, stream)
    }
}

/// A command's append result as the command index keeps it: JSON in
/// formats 1 and 2; in format 3 (`compact`) the first and last versions
/// and the position (u64 BE each), then the stream's name: 24 bytes and
/// the name instead of some 110 bytes of JSON, once per append.
fn encode_result(result: &AppendResult, compact: bool) -> Result<Vec<u8>, EngineError> {
    if !compact {
        return serde_json::to_vec(result).map_err(|e| EngineError::Storage(e.to_string()));
    }
    let mut bytes = Vec::with_capacity(24 + result.stream.as_str().len());
    for n in [result.first_version, result.last_version, result.position] {
        bytes.extend_from_slice(&n.to_be_bytes());
    }
    bytes.extend_from_slice(result.stream.as_str().as_bytes());
    Ok(bytes)
}

/// Reads what [`encode_result`] wrote (a stored result is never a duplicate).
fn decode_result(bytes: &[u8], compact: bool) -> Result<AppendResult, String> {
    if !compact {
        return serde_json::from_slice(bytes).map_err(|e| e.to_string());
    }
    if bytes.len() < 24 {
        return Err(format!("{} bytes, fewer than the 24 of its versions and position", bytes.len()));
    }
    let n = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let name = std::str::from_utf8(&bytes[24..]).map_err(|e| e.to_string())?;
    // As the JSON form reads it: the stream's name as it was appended.
    let stream: StreamId =
        serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|e| e.to_string())?;
    Ok(AppendResult { stream, first_version: n(0), last_version: n(8), position: n(16), duplicate: false })
}

/// The head of `stream` as sled holds it (applied, perhaps not yet durable).
fn read_head(db: &sled::Db, stream: &StreamId) -> Result<Head, EngineError> {
    let Some(bytes) = db.get(head_key(stream)).map_err(storage)? else { return Ok(Head::default()) };
    if bytes.len() != 40 {
        return Err(EngineError::Corrupt(format!("head of {stream} has {} bytes", bytes.len())));
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[8..]);
    Ok(Head { version: u64_from(&bytes[..8])?, hash: Hash(hash) })
}

fn event_key(position: u64) -> [u8; 9] {
    let mut key = [b'e'; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn stream_key(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.as_str().len() + 10);
    key.push(b's');
    key.extend_from_slice(stream.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn head_key(stream: &StreamId) -> Vec<u8> {
    [b"h", stream.as_str().as_bytes()].concat()
}

fn command_key(command: &CommandId) -> Vec<u8> {
    [b"c", command.as_str().as_bytes()].concat()
}

fn encode_head(head: Head) -> Vec<u8> {
    [&head.version.to_be_bytes()[..], &head.hash.0[..]].concat()
}

fn u64_from(bytes: &[u8]) -> Result<u64, EngineError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| EngineError::Corrupt("an index entry is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(array))
}

/// The event stored under `position`; one that does not decode, or that
/// names another position than its key, is named by its position.
fn decode_event(position: u64, bytes: &[u8], codec: Option<&codec::Codec>) -> Result<RecordedEvent, EngineError> {
    let corrupt = |e: String| EngineError::Corrupt(format!("the event at position {position} does not decode: {e}"));
    if let Some(codec) = codec {
        // Format 3 keeps the position only in the key (the value says 0).
        let json = codec.decode(bytes).map_err(corrupt)?;
        let event: RecordedEvent = serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))?;
        if event.position != 0 {
            return Err(corrupt(format!("its value names position {}", event.position)));
        }
        return Ok(RecordedEvent { position, ..event });
    }
    let event: RecordedEvent = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if event.position != position {
        return Err(EngineError::Corrupt(format!(
            "the event stored at position {position} says it is at position {}",
            event.position
        )));
    }
    Ok(event)
}

fn storage(e: sled::Error) -> EngineError {
    EngineError::Storage(e.to_string())
}

/// The position of the last event in the log, or 0.
fn last_position(db: &sled::Db) -> Result<u64, String> {
    match db.scan_prefix(b"e").next_back() {
        None => Ok(0),
        Some(Ok((key, _))) => u64_from(&key[1..]).map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e.to_string()),
    }
}

/// The tree of the projections' snapshots and cold rows.
const PROJECTIONS_TREE: &str = "projections";

/// A dictionary a format-3 database keeps, under `key`.
struct Kept {
    key: &'static [u8],
    /// What a new database is given: this binary's.
    new: &'static [u8],
    bytes_max: usize,
}

impl Kept {
    /// The codec of the dictionary the database keeps; one that has
    /// nothing yet to decode (`empty`) and no dictionary is given `new`.
    fn codec(&self, db: &sled::Db, empty: bool) -> Result<codec::Codec, String> {
        if let Some(kept) = db.get(self.key).map_err(|e| e.to_string())? {
            return Ok(codec::Codec::bounded(&kept, self.bytes_max));
        }
        if !empty {
            let name = String::from_utf8_lossy(self.key);
            return Err(format!("a format-3 database with values but without its {name} (compression dictionary)"));
        }
        db.insert(self.key, self.new).map_err(|e| e.to_string())?;
        db.flush().map_err(|e| e.to_string())?;
        Ok(codec::Codec::bounded(self.new, self.bytes_max))
    }
}

/// The sled configuration of a data directory in `format`.
fn sled_config(dir: &Path, format: Format) -> sled::Config {
    sled::Config::new()
        .path(dir.join("log"))
        .cache_capacity(64 * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .use_compression(format == Format::Two)
        .compression_factor(COMPRESSION_LEVEL)
}

/// Opens an existing data directory's sled database directly, configured
/// for its format, without a store around it: for tests that change bytes
/// behind the store's back, as a disk or a careless hand would.
pub fn open_database(dir: &Path) -> Result<sled::Db, SledStoreError> {
    let text = std::fs::read_to_string(dir.join(MARKER_FILE))
        .map_err(|source| SledStoreError::Io { path: dir.to_path_buf(), source })?;
    let format = Format::from_marker(&text).ok_or_else(|| SledStoreError::NotADataDirectory {
        path: dir.to_path_buf(),
        found: "a GRIDLOOP marker of another format".into(),
    })?;
    sled_config(dir, format).open().map_err(|e| open_error(dir, e))
}

/// Makes sure `dir` is ours: new, empty, or marked by gridloop; and says
/// in which format (a new or empty one is marked as `new`).
fn prepare_directory(dir: &Path, new: Format) -> Result<Format, SledStoreError> {
    let io = |source| SledStoreError::Io { path: dir.to_path_buf(), source };
    let marker = dir.join(MARKER_FILE);
    if dir.exists() {
        if !dir.is_dir() {
            return Err(SledStoreError::NotADataDirectory {
                path: dir.to_path_buf(),
                found: "a file, not a directory".into(),
            });
        }
        if marker.exists() {
            let text = std::fs::read_to_string(&marker).map_err(io)?;
            return Format::from_marker(&text).ok_or_else(|| SledStoreError::NotADataDirectory {
                path: dir.to_path_buf(),
                found: "a GRIDLOOP marker of another format".into(),
            });
        }
        let mut entries = std::fs::read_dir(dir).map_err(io)?;
        if let Some(entry) = entries.next() {
            let name = entry.map_err(io)?.file_name().to_string_lossy().into_owned();
            return Err(SledStoreError::NotADataDirectory {
                path: dir.to_path_buf(),
                found: format!("for example {name:?}"),
            });
        }
    } else {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(&marker, new.marker()).map_err(io)?;
    Ok(new)
}

fn open_error(dir: &Path, e: sled::Error) -> SledStoreError {
    let path = dir.to_path_buf();
    match e {
        sled::Error::Io(source) if source.to_string().contains("lock") => SledStoreError::InUse { path },
        sled::Error::Io(source) => SledStoreError::Io { path, source },
        other => SledStoreError::Corrupt { path, detail: other.to_string() },
    }
}

impl SledStore {
    /// The photo store of this data directory (see [`blobs`]).
    pub fn blobs(&self) -> Result<blobs::SledBlobs, EngineError> {
        blobs::SledBlobs::open(&self.inner.db)
    }

    /// A tree of this database for an adapter's own data beside the log
    /// (the notifier's outbox), so that one sled transaction can cover it;
    /// never the log's own trees.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, EngineError> {
        self.inner.db.open_tree(name).map_err(storage)
    }

    /// The personal-data store of this data directory (see [`personal`]).
    pub fn personal(&self) -> Result<personal::SledPersonal, EngineError> {
        personal::SledPersonal::open(&self.inner.db)
    }

    /// Residents' accounts of this data directory (see [`accounts`]).
    pub fn accounts(&self) -> Result<accounts::SledAccounts, EngineError> {
        accounts::SledAccounts::open(&self.inner.db)
    }
}

/// Projection snapshots kept in the same database, in their own tree: one
/// key per projection, each save one atomic insert followed by a flush.
#[derive(Clone, Debug)]
pub struct SledSnapshots {
    tree: sled::Tree,
    /// Format 3: every value compressed with the database's cold dictionary.
    codec: Option<Arc<codec::Codec>>,
}

impl SledStore {
    /// The snapshot store of this data directory.
    pub fn snapshots(&self) -> Result<SledSnapshots, EngineError> {
        let tree = self.inner.db.open_tree(PROJECTIONS_TREE).map_err(storage)?;
        Ok(SledSnapshots { tree, codec: self.inner.cold_codec.clone() })
    }
}

impl SledSnapshots {
    /// A value as the tree keeps it.
    fn encode(&self, value: &[u8]) -> Result<Vec<u8>, gridloop_projections::ProjectionError> {
        match &self.codec {
            Some(codec) => codec.encode(value).map_err(gridloop_projections::ProjectionError::SnapshotStore),
            None => Ok(value.to_vec()),
        }
    }

    /// A value as the tree kept it, read back; `key` names it in an error.
    fn decode(&self, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, gridloop_projections::ProjectionError> {
        match &self.codec {
            Some(codec) => codec.decode(stored).map_err(|e| {
                let key = String::from_utf8_lossy(key);
                gridloop_projections::ProjectionError::SnapshotStore(format!("the projections' row {key:?}: {e}"))
            }),
            None => Ok(stored.to_vec()),
        }
    }
}

impl gridloop_projections::runner::SnapshotStore for SledSnapshots {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, gridloop_projections::ProjectionError> {
        let _span = tracing::debug_span!("snapshot_load", name).entered();
        let value =
            self.tree.get(name).map_err(|e| gridloop_projections::ProjectionError::SnapshotStore(e.to_string()))?;
        value.map(|v| self.decode(name.as_bytes(), &v)).transpose()
    }

    fn save(&self, name: &str, bytes: &[u8]) -> Result<(), gridloop_projections::ProjectionError> {
        let _span = tracing::debug_span!("snapshot_save", name, bytes = bytes.len()).entered();
        let fail = |e: sled::Error| gridloop_projections::ProjectionError::SnapshotStore(e.to_string());
        self.tree.insert(name, self.encode(bytes)?).map_err(fail)?;
        self.tree.flush().map_err(fail)?;
        Ok(())
    }
}

/// The projections' cold rows ([`gridloop_projections::cold`]) in the same
/// tree as their snapshots, so that one `apply_batch` writes the rows with
/// the snapshots whose checkpoints they agree with.
impl gridloop_projections::cold::ColdStore for SledSnapshots {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, gridloop_projections::ProjectionError> {
        self.tree.get(key).map_err(cold_error)?.map(|v| self.decode(key, &v)).transpose()
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<gridloop_projections::cold::Entry>, gridloop_projections::ProjectionError> {
        use std::ops::Bound;
        let lower = match after {
            Some(after) if !reverse && after >= prefix => Bound::Excluded(after.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        let end = gridloop_projections::cold::prefix_end(prefix);
        let upper = match (after, end) {
            (Some(after), Some(end)) if reverse && after < end.as_slice() => Bound::Excluded(after.to_vec()),
            (Some(after), None) if reverse => Bound::Excluded(after.to_vec()),
            (_, Some(end)) => Bound::Excluded(end),
            (_, None) => Bound::Unbounded,
        };
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) = (&lower, &upper) {
            if l >= u {
                return Ok(Vec::new());
            }
        }
        let range = self.tree.range::<Vec<u8>, _>((lower, upper));
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if reverse { Box::new(range.rev()) } else { Box::new(range) };
        entries
            .take(limit)
            .map(|entry| {
                let (k, v) = entry.map_err(cold_error)?;
                let value = self.decode(&k, &v)?;
                Ok((k.to_vec(), value))
            })
            .collect()
    }

    fn commit(
        &self,
        writes: Vec<gridloop_projections::cold::Write>,
    ) -> Result<(), gridloop_projections::ProjectionError> {
        let _span = tracing::debug_span!("cold_commit", writes = writes.len()).entered();
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            match value {
                Some(value) => batch.insert(key, self.encode(&value)?),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch).map_err(cold_error)?;
        self.tree.flush().map_err(cold_error)?;
        Ok(())
    }
}

fn cold_error(e: sled::Error) -> gridloop_projections::ProjectionError {
    gridloop_projections::ProjectionError::SnapshotStore(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{GATHER_WAIT_MAX, GROUPS_REMEMBERED, Gathering};

    /// The bytes the writer stores are exactly the envelope's JSON, for any
    /// position, though they were encoded before the position was known.
    #[test]
    fn a_prepared_event_with_its_position_spliced_in_is_the_envelope_json() {
        let stream = gridloop_engine::ids::StreamId::new("ticket-T-\"position\":0,").expect("valid");
        let new = gridloop_store_conformance::event("prepared", 7);
        let recorded = new.record(stream, 3, 0, super::Hash([9; 32]));
        let prepared = super::PreparedEvent::new(&recorded, None).expect("encodes");
        for position in [0, 1, 9, 10, 12_345, u64::MAX] {
            let expected = super::RecordedEvent { position, ..recorded.clone() };
            assert_eq!(prepared.at(position), serde_json::to_vec(&expected).expect("encodes"), "position {position}");
        }
    }

    /// Format 3 stores the same value at any position, and it decodes to
    /// the envelope at the position of the key it is read under.
    #[test]
    fn a_format_3_value_decodes_to_the_envelope_at_its_key() {
        let codec = super::codec::Codec::new(super::codec::DICTIONARY);
        let stream = gridloop_engine::ids::StreamId::new("ticket-T-5").expect("valid");
        let recorded = gridloop_store_conformance::event("three", 2).record(stream, 1, 0, super::Hash([7; 32]));
        let prepared = super::PreparedEvent::new(&recorded, Some(&codec)).expect("encodes");
        assert_eq!(prepared.at(1), prepared.at(99), "the position is not in the value");
        for position in [1, 99, u64::MAX] {
            let read = super::decode_event(position, &prepared.at(position), Some(&codec)).expect("decodes");
            assert_eq!(read, super::RecordedEvent { position, ..recorded.clone() });
        }
    }

    #[test]
    fn a_lone_writer_is_never_kept_waiting() {
        let mut gathering = Gathering::default();
        assert!(gathering.deadline(1).is_none(), "nothing remembered: no wait");
        for _ in 0..4 {
            gathering.committed(1, Duration::from_micros(300));
        }
        assert!(gathering.deadline(1).is_none(), "groups of one: no wait");
    }

    #[test]
    fn fewer_waiting_than_recent_groups_held_wait_at_most_one_commit() {
        let mut gathering = Gathering::default();
        gathering.committed(8, Duration::from_micros(300));
        gathering.committed(2, Duration::from_micros(200));
        assert_eq!(gathering.target(), 8, "the largest recent group");
        assert!(gathering.deadline(8).is_none(), "a full group goes at once");
        let wait = gathering.deadline(2).expect("waits for the rest");
        let left = wait.saturating_duration_since(std::time::Instant::now());
        assert!(left <= Duration::from_micros(200), "no longer than the last commit took: {left:?}");
        gathering.committed(1, Duration::from_secs(1));
        let left = gathering.deadline(1).expect("waits").saturating_duration_since(std::time::Instant::now());
        assert!(left <= GATHER_WAIT_MAX, "never longer than the cap: {left:?}");
    }

    #[test]
    fn the_expected_size_shrinks_when_clients_go_away() {
        let mut gathering = Gathering::default();
        gathering.committed(64, Duration::from_micros(300));
        for _ in 1..GROUPS_REMEMBERED {
            gathering.committed(1, Duration::from_micros(300));
            assert_eq!(gathering.target(), 64, "the burst is still remembered");
        }
        gathering.committed(1, Duration::from_micros(300));
        assert_eq!(gathering.target(), 1, "the burst is forgotten after {GROUPS_REMEMBERED} groups");
        assert!(gathering.deadline(1).is_none());
    }
}
