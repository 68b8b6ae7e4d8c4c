//! The coordination policy (巡办协同): when a linked child ticket settles
//! (resolved, closed, cancelled or marked a duplicate), tell its parent,
//! whose own `decide` resolves it when the last child has.
//!
//! It folds which ticket is whose child from the parents' `Coordinated`
//! events, and which children settled from their own events; once caught
//! up it sends `SettleChild` to each parent for each settled child not yet
//! relayed. The command id is derived from the parent and the child
//! (`settle-<parent>-<child>`), so a restart that relays again writes
//! nothing twice; a parent that refuses (cancelled meanwhile) is passed
//! over. A child that settled before its link was recorded is relayed all
//! the same: the policy keeps every settled child it has seen linked or
//! not yet linked, bounded by the children the log names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, RecordedEvent};
use gridloop_engine::ids::{CommandId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{TicketCommand, TicketEvent};
use gridloop_projections::cold::Cold;
use gridloop_projections::runner::SnapshotStore;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::follower::{self, Follow};
use crate::saved::{Saved, stored};

/// Which children are whose, which settled, and what was relayed; with
/// the position it has folded to, so it snapshots as one blob.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coordination {
    parent_of: BTreeMap<TicketId, TicketId>,
    settled: BTreeSet<TicketId>,
    relayed: BTreeSet<TicketId>,
    next: u64,
}

impl Coordination {
    /// Folds one event in.
    pub fn fold(&mut self, event: &RecordedEvent) -> Result<(), Error> {
        self.next = event.position + 1;
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let settles = matches!(
            event.schema.name.as_str(),
            "ticket.resolved" | "ticket.closed" | "ticket.cancelled" | "ticket.marked_duplicate"
        );
        if event.schema.name == "ticket.coordinated" {
            let parent = TicketId::new(event.stream.id())?;
            if let TicketEvent::Coordinated { children, .. } = event.decode::<TicketEvent>()? {
                for child in children {
                    self.parent_of.insert(child, parent.clone());
                }
            }
        } else if event.schema.name == "ticket.child_settled" {
            if let TicketEvent::ChildSettled { child } = event.decode::<TicketEvent>()? {
                self.relayed.insert(child);
            }
        } else if settles {
            self.settled.insert(TicketId::new(event.stream.id())?);
        }
        Ok(())
    }

    /// The `SettleChild` commands due now: a settled child whose parent is
    /// known and has not recorded it.
    pub fn due(&self) -> Vec<CommandEnvelope> {
        self.parent_of
            .iter()
            .filter(|(child, _)| self.settled.contains(*child) && !self.relayed.contains(*child))
            .filter_map(|(child, parent)| {
                let command_id = CommandId::new(format!("settle-{parent}-{child}")).ok()?;
                Some(CommandEnvelope {
                    command_id,
                    correlation_id: None,
                    actor: Actor::system(),
                    command: Command::Ticket {
                        id: parent.clone(),
                        command: TicketCommand::SettleChild { child: child.clone() },
                    },
                    expected_version: None,
                })
            })
            .collect()
    }
}

impl Coordination {
    /// Sends what is due; returns how many commands wrote something.
    pub async fn relay<S: EventStore>(&mut self, service: &CommandService<S>) -> Result<u64, Error> {
        let mut written = 0;
        for envelope in self.due() {
            let Command::Ticket { command: TicketCommand::SettleChild { child }, .. } = &envelope.command else {
                continue;
            };
            let child = child.clone();
            match service.execute(envelope).await {
                Ok(outcome) => written += u64::from(!outcome.is_duplicate()),
                // The parent moved on (cancelled, say): nothing to relay.
                Err(Error::IllegalTransition { .. } | Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            self.relayed.insert(child);
        }
        Ok(written)
    }

    /// The position after the last event folded (1 before any).
    pub fn next_position(&self) -> u64 {
        self.next.max(1)
    }
}

/// The version of the coordination snapshot's shape.
const VERSION: u32 = 1;

/// The coordination state as saved: its shape's version, and the state
/// (which holds its own position).
#[derive(Serialize, Deserialize)]
struct SavedState<S> {
    version: u32,
    state: S,
}

/// The policy as a follower of the log, sending through `service`.
struct Relay<S> {
    service: Arc<CommandService<S>>,
    state: Coordination,
    saved: Saved,
    /// Events folded since the last save.
    unsaved: u64,
}

impl<S> Relay<S> {
    fn save(&mut self) -> Result<(), Error> {
        let bytes = serde_json::to_vec(&SavedState { version: VERSION, state: &self.state })
            .map_err(|e| Error::Storage(e.to_string()))?;
        self.saved.save("state", &bytes).map_err(stored)?;
        self.saved.saved();
        self.unsaved = 0;
        Ok(())
    }
}

impl<S: EventStore> Follow for Relay<S> {
    type Error = Error;

    fn name(&self) -> &'static str {
        "coordination"
    }

    fn is_transient(error: &Error) -> bool {
        follower::storage_failed(error)
    }

    fn next_position(&self) -> u64 {
        self.state.next_position()
    }

    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        self.unsaved += batch.len() as u64;
        batch.iter().try_for_each(|event| self.state.fold(event))
    }

    async fn caught_up(&mut self) -> Result<Option<std::time::Duration>, Error> {
        if self.saved.due(self.unsaved) {
            self.save()?;
        }
        self.state.relay(&self.service).await?;
        Ok(None)
    }
}

/// Runs until `stop` turns true, from position 0 (nothing saved).
pub async fn run<S: EventStore>(service: Arc<CommandService<S>>, stop: watch::Receiver<bool>) -> Result<(), Error> {
    run_saved(service, Cold::default(), stop).await
}

/// Runs until `stop` turns true, resumed from its snapshot in `cold`
/// (`coordination.state`; one of another version is folded again from 0)
/// and saving it periodically and when it stops.
pub async fn run_saved<S: EventStore>(
    service: Arc<CommandService<S>>,
    cold: Cold,
    stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let store = service.store().clone();
    let saved = Saved::new(cold, "coordination");
    let bytes = saved.load("state").map_err(stored)?;
    let resumed = bytes.and_then(|b| serde_json::from_slice::<SavedState<Coordination>>(&b).ok());
    let state = resumed.filter(|s| s.version == VERSION).map(|s| s.state).unwrap_or_default();
    let mut relay = Relay { service, state, saved, unsaved: 0 };
    let ran = follower::run(&store, &mut relay, stop).await;
    if relay.unsaved > 0 {
        relay.save()?;
    }
    ran
}
