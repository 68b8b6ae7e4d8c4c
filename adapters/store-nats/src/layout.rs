//! How gridloop's log is laid out on JetStream, so that any NATS client can
//! read it: subjects, message bodies, headers and positions.
//!
//! - **Subject**: `<prefix>.<kind>.<id>` for the engine stream `<kind>-<id>`
//!   (`gridloop.ticket.T-17`, `gridloop.volunteer.V-3`,
//!   `gridloop.emergency.440802-001`, `gridloop.seal.log`). The characters a
//!   subject token may not hold (`.`, `*`, `>`, and `%` itself) are written
//!   `%2E`, `%2A`, `%3E`, `%25`.
//! - **Message**: one per append. The body is a JSON array of the append's
//!   events in the envelope's JSON, with `position` 0 (the store assigns it
//!   from where the message lands). Headers: `Nats-Msg-Id` (the command
//!   id), `Gridloop-Stream`, `Gridloop-Versions` (`first-last`).
//! - **Position**: `sequence × 64 + index`, the message's stream sequence
//!   and the event's index inside it (an append carries at most 64 events,
//!   [`APPEND_EVENTS_MAX`]). Positions strictly increase and are not dense.
//! - **City**: a city stream sources each district's stream with a subject
//!   transform `<district prefix>.>` → `<city prefix>.<district>.>`, so a
//!   message's subject names its district. Reading it, the store renames each
//!   district's ticket streams apart ([`city_stream`]): ticket numbers start
//!   at 1 in every district, and the city's read models key tickets by
//!   number.

use gridloop_engine::Error;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::StreamId;
use gridloop_engine::store::APPEND_EVENTS_MAX;

/// Bits of a position that hold the index inside a message.
const INDEX_BITS: u32 = 6;
const _: () = assert!(APPEND_EVENTS_MAX <= 1 << INDEX_BITS);

/// The header naming the engine stream of a message.
pub const HEADER_STREAM: &str = "Gridloop-Stream";
/// The header with the first and last version of a message's events.
pub const HEADER_VERSIONS: &str = "Gridloop-Versions";

/// How many ticket numbers each district has in a city's view: the `k`-th
/// district's (from 1) `T-n` is `T-(k × 10^10 + n)`, which stays within a
/// ticket id's 12 digits for up to 99 districts.
pub const CITY_TICKETS_PER_DISTRICT: u64 = 10_000_000_000;

/// The global position of event `index` of the message at `sequence`.
pub fn position(sequence: u64, index: usize) -> u64 {
    debug_assert!(index < APPEND_EVENTS_MAX);
    (sequence << INDEX_BITS) | index as u64
}

/// The message sequence and event index a position points into.
pub fn split_position(position: u64) -> (u64, usize) {
    (position >> INDEX_BITS, (position & ((1 << INDEX_BITS) - 1)) as usize)
}

/// The sequence of the first message that can hold an event at `position`
/// or later (the message `position` points into: it may hold later events).
pub fn first_sequence_at(position: u64) -> u64 {
    split_position(position).0.max(1)
}

/// The subject of an engine stream.
pub fn subject(prefix: &str, stream: &StreamId) -> String {
    let mut out = String::with_capacity(prefix.len() + stream.as_str().len() + 8);
    out.push_str(prefix);
    out.push('.');
    out.push_str(stream.kind());
    out.push('.');
    for c in stream.id().chars() {
        match c {
            '.' => out.push_str("%2E"),
            '*' => out.push_str("%2A"),
            '>' => out.push_str("%3E"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// The place (from 0) of the district a city stream's message came from,
/// by its subject `<city prefix>.<district>.<kind>.<id>`.
pub fn district_of(prefix: &str, districts: &[String], subject: &str) -> Option<usize> {
    let rest = subject.strip_prefix(prefix)?.strip_prefix('.')?;
    let (district, _) = rest.split_once('.')?;
    districts.iter().position(|d| d == district)
}

/// A district's stream as the city sees it: the ticket `T-n` of the
/// district at `place` (from 0) becomes `T-((place + 1) × 10^10 + n)`;
/// other streams keep their names.
pub fn city_stream(place: usize, stream: &StreamId) -> Result<StreamId, Error> {
    if stream.kind() != "ticket" {
        return Ok(stream.clone());
    }
    let number = stream.id().strip_prefix("T-").and_then(|n| n.parse::<u64>().ok());
    let corrupt = || Error::Corrupt(format!("{stream}: a district's ticket outside the city's numbering"));
    let number = number.filter(|n| *n < CITY_TICKETS_PER_DISTRICT).ok_or_else(corrupt)?;
    let city = (place as u64 + 1).checked_mul(CITY_TICKETS_PER_DISTRICT).ok_or_else(corrupt)? + number;
    StreamId::new(format!("ticket-T-{city}"))
}

/// The events of a city stream's message at `sequence`, from the district
/// at `place`: positions from the city's sequence, ticket streams renamed
/// apart ([`city_stream`]).
pub fn decode_city(sequence: u64, body: &[u8], place: usize) -> Result<Vec<RecordedEvent>, Error> {
    let mut events = decode(sequence, body)?;
    for event in &mut events {
        event.stream = city_stream(place, &event.stream)?;
    }
    Ok(events)
}

/// The message body of an append: its events in the envelope's JSON. Their
/// `position` is written as 0: the store assigns it from where the message
/// lands, and overwrites it when reading.
pub fn encode(events: &[RecordedEvent]) -> Result<Vec<u8>, Error> {
    debug_assert!(events.iter().all(|e| e.position == 0));
    serde_json::to_vec(events).map_err(|e| Error::Storage(format!("encode: {e}")))
}

/// The events of the message at `sequence`, with their positions.
pub fn decode(sequence: u64, body: &[u8]) -> Result<Vec<RecordedEvent>, Error> {
    let mut events: Vec<RecordedEvent> = serde_json::from_slice(body)
        .map_err(|e| Error::Corrupt(format!("message {sequence} is not a JSON array of events: {e}")))?;
    if events.is_empty() || events.len() > APPEND_EVENTS_MAX {
        return Err(Error::Corrupt(format!("message {sequence} holds {} events (1 to 64 expected)", events.len())));
    }
    for (index, event) in events.iter_mut().enumerate() {
        event.position = position(sequence, index);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_increase() {
        assert_eq!(split_position(position(7, 3)), (7, 3));
        assert!(position(7, 63) < position(8, 0));
        assert_eq!(first_sequence_at(position(8, 0)), 8);
        assert_eq!(first_sequence_at(position(7, 5)), 7);
        assert_eq!(first_sequence_at(0), 1);
        assert_eq!(first_sequence_at(1), 1);
    }

    #[test]
    fn districts_tickets_stay_apart_in_the_city() {
        let districts = vec!["north".to_string(), "south".to_string()];
        assert_eq!(district_of("city", &districts, "city.south.ticket.T-1"), Some(1));
        assert_eq!(district_of("city", &districts, "city.east.ticket.T-1"), None);
        assert_eq!(district_of("city", &districts, "other.north.ticket.T-1"), None);
        let t1 = StreamId::new("ticket-T-1").unwrap();
        assert_eq!(city_stream(0, &t1).unwrap().as_str(), "ticket-T-10000000001");
        assert_eq!(city_stream(1, &t1).unwrap().as_str(), "ticket-T-20000000001");
        assert_eq!(city_stream(98, &t1).unwrap().as_str(), "ticket-T-990000000001");
        let world = StreamId::world();
        assert_eq!(city_stream(1, &world).unwrap(), world);
        let huge = StreamId::new("ticket-T-10000000000").unwrap();
        assert!(city_stream(0, &huge).is_err());
    }

    #[test]
    fn subjects_escape_what_nats_reserves() {
        let stream = StreamId::new("ticket-T-17").unwrap();
        assert_eq!(subject("gridloop", &stream), "gridloop.ticket.T-17");
        let odd = StreamId::new("test-a.b*c>d%e").unwrap();
        assert_eq!(subject("gridloop", &odd), "gridloop.test.a%2Eb%2Ac%3Ed%25e");
    }
}
