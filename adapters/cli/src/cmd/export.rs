//! `gridloop export`: the log as NDJSON on stdout.

use anyhow::Result;
use clap::Args;
use gridloop_cli::audit;

use super::{DataDir, Host};
use crate::output::{progress_bar, stdout_writer};

/// Write the log to stdout as NDJSON, one event envelope per line exactly
/// as stored, in position order: `gridloop export > log.ndjson`.
/// Progress goes to stderr.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Start at this global position (events at it or later).
    #[arg(long, value_name = "POSITION", default_value_t = 1)]
    from: u64,
    /// Also write every photo the log names into DIR, one file per photo
    /// named by its hash, and the hashes of photos erased on request into
    /// DIR/ERASED (docs/photos.md); `gridloop import --photos DIR` reads it.
    #[arg(long, value_name = "DIR")]
    photos: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

/// Streams the lines as they are read, through a 64 KiB buffer (for a
/// control client, through its bounded queue: see `output`), never the
/// whole log in memory.
pub async fn run(args: ExportArgs, host: &Host<'_>) -> Result<()> {
    let deployment = host.open(&args.data).await?;
    let store = deployment.store();
    let bar = progress_bar(store.head_position().await?, "events exported");
    bar.set_position(args.from.saturating_sub(1).min(store.head_position().await?));
    let mut out = stdout_writer();
    let result = audit::export(store, args.from, &mut out, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            let last = summary.last_position.map_or_else(String::new, |p| format!(", up to position {p}"));
            say_err!("exported {} events{last}", summary.events);
            match &args.photos {
                Some(dir) => export_photos(&deployment, dir).await,
                None => Ok(()),
            }
        }
        // The reader stopped early (`gridloop export | head`): end quietly.
        Err(error)
            if error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(())
        }
        Err(error) => Err(error.context("writing the export")),
    }
}

/// `--photos DIR`: the photos beside the events. A photo the log names but
/// the store lacks is reported and skipped (`audit --all --verify` says more).
async fn export_photos(deployment: &crate::deployment::Deployment, dir: &std::path::Path) -> Result<()> {
    let done = gridloop_cli::photos::export_photos(deployment.store(), deployment.blobs().as_ref(), dir).await?;
    say_err!("exported {} photos and {} erased on request into {}", done.photos, done.erased, dir.display());
    for missing in &done.missing {
        say_err!("not exported: {missing}");
    }
    Ok(())
}
