//! The points policy: when a ticket a volunteer resolved is closed, award
//! that volunteer the catalog item's points.
//!
//! A policy reacts to events by issuing commands. Its command id is derived
//! from the triggering event (`award-<stream>-v<version>` of the `Closed`
//! event), so replaying the log, or receiving the event twice, issues the
//! same command id again, and the command service writes nothing the second
//! time. Its state (who resolved each open ticket) is checkpointed like any
//! projection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gridloop_engine::catalog::Catalog;
use gridloop_engine::envelope::{Actor, RecordedEvent};
use gridloop_engine::ids::{CommandId, CorrelationId, ItemCode, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, TicketEvent};
use gridloop_engine::volunteer::VolunteerCommand;

use gridloop_projections::ProjectionError;

/// The points policy's state: for each open ticket, its catalog item and the
/// volunteer who last resolved it, plus the log position reacted to so far.
///
/// Serializable so it can be checkpointed like a projection and resumed
/// without reacting to the whole log again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsPolicy {
    /// Open tickets: their item, and the volunteer who last resolved them.
    open: BTreeMap<u64, (ItemCode, Option<VolunteerId>)>,
    /// The log position of the last event reacted to (0 before any); the
    /// next catch-up scans from the position after it.
    pub checkpoint: u64,
}

impl PointsPolicy {
    /// Reacts to every event after the checkpoint, sending the commands
    /// through `service`. Returns how many awards were written (repeats of an
    /// award already written count as none).
    pub async fn catch_up<S: EventStore>(&mut self, service: &CommandService<S>) -> Result<u64, ProjectionError> {
        let mut written = 0;
        let mut scan = service.store().scan(self.checkpoint + 1);
        while let Some(batch) = scan.next_batch().await? {
            for event in &batch {
                if let Some(command) = self.react(event, &service.world().catalog)? {
                    written += u64::from(!service.execute(command).await?.is_duplicate());
                }
                self.checkpoint = event.position;
            }
        }
        Ok(written)
    }

    /// The command this event calls for, if any.
    pub fn react(
        &mut self,
        event: &RecordedEvent,
        catalog: &Catalog,
    ) -> Result<Option<CommandEnvelope>, ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(None);
        }
        let ticket = TicketId::new(event.stream.id())?;
        let number = ticket.number();
        match event.decode()? {
            TicketEvent::Submitted { item, .. } => {
                self.open.insert(number, (item, None));
            }
            TicketEvent::Triaged { item, .. } => {
                if let Some(entry) = self.open.get_mut(&number) {
                    entry.0 = item;
                }
            }
            TicketEvent::Resolved { by, .. } => {
                if let Some(entry) = self.open.get_mut(&number) {
                    entry.1 = match by {
                        Assignee::Volunteer(v) => Some(v),
                        _ => None,
                    };
                }
            }
            TicketEvent::Closed { .. } => return self.award(event, ticket, catalog),
            TicketEvent::Cancelled { .. } | TicketEvent::MarkedDuplicate { .. } => {
                self.open.remove(&number);
            }
            _ => {}
        }
        Ok(None)
    }

    fn award(
        &mut self,
        event: &RecordedEvent,
        ticket: TicketId,
        catalog: &Catalog,
    ) -> Result<Option<CommandEnvelope>, ProjectionError> {
        let Some((item, Some(volunteer))) = self.open.remove(&ticket.number()) else { return Ok(None) };
        let entry = catalog.item(&item)?;
        if entry.points == 0 {
            return Ok(None);
        }
        Ok(Some(CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("award-{}-v{}", event.stream, event.version))?,
            correlation_id: Some(CorrelationId::new(ticket.as_str())?),
            actor: Actor::system(),
            command: Command::Volunteer {
                id: volunteer,
                command: VolunteerCommand::AwardPoints {
                    points: u64::from(entry.points),
                    ticket: Some(ticket),
                    reason: entry.name.clone(),
                },
            },
        }))
    }
}
