//! The grid worker's workspace (网格员): patrols, problems found on patrol
//! (reported, handled on the spot, coordinated), orders on a resident's
//! behalf (`POST /tickets` naming the resident), and the phone page `/w`
//! that works offline.
//!
//! - [`api`]: the JSON routes under `/api/v1` (`/patrols/{action}`,
//!   `GET /patrols`, `/field/found`, `/field/coordinate/{id}`).
//! - [`pages`]: the page and its script (`assets/field.js`). The script
//!   queues an action taken without a connection in `localStorage` with
//!   the `Idempotency-Key` it was given when taken, sends the queue in
//!   order when the connection returns, and shows what still waits; the
//!   key makes a resend write nothing twice (`docs/field.md`).

pub mod api;
pub mod pages;

use gridloop_engine::store::EventStore;

use crate::openapi::Routes;

/// The page and its script.
pub fn routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::Access::Public;
    Routes::new().add(pages::__path_page, pages::page, Public).add(pages::__path_script, pages::script, Public)
}

/// The JSON routes, to nest under `/api/v1`.
pub fn api_routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::{Access, Read, Write};
    Routes::new()
        .add(api::__path_patrol, api::patrol::<S>, Access::Write(Write::Patrol))
        .add(api::__path_patrols, api::patrols::<S>, Access::Read(Read::Patrols))
        .add(api::__path_found, api::found::<S>, Access::Write(Write::Patrol))
        .add(api::__path_coordinate, api::coordinate::<S>, Access::Write(Write::Patrol))
}
