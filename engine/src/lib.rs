//! gridloop-engine: the domain of the closed loop (居民点单 · 社区派单 ·
//! 志愿接单), with no I/O.
//!
//! # Map
//!
//! - [`time`], [`ids`], [`rng`]: values the rest is made of. Time is an
//!   input, randomness is seeded.
//! - [`grid`]: the grid tree and its codes; point and address lookup.
//! - [`catalog`]: what can be ordered, who handles it, how fast.
//! - [`ticket`], [`volunteer`], [`emergency`], [`patrol`]: the aggregates, each a
//!   `decide`/`evolve` pair.
//! - [`text`]: the one rule for free text at the boundary (NFC, no
//!   control, bidi-override or non-characters, not only invisible).
//! - [`envelope`]: the stored event's envelope and its hash chain.
//! - [`store`]: the [`EventStore`](store::EventStore) contract, the
//!   catch-up-then-live [`Subscription`](store::Subscription), and
//!   [`MemoryStore`](store::MemoryStore).
//! - [`service`]: the command service (load, decide, append, retry).
//! - [`due`]: whether a ticket is due against a deadline at an instant, and
//!   met or missed it (the rates and the overdue flag both ask it).
//! - [`routing`]: the routing policy: who a ticket is offered or assigned to.
//! - [`world`]: the district, grids, catalog, teams, staff and routing as
//!   events (a bundle's import is their difference).
//! - [`seal`]: signed digests over every stream's head (deleted streams,
//!   truncated logs).
//!
//! # Invariants
//!
//! - Nothing here opens a file or a socket, reads the clock, or depends on an
//!   async runtime: `tests/it/purity.rs` checks the dependency tree.
//! - `decide` holds every business rule; `evolve` holds none.
//! - Quantities are integers: milliseconds, micro-degrees, points, minutes.
#![warn(missing_docs, unreachable_pub)]

pub mod account;
pub mod blob;
pub mod catalog;
pub mod due;
pub mod emergency;
pub mod envelope;
mod error;
pub mod grid;
pub mod ids;
pub mod patrol;
pub mod permit;
pub mod personal;
pub mod rng;
pub mod routing;
pub mod seal;
pub mod service;
pub mod store;
pub mod text;
pub mod ticket;
pub mod time;
pub mod volunteer;
pub mod weekly;
pub mod workdays;
pub mod world;

pub use error::Error;

use catalog::Catalog;
use grid::GridTree;
use time::Timestamp;

/// The facts of one deployment, as they stand at one moment: its district,
/// grid tree, catalog, teams (and which owns which place), staff and
/// routing policy. Folded from the world stream (`world::WorldState`);
/// tests may build one directly.
#[derive(Debug, Default)]
pub struct World {
    /// The district this deployment serves, once the world stream has declared
    /// it; `None` before setup.
    pub district: Option<world::DistrictInfo>,
    /// The grid tree (district, streets, communities, grids) that tickets are
    /// filed against and routed within.
    pub grids: GridTree,
    /// What residents can order, which tier handles each item and how fast it
    /// must be answered.
    pub catalog: Catalog,
    /// The volunteer team that owns each place (a community, usually); a
    /// grid's team is that of its nearest ancestor listed here.
    pub owners: std::collections::BTreeMap<grid::GridCode, ids::TeamId>,
    /// Each volunteer team by id: its name, members and settings.
    pub teams: std::collections::BTreeMap<ids::TeamId, world::Team>,
    /// Each staff member (dispatcher or admin) by actor id, with the place and
    /// tier they answer for.
    pub staff: std::collections::BTreeMap<ids::ActorId, world::StaffMember>,
    /// The routing policy: whom a new ticket is offered or assigned to, in what
    /// rounds.
    pub routing: routing::RoutingPolicy,
    /// The working-day calendar limits in working days are counted on;
    /// Monday to Friday until the deployment sets its own.
    pub calendar: workdays::Calendar,
}

impl World {
    /// The context a command is decided in against this world at `now`.
    pub fn context(&self, now: Timestamp, emergency: bool) -> Context<'_> {
        Context {
            now,
            catalog: &self.catalog,
            grids: &self.grids,
            routing: &self.routing,
            emergency,
            calendar: &self.calendar,
        }
    }

    /// What the district calls a level (`街道`, `镇`), or the English name
    /// when the world names none.
    pub fn level_name(&self, level: grid::Level) -> &str {
        match &self.district {
            Some(d) if !d.level_name(level).is_empty() => d.level_name(level),
            _ => level.name(),
        }
    }
}

/// What `decide` may consult besides the aggregate's own state.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The moment the command is decided at, given by the caller (the engine
    /// never reads the clock); deadlines are computed from it.
    pub now: Timestamp,
    /// The catalog, to look up the ordered item's tier and time limits.
    pub catalog: &'a Catalog,
    /// The grid tree, to resolve a ticket's place and walk up its tiers.
    pub grids: &'a GridTree,
    /// The routing policy, to choose offers and assignees.
    pub routing: &'a routing::RoutingPolicy,
    /// Whether the ticket's street or district is in emergency mode
    /// (平急转换); the command service reads it for submissions.
    pub emergency: bool,
    /// The working-day calendar, for limits given in working days.
    pub calendar: &'a workdays::Calendar,
}
