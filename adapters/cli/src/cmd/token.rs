//! `gridloop token create`: an API bearer token, shown once.

use anyhow::{Context as _, Result};
use clap::builder::TypedValueParser as _;
use clap::{Args, Subcommand};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::permit::Principal;
use gridloop_http::TokenTable;
use gridloop_store_sled::SledStore;

use super::{DataDir, Host};
use crate::deployment::Deployment;

/// API tokens: `gridloop token create --role volunteer --subject V-7`
/// prints a new bearer token once; only its hash is kept.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenCmd,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue a bearer token for the API (shown once; its hash goes to
    /// DATA/tokens.json, which `gridloop serve` reads at start; with `serve`
    /// running on the embedded store, the running server takes it at once).
    Create {
        /// resident, grid_worker, grid_head, dispatcher, official, volunteer, department, auditor
        /// or admin (manages tokens through the API; acts on no ticket).
        #[arg(long, value_parser = issuable_role())]
        role: Role,
        /// Who it is: a resident id (r-12), volunteer (V-7), department code,
        /// grid worker or dispatcher id.
        #[arg(long)]
        subject: String,
        /// A dispatcher's or grid worker's place (a district, street,
        /// community or grid code of the district): they act only inside it.
        #[arg(long)]
        place: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// What `--role` takes: the roles a token may carry, by the engine's own
/// list (`Role::ISSUABLE`), so the CLI keeps no copy of it.
fn issuable_role() -> impl clap::builder::TypedValueParser<Value = Role> {
    clap::builder::PossibleValuesParser::new(Role::ISSUABLE.map(|(name, _)| name))
        .map(|name| Role::parse_issuable(&name).expect("every possible value is an issuable role"))
}

impl TokenArgs {
    pub fn data(&self) -> &DataDir {
        match &self.action {
            TokenCmd::Create { data, .. } => data,
        }
    }
}

pub async fn run(args: TokenArgs, host: &Host<'_>) -> Result<()> {
    let TokenCmd::Create { role, subject, place, data } = args.action;
    let place = place.as_deref().map(GridCode::parse).transpose().context("--place")?;
    if place.is_some() || role == Role::Department {
        // Only a place and a department the district knows (the engine's
        // permit rule): a token for neither would act nowhere, or anywhere.
        let world = match host {
            Host::Offline => {
                Deployment::open(&data).await.context("a place or a department needs the district")?.world()
            }
            Host::Serve(serving) => {
                serving.deployment.service().refresh_world().await?;
                serving.deployment.world()
            }
        };
        let actor = Actor::new(role, &subject).context("--subject")?;
        Principal::admit(&world, actor, place.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let (token, entry) = TokenTable::issue(role, &subject, place)?;
    match host {
        Host::Offline => {
            // Creates the data directory if this is a deployment's first step.
            drop(SledStore::open(&data.dir)?);
            let path = data.dir.join("tokens.json");
            let mut table = match path.exists() {
                true => TokenTable::load(&path).with_context(|| format!("reading {}", path.display()))?,
                false => TokenTable::new(),
            };
            table.insert(entry)?;
            table.save(&path).with_context(|| format!("writing {}", path.display()))?;
            say!("{} token for {subject} (shown once; restart `gridloop serve` to use it): {token}", role.name());
        }
        Host::Serve(serving) => {
            let path = serving.deployment.dir().join("tokens.json");
            let mut table = serving.tokens.write().map_err(|_| anyhow::anyhow!("the token table lock is poisoned"))?;
            let id = TokenTable::id_of(&blake3::hash(token.as_bytes()));
            table.insert(entry)?;
            if let Err(error) = table.save(&path) {
                table.revoke(&id);
                return Err(error).with_context(|| format!("writing {}", path.display()));
            }
            say!("{} token for {subject} (shown once; the running server takes it now): {token}", role.name());
        }
    }
    Ok(())
}
