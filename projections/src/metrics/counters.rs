//! The counters behind the metrics: settled tickets summed per day of
//! submission × grid × item, kept as cold rows.
//!
//! A ticket *settles* when no later instant can change how it is counted:
//! it is final (closed, cancelled or a duplicate: the engine takes no
//! counted event after that) and past every deadline that could still
//! make it due (see [`settles_at`]). Its contribution, evaluated at that
//! instant, is added to the [`Bucket`] of its day, grid and item, and its
//! facts move to a cold row beside the bucket. A rate as of an instant at
//! or after a bucket's `settled_max` reads the bucket's counters; an
//! earlier instant (a view of the past) evaluates the bucket's facts one by
//! one, which gives the same answer the counters would have had then.
//!
//! # Keys (under `metrics/`)
//!
//! - `c/<day>/<grid>/<item>`: a [`Bucket`];
//! - `f/<day>/<grid>/<item>/<number>`: a settled ticket's facts;
//! - `s/<final day>/<number>`: the facts key of a ticket whose final mark
//!   fell on that day (what a week's report reads of the tickets settled
//!   since the week began).
//!
//! Days are local (China time) day numbers and numbers are ticket numbers,
//! both big-endian, so key order is time order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CategoryCode, ItemCode};
use gridloop_engine::ticket::Assignee;
use gridloop_engine::time::{Millis, Timestamp};

use super::{Spread, Tally, TicketFacts, What};
use crate::ProjectionError;

/// The most significant bits a duration keeps in a [`Histogram`].
const HISTOGRAM_BITS: u32 = 11;

/// Durations counted by value, in whole seconds, each kept to its
/// [`HISTOGRAM_BITS`] most significant bits: exact below 2048 s (34 min),
/// then within 1/1024 (0.1%) of the true value, rounded down. Merging
/// histograms costs at most a few thousand entries whatever the number of
/// tickets, which is what lets a year's spreads cost about a day's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Histogram(BTreeMap<u64, u64>);

impl Histogram {
    /// The bin a duration falls in, as the lower bound in seconds.
    fn bin(duration: Millis) -> u64 {
        let seconds = duration.0 / 1000;
        let bits = u64::BITS - seconds.leading_zeros();
        let shift = bits.saturating_sub(HISTOGRAM_BITS);
        (seconds >> shift) << shift
    }

    /// Counts one duration.
    pub(crate) fn add(&mut self, duration: Millis) {
        *self.0.entry(Self::bin(duration)).or_default() += 1;
    }

    /// Adds another histogram's counts.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (bin, count) in &other.0 {
            *self.0.entry(*bin).or_default() += count;
        }
    }

    /// Nearest-rank median, 90th percentile and maximum; `None` when empty.
    pub(crate) fn spread(&self) -> Option<Spread> {
        let total: u64 = self.0.values().sum();
        if total == 0 {
            return None;
        }
        let rank = |q: u64| {
            let wanted = (total * q).div_ceil(100).max(1);
            let mut seen = 0;
            for (bin, count) in &self.0 {
                seen += count;
                if seen >= wanted {
                    return Millis(bin * 1000);
                }
            }
            Millis(0)
        };
        Some(Spread { median: rank(50), p90: rank(90), max: rank(100) })
    }
}

/// What the breakdowns need of a settled ticket besides its grid and day:
/// its category at submission (by category) and its last holder (by
/// department, by team: a volunteer's team is looked up when asked, as for
/// an open ticket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Class {
    pub(crate) category: Option<CategoryCode>,
    pub(crate) holder: Option<Assignee>,
}

/// The counters of the settled tickets submitted on one day in one grid
/// for one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub(crate) grid: GridCode,
    pub(crate) item: ItemCode,
    /// The local day of submission.
    pub(crate) day: i64,
    /// The latest instant any of its tickets settled: from then on the
    /// counters are every ticket's evaluation.
    pub(crate) settled_max: Timestamp,
    /// The earliest and latest submission it holds.
    pub(crate) first: Timestamp,
    pub(crate) last: Timestamp,
    /// The counters, per class (few: one per category and holder).
    pub(crate) classes: Vec<(Class, Tally)>,
}

impl Bucket {
    pub(crate) fn new(facts: &TicketFacts, day: i64) -> Self {
        Bucket {
            grid: facts.grid.clone(),
            item: facts.item.clone(),
            day,
            settled_max: facts.submitted_at,
            first: facts.submitted_at,
            last: facts.submitted_at,
            classes: vec![],
        }
    }

    /// Adds a ticket settled at `settled_at`.
    pub(crate) fn add(&mut self, facts: &TicketFacts, settled_at: Timestamp) {
        self.settled_max = self.settled_max.max(settled_at);
        self.first = self.first.min(facts.submitted_at);
        self.last = self.last.max(facts.submitted_at);
        let class = Class { category: facts.category.clone(), holder: facts.holder.clone() };
        let index = match self.classes.iter().position(|(c, _)| *c == class) {
            Some(index) => index,
            None => {
                self.classes.push((class, Tally::default()));
                self.classes.len() - 1
            }
        };
        self.classes[index].1.count(facts, settled_at);
    }
}

/// The instant from which nothing can change how a final ticket is
/// counted, or `None` while it is not final. Past its final mark no counted
/// event comes; what could still change is a deadline the engine's `Due`
/// rule compares with the instant: the accept deadline while untaken, the
/// resolve deadline in force while unresolved (a withdrawal stops both
/// clocks), and the feedback window of a resolution not closed.
pub(crate) fn settles_at(facts: &TicketFacts) -> Option<Timestamp> {
    let last = facts.marks.last()?;
    if !matches!(last.what, What::Closed | What::Cancelled | What::Duplicate) {
        return None;
    }
    let s = facts.as_of(last.at);
    let mut at = last.at;
    if s.duplicate || s.cancelled_before_taken {
        return Some(at);
    }
    if s.cancelled_at.is_none() {
        if s.taken_at.is_none() {
            at = at.max(facts.accept_by);
        }
        if s.resolved_at.is_none() {
            at = at.max(s.resolve_by);
        }
    }
    if let (Some(_), false, Some(by)) = (s.resolved_at, s.closed, s.feedback_by) {
        at = at.max(by);
    }
    Some(at)
}

const PREFIX: &[u8] = b"metrics/";

fn day_bytes(day: i64) -> [u8; 4] {
    u32::try_from(day.max(0)).unwrap_or(u32::MAX).to_be_bytes()
}

/// `metrics/c/<day>/`: every bucket of a day.
pub(crate) fn day_prefix(day: i64) -> Vec<u8> {
    [PREFIX, b"c/", &day_bytes(day), b"/"].concat()
}

/// `metrics/c/<day>/<grid>`: the day's buckets of a grid and the grids
/// whose codes start with it (the caller keeps those within the scope).
pub(crate) fn scope_prefix(day: i64, scope: Option<&GridCode>) -> Vec<u8> {
    let mut key = day_prefix(day);
    if let Some(scope) = scope {
        key.extend_from_slice(scope.as_str().as_bytes());
    }
    key
}

/// `metrics/c/<day>/<grid>/<item>`.
pub(crate) fn bucket_key(day: i64, grid: &GridCode, item: &ItemCode) -> Vec<u8> {
    [day_prefix(day).as_slice(), grid.as_str().as_bytes(), b"/", item.as_str().as_bytes()].concat()
}

/// The levels whose places keep a roll-up of each day's buckets (items
/// merged), so that a cohort scoped to a place, or broken down by places of
/// one level, reads one row per place and day whatever the catalog's size.
pub(crate) const ROLLUP_LEVELS: [Level; 4] = [Level::District, Level::Street, Level::Community, Level::Grid];

/// `metrics/l/<level>/<day>/<place>`: the roll-up of one place's day.
pub(crate) fn rollup_key(level: Level, day: i64, place: &GridCode) -> Vec<u8> {
    [rollup_prefix(level, day, None).as_slice(), place.as_str().as_bytes()].concat()
}

/// `metrics/l/<level>/<day>/<scope>`: the day's roll-ups at a level, of
/// the places whose codes start with the scope's (the caller keeps those
/// within it).
pub(crate) fn rollup_prefix(level: Level, day: i64, scope: Option<&GridCode>) -> Vec<u8> {
    let mut key = [PREFIX, b"l/", &[level as u8], b"/", &day_bytes(day), b"/"].concat();
    if let Some(scope) = scope {
        key.extend_from_slice(scope.as_str().as_bytes());
    }
    key
}

/// `metrics/f/<day>/<place>`: the settled facts of a day whose grid codes
/// start with the place's (the caller keeps those within it).
pub(crate) fn facts_day_prefix(day: i64, place: &GridCode) -> Vec<u8> {
    [PREFIX, b"f/", &day_bytes(day), b"/", place.as_str().as_bytes()].concat()
}

/// `metrics/f/<day>/[<scope>]`: the settled facts of one day, within a
/// place when given (a prefix: the caller checks each grid is within it).
pub(crate) fn facts_scope_prefix(day: i64, scope: Option<&GridCode>) -> Vec<u8> {
    let mut key = [PREFIX, b"f/", &day_bytes(day), b"/"].concat();
    if let Some(scope) = scope {
        key.extend_from_slice(scope.as_str().as_bytes());
    }
    key
}

/// `metrics/f/<day>/<grid>/<item>/`: the settled facts of one bucket.
pub(crate) fn facts_prefix(day: i64, grid: &GridCode, item: &ItemCode) -> Vec<u8> {
    [PREFIX, b"f/", &day_bytes(day), b"/", grid.as_str().as_bytes(), b"/", item.as_str().as_bytes(), b"/"].concat()
}

/// `metrics/s/<day>/`: the tickets whose final mark fell on a day.
pub(crate) fn settled_prefix(day: i64) -> Vec<u8> {
    [PREFIX, b"s/", &day_bytes(day), b"/"].concat()
}

/// Decodes a cold row written by this module.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProjectionError> {
    serde_json::from_slice(bytes).map_err(|e| ProjectionError::Snapshot { name: "metrics", detail: e.to_string() })
}

/// Encodes a cold row.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("metrics rows serialise")
}
