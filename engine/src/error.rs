//! The one error type of the engine.
//!
//! Every refusal the domain can make, and every failure a store can report
//! through the [`EventStore`](crate::store::EventStore) contract, is a variant
//! here with a stable machine code ([`Error::code`]) that the HTTP API, the chat
//! bot and the CLI show next to the sentence. Each variant says how a caller
//! handles it, with the HTTP status the API answers it with (a test of the
//! HTTP adapter reads these notes and checks its mapping against them).

use thiserror::Error;

/// Every way a command, a read or an append can fail, each with a stable
/// code and a documented way for the caller to handle it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A field of the input is malformed or out of its bounds.
    /// Caller: show the sentence and let the user correct the input (HTTP 400).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The input field at fault, as the user knows it ("description", "expires at").
        field: &'static str,
        /// What is wrong with it, as a sentence fragment ("must be at most 2,000 characters").
        reason: String,
    },

    /// A grid code does not parse; `part` names the segment that is wrong.
    /// Caller: as for `Invalid` (HTTP 400).
    #[error("bad grid code {code:?}: the {part} part {reason}")]
    BadGridCode {
        /// The code as given (its first 40 characters).
        code: String,
        /// The level whose segment is wrong ("district", "street", ...), or "whole" when the code as a whole is too long or has too many segments.
        part: &'static str,
        /// What is wrong with that segment.
        reason: String,
    },

    /// The ticket, volunteer, grid, catalog item or department does not exist.
    /// Caller: HTTP 404; check the id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for ("ticket", "grid", "catalog item").
        kind: &'static str,
        /// The id that was not found.
        id: String,
    },

    /// Creating something that exists already (a second submit of one ticket
    /// id, registering a volunteer twice). Caller: HTTP 409; use a new id.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// What was being created ("ticket", "volunteer").
        kind: &'static str,
        /// The id that is taken.
        id: String,
    },

    /// The command is not allowed in the ticket's current status (accepting a
    /// closed ticket, resolving one nobody accepted). Caller: HTTP 409; reload
    /// the ticket and offer the actions its status allows.
    #[error("cannot {command}: it is {status}")]
    IllegalTransition {
        /// The refused command's verb ("accept", "close").
        command: &'static str,
        /// The status in words ("closed"), or the state that forbids the
        /// command ("waiting for the resident's feedback", "in emergency mode
        /// already").
        status: &'static str,
    },

    /// A volunteer (or department) tried to accept an offer that was not made
    /// to them. Caller: HTTP 403; tell them it was not offered to them.
    #[error("ticket {ticket} was not offered to {who}")]
    NotOffered {
        /// The ticket whose offer was answered.
        ticket: String,
        /// The candidate who answered, as the assignee is shown ("volunteer V-7").
        who: String,
    },

    /// Someone else accepted first (抢单: the first acceptance wins).
    /// Caller: HTTP 409; tell the volunteer it is taken, nothing to retry.
    #[error("ticket {ticket} has already been taken by another handler")]
    AlreadyTaken {
        /// The ticket that someone else holds.
        ticket: String,
    },

    /// The offer's deadline passed before this acceptance arrived.
    /// Caller: HTTP 409; the ticket will be offered again.
    #[error("the offer of ticket {ticket} has expired")]
    OfferExpired {
        /// The ticket whose offer ran out.
        ticket: String,
    },

    /// The actor does not hold the ticket but tried to act as its handler.
    /// Caller: HTTP 403.
    #[error("{who} does not hold ticket {ticket}")]
    NotHolder {
        /// The ticket acted on.
        ticket: String,
        /// The actor who claimed to hold it.
        who: String,
    },

    /// The actor's role may not issue this command (a volunteer closing a
    /// ticket, a resident offering one). Caller: HTTP 403.
    #[error("a {role} may not {command}")]
    NotPermitted {
        /// The actor's role ("volunteer", "resident").
        role: &'static str,
        /// What that role may not do ("close", "accept for someone else").
        command: &'static str,
    },

    /// The catalog item was not admitted to the grid catalog, so it cannot be
    /// dispatched to grid volunteers or teams: it goes to its department.
    /// Caller: HTTP 422; route to the department named in the sentence.
    #[error("item {item} is not admitted to the grid catalog; it goes to department {department}")]
    NotAdmitted {
        /// The catalog item that is not admitted.
        item: String,
        /// The department the item goes to instead.
        department: String,
    },

    /// A redemption asked for more points than the volunteer has.
    /// Caller: HTTP 422; show the balance.
    #[error("cannot redeem {asked} points: the balance is {balance}")]
    InsufficientPoints {
        /// The volunteer's balance, in points.
        balance: u64,
        /// The points the redemption asked for.
        asked: u64,
    },

    /// The command names someone or something that does not exist: an
    /// offer or assignment to a volunteer, team, grid worker or department
    /// the district does not know, or a duplicate of a ticket that was never
    /// submitted. Nothing is written. Caller: HTTP 422; check the id named
    /// in the sentence (the ticket acted on exists; what it refers to does
    /// not).
    #[error("{kind} {id} does not exist")]
    UnknownReference {
        /// What was referred to ("volunteer", "team", "grid worker",
        /// "department", "ticket").
        kind: &'static str,
        /// The id that names nothing.
        id: String,
    },

    /// An offer or assignment to a volunteer who is stood down or has left.
    /// Caller: HTTP 422; choose someone else (or reactivate the volunteer).
    #[error("{who} is {status} and cannot be offered or assigned tickets")]
    AssigneeUnavailable {
        /// The assignee as shown ("volunteer V-7").
        who: String,
        /// Why, in words ("stood down", "exited").
        status: &'static str,
    },

    /// Marking a ticket a duplicate of itself, or of a ticket that is (by a
    /// chain of duplicates) a duplicate of it: nobody would handle the
    /// request. Caller: HTTP 422; mark the other ticket instead, or none.
    #[error("ticket {ticket} cannot duplicate {of}: {of} leads back to {ticket}")]
    DuplicateCycle {
        /// The ticket being marked.
        ticket: String,
        /// The ticket it would duplicate.
        of: String,
    },

    /// A submission's location is not within the grid it names.
    /// Caller: HTTP 422; send the grid the location is in, or no location.
    #[error("the location is not within grid {grid}")]
    LocationOutsideGrid {
        /// The grid named by the submission.
        grid: String,
    },

    /// The append's expected version did not match the stream's head.
    /// Caller: the command service reloads and decides again; others retry
    /// after reading the stream (HTTP 409).
    #[error("stream {stream}: expected version {expected}, but it is at {actual}")]
    WrongExpectedVersion {
        /// The stream appended to (`ticket-T-1024`).
        stream: String,
        /// The version the append expected, in words ("any", "no stream", "3").
        expected: String,
        /// The stream's actual head version (0 when it does not exist).
        actual: u64,
    },

    /// The command service gave up after its bounded retries on version
    /// conflicts (a very hot stream). Caller: HTTP 503; retry later.
    #[error("stream {stream} stayed contended after {attempts} attempts")]
    Contended {
        /// The stream that stayed contended.
        stream: String,
        /// How many decide-and-append attempts were made.
        attempts: u32,
    },

    /// The store failed (I/O, disk full, lost connection). Nothing was
    /// acknowledged. Caller: HTTP 503; retry with the same command id.
    #[error("store failure: {0}")]
    Storage(String),

    /// Stored data does not decode, or its hash chain does not verify.
    /// Caller: stop and alert an operator; never write on top of it (HTTP
    /// 500, the sentence only in the server's log).
    #[error("corrupt event log: {0}")]
    Corrupt(String),
}

impl Error {
    /// A stable machine code for this error, shown by every surface.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_input",
            Error::BadGridCode { .. } => "bad_grid_code",
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::IllegalTransition { .. } => "illegal_transition",
            Error::NotOffered { .. } => "not_offered",
            Error::AlreadyTaken { .. } => "already_taken",
            Error::OfferExpired { .. } => "offer_expired",
            Error::NotHolder { .. } => "not_holder",
            Error::NotPermitted { .. } => "not_permitted",
            Error::NotAdmitted { .. } => "not_admitted",
            Error::InsufficientPoints { .. } => "insufficient_points",
            Error::UnknownReference { .. } => "unknown_reference",
            Error::AssigneeUnavailable { .. } => "assignee_unavailable",
            Error::DuplicateCycle { .. } => "duplicate_cycle",
            Error::LocationOutsideGrid { .. } => "location_outside_grid",
            Error::WrongExpectedVersion { .. } => "version_conflict",
            Error::Contended { .. } => "contended",
            Error::Storage(_) => "storage_failure",
            Error::Corrupt(_) => "corrupt_log",
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid { field, reason: reason.into() }
    }

    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Error::NotFound { kind, id: id.to_string() }
    }
}
