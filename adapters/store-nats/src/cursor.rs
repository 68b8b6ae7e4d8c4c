//! Reading the whole log: ordered consumers kept open between calls.
//!
//! A [`Subscription`](gridloop_engine::store::Subscription) calls
//! `read_all(p)` until it comes back empty, then `wait_for(p)`, then
//! `read_all(p)` again, each time from where the last call ended. Creating a
//! consumer per call would cost a round trip to the leader and a consumer on
//! the server each time; instead each call takes a [`Cursor`] from a small
//! pool — the one that ended exactly where this call starts — and puts it
//! back where it now ends. A cursor wraps an *ordered* pull consumer, which
//! async-nats recreates from the last stream sequence it delivered whenever
//! it sees a gap or loses its server (a restart, a leader change): so a
//! cursor delivers each message once, in order, across reconnects. The
//! cursor also drops any message at or below the last sequence it handed out,
//! as a second guard against duplicates.
//!
//! `read_all` must not block when the log has nothing new. The consumer
//! reports with each message how many are still pending; when none are, the
//! cursor asks the stream's leader for its last sequence before waiting.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use tokio::sync::Mutex;

use crate::layout;

/// How many idle cursors are kept for reuse.
pub const CURSORS_MAX: usize = 16;
/// How long `read_all` waits for a message the leader said exists.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A small pool of open cursors.
#[derive(Debug)]
pub struct Pool {
    stream: stream::Stream,
    city: Option<Arc<City>>,
    idle: Mutex<Vec<Cursor>>,
}

/// How a city stream's messages are read: which district each came from
/// (the subject's token after the prefix), and so how its tickets are named.
#[derive(Clone, Debug)]
pub struct City {
    /// The city stream's subject prefix.
    pub prefix: String,
    /// The districts, in the order that numbers their tickets apart.
    pub districts: Vec<String>,
}

/// An ordered consumer and what it has delivered but not yet handed out.
pub struct Cursor {
    /// The position the next caller will continue from.
    next_position: u64,
    city: Option<Arc<City>>,
    messages: Ordered,
    /// The last stream sequence delivered (0: none yet).
    last_sequence: u64,
    /// Messages the server said were still pending after the last one; `None`
    /// before the first message.
    pending: Option<u64>,
    buffer: VecDeque<RecordedEvent>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("next_position", &self.next_position)
            .field("last_sequence", &self.last_sequence)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl Pool {
    /// An empty pool over `stream`; cursors are opened on first use.
    /// `city` is set when the stream is a city's, sourced from districts.
    pub fn new(stream: stream::Stream, city: Option<City>) -> Self {
        Self { stream, city: city.map(Arc::new), idle: Mutex::new(Vec::new()) }
    }

    /// The stream's last sequence, from the leader.
    pub async fn last_sequence(&self) -> Result<u64, Error> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(|e| Error::Storage(format!("NATS stream info: {e}")))?;
        Ok(info.state.last_sequence)
    }

    /// Up to `max` events at `from` or later, without waiting for new ones.
    pub async fn read(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(vec![]);
        }
        let mut cursor = self.take(from).await?;
        let mut out = Vec::new();
        loop {
            while out.len() < max {
                let Some(event) = cursor.buffer.pop_front() else { break };
                if event.position >= from {
                    out.push(event);
                }
            }
            if out.len() >= max {
                break;
            }
            let caught_up = cursor.pending.unwrap_or(0) == 0;
            if caught_up && (!out.is_empty() || self.last_sequence().await? <= cursor.last_sequence) {
                break;
            }
            let pulled = tokio::time::timeout(MESSAGE_TIMEOUT, cursor.pull()).await;
            pulled.map_err(|_| Error::Storage("NATS: no message arrived from the consumer in time".into()))??;
        }
        cursor.next_position = out.last().map_or(from, |e| e.position + 1);
        self.put(cursor).await;
        Ok(out)
    }

    /// Resolves once an event at `position` or later has been delivered.
    pub async fn wait_for(&self, position: u64) -> Result<(), Error> {
        let mut cursor = self.take(position).await?;
        loop {
            cursor.buffer.retain(|e| e.position >= position);
            if !cursor.buffer.is_empty() {
                break;
            }
            cursor.pull().await?;
        }
        cursor.next_position = position;
        self.put(cursor).await;
        Ok(())
    }

    async fn take(&self, from: u64) -> Result<Cursor, Error> {
        let reusable = {
            let mut idle = self.idle.lock().await;
            idle.iter().position(|c| c.next_position == from).map(|i| idle.swap_remove(i))
        };
        match reusable {
            Some(cursor) => Ok(cursor),
            None => Cursor::open(&self.stream, self.city.clone(), from).await,
        }
    }

    async fn put(&self, cursor: Cursor) {
        let mut idle = self.idle.lock().await;
        if idle.len() >= CURSORS_MAX {
            // The oldest goes; dropping it ends its consumer on the server.
            idle.remove(0);
        }
        idle.push(cursor);
    }
}

impl Cursor {
    async fn open(stream: &stream::Stream, city: Option<Arc<City>>, from: u64) -> Result<Self, Error> {
        let start_sequence = layout::first_sequence_at(from);
        let config =
            OrderedConfig { deliver_policy: DeliverPolicy::ByStartSequence { start_sequence }, ..Default::default() };
        let consumer = stream
            .create_consumer(config)
            .await
            .map_err(|e| Error::Storage(format!("NATS: cannot open an ordered consumer: {e}")))?;
        let messages =
            consumer.messages().await.map_err(|e| Error::Storage(format!("NATS: cannot read the consumer: {e}")))?;
        Ok(Self {
            next_position: from,
            city,
            messages,
            last_sequence: start_sequence - 1,
            pending: None,
            buffer: VecDeque::new(),
        })
    }

    /// Waits for the next message and buffers its events.
    async fn pull(&mut self) -> Result<(), Error> {
        loop {
            let message = match self.messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => return Err(Error::Storage(format!("NATS consumer: {e}"))),
                None => return Err(Error::Storage("NATS consumer ended".into())),
            };
            let info = message.info().map_err(|e| Error::Storage(format!("NATS message info: {e}")))?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            if sequence <= self.last_sequence {
                continue;
            }
            let events = match &self.city {
                None => layout::decode(sequence, &message.payload)?,
                Some(city) => {
                    let place =
                        layout::district_of(&city.prefix, &city.districts, &message.subject).ok_or_else(|| {
                            Error::Corrupt(format!(
                                "city message {sequence} on {} is from no known district",
                                message.subject
                            ))
                        })?;
                    layout::decode_city(sequence, &message.payload, place)?
                }
            };
            self.last_sequence = sequence;
            self.pending = Some(pending);
            self.buffer.extend(events);
            return Ok(());
        }
    }
}
