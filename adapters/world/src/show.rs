//! The world as of an instant, and as text (`gridloop world show`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{RecordedEvent, Role};
use gridloop_engine::grid::Level;
use gridloop_engine::ids::StreamId;
use gridloop_engine::time::{DAY_MS, HOUR_MS, MINUTE_MS, Millis, Timestamp};
use gridloop_engine::world::{TeamKind, WorldEvent, WorldState};

use crate::WorldError;

/// The world as it stood at `at`: the fold of the world stream's events
/// that occurred at or before it. Events of other streams are skipped, so
/// a whole log may be passed.
pub fn world_as_of(events: &[RecordedEvent], at: Timestamp) -> Result<WorldState, WorldError> {
    let world = StreamId::world();
    let mut state = WorldState::default();
    for event in events.iter().filter(|e| e.stream == world && e.occurred_at <= at) {
        let decoded = event
            .decode::<WorldEvent>()
            .map_err(|e| WorldError::engine(format!("world event {}", event.version), e))?;
        state.evolve(&decoded);
    }
    Ok(state)
}

const LEVELS: [Level; 5] = [Level::District, Level::Street, Level::Community, Level::Grid, Level::SubGrid];

/// The world as text: the district, its levels and how many nodes each
/// has, the categories with their items, the departments, the teams by
/// kind, the staff by role and the routing policy.
pub fn describe(world: &WorldState) -> String {
    let mut out = String::new();
    district(world, &mut out);
    catalog(world, &mut out);
    people(world, &mut out);
    routing(world, &mut out);
    out
}

fn district(world: &WorldState, out: &mut String) {
    let Some(district) = &world.district else {
        out.push_str("No district is defined yet.\n");
        return;
    };
    let english = if district.name_en.is_empty() { String::new() } else { format!(" ({})", district.name_en) };
    let _ = writeln!(out, "District {} {}{english}, time zone {}", district.code, district.name, district.time_zone);
    let _ = writeln!(out, "Levels: {}", district.levels.join(" / "));
    let counts: Vec<String> = LEVELS
        .iter()
        .map(|level| {
            let n = world.grids.keys().filter(|c| c.level() == *level).count();
            format!("{n} {}", district.level_name(*level))
        })
        .collect();
    let _ = writeln!(out, "Grids: {} ({} retired)", counts.join(", "), world.retired.len());
}

fn catalog(world: &WorldState, out: &mut String) {
    let admitted = world.items.values().filter(|i| i.admitted).count();
    let _ = writeln!(
        out,
        "Catalog: {} items ({admitted} admitted, {} withdrawn) in {} categories",
        world.items.len(),
        world.withdrawn.len(),
        world.categories.len()
    );
    for category in world.categories.values() {
        let items: Vec<_> = world.items.values().filter(|i| i.category == category.code).collect();
        let admitted = items.iter().filter(|i| i.admitted).count();
        let field = if category.field.is_empty() { String::new() } else { format!(" [{}]", category.field) };
        let _ =
            writeln!(out, "  {} {}{field}: {} items, {admitted} admitted", category.code, category.name, items.len());
    }
    let modes = [
        (HandlingMode::Volunteer, "volunteer"),
        (HandlingMode::SelfHandle, "self-handle"),
        (HandlingMode::Department, "department"),
    ];
    let by_mode: Vec<String> = modes
        .iter()
        .map(|(mode, name)| format!("{} {name}", world.items.values().filter(|i| i.mode == *mode).count()))
        .collect();
    let _ = writeln!(out, "  by mode: {}", by_mode.join(", "));
    let _ = writeln!(out, "Departments: {}", world.departments.len());
    for department in world.departments.values() {
        let _ = writeln!(out, "  {} {}", department.code, department.name);
    }
}

fn people(world: &WorldState, out: &mut String) {
    let kinds = [
        (TeamKind::Community, "community"),
        (TeamKind::Volunteer, "volunteer"),
        (TeamKind::BackupAgency, "backup agency"),
    ];
    let teams: Vec<String> = kinds
        .iter()
        .map(|(kind, name)| format!("{} {name}", world.teams.values().filter(|t| t.kind == *kind).count()))
        .collect();
    let _ = writeln!(out, "Teams: {} ({})", world.teams.len(), teams.join(", "));
    let mut roles: BTreeMap<Role, usize> = BTreeMap::new();
    for staff in world.staff.values() {
        *roles.entry(staff.role).or_default() += 1;
    }
    let roles: Vec<String> = roles.iter().map(|(role, n)| format!("{n} {}", role.name())).collect();
    let roles = if roles.is_empty() { "none".to_string() } else { roles.join(", ") };
    let _ = writeln!(out, "Staff: {} ({roles})", world.staff.len());
}

fn routing(world: &WorldState, out: &mut String) {
    let Some(r) = &world.routing else {
        out.push_str("Routing: the default policy (none set)\n");
        return;
    };
    let [community, street, district] = <[Millis; 3]>::from(r.respond_within).map(span);
    let _ = writeln!(
        out,
        "Routing: offers to {} at a time for {}, {} rounds; fairness over {}; tiers respond within {community} / {street} / {district}; summons reported within {}; unsatisfied feedback reopens {}",
        r.offers_max,
        span(r.offer_window),
        r.offer_rounds_max,
        span(r.fairness_window),
        span(r.summons_report_within),
        if r.reopen_one_up { "one tier up" } else { "at the same tier" },
    );
}

/// A span as the bundle writes it: `30m`, `4h`, `3d`.
fn span(span: Millis) -> String {
    let ms = span.0;
    match ms {
        0 => "0m".to_string(),
        _ if ms % DAY_MS == 0 => format!("{}d", ms / DAY_MS),
        _ if ms % HOUR_MS == 0 => format!("{}h", ms / HOUR_MS),
        _ if ms % MINUTE_MS == 0 => format!("{}m", ms / MINUTE_MS),
        _ => format!("{ms}ms"),
    }
}
