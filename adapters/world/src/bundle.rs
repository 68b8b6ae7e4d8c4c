//! A whole bundle: its files read in dependency order (district, then
//! departments and grids, then what refers to them), checked across files,
//! then checked by the engine itself: the world it describes must build
//! (`WorldState::world`) and every change that writes it must be decided
//! (`WorldState::decide`, in commands of at most 64 changes), and every
//! volunteer must register. So the rules are the engine's, not copies.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use gridloop_engine::catalog::Category;
use gridloop_engine::envelope::Actor;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{ActorId, CategoryCode, DepartmentId, ItemCode, ResidentId, Skill, TeamId, VolunteerId};
use gridloop_engine::personal::Person;
use gridloop_engine::routing::RoutingPolicy;
use gridloop_engine::time::Timestamp;
use gridloop_engine::volunteer::Volunteer;
use gridloop_engine::world::{CHANGES_PER_COMMAND_MAX, WorldChange, WorldCommand, WorldState};
use gridloop_engine::{Context, World};

use crate::district::District;
use crate::geo::Grids;
use crate::people::Personal;
use crate::problem::{Place, Problem, Problems};
use crate::text::{Encoding, Lined, decode, reason};
use crate::{CATALOG, DEPARTMENTS, DISTRICT, FILES, GRIDS, ROUTING, STAFF, TEAMS, VOLUNTEERS};

/// The largest file a bundle may hold, in bytes.
pub const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// The files a bundle must have.
const REQUIRED: [&str; 5] = [DISTRICT, GRIDS, CATALOG, DEPARTMENTS, TEAMS];

/// A bundle, read and checked: the world it describes, its volunteers, and
/// the personal data (names, phones) of its volunteers and staff.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// The world as the bundle wants it: what an import makes the log's
    /// world into ([`WorldState::changes_to`]).
    pub world: WorldState,
    /// Every row of `volunteers.csv`, by volunteer id; volunteers live on
    /// streams of their own, not in the world, so an import registers or
    /// changes each one separately.
    pub volunteers: BTreeMap<VolunteerId, VolunteerEntry>,
    /// Keyed `volunteer:V-7` and `staff:<subject>`, as the personal store
    /// keeps them.
    pub personal: BTreeMap<ResidentId, Person>,
}

/// A volunteer as `volunteers.csv` describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolunteerEntry {
    /// The `id` column, such as `V-7`; stable across imports.
    pub id: VolunteerId,
    /// The `team` column: a team of `teams.csv`.
    pub team: TeamId,
    /// The `home_grid` column: the grid or sub-grid where the volunteer
    /// lives, which routing uses to offer nearby orders first.
    pub home_grid: GridCode,
    /// The `skills` column, matched against the skills catalog items ask for.
    pub skills: BTreeSet<Skill>,
    /// How many orders the volunteer takes on at once (the
    /// `open_orders_max` column; [`crate::OPEN_ORDERS_DEFAULT`] when empty).
    pub open_orders_max: u32,
    /// The `status` and `reason` columns.
    pub status: Status,
}

/// Whether a volunteer serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Serving and offered orders (an empty `status` cell means this).
    Active,
    /// Stood down for a while.
    Inactive {
        /// Why, from the `reason` column (required for this status).
        reason: String,
    },
    /// Left for good (警示退出).
    Exited {
        /// Why, from the `reason` column (required for this status).
        reason: String,
    },
}

/// Reads the bundle in `dir`, reporting every problem of every file.
/// Files other than the bundle's are ignored (a README may sit there).
pub fn read(dir: &Path, encoding: Encoding) -> Result<Bundle, Vec<Problem>> {
    let mut problems = Problems::default();
    let mut contents: Vec<(String, Vec<u8>)> = Vec::new();
    let mut unreadable = Vec::new();
    if !dir.is_dir() {
        return Err(vec![Problem::file(&dir.display().to_string(), "is not a directory")]);
    }
    for name in FILES.iter().map(|n| n.to_string()).chain(calendar_years(dir)) {
        match read_bounded(&dir.join(&name)) {
            Ok(Some(bytes)) => contents.push((name, bytes)),
            Ok(None) => {}
            Err(why) => {
                problems.push(Problem::file(&name, why));
                unreadable.push(name);
            }
        }
    }
    let files: Vec<(&str, &[u8])> = contents.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    let unreadable: Vec<&str> = unreadable.iter().map(String::as_str).collect();
    read_parts(&files, &unreadable, encoding, problems)
}

/// The year files of the calendar folder, `calendar/2026.toml`, by name
/// (a few more than a calendar may hold, so that too many is reported).
fn calendar_years(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(crate::calendar::CALENDAR_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .map(|name| format!("{}/{name}", crate::calendar::CALENDAR_DIR))
        .filter(|name| crate::calendar::is_year_file(name))
        .take(gridloop_engine::workdays::YEARS_MAX + 1)
        .collect();
    names.sort();
    names
}

/// A file's bytes, `None` when it does not exist; never more than
/// [`FILE_BYTES_MAX`] are read.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(FILE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > FILE_BYTES_MAX {
        return Err("is larger than 64 MiB, the most a bundle's file may be".to_string());
    }
    Ok(Some(bytes))
}

/// Reads a bundle from memory: each file by its name in the bundle
/// (`catalog.csv`) and its bytes. What [`read`] does after reading the
/// directory, and what the fuzz target drives.
pub fn read_files(files: &[(&str, &[u8])], encoding: Encoding) -> Result<Bundle, Vec<Problem>> {
    read_parts(files, &[], encoding, Problems::default())
}

fn read_parts(
    files: &[(&str, &[u8])],
    unreadable: &[&str],
    encoding: Encoding,
    mut problems: Problems,
) -> Result<Bundle, Vec<Problem>> {
    let texts = texts(files, unreadable, encoding, &mut problems);
    let parts = parse(&texts, &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_vec());
    }
    let Some((bundle, origins)) = assemble(parts) else {
        return Err(problems.into_vec());
    };
    check_with_engine(&bundle, &origins, &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_vec());
    }
    Ok(bundle)
}

/// The decoded text of each file, by its name. CSV files are decoded as
/// `encoding` says; TOML and GeoJSON are UTF-8 by their specifications.
fn texts(
    files: &[(&str, &[u8])],
    unreadable: &[&str],
    encoding: Encoding,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    for &(name, bytes) in files {
        if !FILES.contains(&name) && !crate::calendar::is_year_file(name) {
            let shown: String = name.chars().take(60).collect();
            problems.push(Problem::file(&shown, "is not a file of a world bundle (docs/world.md lists them)"));
            continue;
        }
        let known = name.to_string();
        if texts.contains_key(&known) {
            problems.push(Problem::file(&known, "is given twice"));
            continue;
        }
        if bytes.len() as u64 > FILE_BYTES_MAX {
            problems.push(Problem::file(&known, "is larger than 64 MiB, the most a bundle's file may be"));
            continue;
        }
        let encoding = if known.ends_with(".csv") { encoding } else { Encoding::Utf8 };
        match decode(&known, bytes, encoding) {
            Ok(text) => {
                texts.insert(known, text);
            }
            Err(problem) => problems.push(problem),
        }
    }
    let given: BTreeSet<&str> = files.iter().map(|(name, _)| *name).chain(unreadable.iter().copied()).collect();
    for name in REQUIRED.iter().filter(|name| !given.contains(**name)) {
        problems.push(Problem::file(name, "is missing; every bundle has it"));
    }
    texts
}

/// Every part of the bundle as read, before the engine's checks.
#[derive(Debug, Default)]
struct Parts {
    district: Option<District>,
    departments: Lined<DepartmentId, gridloop_engine::catalog::Department>,
    grids: Option<Grids>,
    items: Lined<ItemCode, gridloop_engine::catalog::CatalogItem>,
    teams: Lined<TeamId, gridloop_engine::world::Team>,
    volunteers: Lined<VolunteerId, VolunteerEntry>,
    staff: Lined<ActorId, gridloop_engine::world::StaffMember>,
    routing: Option<RoutingPolicy>,
    calendar: Option<Option<gridloop_engine::workdays::Calendar>>,
    personal: Personal,
}

/// Reads each file, those others refer to first. A reference into a file
/// that could not be read is not checked (its own problems say enough).
fn parse(texts: &BTreeMap<String, String>, problems: &mut Problems) -> Parts {
    let district = texts.get(DISTRICT).and_then(|text| crate::district::read(text, problems));
    let mut parts = Parts { district, ..Parts::default() };
    let district_code = parts.district.as_ref().map(|d| &d.info.code);
    let categories: Option<BTreeSet<CategoryCode>> =
        parts.district.as_ref().map(|d| d.categories.keys().cloned().collect());
    let departments = texts.get(DEPARTMENTS).and_then(|text| {
        let (departments, seen) = crate::catalog::departments(text, problems);
        parts.departments = departments;
        seen
    });
    parts.grids = texts.get(GRIDS).and_then(|text| crate::geo::read(text, district_code, problems));
    let grids = parts.grids.as_ref();
    if let Some(text) = texts.get(CATALOG) {
        parts.items = crate::catalog::catalog(text, categories.as_ref(), departments.as_ref(), problems);
    }
    let teams = texts.get(TEAMS).and_then(|text| {
        let (teams, seen) = crate::people::teams(text, grids, problems);
        parts.teams = teams;
        seen
    });
    if let Some(text) = texts.get(VOLUNTEERS) {
        parts.volunteers = crate::people::volunteers(text, teams.as_ref(), grids, &mut parts.personal, problems);
    }
    if let Some(text) = texts.get(STAFF) {
        parts.staff = crate::people::staff(text, grids, departments.as_ref(), &mut parts.personal, problems);
    }
    parts.routing = match texts.get(ROUTING) {
        Some(text) => crate::routing::read(text, problems),
        None => Some(RoutingPolicy::default()),
    };
    parts.calendar = crate::calendar::read(texts, problems);
    parts
}

/// Where each key of the bundle was written, for the engine's refusals.
#[derive(Debug, Default)]
struct Origins {
    categories: BTreeMap<CategoryCode, u64>,
    departments: BTreeMap<DepartmentId, u64>,
    items: BTreeMap<ItemCode, u64>,
    grids: BTreeMap<GridCode, usize>,
    teams: BTreeMap<TeamId, u64>,
    staff: BTreeMap<ActorId, u64>,
    volunteers: BTreeMap<VolunteerId, u64>,
}

/// The bundle from its parts; `None` when a part is missing (its problem
/// was reported already).
fn assemble(parts: Parts) -> Option<(Bundle, Origins)> {
    let district = parts.district?;
    let grids = parts.grids?;
    let mut origins = Origins::default();
    let mut world = WorldState {
        district: Some(district.info),
        routing: Some(parts.routing?),
        calendar: parts.calendar?,
        ..WorldState::default()
    };
    world.categories = unline(district.categories, &mut origins.categories, |c: &Category| c.code.clone());
    world.departments = unline(parts.departments, &mut origins.departments, |d| d.code.clone());
    world.items = unline(parts.items, &mut origins.items, |i| i.code.clone());
    world.teams = unline(parts.teams, &mut origins.teams, |t| t.id.clone());
    world.staff = unline(parts.staff, &mut origins.staff, |s| s.subject.clone());
    let volunteers = unline(parts.volunteers, &mut origins.volunteers, |v| v.id.clone());
    for (code, (node, index)) in grids.nodes {
        origins.grids.insert(code.clone(), index);
        world.grids.insert(code, node);
    }
    Some((Bundle { world, volunteers, personal: parts.personal }, origins))
}

/// The values of a lined map, their lines kept in `lines`.
fn unline<K: Ord + Clone, V>(map: Lined<K, V>, lines: &mut BTreeMap<K, u64>, key: impl Fn(&V) -> K) -> BTreeMap<K, V> {
    map.into_values()
        .map(|(value, line)| {
            lines.insert(key(&value), line);
            (key(&value), value)
        })
        .collect()
}

/// The engine's checks: every change that writes this world into an empty
/// log is decided, in commands as an import sends them; the world builds;
/// every volunteer registers (and stands down or exits) in it.
fn check_with_engine(bundle: &Bundle, origins: &Origins, problems: &mut Problems) {
    let empty = World::default();
    let ctx = empty.context(Timestamp::default(), false);
    let changes = WorldState::default().changes_to(&bundle.world);
    let mut state = WorldState::default();
    for chunk in changes.chunks(CHANGES_PER_COMMAND_MAX) {
        if let Err(refused) = decide_chunk(&mut state, chunk, &ctx) {
            problems.push(origins.problem(*refused));
            return;
        }
    }
    match state.world() {
        Ok(world) => check_volunteers(bundle, &world, origins, problems),
        Err(e) => problems.push(Problem::file(file_of(&e), format!("the engine refuses this world: {e}"))),
    }
}

/// Decides one command's changes and applies them; on a refusal, the
/// change refused (found by deciding the chunk's changes one by one).
fn decide_chunk(
    state: &mut WorldState,
    chunk: &[WorldChange],
    ctx: &Context<'_>,
) -> Result<(), Box<(WorldChange, gridloop_engine::Error)>> {
    let actor = Actor::system();
    if let Ok(events) = state.decide(&WorldCommand { changes: chunk.to_vec() }, &actor, ctx) {
        events.iter().for_each(|event| state.evolve(event));
        return Ok(());
    }
    for change in chunk {
        let command = WorldCommand { changes: vec![change.clone()] };
        let events = state.decide(&command, &actor, ctx).map_err(|e| Box::new((change.clone(), e)))?;
        events.iter().for_each(|event| state.evolve(event));
    }
    Ok(())
}

/// Which file a refusal of the whole world is about.
fn file_of(error: &gridloop_engine::Error) -> &'static str {
    match error {
        gridloop_engine::Error::Invalid { field: "grid tree", .. } => GRIDS,
        gridloop_engine::Error::Invalid { field: "catalog" | "catalog item", .. } => CATALOG,
        _ => DISTRICT,
    }
}

/// Each volunteer registers in the world, as an import registers them.
fn check_volunteers(bundle: &Bundle, world: &World, origins: &Origins, problems: &mut Problems) {
    let ctx = world.context(Timestamp::default(), false);
    let actor = crate::import::volunteer_actor(&Actor::system());
    for entry in bundle.volunteers.values() {
        let line = origins.volunteers.get(&entry.id).copied().unwrap_or(0);
        let mut volunteer = Volunteer::default();
        for command in crate::import::first_commands(entry) {
            match volunteer.decide(&entry.id, &command, &actor, &ctx) {
                Ok(events) => events.iter().for_each(|event| volunteer.evolve(event)),
                Err(e) => {
                    problems.push(Problem::line(VOLUNTEERS, line, format!("the engine refuses it: {}", reason(e))));
                    break;
                }
            }
        }
    }
}

impl Origins {
    /// A refusal of the engine, at the line or feature that wrote the change.
    fn problem(&self, (change, error): (WorldChange, gridloop_engine::Error)) -> Problem {
        let line = |file: &str, line: Option<&u64>| Problem {
            place: line.map_or(Place::File, |l| Place::Line(*l)),
            ..Problem::file(file, "")
        };
        let feature = |code: &GridCode| match self.grids.get(code) {
            Some(index) => Problem::feature(*index, Some(code.as_str()), None, ""),
            None => Problem::file(GRIDS, ""),
        };
        use WorldChange as C;
        let at = match &change {
            C::DefineDistrict { .. } => Problem::file(DISTRICT, ""),
            C::DefineCategory { category } => line(DISTRICT, self.categories.get(&category.code)),
            C::DefineDepartment { department } => line(DEPARTMENTS, self.departments.get(&department.code)),
            C::ProposeItem { item } | C::ReviseItem { item } => line(CATALOG, self.items.get(&item.code)),
            C::AdmitItem { code } | C::RevokeAdmission { code } | C::WithdrawItem { code } => {
                line(CATALOG, self.items.get(code))
            }
            C::AddGrid { node } | C::ReviseGrid { node } => feature(&node.code),
            C::RedrawGrid { code, .. } | C::RetireGrid { code } => feature(code),
            C::FormTeam { team } | C::ReviseTeam { team } => line(TEAMS, self.teams.get(&team.id)),
            C::DisbandTeam { id } => line(TEAMS, self.teams.get(id)),
            C::AssignStaff { staff } => line(STAFF, self.staff.get(&staff.subject)),
            C::RemoveStaff { subject } => line(STAFF, self.staff.get(subject)),
            C::SetRouting { .. } => Problem::file(ROUTING, ""),
            C::SetCalendar { .. } => Problem::file(crate::calendar::CALENDAR_DIR, ""),
        };
        Problem { message: format!("the engine refuses it: {error}"), ..at }
    }
}
