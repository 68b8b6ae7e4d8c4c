//! The notifier's log follower: it reads ticket events, asks [`notice`]
//! what they tell whom, and writes the notices and its own position into the
//! outbox in one transaction per batch ([`Outbox::write`]). It sends
//! nothing, so no channel can slow it or the loop; the senders do that.
//!
//! A batch that fails half way wrote nothing (the transaction), and the
//! follower resumes from its saved position; a batch folded again after a
//! crash finds its deliveries already pending or finished and queues none.

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Ticket, TicketEvent};
use gridloop_policies::follower::Follow;

use crate::Error;
use crate::notice::{self, Notice};
use crate::notifier::Inner;
use crate::outbox::Outbox;

/// The most events one batch holds: its notices are written in one
/// transaction.
pub const BATCH_MAX: usize = 200;

/// The notices `event` calls for: none unless it is a ticket event that
/// tells residents something; then the ticket is folded up to it from its
/// stream, so the recipients are the ones it had at that moment.
pub async fn notices_of<S: EventStore>(
    service: &CommandService<S>,
    event: &RecordedEvent,
) -> Result<Vec<Notice>, Error> {
    if event.stream.kind() != "ticket" {
        return Ok(vec![]);
    }
    let decoded = event.decode::<TicketEvent>()?;
    let tells = matches!(
        decoded,
        TicketEvent::Accepted { .. }
            | TicketEvent::SelfHandled { .. }
            | TicketEvent::Reassigned { .. }
            | TicketEvent::Resolved { .. }
            | TicketEvent::Closed { .. }
    );
    if !tells {
        return Ok(vec![]);
    }
    let history = service.store().read_stream(&event.stream, 1).await?;
    let (mut before, mut after) = (Ticket::default(), Ticket::default());
    for recorded in history.iter().take_while(|r| r.version <= event.version) {
        let folded = recorded.decode::<TicketEvent>()?;
        if recorded.version < event.version {
            before.evolve(&folded, recorded.occurred_at);
        }
        after.evolve(&folded, recorded.occurred_at);
    }
    let source = event.event_id.to_string();
    Ok(notice::tells(&source, event.position, &decoded, &before, &after, &service.world().catalog, event.occurred_at))
}

/// The follower [`gridloop_policies::follower::run`] drives.
pub(crate) struct Writer<'a, S> {
    pub(crate) inner: &'a Inner<S>,
    pub(crate) position: u64,
}

impl<'a, S: EventStore> Writer<'a, S> {
    /// The follower from the outbox's saved position, or from `first` on the
    /// very first start. That first position is saved at once: were it kept
    /// only in memory until a batch came, an event appended just before a
    /// crash would be skipped by the next start, which would begin at the
    /// log's new end.
    pub(crate) async fn start(inner: &'a Inner<S>, outbox: &Outbox, first: u64) -> Result<Self, Error> {
        let position = match outbox.position()? {
            Some(saved) => saved,
            None => {
                outbox.write(&[], &[], Some(first.max(1))).await?;
                first
            }
        };
        Ok(Self { inner, position: position.max(1) })
    }
}

impl<S: EventStore> Follow for Writer<'_, S> {
    type Error = Error;

    fn name(&self) -> &'static str {
        "notifier"
    }

    fn is_transient(error: &Error) -> bool {
        error.is_transient()
    }

    fn next_position(&self) -> u64 {
        self.position
    }

    fn batch_max(&self) -> usize {
        BATCH_MAX
    }

    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        let mut notices = Vec::new();
        for event in batch {
            notices.extend(notices_of(&self.inner.service, event).await?);
        }
        let Some(last) = batch.last() else { return Ok(()) };
        let queued = self.inner.outbox.write(&notices, &self.inner.channels, Some(last.position + 1)).await?;
        self.position = last.position + 1;
        if queued > 0 {
            tracing::debug!(notices = notices.len(), queued, "notices written to the outbox");
            self.inner.wake_senders();
        }
        Ok(())
    }
}
