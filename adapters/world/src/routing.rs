//! `routing.toml`: every knob of the routing policy, durations as text.
//! The same reading as `gridloop_fixtures::parse_routing`, reporting a
//! [`Problem`] that names the key and its line.

use gridloop_engine::routing::{RespondWithin, RoutingPolicy};
use gridloop_engine::time::Millis;
use serde::Deserialize;
use toml::Spanned;

use crate::district::line_at;
use crate::problem::{Place, Problem, Problems};
use crate::text::{quoted, reason};

const FILE: &str = crate::ROUTING;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    offers_max: usize,
    offer_window: Spanned<String>,
    offer_rounds_max: u32,
    fairness_window: Spanned<String>,
    respond_within: [Spanned<String>; 3],
    summons_report_within: Spanned<String>,
    reopen_one_up: bool,
}

/// Parses and checks the routing policy; `None` when it has problems.
pub(crate) fn read(text: &str, problems: &mut Problems) -> Option<RoutingPolicy> {
    let file: RoutingFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            let place = e.span().map_or(Place::File, |s| Place::Line(line_at(text, s.start)));
            problems.push(Problem { place, ..Problem::file(FILE, e.message().trim()) });
            return None;
        }
    };
    let before = problems.len();
    let mut span = |key: &str, value: &Spanned<String>| {
        Millis::parse_span(value.get_ref()).unwrap_or_else(|e| {
            let line = Some(line_at(text, value.span().start));
            problems.push(Problem::key(FILE, line, key, format!("{}: {}", quoted(value.get_ref()), reason(e))));
            Millis(0)
        })
    };
    let [community, street, district] = &file.respond_within;
    let policy = RoutingPolicy {
        offers_max: file.offers_max,
        offer_window: span("offer_window", &file.offer_window),
        offer_rounds_max: file.offer_rounds_max,
        fairness_window: span("fairness_window", &file.fairness_window),
        respond_within: RespondWithin {
            community: span("respond_within", community),
            street: span("respond_within", street),
            district: span("respond_within", district),
        },
        summons_report_within: span("summons_report_within", &file.summons_report_within),
        reopen_one_up: file.reopen_one_up,
    };
    if problems.len() > before {
        return None;
    }
    if let Err(e) = policy.validate() {
        problems.push(Problem::file(FILE, e.to_string()));
        return None;
    }
    Some(policy)
}
