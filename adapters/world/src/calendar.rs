//! `calendar/YYYY.toml`: one year of the official holiday schedule, as
//! the State Council's notice gives it (each holiday's days off, and the
//! weekend days worked in exchange), read into the engine's
//! [`Calendar`](gridloop_engine::workdays::Calendar). Every problem names
//! the file, the key and its line.

use std::collections::{BTreeMap, BTreeSet};

use gridloop_engine::workdays::{Calendar, Day, YEARS_MAX, YearSchedule};
use serde::Deserialize;
use toml::Spanned;

use crate::district::line_at;
use crate::problem::{Place, Problem, Problems};
use crate::text::{quoted, reason};

/// The folder of a bundle that holds the calendar's years.
pub(crate) const CALENDAR_DIR: &str = "calendar";
/// The longest holiday a file may give (the Spring Festival is nine days).
const HOLIDAY_DAYS_MAX: i64 = 31;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    name: String,
    utc_offset: Spanned<String>,
    year: i64,
    source: String,
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    working_days: Vec<Spanned<String>>,
}

/// Whether `name` is a calendar year's file: `calendar/2026.toml`.
pub(crate) fn is_year_file(name: &str) -> bool {
    let Some(stem) = name.strip_prefix("calendar/").and_then(|n| n.strip_suffix(".toml")) else {
        return false;
    };
    stem.len() == 4 && stem.bytes().all(|b| b.is_ascii_digit())
}

/// The calendar from its year files (`None` when there are none, or when
/// any has a problem, each reported).
pub(crate) fn read(files: &BTreeMap<String, String>, problems: &mut Problems) -> Option<Option<Calendar>> {
    let years: Vec<(&String, &String)> = files.iter().filter(|(name, _)| is_year_file(name)).collect();
    if years.is_empty() {
        return Some(None);
    }
    let before = problems.len();
    if years.len() > YEARS_MAX {
        problems.push(Problem::file(CALENDAR_DIR, format!("holds more than {YEARS_MAX} years")));
        return None;
    }
    let mut calendar: Option<Calendar> = None;
    for (name, text) in years {
        let Some((year_name, offset, schedule)) = year(name, text, problems) else { continue };
        let whole = calendar.get_or_insert_with(|| Calendar {
            name: year_name.clone(),
            utc_offset_minutes: offset,
            years: BTreeMap::new(),
        });
        if whole.name != year_name || whole.utc_offset_minutes != offset {
            problems.push(Problem::file(name, "names another calendar or offset than the other years"));
        }
        if format!("calendar/{}.toml", schedule.year) != *name {
            problems.push(Problem::key(
                name,
                None,
                "year",
                format!("{} is not the year its file is named for", schedule.year),
            ));
        }
        whole.years.insert(schedule.year, schedule);
    }
    let calendar = calendar?;
    if let Err(e) = calendar.check() {
        problems.push(Problem::file(CALENDAR_DIR, reason(e)));
    }
    (problems.len() == before).then_some(Some(calendar))
}

fn year(name: &str, text: &str, problems: &mut Problems) -> Option<(String, i32, YearSchedule)> {
    let file: YearFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            let place = e.span().map_or(Place::File, |s| Place::Line(line_at(text, s.start)));
            problems.push(Problem { place, ..Problem::file(name, e.message().trim()) });
            return None;
        }
    };
    let before = problems.len();
    let day = |key: &str, value: &Spanned<String>, problems: &mut Problems| match Day::parse(value.get_ref()) {
        Ok(day) => Some(day),
        Err(e) => {
            let line = Some(line_at(text, value.span().start));
            problems.push(Problem::key(name, line, key, format!("{}: {}", quoted(value.get_ref()), reason(e))));
            None
        }
    };
    let mut schedule = YearSchedule {
        year: file.year,
        source: file.source,
        provisional: file.provisional,
        days_off: BTreeSet::new(),
        working_days: BTreeSet::new(),
    };
    for holiday in &file.holidays {
        let (Some(from), Some(to)) = (day("from", &holiday.from, problems), day("to", &holiday.to, problems)) else {
            continue;
        };
        if to < from || to.0 - from.0 >= HOLIDAY_DAYS_MAX {
            let line = Some(line_at(text, holiday.to.span().start));
            let why = format!("{}: ends before it starts, or lasts more than {HOLIDAY_DAYS_MAX} days", holiday.name);
            problems.push(Problem::key(name, line, "to", why));
            continue;
        }
        schedule.days_off.extend((from.0..=to.0).map(Day));
        schedule.working_days.extend(holiday.working_days.iter().filter_map(|d| day("working_days", d, problems)));
    }
    let offset = utc_offset(name, text, &file.utc_offset, problems);
    (problems.len() == before).then_some((file.name, offset?, schedule))
}

/// `+08:00` as minutes.
fn utc_offset(name: &str, text: &str, value: &Spanned<String>, problems: &mut Problems) -> Option<i32> {
    let raw = value.get_ref();
    let parsed = (|| {
        let (sign, rest) = match raw.as_bytes().first()? {
            b'+' => (1, &raw[1..]),
            b'-' => (-1, &raw[1..]),
            _ => return None,
        };
        let (h, m) = rest.split_once(':')?;
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        (h.to_string().len() <= 2 && m < 60).then_some(sign * (h * 60 + m))
    })();
    if parsed.is_none() {
        let line = Some(line_at(text, value.span().start));
        problems.push(Problem::key(name, line, "utc_offset", format!("{} is not an offset like +08:00", quoted(raw))));
    }
    parsed
}
