//! The volunteer directory: who can be offered a ticket now, and how loaded
//! they are. Routing ([`gridloop_engine::routing::route`]) reads its
//! [`VolunteerView`]s.
//!
//! Profiles come from the volunteer streams: registration (team, home grid,
//! skills, open-order limit), skill changes, availability. Load comes from
//! the ticket streams:
//!
//! - a volunteer **takes an order** when a ticket is accepted by them or
//!   reassigned to them (a dispatcher's direct assignment binds);
//! - they **release it** when the ticket leaves them: accepted by or
//!   reassigned to someone else, self-handled by a grid worker, escalated,
//!   resolved, reopened, cancelled or marked a duplicate.
//!
//! To release correctly the directory remembers, per open ticket, the
//! volunteer holding it (and forgets the ticket once released), so a
//! ticket's events need not repeat who held it.
//!
//! Each volunteer also keeps the times of their last [`ORDER_TIMES_MAX`]
//! orders, which is what "recent orders" for fairness counts: at most 64
//! within any window, and the state stays bounded however long the log.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{Skill, TeamId, TicketId, VolunteerId};
use gridloop_engine::routing::VolunteerView;
use gridloop_engine::ticket::{Assignee, TicketEvent};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerEvent;

use crate::ProjectionError;
use crate::runner::Projection;

/// The most order times kept per volunteer.
pub const ORDER_TIMES_MAX: usize = 64;

/// A registered volunteer's profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The team the volunteer serves with.
    pub team: TeamId,
    /// The grid the volunteer lives in; routing offers them work there first.
    pub home_grid: GridCode,
    /// What they can do; routing matches a ticket's required skill against these.
    pub skills: BTreeSet<Skill>,
    /// The volunteer's own switch: `false` while they do not want offers.
    pub available: bool,
    /// The most orders they will hold at once; routing offers nothing more once
    /// [`Load::open_orders`] reaches it.
    pub open_orders_max: u32,
    /// Deactivated or exited: offered nothing, whatever `available` says
    /// (the volunteer's own switch, kept for when they are reactivated).
    #[serde(default)]
    pub standing_down: bool,
}

/// A volunteer's load: orders held now, and when they took their last ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// Tickets they hold now (accepted or assigned to them, not yet released).
    pub open_orders: u32,
    /// Oldest first, at most [`ORDER_TIMES_MAX`].
    pub order_times: Vec<Timestamp>,
}

impl Load {
    /// Orders taken in `(now - window, now]`.
    pub fn recent(&self, now: Timestamp, window: Millis) -> u32 {
        let since = now.as_millis().saturating_sub(i64::try_from(window.0).unwrap_or(i64::MAX));
        self.order_times.iter().filter(|t| t.as_millis() > since && **t <= now).count() as u32
    }
}

/// The directory projection: every volunteer's [`Profile`] and [`Load`], folded
/// from the volunteer and ticket streams (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    profiles: BTreeMap<VolunteerId, Profile>,
    /// Volunteers by home grid, for the views of one place.
    by_home: BTreeMap<GridCode, BTreeSet<VolunteerId>>,
    /// Kept for anyone a ticket names, registered or not (yet).
    loads: BTreeMap<VolunteerId, Load>,
    /// Open tickets held by a volunteer, by ticket number.
    holders: BTreeMap<u64, VolunteerId>,
}

impl Projection for Directory {
    const NAME: &'static str = "directory";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.kind() {
            "volunteer" => self.apply_volunteer(event),
            "ticket" => self.apply_ticket(event),
            _ => Ok(()),
        }
    }
}

/// The ticket events that can move an order: the rest are not decoded.
const TICKET_SCHEMAS: [&str; 8] = [
    "ticket.accepted",
    "ticket.reassigned",
    "ticket.self_handled",
    "ticket.escalated",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.cancelled",
    "ticket.marked_duplicate",
];

impl Directory {
    fn apply_volunteer(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if !matches!(
            event.schema.name.as_str(),
            "volunteer.registered"
                | "volunteer.skills_changed"
                | "volunteer.availability_changed"
                | "volunteer.transferred"
                | "volunteer.deactivated"
                | "volunteer.reactivated"
                | "volunteer.exited"
        ) {
            return Ok(());
        }
        let id = VolunteerId::new(event.stream.id())?;
        match event.decode()? {
            VolunteerEvent::Registered { team, home_grid, skills, open_orders_max, .. } => {
                let profile = Profile {
                    team,
                    home_grid: home_grid.clone(),
                    skills,
                    available: true,
                    open_orders_max,
                    standing_down: false,
                };
                if let Some(old) = self.profiles.insert(id.clone(), profile) {
                    self.unindex(&old.home_grid, &id);
                }
                self.by_home.entry(home_grid).or_default().insert(id);
            }
            VolunteerEvent::SkillsChanged { skills } => {
                if let Some(profile) = self.profiles.get_mut(&id) {
                    profile.skills = skills;
                }
            }
            VolunteerEvent::AvailabilityChanged { available } => {
                if let Some(profile) = self.profiles.get_mut(&id) {
                    profile.available = available;
                }
            }
            VolunteerEvent::Transferred { team, home_grid, open_orders_max } => {
                if let Some(mut profile) = self.profiles.remove(&id) {
                    self.unindex(&profile.home_grid, &id);
                    (profile.team, profile.home_grid, profile.open_orders_max) =
                        (team, home_grid.clone(), open_orders_max);
                    self.profiles.insert(id.clone(), profile);
                    self.by_home.entry(home_grid).or_default().insert(id);
                }
            }
            VolunteerEvent::Deactivated { .. } | VolunteerEvent::Exited { .. } => {
                if let Some(profile) = self.profiles.get_mut(&id) {
                    profile.standing_down = true;
                }
            }
            VolunteerEvent::Reactivated {} => {
                if let Some(profile) = self.profiles.get_mut(&id) {
                    profile.standing_down = false;
                }
            }
            VolunteerEvent::PointsAwarded { .. }
            | VolunteerEvent::PointsRedeemed { .. }
            | VolunteerEvent::LinkCodeIssued { .. }
            | VolunteerEvent::ChatLinked { .. } => {}
        }
        Ok(())
    }

    fn unindex(&mut self, home: &GridCode, id: &VolunteerId) {
        if let Some(ids) = self.by_home.get_mut(home) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_home.remove(home);
            }
        }
    }

    fn apply_ticket(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if !TICKET_SCHEMAS.contains(&event.schema.name.as_str()) {
            return Ok(());
        }
        let ticket = TicketId::new(event.stream.id())?.number();
        match event.decode()? {
            TicketEvent::Accepted { by, .. } | TicketEvent::Reassigned { to: by, .. } => {
                self.hand_to(ticket, &by, event.occurred_at)
            }
            TicketEvent::SelfHandled { .. }
            | TicketEvent::Escalated { .. }
            | TicketEvent::Resolved { .. }
            | TicketEvent::Reopened { .. }
            | TicketEvent::Cancelled { .. }
            | TicketEvent::MarkedDuplicate { .. } => self.release(ticket),
            _ => {}
        }
        Ok(())
    }

    /// The ticket now belongs to `to`: the volunteer holding it (if another)
    /// releases it; a volunteer taking it takes an order.
    fn hand_to(&mut self, ticket: u64, to: &Assignee, at: Timestamp) {
        let taker = match to {
            Assignee::Volunteer(v) => Some(v),
            _ => None,
        };
        if taker.is_some() && self.holders.get(&ticket) == taker {
            return;
        }
        self.release(ticket);
        if let Some(v) = taker {
            self.holders.insert(ticket, v.clone());
            let load = self.loads.entry(v.clone()).or_default();
            load.open_orders += 1;
            if load.order_times.len() == ORDER_TIMES_MAX {
                load.order_times.remove(0);
            }
            load.order_times.push(at);
        }
    }

    /// The volunteer holding the ticket, if any, lets it go.
    fn release(&mut self, ticket: u64) {
        if let Some(v) = self.holders.remove(&ticket) {
            let load = self.loads.entry(v).or_default();
            load.open_orders = load.open_orders.saturating_sub(1);
        }
    }

    /// Registered volunteers.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether no volunteer has registered yet.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The profile of registered volunteer `id`.
    pub fn profile(&self, id: &VolunteerId) -> Option<&Profile> {
        self.profiles.get(id)
    }

    /// The load of anyone a ticket named (registered or not).
    pub fn load(&self, id: &VolunteerId) -> Option<&Load> {
        self.loads.get(id)
    }

    /// How many open tickets `id` holds now (0 for anyone no ticket named).
    pub fn open_orders(&self, id: &VolunteerId) -> u32 {
        self.loads.get(id).map_or(0, |l| l.open_orders)
    }

    /// The volunteer holding an open ticket, if a volunteer holds it.
    pub fn holder(&self, ticket: &TicketId) -> Option<&VolunteerId> {
        self.holders.get(&ticket.number())
    }

    /// One registered volunteer as routing sees them at `now`.
    pub fn view(&self, id: &VolunteerId, now: Timestamp, fairness_window: Millis) -> Option<VolunteerView> {
        self.profiles.get(id).map(|p| self.view_of(id, p, now, fairness_window))
    }

    /// Every registered volunteer as routing sees them at `now`, in id order;
    /// `recent_orders` counts orders taken in `(now - fairness_window, now]`.
    pub fn views(&self, now: Timestamp, fairness_window: Millis) -> Vec<VolunteerView> {
        self.profiles.iter().map(|(id, p)| self.view_of(id, p, now, fairness_window)).collect()
    }

    /// The registered volunteers living inside `scope` (a street, community,
    /// grid or sub-grid), by home grid then id.
    pub fn views_within(&self, scope: &GridCode, now: Timestamp, fairness_window: Millis) -> Vec<VolunteerView> {
        // Codes inside a scope sort right after it and together (segments
        // have fixed widths), so a range scan finds them all.
        self.by_home
            .range(scope.clone()..)
            .take_while(|(home, _)| home.as_str().starts_with(scope.as_str()))
            .filter(|(home, _)| home.is_within(scope))
            .flat_map(|(_, ids)| ids)
            .filter_map(|id| self.view(id, now, fairness_window))
            .collect()
    }

    fn view_of(&self, id: &VolunteerId, p: &Profile, now: Timestamp, window: Millis) -> VolunteerView {
        let load = self.loads.get(id);
        VolunteerView {
            id: id.clone(),
            team: p.team.clone(),
            home_grid: p.home_grid.clone(),
            skills: p.skills.clone(),
            available: p.available && !p.standing_down,
            open_orders: load.map_or(0, |l| l.open_orders),
            open_orders_max: p.open_orders_max,
            recent_orders: load.map_or(0, |l| l.recent(now, window)),
        }
    }
}
