//! The shapes of the answers that handlers build as JSON values (rather
//! than as typed structs), for the document. Each names the route that
//! answers with it; the tests compare the top-level fields with real
//! answers. Nested values that another crate defines (a volunteer's
//! profile, a cohort's rates) are free-form objects here, described in
//! words.

use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::Role;
use crate::tickets::Written;

/// `POST /api/v1/volunteers/{id}/redeem`.
#[derive(Debug, ToSchema)]
pub struct Redeemed {
    /// The volunteer.
    pub id: String,
    /// The events the redemption wrote.
    pub events: Vec<Written>,
}

/// What a people or world command wrote: `POST /api/v1/volunteers`, the
/// volunteer actions, `POST /api/v1/staff`.
#[derive(Debug, ToSchema)]
pub struct Changed {
    /// The volunteer's id, or the staff member's subject.
    pub id: String,
    /// The stream's version after the command; null when nothing needed doing.
    pub version: Option<u64>,
    /// The events the command wrote, in order; empty when nothing needed doing.
    pub events: Vec<Written>,
}

/// `GET /api/v1/volunteers/{id}`.
#[derive(Debug, ToSchema)]
pub struct VolunteerStanding {
    /// The volunteer's id (`V-7`).
    pub id: String,
    /// `active`, `inactive` or `exited`; null before registration.
    pub status: Option<String>,
    /// Why they were stood down or left.
    pub status_reason: Option<String>,
    /// Team, home grid, skills, availability, open-order limit and load.
    #[schema(value_type = Object)]
    pub profile: Value,
    /// The volunteer's points on the ledger.
    pub points: Points,
    /// Services and minutes per month.
    #[schema(value_type = Object)]
    pub months: Value,
}

/// A volunteer's points (积分), from the ledger.
#[derive(Debug, ToSchema)]
pub struct Points {
    /// Points available to redeem now: awarded minus redeemed.
    pub balance: u64,
    /// Points ever awarded.
    pub awarded: u64,
    /// Points ever redeemed.
    pub redeemed: u64,
}

/// A list and how many there are in all: `GET /api/v1/volunteers`,
/// `GET /api/v1/teams`.
#[derive(Debug, ToSchema)]
pub struct Listed {
    /// Volunteers (profile and load) or teams, as the engine keeps them.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// How many there are in all.
    pub total: u64,
}

/// `GET /api/v1/catalog`.
#[derive(Debug, ToSchema)]
pub struct Catalog {
    /// Every item of the catalogue, admitted or not, with its SLA in minutes.
    pub items: Vec<CatalogItem>,
}

/// A service item residents can order, from the world's catalogue.
#[derive(Debug, ToSchema)]
pub struct CatalogItem {
    /// The item's code, which orders name.
    pub code: String,
    /// The item's name in Chinese.
    pub name: String,
    /// The item's name in English.
    pub name_en: String,
    /// The code of the category it belongs to.
    pub category: String,
    /// Who handles it: the grid worker on the spot, volunteers, or a department.
    pub mode: crate::openapi::HandlingMode,
    /// The functional department responsible for it (its code).
    pub department: String,
    /// The skills a volunteer needs to be offered it.
    pub skills: Vec<String>,
    /// Points a volunteer earns for resolving it.
    pub points: u64,
    /// Whether it was reviewed and admitted to the grid catalogue; residents
    /// may order only admitted items.
    pub admitted: bool,
    /// Whether it belongs to the emergency categories (typhoon, epidemic, ...).
    pub emergency: bool,
    /// Its service-level deadlines.
    pub sla_minutes: SlaMinutes,
}

/// An item's service-level durations, in minutes: accept and resolve count
/// from submission, feedback from resolution.
#[derive(Debug, ToSchema)]
pub struct SlaMinutes {
    /// Minutes from submission by which the ticket must be taken (受理时限).
    pub accept: u64,
    /// Minutes from submission by which it must be resolved (办结时限).
    pub resolve: u64,
    /// Minutes after resolution the resident has to rate it; then it closes
    /// without feedback.
    pub feedback: u64,
}

/// `GET /api/v1/grids`.
#[derive(Debug, ToSchema)]
pub struct GridLevel {
    /// The place asked about (`parent`, the district by default).
    pub parent: Option<GridNode>,
    /// The places directly inside it, one level down.
    pub children: Vec<GridNode>,
}

/// A place in the grid tree.
#[derive(Debug, ToSchema)]
pub struct GridNode {
    /// The place's code.
    pub code: String,
    /// The place's name in Chinese.
    pub name: String,
    /// The place's name in English.
    pub name_en: String,
    /// `district`, `street`, `community`, `grid` or `sub_grid`.
    pub level: String,
    /// Grids only: `comprehensive`, `unit` or `exclusive` (the grid's kind).
    pub kind: Option<String>,
}

/// `GET /api/v1/staff`.
#[derive(Debug, ToSchema)]
pub struct StaffList {
    /// The staff members found, at most the first [`STAFF_ROWS_MAX`](crate::people::STAFF_ROWS_MAX).
    pub items: Vec<StaffRow>,
    /// Staff members in all.
    pub total: u64,
}

/// A staff member as the world records them.
#[derive(Debug, ToSchema)]
pub struct StaffRow {
    /// Their subject: the id their tokens act as.
    pub subject: String,
    /// The role they serve in.
    pub role: Role,
    /// The place a grid worker or dispatcher serves.
    pub place: Option<String>,
    /// The department a department member serves.
    pub department: Option<String>,
    /// Masked.
    pub name: Option<String>,
    /// Masked.
    pub phone: Option<String>,
    /// Whether their personal record was erased.
    pub erased: bool,
}

/// A token, shown once: `POST /api/v1/tokens`, `POST /api/v1/staff/{subject}/token`.
#[derive(Debug, ToSchema)]
pub struct IssuedToken {
    /// 16 hex digits, to revoke it by.
    pub id: String,
    /// The role the token acts in.
    pub role: Role,
    /// The subject it acts as (a resident's, volunteer's or staff id).
    pub subject: String,
    /// The place a dispatcher's token serves.
    pub place: Option<String>,
    /// The staff member (staff tokens only).
    pub staff: Option<String>,
    /// The bearer token itself; never shown again.
    pub token: String,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, ToSchema)]
pub struct TokenList {
    /// Every token in the table, in the order of their hashes.
    pub tokens: Vec<TokenRow>,
}

/// A token in the table; the token itself is never stored or shown.
#[derive(Debug, ToSchema)]
pub struct TokenRow {
    /// 16 hex digits of the token's hash, to revoke it by.
    pub id: String,
    /// The role the token acts in.
    pub role: Role,
    /// The subject it acts as.
    pub subject: String,
    /// The place a dispatcher's token serves.
    pub place: Option<String>,
}

/// `DELETE /api/v1/tokens/{id}`.
#[derive(Debug, ToSchema)]
pub struct Revoked {
    /// The id of the token asked about.
    pub id: String,
    /// Always `true`: the token is revoked (an unknown id is refused instead).
    pub revoked: bool,
}

/// `POST /api/v1/volunteers/{id}/link-code`.
#[derive(Debug, ToSchema)]
pub struct LinkCode {
    /// The volunteer the code links (`V-7`).
    pub volunteer: String,
    /// Six digits, for the chat bot: `link 123456`.
    pub code: String,
    /// When the code stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// `GET /api/v1/world`.
#[derive(Debug, ToSchema)]
pub struct WorldSummary {
    /// The world's version: events in the world stream so far.
    pub version: u64,
    /// The district itself (code, names, time zone); null before the world is
    /// loaded.
    #[schema(value_type = Option<Object>)]
    pub district: Option<Value>,
    /// The levels of the grid tree, top down, with how many places each has.
    pub levels: Vec<LevelCount>,
    /// Counts of grids, items, admitted items, categories, departments, teams and staff.
    #[schema(value_type = Object)]
    pub counts: Value,
    /// The catalogue's categories.
    pub categories: Vec<Category>,
}

/// One level of the grid tree.
#[derive(Debug, ToSchema)]
pub struct LevelCount {
    /// The level: `district`, `street`, `community`, `grid` or `sub_grid`.
    pub level: String,
    /// What the district calls the level (街道, 社区, ...).
    pub name: String,
    /// How many places are at that level.
    pub grids: u64,
}

/// A category of the catalogue.
#[derive(Debug, ToSchema)]
pub struct Category {
    /// The category's code.
    pub code: String,
    /// The category's name in Chinese.
    pub name: String,
    /// The category's name in English.
    pub name_en: String,
    /// The field (领域) the category belongs to, when the district groups its
    /// categories so.
    pub field: Option<String>,
}

/// `GET /api/v1/departments`.
#[derive(Debug, ToSchema)]
pub struct Departments {
    /// Every functional department of the world.
    pub items: Vec<Department>,
}

/// A functional department.
#[derive(Debug, ToSchema)]
pub struct Department {
    /// The department's code, as tickets and summons name it.
    pub code: String,
    /// Its name in Chinese.
    pub name: String,
    /// Its name in English.
    pub name_en: String,
}

/// `POST /api/v1/world/changes`.
#[derive(Debug, ToSchema)]
pub struct WorldChanged {
    /// The world stream's version after the change; null when nothing needed
    /// doing.
    pub version: Option<u64>,
    /// The events the change wrote, in order.
    pub events: Vec<Written>,
}

/// A place as the console shows it.
#[derive(Debug, ToSchema)]
pub struct Place {
    /// The place's code.
    pub code: String,
    /// Its level: `district`, `street`, `community`, `grid` or `sub_grid`.
    pub level: String,
    /// Its name in Chinese.
    pub name: String,
    /// Its name in English.
    pub name_en: String,
}

/// `GET /api/v1/me`.
#[derive(Debug, ToSchema)]
pub struct Me {
    /// The caller's role (`dispatcher`, `grid_worker`, ...).
    pub role: String,
    /// The caller's id within the role.
    pub id: String,
    /// The place the caller serves (the district for those who serve no one
    /// place).
    pub place: Place,
    /// The whole district.
    pub district: Place,
    /// The emergency modes on in or around the place.
    #[schema(value_type = Vec<Object>)]
    pub emergency: Vec<Value>,
    /// Whether the caller may declare or lift emergency mode (a district or
    /// street dispatcher).
    pub may_switch_emergency: bool,
    /// Every functional department, for the summon and assign forms.
    pub departments: Vec<Department>,
    /// The district's IANA time zone (`Asia/Shanghai`), in which the console
    /// shows every time; the calendar's own (`Asia/Shanghai`) before a
    /// district is imported.
    pub time_zone: String,
    /// The notifier's channels (`email`, `webhook`): `channel`, `pending`,
    /// `sent_total`, `failed_total`, `retried_total`, `last_error`; empty
    /// without a notifier.
    #[schema(value_type = Vec<Object>)]
    pub notify_channels: Vec<Value>,
    /// What the console shows the caller, as the permit rule answers for
    /// them: `board`, `history`, `metrics`, `residents`, `intake`, `act`
    /// (each a boolean).
    #[schema(value_type = Object)]
    pub may: Value,
    /// Where a caller the board does not serve works (`/d/`, `/w/`, `/r/`);
    /// null for those it serves and for volunteers.
    pub workspace: Option<String>,
}

/// `GET /api/v1/board`.
#[derive(Debug, ToSchema)]
pub struct Board {
    /// The server's time when the board was read (RFC 3339, UTC), against
    /// which `overdue` was judged.
    pub now: String,
    /// The log position the board is current to.
    pub position: u64,
    /// Rows matching in all; at most 500 are listed, from `offset`.
    pub total: u64,
    /// How many matching rows were skipped before the first listed.
    pub offset: u64,
    /// Of the rows every filter but `overdue` keeps, those that missed a
    /// deadline (the count beside the board).
    pub overdue: u64,
    /// The rows, urgent first, then newest.
    pub rows: Vec<crate::console::api::BoardRow>,
}

/// `GET /api/v1/tickets/{id}/candidates`.
#[derive(Debug, ToSchema)]
pub struct Candidates {
    /// The ticket's id.
    pub id: String,
    /// `offer`, `team`, `department` or `self_handle`: what the routing policy
    /// would do with the ticket now (above the grid tier, the tier's own
    /// route); null once the ticket is resolved or final, when nothing is
    /// suggested.
    pub route: Option<String>,
    /// The place the volunteers shown come from: the ring of the offer out
    /// now or of the next round (at least the tier's), or a wider one; null
    /// when nothing is suggested.
    pub ring: Option<Place>,
    /// The offer round the ring is for, counted from 0: the offer out now's
    /// (its round less one), or the rounds made so far.
    pub round: u32,
    /// The tier responsible now: `grid`, `community`, `street` or `district`.
    pub tier: Option<String>,
    /// Whether the volunteers shown come from a ring wider than this round's
    /// (the round's own ring had nobody).
    pub wider: bool,
    /// Volunteers who could be offered it, best first, with their load.
    #[schema(value_type = Vec<Object>)]
    pub volunteers: Vec<Value>,
    /// The volunteer team owning the ticket's grid, if any.
    pub team: Option<String>,
    /// The item's responsible department.
    pub department: Department,
    /// The item: code, names, mode, skills, whether admitted and whether it
    /// can be dispatched to the grid.
    #[schema(value_type = Object)]
    pub item: Value,
    /// The ticket's grid.
    pub place: Place,
    /// Every functional department, for the summon and assign forms.
    pub departments: Vec<Department>,
    /// How long an offer stays open, in minutes.
    pub offer_minutes: u64,
    /// Names beside ids: `resident` (masked, `{id, name, phone, erased}`;
    /// null to callers who may not read residents) and `holders` (each
    /// holder, candidate and actor the ticket's events name, `kind:id` →
    /// name, a person's masked).
    #[schema(value_type = Object)]
    pub names: Value,
}

/// `GET /api/v1/tickets/{id}/audit`.
#[derive(Debug, ToSchema)]
pub struct TicketAudit {
    /// The projections' audit of the ticket: `ticket`, `as_of`, `events`
    /// (each with `state_after` and the `deadlines` it met or missed),
    /// `later_events`, `state` (as of then, with running deadlines).
    #[schema(value_type = Object)]
    pub audit: Value,
    /// The stream's hash chain: `{ok: true, events, head}` or `{ok: false,
    /// break: {stream, version, position, reason}}`.
    #[schema(value_type = Object)]
    pub chain: Value,
}

/// `GET /api/v1/metrics/series`.
#[derive(Debug, ToSchema)]
pub struct Series {
    /// The instant the rates were computed as of (RFC 3339, UTC).
    pub as_of: String,
    /// The cohort's start: tickets submitted at or after it (RFC 3339).
    pub from: String,
    /// The cohort's end: tickets submitted before it (RFC 3339).
    pub to: String,
    /// `day`, `week` or `month`.
    pub period: String,
    /// The breakdown the keys are: a level, `department`, `team` or `category`.
    pub by: String,
    /// The place the cohort is inside.
    pub scope: Place,
    /// The breakdown's keys, in order.
    pub keys: Vec<Place>,
    /// The periods, oldest first (`2026-11-03`, `2026-W45`, `2026-11`).
    pub buckets: Vec<String>,
    /// `{ key, bucket, rates }`.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
    /// `{ key, rates }`.
    #[schema(value_type = Vec<Object>)]
    pub totals: Vec<Value>,
    /// The rates of the whole scope.
    #[schema(value_type = Object)]
    pub all: Value,
}

/// `POST /api/v1/emergency/{place}/{action}`.
#[derive(Debug, ToSchema)]
pub struct EmergencySwitched {
    /// The place (a district or street) whose mode changed.
    pub place: String,
    /// Whether emergency mode (平急转换) is now on there.
    pub active: bool,
    /// The events the switch wrote.
    pub events: Vec<Written>,
}

/// Open311 discovery.
#[derive(Debug, ToSchema)]
pub struct Discovery {
    /// When this discovery document last changed (RFC 3339).
    pub changeset: String,
    /// Whom to ask about the service, for people.
    pub contact: String,
    /// How to get an `api_key`.
    pub key_service: String,
    /// The endpoints served (one: production).
    pub endpoints: Vec<Endpoint>,
}

/// An Open311 endpoint.
#[derive(Debug, ToSchema)]
pub struct Endpoint {
    /// The spec it implements: GeoReport v2.
    pub specification: String,
    /// The endpoint's base path.
    pub url: String,
    /// When the endpoint last changed (RFC 3339).
    pub changeset: String,
    /// `production`.
    #[schema(rename = "type")]
    pub kind: String,
    /// The answer formats: `application/json` and `text/xml`.
    pub formats: Vec<String>,
}

/// An Open311 service: a catalog item.
#[derive(Debug, ToSchema)]
pub struct Service {
    /// The catalogue item's code.
    pub service_code: String,
    /// The item's name.
    pub service_name: String,
    /// The item's English name, as its description.
    pub description: String,
    /// Always `false`: no item asks further questions.
    pub metadata: bool,
    /// Always `realtime`: requests get their id at once.
    #[schema(rename = "type")]
    pub kind: String,
    /// The item's category.
    pub keywords: String,
    /// The item's category.
    pub group: String,
}

/// An Open311 service definition (gridloop's items ask no questions).
#[derive(Debug, ToSchema)]
pub struct ServiceDefinition {
    /// The catalogue item's code.
    pub service_code: String,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub attributes: Vec<Value>,
}

/// An Open311 service request (a ticket), as the public sees it.
#[derive(Debug, ToSchema)]
pub struct ServiceRequest {
    /// The ticket's id.
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    /// Where it stands, in plain words; to a caller whose `api_key` may
    /// read the ticket, the handler's result once resolved.
    pub status_notes: Option<String>,
    /// The item's name.
    pub service_name: Option<String>,
    /// The item's code.
    pub service_code: Option<String>,
    /// The item's department.
    pub agency_responsible: Option<String>,
    /// When it was submitted (RFC 3339).
    pub requested_datetime: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated_datetime: Option<String>,
    /// When it must be resolved by (RFC 3339).
    pub expected_datetime: Option<String>,
    /// The grid's name (a sub-grid is shown as its grid).
    pub address: Option<String>,
    /// The grid code.
    pub address_id: Option<String>,
    /// The centre of the grid's bounding box, degrees north (WGS84): never
    /// the resident's own point (`docs/adr/0004`).
    pub lat: Option<f64>,
    /// The centre of the grid's bounding box, degrees east (WGS84).
    pub long: Option<f64>,
    /// Only to a caller whose `api_key` may read the ticket: where its first
    /// photo is served, with that same token as a bearer token.
    pub media_url: Option<String>,
}

/// One change of a request's status (mySociety's `servicerequestupdates`).
#[derive(Debug, ToSchema)]
pub struct RequestUpdate {
    /// The ticket's id and the version of its stream that changed it
    /// (`T-12.5`): the same wherever the log is stored.
    pub update_id: String,
    /// The ticket's id.
    pub service_request_id: String,
    /// mySociety's extended status: `open`, `investigating`,
    /// `action_scheduled`, `in_progress`, `internal_referral`, `fixed`,
    /// `closed`, `no_further_action` or `duplicate`.
    pub status: String,
    /// gridloop's own status (`in_progress`, `resolved`, ...).
    pub external_status_code: String,
    /// When it changed (RFC 3339, UTC).
    pub updated_datetime: String,
    /// Where it stands, in plain words (never the handler's text).
    pub description: String,
    /// Always empty: photos are never public (`docs/adr/0004`).
    pub media_url: String,
}

/// The answer to an Open311 `POST requests`, and to `GET tokens/{token}`.
#[derive(Debug, ToSchema)]
pub struct ServiceRequestId {
    /// The new ticket's id; also its token.
    pub service_request_id: String,
    /// Empty: nothing to tell at submission.
    pub service_notice: Option<String>,
    /// The request's token, which is its id (requests get their id at once).
    pub token: Option<String>,
}

/// The fields of an Open311 `POST requests` this server reads
/// (form-encoded); the rest are ignored.
#[derive(Debug, ToSchema)]
pub struct RequestForm {
    /// A gridloop bearer token.
    pub api_key: String,
    /// Optional; when given, it must be the district's code (this server
    /// serves one jurisdiction).
    pub jurisdiction_id: Option<String>,
    /// The catalogue item's code.
    pub service_code: String,
    /// A grid code; or `lat` and `long`; or `address_string`.
    pub address_id: Option<String>,
    /// Degrees north (WGS84), with `long`.
    pub lat: Option<String>,
    /// Degrees east (WGS84), with `lat`.
    pub long: Option<String>,
    /// An address in words, matched to a place in the district; used only
    /// without `address_id` and `lat`/`long`.
    pub address_string: Option<String>,
    /// What the resident wants done.
    pub description: Option<String>,
    /// Whom a grid worker or dispatcher orders for.
    pub account_id: Option<String>,
}

/// An Open311 `POST requests` as `multipart/form-data`: the same fields as
/// the URL-encoded form, and a photo as the `media` file part.
#[derive(Debug, ToSchema)]
pub struct RequestUpload {
    /// A gridloop bearer token.
    pub api_key: String,
    /// The catalogue item's code.
    pub service_code: String,
    /// A grid code; or `lat` and `long`; or `address_string`.
    pub address_id: Option<String>,
    /// Degrees north (WGS84), with `long`.
    pub lat: Option<String>,
    /// Degrees east (WGS84), with `lat`.
    pub long: Option<String>,
    /// An address in words.
    pub address_string: Option<String>,
    /// What the resident wants done.
    pub description: Option<String>,
    /// Whom a grid worker or dispatcher orders for.
    pub account_id: Option<String>,
    /// A photo (JPEG, PNG or WebP, at most 5 MB; up to three `media` parts),
    /// checked by its bytes and stripped of location metadata before it is kept.
    #[schema(value_type = Option<String>, format = Binary)]
    pub media: Option<Vec<u8>>,
}

/// `GET /api/v1/reports/ranking` (JSON).
#[derive(Debug, ToSchema)]
pub struct WeeklyRanking {
    /// The ISO week ranked, `2026-W49`.
    pub week: String,
    /// `department`, `street` or `community`.
    pub by: String,
    /// The place ranked within (none: the district).
    pub scope: Option<String>,
    /// When the rates were evaluated (RFC 3339).
    pub as_of: String,
    /// Best first: `{ rank, key, name, submitted, on_time, satisfaction, completion }`,
    /// each rate `{ numerator, denominator }`.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
}

/// `GET /api/v1/reports/weekly/{grid}/{week}` (JSON).
#[derive(Debug, ToSchema)]
pub struct GridWeek {
    /// The week generated from the log: rates, tickets by status and
    /// category, overdue and escalated tickets, patrols, volunteers.
    #[schema(value_type = Object)]
    pub week: Value,
    /// The figures a submission would name now.
    #[schema(value_type = Object)]
    pub figures: Value,
    /// The head's standing report: `{ revision, by, at, narrative, figures }`,
    /// or null.
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
}

/// `POST /api/v1/reports/weekly/{grid}/{week}`.
#[derive(Debug, ToSchema)]
pub struct WeeklyReportSubmitted {
    /// What the submission wrote (none for a resubmission identical to
    /// the standing report).
    pub events: Vec<Written>,
    /// The figures it was submitted with.
    #[schema(value_type = Object)]
    pub figures: Value,
}

/// `GET /api/v1/reports/community/{community}/{week}`.
#[derive(Debug, ToSchema)]
pub struct CommunityReports {
    /// The community.
    pub community: String,
    /// The week.
    pub week: String,
    /// Each grid: `{ grid, name, reported, report }`.
    #[schema(value_type = Vec<Object>)]
    pub grids: Vec<Value>,
    /// The grids that have not reported.
    pub not_reported: Vec<String>,
}
