//! Identifiers: validated newtypes, so that a malformed id is refused at the
//! edge and never reaches the log.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Defines a string id newtype with a validating constructor. `check` returns
/// the reason when the text is not acceptable.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `text` as this kind of id; a malformed one is refused
            /// as `Invalid`, naming the field and the reason.
            pub fn new(text: impl Into<String>) -> Result<Self, Error> {
                let text = text.into();
                let check: fn(&str) -> Option<&'static str> = $check;
                match check(&text) {
                    None => Ok(Self(text)),
                    Some(reason) => Err(Error::invalid($field, reason)),
                }
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(text: String) -> Result<Self, Error> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(text: &str) -> Result<Self, Error> {
                Self::new(text)
            }
        }
    };
}

/// The longest id of any kind, in bytes.
pub const ID_LEN_MAX: usize = 128;

/// `PREFIX-digits`, 1 to 12 digits, no leading zero: `T-1024`, `V-77`.
fn numbered(prefix: &'static str) -> impl Fn(&str) -> Option<&'static str> {
    move |text| {
        let Some(digits) = text.strip_prefix(prefix) else { return Some("must start with its prefix") };
        if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some("must be the prefix and 1 to 12 digits");
        }
        (digits.starts_with('0') && digits.len() > 1).then_some("must not have leading zeros")
    }
}

/// Printable ASCII without spaces, 1..=ID_LEN_MAX bytes: what an
/// `Idempotency-Key` header or a Matrix event id looks like.
fn token(text: &str) -> Option<&'static str> {
    if text.is_empty() || text.len() > ID_LEN_MAX {
        return Some("must be 1 to 128 characters");
    }
    (!text.bytes().all(|b| b.is_ascii_graphic())).then_some("must be printable ASCII without spaces")
}

/// Lower-case ASCII letters, digits and `_`, 1..=64 bytes: department codes, skills.
fn snake(text: &str) -> Option<&'static str> {
    if text.is_empty() || text.len() > 64 {
        return Some("must be 1 to 64 characters");
    }
    let ok = text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (!ok).then_some("must be lower-case letters, digits and _")
}

/// Upper-case letters, digits, `-`, `_`, `.`, 1..=32 bytes, not starting
/// with punctuation: item codes as a city's spreadsheet writes them.
fn code_like(text: &str) -> Option<&'static str> {
    if text.is_empty() || text.len() > 32 {
        return Some("must be 1 to 32 characters");
    }
    let ok = text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Some("must be upper-case letters, digits, -, _ or .");
    }
    (!text.as_bytes()[0].is_ascii_alphanumeric()).then_some("must start with a letter or digit")
}

string_id!(
    /// A ticket: `T-1024`. Residents and volunteers say it aloud, so it is short.
    TicketId, "ticket id", |t| numbered("T-")(t)
);
string_id!(
    /// A volunteer: `V-77`.
    VolunteerId, "volunteer id", |t| numbered("V-")(t)
);
string_id!(
    /// A volunteer team: `TM-12`.
    TeamId, "team id", |t| numbered("TM-")(t)
);
string_id!(
    /// A functional department: `civil_affairs`.
    DepartmentId, "department", snake
);
string_id!(
    /// A skill a volunteer has and a catalog item needs: `plumbing`.
    Skill, "skill", snake
);
string_id!(
    /// A catalog item: `CS-001`, `DZ-05-003`. A city writes its own codes, so
    /// the shape is loose: upper-case ASCII letters, digits, `-`, `_` and
    /// `.`, 1 to 32 of them, starting with a letter or digit.
    ItemCode, "catalog item", code_like
);
string_id!(
    /// A category of the catalog (事项类别): `community_service`. The
    /// categories, and the fields they belong to, are the district's own
    /// (`district.toml`).
    CategoryCode, "category", snake
);
string_id!(
    /// Who acted: a resident, a grid worker, a dispatcher... (the role says which).
    ActorId, "actor id", token
);
string_id!(
    /// The idempotency key of a command: re-sending it returns the first result.
    CommandId, "command id", token
);
string_id!(
    /// Ties together every event of one ticket's conversation.
    CorrelationId, "correlation id", token
);
string_id!(
    /// A resident; personal data lives elsewhere, keyed by this id.
    ResidentId, "resident id", token
);

impl TicketId {
    /// The number after `T-`.
    pub fn number(&self) -> u64 {
        self.0[2..].parse().expect("validated at construction")
    }
    /// The ticket id with this number, e.g. 1024 gives `T-1024`; the numbering
    /// service picks the next free one.
    pub fn from_number(n: u64) -> Self {
        Self(format!("T-{n}"))
    }
}

impl VolunteerId {
    /// The volunteer id with this number, e.g. 77 gives `V-77`.
    pub fn from_number(n: u64) -> Self {
        Self(format!("V-{n}"))
    }
}

impl TeamId {
    /// The team id with this number, e.g. 12 gives `TM-12`.
    pub fn from_number(n: u64) -> Self {
        Self(format!("TM-{n}"))
    }
}

/// The name of one aggregate instance's stream: `ticket-T-1024`, `volunteer-V-7`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    /// The stream of one ticket: `ticket-T-1024`.
    pub fn ticket(id: &TicketId) -> Self {
        Self(format!("ticket-{id}"))
    }
    /// The stream of one volunteer: `volunteer-V-77`.
    pub fn volunteer(id: &VolunteerId) -> Self {
        Self(format!("volunteer-{id}"))
    }
    /// The world's one stream: the district, its grids, catalog, teams,
    /// staff and routing, as the changes that made them (`world.rs`).
    pub fn world() -> Self {
        Self("world-district".to_string())
    }
    /// The emergency-mode stream of a district or street.
    pub fn emergency(place: &crate::grid::GridCode) -> Self {
        Self(format!("emergency-{place}"))
    }
    /// The patrols of one grid worker: `patrol-gw-0101` (`patrol.rs`).
    pub fn patrol(worker: &ActorId) -> Self {
        Self(format!("patrol-{worker}"))
    }
    /// Any other stream name: lower-case kind, `-`, an id token.
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let text = text.into();
        let (kind, id) = text.split_once('-').ok_or_else(|| Error::invalid("stream", "must be kind-id"))?;
        if kind.is_empty()
            || !kind.bytes().all(|b| b.is_ascii_lowercase())
            || token(id).is_some()
            || text.len() > ID_LEN_MAX
        {
            return Err(Error::invalid("stream", "must be a lower-case kind, '-', and an id"));
        }
        Ok(Self(text))
    }
    /// The stream name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The aggregate kind: `ticket`, `volunteer`.
    pub fn kind(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(k, _)| k)
    }
    /// The instance id: `T-1024`.
    pub fn id(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, id)| id)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_prefix_and_digits() {
        assert_eq!(TicketId::new("T-1024").unwrap().number(), 1024);
        for bad in ["T-", "T-01", "t-1", "T-1a", "T-1234567890123", "1024"] {
            assert!(TicketId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn streams_name_kind_and_id() {
        let s = StreamId::ticket(&TicketId::new("T-7").unwrap());
        assert_eq!((s.kind(), s.id()), ("ticket", "T-7"));
        assert!(StreamId::new("Ticket-1").is_err());
        assert!(StreamId::new("ticket-").is_err());
    }
}
