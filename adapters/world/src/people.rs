//! `teams.csv`, `volunteers.csv` and `staff.csv`: who serves the district.
//! Names and phones go to the personal data of the bundle, keyed
//! `volunteer:V-7` and `staff:<subject>`, never into the world.

use std::collections::{BTreeMap, BTreeSet};

use gridloop_engine::envelope::Role;
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{ActorId, DepartmentId, ResidentId, TeamId, VolunteerId};
use gridloop_engine::personal::Person;
use gridloop_engine::volunteer::{OPEN_ORDERS_LIMIT_MAX, SKILLS_MAX};
use gridloop_engine::world::{STAFF_MAX, StaffMember, TEAM_LINKS_MAX, TEAMS_MAX, Team, TeamKind};

use crate::catalog::{insert, optional_name, reference, required_name, skills};
use crate::geo::Grids;
use crate::problem::{Problem, Problems};
use crate::text::{Columns, Lined, Row, for_each_row, ok, parse_id, quoted, reason, split_list};
use crate::{Status, VolunteerEntry};

/// The most volunteers a bundle may list.
pub const VOLUNTEERS_MAX: usize = 1_000_000;
/// The default of `open_orders_max`.
pub const OPEN_ORDERS_DEFAULT: u32 = 3;

const TEAMS: Columns = Columns {
    file: crate::TEAMS,
    required: &["id", "name", "kind", "scope"],
    optional: &["name_en", "linked"],
    rows_max: TEAMS_MAX,
};

const VOLUNTEERS: Columns = Columns {
    file: crate::VOLUNTEERS,
    required: &["id", "name", "team", "home_grid"],
    optional: &["phone", "skills", "open_orders_max", "status", "reason"],
    rows_max: VOLUNTEERS_MAX,
};

const STAFF: Columns = Columns {
    file: crate::STAFF,
    required: &["subject", "name", "role"],
    optional: &["phone", "place", "department"],
    rows_max: STAFF_MAX,
};

/// The personal records of a bundle, by their key in the personal store.
pub(crate) type Personal = BTreeMap<ResidentId, Person>;

/// Reads `teams.csv`; every id that parses is also in the returned set
/// (`None` when the rows could not be read at all).
pub(crate) fn teams(
    text: &str,
    grids: Option<&Grids>,
    problems: &mut Problems,
) -> (Lined<TeamId, Team>, Option<BTreeSet<TeamId>>) {
    let mut teams = Lined::new();
    let mut seen = BTreeSet::new();
    let mut owners: BTreeMap<GridCode, (TeamId, u64)> = BTreeMap::new();
    let read = for_each_row(TEAMS, text, problems, |row, problems| {
        if let Ok(id) = TeamId::new(row.get("id")) {
            seen.insert(id);
        }
        let team = match team(row, grids) {
            Ok(team) => team,
            Err(found) => return found.into_iter().for_each(|p| problems.push(p)),
        };
        if team.kind == TeamKind::Community {
            if let Some((other, line)) = owners.get(&team.scope) {
                let why = format!("{} already has its own community team, {other} (line {line})", team.scope);
                return problems.push(row.problem("scope", why));
            }
            owners.insert(team.scope.clone(), (team.id.clone(), row.line));
        }
        insert(&mut teams, row, team.id.clone(), team, problems);
    });
    (teams, read.then_some(seen))
}

/// One team row, or everything wrong with it.
fn team(row: &Row<'_>, grids: Option<&Grids>) -> Result<Team, Vec<Problem>> {
    let mut found = Vec::new();
    let id = ok(&mut found, parse_id(row, "id", |s| TeamId::new(s)));
    let name = ok(&mut found, required_name(row, "name"));
    let name_en = ok(&mut found, optional_name(row, "name_en"));
    let kind = ok(&mut found, team_kind(row));
    let scope = ok(&mut found, place(row, "scope", grids));
    let mut linked = Vec::new();
    for cell in split_list(row.get("linked")) {
        match community(row, cell, grids) {
            Ok(code) if !linked.contains(&code) => linked.push(code),
            Ok(_) => {}
            Err(problem) => found.push(problem),
        }
    }
    match kind {
        Some(TeamKind::BackupAgency) if linked.is_empty() && found.is_empty() => {
            found.push(row.problem("linked", "is empty; a backup agency is linked to at least one community"));
        }
        Some(TeamKind::Community | TeamKind::Volunteer) if !row.get("linked").is_empty() => {
            found.push(row.problem("linked", "is only for backup agencies"));
        }
        _ if linked.len() > TEAM_LINKS_MAX => {
            found.push(row.problem("linked", format!("names {} places; at most {TEAM_LINKS_MAX}", linked.len())));
        }
        _ => {}
    }
    match (id, name, name_en, kind, scope) {
        (Some(id), Some(name), Some(name_en), Some(kind), Some(scope)) if found.is_empty() => {
            Ok(Team { id, name, name_en, kind, scope, linked })
        }
        _ => Err(found),
    }
}

fn team_kind(row: &Row<'_>) -> Result<TeamKind, Problem> {
    match row.required("kind")? {
        "community" => Ok(TeamKind::Community),
        "volunteer" => Ok(TeamKind::Volunteer),
        "backup_agency" => Ok(TeamKind::BackupAgency),
        other => Err(row.problem("kind", format!("{} is not community, volunteer or backup_agency", quoted(other)))),
    }
}

/// A grid code of `grids.geojson` (checked when that file was read).
fn place(row: &Row<'_>, column: &str, grids: Option<&Grids>) -> Result<GridCode, Problem> {
    let code = parse_id(row, column, GridCode::parse)?;
    match grids {
        Some(grids) if !grids.has(&code) => Err(row.problem(column, format!("\"{code}\" is not in grids.geojson"))),
        _ => Ok(code),
    }
}

/// A linked place: a community (or village) of `grids.geojson`.
fn community(row: &Row<'_>, cell: &str, grids: Option<&Grids>) -> Result<GridCode, Problem> {
    let bad = |why: String| row.problem("linked", why);
    let code = GridCode::parse(cell).map_err(|e| bad(format!("{}: {}", quoted(cell), reason(e))))?;
    if code.level() != Level::Community {
        return Err(bad(format!("{code} is a {}, not a community", code.level().name())));
    }
    match grids {
        Some(grids) if !grids.has(&code) => Err(bad(format!("\"{code}\" is not in grids.geojson"))),
        _ => Ok(code),
    }
}

/// Reads `volunteers.csv`, adding each volunteer's name and phone to
/// `personal`.
pub(crate) fn volunteers(
    text: &str,
    teams: Option<&BTreeSet<TeamId>>,
    grids: Option<&Grids>,
    personal: &mut Personal,
    problems: &mut Problems,
) -> Lined<VolunteerId, VolunteerEntry> {
    let mut volunteers = Lined::new();
    for_each_row(VOLUNTEERS, text, problems, |row, problems| match volunteer(row, teams, grids) {
        Ok((entry, key, person)) => {
            if !volunteers.contains_key(&entry.id) {
                personal.insert(key, person);
            }
            insert(&mut volunteers, row, entry.id.clone(), entry, problems);
        }
        Err(found) => found.into_iter().for_each(|p| problems.push(p)),
    });
    volunteers
}

type VolunteerRow = (VolunteerEntry, ResidentId, Person);

/// One volunteer row, with its personal record, or everything wrong with it.
fn volunteer(
    row: &Row<'_>,
    teams: Option<&BTreeSet<TeamId>>,
    grids: Option<&Grids>,
) -> Result<VolunteerRow, Vec<Problem>> {
    let mut found = Vec::new();
    let id = ok(&mut found, parse_id(row, "id", |s| VolunteerId::new(s)));
    let person = ok(&mut found, person(row));
    let team = ok(&mut found, reference(row, "team", |s| TeamId::new(s), teams, "in teams.csv"));
    let home_grid = ok(&mut found, place(row, "home_grid", grids).and_then(|code| home(row, code)));
    let skills = ok(&mut found, skills(row, "skills"));
    if skills.as_ref().is_some_and(|s| s.len() > SKILLS_MAX) {
        found.push(row.problem("skills", format!("lists more than {SKILLS_MAX} skills")));
    }
    let open_orders_max = ok(&mut found, open_orders_max(row));
    let status = ok(&mut found, status(row));
    match (id, person, team, home_grid, skills, open_orders_max, status) {
        (Some(id), Some(person), Some(team), Some(home_grid), Some(skills), Some(open_orders_max), Some(status))
            if found.is_empty() =>
        {
            let key = ResidentId::new(format!("volunteer:{id}")).map_err(|e| vec![row.problem("id", reason(e))])?;
            let skills = skills.into_iter().collect();
            Ok((VolunteerEntry { id, team, home_grid, skills, open_orders_max, status }, key, person))
        }
        _ => Err(found),
    }
}

/// A volunteer's home is a grid or sub-grid.
fn home(row: &Row<'_>, code: GridCode) -> Result<GridCode, Problem> {
    if code.level() < Level::Grid {
        let why = format!("{code} is a {}; a volunteer's home is a grid or sub-grid", code.level().name());
        return Err(row.problem("home_grid", why));
    }
    Ok(code)
}

fn open_orders_max(row: &Row<'_>) -> Result<u32, Problem> {
    match row.get("open_orders_max") {
        "" => Ok(OPEN_ORDERS_DEFAULT),
        cell => cell.parse::<u32>().ok().filter(|n| (1..=OPEN_ORDERS_LIMIT_MAX).contains(n)).ok_or_else(|| {
            row.problem(
                "open_orders_max",
                format!("{} is not a whole number from 1 to {OPEN_ORDERS_LIMIT_MAX}", quoted(cell)),
            )
        }),
    }
}

/// `active` (the default), `inactive` or `exited`, the last two with a reason.
fn status(row: &Row<'_>) -> Result<Status, Problem> {
    let reason = gridloop_engine::ticket::bounded_text("reason", row.get("reason"), true)
        .map_err(|e| row.problem("reason", crate::text::reason(e)))?;
    let needs_reason = |status: &str| row.problem("reason", format!("is empty; say why the volunteer is {status}"));
    match (row.get("status"), reason.is_empty()) {
        ("" | "active", true) => Ok(Status::Active),
        ("" | "active", false) => Err(row.problem("reason", "is only for inactive or exited volunteers")),
        ("inactive", true) => Err(needs_reason("inactive")),
        ("exited", true) => Err(needs_reason("exited")),
        ("inactive", false) => Ok(Status::Inactive { reason }),
        ("exited", false) => Ok(Status::Exited { reason }),
        (other, _) => Err(row.problem("status", format!("{} is not active, inactive or exited", quoted(other)))),
    }
}

/// A name (required) and phone (optional), as the personal store takes them.
fn person(row: &Row<'_>) -> Result<Person, Problem> {
    let name = row.required("name")?;
    Person::new(name, row.get("phone"), "").map_err(|e| match e {
        gridloop_engine::Error::Invalid { field: "phone", reason } => row.problem("phone", reason),
        other => row.problem("name", reason(other)),
    })
}

/// Reads `staff.csv`, adding each member's name and phone to `personal`.
pub(crate) fn staff(
    text: &str,
    grids: Option<&Grids>,
    departments: Option<&BTreeSet<DepartmentId>>,
    personal: &mut Personal,
    problems: &mut Problems,
) -> Lined<ActorId, StaffMember> {
    let mut staff = Lined::new();
    for_each_row(STAFF, text, problems, |row, problems| match member(row, grids, departments) {
        Ok((member, key, person)) => {
            if !staff.contains_key(&member.subject) {
                personal.insert(key, person);
            }
            insert(&mut staff, row, member.subject.clone(), member, problems);
        }
        Err(found) => found.into_iter().for_each(|p| problems.push(p)),
    });
    staff
}

type StaffRow = (StaffMember, ResidentId, Person);

/// One staff row, with its personal record, or everything wrong with it.
fn member(
    row: &Row<'_>,
    grids: Option<&Grids>,
    departments: Option<&BTreeSet<DepartmentId>>,
) -> Result<StaffRow, Vec<Problem>> {
    let mut found = Vec::new();
    let subject = ok(&mut found, parse_id(row, "subject", |s| ActorId::new(s)));
    let key = subject.as_ref().and_then(|s| {
        let key = ResidentId::new(format!("staff:{s}"));
        ok(&mut found, key.map_err(|_| row.problem("subject", "is too long: at most 122 characters")))
    });
    let person = ok(&mut found, person(row));
    let role = ok(&mut found, role(row));
    let place = match row.get("place") {
        "" if matches!(role, Some(Role::GridWorker | Role::GridHead | Role::Dispatcher)) => {
            let why = "is empty; grid workers, grid heads and dispatchers act in a place";
            ok(&mut found, Err(row.problem("place", why)))
        }
        "" => Some(None),
        _ => ok(&mut found, place(row, "place", grids).map(Some)),
    };
    let department = match (row.get("department"), role) {
        ("", Some(Role::Department)) => {
            ok(&mut found, Err(row.problem("department", "is empty; department staff belong to one")))
        }
        ("", _) => Some(None),
        (_, Some(Role::Department)) => ok(
            &mut found,
            reference(row, "department", |s| DepartmentId::new(s), departments, "in departments.csv").map(Some),
        ),
        (_, _) => ok(&mut found, Err(row.problem("department", "is only for department staff"))),
    };
    match (subject, key, person, role, place, department) {
        (Some(subject), Some(key), Some(person), Some(role), Some(place), Some(department)) if found.is_empty() => {
            Ok((StaffMember { subject, role, place, department }, key, person))
        }
        _ => Err(found),
    }
}

fn role(row: &Row<'_>) -> Result<Role, Problem> {
    match row.required("role")? {
        "grid_worker" => Ok(Role::GridWorker),
        "grid_head" => Ok(Role::GridHead),
        "dispatcher" => Ok(Role::Dispatcher),
        "official" => Ok(Role::Official),
        "department" => Ok(Role::Department),
        "auditor" => Ok(Role::Auditor),
        "admin" => Ok(Role::Admin),
        other => {
            let roles = "grid_worker, grid_head, dispatcher, official, department, auditor or admin";
            let why = format!("{} is not {roles}", quoted(other));
            Err(row.problem("role", why))
        }
    }
}
