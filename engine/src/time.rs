//! Time as a value: the engine never reads a clock.
//!
//! Every instant the engine sees comes in from outside, in a command's context
//! (`Context::now`) or inside a recorded event. That keeps `decide` a pure
//! function that tests can drive through weeks of simulated time in
//! milliseconds. Instants are integer milliseconds since the Unix epoch, UTC;
//! on the wire they are RFC 3339 strings with millisecond precision
//! (`2026-11-23T04:30:12.123Z`), so that any tool can read the log.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// An instant, in milliseconds since 1970-01-01T00:00:00Z.
///
/// Bounded to years 2000..=2199 when parsed, so that a typo in an import file
/// or a hostile timestamp cannot put a deadline centuries away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A span of time in whole milliseconds (never negative once validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

/// One minute, in milliseconds.
pub const MINUTE_MS: u64 = 60_000;
/// One hour, in milliseconds.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
/// One day, in milliseconds (a UTC day: 24 hours, no leap seconds).
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// 2000-01-01T00:00:00Z.
const EARLIEST_MS: i64 = 946_684_800_000;
/// 2200-01-01T00:00:00Z.
const LATEST_MS: i64 = 7_258_118_400_000;

impl Timestamp {
    /// Builds an instant from milliseconds, refusing instants outside the
    /// supported years (2000..2200).
    pub fn from_millis(ms: i64) -> Result<Self, Error> {
        if !(EARLIEST_MS..LATEST_MS).contains(&ms) {
            return Err(Error::invalid("timestamp", "must lie in the years 2000 to 2199"));
        }
        Ok(Self(ms))
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// `self + span`, saturating at the latest supported instant.
    pub fn plus(self, span: Millis) -> Self {
        let ms = i64::try_from(span.0).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms).min(LATEST_MS - 1))
    }

    /// The span from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Millis {
        Millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// The UTC calendar day number (days since 1970-01-01).
    pub fn day_number(self) -> i64 {
        self.0.div_euclid(DAY_MS as i64)
    }

    /// Parses RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`).
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_rfc3339(text)
            .ok_or_else(|| Error::invalid("timestamp", "expected RFC 3339 UTC, like 2026-11-23T08:00:00Z"))?
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS as i64);
        let ms_of_day = self.0.rem_euclid(DAY_MS as i64);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::envelope::parse_str(d, "an RFC 3339 UTC timestamp", Timestamp::parse)
    }
}

impl Millis {
    /// A span of `n` minutes.
    pub fn minutes(n: u64) -> Self {
        Self(n * MINUTE_MS)
    }
    /// A span of `n` hours.
    pub fn hours(n: u64) -> Self {
        Self(n * HOUR_MS)
    }
    /// A span of `n` days of 24 hours.
    pub fn days(n: u64) -> Self {
        Self(n * DAY_MS)
    }

    /// Parses `30m`, `4h`, `3d` (a whole number and one unit), as the catalog
    /// files write SLA durations. Bounded to a year.
    pub fn parse_span(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("duration", "expected a whole number and a unit m, h or d, like 30m");
        let text = text.trim();
        // The unit is the last character, which need not be one byte (a
        // spreadsheet cell may end in 是): split at its start, not at len - 1.
        let unit_at = text.char_indices().next_back().map_or(0, |(at, _)| at);
        let (digits, unit) = text.split_at(unit_at);
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let span = match unit {
            "m" => Self::minutes(n),
            "h" => Self::hours(n),
            "d" => Self::days(n),
            _ => return Err(bad()),
        };
        if span.0 == 0 || span > Self::days(366) {
            return Err(Error::invalid("duration", "must be more than zero and at most a year"));
        }
        Ok(span)
    }
}

fn parse_rfc3339(text: &str) -> Option<Result<Timestamp, Error>> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 35 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let s = text.get(from..to)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut rest = &text[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        if end == 0 || end > 9 {
            return None;
        }
        let digits = &frac[..end.min(3)];
        ms = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
        rest = &frac[end..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(Timestamp::from_millis(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = Timestamp::parse("2026-11-23T04:30:12.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T04:30:12.123Z");
        assert_eq!(Timestamp::parse("2024-02-29T00:00:00Z").unwrap().to_string(), "2024-02-29T00:00:00.000Z");
    }

    #[test]
    fn refuses_bad_dates_and_far_years() {
        for bad in ["2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "1999-12-31T23:59:59Z", "2026-11-23T04:30:12", "x"]
        {
            assert!(Timestamp::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn spans_parse_with_units() {
        assert_eq!(Millis::parse_span("30m").unwrap(), Millis::minutes(30));
        assert_eq!(Millis::parse_span("3d").unwrap(), Millis::days(3));
        for bad in ["", "m", "0h", "5y", "-3h", "400d", "1.5h", "是", "3是", "3小时"] {
            assert!(Millis::parse_span(bad).is_err(), "{bad} should be refused");
        }
    }
}
