//! `routing.toml`: every knob of the routing policy, durations as text;
//! each [`Problem`] names the key and its line. The fixtures' generator reads
//! its source `routing.toml` with [`read_routing`] too.

use gridloop_engine::routing::{RespondWithin, RoutingPolicy};
use gridloop_engine::time::Millis;
use serde::Deserialize;
use toml::Spanned;

use crate::district::line_at;
use crate::problem::{Field, Place, Problem, Problems};
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
            let line = e.span().map(|s| line_at(text, s.start));
            let key = line.and_then(|line| key_on(text, line));
            let place = line.map_or(Place::File, Place::Line);
            let field = key.map(|k| Field::Key(k.to_string()));
            problems.push(Problem { place, field, ..Problem::file(FILE, e.message().trim()) });
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

/// Reads a `routing.toml` on its own (the fixtures' generator reads its
/// source data with it, so the file has one reader): the policy, or every
/// problem, each naming the key and its line.
pub fn read_routing(text: &str) -> Result<RoutingPolicy, Vec<Problem>> {
    let mut problems = Problems::default();
    match read(text, &mut problems) {
        Some(policy) if problems.is_empty() => Ok(policy),
        _ => Err(problems.into_vec()),
    }
}

/// The key a `key = value` line sets, so that a value of the wrong shape (an
/// array of two durations where three are due) is reported by its key too.
fn key_on(text: &str, line: u64) -> Option<&str> {
    let (key, _) = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(key)
}
