//! `gridloop replay`: rebuild projections from the start of the log.

use std::time::Instant;

use anyhow::Result;
use clap::{Args, ValueEnum};
use gridloop_cli::store::LogStore;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::TicketEvent;
use gridloop_projections::Metrics;
use gridloop_projections::board::Board;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{CATCH_UP_BATCH, Projection, Runner};

use super::{DataDir, Host, rebuild};

/// Rebuild projections (board, metrics, ledger) from the start of the
/// log, save their snapshots, and report events/s and each snapshot's
/// digest (a rebuild gives the same digest as the live projection).
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// One projection: board, metrics or ledger; default: all.
    #[arg(long, value_enum, default_value_t = Which::All, hide_default_value = true)]
    projection: Which,
    /// Instead of rebuilding, time a rebuild's layers on this log, each a
    /// whole pass: read; read and decode the tickets' payloads; read and
    /// fold board, metrics and ledger in one pass on one core; the same on
    /// two cores (the board on one, metrics and ledger on the other). Folds
    /// into memory; nothing is saved.
    #[arg(long)]
    layers: bool,
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
    if args.layers {
        return layers(store).await;
    }
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

/// One pass over the log, the work `fold` does per batch; returns events
/// and seconds.
async fn pass(store: &LogStore, mut fold: impl FnMut(&[RecordedEvent]) -> Result<()>) -> Result<(u64, f64)> {
    let started = Instant::now();
    let mut events = 0u64;
    let mut scan = store.scan(1).batch_max(CATCH_UP_BATCH);
    while let Some(batch) = scan.next_batch().await? {
        events += batch.len() as u64;
        fold(&batch)?;
    }
    Ok((events, started.elapsed().as_secs_f64()))
}

/// `replay --layers`: what bounds a rebuild, layer by layer.
async fn layers(store: &LogStore) -> Result<()> {
    let say_pass = |name: &str, (events, seconds): (u64, f64)| {
        say!("{name:<28} {events} events in {seconds:.2}s ({:.0} events/s)", events as f64 / seconds.max(1e-9));
    };
    say_pass("read", pass(store, |_| Ok(())).await?);
    let decode = |batch: &[RecordedEvent]| -> Result<()> {
        for event in batch.iter().filter(|e| e.stream.kind() == "ticket") {
            let _: TicketEvent = event.decode()?;
        }
        Ok(())
    };
    say_pass("read + decode tickets", pass(store, decode).await?);
    let (mut board, mut metrics, mut ledger) = (fresh::<Board>()?, fresh::<Metrics>()?, fresh::<Ledger>()?);
    let one_core = pass(store, |batch| {
        fold(&mut board, batch)?;
        fold(&mut metrics, batch)?;
        fold(&mut ledger, batch)
    })
    .await?;
    say_pass("read + fold 3, one core", one_core);
    let (mut board, mut metrics, mut ledger) = (fresh::<Board>()?, fresh::<Metrics>()?, fresh::<Ledger>()?);
    let two_cores = pass(store, |batch| {
        std::thread::scope(|scope| {
            let board = scope.spawn(|| fold(&mut board, batch));
            let rest = fold(&mut metrics, batch).and_then(|()| fold(&mut ledger, batch));
            board.join().map_err(|_| anyhow::anyhow!("the board's fold panicked"))?.and(rest)
        })
    })
    .await?;
    say_pass("read + fold 3, two cores", two_cores);
    Ok(())
}

/// A projection at position 0 attached to a cold store in memory, so that
/// it settles what it settles when serving (nothing is written to disk).
fn fresh<P: Projection>() -> Result<Runner<P>> {
    Ok(Runner::<P>::resume_cold(&gridloop_projections::cold::Cold::default())?)
}

fn fold<P: Projection>(runner: &mut Runner<P>, batch: &[RecordedEvent]) -> Result<()> {
    for event in batch {
        runner.evolve(event)?;
    }
    Ok(())
}
