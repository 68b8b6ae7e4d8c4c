//! What anyone may read of a ticket without a token: Open311's public
//! reads (`GET requests`, `requests/{id}`, `tokens/{token}`), from a
//! projection, at the grid's resolution. Why these fields and no others is
//! `docs/adr/0004-open311-public-reads.md`.
//!
//! - [`Requests`]: the projection the reads add to the board's tickets
//!   (which hold status, item, grid and deadlines): when each ticket last
//!   changed, and the tickets by submission time, so a date window is a
//!   range of an ordered set, not a scan of the log. It is folded with the
//!   other live projections ([`crate::reads::Views`]), kept current by the
//!   one log follower and caught up by each read.
//! - [`row`]: one request as a public read shows it: the service, the
//!   status and its plain words ([`status_words`]), the times, the
//!   department, and the place as its grid (code, name, and the centre of
//!   the grid's bounding box as `lat`/`long`). Never the resident's
//!   description, their point, or who they are; the handler's result and
//!   the photos only to a caller the permit rule lets read the ticket
//!   ([`Reach::Permitted`]).
//! - [`Updates`]: every change of a ticket's status, by time, for
//!   mySociety's `servicerequestupdates`; [`update_row`] shows one.

use gridloop_engine::World;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, Level};
use gridloop_engine::ids::TicketId;
use gridloop_engine::ticket::{Status, Ticket};
use gridloop_engine::time::Timestamp;
use gridloop_projections::ProjectionError;
use gridloop_projections::cold::{Cold, numbered_key};
use gridloop_projections::runner::Projection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// When each ticket last changed, and the tickets by submission time: both
/// cold rows, so that neither grows memory with the length of history
/// (`docs/adr/0011-scale.md`). Keys: `open311/u/<number>` → the time of its
/// latest event; `open311/s/<submitted at><number>` → nothing (an ordered
/// index, read backwards for "newest first").
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Requests {
    #[serde(skip)]
    cold: Cold,
}

impl Projection for Requests {
    const NAME: &'static str = "open311";
    const VERSION: u32 = 2;

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        if event.schema.name == "ticket.submitted" {
            self.cold.put([SUBMITTED, &instant_key(event.occurred_at), &number.to_be_bytes()].concat(), Vec::new());
        }
        let at = event.occurred_at.as_millis().to_be_bytes().to_vec();
        self.cold.put(numbered_key(UPDATED, number), at);
        Ok(())
    }

    fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }
}

const UPDATED: &[u8] = b"open311/u/";
const SUBMITTED: &[u8] = b"open311/s/";
/// Board-owned rows: cleared with the board when it is rebuilt, since the
/// board's fold is what notes them.
const UPDATES: &[u8] = b"board/updates/";

/// An instant as 8 bytes whose byte order is time order (the sign bit
/// flipped, so that instants before 1970 sort first).
fn instant_key(at: Timestamp) -> [u8; 8] {
    ((at.as_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

fn instant_of(key: &[u8]) -> Option<Timestamp> {
    let bytes: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Timestamp::from_millis((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64).ok()
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

impl Requests {
    /// When ticket `id` last changed; `None` for a ticket never submitted
    /// (or, logged, when the cold store cannot be read).
    pub fn updated(&self, id: &TicketId) -> Option<Timestamp> {
        let row = self.cold.get(&numbered_key(UPDATED, id.number()));
        let bytes = row.inspect_err(|e| tracing::warn!(error = %e, "reading open311 rows")).ok()??;
        Timestamp::from_millis(i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?)).ok()
    }

    /// Up to `limit` tickets submitted within `from..=to`, newest first.
    pub fn submitted_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<TicketId>, ProjectionError> {
        let mut found = Vec::new();
        let mut before = [SUBMITTED, &instant_key(to), &[0xFF; 9]].concat();
        while found.len() < limit {
            let chunk = self.cold.scan(SUBMITTED, Some(&before), true, (limit - found.len()).min(1_000))?;
            let Some((last, _)) = chunk.last() else { break };
            before = last.clone();
            for (key, _) in &chunk {
                let rest = &key[SUBMITTED.len()..];
                if instant_of(rest).is_none_or(|at| at < from) {
                    return Ok(found);
                }
                found.extend(u64_at(rest, 8).map(TicketId::from_number));
            }
        }
        Ok(found)
    }
}

/// Every change of a ticket's status after its submission, in time order:
/// (when, ticket number, stream version, the status it changed to), as cold
/// rows `board/updates/<when><number><version>` → the status. Noted beside
/// the board by [`crate::reads::Views`], which knows the status before and
/// after each event, so a window of updates is a range of ordered keys, not
/// a scan of the log; the rows are committed with the board's snapshot and
/// dropped with it when the board is rebuilt.
#[derive(Clone, Debug, Default)]
pub struct Updates {
    cold: Cold,
}

impl Updates {
    /// Keeps the rows in `cold` (the board's).
    pub fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }

    /// Notes the event `event` of a ticket whose status went from `before`
    /// to `after`; an event that changed nothing, or submitted the ticket,
    /// is no update.
    pub fn note(&mut self, event: &RecordedEvent, before: Status, after: Status) -> Result<(), ProjectionError> {
        if before == after || before == Status::None {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        let key =
            [UPDATES, &instant_key(event.occurred_at), &number.to_be_bytes(), &event.version.to_be_bytes()].concat();
        let status = serde_json::to_vec(&after).map_err(|e| ProjectionError::SnapshotStore(e.to_string()))?;
        self.cold.put(key, status);
        Ok(())
    }

    /// Up to `limit` updates within `from..=to`, oldest first (a client pages
    /// forward by asking again from the last one it read).
    pub fn between(&self, from: Timestamp, to: Timestamp, limit: usize) -> Result<Vec<Update>, ProjectionError> {
        let mut found = Vec::new();
        let mut after = [UPDATES, &instant_key(from)].concat();
        while found.len() < limit {
            let chunk = self.cold.scan(UPDATES, Some(&after), false, (limit - found.len()).min(1_000))?;
            let Some((last, _)) = chunk.last() else { break };
            after = last.clone();
            for (key, value) in &chunk {
                let rest = &key[UPDATES.len()..];
                let (Some(at), Some(number), Some(version)) = (instant_of(rest), u64_at(rest, 8), u64_at(rest, 16))
                else {
                    return Err(ProjectionError::SnapshotStore("an update row does not decode".into()));
                };
                if at > to {
                    return Ok(found);
                }
                let status =
                    serde_json::from_slice(value).map_err(|e| ProjectionError::SnapshotStore(e.to_string()))?;
                found.push(Update { at, ticket: TicketId::from_number(number), version, status });
            }
        }
        Ok(found)
    }
}

/// One change of a ticket's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// When it changed.
    pub at: Timestamp,
    /// Which ticket.
    pub ticket: TicketId,
    /// The version of the ticket's stream that changed it: with the ticket
    /// it names the update, the same in every store the log moves to.
    pub version: u64,
    /// The status it changed to.
    pub status: Status,
}

/// One update as `servicerequestupdates` shows it (mySociety's fields):
/// plain words, never the handler's text, and no media (`docs/adr/0004`).
pub fn update_row(update: &Update) -> Value {
    json!({
        "update_id": format!("{}.{}", update.ticket, update.version),
        "service_request_id": update.ticket.as_str(),
        "status": extended_status(update.status),
        "external_status_code": status_code(update.status),
        "updated_datetime": update.at.to_string(),
        "description": status_words(update.status),
        "media_url": "",
    })
}

/// mySociety's extended statuses (FixMyStreet maps each to a state of its
/// own): what a civic client can show without knowing gridloop's statuses.
pub fn extended_status(status: Status) -> &'static str {
    match status {
        Status::None | Status::Submitted | Status::Reopened => "open",
        Status::Triaged | Status::Returned => "investigating",
        Status::Offered | Status::Accepted => "action_scheduled",
        Status::InProgress => "in_progress",
        Status::Escalated => "internal_referral",
        Status::Resolved => "fixed",
        Status::Closed => "closed",
        Status::Cancelled => "no_further_action",
        Status::Duplicate => "duplicate",
    }
}

/// The engine's status as a code (`in_progress`), for a client that maps
/// gridloop's own statuses (`external_status_code`).
pub fn status_code(status: Status) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// What a status means, in plain words: all a public read says of where a
/// request stands (`status_notes`, an update's `description`).
pub fn status_words(status: Status) -> &'static str {
    match status {
        Status::None | Status::Submitted => "Received; waiting to be looked at.",
        Status::Triaged => "Looked at; waiting for someone to be sent.",
        Status::Offered => "Offered to volunteers nearby; waiting for one to take it.",
        Status::Accepted => "Someone has taken it and will come.",
        Status::InProgress => "Someone is working on it.",
        Status::Escalated => "Passed up to the street or a department.",
        Status::Resolved => "Reported done; waiting for the resident to confirm.",
        Status::Reopened => "Reopened; waiting for someone to be sent again.",
        Status::Returned => "Sent back by a department; waiting for someone to be sent.",
        Status::Closed => "Done and closed.",
        Status::Cancelled => "Withdrawn; nothing more will be done.",
        Status::Duplicate => "The same as another request, which is followed instead.",
    }
}

/// How far a read may see into a ticket: the public's coarse view, or a
/// caller whom the permit rule lets read the ticket itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Anyone: the status in plain words, no result, no photos.
    Public,
    /// A caller who may read the ticket (`Read::Ticket`): the handler's
    /// result as `status_notes`, and a photo's URL as `media_url`.
    Permitted,
}

/// Open311's two statuses: a loop that ended is closed, any other is open.
pub fn is_closed(status: Status) -> bool {
    matches!(status, Status::Closed | Status::Cancelled | Status::Duplicate)
}

/// The place a public read shows for a ticket filed at `place`: its grid
/// (a sub-grid is shown as the grid it is in).
pub fn public_grid<'w>(world: &'w World, place: &GridCode) -> Option<&'w GridNode> {
    let grid = if place.level() > Level::Grid { place.at_level(Level::Grid)? } else { place.clone() };
    world.grids.get(&grid)
}

/// The centre of a node's bounding box: a point that names the grid and
/// nothing finer (for a concave grid it may fall just outside it; it is a
/// label for a map, not a location).
pub fn centre(node: &GridNode) -> Option<GeoPoint> {
    let lons = node.boundary.iter().map(|p| i64::from(p.lon));
    let lats = node.boundary.iter().map(|p| i64::from(p.lat));
    let mid = |values: &mut dyn Iterator<Item = i64>| {
        let (low, high) = values.fold((i64::MAX, i64::MIN), |(l, h), v| (l.min(v), h.max(v)));
        i32::try_from((low + high).div_euclid(2)).ok()
    };
    GeoPoint::new(mid(&mut lons.clone())?, mid(&mut lats.clone())?).ok()
}

/// One request as a read at `reach` shows it; absent values are left out.
pub fn row(world: &World, ticket: &Ticket, updated: Option<Timestamp>, reach: Reach) -> Value {
    let mut row = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            row.insert(key.to_string(), value);
        }
    };
    let time = |t: Option<Timestamp>| t.map(|t| Value::String(t.to_string()));
    let item = ticket.item.as_ref().and_then(|code| world.catalog.item(code).ok());
    let department = item.and_then(|i| world.catalog.department(&i.department).ok());
    let grid = ticket.grid.as_ref().and_then(|g| public_grid(world, g));
    let point = grid.and_then(centre);
    put("service_request_id", ticket.id.as_ref().map(|id| json!(id.as_str())));
    put("status", Some(json!(if is_closed(ticket.status) { "closed" } else { "open" })));
    put("status_notes", Some(json!(status_notes(ticket, reach))));
    put("service_name", item.map(|i| json!(i.name)));
    put("service_code", ticket.item.as_ref().map(|c| json!(c.as_str())));
    put("agency_responsible", department.map(|d| json!(d.name)));
    put("requested_datetime", time(ticket.submitted_at));
    put("updated_datetime", time(updated));
    put("expected_datetime", time(ticket.resolve_by));
    put("address", grid.map(|g| json!(g.name)));
    put("address_id", grid.map(|g| json!(g.code.as_str())));
    put("lat", point.map(|p| degrees(p.lat)));
    put("long", point.map(|p| degrees(p.lon)));
    put("media_url", media_url(ticket, reach).map(Value::String));
    Value::Object(row)
}

/// The handler's result once the ticket is resolved, for a caller who may
/// read the ticket; plain words for every other status and every other
/// caller (the result is free text, and may name the resident's home).
fn status_notes(ticket: &Ticket, reach: Reach) -> String {
    match (&ticket.result, reach) {
        (Some(result), Reach::Permitted) => result.clone(),
        _ => status_words(ticket.status).to_string(),
    }
}

/// Where a caller who may read the ticket fetches its first photo (the
/// order's, else the result's), with the same token: never for the public.
fn media_url(ticket: &Ticket, reach: Reach) -> Option<String> {
    let id = ticket.id.as_ref()?;
    let photo = ticket.order_photos.first().or(ticket.result_photos.first())?;
    (reach == Reach::Permitted).then(|| format!("/api/v1/tickets/{id}/photos/{photo}"))
}

/// Micro-degrees as a JSON number of degrees (both operands are exact, so
/// the quotient prints as the shortest decimal, `21.27`, not `21.2699...`).
fn degrees(micro: i32) -> Value {
    serde_json::Number::from_f64(f64::from(micro) / 1e6).map_or(Value::Null, Value::Number)
}
