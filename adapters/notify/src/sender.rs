//! One sender loop per channel: deliver what is due, settle each outcome in
//! the outbox, sleep until woken or a second has passed.
//!
//! An attempt ends in one of four [`Outcome`]s. `Sent` and `Skip` finish
//! the delivery. `Fail` (the channel refused it for good: an SMTP 5xx, a
//! webhook 4xx) finishes it as failed at once. `Retry` (a connection that
//! failed, a timeout, an SMTP 4xx, a webhook 5xx, 408 or 429) keeps it
//! pending until [`RetryPolicy::delay`] has passed; after
//! [`RetryPolicy::attempts`] attempts it is finished as failed. Failed
//! deliveries stay in the outbox's finished tree, and the counters here
//! feed `/metrics` and the console.
//!
//! Once an hour (by the injected clock) a loop forgets its channel's
//! deliveries finished more than [`FINISHED_KEPT_DAYS`] days ago.
//!
//! Each loop works only its own channel, with its own timeouts, so a
//! webhook that hangs delays no mail, and the follower never waits for
//! either.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridloop_engine::rng::SplitMix64;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::{Millis, Timestamp};
use tokio::sync::watch;

use crate::Error;
use crate::notice::Channel;
use crate::notifier::Inner;
use crate::outbox::{Delivery, FINISHED_KEPT_DAYS, State};

/// The most deliveries one pass of a sender takes.
pub const DUE_BATCH_MAX: usize = 32;
/// The longest a sender sleeps before it looks at the outbox again: a retry
/// that fell due (by the injected clock) is noticed within it.
pub const NAP: Duration = Duration::from_secs(1);
/// The longest failure text kept.
const ERROR_CHARS_MAX: usize = 300;

/// How a channel's failed attempts are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt, before jitter.
    pub first: Millis,
    /// The longest wait, before jitter.
    pub max: Millis,
    /// The most attempts; then the delivery is failed.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    /// 10 s, doubling to 30 min, 10 attempts: about two and a half hours of
    /// trying, which outlasts a gateway's restart or a mail server's
    /// greylisting, and gives up while the news is still fresh.
    fn default() -> Self {
        Self { first: Millis(10_000), max: Millis::minutes(30), attempts: 10 }
    }
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts (1 or more): `first`
    /// doubled for each failure before the last, at most `max`, then half
    /// of it fixed and half drawn from `rng` ("equal jitter"), so that
    /// deliveries that failed together do not all come back at once.
    pub fn delay(&self, failed: u32, rng: &mut SplitMix64) -> Millis {
        let doublings = failed.saturating_sub(1).min(40);
        let wait = self.first.0.saturating_mul(1u64 << doublings).min(self.max.0.max(self.first.0));
        Millis(wait / 2 + rng.below(wait / 2 + 1))
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The channel took it.
    Sent,
    /// It may go through later.
    Retry(String),
    /// It will never go through.
    Fail(String),
    /// There is nowhere to send it.
    Skip(String),
}

/// A channel's counters since the process started.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Stats {
    fn failure(&self, error: &str) {
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
    }
}

/// Tries every delivery of `channel` due now, once. Returns how many it
/// tried.
pub(crate) async fn deliver_due<S: EventStore>(inner: &Inner<S>, channel: Channel) -> Result<usize, Error> {
    let now = inner.service.clock().now();
    let due = inner.outbox.due(channel, now, DUE_BATCH_MAX)?;
    for delivery in &due {
        let outcome = inner.attempt(delivery, now).await;
        settle(inner, delivery.clone(), outcome, now).await?;
    }
    Ok(due.len())
}

async fn settle<S: EventStore>(
    inner: &Inner<S>,
    mut delivery: Delivery,
    outcome: Outcome,
    now: Timestamp,
) -> Result<(), Error> {
    let stats = inner.stats(delivery.channel);
    delivery.attempts += 1;
    let short = |error: String| error.chars().take(ERROR_CHARS_MAX).collect::<String>();
    let (key, channel, attempts) = (&delivery.key, delivery.channel.name(), delivery.attempts);
    match outcome {
        Outcome::Sent => {
            tracing::info!(key, channel, attempts, kind = delivery.notice.kind.name(), "notice sent");
            delivery.state = State::Sent;
            stats.sent.fetch_add(1, Ordering::Relaxed);
        }
        Outcome::Skip(reason) => {
            tracing::info!(key, channel, %reason, "notice skipped");
            delivery.state = State::Skipped;
            delivery.last_error = Some(short(reason));
        }
        Outcome::Retry(error) if delivery.attempts < inner.retry.attempts => {
            let wait = inner.retry.delay(delivery.attempts, &mut inner.rng.lock().unwrap_or_else(|p| p.into_inner()));
            tracing::warn!(key, channel, attempts, wait_ms = wait.0, %error, "notice not sent; will try again");
            stats.retried.fetch_add(1, Ordering::Relaxed);
            stats.failure(&error);
            delivery.next_at = now.plus(wait);
            delivery.last_error = Some(short(error));
            return inner.outbox.reschedule(&delivery);
        }
        Outcome::Retry(error) | Outcome::Fail(error) => {
            tracing::error!(key, channel, attempts, %error, "notice failed for good");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            stats.failure(&error);
            delivery.state = State::Failed;
            delivery.last_error = Some(short(error));
        }
    }
    delivery.finished_at = Some(now);
    inner.outbox.finish(&delivery).await
}

/// Runs the sender of `channel` until `stop` turns true (or its sender is
/// dropped). An outbox that
/// fails is logged and tried again at the next nap; nothing here stops the
/// loop but `stop`.
pub(crate) async fn run<S: EventStore>(inner: &Inner<S>, channel: Channel, mut stop: watch::Receiver<bool>) {
    let mut pruned: Option<Timestamp> = None;
    while !*stop.borrow() {
        let now = inner.service.clock().now();
        if pruned.is_none_or(|at| now.since(at) >= Millis::hours(1)) {
            pruned = Some(now);
            // A cutoff before the year 2000 has nothing to prune.
            let kept = i64::try_from(Millis::days(FINISHED_KEPT_DAYS).0).unwrap_or(i64::MAX);
            if let Ok(cutoff) = Timestamp::from_millis(now.as_millis().saturating_sub(kept))
                && let Err(error) = inner.outbox.prune(channel, cutoff)
            {
                tracing::warn!(%error, channel = channel.name(), "the sender cannot prune the outbox");
            }
        }
        let full = match deliver_due(inner, channel).await {
            Ok(tried) => tried >= DUE_BATCH_MAX,
            Err(error) => {
                tracing::warn!(%error, channel = channel.name(), "the sender cannot read the outbox");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(NAP) => {}
            () = inner.wake(channel).notified() => {}
            // A dropped sender means nobody can stop it any more: stop now.
            changed = stop.changed() => if changed.is_err() { return },
        }
    }
}
