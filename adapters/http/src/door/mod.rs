//! The resident's door (居民点单): the pages a resident reaches by scanning
//! a grid's QR code, and the JSON routes they call.
//!
//! # Map
//!
//! - This file: [`Door`] (the order limits and the confirm-phone option),
//!   [`routes`] (the pages: `/r` and `/r/g/{grid}` to order, `/r/me` for
//!   "my requests", `/r/t/{id}` for one ticket, the QR code of a grid and
//!   the printable sheet of a community) and [`api_routes`] (their JSON,
//!   under `/api/v1/resident/...`).
//! - [`account`]: one account per phone, personal links (capabilities
//!   stored hashed, each a resident [`Principal`](crate::Principal)), and
//!   one-time codes to link another device. The rules are the engine's
//!   (`gridloop_engine::account`); this maps them to HTTP.
//! - [`order`]: the catalog of admitted items, where a place is (grid code,
//!   location, address), open tickets of the same item and grid, photos,
//!   the order itself (held until the phone is confirmed when the
//!   deployment asks), and following an open ticket instead of a duplicate.
//! - [`track`]: "my requests", one ticket in plain words (timeline,
//!   deadlines, result, notices, whether feedback is open), and feedback.
//! - [`pages`]: the HTML (maud), the QR codes (SVG) and the sheet.
//!
//! # What the pages may do
//!
//! The pages only show what the API gives: statuses, their words in both
//! languages, deadlines and whether feedback is open all come from the
//! server, which asks the engine. The page script (`assets/door.js`) keeps
//! the resident's personal link in `localStorage` and sends it as a Bearer
//! token; the link itself travels in the URL's fragment (`/r/me#k=...`),
//! which browsers never send to a server, so it lands in no access log.

pub mod account;
pub mod order;
pub mod pages;
pub mod track;

use gridloop_engine::store::EventStore;

use crate::limits::{Rate, RateLimiter};
use crate::openapi::Routes;

/// Orders one client address may send: 3 at once, then 6 an hour.
pub const ORDERS_PER_CLIENT: Rate = Rate { per_hour: 6, burst: 3 };
/// Orders one grid may receive from the public pages: 10 at once, then 30
/// an hour (a posted QR code photographed and scripted from many addresses
/// still cannot flood one grid's queue).
pub const ORDERS_PER_GRID: Rate = Rate { per_hour: 30, burst: 10 };
/// Code requests and code tries one client address may make: 10 at once,
/// then 30 an hour (with the engine's 5 tries per code, guessing a code is
/// hopeless).
pub const CODES_PER_CLIENT: Rate = Rate { per_hour: 30, burst: 10 };
/// Photos one client address may upload: 9 at once, then 30 an hour.
pub const PHOTOS_PER_CLIENT: Rate = Rate { per_hour: 30, burst: 9 };

/// The door's limits and options, shared by its routes.
#[derive(Debug)]
pub struct Door {
    /// Whether an order waits for its phone to be confirmed with a code
    /// before it is submitted (`serve --confirm-phone`).
    pub confirm_phone: bool,
    /// The deployment's public URL, which QR codes point at (`None`: the
    /// `Host` the request came to, over http).
    pub public_url: Option<String>,
    pub(crate) orders_by_client: RateLimiter,
    pub(crate) orders_by_grid: RateLimiter,
    pub(crate) codes_by_client: RateLimiter,
    pub(crate) photos_by_client: RateLimiter,
}

impl Default for Door {
    fn default() -> Self {
        Self {
            confirm_phone: false,
            public_url: None,
            orders_by_client: RateLimiter::with_rate(ORDERS_PER_CLIENT),
            orders_by_grid: RateLimiter::with_rate(ORDERS_PER_GRID),
            codes_by_client: RateLimiter::with_rate(CODES_PER_CLIENT),
            photos_by_client: RateLimiter::with_rate(PHOTOS_PER_CLIENT),
        }
    }
}

/// The pages, their assets, the QR codes and the sheet.
pub fn routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::Access::Public;
    Routes::new()
        .add(pages::__path_order_anywhere, pages::order_anywhere::<S>, Public)
        .add(pages::__path_order_here, pages::order_here::<S>, Public)
        .add(pages::__path_mine, pages::mine, Public)
        .add(pages::__path_ticket, pages::ticket, Public)
        .add(pages::__path_script, pages::script, Public)
        .add(pages::__path_style, pages::style, Public)
        .add(pages::__path_qr, pages::qr::<S>, Public)
        .add(pages::__path_sheet, pages::sheet::<S>, Public)
        .add(pages::__path_sheets, pages::sheets::<S>, Public)
}

/// The JSON routes, to nest under `/api/v1`.
pub fn api_routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::{Access, Read, Write};
    const P: Access = Access::Public;
    Routes::new()
        .add(order::__path_catalog, order::catalog::<S>, P)
        .add(order::__path_place, order::place::<S>, P)
        .add(order::__path_open, order::open::<S>, P)
        .add(order::__path_photo, order::photo::<S>, P)
        .add(order::__path_order, order::order::<S>, P)
        .add(order::__path_confirm, order::confirm::<S>, P)
        .add(order::__path_follow, order::follow::<S>, P)
        .add(account::__path_send_code, account::send_code::<S>, P)
        .add(account::__path_link_device, account::link_device::<S>, P)
        .add(account::__path_me, account::me::<S>, Access::Read(Read::Account))
        .add(account::__path_new_link, account::new_link::<S>, Access::Write(Write::Account))
        .add(account::__path_revoke, account::revoke::<S>, Access::Write(Write::Account))
        .add(track::__path_requests, track::requests::<S>, Access::Read(Read::Tickets))
        .add(track::__path_show, track::show::<S>, Access::Read(Read::Ticket))
        .add(track::__path_photo, track::photo::<S>, Access::Read(Read::Ticket))
}

/// The client's address, when the server knows it ([`crate::server`] puts
/// it in every request): the public routes are limited per address.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Peer(info.map(|axum::extract::ConnectInfo(address)| address.ip())))
    }
}

impl Peer {
    /// The key of this client's buckets ([`crate::limits::client_key`]).
    pub fn key(self) -> [u8; 32] {
        crate::limits::client_key(self.0)
    }
}
