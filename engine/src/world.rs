//! The world aggregate: the district, its grid tree, catalog, departments,
//! teams, staff and routing policy, kept as the changes that made them.
//!
//! A city writes its world as a bundle of files (`docs/world.md`); importing
//! one turns the difference between the bundle and the world in the log into
//! [`WorldChange`]s ([`WorldState::changes_to`]), and `decide` turns each
//! change into a [`WorldEvent`] on the one stream `world-district`. So the
//! audit shows who admitted an item and when (事项准入 is a reviewed act), and
//! the world as of any instant is the fold of the events up to it.
//!
//! ```text
//!   item:  (none) ──ProposeItem──▶ proposed ──AdmitItem──▶ admitted
//!            ▲                        │  ▲                    │
//!            └──────WithdrawItem──────┘  └──RevokeAdmission───┘   (ReviseItem keeps admission)
//!   grid:  (none) ──AddGrid──▶ active ──RedrawGrid / ReviseGrid──▶ active ──RetireGrid──▶ retired ──AddGrid──▶ active
//!   team:  (none) ──FormTeam──▶ active ──ReviseTeam──▶ active ──DisbandTeam──▶ (none)
//!   staff: (none) ──AssignStaff──▶ assigned ──AssignStaff (moved)──▶ assigned ──RemoveStaff──▶ (none)
//! ```
//!
//! # Invariants
//!
//! - Every state reached is a valid world: `decide` checks each change
//!   against the state left by the ones before it in the same command (a
//!   grid's parent exists and is active, an item's department and category
//!   exist, a team's place exists, an unadmitted item is a department item),
//!   so [`WorldState::world`] never fails on a folded log.
//! - A change that would change nothing writes nothing: re-importing the same
//!   bundle appends no event.
//! - Only the operator (`admin`) and the engine (`system`) change the world.
//!   People (volunteers) live in their own streams (`volunteer.rs`); their
//!   names and phones, and staff's, live in the personal store, never here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogItem, Category, Department};
use crate::envelope::{Actor, Role, event_payload};
use crate::grid::{GeoPoint, GridCode, GridKind, GridNode, GridTree, Level, PropertyForm};
use crate::ids::{ActorId, CategoryCode, DepartmentId, ItemCode, TeamId};
use crate::routing::RoutingPolicy;
use crate::ticket::bounded_text;
use crate::workdays::Calendar;
use crate::{Context, Error, World};

/// The most changes one command may carry (one append holds at most 64 events).
pub const CHANGES_PER_COMMAND_MAX: usize = 64;
/// The most vertices one grid boundary may have (a payload is at most 64 KiB).
pub const BOUNDARY_VERTICES_MAX: usize = 2_000;
/// The most grids, teams or staff a world may hold.
pub const GRIDS_MAX: usize = 100_000;
/// The most teams (volunteer teams and backup agencies) a world may hold.
pub const TEAMS_MAX: usize = 10_000;
/// The most staff members a world may hold.
pub const STAFF_MAX: usize = 100_000;
/// The most places an agency may be linked to.
pub const TEAM_LINKS_MAX: usize = 256;

/// The district as a whole: its administrative code, names, time zone and
/// the names its people give the five levels (区/街道/社区/网格/分片, or
/// 市/镇/村/网格/分片).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictInfo {
    /// The district's code: six digits, the root of the grid tree.
    pub code: GridCode,
    /// The district's name as its people write it, e.g. 赤坎区.
    pub name: String,
    /// The district's name in English, for English-speaking users and reports.
    pub name_en: String,
    /// An IANA zone name, e.g. `Asia/Shanghai`: days, weeks and the nightly
    /// seal are counted in it.
    pub time_zone: String,
    /// The names of the levels, from the district down to the sub-grid.
    pub levels: [String; 5],
}

impl DistrictInfo {
    /// What this district calls a level (`街道`, or `镇`).
    pub fn level_name(&self, level: Level) -> &str {
        &self.levels[level as usize]
    }
}

/// What kind of team it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamKind {
    /// A community's (or village's) own volunteer team: it owns its place,
    /// so a ticket nobody takes falls back to it.
    Community,
    /// Any other volunteer team (a street's themed team: 党员先锋队, 巾帼志愿队).
    Volunteer,
    /// A backup agency (后盾单位): a department's staff, linked to
    /// communities, who owe them at least two visits and four hours a month.
    BackupAgency,
}

/// A volunteer team or backup agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// The team's id; stable across revisions, and what members act for when
    /// they accept for the team.
    pub id: TeamId,
    /// The team's name, as its members know it.
    pub name: String,
    /// The team's name in English.
    pub name_en: String,
    /// What kind of team it is; a community team owns its place, so unclaimed
    /// tickets fall back to it.
    pub kind: TeamKind,
    /// The place the team serves.
    pub scope: GridCode,
    /// For a backup agency: the communities it is linked to.
    #[serde(default)]
    pub linked: Vec<GridCode>,
}

/// A member of staff: who they are (the subject their token carries), their
/// role, and where they act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// The subject their bearer token carries: the actor id they act as.
    pub subject: ActorId,
    /// Their role, which decides what they may do (a dispatcher dispatches, a
    /// grid worker patrols and self-handles).
    pub role: Role,
    /// The place they act in (a grid worker's grid, a dispatcher's street).
    pub place: Option<GridCode>,
    /// A department member's department.
    pub department: Option<DepartmentId>,
}

/// One change to the world, as a command asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum WorldChange {
    /// Declares the district, or changes its names, time zone or level names;
    /// the code can never change once set.
    DefineDistrict {
        /// The district as it should be.
        district: DistrictInfo,
    },
    /// Defines a catalog category, or replaces one with the same code.
    DefineCategory {
        /// The category as it should be.
        category: Category,
    },
    /// Defines a functional department, or replaces one with the same code.
    DefineDepartment {
        /// The department as it should be.
        department: Department,
    },
    /// A new item, not yet admitted (its `admitted` field is ignored).
    ProposeItem {
        /// The item as proposed, with its handling mode, department, skills,
        /// deadlines and points.
        item: CatalogItem,
    },
    /// Reviewed and admitted to the grids' catalog (事项准入).
    AdmitItem {
        /// The item to admit; it must be in the catalog.
        code: ItemCode,
    },
    /// Takes an item's admission back: it stays in the catalog for its
    /// department, but volunteers and grid workers can no longer be sent to it.
    RevokeAdmission {
        /// The item whose admission is revoked.
        code: ItemCode,
    },
    /// New content for an item; its admission is kept as it is.
    ReviseItem {
        /// The item's new content, keyed by its code.
        item: CatalogItem,
    },
    /// Takes an item out of the catalog; it is kept apart so past tickets can
    /// still name it.
    WithdrawItem {
        /// The item to withdraw.
        code: ItemCode,
    },
    /// Adds a node to the grid tree (a street, community, grid or sub-grid)
    /// under an active parent, or brings back a retired one.
    AddGrid {
        /// The node, with its code, names, boundary and (for a grid)
        /// attributes.
        node: GridNode,
    },
    /// Replaces a node's boundary only.
    RedrawGrid {
        /// The node to redraw.
        code: GridCode,
        /// The new boundary: a closed, simple ring of at most
        /// `BOUNDARY_VERTICES_MAX` points.
        boundary: Vec<GeoPoint>,
    },
    /// New names, kind, property form or class (not the boundary).
    ReviseGrid {
        /// The node's new attributes; its boundary is kept.
        node: GridNode,
    },
    /// Retires a node that has no active children and no team or staff placed
    /// in it; it is kept apart so past tickets can still name it.
    RetireGrid {
        /// The node to retire.
        code: GridCode,
    },
    /// Forms a new team or backup agency.
    FormTeam {
        /// The team as formed; its places must be in the tree, and a place has
        /// at most one community team.
        team: Team,
    },
    /// Replaces a team's names, kind, scope or links.
    ReviseTeam {
        /// The team as it should be, keyed by its id.
        team: Team,
    },
    /// Disbands a team; it no longer owns its place or receives offers.
    DisbandTeam {
        /// The team to disband.
        id: TeamId,
    },
    /// Places a staff member (or moves one already placed).
    AssignStaff {
        /// The staff member with their role, place and department.
        staff: StaffMember,
    },
    /// Removes a staff member from the world.
    RemoveStaff {
        /// The subject the member acted as.
        subject: ActorId,
    },
    /// Replaces the routing policy: response times by tier, offer rounds and
    /// windows, summons deadlines.
    SetRouting {
        /// The new policy; it must validate.
        routing: RoutingPolicy,
    },
    /// Replaces the working-day calendar (the official holiday schedule of
    /// the years it covers).
    SetCalendar {
        /// The new calendar; it must check.
        calendar: Calendar,
    },
}

/// The world's command: a batch of changes, decided in order, written in one
/// append (all or none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldCommand {
    /// The changes, decided in order, each against the state left by the ones
    /// before; 1 to `CHANGES_PER_COMMAND_MAX`.
    pub changes: Vec<WorldChange>,
}

/// What happened to the world (past tense of [`WorldChange`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum WorldEvent {
    /// The district was declared or its names, time zone or level names changed.
    DistrictDefined {
        /// The district as it now is.
        district: DistrictInfo,
    },
    /// A catalog category was defined or replaced.
    CategoryDefined {
        /// The category as it now is.
        category: Category,
    },
    /// A functional department was defined or replaced.
    DepartmentDefined {
        /// The department as it now is.
        department: Department,
    },
    /// An item entered the catalog, not yet admitted (事项准入 pending).
    ItemProposed {
        /// The item as proposed; its `admitted` flag is always false.
        item: CatalogItem,
    },
    /// An item was reviewed and admitted to the grids' catalog (事项准入).
    ItemAdmitted {
        /// The item admitted.
        code: ItemCode,
    },
    /// An item's admission was taken back; it stays a department item.
    AdmissionRevoked {
        /// The item whose admission was revoked.
        code: ItemCode,
    },
    /// An item's content changed; its admission is as it was.
    ItemRevised {
        /// The item as it now is, with its admission carried over.
        item: CatalogItem,
    },
    /// An item left the catalog; it is kept apart for past tickets.
    ItemWithdrawn {
        /// The item withdrawn.
        code: ItemCode,
    },
    /// A node joined the grid tree (or a retired one came back).
    GridAdded {
        /// The node as added.
        node: GridNode,
    },
    /// A node's boundary was replaced.
    GridRedrawn {
        /// The node redrawn.
        code: GridCode,
        /// Its new boundary ring, in micro-degrees.
        boundary: Vec<GeoPoint>,
    },
    /// A node's names or attributes changed; its boundary is as it was.
    GridRevised {
        /// The node as it now is.
        node: GridNode,
    },
    /// A node was retired; it is kept apart for past tickets.
    GridRetired {
        /// The node retired.
        code: GridCode,
    },
    /// A team or backup agency was formed.
    TeamFormed {
        /// The team as formed.
        team: Team,
    },
    /// A team's names, kind, scope or links changed.
    TeamRevised {
        /// The team as it now is.
        team: Team,
    },
    /// A team was disbanded.
    TeamDisbanded {
        /// The team disbanded.
        id: TeamId,
    },
    /// A staff member was placed, or moved.
    StaffAssigned {
        /// The staff member as now placed.
        staff: StaffMember,
    },
    /// A staff member left the world.
    StaffRemoved {
        /// The subject they acted as.
        subject: ActorId,
    },
    /// The routing policy was replaced.
    RoutingSet {
        /// The policy now in force.
        routing: RoutingPolicy,
    },
    /// The working-day calendar was replaced: deadlines decided from now on
    /// count working days on it; those already written stand.
    CalendarSet {
        /// The calendar now in force.
        calendar: Calendar,
    },
}

fn world_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_world(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for world.{tag}/{version}")))
}

event_payload!(WorldEvent, "world", world_schema_version, upcast_world);

/// The folded world stream: everything ever defined, retired grids and
/// withdrawn items included (so a past ticket's item can still be named).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorldState {
    /// The district, once defined.
    pub district: Option<DistrictInfo>,
    /// Catalog categories by code.
    pub categories: BTreeMap<CategoryCode, Category>,
    /// Functional departments by code.
    pub departments: BTreeMap<DepartmentId, Department>,
    /// Items with their admission; `withdrawn` ones are kept apart.
    pub items: BTreeMap<ItemCode, CatalogItem>,
    /// Items taken out of the catalog, kept so past tickets can still name
    /// them; proposing the code again brings it back.
    pub withdrawn: BTreeMap<ItemCode, CatalogItem>,
    /// Active grid tree nodes by code.
    pub grids: BTreeMap<GridCode, GridNode>,
    /// Retired nodes, kept so past tickets can still name their grid; adding
    /// the code again brings it back.
    pub retired: BTreeMap<GridCode, GridNode>,
    /// Teams and backup agencies by id.
    pub teams: BTreeMap<TeamId, Team>,
    /// Staff members by the subject they act as.
    pub staff: BTreeMap<ActorId, StaffMember>,
    /// The routing policy, once set; until then the default applies.
    pub routing: Option<RoutingPolicy>,
    /// The working-day calendar, once set; until then Monday to Friday.
    pub calendar: Option<Calendar>,
}

impl WorldState {
    /// Applies one event. No rule here: `decide` made them.
    pub fn evolve(&mut self, event: &WorldEvent) {
        match event.clone() {
            WorldEvent::DistrictDefined { district } => self.district = Some(district),
            WorldEvent::CategoryDefined { category } => {
                self.categories.insert(category.code.clone(), category);
            }
            WorldEvent::DepartmentDefined { department } => {
                self.departments.insert(department.code.clone(), department);
            }
            WorldEvent::ItemProposed { mut item } => {
                item.admitted = false;
                self.withdrawn.remove(&item.code);
                self.items.insert(item.code.clone(), item);
            }
            WorldEvent::ItemAdmitted { code } => self.set_admitted(&code, true),
            WorldEvent::AdmissionRevoked { code } => self.set_admitted(&code, false),
            WorldEvent::ItemRevised { mut item } => {
                item.admitted = self.items.get(&item.code).is_some_and(|i| i.admitted);
                self.items.insert(item.code.clone(), item);
            }
            WorldEvent::ItemWithdrawn { code } => {
                if let Some(item) = self.items.remove(&code) {
                    self.withdrawn.insert(code, item);
                }
            }
            WorldEvent::GridAdded { node } => {
                self.retired.remove(&node.code);
                self.grids.insert(node.code.clone(), node);
            }
            WorldEvent::GridRedrawn { code, boundary } => {
                if let Some(node) = self.grids.get_mut(&code) {
                    node.boundary = boundary;
                }
            }
            WorldEvent::GridRevised { node } => {
                let boundary = self.grids.get(&node.code).map(|n| n.boundary.clone()).unwrap_or_default();
                self.grids.insert(node.code.clone(), GridNode { boundary, ..node });
            }
            WorldEvent::GridRetired { code } => {
                if let Some(node) = self.grids.remove(&code) {
                    self.retired.insert(code, node);
                }
            }
            WorldEvent::TeamFormed { team } | WorldEvent::TeamRevised { team } => {
                self.teams.insert(team.id.clone(), team);
            }
            WorldEvent::TeamDisbanded { id } => {
                self.teams.remove(&id);
            }
            WorldEvent::StaffAssigned { staff } => {
                self.staff.insert(staff.subject.clone(), staff);
            }
            WorldEvent::StaffRemoved { subject } => {
                self.staff.remove(&subject);
            }
            WorldEvent::RoutingSet { routing } => self.routing = Some(routing),
            WorldEvent::CalendarSet { calendar } => self.calendar = Some(calendar),
        }
    }

    fn set_admitted(&mut self, code: &ItemCode, admitted: bool) {
        if let Some(item) = self.items.get_mut(code) {
            item.admitted = admitted;
        }
    }

    /// Decides a batch of changes, each against the state the ones before it
    /// left; a change that changes nothing gives no event.
    pub fn decide(&self, command: &WorldCommand, actor: &Actor, _ctx: &Context) -> Result<Vec<WorldEvent>, Error> {
        crate::permit::role_may(actor, crate::permit::Access::Write(crate::permit::Write::World), "change the world")?;
        if command.changes.is_empty() || command.changes.len() > CHANGES_PER_COMMAND_MAX {
            return Err(Error::invalid("changes", "must be 1 to 64 changes"));
        }
        let mut state = self.clone();
        let mut events = Vec::new();
        for change in &command.changes {
            if let Some(event) = state.decide_one(change)? {
                state.evolve(&event);
                events.push(event);
            }
        }
        Ok(events)
    }

    fn decide_one(&self, change: &WorldChange) -> Result<Option<WorldEvent>, Error> {
        match change {
            WorldChange::DefineDistrict { district } => self.define_district(district),
            WorldChange::DefineCategory { category } => {
                text_fields(&[&category.name, &category.name_en, &category.field])?;
                let same = self.categories.get(&category.code) == Some(category);
                Ok((!same).then(|| WorldEvent::CategoryDefined { category: category.clone() }))
            }
            WorldChange::DefineDepartment { department } => {
                text_fields(&[&department.name, &department.name_en])?;
                let same = self.departments.get(&department.code) == Some(department);
                Ok((!same).then(|| WorldEvent::DepartmentDefined { department: department.clone() }))
            }
            WorldChange::ProposeItem { item } => {
                if self.items.contains_key(&item.code) {
                    return Err(Error::invalid("item", format!("{} is already in the catalog", item.code)));
                }
                self.check_item(item)?;
                Ok(Some(WorldEvent::ItemProposed { item: CatalogItem { admitted: false, ..item.clone() } }))
            }
            WorldChange::AdmitItem { code } => self.admit(code),
            WorldChange::RevokeAdmission { code } => {
                let item = self.items.get(code).ok_or_else(|| Error::not_found("catalog item", code))?;
                Ok(item.admitted.then(|| WorldEvent::AdmissionRevoked { code: code.clone() }))
            }
            WorldChange::ReviseItem { item } => self.revise_item(item),
            WorldChange::WithdrawItem { code } => {
                self.items.get(code).ok_or_else(|| Error::not_found("catalog item", code))?;
                Ok(Some(WorldEvent::ItemWithdrawn { code: code.clone() }))
            }
            WorldChange::AddGrid { node } => self.add_grid(node),
            WorldChange::RedrawGrid { code, boundary } => {
                let node = self.grids.get(code).ok_or_else(|| Error::not_found("grid", code))?;
                check_boundary(code, boundary)?;
                let same = &node.boundary == boundary;
                Ok((!same).then(|| WorldEvent::GridRedrawn { code: code.clone(), boundary: boundary.clone() }))
            }
            WorldChange::ReviseGrid { node } => self.revise_grid(node),
            WorldChange::RetireGrid { code } => self.retire_grid(code),
            WorldChange::FormTeam { team } => {
                if self.teams.contains_key(&team.id) {
                    return Err(Error::invalid("team", format!("{} already exists", team.id)));
                }
                self.check_team(team)?;
                Ok(Some(WorldEvent::TeamFormed { team: team.clone() }))
            }
            WorldChange::ReviseTeam { team } => {
                let old = self.teams.get(&team.id).ok_or_else(|| Error::not_found("team", &team.id))?;
                self.check_team(team)?;
                Ok((old != team).then(|| WorldEvent::TeamRevised { team: team.clone() }))
            }
            WorldChange::DisbandTeam { id } => {
                self.teams.get(id).ok_or_else(|| Error::not_found("team", id))?;
                Ok(Some(WorldEvent::TeamDisbanded { id: id.clone() }))
            }
            WorldChange::AssignStaff { staff } => self.assign_staff(staff),
            WorldChange::RemoveStaff { subject } => {
                self.staff.get(subject).ok_or_else(|| Error::not_found("staff member", subject))?;
                Ok(Some(WorldEvent::StaffRemoved { subject: subject.clone() }))
            }
            WorldChange::SetRouting { routing } => {
                routing.validate()?;
                let same = self.routing.as_ref() == Some(routing);
                Ok((!same).then(|| WorldEvent::RoutingSet { routing: routing.clone() }))
            }
            WorldChange::SetCalendar { calendar } => {
                calendar.check()?;
                let same = self.calendar.as_ref() == Some(calendar);
                Ok((!same).then(|| WorldEvent::CalendarSet { calendar: calendar.clone() }))
            }
        }
    }

    fn define_district(&self, district: &DistrictInfo) -> Result<Option<WorldEvent>, Error> {
        if district.code.level() != Level::District {
            return Err(Error::invalid("district", format!("{} is not a 6-digit district code", district.code)));
        }
        if let Some(current) = &self.district {
            if current.code != district.code {
                return Err(Error::invalid(
                    "district",
                    format!("this log is district {}, not {}", current.code, district.code),
                ));
            }
        }
        let mut texts: Vec<&str> = vec![&district.name, &district.name_en];
        texts.extend(district.levels.iter().map(String::as_str));
        text_fields(&texts)?;
        let zone_ok = !district.time_zone.is_empty()
            && district.time_zone.len() <= 64
            && district.time_zone.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
        if !zone_ok {
            return Err(Error::invalid("time_zone", "must be an IANA zone name such as Asia/Shanghai"));
        }
        let same = self.district.as_ref() == Some(district);
        Ok((!same).then(|| WorldEvent::DistrictDefined { district: district.clone() }))
    }

    fn admit(&self, code: &ItemCode) -> Result<Option<WorldEvent>, Error> {
        let item = self.items.get(code).ok_or_else(|| Error::not_found("catalog item", code))?;
        Ok((!item.admitted).then(|| WorldEvent::ItemAdmitted { code: code.clone() }))
    }

    fn revise_item(&self, item: &CatalogItem) -> Result<Option<WorldEvent>, Error> {
        let old = self.items.get(&item.code).ok_or_else(|| Error::not_found("catalog item", &item.code))?;
        self.check_item(item)?;
        let revised = CatalogItem { admitted: old.admitted, ..item.clone() };
        Ok((&revised != old).then_some(WorldEvent::ItemRevised { item: revised }))
    }

    /// The checks `Catalog::build` makes, one item at a time. An item not
    /// admitted keeps the mode it is meant to have once admitted; until
    /// then the engine routes it to its department (`Ticket::decide`).
    fn check_item(&self, item: &CatalogItem) -> Result<(), Error> {
        text_fields(&[&item.name, &item.name_en])?;
        item.check(|d| self.departments.contains_key(d), |c| self.categories.contains_key(c))?;
        if self.items.len() >= crate::catalog::CATALOG_ITEMS_MAX && !self.items.contains_key(&item.code) {
            return Err(Error::invalid(
                "catalog item",
                format!("{}: the catalog holds 1,000 items already", item.code),
            ));
        }
        Ok(())
    }

    fn add_grid(&self, node: &GridNode) -> Result<Option<WorldEvent>, Error> {
        if self.grids.contains_key(&node.code) {
            return Err(Error::invalid("grid", format!("{} is already in the tree", node.code)));
        }
        if self.grids.len() >= GRIDS_MAX {
            return Err(Error::invalid("grid", "the tree holds 100,000 nodes already"));
        }
        self.check_node(node)?;
        check_boundary(&node.code, &node.boundary)?;
        Ok(Some(WorldEvent::GridAdded { node: node.clone() }))
    }

    fn revise_grid(&self, node: &GridNode) -> Result<Option<WorldEvent>, Error> {
        let old = self.grids.get(&node.code).ok_or_else(|| Error::not_found("grid", &node.code))?;
        self.check_node(node)?;
        let revised = GridNode { boundary: old.boundary.clone(), ..node.clone() };
        Ok((&revised != old).then_some(WorldEvent::GridRevised { node: revised }))
    }

    /// A node's parent is active (or it is the district, matching the
    /// district's code), its names are bounded, and only grids carry grid
    /// attributes.
    fn check_node(&self, node: &GridNode) -> Result<(), Error> {
        text_fields(&[&node.name, &node.name_en])?;
        match node.code.parent() {
            Some(parent) if !self.grids.contains_key(&parent) => {
                return Err(Error::invalid("grid", format!("{}: its parent {parent} is not in the tree", node.code)));
            }
            None if self.district.as_ref().is_some_and(|d| d.code != node.code) => {
                return Err(Error::invalid("grid", format!("{} is not this log's district", node.code)));
            }
            _ => {}
        }
        let class_ok = node.management_class.is_none_or(|c| (1..=3).contains(&c));
        let is_grid = node.code.level() == Level::Grid;
        if node.kind.is_some() != is_grid || (!is_grid && node.property_form.is_some()) || !class_ok {
            return Err(Error::invalid("grid", format!("{} has grid attributes at the wrong level", node.code)));
        }
        Ok(())
    }

    fn retire_grid(&self, code: &GridCode) -> Result<Option<WorldEvent>, Error> {
        self.grids.get(code).ok_or_else(|| Error::not_found("grid", code))?;
        if let Some(child) = self.grids.keys().find(|c| c.parent().as_ref() == Some(code)) {
            return Err(Error::invalid("grid", format!("{code} still has {child} under it: retire that first")));
        }
        if let Some(team) = self.teams.values().find(|t| &t.scope == code || t.linked.contains(code)) {
            return Err(Error::invalid("grid", format!("{code} is still served by team {}", team.id)));
        }
        if let Some(staff) = self.staff.values().find(|s| s.place.as_ref() == Some(code)) {
            return Err(Error::invalid("grid", format!("{code} is still the place of {}", staff.subject)));
        }
        Ok(Some(WorldEvent::GridRetired { code: code.clone() }))
    }

    fn check_team(&self, team: &Team) -> Result<(), Error> {
        text_fields(&[&team.name, &team.name_en])?;
        if !self.teams.contains_key(&team.id) && self.teams.len() >= TEAMS_MAX {
            return Err(Error::invalid("team", "the world holds 10,000 teams already"));
        }
        if team.linked.len() > TEAM_LINKS_MAX {
            return Err(Error::invalid("team", format!("{} is linked to more than 256 places", team.id)));
        }
        for place in std::iter::once(&team.scope).chain(&team.linked) {
            if !self.grids.contains_key(place) {
                return Err(Error::invalid("team", format!("{}: place {place} is not in the tree", team.id)));
            }
        }
        if team.kind == TeamKind::Community {
            let owner = self.teams.values().find(|t| t.kind == TeamKind::Community && t.scope == team.scope);
            if let Some(other) = owner.filter(|t| t.id != team.id) {
                return Err(Error::invalid(
                    "team",
                    format!("{}: {} already has its own team, {}", team.id, team.scope, other.id),
                ));
            }
        }
        Ok(())
    }

    fn assign_staff(&self, staff: &StaffMember) -> Result<Option<WorldEvent>, Error> {
        if !self.staff.contains_key(&staff.subject) && self.staff.len() >= STAFF_MAX {
            return Err(Error::invalid("staff", "the world holds 100,000 staff already"));
        }
        let fail = |why: &str| Err(Error::invalid("staff", format!("{}: {why}", staff.subject)));
        match staff.role {
            Role::GridWorker | Role::GridHead | Role::Dispatcher if staff.place.is_none() => {
                return fail("needs a place");
            }
            Role::Department if staff.department.is_none() => return fail("needs a department"),
            Role::Resident | Role::Volunteer | Role::System => {
                return fail(
                    "staff are grid workers, grid heads, dispatchers, officials, department staff, auditors or admins",
                );
            }
            _ => {}
        }
        if let Some(place) = staff.place.as_ref().filter(|p| !self.grids.contains_key(*p)) {
            return fail(&format!("place {place} is not in the tree"));
        }
        if let Some(department) = staff.department.as_ref().filter(|d| !self.departments.contains_key(*d)) {
            return fail(&format!("department {department} is not in the catalog"));
        }
        let same = self.staff.get(&staff.subject) == Some(staff);
        Ok((!same).then(|| WorldEvent::StaffAssigned { staff: staff.clone() }))
    }

    /// The world the engine decides against: the active grids as a tree,
    /// the catalog (withdrawn items left out), the teams, the owners of
    /// places, the staff and the routing policy (the default when none was
    /// set). An empty log gives the empty world.
    pub fn world(&self) -> Result<World, Error> {
        let grids = match self.grids.is_empty() {
            true => GridTree::default(),
            false => GridTree::new(self.grids.values().cloned())?,
        };
        let catalog = Catalog::build(
            self.departments.values().cloned().collect(),
            self.categories.values().cloned().collect(),
            self.items.values().cloned().collect(),
        )?;
        let owners = self
            .teams
            .values()
            .filter(|t| t.kind == TeamKind::Community)
            .map(|t| (t.scope.clone(), t.id.clone()))
            .collect();
        Ok(World {
            district: self.district.clone(),
            grids,
            catalog,
            owners,
            teams: self.teams.clone(),
            staff: self.staff.clone(),
            routing: self.routing.clone().unwrap_or_default(),
            calendar: self.calendar.clone().unwrap_or_default(),
        })
    }

    /// The changes that turn this world into `desired`, in an order where
    /// each is valid after the ones before it: definitions, grids parents
    /// first, items, teams and staff; then what `desired` no longer has,
    /// in the reverse order (staff, teams, items, grids children first).
    pub fn changes_to(&self, desired: &WorldState) -> Vec<WorldChange> {
        let mut changes = Vec::new();
        if let Some(district) = desired.district.as_ref().filter(|d| self.district.as_ref() != Some(*d)) {
            changes.push(WorldChange::DefineDistrict { district: district.clone() });
        }
        for category in desired.categories.values().filter(|c| self.categories.get(&c.code) != Some(*c)) {
            changes.push(WorldChange::DefineCategory { category: category.clone() });
        }
        for department in desired.departments.values().filter(|d| self.departments.get(&d.code) != Some(*d)) {
            changes.push(WorldChange::DefineDepartment { department: department.clone() });
        }
        if let Some(routing) = desired.routing.as_ref().filter(|r| self.routing.as_ref() != Some(*r)) {
            changes.push(WorldChange::SetRouting { routing: routing.clone() });
        }
        if let Some(calendar) = desired.calendar.as_ref().filter(|c| self.calendar.as_ref() != Some(*c)) {
            changes.push(WorldChange::SetCalendar { calendar: calendar.clone() });
        }
        self.grid_changes(desired, &mut changes);
        self.item_changes(desired, &mut changes);
        for team in desired.teams.values() {
            match self.teams.get(&team.id) {
                None => changes.push(WorldChange::FormTeam { team: team.clone() }),
                Some(old) if old != team => changes.push(WorldChange::ReviseTeam { team: team.clone() }),
                Some(_) => {}
            }
        }
        for staff in desired.staff.values().filter(|s| self.staff.get(&s.subject) != Some(*s)) {
            changes.push(WorldChange::AssignStaff { staff: staff.clone() });
        }
        for subject in self.staff.keys().filter(|s| !desired.staff.contains_key(*s)) {
            changes.push(WorldChange::RemoveStaff { subject: subject.clone() });
        }
        for id in self.teams.keys().filter(|t| !desired.teams.contains_key(*t)) {
            changes.push(WorldChange::DisbandTeam { id: id.clone() });
        }
        for code in self.items.keys().filter(|c| !desired.items.contains_key(*c)) {
            changes.push(WorldChange::WithdrawItem { code: code.clone() });
        }
        for code in self.grids.keys().rev().filter(|c| !desired.grids.contains_key(*c)) {
            changes.push(WorldChange::RetireGrid { code: code.clone() });
        }
        changes
    }

    fn grid_changes(&self, desired: &WorldState, changes: &mut Vec<WorldChange>) {
        // Codes sort parents before children (a parent's code is a prefix).
        for node in desired.grids.values() {
            let Some(old) = self.grids.get(&node.code) else {
                changes.push(WorldChange::AddGrid { node: node.clone() });
                continue;
            };
            if old.boundary != node.boundary {
                changes.push(WorldChange::RedrawGrid { code: node.code.clone(), boundary: node.boundary.clone() });
            }
            if (GridNode { boundary: vec![], ..old.clone() }) != (GridNode { boundary: vec![], ..node.clone() }) {
                changes.push(WorldChange::ReviseGrid { node: node.clone() });
            }
        }
    }

    fn item_changes(&self, desired: &WorldState, changes: &mut Vec<WorldChange>) {
        for item in desired.items.values() {
            let Some(old) = self.items.get(&item.code) else {
                changes.push(WorldChange::ProposeItem { item: item.clone() });
                if item.admitted {
                    changes.push(WorldChange::AdmitItem { code: item.code.clone() });
                }
                continue;
            };
            if old.admitted && !item.admitted {
                changes.push(WorldChange::RevokeAdmission { code: item.code.clone() });
            }
            if (CatalogItem { admitted: item.admitted, ..old.clone() }) != *item {
                changes.push(WorldChange::ReviseItem { item: item.clone() });
            }
            if !old.admitted && item.admitted {
                changes.push(WorldChange::AdmitItem { code: item.code.clone() });
            }
        }
    }
}

/// A boundary: 3 to 2,000 vertices, not closed (the last joins the first).
fn check_boundary(code: &GridCode, boundary: &[GeoPoint]) -> Result<(), Error> {
    if boundary.len() < 3 || boundary.len() > BOUNDARY_VERTICES_MAX {
        return Err(Error::invalid("grid", format!("{code}: a boundary has 3 to 2,000 vertices")));
    }
    Ok(())
}

/// Names and similar text: bounded, no control characters.
fn text_fields(texts: &[&str]) -> Result<(), Error> {
    for text in texts {
        bounded_text("name", text, true)?;
    }
    Ok(())
}

/// A grid's property form, by its name in a bundle (`residential`...).
pub fn property_form(text: &str) -> Option<PropertyForm> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

/// A grid's kind, by its name in a bundle (`comprehensive`, `unit`, `exclusive`).
pub fn grid_kind(text: &str) -> Option<GridKind> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}
