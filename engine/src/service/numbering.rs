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
//!
//! # Resumed, not scanned
//!
//! What numbering needs from the log is a fold, [`Numbered`]: the highest
//! number and the recent submissions' command ids. A server keeps it
//! checkpointed with its projections and reads only the log's tail at
//! start. The command ids are remembered for a window only
//! ([`RETRY_WINDOW_MS`], at most [`RETRY_IDS_MAX`]): a retry comes within
//! minutes, and a map of every submission ever made would grow with the
//! log (`docs/adr/0011-scale.md`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::envelope::{Actor, RecordedEvent};
use crate::ids::{CommandId, TicketId};
use crate::service::{Command, CommandEnvelope, CommandService};
use crate::store::EventStore;
use crate::ticket::TicketCommand;
use crate::time::{DAY_MS, Timestamp};

/// How many ticket numbers one submission tries before giving up.
pub const SUBMIT_ATTEMPTS_MAX: u32 = 16;
/// How long a submission's command id keeps its ticket, by the events'
/// `occurred_at`: a retried submission within it finds its ticket.
pub const RETRY_WINDOW_MS: u64 = DAY_MS;
/// The most command ids remembered, however many were submitted within
/// the window (the oldest go first).
pub const RETRY_IDS_MAX: usize = 200_000;

/// The log's ticket numbering as a fold: the highest number seen, and the
/// ticket each recent submission's command id created. Its state depends
/// only on the events folded (ordered maps), so it snapshots like a
/// projection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Numbered {
    /// The highest ticket number in the log (0: none).
    pub highest: u64,
    /// The ticket each remembered command id submitted.
    by_command: BTreeMap<CommandId, TicketId>,
    /// The remembered command ids, oldest first, with when they submitted.
    order: VecDeque<(Timestamp, CommandId)>,
}

impl Numbered {
    /// Folds one event in: a ticket's event raises the highest number; a
    /// submission remembers its command id, and forgets those that left
    /// the window.
    pub fn evolve(&mut self, event: &RecordedEvent) -> Result<(), Error> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let id = TicketId::new(event.stream.id())?;
        self.highest = self.highest.max(id.number());
        if event.schema.name == "ticket.submitted" {
            if self.by_command.insert(event.command_id.clone(), id).is_none() {
                self.order.push_back((event.occurred_at, event.command_id.clone()));
            }
            self.forget_before(event.occurred_at);
        }
        Ok(())
    }

    /// Forgets the command ids older than the window before `now`, and the
    /// oldest past [`RETRY_IDS_MAX`].
    fn forget_before(&mut self, now: Timestamp) {
        while let Some((at, command_id)) = self.order.front() {
            if now.since(*at).0 <= RETRY_WINDOW_MS && self.order.len() <= RETRY_IDS_MAX {
                break;
            }
            self.by_command.remove(command_id);
            self.order.pop_front();
        }
    }

    /// The ticket `command_id` submitted, if it is still remembered.
    pub fn ticket_of(&self, command_id: &CommandId) -> Option<&TicketId> {
        self.by_command.get(command_id)
    }

    /// How many command ids are remembered.
    pub fn remembered(&self) -> usize {
        self.order.len()
    }
}

/// The numbering of one log's tickets.
#[derive(Debug)]
pub struct TicketNumbers {
    next: AtomicU64,
    by_command: Mutex<Reservations>,
}

/// The tickets command ids hold, at most [`RETRY_IDS_MAX`] (the oldest go
/// first, so a server that runs for months stays bounded).
#[derive(Debug, Default)]
struct Reservations {
    by_command: HashMap<CommandId, TicketId>,
    order: VecDeque<CommandId>,
}

impl TicketNumbers {
    /// Reads the whole log once and folds it (a server resumes from its
    /// checkpointed [`Numbered`] instead, with [`Self::resume`]).
    pub async fn scan<S: EventStore>(store: &S) -> Result<Self, Error> {
        let mut numbered = Numbered::default();
        let mut scan = store.scan(1);
        while let Some(batch) = scan.next_batch().await? {
            for event in &batch {
                numbered.evolve(event)?;
            }
        }
        Ok(Self::resume(&numbered))
    }

    /// The numbering of a log folded into `numbered`: the next number past
    /// its highest, and its remembered submissions.
    pub fn resume(numbered: &Numbered) -> Self {
        let by_command = numbered.by_command.iter().map(|(c, t)| (c.clone(), t.clone())).collect();
        let order = numbered.order.iter().map(|(_, c)| c.clone()).collect();
        let reservations = Reservations { by_command, order };
        Self { next: AtomicU64::new(numbered.highest + 1), by_command: Mutex::new(reservations) }
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
        let mut table = self.by_command.lock().expect("numbering lock");
        if let Some(id) = table.by_command.get(command_id) {
            return id.clone();
        }
        let id = TicketId::from_number(self.next.fetch_add(1, Ordering::SeqCst));
        table.by_command.insert(command_id.clone(), id.clone());
        table.order.push_back(command_id.clone());
        if table.order.len() > RETRY_IDS_MAX {
            // An id released meanwhile may sit in the order twice; evicting
            // it early only shortens its retry window.
            if let Some(oldest) = table.order.pop_front() {
                table.by_command.remove(&oldest);
            }
        }
        id
    }

    /// Whether this command id holds a number already (a retry).
    fn reserved(&self, command_id: &CommandId) -> bool {
        self.by_command.lock().expect("numbering lock").by_command.contains_key(command_id)
    }

    /// Gives a refused order's number back, if it is still the last handed
    /// out; else a later order holds the next one and the gap stays.
    fn give_back(&self, id: &TicketId) {
        let number = id.number();
        let _ = self.next.compare_exchange(number + 1, number, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Forgets a reservation that wrote nothing, so a retry numbers afresh.
    fn release(&self, command_id: &CommandId, id: &TicketId) {
        let mut table = self.by_command.lock().expect("numbering lock");
        if table.by_command.get(command_id) == Some(id) {
            table.by_command.remove(command_id);
        }
    }
}
