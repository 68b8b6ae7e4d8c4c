//! E-mail over SMTP, with `lettre`.
//!
//! The server is named by a URL (`lettre`'s own reading of it):
//! `smtp://host:25` speaks plain SMTP (a relay on the same host or a
//! trusted network), `smtp://host:587?tls=required` upgrades with
//! STARTTLS, and `smtps://host:465` is TLS from the first byte (rustls with
//! the bundled Mozilla roots). `user:password@` in the URL logs in.
//!
//! A message is plain text in UTF-8 (the subject encoded as RFC 2047 asks,
//! the body as lettre chooses), in Chinese then English, and carries the
//! delivery's idempotency key as its `Message-ID` (`<key@gridloop>`), so a
//! mail sent again after a crash is the same message to the receiver.

use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use gridloop_engine::time::Timestamp;

use crate::Error;
use crate::outbox::Delivery;
use crate::sender::Outcome;

/// How long one SMTP conversation may take before it is given up (and
/// retried later).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends mail through one SMTP server, from one address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for the server at `url`, sending as `from`
    /// (`网格通 <noreply@example.org>` or a bare address).
    pub fn new(url: &str, from: &str) -> Result<Self, Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| Error::config("--smtp", format!("{url:?} is not an SMTP URL ({e})")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from.parse().map_err(|e| Error::config("--mail-from", format!("{from:?}: {e}")))?;
        Ok(Self { transport, from })
    }

    /// Builds the message of `delivery` for `to`, dated `now`.
    pub fn message(&self, delivery: &Delivery, to: &str, now: Timestamp) -> Result<Message, String> {
        let to: Mailbox = to.parse().map_err(|e| format!("the address {to:?} is not one a mail can go to: {e}"))?;
        let millis = u64::try_from(now.as_millis()).unwrap_or(0);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(delivery.notice.subject.clone())
            .message_id(Some(format!("<{}@gridloop>", delivery.key)))
            .date(SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
            .header(ContentType::TEXT_PLAIN)
            .body(delivery.notice.text.clone())
            .map_err(|e| format!("the message cannot be built: {e}"))
    }

    /// Sends `delivery` to `to`. A permanent refusal (5xx) or an address
    /// that cannot be written fails it; anything else may pass later.
    pub(crate) async fn send(&self, delivery: &Delivery, to: &str, now: Timestamp) -> Outcome {
        let message = match self.message(delivery, to, now) {
            Ok(message) => message,
            Err(error) => return Outcome::Fail(error),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(error) if error.is_permanent() => Outcome::Fail(format!("the SMTP server refused it: {error}")),
            Err(error) => Outcome::Retry(format!("SMTP: {error}")),
        }
    }
}
