//! The command service's cache of folded stream state.
//!
//! Without it every command reads its whole stream back from the store and
//! decodes every earlier event before it can decide: a ticket's sixth
//! command decodes five events, and on NATS each read is a request to the
//! stream's leader. With it, the service decides on the state it folded the
//! last time it touched the stream, and lets the store's version check say
//! whether that state was current:
//!
//! - A decision that **writes** is appended with `Exact(cached version)`. If
//!   another writer (another process, another service) moved the stream, the
//!   store refuses with a version conflict and the service reads the stream
//!   and decides again, as it always did on a conflict.
//! - A decision that **refuses**, or writes nothing, or a timer's expected
//!   version that does not match, is never answered from the cache alone:
//!   the service reads the stream and decides again, so a refusal is always
//!   made on the stream as the store holds it.
//! - The command ids of every append are kept with the state, so a repeated
//!   command is answered from the log (what it wrote the first time), not
//!   decided again on the later state.
//!
//! So the cache can be stale, or empty, or wrong in any way a store can
//! catch, and no decision changes: it only saves reads. It holds nothing
//! that is not also in the log, and nothing is written from it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Error;
use crate::envelope::RecordedEvent;
use crate::ids::{CommandId, StreamId};

use super::Aggregate;

/// The most streams whose state the service keeps, per aggregate kind.
pub const CACHED_STREAMS_MAX: usize = 8_192;
/// A stream with more appends than this is not kept: its command ids would
/// make the entry large, and long streams are rare (a volunteer's history).
pub const CACHED_COMMANDS_MAX: usize = 256;

/// A stream's folded state at a version, with the command ids that wrote it.
#[derive(Clone, Debug, Default)]
pub struct Base<A> {
    /// The stream version folded to (0 for a stream with no events).
    pub version: u64,
    /// The aggregate's state at that version.
    pub state: A,
    /// The ids of the commands whose appends made the stream, in order (one per
    /// append); a repeated command is recognised by them.
    pub commands: Vec<CommandId>,
}

impl<A: Aggregate> Base<A> {
    /// Folds a whole stream, as read from the store.
    pub fn fold(history: &[RecordedEvent]) -> Result<Self, Error> {
        let mut base = Base::<A>::default();
        for event in history {
            base.state.evolve(&event.decode::<A::Event>()?, event.occurred_at);
            base.version = event.version;
            if base.commands.last() != Some(&event.command_id) {
                base.commands.push(event.command_id.clone());
            }
        }
        Ok(base)
    }

    /// Whether `command` wrote to this stream before.
    pub fn ran(&self, command: &CommandId) -> bool {
        self.commands.contains(command)
    }
}

/// The states of one aggregate kind's streams, bounded.
#[derive(Debug)]
pub struct StreamCache<A> {
    streams: Mutex<HashMap<StreamId, Base<A>>>,
}

impl<A> Default for StreamCache<A> {
    fn default() -> Self {
        Self { streams: Mutex::new(HashMap::new()) }
    }
}

impl<A: Aggregate + Clone> StreamCache<A> {
    /// The kept state of `stream`, or none.
    pub fn get(&self, stream: &StreamId) -> Option<Base<A>> {
        self.streams.lock().expect("stream cache lock").get(stream).cloned()
    }

    /// Keeps `base`, written by this service, unless a later version is
    /// kept already (a slower writer must not put back an older state).
    pub fn put_written(&self, stream: &StreamId, base: Base<A>) {
        self.put(stream, base, |kept, base| kept.version < base.version);
    }

    /// Keeps `base`, just read from the store: the store is the truth, so it
    /// replaces whatever was kept (should that have been newer, the next
    /// append's version check says so and costs one read).
    pub fn put_read(&self, stream: &StreamId, base: Base<A>) {
        self.put(stream, base, |_, _| true);
    }

    /// When full, an arbitrary entry makes room: which one does not matter,
    /// since a missing entry only costs one read.
    fn put(&self, stream: &StreamId, base: Base<A>, replaces: impl Fn(&Base<A>, &Base<A>) -> bool) {
        let mut streams = self.streams.lock().expect("stream cache lock");
        if base.commands.len() > CACHED_COMMANDS_MAX {
            streams.remove(stream);
            return;
        }
        if let Some(kept) = streams.get_mut(stream) {
            if replaces(kept, &base) {
                *kept = base;
            }
            return;
        }
        if streams.len() >= CACHED_STREAMS_MAX
            && let Some(victim) = streams.keys().next().cloned()
        {
            streams.remove(&victim);
        }
        streams.insert(stream.clone(), base);
    }

    /// How many streams are kept now.
    pub fn len(&self) -> usize {
        self.streams.lock().expect("stream cache lock").len()
    }

    /// Whether no stream is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
