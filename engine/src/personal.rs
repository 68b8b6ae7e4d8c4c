//! Personal data, kept out of the log.
//!
//! Events name a resident only by their id. Names, phone numbers and
//! addresses live in a separate store keyed by that id, each resident's
//! record encrypted with a key of its own, so that erasing a resident (the
//! right to erasure under PIPL and GDPR) deletes their key and record and
//! leaves the log, and its hash chain, untouched. Surfaces show "erased"
//! where the name was.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ids::ResidentId;

/// The longest name, phone or address, in characters.
pub const PERSONAL_FIELD_CHARS_MAX: usize = 200;

/// What a resident told us about themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The resident's name as they gave it (at most 200 characters; may be
    /// empty).
    pub name: String,
    /// A phone number to call them back on, as they gave it (not checked for
    /// shape).
    pub phone: String,
    /// Their address, in their own words.
    pub address: String,
    /// An e-mail address to send results to, when they gave one (empty
    /// otherwise; records stored before it was kept read as empty).
    #[serde(default)]
    pub email: String,
}

impl Person {
    /// Bounds every field and refuses control characters.
    pub fn new(name: &str, phone: &str, address: &str) -> Result<Self, Error> {
        let field = |label: &'static str, text: &str| {
            let text = text.trim();
            if text.chars().count() > PERSONAL_FIELD_CHARS_MAX || text.chars().any(char::is_control) {
                return Err(Error::invalid(label, "must be at most 200 characters, without control characters"));
            }
            Ok(text.to_string())
        };
        Ok(Self {
            name: field("name", name)?,
            phone: field("phone", phone)?,
            address: field("address", address)?,
            email: String::new(),
        })
    }

    /// The same record with an e-mail address: at most 200 characters, one
    /// `@` with something on each side, no spaces or control characters.
    pub fn with_email(mut self, email: &str) -> Result<Self, Error> {
        let email = email.trim();
        let (local, domain) = email.split_once('@').unwrap_or(("", ""));
        let shaped = !local.is_empty() && domain.contains('.') && !domain.contains('@');
        if !email.is_empty()
            && (!shaped
                || email.chars().count() > PERSONAL_FIELD_CHARS_MAX
                || email.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(Error::invalid("email", "must look like name@example.org, at most 200 characters"));
        }
        self.email = email.to_string();
        Ok(self)
    }
}

/// What looking a resident up finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The resident's record, decrypted.
    Found(Person),
    /// The resident was erased: their key and record are gone.
    Erased,
    /// Nothing was ever stored for them.
    Unknown,
}

/// A store of personal data, each record under its own key.
pub trait PersonalStore: Send + Sync {
    /// Stores (or replaces) a resident's record.
    fn put(&self, resident: &ResidentId, person: &Person) -> Result<(), Error>;
    /// Looks a resident's record up: found, erased, or never stored.
    fn get(&self, resident: &ResidentId) -> Result<Lookup, Error>;
    /// Deletes the resident's key and record; `false` if there was none.
    fn erase(&self, resident: &ResidentId) -> Result<bool, Error>;
}
