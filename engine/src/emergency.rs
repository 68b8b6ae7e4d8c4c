//! Emergency mode (平急转换): a district or a street switches from normal to
//! emergency (typhoon, epidemic) and back.
//!
//! While a place is in emergency mode, new tickets there for the catalog's
//! emergency items go straight to the district centre, which dispatches
//! directly, skipping levels. Entering and leaving are events of the place's
//! own stream, `emergency-<code>`, so the switch is on the record like
//! everything else.

use serde::{Deserialize, Serialize};

use crate::envelope::{Actor, event_payload};
use crate::grid::{GridCode, Level};
use crate::ticket::bounded_text;
use crate::{Context, Error};

/// What a place's emergency stream (`emergency-<code>`) says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EmergencyEvent {
    /// The place entered emergency mode: from now its new tickets for
    /// emergency items start at the district centre.
    Declared {
        /// The district or street in emergency mode (the stream's place).
        place: GridCode,
        /// Why, as the dispatcher gave it (a typhoon warning, an outbreak).
        reason: String,
    },
    /// The place is back to normal: new tickets start at the grid again.
    /// Tickets already at the district centre stay there.
    Lifted {
        /// Why, as the dispatcher gave it.
        reason: String,
    },
}

fn emergency_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_emergency(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for emergency.{tag}/{version}")))
}

event_payload!(EmergencyEvent, "emergency", emergency_schema_version, upcast_emergency);

/// What a dispatcher asks of a place's emergency mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EmergencyCommand {
    /// Switches the place to emergency mode; refused if it is in it already.
    Declare {
        /// Why (not empty, at most 2,000 characters).
        reason: String,
    },
    /// Switches the place back to normal; refused if it is not in emergency
    /// mode.
    Lift {
        /// Why (not empty, at most 2,000 characters).
        reason: String,
    },
}

/// Whether a place is in emergency mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emergency {
    /// The district or street, once it was first declared; `None` for a
    /// place that never was.
    pub place: Option<GridCode>,
    /// Whether the place is in emergency mode now.
    pub active: bool,
    /// How many events were folded (the stream's version).
    pub version: u64,
}

impl Emergency {
    /// Folds one event in. No rules here: only what the event says.
    pub fn evolve(&mut self, event: &EmergencyEvent) {
        self.version += 1;
        match event {
            EmergencyEvent::Declared { place, .. } => {
                self.place = Some(place.clone());
                self.active = true;
            }
            EmergencyEvent::Lifted { .. } => self.active = false,
        }
    }

    /// Only dispatchers switch; a district's mode only at the district
    /// centre's word, which the place's code says (the actor's scope is
    /// checked by the surfaces that know it).
    pub fn decide(
        &self,
        place: &GridCode,
        command: &EmergencyCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<EmergencyEvent>, Error> {
        crate::permit::role_may(
            actor,
            crate::permit::Access::Write(crate::permit::Write::Emergency),
            "switch emergency mode",
        )?;
        ctx.grids.require(place)?;
        if place.level() > Level::Street {
            return Err(Error::invalid("place", "emergency mode is switched for a district or a street"));
        }
        match command {
            EmergencyCommand::Declare { reason } if !self.active => Ok(vec![EmergencyEvent::Declared {
                place: place.clone(),
                reason: bounded_text("reason", reason, false)?,
            }]),
            EmergencyCommand::Lift { reason } if self.active => {
                Ok(vec![EmergencyEvent::Lifted { reason: bounded_text("reason", reason, false)? }])
            }
            EmergencyCommand::Declare { .. } => {
                Err(Error::IllegalTransition { command: "declare an emergency", status: "in emergency mode already" })
            }
            EmergencyCommand::Lift { .. } => {
                Err(Error::IllegalTransition { command: "lift the emergency", status: "not in emergency mode" })
            }
        }
    }
}
