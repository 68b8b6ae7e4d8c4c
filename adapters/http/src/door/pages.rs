//! The resident's pages as HTML (maud: checked when compiled, every piece
//! of text escaped), the QR code of each grid (SVG, drawn in Rust) and the
//! printable sheet of a community's codes.
//!
//! The pages are shells: the script (`assets/door.js`) fills them from the
//! JSON routes, in the language the resident chose (zh-CN by default, the
//! same `gridloop.lang` setting as the console). Every element a test
//! drives has a stable `id` or `data-test` attribute.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use gridloop_engine::Error;
use gridloop_engine::World;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::TicketId;
use gridloop_engine::store::EventStore;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::error::Path;
use crate::{AppError, AppState};

/// The pages' script.
pub const SCRIPT_JS: &str = include_str!("../../assets/door.js");
/// The pages' stylesheet (with the sheet's A4 print rules).
pub const STYLE_CSS: &str = include_str!("../../assets/door.css");
/// The most grids one sheet prints.
pub const SHEET_GRIDS_MAX: usize = 500;
/// The longest base URL a QR code is made for.
pub const BASE_URL_CHARS_MAX: usize = 200;

/// The URL of a grid's order page (what its QR code holds).
pub fn grid_url(base: &str, grid: &GridCode) -> String {
    format!("{}/r/g/{}", base.trim_end_matches('/'), grid)
}

/// The QR code of `text` as an SVG element.
pub fn qr_svg(text: &str) -> Result<String, Error> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| Error::invalid("url", format!("cannot be a QR code: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The printable sheet of `community`: one QR code per grid in it, with the
/// grid's name and code, A4 (the stylesheet's print rules). `base` is the
/// deployment's public URL.
pub fn sheet_html(world: &World, community: &GridCode, base: &str) -> Result<String, Error> {
    let node = world.grids.require(community)?;
    if community.level() != Level::Community {
        return Err(Error::invalid("community", format!("{community} is not a community")));
    }
    let grids: Vec<_> =
        world.grids.at_level(Level::Grid).filter(|g| g.code.is_within(community)).take(SHEET_GRIDS_MAX).collect();
    let mut cards = Vec::with_capacity(grids.len());
    for grid in grids {
        let url = grid_url(base, &grid.code);
        // Inside HTML the SVG goes without its XML declaration.
        let svg = qr_svg(&url)?;
        let svg = svg.split_once("?>").map_or(svg.as_str(), |(_, element)| element).to_string();
        cards.push((grid.code.to_string(), grid.name.clone(), grid.name_en.clone(), svg, url));
    }
    let page = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (node.name) " · 扫码报事 QR codes" }
                link rel="stylesheet" href="/r/app.css";
            }
            body.sheet data-test="qr-sheet" {
                header.sheet-head {
                    h1 { (node.name) " " span lang="en" { (node.name_en) } }
                    p { "扫码报事 · Scan to report a problem in your grid" }
                }
                main.cards {
                    @for (code, name, name_en, svg, url) in &cards {
                        section.card data-test="qr-card" data-grid=(code) {
                            div.qr { (PreEscaped(svg)) }
                            h2 { (name) }
                            p.en lang="en" { (name_en) }
                            p.code { code { (code) } }
                            p.url { (url) }
                        }
                    }
                }
            }
        }
    };
    Ok(page.into_string())
}

/// The base URL of this server as the request reached it: its `Host`
/// (checked to be a host name and port) over http, unless the deployment
/// names one ([`super::Door::public_url`]).
pub(crate) fn base_url<S>(state: &AppState<S>, headers: &HeaderMap) -> String {
    if let Some(url) = &state.door.public_url {
        return url.clone();
    }
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let plain = host.len() <= 100 && host.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    format!("http://{}", if plain { host } else { "localhost" })
}

fn shell(page: &str, title: &str, data: &[(&str, &str)], body: Markup) -> Response {
    let grid = data.iter().find(|(k, _)| *k == "grid").map(|(_, v)| *v).unwrap_or("");
    let ticket = data.iter().find(|(k, _)| *k == "ticket").map(|(_, v)| *v).unwrap_or("");
    let qr = data.iter().any(|(k, _)| *k == "qr");
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/r/app.css";
                script src="/r/app.js" defer {}
            }
            body data-page=(page) data-grid=(grid) data-ticket=(ticket) data-qr=(if qr { "1" } else { "" }) {
                header.top {
                    a id="home" href="/r/me" data-t="my_requests" { "我的诉求" }
                    button id="lang" type="button" lang="en" data-test="lang" { "English" }
                }
                p.notice id="notice" role="status" aria-live="polite" hidden {}
                main id="main" { (body) }
            }
        }
    };
    page_response("text/html; charset=utf-8", markup.into_string())
}

fn page_response(content_type: &'static str, body: String) -> Response {
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

/// The order form; the script fills its lists and words.
fn order_form(place: Option<&super::order::ResidentPlace>) -> Markup {
    html! {
        h1 data-t="order_title" { "我要报事" }
        section id="place" data-test="place" {
            @if let Some(place) = place {
                p id="place-name" data-test="place-name" data-grid=(place.grid) {
                    span lang="zh-CN" { (place.name) } " · " span lang="en" { (place.name_en) }
                }
            } @else {
                p id="place-name" data-test="place-name" {}
                button id="locate" type="button" data-test="locate" data-t="use_location" { "使用我的位置" }
                label for="address" data-t="or_address" { "或输入地址" }
                input id="address" type="text" maxlength="200" data-test="address";
                button id="find" type="button" data-test="find-address" data-t="find" { "查找" }
            }
        }
        form id="order" data-test="order-form" {
            label for="search" data-t="search_items" { "搜索事项" }
            input id="search" type="search" maxlength="40" data-test="item-search";
            div id="items" data-test="items" {}
            section id="already" data-test="already" hidden {}
            label for="description" data-t="description" { "情况描述" }
            textarea id="description" maxlength="2000" required data-test="description" {}
            label for="photos" data-t="photos" { "照片（最多3张）" }
            input id="photos" type="file" accept="image/jpeg,image/png,image/webp" multiple data-test="photos";
            fieldset id="urgency" data-test="urgency" {
                legend data-t="urgency" { "紧急程度" }
                label { input type="radio" name="urgency" value="normal" checked; span data-t="normal" { "一般" } }
                label { input type="radio" name="urgency" value="urgent"; span data-t="urgent" { "紧急" } }
            }
            section id="contact" data-test="contact" {
                label for="name" data-t="name" { "姓名" }
                input id="name" type="text" maxlength="200" autocomplete="name" data-test="name";
                label for="phone" data-t="phone" { "手机号" }
                input id="phone" type="tel" maxlength="40" autocomplete="tel" data-test="phone";
                label for="email" data-t="email" { "电子邮箱（选填）" }
                input id="email" type="email" maxlength="200" autocomplete="email" data-test="email";
            }
            button id="send" type="submit" data-test="send" data-t="send" { "提交" }
        }
        section id="confirm" data-test="confirm" hidden {
            label for="code" data-t="code" { "验证码" }
            input id="code" type="text" inputmode="numeric" maxlength="12" data-test="code";
            button id="confirm-send" type="button" data-test="confirm-send" data-t="confirm" { "确认" }
        }
        section id="done" data-test="done" hidden {}
    }
}

/// `GET /r`: the order page without a place (location or address).
#[utoipa::path(get, path = "/r", operation_id = "resident_page_order", tag = "resident pages",
    summary = "The resident's order page (place by location or address)",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
pub(crate) async fn order_anywhere<S: EventStore>(State(_state): State<AppState<S>>) -> Response {
    shell("order", "我要报事 · Report a problem", &[], order_form(None))
}

/// `GET /r/g/{grid}`: the order page of a grid, as its QR code opens it.
#[utoipa::path(get, path = "/r/g/{grid}", operation_id = "resident_page_grid", tag = "resident pages",
    summary = "The order page of one grid (its QR code's URL)",
    params(("grid" = String, Path, description = "A grid code")),
    responses((status = 200, description = "The page", body = String, content_type = "text/html"), crate::openapi::Refusals))]
pub(crate) async fn order_here<S: EventStore>(
    State(state): State<AppState<S>>,
    Path(grid): Path<String>,
) -> Result<Response, AppError> {
    let grid = crate::reads::known_grid(&state.service.world().grids, "grid", &grid)?;
    let place = super::order::named(&state, &grid);
    let title = format!("{} · 我要报事", place.name);
    Ok(shell("order", &title, &[("grid", grid.as_str()), ("qr", "1")], order_form(Some(&place))))
}

/// `GET /r/me`: "my requests" (the link's key is in the URL's fragment).
#[utoipa::path(get, path = "/r/me", operation_id = "resident_page_mine", tag = "resident pages",
    summary = "My requests (opened by a personal link)",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
pub(crate) async fn mine() -> Response {
    let body = html! {
        h1 data-t="my_requests" { "我的诉求" }
        ul id="requests" data-test="requests" {}
        section id="link-device" data-test="link-device" hidden {
            p data-t="link_help" { "在此设备查看您的诉求：输入手机号，我们会把验证码发送到您留下的联系方式。" }
            input id="link-phone" type="tel" maxlength="40" data-test="link-phone";
            button id="link-ask" type="button" data-test="link-ask" data-t="send_code" { "发送验证码" }
            input id="link-code" type="text" inputmode="numeric" maxlength="12" data-test="link-code";
            button id="link-go" type="button" data-test="link-go" data-t="link" { "关联此设备" }
        }
        section id="links" data-test="links" hidden {
            h2 data-t="links" { "我的专属链接" }
            ul id="link-list" {}
            button id="link-new" type="button" data-test="link-new" data-t="new_link" { "为另一设备生成链接" }
            p id="link-made" data-test="link-made" {}
        }
        a id="order-new" href="/r" data-test="order-new" data-t="order_title" { "我要报事" }
    };
    shell("mine", "我的诉求 · My requests", &[], body)
}

/// `GET /r/t/{id}`: one of my requests.
#[utoipa::path(get, path = "/r/t/{id}", operation_id = "resident_page_ticket", tag = "resident pages",
    summary = "One of my requests",
    params(("id" = String, Path, description = "A ticket id, `T-1024`")),
    responses((status = 200, description = "The page", body = String, content_type = "text/html"), crate::openapi::Refusals))]
pub(crate) async fn ticket(Path(id): Path<String>) -> Result<Response, AppError> {
    let id = TicketId::new(id)?;
    let body = html! {
        h1 { span data-t="request" { "诉求" } " " span id="ticket-id" data-test="ticket-id" { (id) } }
        p id="status" data-test="status" {}
        section id="due" data-test="due" {}
        ol id="timeline" data-test="timeline" {}
        section id="result" data-test="result" hidden {}
        section id="photos-after" data-test="result-photos" hidden {}
        ul id="notices" data-test="notices" {}
        form id="feedback" data-test="feedback-form" hidden {
            fieldset {
                legend data-t="feedback" { "您的评价" }
                label { input type="radio" name="rating" value="satisfied" data-test="rate-satisfied"; span data-t="satisfied" { "满意" } }
                label { input type="radio" name="rating" value="basically_satisfied" data-test="rate-basically"; span data-t="basically_satisfied" { "基本满意" } }
                label { input type="radio" name="rating" value="unsatisfied" data-test="rate-unsatisfied"; span data-t="unsatisfied" { "不满意" } }
            }
            textarea id="comment" maxlength="2000" data-test="comment" {}
            button id="rate" type="submit" data-test="rate" data-t="send" { "提交" }
        }
    };
    Ok(shell("ticket", id.as_str(), &[("ticket", id.as_str())], body))
}

#[utoipa::path(get, path = "/r/app.js", operation_id = "resident_script", tag = "resident pages", summary = "The pages' script",
    responses((status = 200, description = "The script", body = String, content_type = "text/javascript")))]
pub(crate) async fn script() -> Response {
    page_response("text/javascript; charset=utf-8", SCRIPT_JS.to_string())
}

#[utoipa::path(get, path = "/r/app.css", operation_id = "resident_style", tag = "resident pages", summary = "The pages' stylesheet",
    responses((status = 200, description = "The stylesheet", body = String, content_type = "text/css")))]
pub(crate) async fn style() -> Response {
    page_response("text/css; charset=utf-8", STYLE_CSS.to_string())
}

/// `GET /r/qr/{grid}`: the QR code of a grid's order page, as SVG.
#[utoipa::path(get, path = "/r/qr/{grid}", operation_id = "resident_grid_qr", tag = "resident pages",
    summary = "The QR code of a grid's order page (SVG)",
    params(("grid" = String, Path, description = "A grid code")),
    responses((status = 200, description = "The QR code", body = String, content_type = "image/svg+xml"), crate::openapi::Refusals))]
pub(crate) async fn qr<S: EventStore>(
    State(state): State<AppState<S>>,
    Path(grid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let grid = crate::reads::known_grid(&state.service.world().grids, "grid", &grid)?;
    let svg = qr_svg(&grid_url(&base_url(&state, &headers), &grid))?;
    Ok(page_response("image/svg+xml", svg))
}

/// `GET /r/sheet/{community}`: the printable sheet of a community's QR
/// codes (linked from the console).
#[utoipa::path(get, path = "/r/sheet/{community}", operation_id = "resident_qr_sheet", tag = "resident pages",
    summary = "A community's QR codes, one per grid, to print on A4",
    params(("community" = String, Path, description = "A community's grid code")),
    responses((status = 200, description = "The sheet", body = String, content_type = "text/html"), crate::openapi::Refusals))]
pub(crate) async fn sheet<S: EventStore>(
    State(state): State<AppState<S>>,
    Path(community): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let world = state.service.world();
    let community = crate::reads::known_grid(&world.grids, "community", &community)?;
    let html = sheet_html(&world, &community, &base_url(&state, &headers))?;
    Ok(page_response("text/html; charset=utf-8", html))
}

/// `GET /r/sheets`: every community with a link to its sheet (the console
/// links here).
#[utoipa::path(get, path = "/r/sheets", operation_id = "resident_qr_sheets", tag = "resident pages",
    summary = "The communities, each linking to its printable QR sheet",
    responses((status = 200, description = "The list", body = String, content_type = "text/html")))]
pub(crate) async fn sheets<S: EventStore>(State(state): State<AppState<S>>) -> Response {
    let world = state.service.world();
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "二维码 · QR sheets" }
                link rel="stylesheet" href="/r/app.css";
            }
            body {
                main {
                    h1 { "社区二维码 · QR sheets" }
                    ul id="sheets" data-test="qr-sheets" {
                        @for community in world.grids.at_level(Level::Community) {
                            li {
                                a href={ "/r/sheet/" (community.code) } data-test={ "sheet-" (community.code) } {
                                    (community.name) " · " (community.name_en) " (" (community.code) ")"
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page_response("text/html; charset=utf-8", markup.into_string())
}
