//! The patrol log (巡查日志): every grid worker's patrols, with their
//! check-ins, as `GET /patrols` lists them per grid and per worker.
//!
//! It folds the `patrol-<worker>` streams (`gridloop_engine::patrol`); the
//! rules (one open patrol, bounded check-ins) were held by the engine when
//! they were written, so this only records what the events say.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::{GeoPoint, GridCode};
use gridloop_engine::ids::ActorId;
use gridloop_engine::patrol::{PatrolEvent, VisitKind};
use gridloop_engine::time::Timestamp;

use crate::ProjectionError;
use crate::runner::Projection;

/// The most patrols one read returns.
pub const PATROLS_LISTED_MAX: usize = 200;

/// One check-in, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInRow {
    /// When it was made.
    pub at: Timestamp,
    /// A household or a site.
    pub kind: VisitKind,
    /// Which one.
    pub label: String,
    /// What the worker noted.
    pub note: String,
    /// Where, when the phone knew.
    pub point: Option<GeoPoint>,
}

/// One patrol, open or ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatrolRow {
    /// The grid worker (or grid head) who walked it.
    pub worker: ActorId,
    /// Its number on the worker's stream.
    pub patrol: u32,
    /// The grid walked.
    pub grid: GridCode,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended; `None` while open.
    pub ended_at: Option<Timestamp>,
    /// The closing note.
    pub note: String,
    /// Its check-ins, in order.
    pub check_ins: Vec<CheckInRow>,
}

/// Every patrol, by worker and number (keyed as text, `gw-1/0000000001`,
/// so the snapshot is a JSON object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PatrolLog {
    patrols: BTreeMap<String, PatrolRow>,
}

fn key(worker: &ActorId, patrol: u32) -> String {
    format!("{worker}/{patrol:010}")
}

impl Projection for PatrolLog {
    const NAME: &'static str = "patrols";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "patrol" {
            return Ok(());
        }
        let worker = ActorId::new(event.stream.id())?;
        let at = event.occurred_at;
        match event.decode::<PatrolEvent>()? {
            PatrolEvent::Started { patrol, grid } => {
                let row = PatrolRow {
                    worker: worker.clone(),
                    patrol,
                    grid,
                    started_at: at,
                    ended_at: None,
                    note: String::new(),
                    check_ins: Vec::new(),
                };
                self.patrols.insert(key(&worker, patrol), row);
            }
            PatrolEvent::CheckedIn { patrol, kind, label, note, point } => {
                if let Some(row) = self.patrols.get_mut(&key(&worker, patrol)) {
                    row.check_ins.push(CheckInRow { at, kind, label, note, point });
                }
            }
            PatrolEvent::Ended { patrol, note, .. } => {
                if let Some(row) = self.patrols.get_mut(&key(&worker, patrol)) {
                    row.ended_at = Some(at);
                    row.note = note;
                }
            }
        }
        Ok(())
    }
}

impl PatrolLog {
    /// The patrols within `place` (all with `None`), of `worker` when
    /// given, newest first, at most [`PATROLS_LISTED_MAX`].
    pub fn list(&self, place: Option<&GridCode>, worker: Option<&ActorId>) -> Vec<&PatrolRow> {
        let mut rows: Vec<&PatrolRow> = self
            .patrols
            .values()
            .filter(|r| place.is_none_or(|p| r.grid.is_within(p)))
            .filter(|r| worker.is_none_or(|w| &r.worker == w))
            .collect();
        rows.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.patrol.cmp(&a.patrol)));
        rows.truncate(PATROLS_LISTED_MAX);
        rows
    }

    /// The worker's open patrol, if any.
    pub fn open_of(&self, worker: &ActorId) -> Option<&PatrolRow> {
        self.patrols.values().rev().find(|r| &r.worker == worker && r.ended_at.is_none())
    }
}
