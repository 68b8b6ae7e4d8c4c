//! gridloop-policies: the log's followers, and the policies that send
//! commands.
//!
//! Projections (in `gridloop-projections`) only fold; what reacts to the log
//! by sending commands lives here, with the one loop that follows the log.
//!
//! # Map
//!
//! - [`follower`]: the [`Follow`](follower::Follow) trait and the one loop
//!   ([`follower::run`]) every long-running reader of the log uses: catch
//!   up, act, wait; back off on a failing store; stop on a corrupt log.
//! - [`deadlines`]: the deadline index, and the timer commands it calls for
//!   (expire an offer, escalate, close after the feedback window).
//! - [`timers`]: the task that fires them (`gridloop serve`).
//! - [`dispatch`]: the dispatcher policy (社区派单) for a ticket waiting for
//!   dispatch; [`autodispatch`] is its task (`serve --auto-dispatch`).
//! - [`saved`]: where the followers keep their snapshots (the server's
//!   cold store, under each policy's name), so a restart reads the tail.
//! - [`points`]: the points policy, which turns closed tickets into
//!   `AwardPoints` commands.
//!
//! # Errors
//!
//! The crate adds no failure of its own: a policy fails when the engine
//! refuses or the store fails, so its functions answer the engine's
//! [`Error`](gridloop_engine::Error) (the points policy, a projection's
//! fold, `ProjectionError`).
//!
//! # Invariants
//!
//! - Every command a policy sends carries an id derived from the event or
//!   ticket version it reacts to: a policy that runs twice, or after a
//!   restart, writes nothing twice.
//! - No follower hand-writes a read loop: they walk the log with
//!   `EventStore::scan` through [`follower`].
#![warn(missing_docs, unreachable_pub)]

pub mod autodispatch;
pub mod coordination;
pub mod deadlines;
pub mod dispatch;
pub mod follower;
pub mod points;
pub mod saved;
pub mod timers;
