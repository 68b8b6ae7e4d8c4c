//! gridloop-http: the JSON API of the closed loop, on axum.
//!
//! # Map
//!
//! - This file: [`routes`] (the route table: every route, at the path its
//!   `#[utoipa::path]` annotation names), [`router`] (those routes with the
//!   body limit, the timeout and the telemetry) and [`AppState`]
//!   (the command service, the token table, the ticket numbering), and
//!   [`SystemClock`], the wall clock a live service runs on.
//! - [`error`]: [`AppError`], the one error of the API, and how each engine
//!   error variant becomes an HTTP status and the body
//!   `{ "error": { "code": "...", "message": "..." } }`; the middleware that
//!   logs each failure once, and the JSON 500 of a panic ([`with_layers`]).
//! - [`auth`]: bearer tokens. [`TokenTable`] maps the BLAKE3 hash of a token
//!   to who holds it ([`Principal`]); tokens themselves are never stored.
//! - [`tickets`]: the ticket routes: order, act, read, history; the
//!   `Idempotency-Key` header; ticket numbering.
//! - [`open311`]: Open311 GeoReport v2 under `/open311/v2/` (discovery,
//!   services, requests, tokens; JSON and XML), on the same submission path.
//! - [`public`]: what Open311's anonymous reads show (the grid and its
//!   centre, no description) and the projection they read beside the board.
//! - [`limits`]: the per-token rate limit ([`RATE_PER_MINUTE`] refilling a
//!   burst of [`RATE_BURST`], at most [`RATE_LIMITED_TOKENS_MAX`] buckets;
//!   429 `rate_limited` with `Retry-After`; public reads per client
//!   address) and the request timeout
//!   ([`REQUEST_TIMEOUT`]; 503 `timeout`); the body limit is
//!   [`BODY_BYTES_MAX`] unless a route takes less (413 naming the limit).
//! - [`reads`]: the projection-backed reads (ticket lists, queues, metrics,
//!   volunteers, catalog, grid tree) and the follower that keeps them current.
//! - [`people`]: volunteers registered and changed, staff assigned and given
//!   tokens; names and phones go to the personal store, never the log.
//! - [`world`]: the world read (district, teams, departments) and changed
//!   (`POST /world/changes`, one world command).
//! - [`console`]: the dispatcher console at `/` (one embedded page), its
//!   JSON routes and its event stream.
//! - [`department`]: the department's desktop page at `/d/` (its queue,
//!   a ticket's timeline and the forms of the actions the API lists).
//! - [`door`]: the resident's door: pages at `/r/...` (order by a grid's QR
//!   code, "my requests", a ticket), the printable QR sheet, and their JSON
//!   routes under `/api/v1/resident/...`; accounts, personal links, codes
//!   and the order limits.
//! - [`weekly`]: the weekly ranking (通报: JSON, HTML, CSV) and the grid
//!   heads' weekly reports (周报告: a grid's week, a submission, a
//!   community's reports and who has not reported), and their printable
//!   pages at `/reports/...`.
//! - [`server`]: [`serve`], the one serve loop (a request head must arrive
//!   within [`server::HEADER_READ_TIMEOUT`]; the peer's address reaches
//!   handlers as `ConnectInfo`; graceful shutdown).
//! - [`openapi`]: the OpenAPI 3.1 document, generated from the handlers'
//!   annotations and the body types' schemas, and [`openapi::Routes`], the
//!   table that registers a route and documents it in one step.
//!
//! # What this slice does not do yet
//!
//! One ticket is read straight from its stream through
//! [`CommandService::ticket`]; lists, queues, metrics and the volunteer
//! routes read the projections in [`reads`].
#![warn(missing_docs, unreachable_pub)]

pub mod admin;
pub mod auth;
pub mod console;
pub mod courier;
pub mod department;
pub mod door;
pub mod error;
pub mod field;
pub mod limits;
pub mod link_codes;
pub mod open311;
pub mod openapi;
pub mod people;
pub mod photos;
pub mod public;
pub mod reads;
pub mod server;
pub mod telemetry;
pub mod tickets;
pub mod weekly;
pub mod world;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use gridloop_engine::Error;
use gridloop_engine::blob::BlobStore;
use gridloop_engine::personal::PersonalStore;
use gridloop_engine::service::{Clock, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;

pub use auth::{Principal, TokenEntry, TokenTable};
pub use error::AppError;
pub use gridloop_projections::cold::Cold;
pub use limits::{RATE_BURST, RATE_LIMITED_TOKENS_MAX, RATE_PER_MINUTE, REQUEST_TIMEOUT, with_timeout};
pub use server::serve;

/// The largest request body the API reads, in bytes; larger ones get 413.
pub const BODY_BYTES_MAX: usize = 64 * 1024;

/// What every handler shares. Cheap to clone: everything is behind an `Arc`.
pub struct AppState<S> {
    /// The engine's command service: every write (order, act, register) goes
    /// through it, and reads of one ticket load its stream through it.
    pub service: Arc<CommandService<S>>,
    /// The token table; admins change it through [`admin`] while serving.
    pub tokens: Arc<std::sync::RwLock<TokenTable>>,
    /// Where the table is persisted after each change (`None`: memory only).
    pub(crate) token_file: Option<Arc<std::path::PathBuf>>,
    pub(crate) numbering: Arc<tickets::Numbering>,
    /// The projections the read routes answer from ([`reads::Live`]).
    pub live: Arc<reads::Live>,
    /// Request counters for `/metrics`.
    pub telemetry: Arc<telemetry::Telemetry>,
    /// Each token's rate ([`limits`]).
    pub limiter: Arc<limits::RateLimiter>,
    /// Each client address's rate on the public routes ([`limits`]).
    pub clients: Arc<limits::RateLimiter>,
    /// Counts the token table's changes: open event streams watch it and
    /// end once their own token is gone ([`console::stream`]).
    pub(crate) token_changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where volunteers' and staff's names and phones go (`None`: the
    /// routes that take them refuse them, rather than drop them).
    pub(crate) personal: Option<Arc<dyn PersonalStore>>,
    /// Where photos go (`None`: routes that take photos refuse them).
    pub(crate) blobs: Option<Arc<dyn BlobStore>>,
    /// How a resident is told things outside a page: one-time codes and
    /// what their notices say (`None`: no channel but the page).
    pub(crate) courier: Option<Arc<dyn courier::Courier>>,
    /// Residents' accounts, links, codes and held orders (`None`: the
    /// resident's door takes no orders and opens no requests).
    pub(crate) accounts: Option<Arc<dyn gridloop_engine::account::AccountStore>>,
    /// The resident's door: its order limits and options ([`door`]).
    pub(crate) door: Arc<door::Door>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            tokens: self.tokens.clone(),
            token_file: self.token_file.clone(),
            numbering: self.numbering.clone(),
            live: self.live.clone(),
            telemetry: self.telemetry.clone(),
            limiter: self.limiter.clone(),
            clients: self.clients.clone(),
            token_changes: self.token_changes.clone(),
            personal: self.personal.clone(),
            blobs: self.blobs.clone(),
            courier: self.courier.clone(),
            accounts: self.accounts.clone(),
            door: self.door.clone(),
        }
    }
}

impl<S> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tokens = self.tokens.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("AppState").field("tokens", &tokens).finish_non_exhaustive()
    }
}

impl<S: EventStore> AppState<S> {
    /// Resumes the projections (and the ticket numbering folded with them)
    /// from their snapshots in `cold` and reads the log's tail past them;
    /// tests give `Cold::default()` (in memory, so everything is folded).
    pub async fn new(service: Arc<CommandService<S>>, tokens: TokenTable, cold: Cold) -> Result<Self, Error> {
        // Folded once here, so the first request finds the projections current.
        let live = Arc::new(reads::Live::new(cold)?);
        live.catch_up(service.store()).await?;
        let numbering = tickets::Numbering::resume(&live.read().await.numbers.state().0);
        let telemetry = Arc::new(telemetry::Telemetry::default());
        let limiter = Arc::new(limits::RateLimiter::new());
        let clients = Arc::new(limits::RateLimiter::new());
        let token_changes = Arc::new(tokio::sync::watch::Sender::new(0));
        let tokens = Arc::new(std::sync::RwLock::new(tokens));
        let numbering = Arc::new(numbering);
        Ok(Self {
            service,
            tokens,
            token_file: None,
            numbering,
            live,
            telemetry,
            limiter,
            clients,
            token_changes,
            personal: None,
            blobs: None,
            courier: None,
            accounts: None,
            door: Arc::new(door::Door::default()),
        })
    }

    /// Keeps the names and phones the people routes take in `store`.
    pub fn with_personal(mut self, store: Arc<dyn PersonalStore>) -> Self {
        self.personal = Some(store);
        self
    }

    /// Keeps photos in `blobs` (evidence photos on orders and results).
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Tells residents things through `courier` (codes, notices).
    pub fn with_courier(mut self, courier: Arc<dyn courier::Courier>) -> Self {
        self.courier = Some(courier);
        self
    }

    /// Keeps residents' accounts, links and codes in `accounts` (the
    /// resident's door needs them, and the personal store, to take orders).
    pub fn with_accounts(mut self, accounts: Arc<dyn gridloop_engine::account::AccountStore>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Holds every order from the resident's door until its phone is
    /// confirmed with a one-time code (`serve --confirm-phone`).
    pub fn with_confirm_phone(mut self, confirm: bool) -> Self {
        self.door = Arc::new(door::Door {
            confirm_phone: confirm,
            public_url: self.door.public_url.clone(),
            ..door::Door::default()
        });
        self
    }

    /// Points the grids' QR codes at `url` (the deployment's public URL).
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        let url = url.map(|u| u.trim_end_matches('/').to_string());
        self.door =
            Arc::new(door::Door { confirm_phone: self.door.confirm_phone, public_url: url, ..door::Door::default() });
        self
    }

    /// Persists the token table to `path` after every change an admin makes.
    pub fn with_token_file(mut self, path: std::path::PathBuf) -> Self {
        self.token_file = Some(Arc::new(path));
        self
    }
}

/// The route table ([`openapi::Routes`]): every route, each registered at
/// the path its `#[utoipa::path]` annotation names, so the router and the
/// OpenAPI document are built from one list.
pub fn routes<S: EventStore>() -> openapi::Routes<S> {
    use axum::handler::Handler as _;
    use gridloop_engine::permit::{Access, Read, Write};
    use openapi::Routes;
    const PHOTO_BODY: usize = photos::PHOTO_BODY_BYTES_MAX;
    const P: Access = Access::Public;
    use Access::{Read as R, Write as W};
    let api = Routes::new()
        .add(openapi::__path_serve, openapi::serve, P)
        .add(tickets::__path_submit, tickets::submit::<S>, W(Write::Submit))
        .add(tickets::__path_show, tickets::show::<S>, R(Read::Ticket))
        .add(tickets::__path_history, tickets::history::<S>, R(Read::History))
        .add(photos::__path_show, photos::show::<S>, R(Read::Ticket))
        // The upload has its own body limit, past the router's: the
        // innermost limit wins, so only this route reads a photo's megabytes.
        .add(
            photos::__path_upload,
            photos::upload::<S>.layer(DefaultBodyLimit::max(PHOTO_BODY)),
            W(Write::TicketAction),
        )
        .add(tickets::__path_urge, tickets::urge::<S>, W(Write::Urge))
        .add(tickets::__path_act, tickets::act::<S>, W(Write::TicketAction))
        .add(reads::__path_list, reads::list::<S>, R(Read::Tickets))
        .add(reads::__path_queue, reads::queue::<S>, R(Read::Queue))
        .add(reads::__path_rates, reads::rates::<S>, R(Read::Metrics))
        .add(reads::__path_volunteers, reads::volunteers::<S>, R(Read::Volunteers))
        .add(people::__path_register, people::register::<S>, W(Write::RegisterVolunteer))
        .add(reads::__path_volunteer, reads::volunteer::<S>, R(Read::Volunteer))
        .add(tickets::__path_redeem, tickets::redeem::<S>, W(Write::Redeem))
        .add(link_codes::__path_issue, link_codes::issue::<S>, W(Write::LinkCode))
        .add(people::__path_transfer, people::transfer::<S>, W(Write::ManageVolunteer))
        .add(people::__path_change_skills, people::change_skills::<S>, W(Write::VolunteerSkills))
        .add(people::__path_deactivate, people::deactivate::<S>, W(Write::ManageVolunteer))
        .add(people::__path_reactivate, people::reactivate::<S>, W(Write::ManageVolunteer))
        .add(people::__path_exit, people::exit::<S>, W(Write::ManageVolunteer))
        .add(people::__path_staff, people::staff::<S>, R(Read::World))
        .add(people::__path_assign, people::assign::<S>, W(Write::World))
        .add(people::__path_token, people::token::<S>, W(Write::World))
        .add(world::__path_show, world::show::<S>, R(Read::World))
        .add(world::__path_change, world::change::<S>, W(Write::World))
        .add(world::__path_teams, world::teams::<S>, R(Read::World))
        .add(world::__path_departments, world::departments::<S>, R(Read::World))
        .add(admin::__path_list, admin::list::<S>, R(Read::Tokens))
        .add(admin::__path_issue, admin::issue::<S>, W(Write::Tokens))
        .add(admin::__path_revoke, admin::revoke::<S>, W(Write::Tokens))
        .add(reads::__path_catalog, reads::catalog::<S>, R(Read::Reference))
        .add(reads::__path_grids, reads::grids::<S>, R(Read::Reference))
        .merge(console::api_routes::<S>())
        .merge(door::api_routes::<S>())
        .merge(weekly::api_routes::<S>())
        .merge(field::api_routes::<S>());
    Routes::new()
        .add(telemetry::__path_healthz, telemetry::healthz, P)
        .add(telemetry::__path_metrics, telemetry::metrics::<S>, P)
        .nest("/api/v1", api)
        .merge(console::routes::<S>())
        .merge(department::routes::<S>())
        .merge(door::routes::<S>())
        .merge(weekly::routes::<S>())
        .merge(field::routes::<S>())
        .nest("/open311/v2", open311::documented::<S>())
}

/// Every route of the API, with the body limit and the request timeout
/// applied to all of them (a timed-out request is still counted by `/metrics`).
pub fn router<S: EventStore>(state: AppState<S>) -> Router {
    let (routes, _) = routes::<S>().into_parts();
    let routes = routes
        .fallback(|| async { AppError::NoRoute })
        .layer(axum::middleware::from_fn(error::shape_method_not_allowed))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX));
    with_layers(routes, state)
}

/// `routes` inside the layers every route runs in, innermost first: the
/// request timeout, a caught panic answered as a JSON 500
/// ([`error::panicked`]) and counted apart, the request metrics (which so
/// count timeouts and panics among the 5xx), and the log of failures ([`error::log_failures`]). Public so a
/// test can put a route of its own (one that panics) in the same layers.
pub fn with_layers<S: EventStore>(routes: Router<AppState<S>>, state: AppState<S>) -> Router {
    let telemetry = state.telemetry.clone();
    let panicked = move |panic| {
        telemetry.panicked();
        error::panicked(panic)
    };
    with_timeout(routes, REQUEST_TIMEOUT)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn_with_state(state.clone(), telemetry::measure::<S>))
        .layer(axum::middleware::from_fn(error::log_failures))
        .with_state(state)
}

/// The wall clock, for a live service (the engine has none of its own).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let millis = i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_millis(millis).expect("the system clock is between 2000 and 2199")
    }
}

/// `n` random bytes from the operating system, as lower-case hex: tokens
/// and generated idempotency keys.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
