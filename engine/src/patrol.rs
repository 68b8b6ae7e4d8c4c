//! Patrols (网格巡查 / 走访): a grid worker walks their grid and checks in
//! at households and sites with a note.
//!
//! A worker's patrols live on one stream, `patrol-<worker>`, numbered 1, 2,
//! 3... within it. One stream per worker (not per patrol) is what makes
//! "one open patrol per worker" a rule of one `decide`: two phones starting
//! a patrol at once race for the same stream version, and the loser decides
//! again on an open patrol and is refused. The state keeps only the patrol
//! open now and the count, so folding a long stream stays cheap
//! (`docs/adr/0008-field-decisions.md`).
//!
//! Only a grid worker (or a grid head) patrols, and only within the place
//! they serve; the place is the door's check (`permit`), the role is
//! checked here too, so a command refused at a door is refused the same way
//! in process.

use serde::{Deserialize, Serialize};

use crate::envelope::{Actor, event_payload};
use crate::grid::{GeoPoint, GridCode, Level, contains, on_boundary};
use crate::ids::ActorId;
use crate::permit::{Access, Write, role_may};
use crate::text::bounded_text;
use crate::{Context, Error};

/// The most check-ins one patrol may record: a long day's walk, with room
/// to spare; a bound keeps a runaway client from growing one patrol for
/// ever.
pub const CHECK_INS_MAX: u32 = 200;
/// The most characters of a check-in's label (a household's door number,
/// a site's name).
pub const LABEL_CHARS_MAX: usize = 100;

/// Where a check-in was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    /// A household visited (走访).
    Household,
    /// A site inspected: a stairwell, a drain, a shop front (巡查).
    Site,
}

/// What a worker's patrol stream (`patrol-<worker>`) says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PatrolEvent {
    /// A patrol began in a grid.
    Started {
        /// The patrol's number on the worker's stream, counted from 1.
        patrol: u32,
        /// The grid (or sub-grid) walked.
        grid: GridCode,
    },
    /// The worker checked in at a household or a site.
    CheckedIn {
        /// The patrol checked in on.
        patrol: u32,
        /// A household or a site.
        kind: VisitKind,
        /// Which one: a door number, a site's name (1 to 100 characters).
        label: String,
        /// What the worker saw or was told; may be empty.
        note: String,
        /// Where, when the phone knew; always within the patrol's grid.
        point: Option<GeoPoint>,
    },
    /// The patrol ended.
    Ended {
        /// The patrol that ended.
        patrol: u32,
        /// How many check-ins it recorded.
        check_ins: u32,
        /// The worker's closing note; may be empty.
        note: String,
    },
}

fn patrol_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_patrol(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for patrol.{tag}/{version}")))
}

event_payload!(PatrolEvent, "patrol", patrol_schema_version, upcast_patrol);

/// What a grid worker asks of their patrol stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PatrolCommand {
    /// Starts a patrol in a grid; refused while another is open.
    StartPatrol {
        /// The grid (or sub-grid) to walk.
        grid: GridCode,
    },
    /// Checks in at a household or a site on the open patrol.
    CheckIn {
        /// A household or a site.
        kind: VisitKind,
        /// Which one (1 to 100 characters).
        label: String,
        /// What the worker saw; may be empty (at most 2,000 characters).
        #[serde(default)]
        note: String,
        /// Where, when known; must lie in the patrol's grid.
        #[serde(default)]
        point: Option<GeoPoint>,
    },
    /// Ends the open patrol.
    EndPatrol {
        /// A closing note; may be empty.
        #[serde(default)]
        note: String,
    },
}

/// The patrol open now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPatrol {
    /// Its number on the worker's stream.
    pub patrol: u32,
    /// The grid walked.
    pub grid: GridCode,
    /// How many check-ins so far.
    pub check_ins: u32,
}

/// A worker's patrols, folded from their stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patrols {
    /// The patrol open now, if any.
    pub open: Option<OpenPatrol>,
    /// How many patrols were started (the last one's number).
    pub started: u32,
    /// How many events were folded (the stream's version).
    pub version: u64,
}

impl Patrols {
    /// Folds one event in. No rules here: only what the event says.
    pub fn evolve(&mut self, event: &PatrolEvent) {
        self.version += 1;
        match event {
            PatrolEvent::Started { patrol, grid } => {
                self.started = *patrol;
                self.open = Some(OpenPatrol { patrol: *patrol, grid: grid.clone(), check_ins: 0 });
            }
            PatrolEvent::CheckedIn { .. } => {
                if let Some(open) = &mut self.open {
                    open.check_ins += 1;
                }
            }
            PatrolEvent::Ended { .. } => self.open = None,
        }
    }

    /// Decides a patrol command of `worker` (the stream's owner), sent by
    /// `actor`: only the worker themself, one patrol open at a time, at most
    /// [`CHECK_INS_MAX`] check-ins, each point within the patrol's grid.
    pub fn decide(
        &self,
        worker: &ActorId,
        command: &PatrolCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<PatrolEvent>, Error> {
        role_may(actor, Access::Write(Write::Patrol), "patrol")?;
        if &actor.id != worker {
            return Err(Error::NotPermitted { role: actor.role.name(), command: "patrol as another worker" });
        }
        match command {
            PatrolCommand::StartPatrol { grid } => self.decide_start(grid, ctx),
            PatrolCommand::CheckIn { kind, label, note, point } => {
                let open = self.require_open("check in")?;
                if open.check_ins >= CHECK_INS_MAX {
                    return Err(Error::invalid("check-ins", format!("at most {CHECK_INS_MAX} on one patrol")));
                }
                let label = bounded_text("label", label, false)?;
                if label.chars().count() > LABEL_CHARS_MAX {
                    return Err(Error::invalid("label", format!("must be at most {LABEL_CHARS_MAX} characters")));
                }
                let node = ctx.grids.require(&open.grid)?;
                if point.is_some_and(|p| !contains(&node.boundary, p) && !on_boundary(&node.boundary, p)) {
                    return Err(Error::LocationOutsideGrid { grid: open.grid.to_string() });
                }
                let note = bounded_text("note", note, true)?;
                Ok(vec![PatrolEvent::CheckedIn { patrol: open.patrol, kind: *kind, label, note, point: *point }])
            }
            PatrolCommand::EndPatrol { note } => {
                let open = self.require_open("end the patrol")?;
                let note = bounded_text("note", note, true)?;
                Ok(vec![PatrolEvent::Ended { patrol: open.patrol, check_ins: open.check_ins, note }])
            }
        }
    }

    fn decide_start(&self, grid: &GridCode, ctx: &Context) -> Result<Vec<PatrolEvent>, Error> {
        if self.open.is_some() {
            return Err(Error::IllegalTransition { command: "start a patrol", status: "on a patrol already" });
        }
        ctx.grids.require(grid)?;
        if grid.level() < Level::Grid {
            return Err(Error::invalid("grid", "a patrol walks a grid or sub-grid, not a whole community"));
        }
        Ok(vec![PatrolEvent::Started { patrol: self.started + 1, grid: grid.clone() }])
    }

    fn require_open(&self, verb: &'static str) -> Result<&OpenPatrol, Error> {
        self.open.as_ref().ok_or(Error::IllegalTransition { command: verb, status: "not on a patrol" })
    }
}
