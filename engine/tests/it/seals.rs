//! Seals catch what the per-stream hash chain cannot: a stream deleted
//! whole, a log cut short; and a seal signed by another key.

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, EventPayload, Hash, NewEvent, RecordedEvent};
use gridloop_engine::ids::{CommandId, CorrelationId, StreamId};
use gridloop_engine::seal::{Heads, SealChecker, SealEvent, public_key_hex, signing_key};
use gridloop_engine::time::Timestamp;

/// A log of `streams` streams of `per_stream` events each, interleaved,
/// with positions 1.. and chained hashes.
fn log(streams: u64, per_stream: u64) -> Vec<RecordedEvent> {
    let mut heads = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for round in 0..per_stream {
        for s in 0..streams {
            let stream = StreamId::new(format!("test-s{s}")).unwrap();
            let (version, prev) = heads.get(&s).copied().unwrap_or((0, Hash::GENESIS));
            let position = out.len() as u64 + 1;
            let event = NewEvent {
                event_id: gridloop_engine::rng::SplitMix64::new(position).uuid_v7(1_800_000_000_000),
                occurred_at: Timestamp::from_millis(1_800_000_000_000 + position as i64).unwrap(),
                actor: Actor::system(),
                command_id: CommandId::new(format!("c{position}")).unwrap(),
                correlation_id: CorrelationId::new("seal-test").unwrap(),
                schema: gridloop_engine::envelope::Schema::parse("test.happened/1").unwrap(),
                payload: serde_json::json!({ "round": round }),
            }
            .record(stream, version + 1, position, prev);
            heads.insert(s, (version + 1, event.hash));
            out.push(event);
        }
    }
    out
}

fn key() -> ed25519_dalek::SigningKey {
    signing_key(&[7u8; 32])
}

fn seal_at(events: &[RecordedEvent]) -> SealEvent {
    let mut heads = Heads::default();
    events.iter().for_each(|e| heads.apply(e));
    heads.seal(&key())
}

fn check(events: &[RecordedEvent], seals: Vec<SealEvent>, trusted: Option<String>) -> Result<u64, Error> {
    let mut checker = SealChecker::new(seals, trusted);
    for event in events {
        checker.apply(event)?;
    }
    checker.finish().map(|r| r.seals)
}

#[test]
fn an_honest_log_verifies_its_seals_also_with_events_appended_after_them() {
    let events = log(5, 6);
    let seals = vec![seal_at(&events[..10]), seal_at(&events[..25])];
    let trusted = Some(public_key_hex(&key()));
    assert_eq!(check(&events, seals.clone(), trusted.clone()).unwrap(), 2);
    // A seal event written into the log itself is skipped by the heads.
    let payload = seals[0].encode();
    assert_eq!(SealEvent::decode(&seals[0].schema(), &payload).unwrap(), seals[0]);
}

#[test]
fn a_deleted_stream_breaks_the_seal() {
    let events = log(5, 6);
    let seals = vec![seal_at(&events[..20])];
    let without_s2: Vec<RecordedEvent> = events.iter().filter(|e| e.stream.as_str() != "test-s2").cloned().collect();
    let err = check(&without_s2, seals, None).unwrap_err();
    assert!(err.to_string().contains("a stream was removed or cut short"), "{err}");
}

#[test]
fn a_stream_cut_short_before_the_seal_breaks_it() {
    let events = log(3, 6);
    let seals = vec![seal_at(&events[..15])];
    // Drop the newest event of one stream before the sealed position.
    let cut: Vec<RecordedEvent> = events.iter().filter(|e| e.position != 14).cloned().collect();
    assert!(check(&cut, seals, None).is_err());
}

#[test]
fn a_log_truncated_after_a_seal_is_caught_by_the_journal() {
    let events = log(3, 6);
    let journal = vec![seal_at(&events[..15])];
    let err = check(&events[..12], journal, None).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn a_forged_or_foreign_signature_is_refused() {
    let events = log(3, 4);
    let honest = seal_at(&events);
    let SealEvent::Sealed { position, streams, digest, public_key, signature } = honest.clone();
    let mut forged = signature.into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let tampered =
        SealEvent::Sealed { position, streams, digest, public_key, signature: String::from_utf8(forged).unwrap() };
    assert!(check(&events, vec![tampered], None).is_err());
    let other = signing_key(&[9u8; 32]);
    let foreign = {
        let mut heads = Heads::default();
        events.iter().for_each(|e| heads.apply(e));
        heads.seal(&other)
    };
    let err = check(&events, vec![foreign], Some(public_key_hex(&key()))).unwrap_err();
    assert!(err.to_string().contains("not the deployment's"), "{err}");
}

#[test]
fn a_signature_in_other_text_than_hex_digits_is_malformed_not_a_panic() {
    let events = log(3, 4);
    let SealEvent::Sealed { position, streams, digest, public_key, signature } = seal_at(&events);
    let with =
        |signature: String| SealEvent::Sealed { position, streams, digest, public_key: public_key.clone(), signature };
    // A pair `0x` written `+x` has the same value to `u8::from_str_radix`,
    // and a two-byte character fills a pair's place: both are refused.
    let pair = (0..signature.len() / 2).find(|i| signature.as_bytes()[2 * i] == b'0').expect("a pair below 0x10");
    let mut signed = signature.clone();
    signed.replace_range(2 * pair..2 * pair + 1, "+");
    let mut accented = signature.clone();
    accented.replace_range(2 * pair..2 * pair + 2, "é");
    for bad in [signed, accented] {
        assert_eq!(bad.len(), signature.len());
        let err = check(&events, vec![with(bad.clone())], None).expect_err("refused");
        assert!(err.to_string().contains("malformed"), "{bad}: {err}");
    }
    assert_eq!(check(&events, vec![with(signature)], None).expect("the honest seal"), 1);
}
