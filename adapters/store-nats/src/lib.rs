//! The gridloop event store on NATS JetStream: for when one machine is not
//! enough. Several engine processes share one log; the server keeps the
//! order, the optimistic concurrency and the deduplication.
//!
//! # Map
//!
//! - [`layout`]: subjects, message bodies, headers and positions — what any
//!   NATS client needs to read the log.
//! - [`config`]: the `nats://` address with the stream's settings.
//! - [`cursor`]: ordered consumers behind `read_all` and `wait_for`.
//! - [`blobs`]: evidence photos in a JetStream Object Store bucket.
//! - this file: connecting (version and stream checks) and [`EventStore`].
//!
//! # Writing
//!
//! An append is one message on the stream's subject, published with
//! `Nats-Expected-Last-Subject-Sequence` set to the sequence of the stream's
//! last message (0: none), and `Nats-Msg-Id` set to the command id. So the
//! server refuses an append whose stream moved on (the engine's
//! `WrongExpectedVersion`) and recognises a repeated command inside the
//! duplicate window (the first append's result comes back). The hash chain
//! is computed here, on the head that the expected sequence pins: if the
//! head moved, the message is refused, so a chain can never fork.
//!
//! Heads are cached per stream, so an append after a read costs one round
//! trip; a stale cache only costs a refused publish and a re-read. An append
//! that expects a new stream assumes one without asking (the server refuses
//! it if the subject has messages). Publishes
//! are pipelined: each append awaits only its own ack, so concurrent commands
//! never wait for each other.
//!
//! # Reading
//!
//! `read_stream` asks the stream leader (the `STREAM.MSG.GET` API, not direct
//! get) for the subject's last message, so a read never returns state
//! older than the last acknowledged append; earlier messages come from a
//! per-stream cache or the leader. `read_all` and `wait_for` use ordered
//! consumers ([`cursor`]), kept open between calls so that a subscription
//! reads the log as one continuous consumer.
//!
//! # Invariants
//!
//! - Nothing here decides: no business rule, only the store contract.
//! - No append is ever published without an expected subject sequence.
//! - A stream with limits that could drop events (max age, messages,
//!   bytes), memory storage or other subjects is refused, not altered.
#![warn(missing_docs, unreachable_pub)]

pub mod blobs;
pub mod config;
pub mod cursor;
mod error;
pub mod layout;
pub mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use gridloop_engine::Error;
use gridloop_engine::envelope::{Hash, NewEvent, RecordedEvent};
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion, READ_BATCH_MAX, validate_append};
use tracing::Instrument;

pub use config::NatsConfig;
pub use error::NatsStoreError;

/// The oldest server gridloop runs on (major, minor).
pub const SERVER_VERSION_MIN: (u64, u64) = (2, 10);
/// How many streams' events are cached for `read_stream`.
pub const CACHED_STREAMS_MAX: usize = 4_096;
/// How many times an append with `ExpectedVersion::Any` retries a moved head.
pub const APPEND_ATTEMPTS_MAX: u32 = 16;
/// How long one request to the server may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle onto a gridloop log in a JetStream stream. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NatsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    config: NatsConfig,
    cache: Mutex<HashMap<StreamId, Cached>>,
    cursors: cursor::Pool,
    /// The server's largest message, read once at connect.
    max_payload: usize,
}

/// What this process knows of one engine stream: every event, and the
/// sequence of the message holding the last one.
#[derive(Clone, Debug)]
struct Cached {
    sequence: u64,
    events: Vec<RecordedEvent>,
}

/// A stream's head as an append needs it.
#[derive(Clone, Copy, Debug)]
struct Head {
    sequence: u64,
    version: u64,
    hash: Hash,
}

impl Head {
    /// The head of a stream with no messages.
    const GENESIS: Head = Head { sequence: 0, version: 0, hash: Hash::GENESIS };
}

impl NatsStore {
    /// Connects, checks the server's version, and opens (or creates) the stream.
    pub async fn connect(config: NatsConfig) -> Result<Self, NatsStoreError> {
        let client = connect_client(&config).await?;
        check_version(&client.server_info().version)?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let stream = match config.is_city() {
            false => open_stream(&js, &config).await?,
            true => open_city_stream(&js, &config).await?,
        };
        tracing::info!(stream = %config.stream, servers = %config.servers, city = config.is_city(), "NATS store open");
        let city = config
            .is_city()
            .then(|| cursor::City { prefix: config.prefix.clone(), districts: config.districts.clone() });
        let max_payload = client.server_info().max_payload;
        let inner = Inner {
            max_payload,
            client,
            js,
            stream: stream.clone(),
            config,
            cache: Mutex::new(HashMap::new()),
            cursors: cursor::Pool::new(stream, city),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The settings this store was opened with.
    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }

    /// The underlying client (for benchmarks that publish raw messages).
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// The stream's last sequence (0: empty), from the leader.
    pub async fn last_sequence(&self) -> Result<u64, Error> {
        self.inner.cursors.last_sequence().await
    }

    /// The bytes the stream holds on the server (per replica).
    pub async fn stored_bytes(&self) -> Result<u64, Error> {
        let mut stream = self.inner.stream.clone();
        let info = stream.info().await.map_err(|e| Error::Storage(format!("NATS stream info: {e}")))?;
        Ok(info.state.bytes)
    }

    /// The name of the server leading the stream (replicated streams only).
    pub async fn leader(&self) -> Result<Option<String>, Error> {
        let mut stream = self.inner.stream.clone();
        let info = stream.info().await.map_err(|e| Error::Storage(format!("NATS stream info: {e}")))?;
        Ok(info.cluster.as_ref().and_then(|c| c.leader.clone()))
    }

    fn subject(&self, stream: &StreamId) -> String {
        layout::subject(&self.inner.config.prefix, stream)
    }

    /// The last message of a subject, from the leader; `None` if it has none.
    async fn last_message(&self, subject: &str) -> Result<Option<(u64, Vec<RecordedEvent>)>, Error> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind as Kind;
        match self.inner.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Ok(Some((message.sequence, layout::decode(message.sequence, &message.payload)?))),
            Err(e) if e.kind() == Kind::NoMessageFound => Ok(None),
            Err(e) => Err(Error::Storage(format!("NATS: last message of {subject}: {e}"))),
        }
    }

    /// The head of a stream: from the cache unless `fresh`, else from the leader.
    async fn head(&self, stream: &StreamId, fresh: bool) -> Result<Head, Error> {
        if !fresh && let Some(head) = self.cached_head(stream) {
            return Ok(head);
        }
        let head = match self.last_message(&self.subject(stream)).await? {
            None => Head::GENESIS,
            Some((sequence, events)) => {
                let last = events.last().expect("decode refuses empty messages");
                Head { sequence, version: last.version, hash: last.hash }
            }
        };
        Ok(head)
    }

    fn cached_head(&self, stream: &StreamId) -> Option<Head> {
        let cache = self.inner.cache.lock().expect("cache lock");
        let cached = cache.get(stream)?;
        let last = cached.events.last()?;
        Some(Head { sequence: cached.sequence, version: last.version, hash: last.hash })
    }

    fn remember(&self, stream: &StreamId, sequence: u64, events: Vec<RecordedEvent>) {
        let mut cache = self.inner.cache.lock().expect("cache lock");
        if cache.len() >= CACHED_STREAMS_MAX && !cache.contains_key(stream) {
            // Any victim will do: a miss costs reads, never correctness.
            if let Some(victim) = cache.keys().next().cloned() {
                cache.remove(&victim);
            }
        }
        cache.insert(stream.clone(), Cached { sequence, events });
    }

    /// Extends the cached events of a stream after an append, if the cache
    /// held exactly the head the append was chained onto.
    fn extend_cache(&self, stream: &StreamId, head: Head, sequence: u64, appended: &[RecordedEvent]) {
        let mut cache = self.inner.cache.lock().expect("cache lock");
        match cache.get_mut(stream) {
            Some(cached) if cached.sequence == head.sequence => {
                cached.sequence = sequence;
                cached.events.extend_from_slice(appended);
            }
            Some(_) => {
                cache.remove(stream);
            }
            None if head.sequence == 0 => {
                drop(cache);
                self.remember(stream, sequence, appended.to_vec());
            }
            None => {}
        }
    }

    fn forget(&self, stream: &StreamId) {
        self.inner.cache.lock().expect("cache lock").remove(stream);
    }

    async fn publish(
        &self,
        subject: String,
        events: &[RecordedEvent],
        expected_sequence: u64,
    ) -> Result<Result<jetstream::publish::PublishAck, PublishErrorKind>, Error> {
        let body = layout::encode(events)?;
        let limit = self.inner.max_payload;
        if body.len() + 512 > limit {
            return Err(Error::invalid("events", format!("one append is at most {limit} bytes on this NATS server")));
        }
        let first = &events[0];
        let last = &events[events.len() - 1];
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, first.command_id.as_str());
        headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, expected_sequence.to_string().as_str());
        headers.insert(layout::HEADER_STREAM, first.stream.as_str());
        headers.insert(layout::HEADER_VERSIONS, format!("{}-{}", first.version, last.version).as_str());
        let ack = match self.inner.js.publish_with_headers(subject, headers, body.into()).await {
            Ok(future) => std::future::IntoFuture::into_future(future).await,
            Err(e) => Err(e),
        };
        match ack {
            Ok(ack) => Ok(Ok(ack)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Err(e.kind())),
            Err(e) => Err(Error::Storage(format!("NATS publish: {e}"))),
        }
    }

    /// The result of the append that first used a command id, from its message.
    async fn first_result(&self, sequence: u64) -> Result<AppendResult, Error> {
        let message = self
            .inner
            .stream
            .get_raw_message(sequence)
            .await
            .map_err(|e| Error::Storage(format!("NATS: message {sequence}: {e}")))?;
        let events = layout::decode(sequence, &message.payload)?;
        let (first, last) = (&events[0], &events[events.len() - 1]);
        Ok(AppendResult {
            stream: first.stream.clone(),
            first_version: first.version,
            last_version: last.version,
            position: last.position,
            duplicate: true,
        })
    }

    /// The expected version does not hold. The server checks the expected
    /// sequence before the message id, so a repeated command that already
    /// moved its stream would be refused there: look for the command in the
    /// stream first, and answer with its first result if it is there.
    async fn refuse_or_repeat(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        head: Head,
        events: &[NewEvent],
    ) -> Result<AppendResult, Error> {
        let command = &events[0].command_id;
        let history = self.read_stream_inner(stream, 1).await?;
        let mine: Vec<&RecordedEvent> = history.iter().filter(|e| &e.command_id == command).collect();
        if let (Some(first), Some(last)) = (mine.first(), mine.last()) {
            return Ok(AppendResult {
                stream: stream.clone(),
                first_version: first.version,
                last_version: last.version,
                position: last.position,
                duplicate: true,
            });
        }
        Err(Error::WrongExpectedVersion {
            stream: stream.to_string(),
            expected: expected.describe(),
            actual: history.last().map_or(head.version, |e| e.version),
        })
    }

    async fn append_inner(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        validate_append(&events)?;
        let subject = self.subject(stream);
        let mut fresh = false;
        for _ in 0..APPEND_ATTEMPTS_MAX {
            let mut head = match expected {
                // A new stream is assumed new without asking the leader: if
                // it exists, the server refuses the publish (its expected
                // last subject sequence is 0) and the loop asks then.
                ExpectedVersion::NoStream if !fresh => self.cached_head(stream).unwrap_or(Head::GENESIS),
                _ => self.head(stream, fresh).await?,
            };
            if !expected.matches(head.version) && !fresh {
                // The cache may be behind: ask the leader before refusing.
                head = self.head(stream, true).await?;
            }
            if !expected.matches(head.version) {
                return self.refuse_or_repeat(stream, expected, head, &events).await;
            }
            let recorded = chain(stream, head, &events);
            match self.publish(subject.clone(), &recorded, head.sequence).await? {
                Ok(ack) if ack.duplicate => return self.first_result(ack.sequence).await,
                Ok(ack) => {
                    let recorded = with_positions(recorded, ack.sequence);
                    let last = recorded.last().expect("one event at least");
                    let result = AppendResult {
                        stream: stream.clone(),
                        first_version: head.version + 1,
                        last_version: last.version,
                        position: last.position,
                        duplicate: false,
                    };
                    self.extend_cache(stream, head, ack.sequence, &recorded);
                    return Ok(result);
                }
                Err(_) => {
                    // The head moved between our read and the server: re-read
                    // it; `Any` chains onto the new head, the others recheck.
                    self.forget(stream);
                    fresh = true;
                }
            }
        }
        Err(Error::Contended { stream: stream.to_string(), attempts: APPEND_ATTEMPTS_MAX })
    }

    async fn read_stream_inner(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        let subject = self.subject(stream);
        let Some((head_sequence, last)) = self.last_message(&subject).await? else {
            self.forget(stream);
            return Ok(vec![]);
        };
        let cached = self.inner.cache.lock().expect("cache lock").get(stream).cloned();
        let mut events = match cached {
            Some(cached) if cached.sequence == head_sequence => cached.events,
            Some(cached) if cached.sequence < head_sequence => {
                let mut events = cached.events;
                self.fetch_between(&subject, cached.sequence + 1, head_sequence, &mut events).await?;
                events.extend(last);
                events
            }
            _ => {
                let mut events = Vec::new();
                self.fetch_between(&subject, 1, head_sequence, &mut events).await?;
                events.extend(last);
                events
            }
        };
        check_stream(stream, &events)?;
        self.remember(stream, head_sequence, events.clone());
        let skip = from_version.saturating_sub(1) as usize;
        events.drain(..skip.min(events.len()));
        Ok(events)
    }

    /// Appends to `out` the events of `subject`'s messages with sequences in
    /// `from..until`, asking the leader for each next message.
    async fn fetch_between(
        &self,
        subject: &str,
        from: u64,
        until: u64,
        out: &mut Vec<RecordedEvent>,
    ) -> Result<(), Error> {
        let mut sequence = from;
        while sequence < until {
            let message = self
                .inner
                .stream
                .get_first_raw_message_by_subject(subject, sequence)
                .await
                .map_err(|e| Error::Storage(format!("NATS: {subject} from {sequence}: {e}")))?;
            if message.sequence >= until {
                break;
            }
            out.extend(layout::decode(message.sequence, &message.payload)?);
            sequence = message.sequence + 1;
        }
        Ok(())
    }
}

/// The events of an append, chained onto `head` (positions come later).
fn chain(stream: &StreamId, head: Head, events: &[NewEvent]) -> Vec<RecordedEvent> {
    let (mut version, mut prev) = (head.version, head.hash);
    events
        .iter()
        .map(|event| {
            version += 1;
            let recorded = event.clone().record(stream.clone(), version, 0, prev);
            prev = recorded.hash;
            recorded
        })
        .collect()
}

fn with_positions(mut events: Vec<RecordedEvent>, sequence: u64) -> Vec<RecordedEvent> {
    for (index, event) in events.iter_mut().enumerate() {
        event.position = layout::position(sequence, index);
    }
    events
}

/// A stream read back must be versions 1, 2, 3... of that stream.
fn check_stream(stream: &StreamId, events: &[RecordedEvent]) -> Result<(), Error> {
    for (index, event) in events.iter().enumerate() {
        if &event.stream != stream || event.version != index as u64 + 1 {
            return Err(Error::Corrupt(format!(
                "{stream}: the message at position {} holds {} version {} where version {} was expected",
                event.position,
                event.stream,
                event.version,
                index + 1
            )));
        }
    }
    Ok(())
}

async fn connect_client(config: &NatsConfig) -> Result<async_nats::Client, NatsStoreError> {
    let refused = |reason: String| NatsStoreError::Connect { url: config.servers.clone(), reason };
    let mut options = async_nats::ConnectOptions::new();
    if let Some(file) = &config.credentials_file {
        options = options.credentials_file(file).await.map_err(|e| refused(format!("credentials {file:?}: {e}")))?;
    }
    if let Some(roots) = &config.tls_roots {
        options = options.add_root_certificates(roots.clone());
    }
    if let Some((cert, key)) = &config.tls_client {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    options = options
        .require_tls(config.tls_required)
        .name("gridloop")
        .connection_timeout(Duration::from_secs(5))
        // Reconnect forever: a restarted server is waited for, and appends
        // made meanwhile fail with a retryable error rather than hang.
        .max_reconnects(None);
    let servers = config
        .servers
        .split(',')
        .map(|s| s.parse::<async_nats::ServerAddr>().map_err(|e| refused(format!("{s}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    options.connect(servers).await.map_err(|e| refused(e.to_string()))
}

/// Refuses servers older than [`SERVER_VERSION_MIN`].
pub fn check_version(version: &str) -> Result<(), NatsStoreError> {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor) = (parts.next().flatten(), parts.next().flatten());
    match (major, minor) {
        (Some(major), Some(minor)) if (major, minor) >= SERVER_VERSION_MIN => Ok(()),
        _ => Err(NatsStoreError::Unsupported {
            version: version.into(),
            reason: "gridloop needs nats-server 2.10 or newer (per-subject optimistic concurrency in clusters, \
                     sync settings)"
                .into(),
        }),
    }
}

/// Opens a city stream: it must exist (its operator creates it with its
/// sources), hold no subjects of its own (nothing can be published into
/// it), keep every message, deduplicate nothing (duplicate window 0), and
/// source each district listed with a subject transform into
/// `<prefix>.<district>.>`.
async fn open_city_stream(js: &jetstream::Context, config: &NatsConfig) -> Result<stream::Stream, NatsStoreError> {
    let failed = |reason: String| NatsStoreError::Stream { stream: config.stream.clone(), reason };
    let mut stream = js.get_stream(&config.stream).await.map_err(|e| failed(format!("a city stream: {e}")))?;
    let actual = stream.info().await.map_err(|e| failed(e.to_string()))?.config.clone();
    let mismatch = |field: &'static str, actual: String, wanted: String| {
        Err(NatsStoreError::StreamConfig { stream: config.stream.clone(), field, actual, wanted })
    };
    if !actual.subjects.is_empty() {
        return mismatch("subjects", format!("{:?}", actual.subjects), "none (a city stream is only sourced)".into());
    }
    check_keeps_everything(config, &actual)?;
    if !actual.duplicate_window.is_zero() {
        // Sourced messages keep their `Nats-Msg-Id`; two districts' equal
        // command ids would stall or drop one of them in the city.
        let window = format!("{:?}", actual.duplicate_window);
        return mismatch("duplicate_window", window, "0 (districts deduplicate; the city must not)".into());
    }
    let sources = actual.sources.unwrap_or_default();
    for district in &config.districts {
        let wanted = format!("{}.{district}.>", config.prefix);
        let found = sources.iter().any(|s| s.subject_transforms.iter().any(|t| t.destination == wanted));
        if !found {
            return mismatch(
                "sources",
                format!("no source transformed into {wanted}"),
                format!("one per district ({wanted})"),
            );
        }
    }
    Ok(stream)
}

async fn open_stream(js: &jetstream::Context, config: &NatsConfig) -> Result<stream::Stream, NatsStoreError> {
    let failed = |reason: String| NatsStoreError::Stream { stream: config.stream.clone(), reason };
    match js.get_stream(&config.stream).await {
        Ok(mut stream) => {
            let info = stream.info().await.map_err(|e| failed(e.to_string()))?;
            check_stream_config(config, &info.config)?;
            Ok(stream)
        }
        Err(e) if is_not_found(&e.kind()) => {
            if !config.create {
                return Err(failed("does not exist (and create=false)".into()));
            }
            js.create_stream(wanted_config(config)).await.map_err(|e| failed(format!("cannot create: {e}")))
        }
        Err(e) => Err(failed(e.to_string())),
    }
}

fn is_not_found(kind: &jetstream::context::GetStreamErrorKind) -> bool {
    matches!(kind, jetstream::context::GetStreamErrorKind::JetStream(e)
        if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// The stream gridloop creates.
fn wanted_config(config: &NatsConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        description: Some("gridloop event log: one message per append, one subject per aggregate".into()),
        subjects: vec![config.subjects()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window,
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        // A log of record: no message is deleted or purged through the API.
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

fn check_stream_config(config: &NatsConfig, actual: &stream::Config) -> Result<(), NatsStoreError> {
    let wanted = wanted_config(config);
    let mismatch = |field: &'static str, actual: String, wanted: String| {
        Err(NatsStoreError::StreamConfig { stream: config.stream.clone(), field, actual, wanted })
    };
    if actual.subjects != wanted.subjects {
        return mismatch("subjects", format!("{:?}", actual.subjects), format!("{:?}", wanted.subjects));
    }
    check_keeps_everything(config, actual)?;
    if actual.num_replicas != config.replicas {
        return mismatch("replicas", actual.num_replicas.to_string(), config.replicas.to_string());
    }
    if actual.duplicate_window != config.duplicate_window {
        return mismatch(
            "duplicate_window",
            format!("{:?}", actual.duplicate_window),
            format!("{:?}", config.duplicate_window),
        );
    }
    Ok(())
}

/// File storage, limits retention, and no limit that could drop a message.
fn check_keeps_everything(config: &NatsConfig, actual: &stream::Config) -> Result<(), NatsStoreError> {
    let mismatch = |field: &'static str, actual: String, wanted: String| {
        Err(NatsStoreError::StreamConfig { stream: config.stream.clone(), field, actual, wanted })
    };
    if actual.storage != stream::StorageType::File {
        return mismatch("storage", format!("{:?}", actual.storage), "File".into());
    }
    if actual.retention != stream::RetentionPolicy::Limits {
        return mismatch("retention", format!("{:?}", actual.retention), "Limits".into());
    }
    let unlimited = |n: i64| n <= 0;
    if !unlimited(actual.max_messages) || !unlimited(actual.max_bytes) || !unlimited(actual.max_messages_per_subject) {
        return mismatch("max_msgs/max_bytes/max_msgs_per_subject", "a limit".into(), "unlimited (-1)".into());
    }
    if !actual.max_age.is_zero() {
        return mismatch("max_age", format!("{:?}", actual.max_age), "0 (keep forever)".into());
    }
    Ok(())
}

/// What a city store answers to a write or a read by stream: both belong to
/// the districts' own stores.
fn city_is_read_only(what: &str) -> Error {
    Error::invalid("store", format!("a city stream is read only and read whole; {what} go to the district's store"))
}

impl EventStore for NatsStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        if self.inner.config.is_city() {
            return Err(city_is_read_only("appends"));
        }
        let span = tracing::debug_span!("nats.append", %stream, events = events.len());
        self.append_inner(stream, expected, events).instrument(span).await
    }

    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        if self.inner.config.is_city() {
            return Err(city_is_read_only("reads of one stream"));
        }
        let span = tracing::debug_span!("nats.read_stream", %stream, from_version);
        self.read_stream_inner(stream, from_version).instrument(span).await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        let span = tracing::debug_span!("nats.read_all", from_position, max);
        self.inner.cursors.read(from_position, max.min(READ_BATCH_MAX)).instrument(span).await
    }

    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        self.inner.cursors.wait_for(position).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_2_10_are_refused() {
        assert!(check_version("2.9.10").is_err());
        assert!(check_version("1.4.0").is_err());
        assert!(check_version("garbage").is_err());
        assert!(check_version("2.10.0").is_ok());
        assert!(check_version("2.15.1").is_ok());
        assert!(check_version("3.0.0-beta").is_ok());
    }
}
