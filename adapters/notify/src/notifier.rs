//! The notifier: the follower, the outbox and a sender per configured
//! channel, over one command service and one personal store.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use gridloop_engine::personal::{Lookup, PersonalStore};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_http::courier::ChannelStatus;
use tokio::sync::{Notify, watch};

use crate::Error;
use crate::follower::Writer;
use crate::mail::Mailer;
use crate::notice::Channel;
use crate::outbox::{Delivery, Outbox, State};
use crate::sender::{self, Outcome, RetryPolicy, Stats};
use crate::webhook::Webhook;

/// What the notifier sends through, and how.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// E-mail, when an SMTP server is configured.
    pub mail: Option<Mailer>,
    /// The webhook, when a URL and its secret are configured.
    pub webhook: Option<Webhook>,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// The seed of the retry jitter.
    pub seed: u64,
    /// Where the follower starts on its very first start (no saved
    /// position): `serve` passes the log's end, so residents are not told
    /// of what happened before the notifier existed; tests pass 1.
    pub first_position: u64,
}

/// Tells residents what happened to their requests: follows the log into
/// the outbox and sends it. Cheap to clone.
pub struct Notifier<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Notifier<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<S> std::fmt::Debug for Notifier<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("channels", &self.inner.channels).finish_non_exhaustive()
    }
}

pub(crate) struct Inner<S> {
    pub(crate) service: Arc<CommandService<S>>,
    pub(crate) personal: Arc<dyn PersonalStore>,
    pub(crate) outbox: Outbox,
    /// The page, then each channel that is configured.
    pub(crate) channels: Vec<Channel>,
    mail: Option<Mailer>,
    webhook: Option<Webhook>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rng: Mutex<SplitMix64>,
    /// Per sent channel, in [`Channel::SENT`]'s order.
    stats: [Stats; 2],
    wakes: [Notify; 2],
    first_position: u64,
}

/// The slot of a sent channel in `stats` and `wakes` (the page has none:
/// nothing is sent to it).
fn slot(channel: Channel) -> usize {
    usize::from(channel == Channel::Webhook)
}

impl<S: EventStore> Inner<S> {
    pub(crate) fn stats(&self, channel: Channel) -> &Stats {
        &self.stats[slot(channel)]
    }

    pub(crate) fn wake(&self, channel: Channel) -> &Notify {
        &self.wakes[slot(channel)]
    }

    /// Starts the sent and failed counters from what the outbox holds, so a
    /// channel that failed before a restart still shows it (a scan of the
    /// finished deliveries, once).
    fn count_finished(&self) {
        for channel in Channel::SENT {
            let Ok(finished) = self.outbox.finished(channel) else { continue };
            let stats = self.stats(channel);
            let count = |state| finished.iter().filter(|d| d.state == state).count() as u64;
            stats.sent.store(count(State::Sent), Ordering::Relaxed);
            stats.failed.store(count(State::Failed), Ordering::Relaxed);
            stats.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone_from(
                &finished
                    .iter()
                    .filter(|d| d.state == State::Failed)
                    .max_by_key(|d| d.next_at)
                    .and_then(|d| d.last_error.clone()),
            );
        }
    }

    pub(crate) fn wake_senders(&self) {
        self.wakes.iter().for_each(Notify::notify_one);
    }

    /// One attempt at `delivery`, at `now`. The resident's address and phone
    /// are read now, not when the notice was written: an erased resident is
    /// sent nothing, and a changed address is used.
    pub(crate) async fn attempt(&self, delivery: &Delivery, now: Timestamp) -> Outcome {
        let person = match self.personal.get(&delivery.notice.resident) {
            Ok(Lookup::Found(person)) => Some(person),
            Ok(Lookup::Erased) => return Outcome::Skip("the resident was erased".into()),
            Ok(Lookup::Unknown) => None,
            Err(error) => return Outcome::Retry(format!("the personal store: {error}")),
        };
        match delivery.channel {
            Channel::Page => Outcome::Sent,
            Channel::Email => {
                let Some(mail) = &self.mail else { return Outcome::Retry("no SMTP server is configured".into()) };
                match person.map(|p| p.email).filter(|email| !email.is_empty()) {
                    Some(to) => mail.send(delivery, &to, now).await,
                    None => Outcome::Skip("the resident gave no e-mail address".into()),
                }
            }
            Channel::Webhook => {
                let Some(webhook) = &self.webhook else { return Outcome::Retry("no webhook is configured".into()) };
                let phone = person.map(|p| p.phone).unwrap_or_default();
                webhook.send(delivery, &phone, now).await
            }
        }
    }
}

impl<S: EventStore> Notifier<S> {
    /// A notifier writing to `outbox`, reading addresses from `personal`.
    pub fn new(
        service: Arc<CommandService<S>>,
        personal: Arc<dyn PersonalStore>,
        outbox: Outbox,
        config: Config,
    ) -> Self {
        let mut channels = vec![Channel::Page];
        channels.extend(config.mail.is_some().then_some(Channel::Email));
        channels.extend(config.webhook.is_some().then_some(Channel::Webhook));
        let inner = Inner {
            service,
            personal,
            outbox,
            channels,
            mail: config.mail,
            webhook: config.webhook,
            retry: config.retry,
            rng: Mutex::new(SplitMix64::new(config.seed)),
            stats: Default::default(),
            wakes: Default::default(),
            first_position: config.first_position,
        };
        inner.count_finished();
        Self { inner: Arc::new(inner) }
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// The page and the channels configured.
    pub fn channels(&self) -> &[Channel] {
        &self.inner.channels
    }

    pub(crate) fn inner(&self) -> &Inner<S> {
        &self.inner
    }

    /// Writes the notices of everything in the log past the saved position
    /// to the outbox, and sends nothing. Returns the events read.
    pub async fn catch_up(&self) -> Result<u64, Error> {
        let mut writer = Writer::start(&self.inner, &self.inner.outbox, self.inner.first_position).await?;
        gridloop_policies::follower::catch_up(self.inner.service.store(), &mut writer).await
    }

    /// Tries each delivery of `channel` that is due now, once. Returns how
    /// many it tried.
    pub async fn deliver_due(&self, channel: Channel) -> Result<usize, Error> {
        sender::deliver_due(&self.inner, channel).await
    }

    /// Follows the log and runs a sender per configured channel until
    /// `stop` turns true. The follower stopping on an error (a log that
    /// does not decode) is logged and returned at the end; the senders go on
    /// sending what the outbox holds until then.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> Result<(), Error> {
        let inner = &*self.inner;
        let mut writer = Writer::start(inner, &inner.outbox, inner.first_position).await?;
        let follow = gridloop_policies::follower::run(inner.service.store(), &mut writer, stop.clone());
        let send = |channel: Channel| {
            let stop = stop.clone();
            async move {
                if inner.channels.contains(&channel) {
                    sender::run(inner, channel, stop).await;
                }
            }
        };
        let (followed, (), ()) = tokio::join!(follow, send(Channel::Email), send(Channel::Webhook));
        followed
    }

    /// Each configured channel's state: waiting deliveries, what was sent
    /// and given up (as the outbox keeps them), and the retries since the
    /// process started.
    pub fn status(&self) -> Vec<ChannelStatus> {
        let inner = &*self.inner;
        Channel::SENT
            .iter()
            .filter(|channel| inner.channels.contains(channel))
            .map(|&channel| {
                let stats = inner.stats(channel);
                let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
                let pending = inner.outbox.pending(channel).map_or(0, |(count, _)| count);
                let last_error = stats.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                ChannelStatus {
                    channel: channel.name().to_string(),
                    pending,
                    sent_total: load(&stats.sent),
                    failed_total: load(&stats.failed),
                    retried_total: load(&stats.retried),
                    last_error,
                }
            })
            .collect()
    }
}
