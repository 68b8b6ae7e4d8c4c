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
//!   status, the times, the department, and the place as its grid (code,
//!   name, and the centre of the grid's bounding box as `lat`/`long`).
//!   Never the resident's description, their point, or who they are.

use std::collections::{BTreeMap, BTreeSet};

use gridloop_engine::World;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, Level};
use gridloop_engine::ids::TicketId;
use gridloop_engine::ticket::{Status, Ticket};
use gridloop_engine::time::Timestamp;
use gridloop_projections::ProjectionError;
use gridloop_projections::runner::Projection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// When each ticket last changed, and the tickets by submission time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Ticket number → the time of its latest event.
    updated: BTreeMap<u64, Timestamp>,
    /// (submitted at, ticket number), in time order.
    submitted: BTreeSet<(Timestamp, u64)>,
}

impl Projection for Requests {
    const NAME: &'static str = "open311";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let number = TicketId::new(event.stream.id())?.number();
        if event.schema.name == "ticket.submitted" {
            self.submitted.insert((event.occurred_at, number));
        }
        self.updated.insert(number, event.occurred_at);
        Ok(())
    }
}

impl Requests {
    /// When ticket `id` last changed; `None` for a ticket never submitted.
    pub fn updated(&self, id: &TicketId) -> Option<Timestamp> {
        self.updated.get(&id.number()).copied()
    }

    /// The tickets submitted within `from..=to`, newest first.
    pub fn submitted_between(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = TicketId> + '_ {
        self.submitted.range((from, 0)..=(to, u64::MAX)).rev().map(|(_, number)| TicketId::from_number(*number))
    }
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

/// One request as a public read shows it; absent values are left out.
pub fn row(world: &World, ticket: &Ticket, updated: Option<Timestamp>) -> Value {
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
    put("status_notes", Some(json!(ticket.status.name())));
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
    Value::Object(row)
}

/// Micro-degrees as a JSON number of degrees (both operands are exact, so
/// the quotient prints as the shortest decimal, `21.27`, not `21.2699...`).
fn degrees(micro: i32) -> Value {
    serde_json::Number::from_f64(f64::from(micro) / 1e6).map_or(Value::Null, Value::Number)
}
