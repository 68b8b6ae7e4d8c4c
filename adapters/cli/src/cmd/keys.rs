//! `gridloop keys init`: the deployment's seal key.

use anyhow::Result;
use clap::{Args, Subcommand};
use gridloop_cli::sealing;
use gridloop_store_sled::SledStore;

use super::DataDir;

/// The deployment's seal key: `gridloop keys init` makes it (once) and
/// prints its public half for auditors.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysCmd,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Make the seal key (DATA/keys/seal.key, readable by its owner only)
    /// and print its public half. Refuses if one exists.
    Init {
        #[command(flatten)]
        data: DataDir,
    },
}

impl KeysArgs {
    pub fn data(&self) -> &DataDir {
        match &self.action {
            KeysCmd::Init { data } => data,
        }
    }
}

pub fn run(args: KeysArgs) -> Result<()> {
    let KeysCmd::Init { data } = args.action;
    drop(SledStore::open(&data.dir)?);
    let public = sealing::init_key(&data.dir)?;
    say!("seal key written to {}", sealing::key_path(&data.dir).display());
    say!("public key, for auditors: {public}");
    Ok(())
}
