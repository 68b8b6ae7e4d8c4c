//! The ticket aggregate: one resident request, from order (点单) to closure
//! (销号).
//!
//! ```text
//!             Submit            Offer              Accept          Start
//!  (none) ──────────▶ Submitted ─────▶ Offered ───────────▶ Accepted ─────▶ InProgress
//!                       │ Triage        │ expire/decline-all  ▲  │ Resolve       │ Resolve
//!                       ▼               ▼                     │  ▼               ▼
//!                     Triaged ◀──── (re-dispatch) ──── Assign/SelfHandle   Resolved ──Close──▶ Closed
//!                                                                             │ unsatisfied
//!  Escalated / Reopened wait for dispatch like Triaged.                       ▼
//!  Cancel and MarkDuplicate end any open ticket.                           Reopened
//!  Follow (a co-reporter joins) changes no status, until it is resolved.
//! ```
//!
//! Photos are named by hash (`crate::blob`): a resident's on `Submit`, a
//! handler's after-photos on `Resolve`; the ticket keeps the order's and the
//! current result's.
//!
//! `decide` holds every rule: who may act, in which status, before which
//! deadline. `evolve` only records what the events say. Deadlines are
//! computed in `decide` from the catalog and written into the events, so a
//! later change to the catalog never rewrites the past.

use serde::{Deserialize, Serialize};

use crate::blob::{BlobHash, ORDER_PHOTOS_MAX, RESULT_PHOTOS_MAX};
use crate::catalog::HandlingMode;
use crate::due::Due;
use crate::envelope::{Actor, Role, event_payload};
use crate::grid::{GeoPoint, GridCode, Level, contains, on_boundary};
use crate::ids::{ActorId, DepartmentId, ItemCode, ResidentId, TeamId, TicketId, VolunteerId};
use crate::time::{Millis, Timestamp};
use crate::{Context, Error};

/// The department's return, the extension and the urge (退单, 延期, 催办).
mod dept;

/// The most candidates one offer may go to at once (抢单).
pub const OFFER_CANDIDATES_MAX: usize = 64;
/// The most offer rounds before a ticket must be escalated or assigned.
pub const OFFER_ROUNDS_MAX: u32 = 16;
/// The most residents who may follow one ticket as co-reporters; past it,
/// the matter is plainly known and a notice list must stay bounded.
pub const FOLLOWERS_MAX: usize = 64;
/// Free text is checked by the one boundary rule of [`crate::text`]; its
/// names stay here too, where callers have always found them.
pub use crate::text::{TEXT_CHARS_MAX, bounded_text};
/// The most minutes one resolution may report (30 days).
pub const MINUTES_SPENT_MAX: u32 = 30 * 24 * 60;
/// The latest an offer may expire, counted from now.
pub const OFFER_WINDOW_MAX: Millis = Millis(7 * 24 * 60 * 60 * 1000);

/// Who can hold a ticket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Assignee {
    /// One volunteer, who accepted an offer or was assigned directly (志愿接单).
    Volunteer(VolunteerId),
    /// A volunteer team as a whole; it answers through an actor whose id is the
    /// team's (its own dispatcher), who finds someone the directory cannot see.
    Team(TeamId),
    /// A functional department (巡办分离), for items the grid cannot handle.
    Department(DepartmentId),
    /// The grid worker who handles the ticket on the spot (巡办合一, `SelfHandle`).
    GridWorker(ActorId),
}

impl Assignee {
    /// Whether `actor` speaks for this assignee (a dispatcher speaks for anyone).
    fn is_spoken_for_by(&self, actor: &Actor) -> bool {
        match (self, actor.role) {
            (_, Role::Dispatcher) => true,
            (Assignee::Volunteer(v), Role::Volunteer) => v.as_str() == actor.id.as_str(),
            (Assignee::Team(t), Role::Volunteer) => t.as_str() == actor.id.as_str(),
            (Assignee::Department(d), Role::Department) => d.as_str() == actor.id.as_str(),
            (Assignee::GridWorker(w), Role::GridWorker | Role::GridHead) => w == &actor.id,
            _ => false,
        }
    }

    fn goes_to_grid(&self) -> bool {
        matches!(self, Assignee::Volunteer(_) | Assignee::Team(_))
    }
}

impl std::fmt::Display for Assignee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Assignee::Volunteer(id) => write!(f, "volunteer {id}"),
            Assignee::Team(id) => write!(f, "team {id}"),
            Assignee::Department(id) => write!(f, "department {id}"),
            Assignee::GridWorker(id) => write!(f, "grid worker {id}"),
        }
    }
}

/// The handling levels of the escalation ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The grid itself: its grid worker and the community's volunteers. Every
    /// ticket starts here unless emergency mode sends it straight to the
    /// district.
    Grid,
    /// 网格化管理站
    Community,
    /// 分中心
    Street,
    /// 管理中心
    District,
}

impl Tier {
    /// The next tier up the escalation ladder, or `None` at the district
    /// centre, which is the top.
    pub fn above(self) -> Option<Tier> {
        match self {
            Tier::Grid => Some(Tier::Community),
            Tier::Community => Some(Tier::Street),
            Tier::Street => Some(Tier::District),
            Tier::District => None,
        }
    }
}

/// Why a ticket was escalated; each reason is open to different roles (see
/// `Ticket::decide`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// An accept or resolve deadline passed.
    Timeout,
    /// The holder reports it beyond them.
    Difficulty,
    /// The resident complained.
    Complaint,
    /// 吹哨: a dispatcher escalates.
    Whistle,
    /// 平急转换: straight to the district centre.
    Emergency,
}

/// How pressing the resident says the request is; recorded for dispatchers and
/// reports, it does not change the deadlines, which come from the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// An ordinary request.
    Normal,
    /// The resident marked it urgent; dispatchers see it first.
    Urgent,
}

/// How the order reached gridloop (the channel of 居民点单), kept for reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The resident scanned a QR code posted in the grid.
    QrCode,
    /// A phone call, entered by a dispatcher.
    Phone,
    /// A chat message, entered by whoever received it.
    Chat,
    /// The web form or the JSON API.
    Web,
    /// A grid worker on patrol filed it for the resident.
    Patrol,
    /// An Open311 GeoReport v2 client.
    Open311,
    /// The resident came to the service desk in person (来访), entered by a
    /// dispatcher.
    WalkIn,
}

/// The resident's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// 满意: the ticket closes as confirmed.
    Satisfied,
    /// 基本满意: counts as satisfied; the ticket closes as confirmed.
    BasicallySatisfied,
    /// 不满意: the ticket is reopened (see `TicketEvent::Reopened`).
    Unsatisfied,
}

/// Why an offer round ended without anyone accepting; the ticket goes back to
/// waiting for dispatch either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryReason {
    /// Nobody accepted before the deadline.
    Deadline,
    /// Every candidate declined.
    AllDeclined,
}

/// Why a resolved ticket was closed (销号).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The resident was satisfied or basically satisfied.
    Confirmed,
    /// The feedback window passed without feedback.
    NoFeedback,
}

/// What a ticket's events say, as the typed payloads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum TicketEvent {
    /// The resident's order was recorded (居民点单); the ticket exists from here,
    /// at the grid tier (or the district in emergency mode), with its accept
    /// and resolve deadlines fixed from the catalog.
    Submitted {
        /// The ticket this event belongs to (its stream's id), e.g. `T-1024`.
        ticket: TicketId,
        /// The catalog item ordered; it fixes the handling mode, skills and
        /// deadlines.
        item: ItemCode,
        /// The grid (or sub-grid) the request is for; never a whole street or
        /// community.
        grid: GridCode,
        /// The resident the order is for (not necessarily the actor who filed
        /// it); none for a problem a grid worker found on patrol (version 3
        /// on; always one before).
        resident: Option<ResidentId>,
        /// The resident's own words, trimmed, at most 2,000 characters.
        description: String,
        /// How pressing the resident says it is.
        urgency: Urgency,
        /// How the order arrived.
        channel: Channel,
        /// Where exactly, when the channel knows (a QR code, a phone's
        /// location); used for routing by distance.
        location: Option<GeoPoint>,
        /// The tier that handles it first: `Grid`, or `District` for an
        /// emergency item while emergency mode is on (平急转换).
        tier: Tier,
        /// The ticket must be taken (accepted, assigned or self-handled) by
        /// then (受理时限): submission time plus the item's `accept_within`.
        accept_by: Timestamp,
        /// The ticket must be resolved by then (办结时限): submission time plus the
        /// item's `resolve_within`.
        resolve_by: Timestamp,
        /// The photos the resident attached, by hash (version 2 on; none
        /// before).
        photos: Vec<BlobHash>,
    },
    /// A resident followed the ticket as a co-reporter (the same matter,
    /// already reported); they are told the result too.
    Followed {
        /// The resident who follows it (the actor).
        resident: ResidentId,
    },
    /// A dispatcher or grid worker decided how the ticket is handled; it now
    /// waits for dispatch.
    Triaged {
        /// Who handles it: the grid worker on the spot, volunteers, or a
        /// department.
        mode: HandlingMode,
        /// The catalog item as triaged, which may correct the one the resident
        /// chose.
        item: ItemCode,
    },
    /// The grid worker took the ticket to handle on the spot (巡办合一); they are
    /// its holder.
    SelfHandled {
        /// The grid worker who holds the ticket now.
        worker: ActorId,
    },
    /// An offer went out to candidates who may accept it (抢单); the first to
    /// accept takes the ticket.
    Offered {
        /// The offer round, counted from 1 over the ticket's life; at most
        /// `OFFER_ROUNDS_MAX`.
        round: u32,
        /// Whom the ticket is offered to, in the order given (the router's:
        /// nearest, then fairest); 1 to 64, none twice.
        candidates: Vec<Assignee>,
        /// When the offer lapses if nobody accepts; at most `OFFER_WINDOW_MAX`
        /// after the offer was made.
        expires_at: Timestamp,
    },
    /// The offer round ended without an acceptance; the ticket waits for
    /// dispatch again (status `Triaged`).
    OfferExpired {
        /// The round that ended (the one in its `Offered` event).
        round: u32,
        /// Whether the deadline passed or everyone declined.
        reason: ExpiryReason,
    },
    /// A candidate accepted the offer and now holds the ticket. The first
    /// acceptance wins; later ones are refused with `AlreadyTaken`.
    Accepted {
        /// The candidate who accepted, now the holder.
        by: Assignee,
        /// The offer round accepted (the one in its `Offered` event).
        round: u32,
    },
    /// A candidate declined the offer; when the last one declines, an
    /// `OfferExpired` with `AllDeclined` follows in the same append.
    Declined {
        /// The candidate who declined; they cannot accept this round any more.
        by: Assignee,
        /// The offer round declined.
        round: u32,
        /// Why, in the candidate's words; may be empty.
        reason: String,
    },
    /// The holder started work (status `InProgress`).
    Started {
        /// The holder who started.
        by: Assignee,
    },
    /// Someone involved added a free-text note to the ticket's history; the
    /// status does not change.
    NoteAdded {
        /// The note, trimmed, at most 2,000 characters.
        text: String,
    },
    /// Version 2 added `respond_by` and `resolve_by`.
    Escalated {
        /// The tier that held the ticket before.
        from: Tier,
        /// The tier now responsible: the next one up, or the district for
        /// `Emergency`.
        to: Tier,
        /// Why it was escalated.
        reason: EscalationReason,
        /// What the escalating actor says about it; may be empty.
        note: String,
        /// The new tier must take the ticket by then.
        respond_by: Option<Timestamp>,
        /// A fresh resolve deadline, when the old one had passed.
        resolve_by: Option<Timestamp>,
    },
    /// A dispatcher assigned the ticket directly (派单), taking it from any
    /// holder or offer; the assignee holds it at once.
    Reassigned {
        /// The new holder.
        to: Assignee,
        /// Why the dispatcher assigned it, for the history.
        reason: String,
    },
    /// The holder reports the request done; the resident's feedback window
    /// opens.
    Resolved {
        /// The holder who resolved it.
        by: Assignee,
        /// What was done, in the holder's words (at most 2,000 characters).
        result: String,
        /// The time the holder reports having spent, in minutes (at most 30
        /// days); volunteers' service hours are counted from it.
        minutes_spent: u32,
        /// The resident may give feedback until then; after it the ticket may
        /// close without feedback. Resolution time plus the item's feedback
        /// window.
        feedback_by: Timestamp,
        /// After-photos of the work, by hash (version 2 on; none before).
        photos: Vec<BlobHash>,
    },
    /// The resident (or a dispatcher on their behalf) rated the resolution.
    FeedbackGiven {
        /// The resident's verdict; `Unsatisfied` reopens the ticket in the same
        /// append.
        rating: Rating,
        /// The resident's comment; may be empty.
        comment: String,
    },
    /// Version 2 added `respond_by`.
    Reopened {
        /// Why it was reopened (for example "unsatisfied feedback").
        reason: String,
        /// A fresh resolve deadline: reopening time plus the item's
        /// `resolve_within`.
        resolve_by: Timestamp,
        /// The tier must dispatch it again by then.
        respond_by: Option<Timestamp>,
    },
    /// The ticket was closed (销号); nothing more happens to it.
    Closed {
        /// Whether the resident confirmed it or the feedback window passed.
        reason: CloseReason,
    },
    /// The resident or a dispatcher withdrew the ticket before it was resolved;
    /// it is final.
    Cancelled {
        /// Why it was cancelled.
        reason: String,
    },
    /// A dispatcher found the ticket repeats another one; it is final and the
    /// other ticket carries on.
    MarkedDuplicate {
        /// The ticket this one duplicates.
        of: TicketId,
    },
    /// 吹哨: departments summoned to the ticket, each to report by then.
    Summoned {
        /// The departments summoned (1 to `SUMMONED_MAX`, each not already
        /// pending).
        departments: Vec<DepartmentId>,
        /// When each must report: summons time plus the routing policy's
        /// `summons_report_within`.
        report_by: Timestamp,
    },
    /// 报到: a summoned department reported.
    SummonsAnswered {
        /// The department that reported (the actor).
        department: DepartmentId,
        /// What the department reports, at most 2,000 characters.
        report: String,
    },
    /// The deadlines decided with it (in the same decision, just before)
    /// were counted in working days on this calendar: written beside them,
    /// so the audit names the calendar a deadline was computed on.
    CountedInWorkingDays {
        /// The calendar in words, with the years it used
        /// (`中国法定节假日 2026–2027`).
        calendar: String,
    },
    /// 退单: the department holding the ticket sent it back as misrouted;
    /// nobody holds it and it waits for the dispatcher of its tier (status
    /// `Returned`), who re-routes it or insists.
    Returned {
        /// The department that returned it (the holder until now).
        by: Assignee,
        /// Why it is not theirs, in their words (at most 2,000 characters).
        reason: String,
        /// The tier's dispatcher must arbitrate by then, as after an
        /// escalation.
        respond_by: Timestamp,
    },
    /// The dispatcher insisted on a returned ticket: the department that
    /// returned it holds it again.
    ReturnOverruled {
        /// The department that holds it again.
        to: Assignee,
        /// Why the dispatcher insists (at most 2,000 characters).
        note: String,
    },
    /// 延期: the holder asked for a later resolve deadline; the tier's
    /// dispatcher grants or refuses it.
    ExtensionAsked {
        /// The holder who asked.
        by: Assignee,
        /// The resolve deadline asked for.
        until: Timestamp,
        /// Why, in the holder's words.
        reason: String,
    },
    /// The dispatcher granted the extension: the ticket works to, and is
    /// judged by, the new resolve deadline from here on.
    ExtensionGranted {
        /// The resolve deadline in force before the grant.
        resolve_by_before: Timestamp,
        /// The new resolve deadline (the one asked for).
        resolve_by: Timestamp,
    },
    /// The dispatcher refused the extension; the deadline stands.
    ExtensionRefused {
        /// Why, for the holder.
        reason: String,
    },
    /// 催办: a dispatcher or an official urged the handler on.
    Urged {
        /// What the urging actor says; may be empty.
        note: String,
    },
    /// 巡办协同: the grid worker holding the ticket handled their part and
    /// dispatched the rest as linked child tickets; the ticket resolves, with
    /// this part as its result, when the last child has settled.
    Coordinated {
        /// What the worker did themself (at most 2,000 characters).
        done: String,
        /// The minutes the worker spent on their part.
        minutes_spent: u32,
        /// After-photos of the worker's part, by hash.
        photos: Vec<BlobHash>,
        /// The child tickets the rest went to (1 to `CHILDREN_MAX`).
        children: Vec<TicketId>,
    },
    /// A linked child ticket settled (resolved, closed, cancelled or marked
    /// a duplicate), as the coordination policy relayed it.
    ChildSettled {
        /// The child that settled.
        child: TicketId,
    },
}

/// The current version of each payload. When a payload's shape changes,
/// bump its version here and teach `upcast_ticket` the step up; the golden
/// files of every version in `fixtures/events/` keep decoding.
fn ticket_schema_version(tag: &str) -> u32 {
    match tag {
        "submitted" => 3,
        "escalated" | "reopened" | "resolved" => 2,
        _ => 1,
    }
}

/// One step up: `version` → `version + 1`.
fn upcast_ticket(tag: &str, version: u32, payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    let serde_json::Value::Object(mut fields) = payload else {
        return Err(Error::Corrupt(format!("ticket.{tag}/{version} is not an object")));
    };
    match (tag, version) {
        // Version 1 had no new deadlines: the ticket kept its old ones.
        ("escalated", 1) => {
            fields.insert("respond_by".into(), serde_json::Value::Null);
            fields.insert("resolve_by".into(), serde_json::Value::Null);
        }
        ("reopened", 1) => {
            fields.insert("respond_by".into(), serde_json::Value::Null);
        }
        // Version 1 carried no photos.
        ("submitted" | "resolved", 1) => {
            fields.insert("photos".into(), serde_json::Value::Array(Vec::new()));
        }
        // Version 3 lets the resident be absent (a problem found on
        // patrol); every earlier payload names one, which reads the same.
        ("submitted", 2) => {}
        _ => return Err(Error::Corrupt(format!("no upcaster for ticket.{tag}/{version}"))),
    }
    Ok(serde_json::Value::Object(fields))
}

event_payload!(TicketEvent, "ticket", ticket_schema_version, upcast_ticket);

/// What a resident orders, as `decide_submit` reads it.
struct Order<'a> {
    item: &'a ItemCode,
    grid: &'a GridCode,
    resident: Option<&'a ResidentId>,
    description: &'a str,
    urgency: Urgency,
    channel: Channel,
}

/// Photos as an event carries them: at most `max`, none twice.
fn checked_photos(photos: &[BlobHash], max: usize) -> Result<Vec<BlobHash>, Error> {
    if photos.len() > max {
        return Err(Error::invalid("photos", format!("at most {max} photos")));
    }
    let mut seen = std::collections::BTreeSet::new();
    if !photos.iter().all(|p| seen.insert(*p)) {
        return Err(Error::invalid("photos", "the same photo twice"));
    }
    Ok(photos.to_vec())
}

impl TicketEvent {
    /// The photos this event names (a resident's order, a handler's
    /// result): what the audit checks exist, and what erasing the
    /// resident erases (the order's).
    pub fn photos(&self) -> &[BlobHash] {
        match self {
            TicketEvent::Submitted { photos, .. } | TicketEvent::Resolved { photos, .. } => photos,
            _ => &[],
        }
    }

    /// The resolve deadline the on-time rate judges the ticket by from this
    /// event on, when this event sets one: the submission's, a reopening's,
    /// or a granted extension's (granted only before the old deadline
    /// passed, so it never turns a miss into a hit). An escalation renews the deadline the ticket works to
    /// (`Ticket::resolve_by`) but not this one, so that escalating a late
    /// ticket does not make it on time. Metrics and the audit both ask here.
    pub fn judged_resolve_by(&self) -> Option<Timestamp> {
        match self {
            TicketEvent::Submitted { resolve_by, .. }
            | TicketEvent::Reopened { resolve_by, .. }
            | TicketEvent::ExtensionGranted { resolve_by, .. } => Some(*resolve_by),
            _ => None,
        }
    }
}

/// A problem a grid worker found on patrol, as they report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Found {
    /// The catalog item.
    pub item: ItemCode,
    /// The grid or sub-grid of the problem.
    pub grid: GridCode,
    /// What the worker found (at most 2,000 characters).
    pub description: String,
    /// Where exactly, when the phone knew.
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// Photos of the problem (at most `ORDER_PHOTOS_MAX`).
    #[serde(default)]
    pub photos: Vec<BlobHash>,
}

/// What a caller asks of a ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketCommand {
    /// A resident orders (居民点单), or a grid worker or dispatcher orders on a
    /// resident's behalf. Refused if the ticket exists.
    Submit {
        /// The catalog item ordered.
        item: ItemCode,
        /// The grid or sub-grid the request is for.
        grid: GridCode,
        /// The resident the order is for; a resident may only order for
        /// themself.
        resident: ResidentId,
        /// The request in the resident's words (trimmed, at most 2,000
        /// characters).
        description: String,
        /// How pressing the resident says it is.
        urgency: Urgency,
        /// How the order arrived.
        channel: Channel,
        /// The exact place, when known.
        location: Option<GeoPoint>,
        /// Photos the resident attached (at most `ORDER_PHOTOS_MAX`, none
        /// twice), by the hash the blob store gave them.
        #[serde(default)]
        photos: Vec<BlobHash>,
    },
    /// A resident who saw the same matter already reported follows it
    /// instead of ordering again: they become a co-reporter, told the
    /// result as the resident is.
    Follow,
    /// A dispatcher or grid worker decides how a submitted ticket is handled.
    Triage {
        /// The handling mode chosen; non-department modes need an admitted
        /// item.
        mode: HandlingMode,
        /// A corrected catalog item, or `None` to keep the one submitted.
        item: Option<ItemCode>,
    },
    /// The acting grid worker takes the ticket to handle on the spot (巡办合一).
    SelfHandle,
    /// A dispatcher or the routing policy offers a ticket waiting for dispatch
    /// to candidates (社区派单); opens the next round.
    Offer {
        /// Whom to offer it to: 1 to `OFFER_CANDIDATES_MAX`, none twice, each a
        /// valid assignee for the item.
        candidates: Vec<Assignee>,
        /// When the offer lapses: after now, and at most `OFFER_WINDOW_MAX`
        /// ahead.
        expires_at: Timestamp,
    },
    /// The timer (or a dispatcher) ends an offer round whose deadline has
    /// passed.
    ExpireOffer {
        /// The round to end; refused if it is not the offer out now, so a stale
        /// timer does nothing.
        round: u32,
    },
    /// A candidate accepts the offer out now (志愿接单); refused once someone else
    /// took it.
    AcceptOffer {
        /// The candidate accepting, whom the actor must speak for: a volunteer
        /// or grid worker for themself, a team's or department's actor for it,
        /// a dispatcher for anyone.
        by: Assignee,
    },
    /// A candidate declines the offer out now.
    DeclineOffer {
        /// The candidate declining, whom the actor must speak for.
        by: Assignee,
        /// Why; may be empty.
        reason: String,
    },
    /// The holder starts work.
    Start,
    /// Anyone involved but the resident adds a note to an open ticket.
    AddNote {
        /// The note (at most 2,000 characters, not empty).
        text: String,
    },
    /// Sends the ticket one tier up (or to the district for `Emergency`); who
    /// may depends on the reason.
    Escalate {
        /// Why; a `Timeout` is refused while every deadline is still ahead and
        /// offers remain.
        reason: EscalationReason,
        /// The escalating actor's note; may be empty.
        note: String,
    },
    /// A dispatcher assigns the ticket directly (派单) to a holder other than the
    /// current one.
    Assign {
        /// The new holder; must be valid for the item.
        to: Assignee,
        /// Why, for the history.
        reason: String,
    },
    /// The holder reports the request done.
    Resolve {
        /// What was done (at most 2,000 characters).
        result: String,
        /// Time spent, in minutes (at most `MINUTES_SPENT_MAX`, 30 days).
        minutes_spent: u32,
        /// After-photos of the work (at most `RESULT_PHOTOS_MAX`, none twice).
        #[serde(default)]
        photos: Vec<BlobHash>,
    },
    /// The resident (or a dispatcher for them) rates a resolved ticket, once,
    /// within the feedback window.
    GiveFeedback {
        /// The verdict; `Unsatisfied` reopens the ticket.
        rating: Rating,
        /// An optional comment.
        comment: String,
    },
    /// A dispatcher reopens a resolved ticket.
    Reopen {
        /// Why (at most 2,000 characters).
        reason: String,
    },
    /// A dispatcher or the timer closes a resolved ticket: after satisfied
    /// feedback, or once the feedback window has passed without any.
    Close,
    /// The resident or a dispatcher withdraws an unresolved ticket.
    Cancel {
        /// Why.
        reason: String,
    },
    /// A dispatcher marks an unresolved ticket as a duplicate of another.
    MarkDuplicate {
        /// The ticket it duplicates; not itself.
        of: TicketId,
    },
    /// 吹哨: the street (or district) summons departments to the ticket.
    Summon {
        /// The departments to summon: 1 to `SUMMONED_MAX`, each in the catalog
        /// and not already pending.
        departments: Vec<DepartmentId>,
    },
    /// 报到: a summoned department reports (the actor is the department).
    ReportToSummons {
        /// What the department reports (at most 2,000 characters).
        report: String,
    },
    /// 退单: the department holding the ticket returns it as misrouted.
    Return {
        /// Why (required, at most 2,000 characters).
        reason: String,
    },
    /// The tier's dispatcher insists on a returned ticket: the department
    /// that returned it holds it again. (Re-routing is `Assign` or `Offer`.)
    Insist {
        /// Why (required, at most 2,000 characters).
        note: String,
    },
    /// 延期: the holder asks for a later resolve deadline.
    AskExtension {
        /// The resolve deadline asked for: after the current one, at most
        /// `EXTENSION_MAX` past it.
        until: Timestamp,
        /// Why (required, at most 2,000 characters).
        reason: String,
    },
    /// The tier's dispatcher grants the open extension request.
    GrantExtension,
    /// The tier's dispatcher refuses the open extension request.
    RefuseExtension {
        /// Why (required, at most 2,000 characters).
        reason: String,
    },
    /// 催办: a dispatcher or an official urges the handler on.
    Urge {
        /// What to say; may be empty.
        note: String,
    },
    /// A grid worker on patrol reports a problem they found (巡查发现): a
    /// ticket for no resident, channel `Patrol`. Refused if the ticket
    /// exists.
    Report(Found),
    /// 巡办合一: a grid worker found a problem and handled it on the spot:
    /// reported, taken and resolved in one step (one append).
    HandleOnSpot {
        /// The problem as reported (its item must be one the grid may
        /// handle).
        found: Found,
        /// What was done (at most 2,000 characters).
        result: String,
        /// Time spent, in minutes.
        minutes_spent: u32,
        /// After-photos (at most `RESULT_PHOTOS_MAX`).
        #[serde(default)]
        photos: Vec<BlobHash>,
    },
    /// 巡办协同: the grid worker handles part of a ticket (taking it when it
    /// waits for dispatch) and links the child tickets the rest went to;
    /// it resolves when they have. Once per ticket.
    Coordinate {
        /// What the worker did themself (at most 2,000 characters).
        done: String,
        /// Time spent on it, in minutes.
        minutes_spent: u32,
        /// After-photos of the worker's part.
        #[serde(default)]
        photos: Vec<BlobHash>,
        /// The child tickets (1 to `CHILDREN_MAX`, none twice, not itself).
        children: Vec<TicketId>,
    },
    /// The coordination policy relays that a linked child settled.
    SettleChild {
        /// The child that settled.
        child: TicketId,
    },
}

impl TicketCommand {
    /// The verb used in refusals: "cannot accept: it is closed".
    pub fn verb(&self) -> &'static str {
        match self {
            TicketCommand::Submit { .. } => "submit",
            TicketCommand::Follow => "follow",
            TicketCommand::Triage { .. } => "triage",
            TicketCommand::SelfHandle => "self-handle",
            TicketCommand::Offer { .. } => "offer",
            TicketCommand::ExpireOffer { .. } => "expire the offer",
            TicketCommand::AcceptOffer { .. } => "accept",
            TicketCommand::DeclineOffer { .. } => "decline",
            TicketCommand::Start => "start",
            TicketCommand::AddNote { .. } => "add a note",
            TicketCommand::Escalate { .. } => "escalate",
            TicketCommand::Assign { .. } => "assign",
            TicketCommand::Resolve { .. } => "resolve",
            TicketCommand::GiveFeedback { .. } => "give feedback",
            TicketCommand::Reopen { .. } => "reopen",
            TicketCommand::Close => "close",
            TicketCommand::Cancel { .. } => "cancel",
            TicketCommand::MarkDuplicate { .. } => "mark as duplicate",
            TicketCommand::Summon { .. } => "summon departments",
            TicketCommand::ReportToSummons { .. } => "report to the summons",
            TicketCommand::Return { .. } => "return",
            TicketCommand::Insist { .. } => "insist",
            TicketCommand::AskExtension { .. } => "ask for an extension",
            TicketCommand::GrantExtension => "grant the extension",
            TicketCommand::RefuseExtension { .. } => "refuse the extension",
            TicketCommand::Urge { .. } => "urge",
            TicketCommand::Report { .. } => "report a problem",
            TicketCommand::HandleOnSpot { .. } => "handle on the spot",
            TicketCommand::Coordinate { .. } => "coordinate",
            TicketCommand::SettleChild { .. } => "settle a child ticket",
        }
    }

    /// The grid of a command that creates its ticket (`Submit`, `Report`,
    /// `HandleOnSpot`); `None` for a command on an existing ticket.
    pub fn creates_in(&self) -> Option<&GridCode> {
        match self {
            TicketCommand::Submit { grid, .. } => Some(grid),
            TicketCommand::Report(found) | TicketCommand::HandleOnSpot { found, .. } => Some(&found.grid),
            _ => None,
        }
    }
}

/// Where a ticket is in its life; see the state diagram in the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No event yet: the stream does not exist.
    #[default]
    None,
    /// Ordered, not yet triaged; waiting for dispatch.
    Submitted,
    /// Waiting for dispatch (triaged, or an offer ran out).
    Triaged,
    /// An offer is out; the first candidate to accept takes it.
    Offered,
    /// Someone holds it (accepted, assigned or self-handled) and has not
    /// started.
    Accepted,
    /// The holder is working on it.
    InProgress,
    /// Waiting for dispatch at a higher tier.
    Escalated,
    /// The holder reports it done; waiting for the resident's feedback.
    Resolved,
    /// Unsatisfied feedback or a dispatcher reopened it: waiting for dispatch.
    Reopened,
    /// Closed (销号): confirmed by the resident or unanswered past the feedback
    /// window. Final.
    Closed,
    /// Withdrawn before resolution. Final.
    Cancelled,
    /// Marked as a duplicate of another ticket. Final.
    Duplicate,
    /// Returned by the department that held it (退单): waiting for the
    /// tier's dispatcher to re-route it or insist.
    Returned,
}

impl Status {
    /// The status in plain words, as used in refusals ("it is closed").
    pub fn name(self) -> &'static str {
        match self {
            Status::None => "not submitted",
            Status::Submitted => "submitted",
            Status::Triaged => "triaged",
            Status::Offered => "offered",
            Status::Accepted => "accepted",
            Status::InProgress => "in progress",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Reopened => "reopened",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
            Status::Duplicate => "a duplicate",
            Status::Returned => "returned",
        }
    }

    /// Closed, cancelled or duplicate: nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Cancelled | Status::Duplicate)
    }

    /// Waiting for a dispatcher (or the router) to send it somewhere.
    pub fn awaits_dispatch(self) -> bool {
        matches!(self, Status::Submitted | Status::Triaged | Status::Escalated | Status::Reopened | Status::Returned)
    }

    /// Someone holds it and is working on it.
    pub fn is_held(self) -> bool {
        matches!(self, Status::Accepted | Status::InProgress)
    }
}

/// The offer currently out, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The round this offer opened, counted from 1.
    pub round: u32,
    /// Whom it was offered to.
    pub candidates: Vec<Assignee>,
    /// The candidates who declined so far; when all have, the round ends.
    pub declined: Vec<Assignee>,
    /// When the offer lapses if nobody accepts.
    pub expires_at: Timestamp,
}

/// A ticket's state, folded from its events.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket's id; `None` until submitted.
    pub id: Option<TicketId>,
    /// Where the ticket is in its life.
    pub status: Status,
    /// The catalog item, as submitted or as corrected at triage.
    pub item: Option<ItemCode>,
    /// The grid (or sub-grid) the request is for.
    pub grid: Option<GridCode>,
    /// The resident the ticket is for; only they may rate, cancel or complain
    /// about it as a resident.
    pub resident: Option<ResidentId>,
    /// How pressing the resident said it is.
    pub urgency: Option<Urgency>,
    /// The tier responsible now (grid, community, street or district);
    /// escalation moves it up.
    pub tier: Option<Tier>,
    /// How it is handled, once triaged.
    pub mode: Option<HandlingMode>,
    /// The offer out now, if any.
    pub offer: Option<Offer>,
    /// Who holds the ticket now; cleared on escalation or reopening.
    pub holder: Option<Assignee>,
    /// How many offer rounds have been opened so far (the last round's number).
    pub offer_rounds: u32,
    /// How many times it was escalated.
    pub escalations: u32,
    /// How many times it was reopened.
    pub reopenings: u32,
    /// When it was submitted.
    pub submitted_at: Option<Timestamp>,
    /// When it was first taken (kept across later reassignments, for
    /// response-time metrics).
    pub accepted_at: Option<Timestamp>,
    /// When it was last resolved; cleared on reopening.
    pub resolved_at: Option<Timestamp>,
    /// When it reached a final status (closed, cancelled or duplicate).
    pub closed_at: Option<Timestamp>,
    /// The original accept deadline (受理时限), from submission.
    pub accept_by: Option<Timestamp>,
    /// The current resolve deadline (办结时限); escalation after it passed, or a
    /// reopening, sets a fresh one.
    pub resolve_by: Option<Timestamp>,
    /// The resolve deadline the rates and the overdue flag judge it by: the
    /// submission's, then each reopening's ([`TicketEvent::judged_resolve_by`]);
    /// an escalation renews `resolve_by` but not this one. None in a state
    /// saved before it was kept.
    #[serde(default)]
    pub judged_resolve_by: Option<Timestamp>,
    /// Until when the resident may give feedback on the current resolution.
    pub feedback_by: Option<Timestamp>,
    /// The resident's rating of the current resolution, if given.
    pub feedback: Option<Rating>,
    /// The ticket this one duplicates, when marked so.
    pub duplicate_of: Option<TicketId>,
    /// After an escalation or a reopening: the tier must take it by then.
    pub respond_by: Option<Timestamp>,
    /// Departments summoned and not yet reported (吹哨报到).
    pub summons: Vec<Summons>,
    /// Residents who followed it as co-reporters (at most `FOLLOWERS_MAX`).
    #[serde(default)]
    pub followers: Vec<ResidentId>,
    /// What the holder reported doing, while resolved (cleared on
    /// reopening).
    #[serde(default)]
    pub result: Option<String>,
    /// The photos the resident attached to the order.
    #[serde(default)]
    pub order_photos: Vec<BlobHash>,
    /// The after-photos of the current resolution (cleared on reopening).
    #[serde(default)]
    pub result_photos: Vec<BlobHash>,
    /// The calendar its latest working-day deadlines were counted on;
    /// `None` while its limits run in elapsed time.
    #[serde(default)]
    pub calendar: Option<String>,
    /// While returned: the department that returned it (whom `Insist`
    /// hands it back to).
    #[serde(default)]
    pub returned_by: Option<Assignee>,
    /// How many times it was returned (at most `RETURNS_MAX`).
    #[serde(default)]
    pub returns: u32,
    /// The extension request waiting for the dispatcher's answer; cleared
    /// when answered or when the holder changes.
    #[serde(default)]
    pub extension: Option<ExtensionRequest>,
    /// How many extensions were asked (at most `EXTENSIONS_MAX`).
    #[serde(default)]
    pub extensions_asked: u32,
    /// How many times it was urged (催办; at most `URGES_MAX`).
    #[serde(default)]
    pub urges: u32,
    /// 巡办协同: the child tickets the rest was dispatched to, and whether
    /// each has settled.
    #[serde(default)]
    pub children: Vec<ChildTicket>,
    /// 巡办协同: the worker's own part, which becomes the result when the
    /// last child settles.
    #[serde(default)]
    pub part: Option<Part>,
    /// How many events were folded.
    pub version: u64,
}

/// A department summoned to a ticket, and whether it has reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summons {
    /// The department summoned.
    pub department: DepartmentId,
    /// When it must report by.
    pub report_by: Timestamp,
    /// Whether it has reported.
    pub reported: bool,
}

/// An extension request waiting for an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    /// The holder who asked.
    pub by: Assignee,
    /// The resolve deadline asked for.
    pub until: Timestamp,
    /// Why.
    pub reason: String,
}

/// The most times one ticket may be returned; past it, the dispatcher
/// assigns or escalates it rather than let it bounce.
pub const RETURNS_MAX: u32 = 8;
/// The most extensions one ticket's holders may ask for.
pub const EXTENSIONS_MAX: u32 = 3;
/// The furthest one extension may move the resolve deadline (30 days).
pub const EXTENSION_MAX: Millis = Millis(30 * 24 * 60 * 60 * 1000);
/// The most times one ticket may be urged; an urge past it says nothing new.
pub const URGES_MAX: u32 = 16;
/// A linked child ticket (巡办协同) and whether it has settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildTicket {
    /// The child.
    pub ticket: TicketId,
    /// Whether it has resolved, closed, been cancelled or marked a
    /// duplicate.
    pub settled: bool,
}

/// The part of a coordinated ticket its grid worker handled themself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// What they did.
    pub done: String,
    /// The minutes they spent.
    pub minutes_spent: u32,
    /// After-photos.
    pub photos: Vec<BlobHash>,
}

/// The most child tickets one coordination may link.
pub const CHILDREN_MAX: usize = 8;

/// Which deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// The offer out now expires.
    OfferExpiry,
    /// The ticket must be taken by then (受理时限, or the tier's response
    /// time after an escalation or reopening).
    Accept,
    /// The ticket must be resolved by then (办结时限).
    Resolve,
    /// A summoned department must report by then.
    Summons,
    /// The resident's feedback window closes; then it closes without feedback.
    Feedback,
}

/// The most departments one summons may name.
pub const SUMMONED_MAX: usize = 8;

impl Ticket {
    /// Folds one event in. No rules here: only what the event says.
    pub fn evolve(&mut self, event: &TicketEvent, at: Timestamp) {
        use TicketEvent as E;
        self.version += 1;
        if let Some(by) = event.judged_resolve_by() {
            self.judged_resolve_by = Some(by);
        }
        match event {
            E::Submitted { ticket, item, grid, resident, urgency, tier, accept_by, resolve_by, photos, .. } => {
                self.order_photos = photos.clone();
                self.id = Some(ticket.clone());
                self.status = Status::Submitted;
                self.item = Some(item.clone());
                self.grid = Some(grid.clone());
                self.resident = resident.clone();
                self.urgency = Some(*urgency);
                self.tier = Some(*tier);
                self.submitted_at = Some(at);
                self.accept_by = Some(*accept_by);
                self.resolve_by = Some(*resolve_by);
            }
            E::Triaged { mode, item } => {
                self.status = Status::Triaged;
                self.mode = Some(*mode);
                self.item = Some(item.clone());
            }
            E::SelfHandled { worker } => self.take(Assignee::GridWorker(worker.clone()), at),
            E::Offered { round, candidates, expires_at } => {
                self.status = Status::Offered;
                self.returned_by = None;
                self.offer_rounds = *round;
                self.offer = Some(Offer {
                    round: *round,
                    candidates: candidates.clone(),
                    declined: vec![],
                    expires_at: *expires_at,
                });
            }
            E::OfferExpired { .. } => {
                self.status = Status::Triaged;
                self.offer = None;
            }
            E::Accepted { by, .. } => self.take(by.clone(), at),
            E::Declined { by, .. } => {
                if let Some(offer) = &mut self.offer {
                    offer.declined.push(by.clone());
                }
            }
            E::Started { .. } => self.status = Status::InProgress,
            E::NoteAdded { .. } => {}
            E::Escalated { to, respond_by, resolve_by, .. } => {
                self.status = Status::Escalated;
                self.tier = Some(*to);
                self.escalations += 1;
                self.offer = None;
                self.holder = None;
                self.returned_by = None;
                self.extension = None;
                self.summons.clear();
                self.respond_by = *respond_by;
                if resolve_by.is_some() {
                    self.resolve_by = *resolve_by;
                }
            }
            E::Reassigned { to, .. } => self.take(to.clone(), at),
            E::Followed { resident } => self.followers.push(resident.clone()),
            E::Resolved { feedback_by, result, photos, .. } => {
                self.extension = None;
                self.result = Some(result.clone());
                self.result_photos = photos.clone();
                self.status = Status::Resolved;
                self.resolved_at = Some(at);
                self.feedback_by = Some(*feedback_by);
                self.feedback = None;
            }
            E::FeedbackGiven { rating, .. } => self.feedback = Some(*rating),
            E::Reopened { resolve_by, respond_by, .. } => {
                self.respond_by = *respond_by;
                self.status = Status::Reopened;
                self.reopenings += 1;
                self.resolve_by = Some(*resolve_by);
                self.resolved_at = None;
                self.feedback_by = None;
                self.holder = None;
                self.extension = None;
                self.result = None;
                self.result_photos.clear();
            }
            E::Closed { .. } => {
                self.status = Status::Closed;
                self.closed_at = Some(at);
            }
            E::Cancelled { .. } => {
                self.status = Status::Cancelled;
                self.offer = None;
                self.returned_by = None;
                self.extension = None;
                self.closed_at = Some(at);
            }
            E::MarkedDuplicate { of } => {
                self.status = Status::Duplicate;
                self.offer = None;
                self.returned_by = None;
                self.extension = None;
                self.duplicate_of = Some(of.clone());
                self.closed_at = Some(at);
            }
            E::Summoned { departments, report_by } => {
                let summoned = departments.iter().map(|d| Summons {
                    department: d.clone(),
                    report_by: *report_by,
                    reported: false,
                });
                self.summons.extend(summoned);
            }
            E::SummonsAnswered { department, .. } => {
                for summons in self.summons.iter_mut().filter(|s| &s.department == department) {
                    summons.reported = true;
                }
            }
            E::CountedInWorkingDays { calendar } => self.calendar = Some(calendar.clone()),
            E::Returned { by, respond_by, .. } => {
                self.status = Status::Returned;
                self.holder = None;
                self.extension = None;
                self.returned_by = Some(by.clone());
                self.returns += 1;
                self.respond_by = Some(*respond_by);
            }
            E::ReturnOverruled { to, .. } => self.take(to.clone(), at),
            E::ExtensionAsked { by, until, reason } => {
                self.extensions_asked += 1;
                self.extension = Some(ExtensionRequest { by: by.clone(), until: *until, reason: reason.clone() });
            }
            E::ExtensionGranted { resolve_by, .. } => {
                self.resolve_by = Some(*resolve_by);
                self.extension = None;
            }
            E::ExtensionRefused { .. } => self.extension = None,
            E::Urged { .. } => self.urges += 1,
            E::Coordinated { done, minutes_spent, photos, children } => {
                self.part = Some(Part { done: done.clone(), minutes_spent: *minutes_spent, photos: photos.clone() });
                self.children = children.iter().map(|c| ChildTicket { ticket: c.clone(), settled: false }).collect();
            }
            E::ChildSettled { child } => {
                for linked in self.children.iter_mut().filter(|c| &c.ticket == child) {
                    linked.settled = true;
                }
            }
        }
    }

    fn take(&mut self, holder: Assignee, at: Timestamp) {
        self.status = Status::Accepted;
        self.holder = Some(holder);
        self.offer = None;
        self.respond_by = None;
        self.returned_by = None;
        self.extension = None;
        self.accepted_at.get_or_insert(at);
    }

    /// Decides what a command does to this ticket: the events to append, or
    /// the reason it is refused. Pure: everything it needs is in `self`,
    /// `actor` and `ctx`. Each command's rules are in its own `decide_*`.
    pub fn decide(
        &self,
        id: &TicketId,
        command: &TicketCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<TicketEvent>, Error> {
        use TicketCommand as C;
        if command.creates_in().is_none() && self.status == Status::None {
            return Err(Error::not_found("ticket", id));
        }
        match command {
            C::Submit { item, grid, resident, description, urgency, channel, location, photos } => {
                let order =
                    Order { item, grid, resident: Some(resident), description, urgency: *urgency, channel: *channel };
                self.decide_submit(id, order, *location, photos, actor, ctx)
            }
            C::Report(found) => self.decide_report(id, found, actor, ctx),
            C::HandleOnSpot { found, result, minutes_spent, photos } => {
                self.decide_on_spot(id, found, (result, *minutes_spent, photos), actor, ctx, command)
            }
            C::Coordinate { done, minutes_spent, photos, children } => {
                self.decide_coordinate(id, (done, *minutes_spent, photos), children, actor, ctx, command)
            }
            C::SettleChild { child } => self.decide_settle_child(child, actor, ctx, command),
            C::Follow => self.decide_follow(actor, command),
            C::Triage { mode, item } => self.decide_triage(*mode, item.as_ref(), actor, ctx, command),
            C::SelfHandle => self.decide_self_handle(actor, ctx, command),
            C::Offer { candidates, expires_at } => self.decide_offer(candidates, *expires_at, actor, ctx, command),
            C::ExpireOffer { round } => self.decide_expire_offer(*round, actor, ctx, command),
            C::AcceptOffer { by } => self.decide_accept(by, actor, ctx, command),
            C::DeclineOffer { by, reason } => self.decide_decline(by, reason, actor, command),
            C::Start => self.decide_start(actor, command),
            C::AddNote { text } => self.decide_note(text, actor, command),
            C::Escalate { reason, note } => self.decide_escalate(*reason, note, actor, ctx, command),
            C::Summon { departments } => self.decide_summon(departments, actor, ctx, command),
            C::ReportToSummons { report } => self.decide_report_to_summons(report, actor, command),
            C::Assign { to, reason } => self.decide_assign(to, reason, actor, ctx, command),
            C::Resolve { result, minutes_spent, photos } => {
                self.decide_resolve(result, *minutes_spent, photos, actor, ctx, command)
            }
            C::GiveFeedback { rating, comment } => self.decide_feedback(*rating, comment, actor, ctx),
            C::Reopen { reason } => self.decide_reopen(reason, actor, ctx, command),
            C::Close => self.decide_close(actor, ctx, command),
            C::Cancel { reason } => self.decide_cancel(reason, actor, command),
            C::MarkDuplicate { of } => self.decide_mark_duplicate(of, actor, command),
            C::Return { reason } => self.decide_return(reason, actor, ctx, command),
            C::Insist { note } => self.decide_insist(note, actor, ctx, command),
            C::AskExtension { until, reason } => self.decide_ask_extension(*until, reason, actor, ctx, command),
            C::GrantExtension => self.decide_grant_extension(actor, ctx, command),
            C::RefuseExtension { reason } => self.decide_refuse_extension(reason, actor, command),
            C::Urge { note } => self.decide_urge(note, actor, command),
        }
    }

    /// The refusal for a command the ticket's status does not allow.
    fn illegal(&self, command: &TicketCommand) -> Error {
        Error::IllegalTransition { command: command.verb(), status: self.status.name() }
    }

    /// Whether the ticket is past the point where it can be handed on,
    /// cancelled or merged: resolved, or in a final status.
    fn is_settled(&self) -> bool {
        self.status.is_final() || self.status == Status::Resolved
    }

    fn decide_triage(
        &self,
        mode: HandlingMode,
        item: Option<&ItemCode>,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher, Role::GridWorker], command.verb())?;
        if self.status != Status::Submitted {
            return Err(self.illegal(command));
        }
        let item = item.cloned().unwrap_or_else(|| self.item().clone());
        let entry = ctx.catalog.item(&item)?;
        if mode != HandlingMode::Department && !entry.admitted {
            return Err(not_admitted(entry));
        }
        Ok(vec![TicketEvent::Triaged { mode, item }])
    }

    fn decide_self_handle(
        &self,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::GridWorker], command.verb())?;
        if !self.status.awaits_dispatch() {
            return Err(self.illegal(command));
        }
        let entry = ctx.catalog.item(self.item())?;
        if !entry.admitted {
            return Err(not_admitted(entry));
        }
        Ok(vec![TicketEvent::SelfHandled { worker: actor.id.clone() }])
    }

    fn decide_expire_offer(
        &self,
        round: u32,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::System, Role::Dispatcher], command.verb())?;
        match &self.offer {
            Some(offer) if offer.round == round && ctx.now >= offer.expires_at => {
                Ok(vec![TicketEvent::OfferExpired { round, reason: ExpiryReason::Deadline }])
            }
            _ => Err(self.illegal(command)),
        }
    }

    fn decide_start(&self, actor: &Actor, command: &TicketCommand) -> Result<Vec<TicketEvent>, Error> {
        if self.status != Status::Accepted {
            return Err(self.illegal(command));
        }
        let by = self.check_holder(actor)?;
        Ok(vec![TicketEvent::Started { by }])
    }

    fn decide_note(&self, text: &str, actor: &Actor, command: &TicketCommand) -> Result<Vec<TicketEvent>, Error> {
        let writers = [Role::Dispatcher, Role::GridWorker, Role::Volunteer, Role::Department, Role::System];
        permit(actor, &writers, command.verb())?;
        if self.status.is_final() {
            return Err(self.illegal(command));
        }
        // A volunteer or a department notes only a ticket they have to do
        // with (offered, held, summoned); staff note any in their place.
        if matches!(actor.role, Role::Volunteer | Role::Department) && !crate::permit::related(actor, self) {
            return Err(Error::NotPermitted { role: actor.role.name(), command: "note a ticket not theirs" });
        }
        Ok(vec![TicketEvent::NoteAdded { text: bounded_text("note", text, false)? }])
    }

    fn decide_report_to_summons(
        &self,
        report: &str,
        actor: &Actor,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Department], command.verb())?;
        if self.status.is_final() {
            return Err(self.illegal(command));
        }
        let summoned = self.summons.iter().find(|s| s.department.as_str() == actor.id.as_str() && !s.reported);
        // Never summoned, already reported, or the summons lapsed when the
        // ticket escalated past the street: nothing to report to now.
        let Some(summons) = summoned else {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "not waiting for this department's report",
            });
        };
        let report = bounded_text("report", report, false)?;
        Ok(vec![TicketEvent::SummonsAnswered { department: summons.department.clone(), report }])
    }

    fn decide_assign(
        &self,
        to: &Assignee,
        reason: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        if self.is_settled() {
            return Err(self.illegal(command));
        }
        if self.holder.as_ref() == Some(to) {
            return Err(Error::invalid("assignee", format!("{to} already holds the ticket")));
        }
        // Handing a returned ticket back to the department that returned it
        // is the arbitration `Insist` records, with its note.
        if self.status == Status::Returned && self.returned_by.as_ref() == Some(to) {
            return Err(Error::invalid("assignee", format!("{to} returned the ticket: insist instead")));
        }
        self.check_assignee(to, ctx)?;
        Ok(vec![TicketEvent::Reassigned { to: to.clone(), reason: bounded_text("reason", reason, false)? }])
    }

    fn decide_resolve(
        &self,
        result: &str,
        minutes_spent: u32,
        photos: &[BlobHash],
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        if !self.status.is_held() {
            return Err(self.illegal(command));
        }
        if self.awaits_children() {
            return Err(Error::IllegalTransition { command: command.verb(), status: "waiting for its child tickets" });
        }
        let by = self.check_holder(actor)?;
        if minutes_spent > MINUTES_SPENT_MAX {
            return Err(Error::invalid("minutes spent", "must be at most 30 days"));
        }
        let window = ctx.catalog.item(self.item())?.sla.feedback_window;
        Ok(vec![TicketEvent::Resolved {
            by,
            result: bounded_text("result", result, false)?,
            minutes_spent,
            feedback_by: ctx.now.plus(window),
            photos: checked_photos(photos, RESULT_PHOTOS_MAX)?,
        }])
    }

    fn decide_reopen(
        &self,
        reason: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        if self.status != Status::Resolved {
            return Err(self.illegal(command));
        }
        let reason = bounded_text("reason", reason, false)?;
        self.reopen(reason, ctx)
    }

    fn decide_close(&self, actor: &Actor, ctx: &Context, command: &TicketCommand) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher, Role::System], command.verb())?;
        if self.status != Status::Resolved {
            return Err(self.illegal(command));
        }
        let reason = match self.feedback {
            Some(Rating::Satisfied | Rating::BasicallySatisfied) => CloseReason::Confirmed,
            Some(Rating::Unsatisfied) => return Err(self.illegal(command)),
            None if self.feedback_by.is_some_and(|by| ctx.now >= by) => CloseReason::NoFeedback,
            None => {
                return Err(Error::IllegalTransition {
                    command: "close",
                    status: "waiting for the resident's feedback",
                });
            }
        };
        Ok(vec![TicketEvent::Closed { reason }])
    }

    fn decide_cancel(&self, reason: &str, actor: &Actor, command: &TicketCommand) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Resident, Role::Dispatcher], command.verb())?;
        self.check_own_resident(actor)?;
        if self.is_settled() {
            return Err(self.illegal(command));
        }
        Ok(vec![TicketEvent::Cancelled { reason: bounded_text("reason", reason, false)? }])
    }

    fn decide_mark_duplicate(
        &self,
        of: &TicketId,
        actor: &Actor,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        if self.is_settled() {
            return Err(self.illegal(command));
        }
        if Some(of) == self.id.as_ref() {
            return Err(Error::DuplicateCycle { ticket: of.to_string(), of: of.to_string() });
        }
        Ok(vec![TicketEvent::MarkedDuplicate { of: of.clone() }])
    }

    fn decide_submit(
        &self,
        id: &TicketId,
        order: Order<'_>,
        location: Option<GeoPoint>,
        photos: &[BlobHash],
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<TicketEvent>, Error> {
        let Order { item, grid, resident, description, urgency, channel } = order;
        crate::permit::person_may(actor, crate::permit::Access::Write(crate::permit::Write::Submit))?;
        if self.status != Status::None {
            let id = self.id.as_ref().map_or_else(String::new, ToString::to_string);
            return Err(Error::AlreadyExists { kind: "ticket", id });
        }
        if actor.role == Role::Resident && resident.is_none_or(|r| actor.id.as_str() != r.as_str()) {
            return Err(Error::NotPermitted { role: "resident", command: "submit for another resident" });
        }
        let entry = ctx.catalog.item(item)?;
        let node = ctx.grids.require(grid)?;
        if grid.level() < Level::Grid {
            return Err(Error::invalid(
                "grid",
                "a ticket is placed in a grid or sub-grid, not a whole street or community",
            ));
        }
        // A point on a shared edge may locate to the neighbour: on the
        // grid's boundary counts as within it.
        let within = |p: GeoPoint| contains(&node.boundary, p) || on_boundary(&node.boundary, p);
        if location.is_some_and(|p| !within(p)) {
            return Err(Error::LocationOutsideGrid { grid: grid.to_string() });
        }
        let accept_by = entry.sla.accept_by(ctx.now, ctx.calendar)?;
        let resolve_by = entry.sla.resolve_by(ctx.now, ctx.calendar)?;
        let submitted = TicketEvent::Submitted {
            ticket: id.clone(),
            item: item.clone(),
            grid: grid.clone(),
            resident: resident.cloned(),
            description: bounded_text("description", description, false)?,
            urgency,
            channel,
            location,
            // 平急转换: in emergency mode, emergency items go straight to
            // the district centre.
            tier: if ctx.emergency && entry.emergency { Tier::District } else { Tier::Grid },
            accept_by: accept_by.at,
            resolve_by: resolve_by.at,
            photos: checked_photos(photos, ORDER_PHOTOS_MAX)?,
        };
        Ok(with_calendar(vec![submitted], [accept_by, resolve_by]))
    }

    /// 一人一账号 without duplicates: a resident who finds the matter already
    /// reported follows it. Only a resident, not the one who ordered it, not
    /// twice (a repeat is refused as existing), and only while unsettled:
    /// following a resolved or closed matter would tell them nothing.
    fn decide_follow(&self, actor: &Actor, command: &TicketCommand) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Resident], command.verb())?;
        let resident = ResidentId::new(actor.id.as_str())?;
        if self.is_settled() {
            return Err(self.illegal(command));
        }
        if self.resident.as_ref() == Some(&resident) || self.followers.contains(&resident) {
            return Err(Error::AlreadyExists { kind: "reporter of this ticket", id: resident.to_string() });
        }
        if self.followers.len() >= FOLLOWERS_MAX {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "followed by as many residents as it keeps",
            });
        }
        Ok(vec![TicketEvent::Followed { resident }])
    }

    fn decide_offer(
        &self,
        candidates: &[Assignee],
        expires_at: Timestamp,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher, Role::System], command.verb())?;
        if !self.status.awaits_dispatch() {
            return Err(Error::IllegalTransition { command: command.verb(), status: self.status.name() });
        }
        if candidates.is_empty() || candidates.len() > OFFER_CANDIDATES_MAX {
            return Err(Error::invalid("candidates", "an offer goes to 1 to 64 candidates"));
        }
        let mut seen = candidates.to_vec();
        seen.sort();
        seen.dedup();
        if seen.len() != candidates.len() {
            return Err(Error::invalid("candidates", "a candidate is named twice"));
        }
        if expires_at <= ctx.now || expires_at > ctx.now.plus(OFFER_WINDOW_MAX) {
            return Err(Error::invalid("expires at", "must be after now and within 7 days"));
        }
        if self.offer_rounds >= OFFER_ROUNDS_MAX {
            return Err(Error::invalid("offer", "the ticket ran out of offer rounds: assign or escalate it"));
        }
        for candidate in candidates {
            self.check_assignee(candidate, ctx)?;
        }
        Ok(vec![TicketEvent::Offered { round: self.offer_rounds + 1, candidates: candidates.to_vec(), expires_at }])
    }

    fn decide_accept(
        &self,
        by: &Assignee,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Volunteer, Role::Department, Role::GridWorker, Role::Dispatcher], command.verb())?;
        if !by.is_spoken_for_by(actor) {
            return Err(Error::NotPermitted { role: actor.role.name(), command: "accept for someone else" });
        }
        let ticket = self.id_string();
        if self.status.is_held() || self.status == Status::Resolved {
            return Err(Error::AlreadyTaken { ticket });
        }
        let Some(offer) = self.offer.as_ref().filter(|_| self.status == Status::Offered) else {
            // An offer that ran out and was withdrawn: say so, in the words a
            // volunteer answering late in chat understands.
            if self.status == Status::Triaged && self.offer_rounds > 0 {
                return Err(Error::OfferExpired { ticket });
            }
            return Err(Error::IllegalTransition { command: command.verb(), status: self.status.name() });
        };
        if !offer.candidates.contains(by) || offer.declined.contains(by) {
            return Err(Error::NotOffered { ticket, who: by.to_string() });
        }
        if ctx.now >= offer.expires_at {
            return Err(Error::OfferExpired { ticket });
        }
        Ok(vec![TicketEvent::Accepted { by: by.clone(), round: offer.round }])
    }

    fn decide_decline(
        &self,
        by: &Assignee,
        reason: &str,
        actor: &Actor,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Volunteer, Role::Department, Role::GridWorker, Role::Dispatcher], command.verb())?;
        if !by.is_spoken_for_by(actor) {
            return Err(Error::NotPermitted { role: actor.role.name(), command: "decline for someone else" });
        }
        let Some(offer) = self.offer.as_ref().filter(|_| self.status == Status::Offered) else {
            return Err(Error::IllegalTransition { command: command.verb(), status: self.status.name() });
        };
        if !offer.candidates.contains(by) || offer.declined.contains(by) {
            return Err(Error::NotOffered { ticket: self.id_string(), who: by.to_string() });
        }
        let reason = bounded_text("reason", reason, true)?;
        let mut events = vec![TicketEvent::Declined { by: by.clone(), round: offer.round, reason }];
        if offer.declined.len() + 1 == offer.candidates.len() {
            events.push(TicketEvent::OfferExpired { round: offer.round, reason: ExpiryReason::AllDeclined });
        }
        Ok(events)
    }

    /// Reopening at the last holder's tier (or one up, by policy), with a
    /// fresh resolve deadline and a response deadline for the tier.
    fn reopen(&self, reason: String, ctx: &Context) -> Result<Vec<TicketEvent>, Error> {
        let deadline = ctx.catalog.item(self.item())?.sla.resolve_by(ctx.now, ctx.calendar)?;
        let tier = self.tier.unwrap_or(Tier::Grid);
        let reopened =
            TicketEvent::Reopened { reason, resolve_by: deadline.at, respond_by: Some(respond_by(tier, ctx)) };
        let mut events = with_calendar(vec![reopened], [deadline]);
        if let (true, Some(up)) = (ctx.routing.reopen_one_up, tier.above()) {
            events.push(TicketEvent::Escalated {
                from: tier,
                to: up,
                reason: EscalationReason::Complaint,
                note: "reopened one tier up by policy".into(),
                respond_by: Some(respond_by(up, ctx)),
                resolve_by: None,
            });
        }
        Ok(events)
    }

    /// The deadlines still pending, earliest first: what a timer watches.
    pub fn pending_deadlines(&self) -> Vec<(DeadlineKind, Timestamp)> {
        let mut pending = Vec::with_capacity(4);
        if self.status.is_final() || self.status == Status::None {
            return pending;
        }
        if let Some(offer) = &self.offer {
            pending.push((DeadlineKind::OfferExpiry, offer.expires_at));
        }
        if self.status == Status::Resolved {
            pending.extend(self.feedback_by.map(|at| (DeadlineKind::Feedback, at)));
        } else if self.status.is_held() {
            pending.extend(self.resolve_by.map(|at| (DeadlineKind::Resolve, at)));
        } else {
            pending.extend(self.respond_by.or(self.accept_by).map(|at| (DeadlineKind::Accept, at)));
        }
        let summons = self.summons.iter().filter(|s| !s.reported).map(|s| s.report_by).min();
        pending.extend(summons.map(|at| (DeadlineKind::Summons, at)));
        pending.sort_by_key(|(kind, at)| (*at, *kind));
        pending
    }

    /// How the ticket stands as of `now` against the two deadlines the rates
    /// judge: its accept deadline (受理时限, from submission: taken by then)
    /// and its judged resolve deadline (办结时限). A cancelled or duplicate
    /// ticket's clock stopped when it was withdrawn.
    pub fn judged(&self, now: Timestamp) -> [(DeadlineKind, Due); 2] {
        let withdrawn = self.closed_at.filter(|_| matches!(self.status, Status::Cancelled | Status::Duplicate));
        let judge = |deadline: Option<Timestamp>, done_at| {
            deadline.map_or(Due::NotYet, |deadline| Due::judge(deadline, done_at, withdrawn, now))
        };
        let resolve_by = self.judged_resolve_by.or(self.resolve_by);
        [
            (DeadlineKind::Accept, judge(self.accept_by, self.accepted_at)),
            (DeadlineKind::Resolve, judge(resolve_by, self.resolved_at)),
        ]
    }

    /// Whether the ticket has missed a deadline as of `now`: taken after its
    /// accept deadline or not taken once it passed, resolved late or not
    /// resolved once its judged resolve deadline passed ([`Ticket::judged`]),
    /// or a deadline the timers escalate on (a tier's response, a resolve
    /// deadline, a summons report) is pending and past. A miss stays after
    /// an escalation renews the deadlines or someone else takes the ticket
    /// on; only a reopening, which sets a fresh resolve deadline, judges the
    /// resolution anew.
    pub fn overdue(&self, now: Timestamp) -> bool {
        self.judged(now).iter().any(|(_, due)| *due == Due::Missed) || self.a_deadline_passed(now)
    }

    /// The offer `who` may accept as of `now`: one out now that names them,
    /// which they have not declined and which has not expired. A volunteer's
    /// queue lists these beside what they hold.
    pub fn open_offer_to(&self, who: &Assignee, now: Timestamp) -> Option<&Offer> {
        self.offer.as_ref().filter(|offer| {
            self.status == Status::Offered
                && offer.candidates.contains(who)
                && !offer.declined.contains(who)
                && now < offer.expires_at
        })
    }

    fn decide_escalate(
        &self,
        reason: EscalationReason,
        note: &str,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        let allowed: &[Role] = match reason {
            EscalationReason::Timeout => &[Role::System, Role::Dispatcher],
            EscalationReason::Difficulty => &[Role::Volunteer, Role::Department, Role::GridWorker, Role::Dispatcher],
            EscalationReason::Complaint => &[Role::Resident, Role::Dispatcher],
            EscalationReason::Whistle | EscalationReason::Emergency => &[Role::Dispatcher],
        };
        permit(actor, allowed, command.verb())?;
        if reason == EscalationReason::Difficulty && actor.role != Role::Dispatcher {
            self.check_holder(actor)?;
        }
        if reason == EscalationReason::Complaint {
            self.check_own_resident(actor)?;
        }
        if self.status.is_final() || self.status == Status::Resolved {
            return Err(Error::IllegalTransition { command: command.verb(), status: self.status.name() });
        }
        let from = self.tier.unwrap_or(Tier::Grid);
        let to = match reason {
            EscalationReason::Emergency if from != Tier::District => Tier::District,
            _ => from
                .above()
                .ok_or(Error::IllegalTransition { command: "escalate", status: "already at the district centre" })?,
        };
        if reason == EscalationReason::Timeout && !self.a_deadline_passed(ctx.now) && !self.offers_exhausted(ctx) {
            return Err(Error::IllegalTransition {
                command: "escalate for a missed deadline",
                status: "within its deadlines",
            });
        }
        let note = bounded_text("note", note, true)?;
        // A fresh resolve deadline only when the old one had passed.
        let fresh = match self.resolve_by.filter(|&by| by <= ctx.now) {
            Some(_) => Some(ctx.catalog.item(self.item())?.sla.resolve_by(ctx.now, ctx.calendar)?),
            None => None,
        };
        let resolve_by = fresh.as_ref().map(|d| d.at);
        let escalated =
            TicketEvent::Escalated { from, to, reason, note, respond_by: Some(respond_by(to, ctx)), resolve_by };
        Ok(with_calendar(vec![escalated], fresh))
    }

    /// Every offer round ran out unanswered: the tier could not find anyone.
    fn offers_exhausted(&self, ctx: &Context) -> bool {
        self.status == Status::Triaged && self.offer.is_none() && self.offer_rounds >= ctx.routing.offer_rounds_max
    }

    /// Whether a deadline that justifies a timeout escalation has passed:
    /// taking (or the tier's response), resolving, or a summons report.
    fn a_deadline_passed(&self, now: Timestamp) -> bool {
        self.pending_deadlines().iter().any(|(kind, at)| {
            *at <= now && matches!(kind, DeadlineKind::Accept | DeadlineKind::Resolve | DeadlineKind::Summons)
        })
    }

    /// The street (or the district) summons departments to report.
    fn decide_summon(
        &self,
        departments: &[DepartmentId],
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::Dispatcher], command.verb())?;
        if self.status.is_final() || self.status == Status::Resolved {
            return Err(Error::IllegalTransition { command: command.verb(), status: self.status.name() });
        }
        if self.tier.unwrap_or(Tier::Grid) < Tier::Street {
            return Err(Error::IllegalTransition {
                command: command.verb(),
                status: "below the street (escalate it first)",
            });
        }
        if departments.is_empty() || departments.len() > SUMMONED_MAX {
            return Err(Error::invalid("departments", "a summons names 1 to 8 departments"));
        }
        for (i, department) in departments.iter().enumerate() {
            ctx.catalog.department(department)?;
            let pending = self.summons.iter().any(|s| &s.department == department && !s.reported);
            if pending || departments[..i].contains(department) {
                return Err(Error::invalid("departments", format!("{department} is already summoned")));
            }
        }
        let report_by = ctx.now.plus(ctx.routing.summons_report_within);
        Ok(vec![TicketEvent::Summoned { departments: departments.to_vec(), report_by }])
    }

    fn decide_feedback(
        &self,
        rating: Rating,
        comment: &str,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<TicketEvent>, Error> {
        self.feedback_refusal(actor, ctx.now).map_or(Ok(()), Err)?;
        let comment = bounded_text("comment", comment, true)?;
        let mut events = vec![TicketEvent::FeedbackGiven { rating, comment }];
        if rating == Rating::Unsatisfied {
            events.extend(self.reopen("unsatisfied feedback".into(), ctx)?);
        }
        Ok(events)
    }

    /// Whether `actor` may rate the ticket at `now`: what the resident's
    /// page asks before it shows the feedback form, by the rule
    /// `GiveFeedback` is decided on.
    pub fn may_give_feedback(&self, actor: &Actor, now: Timestamp) -> bool {
        self.feedback_refusal(actor, now).is_none()
    }

    /// Why `actor` may not rate the ticket at `now`, if they may not.
    fn feedback_refusal(&self, actor: &Actor, now: Timestamp) -> Option<Error> {
        const VERB: &str = "give feedback";
        let refused = permit(actor, &[Role::Resident, Role::Dispatcher], VERB)
            .and_then(|()| self.check_own_resident(actor))
            .err();
        if refused.is_some() {
            return refused;
        }
        let status = if self.status != Status::Resolved {
            self.status.name()
        } else if self.feedback_by.is_some_and(|by| now > by) {
            "past its feedback window"
        } else if self.feedback.is_some() {
            "already rated"
        } else {
            return None;
        };
        Some(Error::IllegalTransition { command: VERB, status })
    }

    /// The holder the actor speaks for, or `NotHolder`.
    fn check_holder(&self, actor: &Actor) -> Result<Assignee, Error> {
        match &self.holder {
            Some(holder) if holder.is_spoken_for_by(actor) => Ok(holder.clone()),
            _ => Err(Error::NotHolder { ticket: self.id_string(), who: format!("{} {}", actor.role.name(), actor.id) }),
        }
    }

    /// A resident may act only on their own ticket.
    fn check_own_resident(&self, actor: &Actor) -> Result<(), Error> {
        let own = self.resident.as_ref().is_some_and(|r| r.as_str() == actor.id.as_str());
        if actor.role == Role::Resident && !own {
            return Err(Error::NotPermitted { role: "resident", command: "act on another resident's ticket" });
        }
        Ok(())
    }

    /// Volunteers and teams only for admitted items that are not department
    /// items; grid workers only for admitted items (as `SelfHandle`);
    /// departments must exist.
    fn check_assignee(&self, to: &Assignee, ctx: &Context) -> Result<(), Error> {
        let entry = ctx.catalog.item(self.item())?;
        if to.goes_to_grid() && !entry.dispatchable_to_grid() {
            return Err(not_admitted(entry));
        }
        if matches!(to, Assignee::GridWorker(_)) && !entry.admitted {
            return Err(not_admitted(entry));
        }
        if let Assignee::Department(d) = to {
            ctx.catalog.department(d).map_err(|_| Error::UnknownReference { kind: "department", id: d.to_string() })?;
        }
        Ok(())
    }

    fn item(&self) -> &ItemCode {
        self.item.as_ref().expect("a submitted ticket has an item")
    }

    fn id_string(&self) -> String {
        self.id.as_ref().map_or_else(String::new, ToString::to_string)
    }
}

/// When a tier must have taken a ticket escalated or reopened to it.
fn respond_by(tier: Tier, ctx: &Context) -> Timestamp {
    let within = match tier {
        Tier::Grid | Tier::Community => ctx.routing.respond_within.community,
        Tier::Street => ctx.routing.respond_within.street,
        Tier::District => ctx.routing.respond_within.district,
    };
    ctx.now.plus(within)
}

/// What a holder did: a result, the minutes spent, after-photos.
type Work<'a> = (&'a str, u32, &'a [BlobHash]);

// ---------------------------------------------------------------- field
// The grid worker's commands (巡查发现, 巡办合一, 巡办协同).
impl Ticket {
    /// A problem found on patrol: a grid worker's order for no resident.
    fn decide_report(
        &self,
        id: &TicketId,
        found: &Found,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::GridWorker], "report a problem found on patrol")?;
        let order = Order {
            item: &found.item,
            grid: &found.grid,
            resident: None,
            description: &found.description,
            urgency: Urgency::Normal,
            channel: Channel::Patrol,
        };
        self.decide_submit(id, order, found.location, &found.photos, actor, ctx)
    }

    /// 巡办合一: the report, the worker taking it and the resolution, each
    /// decided by its own rule on the state the previous one leaves, so
    /// nothing here is a second copy of those rules.
    fn decide_on_spot(
        &self,
        id: &TicketId,
        found: &Found,
        work: Work<'_>,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        let mut events = self.decide_report(id, found, actor, ctx)?;
        let mut state = self.clone();
        fold_into(&mut state, &events, ctx.now);
        let taken = state.decide_self_handle(actor, ctx, command)?;
        fold_into(&mut state, &taken, ctx.now);
        events.extend(taken);
        let (result, minutes_spent, photos) = work;
        events.extend(state.decide_resolve(result, minutes_spent, photos, actor, ctx, command)?);
        Ok(events)
    }

    /// 巡办协同: the worker takes the ticket if it waits for dispatch (or
    /// holds it already), and records their part and the children.
    fn decide_coordinate(
        &self,
        id: &TicketId,
        work: Work<'_>,
        children: &[TicketId],
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::GridWorker], command.verb())?;
        if !self.children.is_empty() {
            return Err(Error::IllegalTransition { command: command.verb(), status: "coordinated already" });
        }
        if children.is_empty() || children.len() > CHILDREN_MAX {
            return Err(Error::invalid("children", format!("1 to {CHILDREN_MAX} child tickets")));
        }
        let mut seen = std::collections::BTreeSet::new();
        if children.iter().any(|c| c == id || !seen.insert(c)) {
            return Err(Error::invalid("children", "each child once, and not the ticket itself"));
        }
        let mut events = Vec::new();
        let mut state = self.clone();
        if self.status.awaits_dispatch() {
            events = self.decide_self_handle(actor, ctx, command)?;
            fold_into(&mut state, &events, ctx.now);
        }
        if !state.status.is_held() || state.holder != Some(Assignee::GridWorker(actor.id.clone())) {
            return Err(self.illegal(command));
        }
        let (done, minutes_spent, photos) = work;
        if minutes_spent > MINUTES_SPENT_MAX {
            return Err(Error::invalid("minutes spent", "must be at most 30 days"));
        }
        events.push(TicketEvent::Coordinated {
            done: bounded_text("done", done, false)?,
            minutes_spent,
            photos: checked_photos(photos, RESULT_PHOTOS_MAX)?,
            children: children.to_vec(),
        });
        Ok(events)
    }

    /// A child settled: recorded once; the last one resolves the ticket
    /// with the worker's part as its result.
    fn decide_settle_child(
        &self,
        child: &TicketId,
        actor: &Actor,
        ctx: &Context,
        command: &TicketCommand,
    ) -> Result<Vec<TicketEvent>, Error> {
        permit(actor, &[Role::System, Role::Dispatcher], command.verb())?;
        if self.status.is_final() {
            return Err(self.illegal(command));
        }
        if !self.children.iter().any(|c| &c.ticket == child && !c.settled) {
            return Err(Error::IllegalTransition { command: command.verb(), status: "not waiting for that child" });
        }
        let mut events = vec![TicketEvent::ChildSettled { child: child.clone() }];
        let last = self.children.iter().all(|c| c.settled || &c.ticket == child);
        if let (true, true, Some(part), Some(by)) = (last, self.status.is_held(), &self.part, &self.holder) {
            let window = ctx.catalog.item(self.item())?.sla.feedback_window;
            events.push(TicketEvent::Resolved {
                by: by.clone(),
                result: part.done.clone(),
                minutes_spent: part.minutes_spent,
                feedback_by: ctx.now.plus(window),
                photos: part.photos.clone(),
            });
        }
        Ok(events)
    }

    /// Whether the ticket waits for linked child tickets before it may be
    /// resolved.
    pub fn awaits_children(&self) -> bool {
        self.children.iter().any(|c| !c.settled)
    }
}

fn fold_into(state: &mut Ticket, events: &[TicketEvent], at: Timestamp) {
    for event in events {
        state.evolve(event, at);
    }
}

fn permit(actor: &Actor, roles: &[Role], verb: &'static str) -> Result<(), Error> {
    // A grid head does on a ticket whatever a grid worker may.
    let field = actor.role == Role::GridHead && roles.contains(&Role::GridWorker);
    if roles.contains(&actor.role) || field {
        Ok(())
    } else {
        Err(Error::NotPermitted { role: actor.role.name(), command: verb })
    }
}

/// The events of a decision, followed by the calendar its deadlines were
/// counted on when any of them is in working days.
fn with_calendar(
    mut events: Vec<TicketEvent>,
    deadlines: impl IntoIterator<Item = crate::catalog::Deadline>,
) -> Vec<TicketEvent> {
    if let Some(calendar) = deadlines.into_iter().find_map(|d| d.calendar) {
        events.push(TicketEvent::CountedInWorkingDays { calendar });
    }
    events
}

fn not_admitted(entry: &crate::catalog::CatalogItem) -> Error {
    Error::NotAdmitted { item: entry.code.to_string(), department: entry.department.to_string() }
}

/// The resident an order is for: a resident orders for themself (naming
/// nobody, or themself); anyone else who may submit (a grid worker on
/// patrol, a dispatcher taking a call) names the resident.
pub fn resident_for(actor: &Actor, named: Option<ResidentId>) -> Result<ResidentId, Error> {
    match (actor.role, named) {
        (Role::Resident, None) => ResidentId::new(actor.id.as_str()),
        (Role::Resident, Some(other)) if other.as_str() != actor.id.as_str() => {
            Err(Error::NotPermitted { role: "resident", command: "submit for another resident" })
        }
        (_, Some(resident)) => Ok(resident),
        (_, None) => Err(Error::invalid("resident", "name the resident this order is for")),
    }
}
