//! `gridloop volunteer`: one volunteer at a time, as an operator at the
//! community station does it (register, transfer, stand down, reactivate,
//! exit), and the one-time chat link code. In bulk, a bundle's
//! `volunteers.csv` does the same (`gridloop world import`).

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, ResidentId, Skill, TeamId, VolunteerId};
use gridloop_engine::personal::{Person, PersonalStore};
use gridloop_engine::service::{Command, CommandEnvelope};
use gridloop_engine::volunteer::VolunteerCommand;

use super::{DataDir, Host, random_u64};

/// Volunteers: `gridloop volunteer register V-7 --team TM-3 --home-grid
/// CODE --skills a,b --name 王芳`, `transfer`, `deactivate`, `reactivate`,
/// `exit --reason …`, and `link-code V-7` (the one-time code a volunteer
/// sends to the chat bot). Names and phones go to the personal store.
#[derive(Debug, Args)]
pub struct VolunteerArgs {
    #[command(subcommand)]
    pub action: VolunteerCmd,
}

#[derive(Debug, Subcommand)]
pub enum VolunteerCmd {
    /// Issue a one-time 6-digit code for the volunteer to send to the chat
    /// bot (`绑定 123456` / `link 123456`), valid 24 hours; a new code
    /// replaces the old one. Only the code's hash is kept in the log. With
    /// `serve` running on the embedded store, it goes through the server
    /// (the API has it too: POST /api/v1/volunteers/{id}/link-code).
    LinkCode {
        /// The volunteer, e.g. V-7.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Register a volunteer in a team, living in a grid, with skills.
    Register {
        id: String,
        #[arg(long)]
        team: String,
        #[arg(long, value_name = "GRID")]
        home_grid: String,
        /// Comma-separated, e.g. elderly_care,driving.
        #[arg(long, value_delimiter = ',')]
        skills: Vec<String>,
        /// Orders held at once, 1 to 50.
        #[arg(long, default_value_t = 3)]
        open_orders_max: u32,
        /// Personal: kept in the encrypted personal store, never in the log.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Move a volunteer to another team or home grid, or change their limit.
    Transfer {
        id: String,
        #[arg(long)]
        team: String,
        #[arg(long, value_name = "GRID")]
        home_grid: String,
        #[arg(long, default_value_t = 3)]
        open_orders_max: u32,
        #[command(flatten)]
        data: DataDir,
    },
    /// Stand a volunteer down for a while: offered nothing until reactivated.
    Deactivate {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Offer a stood-down volunteer orders again.
    Reactivate {
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// A volunteer leaves for good (警示退出, or on their own); their points
    /// stay theirs.
    Exit {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataDir,
    },
}

impl VolunteerArgs {
    pub fn data(&self) -> &DataDir {
        match &self.action {
            VolunteerCmd::LinkCode { data, .. }
            | VolunteerCmd::Register { data, .. }
            | VolunteerCmd::Transfer { data, .. }
            | VolunteerCmd::Deactivate { data, .. }
            | VolunteerCmd::Reactivate { data, .. }
            | VolunteerCmd::Exit { data, .. } => data,
        }
    }
}

pub async fn run(args: VolunteerArgs, host: &Host<'_>) -> Result<()> {
    match args.action {
        VolunteerCmd::LinkCode { id, data } => link_code(&id, &data, host).await,
        VolunteerCmd::Register { id, team, home_grid, skills, open_orders_max, name, phone, data } => {
            let skills = skills.iter().map(|s| Skill::new(s.as_str())).collect::<Result<_, _>>().context("--skills")?;
            let command = VolunteerCommand::Register {
                team: TeamId::new(team).context("--team")?,
                home_grid: GridCode::parse(&home_grid).context("--home-grid")?,
                skills,
                open_orders_max,
            };
            let person = name
                .map(|name| Person::new(&name, phone.as_deref().unwrap_or_default(), ""))
                .transpose()
                .context("--name or --phone")?;
            act(&id, command, person, &data, host).await
        }
        VolunteerCmd::Transfer { id, team, home_grid, open_orders_max, data } => {
            let command = VolunteerCommand::Transfer {
                team: TeamId::new(team).context("--team")?,
                home_grid: GridCode::parse(&home_grid).context("--home-grid")?,
                open_orders_max,
            };
            act(&id, command, None, &data, host).await
        }
        VolunteerCmd::Deactivate { id, reason, data } => {
            act(&id, VolunteerCommand::Deactivate { reason }, None, &data, host).await
        }
        VolunteerCmd::Reactivate { id, data } => act(&id, VolunteerCommand::Reactivate {}, None, &data, host).await,
        VolunteerCmd::Exit { id, reason, data } => act(&id, VolunteerCommand::Exit { reason }, None, &data, host).await,
    }
}

/// Sends one volunteer command as the operator (a dispatcher of the whole
/// district), then keeps the person's name and phone apart from the log.
async fn act(
    id: &str,
    command: VolunteerCommand,
    person: Option<Person>,
    data: &DataDir,
    host: &Host<'_>,
) -> Result<()> {
    let volunteer = VolunteerId::new(id).with_context(|| format!("volunteer {id:?}"))?;
    let deployment = host.open(data).await?;
    let envelope = CommandEnvelope {
        command_id: CommandId::new(format!("cli-{}", gridloop_http::random_hex(16)?))?,
        correlation_id: None,
        actor: Actor::new(Role::Dispatcher, "d-cli")?,
        command: Command::Volunteer { id: volunteer.clone(), command },
        expected_version: None,
    };
    let outcome = deployment.service().execute(envelope).await?;
    if let Some(person) = person {
        let key = ResidentId::new(format!("volunteer:{volunteer}"))?;
        deployment.store().local().personal()?.put(&key, &person)?;
    }
    match outcome.events.first() {
        Some(event) => say!("{volunteer}: {} (v{})", event.schema.name, outcome.append.map_or(0, |a| a.last_version)),
        None => say!("{volunteer}: nothing to change"),
    }
    Ok(())
}

/// Prints a fresh one-time link code.
async fn link_code(id: &str, data: &DataDir, host: &Host<'_>) -> Result<()> {
    let volunteer = VolunteerId::new(id).with_context(|| format!("volunteer {id:?}"))?;
    let deployment = host.open(data).await?;
    let service = deployment.service();
    let code = gridloop_chatbot::links::code_from(random_u64()?);
    let command_id = CommandId::new(format!("link-code-{}", gridloop_http::random_hex(16)?))?;
    let operator = Actor::new(Role::Dispatcher, "d-cli")?;
    gridloop_chatbot::links::issue_code(service, &volunteer, operator, command_id, &code).await?;
    let state = service.volunteer(&volunteer).await?;
    let expires = state.link_code.map(|c| c.expires_at.to_string()).unwrap_or_default();
    say!(
        "link code for {volunteer}: {code} (valid until {expires}; they send `绑定 {code}` or `link {code}` to the bot)"
    );
    Ok(())
}
