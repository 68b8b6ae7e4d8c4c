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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum VolunteerEvent {
    Registered {
        volunteer: VolunteerId,
        team: TeamId,
        home_grid: GridCode,
        skills: BTreeSet<Skill>,
        open_orders_max: u32,
    },
    SkillsChanged {
        skills: BTreeSet<Skill>,
    },
    AvailabilityChanged {
        available: bool,
    },
    PointsAwarded {
        points: u64,
        ticket: Option<TicketId>,
        reason: String,
    },
    PointsRedeemed {
        points: u64,
        reward: String,
    },
    /// A one-time chat link code was issued; only its hash is kept.
    LinkCodeIssued {
        code_hash: String,
        expires_at: Timestamp,
    },
    /// The chat account now speaks for this volunteer; the code is used up.
    ChatLinked {
        account: String,
    },
    /// Moved to another team or home grid, or given another limit.
    Transferred {
        team: TeamId,
        home_grid: GridCode,
        open_orders_max: u32,
    },
    /// Stood down for a while (ill, away): offered nothing until reactivated.
    Deactivated {
        reason: String,
    },
    Reactivated {},
    /// Left for good (the warning-and-exit mechanism, 警示退出): offered
    /// nothing, and no command but points redemption is taken again.
    Exited {
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum VolunteerCommand {
    Register {
        team: TeamId,
        home_grid: GridCode,
        skills: BTreeSet<Skill>,
        open_orders_max: u32,
    },
    ChangeSkills {
        skills: BTreeSet<Skill>,
    },
    ChangeAvailability {
        available: bool,
    },
    AwardPoints {
        points: u64,
        ticket: Option<TicketId>,
        reason: String,
    },
    RedeemPoints {
        points: u64,
        reward: String,
    },
    /// Dispatchers (or the system): a new link code, given as its hash.
    IssueLinkCode {
        code_hash: String,
    },
    /// The chat bot (the system): `account` sent `code`.
    LinkChat {
        account: String,
        code: String,
    },
    /// Dispatchers (or an import): another team, home grid or limit.
    Transfer {
        team: TeamId,
        home_grid: GridCode,
        open_orders_max: u32,
    },
    Deactivate {
        reason: String,
    },
    Reactivate {},
    Exit {
        reason: String,
    },
}

/// The link code outstanding, as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCode {
    pub code_hash: String,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Volunteer {
    pub id: Option<VolunteerId>,
    pub team: Option<TeamId>,
    pub home_grid: Option<GridCode>,
    pub skills: BTreeSet<Skill>,
    pub available: bool,
    pub open_orders_max: u32,
    pub points_balance: u64,
    pub points_awarded: u64,
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
    pub version: u64,
}

impl Volunteer {
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
                permit(actor, &[Role::Dispatcher, Role::Admin, Role::System], "register a volunteer")?;
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
                permit(actor, &[Role::Dispatcher, Role::Admin, Role::System], "transfer a volunteer")?;
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
                permit(actor, &[Role::Dispatcher, Role::Admin, Role::System], "deactivate a volunteer")?;
                self.present()?;
                let reason = bounded_text("reason", reason, false)?;
                Ok(if self.inactive.is_some() { vec![] } else { vec![VolunteerEvent::Deactivated { reason }] })
            }
            C::Reactivate {} => {
                permit(actor, &[Role::Dispatcher, Role::Admin, Role::System], "reactivate a volunteer")?;
                self.present()?;
                Ok(if self.inactive.is_some() { vec![VolunteerEvent::Reactivated {}] } else { vec![] })
            }
            C::Exit { reason } => {
                permit(actor, &[Role::Dispatcher, Role::Admin, Role::System], "exit a volunteer")?;
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
                permit(actor, &[Role::Dispatcher, Role::System], "issue a link code")?;
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
            Some(_) => Err(Error::IllegalTransition { command: "change a volunteer", status: "exited" }),
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
