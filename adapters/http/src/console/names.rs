//! Names beside ids, for the console: a resident's masked name and phone
//! (`张**`, `138****5678`) to the roles the permit rule lets read them
//! ([`Read::Residents`]), a volunteer's or grid worker's masked name, and a
//! team's, department's or grid's name from the world.
//!
//! People's names come from the personal store (never the log), masked
//! here, so the page is given only what it shows; an erased person shows as
//! erased. Institutions' names are the world's and shown whole.

use std::cell::RefCell;
use std::collections::HashMap;

use gridloop_engine::World;
use gridloop_engine::ids::ResidentId;
use gridloop_engine::permit::{Access, Read, Target, permit};
use gridloop_engine::personal::{Lookup, PersonalStore};
use gridloop_engine::ticket::Assignee;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::people::mask_name;

/// A resident as the console shows them: masked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResidentShown {
    /// The resident's opaque id.
    pub id: String,
    /// The first character of their name and two stars (`张**`).
    pub name: Option<String>,
    /// Their phone with the middle hidden (`138****5678`).
    pub phone: Option<String>,
    /// Whether their personal data was erased.
    pub erased: bool,
}

/// A phone with all but its first three and last four digits hidden
/// (`138****5678`); a short one shows only its last four (`****5678`), one
/// of four characters or fewer nothing but stars.
pub fn mask_phone(phone: &str) -> Option<String> {
    // Normalized first (no +86, no separators), so one phone masks one way.
    let digits = gridloop_engine::account::normalize_phone(phone).ok();
    let phone = digits.as_deref().unwrap_or(phone);
    let chars: Vec<char> = phone.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    match chars.len() {
        0 => None,
        n if n <= 4 => Some("****".into()),
        n if n < 8 => Some(format!("****{}", chars[n - 4..].iter().collect::<String>())),
        n => {
            Some(format!("{}****{}", chars[..3].iter().collect::<String>(), chars[n - 4..].iter().collect::<String>()))
        }
    }
}

/// Looks names up for one answer, each person once.
pub(crate) struct Names<'a> {
    world: &'a World,
    personal: Option<&'a dyn PersonalStore>,
    residents: bool,
    seen: RefCell<HashMap<String, Lookup>>,
}

impl<'a> Names<'a> {
    /// The names `who` may see.
    pub(crate) fn for_caller(world: &'a World, personal: Option<&'a dyn PersonalStore>, who: &Principal) -> Self {
        let residents = permit(who, Access::Read(Read::Residents), Target::District).is_ok();
        Self { world, personal, residents, seen: RefCell::default() }
    }

    /// Whether the caller sees residents at all.
    pub(crate) fn sees_residents(&self) -> bool {
        self.residents
    }

    fn lookup(&self, key: &str) -> Lookup {
        if let Some(found) = self.seen.borrow().get(key) {
            return found.clone();
        }
        let found = match (self.personal, ResidentId::new(key)) {
            (Some(store), Ok(id)) => store.get(&id).unwrap_or(Lookup::Unknown),
            _ => Lookup::Unknown,
        };
        self.seen.borrow_mut().insert(key.to_string(), found.clone());
        found
    }

    /// A resident, masked; `None` to a caller who may not read residents.
    pub(crate) fn resident(&self, id: &ResidentId) -> Option<ResidentShown> {
        if !self.residents {
            return None;
        }
        let mut shown = ResidentShown { id: id.to_string(), ..ResidentShown::default() };
        match self.lookup(id.as_str()) {
            Lookup::Found(person) => {
                shown.name = mask_name(&person.name);
                shown.phone = mask_phone(&person.phone);
            }
            Lookup::Erased => shown.erased = true,
            Lookup::Unknown => {}
        }
        Some(shown)
    }

    /// A holder's name: a volunteer's or grid worker's masked, a team's or
    /// department's whole; `None` when nothing is known.
    pub(crate) fn holder(&self, holder: &Assignee) -> Option<String> {
        let person = |key: String| match self.lookup(&key) {
            Lookup::Found(p) => mask_name(&p.name),
            _ => None,
        };
        match holder {
            Assignee::Volunteer(id) => person(format!("volunteer:{id}")),
            Assignee::GridWorker(id) => person(format!("staff:{id}")),
            Assignee::Team(id) => self.world.teams.get(id).map(|t| t.name.clone()),
            Assignee::Department(id) => self.world.catalog.department(id).ok().map(|d| d.name.clone()),
        }
    }

    /// Each named assignee's name, keyed `kind:id`, for a page that lists
    /// many (a ticket's timeline).
    pub(crate) fn holders<'h>(&self, all: impl IntoIterator<Item = &'h Assignee>) -> HashMap<String, String> {
        all.into_iter()
            .filter_map(|a| {
                let v = serde_json::to_value(a).ok()?;
                let key = format!("{}:{}", v["kind"].as_str()?, v["id"].as_str()?);
                Some((key, self.holder(a)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn phones_show_their_ends_only() {
        assert_eq!(mask_phone("13800135678").as_deref(), Some("138****5678"));
        assert_eq!(mask_phone("138-0013-5678").as_deref(), Some("138****5678"));
        assert_eq!(mask_phone("+86 138 0013 5678").as_deref(), Some("138****5678"));
        assert_eq!(mask_phone("835678").as_deref(), Some("****5678"));
        assert_eq!(mask_phone("5678").as_deref(), Some("****"));
        assert_eq!(mask_phone(""), None);
    }
}
