//! The routing policy: for a ticket, by its catalog item and grid, who
//! handles it. (Being written; see the dispatch issue.)

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// The knobs of routing and of the deadlines it sets. Loaded from
/// `fixtures/data/routing.toml` for the fixture district.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingPolicy {
    /// The most candidates one offer goes to.
    pub offers_max: usize,
    /// How long an offer stays open.
    pub offer_window: Millis,
    /// Offer rounds (each to a wider ring) before the ticket escalates.
    pub offer_rounds_max: u32,
    /// Orders within this span count as "recent" for fairness.
    pub fairness_window: Millis,
    /// How long a tier has to take an escalated or reopened ticket:
    /// community, street, district.
    pub respond_within: [Millis; 3],
    /// How long a summoned department has to report (吹哨报到).
    pub summons_report_within: Millis,
    /// Unsatisfied feedback reopens one tier up instead of at the last
    /// holder's tier.
    pub reopen_one_up: bool,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            offers_max: 5,
            offer_window: Millis::minutes(30),
            offer_rounds_max: 3,
            fairness_window: Millis::days(30),
            respond_within: [Millis::hours(2), Millis::hours(4), Millis::hours(8)],
            summons_report_within: Millis::days(1),
            reopen_one_up: false,
        }
    }
}
