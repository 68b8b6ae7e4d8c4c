//! gridloop-projections: the read models folded from the event log.
//!
//! # Map
//!
//! - [`runner`]: the [`Projection`](runner::Projection) trait, checkpointed
//!   snapshots ([`SnapshotStore`](runner::SnapshotStore)), the
//!   [`Runner`](runner::Runner) that folds from a checkpoint.
//! - [`audit`]: a ticket's timeline as an auditor reads it, and the hash
//!   chain of a log or a stream checked event by event.
//! - [`board`]: the closed-loop board (every ticket's status, holder,
//!   deadlines, overdue) and the queues of open work.
//! - [`metrics`]: the completion-rate metrics for any cohort, place,
//!   department, team, category or period, as of any instant.
//! - [`ledger`]: volunteers' points, hours and services; the duty report.
//! - [`directory`]: who can be offered what (volunteers, teams, load).
//! - [`calendar`]: days, ISO weeks and months in China Standard Time.
//!
//! # Invariants
//!
//! - Projections only fold: nothing here sends a command (the policies
//!   that do live in `gridloop-policies`).
//! - Projections know no adapter: they read through the engine's
//!   `EventStore` and save through [`SnapshotStore`](runner::SnapshotStore).
//! - No `HashMap` in any state: a rebuild gives the same bytes as the live
//!   state.
//! - A projection's checkpoint is saved in the same blob as its state.
#![warn(missing_docs, unreachable_pub)]

pub mod audit;
pub mod board;
pub mod calendar;
pub mod cold;
pub mod directory;
pub mod ledger;
pub mod metrics;
pub mod patrols;
pub mod runner;
pub mod weekly;

pub use metrics::{By, Cohort, Metrics, Rate, Rates, Supervision};

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the log failed, or an event does not decode. Caller: for
    /// `Storage`, retry later; for `Corrupt`, stop and alert (see the
    /// engine's error codes).
    #[error(transparent)]
    Log(#[from] gridloop_engine::Error),
    /// An event arrived out of its stream's order (a gap or a replay of an
    /// older version). Caller: rebuild the projection from position 0; if it
    /// recurs, the log is corrupt.
    #[error("{stream} v{version} arrived out of order")]
    OutOfOrder {
        /// The stream the event belongs to, as `kind-id` (`ticket-42`).
        stream: String,
        /// The event's version in its stream, which was not the next one
        /// the projection expected.
        version: u64,
    },
    /// A saved snapshot does not decode (written by another version?).
    /// Caller: rebuild from position 0 (`gridloop replay`).
    #[error("snapshot {name} does not decode: {detail}")]
    Snapshot {
        /// The projection whose snapshot failed ([`runner::Projection::NAME`]).
        name: &'static str,
        /// The decoder's message, for the operator's log.
        detail: String,
    },
    /// The snapshot store failed. Caller: retry; the projection still holds
    /// its state in memory.
    #[error("saving snapshot failed: {0}")]
    SnapshotStore(String),
    /// An event of the log does not verify: a gap in its stream's
    /// versions, a hash that does not match or does not chain, or a
    /// position out of order. Caller: stop and alert; the log was altered
    /// or damaged at that event.
    #[error("{0}")]
    Unverified(audit::ChainBreak),
}
