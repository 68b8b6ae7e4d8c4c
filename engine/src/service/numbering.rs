//! Ticket numbers (T-1, T-2, ...): the next free one, and which command
//! submitted which ticket.
//!
//! A ticket's number is its stream's id, so two submissions that picked the
//! same number would race for one stream: the second gets `AlreadyExists`
//! and tries the next number. A command id keeps the number it was given, so
//! a retried submission (same idempotency key) finds its ticket instead of
//! numbering a new one; a submission refused for any other reason forgets
//! its reservation, so a corrected retry numbers afresh.
//!
//! A refused order takes no number: an auditor reads a gap in the numbers
//! as a missing ticket. So an order is decided once as a dry run before it
//! is given a number (the refusals of a submission depend only on the
//! order, its actor and the world), and a number given to an order that is
//! refused all the same (the world changed in between) is given back when
//! no later number was handed out meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;
use crate::envelope::Actor;
use crate::ids::{CommandId, TicketId};
use crate::service::{Command, CommandEnvelope, CommandService};
use crate::store::EventStore;
use crate::ticket::TicketCommand;

/// How many ticket numbers one submission tries before giving up.
pub const SUBMIT_ATTEMPTS_MAX: u32 = 16;

/// The numbering of one log's tickets.
#[derive(Debug)]
pub struct TicketNumbers {
    next: AtomicU64,
    by_command: Mutex<HashMap<CommandId, TicketId>>,
}

impl TicketNumbers {
    /// Reads the whole log once: the highest ticket number, and the command
    /// id of every submission.
    pub async fn scan<S: EventStore>(store: &S) -> Result<Self, Error> {
        let (mut highest, mut by_command) = (0, HashMap::new());
        let mut scan = store.scan(1);
        while let Some(batch) = scan.next_batch().await? {
            for event in batch.iter().filter(|e| e.stream.kind() == "ticket") {
                let id = TicketId::new(event.stream.id())?;
                highest = highest.max(id.number());
                if event.schema.name == "ticket.submitted" {
                    by_command.insert(event.command_id.clone(), id);
                }
            }
        }
        Ok(Self { next: AtomicU64::new(highest + 1), by_command: Mutex::new(by_command) })
    }

    /// Submits under the next free number; returns the ticket's id.
    /// `command` must create its ticket (`Submit`, `Report`, `HandleOnSpot`).
    pub async fn submit<S: EventStore>(
        &self,
        service: &CommandService<S>,
        command_id: CommandId,
        actor: Actor,
        command: TicketCommand,
    ) -> Result<TicketId, Error> {
        debug_assert!(command.creates_in().is_some(), "only a submission takes a number");
        if !self.reserved(&command_id) {
            service.check_submit(&command, &actor).await?;
        }
        for _attempt in 0..SUBMIT_ATTEMPTS_MAX {
            let id = self.reserve(&command_id);
            let envelope = CommandEnvelope {
                command_id: command_id.clone(),
                correlation_id: None,
                actor: actor.clone(),
                command: Command::Ticket { id: id.clone(), command: command.clone() },
                expected_version: None,
            };
            match service.execute(envelope).await {
                Ok(_) => return Ok(id),
                Err(Error::AlreadyExists { .. }) => self.release(&command_id, &id),
                Err(other) => {
                    self.release(&command_id, &id);
                    self.give_back(&id);
                    return Err(other);
                }
            }
        }
        Err(Error::Contended { stream: "ticket numbering".into(), attempts: SUBMIT_ATTEMPTS_MAX })
    }

    /// The ticket this command id submitted (or is submitting), else a new number.
    fn reserve(&self, command_id: &CommandId) -> TicketId {
        let mut by_command = self.by_command.lock().expect("numbering lock");
        by_command
            .entry(command_id.clone())
            .or_insert_with(|| TicketId::from_number(self.next.fetch_add(1, Ordering::SeqCst)))
            .clone()
    }

    /// Whether this command id holds a number already (a retry).
    fn reserved(&self, command_id: &CommandId) -> bool {
        self.by_command.lock().expect("numbering lock").contains_key(command_id)
    }

    /// Gives a refused order's number back, if it is still the last handed
    /// out; else a later order holds the next one and the gap stays.
    fn give_back(&self, id: &TicketId) {
        let number = id.number();
        let _ = self.next.compare_exchange(number + 1, number, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Forgets a reservation that wrote nothing, so a retry numbers afresh.
    fn release(&self, command_id: &CommandId, id: &TicketId) {
        let mut by_command = self.by_command.lock().expect("numbering lock");
        if by_command.get(command_id) == Some(id) {
            by_command.remove(command_id);
        }
    }
}
