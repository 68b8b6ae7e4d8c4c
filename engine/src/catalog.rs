//! The service catalog (事项清单): what residents can order, who handles it by
//! default, and how fast.
//!
//! An item enters the grid catalog only after review (`admitted`). An item a
//! department pushed down without review cannot be dispatched to grid
//! volunteers or teams: it goes to its department, which keeps the
//! responsibility for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ids::{CategoryCode, DepartmentId, ItemCode, Skill};
use crate::time::{Millis, Timestamp};
use crate::workdays::Calendar;

/// A category of the catalog (Luohu's four: 信息核采, 网格巡查, 社区服务,
/// 街社统筹; Dingzhou's 24 in 8 fields). The district defines its own in
/// `district.toml`; an item names one by code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// The category's code, which items name it by.
    pub code: CategoryCode,
    /// The category's name as the district writes it (e.g. 社区服务).
    pub name: String,
    /// The category's name in English.
    pub name_en: String,
    /// The field (领域) the category belongs to, when the district groups
    /// its categories so; empty otherwise.
    #[serde(default)]
    pub field: String,
}

/// Who handles an item by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlingMode {
    /// 巡办合一: the grid worker fixes it on the spot.
    SelfHandle,
    /// Light matters go to the grid's volunteers, chosen by skill.
    Volunteer,
    /// 巡办分离: dispatched to the functional department.
    Department,
}

/// Service-level durations, counted from submission (accept, resolve) and
/// from resolution (feedback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sla {
    /// How long after submission the ticket must be taken (受理时限); becomes the
    /// ticket's `accept_by`.
    pub accept_within: Millis,
    /// How long after submission (or a reopening) the ticket must be resolved
    /// (办结时限); becomes its `resolve_by`.
    pub resolve_within: Millis,
    /// How long after resolution the resident may rate it; then it closes
    /// without feedback. Becomes its `feedback_by`.
    pub feedback_window: Millis,
    /// When set, the limit to take it is this many working days on the
    /// deployment's calendar (`crate::workdays`), and `accept_within` is
    /// that many days for comparisons only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_working_days: Option<u32>,
    /// When set, the limit to resolve it is this many working days (12345:
    /// 7 or 15), and `resolve_within` that many days for comparisons only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_working_days: Option<u32>,
}

/// A deadline as a ticket event records it: the instant, and the calendar
/// it was counted on when the limit is in working days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// When it falls.
    pub at: Timestamp,
    /// The calendar in words, for a working-day limit; `None` for elapsed
    /// time.
    pub calendar: Option<String>,
}

impl Sla {
    /// The deadline to take a ticket whose clock starts `now`.
    pub fn accept_by(&self, now: Timestamp, calendar: &Calendar) -> Result<Deadline, Error> {
        Self::deadline(now, self.accept_within, self.accept_working_days, calendar)
    }

    /// The deadline to resolve a ticket whose clock starts `now`.
    pub fn resolve_by(&self, now: Timestamp, calendar: &Calendar) -> Result<Deadline, Error> {
        Self::deadline(now, self.resolve_within, self.resolve_working_days, calendar)
    }

    fn deadline(now: Timestamp, within: Millis, working: Option<u32>, calendar: &Calendar) -> Result<Deadline, Error> {
        match working {
            None => Ok(Deadline { at: now.plus(within), calendar: None }),
            Some(days) => {
                let counted = calendar.add_working_days(now, days)?;
                Ok(Deadline { at: counted.at, calendar: Some(counted.calendar) })
            }
        }
    }
}

/// A functional department (职能部门): handles department items (巡办分离), items not
/// admitted to the grid catalog, and summons (吹哨报到).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// The department's code, which items, staff and assignees name it by.
    pub code: DepartmentId,
    /// The department's name as the district writes it (e.g. 城管局).
    pub name: String,
    /// The department's name in English.
    pub name_en: String,
}

/// One orderable item of the catalog (事项): what it is, who handles it, which
/// skills it needs, its deadlines and its points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    /// The item's code, which tickets name it by.
    pub code: ItemCode,
    /// The item's name as residents see it.
    pub name: String,
    /// The item's name in English.
    pub name_en: String,
    /// The category it is listed under.
    pub category: CategoryCode,
    /// Who handles it by default; triage may choose another mode.
    pub mode: HandlingMode,
    /// The department responsible for it: it handles the item in department
    /// mode, and whenever the item is not admitted to the grid catalog.
    pub department: DepartmentId,
    /// The skills a volunteer needs to be offered it; a volunteer item needs at
    /// least one.
    pub skills: Vec<Skill>,
    /// Its deadlines, written into each ticket when it is decided, so a later
    /// change never rewrites a past ticket.
    pub sla: Sla,
    /// Points a volunteer earns for it, 0..=POINTS_PER_ITEM_MAX.
    pub points: u32,
    /// Reviewed and admitted to the grid catalog.
    pub admitted: bool,
    /// Part of the emergency categories (typhoon, epidemic...).
    pub emergency: bool,
}

impl CatalogItem {
    /// The rules every item keeps, wherever it is written down (a catalog
    /// built whole, or one change of the world at a time): its department
    /// and category exist, the SLA is ordered (accept no later than
    /// resolve), points are bounded, and a volunteer item needs a skill.
    pub fn check(
        &self,
        department_exists: impl Fn(&DepartmentId) -> bool,
        category_exists: impl Fn(&CategoryCode) -> bool,
    ) -> Result<(), Error> {
        let fail = |why: &str| Err(Error::invalid("catalog item", format!("{}: {why}", self.code)));
        if !department_exists(&self.department) {
            return fail("names an unknown department");
        }
        if !category_exists(&self.category) {
            return fail("names an unknown category");
        }
        if self.sla.accept_within > self.sla.resolve_within {
            return fail("must be accepted no later than it is due to be resolved");
        }
        if self.points > POINTS_PER_ITEM_MAX {
            return fail("awards more than 100 points");
        }
        if self.mode == HandlingMode::Volunteer && self.skills.is_empty() {
            return fail("is a volunteer item but needs no skill");
        }
        Ok(())
    }

    /// Whether grid volunteers or teams may be dispatched this item.
    pub fn dispatchable_to_grid(&self) -> bool {
        self.admitted && self.mode != HandlingMode::Department
    }
}

/// The most points one item may award a volunteer.
pub const POINTS_PER_ITEM_MAX: u32 = 100;
/// The most items a catalog may hold.
pub const CATALOG_ITEMS_MAX: usize = 1_000;

/// The catalog as `decide` consults it: items, departments and categories by
/// code, checked to be consistent when built.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    items: BTreeMap<ItemCode, CatalogItem>,
    departments: BTreeMap<DepartmentId, Department>,
    categories: BTreeMap<CategoryCode, Category>,
}

/// The most categories a catalog may hold.
pub const CATEGORIES_MAX: usize = 256;

impl Catalog {
    /// Builds a catalog whose categories are named only by their codes (for
    /// tests and tools that have no category list); see [`Catalog::build`].
    pub fn new(departments: Vec<Department>, items: Vec<CatalogItem>) -> Result<Self, Error> {
        let codes: std::collections::BTreeSet<CategoryCode> = items.iter().map(|i| i.category.clone()).collect();
        let categories = codes
            .into_iter()
            .map(|code| Category { name: code.to_string(), name_en: code.to_string(), code, field: String::new() })
            .collect();
        Self::build(departments, categories, items)
    }

    /// Builds a catalog, checking that codes are unique, every item's
    /// department and category exist, and every SLA is ordered (accept no later than resolve).
    pub fn build(
        departments: Vec<Department>,
        categories: Vec<Category>,
        items: Vec<CatalogItem>,
    ) -> Result<Self, Error> {
        if items.len() > CATALOG_ITEMS_MAX {
            return Err(Error::invalid("catalog", "has more than 1,000 items"));
        }
        if categories.len() > CATEGORIES_MAX {
            return Err(Error::invalid("catalog", "has more than 256 categories"));
        }
        let mut catalog = Catalog::default();
        for c in categories {
            if catalog.categories.insert(c.code.clone(), c).is_some() {
                return Err(Error::invalid("catalog", "has a duplicate category"));
            }
        }
        for d in departments {
            if catalog.departments.insert(d.code.clone(), d).is_some() {
                return Err(Error::invalid("catalog", "has a duplicate department"));
            }
        }
        for item in items {
            item.check(|d| catalog.departments.contains_key(d), |c| catalog.categories.contains_key(c))?;
            if catalog.items.insert(item.code.clone(), item).is_some() {
                return Err(Error::invalid("catalog", "has a duplicate item code"));
            }
        }
        Ok(catalog)
    }

    /// The item with this code, or `NotFound`.
    pub fn item(&self, code: &ItemCode) -> Result<&CatalogItem, Error> {
        self.items.get(code).ok_or_else(|| Error::not_found("catalog item", code))
    }

    /// The department with this code, or `NotFound`.
    pub fn department(&self, code: &DepartmentId) -> Result<&Department, Error> {
        self.departments.get(code).ok_or_else(|| Error::not_found("department", code))
    }

    /// Every item, admitted or not, in code order.
    pub fn items(&self) -> impl Iterator<Item = &CatalogItem> {
        self.items.values()
    }

    /// Every department, in code order.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// The category with this code, or `NotFound`.
    pub fn category(&self, code: &CategoryCode) -> Result<&Category, Error> {
        self.categories.get(code).ok_or_else(|| Error::not_found("category", code))
    }

    /// The district's categories, in code order.
    pub fn categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.values()
    }
}
