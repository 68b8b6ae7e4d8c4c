//! The volunteer ledger (积分卡): points, hours and services per volunteer,
//! and the duty report of backup-agency members.
//!
//! Points come from the volunteer stream (awarded, redeemed). Hours and
//! services come from the tickets a volunteer resolved: each resolution is
//! one service, and its reported minutes count in the month (China Standard
//! Time) it was resolved. Backup agencies' (后盾单位) members owe at least
//! [`DUTY_VISITS_MIN`] services and [`DUTY_MINUTES_MIN`] minutes a month.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::ids::{TeamId, VolunteerId};
use gridloop_engine::ticket::{Assignee, TicketEvent};
use gridloop_engine::volunteer::VolunteerEvent;

use crate::ProjectionError;
use crate::calendar::{Period, bucket, month};
use crate::runner::Projection;

/// At least twice a month into the grid (Jiangnan's rule).
pub const DUTY_VISITS_MIN: u32 = 2;
/// At least four hours of service a month.
pub const DUTY_MINUTES_MIN: u64 = 4 * 60;

/// Services and minutes in one month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthStats {
    /// Tickets the volunteer resolved that month; each resolution counts as
    /// one service (one visit into the grid for the duty rule).
    pub services: u32,
    /// Minutes of service the volunteer reported when resolving those tickets.
    pub minutes: u64,
}

/// One volunteer's account on the ledger: their team, their points and their
/// services month by month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The team the volunteer registered with or was last transferred to;
    /// `None` when only a ticket has named them so far.
    pub team: Option<TeamId>,
    /// Points available to redeem now: awarded minus redeemed (never below 0).
    pub points_balance: u64,
    /// Points ever awarded.
    pub points_awarded: u64,
    /// Points ever redeemed.
    pub points_redeemed: u64,
    /// Keyed `2026-11`.
    pub months: BTreeMap<String, MonthStats>,
    /// Services, minutes and points by ISO week (China time), keyed
    /// `2026-W49`: what a grid head's weekly report shows. Snapshots written
    /// before weeks were kept have none until the ledger is rebuilt.
    #[serde(default)]
    pub weeks: BTreeMap<String, WeekStats>,
}

/// Services, minutes and points awarded in one ISO week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekStats {
    /// Tickets the volunteer resolved that week.
    pub services: u32,
    /// Minutes of service reported on those resolutions.
    pub minutes: u64,
    /// Points awarded that week.
    pub points_awarded: u64,
}

/// One line of the duty report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DutyLine {
    /// The backup-agency member.
    pub volunteer: VolunteerId,
    /// The backup agency (team) they serve with.
    pub team: TeamId,
    /// Services (resolved tickets) in the month.
    pub services: u32,
    /// Minutes of service in the month.
    pub minutes: u64,
    /// Whether the month met both minimums, [`DUTY_VISITS_MIN`] services and
    /// [`DUTY_MINUTES_MIN`] minutes.
    pub meets_duty: bool,
}

/// The ledger projection: every volunteer's [`Account`], folded from the
/// volunteer streams (points, team) and the ticket streams (resolutions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    accounts: BTreeMap<VolunteerId, Account>,
}

impl Projection for Ledger {
    const NAME: &'static str = "ledger";

    fn evolve(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        match event.stream.kind() {
            "volunteer" => self.apply_volunteer(event),
            "ticket" => {
                if let TicketEvent::Resolved { by: Assignee::Volunteer(v), minutes_spent, .. } = event.decode()? {
                    let account = self.accounts.entry(v).or_default();
                    let stats = account.months.entry(month(event.occurred_at)).or_default();
                    stats.services += 1;
                    stats.minutes += u64::from(minutes_spent);
                    let week = account.weeks.entry(bucket(event.occurred_at, Period::Week)).or_default();
                    week.services += 1;
                    week.minutes += u64::from(minutes_spent);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Ledger {
    fn apply_volunteer(&mut self, event: &RecordedEvent) -> Result<(), ProjectionError> {
        let id = VolunteerId::new(event.stream.id())?;
        let account = self.accounts.entry(id).or_default();
        match event.decode()? {
            VolunteerEvent::Registered { team, .. } | VolunteerEvent::Transferred { team, .. } => {
                account.team = Some(team)
            }
            VolunteerEvent::PointsAwarded { points, .. } => {
                account.points_balance += points;
                account.points_awarded += points;
                account.weeks.entry(bucket(event.occurred_at, Period::Week)).or_default().points_awarded += points;
            }
            VolunteerEvent::PointsRedeemed { points, .. } => {
                account.points_balance = account.points_balance.saturating_sub(points);
                account.points_redeemed += points;
            }
            VolunteerEvent::SkillsChanged { .. }
            | VolunteerEvent::AvailabilityChanged { .. }
            | VolunteerEvent::Deactivated { .. }
            | VolunteerEvent::Reactivated {}
            | VolunteerEvent::Exited { .. }
            | VolunteerEvent::LinkCodeIssued { .. }
            | VolunteerEvent::ChatLinked { .. } => {}
        }
        Ok(())
    }

    /// The account of volunteer `id`, if the log has named them.
    pub fn account(&self, id: &VolunteerId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Every account, in volunteer-id order.
    pub fn accounts(&self) -> impl Iterator<Item = (&VolunteerId, &Account)> {
        self.accounts.iter()
    }

    /// For `month` (`2026-11`), every member of the teams `is_backup_agency`
    /// picks, whether they met the duty; volunteers with no service that
    /// month are listed too, as not meeting it.
    pub fn duty_report(&self, month: &str, is_backup_agency: impl Fn(&TeamId) -> bool) -> Vec<DutyLine> {
        self.accounts
            .iter()
            .filter_map(|(volunteer, account)| {
                let team = account.team.clone().filter(|t| is_backup_agency(t))?;
                let stats = account.months.get(month).copied().unwrap_or_default();
                Some(DutyLine {
                    volunteer: volunteer.clone(),
                    team,
                    services: stats.services,
                    minutes: stats.minutes,
                    meets_duty: stats.services >= DUTY_VISITS_MIN && stats.minutes >= DUTY_MINUTES_MIN,
                })
            })
            .collect()
    }
}
