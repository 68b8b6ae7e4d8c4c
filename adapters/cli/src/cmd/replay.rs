//! `gridloop replay`: rebuild projections from the start of the log.

use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_projections::Metrics;
use gridloop_projections::board::Board;
use gridloop_projections::ledger::Ledger;

use super::{DataDir, Host, rebuild};

/// Rebuild projections (board, metrics, ledger) from the start of the
/// log, save their snapshots, and report events/s and each snapshot's
/// digest (a rebuild gives the same digest as the live projection).
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// One projection: board, metrics or ledger; default: all.
    #[arg(long, value_enum, default_value_t = Which::All, hide_default_value = true)]
    projection: Which,
    #[command(flatten)]
    pub data: DataDir,
}

/// What `--projection` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Board,
    Metrics,
    Ledger,
}

pub async fn run(args: ReplayArgs, host: &Host<'_>) -> Result<()> {
    let names = match args.projection {
        Which::All => vec![Which::Board, Which::Metrics, Which::Ledger],
        one => vec![one],
    };
    let deployment = host.open(&args.data).await?;
    let store = deployment.store();
    let snapshots = store.local().snapshots()?;
    for which in names {
        let (name, (events, seconds, snapshot)) = match which {
            Which::Board => ("board", rebuild::<Board>(store, &snapshots).await?),
            Which::Metrics => ("metrics", rebuild::<Metrics>(store, &snapshots).await?),
            _ => ("ledger", rebuild::<Ledger>(store, &snapshots).await?),
        };
        say!(
            "{name:<8} {events} events in {seconds:.2}s ({:.0} events/s); snapshot {} bytes, blake3 {}",
            events as f64 / seconds.max(1e-9),
            snapshot.len(),
            blake3::hash(&snapshot).to_hex()
        );
    }
    Ok(())
}
