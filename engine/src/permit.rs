//! Who may do what, where: the one permit rule.
//!
//! Every door (the HTTP API, Open311, the console, the chat bot, the CLI)
//! names what a request does as an [`Access`], and what it touches as a
//! [`Target`], and asks [`permit`]. Nothing else decides who may reach what:
//! the adapters map a refusal to their status code and show it.
//!
//! The rule has three parts, all here:
//!
//! - **role**: [`Access::roles`], one table of which roles may use each
//!   kind of access at all. A ticket command's own role rule (who may
//!   `Offer`, who may `Escalate` for what reason) stays in
//!   [`Ticket::decide`](crate::ticket::Ticket::decide), which is the
//!   engine too; [`Write::TicketAction`] lets through every role that some
//!   ticket command admits.
//! - **place**: a dispatcher, grid worker, grid head or official whose
//!   [`Principal`] carries a place acts and reads only within it (a grid,
//!   community or street); without a place they serve the whole district.
//! - **relation**: a resident reaches only their own tickets (another's is
//!   [`Error::NotFound`], the same answer as for a ticket that does not
//!   exist, so ticket numbers reveal nothing); a volunteer only the tickets
//!   offered to them or held by them, and their own account; a department
//!   only the tickets it holds or is summoned to, and its own queue.
//!
//! Lists are filtered by the same rule: [`visible`] says whether one ticket
//! is in a caller's reach, and [`Principal::scope`] narrows a place-scoped
//! read to the caller's place.

use crate::Error;
use crate::envelope::{Actor, Role};
use crate::grid::GridCode;
use crate::ids::{DepartmentId, VolunteerId};
use crate::ticket::{Assignee, Ticket};

/// Who holds a token: the engine [`Actor`] their commands are signed with,
/// and for a dispatcher or grid worker the place they serve.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    /// Who the holder acts as: their role and subject id.
    pub actor: Actor,
    /// The place a dispatcher or grid worker serves; they act only within
    /// it. `None`: the whole district.
    pub place: Option<GridCode>,
}

impl Principal {
    /// A principal for `actor` serving `place`, checked against the
    /// district (`world`): the place must be one of its grids and only
    /// dispatchers and grid workers serve one; a department's id must be a
    /// department of the catalog. The system role is the engine's own and
    /// is never a principal of a door.
    pub fn admit(world: &crate::World, actor: Actor, place: Option<GridCode>) -> Result<Self, Error> {
        if actor.role == Role::System {
            return Err(Error::invalid("role", "the system role is the engine's own"));
        }
        if let Some(place) = &place {
            may_serve_a_place(actor.role)?;
            if world.grids.get(place).is_none() {
                return Err(Error::invalid("place", format!("{place} is not in the district")));
            }
        }
        if actor.role == Role::Department {
            let known = DepartmentId::new(actor.id.as_str()).is_ok_and(|id| world.catalog.department(&id).is_ok());
            if !known {
                let reason = format!("{} is not a department of the district's catalog", actor.id.as_str());
                return Err(Error::invalid("subject", reason));
            }
        }
        Ok(Self { actor, place })
    }

    /// The principal a member of staff acts as, by what the world says of
    /// them: their role and subject, a dispatcher's or grid worker's place;
    /// department staff act as their department (the engine knows a
    /// department's actor by the department's code: an offer to
    /// `civil_affairs` is answered by it).
    pub fn of_staff(world: &crate::World, staff: &crate::world::StaffMember) -> Result<Self, Error> {
        let (id, place) = match (staff.role, &staff.department) {
            (Role::Department, Some(department)) => (department.to_string(), None),
            (role, _) if role.serves_a_place() => (staff.subject.to_string(), staff.place.clone()),
            _ => (staff.subject.to_string(), None),
        };
        Self::admit(world, Actor::new(staff.role, &id)?, place)
    }

    /// The place a place-scoped read covers: the caller's own place when
    /// they ask for none; the asked place when it lies within theirs (or
    /// they have none); refused when it lies outside.
    pub fn scope(&self, asked: Option<GridCode>) -> Result<Option<GridCode>, Error> {
        match (&self.place, asked) {
            (Some(place), Some(asked)) if !asked.is_within(place) => Err(self.outside()),
            (Some(place), None) => Ok(Some(place.clone())),
            (_, asked) => Ok(asked),
        }
    }

    fn outside(&self) -> Error {
        Error::NotPermitted { role: self.actor.role.name(), command: "act outside the place they serve" }
    }
}

/// Whether `role` may carry a place (a token's, a member of staff's): only
/// those who serve one — dispatchers, grid workers, grid heads, officials.
pub fn may_serve_a_place(role: Role) -> Result<(), Error> {
    match role.serves_a_place() {
        true => Ok(()),
        false => {
            Err(Error::invalid("place", "only a dispatcher, a grid worker, a grid head or an official serves a place"))
        }
    }
}

/// What a request does, as the permit rule knows it: one per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Needs no token: health, metrics for scrapers, the console's files,
    /// the API document, Open311's public reads.
    Public,
    /// Reads something.
    Read(Read),
    /// Changes something.
    Write(Write),
}

/// The kinds of read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Read {
    /// The catalog, the grid tree, who the caller is: every role.
    Reference,
    /// The ticket list (each caller sees the tickets in their reach).
    Tickets,
    /// One ticket.
    Ticket,
    /// A ticket's stored events (dispatchers and auditors).
    History,
    /// A holder's or a place's open work.
    Queue,
    /// Rates and series over a place.
    Metrics,
    /// The volunteers of a place.
    Volunteers,
    /// One volunteer's account.
    Volunteer,
    /// The board, a ticket's routing candidates, and the console's live
    /// stream: the dispatcher's desk.
    Board,
    /// The world: staff, teams, departments, settings.
    World,
    /// The token table (admins).
    Tokens,
    /// A resident's own account at the door: their personal links.
    Account,
    /// Residents' names and phones, masked (`张**`, `138****5678`), beside
    /// the tickets of a place, and finding tickets by a phone's last digits.
    Residents,
    /// The weekly ranking (通报) of departments, streets and communities
    /// over a place.
    Ranking,
    /// Grid heads' weekly reports (周报告): a grid's week, or a
    /// community's reports and who has not reported.
    WeeklyReports,
    /// The patrol log of a place or a worker (网格巡查).
    Patrols,
}

/// The kinds of write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Write {
    /// Order a ticket in a place.
    Submit,
    /// A ticket command on an existing ticket; the command's own role rule
    /// is `Ticket::decide`'s.
    TicketAction,
    /// Follow a ticket in a place as a co-reporter (a resident who finds
    /// the matter already reported). Its target is the ticket's place, not
    /// the ticket: the resident has no relation to it until they follow.
    Follow,
    /// Register a volunteer living in a place.
    RegisterVolunteer,
    /// Transfer, stand down, bring back or exit a volunteer.
    ManageVolunteer,
    /// Replace a volunteer's skills (the volunteer themself too).
    VolunteerSkills,
    /// Spend a volunteer's points on a reward.
    Redeem,
    /// Issue a chat link code for a volunteer (its issuer links their
    /// chat account as that volunteer, so only staff who serve the
    /// volunteer's place may).
    LinkCode,
    /// Declare or lift emergency mode in a place.
    Emergency,
    /// Change the world, assign staff, issue their tokens.
    World,
    /// Issue and revoke tokens.
    Tokens,
    /// Make or revoke one's own personal links (a resident's account).
    Account,
    /// Log a phone call or a walk-in: the resident's name, phone and
    /// address into the personal store, and the order on their behalf.
    Intake,
    /// Submit a grid's weekly report (a grid head, on their grid).
    WeeklyReport,
    /// 催办: urge a ticket's handler on (dispatchers, and the officials who
    /// supervise a place), within the place they serve.
    Urge,
    /// Start, check in on and end one's own patrol in a place (网格巡查).
    Patrol,
}

use Role::{Admin, Auditor, Department as Dept, Dispatcher, GridHead, GridWorker, Official, Resident, Volunteer};

impl Access {
    /// Every access a route can declare, for tables and tests.
    pub const ALL: [Access; 33] = [
        Access::Public,
        Access::Read(Read::Reference),
        Access::Read(Read::Tickets),
        Access::Read(Read::Ticket),
        Access::Read(Read::History),
        Access::Read(Read::Queue),
        Access::Read(Read::Metrics),
        Access::Read(Read::Volunteers),
        Access::Read(Read::Volunteer),
        Access::Read(Read::Board),
        Access::Read(Read::World),
        Access::Read(Read::Tokens),
        Access::Read(Read::Account),
        Access::Read(Read::Ranking),
        Access::Read(Read::WeeklyReports),
        Access::Write(Write::Submit),
        Access::Write(Write::TicketAction),
        Access::Write(Write::Follow),
        Access::Write(Write::RegisterVolunteer),
        Access::Write(Write::ManageVolunteer),
        Access::Write(Write::VolunteerSkills),
        Access::Write(Write::Redeem),
        Access::Write(Write::LinkCode),
        Access::Write(Write::Emergency),
        Access::Write(Write::World),
        Access::Write(Write::Tokens),
        Access::Write(Write::Account),
        Access::Read(Read::Residents),
        Access::Write(Write::Intake),
        Access::Write(Write::WeeklyReport),
        Access::Write(Write::Urge),
        Access::Read(Read::Patrols),
        Access::Write(Write::Patrol),
    ];

    /// The roles that may use this access at all (the place and the
    /// relation to the target are checked after). The admin manages
    /// tokens, the world and volunteers' registration, and reads what other
    /// staff read, but acts on no ticket.
    pub fn roles(self) -> &'static [Role] {
        const EVERYONE: &[Role] =
            &[Resident, GridWorker, GridHead, Dispatcher, Official, Volunteer, Dept, Auditor, Admin];
        const STAFF_READERS: &[Role] = &[GridWorker, GridHead, Dispatcher, Official, Dept, Auditor, Admin];
        match self {
            Access::Public | Access::Read(Read::Reference | Read::Tickets | Read::Ticket) => EVERYONE,
            Access::Read(Read::History | Read::Board) => &[Dispatcher, Official, Auditor],
            Access::Read(Read::Queue | Read::Volunteer) => {
                &[GridWorker, GridHead, Dispatcher, Official, Volunteer, Dept, Auditor, Admin]
            }
            Access::Read(Read::Metrics | Read::Volunteers) => STAFF_READERS,
            Access::Read(Read::World) => &[Dispatcher, Auditor, Admin],
            Access::Read(Read::Tokens) | Access::Write(Write::World | Write::Tokens) => &[Admin],
            Access::Write(Write::Submit) => &[Resident, GridWorker, GridHead, Dispatcher],
            Access::Write(Write::Follow) => &[Resident],
            Access::Write(Write::TicketAction) => &[Resident, GridWorker, GridHead, Dispatcher, Volunteer, Dept],
            Access::Write(Write::RegisterVolunteer | Write::ManageVolunteer) => &[Dispatcher, Admin],
            Access::Write(Write::VolunteerSkills) => &[Dispatcher, Volunteer, Admin],
            Access::Write(Write::Redeem) => &[Dispatcher, Volunteer],
            Access::Write(Write::LinkCode | Write::Emergency) => &[Dispatcher],
            Access::Write(Write::Urge) => &[Dispatcher, Official],
            Access::Read(Read::Account) | Access::Write(Write::Account) => &[Resident],
            // Those who call residents back and order for them; an auditor
            // reads the log, where no resident is named.
            Access::Read(Read::Residents) | Access::Write(Write::Intake) => &[GridWorker, GridHead, Dispatcher],
            // The ranking names departments and places, no person: the
            // departments ranked read it too.
            Access::Read(Read::Ranking) => &[Dispatcher, Official, Dept, Auditor, Admin],
            Access::Read(Read::WeeklyReports) => &[GridWorker, GridHead, Dispatcher, Official, Auditor, Admin],
            Access::Write(Write::WeeklyReport) => &[GridHead],
            // Grid workers patrol; the staff who oversee them read the log.
            Access::Write(Write::Patrol) => &[GridWorker, GridHead],
            Access::Read(Read::Patrols) => &[GridWorker, GridHead, Dispatcher, Official, Auditor, Admin],
        }
    }

    /// What the access is, in plain words, for refusals.
    pub fn name(self) -> &'static str {
        match self {
            Access::Public => "read public pages",
            Access::Read(read) => match read {
                Read::Reference => "read the catalog and the grids",
                Read::Tickets => "list tickets",
                Read::Ticket => "read a ticket",
                Read::History => "read a ticket's history",
                Read::Queue => "read a queue",
                Read::Metrics => "read the metrics",
                Read::Volunteers => "list volunteers",
                Read::Volunteer => "read a volunteer",
                Read::Board => "read the board",
                Read::World => "read the world",
                Read::Tokens => "read the tokens",
                Read::Account => "read one's own account",
                Read::Residents => "read residents' names and phones",
                Read::Ranking => "read the weekly ranking",
                Read::WeeklyReports => "read weekly reports",
                Read::Patrols => "read the patrol log",
            },
            Access::Write(write) => match write {
                Write::Submit => "submit",
                Write::TicketAction => "act on a ticket",
                Write::Follow => "follow a ticket",
                Write::RegisterVolunteer => "register a volunteer",
                Write::ManageVolunteer => "manage a volunteer",
                Write::VolunteerSkills => "change a volunteer's skills",
                Write::Redeem => "redeem points",
                Write::LinkCode => "issue a link code",
                Write::Emergency => "switch emergency mode",
                Write::World => "change the world",
                Write::Tokens => "manage tokens",
                Write::Account => "manage one's own account",
                Write::Intake => "log a call or a walk-in",
                Write::WeeklyReport => "submit a weekly report",
                Write::Urge => "urge a ticket's handler",
                Write::Patrol => "patrol",
            },
        }
    }
}

/// What a request touches.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// Nothing placed: the whole district, or a list the caller's reach
    /// filters ([`visible`], [`Principal::scope`]).
    District,
    /// A place: an order's grid, a place's queue or rates, an emergency's
    /// street, a volunteer's new home.
    Place(&'a GridCode),
    /// A ticket (folded from its stream; one that does not exist is
    /// refused before).
    Ticket(&'a Ticket),
    /// A volunteer, by id, living in `home`.
    Volunteer {
        /// The volunteer's id.
        id: &'a VolunteerId,
        /// The grid they live in (their registered home).
        home: &'a GridCode,
    },
    /// A holder's queue: a volunteer's, a team's or a department's.
    Holder(&'a Assignee),
}

/// Whether `who` may use `access` on `target`: `Ok`, or the refusal to
/// answer with (`not_permitted`; `not_found` for a ticket out of a
/// resident's, volunteer's or department's reach, as if it did not exist).
pub fn permit(who: &Principal, access: Access, target: Target<'_>) -> Result<(), Error> {
    if !access.roles().contains(&who.actor.role) {
        return Err(Error::NotPermitted { role: who.actor.role.name(), command: access.name() });
    }
    match target {
        Target::District => Ok(()),
        Target::Place(grid) => within(who, grid),
        // Volunteers and departments act on a ticket by the command's own
        // relation in `decide` (offered, holder, summoned), so the loser of
        // an acceptance race hears `already_taken`, not "not found"; what
        // they read is their reach.
        Target::Ticket(_)
            if access == Access::Write(Write::TicketAction) && matches!(who.actor.role, Volunteer | Dept) =>
        {
            Ok(())
        }
        Target::Ticket(ticket) => reach_ticket(who, ticket),
        Target::Volunteer { id, home } => reach_volunteer(who, access, id, home),
        Target::Holder(holder) => reach_holder(who, holder),
    }
}

/// Whether `ticket` is in `who`'s reach: what a list shows them.
pub fn visible(who: &Principal, ticket: &Ticket) -> bool {
    reach_ticket(who, ticket).is_ok()
}

/// A placed dispatcher, grid worker, grid head or official acts only
/// within their place.
fn within(who: &Principal, grid: &GridCode) -> Result<(), Error> {
    match &who.place {
        Some(place) if !grid.is_within(place) => Err(who.outside()),
        _ => Ok(()),
    }
}

fn reach_ticket(who: &Principal, ticket: &Ticket) -> Result<(), Error> {
    let hidden =
        || Error::NotFound { kind: "ticket", id: ticket.id.as_ref().map(ToString::to_string).unwrap_or_default() };
    let id = who.actor.id.as_str();
    match who.actor.role {
        Resident
            if ticket.resident.as_ref().is_some_and(|r| r.as_str() == id)
                || ticket.followers.iter().any(|r| r.as_str() == id) =>
        {
            Ok(())
        }
        Resident => Err(hidden()),
        Volunteer if offered_or_held(ticket, id) => Ok(()),
        Volunteer => Err(hidden()),
        Dept if held_or_summoned(ticket, id) => Ok(()),
        Dept => Err(hidden()),
        GridWorker | GridHead | Dispatcher | Official => match &ticket.grid {
            Some(grid) => within(who, grid),
            None => Err(hidden()),
        },
        Auditor | Admin | Role::System => Ok(()),
    }
}

/// Whether a volunteer or a department has to do with `ticket`: a
/// volunteer (or team) it is offered to now or that holds it; a
/// department that holds it or is summoned to it. `Ticket::decide` asks it
/// of commands that name no other relation (a note).
pub fn related(actor: &Actor, ticket: &Ticket) -> bool {
    let id = actor.id.as_str();
    match actor.role {
        Volunteer => offered_or_held(ticket, id),
        Dept => held_or_summoned(ticket, id),
        _ => false,
    }
}

/// A volunteer (or a team, by its id) the ticket is offered to now, or
/// that holds it.
fn offered_or_held(ticket: &Ticket, id: &str) -> bool {
    let is = |a: &Assignee| {
        matches!(a, Assignee::Volunteer(v) if v.as_str() == id) || matches!(a, Assignee::Team(t) if t.as_str() == id)
    };
    ticket.holder.as_ref().is_some_and(is) || ticket.offer.as_ref().is_some_and(|o| o.candidates.iter().any(is))
}

fn held_or_summoned(ticket: &Ticket, id: &str) -> bool {
    matches!(&ticket.holder, Some(Assignee::Department(d)) if d.as_str() == id)
        || ticket.summons.iter().any(|s| s.department.as_str() == id)
}

fn reach_volunteer(who: &Principal, access: Access, id: &VolunteerId, home: &GridCode) -> Result<(), Error> {
    match who.actor.role {
        // A volunteer reaches their own account only; the staff roles that
        // pass the role table reach the volunteers of their place.
        Volunteer if who.actor.id.as_str() == id.as_str() => Ok(()),
        Volunteer => Err(Error::NotPermitted { role: "volunteer", command: access.name() }),
        _ => within(who, home),
    }
}

/// A holder's queue: the holder's own, or any for the staff who oversee
/// (a placed dispatcher then sees only the rows within their place, as
/// [`visible`] filters them).
fn reach_holder(who: &Principal, holder: &Assignee) -> Result<(), Error> {
    let id = who.actor.id.as_str();
    let own = match holder {
        Assignee::Volunteer(v) => v.as_str() == id,
        Assignee::Team(t) => t.as_str() == id,
        Assignee::Department(d) => d.as_str() == id,
        Assignee::GridWorker(w) => w.as_str() == id,
    };
    match who.actor.role {
        Volunteer | Dept | GridWorker | GridHead if !own => {
            Err(Error::NotPermitted { role: who.actor.role.name(), command: "read another's queue" })
        }
        _ => Ok(()),
    }
}

/// The role part of the rule, for a command the engine decides: the
/// access's roles, and the engine's own timers and policies (`System`).
/// Aggregates call it from `decide`, so a command refused at a door is
/// refused the same way in process; `verb` names the command in the
/// refusal ("exit a volunteer").
pub fn role_may(actor: &Actor, access: Access, verb: &'static str) -> Result<(), Error> {
    if actor.role == Role::System || access.roles().contains(&actor.role) {
        Ok(())
    } else {
        Err(Error::NotPermitted { role: actor.role.name(), command: verb })
    }
}

/// The role part of the rule, for a command only people send (the
/// engine's timers and policies never order a ticket): the access's roles,
/// without `System`.
pub fn person_may(actor: &Actor, access: Access) -> Result<(), Error> {
    if access.roles().contains(&actor.role) {
        Ok(())
    } else {
        Err(Error::NotPermitted { role: actor.role.name(), command: access.name() })
    }
}
