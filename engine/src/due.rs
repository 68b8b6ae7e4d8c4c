//! Whether a ticket is due against a deadline at an instant, and whether it
//! met it: the one rule behind the rates (受理率, 办结率, 按期办结率,
//! 闭环率), the board's overdue flag and its filter.
//!
//! A ticket counts against a deadline only once the deadline has passed or
//! the ticket has done what the deadline asks, as the 12345 hotlines divide
//! by the tickets due to be closed (应结案): a ticket submitted minutes ago
//! is neither a success nor a failure yet. A ticket withdrawn (cancelled,
//! marked a duplicate) before a deadline fell due never becomes due against
//! it; one withdrawn after it had passed keeps its miss.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// How a ticket stands against one deadline at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// Not due: the deadline is still ahead and the ticket has not done what
    /// it asks, or it was withdrawn before the deadline came. It counts in
    /// no rate.
    NotYet,
    /// Done by the deadline (at its very instant included).
    Met,
    /// Done after the deadline, or not done once it had passed.
    Missed,
}

impl Due {
    /// How a ticket stands as of `now` against `deadline`, given when it did
    /// what the deadline asks (`done_at`: taken, resolved, closed) and when it
    /// was withdrawn (`withdrawn_at`), if ever. Anything after `now` has not
    /// happened yet as of `now`. A deadline has passed once its instant is
    /// reached, as the timers hold it.
    pub fn judge(
        deadline: Timestamp,
        done_at: Option<Timestamp>,
        withdrawn_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Due {
        match done_at.filter(|&at| at <= now) {
            Some(at) if at <= deadline => Due::Met,
            Some(_) => Due::Missed,
            None => {
                // A withdrawn ticket's clock stops at its withdrawal.
                let end = withdrawn_at.filter(|&at| at <= now).unwrap_or(now);
                if deadline <= end { Due::Missed } else { Due::NotYet }
            }
        }
    }

    /// Whether the ticket counts against the deadline: met or missed.
    pub fn is_due(self) -> bool {
        self != Due::NotYet
    }
}
