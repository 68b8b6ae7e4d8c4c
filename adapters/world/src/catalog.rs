//! `departments.csv` and `catalog.csv`: the functional departments and the
//! service catalog (事项清单).

use std::collections::BTreeSet;

use gridloop_engine::catalog::{CATALOG_ITEMS_MAX, CatalogItem, Department, HandlingMode, POINTS_PER_ITEM_MAX, Sla};
use gridloop_engine::ids::{CategoryCode, DepartmentId, ItemCode, Skill};
use gridloop_engine::time::Millis;
use gridloop_engine::workdays::WORKING_DAYS_MAX;

use crate::problem::{Problem, Problems};
use crate::text::{Columns, Lined, Row, duration, flag, for_each_row, name, ok, parse_id, quoted, split_list};

/// The most departments a bundle may list (the docs set no number; this
/// bounds the work, far above any district's few dozen).
pub const DEPARTMENTS_MAX: usize = 10_000;

const DEPARTMENTS: Columns = Columns {
    file: crate::DEPARTMENTS,
    required: &["code", "name"],
    optional: &["name_en"],
    rows_max: DEPARTMENTS_MAX,
};

const CATALOG: Columns = Columns {
    file: crate::CATALOG,
    required: &[
        "code",
        "name",
        "category",
        "department",
        "mode",
        "accept_within",
        "resolve_within",
        "feedback_window",
        "admitted",
    ],
    optional: &["name_en", "skills", "points", "emergency"],
    rows_max: CATALOG_ITEMS_MAX,
};

/// Reads `departments.csv`. Every code that parses is also returned in
/// `seen`, so that a reference to a department whose row has another
/// problem is not reported as unknown too; `seen` is `None` when the rows
/// could not be read at all.
pub(crate) fn departments(
    text: &str,
    problems: &mut Problems,
) -> (Lined<DepartmentId, Department>, Option<BTreeSet<DepartmentId>>) {
    let mut departments = Lined::new();
    let mut seen = BTreeSet::new();
    let read = for_each_row(DEPARTMENTS, text, problems, |row, problems| {
        let mut found = Vec::new();
        let code = ok(&mut found, parse_id(row, "code", |s| DepartmentId::new(s)));
        let name_ = ok(&mut found, required_name(row, "name"));
        let name_en = ok(&mut found, optional_name(row, "name_en"));
        if let Some(code) = &code {
            seen.insert(code.clone());
        }
        match (code, name_, name_en) {
            (Some(code), Some(name), Some(name_en)) if found.is_empty() => {
                insert(&mut departments, row, code.clone(), Department { code, name, name_en }, problems);
            }
            _ => found.into_iter().for_each(|p| problems.push(p)),
        }
    });
    (departments, read.then_some(seen))
}

/// Reads `catalog.csv`, checking each item's category and department
/// against the other files (`None`: that file could not be read, so its
/// references are not checked).
pub(crate) fn catalog(
    text: &str,
    categories: Option<&BTreeSet<CategoryCode>>,
    departments: Option<&BTreeSet<DepartmentId>>,
    problems: &mut Problems,
) -> Lined<ItemCode, CatalogItem> {
    let mut items = Lined::new();
    for_each_row(CATALOG, text, problems, |row, problems| match item(row, categories, departments) {
        Ok(item) => insert(&mut items, row, item.code.clone(), item, problems),
        Err(found) => found.into_iter().for_each(|p| problems.push(p)),
    });
    items
}

/// One catalog row as an item, or everything wrong with it.
fn item(
    row: &Row<'_>,
    categories: Option<&BTreeSet<CategoryCode>>,
    departments: Option<&BTreeSet<DepartmentId>>,
) -> Result<CatalogItem, Vec<Problem>> {
    let mut found = Vec::new();
    let code = ok(&mut found, parse_id(row, "code", |s| ItemCode::new(s)));
    let name_ = ok(&mut found, required_name(row, "name"));
    let name_en = ok(&mut found, optional_name(row, "name_en"));
    let category =
        ok(&mut found, reference(row, "category", |s| CategoryCode::new(s), categories, "a category of district.toml"));
    let department =
        ok(&mut found, reference(row, "department", |s| DepartmentId::new(s), departments, "in departments.csv"));
    let mode = ok(&mut found, mode(row));
    let skills = ok(&mut found, skills(row, "skills"));
    let sla = ok(&mut found, sla(row));
    let points = ok(&mut found, points(row));
    let admitted = ok(&mut found, flag(row, "admitted", None));
    let emergency = ok(&mut found, flag(row, "emergency", Some(false)));
    if mode == Some(HandlingMode::Volunteer) && skills.as_ref().is_some_and(Vec::is_empty) {
        found.push(row.problem("skills", "is empty; a volunteer item needs at least one skill"));
    }
    let fields = (code, name_, name_en, category, department, mode, skills, sla, points, admitted, emergency);
    let (
        Some(code),
        Some(name),
        Some(name_en),
        Some(category),
        Some(department),
        Some(mode),
        Some(skills),
        Some(sla),
        Some(points),
        Some(admitted),
        Some(emergency),
    ) = fields
    else {
        return Err(found);
    };
    if !found.is_empty() {
        return Err(found);
    }
    Ok(CatalogItem { code, name, name_en, category, mode, department, skills, sla, points, admitted, emergency })
}

fn mode(row: &Row<'_>) -> Result<HandlingMode, Problem> {
    match row.required("mode")? {
        "volunteer" => Ok(HandlingMode::Volunteer),
        "self_handle" => Ok(HandlingMode::SelfHandle),
        "department" => Ok(HandlingMode::Department),
        other => Err(row.problem("mode", format!("{} is not volunteer, self_handle or department", quoted(other)))),
    }
}

/// The three limits, the resolution no sooner due than the acceptance.
/// Accept and resolve may be given in working days (`7wd`, 12345's 7 or 15
/// 工作日); they then count on the bundle's calendar, and compare here as
/// that many days.
fn sla(row: &Row<'_>) -> Result<Sla, Problem> {
    let accept = limit(row, "accept_within");
    let resolve = limit(row, "resolve_within");
    let feedback_window = duration(row, "feedback_window")?;
    let ((accept_within, accept_working_days), (resolve_within, resolve_working_days)) = (accept?, resolve?);
    if resolve_within < accept_within {
        return Err(row.problem("resolve_within", "is shorter than accept_within; it must be at least as long"));
    }
    Ok(Sla { accept_within, resolve_within, feedback_window, accept_working_days, resolve_working_days })
}

/// A limit: a duration (`2h`, `3d`), or a number of working days (`7wd`).
fn limit(row: &Row<'_>, column: &str) -> Result<(Millis, Option<u32>), Problem> {
    let cell = row.required(column)?;
    let Some(days) = cell.strip_suffix("wd") else {
        return duration(row, column).map(|within| (within, None));
    };
    match days.parse::<u32>() {
        Ok(days) if (1..=WORKING_DAYS_MAX).contains(&days) => Ok((Millis::days(u64::from(days)), Some(days))),
        _ => Err(row.problem(column, format!("{}: working days are 1 to {WORKING_DAYS_MAX}, as 7wd", quoted(cell)))),
    }
}

fn points(row: &Row<'_>) -> Result<u32, Problem> {
    match row.get("points") {
        "" => Ok(0),
        cell => cell.parse::<u32>().ok().filter(|p| *p <= POINTS_PER_ITEM_MAX).ok_or_else(|| {
            row.problem("points", format!("{} is not a whole number from 0 to {POINTS_PER_ITEM_MAX}", quoted(cell)))
        }),
    }
}

/// A list of skills (possibly empty), each a valid skill code.
pub(crate) fn skills(row: &Row<'_>, column: &str) -> Result<Vec<Skill>, Problem> {
    let mut skills = Vec::new();
    for cell in split_list(row.get(column)) {
        let skill = Skill::new(cell)
            .map_err(|e| row.problem(column, format!("{}: {}", quoted(cell), crate::text::reason(e))))?;
        if !skills.contains(&skill) {
            skills.push(skill);
        }
    }
    Ok(skills)
}

/// An id that must be among those another file defines.
pub(crate) fn reference<T: Ord + std::fmt::Display>(
    row: &Row<'_>,
    column: &str,
    parse: impl Fn(&str) -> Result<T, gridloop_engine::Error>,
    known: Option<&BTreeSet<T>>,
    where_: &str,
) -> Result<T, Problem> {
    let id = parse_id(row, column, parse)?;
    match known {
        Some(known) if !known.contains(&id) => Err(row.problem(column, format!("\"{id}\" is not {where_}"))),
        _ => Ok(id),
    }
}

pub(crate) fn required_name(row: &Row<'_>, column: &str) -> Result<String, Problem> {
    name(row.required(column)?, false).map_err(|why| row.problem(column, why))
}

pub(crate) fn optional_name(row: &Row<'_>, column: &str) -> Result<String, Problem> {
    name(row.get(column), true).map_err(|why| row.problem(column, why))
}

/// Keeps a row's value under its key, or reports the key as a duplicate.
pub(crate) fn insert<K: Ord + std::fmt::Display, V>(
    map: &mut Lined<K, V>,
    row: &Row<'_>,
    key: K,
    value: V,
    problems: &mut Problems,
) {
    if let Some((_, first)) = map.get(&key) {
        let column = row_key_column(row.file);
        problems.push(row.problem(column, format!("{key} is already on line {first}")));
        return;
    }
    map.insert(key, (value, row.line));
}

/// The column that holds a file's key.
fn row_key_column(file: &str) -> &'static str {
    match file {
        crate::TEAMS | crate::VOLUNTEERS => "id",
        crate::STAFF => "subject",
        _ => "code",
    }
}
