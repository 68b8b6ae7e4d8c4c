//! The retry policy, the signature and the keys, on their own.

use gridloop_engine::ids::ResidentId;
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::time::Millis;
use gridloop_notify::notice::key;
use gridloop_notify::webhook::{sign, verify};
use gridloop_notify::{Channel, RetryPolicy};

#[test]
fn the_backoff_doubles_to_its_cap_with_jitter_within_half_of_it() {
    let policy = RetryPolicy { first: Millis(10_000), max: Millis(80_000), attempts: 10 };
    let mut rng = SplitMix64::new(1);
    for (failed, wait) in [(1, 10_000), (2, 20_000), (3, 40_000), (4, 80_000), (5, 80_000), (30, 80_000)] {
        for _ in 0..50 {
            let delay = policy.delay(failed, &mut rng).0;
            assert!(
                (wait / 2..=wait).contains(&delay),
                "after {failed} failures: {delay} not in {}..={wait}",
                wait / 2
            );
        }
    }
    let draws = |seed| (1..=6).map(|n| policy.delay(n, &mut SplitMix64::new(seed)).0).collect::<Vec<_>>();
    assert_eq!(draws(9), draws(9), "the same seed, the same waits");
    let spread: std::collections::BTreeSet<u64> =
        (0..20).map(|seed| policy.delay(3, &mut SplitMix64::new(seed)).0).collect();
    assert!(spread.len() > 10, "jitter spreads retries: {spread:?}");
}

#[test]
fn a_signature_verifies_only_for_its_secret_timestamp_and_body() {
    let body = br#"{"key":"k","text":"\u4f60\u597d"}"#;
    let signature = sign(b"0123456789abcdef", "1795420800", body);
    assert!(signature.starts_with("sha256=") && signature.len() == 71, "{signature}");
    assert!(verify(b"0123456789abcdef", "1795420800", body, &signature));
    assert!(!verify(b"0123456789abcdeX", "1795420800", body, &signature), "another secret");
    assert!(!verify(b"0123456789abcdef", "1795420801", body, &signature), "another time");
    assert!(!verify(b"0123456789abcdef", "1795420800", b"{}", &signature), "another body");
    assert!(!verify(b"0123456789abcdef", "1795420800", body, "sha256=zz"), "malformed");
}

#[test]
fn keys_differ_by_source_recipient_and_channel_and_are_stable() {
    let a = ResidentId::new("r-1").expect("valid");
    let b = ResidentId::new("r-2").expect("valid");
    let k = key("0190-event", &a, Channel::Email);
    assert_eq!(k, key("0190-event", &a, Channel::Email));
    assert_eq!(k.len(), 32);
    assert!(k.bytes().all(|c| c.is_ascii_hexdigit()));
    let others = [
        key("0190-event", &b, Channel::Email),
        key("0190-event", &a, Channel::Webhook),
        key("0191-event", &a, Channel::Email),
    ];
    assert!(others.iter().all(|o| *o != k), "{others:?}");
}

#[test]
fn settings_are_checked_when_given() {
    use gridloop_notify::mail::Mailer;
    use gridloop_notify::webhook::Webhook;
    for url in ["smtp://127.0.0.1:2525", "smtp://mail.example.org:587?tls=required", "smtps://mail.example.org:465"] {
        assert!(Mailer::new(url, "网格通 <noreply@example.org>").is_ok(), "{url}");
    }
    assert!(Mailer::new("http://mail.example.org", "noreply@example.org").is_err(), "not an SMTP URL");
    assert!(Mailer::new("smtp://127.0.0.1:2525", "not an address").is_err(), "a sender that is no address");
    let secret = b"0123456789abcdef".to_vec();
    assert!(Webhook::new("https://sms.example.org/hook", secret.clone()).is_ok());
    assert!(Webhook::new("ftp://sms.example.org/hook", secret).is_err(), "not http");
    assert!(Webhook::new("https://sms.example.org/hook", b"short".to_vec()).is_err(), "a secret too short");
}
