//! `gridloop resident erase`: a resident's personal data, erased for good.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use gridloop_engine::ids::ResidentId;
use gridloop_engine::personal::PersonalStore;

use super::{DataDir, Host};

/// Residents' personal data (kept out of the log).
#[derive(Debug, Args)]
pub struct ResidentArgs {
    #[command(subcommand)]
    pub action: ResidentCmd,
}

#[derive(Debug, Subcommand)]
pub enum ResidentCmd {
    /// Erase a resident's personal data (name, phone, address) for good:
    /// their key and record are deleted; the log, which never held them,
    /// still verifies, and shows "erased" where the name was.
    Erase {
        /// The resident id, e.g. r-1024.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

impl ResidentArgs {
    pub fn data(&self) -> &DataDir {
        match &self.action {
            ResidentCmd::Erase { data, .. } => data,
        }
    }
}

pub async fn run(args: ResidentArgs, host: &Host<'_>) -> Result<()> {
    let ResidentCmd::Erase { id, data } = args.action;
    let resident = ResidentId::new(id.as_str()).with_context(|| format!("{id:?} is not a resident id"))?;
    let deployment = host.open(&data).await?;
    match deployment.store().local().personal()?.erase(&resident)? {
        true => say!("{resident}: personal data erased; the log never held it and still verifies"),
        false => bail!("{resident} has no personal data on file"),
    }
    Ok(())
}
