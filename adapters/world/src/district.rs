//! `district.toml`: the district, the names of its levels, and the
//! catalog's categories.

use std::collections::BTreeMap;

use gridloop_engine::catalog::{CATEGORIES_MAX, Category};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::CategoryCode;
use gridloop_engine::world::DistrictInfo;
use serde::Deserialize;
use toml::Spanned;

use crate::problem::{Place, Problem, Problems};
use crate::text::{name, quoted, reason};

const FILE: &str = crate::DISTRICT;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistrictFile {
    district: Head,
    #[serde(default)]
    categories: Vec<CategoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    code: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    name_en: Option<Spanned<String>>,
    time_zone: Spanned<String>,
    levels: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    code: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    name_en: Option<Spanned<String>>,
    #[serde(default)]
    field: Option<Spanned<String>>,
}

/// What `district.toml` defines, with the line of each category (for the
/// engine's refusals, which name a category by code).
#[derive(Debug)]
pub(crate) struct District {
    pub info: DistrictInfo,
    pub categories: BTreeMap<CategoryCode, (Category, u64)>,
}

/// Reads `district.toml`; `None` when it is unusable (the problems say why).
pub(crate) fn read(text: &str, problems: &mut Problems) -> Option<District> {
    let file: DistrictFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            let place = e.span().map_or(Place::File, |s| Place::Line(line_at(text, s.start)));
            problems.push(Problem { place, ..Problem::file(FILE, e.message().trim()) });
            return None;
        }
    };
    let info = head(&file.district, text, problems);
    let categories = categories(&file.categories, text, problems);
    Some(District { info: info?, categories })
}

/// The district's own entry.
fn head(head: &Head, text: &str, problems: &mut Problems) -> Option<DistrictInfo> {
    let at = |span: std::ops::Range<usize>| Some(line_at(text, span.start));
    let before = problems.len();
    let code = match GridCode::parse(head.code.get_ref()) {
        Ok(code) if code.level() == Level::District => Some(code),
        _ => {
            let why = format!("{} is not a 6-digit administrative code", quoted(head.code.get_ref()));
            problems.push(Problem::key(FILE, at(head.code.span()), "district.code", why));
            None
        }
    };
    let mut text_of = |key: &str, value: &Spanned<String>, may_be_empty: bool| {
        name(value.get_ref(), may_be_empty).unwrap_or_else(|why| {
            problems.push(Problem::key(FILE, at(value.span()), key, why));
            String::new()
        })
    };
    let district_name = text_of("district.name", &head.name, false);
    let name_en = head.name_en.as_ref().map(|n| text_of("district.name_en", n, true)).unwrap_or_default();
    let levels: Vec<String> = head.levels.get_ref().iter().map(|l| l.trim().to_string()).collect();
    let levels_ok = levels.len() == 5 && levels.iter().all(|l| name(l, false).is_ok());
    if !levels_ok {
        let why = "must be the names of the 5 levels, from the district down to the sub-grid, none empty";
        problems.push(Problem::key(FILE, at(head.levels.span()), "district.levels", why));
    }
    let zone = head.time_zone.get_ref().trim();
    if !time_zone_ok(zone) {
        let why = format!("{} is not an IANA time zone name such as Asia/Shanghai", quoted(zone));
        problems.push(Problem::key(FILE, at(head.time_zone.span()), "district.time_zone", why));
    }
    if problems.len() > before {
        return None;
    }
    Some(DistrictInfo {
        code: code?,
        name: district_name,
        name_en,
        time_zone: zone.to_string(),
        levels: levels.try_into().ok()?,
    })
}

/// The categories: at least one, at most 256, codes unique.
fn categories(
    entries: &[CategoryEntry],
    text: &str,
    problems: &mut Problems,
) -> BTreeMap<CategoryCode, (Category, u64)> {
    let mut categories: BTreeMap<CategoryCode, (Category, u64)> = BTreeMap::new();
    if entries.is_empty() || entries.len() > CATEGORIES_MAX {
        let why = format!("there must be 1 to {CATEGORIES_MAX} categories, found {}", entries.len());
        problems.push(Problem::key(FILE, None, "categories", why));
    }
    for entry in entries.iter().take(CATEGORIES_MAX) {
        let line = line_at(text, entry.code.span().start);
        match category(entry) {
            Err((key, why)) => problems.push(Problem::key(FILE, Some(line), key, why)),
            Ok(category) => match categories.get(&category.code) {
                Some((_, first)) => {
                    let why = format!("{} is defined twice (first on line {first})", category.code);
                    problems.push(Problem::key(FILE, Some(line), "categories.code", why));
                }
                None => {
                    categories.insert(category.code.clone(), (category, line));
                }
            },
        }
    }
    categories
}

/// One category, or the key that is wrong and why.
fn category(entry: &CategoryEntry) -> Result<Category, (&'static str, String)> {
    let code = CategoryCode::new(entry.code.get_ref().trim())
        .map_err(|e| ("categories.code", format!("{}: {}", quoted(entry.code.get_ref()), reason(e))))?;
    let optional = |key: &'static str, value: &Option<Spanned<String>>| match value {
        Some(value) => name(value.get_ref(), true).map_err(|why| (key, why)),
        None => Ok(String::new()),
    };
    Ok(Category {
        name: name(entry.name.get_ref(), false).map_err(|why| ("categories.name", why))?,
        name_en: optional("categories.name_en", &entry.name_en)?,
        field: optional("categories.field", &entry.field)?,
        code,
    })
}

/// The engine's own rule for a zone name: what an IANA name is made of.
fn time_zone_ok(zone: &str) -> bool {
    !zone.is_empty() && zone.len() <= 64 && zone.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
}

/// The line (from 1) that byte `offset` of `text` is on.
pub(crate) fn line_at(text: &str, offset: usize) -> u64 {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}
