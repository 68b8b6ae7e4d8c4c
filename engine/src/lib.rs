//! gridloop-engine: the domain of the closed loop (居民点单 · 社区派单 ·
//! 志愿接单), with no I/O.
//!
//! # Map
//!
//! - [`time`], [`ids`], [`rng`]: values the rest is made of. Time is an
//!   input, randomness is seeded.
//! - [`grid`]: the grid tree and its codes; point and address lookup.
//! - [`catalog`]: what can be ordered, who handles it, how fast.
//! - [`ticket`], [`volunteer`], [`emergency`]: the aggregates, each a
//!   `decide`/`evolve` pair.
//! - [`envelope`]: the stored event's envelope and its hash chain.
//! - [`store`]: the [`EventStore`](store::EventStore) contract, the
//!   catch-up-then-live [`Subscription`](store::Subscription), and
//!   [`MemoryStore`](store::MemoryStore).
//! - [`service`]: the command service (load, decide, append, retry).
//! - [`routing`]: the routing policy: who a ticket is offered or assigned to.
//! - [`seal`]: signed digests over every stream's head (deleted streams,
//!   truncated logs).
//!
//! # Invariants
//!
//! - Nothing here opens a file or a socket, reads the clock, or depends on an
//!   async runtime: `tests/it/purity.rs` checks the dependency tree.
//! - `decide` holds every business rule; `evolve` holds none.
//! - Quantities are integers: milliseconds, micro-degrees, points, minutes.

pub mod catalog;
pub mod emergency;
pub mod envelope;
mod error;
pub mod grid;
pub mod ids;
pub mod personal;
pub mod rng;
pub mod routing;
pub mod seal;
pub mod service;
pub mod store;
pub mod ticket;
pub mod time;
pub mod volunteer;

pub use error::Error;

use catalog::Catalog;
use grid::GridTree;
use time::Timestamp;

/// The fixed facts of one deployment: its grid tree, catalog, which team
/// owns which place, and the routing policy.
#[derive(Debug, Default)]
pub struct World {
    pub grids: GridTree,
    pub catalog: Catalog,
    /// The volunteer team that owns each place (a community, usually); a
    /// grid's team is that of its nearest ancestor listed here.
    pub teams: std::collections::BTreeMap<grid::GridCode, ids::TeamId>,
    pub routing: routing::RoutingPolicy,
}

/// What `decide` may consult besides the aggregate's own state.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub now: Timestamp,
    pub catalog: &'a Catalog,
    pub grids: &'a GridTree,
    pub routing: &'a routing::RoutingPolicy,
    /// Whether the ticket's street or district is in emergency mode
    /// (平急转换); the command service reads it for submissions.
    pub emergency: bool,
}
