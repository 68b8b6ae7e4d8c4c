//! The notifier as the resident's door sees it ([`Courier`]).

use gridloop_engine::blob::BlobFuture;
use gridloop_engine::ids::ResidentId;
use gridloop_engine::personal::Lookup;
use gridloop_engine::store::EventStore;
use gridloop_http::courier::{ChannelStatus, CodePurpose, Courier, Notice};

use crate::notice::{self, Channel};
use crate::notifier::Notifier;

/// The most notices one page read returns, whatever is asked.
pub(crate) const NOTICES_MAX: usize = 200;
/// The longest one-time code sent, in characters.
pub(crate) const CODE_CHARS_MAX: usize = 32;

impl<S: EventStore> Courier for Notifier<S> {
    /// Queues the code for every channel that leaves the page (e-mail and
    /// the webhook), and wakes their senders: it goes out at once. Refused
    /// when no channel could carry it: none configured, or only e-mail and
    /// the resident gave no address.
    fn send_code<'a>(&'a self, resident: &'a ResidentId, code: &'a str, purpose: CodePurpose) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            if code.is_empty()
                || code.chars().count() > CODE_CHARS_MAX
                || !code.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(gridloop_engine::Error::invalid("code", "must be 1 to 32 letters or digits"));
            }
            let inner = self.inner();
            let sent: Vec<Channel> = inner.channels.iter().copied().filter(|c| *c != Channel::Page).collect();
            let no_channel = |reason: &str| gridloop_engine::Error::invalid("channel", reason.to_string());
            if sent.is_empty() {
                return Err(no_channel("this deployment has no e-mail or webhook to send a code through"));
            }
            if sent == [Channel::Email] {
                let has_address = matches!(inner.personal.get(resident)?, Lookup::Found(p) if !p.email.is_empty());
                if !has_address {
                    return Err(no_channel("there is no e-mail address on record to send a code to"));
                }
            }
            let purpose = match purpose {
                CodePurpose::LinkDevice => "link_device",
                CodePurpose::ConfirmPhone => "confirm_phone",
            };
            let notice = notice::code(resident, code, purpose, inner.service.clock().now());
            inner.outbox.write(&[notice], &sent, None).await?;
            inner.wake_senders();
            Ok(())
        })
    }

    fn notices<'a>(&'a self, resident: &'a ResidentId, max: usize) -> BlobFuture<'a, Vec<Notice>> {
        Box::pin(async move {
            let page = self.outbox().page(resident, max.min(NOTICES_MAX))?;
            Ok(page
                .into_iter()
                .filter_map(|n| {
                    let ticket = n.ticket?;
                    Some(Notice { ticket, kind: n.kind.name().to_string(), text: n.text, at: n.at })
                })
                .collect())
        })
    }

    fn channels(&self) -> Vec<ChannelStatus> {
        self.status()
    }
}
