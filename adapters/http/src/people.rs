//! People over the API: volunteers registered and changed, staff assigned
//! and given tokens.
//!
//! - `POST /volunteers` `{ id, team, home_grid, skills?, open_orders_max?,
//!   name?, phone? }`: registers a volunteer (201).
//! - `POST /volunteers/{id}/{action}`: `transfer` `{ team?, home_grid?,
//!   open_orders_max? }` (what is left out stays as it is), `skills`
//!   `{ skills }`, `deactivate` `{ reason }`, `reactivate`, `exit`
//!   `{ reason }`. (`redeem` and `link-code` have routes of their own.)
//! - `GET /staff[?place=]`: the staff of the world, with a masked name and
//!   phone when the personal store has them.
//! - `POST /staff` `{ subject, role, place?, department?, name, phone? }`:
//!   assigns a member of staff (an `assign_staff` world change) and keeps
//!   their name and phone (201).
//! - `POST /staff/{subject}/token`: a token for that member of staff, with
//!   the role (and a dispatcher's or grid worker's place) the world gives
//!   them (201).
//!
//! Who: the engine's permit rule decides (`gridloop_engine::permit`: admins
//! and dispatchers register and change volunteers; a volunteer may change
//! their own skills; only admins change the world; a dispatcher who serves
//! a place acts only on volunteers whose home grid is inside it,
//! [`reach_volunteer`]). Every POST but the token's takes an `Idempotency-Key`
//! ([`run_keyed`]).
//!
//! Names and phones never enter the log: they go to the personal store,
//! keyed `volunteer:<id>` and `staff:<subject>` as the bundle import keys
//! them. The events are written first and the record after, so a failure
//! between the two leaves a registration without a name, never a name
//! without a registration; repeating the request with its key writes the
//! record then (the engine answers the repeat as before and writes nothing).
//! A server started without a personal store refuses names and phones
//! rather than dropping them.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::Error;
use gridloop_engine::envelope::Role;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ActorId, DepartmentId, ResidentId, Skill, TeamId, VolunteerId};
use gridloop_engine::personal::{Lookup, Person};
use gridloop_engine::service::{Command, Outcome};
use gridloop_engine::store::EventStore;
use gridloop_engine::volunteer::{Volunteer, VolunteerCommand};
use gridloop_engine::world::{StaffMember, WorldChange, WorldCommand};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Principal, TokenTable};
use crate::error::Path;
use crate::reads::{known_grid, params};
use crate::tickets::{parse, read_body, run_keyed, written};
use crate::{AppError, AppState};
use gridloop_engine::permit::{Access, Read, Target, Write, permit};

/// The open-order limit of a volunteer registered without one (as the
/// bundle's `volunteers.csv` defaults it).
pub const OPEN_ORDERS_DEFAULT: u32 = 3;
/// The most staff `GET /staff` answers with (the total is counted).
pub const STAFF_ROWS_MAX: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    #[schema(value_type = String, example = "V-7")]
    id: VolunteerId,
    /// A team of the world, `TM-3`.
    #[schema(value_type = String)]
    team: TeamId,
    /// A grid or sub-grid code.
    #[schema(value_type = String)]
    home_grid: GridCode,
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 16)]
    skills: BTreeSet<Skill>,
    #[schema(minimum = 1, maximum = 50)]
    open_orders_max: Option<u32>,
    /// Kept in the personal store, never the log.
    #[schema(max_length = 200)]
    name: Option<String>,
    #[schema(max_length = 200)]
    phone: Option<String>,
}

/// `POST /volunteers`: 201 with `{ id, version, events }`.
#[utoipa::path(
    post,
    path = "/volunteers",
    operation_id = "register_volunteer",
    tag = "volunteers",
    summary = "Admins, and dispatchers within their place: register a volunteer; name and phone go to the personal store, never the log",
    params(crate::openapi::IdempotencyKey),
    request_body = RegisterBody,
    responses((status = 201, description = "What was written", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn register<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let bytes = read_body(body)?;
    let body: RegisterBody = parse(&bytes)?;
    let person = match (&body.name, &body.phone) {
        (None, None) => None,
        (name, phone) => Some(Person::new(name.as_deref().unwrap_or(""), phone.as_deref().unwrap_or(""), "")?),
    };
    let key = personal_key("volunteer", body.id.as_str())?;
    if person.is_some() {
        personal_store(&state)?;
    }
    permit(&who, Access::Write(Write::RegisterVolunteer), Target::Place(&body.home_grid))?;
    known_team(&state, &body.team).await?;
    let command = VolunteerCommand::Register {
        team: body.team,
        home_grid: body.home_grid,
        skills: body.skills,
        open_orders_max: body.open_orders_max.unwrap_or(OPEN_ORDERS_DEFAULT),
    };
    let id = body.id;
    let command = Command::Volunteer { id: id.clone(), command };
    let outcome = run_keyed(&state, &who, &headers, "POST /volunteers", &bytes, command).await?;
    if let Some(person) = person {
        keep_personal(&state, &key, &person, outcome.is_duplicate())?;
    }
    Ok((StatusCode::CREATED, Json(answer(json!(id), outcome))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferBody {
    #[schema(value_type = Option<String>)]
    team: Option<TeamId>,
    #[schema(value_type = Option<String>)]
    home_grid: Option<GridCode>,
    #[schema(minimum = 1, maximum = 50)]
    open_orders_max: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkillsBody {
    #[schema(value_type = Vec<String>, max_items = 16)]
    skills: BTreeSet<Skill>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    #[schema(max_length = 2000)]
    reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NoFields)]
#[serde(deny_unknown_fields)]
pub(crate) struct Empty {}

#[utoipa::path(
    post,
    path = "/volunteers/{id}/transfer",
    operation_id = "transfer_volunteer",
    tag = "volunteers",
    summary = "Admins, and dispatchers serving both homes: move a volunteer to another team, home grid or open-order limit (what is left out stays)",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = TransferBody,
    responses((status = 200, description = "What was written; `version` is null when nothing needed doing", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn transfer<S: EventStore>(
    state: State<AppState<S>>,
    who: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    act(state, who, id, "transfer", headers, body).await
}

#[utoipa::path(
    post,
    path = "/volunteers/{id}/skills",
    operation_id = "change_skills_volunteer",
    tag = "volunteers",
    summary = "Admins, dispatchers within their place, or the volunteer: replace a volunteer's skills",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = SkillsBody,
    responses((status = 200, description = "What was written; `version` is null when nothing needed doing", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn change_skills<S: EventStore>(
    state: State<AppState<S>>,
    who: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    act(state, who, id, "skills", headers, body).await
}

#[utoipa::path(
    post,
    path = "/volunteers/{id}/deactivate",
    operation_id = "deactivate_volunteer",
    tag = "volunteers",
    summary = "Admins, and dispatchers within their place: stand a volunteer down (offered nothing until reactivated)",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = ReasonBody,
    responses((status = 200, description = "What was written; `version` is null when nothing needed doing", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn deactivate<S: EventStore>(
    state: State<AppState<S>>,
    who: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    act(state, who, id, "deactivate", headers, body).await
}

#[utoipa::path(
    post,
    path = "/volunteers/{id}/reactivate",
    operation_id = "reactivate_volunteer",
    tag = "volunteers",
    summary = "Admins, and dispatchers within their place: bring a stood-down volunteer back",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = Empty,
    responses((status = 200, description = "What was written; `version` is null when nothing needed doing", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn reactivate<S: EventStore>(
    state: State<AppState<S>>,
    who: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    act(state, who, id, "reactivate", headers, body).await
}

#[utoipa::path(
    post,
    path = "/volunteers/{id}/exit",
    operation_id = "exit_volunteer",
    tag = "volunteers",
    summary = "Admins, and dispatchers within their place: a volunteer leaves for good; nothing but redemption is taken after",
    params(crate::openapi::IdempotencyKey, ("id" = String, Path, description = "A volunteer id, `V-7`")),
    request_body = ReasonBody,
    responses((status = 200, description = "What was written; `version` is null when nothing needed doing", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn exit<S: EventStore>(
    state: State<AppState<S>>,
    who: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    act(state, who, id, "exit", headers, body).await
}

/// The registered volunteer `id`, once the permit rule lets `who` use
/// `access` on them: the role first (so that who may not act at all hears
/// that, whether or not the volunteer exists), then `not_found`, then the
/// place they live in (or, for a volunteer, whether it is their own
/// account).
pub(crate) async fn reach_volunteer<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    access: Access,
    id: &VolunteerId,
) -> Result<Volunteer, AppError> {
    permit(who, access, Target::District)?;
    let current = state.service.volunteer(id).await?;
    let Some(home) = current.home_grid.as_ref().filter(|_| current.id.is_some()) else {
        return Err(Error::NotFound { kind: "volunteer", id: id.to_string() }.into());
    };
    permit(who, access, Target::Volunteer { id, home })?;
    Ok(current)
}

/// `POST /volunteers/{id}/<action>`: `{ id, version, events }`; `version`
/// is null when nothing needed doing (deactivating one already inactive).
async fn act<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    id: String,
    action: &str,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let id = VolunteerId::new(id)?;
    let bytes = read_body(body)?;
    let access = Access::Write(if action == "skills" { Write::VolunteerSkills } else { Write::ManageVolunteer });
    // A placed dispatcher must serve where the volunteer lives now, and,
    // for a transfer, where they are moved to.
    let current = reach_volunteer(&state, &who, access, &id).await?;
    let command = volunteer_command(action, &bytes, &current)?;
    if let VolunteerCommand::Transfer { team, home_grid, .. } = &command {
        permit(&who, access, Target::Place(home_grid))?;
        known_team(&state, team).await?;
    }
    let route = format!("POST /volunteers/{id}/{action}");
    let command = Command::Volunteer { id: id.clone(), command };
    let outcome = run_keyed(&state, &who, &headers, &route, &bytes, command).await?;
    Ok(Json(answer(json!(id), outcome)))
}

/// The command an action names, from its body; a transfer keeps what its
/// body leaves out. An unknown action is 404.
fn volunteer_command(action: &str, body: &[u8], current: &Volunteer) -> Result<VolunteerCommand, AppError> {
    use VolunteerCommand as C;
    let command = match action {
        "transfer" => {
            let b: TransferBody = parse(body)?;
            // A registered volunteer always has a team and a home grid.
            let team = b.team.or(current.team.clone()).ok_or_else(|| Error::invalid("team", "name the team"))?;
            let home_grid = b
                .home_grid
                .or(current.home_grid.clone())
                .ok_or_else(|| Error::invalid("home_grid", "name the grid"))?;
            C::Transfer { team, home_grid, open_orders_max: b.open_orders_max.unwrap_or(current.open_orders_max) }
        }
        "skills" => C::ChangeSkills { skills: parse::<SkillsBody>(body)?.skills },
        "deactivate" => C::Deactivate { reason: parse::<ReasonBody>(body)?.reason },
        "reactivate" => parse::<Empty>(body).map(|_| C::Reactivate {})?,
        "exit" => C::Exit { reason: parse::<ReasonBody>(body)?.reason },
        _ => return Err(Error::NotFound { kind: "action", id: action.to_string() }.into()),
    };
    Ok(command)
}

/// The engine takes any team id for a volunteer (its decisions see the
/// grid tree, not the teams), so the API checks it against the world.
async fn known_team<S: EventStore>(state: &AppState<S>, team: &TeamId) -> Result<(), Error> {
    state.service.refresh_world().await?;
    if state.service.world().teams.contains_key(team) {
        Ok(())
    } else {
        Err(Error::invalid("team", format!("{team} is not a team of this world (GET /teams lists them)")))
    }
}

/// What a people route answers: the id, the version written (null when
/// nothing needed doing) and the events, all from the engine's outcome, so
/// a repeat answers as the first did.
fn answer(id: Value, outcome: Outcome) -> Value {
    let version = outcome.append.as_ref().map(|a| a.last_version);
    json!({ "id": id, "version": version, "events": written(outcome) })
}

/// The personal store's key of a person: `volunteer:V-7`, `staff:d-1`.
fn personal_key(kind: &str, id: &str) -> Result<ResidentId, Error> {
    ResidentId::new(format!("{kind}:{id}")).map_err(|_| Error::invalid("id", "is too long for a personal record"))
}

/// The personal store, or a refusal: names and phones are never dropped.
fn personal_store<S>(state: &AppState<S>) -> Result<&dyn gridloop_engine::personal::PersonalStore, Error> {
    state
        .personal
        .as_deref()
        .ok_or_else(|| Error::invalid("name", "this server keeps no personal store, so it takes no names or phones"))
}

/// Writes a person's record. For a repeated request only when none is
/// there, so a repeat finishes a first attempt cut short and never brings
/// back a record erased since.
fn keep_personal<S>(state: &AppState<S>, key: &ResidentId, person: &Person, repeat: bool) -> Result<(), Error> {
    let store = personal_store(state)?;
    if repeat && store.get(key)? != Lookup::Unknown {
        return Ok(());
    }
    store.put(key, person)
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = AssignStaffBody)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// The id their token carries.
    #[schema(value_type = String)]
    subject: ActorId,
    #[schema(value_type = crate::openapi::StaffRole)]
    role: Role,
    /// Grid workers and dispatchers: where they act.
    #[schema(value_type = Option<String>)]
    place: Option<GridCode>,
    /// Department staff: their department.
    #[schema(value_type = Option<String>)]
    department: Option<DepartmentId>,
    #[schema(max_length = 200)]
    name: String,
    #[schema(max_length = 200)]
    phone: Option<String>,
}

/// `POST /staff` (admins): 201 with `{ id, version, events }`.
#[utoipa::path(
    post,
    path = "/staff",
    operation_id = "assign_staff",
    tag = "staff",
    summary = "Admins: assign a member of staff (an assign_staff world change); name and phone go to the personal store",
    params(crate::openapi::IdempotencyKey),
    request_body = AssignBody,
    responses((status = 201, description = "What was written", body = crate::openapi::shapes::Changed), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn assign<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    permit(&who, Access::Write(Write::World), Target::District)?;
    let bytes = read_body(body)?;
    let body: AssignBody = parse(&bytes)?;
    let person = Person::new(&body.name, body.phone.as_deref().unwrap_or(""), "")?;
    if person.name.is_empty() {
        return Err(Error::invalid("name", "must not be empty").into());
    }
    let key = personal_key("staff", body.subject.as_str())?;
    personal_store(&state)?;
    let staff = StaffMember { subject: body.subject, role: body.role, place: body.place, department: body.department };
    let subject = staff.subject.clone();
    let command = Command::World { command: WorldCommand { changes: vec![WorldChange::AssignStaff { staff }] } };
    let outcome = run_keyed(&state, &who, &headers, "POST /staff", &bytes, command).await?;
    keep_personal(&state, &key, &person, outcome.is_duplicate())?;
    Ok((StatusCode::CREATED, Json(answer(json!(subject), outcome))))
}

/// `POST /staff/{subject}/token` (admins): a token for a member of staff,
/// shown once. The token carries who the world says they are
/// ([`Principal::of_staff`](gridloop_engine::permit::Principal::of_staff):
/// the role, a dispatcher's or grid worker's place, a department's code). No
/// `Idempotency-Key`: a retry issues another token, as `POST /tokens` does.
#[utoipa::path(
    post,
    path = "/staff/{subject}/token",
    operation_id = "staff_token",
    tag = "staff",
    summary = "Admins: a token for a member of staff with the role the world gives them, shown once; no Idempotency-Key",
    params(("subject" = String, Path, description = "The staff member's subject")),
    responses((status = 201, description = "The new token", body = crate::openapi::shapes::IssuedToken), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn token<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    Path(subject): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    permit(&who, Access::Write(Write::World), Target::District)?;
    let subject = ActorId::new(subject)?;
    state.service.refresh_world().await?;
    let world = state.service.world();
    let staff =
        world.staff.get(&subject).ok_or_else(|| Error::NotFound { kind: "staff member", id: subject.to_string() })?;
    let holder = gridloop_engine::permit::Principal::of_staff(&world, staff)?;
    let (token, entry) = TokenTable::issue(holder.actor.role, holder.actor.id.as_str(), holder.place)?;
    let hash = blake3::Hash::from_hex(&entry.hash).expect("issued hashes are valid");
    let id = TokenTable::id_of(&hash);
    let principal = entry.principal.clone();
    crate::admin::change(&state, |table| table.insert(entry), |table, ()| drop(table.revoke(&id)))?;
    tracing::info!(admin = %who.actor.id.as_str(), token = %id, staff = %subject.as_str(), "staff token issued");
    let mut answer = crate::admin::row(&id, &principal);
    answer["staff"] = json!(subject);
    answer["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `?place=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StaffParams {
    /// A place's code: staff acting within it.
    place: Option<String>,
}

/// `GET /staff[?place=]` (dispatchers, auditors, admins): subject, role,
/// place and department, by subject, with the name and phone masked; within
/// `place` (a placed dispatcher's own place by default) only staff placed
/// inside it. At most [`STAFF_ROWS_MAX`] rows, with the total.
#[utoipa::path(
    get,
    path = "/staff",
    operation_id = "list_staff",
    tag = "staff",
    summary = "Dispatchers, auditors, admins: the staff (name and phone masked) within place, at most 500",
    params(StaffParams),
    responses((status = 200, description = "Staff and their total", body = crate::openapi::shapes::StaffList), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn staff<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    query: Result<Query<StaffParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    permit(&who, Access::Read(Read::World), Target::District)?;
    let p = params(query)?;
    state.service.refresh_world().await?;
    let world = state.service.world();
    let asked = p.place.as_deref().map(|c| known_grid(&world.grids, "place", c)).transpose()?;
    let scope = who.scope(asked)?;
    let inside = |s: &&StaffMember| match &scope {
        Some(scope) => s.place.as_ref().is_some_and(|p| p.is_within(scope)),
        None => true,
    };
    let found: Vec<&StaffMember> = world.staff.values().filter(inside).collect();
    let mut rows = Vec::new();
    for member in found.iter().take(STAFF_ROWS_MAX) {
        rows.push(staff_row(&state, member)?);
    }
    Ok(Json(json!({ "items": rows, "total": found.len() })))
}

/// One member of staff as `GET /staff` shows them.
fn staff_row<S>(state: &AppState<S>, member: &StaffMember) -> Result<Value, Error> {
    let mut row = json!({
        "subject": member.subject, "role": member.role, "place": member.place, "department": member.department,
        "name": null, "phone": null, "erased": false,
    });
    if let Some(store) = state.personal.as_deref() {
        match store.get(&personal_key("staff", member.subject.as_str())?)? {
            Lookup::Found(person) => {
                row["name"] = json!(mask_name(&person.name));
                row["phone"] = json!(mask_phone(&person.phone));
            }
            Lookup::Erased => row["erased"] = json!(true),
            Lookup::Unknown => {}
        }
    }
    Ok(row)
}

/// The first character and two stars (`张**`): enough to tell people
/// apart on a list, not enough to name them; the length is not shown.
pub fn mask_name(name: &str) -> Option<String> {
    name.chars().next().map(|first| format!("{first}**"))
}

/// The last four characters after four stars (`****8000`); a phone of
/// four characters or fewer is all stars.
pub fn mask_phone(phone: &str) -> Option<String> {
    let chars: Vec<char> = phone.chars().collect();
    match chars.len() {
        0 => None,
        n if n <= 4 => Some("****".into()),
        n => Some(format!("****{}", chars[n - 4..].iter().collect::<String>())),
    }
}
