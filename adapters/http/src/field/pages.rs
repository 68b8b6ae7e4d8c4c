//! The grid worker's phone page (`/w`): a shell (maud) that the script
//! (`assets/field.js`) fills from the JSON routes, with the door's
//! stylesheet. Every element a test drives has a stable `data-test`.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

/// The page's script: the API calls and the offline queue.
pub const SCRIPT_JS: &str = include_str!("../../assets/field.js");

fn response(content_type: &'static str, body: String) -> Response {
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

/// `GET /w`: the grid worker's page.
#[utoipa::path(get, path = "/w", operation_id = "field_page", tag = "field pages",
    summary = "The grid worker's phone page: my grid, patrol, found a problem, offline queue",
    responses((status = 200, description = "The page", body = String, content_type = "text/html")))]
pub(crate) async fn page() -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "网格员 · Grid worker" }
                link rel="stylesheet" href="/r/app.css";
                script src="/w/app.js" defer {}
            }
            body data-page="field" {
                header.top {
                    strong id="who" data-test="who" {}
                    span id="net" data-test="net" {}
                }
                p.notice id="notice" role="status" aria-live="polite" data-test="notice" hidden {}
                main id="main" {
                    section id="waiting" data-test="waiting" hidden {
                        h2 { "待发送 Waiting to send" }
                        ul id="queue" data-test="queue" {}
                    }
                    section id="patrol" data-test="patrol" {
                        h2 { "巡查 Patrol" }
                        p id="patrol-state" data-test="patrol-state" {}
                        button id="start" type="button" data-test="start" { "开始巡查 Start" }
                        form id="checkin" data-test="checkin-form" {
                            select id="kind" data-test="kind" {
                                option value="household" { "走访住户 Household" }
                                option value="site" { "巡查点位 Site" }
                            }
                            input id="label" type="text" maxlength="100" placeholder="门牌 / 点位" data-test="label";
                            textarea id="note" maxlength="2000" placeholder="情况 Note" data-test="note" {}
                            button id="check" type="submit" data-test="check-in" { "签到 Check in" }
                        }
                        button id="end" type="button" data-test="end" { "结束巡查 End" }
                    }
                    section id="found" data-test="found" {
                        h2 { "发现问题 Found a problem" }
                        form id="found-form" data-test="found-form" {
                            label for="item" { "事项 Item" }
                            select id="item" data-test="item" {}
                            label for="what" { "情况 What" }
                            textarea id="what" maxlength="2000" required data-test="what" {}
                            label for="result" { "现场处置 Done on the spot" }
                            textarea id="result" maxlength="2000" data-test="result" {}
                            label for="after" { "处置后照片 After-photo" }
                            input id="after" type="file" accept="image/jpeg,image/png,image/webp" data-test="after";
                            label for="resident" { "代居民下单 For a resident (id)" }
                            input id="resident" type="text" maxlength="128" data-test="resident";
                            button id="on-spot" type="button" data-test="on-spot" { "巡办合一 Handle on the spot" }
                            button id="report" type="button" data-test="report" { "上报 Report" }
                            button id="for-resident" type="button" data-test="for-resident" { "代下单 Order for resident" }
                        }
                    }
                    section id="grid" data-test="grid" {
                        h2 { "我的网格 My grid" }
                        ol id="tickets" data-test="tickets" {}
                    }
                    section id="log" data-test="log" {
                        h2 { "巡查日志 Patrol log" }
                        ol id="patrols" data-test="patrols" {}
                    }
                }
            }
        }
    };
    response("text/html; charset=utf-8", markup.into_string())
}

#[utoipa::path(get, path = "/w/app.js", operation_id = "field_script", tag = "field pages", summary = "The grid worker's page script",
    responses((status = 200, description = "The script", body = String, content_type = "text/javascript")))]
pub(crate) async fn script() -> Response {
    response("text/javascript; charset=utf-8", SCRIPT_JS.to_string())
}
