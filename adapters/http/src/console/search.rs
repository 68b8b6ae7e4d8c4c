//! The board's search (`GET /board?q=`): by a ticket's id, by the last
//! digits of the resident's phone, or by words of the description or an
//! address.
//!
//! - `T-1024`: that ticket, whatever its status.
//! - 4 to 15 digits: the tickets of residents whose phone ends with them.
//!   Phones live only in the encrypted personal store; the account store
//!   keeps a tail index (the keyed hash of a phone's last four digits → the
//!   residents with such a phone, [`TailKey`]), so a search reads the few
//!   residents under one key and checks the longer digits against their
//!   decrypted phone, never scanning every record and never writing a
//!   phone anywhere readable. Only roles that may read residents
//!   ([`Read::Residents`]) may search by phone.
//! - anything else: the tickets whose description contains the words (case
//!   folded), and those in the place an address names (the grid tree's
//!   address matching, as orders by address are placed).
//!
//! Descriptions are in the log; [`Texts`] keeps them folded for the search,
//! beside the board.

use std::collections::BTreeSet;

use gridloop_engine::Error;
use gridloop_engine::account::{PHONE_TAIL_DIGITS, TailKey, normalize_phone};
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::{GridCode, GridTree};
use gridloop_engine::ids::{ResidentId, TicketId};
use gridloop_engine::permit::{Access, Read, Target, permit};
use gridloop_engine::personal::Lookup;
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Ticket, TicketEvent};
use gridloop_projections::ProjectionError;
use gridloop_projections::cold::{Cold, numbered_key};
use gridloop_projections::runner::Projection;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;

/// Each ticket's description, case folded, by ticket number: cold rows
/// `console-texts/<number>`, so descriptions never fill memory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Texts {
    #[serde(skip)]
    cold: Cold,
}

impl Projection for Texts {
    const NAME: &'static str = "console-texts";
    const VERSION: u32 = 2;

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if event.stream.kind() != "ticket" || event.schema.name != "ticket.submitted" {
            return Ok(());
        }
        if let TicketEvent::Submitted { ticket, description, .. } = event.decode::<TicketEvent>()? {
            self.cold.put(numbered_key(TEXTS, ticket.number()), description.to_lowercase().into_bytes());
        }
        Ok(())
    }

    fn attach(&mut self, cold: &Cold) {
        self.cold = cold.clone();
    }
}

const TEXTS: &[u8] = b"console-texts/";

impl Texts {
    /// Whether ticket `id`'s description contains `words` (case folded). A
    /// row that cannot be read is logged and does not match.
    pub fn mentions(&self, id: &TicketId, words: &str) -> bool {
        match self.cold.get(&numbered_key(TEXTS, id.number())) {
            Ok(text) => text.is_some_and(|t| String::from_utf8_lossy(&t).contains(words)),
            Err(error) => {
                tracing::warn!(%error, "reading a description for the search");
                false
            }
        }
    }
}

/// What a search asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    /// One ticket by its id.
    Ticket(TicketId),
    /// Residents whose phone ends with these digits.
    Phone(String),
    /// Words of a description, or an address: case folded, and the place
    /// the words name, if any.
    Words(String, Option<GridCode>),
}

/// The search `q` means, or `None` for an empty one.
pub(crate) fn query(grids: &GridTree, q: &str) -> Result<Option<Query>, Error> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(None);
    }
    let upper = q.to_uppercase();
    if let Some(number) = upper.strip_prefix("T-").filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        return Ok(Some(Query::Ticket(TicketId::new(format!("T-{number}"))?)));
    }
    let digits: String = q.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() < PHONE_TAIL_DIGITS {
            return Err(Error::invalid("q", format!("give at least the last {PHONE_TAIL_DIGITS} digits of a phone")));
        }
        return Ok(Some(Query::Phone(normalize_phone(&digits).unwrap_or(digits))));
    }
    Ok(Some(Query::Words(q.to_lowercase(), grids.match_address(q).cloned())))
}

/// A query made ready to match tickets: for a phone, the residents found.
pub(crate) enum Matcher<'a> {
    Ticket(TicketId),
    Residents(BTreeSet<ResidentId>),
    Words { words: String, place: Option<GridCode>, texts: &'a Texts },
}

impl<'a> Matcher<'a> {
    /// The matcher of a query: for a phone, the residents found for it.
    pub(crate) fn of(query: Option<Query>, residents: Option<BTreeSet<ResidentId>>, texts: &'a Texts) -> Option<Self> {
        match (query, residents) {
            (Some(Query::Ticket(id)), _) => Some(Matcher::Ticket(id)),
            (Some(Query::Phone(_)), Some(found)) => Some(Matcher::Residents(found)),
            (Some(Query::Words(words, place)), _) => Some(Matcher::Words { words, place, texts }),
            _ => None,
        }
    }

    /// Whether `ticket` is one the search finds.
    pub(crate) fn finds(&self, ticket: &Ticket) -> bool {
        match self {
            Matcher::Ticket(id) => ticket.id.as_ref() == Some(id),
            Matcher::Residents(residents) => {
                ticket.resident.as_ref().is_some_and(|r| residents.contains(r))
                    || ticket.followers.iter().any(|r| residents.contains(r))
            }
            Matcher::Words { words, place, texts } => {
                ticket.id.as_ref().is_some_and(|id| texts.mentions(id, words))
                    || place.as_ref().is_some_and(|p| ticket.grid.as_ref().is_some_and(|g| g.is_within(p)))
            }
        }
    }
}

/// The residents whose phone ends with `digits`: those the tail index lists
/// under the last four, kept when their decrypted phone ends with all of
/// `digits`. Asks the permit rule first: only those who may read residents.
pub(crate) fn residents_by_phone<S: EventStore>(
    state: &AppState<S>,
    who: &Principal,
    digits: &str,
) -> Result<BTreeSet<ResidentId>, crate::AppError> {
    permit(who, Access::Read(Read::Residents), Target::District)?;
    let (Some(accounts), Some(personal)) = (state.accounts.as_deref(), state.personal.as_deref()) else {
        return Ok(BTreeSet::new());
    };
    let secret = accounts.secret()?;
    let tail = TailKey::of_digits(&secret, &digits[digits.len() - PHONE_TAIL_DIGITS..])?;
    let mut found = BTreeSet::new();
    for resident in accounts.residents_by_tail(&tail)? {
        if let Lookup::Found(person) = personal.get(&resident)? {
            if normalize_phone(&person.phone).is_ok_and(|p| p.ends_with(digits)) {
                found.insert(resident);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{Query, query};
    use gridloop_engine::grid::{GeoPoint, GridCode, GridNode, GridTree};
    use gridloop_engine::ids::TicketId;

    fn tree() -> GridTree {
        let node = |code: &str, name: &str| GridNode {
            code: GridCode::parse(code).expect("a code"),
            name: name.into(),
            name_en: String::new(),
            kind: None,
            property_form: None,
            management_class: None,
            boundary: [(0, 0), (1000, 0), (1000, 1000)]
                .iter()
                .filter_map(|&(x, y)| GeoPoint::new(110_000_000 + x, 21_000_000 + y).ok())
                .collect(),
        };
        GridTree::new([node("440802", "赤坎区"), node("440802-001", "中华街道")]).expect("a tree")
    }

    #[test]
    fn a_search_is_an_id_a_phone_tail_or_words() {
        let grids = tree();
        assert_eq!(query(&grids, " t-12 ").ok().flatten(), Some(Query::Ticket(TicketId::from_number(12))));
        assert_eq!(query(&grids, "5678").ok().flatten(), Some(Query::Phone("5678".into())));
        assert_eq!(query(&grids, "0013-5678").ok().flatten(), Some(Query::Phone("00135678".into())));
        assert!(query(&grids, "567").is_err(), "three digits find too many phones");
        let place = GridCode::parse("440802-001").ok();
        assert_eq!(
            query(&grids, "中华街道12号 漏水").ok().flatten(),
            Some(Query::Words("中华街道12号 漏水".into(), place))
        );
        assert_eq!(query(&grids, "  ").ok().flatten(), None);
    }
}
