//! The OpenAPI 3 document of the JSON API, served at
//! `/api/v1/openapi.json`.
//!
//! Written by hand, next to the routes it describes, rather than generated:
//! a generator would bring a macro crate per handler, and the API is small.
//! A test walks every documented path against the router, so a route that is
//! documented but missing (or renamed) fails the build's tests.

use serde_json::{Value, json};

/// Every documented (method, path) pair, in the document's spelling.
pub const OPERATIONS: [(&str, &str); 38] = [
    ("post", "/tickets"),
    ("get", "/tickets"),
    ("get", "/tickets/{id}"),
    ("get", "/tickets/{id}/history"),
    ("post", "/tickets/{id}/{action}"),
    ("get", "/queues/{kind}/{id}"),
    ("get", "/metrics/rates"),
    ("get", "/volunteers"),
    ("get", "/volunteers/{id}"),
    ("post", "/volunteers/{id}/redeem"),
    ("post", "/volunteers/{id}/link-code"),
    ("post", "/volunteers"),
    ("post", "/volunteers/{id}/transfer"),
    ("post", "/volunteers/{id}/skills"),
    ("post", "/volunteers/{id}/deactivate"),
    ("post", "/volunteers/{id}/reactivate"),
    ("post", "/volunteers/{id}/exit"),
    ("get", "/staff"),
    ("post", "/staff"),
    ("post", "/staff/{subject}/token"),
    ("get", "/world"),
    ("post", "/world/changes"),
    ("get", "/teams"),
    ("get", "/departments"),
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("delete", "/tokens/{id}"),
    ("get", "/catalog"),
    ("get", "/grids"),
    ("get", "/me"),
    ("get", "/board"),
    ("get", "/tickets/{id}/candidates"),
    ("get", "/metrics/series"),
    ("post", "/emergency/{place}/{action}"),
    ("get", "/openapi.json"),
    ("get", "/open311/v2/discovery.{format}"),
    ("get", "/open311/v2/services.{format}"),
    ("post", "/open311/v2/requests.{format}"),
];

/// The document.
pub fn document() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let errors = json!({
        "400": { "description": "malformed or invalid input (`invalid_json`, `invalid_input`, `bad_grid_code`)", "content": { "application/json": { "schema": error } } },
        "401": { "description": "no or unknown bearer token (`unauthorized`)", "content": { "application/json": { "schema": error } } },
        "403": { "description": "not this caller's action (`not_permitted`, `not_offered`, `not_holder`)", "content": { "application/json": { "schema": error } } },
        "404": { "description": "unknown ticket, volunteer or route (`not_found`)", "content": { "application/json": { "schema": error } } },
        "409": { "description": "conflict (`already_taken`, `illegal_transition`, `version_conflict`, `already_exists`, `offer_expired`)", "content": { "application/json": { "schema": error } } },
        "413": { "description": "body over 64 KiB (`too_large`)", "content": { "application/json": { "schema": error } } },
        "422": { "description": "domain refusal (`not_admitted`, `insufficient_points`), or an Idempotency-Key reused for a different request (`idempotency_key_reused`)", "content": { "application/json": { "schema": error } } },
    });
    let ok = |what: &str| json!({ "description": what, "content": { "application/json": { "schema": { "type": "object" } } } });
    let op = |summary: &str, answer: &str| {
        let mut responses = errors.clone();
        responses["200"] = ok(answer);
        json!({ "summary": summary, "security": [{ "bearer": [] }], "responses": responses })
    };
    let key = json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 96 },
        "description": "the command id: the same key twice answers the same and writes once" });
    let mut submit = op("A resident (or a grid worker, or a dispatcher) orders", "the new ticket");
    submit["responses"]["201"] = ok("`{ id, status }`");
    submit["parameters"] = json!([key]);
    submit["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object",
        "required": ["category", "description"],
        "properties": {
            "category": { "type": "string", "description": "catalog item code, e.g. CS-001" },
            "grid": { "type": "string", "description": "grid code; or give location, or address" },
            "location": { "type": "object", "properties": { "lon": { "type": "integer" }, "lat": { "type": "integer" } }, "description": "micro-degrees" },
            "address": { "type": "string" },
            "description": { "type": "string", "maxLength": 2000 },
            "urgency": { "type": "string", "enum": ["normal", "urgent"] }
        } } } } });
    let mut act = op(
        "Acts on a ticket: triage, self-handle, offer, expire, accept, decline, start, note, escalate, assign, resolve, feedback, reopen, close, cancel, duplicate, summon, report",
        "`{ id, version, events }`",
    );
    act["parameters"] =
        json!([key, { "name": "action", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut redeem =
        op("A volunteer spends points on a reward (their own, or a dispatcher for them)", "`{ id, events }`");
    redeem["parameters"] = json!([key]);
    redeem["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object",
        "required": ["points", "reward"],
        "properties": { "points": { "type": "integer", "minimum": 1, "maximum": 10000 }, "reward": { "type": "string" } } } } } });
    let mut emergency = op(
        "A district or street dispatcher declares or lifts emergency mode (平急转换) within their place: action `declare` or `lift`",
        "`{ place, active, events }`",
    );
    emergency["parameters"] = json!([key,
        { "name": "place", "in": "path", "required": true, "schema": { "type": "string" }, "description": "a district or street code" },
        { "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": ["declare", "lift"] } }]);
    emergency["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object",
        "required": ["reason"], "properties": { "reason": { "type": "string", "maxLength": 2000 } } } } } });
    let mut issue_token =
        op("Admins: issue a token, shown once in the answer", "`{ id, role, subject, place, token }`");
    issue_token["responses"]["201"] = ok("the new token");
    issue_token["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object",
        "required": ["role", "subject"],
        "properties": {
            "role": { "type": "string", "enum": ["resident", "grid_worker", "dispatcher", "volunteer", "department", "auditor", "admin"] },
            "subject": { "type": "string", "maxLength": 128 },
            "place": { "type": "string", "description": "a dispatcher's district, street or community code" } } } } } });
    let mut revoke_token = op("Admins: revoke a token at once (not the one in use)", "`{ id, revoked }`");
    revoke_token["parameters"] = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "16 hex digits, from GET /tokens" }]);
    let open311 = |summary: &str| json!({ "summary": summary, "responses": { "200": { "description": "JSON or XML by the suffix" }, "400": { "description": "the spec's error format" }, "404": { "description": "the spec's error format" } } });
    let mut document = json!({
        "openapi": "3.0.3",
        "info": { "title": "gridloop", "version": env!("CARGO_PKG_VERSION"),
            "description": "The closed loop of community service requests: a resident orders, the community dispatches, a volunteer accepts. Errors are { \"error\": { \"code\", \"message\" } }." },
        "servers": [{ "url": "/api/v1" }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "Error": { "type": "object", "properties": { "error": { "type": "object",
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } } }
        },
        "paths": {
            "/tickets": { "post": submit, "get": op("Lists tickets on the board: ?status=&scope=&holder=&overdue=&page=&per_page=", "a page of tickets") },
            "/tickets/{id}": { "get": op("One ticket (residents: their own)", "the ticket") },
            "/tickets/{id}/history": { "get": op("Every event of a ticket (auditors, dispatchers): ?as_of=&verify=", "events, state, verified") },
            "/tickets/{id}/{action}": { "post": act },
            "/queues/{kind}/{id}": { "get": op("Open work of a volunteer, team, department or place, soonest deadline first", "queue") },
            "/metrics/rates": { "get": op("Completion-rate metrics: ?scope=&from=&to=&by=", "rows of rates with numerators and denominators") },
            "/volunteers": { "get": op("Volunteers in a place: ?grid=&skill=", "volunteers") },
            "/volunteers/{id}": { "get": op("A volunteer's standing (active, inactive, exited, with the reason), points, hours and open orders", "the volunteer") },
            "/volunteers/{id}/redeem": { "post": redeem },
            "/volunteers/{id}/link-code": { "post": op("A dispatcher issues a one-time 6-digit code (valid 24 h, replacing any outstanding one) for the volunteer to send to the chat bot: `link 123456`; shown only here, kept as a hash; no Idempotency-Key, a retry issues a fresh code", "`{ volunteer, code, expires_at }`") },
            "/tokens": { "get": op("Admins: every token's id, role, subject and place (never the token)", "`{ tokens }`"), "post": issue_token },
            "/tokens/{id}": { "delete": revoke_token },
            "/catalog": { "get": op("The service catalog", "items") },
            "/grids": { "get": op("The grid tree one level at a time: ?parent=", "children") },
            "/me": { "get": op("Who holds the token: role, id, the place they serve (code, level, names), the emergency modes on in or around it", "the caller") },
            "/board": { "get": op("The console's board: open tickets of the caller's place (or one status), urgent first then newest, with item and place names and the next deadline: ?status=&scope=&category=&holder=&overdue=", "`{ now, position, total, rows }`") },
            "/tickets/{id}/candidates": { "get": op("What the routing policy suggests for a ticket now: the volunteers of its offer ring (or the next ring), the owning team, the item's department; every department", "suggestions") },
            "/metrics/series": { "get": op("Rates of each street, community or grid of a place per day, ISO week or month, and over the range: ?scope=&by=&period=&from=&to=", "`{ buckets, keys, rows, totals, all }`") },
            "/emergency/{place}/{action}": { "post": emergency },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3" } } } },
            "/open311/v2/discovery.{format}": { "get": open311("Open311 GeoReport v2 discovery (outside /api/v1)") },
            "/open311/v2/services.{format}": { "get": open311("Open311 services: the catalog") },
            "/open311/v2/requests.{format}": { "post": open311("Open311 service request, form-encoded with api_key") }
        }
    });
    // Added apart: one `json!` of every path passes the macro's recursion limit.
    for (path, method, operation) in people_operations(&op, &key, &ok) {
        document["paths"][path][method] = operation;
    }
    document
}

/// How the people and world operations are written: `op` as in
/// [`document`], plus the `Idempotency-Key` parameter and the 201 answer.
struct Writer<'a> {
    op: &'a dyn Fn(&str, &str) -> Value,
    key: &'a Value,
    ok: &'a dyn Fn(&str) -> Value,
}

/// An operation (path, method, description).
type Operation = (&'static str, &'static str, Value);

impl Writer<'_> {
    /// A POST taking an `Idempotency-Key` and a JSON object body.
    fn keyed(&self, summary: &str, answer: &str, required: Value, properties: Value) -> Value {
        let mut operation = (self.op)(summary, answer);
        operation["parameters"] = json!([self.key]);
        operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
            "type": "object", "required": required, "properties": properties } } } });
        operation
    }

    /// The same, answering 201 when it creates.
    fn creating(&self, summary: &str, answer: &str, required: Value, properties: Value) -> Value {
        let mut operation = self.keyed(summary, answer, required, properties);
        operation["responses"]["201"] = (self.ok)(answer);
        operation
    }
}

/// The operations of the people and world routes ([`crate::people`],
/// [`crate::world`]).
fn people_operations(op: &dyn Fn(&str, &str) -> Value, key: &Value, ok: &dyn Fn(&str) -> Value) -> Vec<Operation> {
    let w = Writer { op, key, ok };
    let mut operations = volunteer_operations(&w);
    operations.extend(staff_and_world_operations(&w));
    operations
}

fn volunteer_operations(w: &Writer<'_>) -> Vec<Operation> {
    let text = |d: &str| json!({ "type": "string", "description": d });
    let skills = json!({ "type": "array", "items": { "type": "string" }, "maxItems": 16 });
    let limit = json!({ "type": "integer", "minimum": 1, "maximum": 50 });
    let personal = json!({ "type": "string", "maxLength": 200 });
    let reason = json!({ "reason": { "type": "string", "maxLength": 2000 } });
    let answer = "`{ id, version, events }`";
    let register = w.creating(
        "Admins, and dispatchers within their place: register a volunteer; name and phone go to the personal store, never the log",
        answer,
        json!(["id", "team", "home_grid"]),
        json!({ "id": text("V-7"), "team": text("TM-3, a team of the world"), "home_grid": text("a grid or sub-grid code"),
            "skills": skills, "open_orders_max": limit, "name": personal, "phone": personal }),
    );
    let transfer = w.keyed(
        "Admins, and dispatchers serving both homes: move a volunteer to another team, home grid or open-order limit (what is left out stays)",
        answer,
        json!([]),
        json!({ "team": text("TM-3"), "home_grid": text("a grid code"), "open_orders_max": limit }),
    );
    let change_skills = w.keyed(
        "Admins, dispatchers within their place, or the volunteer: replace a volunteer's skills",
        answer,
        json!(["skills"]),
        json!({ "skills": skills }),
    );
    let within = "Admins, and dispatchers within their place:";
    let deactivate = w.keyed(
        &format!("{within} stand a volunteer down (offered nothing until reactivated)"),
        answer,
        json!(["reason"]),
        reason.clone(),
    );
    let reactivate = w.keyed(&format!("{within} bring a stood-down volunteer back"), answer, json!([]), json!({}));
    let exit = w.keyed(
        &format!("{within} a volunteer leaves for good (警示退出); nothing but redemption is taken after"),
        answer,
        json!(["reason"]),
        reason,
    );
    vec![
        ("/volunteers", "post", register),
        ("/volunteers/{id}/transfer", "post", transfer),
        ("/volunteers/{id}/skills", "post", change_skills),
        ("/volunteers/{id}/deactivate", "post", deactivate),
        ("/volunteers/{id}/reactivate", "post", reactivate),
        ("/volunteers/{id}/exit", "post", exit),
    ]
}

fn staff_and_world_operations(w: &Writer<'_>) -> Vec<Operation> {
    let text = |d: &str| json!({ "type": "string", "description": d });
    let personal = json!({ "type": "string", "maxLength": 200 });
    let roles = json!({ "type": "string", "enum": ["grid_worker", "dispatcher", "department", "auditor", "admin"] });
    let assign = w.creating(
        "Admins: assign a member of staff (an assign_staff world change); name and phone go to the personal store",
        "`{ id, version, events }`",
        json!(["subject", "role", "name"]),
        json!({ "subject": text("the id their token carries"), "role": roles,
            "place": text("grid workers and dispatchers: where they act"),
            "department": text("department staff: their department"), "name": personal, "phone": personal }),
    );
    let mut token = (w.op)(
        "Admins: a token for a member of staff with the role the world gives them (and a dispatcher's place; department staff act as their department), shown once; no Idempotency-Key",
        "`{ id, role, subject, place, staff, token }`",
    );
    token["responses"]["201"] = (w.ok)("the new token");
    token["parameters"] =
        json!([{ "name": "subject", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let changes = w.keyed(
        "Admins: change the world in one command of 1 to 64 changes, all or none: define_district, define_category, define_department, propose_item, admit_item, revoke_admission, revise_item, withdraw_item, add_grid, redraw_grid, revise_grid, retire_grid, form_team, revise_team, disband_team, assign_staff, remove_staff, set_routing (tagged by `change`)",
        "`{ version, events }`",
        json!(["changes"]),
        json!({ "changes": { "type": "array", "minItems": 1, "maxItems": 64, "items": { "type": "object", "required": ["change"] } } }),
    );
    let read = |what: &str, answer: &str| (w.op)(&format!("Dispatchers, auditors, admins: {what}"), answer);
    vec![
        (
            "/staff",
            "get",
            read(
                "the staff (subject, role, place, department; name and phone masked), within ?place=, at most 500",
                "`{ items, total }`",
            ),
        ),
        ("/staff", "post", assign),
        ("/staff/{subject}/token", "post", token),
        (
            "/world",
            "get",
            read(
                "the district (code, names, time zone), its level names and grid counts, categories, counts of items, departments, teams and staff",
                "`{ version, district, levels, counts, categories }`",
            ),
        ),
        ("/world/changes", "post", changes),
        ("/teams", "get", read("the volunteer teams and backup agencies, within ?place=", "`{ items, total }`")),
        ("/departments", "get", read("the functional departments", "`{ items }`")),
    ]
}
