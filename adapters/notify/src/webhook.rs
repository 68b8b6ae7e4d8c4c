//! The signed webhook: a JSON POST a city points at its SMS gateway or
//! work-chat.
//!
//! The body is one object, `{key, kind, ticket, resident, phone, text,
//! at}` ([`body`]). Three headers go with it:
//!
//! - `Idempotency-Key`: the delivery's key (also the body's `key`); a
//!   receiver that has seen it answers 2xx and does nothing more;
//! - `X-Gridloop-Timestamp`: the sending time, in Unix seconds;
//! - `X-Gridloop-Signature`: `sha256=` and the lowercase hex HMAC-SHA256,
//!   under the shared secret, of the timestamp, a `.`, and the raw body
//!   bytes ([`sign`]).
//!
//! A receiver recomputes the HMAC over the bytes it received (before any
//! JSON parsing), compares in constant time ([`verify`]), and refuses a
//! timestamp more than five minutes from its own clock, so a captured
//! request cannot be replayed later. `docs/notify.md` has an example.
//!
//! A 2xx answer sends it; 408, 429 and 5xx, a timeout or a failed
//! connection are retried; any other answer (a 4xx, a redirect, which is
//! not followed) fails it for good.

use std::time::Duration;

use gridloop_engine::time::Timestamp;
use ring::hmac;
use serde_json::json;

use crate::Error;
use crate::outbox::Delivery;
use crate::sender::Outcome;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "X-Gridloop-Signature";
/// The header with the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Gridloop-Timestamp";
/// The header with the idempotency key.
pub const KEY_HEADER: &str = "Idempotency-Key";
/// The shortest secret accepted, in bytes.
pub const SECRET_BYTES_MIN: usize = 16;
/// How long one request may take before it is given up (and retried later).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `signature` (the header's value) signs `body` sent at
/// `timestamp` under `secret`; compared in constant time.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else { return false };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let tag: Vec<u8> = (0..32).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let message = [timestamp.as_bytes(), b".", body].concat();
    hmac::verify(&key, &message, &tag).is_ok()
}

/// The JSON body of `delivery`, with the resident's `phone` (empty when
/// unknown).
pub fn body(delivery: &Delivery, phone: &str) -> Vec<u8> {
    let notice = &delivery.notice;
    let value = json!({
        "key": delivery.key,
        "kind": notice.kind.name(),
        "ticket": notice.ticket,
        "resident": notice.resident,
        "phone": phone,
        "text": notice.text,
        "at": notice.at,
    });
    value.to_string().into_bytes()
}

/// Posts signed notices to one URL.
#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook posting to `url` (http or https), signing with `secret`
    /// (at least [`SECRET_BYTES_MIN`] bytes).
    pub fn new(url: &str, secret: Vec<u8>) -> Result<Self, Error> {
        let url: reqwest::Url = url.parse().map_err(|e| Error::config("--webhook", format!("{url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config("--webhook", "must be an http:// or https:// URL"));
        }
        if secret.len() < SECRET_BYTES_MIN {
            return Err(Error::config(
                "--webhook-secret-file",
                format!("the secret must have at least {SECRET_BYTES_MIN} bytes"),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::config("--webhook", e.to_string()))?;
        Ok(Self { client, url, secret })
    }

    /// Posts `delivery`, signed at `now`.
    pub(crate) async fn send(&self, delivery: &Delivery, phone: &str, now: Timestamp) -> Outcome {
        let body = body(delivery, phone);
        let timestamp = (now.as_millis() / 1_000).to_string();
        let signature = sign(&self.secret, &timestamp, &body);
        let sent = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(KEY_HEADER, &delivery.key)
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Outcome::Sent,
            Ok(answer) => {
                let status = answer.status();
                let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
                let error = format!("the webhook answered {status}");
                if retry { Outcome::Retry(error) } else { Outcome::Fail(error) }
            }
            Err(error) => Outcome::Retry(format!("the webhook did not answer: {error}")),
        }
    }
}
