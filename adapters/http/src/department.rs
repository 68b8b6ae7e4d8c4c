//! The department's desktop page at `/d/` (where the console sends a
//! department's token): its queue, soonest deadline first, and per ticket
//! the timeline and the forms of the actions the API lists.
//!
//! Like the console, one HTML shell, one stylesheet and one script of plain
//! JavaScript embedded in the binary (`assets/department.*`), answered by
//! the same JSON API with the same token: the page keeps no rule of its
//! own, it shows the ticket's `actions` as the engine decided them.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use gridloop_engine::permit::Access;
use gridloop_engine::store::EventStore;

use crate::openapi::Routes;

/// The page.
pub const PAGE_HTML: &str = include_str!("../assets/department.html");
/// Its script.
pub const SCRIPT_JS: &str = include_str!("../assets/department.js");
/// Its stylesheet.
pub const STYLE_CSS: &str = include_str!("../assets/department.css");

/// The page and its two assets, public as the console's are: what they
/// show comes from the API, which asks for the token.
pub fn routes<S: EventStore>() -> Routes<S> {
    Routes::new().add(__path_page, page, Access::Public).add(__path_script, script, Access::Public).add(
        __path_style,
        style,
        Access::Public,
    )
}

/// `GET /d/`: the department's workspace.
#[utoipa::path(get, path = "/d/", operation_id = "department_page", tag = "department", summary = "The department's workspace (one page)",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

#[utoipa::path(get, path = "/d/app.js", operation_id = "department_script", tag = "department", summary = "The department page's script",
    responses((status = 200, description = "The script", body = String, content_type = "text/javascript")))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT_JS)
}

#[utoipa::path(get, path = "/d/app.css", operation_id = "department_style", tag = "department", summary = "The department page's stylesheet",
    responses((status = 200, description = "The stylesheet", body = String, content_type = "text/css")))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// An embedded asset under the console's Content-Security-Policy (nothing
/// but this origin); `no-cache` so a new binary's page is picked up at once.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, crate::console::CONTENT_POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
