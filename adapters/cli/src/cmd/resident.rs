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
    /// Erase a resident's personal data (name, phone, address) for good,
    /// and the photos of their orders: their key and record are deleted,
    /// each photo leaves a tombstone; the log, which never held them,
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
    // Their personal links and their phone's account go too: the phone
    // index must not keep pointing at an erased resident.
    let forgotten = gridloop_engine::account::AccountStore::forget(&deployment.store().local().accounts()?, &resident)?;
    let had_data = deployment.store().local().personal()?.erase(&resident)?;
    let photos =
        gridloop_cli::photos::erase_resident_photos(deployment.store(), deployment.blobs().as_ref(), &resident).await?;
    match (had_data, photos) {
        (true, _) => say!(
            "{resident}: personal data erased; {photos} photos of their orders erased; the log never held them and \
             still verifies"
        ),
        (false, 1..) => say!("{resident}: no personal data on file; {photos} photos of their orders erased"),
        (false, 0) => bail!("{resident} has no personal data on file and no photos to erase"),
    }
    if forgotten > 0 {
        say!("{resident}: {forgotten} personal links and phone entries forgotten");
    }
    Ok(())
}
