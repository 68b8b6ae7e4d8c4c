//! `gridloop seal`: seal the log now.

use anyhow::Result;
use clap::Args;

use super::{DataDir, Host};

/// Seal the log now: sign a digest over every stream's head with the
/// deployment's key, append it to the log and to the seal journal.
#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub data: DataDir,
}

pub async fn run(args: SealArgs, host: &Host<'_>) -> Result<()> {
    let deployment = host.open(&args.data).await?;
    let gridloop_engine::seal::SealEvent::Sealed { position, streams, digest, .. } = deployment.seal().await?;
    say!("sealed {streams} streams up to position {position}: digest {digest}");
    Ok(())
}
