//! Open311 GeoReport v2 as its clients call it: form bodies, `.json` and
//! `.xml` suffixes, arrays for single results, `jurisdiction_id`, and the
//! spec's error format.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridloop_engine::grid::Level;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Harness, VOLUNTEER_ITEM, harness};

/// What came back: status, content type and body text.
struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json", "{}", self.text);
        serde_json::from_str(&self.text).expect("a JSON body")
    }

    fn xml(&self) -> &str {
        assert_eq!(self.content_type, "text/xml; charset=utf-8", "{}", self.text);
        assert_well_formed(&self.text);
        &self.text
    }

    /// The spec's JSON error: `[{"code": status, "description": ...}]`.
    fn assert_error(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body[0]["code"], status.as_u16(), "{body}");
        assert!(body[0]["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    }
}

async fn get(h: &Harness, path: &str) -> Reply {
    call(h, Request::get(format!("/open311/v2/{path}")).body(Body::empty()).expect("request")).await
}

/// Posts a form body (already URL-encoded) to `requests.{format}`.
async fn post(h: &Harness, format: &str, form: &str) -> Reply {
    let request = Request::post(format!("/open311/v2/requests.{format}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .expect("request");
    call(h, request).await
}

async fn call(h: &Harness, request: Request<Body>) -> Reply {
    let response = h.router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
    Reply { status, content_type, text: String::from_utf8(bytes.to_vec()).expect("UTF-8") }
}

/// Percent-encodes a form value (every byte outside the unreserved set).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A resident's form for the volunteer item at `place` (already encoded).
fn form(h: &Harness, place: &str, description: &str) -> String {
    let key = h.token("resident");
    format!("api_key={key}&service_code={VOLUNTEER_ITEM}&{place}&description={}", encode(description))
}

/// Posts a request and returns its id.
async fn ordered(h: &Harness, place: &str, description: &str) -> String {
    let reply = post(h, "json", &form(h, place, description)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body.as_array().map(Vec::len), Some(1), "an array of one: {body}");
    body[0]["service_request_id"].as_str().expect("an id").to_string()
}

/// Checks that tags nest and close, and that text holds no bare `<` or `&`
/// outside the five entities. Enough for documents without attributes.
fn assert_well_formed(text: &str) {
    let body = text.strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n").expect("the XML declaration");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = body.trim_end();
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').expect("a tag ends");
            let name = &tag[..end];
            if let Some(closing) = name.strip_prefix('/') {
                assert_eq!(open.pop(), Some(closing), "tags nest: {text}");
            } else if !name.ends_with('/') {
                assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "a plain tag name: {name}");
                open.push(name);
            }
            rest = &tag[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let content = &rest[..end];
            for (at, _) in content.match_indices('&') {
                let entity = &content[at..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| entity.starts_with(e)),
                    "an escaped &: {text}"
                );
            }
            assert!(!content.contains('>'), "an escaped >: {text}");
            rest = &rest[end..];
        }
        assert!(!open.is_empty() || rest.is_empty(), "one root element: {text}");
    }
    assert!(open.is_empty(), "every tag closed: {text}");
}

/// XML 1.0's `Char` production: what a conforming parser accepts in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The text of every element named `name`, read back with quick-xml's
/// reader (entities and character references resolved). Panics on XML that
/// does not parse, and on characters XML 1.0 does not allow, which
/// quick-xml itself does not check.
fn xml_texts(text: &str, name: &str) -> Vec<String> {
    let bad: Vec<char> = text.chars().filter(|&c| !is_xml_char(c)).collect();
    assert!(bad.is_empty(), "characters XML 1.0 does not allow: {bad:?} in {text:?}");
    let mut reader = Reader::from_str(text);
    let (mut open, mut found, mut current) = (Vec::<String>::new(), Vec::new(), String::new());
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("well-formed XML: {e}: {text}")) {
            Event::Start(start) => {
                open.push(String::from_utf8(start.name().as_ref().to_vec()).expect("a UTF-8 name"));
                current.clear();
            }
            Event::Text(t) => current.push_str(&t.xml10_content().expect("UTF-8 text")),
            Event::GeneralRef(r) => match r.resolve_char_ref().expect("a valid character reference") {
                Some(c) => current.push(c),
                None => current.push_str(resolve_predefined_entity(&r.decode().unwrap()).expect("a known entity")),
            },
            Event::End(_) => {
                if open.pop().as_deref() == Some(name) {
                    found.push(current.clone());
                }
                current.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "every element closed: {text}");
    found
}

/// A resident's words are taken and kept in the log, for staff to read
/// through `/api/v1`, but no public read shows them (`docs/adr/0004`).
#[tokio::test]
async fn descriptions_are_taken_but_never_shown_to_the_public() {
    let h = harness().await;
    let description = "水管 <爆了> & 'Tom's' \"急\" — café ñ 🚰\nline two, room 302";
    let id = ordered(&h, &format!("address_id={}", h.grid), description).await;
    let (status, history) = h.get(&format!("/api/v1/tickets/{id}/history"), "auditor").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["events"][0]["payload"]["description"], description, "{history}");
    let one = get(&h, &format!("requests/{id}.xml")).await;
    assert!(xml_texts(one.xml(), "description").is_empty(), "{}", one.text);
    let all = get(&h, "requests.xml").await;
    assert_eq!(xml_texts(all.xml(), "service_request_id"), [id.as_str()]);
    for reply in [one, all, get(&h, "requests.json").await, get(&h, &format!("requests/{id}.json")).await] {
        assert!(!reply.text.contains("room 302") && !reply.text.contains("description"), "{}", reply.text);
    }
}

/// U+FFFE and U+FFFF, which XML forbids, are refused at submission (the
/// engine's free-text rule), through Open311 and the JSON API alike, and
/// write nothing (public reads show no description anyway: ADR 0004); a
/// path segment can still carry control characters into
/// an error's description, and arrives there as U+FFFD.
#[tokio::test]
async fn characters_xml_forbids_never_break_a_document() {
    let h = harness().await;
    let place = format!("address_id={}", h.grid);
    for (format, description) in
        [("json", "a\u{FFFE}b"), ("xml", "b\u{FFFF}c"), ("json", "\u{202E}gnp"), ("xml", "\u{200B}")]
    {
        let refused = post(&h, format, &form(&h, &place, description)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{description:?}: {}", refused.text);
    }
    let body = serde_json::json!({ "category": VOLUNTEER_ITEM, "grid": h.grid.as_str(), "description": "a\u{FFFF}" });
    let (status, answer) = h.post("/api/v1/tickets", "resident", &body.to_string()).await;
    assert_eq!((status, crate::code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    assert!(h.store.snapshot().is_empty(), "nothing written");
    ordered(&h, &place, "a\tb").await;
    let all = get(&h, "requests.xml").await;
    assert_eq!(xml_texts(all.xml(), "service_request_id"), ["T-1"], "the refused orders took no number");
    let missing = get(&h, "requests/T-%01%1B%EF%BF%BF.xml").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let said = xml_texts(&missing.text, "description");
    assert_eq!(said.len(), 1, "{}", missing.text);
    assert!(said[0].ends_with("T-\u{FFFD}\u{FFFD}\u{FFFD}"), "{said:?}");
}

#[tokio::test]
async fn discovery_in_both_formats() {
    let h = harness().await;
    let body = get(&h, "discovery.json").await.json();
    assert_eq!(body["endpoints"][0]["url"], "/open311/v2");
    assert_eq!(body["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2");
    let reply = get(&h, "discovery.xml").await;
    let xml = reply.xml();
    assert!(xml.contains("<discovery>") && xml.contains("<format>text/xml</format>"), "{xml}");
}

#[tokio::test]
async fn services_list_the_catalog() {
    let h = harness().await;
    let body = get(&h, "services.json?jurisdiction_id=440802").await.json();
    let services = body.as_array().expect("an array");
    assert_eq!(services.len(), h.service.world().catalog.items().count());
    let item = services.iter().find(|s| s["service_code"] == VOLUNTEER_ITEM).expect("the volunteer item");
    assert_eq!((&item["metadata"], &item["type"]), (&Value::Bool(false), &Value::from("realtime")));
    assert!(item["service_name"].as_str().is_some_and(|n| !n.is_ascii()), "the Chinese name: {item}");
    assert_eq!(item["keywords"], item["group"]);
    let xml = get(&h, "services.xml").await;
    assert!(xml.xml().contains(&format!("<service_code>{VOLUNTEER_ITEM}</service_code>")));
    let definition = get(&h, &format!("services/{VOLUNTEER_ITEM}.json")).await.json();
    assert_eq!(definition["attributes"], serde_json::json!([]));
}

#[tokio::test]
async fn an_unknown_service_is_404_in_both_formats() {
    let h = harness().await;
    get(&h, "services/XX-999.json").await.assert_error(StatusCode::NOT_FOUND);
    let reply = get(&h, "services/XX-999.xml").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.xml().contains("<errors><error><code>404</code><description>"), "{}", reply.text);
}

#[tokio::test]
async fn bad_formats_and_jurisdictions_are_400() {
    let h = harness().await;
    let reply = get(&h, "services.html").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    reply.xml();
    get(&h, "services.json?jurisdiction_id=110101").await.assert_error(StatusCode::BAD_REQUEST);
    get(&h, "nothing.json").await.assert_error(StatusCode::NOT_FOUND);
    let reply = get(&h, "requests/T-1/deeper.json").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "the nested fallback: {}", reply.text);
}

#[tokio::test]
async fn a_request_by_grid_code_is_an_ordinary_ticket() {
    let h = harness().await;
    let id = ordered(&h, &format!("address_id={}&jurisdiction_id=440802", h.grid), "a leaking tap").await;
    assert_eq!(id, "T-1");
    let (status, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!((&ticket["grid"], &ticket["resident"]), (&Value::from(h.grid.as_str()), &Value::from("r-1")));
    // The main API numbers on from the same counter.
    assert_eq!(h.order(VOLUNTEER_ITEM).await, "T-2");
}

#[tokio::test]
async fn a_request_by_lat_long_finds_its_grid() {
    let h = harness().await;
    let world = h.service.world();
    let node = world.grids.get(&h.grid).expect("the grid");
    let (xs, ys): (Vec<i32>, Vec<i32>) = node.boundary.iter().map(|p| (p.lon, p.lat)).unzip();
    let lon = (xs.iter().min().unwrap() + xs.iter().max().unwrap()) / 2;
    let lat = (ys.iter().min().unwrap() + ys.iter().max().unwrap()) / 2;
    let degrees = |micro: i32| format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    // A point a quarter of the way across the grid's box, inside it.
    let (at_lon, at_lat) = (lon - (lon - xs.iter().min().unwrap()) / 2, lat - (lat - ys.iter().min().unwrap()) / 2);
    let id = ordered(&h, &format!("lat={}&long={}", degrees(at_lat), degrees(at_lon)), "tap").await;
    let (_, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "dispatcher").await;
    let filed = ticket["grid"].as_str().expect("a grid");
    assert!(filed.starts_with(h.grid.as_str()) && filed != h.grid.as_str(), "filed in a sub-grid: {ticket}");
    // The public read shows the grid (not the sub-grid) and its centre, not
    // the resident's point.
    let body = get(&h, &format!("requests/{id}.json")).await.json();
    assert_eq!(body[0]["address_id"], h.grid.as_str(), "{body}");
    assert_eq!(body[0]["address"], node.name.as_str(), "{body}");
    assert_eq!(body[0]["lat"].as_f64(), Some(f64::from(lat) / 1e6), "{body}");
    assert_eq!(body[0]["long"].as_f64(), Some(f64::from(lon) / 1e6), "{body}");
    assert!(!get(&h, "requests.json").await.text.contains(&degrees(at_lat)), "the point is nowhere");
}

#[tokio::test]
async fn a_request_by_address_names_a_grid_of_a_community() {
    let h = harness().await;
    let grids = &h.service.world().grids;
    let community = grids.at_level(Level::Community).nth(2).expect("a community");
    let grid = grids.at_level(Level::Grid).find(|g| g.code.is_within(&community.code)).expect("one of its grids");
    assert!(grid.name.starts_with(&community.name), "grid names carry their community's");
    let address = format!("address_string={}", encode(&format!("湛江市赤坎区{}旁边的小巷", grid.name)));
    let id = ordered(&h, &address, "tap").await;
    let (status, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    assert_eq!((status, &ticket["grid"]), (StatusCode::OK, &Value::from(grid.code.as_str())), "{ticket}");
    // A community's name alone names no grid: unresolvable.
    let address = format!("address_string={}", encode(&format!("{}居委会门口", community.name)));
    post(&h, "json", &form(&h, &address, "tap")).await.assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unresolvable_location_is_400_and_writes_nothing() {
    let h = harness().await;
    let places = ["address_string=%E5%8C%97%E4%BA%AC", "lat=39.9&long=116.4", "address_id=440802-999-999-999", "x=1"];
    for place in places {
        post(&h, "json", &form(&h, place, "tap")).await.assert_error(StatusCode::BAD_REQUEST);
    }
    let reply = post(&h, "xml", &form(&h, "lat=north&long=1", "tap")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.xml().contains("<code>400</code>"));
    assert!(h.store.snapshot().is_empty(), "nothing is written on an error");
}

#[tokio::test]
async fn a_missing_or_unknown_api_key_is_403_in_the_error_list() {
    let h = harness().await;
    let place = format!("address_id={}", h.grid);
    for key in ["", "api_key=&", "api_key=00&", "api_key=%20&"] {
        post(&h, "json", &format!("{key}service_code={VOLUNTEER_ITEM}&{place}&description=d"))
            .await
            .assert_error(StatusCode::FORBIDDEN);
    }
    let reply = post(&h, "xml", &format!("api_key=00&service_code={VOLUNTEER_ITEM}&{place}")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.xml().contains("<errors><error><code>403</code><description>api_key"), "{}", reply.text);
    assert!(h.store.snapshot().is_empty());
}

#[tokio::test]
async fn a_dispatcher_orders_for_the_resident_in_account_id() {
    let h = harness().await;
    let key = h.token("dispatcher");
    let base = format!("api_key={key}&service_code={VOLUNTEER_ITEM}&address_id={}&description=d", h.grid);
    post(&h, "json", &base).await.assert_error(StatusCode::BAD_REQUEST);
    let reply = post(&h, "json", &format!("{base}&account_id=r-7&email=x%40example.com&phone=123")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (_, ticket) = h.get("/api/v1/tickets/T-1", "dispatcher").await;
    assert_eq!(ticket["resident"], "r-7");
    let events = h.store.snapshot();
    assert!(!events[0].payload.to_string().contains("example.com"), "personal data stay out of the log");
}

#[tokio::test]
async fn one_request_is_an_array_of_one_in_both_formats() {
    let h = harness().await;
    let id = ordered(&h, &format!("address_id={}", h.grid), "pipes <&> \"burst\"\r\nsecond line").await;
    let body = get(&h, &format!("requests/{id}.json")).await.json();
    let rows = body.as_array().expect("an array");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((&row["service_request_id"], &row["status"]), (&Value::from(id.as_str()), &Value::from("open")));
    assert_eq!(row["status_notes"], "Received; waiting to be looked at.", "plain words: {row}");
    assert_eq!(row["service_code"], VOLUNTEER_ITEM);
    assert!(row.get("media_url").is_none(), "no photo was attached, and none is public: {row}");
    assert!(row.get("description").is_none(), "a public read shows no description: {row}");
    assert_eq!(row["address_id"], h.grid.as_str());
    assert_eq!(row["requested_datetime"], "2026-11-23T08:00:00.000Z");
    for field in ["service_name", "agency_responsible", "updated_datetime", "expected_datetime"] {
        assert!(row[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {row}");
    }
    assert!(row["lat"].is_f64() && row["long"].is_f64(), "the grid's centre, though no point was given: {row}");
    let reply = get(&h, &format!("requests/{id}.xml")).await;
    let xml = reply.xml();
    assert!(xml.contains("<service_requests><request>"), "{xml}");
    assert_eq!(xml_texts(xml, "address_id"), [h.grid.as_str()]);
    get(&h, "requests/T-99.json").await.assert_error(StatusCode::NOT_FOUND);
    get(&h, "requests/nonsense.json").await.assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_filter_by_status_code_and_id() {
    let h = harness().await;
    let place = format!("address_id={}", h.grid);
    let (first, second) = (ordered(&h, &place, "one").await, ordered(&h, &place, "two").await);
    let (status, answer) =
        h.post(&format!("/api/v1/tickets/{first}/cancel"), "dispatcher", r#"{"reason":"withdrawn"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ids = |body: Value| -> Vec<String> {
        body.as_array().expect("an array").iter().map(|r| r["service_request_id"].as_str().unwrap().into()).collect()
    };
    assert_eq!(ids(get(&h, "requests.json").await.json()), [second.clone(), first.clone()], "newest first");
    assert_eq!(ids(get(&h, "requests.json?status=open").await.json()), [second.as_str()]);
    assert_eq!(ids(get(&h, "requests.json?status=closed").await.json()), [first.as_str()]);
    assert_eq!(ids(get(&h, "requests.json?service_code=IC-999").await.json()), Vec::<String>::new());
    let listed = get(&h, &format!("requests.json?service_request_id={first},T-99&status=open")).await.json();
    assert_eq!(ids(listed), [first.as_str()], "an id list overrides the other filters");
    let window = "start_date=2026-11-23T00:00:00%2B08:00&end_date=2026-11-23T16:00:00%2B08:00";
    assert_eq!(ids(get(&h, &format!("requests.json?{window}")).await.json()).len(), 2);
    let early = "end_date=2026-11-01T00:00:00Z";
    assert!(ids(get(&h, &format!("requests.json?{early}")).await.json()).is_empty());
    let wide = "start_date=2026-01-01T00:00:00Z&end_date=2026-11-23T00:00:00Z";
    get(&h, &format!("requests.json?{wide}")).await.assert_error(StatusCode::BAD_REQUEST);
    get(&h, "requests.json?status=pending").await.assert_error(StatusCode::BAD_REQUEST);
    assert!(get(&h, "requests.xml?status=closed").await.xml().contains("<status>closed</status>"));
}

#[tokio::test]
async fn a_token_is_the_request_id() {
    let h = harness().await;
    let id = ordered(&h, &format!("address_id={}", h.grid), "tap").await;
    let body = get(&h, &format!("tokens/{id}.json")).await.json();
    assert_eq!(body, serde_json::json!([{ "service_request_id": id, "token": id }]));
    assert!(get(&h, &format!("tokens/{id}.xml")).await.xml().contains(&format!("<token>{id}</token>")));
    get(&h, "tokens/T-99.json").await.assert_error(StatusCode::NOT_FOUND);
}

/// A public read from `address` (as the server's serve loop records it).
async fn get_from(h: &Harness, path: &str, address: &str) -> Reply {
    let mut request = Request::get(format!("/open311/v2/{path}")).body(Body::empty()).expect("request");
    let peer: std::net::SocketAddr = address.parse().expect("an address");
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    call(h, request).await
}

/// Anonymous reads are limited per client address as tokens are: a burst,
/// then the rate; 429 in the spec's error list, with `Retry-After`. Another
/// address is not affected; an IPv6 host counts by its /64.
#[tokio::test]
async fn public_reads_are_rate_limited_per_client_address() {
    let h = harness().await;
    ordered(&h, &format!("address_id={}", h.grid), "tap").await;
    for (first, same, other) in [
        ("192.0.2.1:5000", "192.0.2.1:6000", "192.0.2.2:5000"),
        ("[2001:db8::1]:1", "[2001:db8::ffff]:2", "[2001:db8:0:1::1]:1"),
    ] {
        for n in 0..gridloop_http::RATE_BURST {
            let path = if n % 2 == 0 { "requests.json" } else { "services.xml" };
            assert_eq!(get_from(&h, path, first).await.status, StatusCode::OK, "request {n} of the burst");
        }
        let refused = get_from(&h, "requests/T-1.json", same).await;
        refused.assert_error(StatusCode::TOO_MANY_REQUESTS);
        let xml = get_from(&h, "requests.xml", first).await;
        assert_eq!(xml.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(xml.xml().contains("<code>429</code>"), "{}", xml.text);
        let request = Request::get("/open311/v2/discovery.json")
            .extension(axum::extract::ConnectInfo(first.parse::<std::net::SocketAddr>().expect("an address")));
        let response = h.router.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!(wait >= 1, "{wait}");
        assert_eq!(get_from(&h, "requests.json", other).await.status, StatusCode::OK, "{other} has its own bucket");
    }
    // Time refills the bucket.
    h.clock.advance(gridloop_engine::time::Millis::minutes(1));
    assert_eq!(get_from(&h, "requests.json", "192.0.2.1:5000").await.status, StatusCode::OK);
}

/// Moves the harness clock on by `minutes`.
fn later(h: &Harness, minutes: u64) {
    h.clock.advance(gridloop_engine::time::Millis(minutes * 60_000));
}

/// Acts on a ticket through the JSON API and expects 200.
async fn act(h: &Harness, id: &str, action: &str, who: &str, body: &str) {
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/{action}"), who, body).await;
    assert_eq!(status, StatusCode::OK, "{action}: {answer}");
}

/// A ticket offered at 08:00, accepted at 08:10, started at 08:20 and
/// resolved at 08:30 (UTC), with a result that names a home.
async fn resolved_ticket(h: &Harness) -> String {
    let id = h.offered().await;
    later(h, 10);
    act(h, &id, "accept", "volunteer", "").await;
    later(h, 10);
    act(h, &id, "start", "volunteer", "").await;
    later(h, 10);
    act(h, &id, "resolve", "volunteer", r#"{"result":"fixed the tap in room 302","minutes_spent":25}"#).await;
    id
}

/// What FixMyStreet's Open311 client reads from `servicerequestupdates`:
/// `service_requests_updates` of `request_update`, each with an
/// `update_id`, the request's id, a status, a W3C date-time with its zone,
/// and a description; a change of status is one update, oldest first, and
/// the window bounds them.
#[tokio::test]
async fn updates_follow_a_ticket_as_fixmystreet_reads_them() {
    let h = harness().await;
    let id = resolved_ticket(&h).await;
    let day = "start_date=2026-11-23T00:00:00Z&end_date=2026-11-24T00:00:00Z";
    let xml = get(&h, &format!("servicerequestupdates.xml?{day}")).await;
    let text = xml.xml();
    assert!(text.contains("<service_requests_updates><request_update>"), "{text}");
    assert_eq!(xml_texts(text, "status"), ["action_scheduled", "action_scheduled", "in_progress", "fixed"]);
    assert_eq!(xml_texts(text, "external_status_code"), ["offered", "accepted", "in_progress", "resolved"]);
    assert_eq!(xml_texts(text, "service_request_id"), [id.as_str(); 4]);
    let times = xml_texts(text, "updated_datetime");
    assert_eq!(
        times,
        [
            "2026-11-23T08:00:00.000Z",
            "2026-11-23T08:10:00.000Z",
            "2026-11-23T08:20:00.000Z",
            "2026-11-23T08:30:00.000Z"
        ]
    );
    let ids = xml_texts(text, "update_id");
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 4, "every update has its own id: {ids:?}");
    assert!(!text.contains("room 302"), "the handler's words are not public: {text}");
    assert_eq!(xml_texts(text, "description")[3], "Reported done; waiting for the resident to confirm.");

    let json = get(&h, &format!("servicerequestupdates.json?{day}")).await.json();
    let rows = json.as_array().expect("a JSON array, as requests.json is");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3]["update_id"], ids[3].as_str());
    assert_eq!(rows[3]["media_url"], "", "a photo is never public");
    // The same update keeps its id when asked again: a client stores it to
    // skip what it already has.
    let again = get(&h, &format!("servicerequestupdates.json?{day}")).await.json();
    assert_eq!(again, json);

    let after_start = "start_date=2026-11-23T16:15:00%2B08:00&end_date=2026-11-23T16:40:00%2B08:00";
    let window = get(&h, &format!("servicerequestupdates.json?{after_start}")).await.json();
    let statuses: Vec<&str> = window.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["in_progress", "fixed"], "only 08:20 and 08:30 UTC fall in 16:15..16:40 +08:00");
    let last_day = get(&h, "servicerequestupdates.json").await.json();
    assert_eq!(last_day.as_array().map(Vec::len), Some(4), "without dates: the last day");
}

#[tokio::test]
async fn an_update_window_is_bounded_and_checked() {
    let h = harness().await;
    let wide = "start_date=2026-01-01T00:00:00Z&end_date=2026-11-23T00:00:00Z";
    get(&h, &format!("servicerequestupdates.json?{wide}")).await.assert_error(StatusCode::BAD_REQUEST);
    let backwards = "start_date=2026-11-23T00:00:00Z&end_date=2026-11-22T00:00:00Z";
    get(&h, &format!("servicerequestupdates.json?{backwards}")).await.assert_error(StatusCode::BAD_REQUEST);
    get(&h, "servicerequestupdates.json?start_date=yesterday").await.assert_error(StatusCode::BAD_REQUEST);
    get(&h, "servicerequestupdates.json?jurisdiction_id=999999").await.assert_error(StatusCode::BAD_REQUEST);
    let empty = get(&h, "servicerequestupdates.xml").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.xml().contains("<service_requests_updates></service_requests_updates>"), "{}", empty.text);
}

/// The public sees where a request stands in plain words; the resident who
/// asked (their `api_key`) sees the handler's result, as a city's own
/// client would show it to them. Another resident's key sees the public view.
#[tokio::test]
async fn the_result_is_told_to_whom_the_ticket_belongs() {
    let h = harness().await;
    let id = resolved_ticket(&h).await;
    let public = get(&h, &format!("requests/{id}.json")).await.json();
    assert_eq!(public[0]["status_notes"], "Reported done; waiting for the resident to confirm.");
    let own = get(&h, &format!("requests/{id}.json?api_key={}", h.token("resident"))).await.json();
    assert_eq!(own[0]["status_notes"], "fixed the tap in room 302");
    let listed = get(&h, &format!("requests.xml?api_key={}", h.token("resident"))).await;
    assert_eq!(xml_texts(listed.xml(), "status_notes"), ["fixed the tap in room 302"]);
    let other = get(&h, &format!("requests/{id}.json?api_key={}", h.token("neighbour"))).await.json();
    assert_eq!(other[0]["status_notes"], public[0]["status_notes"]);
    get(&h, &format!("requests/{id}.json?api_key=not-a-key")).await.assert_error(StatusCode::FORBIDDEN);
}

/// A `multipart/form-data` body as a GeoReport v2 client sends it: the
/// text fields, then each photo as a `media` file part.
fn multipart(fields: &[(&str, &str)], media: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "----gridloop-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for bytes in media {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"tap.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(h: &Harness, format: &str, fields: &[(&str, &str)], media: &[&[u8]]) -> Reply {
    let (content_type, body) = multipart(fields, media);
    let request = Request::post(format!("/open311/v2/requests.{format}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    call(h, request).await
}

async fn log_length(h: &Harness) -> usize {
    use gridloop_engine::store::EventStore as _;
    h.store.read_all(0, 100_000).await.expect("the log").len()
}

/// A GeoReport v2 client posts its photo as the `media` part of a
/// multipart form. The photo is kept and named by the ticket; the public
/// never gets a URL to it, the resident who asked does (their `api_key`),
/// and that URL serves the photo to them with the same key.
#[tokio::test]
async fn a_photo_posted_with_a_request_is_kept_and_shown_only_to_its_resident() {
    let (h, _) = crate::after_photos::with_photos().await;
    let key = h.token("resident").to_string();
    let grid = h.grid.to_string();
    let fields = [
        ("api_key", key.as_str()),
        ("service_code", VOLUNTEER_ITEM),
        ("address_id", grid.as_str()),
        ("description", "水管漏水 — the tap"),
    ];
    let reply = post_multipart(&h, "xml", &fields, &[crate::after_photos::AFTER_JPG]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let id = xml_texts(reply.xml(), "service_request_id").pop().expect("an id");
    let (_, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    let photos = ticket["order_photos"].as_array().cloned().unwrap_or_default();
    assert_eq!(photos.len(), 1, "{ticket}");
    let (_, history) = h.get(&format!("/api/v1/tickets/{id}/history"), "auditor").await;
    assert_eq!(
        history["events"][0]["payload"]["description"], "水管漏水 — the tap",
        "the text fields are read as a form's"
    );

    let public = get(&h, &format!("requests/{id}.json")).await.json();
    assert!(public[0].get("media_url").is_none(), "no photo is public: {}", public[0]);
    let own = get(&h, &format!("requests/{id}.json?api_key={key}")).await.json();
    let url = own[0]["media_url"].as_str().expect("a media_url for the resident").to_string();
    assert_eq!(url, format!("/api/v1/tickets/{id}/photos/{}", photos[0].as_str().unwrap()));
    let (status, kind, bytes) = crate::after_photos::photo(&h, &url, "resident").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(gridloop_engine::blob::BlobHash::of(&bytes).to_hex(), photos[0].as_str().unwrap());
    let xml = get(&h, &format!("requests/{id}.xml?api_key={key}")).await;
    assert_eq!(xml_texts(xml.xml(), "media_url"), [url]);
}

#[tokio::test]
async fn a_bad_upload_is_refused_and_stores_nothing() {
    let (h, blobs) = crate::after_photos::with_photos().await;
    let key = h.token("resident").to_string();
    let grid = h.grid.to_string();
    let fields = [("api_key", key.as_str()), ("service_code", VOLUNTEER_ITEM), ("address_id", grid.as_str())];
    let before = log_length(&h).await;
    // Without a key nothing is stored, not even the photo.
    let anonymous = [("service_code", VOLUNTEER_ITEM), ("address_id", grid.as_str())];
    post_multipart(&h, "json", &anonymous, &[crate::after_photos::AFTER_JPG]).await.assert_error(StatusCode::FORBIDDEN);
    let photo = crate::after_photos::AFTER_JPG;
    post_multipart(&h, "json", &fields, &[photo, photo, photo, photo]).await.assert_error(StatusCode::BAD_REQUEST);
    let oversized = vec![0xFF; gridloop_engine::blob::BLOB_BYTES_MAX + 1];
    let reply = post_multipart(&h, "json", &fields, &[&oversized]).await;
    assert!(matches!(reply.status, StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE), "{}", reply.text);
    let huge = vec![0xFF; open311_upload_max() + 1];
    post_multipart(&h, "json", &fields, &[&huge]).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    let long = "x".repeat(gridloop_http::open311::FIELD_BYTES_MAX + 1);
    let with_long = [("api_key", key.as_str()), ("service_code", VOLUNTEER_ITEM), ("description", long.as_str())];
    post_multipart(&h, "json", &with_long, &[]).await.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(log_length(&h).await, before, "nothing written");
    use gridloop_engine::blob::{BlobState, BlobStore as _};
    let hash = gridloop_engine::blob::BlobHash::of(photo);
    assert_eq!(blobs.state(&hash).await.unwrap(), BlobState::Missing, "no photo of a refused request kept");
    // A URL-encoded form keeps the API's own limit.
    let big_form =
        format!("{}&pad={}", form(&h, &format!("address_id={grid}"), "tap"), "y".repeat(gridloop_http::BODY_BYTES_MAX));
    post(&h, "json", &big_form).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
}

fn open311_upload_max() -> usize {
    gridloop_http::open311::UPLOAD_BYTES_MAX
}
