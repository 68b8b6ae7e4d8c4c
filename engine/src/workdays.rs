//! Working days: the deployment's calendar, and deadlines counted on it.
//!
//! Cities give many limits in working days (12345: 7 or 15 工作日). A
//! working day is Monday to Friday, except the public holidays of the
//! official schedule, plus the make-up working days (调休上班) it moves onto
//! weekends. China's schedule changes every year (the State Council
//! publishes the next year's each November), so it is data: one
//! [`YearSchedule`] per year, read from the world bundle's `calendar/`
//! files and set on the world like the routing policy. Nothing of it is
//! compiled in.
//!
//! A limit of N working days ends at the close (local midnight) of the Nth
//! working day after the day the clock starts on: an order on Wednesday
//! 30 September 2026 with 7 working days is due at the end of Thursday
//! 15 October, the holiday of 1–7 October skipped and the make-up Saturday
//! of 10 October counted. A year the calendar does not cover counts Monday
//! to Friday only, and the deadline's [`WorkingDeadline::calendar`] says so,
//! so the audit names exactly what a deadline was computed on.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::time::{DAY_MS, Timestamp, civil_from_days, days_from_civil};

/// The most working days a limit may count (three months of them).
pub const WORKING_DAYS_MAX: u32 = 66;
/// The most years one calendar holds.
pub const YEARS_MAX: usize = 50;
/// The most listed days (days off plus make-up working days) in one year.
pub const LISTED_DAYS_MAX: usize = 366;
/// The longest calendar name and source note, in characters.
pub const NAME_CHARS_MAX: usize = 100;

/// A local calendar date, as days since 1970-01-01; written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    /// The date `YYYY-MM-DD`, refused unless it exists.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("date", format!("{text:?} is not a date written YYYY-MM-DD"));
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let part = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i64>().ok()).ok_or_else(bad);
        let (y, m, d) = (part(0..4)?, part(5..7)?, part(8..10)?);
        let day = Day(days_from_civil(y, m, d));
        if day.civil() != (y, m, d) {
            return Err(bad());
        }
        Ok(day)
    }

    /// Year, month and day.
    pub fn civil(self) -> (i64, i64, i64) {
        civil_from_days(self.0)
    }

    /// Monday is 0, Sunday 6 (1970-01-01 was a Thursday).
    pub fn weekday(self) -> i64 {
        (self.0 + 3).rem_euclid(7)
    }

    fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Day::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One year of the official schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearSchedule {
    /// The year it covers.
    pub year: i64,
    /// Where it comes from (the notice's title and number), for the audit.
    pub source: String,
    /// Whether it is provisional: the statutory days only, before the
    /// year's official arrangement (调休) is entered.
    #[serde(default)]
    pub provisional: bool,
    /// Days off that would otherwise be working days (and may list the
    /// weekend days inside a holiday too).
    pub days_off: BTreeSet<Day>,
    /// Weekend days that are working days (调休上班).
    pub working_days: BTreeSet<Day>,
}

/// The deployment's calendar: its name, the offset of its local time, and
/// the schedule of each year it covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// What the audit calls it (`中国法定节假日`).
    pub name: String,
    /// Local time's offset from UTC in minutes (China: 480).
    pub utc_offset_minutes: i32,
    /// The schedule of each covered year.
    pub years: BTreeMap<i64, YearSchedule>,
}

/// A deadline counted in working days, and the calendar it was counted on
/// in words (written into the event beside the instant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingDeadline {
    /// The instant: local midnight closing the last working day.
    pub at: Timestamp,
    /// The calendar and the years it used; a year it did not cover is
    /// named as counted on weekdays only, a provisional year as such.
    pub calendar: String,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::weekdays_only()
    }
}

impl Calendar {
    /// The calendar that knows no holidays: Monday to Friday in China time,
    /// used before a deployment sets its own.
    pub fn weekdays_only() -> Self {
        Self { name: String::new(), utc_offset_minutes: 480, years: BTreeMap::new() }
    }

    /// Checks the calendar's bounds and its dates: each year's dates lie in
    /// that year, no date is both off and working, and a make-up working
    /// day falls on a weekend (a weekday is a working day already).
    pub fn check(&self) -> Result<(), Error> {
        let fail = |why: String| Err(Error::invalid("calendar", why));
        if self.name.chars().count() > NAME_CHARS_MAX || !(-720..=840).contains(&self.utc_offset_minutes) {
            return fail("its name is at most 100 characters and its offset within -12:00 to +14:00".into());
        }
        if self.years.len() > YEARS_MAX {
            return fail(format!("at most {YEARS_MAX} years"));
        }
        for (year, schedule) in &self.years {
            if schedule.year != *year || schedule.source.chars().count() > NAME_CHARS_MAX {
                return fail(format!("{year}: its year must match and its source be at most 100 characters"));
            }
            if schedule.days_off.len() + schedule.working_days.len() > LISTED_DAYS_MAX {
                return fail(format!("{year}: at most {LISTED_DAYS_MAX} listed days"));
            }
            let listed = schedule.days_off.iter().chain(&schedule.working_days);
            if let Some(day) = listed.clone().find(|d| d.civil().0 != *year) {
                return fail(format!("{year}: {day} is in another year"));
            }
            if let Some(day) = schedule.days_off.intersection(&schedule.working_days).next() {
                return fail(format!("{year}: {day} is both a day off and a working day"));
            }
            if let Some(day) = schedule.working_days.iter().find(|d| !d.is_weekend()) {
                return fail(format!("{year}: {day} is a weekday; a make-up working day falls on a weekend"));
            }
        }
        Ok(())
    }

    /// Whether `day` is a working day, and whether the calendar covered its
    /// year (an uncovered year counts Monday to Friday).
    pub fn is_working_day(&self, day: Day) -> (bool, bool) {
        match self.years.get(&day.civil().0) {
            Some(y) if y.working_days.contains(&day) => (true, true),
            Some(y) => (!day.is_weekend() && !y.days_off.contains(&day), true),
            None => (!day.is_weekend(), false),
        }
    }

    /// The local day an instant falls on.
    pub fn day_of(&self, at: Timestamp) -> Day {
        let offset = i64::from(self.utc_offset_minutes) * 60_000;
        Day((at.as_millis() + offset).div_euclid(DAY_MS as i64))
    }

    /// The end of the `days`th working day after the day `from` falls on.
    pub fn add_working_days(&self, from: Timestamp, days: u32) -> Result<WorkingDeadline, Error> {
        if !(1..=WORKING_DAYS_MAX).contains(&days) {
            return Err(Error::invalid("working days", format!("must be 1 to {WORKING_DAYS_MAX}")));
        }
        let mut day = self.day_of(from);
        let (mut counted, mut uncovered, mut provisional) = (0, BTreeSet::new(), BTreeSet::new());
        while counted < days {
            day = Day(day.0 + 1);
            let (working, covered) = self.is_working_day(day);
            let year = day.civil().0;
            match (covered, self.years.get(&year).is_some_and(|y| y.provisional)) {
                (false, _) => uncovered.insert(year),
                (true, true) => provisional.insert(year),
                (true, false) => false,
            };
            counted += u32::from(working);
        }
        let offset = i64::from(self.utc_offset_minutes) * 60_000;
        let at = Timestamp::from_millis((day.0 + 1) * DAY_MS as i64 - offset)?;
        Ok(WorkingDeadline { at, calendar: self.describe(&uncovered, &provisional) })
    }

    fn describe(&self, uncovered: &BTreeSet<i64>, provisional: &BTreeSet<i64>) -> String {
        let mut text = match (self.name.is_empty(), self.years.keys().next(), self.years.keys().last()) {
            (false, Some(first), Some(last)) if first == last => format!("{} {first}", self.name),
            (false, Some(first), Some(last)) => format!("{} {first}–{last}", self.name),
            _ => "Monday to Friday".to_string(),
        };
        let list = |years: &BTreeSet<i64>| years.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        if !provisional.is_empty() {
            text.push_str(&format!("; {} provisional (statutory days only)", list(provisional)));
        }
        if !uncovered.is_empty() && !self.years.is_empty() {
            text.push_str(&format!("; {} not covered: Monday to Friday", list(uncovered)));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_write_one_way() {
        assert_eq!(Day::parse("2026-10-01").map(|d| d.to_string()).ok().as_deref(), Some("2026-10-01"));
        assert_eq!(Day::parse("2026-10-01").map(Day::weekday).ok(), Some(3), "a Thursday");
        for bad in ["2026-02-30", "2026-1-01", "20261001", "2026-13-01", ""] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
    }
}
