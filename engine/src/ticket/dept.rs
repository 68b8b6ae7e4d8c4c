//! The rules of a department's return (退单), a holder's extension (延期)
//! and an urge (催办), decided like every other ticket command: here, in
//! the engine, from the ticket's state, the actor and the context.
//!
//! - A department holding a ticket returns it with a reason; nobody holds
//!   it and it waits (`Returned`) for the tier's dispatcher, who re-routes
//!   it (`Assign` to someone else, or `Offer`) or insists (`Insist`: the
//!   department holds it again). Both outcomes are in the log.
//! - The holder asks for a later resolve deadline before the current one
//!   passes; one request is open at a time, at most `EXTENSIONS_MAX` per
//!   ticket, each at most `EXTENSION_MAX` past the deadline in force. The
//!   dispatcher grants it (while the old deadline is still ahead, so a
//!   grant never turns a miss into a hit) or refuses it.
//! - A dispatcher or an official urges the handler on an open ticket, at
//!   most `URGES_MAX` times.

use super::{
    EXTENSION_MAX, EXTENSIONS_MAX, RETURNS_MAX, Status, Ticket, TicketCommand, TicketEvent, URGES_MAX, bounded_text,
    permit, respond_by,
};
use crate::envelope::{Actor, Role};
use crate::permit::{Access, Write, person_may};
use crate::time::Timestamp;
use crate::{Context, Error};

impl Ticket {
    /// 退单: only the department holding the ticket, while it holds it.
    pub(super) fn decide_return(
        &self,
        reason: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Department], command.verb())?;
        if !self.status.is_held() {
            return Err(self.illegal(command));
        }
        let by = self.check_holder(actor)?;
        if self.returns >= RETURNS_MAX {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "returned as many times as a ticket may be (ask the dispatcher to escalate it)",
            });
        }
        let reason = bounded_text("reason", reason, false)?;
        let tier = self.tier.unwrap_or(super::Tier::Grid);
        Ok(vec![TicketEvent::Returned { by, reason, respond_by: respond_by(tier, ctx) }])
    }

    /// The dispatcher hands a returned ticket back to the department that
    /// returned it, if the catalog still lists that department.
    pub(super) fn decide_insist(
        &self,
        note: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        let Some(to) = self.returned_by.as_ref().filter(|_| self.status == Status::Returned) else {
            return Err(self.illegal(command));
        };
        self.check_assignee(to, ctx)?;
        let note = bounded_text("note", note, false)?;
        Ok(vec![TicketEvent::ReturnOverruled { to: to.clone(), note }])
    }

    /// 延期: the holder (not a dispatcher speaking for them) asks, before
    /// the deadline in force passes, for a later one within bounds.
    pub(super) fn decide_ask_extension(
        &self,
        until: Timestamp,
        reason: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Department, Role::Volunteer, Role::GridWorker], command.verb())?;
        if !self.status.is_held() {
            return Err(self.illegal(command));
        }
        let by = self.check_holder(actor)?;
        let refused = |status| Err(Error::IllegalTransition { command: command.verb(), status });
        if self.extension.is_some() {
            return refused("waiting for the answer to an extension already asked");
        }
        if self.extensions_asked >= EXTENSIONS_MAX {
            return refused("extended as many times as a ticket may be");
        }
        let Some(deadline) = self.resolve_by.filter(|&by| ctx.now < by) else {
            return refused("past its resolve deadline");
        };
        if until <= deadline || until > deadline.plus(EXTENSION_MAX) {
            return Err(Error::invalid("until", "must be after the resolve deadline and at most 30 days past it"));
        }
        let reason = bounded_text("reason", reason, false)?;
        Ok(vec![TicketEvent::ExtensionAsked { by, until, reason }])
    }

    /// The dispatcher grants the open request while the deadline it
    /// extends is still ahead.
    pub(super) fn decide_grant_extension(
        &self,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        let Some(request) = &self.extension else {
            return Err(Error::IllegalTransition { command: command.verb(), status: "not asked for an extension" });
        };
        let Some(before) = self.resolve_by.filter(|&by| ctx.now < by) else {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "past the deadline it would extend (refuse it, or reassign the ticket)",
            });
        };
        Ok(vec![TicketEvent::ExtensionGranted { resolve_by_before: before, resolve_by: request.until }])
    }

    /// The dispatcher refuses the open request, saying why.
    pub(super) fn decide_refuse_extension(
        &self,
        reason: &str,
        actor: &Actor,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        if self.extension.is_none() {
            return Err(Error::IllegalTransition { command: command.verb(), status: "not asked for an extension" });
        }
        let reason = bounded_text("reason", reason, false)?;
        Ok(vec![TicketEvent::ExtensionRefused { reason }])
    }

    /// 催办: the roles of the permit rule's `Urge` (a door checks their
    /// place), on a ticket still to be resolved, at most `URGES_MAX` times.
    pub(super) fn decide_urge(
        &self,
        note: &str,
        actor: &Actor,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        person_may(actor, Access::Write(Write::Urge))
            .map_err(|_| Error::NotPermitted { role: actor.role.name(), command: command.verb() })?;
        if self.is_settled() {
            return Err(self.illegal(command));
        }
        if self.urges >= URGES_MAX {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "urged as often as a ticket may be",
            });
        }
        Ok(vec![TicketEvent::Urged { note: bounded_text("note", note, true)? }])
    }
}
