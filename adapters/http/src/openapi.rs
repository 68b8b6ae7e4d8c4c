//! The OpenAPI 3.1 document of the server, served at `/api/v1/openapi.json`.
//!
//! Generated, not written: every handler carries a `#[utoipa::path(...)]`
//! annotation (its path, path and query parameters, request body,
//! responses with the error shape, and the Bearer security), and the body
//! types derive their schemas (`utoipa::ToSchema`). [`Routes`] is the one
//! route table: it registers each handler on the router at the path and
//! methods its annotation names, and adds the annotation's operation to the
//! document, so a route cannot be served undocumented, nor documented at a
//! path it is not served at. Nesting ([`Routes::nest`]) prefixes both, so
//! every path in the document is the real, absolute path on the server
//! (`/api/v1/tickets`, `/open311/v2/services.{format}`), under the one
//! server `/`.
//!
//! The engine's types stay free of any OpenAPI dependency: where one is a
//! body or a field of one, the adapter names its wire shape with
//! `#[schema(value_type = ...)]`, and the shapes of the engine's own types
//! ([`Ticket`], [`RecordedEvent`], [`Assignee`], ...) are written once here.
//! Bodies that handlers build as JSON values are described by the schemas
//! below too; the tests compare them with real answers.

use std::sync::OnceLock;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use gridloop_engine::permit::Access;
use gridloop_engine::store::{EventStore, MemoryStore};
use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, RefOr, ServerBuilder};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use crate::AppState;

pub mod shapes;

/// A schema with its name, as the components list holds it.
type NamedSchema = (String, RefOr<Schema>);

/// The route table: the router and the document it describes, built
/// together (see the module doc).
pub struct Routes<S> {
    router: Router<AppState<S>>,
    paths: Paths,
    schemas: Vec<NamedSchema>,
    /// What each route does, as the engine's permit rule knows it:
    /// (lower-case method, path, access).
    accesses: Vec<(String, String, Access)>,
}

impl<S> std::fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("paths", &self.paths.paths.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl<S: EventStore> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: EventStore> Routes<S> {
    /// An empty table: no route, no path, no schema.
    pub fn new() -> Self {
        Self { router: Router::new(), paths: Paths::new(), schemas: Vec::new(), accesses: Vec::new() }
    }

    /// Serves `handler` at the path and methods of its annotation (`_doc`,
    /// the `__path_<handler>` type `#[utoipa::path]` generates), documents
    /// it there, and records what it does (`access`, which the handler
    /// asks the engine's permit rule about).
    pub fn add<P, H, T>(mut self, _doc: P, handler: H, access: Access) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        H: Handler<T, AppState<S>>,
        T: 'static,
    {
        let path = P::path();
        let methods = P::methods();
        let route = methods.iter().fold(MethodRouter::new(), |route, method| route.on(filter(method), handler.clone()));
        self.router = self.router.route(&path, route);
        self.record(&path, &methods, access);
        P::schemas(&mut self.schemas);
        self.paths.add_path_operation(&path, methods, P::operation());
        self
    }

    /// Documents an operation `router` serves (see [`Routes::serve`]), and
    /// records what it does.
    pub fn document<P>(mut self, _doc: P, access: Access) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
    {
        self.record(&P::path(), &P::methods(), access);
        P::schemas(&mut self.schemas);
        self.paths.add_path_operation(P::path(), P::methods(), P::operation());
        self
    }

    fn record(&mut self, path: &str, methods: &[HttpMethod], access: Access) {
        for method in methods {
            self.accesses.push((method_name(method).to_string(), path.to_string(), access));
        }
    }

    /// Takes a router whose routes do not have the shape of the documented
    /// paths: Open311 reads one segment whole (`services.json`) and splits
    /// the format off itself, so each of its operations is added with
    /// [`Routes::document`], and a test probes every one of them.
    pub fn serve(mut self, router: Router<AppState<S>>) -> Self {
        self.router = self.router.merge(router);
        self
    }

    /// Nests `inner` under `prefix`, in the router and in the document.
    pub fn nest(mut self, prefix: &str, inner: Routes<S>) -> Self {
        self.router = self.router.nest(prefix, inner.router);
        for (path, item) in inner.paths.paths {
            let full = if path == "/" { prefix.to_string() } else { format!("{prefix}{path}") };
            self.paths.paths.insert(full, item);
        }
        for (method, path, access) in inner.accesses {
            let full = if path == "/" { prefix.to_string() } else { format!("{prefix}{path}") };
            self.accesses.push((method, full, access));
        }
        self.schemas.extend(inner.schemas);
        self
    }

    /// Adds `other`'s routes beside these.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        for (path, item) in other.paths.paths {
            match self.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    self.paths.paths.insert(path, item);
                }
            }
        }
        self.schemas.extend(other.schemas);
        self.accesses.extend(other.accesses);
        self
    }

    /// What each route does: (lower-case method, absolute path, access),
    /// one row per documented operation.
    pub fn accesses(&self) -> &[(String, String, Access)] {
        &self.accesses
    }

    /// The names that two different schemas were collected under (the
    /// document keeps one of them): none, or a body is described wrongly.
    pub fn clashing_schemas(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeMap::new();
        let mut clashes = Vec::new();
        for (name, schema) in self.schemas.iter().cloned().chain(named_schemas()) {
            let text = serde_json::to_string(&schema).unwrap_or_default();
            match seen.insert(name.clone(), text.clone()) {
                Some(before) if before != text => clashes.push(name),
                _ => {}
            }
        }
        clashes
    }

    /// The router, and the document of its routes.
    pub fn into_parts(self) -> (Router<AppState<S>>, OpenApi) {
        let mut schemas = self.schemas;
        schemas.extend(named_schemas());
        let components = ComponentsBuilder::new()
            .schemas_from_iter(schemas)
            .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
            .build();
        let info = InfoBuilder::new()
            .title("gridloop")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some(DESCRIPTION))
            .build();
        let document = OpenApiBuilder::new()
            .info(info)
            .servers(Some([ServerBuilder::new().url("/").build()]))
            .paths(self.paths)
            .components(Some(components))
            .build();
        (self.router, document)
    }
}

const DESCRIPTION: &str = "The closed loop of community service requests: a resident orders, the community \
dispatches, a volunteer accepts. Every path is absolute on this server: the JSON API under /api/v1, Open311 \
GeoReport v2 under /open311/v2, the console at /. Errors of the JSON API are { \"error\": { \"code\", \"message\" } }.";

/// A documented method as the document spells it.
fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

/// The axum method filter of a documented method.
fn filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Options => MethodFilter::OPTIONS,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Trace => MethodFilter::TRACE,
    }
}

/// Schemas the annotations refer to but do not collect themselves: those
/// of the error responses and of the path parameters.
fn named_schemas() -> Vec<NamedSchema> {
    let mut schemas = Vec::new();
    for (name, schema) in [
        (ErrorBody::name(), ErrorBody::schema()),
        (ErrorDetail::name(), ErrorDetail::schema()),
        (Open311Error::name(), Open311Error::schema()),
        (TicketAction::name(), TicketAction::schema()),
        (Format::name(), Format::schema()),
    ] {
        schemas.push((name.into_owned(), schema));
    }
    schemas
}

/// The document, as served. Built once from the route table ([`crate::routes`]);
/// which store the server runs on changes no route.
pub fn document() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let (_, document) = crate::routes::<MemoryStore>().into_parts();
            serde_json::to_value(document).unwrap_or(Value::Null)
        })
        .clone()
}

/// Every documented (method, path) pair, lower-case method and absolute
/// path as the document spells them: what [`accesses`] must cover, one
/// access per operation (the authorization test checks it).
pub fn operations() -> Vec<(String, String)> {
    let document = document();
    let mut operations = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
                if item.get(method).is_some() {
                    operations.push((method.to_string(), path.clone()));
                }
            }
        }
    }
    operations
}

/// Every route with what it does, (lower-case method, absolute path,
/// access): what the authorization test walks, so that no route is left
/// out of it.
pub fn accesses() -> Vec<(String, String, Access)> {
    crate::routes::<MemoryStore>().accesses().to_vec()
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
pub(crate) async fn serve() -> axum::Json<Value> {
    axum::Json(document())
}

/// The body of every refusal of the JSON API.
#[derive(Debug, ToSchema)]
#[schema(example = json!({ "error": { "code": "not_found", "message": "no ticket T-99" } }))]
pub struct ErrorBody {
    /// What was refused and why.
    pub error: ErrorDetail,
}

/// A stable code (see `error.rs`) and a message for people.
#[derive(Debug, ToSchema)]
pub struct ErrorDetail {
    /// The stable code clients branch on (`not_found`, `version_conflict`, ...).
    pub code: String,
    /// A sentence for people, in English; never parse it.
    pub message: String,
}

/// The refusals any JSON route may answer with.
#[derive(Debug, IntoResponses)]
pub enum Refusals {
    /// Malformed or invalid input (`invalid_json`, `invalid_input`, `bad_grid_code`).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No or unknown bearer token (`unauthorized`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Not this caller's action (`not_permitted`, `not_offered`, `not_holder`).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Unknown ticket, volunteer, action or route (`not_found`).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The path is a route, but not for this method (`method_not_allowed`); `Allow` lists the methods it takes.
    #[response(status = 405)]
    MethodNotAllowed(ErrorBody),
    /// Conflict (`already_taken`, `illegal_transition`, `version_conflict`, `already_exists`, `offer_expired`).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// Body over the route's limit, 64 KiB unless the route says less (`too_large`; the message names the limit).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Domain refusal (`not_admitted`, `insufficient_points`, `unknown_reference`, `assignee_unavailable`, `duplicate_cycle`, `location_outside_grid`), or an Idempotency-Key reused for a different request (`idempotency_key_reused`).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// Over the token's rate (`rate_limited`), with Retry-After.
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// The request took too long (`timeout`) or the store is unavailable.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// An Open311 refusal, in the spec's shape.
#[derive(Debug, ToSchema)]
pub struct Open311Error {
    /// The HTTP status.
    pub code: u16,
    /// What went wrong, for people.
    pub description: String,
}

/// Who can hold a ticket: the engine's `Assignee`.
#[derive(Debug, ToSchema)]
#[schema(example = json!({ "kind": "volunteer", "id": "V-7" }))]
pub struct Assignee {
    /// What kind of holder this is.
    pub kind: AssigneeKind,
    /// `V-7`, `TM-3`, a department code, or a grid worker's id.
    pub id: String,
}

/// The kinds of holder a ticket can have.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AssigneeKind {
    /// A volunteer, who accepted an offer or was assigned directly.
    Volunteer,
    /// A volunteer team, as a whole.
    Team,
    /// A functional department (巡办分离: the ticket left the grid).
    Department,
    /// A grid worker handling it on the spot (巡办合一).
    GridWorker,
}

/// A point in integer micro-degrees (1e-6°), WGS84: the engine's `GeoPoint`.
#[derive(Debug, ToSchema)]
pub struct GeoPoint {
    /// Longitude in micro-degrees: degrees east times 1,000,000.
    pub lon: i32,
    /// Latitude in micro-degrees: degrees north times 1,000,000.
    pub lat: i32,
}

/// Who acted, in which role: the engine's `Actor`.
#[derive(Debug, ToSchema)]
pub struct Actor {
    /// The role the actor acted in; it decides which commands they may give.
    pub role: Role,
    /// The actor's id within the role (a resident's, volunteer's or staff id,
    /// or `system` for the engine's timers).
    pub id: String,
}

/// The roles an actor can act in: the engine's `Role`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Role {
    /// Orders service and rates it; sees only their own tickets.
    Resident,
    /// Works one grid: triages, handles on the spot, orders for residents.
    GridWorker,
    /// Heads a grid (网格长): a grid worker who also submits the grid's
    /// weekly report.
    GridHead,
    /// Routes tickets within the place they serve: offers, assigns, escalates,
    /// summons.
    Dispatcher,
    /// A community, street or district official: reads and supervises
    /// within their place.
    Official,
    /// Accepts offers, works and resolves tickets, earns points.
    Volunteer,
    /// A functional department: takes escalated or summoned tickets and
    /// reports to summons.
    Department,
    /// Reads everything, acts on nothing.
    Auditor,
    /// The deployment's operator: tokens, the world, volunteers' registration;
    /// acts on no ticket.
    Admin,
    /// The engine's own timers and policies (deadlines, expiring offers).
    System,
}

/// The roles a token may be issued for (`system` is the engine's own).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum IssuableRole {
    /// A resident, who orders service.
    Resident,
    /// A grid worker.
    GridWorker,
    /// A dispatcher, who serves one place.
    Dispatcher,
    /// A volunteer.
    Volunteer,
    /// A functional department.
    Department,
    /// An auditor (read-only).
    Auditor,
    /// The deployment's operator.
    Admin,
}

/// The roles of staff, as the world assigns them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum StaffRole {
    /// A grid worker.
    GridWorker,
    /// A dispatcher.
    Dispatcher,
    /// A functional department.
    Department,
    /// An auditor (read-only).
    Auditor,
    /// The deployment's operator.
    Admin,
}

/// A ticket's status.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Status {
    /// Nothing submitted yet (a ticket folded from no event).
    None,
    /// Submitted by a resident; waiting for triage.
    Submitted,
    /// Triaged; waiting for dispatch.
    Triaged,
    /// Offered to volunteers; nobody has accepted yet.
    Offered,
    /// Taken by a holder (accepted, or assigned directly); work has not started.
    Accepted,
    /// The holder has started work.
    InProgress,
    /// Escalated to a higher tier (`tier` says which); waiting for its dispatch.
    Escalated,
    /// Resolved by its holder; the resident may rate it until `feedback_by`.
    Resolved,
    /// The resident reopened it after a resolution.
    Reopened,
    /// Closed: the loop is complete (final).
    Closed,
    /// Cancelled (final).
    Cancelled,
    /// A duplicate of another ticket, `duplicate_of` (final).
    Duplicate,
    /// Returned by its department (退单); waiting for the tier's dispatcher
    /// to re-route it or insist.
    Returned,
}

/// An open offer.
#[derive(Debug, ToSchema)]
pub struct Offer {
    /// Which offer this is for the ticket, from 1; a new round follows an
    /// expired or fully declined one.
    pub round: u32,
    /// Who is offered the ticket; the first of them to accept takes it.
    pub candidates: Vec<Assignee>,
    /// Candidates who declined this round.
    pub declined: Vec<Assignee>,
    /// RFC 3339.
    pub expires_at: String,
}

/// An extension request waiting for an answer.
#[derive(Debug, ToSchema)]
pub struct ExtensionRequest {
    /// The holder who asked.
    pub by: Assignee,
    /// The resolve deadline asked for (RFC 3339).
    pub until: String,
    /// Why.
    pub reason: String,
}

/// A department summoned to a ticket (吹哨报到), and whether it has reported.
#[derive(Debug, ToSchema)]
pub struct Summons {
    /// The department summoned (its code).
    pub department: String,
    /// When it must report by (RFC 3339, UTC).
    pub report_by: String,
    /// Whether it has reported.
    pub reported: bool,
}

/// A ticket's state, folded from its events: the engine's `Ticket`. Times
/// are RFC 3339.
#[derive(Debug, ToSchema)]
pub struct Ticket {
    /// The ticket's id (`T-` and its number); none before submission.
    pub id: Option<String>,
    /// Where the ticket is in the loop.
    pub status: Status,
    /// The catalog item.
    pub item: Option<String>,
    /// The grid (the smallest place) the ticket is in.
    pub grid: Option<String>,
    /// The resident the ticket serves.
    pub resident: Option<String>,
    /// How urgent the resident said it is.
    pub urgency: Option<Urgency>,
    /// `grid`, `community`, `street` or `district`.
    pub tier: Option<String>,
    /// `self_handle`, `volunteer` or `department`.
    pub mode: Option<String>,
    /// The offer out now, while the ticket is `offered`.
    pub offer: Option<Offer>,
    /// Who holds the ticket now; none while it waits for dispatch.
    pub holder: Option<Assignee>,
    /// How many offer rounds have been made.
    pub offer_rounds: u32,
    /// How many times it was escalated.
    pub escalations: u32,
    /// How many times the resident reopened it.
    pub reopenings: u32,
    /// When the resident submitted it.
    pub submitted_at: Option<String>,
    /// When a holder took it (accepted, or was assigned).
    pub accepted_at: Option<String>,
    /// When it was last resolved.
    pub resolved_at: Option<String>,
    /// When it was closed.
    pub closed_at: Option<String>,
    /// When it must be taken by (受理时限), set at submission from the
    /// catalogue item.
    pub accept_by: Option<String>,
    /// When it must be resolved by (办结时限).
    pub resolve_by: Option<String>,
    /// The resolve deadline the rates and `overdue` judge it by: the
    /// submission's, then each reopening's; an escalation renews
    /// `resolve_by` but not this one.
    pub judged_resolve_by: Option<String>,
    /// When the resident's feedback window closes; then it closes without
    /// feedback.
    pub feedback_by: Option<String>,
    /// `satisfied`, `basically_satisfied` or `unsatisfied`.
    pub feedback: Option<String>,
    /// The ticket this one duplicates, when marked a duplicate.
    pub duplicate_of: Option<String>,
    /// After an escalation or a reopening: when the tier must take it by.
    pub respond_by: Option<String>,
    /// Departments summoned to the ticket (吹哨报到), reported or not.
    pub summons: Vec<Summons>,
    /// Residents who follow it as co-reporters (told the result too).
    pub followers: Vec<String>,
    /// What the holder reported doing, while it is resolved.
    pub result: Option<String>,
    /// The photos the resident attached to the order (BLAKE3 hashes).
    pub order_photos: Vec<String>,
    /// The after-photos of the current resolution (BLAKE3 hashes).
    pub result_photos: Vec<String>,
    /// The calendar its latest working-day deadlines were counted on
    /// (`中国法定节假日 2026–2027`); absent while its limits run in elapsed time.
    pub calendar: Option<String>,
    /// While returned (退单): the department that returned it.
    pub returned_by: Option<Assignee>,
    /// How many times it was returned.
    pub returns: u32,
    /// The extension request (延期) waiting for the dispatcher's answer.
    pub extension: Option<ExtensionRequest>,
    /// How many extensions were asked.
    pub extensions_asked: u32,
    /// How many times it was urged (催办).
    pub urges: u32,
    /// 巡办协同: the linked child tickets and whether each has settled.
    pub children: Vec<ChildTicket>,
    /// 巡办协同: the grid worker's own part (`done`, `minutes_spent`,
    /// `photos`), the result once the last child settles.
    #[schema(value_type = Option<Object>)]
    pub part: Option<serde_json::Value>,
    /// How many events were folded.
    pub version: u64,
}

/// A linked child ticket (巡办协同).
#[derive(Debug, ToSchema)]
pub struct ChildTicket {
    /// The child's id.
    pub ticket: String,
    /// Whether it has resolved, closed, been cancelled or marked a duplicate.
    pub settled: bool,
}

/// `GET /tickets/{id}`: the ticket with what the engine and the board derive
/// from it, so that no client derives them again.
#[derive(Debug, ToSchema)]
pub struct TicketView {
    /// The ticket's state, its fields inline in this object.
    #[schema(inline)]
    #[serde(flatten)]
    pub ticket: Ticket,
    /// The board's status by name (`awaiting_feedback`, `escalated`, ...).
    pub board_status: String,
    /// The deadlines still pending, earliest first; empty once final.
    pub pending_deadlines: Vec<crate::reads::Deadline>,
    /// Whether it missed a deadline (its accept or resolve deadline as the
    /// rates judge them, a tier's response, a summons report); it stays so
    /// after an escalation renews the deadlines.
    pub overdue: bool,
    /// Which console actions the caller may take now, as the engine decides.
    pub actions: Vec<String>,
}

/// An event as stored: the engine's `RecordedEvent`.
#[derive(Debug, ToSchema)]
pub struct RecordedEvent {
    /// The event's unique id.
    pub event_id: String,
    /// `ticket-T-1024`.
    pub stream: String,
    /// The event's version in its stream, from 1 (one more per event).
    pub version: u64,
    /// The event's position in the whole log, increasing across streams; reads
    /// and followers resume from a position.
    pub position: u64,
    /// When the event was written (RFC 3339, UTC).
    pub occurred_at: String,
    /// Who gave the command that wrote it.
    pub actor: Actor,
    /// The command that wrote it: its `Idempotency-Key`, or one the server
    /// made; a repeated command writes nothing new.
    pub command_id: String,
    /// Ties related events together across streams: by default the ticket's
    /// id for a ticket's events, else the command's id.
    pub correlation_id: String,
    /// `ticket.accepted/1`.
    pub schema: String,
    /// The event's fields, by its schema.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// 64 hex digits.
    pub prev_hash: String,
    /// The hash of this event, chained to `prev_hash` (64 hex digits): any
    /// change to an earlier event breaks every hash after it.
    pub hash: String,
}

/// The `Idempotency-Key` header of the commands.
#[derive(Debug, IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
pub struct IdempotencyKey(
    /// The command id: the same key twice answers the same and writes once; at most 96 bytes.
    #[param(max_length = 96)]
    pub Option<String>,
);

/// How urgent a resident says their request is; the console's board lists
/// urgent tickets first.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Urgency {
    /// An ordinary request.
    Normal,
    /// Urgent: the console lists it first.
    Urgent,
}

/// How an item is handled: the engine's `HandlingMode`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum HandlingMode {
    /// The grid worker fixes it on the spot (巡办合一).
    SelfHandle,
    /// Offered to the grid's volunteers, chosen by skill.
    Volunteer,
    /// Dispatched to the functional department (巡办分离).
    Department,
}

/// Why a ticket was escalated to a higher tier.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum EscalationReason {
    /// An accept or resolve deadline passed.
    Timeout,
    /// The holder reports it beyond them.
    Difficulty,
    /// The resident complained.
    Complaint,
    /// 吹哨: a dispatcher escalates.
    Whistle,
    /// 平急转换: straight to the district centre.
    Emergency,
}

/// A resident's rating of a resolution.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Rating {
    /// Satisfied (满意).
    Satisfied,
    /// Basically satisfied (基本满意).
    BasicallySatisfied,
    /// Unsatisfied (不满意); the resident may reopen the ticket.
    Unsatisfied,
}

/// The actions of `POST /api/v1/tickets/{id}/{action}`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum TicketAction {
    /// Sort a submitted ticket: confirm its item, tier and handling.
    Triage,
    /// The grid worker handles it on the spot.
    SelfHandle,
    /// A dispatcher offers it to volunteers.
    Offer,
    /// An offered volunteer accepts it.
    Accept,
    /// An offered volunteer declines it.
    Decline,
    /// The holder starts work.
    Start,
    /// Anyone on the ticket adds a note.
    Note,
    /// Escalate to a higher tier (with a reason).
    Escalate,
    /// 吹哨: summon departments to the ticket.
    Summon,
    /// 报到: a summoned department reports.
    Report,
    /// A dispatcher assigns it directly to a holder.
    Assign,
    /// The holder resolves it (with the minutes spent).
    Resolve,
    /// The resident rates the resolution.
    Feedback,
    /// The resident reopens it after a resolution.
    Reopen,
    /// Close it once rated or past the feedback window.
    Close,
    /// Cancel it (the resident, or a dispatcher).
    Cancel,
    /// Mark it a duplicate of another ticket.
    MarkDuplicate,
    /// 退单: the holding department returns it as misrouted (with a reason).
    Return,
    /// The tier's dispatcher insists: the returning department holds it again.
    Insist,
    /// 延期: the holder asks for a later resolve deadline (`until`, `reason`).
    AskExtension,
    /// The tier's dispatcher grants the open extension request.
    GrantExtension,
    /// The tier's dispatcher refuses it (with a reason).
    RefuseExtension,
}

/// The two answers of Open311, by the last segment's suffix.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Format {
    /// A JSON answer (`.json`).
    Json,
    /// An XML answer (`.xml`).
    Xml,
}
