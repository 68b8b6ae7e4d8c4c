//! Ordering at the door: what may be ordered, where, what is already
//! reported there, photos, the order, and the order held until its phone
//! is confirmed.
//!
//! An order from the public pages is limited per client address and per
//! grid ([`super::ORDERS_PER_CLIENT`], [`super::ORDERS_PER_GRID`]) before
//! anything is written: past either, 429 `rate_limited` says in how many
//! minutes to try again. Who orders: the holder of a personal link (a
//! Bearer token); otherwise the account of the phone given, made on the
//! first order (一人一账号). An order for a phone that has an account
//! already is that resident's, but opens nothing: the answer carries no
//! link, and the page offers to link the device by a code. With
//! `--confirm-phone` every order without a link waits, outside the log,
//! until a code sent to the phone's channel is given back
//! ([`confirm`]); the engine's `account` module bounds how many wait and
//! for how long.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::account::{CodeUse, HeldOrder, PhoneKey, resident_id};
use gridloop_engine::blob::{BlobHash, ORDER_PHOTOS_MAX};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GeoPoint, GridCode, Level};
use gridloop_engine::ids::{ItemCode, ResidentId, TicketId};
use gridloop_engine::permit::{Access, Target, Write, permit};
use gridloop_engine::personal::Person;
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Channel, Ticket, TicketCommand, Urgency, resident_for};
use gridloop_projections::board::BoardStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Peer;
use super::account::{NewLink, accounts, bounded, issue_link, phone_key, redeem, send};
use crate::auth::Principal;
use crate::error::{Path, Query};
use crate::tickets::{parse, read_body, read_body_within};
use crate::{AppError, AppState};

/// The most open tickets shown as "already reported".
pub const ALREADY_REPORTED_MAX: usize = 10;

/// One item that may be ordered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemRow {
    /// The item's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its name in English.
    pub name_en: String,
}

/// A category and its admitted items.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRow {
    /// The category's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its name in English.
    pub name_en: String,
    /// Its admitted items, in code order.
    pub items: Vec<ItemRow>,
}

/// `GET /resident/catalog`: only the items admitted to the grid catalog,
/// grouped by category (categories without one are left out).
#[utoipa::path(get, path = "/resident/catalog", operation_id = "resident_catalog", tag = "resident",
    summary = "What a resident may order: admitted items by category",
    responses((status = 200, description = "Categories with their admitted items", body = Vec<CategoryRow>), crate::openapi::Refusals))]
pub(crate) async fn catalog<S: EventStore>(State(state): State<AppState<S>>) -> Json<Vec<CategoryRow>> {
    let world = state.service.world();
    let catalog = &world.catalog;
    let rows = catalog
        .categories()
        .map(|c| CategoryRow {
            code: c.code.to_string(),
            name: c.name.clone(),
            name_en: c.name_en.clone(),
            items: catalog
                .items()
                .filter(|i| i.admitted && i.category == c.code)
                .map(|i| ItemRow { code: i.code.to_string(), name: i.name.clone(), name_en: i.name_en.clone() })
                .collect(),
        })
        .filter(|c| !c.items.is_empty())
        .collect();
    Json(rows)
}

/// Where an order is for: a grid code, else a location, else an address.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PlaceQuery {
    /// A grid code (from the QR code's page).
    #[param(max_length = 40)]
    grid: Option<String>,
    /// Longitude in micro-degrees (the phone's location).
    lon: Option<i32>,
    /// Latitude in micro-degrees.
    lat: Option<i32>,
    /// An address in the resident's words.
    #[param(max_length = 200)]
    address: Option<String>,
}

/// A grid, named.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentPlace {
    /// The grid's code.
    pub grid: String,
    /// Its name.
    pub name: String,
    /// Its name in English.
    pub name_en: String,
    /// Its community's name (and in English), when it has one.
    pub community: Option<(String, String)>,
}

/// The grid a place names, by the engine's own lookups: a known grid code,
/// the grid containing a point (point-in-grid), or address matching.
pub(crate) fn grid_of<S: EventStore>(state: &AppState<S>, place: &PlaceQuery) -> Result<GridCode, Error> {
    let grids = &state.service.world().grids;
    if let Some(code) = &place.grid {
        return crate::reads::known_grid(grids, "grid", code);
    }
    if let (Some(lon), Some(lat)) = (place.lon, place.lat) {
        let point = GeoPoint::new(lon, lat)?;
        return grids.locate(point).cloned().ok_or_else(|| Error::invalid("location", "is outside the district"));
    }
    if let Some(address) = &place.address {
        if address.chars().count() > crate::tickets::ADDRESS_CHARS_MAX {
            return Err(Error::invalid("address", "must be at most 200 characters"));
        }
        return grids.match_address(address).cloned().ok_or_else(|| Error::invalid("address", "names no known grid"));
    }
    Err(Error::invalid("place", "give a grid code, a location or an address"))
}

/// The grid named, for a page.
pub(crate) fn named<S: EventStore>(state: &AppState<S>, grid: &GridCode) -> ResidentPlace {
    let world = state.service.world();
    let node = world.grids.get(grid);
    let community = grid.at_level(Level::Community).and_then(|c| world.grids.get(&c).cloned());
    ResidentPlace {
        grid: grid.to_string(),
        name: node.map(|n| n.name.clone()).unwrap_or_default(),
        name_en: node.map(|n| n.name_en.clone()).unwrap_or_default(),
        community: community.map(|c| (c.name, c.name_en)),
    }
}

/// `GET /resident/place`: the grid of a code, a location or an address.
#[utoipa::path(get, path = "/resident/place", operation_id = "resident_place", tag = "resident",
    summary = "The grid of a grid code, a location (lon/lat) or an address",
    params(PlaceQuery),
    responses((status = 200, description = "The grid", body = ResidentPlace), crate::openapi::Refusals))]
pub(crate) async fn place<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Query(query): Query<PlaceQuery>,
) -> Result<Json<ResidentPlace>, AppError> {
    state.clients.take(&peer.key(), state.service.clock().now()).map_err(AppError::RateLimited)?;
    let grid = grid_of(&state, &query)?;
    Ok(Json(named(&state, &grid)))
}

/// `?grid=&item=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OpenQuery {
    /// The grid's code.
    #[param(max_length = 40)]
    grid: String,
    /// The item's code.
    #[param(max_length = 40)]
    item: String,
}

/// An open ticket of the same item in the same grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenTicket {
    /// The ticket's id.
    pub id: String,
    /// Its board status.
    pub status: &'static str,
    /// The status in words, `{ "zh": ..., "en": ... }`.
    #[schema(value_type = Object)]
    pub status_text: super::track::Words,
    /// When it was submitted.
    #[schema(value_type = Option<String>)]
    pub submitted_at: Option<gridloop_engine::time::Timestamp>,
}

/// `GET /resident/open?grid=&item=`: tickets of this item in this grid
/// that a resident may follow instead of ordering again, newest first (no
/// description, no resident: what Open311 shows publicly).
#[utoipa::path(get, path = "/resident/open", operation_id = "resident_open_tickets", tag = "resident",
    summary = "Open tickets of the same item in the same grid (already reported)",
    params(OpenQuery),
    responses((status = 200, description = "At most 10 tickets", body = Vec<OpenTicket>), crate::openapi::Refusals))]
pub(crate) async fn open<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Query(query): Query<OpenQuery>,
) -> Result<Json<Vec<OpenTicket>>, AppError> {
    state.clients.take(&peer.key(), state.service.clock().now()).map_err(AppError::RateLimited)?;
    let grid = crate::reads::known_grid(&state.service.world().grids, "grid", &query.grid)?;
    let item = ItemCode::new(crate::reads::text("item", &query.item)?)?;
    state.live.catch_up(state.service.store()).await?;
    let views = state.live.read().await;
    let mut rows: Vec<&Ticket> = views
        .board
        .state()
        // Only an open ticket may be followed: memory holds them all.
        .open_tickets()
        .filter(|t| t.grid.as_ref() == Some(&grid) && t.item.as_ref() == Some(&item))
        .filter(|t| super::track::followable(&state, t))
        .collect();
    rows.sort_by_key(|t| std::cmp::Reverse(t.submitted_at));
    let rows = rows
        .into_iter()
        .take(ALREADY_REPORTED_MAX)
        .filter_map(|t| {
            let status = BoardStatus::of(t).name();
            let id = t.id.as_ref()?.to_string();
            Some(OpenTicket {
                id,
                status,
                status_text: super::track::status_words(status),
                submitted_at: t.submitted_at,
            })
        })
        .collect();
    Ok(Json(rows))
}

/// The hash of an uploaded photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    /// Name the photo by this in an order's `photos`.
    pub hash: String,
}

/// `POST /resident/photos`: one photo's bytes (JPEG, PNG or WebP, at most
/// 5 MB), checked and stored before the order names it.
#[utoipa::path(post, path = "/resident/photos", operation_id = "resident_upload_photo", tag = "resident",
    summary = "Uploads one photo for an order",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Its hash", body = Uploaded), crate::openapi::Refusals))]
pub(crate) async fn photo<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), AppError> {
    let bytes = read_body_within(body, gridloop_engine::blob::BLOB_BYTES_MAX)?;
    let now = state.service.clock().now();
    let limited = |seconds| AppError::OrdersLimited { seconds, from: "from this address" };
    state.door.photos_by_client.take(&peer.key(), now).map_err(limited)?;
    let hash = crate::photos::store(&state, bytes.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(Uploaded { hash: hash.to_hex() })))
}

/// Who orders, when they hold no link: name, phone, and an e-mail to send
/// results to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Contact {
    name: String,
    phone: String,
    email: String,
}

/// An order from the door.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderBody {
    /// The catalog item.
    #[schema(value_type = String, example = "IC-003")]
    item: ItemCode,
    /// A grid code (from the QR code's page); or `lon` and `lat`, or `address`.
    #[schema(max_length = 40)]
    grid: Option<String>,
    /// Longitude in micro-degrees (the phone's location).
    lon: Option<i32>,
    /// Latitude in micro-degrees.
    lat: Option<i32>,
    /// An address in the resident's words.
    #[schema(max_length = 200)]
    address: Option<String>,
    /// What is wrong.
    #[schema(max_length = 2000)]
    description: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::Urgency>)]
    urgency: Option<Urgency>,
    /// Hashes of photos uploaded first (at most 3).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    photos: Vec<BlobHash>,
    /// Whether the order comes from a grid's QR page.
    #[serde(default)]
    from_qr: bool,
    /// The resident's name (a first order, without a link).
    #[serde(default)]
    #[schema(max_length = 200)]
    name: String,
    /// Their phone (without a link).
    #[serde(default)]
    #[schema(max_length = 40)]
    phone: String,
    /// An e-mail address for results (optional).
    #[serde(default)]
    #[schema(max_length = 200)]
    email: String,
}

impl OrderBody {
    fn place(&self) -> PlaceQuery {
        PlaceQuery { grid: self.grid.clone(), lon: self.lon, lat: self.lat, address: self.address.clone() }
    }

    fn contact(&self) -> Contact {
        Contact { name: self.name.clone(), phone: self.phone.clone(), email: self.email.clone() }
    }
}

/// What ordering did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Ordered {
    /// The new ticket, once submitted.
    #[schema(value_type = Option<String>)]
    pub ticket: Option<TicketId>,
    /// The held order's id, when it waits for the phone's code.
    pub held: Option<String>,
    /// A personal link for this device (a new account, or a confirmed phone).
    pub link: Option<NewLink>,
    /// Whether the phone had an account this device is not linked to (the
    /// page offers a code to link it).
    pub known_phone: bool,
}

/// `POST /resident/orders`: orders (see the module doc).
#[utoipa::path(post, path = "/resident/orders", operation_id = "resident_order", tag = "resident",
    summary = "A resident orders from the door (a first order makes their account)",
    params(crate::openapi::IdempotencyKey),
    request_body = OrderBody,
    responses((status = 201, description = "Submitted", body = Ordered), (status = 202, description = "Held until the phone is confirmed", body = Ordered), crate::openapi::Refusals))]
pub(crate) async fn order<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Ordered>), AppError> {
    let caller = optional_caller(&state, &headers)?;
    let body: OrderBody = parse(&read_body(body)?)?;
    let grid = grid_of(&state, &body.place())?;
    check(&state, &body, &grid).await?;
    admit_order(&state, peer, &grid)?;
    let contact = body.contact();
    answer(&state, &headers, caller, contact, Request::Order(body)).await
}

/// What a request from the door asks, as it is carried out (at once, or
/// once its phone is confirmed): an order, or following an open ticket.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Order(OrderBody),
    Follow(TicketId),
}

/// Carries out `request` as the caller, or as the phone's resident (its
/// account, or a new one), or holds it until the phone is confirmed.
async fn answer<S: EventStore>(
    state: &AppState<S>,
    headers: &HeaderMap,
    caller: Option<Principal>,
    contact: Contact,
    request: Request,
) -> Result<(StatusCode, Json<Ordered>), AppError> {
    if let Some(who) = caller {
        let ticket = carry_out(state, &who, headers, &request).await?;
        return Ok((StatusCode::CREATED, Json(Ordered { ticket: Some(ticket), ..Ordered::default() })));
    }
    let phone = phone_key(state, &contact.phone)?;
    let existing = accounts(state)?.resident_of(&phone)?;
    if state.door.confirm_phone {
        let held = hold(state, phone, existing, &contact, &request).await?;
        return Ok((StatusCode::ACCEPTED, Json(Ordered { held: Some(held), ..Ordered::default() })));
    }
    let (resident, new) = match existing {
        Some(resident) => (resident, false),
        None => account_for(state, &phone, &contact)?,
    };
    let ticket = carry_out(state, &resident_principal(&resident)?, headers, &request).await?;
    let link = new.then(|| issue_link(state, &resident)).transpose()?;
    Ok((StatusCode::CREATED, Json(Ordered { ticket: Some(ticket), link, known_phone: !new, held: None })))
}

/// Submits the order, or follows the ticket, as `who`.
async fn carry_out<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    request: &Request,
) -> Result<TicketId, AppError> {
    match request {
        Request::Order(body) => {
            let grid = grid_of(state, &body.place())?;
            submit(state, who, headers, body, grid).await
        }
        Request::Follow(id) => follow_as(state, who, headers, id).await,
    }
}

/// Joins `id` as a co-reporter: the permit rule on the ticket's place,
/// then the engine's `Follow`.
async fn follow_as<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    id: &TicketId,
) -> Result<TicketId, AppError> {
    let ticket = crate::tickets::existing(state, id).await?;
    let grid = ticket.grid.clone().ok_or_else(|| Error::NotFound { kind: "ticket", id: id.to_string() })?;
    permit(who, Access::Write(Write::Follow), Target::Place(&grid))?;
    let envelope = gridloop_engine::service::CommandEnvelope {
        command_id: crate::tickets::command_id(headers, who)?,
        correlation_id: None,
        actor: who.actor.clone(),
        command: gridloop_engine::service::Command::Ticket { id: id.clone(), command: TicketCommand::Follow },
        expected_version: None,
    };
    state.service.execute(envelope).await?;
    Ok(id.clone())
}

/// Who follows, when they hold no link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FollowBody {
    #[serde(default)]
    #[schema(max_length = 200)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 40)]
    phone: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    email: String,
}

/// `POST /resident/follow/{id}`: follows an open ticket of the same item
/// and grid instead of ordering a duplicate; the resident is told its
/// result too. Without a link, the body names who follows (as an order
/// does), and the same limits and confirmation apply.
#[utoipa::path(post, path = "/resident/follow/{id}", operation_id = "resident_follow", tag = "resident",
    summary = "Follows an open ticket as a co-reporter instead of ordering it again",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A ticket id, `T-1024`")),
    request_body = FollowBody,
    responses((status = 201, description = "Following", body = Ordered), (status = 202, description = "Held until the phone is confirmed", body = Ordered), crate::openapi::Refusals))]
pub(crate) async fn follow<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Ordered>), AppError> {
    let caller = optional_caller(&state, &headers)?;
    let body: FollowBody = parse(&read_body(body)?)?;
    let id = TicketId::new(id)?;
    let ticket = crate::tickets::existing(&state, &id).await?;
    if !super::track::followable(&state, &ticket) {
        return Err(Error::IllegalTransition { command: "follow", status: "no longer open" }.into());
    }
    let grid = ticket.grid.clone().ok_or_else(|| Error::NotFound { kind: "ticket", id: id.to_string() })?;
    admit_order(&state, peer, &grid)?;
    let contact = Contact { name: body.name, phone: body.phone, email: body.email };
    answer(&state, &headers, caller, contact, Request::Follow(id)).await
}

/// The caller of a request that may come with a personal link: `None`
/// without one; a link or token that is not known is 401.
pub(crate) fn optional_caller<S: EventStore>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<Principal>, AppError> {
    crate::auth::bearer_token(headers).map(|token| state.authenticate(token)).transpose()
}

/// What the engine would say to the order, decided on a fresh ticket
/// before anything is written or held (the item admitted, the text
/// bounded, the location inside the grid), and the photos: at most
/// [`ORDER_PHOTOS_MAX`], each stored already.
async fn check<S: EventStore>(state: &AppState<S>, body: &OrderBody, grid: &GridCode) -> Result<(), AppError> {
    if body.photos.len() > ORDER_PHOTOS_MAX {
        return Err(Error::invalid("photos", format!("at most {ORDER_PHOTOS_MAX} photos")).into());
    }
    for hash in &body.photos {
        let stored = match &state.blobs {
            Some(blobs) => blobs.get(hash).await?.is_some(),
            None => false,
        };
        if !stored {
            return Err(Error::invalid("photos", format!("{hash} was not uploaded")).into());
        }
    }
    let world = state.service.world();
    let now = state.service.clock().now();
    let ctx = world.context(now, false);
    let resident = ResidentId::new("R-0")?;
    let actor = Actor::new(Role::Resident, resident.as_str())?;
    let command = command(body, grid.clone(), resident);
    Ticket::default().decide(&TicketId::from_number(1), &command, &actor, &ctx)?;
    Ok(())
}

/// Takes one order from the client's and the grid's buckets.
fn admit_order<S: EventStore>(state: &AppState<S>, peer: Peer, grid: &GridCode) -> Result<(), AppError> {
    let now = state.service.clock().now();
    let door = &state.door;
    let client = |seconds| AppError::OrdersLimited { seconds, from: "from this address" };
    door.orders_by_client.take(&peer.key(), now).map_err(client)?;
    let key = *blake3::hash(grid.as_str().as_bytes()).as_bytes();
    let place = |seconds| AppError::OrdersLimited { seconds, from: "for this place" };
    door.orders_by_grid.take(&key, now).map_err(place)
}

fn command(body: &OrderBody, grid: GridCode, resident: ResidentId) -> TicketCommand {
    TicketCommand::Submit {
        item: body.item.clone(),
        grid,
        resident,
        description: body.description.clone(),
        urgency: body.urgency.unwrap_or(Urgency::Normal),
        channel: if body.from_qr { Channel::QrCode } else { Channel::Web },
        location: match (body.lon, body.lat) {
            (Some(lon), Some(lat)) => GeoPoint::new(lon, lat).ok(),
            _ => None,
        },
        photos: body.photos.clone(),
    }
}

/// Submits the order as `who`, under the request's `Idempotency-Key` (a
/// repeat finds its ticket) after the permit rule.
async fn submit<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    headers: &HeaderMap,
    body: &OrderBody,
    grid: GridCode,
) -> Result<TicketId, AppError> {
    permit(who, Access::Write(Write::Submit), Target::Place(&grid))?;
    let command = command(body, grid, resident_for(&who.actor, None)?);
    let command_id = crate::tickets::command_id(headers, who)?;
    Ok(state.numbering.submit(&state.service, command_id, who.actor.clone(), command).await?)
}

/// A resident as the principal their link would be.
pub(crate) fn resident_principal(resident: &ResidentId) -> Result<Principal, Error> {
    Ok(Principal { actor: Actor::new(Role::Resident, resident.as_str())?, place: None })
}

/// A new account for `phone`: an opaque id, the contact in the personal
/// store, the phone claimed. When another request claimed the phone first,
/// that account is the phone's, and this one's record is erased; the bool
/// says whether the account is this request's own.
pub(crate) fn account_for<S: EventStore>(
    state: &AppState<S>,
    phone: &PhoneKey,
    contact: &Contact,
) -> Result<(ResidentId, bool), AppError> {
    let resident = new_record(state, contact)?;
    let owner = accounts(state)?.claim(phone, &resident)?;
    if owner != resident {
        personal(state)?.erase(&resident)?;
        return Ok((owner, false));
    }
    Ok((resident, true))
}

/// A fresh resident id with `contact` in the personal store (never the log).
fn new_record<S: EventStore>(state: &AppState<S>, contact: &Contact) -> Result<ResidentId, AppError> {
    if contact.name.trim().is_empty() {
        return Err(Error::invalid("name", "tell us your name").into());
    }
    let person = Person::new(&contact.name, &contact.phone, "")?.with_email(&contact.email)?;
    let random = crate::random_hex(8).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let bytes = u64::from_str_radix(&random, 16).unwrap_or_default().to_be_bytes();
    let resident = resident_id(bytes)?;
    personal(state)?.put(&resident, &person)?;
    Ok(resident)
}

fn personal<S>(state: &AppState<S>) -> Result<&dyn gridloop_engine::personal::PersonalStore, AppError> {
    state.personal.as_deref().ok_or_else(|| Error::invalid("name", "this server keeps no personal data").into())
}

/// Holds the order until the phone is confirmed: for the phone's account,
/// or a new resident whose phone is claimed only once confirmed. Expired
/// orders go first (a new resident's record with them).
async fn hold<S: EventStore>(
    state: &AppState<S>,
    phone: PhoneKey,
    existing: Option<ResidentId>,
    contact: &Contact,
    request: &Request,
) -> Result<String, AppError> {
    let store = accounts(state)?;
    let now = state.service.clock().now();
    let mut live = Vec::new();
    for (id, order) in store.held()? {
        if order.expired(now) {
            drop_held(state, &id)?;
        } else {
            live.push(order);
        }
    }
    let for_phone = live.iter().filter(|o| o.phone == phone).count();
    let request = serde_json::to_string(request).map_err(|e| AppError::Internal(e.to_string()))?;
    let (resident, new) = match existing {
        Some(resident) => (resident, false),
        None => (new_record(state, contact)?, true),
    };
    let held = HeldOrder::new(phone, resident.clone(), new, request, now, live.len(), for_phone);
    let held = match held {
        Ok(held) => held,
        Err(refused) => {
            if new {
                personal(state)?.erase(&resident)?;
            }
            return Err(refused.into());
        }
    };
    let id = crate::random_hex(16).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    store.hold(&id, &held)?;
    if let Err(error) = send(state, &phone, &resident, CodeUse::ConfirmPhone).await {
        drop_held(state, &id)?;
        return Err(error);
    }
    Ok(id)
}

/// Takes a held order out, erasing a new resident's record with it.
fn drop_held<S: EventStore>(state: &AppState<S>, id: &str) -> Result<(), AppError> {
    if let Some(order) = accounts(state)?.release(id)? {
        if order.new_resident {
            personal(state)?.erase(&order.resident)?;
        }
    }
    Ok(())
}

/// `{ "code": "123456" }`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmBody {
    #[schema(max_length = 12)]
    code: String,
}

/// `POST /resident/orders/{id}/confirm`: the code sent to the phone of a
/// held order; the order is submitted, and this device gets a link.
#[utoipa::path(post, path = "/resident/orders/{id}/confirm", operation_id = "resident_confirm_order", tag = "resident",
    summary = "Confirms a held order's phone with the code it was sent",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "The held order's id")),
    request_body = ConfirmBody,
    responses((status = 201, description = "Submitted", body = Ordered), crate::openapi::Refusals))]
pub(crate) async fn confirm<S: EventStore>(
    State(state): State<AppState<S>>,
    peer: Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Ordered>), AppError> {
    let body: ConfirmBody = parse(&read_body(body)?)?;
    super::account::admit_code(&state, peer)?;
    let store = accounts(&state)?;
    let now = state.service.clock().now();
    let not_held = || Error::NotFound { kind: "held order", id: bounded(&id) };
    let held = store.held()?.into_iter().find(|(key, _)| *key == id).map(|(_, order)| order).ok_or_else(not_held)?;
    if held.expired(now) {
        drop_held(&state, &id)?;
        return Err(not_held().into());
    }
    redeem(&state, &held.phone, &body.code, CodeUse::ConfirmPhone)?;
    store.release(&id)?;
    let request: Request = serde_json::from_str(&held.request).map_err(|e| AppError::Internal(e.to_string()))?;
    let resident = store.claim(&held.phone, &held.resident)?;
    if held.new_resident && resident != held.resident {
        personal(&state)?.erase(&held.resident)?;
    }
    let ticket = carry_out(&state, &resident_principal(&resident)?, &headers, &request).await?;
    let link = issue_link(&state, &resident)?;
    Ok((StatusCode::CREATED, Json(Ordered { ticket: Some(ticket), link: Some(link), ..Ordered::default() })))
}
