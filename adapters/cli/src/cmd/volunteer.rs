//! `gridloop volunteer link-code`: a volunteer's one-time chat link code.

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, VolunteerId};

use super::{DataDir, Host, random_u64};

/// Volunteers: `gridloop volunteer link-code V-7` issues the one-time
/// code a volunteer sends to the chat bot to link their chat account.
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
}

impl VolunteerArgs {
    pub fn data(&self) -> &DataDir {
        match &self.action {
            VolunteerCmd::LinkCode { data, .. } => data,
        }
    }
}

/// Prints a fresh one-time link code.
pub async fn run(args: VolunteerArgs, host: &Host<'_>) -> Result<()> {
    let VolunteerCmd::LinkCode { id, data } = args.action;
    let volunteer = VolunteerId::new(&id).with_context(|| format!("volunteer {id:?}"))?;
    let deployment = host.open(&data).await?;
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
