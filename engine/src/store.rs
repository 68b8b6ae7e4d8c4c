//! The event store contract, and an in-memory store for tests.
//!
//! A store keeps one log of [`RecordedEvent`]s in global order, partitioned
//! into streams. The contract every adapter must keep (and that the shared
//! conformance suite checks):
//!
//! - **Expected version.** `append` checks [`ExpectedVersion`] against the
//!   stream's head under the store's own concurrency control; a mismatch is
//!   [`Error::WrongExpectedVersion`] and writes nothing.
//! - **Atomic appends.** All events of one append become visible together, or
//!   none do, also across a crash.
//! - **Hash chain.** The store computes each event's `prev_hash`/`hash`
//!   against the stream's current head, also for `ExpectedVersion::Any`.
//! - **Idempotency.** An append whose command id was appended before returns
//!   the first append's result with `duplicate: true` and writes nothing.
//! - **Order.** Positions strictly increase in log order; they need not be
//!   dense. `read_all` never skips an event, and never shows one that is not
//!   yet durable.
//! - **Wake-up.** `wait_for(p)` resolves once the log holds an event at
//!   position `p` or later, which is what lets [`Subscription`] go from
//!   catch-up to live without a gap.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::envelope::{Hash, NewEvent, RecordedEvent};
use crate::ids::{CommandId, StreamId};

/// The most events one append may carry.
pub const APPEND_EVENTS_MAX: usize = 64;
/// The largest serialised payload of one event, in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// The most events one `read_all` returns.
pub const READ_BATCH_MAX: usize = 10_000;

/// What the caller believes the stream's head is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "expect", content = "version", rename_all = "snake_case")]
pub enum ExpectedVersion {
    /// Append whatever the head is (the store still chains the hash onto it).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this (0 means "no stream").
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `actual` (0: none) matches.
    pub fn matches(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }

    /// The expectation in words, for `WrongExpectedVersion`: "any", "no stream"
    /// or the version number.
    pub fn describe(self) -> String {
        match self {
            ExpectedVersion::Any => "any".into(),
            ExpectedVersion::NoStream => "no stream".into(),
            ExpectedVersion::Exact(v) => v.to_string(),
        }
    }
}

/// Where an append landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResult {
    /// The stream appended to.
    pub stream: StreamId,
    /// The version of the append's first event in its stream (versions are
    /// 1-based).
    pub first_version: u64,
    /// The version of its last event: the stream's head after the append.
    pub last_version: u64,
    /// Global position of the last event of the append.
    pub position: u64,
    /// True when the command id had been appended before: nothing was
    /// written and this is the first append's result.
    pub duplicate: bool,
}

/// The head of one stream: its last version and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamHead {
    /// The stream's last version (1-based; 0 when the stream does not exist).
    pub version: u64,
    /// The last event's hash, which the next event's `prev_hash` must equal
    /// (`Hash::GENESIS` for an empty stream).
    pub hash: Hash,
}

/// The store contract. Stores are cheap-to-clone handles onto shared state.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends `events` (1..=APPEND_EVENTS_MAX, all with the same command id)
    /// to `stream` if its head matches `expected`.
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<AppendResult, Error>> + Send;

    /// The stream's events from `from_version` (1-based) on, in version order.
    fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// Up to `max` events at `from_position` or later, in global order.
    fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// Resolves once an event at `position` or later is readable.
    fn wait_for(&self, position: u64) -> impl Future<Output = Result<(), Error>> + Send;

    /// Catch-up then live, from `from_position`: no gaps, no duplicates.
    fn subscribe_all(&self, from_position: u64) -> Subscription<Self> {
        Subscription::new(self.clone(), from_position)
    }

    /// The log from `from_position` to its end as it is now, in batches:
    /// the one way every reader that does not wait for more walks the log.
    fn scan(&self, from_position: u64) -> Scan<Self> {
        Scan::new(self.clone(), from_position)
    }
}

/// A reader of the log up to its current end, in batches of at most
/// [`READ_BATCH_MAX`] (see [`EventStore::scan`]).
///
/// Each batch is read from the position after the last one, so the events
/// come once each, in order; `next_batch` answers `None` at the end of the
/// log instead of waiting (a [`Subscription`] waits). A store that answers
/// with an event before the position asked for is refused as `Corrupt`,
/// since a reader that trusted it would fold an event twice.
#[derive(Debug)]
pub struct Scan<S> {
    store: S,
    next_position: u64,
    batch_max: usize,
}

impl<S: EventStore> Scan<S> {
    /// A scan of `store` from `from_position` (positions are 1-based; 0 reads
    /// from the start too), in batches of at most `READ_BATCH_MAX`.
    pub fn new(store: S, from_position: u64) -> Self {
        Self { store, next_position: from_position.max(1), batch_max: READ_BATCH_MAX }
    }

    /// Reads at most `batch_max` events a batch (1 at least): for readers
    /// that want only the first event, or smaller steps between progress
    /// reports.
    pub fn batch_max(mut self, batch_max: usize) -> Self {
        self.batch_max = batch_max.clamp(1, READ_BATCH_MAX);
        self
    }

    /// The next batch (never empty), or `None` at the end of the log.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<RecordedEvent>>, Error> {
        let batch = self.store.read_all(self.next_position, self.batch_max).await?;
        let Some(last) = batch.last() else { return Ok(None) };
        if batch.first().is_some_and(|e| e.position < self.next_position) {
            return Err(Error::Corrupt("read_all returned an event before the position asked for".into()));
        }
        self.next_position = last.position + 1;
        Ok(Some(batch))
    }

    /// The position the next batch starts at.
    pub fn next_position(&self) -> u64 {
        self.next_position
    }
}

/// Checks the parts of an append that do not depend on the store's state.
/// Every adapter calls it first, so they refuse the same inputs.
pub fn validate_append(events: &[NewEvent]) -> Result<(), Error> {
    if events.is_empty() || events.len() > APPEND_EVENTS_MAX {
        return Err(Error::invalid("events", "an append carries 1 to 64 events"));
    }
    let command = &events[0].command_id;
    if events.iter().any(|e| &e.command_id != command) {
        return Err(Error::invalid("events", "all events of one append come from one command"));
    }
    for event in events {
        let size = serde_json::to_vec(&event.payload).map(|b| b.len()).unwrap_or(usize::MAX);
        if size > PAYLOAD_BYTES_MAX {
            return Err(Error::invalid("payload", "an event's payload is at most 64 KiB"));
        }
    }
    Ok(())
}

/// A catch-up-then-live reader of the whole log.
///
/// It reads in batches from its next position; when a read comes back empty
/// it waits for the store to report a later event, then reads again. Since it
/// always reads by position from the log itself, an event appended while it
/// was catching up is read in its place: there is no hand-over gap between
/// "historic" and "live".
#[derive(Debug)]
pub struct Subscription<S> {
    store: S,
    next_position: u64,
    buffer: VecDeque<RecordedEvent>,
    batch_max: usize,
}

impl<S: EventStore> Subscription<S> {
    /// A subscription to `store` from `from_position` (positions are 1-based; 0
    /// reads from the start too).
    pub fn new(store: S, from_position: u64) -> Self {
        Self { store, next_position: from_position.max(1), buffer: VecDeque::new(), batch_max: 1_000 }
    }

    /// The next event, waiting for one if the log has none yet.
    pub async fn next(&mut self) -> Result<RecordedEvent, Error> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(event);
            }
            self.fill().await?;
        }
    }

    /// The events readable now (at least one), waiting if there are none.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, Error> {
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        Ok(self.buffer.drain(..).collect())
    }

    /// The position the next event will be read from.
    pub fn next_position(&self) -> u64 {
        self.buffer.front().map_or(self.next_position, |e| e.position)
    }

    async fn fill(&mut self) -> Result<(), Error> {
        loop {
            let mut scan = Scan::new(self.store.clone(), self.next_position).batch_max(self.batch_max);
            if let Some(batch) = scan.next_batch().await? {
                self.next_position = scan.next_position();
                self.buffer.extend(batch);
                return Ok(());
            }
            self.store.wait_for(self.next_position).await?;
        }
    }
}

/// An in-memory store: the reference implementation of the contract, for
/// engine tests and simulations. Positions are dense (1, 2, 3...).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryLog>>,
}

#[derive(Debug, Default)]
struct MemoryLog {
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
    commands: HashMap<CommandId, AppendResult>,
    waiters: Vec<Waker>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event, in order (for tests and tools).
    pub fn snapshot(&self) -> Vec<RecordedEvent> {
        self.inner.lock().expect("memory store lock").log.clone()
    }

    fn append_now(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        validate_append(&events)?;
        let mut guard = self.inner.lock().expect("memory store lock");
        let log = &mut *guard;
        if let Some(first) = log.commands.get(&events[0].command_id) {
            return Ok(AppendResult { duplicate: true, ..first.clone() });
        }
        let indices = log.streams.entry(stream.clone()).or_default();
        let head = indices
            .last()
            .map_or(StreamHead::default(), |&i| StreamHead { version: log.log[i].version, hash: log.log[i].hash });
        if !expected.matches(head.version) {
            return Err(Error::WrongExpectedVersion {
                stream: stream.to_string(),
                expected: expected.describe(),
                actual: head.version,
            });
        }
        let command_id = events[0].command_id.clone();
        let (mut version, mut prev) = (head.version, head.hash);
        for event in events {
            version += 1;
            let position = log.log.len() as u64 + 1;
            let recorded = event.record(stream.clone(), version, position, prev);
            prev = recorded.hash;
            indices.push(log.log.len());
            log.log.push(recorded);
        }
        let result = AppendResult {
            stream: stream.clone(),
            first_version: head.version + 1,
            last_version: version,
            position: log.log.len() as u64,
            duplicate: false,
        };
        log.commands.insert(command_id, result.clone());
        for waker in log.waiters.drain(..) {
            waker.wake();
        }
        Ok(result)
    }
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        self.append_now(stream, expected, events)
    }

    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        let log = self.inner.lock().expect("memory store lock");
        let Some(indices) = log.streams.get(stream) else { return Ok(vec![]) };
        let skip = from_version.saturating_sub(1) as usize;
        Ok(indices.iter().skip(skip).map(|&i| log.log[i].clone()).collect())
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        let log = self.inner.lock().expect("memory store lock");
        let start = (from_position.max(1) - 1) as usize;
        Ok(log.log.iter().skip(start).take(max.min(READ_BATCH_MAX)).cloned().collect())
    }

    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        WaitFor { store: self, position }.await;
        Ok(())
    }
}

/// A future that is ready once the memory log reaches a position. The check
/// and the registration of the waker happen under the same lock as appends,
/// so a wake-up cannot slip between them.
struct WaitFor<'a> {
    store: &'a MemoryStore,
    position: u64,
}

impl Future for WaitFor<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let mut log = self.store.inner.lock().expect("memory store lock");
        if log.log.len() as u64 >= self.position {
            return Poll::Ready(());
        }
        log.waiters.push(cx.waker().clone());
        Poll::Pending
    }
}
