//! `gridloop-peer`: the ticket workflow on cqrs-es + postgres-es, driven the
//! way `gridloop bench` drives gridloop, so that the two can be compared in
//! one run on one machine. See peer/README.md for the output's shape.
//!
//! ```text
//! gridloop-peer --pg URL --clients N --tickets M [--json] [--pool P]
//! gridloop-peer --pg URL --race 64 --offers K [--json] [--pool P]
//! ```

mod ticket;

use cqrs_es::AggregateError;
use postgres_es::{PostgresCqrs, postgres_cqrs};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use ticket::{NoServices, Ticket, TicketCommand, TicketError};
use tokio::sync::Barrier;

type Cqrs = PostgresCqrs<Ticket>;

/// gridloop's command service retries a conflicting append this many times
/// (reload, decide again); the peer does the same on `AggregateConflict`.
const MAX_CONFLICT_RETRIES: u32 = 16;

const USAGE: &str = "usage:
  gridloop-peer --pg URL --clients N --tickets M [--json] [--pool P]
  gridloop-peer --pg URL --race R --offers K [--json] [--pool P]

  --pg URL      PostgreSQL connection string (the events table must exist;
                see peer/sql/schema.sql)
  --clients N   concurrent tokio tasks, each driving its share of the M tickets
                through submit, offer, accept, resolve, feedback, close
  --tickets M   tickets in all (6 commands and 6 events each)
  --race R      accept-race mode: R tasks accept the same offered ticket
  --offers K    races to run (one offered ticket each)
  --pool P      connections in the pool (default: N, or R; at most 64)
  --json        print one JSON line on stdout (otherwise a readable line)";

#[derive(Debug)]
struct Args {
    pg: String,
    clients: usize,
    tickets: usize,
    race: Option<usize>,
    offers: usize,
    pool: Option<u32>,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        pg: String::new(),
        clients: 1,
        tickets: 100,
        race: None,
        offers: 100,
        pool: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name}: expected a positive number, got {v:?}"))
        };
        match flag.as_str() {
            "--pg" => args.pg = value("--pg")?,
            "--clients" => args.clients = number("--clients", value("--clients")?)?,
            "--tickets" => args.tickets = number("--tickets", value("--tickets")?)?,
            "--race" => args.race = Some(number("--race", value("--race")?)?),
            "--offers" => args.offers = number("--offers", value("--offers")?)?,
            "--pool" => args.pool = Some(number("--pool", value("--pool")?)? as u32),
            "--json" => args.json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.pg.is_empty() {
        return Err("--pg URL is required".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gridloop-peer: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gridloop-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let concurrency = args.race.unwrap_or(args.clients);
    let pool_size = args.pool.unwrap_or(concurrency.min(64) as u32);
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(Duration::from_secs(20))
        .connect(&args.pg)
        .await
        .map_err(|e| format!("connecting to {}: {e}", args.pg))?;
    warm_up(&pool, pool_size).await?;
    let cqrs = Arc::new(postgres_cqrs::<Ticket>(pool.clone(), vec![], NoServices));
    let run_id = run_id();
    match args.race {
        None => throughput(&args, &cqrs, &pool, &run_id, pool_size).await,
        Some(racers) => race(&args, racers, &cqrs, &pool, &run_id, pool_size).await,
    }
}

/// Opens every connection of the pool before the clock starts, so that
/// connection set-up is in no figure.
async fn warm_up(pool: &Pool<Postgres>, size: u32) -> Result<(), String> {
    let mut held = Vec::with_capacity(size as usize);
    for _ in 0..size {
        held.push(
            pool.acquire()
                .await
                .map_err(|e| format!("opening a connection: {e}"))?,
        );
    }
    Ok(())
}

/// A prefix that keeps this run's ticket ids apart from earlier runs' in the
/// same table.
fn run_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{:x}", ms % 0xff_ffff_ffff)
}

// ---------------------------------------------------------------------------
// The throughput run: N clients, M tickets, 6 commands each.

async fn throughput(
    args: &Args,
    cqrs: &Arc<Cqrs>,
    pool: &Pool<Postgres>,
    run_id: &str,
    pool_size: u32,
) -> Result<(), String> {
    let clients = args.clients;
    let tickets = args.tickets;
    eprintln!(
        "peer: {clients} clients, {tickets} tickets ({} commands), pool {pool_size}, run {run_id}",
        tickets * 6
    );
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = spawn_progress("commands", tickets as u64 * 6, done.clone(), stop.clone());

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let cqrs = cqrs.clone();
        let done = done.clone();
        let run_id = run_id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(tickets / clients * 6 + 6);
            let mut n = client;
            while n < tickets {
                drive_ticket(&cqrs, &run_id, n, &mut latencies, &done).await?;
                n += clients;
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut latencies: Vec<u64> = Vec::with_capacity(tickets * 6);
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(format!("client task: {e}")),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    if let Some(e) = failure {
        return Err(e);
    }

    let commands = latencies.len() as u64;
    // Every command writes exactly one event; check that the table agrees.
    let events = count_events(pool, &format!("T-{run_id}-%"), None).await?;
    if events != commands {
        return Err(format!(
            "{commands} commands acknowledged but {events} events stored"
        ));
    }
    latencies.sort_unstable();
    let line = json!({
        "clients": clients,
        "tickets": tickets,
        "commands": commands,
        "events": events,
        "seconds": round(seconds, 3),
        "commands_per_s": round(commands as f64 / seconds, 1),
        "events_per_s": round(events as f64 / seconds, 1),
        "p50_ms": percentile_ms(&latencies, 0.50),
        "p99_ms": percentile_ms(&latencies, 0.99),
        "p999_ms": percentile_ms(&latencies, 0.999),
    });
    if args.json {
        println!("{line}");
    } else {
        println!(
            "{clients:>3} clients: {commands} commands, {events} events in {seconds:.2} s: {:.0} commands/s, p50 {} ms, p99 {} ms, p999 {} ms",
            commands as f64 / seconds,
            line["p50_ms"],
            line["p99_ms"],
            line["p999_ms"],
        );
    }
    Ok(())
}

/// One ticket through its whole life: 6 commands, each awaited before the
/// next, as one person after another would send them.
async fn drive_ticket(
    cqrs: &Cqrs,
    run_id: &str,
    n: usize,
    latencies: &mut Vec<u64>,
    done: &AtomicU64,
) -> Result<(), String> {
    let id = format!("T-{run_id}-{n}");
    let resident = format!("R-{}", 1000 + n % 5000);
    let volunteer = format!("V-{}", 1 + n % 700);
    let candidates = vec![
        volunteer.clone(),
        format!("V-{}", 1 + (n + 233) % 700),
        format!("V-{}", 1 + (n + 467) % 700),
    ];
    let commands = [
        submit(&id, &resident, n),
        TicketCommand::Offer {
            round: 0,
            candidates,
            expires_at: timestamp(15 * 60_000),
            at: timestamp(0),
        },
        TicketCommand::Accept {
            volunteer: volunteer.clone(),
            round: 0,
            at: timestamp(0),
        },
        TicketCommand::Resolve {
            by: volunteer.clone(),
            note: "Replaced the washer, no more leaking.".into(),
            at: timestamp(0),
        },
        TicketCommand::GiveFeedback {
            resident: resident.clone(),
            rating: 5,
            comment: "Quick and friendly, thank you!".into(),
            at: timestamp(0),
        },
        TicketCommand::Close { at: timestamp(0) },
    ];
    for (i, command) in commands.into_iter().enumerate() {
        let actor = match i {
            0 | 4 => resident.as_str(),
            2 | 3 => volunteer.as_str(),
            _ => "dispatcher",
        };
        let started = Instant::now();
        let mut conflicts = 0;
        execute(cqrs, &id, command, actor, &format!("{id}/{i}"), &mut conflicts)
            .await
            .map_err(|e| format!("{id} command {i}: {e}"))?;
        latencies.push(started.elapsed().as_micros() as u64);
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn submit(id: &str, resident: &str, n: usize) -> TicketCommand {
    const DESCRIPTIONS: [&str; 4] = [
        "Leaking tap in the shared kitchen, 2F",
        "Needs help carrying groceries upstairs",
        "Street lamp out at the north gate path",
        "Elderly neighbour asks for a pharmacy run",
    ];
    TicketCommand::Submit {
        ticket: id.to_string(),
        item: format!("CS-{:03}", 1 + n % 40),
        grid: format!("440802-001-{:03}-{:03}-{:02}", 1 + n % 9, 1 + n % 30, 1 + n % 4),
        resident: resident.to_string(),
        description: DESCRIPTIONS[n % DESCRIPTIONS.len()].to_string(),
        urgency: "normal".into(),
        channel: "app".into(),
        at: timestamp(0),
        accept_by: timestamp(30 * 60_000),
        resolve_by: timestamp(24 * 3_600_000),
    }
}

/// `cqrs.execute` with the metadata gridloop's envelope carries (command id,
/// actor), retrying a conflicting commit as gridloop's command service does
/// (each retry reloads the aggregate and decides again); `conflicts` counts
/// the retries.
async fn execute(
    cqrs: &Cqrs,
    id: &str,
    command: TicketCommand,
    actor: &str,
    command_id: &str,
    conflicts: &mut u32,
) -> Result<(), AggregateError<TicketError>> {
    let mut retries = 0;
    loop {
        let metadata = HashMap::from([
            ("command_id".to_string(), command_id.to_string()),
            ("actor".to_string(), actor.to_string()),
        ]);
        match cqrs
            .execute_with_metadata(id, command.clone(), metadata)
            .await
        {
            Err(AggregateError::AggregateConflict) if retries < MAX_CONFLICT_RETRIES => {
                retries += 1;
                *conflicts += 1;
            }
            result => return result,
        }
    }
}

// ---------------------------------------------------------------------------
// The accept race: R volunteers accept the same offer at once, K offers.

async fn race(
    args: &Args,
    racers: usize,
    cqrs: &Arc<Cqrs>,
    pool: &Pool<Postgres>,
    run_id: &str,
    pool_size: u32,
) -> Result<(), String> {
    let offers = args.offers;
    eprintln!("peer: accept race, {racers} volunteers x {offers} offers, pool {pool_size}, run {run_id}");
    let candidates: Vec<String> = (1..=racers).map(|v| format!("V-{v}")).collect();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = spawn_progress("races", offers as u64, done.clone(), stop.clone());

    let mut winners = 0u64;
    let mut races_with_one_winner = 0u64;
    let mut already_taken = 0u64;
    let mut conflicts = 0u64;
    let mut race_us: Vec<u64> = Vec::with_capacity(offers);
    let mut accept_us: Vec<u64> = Vec::with_capacity(offers * racers);
    let mut total = Duration::ZERO;
    for k in 0..offers {
        let id = format!("T-{run_id}-r{k}");
        let resident = format!("R-{}", 1000 + k % 5000);
        let mut setup_conflicts = 0;
        execute(cqrs, &id, submit(&id, &resident, k), &resident, &format!("{id}/0"), &mut setup_conflicts)
            .await
            .map_err(|e| format!("{id} submit: {e}"))?;
        let offer = TicketCommand::Offer {
            round: 0,
            candidates: candidates.clone(),
            expires_at: timestamp(15 * 60_000),
            at: timestamp(0),
        };
        execute(cqrs, &id, offer, "dispatcher", &format!("{id}/1"), &mut setup_conflicts)
            .await
            .map_err(|e| format!("{id} offer: {e}"))?;

        let barrier = Arc::new(Barrier::new(racers + 1));
        let mut tasks = Vec::with_capacity(racers);
        for volunteer in candidates.iter().cloned() {
            let cqrs = cqrs.clone();
            let barrier = barrier.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let accept = TicketCommand::Accept {
                    volunteer: volunteer.clone(),
                    round: 0,
                    at: timestamp(0),
                };
                let mut conflicts = 0;
                let result = execute(&cqrs, &id, accept, &volunteer, &format!("{id}/{volunteer}"), &mut conflicts).await;
                (result, conflicts, started.elapsed().as_micros() as u64)
            }));
        }
        barrier.wait().await;
        let started = Instant::now();
        let mut won = 0;
        for task in tasks {
            let (result, c, us) = task.await.map_err(|e| format!("racer task: {e}"))?;
            accept_us.push(us);
            conflicts += u64::from(c);
            match result {
                Ok(()) => won += 1,
                Err(AggregateError::UserError(TicketError::AlreadyTaken)) => already_taken += 1,
                Err(e) => return Err(format!("{id} accept: {e}")),
            }
        }
        let elapsed = started.elapsed();
        total += elapsed;
        race_us.push(elapsed.as_micros() as u64);
        winners += won;
        if won == 1 {
            races_with_one_winner += 1;
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;

    // The proof from the table itself: one `ticket.accepted` per offered ticket.
    let stored = count_events(pool, &format!("T-{run_id}-r%"), Some("ticket.accepted")).await?;
    let exactly_one = races_with_one_winner == offers as u64 && stored == offers as u64;
    race_us.sort_unstable();
    accept_us.sort_unstable();
    let seconds = total.as_secs_f64();
    let line = json!({
        "race": racers,
        "offers": offers,
        "winners": winners,
        "accepted_events": stored,
        "exactly_one": exactly_one,
        "already_taken": already_taken,
        "conflicts_retried": conflicts,
        "seconds": round(seconds, 3),
        "ms_per_race": round(seconds * 1000.0 / offers as f64, 3),
        "race_p50_ms": percentile_ms(&race_us, 0.50),
        "race_p99_ms": percentile_ms(&race_us, 0.99),
        "accept_p50_ms": percentile_ms(&accept_us, 0.50),
        "accept_p99_ms": percentile_ms(&accept_us, 0.99),
    });
    if args.json {
        println!("{line}");
    } else {
        println!(
            "accept race: {winners} winners / {offers} offers ({racers} volunteers each), {stored} accepted events stored, {:.1} ms per race",
            seconds * 1000.0 / offers as f64
        );
    }
    if !exactly_one {
        return Err(format!(
            "not exactly one winner per offer: {winners} winners, {races_with_one_winner} races with one, {stored} accepted events, {offers} offers"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------

async fn count_events(
    pool: &Pool<Postgres>,
    id_pattern: &str,
    event_type: Option<&str>,
) -> Result<u64, String> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM events WHERE aggregate_type = $1 AND aggregate_id LIKE $2 \
         AND ($3::text IS NULL OR event_type = $3)",
    )
    .bind(<Ticket as cqrs_es::Aggregate>::TYPE)
    .bind(id_pattern)
    .bind(event_type)
    .fetch_one(pool)
    .await
    .map_err(|e| format!("counting events: {e}"))?;
    Ok(n as u64)
}

fn spawn_progress(
    what: &'static str,
    total: u64,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut last = 0;
        loop {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            let now = done.load(Ordering::Relaxed);
            eprintln!(
                "peer:   {now}/{total} {what} ({:.0}/s now, {:.0} s)",
                (now - last) as f64 / 2.0,
                started.elapsed().as_secs_f64()
            );
            last = now;
        }
    })
}

/// The `p` quantile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    round(sorted_us[rank - 1] as f64 / 1000.0, 3)
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// Now plus `offset_ms`, as RFC 3339 with milliseconds in UTC (gridloop's
/// wire form, `2026-11-23T08:00:00.000Z`).
fn timestamp(offset_ms: u64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        + offset_ms;
    let (secs, millis) = (ms / 1000, ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_pick_the_rank() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(super::percentile_ms(&v, 0.5), 500.0);
        assert_eq!(super::percentile_ms(&v, 0.99), 990.0);
        assert_eq!(super::percentile_ms(&v, 0.999), 999.0);
    }

    #[test]
    fn timestamps_look_like_gridloops() {
        let t = super::timestamp(0);
        assert_eq!(t.len(), "2026-11-23T08:00:00.000Z".len());
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
