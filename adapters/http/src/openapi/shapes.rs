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
    pub events: Vec<Written>,
}

/// `GET /api/v1/volunteers/{id}`.
#[derive(Debug, ToSchema)]
pub struct VolunteerStanding {
    pub id: String,
    /// `active`, `inactive` or `exited`; null before registration.
    pub status: Option<String>,
    /// Why they were stood down or left.
    pub status_reason: Option<String>,
    /// Team, home grid, skills, availability, open-order limit and load.
    #[schema(value_type = Object)]
    pub profile: Value,
    pub points: Points,
    /// Services and minutes per month.
    #[schema(value_type = Object)]
    pub months: Value,
}

#[derive(Debug, ToSchema)]
pub struct Points {
    pub balance: u64,
    pub awarded: u64,
    pub redeemed: u64,
}

/// A list and how many there are in all: `GET /api/v1/volunteers`,
/// `GET /api/v1/teams`.
#[derive(Debug, ToSchema)]
pub struct Listed {
    /// Volunteers (profile and load) or teams, as the engine keeps them.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub total: u64,
}

/// `GET /api/v1/catalog`.
#[derive(Debug, ToSchema)]
pub struct Catalog {
    pub items: Vec<CatalogItem>,
}

#[derive(Debug, ToSchema)]
pub struct CatalogItem {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub category: String,
    pub mode: crate::openapi::HandlingMode,
    pub department: String,
    pub skills: Vec<String>,
    pub points: u64,
    pub admitted: bool,
    pub emergency: bool,
    pub sla_minutes: SlaMinutes,
}

#[derive(Debug, ToSchema)]
pub struct SlaMinutes {
    pub accept: u64,
    pub resolve: u64,
    pub feedback: u64,
}

/// `GET /api/v1/grids`.
#[derive(Debug, ToSchema)]
pub struct GridLevel {
    pub parent: Option<GridNode>,
    pub children: Vec<GridNode>,
}

#[derive(Debug, ToSchema)]
pub struct GridNode {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// `district`, `street`, `community`, `grid` or `sub_grid`.
    pub level: String,
    pub kind: Option<String>,
}

/// `GET /api/v1/staff`.
#[derive(Debug, ToSchema)]
pub struct StaffList {
    pub items: Vec<StaffRow>,
    pub total: u64,
}

#[derive(Debug, ToSchema)]
pub struct StaffRow {
    pub subject: String,
    pub role: Role,
    pub place: Option<String>,
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
    pub role: Role,
    pub subject: String,
    pub place: Option<String>,
    /// The staff member (staff tokens only).
    pub staff: Option<String>,
    /// The bearer token itself; never shown again.
    pub token: String,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenRow>,
}

#[derive(Debug, ToSchema)]
pub struct TokenRow {
    pub id: String,
    pub role: Role,
    pub subject: String,
    pub place: Option<String>,
}

/// `DELETE /api/v1/tokens/{id}`.
#[derive(Debug, ToSchema)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
}

/// `POST /api/v1/volunteers/{id}/link-code`.
#[derive(Debug, ToSchema)]
pub struct LinkCode {
    pub volunteer: String,
    /// Six digits, for the chat bot: `link 123456`.
    pub code: String,
    pub expires_at: String,
}

/// `GET /api/v1/world`.
#[derive(Debug, ToSchema)]
pub struct WorldSummary {
    pub version: u64,
    #[schema(value_type = Option<Object>)]
    pub district: Option<Value>,
    pub levels: Vec<LevelCount>,
    /// Counts of grids, items, admitted items, categories, departments, teams and staff.
    #[schema(value_type = Object)]
    pub counts: Value,
    pub categories: Vec<Category>,
}

#[derive(Debug, ToSchema)]
pub struct LevelCount {
    pub level: String,
    pub name: String,
    pub grids: u64,
}

#[derive(Debug, ToSchema)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub field: Option<String>,
}

/// `GET /api/v1/departments`.
#[derive(Debug, ToSchema)]
pub struct Departments {
    pub items: Vec<Department>,
}

#[derive(Debug, ToSchema)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

/// `POST /api/v1/world/changes`.
#[derive(Debug, ToSchema)]
pub struct WorldChanged {
    pub version: Option<u64>,
    pub events: Vec<Written>,
}

/// A place as the console shows it.
#[derive(Debug, ToSchema)]
pub struct Place {
    pub code: String,
    pub level: String,
    pub name: String,
    pub name_en: String,
}

/// `GET /api/v1/me`.
#[derive(Debug, ToSchema)]
pub struct Me {
    pub role: String,
    pub id: String,
    pub place: Place,
    pub district: Place,
    /// The emergency modes on in or around the place.
    #[schema(value_type = Vec<Object>)]
    pub emergency: Vec<Value>,
    pub may_switch_emergency: bool,
    pub departments: Vec<Department>,
}

/// `GET /api/v1/board`.
#[derive(Debug, ToSchema)]
pub struct Board {
    pub now: String,
    /// The log position the board is current to.
    pub position: u64,
    pub total: u64,
    pub rows: Vec<crate::console::api::BoardRow>,
}

/// `GET /api/v1/tickets/{id}/candidates`.
#[derive(Debug, ToSchema)]
pub struct Candidates {
    pub id: String,
    /// `offer`, `team` or `department`.
    pub route: String,
    pub ring: Place,
    pub round: u32,
    pub wider: bool,
    #[schema(value_type = Vec<Object>)]
    pub volunteers: Vec<Value>,
    pub team: Option<String>,
    pub department: Department,
    #[schema(value_type = Object)]
    pub item: Value,
    pub place: Place,
    pub departments: Vec<Department>,
    pub offer_minutes: u64,
}

/// `GET /api/v1/metrics/series`.
#[derive(Debug, ToSchema)]
pub struct Series {
    pub as_of: String,
    pub from: String,
    pub to: String,
    /// `day`, `week` or `month`.
    pub period: String,
    pub by: String,
    pub scope: Place,
    pub keys: Vec<Place>,
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
    pub place: String,
    pub active: bool,
    pub events: Vec<Written>,
}

/// Open311 discovery.
#[derive(Debug, ToSchema)]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, ToSchema)]
pub struct Endpoint {
    pub specification: String,
    pub url: String,
    pub changeset: String,
    #[schema(rename = "type")]
    pub kind: String,
    pub formats: Vec<String>,
}

/// An Open311 service: a catalog item.
#[derive(Debug, ToSchema)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    pub metadata: bool,
    #[schema(rename = "type")]
    pub kind: String,
    pub keywords: String,
    pub group: String,
}

/// An Open311 service definition (gridloop's items ask no questions).
#[derive(Debug, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: String,
    #[schema(value_type = Vec<Object>)]
    pub attributes: Vec<Value>,
}

/// An Open311 service request (a ticket), as the public sees it.
#[derive(Debug, ToSchema)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    pub status_notes: Option<String>,
    pub service_name: Option<String>,
    pub service_code: Option<String>,
    pub description: Option<String>,
    /// The item's department.
    pub agency_responsible: Option<String>,
    pub requested_datetime: Option<String>,
    pub updated_datetime: Option<String>,
    pub expected_datetime: Option<String>,
    /// The grid's name.
    pub address: Option<String>,
    /// The grid code.
    pub address_id: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
}

/// The answer to an Open311 `POST requests`, and to `GET tokens/{token}`.
#[derive(Debug, ToSchema)]
pub struct ServiceRequestId {
    pub service_request_id: String,
    pub service_notice: Option<String>,
    pub token: Option<String>,
}

/// The fields of an Open311 `POST requests` this server reads
/// (form-encoded); the rest are ignored.
#[derive(Debug, ToSchema)]
pub struct RequestForm {
    /// A gridloop bearer token.
    pub api_key: String,
    pub jurisdiction_id: Option<String>,
    pub service_code: String,
    /// A grid code; or `lat` and `long`; or `address_string`.
    pub address_id: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub description: Option<String>,
    /// Whom a grid worker or dispatcher orders for.
    pub account_id: Option<String>,
}
