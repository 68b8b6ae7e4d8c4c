//! `gridloop import`: an NDJSON export into an empty store.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_cli::audit;
use gridloop_cli::store::LogStore;

use super::DataDir;
use crate::output::progress_bar;

/// Load an NDJSON export into an empty store. Every line is parsed and
/// every stream's hash chain verified before anything is written (a
/// broken line stops the import with its number, and the store stays
/// empty); then the events are appended as they were, and every hash the
/// store computes must equal the file's.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export to read (written by `gridloop export`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Also import the photos `gridloop export --photos DIR` wrote: each
    /// must hash to its name and be a stored photo; the erased ones are
    /// recorded as erased.
    #[arg(long, value_name = "DIR")]
    photos: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

pub async fn run(args: ImportArgs) -> Result<()> {
    let (file, data, photos) = (args.file, args.data, args.photos);
    let importing = || format!("importing {}", file.display());
    // An existing directory is opened (and locked) first, so that a store
    // holding events is refused before the file is read; a new one is only
    // created once the file has checked out.
    let mut store = None;
    if data.dir.exists() {
        let opened = LogStore::open(&data.dir, data.store.as_deref()).await?;
        let head = opened.head_position().await?;
        if head > 0 {
            bail!(
                "{} already holds events (up to position {head}); import goes into an empty store only: pass --data \
                 with a new directory (or a new NATS stream)",
                opened.describe(&data.dir)
            );
        }
        store = Some(opened);
    }
    let bar = progress_bar(0, "bytes checked");
    let check = audit::check_file(&file, |_, done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let check = check.with_context(importing)?;
    let store = match store {
        Some(store) => store,
        None => LogStore::open(&data.dir, data.store.as_deref()).await?,
    };
    let bar = progress_bar(check.log.events, "events imported");
    let summary = audit::append_file(&store, &file, &check, |_, done, _| bar.set_position(done)).await;
    bar.finish_and_clear();
    let summary = summary.with_context(importing)?;
    say!(
        "imported {} events of {} streams in {} appends from {} into {}: every line parsed, every hash verified and \
         recomputed by the store",
        summary.events,
        summary.streams,
        summary.appends,
        file.display(),
        data.dir.display()
    );
    if let Some(dir) = photos {
        let blobs = store.blobs().await?;
        let done = gridloop_cli::photos::import_photos(&store, blobs.as_ref(), &dir)
            .await
            .with_context(|| format!("importing the photos of {}", dir.display()))?;
        say!("imported {} photos and {} erased on request from {}", done.photos, done.erased, dir.display());
        for missing in &done.missing {
            say!("not imported: {missing}");
        }
    }
    Ok(())
}
