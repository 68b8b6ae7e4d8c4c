//! References that must exist: what a ticket command names besides the
//! ticket itself.
//!
//! A ticket's `decide` sees its own stream and the world's catalog and
//! grids, not other streams, so the service checks the rest before it
//! decides: an offer's candidates and an assignee exist (a volunteer is
//! registered, a team and a grid worker are in the world, a department in
//! the catalog), a volunteer is neither stood down nor gone, and a
//! duplicate's original exists and does not lead back, through a chain of
//! duplicates, to the ticket being marked (nobody would handle either).
//! Without this, an offer to nobody was written and the ticket then
//! counted as accepted by someone who does not exist.
//!
//! Like every refusal of the service, none is made on kept state alone: a
//! volunteer kept folded and active is taken as it is, anything else is
//! read from the store first. A repeated command id still answers with
//! what it wrote the first time, even if what it named has changed since
//! (`CommandService::execute` looks in the ticket's stream before it
//! refuses).

use crate::ids::{StreamId, TicketId, VolunteerId};
use crate::service::{Aggregate, Call, CommandService, Outcome, Read, fold};
use crate::store::EventStore;
use crate::ticket::{Assignee, Status, Ticket, TicketCommand};
use crate::volunteer::Volunteer;
use crate::{Error, World};

/// The longest chain of duplicates followed; a longer one cannot have been
/// written (every link was checked), so it is refused as a cycle would be.
pub const DUPLICATE_CHAIN_MAX: usize = 256;

impl<S: EventStore> CommandService<S> {
    /// Refuses a ticket command that names a volunteer, team, grid worker,
    /// department or ticket that does not exist, a volunteer who may not be
    /// offered anything, or a duplicate that would close a cycle.
    pub(super) async fn check_references(&self, id: &TicketId, command: &TicketCommand) -> Result<(), Error> {
        match command {
            TicketCommand::Offer { candidates, .. } => {
                for candidate in candidates {
                    self.check_assignee_exists(candidate).await?;
                }
                Ok(())
            }
            TicketCommand::Assign { to, .. } => self.check_assignee_exists(to).await,
            TicketCommand::MarkDuplicate { of } => self.check_duplicate_of(id, of).await,
            TicketCommand::Coordinate { children, .. } => {
                // A coordination's children exist: a link to nothing would
                // keep its ticket waiting for ever.
                for child in children {
                    let state: Ticket = fold(&self.store.read_stream(&StreamId::ticket(child), 1).await?)?;
                    if state.status == Status::None {
                        return Err(Error::not_found("ticket", child));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The answer to a command whose references do not hold: a repeat of
    /// a command that ran answers as it did then, even if what it named has
    /// changed since; a command the ticket itself refuses (the actor may not
    /// offer, the item is not admitted, the status forbids it) gets that
    /// refusal, as if the references held; else `refused`.
    pub(super) async fn refuse_reference(
        &self,
        id: &TicketId,
        command: &TicketCommand,
        call: &Call,
        refused: Error,
    ) -> Result<Outcome, Error> {
        let base = match self.read::<Ticket>(&StreamId::ticket(id), &call.command_id).await? {
            Read::Earlier(outcome) => return Ok(outcome),
            Read::Folded(base) => base,
        };
        let world = self.world();
        let now = self.clock.now();
        let ctx = world.context(now, false);
        base.state.decide(id, command, &call.actor, &ctx)?;
        Err(refused)
    }

    /// The assignee exists, and a volunteer may be offered tickets. The
    /// world is read again before a refusal, in case another process
    /// changed it.
    async fn check_assignee_exists(&self, assignee: &Assignee) -> Result<(), Error> {
        if let Assignee::Volunteer(v) = assignee {
            return self.check_volunteer(v).await;
        }
        if unknown_in(&self.world(), assignee).is_none() {
            return Ok(());
        }
        self.refresh_world().await?;
        unknown_in(&self.world(), assignee).map_or(Ok(()), Err)
    }

    /// Registered, not stood down, not exited. Unavailability (the
    /// volunteer's own "not now") does not refuse: a dispatcher may still
    /// ask, and routing leaves them out by itself.
    async fn check_volunteer(&self, id: &VolunteerId) -> Result<(), Error> {
        let stream = StreamId::volunteer(id);
        let kept = Volunteer::cache(&self.caches).get(&stream).map(|base| base.state);
        let volunteer = match kept {
            Some(v) if v.id.is_some() && v.inactive.is_none() && v.exited.is_none() => return Ok(()),
            _ => fold::<Volunteer>(&self.store.read_stream(&stream, 1).await?)?,
        };
        let who = || format!("volunteer {id}");
        match (&volunteer.id, &volunteer.exited, &volunteer.inactive) {
            (None, _, _) => Err(Error::UnknownReference { kind: "volunteer", id: id.to_string() }),
            (_, Some(_), _) => Err(Error::AssigneeUnavailable { who: who(), status: "exited" }),
            (_, None, Some(_)) => Err(Error::AssigneeUnavailable { who: who(), status: "stood down" }),
            _ => Ok(()),
        }
    }

    /// `of` was submitted, and following its chain of duplicates never
    /// comes back to `id`.
    async fn check_duplicate_of(&self, id: &TicketId, of: &TicketId) -> Result<(), Error> {
        let cycle = || Error::DuplicateCycle { ticket: id.to_string(), of: of.to_string() };
        let mut next = of.clone();
        for _hop in 0..DUPLICATE_CHAIN_MAX {
            if &next == id {
                return Err(cycle());
            }
            let ticket: Ticket = fold(&self.store.read_stream(&StreamId::ticket(&next), 1).await?)?;
            if ticket.status == Status::None {
                return Err(Error::UnknownReference { kind: "ticket", id: next.to_string() });
            }
            match ticket.duplicate_of {
                Some(original) if ticket.status == Status::Duplicate => next = original,
                _ => return Ok(()),
            }
        }
        Err(cycle())
    }
}

/// Why the world does not know a team, grid worker or department, if it
/// does not (volunteers are not in the world: their streams are).
fn unknown_in(world: &World, assignee: &Assignee) -> Option<Error> {
    let unknown = |kind: &'static str, id: &dyn ToString| Some(Error::UnknownReference { kind, id: id.to_string() });
    match assignee {
        Assignee::Team(t) if !world.teams.contains_key(t) => unknown("team", t),
        Assignee::GridWorker(w) if !world.staff.get(w).is_some_and(|s| s.role.in_the_field()) => {
            unknown("grid worker", w)
        }
        Assignee::Department(d) if world.catalog.department(d).is_err() => unknown("department", d),
        _ => None,
    }
}
