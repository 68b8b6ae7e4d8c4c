//! The auditor's library: the hash chain checked event by event, and a
//! ticket's timeline with the deadlines each event met or missed.

use gridloop_engine::envelope::{Hash, RecordedEvent};
use gridloop_engine::time::Timestamp;
use gridloop_projections::ProjectionError;
use gridloop_projections::audit::{self, ChainBreak, LogVerifier, VerifySummary};
use serde_json::{Value, json};

use crate::small_log::{new_event, small_log, stream};

/// The break a log that does not verify is refused with.
fn verify_log(log: Vec<RecordedEvent>) -> Result<VerifySummary, ChainBreak> {
    audit::verify_log(log).map_err(|error| match error {
        ProjectionError::Unverified(broken) => broken,
        other => panic!("not a chain break: {other}"),
    })
}

#[tokio::test]
async fn verify_log_names_the_first_event_that_does_not_verify() {
    let log = small_log().await.snapshot();
    let summary = verify_log(log.clone()).expect("an untouched log verifies");
    assert_eq!((summary.events, summary.streams), (6, 3));
    assert_eq!(summary.streams_by_kind.get("test"), Some(&3));

    let mut tampered = log.clone();
    tampered[3].payload["text"] = json!("note 9");
    let error = verify_log(tampered).expect_err("a changed payload is found");
    assert_eq!((error.stream.as_str(), error.version, error.position), ("test-a", 2, 4));
    assert!(error.to_string().starts_with("test-a v2 (position 4): hash does not match"), "{error}");
    let whole = audit::verify_log(vec![log[0].clone(), log[5].clone()]).expect_err("a gap is an error of the crate");
    assert!(matches!(&whole, ProjectionError::Unverified(b) if b.stream == "test-a"), "{whole}");

    // A tampered event whose hash was recomputed still breaks the chain at
    // the next event of its stream.
    let mut rehashed = log.clone();
    rehashed[3].payload["text"] = json!("note 9");
    rehashed[3].hash = rehashed[3].compute_hash();
    let error = verify_log(rehashed).expect_err("the chain breaks");
    assert_eq!((error.stream.as_str(), error.version, error.position), ("test-a", 3, 6));
    assert!(error.reason.contains("prev_hash"), "{error}");

    let mut gap = log.clone();
    gap.remove(3);
    let error = verify_log(gap).expect_err("a gap is found");
    assert_eq!((error.stream.as_str(), error.version), ("test-a", 3));
    assert!(error.reason.contains("without gaps"), "{error}");

    let mut swapped = log.clone();
    swapped.swap(1, 3);
    let error = verify_log(swapped).expect_err("positions must increase");
    assert!(error.reason.contains("position"), "{error}");

    let mut first = log.clone();
    first[0].prev_hash = Hash([1; 32]);
    let error = verify_log(first).expect_err("a first event chains onto zeros");
    assert_eq!((error.stream.as_str(), error.version, error.position), ("test-a", 1, 1));

    // One stream, as `audit --verify` reads it.
    let b: Vec<RecordedEvent> = log.iter().filter(|e| e.stream.as_str() == "test-b").cloned().collect();
    assert_eq!(audit::verify_ticket_stream(&b).expect("verifies").events, 2);
    let mut verifier = LogVerifier::new();
    for event in &log {
        verifier.check(event).expect("verifies");
    }
    assert_eq!(verifier.finish(), summary);
}

/// A ticket's stream from (time, role, schema, payload), chained.
fn ticket_stream(events: Vec<(&str, &str, &str, Value)>) -> Vec<RecordedEvent> {
    let mut prev = Hash::GENESIS;
    events
        .into_iter()
        .enumerate()
        .map(|(i, (time, role, schema, payload))| {
            let mut event = new_event(i as u32 + 1, &format!("k{i}"), payload);
            event.occurred_at = at(time);
            event.actor = gridloop_engine::envelope::Actor {
                role: serde_json::from_value(json!(role)).expect("role"),
                id: "a-1".parse().expect("actor id"),
            };
            event.schema = gridloop_engine::envelope::Schema::parse(schema).expect("schema");
            let recorded = event.record(stream("ticket-T-1"), i as u64 + 1, i as u64 + 1, prev);
            prev = recorded.hash;
            recorded
        })
        .collect()
}

fn at(hm: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-02T{hm}:00Z")).expect("time")
}

fn submitted() -> (&'static str, &'static str, &'static str, Value) {
    (
        "00:00",
        "resident",
        "ticket.submitted/1",
        json!({
            "ticket": "T-1", "item": "CS-001", "grid": "440802-001-002-015", "resident": "r-1",
            "description": "tap leaks", "urgency": "normal", "channel": "phone", "location": null,
            "tier": "grid", "accept_by": at("02:00"), "resolve_by": at("10:00"),
        }),
    )
}

#[test]
fn deadlines_met_and_missed_are_judged_per_event() {
    let events: Vec<(&str, &str, &str, Value)> = vec![
        submitted(),
        ("00:05", "dispatcher", "ticket.triaged/1", json!({ "mode": "volunteer", "item": "CS-001" })),
        (
            "00:10",
            "dispatcher",
            "ticket.offered/1",
            json!({ "round": 1, "candidates": [{ "kind": "volunteer", "id": "V-3" }, { "kind": "volunteer", "id": "V-9" }],
                    "expires_at": at("10:30") }),
        ),
        ("04:10", "volunteer", "ticket.accepted/1", json!({ "by": { "kind": "volunteer", "id": "V-3" }, "round": 1 })),
        (
            "09:00",
            "volunteer",
            "ticket.resolved/1",
            json!({ "by": { "kind": "volunteer", "id": "V-3" }, "result": "fixed\nthe tap",
                    "minutes_spent": 30, "feedback_by": at("23:00") }),
        ),
    ];
    let stream_events = ticket_stream(events);
    let ticket = "T-1".parse().expect("ticket id");
    let report = audit::audit_ticket(&ticket, &stream_events, None, at("12:00")).expect("a timeline");
    let changes: Vec<&str> = report.events.iter().map(|e| e.change.as_str()).collect();
    assert_eq!(changes[2], "offered to V-3, V-9 until 10:30 (round 1)");
    assert_eq!(changes[3], "accepted by volunteer V-3");
    assert!(changes[4].contains("\"fixed the tap\""), "one line: {}", changes[4]);
    let accept = &report.events[3].deadlines;
    assert_eq!(accept.len(), 1);
    assert_eq!((accept[0].deadline, accept[0].met, accept[0].outcome.as_str()), ("accept", false, "missed by 2h10m"));
    let resolve = &report.events[4].deadlines;
    assert_eq!((resolve[0].deadline, resolve[0].met, resolve[0].outcome.as_str()), ("resolve", true, "met"));
    assert_eq!(report.state.overdue_as_of, at("12:00"));
    assert_eq!(report.state.deadlines.len(), 1, "the feedback window runs");
    assert!(!report.state.deadlines[0].overdue);

    let then = audit::audit_ticket(&ticket, &stream_events, Some(at("03:00")), at("12:00")).expect("a timeline");
    assert_eq!((then.events.len(), then.later_events), (3, 2));
    let running: Vec<_> = then.state.deadlines.iter().map(|d| (d.due, d.overdue)).collect();
    assert_eq!(running, [(at("02:00"), true), (at("10:30"), false)], "accept overdue, the offer still out");
    let text = audit::render_text(&then);
    assert!(text.contains("as of 2026-11-02T03:00:00.000Z: 3 of 5 events"), "{text}");
    assert!(text.contains("overdue by 1h"), "{text}");
    assert_eq!(audit::span(45_000), "45s");
    assert_eq!(audit::span(26 * 3_600_000 + 5 * 60_000), "1d2h5m");
}

#[test]
fn an_escalation_names_the_deadlines_it_found_passed_and_the_next_take_answers_two() {
    let stream_events = ticket_stream(vec![
        submitted(),
        ("00:05", "dispatcher", "ticket.triaged/1", json!({ "mode": "volunteer", "item": "CS-001" })),
        (
            "02:00",
            "system",
            "ticket.escalated/2",
            json!({ "from": "grid", "to": "community", "reason": "timeout", "note": "",
                    "respond_by": at("04:00"), "resolve_by": null }),
        ),
        (
            "04:10",
            "dispatcher",
            "ticket.reassigned/1",
            json!({ "to": { "kind": "team", "id": "TM-3" }, "reason": "routed by policy" }),
        ),
    ]);
    let ticket = "T-1".parse().expect("ticket id");
    let report = audit::audit_ticket(&ticket, &stream_events, None, at("05:00")).expect("a timeline");
    let escalated = &report.events[2];
    assert_eq!(escalated.change, "escalated grid → community (timeout), to be taken by 04:00");
    let passed: Vec<_> = escalated.deadlines.iter().map(|d| (d.deadline, d.met, d.outcome.as_str())).collect();
    assert_eq!(passed, [("accept", false, "missed: it ran out at this instant")]);
    let taken = &report.events[3];
    assert_eq!(taken.change, "assigned to team TM-3: \"routed by policy\"");
    let judged: Vec<_> = taken.deadlines.iter().map(|d| (d.deadline, d.outcome.as_str())).collect();
    assert_eq!(judged, [("accept", "missed by 2h10m"), ("respond", "missed by 10m")]);
    let value = serde_json::to_value(&report).expect("json");
    assert_eq!(value["state"]["status"], "accepted");
    assert_eq!(value["state"]["tier"], "community");
    assert_eq!(value["state"]["holder"], json!({ "kind": "team", "id": "TM-3" }));
    assert_eq!(value["events"][3]["deadlines"][1]["late_ms"], 600_000);
}

/// An escalation renews the deadline a ticket works to, not the one it is
/// judged by: the timeline and the metrics both judge the resolution by the
/// submission's deadline (the engine's `judged_resolve_by`), and the
/// timeline shows the renewed one beside it.
#[test]
fn the_timeline_and_the_metrics_judge_the_same_resolve_deadline() {
    use gridloop_projections::runner::Projection;
    use gridloop_projections::{Cohort, Metrics, Rate};

    let stream_events = ticket_stream(vec![
        submitted(),
        ("00:05", "dispatcher", "ticket.triaged/1", json!({ "mode": "volunteer", "item": "CS-001" })),
        ("01:00", "volunteer", "ticket.accepted/1", json!({ "by": { "kind": "volunteer", "id": "V-3" }, "round": 1 })),
        (
            "10:30",
            "system",
            "ticket.escalated/2",
            json!({ "from": "grid", "to": "community", "reason": "timeout", "note": "",
                    "respond_by": at("12:30"), "resolve_by": at("20:00") }),
        ),
        (
            "12:00",
            "volunteer",
            "ticket.resolved/1",
            json!({ "by": { "kind": "volunteer", "id": "V-3" }, "result": "fixed",
                    "minutes_spent": 30, "feedback_by": at("23:00") }),
        ),
    ]);
    let ticket = "T-1".parse().expect("ticket id");
    let report = audit::audit_ticket(&ticket, &stream_events, None, at("13:00")).expect("a timeline");
    let judged: Vec<_> = report.events[4].deadlines.iter().map(|d| (d.deadline, d.due, d.met)).collect();
    assert_eq!(judged, [("resolve", at("10:00"), false), ("resolve_renewed", at("20:00"), true)]);

    let mut metrics = Metrics::default();
    for event in &stream_events {
        metrics.evolve(event).expect("folds");
    }
    let cohort = Cohort { from: at("00:00"), to: at("01:00"), scope: None };
    let rates = metrics.rates(&cohort, at("13:00"));
    assert_eq!(rates.completion, Rate { numerator: 1, denominator: 1 });
    assert_eq!(rates.on_time, Rate { numerator: 0, denominator: 1 }, "late by the judged deadline");
}
