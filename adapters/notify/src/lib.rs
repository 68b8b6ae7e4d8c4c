//! Tells residents what happened to their requests (结果反馈), in their own
//! channel.
//!
//! # Map
//!
//! - [`notice`]: what a ticket event tells whom — pure. A ticket taken
//!   (`accepted`), resolved (with the result) and closed each become one
//!   notice per recipient (the ticket's resident and its co-reporters) and
//!   channel, with an idempotency key derived from the event id, the
//!   recipient and the channel.
//! - [`outbox`]: the durable outbox in the deployment's local sled database.
//!   The follower writes a batch's notices, the page's notices and its own
//!   position in one sled transaction, so a restart neither loses nor
//!   doubles one. Pending deliveries wait per channel; finished ones (sent,
//!   failed, skipped) move to a second tree and stay visible.
//! - [`follower`]: the log follower (`gridloop_policies::follower`): it only
//!   writes the outbox, so no channel can hold up the log or the loop.
//! - [`sender`]: one loop per channel that delivers what is due, retrying
//!   with exponential backoff and seeded jitter up to [`RetryPolicy::attempts`],
//!   then marking it failed; the counters `/metrics` and the console show.
//! - [`mail`] (SMTP with `lettre`) and [`webhook`] (a signed JSON POST with
//!   `reqwest`; [`webhook::sign`] is the HMAC a receiver checks).
//! - [`Notifier`]: all of it together, and the HTTP crate's [`Courier`]:
//!   the resident's page lists their notices, and one-time codes go out at
//!   once through e-mail and the webhook (never kept on the page).
//!
//! Delivery is at least once: a notice is marked sent after the channel took
//! it, so a crash between the two sends it again, under the same key (the
//! mail's `Message-ID`, the webhook's `Idempotency-Key`), by which the
//! receiver drops the repeat. `docs/notify.md` says it for operators.

#![warn(missing_docs, unreachable_pub)]

pub mod error;
pub mod follower;
pub mod mail;
pub mod notice;
pub mod outbox;
pub mod sender;
pub mod webhook;

mod courier;
mod notifier;

pub use error::Error;
pub use gridloop_http::courier::{ChannelStatus, Courier};
pub use notice::Channel;
pub use notifier::{Config, Notifier};
pub use sender::RetryPolicy;
