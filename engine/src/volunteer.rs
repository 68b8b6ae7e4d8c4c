//! The volunteer aggregate: registration (team, home grid, skills),
//! availability, the points card (积分卡): points awarded for service and
//! redeemed for rewards (a redemption beyond the balance is refused), and the
//! link to a chat account.
//!
//! # Chat links
//!
//! A dispatcher issues a one-time 6-digit code ([`VolunteerCommand::IssueLinkCode`]);
//! the command carries only the code's BLAKE3 hash ([`link_code_hash`]), so
//! the code itself is shown once to the dispatcher and never written
//! anywhere. The event keeps the hash and the expiry
//! ([`LINK_CODE_TTL`] from issue). A new code replaces the one outstanding.
//! The chat bot, having seen the code arrive from a chat account, sends
//! [`VolunteerCommand::LinkChat`] as the system; `decide` checks the code
//! against the hash and the expiry, and the link consumes the code. A
//! volunteer is linked to at most one account: linking again moves it.
//!
//! Six digits are a small space: anyone who can read the log can find a
//! code from its hash by trying a million, which is why codes expire
//! quickly and die on first use, and why the bot bounds wrong codes per
//! chat account and over all accounts (`gridloop_chatbot::guess`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::envelope::{Actor, Role, event_payload};
use crate::grid::{GridCode, Level};
use crate::ids::{Skill, TeamId, TicketId, VolunteerId};
use crate::permit::{Access, Write, role_may};
use crate::ticket::bounded_text;
use crate::time::{Millis, Timestamp};
use crate::{Context, Error};

/// The most skills one volunteer may list.
pub const SKILLS_MAX: usize = 16;
/// The most points one award or redemption may move.
pub const POINTS_PER_CHANGE_MAX: u64 = 10_000;
/// The most orders a volunteer may be allowed to hold at once.
pub const OPEN_ORDERS_LIMIT_MAX: u32 = 50;
/// How long a link code stays usable after it is issued.
pub const LINK_CODE_TTL: Millis = Millis(24 * 60 * 60 * 1000);
/// The longest chat account id, in bytes: a Matrix user id is at most 255.
pub const CHAT_ACCOUNT_BYTES_MAX: usize = 255;

/// The BLAKE3 hash (64 lower-case hex digits) a link code is kept as.
pub fn link_code_hash(code: &str) -> String {
    blake3::hash(code.as_bytes()).to_hex().to_string()
}

/// Whether `code` has the shape of a link code: exactly 6 ASCII digits.
pub fn is_link_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// What a volunteer's events say, as the typed payloads (stream
/// `volunteer-<id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum VolunteerEvent {
    /// The volunteer was registered with a team and a home grid; they are
    /// available from here.
    Registered {
        /// The volunteer this event belongs to (its stream's id), e.g. `V-7`.
        volunteer: VolunteerId,
        /// The team they serve with.
        team: TeamId,
        /// The grid (or sub-grid) they live in or serve; routing measures
        /// distance from it.
        home_grid: GridCode,
        /// What they can do; an offer for a volunteer item goes only to those
        /// with its skills.
        skills: BTreeSet<Skill>,
        /// How many tickets they may hold open at once (1 to
        /// `OPEN_ORDERS_LIMIT_MAX`); routing offers them nothing more at the
        /// limit.
        open_orders_max: u32,
    },
    /// The volunteer's skills were replaced.
    SkillsChanged {
        /// The full new set of skills (at most `SKILLS_MAX`).
        skills: BTreeSet<Skill>,
    },
    /// The volunteer said they are (or are not) free to take offers now.
    AvailabilityChanged {
        /// Whether routing may offer them tickets.
        available: bool,
    },
    /// Points were credited to the volunteer's card (积分卡), usually for a closed
    /// ticket.
    PointsAwarded {
        /// How many points (1 to `POINTS_PER_CHANGE_MAX`).
        points: u64,
        /// The ticket the points are for, when they reward service on one; an
        /// award for anything else names none.
        ticket: Option<TicketId>,
        /// Why, in words shown on the card.
        reason: String,
    },
    /// Points were spent on a reward; the balance covered them.
    PointsRedeemed {
        /// How many points (1 to `POINTS_PER_CHANGE_MAX`, at most the balance).
        points: u64,
        /// The reward received, in words.
        reward: String,
    },
    /// A one-time chat link code was issued; only its hash is kept.
    LinkCodeIssued {
        /// The code's BLAKE3 hash, 64 lower-case hex digits; the code itself is
        /// never written.
        code_hash: String,
        /// When the code stops being usable: issue time plus `LINK_CODE_TTL`.
        expires_at: Timestamp,
    },
    /// The chat account now speaks for this volunteer; the code is used up.
    ChatLinked {
        /// The chat account id (a Matrix user id such as `@li:example.org`).
        account: String,
    },
    /// Moved to another team or home grid, or given another limit.
    Transferred {
        /// The team they now serve with.
        team: TeamId,
        /// Their new home grid.
        home_grid: GridCode,
        /// Their new limit of tickets held at once.
        open_orders_max: u32,
    },
    /// Stood down for a while (ill, away): offered nothing until reactivated.
    Deactivated {
        /// Why, as the dispatcher gave it.
        reason: String,
    },
    /// Back from a stand-down: offers reach them again (if available).
    Reactivated {},
    /// Left for good (the warning-and-exit mechanism, 警示退出): offered
    /// nothing, and no command but points redemption is taken again.
    Exited {
        /// Why they left, as the dispatcher gave it.
        reason: String,
    },
}

fn volunteer_schema_version(_tag: &str) -> u32 {
    1
}

fn upcast_volunteer(tag: &str, version: u32, _payload: serde_json::Value) -> Result<serde_json::Value, Error> {
    Err(Error::Corrupt(format!("no upcaster for volunteer.{tag}/{version}")))
}

event_payload!(VolunteerEvent, "volunteer", volunteer_schema_version, upcast_volunteer);

/// What a caller asks of a volunteer. Changes are made by dispatchers, the
/// operator or the system, except availability, skills and redemption, which
/// the volunteer may ask for themself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VolunteerCommand {
    /// Registers a new volunteer (a dispatcher, the operator or an import);
    /// refused if the id exists.
    Register {
        /// The team they join.
        team: TeamId,
        /// Their home grid: a grid or sub-grid in the tree.
        home_grid: GridCode,
        /// What they can do (at most `SKILLS_MAX`).
        skills: BTreeSet<Skill>,
        /// How many tickets they may hold at once (1 to
        /// `OPEN_ORDERS_LIMIT_MAX`).
        open_orders_max: u32,
    },
    /// Replaces the volunteer's skills (the volunteer, a dispatcher or the
    /// operator).
    ChangeSkills {
        /// The full new set (at most `SKILLS_MAX`).
        skills: BTreeSet<Skill>,
    },
    /// The volunteer (or a dispatcher) says whether they take offers now.
    ChangeAvailability {
        /// Whether routing may offer them tickets.
        available: bool,
    },
    /// Credits points to the card (the points policy or a dispatcher); allowed
    /// even after an exit, since they were earned.
    AwardPoints {
        /// How many (1 to `POINTS_PER_CHANGE_MAX`).
        points: u64,
        /// The ticket the points are for, if any.
        ticket: Option<TicketId>,
        /// Why, shown on the card; not empty.
        reason: String,
    },
    /// Spends points on a reward (the volunteer or a dispatcher); refused
    /// beyond the balance with `InsufficientPoints`.
    RedeemPoints {
        /// How many (1 to `POINTS_PER_CHANGE_MAX`).
        points: u64,
        /// The reward, in words; not empty.
        reward: String,
    },
    /// Dispatchers (or the system): a new link code, given as its hash.
    IssueLinkCode {
        /// The code's BLAKE3 hash (`link_code_hash`): 64 lower-case hex digits.
        code_hash: String,
    },
    /// The chat bot (the system): `account` sent `code`.
    LinkChat {
        /// The chat account that sent the code (1 to 255 bytes, no spaces).
        account: String,
        /// The code as the account typed it (6 digits); checked against the
        /// outstanding hash and expiry.
        code: String,
    },
    /// Dispatchers (or an import): another team, home grid or limit.
    Transfer {
        /// The team they move to.
        team: TeamId,
        /// Their new home grid.
        home_grid: GridCode,
        /// Their new limit of tickets held at once.
        open_orders_max: u32,
    },
    /// Stands a volunteer down for a while (ill, away); routing offers them
    /// nothing until reactivated.
    Deactivate {
        /// Why; not empty.
        reason: String,
    },
    /// Ends a stand-down; nothing happens if they were not stood down.
    Reactivate {},
    /// Removes a volunteer for good (警示退出); afterwards only points are still
    /// awarded and redeemed, since they were earned.
    Exit {
        /// Why; not empty.
        reason: String,
    },
}

/// The link code outstanding, as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCode {
    /// The BLAKE3 hash of the code.
    pub code_hash: String,
    /// When it stops being usable.
    pub expires_at: Timestamp,
}

/// A volunteer's state, folded from their events; routing and the directory
/// read it.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Volunteer {
    /// The volunteer's id; `None` until registered.
    pub id: Option<VolunteerId>,
    /// The team they serve with.
    pub team: Option<TeamId>,
    /// Their home grid, where routing measures distance from.
    pub home_grid: Option<GridCode>,
    /// What they can do.
    pub skills: BTreeSet<Skill>,
    /// Whether they said they take offers now (set on registration).
    pub available: bool,
    /// How many tickets they may hold at once.
    pub open_orders_max: u32,
    /// Points they can still spend: awarded minus redeemed.
    pub points_balance: u64,
    /// All points ever awarded.
    pub points_awarded: u64,
    /// All points ever redeemed.
    pub points_redeemed: u64,
    /// The chat link code not used yet, if any.
    pub link_code: Option<LinkCode>,
    /// The chat account linked to this volunteer, if any.
    pub chat_account: Option<String>,
    /// Stood down (deactivated), with the reason; offered nothing.
    #[serde(default)]
    pub inactive: Option<String>,
    /// Left for good, with the reason.
    #[serde(default)]
    pub exited: Option<String>,
    /// How many events were folded (the stream's version).
    pub version: u64,
}

impl Volunteer {
    /// Folds one event in. No rules here: only what the event says.
    pub fn evolve(&mut self, event: &VolunteerEvent) {
        use VolunteerEvent as E;
        self.version += 1;
        match event {
            E::Registered { volunteer, team, home_grid, skills, open_orders_max } => {
                self.id = Some(volunteer.clone());
                self.team = Some(team.clone());
                self.home_grid = Some(home_grid.clone());
                self.skills = skills.clone();
                self.open_orders_max = *open_orders_max;
                self.available = true;
            }
            E::SkillsChanged { skills } => self.skills = skills.clone(),
            E::AvailabilityChanged { available } => self.available = *available,
            E::PointsAwarded { points, .. } => {
                self.points_balance += points;
                self.points_awarded += points;
            }
            E::PointsRedeemed { points, .. } => {
                self.points_balance -= points;
                self.points_redeemed += points;
            }
            E::LinkCodeIssued { code_hash, expires_at } => {
                self.link_code = Some(LinkCode { code_hash: code_hash.clone(), expires_at: *expires_at });
            }
            E::ChatLinked { account } => {
                self.link_code = None;
                self.chat_account = Some(account.clone());
            }
            E::Transferred { team, home_grid, open_orders_max } => {
                self.team = Some(team.clone());
                self.home_grid = Some(home_grid.clone());
                self.open_orders_max = *open_orders_max;
            }
            E::Deactivated { reason } => self.inactive = Some(reason.clone()),
            E::Reactivated {} => self.inactive = None,
            E::Exited { reason } => {
                self.exited = Some(reason.clone());
                self.link_code = None;
            }
        }
    }

    /// Decides what a command does to this volunteer: the events to append
    /// (none when it would change nothing), or the reason it is refused.
    pub fn decide(
        &self,
        id: &VolunteerId,
        command: &VolunteerCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<VolunteerEvent>, Error> {
        use VolunteerCommand as C;
        let registered = self.id.is_some();
        match command {
            C::Register { team, home_grid, skills, open_orders_max } => {
                role_may(actor, Access::Write(Write::RegisterVolunteer), "register a volunteer")?;
                if registered {
                    return Err(Error::AlreadyExists { kind: "volunteer", id: id.to_string() });
                }
                check_home(ctx, home_grid)?;
                check_skills(skills)?;
                check_limit(*open_orders_max)?;
                Ok(vec![VolunteerEvent::Registered {
                    volunteer: id.clone(),
                    team: team.clone(),
                    home_grid: home_grid.clone(),
                    skills: skills.clone(),
                    open_orders_max: *open_orders_max,
                }])
            }
            _ if !registered => Err(Error::not_found("volunteer", id)),
            C::RedeemPoints { points, reward } => self.redeem(id, *points, reward, actor),
            C::Transfer { team, home_grid, open_orders_max } => {
                role_may(actor, Access::Write(Write::ManageVolunteer), "transfer a volunteer")?;
                self.present()?;
                check_home(ctx, home_grid)?;
                check_limit(*open_orders_max)?;
                let same = self.team.as_ref() == Some(team)
                    && self.home_grid.as_ref() == Some(home_grid)
                    && self.open_orders_max == *open_orders_max;
                Ok(if same {
                    vec![]
                } else {
                    vec![VolunteerEvent::Transferred {
                        team: team.clone(),
                        home_grid: home_grid.clone(),
                        open_orders_max: *open_orders_max,
                    }]
                })
            }
            C::Deactivate { reason } => {
                role_may(actor, Access::Write(Write::ManageVolunteer), "deactivate a volunteer")?;
                self.present()?;
                let reason = bounded_text("reason", reason, false)?;
                Ok(if self.inactive.is_some() { vec![] } else { vec![VolunteerEvent::Deactivated { reason }] })
            }
            C::Reactivate {} => {
                role_may(actor, Access::Write(Write::ManageVolunteer), "reactivate a volunteer")?;
                self.present()?;
                Ok(if self.inactive.is_some() { vec![VolunteerEvent::Reactivated {}] } else { vec![] })
            }
            C::Exit { reason } => {
                role_may(actor, Access::Write(Write::ManageVolunteer), "exit a volunteer")?;
                self.present()?;
                Ok(vec![VolunteerEvent::Exited { reason: bounded_text("reason", reason, false)? }])
            }
            C::ChangeSkills { skills } => {
                // The operator keeps the register too (the API's people routes).
                if actor.role != Role::Admin {
                    self.permit_self_or_dispatcher(id, actor, "change skills")?;
                    self.present()?;
                }
                check_skills(skills)?;
                Ok(vec![VolunteerEvent::SkillsChanged { skills: skills.clone() }])
            }
            C::ChangeAvailability { available } => {
                self.permit_self_or_dispatcher(id, actor, "change availability")?;
                self.present()?;
                Ok(vec![VolunteerEvent::AvailabilityChanged { available: *available }])
            }
            C::AwardPoints { points, ticket, reason } => {
                permit(actor, &[Role::System, Role::Dispatcher], "award points")?;
                check_points(*points)?;
                Ok(vec![VolunteerEvent::PointsAwarded {
                    points: *points,
                    ticket: ticket.clone(),
                    reason: bounded_text("reason", reason, false)?,
                }])
            }
            C::IssueLinkCode { code_hash } => {
                role_may(actor, Access::Write(Write::LinkCode), "issue a link code")?;
                self.present()?;
                let well_formed =
                    code_hash.len() == 64 && code_hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if !well_formed {
                    return Err(Error::invalid("link code hash", "must be 64 lower-case hex digits (BLAKE3)"));
                }
                Ok(vec![VolunteerEvent::LinkCodeIssued {
                    code_hash: code_hash.clone(),
                    expires_at: ctx.now.plus(LINK_CODE_TTL),
                }])
            }
            C::LinkChat { account, code } => {
                // Only the bot can vouch that the message came from `account`.
                permit(actor, &[Role::System], "link a chat account")?;
                check_account(account)?;
                let Some(outstanding) = &self.link_code else {
                    return Err(Error::invalid("link code", "no code is outstanding for this volunteer"));
                };
                if !is_link_code(code) || link_code_hash(code) != outstanding.code_hash {
                    return Err(Error::invalid("link code", "does not match"));
                }
                if ctx.now >= outstanding.expires_at {
                    return Err(Error::invalid("link code", "has expired"));
                }
                Ok(vec![VolunteerEvent::ChatLinked { account: account.clone() }])
            }
        }
    }

    /// Redemption stays open after an exit: the points were earned.
    fn redeem(&self, id: &VolunteerId, points: u64, reward: &str, actor: &Actor) -> Result<Vec<VolunteerEvent>, Error> {
        self.permit_self_or_dispatcher(id, actor, "redeem points")?;
        check_points(points)?;
        if points > self.points_balance {
            return Err(Error::InsufficientPoints { balance: self.points_balance, asked: points });
        }
        Ok(vec![VolunteerEvent::PointsRedeemed { points, reward: bounded_text("reward", reward, false)? }])
    }

    /// Refuses a change to a volunteer who has left for good (asked after
    /// the permission, so that who may not act hears that first). Points
    /// are still awarded and redeemed: they were earned.
    fn present(&self) -> Result<(), Error> {
        match self.exited {
            Some(_) => Err(Error::IllegalTransition {
                command: "change a volunteer",
                status: "a volunteer who has left for good",
            }),
            None => Ok(()),
        }
    }

    /// Whether routing may offer this volunteer anything: registered, not
    /// stood down, not exited, and available.
    pub fn is_active(&self) -> bool {
        self.id.is_some() && self.inactive.is_none() && self.exited.is_none() && self.available
    }

    fn permit_self_or_dispatcher(&self, id: &VolunteerId, actor: &Actor, verb: &'static str) -> Result<(), Error> {
        let own = actor.role == Role::Volunteer && actor.id.as_str() == id.as_str();
        if own || actor.role == Role::Dispatcher {
            Ok(())
        } else {
            Err(Error::NotPermitted { role: actor.role.name(), command: verb })
        }
    }
}

fn permit(actor: &Actor, roles: &[Role], verb: &'static str) -> Result<(), Error> {
    if roles.contains(&actor.role) {
        Ok(())
    } else {
        Err(Error::NotPermitted { role: actor.role.name(), command: verb })
    }
}

fn check_home(ctx: &Context, home_grid: &GridCode) -> Result<(), Error> {
    ctx.grids.require(home_grid)?;
    if home_grid.level() < Level::Grid {
        return Err(Error::invalid("home grid", "must be a grid or sub-grid"));
    }
    Ok(())
}

fn check_limit(open_orders_max: u32) -> Result<(), Error> {
    if open_orders_max == 0 || open_orders_max > OPEN_ORDERS_LIMIT_MAX {
        return Err(Error::invalid("open orders limit", "must be 1 to 50"));
    }
    Ok(())
}

fn check_skills(skills: &BTreeSet<Skill>) -> Result<(), Error> {
    if skills.len() > SKILLS_MAX {
        return Err(Error::invalid("skills", "at most 16 skills"));
    }
    Ok(())
}

/// A chat account id: 1 to 255 bytes, no spaces or control characters.
fn check_account(account: &str) -> Result<(), Error> {
    if account.is_empty() || account.len() > CHAT_ACCOUNT_BYTES_MAX {
        return Err(Error::invalid("chat account", "must be 1 to 255 bytes"));
    }
    if account.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("chat account", "must not contain spaces or control characters"));
    }
    Ok(())
}

fn check_points(points: u64) -> Result<(), Error> {
    if points == 0 || points > POINTS_PER_CHANGE_MAX {
        return Err(Error::invalid("points", "must be 1 to 10,000"));
    }
    Ok(())
}
