//! Calendar buckets in China Standard Time.
//!
//! Cities count their days, weeks and months in local time (UTC+8, no
//! daylight saving), so a ticket submitted at 23:30 UTC on the 1st belongs to
//! the 2nd. Weeks start on Monday (ISO).

use serde::{Deserialize, Serialize};

use gridloop_engine::time::{DAY_MS, HOUR_MS, Timestamp, civil_from_days, days_from_civil};

/// China Standard Time's offset from UTC.
pub const CST_OFFSET_MS: i64 = 8 * HOUR_MS as i64;

/// The IANA name of the zone this calendar counts in: the zone times are
/// shown in when the log holds no district naming its own `time_zone`.
pub const CALENDAR_ZONE: &str = "Asia/Shanghai";

/// How to bucket a time series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One CST calendar day, midnight to midnight.
    Day,
    /// One ISO week, Monday to Sunday in CST.
    Week,
    /// One calendar month in CST.
    Month,
}

impl Period {
    /// The period a query parameter names (`day`, `week`, `month`), or `None`
    /// for any other text.
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }
}

/// The local (CST) day number of an instant.
pub fn local_day(at: Timestamp) -> i64 {
    (at.as_millis() + CST_OFFSET_MS).div_euclid(DAY_MS as i64)
}

/// The bucket label of an instant: `2026-11-23`, `2026-W48` (the Monday's
/// ISO week) or `2026-11`.
pub fn bucket(at: Timestamp, period: Period) -> String {
    let day = local_day(at);
    match period {
        Period::Day => {
            let (y, m, d) = civil_from_days(day);
            format!("{y:04}-{m:02}-{d:02}")
        }
        Period::Week => iso_week(day),
        Period::Month => month(at),
    }
}

/// `2026-11`, the local month of an instant.
pub fn month(at: Timestamp) -> String {
    let (y, m, _) = civil_from_days(local_day(at));
    format!("{y:04}-{m:02}")
}

/// The UTC instant of local midnight starting a local date.
pub fn local_midnight(y: i64, m: i64, d: i64) -> Option<Timestamp> {
    Timestamp::from_millis(days_from_civil(y, m, d) * DAY_MS as i64 - CST_OFFSET_MS).ok()
}

/// `YYYY-MM-DD` (local midnight, China time) or RFC 3339; `None` for
/// anything else, or a date that does not exist.
pub fn parse_day_or_instant(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        let part = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
        let (y, m, d) = (part(0..4)?, part(5..7)?, part(8..10)?);
        // Parsing the date as an instant validates month lengths and leap years.
        Timestamp::parse(&format!("{text}T00:00:00Z")).ok()?;
        return local_midnight(y, m, d);
    }
    Timestamp::parse(text).ok()
}

fn iso_week(day: i64) -> String {
    // 1970-01-01 was a Thursday; Monday = 0.
    let weekday = (day + 3).rem_euclid(7);
    let thursday = day - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year:04}-W{week:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn days_are_local_to_china() {
        assert_eq!(bucket(t("2026-11-01T15:59:59Z"), Period::Day), "2026-11-01");
        assert_eq!(bucket(t("2026-11-01T16:00:00Z"), Period::Day), "2026-11-02");
        assert_eq!(bucket(t("2026-11-30T16:00:00Z"), Period::Month), "2026-12");
        assert_eq!(local_midnight(2026, 11, 2).unwrap(), t("2026-11-01T16:00:00Z"));
    }

    #[test]
    fn days_or_instants_parse() {
        assert_eq!(parse_day_or_instant("2026-11-02"), Some(t("2026-11-01T16:00:00Z")));
        assert_eq!(parse_day_or_instant("2026-11-02T08:00:00Z"), Some(t("2026-11-02T08:00:00Z")));
        for bad in ["2026-02-30", "2026-13-01", "yesterday", "2026-1-02"] {
            assert_eq!(parse_day_or_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_weeks_start_on_monday() {
        assert_eq!(bucket(t("2026-11-23T02:00:00Z"), Period::Week), "2026-W48");
        assert_eq!(bucket(t("2026-11-22T02:00:00Z"), Period::Week), "2026-W47");
        assert_eq!(bucket(t("2027-01-01T02:00:00Z"), Period::Week), "2026-W53");
        assert_eq!(bucket(t("2024-12-30T02:00:00Z"), Period::Week), "2025-W01");
    }
}
