//! The event envelope: what every stored event carries, whatever its payload.
//!
//! The envelope is schema-neutral on purpose. Its payload is kept as the JSON
//! value that was written, next to the schema name and version it was written
//! under, so that
//!
//! - the hash chain is computed and verified over the bytes that were stored,
//!   not over a re-serialisation by a newer build;
//! - old payload versions are upcast on read ([`EventPayload::decode`]) and
//!   never rewritten.
//!
//! A store assigns `version`, `position`, `prev_hash` and `hash` when it
//! appends ([`NewEvent::record`]); everything else comes from the command
//! service.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::Error;
use crate::ids::{ActorId, CommandId, CorrelationId, StreamId};
use crate::time::Timestamp;

/// Who acts, in which role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A resident who orders (居民点单), rates and may cancel or complain about
    /// their own tickets; their actor id is their resident id.
    Resident,
    /// A grid worker (网格员): patrols, files orders for residents, triages and
    /// handles tickets on the spot (巡办合一).
    GridWorker,
    /// A grid head (网格长): leads a grid's workers, does what a grid worker
    /// does in that grid, reads its rates and reports its week to the
    /// community (周报告).
    GridHead,
    /// A dispatcher at a community, street or district centre (社区派单): triages,
    /// offers, assigns, escalates, summons and closes.
    Dispatcher,
    /// A volunteer (志愿接单): accepts or declines offers, works and resolves the
    /// tickets they hold; their actor id is their volunteer id (or their
    /// team's, acting for it).
    Volunteer,
    /// A functional department (巡办分离): handles department items and reports to
    /// summons; its actor id is its department id.
    Department,
    /// An official of a community, street or district (by their place):
    /// reads and supervises within it — the board, queues, rates and
    /// reports — and urges handlers; handles no ticket themself.
    Official,
    /// An auditor: reads the log and verifies seals, and sends no command.
    Auditor,
    /// The deployment's operator: manages API tokens, the world (grids,
    /// catalog, teams, staff) and volunteers' registration; acts on no
    /// ticket or place.
    Admin,
    /// Timers and policies of the engine itself.
    System,
}

impl Role {
    /// Every role a token can carry, by the name `token create --role` takes.
    pub const ISSUABLE: [(&'static str, Role); 9] = [
        ("resident", Role::Resident),
        ("grid_worker", Role::GridWorker),
        ("grid_head", Role::GridHead),
        ("official", Role::Official),
        ("dispatcher", Role::Dispatcher),
        ("volunteer", Role::Volunteer),
        ("department", Role::Department),
        ("auditor", Role::Auditor),
        ("admin", Role::Admin),
    ];

    /// The role a token-issuing name stands for.
    pub fn parse_issuable(name: &str) -> Option<Role> {
        Self::ISSUABLE.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    /// Whether the role works a grid in the field: a grid worker, or the
    /// grid head who leads them and may do all they do.
    pub fn in_the_field(self) -> bool {
        matches!(self, Role::GridWorker | Role::GridHead)
    }

    /// Whether the role serves a place (a grid, community, street or the
    /// district) and acts and reads only within it.
    pub fn serves_a_place(self) -> bool {
        matches!(self, Role::GridWorker | Role::GridHead | Role::Dispatcher | Role::Official)
    }

    /// The role in plain words, as used in refusals ("a grid worker may not
    /// ...").
    pub fn name(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::GridWorker => "grid worker",
            Role::GridHead => "grid head",
            Role::Official => "official",
            Role::Dispatcher => "dispatcher",
            Role::Volunteer => "volunteer",
            Role::Department => "department",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }
}

/// Who issued a command: recorded in every event's envelope and checked by
/// `decide` against each command's rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The role the actor acts in; it decides what they may do.
    pub role: Role,
    /// Who they are within the role (a resident, volunteer or department id, a
    /// staff subject, or `gridloop` for the system).
    pub id: ActorId,
}

impl Actor {
    /// An actor in `role` with id `id`; refused if the id is not a valid actor
    /// id.
    pub fn new(role: Role, id: &str) -> Result<Self, Error> {
        Ok(Self { role, id: ActorId::new(id)? })
    }
    /// The engine's own timers and policies.
    pub fn system() -> Self {
        Self { role: Role::System, id: ActorId::new("gridloop").expect("valid id") }
    }
}

/// A payload's type and version: `ticket.accepted/1`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Schema {
    /// The payload type: the aggregate kind and the event's tag, e.g.
    /// `ticket.accepted`.
    pub name: String,
    /// The payload's shape version, from 1; older versions are upcast on read.
    pub version: u32,
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

impl Schema {
    /// Parses `name/version`, e.g. `ticket.accepted/1`: a lower-case name of at
    /// most 64 characters (letters, dots, underscores) and a version of at
    /// least 1.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("schema", "expected name/version, like ticket.accepted/1");
        let (name, version) = text.split_once('/').ok_or_else(bad)?;
        let ok_name = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
        let version: u32 = version.parse().map_err(|_| bad())?;
        if !ok_name || version == 0 {
            return Err(bad());
        }
        Ok(Self { name: name.to_string(), version })
    }
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a schema like ticket.accepted/1", Schema::parse)
    }
}

/// Deserialises a string through `parse` without copying it first (serde's
/// `Cow<str>` always copies): reading a log parses three such strings per
/// event, and the copies were a measurable part of a rebuild.
pub(crate) fn parse_str<'de, D, T, E>(
    d: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct Text<F>(&'static str, F);
    impl<'de, T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> serde::de::Visitor<'de> for Text<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<Er: serde::de::Error>(self, text: &str) -> Result<T, Er> {
            (self.1)(text).map_err(Er::custom)
        }
    }
    d.deserialize_str(Text(expecting, parse))
}

/// A BLAKE3 digest, shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The `prev_hash` of a stream's first event.
    pub const GENESIS: Hash = Hash([0; 32]);
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a hash of 64 hex digits", Hash::parse_hex)
    }
}

impl Hash {
    /// 64 hex digits, either case.
    pub fn parse_hex(text: &str) -> Result<Hash, &'static str> {
        const BAD: &str = "a hash is 64 hex digits";
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(BAD);
        }
        let digit = |b: u8| match b {
            b'0'..=b'9' => Ok(b - b'0'),
            b'a'..=b'f' => Ok(b - b'a' + 10),
            b'A'..=b'F' => Ok(b - b'A' + 10),
            _ => Err(BAD),
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Hash(out))
    }
}

/// An event as the command service hands it to a store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The event's unique id: a UUIDv7 from the injected clock and a seeded
    /// generator.
    pub event_id: uuid::Uuid,
    /// When the command was decided: the clock's `now` the command service
    /// passed to `decide`.
    pub occurred_at: Timestamp,
    /// Who issued the command that caused the event.
    pub actor: Actor,
    /// The caller's idempotency key; every event of one append shares it, and a
    /// repeated id writes nothing.
    pub command_id: CommandId,
    /// What the event is about across streams: the ticket id for ticket
    /// commands.
    pub correlation_id: CorrelationId,
    /// The payload's type and version.
    pub schema: Schema,
    /// The typed event as JSON, stored exactly as written.
    pub payload: Value,
}

/// An event as stored: the envelope of the design, field for field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The event's unique id: a UUIDv7 from the injected clock and a seeded
    /// generator.
    pub event_id: uuid::Uuid,
    /// The stream it belongs to, e.g. `ticket-T-1024`; the aggregate instance.
    pub stream: StreamId,
    /// 1, 2, 3... within the stream, no gaps.
    pub version: u64,
    /// Global order in the log, assigned by the store; strictly increasing,
    /// not necessarily dense. Not covered by the hash, so a log moved to
    /// another store (which numbers positions its own way) still verifies.
    pub position: u64,
    /// When the command was decided (the injected clock's `now`).
    pub occurred_at: Timestamp,
    /// Who issued the command that caused the event.
    pub actor: Actor,
    /// The caller's idempotency key; every event of one append shares it.
    pub command_id: CommandId,
    /// What the event is about across streams: the ticket id for ticket
    /// commands.
    pub correlation_id: CorrelationId,
    /// The payload's type and version, which decide how it is decoded and
    /// upcast.
    pub schema: Schema,
    /// The typed event as JSON, exactly as written, so the hash verifies over
    /// the stored bytes.
    pub payload: Value,
    /// The hash of the stream's previous event, or `Hash::GENESIS` (64 zeros)
    /// for its first.
    pub prev_hash: Hash,
    /// BLAKE3 over `prev_hash` and the canonical JSON of the covered fields
    /// (all but `position`, `prev_hash` and `hash`).
    pub hash: Hash,
}

/// The fields the hash covers, in a fixed shape.
#[derive(Serialize)]
struct Hashed<'a> {
    event_id: &'a uuid::Uuid,
    stream: &'a StreamId,
    version: u64,
    occurred_at: &'a Timestamp,
    actor: &'a Actor,
    command_id: &'a CommandId,
    correlation_id: &'a CorrelationId,
    schema: &'a Schema,
    payload: &'a Value,
}

impl NewEvent {
    /// Seals the event into the log: the store calls this with the stream's
    /// next version, the event's global position and the stream head's hash.
    pub fn record(self, stream: StreamId, version: u64, position: u64, prev_hash: Hash) -> RecordedEvent {
        let mut event = RecordedEvent {
            event_id: self.event_id,
            stream,
            version,
            position,
            occurred_at: self.occurred_at,
            actor: self.actor,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            schema: self.schema,
            payload: self.payload,
            prev_hash,
            hash: Hash::GENESIS,
        };
        event.hash = event.compute_hash();
        event
    }
}

impl RecordedEvent {
    /// What a store is handed to append this event again (an import, a
    /// repeated command's answer): everything but what the store sets.
    pub fn to_new(&self) -> NewEvent {
        NewEvent {
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            actor: self.actor.clone(),
            command_id: self.command_id.clone(),
            correlation_id: self.correlation_id.clone(),
            schema: self.schema.clone(),
            payload: self.payload.clone(),
        }
    }

    /// BLAKE3 over the previous hash and the canonical JSON of the covered
    /// fields. Canonical: struct fields in declaration order, and object keys
    /// inside the payload sorted (serde_json's map is a BTreeMap; a test in
    /// this crate fails if a dependency turns on `preserve_order`).
    pub fn compute_hash(&self) -> Hash {
        let covered = Hashed {
            event_id: &self.event_id,
            stream: &self.stream,
            version: self.version,
            occurred_at: &self.occurred_at,
            actor: &self.actor,
            command_id: &self.command_id,
            correlation_id: &self.correlation_id,
            schema: &self.schema,
            payload: &self.payload,
        };
        let bytes = serde_json::to_vec(&covered).expect("the envelope always serialises");
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.prev_hash.0);
        hasher.update(&bytes);
        Hash(*hasher.finalize().as_bytes())
    }

    /// Checks this event's own hash and that it chains onto `prev`.
    pub fn verify(&self, prev: &Hash) -> Result<(), Error> {
        if &self.prev_hash != prev {
            return Err(Error::Corrupt(format!(
                "{} v{} (position {}): prev_hash does not match the previous event's hash",
                self.stream, self.version, self.position
            )));
        }
        if self.compute_hash() != self.hash {
            return Err(Error::Corrupt(format!(
                "{} v{} (position {}): hash does not match its contents",
                self.stream, self.version, self.position
            )));
        }
        Ok(())
    }

    /// Decodes the payload into the aggregate's event type, upcasting old
    /// schema versions.
    pub fn decode<E: EventPayload>(&self) -> Result<E, Error> {
        E::decode(&self.schema, &self.payload)
    }
}

/// Verifies a whole stream read in version order: versions 1..=n without
/// gaps, each hash correct and chained onto the one before.
pub fn verify_stream(events: &[RecordedEvent]) -> Result<Hash, Error> {
    let mut prev = Hash::GENESIS;
    for (i, event) in events.iter().enumerate() {
        if event.version != i as u64 + 1 {
            return Err(Error::Corrupt(format!("{} has a gap before version {}", event.stream, event.version)));
        }
        event.verify(&prev)?;
        prev = event.hash;
    }
    Ok(prev)
}

/// A typed event of one aggregate, with its schema and upcasters.
pub trait EventPayload: Sized {
    /// The schema name prefix: `ticket`, `volunteer`.
    const KIND: &'static str;
    /// The schema and the payload, from one serialisation.
    fn to_payload(&self) -> (Schema, Value);
    /// Turns a stored payload into the current type, upcasting older schema
    /// versions first.
    fn decode(schema: &Schema, payload: &Value) -> Result<Self, Error>;
    /// The payload's schema (type and current version).
    fn schema(&self) -> Schema {
        self.to_payload().0
    }
    /// The payload as the JSON value to store.
    fn encode(&self) -> Value {
        self.to_payload().1
    }
}

/// Implements [`EventPayload`] for an adjacently tagged event enum, given
/// its schema kind, its table of current versions and its upcaster.
macro_rules! event_payload {
    ($event:ty, $kind:literal, $version_of:path, $upcast:path) => {
        impl $crate::envelope::EventPayload for $event {
            const KIND: &'static str = $kind;
            fn to_payload(&self) -> ($crate::envelope::Schema, serde_json::Value) {
                $crate::envelope::encode_tagged(Self::KIND, self, $version_of)
            }
            fn decode(schema: &$crate::envelope::Schema, payload: &serde_json::Value) -> Result<Self, $crate::Error> {
                $crate::envelope::decode_tagged(Self::KIND, schema, payload, $version_of, $upcast)
            }
        }
    };
}
pub(crate) use event_payload;

/// Encodes an adjacently tagged enum (`{"type": ..., "data": {...}}`) as a
/// schema name and the bare payload.
pub(crate) fn encode_tagged<T: Serialize>(kind: &str, event: &T, version_of: fn(&str) -> u32) -> (Schema, Value) {
    let Value::Object(mut tagged) = serde_json::to_value(event).expect("events always serialise") else {
        unreachable!("events are adjacently tagged enums")
    };
    let Some(Value::String(tag)) = tagged.remove("type") else { unreachable!("events carry a type tag") };
    let payload = tagged.remove("data").unwrap_or(Value::Object(Default::default()));
    let version = version_of(&tag);
    (Schema { name: format!("{kind}.{tag}"), version }, payload)
}

/// The inverse of [`encode_tagged`], after `upcast` brought the payload to
/// the current version.
pub(crate) fn decode_tagged<T: DeserializeOwned>(
    kind: &str,
    schema: &Schema,
    payload: &Value,
    version_of: fn(&str) -> u32,
    upcast: fn(&str, u32, Value) -> Result<Value, Error>,
) -> Result<T, Error> {
    let tag = schema
        .name
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| Error::Corrupt(format!("schema {schema} is not a {kind} event")))?;
    let current = version_of(tag);
    if schema.version > current {
        return Err(Error::Corrupt(format!(
            "schema {schema} is newer than this build knows (version {current}); upgrade gridloop"
        )));
    }
    let fail = |e: serde_json::Error| Error::Corrupt(format!("payload of {schema} does not decode: {e}"));
    if schema.version == current {
        // The common case: read the payload where it lies, without copying
        // it into an adjacently tagged wrapper.
        return T::deserialize(tagged(tag, payload)).map_err(fail);
    }
    let mut data = payload.clone();
    let mut version = schema.version;
    while version < current {
        data = upcast(tag, version, data)?;
        version += 1;
    }
    T::deserialize(tagged(tag, &data)).map_err(fail)
}

/// A deserializer that presents `{"type": tag, "data": payload}` without
/// building it.
fn tagged<'a>(
    tag: &'a str,
    payload: &'a Value,
) -> serde::de::value::MapDeserializer<'a, std::array::IntoIter<(&'a str, TagOrData<'a>), 2>, serde_json::Error> {
    serde::de::value::MapDeserializer::new(
        [("type", TagOrData::Tag(tag)), ("data", TagOrData::Data(payload))].into_iter(),
    )
}

/// The two values of the tagged map: the tag (a string) or the payload.
enum TagOrData<'a> {
    Tag(&'a str),
    Data(&'a Value),
}

impl<'de> serde::de::IntoDeserializer<'de, serde_json::Error> for TagOrData<'de> {
    type Deserializer = TagOrDataDeserializer<'de>;
    fn into_deserializer(self) -> Self::Deserializer {
        TagOrDataDeserializer(self)
    }
}

struct TagOrDataDeserializer<'a>(TagOrData<'a>);

impl<'de> serde::Deserializer<'de> for TagOrDataDeserializer<'de> {
    // Everything but enums (the tag) goes to the value itself.
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            TagOrData::Tag(tag) => visitor.visit_borrowed_str(tag),
            TagOrData::Data(value) => serde::Deserializer::deserialize_any(value, visitor),
        }
    }

    /// serde reads an adjacently tagged enum's tag as a unit variant.
    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            TagOrData::Tag(tag) => serde::de::value::BorrowedStrDeserializer::<serde_json::Error>::new(tag)
                .deserialize_enum(name, variants, visitor),
            TagOrData::Data(value) => serde::Deserializer::deserialize_enum(value, name, variants, visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_keys_are_sorted_for_canonical_hashing() {
        let value: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), r#"{"a":2,"b":1}"#);
    }

    #[test]
    fn schema_parses_name_and_version() {
        let s = Schema::parse("ticket.accepted/1").unwrap();
        assert_eq!((s.name.as_str(), s.version), ("ticket.accepted", 1));
        for bad in ["ticket.accepted", "ticket.accepted/0", "Ticket/1", "/1", "a/x"] {
            assert!(Schema::parse(bad).is_err(), "{bad}");
        }
    }
}
