//! The dispatcher console: a web page served by the same process and
//! answered by the same API, with the same tokens.
//!
//! # Map
//!
//! - This file: [`routes`], the page at `/` and its two assets, embedded in
//!   the binary (`assets/console.*`), so the console makes no request to any
//!   other host; every page answer carries a Content-Security-Policy that
//!   says so to the browser too.
//! - [`api`]: the JSON routes the console needs beyond the ticket API, under
//!   `/api/v1` ([`api_routes`]): who the caller is (`/me`, with the emergency
//!   modes around their place), the open board sorted for a dispatcher
//!   (`/board`), a ticket's suggested candidates from the routing policy
//!   (`/tickets/{id}/candidates`), rates over time per place
//!   (`/metrics/series`), and the emergency switch
//!   (`/emergency/{place}/{action}`).
//! - [`intake`]: `/intake`, a phone call or a walk-in logged (the caller's
//!   name, phone and address to the personal store, the order for them).
//! - [`map`]: `/board/map` and `/metrics/map`, the grids as SVG drawn from
//!   their boundaries, shaded by open tickets or by a rate.
//! - [`names`]: names beside ids (residents masked, to those who may read
//!   them); [`search`]: the board's `q=` (an id, a phone's last digits,
//!   words) and the descriptions it searches.
//! - [`stream`]: `/console/stream`, server-sent events fed by the live
//!   projections, so the board moves within a second of any event.
//!
//! # Why a static page
//!
//! The page is one HTML file, one stylesheet and one script of plain
//! JavaScript calling the JSON API: no build step, no framework, nothing to
//! vendor. The token is typed once and kept in the tab's `sessionStorage`;
//! it travels in the `Authorization` header, also for the event stream
//! (read with `fetch`, since `EventSource` cannot send headers), so it never
//! lands in a URL or a log.

pub mod api;
pub mod intake;
pub mod map;
pub mod names;
pub mod search;
pub mod stream;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use gridloop_engine::store::EventStore;

use crate::openapi::Routes;

/// The page.
pub const PAGE_HTML: &str = include_str!("../../assets/console.html");
/// Its script.
pub const SCRIPT_JS: &str = include_str!("../../assets/console.js");
/// Its stylesheet.
pub const STYLE_CSS: &str = include_str!("../../assets/console.css");

/// Nothing but this origin: scripts, styles, fetches and images (charts are
/// inline SVG; the CSV export is a `blob:` download).
pub const CONTENT_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data: blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page and its assets; the event stream.
pub fn routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::{Access, Read};
    Routes::new()
        .add(__path_page, page, Access::Public)
        .add(__path_script, script, Access::Public)
        .add(__path_style, style, Access::Public)
        .add(__path_favicon, favicon, Access::Public)
        .add(stream::__path_events, stream::events::<S>, Access::Read(Read::Board))
}

/// The JSON routes of the console, to nest under `/api/v1` with the rest.
pub fn api_routes<S: EventStore>() -> Routes<S> {
    use gridloop_engine::permit::{Access, Read, Write};
    Routes::new()
        .add(api::__path_me, api::me::<S>, Access::Read(Read::Reference))
        .add(api::__path_board, api::board::<S>, Access::Read(Read::Board))
        .add(api::__path_candidates, api::candidates::<S>, Access::Read(Read::Board))
        .add(api::__path_series, api::series::<S>, Access::Read(Read::Metrics))
        .add(api::__path_switch_emergency, api::switch_emergency::<S>, Access::Write(Write::Emergency))
        .add(api::__path_audit, api::audit::<S>, Access::Read(Read::History))
        .add(intake::__path_intake, intake::intake::<S>, Access::Write(Write::Intake))
        .add(map::__path_board_map, map::board_map::<S>, Access::Read(Read::Board))
        .add(map::__path_metrics_map, map::metrics_map::<S>, Access::Read(Read::Metrics))
}

/// `GET /`: the console.
#[utoipa::path(get, path = "/", operation_id = "console", tag = "console", summary = "The dispatcher console (one page)",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

#[utoipa::path(get, path = "/console/app.js", operation_id = "console_script", tag = "console", summary = "The console's script",
    responses((status = 200, description = "The script", body = String, content_type = "text/javascript")))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT_JS)
}

#[utoipa::path(get, path = "/console/app.css", operation_id = "console_style", tag = "console", summary = "The console's stylesheet",
    responses((status = 200, description = "The stylesheet", body = String, content_type = "text/css")))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// No icon: an empty answer, so browsers stop asking.
#[utoipa::path(get, path = "/favicon.ico", operation_id = "favicon", tag = "console", summary = "No icon",
    responses((status = 204, description = "Nothing")))]
async fn favicon() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// An embedded asset. `no-cache` makes the browser revalidate, so a new
/// binary's console is picked up at once.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, CONTENT_POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
