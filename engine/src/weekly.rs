//! The grid head's weekly report (网格长周报告): one small aggregate per
//! grid and ISO week, on the stream `weekly-<grid>@<week>`
//! (`weekly-440802-001-002-003@2026-W49`).
//!
//! The week's figures are generated from the log by the projections; the
//! head reads them, adds a narrative and submits. The event names the
//! figures the head submitted with, so what the community was told stays
//! on the record even if a late event changes the week's figures after.
//! It is reported to the community the grid belongs to (the event names
//! it), whose dispatchers and officials see every grid's report for the
//! week and which grids have not reported.
//!
//! Rules (all in [`WeeklyReport::decide`]):
//!
//! - only a grid head submits (the permit table's `Write::WeeklyReport`);
//!   the door checks that the head's place covers the grid, as for every
//!   placed command;
//! - the place is a grid (not a street or community) of the district;
//! - the week has begun (China time) and its correction window has not
//!   closed: a report may be submitted or resubmitted until the end of the
//!   week after ([`CORRECTION_WEEKS`]), when the ranking of the week is
//!   published and the record is settled;
//! - a resubmission replaces the earlier one as the report the community
//!   reads, with the next revision number; every revision stays in the log.
//!   A resubmission identical to the standing one writes nothing; at most
//!   [`REVISIONS_MAX`] revisions;
//! - the figures were taken within the week or after it, and not after the
//!   moment of submission;
//! - the narrative is free text by the one rule (`text.rs`), not empty.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::envelope::{Actor, event_payload};
use crate::grid::{GridCode, Level};
use crate::permit::{Access, Write, person_may};
use crate::text::bounded_text;
use crate::time::{DAY_MS, HOUR_MS, Millis, Timestamp, civil_from_days, days_from_civil};
use crate::{Context, Error};

/// How many weeks after its own a week's report may still be submitted or
/// corrected.
pub const CORRECTION_WEEKS: u64 = 1;
/// The most revisions one grid's report for one week may have.
pub const REVISIONS_MAX: u32 = 16;
/// China Standard Time's offset from UTC, in which weeks are counted (no
/// daylight saving).
const CST_OFFSET_MS: i64 = 8 * HOUR_MS as i64;

/// An ISO week (Monday to Sunday), counted in China time: `2026-W49`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    year: i64,
    week: u8,
}

impl IsoWeek {
    /// Parses `YYYY-Www` (`2026-W49`), years 2000 to 2198, refusing a week 53
    /// in a year that has 52.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("week", "must be an ISO week such as 2026-W49");
        let bytes = text.as_bytes();
        if bytes.len() != 8 || bytes[4] != b'-' || bytes[5] != b'W' {
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| {
            let part = text.get(r)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse::<i64>().ok()).flatten()
        };
        let (year, week) = (digits(0..4).ok_or_else(bad)?, digits(6..8).ok_or_else(bad)?);
        if !(2000..=2198).contains(&year) || !(1..=53).contains(&week) {
            return Err(bad());
        }
        let parsed = Self { year, week: week as u8 };
        // A week 53 that does not exist would fall in the next year's week 1.
        if Self::containing_day(parsed.monday()) != parsed {
            return Err(Error::invalid("week", format!("{year} has no week {week}")));
        }
        Ok(parsed)
    }

    /// The week that holds a local (China time) day number.
    pub fn containing_day(day: i64) -> Self {
        // 1970-01-01 was a Thursday; Monday = 0. A week belongs to the year
        // its Thursday is in.
        let weekday = (day + 3).rem_euclid(7);
        let thursday = day - weekday + 3;
        let (year, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        Self { year, week: week as u8 }
    }

    /// The week that holds an instant, in China time.
    pub fn containing(at: Timestamp) -> Self {
        Self::containing_day((at.as_millis() + CST_OFFSET_MS).div_euclid(DAY_MS as i64))
    }

    /// The local day number of the week's Monday.
    fn monday(self) -> i64 {
        let jan4 = days_from_civil(self.year, 1, 4);
        let first_monday = jan4 - (jan4 + 3).rem_euclid(7);
        first_monday + 7 * (i64::from(self.week) - 1)
    }

    /// Monday 00:00 China time, as an instant.
    pub fn start(self) -> Timestamp {
        let ms = self.monday() * DAY_MS as i64 - CST_OFFSET_MS;
        Timestamp::from_millis(ms).expect("weeks are parsed within the timestamps' years")
    }

    /// The next Monday 00:00 China time: the week is `[start, end)`.
    pub fn end(self) -> Timestamp {
        self.start().plus(Millis::days(7))
    }

    /// When the week's correction window closes: the end of the week after
    /// it ([`CORRECTION_WEEKS`]). Reports are settled, and the ranking is
    /// evaluated, as of then.
    pub fn closes(self) -> Timestamp {
        self.end().plus(Millis::days(7 * CORRECTION_WEEKS))
    }

    /// The week after this one.
    pub fn next(self) -> Self {
        Self::containing_day(self.monday() + 7)
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl Serialize for IsoWeek {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoWeek {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        IsoWeek::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which report: a grid's, for a week. Its stream is
/// `weekly-<grid>@<week>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeeklyId {
    /// The grid reported on.
    pub grid: GridCode,
    /// The week reported on.
    pub week: IsoWeek,
}

impl WeeklyId {
    /// Reads a stream's id part back (`440802-001-002-003@2026-W49`).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (grid, week) = text.split_once('@').ok_or_else(|| Error::invalid("stream", "must be GRID@WEEK"))?;
        Ok(Self { grid: GridCode::parse(grid)?, week: IsoWeek::parse(week)? })
    }
}

impl fmt::Display for WeeklyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.grid, self.week)
    }
}

/// The week's figures as the head saw them when submitting: what the
/// projections generated from the log, as of `as_of`. Counts only; the
/// rates are numerator and denominator, as the metrics keep them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyFigures {
    /// When the figures were evaluated.
    pub as_of: Timestamp,
    /// Tickets submitted in the grid in the week.
    pub submitted: u64,
    /// Of those, still open (not resolved, closed, cancelled or a duplicate).
    pub open: u64,
    /// Of those, resolved or closed.
    pub resolved: u64,
    /// Tickets of the week that missed a deadline (the engine's `Due` rule).
    pub overdue: u64,
    /// Tickets of the week escalated beyond the grid.
    pub escalated: u64,
    /// Resolved on time (按期办结率's numerator).
    pub on_time: u64,
    /// Due against the resolve deadline (its denominator).
    pub resolve_due: u64,
    /// Rated satisfied or basically satisfied (满意率's numerator).
    pub satisfied: u64,
    /// Rated (its denominator).
    pub rated: u64,
    /// Patrols made in the grid in the week.
    pub patrols: u64,
    /// Visits and check-ins made on patrol.
    pub visits: u64,
    /// Tickets filed on patrol (channel `patrol`).
    pub found_on_patrol: u64,
    /// Services (resolutions) by the grid's volunteers in the week.
    pub volunteer_services: u64,
    /// Minutes of those services.
    pub volunteer_minutes: u64,
    /// Points awarded to the grid's volunteers in the week.
    pub points_awarded: u64,
}

/// What a grid head asks of a week's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WeeklyCommand {
    /// Submits the report (or a correction of it) with the head's words.
    SubmitWeeklyReport {
        /// The head's narrative: what happened, what is pending, what they
        /// ask of the community (not empty, at most 2,000 characters).
        narrative: String,
        /// The figures the head read when writing it.
        figures: WeeklyFigures,
    },
}

/// What a week's report stream says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum WeeklyEvent {
    /// The head submitted (or resubmitted) the report to the community.
    ReportSubmitted {
        /// The grid reported on.
        grid: GridCode,
        /// The week reported on.
        week: IsoWeek,
        /// The community the grid belongs to: whom it is reported to.
        community: GridCode,
        /// 1 for the first submission, then one more per correction.
        revision: u32,
        /// The head's words.
        narrative: String,
        /// The figures it was submitted with.
        figures: WeeklyFigures,
    },
}

fn weekly_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_weekly(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for weekly.{tag}/{version}")))
}

event_payload!(WeeklyEvent, "weekly", weekly_schema_version, upcast_weekly);

/// One grid's report for one week, folded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyReport {
    /// The standing revision (0: never submitted).
    pub revision: u32,
    /// When the standing revision was submitted.
    pub submitted_at: Option<Timestamp>,
    /// The standing narrative.
    pub narrative: String,
    /// The figures of the standing revision.
    pub figures: WeeklyFigures,
    /// How many events were folded (the stream's version).
    pub version: u64,
}

impl WeeklyReport {
    /// Folds one event in. No rules here: only what the event says.
    pub fn evolve(&mut self, event: &WeeklyEvent, at: Timestamp) {
        self.version += 1;
        match event {
            WeeklyEvent::ReportSubmitted { revision, narrative, figures, .. } => {
                self.revision = *revision;
                self.narrative = narrative.clone();
                self.figures = figures.clone();
                self.submitted_at = Some(at);
            }
        }
    }

    /// Decides a submission (see the module doc for the rules).
    pub fn decide(
        &self,
        id: &WeeklyId,
        command: &WeeklyCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<WeeklyEvent>, Error> {
        let WeeklyCommand::SubmitWeeklyReport { narrative, figures } = command;
        person_may(actor, Access::Write(Write::WeeklyReport))?;
        ctx.grids.require(&id.grid)?;
        let community = match (id.grid.level(), id.grid.at_level(Level::Community)) {
            (Level::Grid, Some(community)) => community,
            _ => return Err(Error::invalid("grid", format!("{} is not a grid", id.grid))),
        };
        check_window(id.week, ctx.now)?;
        if figures.as_of < id.week.start() || figures.as_of > ctx.now {
            return Err(Error::invalid("figures", "must be taken within the week or after it, and not in the future"));
        }
        let narrative = bounded_text("narrative", narrative, false)?;
        if self.revision > 0 && self.narrative == narrative && &self.figures == figures {
            return Ok(vec![]);
        }
        if self.revision >= REVISIONS_MAX {
            return Err(Error::IllegalTransition {
                command: "resubmit a weekly report",
                status: "at its most revisions (16)",
            });
        }
        Ok(vec![WeeklyEvent::ReportSubmitted {
            grid: id.grid.clone(),
            week: id.week,
            community,
            revision: self.revision + 1,
            narrative,
            figures: figures.clone(),
        }])
    }
}

/// A week's report is taken from the week's first moment until the end
/// of the correction window.
fn check_window(week: IsoWeek, now: Timestamp) -> Result<(), Error> {
    if now < week.start() {
        return Err(Error::IllegalTransition { command: "submit a weekly report", status: "the week has not begun" });
    }
    if now >= week.closes() {
        return Err(Error::IllegalTransition {
            command: "submit a weekly report",
            status: "the week's correction window has closed",
        });
    }
    Ok(())
}
