//! `gridloop bench`: how fast gridloop is, measured beside its limits in one
//! run on one machine, so that the ratios mean something wherever it runs.
//!
//! | scenario  | what                                                                                   |
//! |-----------|----------------------------------------------------------------------------------------|
//! | commands  | 1, 8, 64 clients driving tickets submit → offer → accept → resolve → feedback → close through the command service |
//! | raw       | the same events, same size, same durability, straight into the store (sled: insert + group flush; NATS: pipelined publish) |
//! | peer      | cqrs-es on postgres-es, read from `--peer-results` (written by `scripts/bench-peer`) |
//! | race      | 64 volunteers accepting one offer, again and again: exactly one winner each              |
//! | rebuild   | a generated log folded into every projection: events/s, memory, bytes on disk per event |
//! | dispatch  | `POST /tickets` answered → the policy's offer seen by a log subscriber                    |
//! | http      | 64 keep-alive clients: `POST /tickets`, `GET /tickets/{id}`                               |
//!
//! Every scenario gets a fresh store: a new directory under the work
//! directory on sled, a new stream (and subject prefix) on NATS. Progress
//! goes to stderr; the table to stdout; `--json` writes every figure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, ItemCode, ResidentId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Channel, Rating, TicketCommand, Urgency};
use gridloop_engine::time::Millis;
use gridloop_fixtures::District;
use serde::Serialize;

use crate::store::LogStore;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub quick: bool,
    /// `None`/`sled`: sled in the work directory; else a `nats://` address.
    pub store: Option<String>,
    pub work_dir: PathBuf,
    pub peer_results: Option<PathBuf>,
    /// Events in the rebuild log(s).
    pub rebuild_events: Vec<u64>,
    /// The scenarios to run.
    pub only: Vec<Scenario>,
}

/// The scenarios, as `--only` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Commands,
    Raw,
    Race,
    Rebuild,
    Offer,
    Http,
}

impl Scenario {
    pub const ALL: [Scenario; 6] =
        [Scenario::Commands, Scenario::Raw, Scenario::Race, Scenario::Rebuild, Scenario::Offer, Scenario::Http];
}

/// One line of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub setting: String,
    pub figures: BTreeMap<&'static str, f64>,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub store: String,
    pub quick: bool,
    pub machine: BTreeMap<&'static str, String>,
    pub rows: Vec<Row>,
}

/// A fresh store for one scenario.
struct Stores {
    options: BenchOptions,
    next: AtomicU64,
}

impl Stores {
    async fn fresh(&self) -> Result<LogStore> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let dir = self.options.work_dir.join(format!("store-{n}"));
        match self.options.store.as_deref() {
            None | Some("sled") => LogStore::open(&dir, None).await,
            Some(url) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let unique = format!("{}{n}", std::process::id());
                let url = format!("{url}{sep}stream=BENCH{unique}&prefix=bench{unique}");
                LogStore::open(&dir, Some(&url)).await
            }
        }
    }
}

/// Runs every scenario and returns the report; `progress` hears about each.
pub async fn run(options: BenchOptions, progress: impl Fn(&str)) -> Result<Report> {
    std::fs::create_dir_all(&options.work_dir)?;
    let district = Arc::new(gridloop_fixtures::chikan(1)?);
    let stores = Stores { options: options.clone(), next: AtomicU64::new(1) };
    let mut rows = Vec::new();
    let per_client = if options.quick { 8 } else { 200 };
    let mut gridloop_rates = BTreeMap::new();
    // The disk of a shared virtual machine is noisy: the throughput rows
    // keep the best of three runs (gridloop's and the raw store's alike).
    let runs = if options.quick { 1 } else { 3 };
    let wanted = |s: Scenario| options.only.contains(&s);
    if wanted(Scenario::Commands) {
        for clients in [1usize, 8, 64] {
            let mut best: Option<Row> = None;
            for run in 1..=runs {
                progress(&format!("commands: {clients} clients, run {run} of {runs}"));
                best = Some(faster(best, commands(&stores, &district, clients, per_client).await?, runs));
            }
            let row = best.expect("one run at least");
            gridloop_rates.insert(clients, row.figures["events_per_s"]);
            rows.push(row);
        }
    }
    if wanted(Scenario::Raw) {
        let mut best: Option<Row> = None;
        for run in 1..=runs {
            progress(&format!("raw store limit, run {run} of {runs}"));
            best = Some(faster(best, raw_limit(&stores, 64, per_client * 64 * 6).await?, runs));
        }
        let mut raw = best.expect("one run at least");
        if let Some(rate) = gridloop_rates.get(&64) {
            raw.figures.insert("gridloop_64_pct_of_raw", rate / raw.figures["events_per_s"] * 100.0);
            if let Some(&in_flight) = raw.figures.get("events_per_s_64_in_flight") {
                raw.figures.insert("gridloop_64_pct_of_raw_64_in_flight", rate / in_flight * 100.0);
            }
        }
        rows.push(raw);
    }
    if let Some(path) = &options.peer_results
        && wanted(Scenario::Commands)
    {
        rows.extend(peer_rows(path, &gridloop_rates)?);
    }
    if wanted(Scenario::Race) {
        progress("accept race");
        rows.push(race(&stores, &district, if options.quick { 20 } else { 1_000 }).await?);
    }
    if wanted(Scenario::Rebuild) {
        for &events in &options.rebuild_events {
            progress(&format!("rebuild: generating {events} events"));
            rows.push(rebuild(&stores, &district, events, &progress).await?);
        }
    }
    if wanted(Scenario::Offer) {
        progress("submit → offer");
        rows.push(submit_to_offer(&stores, &district, if options.quick { 20 } else { 200 }).await?);
    }
    if wanted(Scenario::Http) {
        progress("http");
        rows.extend(http(&stores, &district, if options.quick { 5 } else { 40 }).await?);
    }
    Ok(Report {
        store: options.store.clone().unwrap_or_else(|| "sled".into()),
        quick: options.quick,
        machine: machine(),
        rows,
    })
}

/// The machine the figures came from.
pub fn machine() -> BTreeMap<&'static str, String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string());
    let memory = read("/proc/meminfo").lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string());
    let mut out = BTreeMap::new();
    out.insert("cores", std::thread::available_parallelism().map(|n| n.to_string()).unwrap_or_default());
    out.insert("cpu", cpu.unwrap_or_default());
    out.insert("memory_kib", memory.unwrap_or_default());
    out.insert("load_average", read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    out
}

fn service(store: LogStore, district: &District) -> Arc<CommandService<LogStore>> {
    Arc::new(CommandService::new(store, district.world.clone(), Arc::new(gridloop_http::SystemClock), 11))
}

fn envelope(id: &TicketId, key: String, actor: &Actor, command: TicketCommand) -> Result<CommandEnvelope> {
    Ok(CommandEnvelope {
        command_id: CommandId::new(key)?,
        correlation_id: None,
        actor: actor.clone(),
        command: Command::Ticket { id: id.clone(), command },
        expected_version: None,
    })
}

/// An order in the district's first comprehensive grid, for a volunteer item.
fn submit(district: &District, resident: &str) -> Result<TicketCommand> {
    let grid = district.world.grids.at_level(gridloop_engine::grid::Level::Grid).next().context("a grid")?.code.clone();
    Ok(TicketCommand::Submit {
        photos: vec![],
        item: ItemCode::new("CS-001")?,
        grid,
        resident: ResidentId::new(resident)?,
        description: "独居老人需要上门探访 an elderly neighbour needs a visit".into(),
        urgency: Urgency::Normal,
        channel: Channel::QrCode,
        location: None,
    })
}

/// One ticket's whole loop; the latency of each command, and events written.
async fn lifecycle(
    service: &CommandService<LogStore>,
    district: &District,
    number: u64,
    latencies: &mut Vec<Duration>,
) -> Result<u64> {
    lifecycle_on(service, district, number, latencies).await
}

/// How many volunteers the lifecycles take turns offering to (`V-1` on).
const LIFECYCLE_VOLUNTEERS: u64 = 500;

/// [`lifecycle`] on any store.
async fn lifecycle_on<S: EventStore>(
    service: &CommandService<S>,
    district: &District,
    number: u64,
    latencies: &mut Vec<Duration>,
) -> Result<u64> {
    let id = TicketId::from_number(number);
    let resident_id = format!("r-{number}");
    let resident = Actor::new(Role::Resident, &resident_id)?;
    let dispatcher = Actor::new(Role::Dispatcher, "d-bench")?;
    let volunteer_id = VolunteerId::from_number(1 + number % LIFECYCLE_VOLUNTEERS);
    let volunteer = Actor::new(Role::Volunteer, volunteer_id.as_str())?;
    let now = service.clock().now();
    let steps = [
        (&resident, submit(district, &resident_id)?),
        (
            &dispatcher,
            TicketCommand::Offer {
                candidates: vec![Assignee::Volunteer(volunteer_id.clone())],
                expires_at: now.plus(Millis::minutes(30)),
            },
        ),
        (&volunteer, TicketCommand::AcceptOffer { by: Assignee::Volunteer(volunteer_id.clone()) }),
        (&volunteer, TicketCommand::Resolve { photos: vec![], result: "已上门探访 visited".into(), minutes_spent: 45 }),
        (&resident, TicketCommand::GiveFeedback { rating: Rating::Satisfied, comment: String::new() }),
        (&dispatcher, TicketCommand::Close),
    ];
    let mut events = 0;
    for (step, (actor, command)) in steps.into_iter().enumerate() {
        let started = Instant::now();
        let outcome = service.execute(envelope(&id, format!("bench-{number}-{step}"), actor, command)?).await?;
        latencies.push(started.elapsed());
        events += outcome.append.map_or(0, |a| a.last_version - a.first_version + 1);
    }
    Ok(events)
}

async fn commands(stores: &Stores, district: &Arc<District>, clients: usize, per_client: u64) -> Result<Row> {
    let service = service(stores.fresh().await?, district);
    register_first(&service, district, LIFECYCLE_VOLUNTEERS as usize).await?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients as u64)
        .map(|c| {
            let (service, district) = (service.clone(), district.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut events = 0;
                for t in 0..per_client {
                    events += lifecycle(&service, &district, 1 + c * 1_000_000 + t, &mut latencies).await?;
                }
                anyhow::Ok((events, latencies))
            })
        })
        .collect();
    let (mut events, mut latencies) = (0, Vec::new());
    for task in tasks {
        let (e, l) = task.await??;
        events += e;
        latencies.extend(l);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut figures = percentiles(&mut latencies);
    figures.insert("commands_per_s", latencies.len() as f64 / seconds);
    figures.insert("events_per_s", events as f64 / seconds);
    Ok(Row { scenario: "commands", setting: format!("{clients} clients"), figures })
}

/// p50/p99/p999 in milliseconds.
fn percentiles(latencies: &mut [Duration]) -> BTreeMap<&'static str, f64> {
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    BTreeMap::from([("p50_ms", at(0.50)), ("p99_ms", at(0.99)), ("p999_ms", at(0.999))])
}

/// The body of one event as a store holds it.
fn sample_event() -> Vec<u8> {
    let event = serde_json::json!({
        "event_id": "01a19eb4-a000-7e07-ad41-1d5987af90a7", "stream": "ticket-T-1000001", "version": 2,
        "occurred_at": "2026-11-23T08:00:00.000Z", "actor": { "role": "dispatcher", "id": "d-bench" },
        "command_id": "bench-1000001-1", "correlation_id": "T-1000001", "schema": "ticket.offered/1",
        "payload": { "candidates": [{ "kind": "volunteer", "id": "V-2" }], "expires_at": "2026-11-23T08:30:00.000Z", "round": 1 },
        "prev_hash": "8ecc40b1708bccacfbb1344fe818df6d20e640b78132271101b5bfc70e9245cf",
        "hash": "195fe976a9faeff95d2f7411154c08e6ff40502e0b2df61d2ed36c1be4a8c067"
    });
    serde_json::to_vec(&event).expect("json")
}

async fn raw_limit(stores: &Stores, clients: usize, events: u64) -> Result<Row> {
    let body = sample_event();
    let store = stores.fresh().await?;
    let (setting, rate) = match &store {
        LogStore::Sled(_) => {
            let dir = stores.options.work_dir.join(format!("raw-sled-{}", stores.next.fetch_add(1, Ordering::SeqCst)));
            ("sled insert, group flush, 64 writers".to_string(), raw_sled(&dir, clients, events, body).await?)
        }
        LogStore::Nats { nats, .. } => {
            let rate = raw_nats(nats, events, body.clone(), 1_000).await?;
            // The same publishes with at most as many in flight as gridloop
            // has clients: what pipelining alone is worth.
            let in_flight_64 = raw_nats(nats, events, body, clients).await?;
            let figures = BTreeMap::from([("events_per_s", rate), ("events_per_s_64_in_flight", in_flight_64)]);
            return Ok(Row { scenario: "raw", setting: "NATS pipelined publish, acks per 1,000".into(), figures });
        }
    };
    Ok(Row { scenario: "raw", setting, figures: BTreeMap::from([("events_per_s", rate)]) })
}

/// Raw sled with group commit: 64 writer threads insert an event each and
/// wait for a flush that began after their insert; one flusher thread
/// flushes back to back, so every flush (one fsync) covers every insert made
/// while the previous one ran. The same durability as gridloop's sled store
/// (acknowledged = on disk), without the envelope, hashing, indexes or
/// command service.
async fn raw_sled(dir: &Path, clients: usize, events: u64, body: Vec<u8>) -> Result<f64> {
    use std::sync::{Condvar, Mutex};
    let db = sled::open(dir)?;
    let per = events / clients as u64;
    let total = per * clients as u64;
    // (inserted, flushed): counts of inserts, and of inserts known durable.
    let progress = Arc::new((Mutex::new((0u64, 0u64)), Condvar::new()));
    let started = Instant::now();
    let flusher = {
        let (db, progress) = (db.clone(), progress.clone());
        std::thread::spawn(move || -> Result<()> {
            loop {
                let inserted = progress.0.lock().expect("lock").0;
                db.flush()?;
                let mut state = progress.0.lock().expect("lock");
                state.1 = inserted;
                progress.1.notify_all();
                if inserted >= total {
                    return Ok(());
                }
            }
        })
    };
    let writers: Vec<_> = (0..clients as u64)
        .map(|c| {
            let (db, body, progress) = (db.clone(), body.clone(), progress.clone());
            std::thread::spawn(move || -> Result<()> {
                for i in 0..per {
                    db.insert((c << 40 | i).to_be_bytes(), body.as_slice())?;
                    let mut state = progress.0.lock().expect("lock");
                    state.0 += 1;
                    let mine = state.0;
                    while state.1 < mine {
                        state = progress.1.wait(state).expect("lock");
                    }
                }
                Ok(())
            })
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for writer in writers {
            writer.join().map_err(|_| anyhow::anyhow!("a raw writer panicked"))??;
        }
        flusher.join().map_err(|_| anyhow::anyhow!("the flusher panicked"))?
    })
    .await??;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Raw pipelined publish: up to `window` publishes in flight, then their
/// acks awaited, from one task.
async fn raw_nats(nats: &gridloop_store_nats::NatsStore, events: u64, body: Vec<u8>, window: usize) -> Result<f64> {
    let js = async_nats::jetstream::new(nats.client().clone());
    let name = format!("RAW{}W{window}", std::process::id());
    let config = nats.config();
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("creating the raw stream: {e}"))?;
    let started = Instant::now();
    let mut pending = Vec::with_capacity(window);
    for i in 0..events {
        let subject = format!("{}.{}", name.to_lowercase(), i % 1_000);
        let ack = js.publish(subject, body.clone().into()).await?;
        pending.push(std::future::IntoFuture::into_future(ack));
        if pending.len() == window {
            for ack in pending.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in pending {
        ack.await?;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let _ = js.delete_stream(&name).await;
    Ok(rate)
}

/// The peer's lines (`scripts/bench-peer`), each beside gridloop's rate at
/// the same concurrency.
fn peer_rows(path: &Path, gridloop: &BTreeMap<usize, f64>) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--peer-results {}", path.display()))?;
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: {line}", path.display()))?;
        if value.get("race").is_some() {
            let mut figures = BTreeMap::new();
            for key in ["offers", "winners", "ms_per_race", "race_p50_ms", "race_p99_ms"] {
                if let Some(x) = value[key].as_f64() {
                    figures.insert(key, x);
                }
            }
            figures.insert("exactly_one", f64::from(u8::from(value["exactly_one"].as_bool() == Some(true))));
            rows.push(Row { scenario: "peer", setting: "cqrs-es + postgres-es, accept race".into(), figures });
            continue;
        }
        let Some(clients) = value["clients"].as_u64() else { continue };
        let mut figures = BTreeMap::new();
        for key in ["events_per_s", "commands_per_s", "p50_ms", "p99_ms", "p999_ms"] {
            if let Some(x) = value[key].as_f64() {
                figures.insert(key, x);
            }
        }
        if let (Some(ours), Some(theirs)) = (gridloop.get(&(clients as usize)), figures.get("events_per_s")) {
            figures.insert("gridloop_multiple", ours / theirs.max(1e-9));
        }
        rows.push(Row { scenario: "peer", setting: format!("cqrs-es + postgres-es, {clients} clients"), figures });
    }
    Ok(rows)
}

async fn race(stores: &Stores, district: &Arc<District>, races: u64) -> Result<Row> {
    const RACERS: u64 = 64;
    let service = service(stores.fresh().await?, district);
    register_first(&service, district, RACERS as usize).await?;
    let dispatcher = Actor::new(Role::Dispatcher, "d-bench")?;
    let mut times = Vec::new();
    let mut exactly_one = 0;
    for r in 0..races {
        let id = TicketId::from_number(1 + r);
        let resident = Actor::new(Role::Resident, "r-1")?;
        service.execute(envelope(&id, format!("race-{r}-submit"), &resident, submit(district, "r-1")?)?).await?;
        let candidates: Vec<Assignee> =
            (1..=RACERS).map(|n| Assignee::Volunteer(VolunteerId::from_number(n))).collect();
        let expires_at = service.clock().now().plus(Millis::minutes(30));
        let offer = TicketCommand::Offer { candidates: candidates.clone(), expires_at };
        service.execute(envelope(&id, format!("race-{r}-offer"), &dispatcher, offer)?).await?;
        let started = Instant::now();
        let racers: Vec<_> = candidates
            .into_iter()
            .enumerate()
            .map(|(n, by)| {
                let service = service.clone();
                let actor = Actor::new(Role::Volunteer, &format!("V-{}", n + 1));
                let envelope = actor.map_err(anyhow::Error::from).and_then(|actor| {
                    envelope(&id, format!("race-{r}-accept-{n}"), &actor, TicketCommand::AcceptOffer { by })
                });
                tokio::spawn(async move { service.execute(envelope?).await.map_err(anyhow::Error::from) })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            match racer.await? {
                Ok(_) => winners += 1,
                Err(e) if matches!(e.downcast_ref(), Some(gridloop_engine::Error::AlreadyTaken { .. })) => {}
                Err(e) => return Err(e.context("a racer failed")),
            }
        }
        times.push(started.elapsed());
        if winners != 1 {
            bail!("race {r}: {winners} winners");
        }
        exactly_one += 1;
    }
    let total: f64 = times.iter().map(Duration::as_secs_f64).sum();
    let mut figures = percentiles(&mut times);
    figures.insert("races", races as f64);
    figures.insert("races_with_one_winner", exactly_one as f64);
    figures.insert("ms_per_race", total / races as f64 * 1e3);
    Ok(Row { scenario: "race", setting: format!("64 volunteers × {races} offers"), figures })
}

/// Generates a log of about `events` events, then folds it into all five
/// projections in one pass (one read of the log, each event applied to
/// each projection), as a restart without snapshots does.
///
/// Generating through the command service would take longer than the
/// rebuild it measures, so one ticket's whole loop is run through the real
/// service once (on a memory store), and its six events are then appended
/// for every ticket as one atomic append each (new event and command ids,
/// the same payloads), by 64 writers; the store computes every hash chain.
async fn rebuild(stores: &Stores, district: &Arc<District>, events: u64, progress: &impl Fn(&str)) -> Result<Row> {
    const WRITERS: u64 = 256;
    let store = stores.fresh().await?;
    let template = Arc::new(loop_template(district).await?);
    let tickets = events / template.len() as u64;
    let done = Arc::new(AtomicU64::new(0));
    let generating = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, template, done) = (store.clone(), template.clone(), done.clone());
            tokio::spawn(async move {
                let mut t = w;
                while t < tickets {
                    append_loop(&store, &template, 1 + t).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                    t += WRITERS;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    let (stop_ticker, ticker) = ticker(done, tickets);
    for task in tasks {
        task.await??;
    }
    let _ = stop_ticker.send(());
    let _ = ticker.await;
    let generated_s = generating.elapsed().as_secs_f64();
    let mut figures = BTreeMap::new();
    if let LogStore::Sled(sled) = &store {
        progress("rebuild: walking sled's records without decoding them");
        let started = Instant::now();
        let (scanned, _) = sled.scan_events()?;
        figures.insert("scan_only_events_per_s", scanned as f64 / started.elapsed().as_secs_f64());
    }
    progress("rebuild: reading the log without folding (the baseline)");
    let started = Instant::now();
    let (read, json) = read_only(&store).await?;
    let read_s = started.elapsed().as_secs_f64();
    progress("rebuild: folding");
    let before_kib = peak_rss_kib();
    let started = Instant::now();
    let folded = fold_all(&store).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(folded == read, "the fold saw {folded} events, the read {read}");
    let disk = match &store {
        LogStore::Sled(sled) => sled.size_on_disk(),
        LogStore::Nats { nats, .. } => nats.stored_bytes().await?,
    };
    figures.insert("events", folded as f64);
    figures.insert("generated_events_per_s", folded as f64 / generated_s);
    figures.insert("read_only_events_per_s", read as f64 / read_s);
    figures.insert("events_per_s_into_5_projections", folded as f64 / seconds);
    figures.insert("fold_pct_of_read_only", read_s / seconds * 100.0);
    figures.insert("peak_rss_growth_mib", peak_rss_kib().saturating_sub(before_kib) as f64 / 1024.0);
    figures.insert("disk_bytes_per_event", disk as f64 / folded.max(1) as f64);
    figures.insert("disk_over_json", disk as f64 / json.max(1) as f64);
    Ok(Row { scenario: "rebuild", setting: format!("{folded} events, 5 projections, one pass"), figures })
}

/// The faster of two runs of one scenario, with how many runs were made.
fn faster(best: Option<Row>, mut row: Row, runs: u32) -> Row {
    row.figures.insert("best_of_runs", f64::from(runs));
    match best {
        Some(best) if best.figures["events_per_s"] >= row.figures["events_per_s"] => best,
        _ => row,
    }
}

/// One ticket's loop through the real command service on a memory store:
/// its events, to be appended again under other tickets' ids.
async fn loop_template(district: &District) -> Result<Vec<gridloop_engine::envelope::NewEvent>> {
    let memory = gridloop_engine::store::MemoryStore::new();
    let service = CommandService::new(memory.clone(), district.world.clone(), Arc::new(gridloop_http::SystemClock), 3);
    register_first(&service, district, 2).await?;
    let registered = memory.snapshot().len();
    lifecycle_on(&service, district, 1, &mut Vec::new()).await?;
    // The ticket's own events only: the registrations are set-up.
    Ok(memory.snapshot().iter().skip(registered).map(gridloop_engine::envelope::RecordedEvent::to_new).collect())
}

/// Appends the template's events as ticket `number`'s whole stream, in one append.
async fn append_loop(store: &LogStore, template: &[gridloop_engine::envelope::NewEvent], number: u64) -> Result<()> {
    let id = TicketId::from_number(number);
    let mut rng = gridloop_engine::rng::SplitMix64::new(number);
    let command = CommandId::new(format!("gen-{number}"))?;
    let correlation = gridloop_engine::ids::CorrelationId::new(id.as_str())?;
    let events = template
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.event_id = rng.uuid_v7(e.occurred_at.as_millis());
            e.command_id = command.clone();
            e.correlation_id = correlation.clone();
            e
        })
        .collect();
    let stream = gridloop_engine::ids::StreamId::ticket(&id);
    store.append(&stream, gridloop_engine::store::ExpectedVersion::NoStream, events).await?;
    Ok(())
}

/// Prints how far generation has got every five seconds, until told to stop.
fn ticker(done: Arc<AtomicU64>, tickets: u64) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {
                    eprintln!("  rebuild: {}/{tickets} tickets written", done.load(Ordering::Relaxed));
                }
                _ = &mut rx => break,
            }
        }
    });
    (tx, handle)
}

/// Reads the whole log once, applying each event to all five projections.
async fn fold_all(store: &LogStore) -> Result<u64> {
    use gridloop_projections::runner::Projection;
    let mut board = gridloop_projections::board::Board::default();
    let mut metrics = gridloop_projections::metrics::Metrics::default();
    let mut ledger = gridloop_projections::ledger::Ledger::default();
    let mut directory = gridloop_projections::directory::Directory::default();
    let mut deadlines = gridloop_policies::deadlines::DeadlineIndex::default();
    let mut folded = 0u64;
    crate::store::scan_log(store, |batch| {
        for event in batch {
            board.evolve(event)?;
            metrics.evolve(event)?;
            ledger.evolve(event)?;
            directory.evolve(event)?;
            deadlines.evolve(event)?;
        }
        folded += batch.len() as u64;
        report_million(folded, batch.len() as u64, "folded");
        Ok(())
    })
    .await?;
    Ok(folded)
}

/// Reads the whole log once, as the fold does, without folding: the
/// baseline for the fold's rate. Also the events' JSON bytes, from every
/// 64th event (the generated events come from one template, so the sample
/// is close; serialising all of them would cost more than the fold).
async fn read_only(store: &LogStore) -> Result<(u64, u64)> {
    const SAMPLE_EVERY: u64 = 64;
    let (mut read, mut json) = (0u64, 0u64);
    crate::store::scan_log(store, |batch| {
        for event in batch {
            if read % SAMPLE_EVERY == 0 {
                json += serde_json::to_vec(event).map_or(0, |b| b.len() as u64) * SAMPLE_EVERY;
            }
            read += 1;
        }
        report_million(read, batch.len() as u64, "read");
        Ok(())
    })
    .await?;
    Ok((read, json))
}

/// Says how far a pass over a long log has got, at each millionth event.
fn report_million(done: u64, batch: u64, what: &str) {
    if done / 1_000_000 != (done - batch) / 1_000_000 {
        eprintln!("  rebuild: {} M events {what}", done / 1_000_000);
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// From `POST /tickets` answered to the dispatcher policy's offer seen by a
/// subscriber of the log, with the policy running as `serve --auto-dispatch` runs it.
async fn submit_to_offer(stores: &Stores, district: &Arc<District>, tickets: u64) -> Result<Row> {
    let store = stores.fresh().await?;
    let service = service(store.clone(), district);
    register_volunteers(&service, district).await?;
    let (addr, token, stop, server) = serve(service.clone()).await?;
    let policy = tokio::spawn(gridloop_policies::autodispatch::run(service.clone(), stop.subscribe()));
    let seen: Arc<std::sync::Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let watcher = {
        let (seen, store) = (seen.clone(), store.clone());
        let mut subscription = store.subscribe_all(store.head_position().await? + 1);
        tokio::spawn(async move {
            while let Ok(event) = subscription.next().await {
                if event.schema.name == "ticket.offered" {
                    seen.lock().expect("seen lock").entry(event.stream.id().to_string()).or_insert_with(Instant::now);
                }
            }
        })
    };
    // A grid where a volunteer with the item's skill lives, so that the
    // policy's first ring finds someone to offer it to.
    let grid = district
        .volunteers
        .iter()
        .find(|v| v.skills.iter().any(|s| s.as_str() == "elderly_care"))
        .map(|v| v.home_grid.clone())
        .context("a volunteer who cares for the elderly")?;
    let order =
        format!(r#"{{"category":"CS-001","grid":"{grid}","description":"独居老人需要上门探访","resident":"r-1"}}"#);
    let mut client = KeepAlive::connect(addr).await?;
    let mut latencies = Vec::new();
    for n in 0..tickets {
        // Spread over the tokens, each with its own rate limit.
        let token = &token[n as usize % token.len()];
        let (status, body) = client.send("POST", "/api/v1/tickets", token, &order).await?;
        let answered = Instant::now();
        if status != 201 {
            bail!("POST /tickets answered {status}: {body}");
        }
        let id = serde_json::from_str::<serde_json::Value>(&body)?["id"].as_str().context("an id")?.to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        let offered = loop {
            if let Some(at) = seen.lock().expect("seen lock").get(&id) {
                break *at;
            }
            if Instant::now() > deadline {
                bail!("{id} was not offered within 10 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push(offered.saturating_duration_since(answered));
    }
    let _ = stop.send(true);
    watcher.abort();
    let _ = policy.await;
    server.abort();
    let mut figures = percentiles(&mut latencies);
    figures.insert("tickets", tickets as f64);
    Ok(Row { scenario: "dispatch", setting: "POST /tickets answered → offer seen".into(), figures })
}

async fn register_volunteers(service: &CommandService<LogStore>, district: &District) -> Result<()> {
    register_first(service, district, district.volunteers.len()).await
}

/// Registers the fixture's first `n` volunteers (`V-1` to `V-n`): the
/// engine offers only to volunteers who exist, so a scenario registers
/// whom it offers to before its clock starts.
async fn register_first<S: EventStore>(service: &CommandService<S>, district: &District, n: usize) -> Result<()> {
    for v in district.volunteers.iter().take(n) {
        service.execute(v.registration(CommandId::new(format!("register-{}", v.id))?)).await?;
    }
    Ok(())
}

type Served = (std::net::SocketAddr, Vec<String>, tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// The API on a loopback port, with 64 district dispatchers' tokens (one
/// per client: each token has its own rate limit, as each real caller does).
async fn serve(service: Arc<CommandService<LogStore>>) -> Result<Served> {
    let mut tokens = gridloop_http::TokenTable::new();
    let mut token = Vec::new();
    for n in 0..64 {
        let (text, entry) = gridloop_http::TokenTable::issue(Role::Dispatcher, &format!("d-bench-{n}"), None)?;
        tokens.insert(entry)?;
        token.push(text);
    }
    let state = gridloop_http::AppState::new(service.clone(), tokens, gridloop_http::Cold::default()).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(gridloop_http::reads::follow(state.live.clone(), service.store().clone(), stopped));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = gridloop_http::router(state);
    let server = tokio::spawn(async move {
        let options = gridloop_http::server::Options::default();
        let _ = gridloop_http::serve(listener, app, options, std::future::pending()).await;
    });
    Ok((addr, token, stop, server))
}

/// HTTP: 64 keep-alive clients ordering then reading each ticket.
async fn http(stores: &Stores, district: &Arc<District>, per_client: usize) -> Result<Vec<Row>> {
    const CLIENTS: usize = 64;
    let service = service(stores.fresh().await?, district);
    let (addr, token, stop, server) = serve(service).await?;
    let grid = district.world.grids.at_level(gridloop_engine::grid::Level::Grid).next().context("a grid")?.code.clone();
    let order = Arc::new(format!(
        r#"{{"category":"CS-001","grid":"{grid}","description":"独居老人需要上门探访","resident":"r-1"}}"#
    ));
    let run = |get: bool, ids: Vec<Vec<String>>| {
        let (token, order) = (token.clone(), order.clone());
        async move {
            let started = Instant::now();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (token, order, mine) =
                        (token[c].clone(), order.clone(), ids.get(c).cloned().unwrap_or_default());
                    tokio::spawn(async move {
                        let mut client = KeepAlive::connect(addr).await?;
                        let (mut latencies, mut made) = (Vec::new(), Vec::new());
                        for i in 0..per_client {
                            let at = Instant::now();
                            let (status, body) = if get {
                                client
                                    .send(
                                        "GET",
                                        &format!("/api/v1/tickets/{}", mine.get(i).map_or("", String::as_str)),
                                        &token,
                                        "",
                                    )
                                    .await?
                            } else {
                                client.send("POST", "/api/v1/tickets", &token, &order).await?
                            };
                            latencies.push(at.elapsed());
                            if !(200..300).contains(&status) {
                                bail!("{status}: {body}");
                            }
                            if !get {
                                let id = serde_json::from_str::<serde_json::Value>(&body)?["id"]
                                    .as_str()
                                    .unwrap_or("")
                                    .to_string();
                                made.push(id);
                            }
                        }
                        anyhow::Ok((latencies, made))
                    })
                })
                .collect();
            let (mut latencies, mut made) = (Vec::new(), Vec::new());
            for task in tasks {
                let (l, m) = task.await??;
                latencies.extend(l);
                made.push(m);
            }
            anyhow::Ok((latencies, made, started.elapsed().as_secs_f64()))
        }
    };
    let (mut posts, ids, post_seconds) = run(false, Vec::new()).await?;
    let (mut gets, _, get_seconds) = run(true, ids).await?;
    let _ = stop.send(true);
    server.abort();
    let row = |what: &str, latencies: &mut Vec<Duration>, seconds: f64| {
        let mut figures = percentiles(latencies);
        figures.insert("requests_per_s", latencies.len() as f64 / seconds);
        Row { scenario: "http", setting: format!("{what}, 64 keep-alive clients"), figures }
    };
    Ok(vec![row("POST /tickets", &mut posts, post_seconds), row("GET /tickets/{id}", &mut gets, get_seconds)])
}

/// A tiny HTTP/1.1 keep-alive client: one connection, one request at a
/// time (the benches' own, so that a client library's pooling and
/// buffering are not part of what they measure).
#[derive(Debug)]
pub struct KeepAlive {
    reader: tokio::io::BufReader<tokio::net::TcpStream>,
}

impl KeepAlive {
    /// Connects to `addr`, with Nagle's delay off.
    pub async fn connect(addr: std::net::SocketAddr) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self { reader: tokio::io::BufReader::new(stream) })
    }

    /// Sends one request (no `Authorization` when `token` is empty) and
    /// reads its answer whole: the status and the body.
    pub async fn send(&mut self, method: &str, path: &str, token: &str, body: &str) -> Result<(u16, String)> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let auth = if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).context("a status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// The table, one line per row.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "gridloop bench on {} ({}), {} cores, load {}\n",
        report.store,
        if report.quick { "quick" } else { "full" },
        report.machine.get("cores").map_or("?", String::as_str),
        report.machine.get("load_average").map_or("?", String::as_str)
    );
    for row in &report.rows {
        let figures: Vec<String> = row.figures.iter().map(|(k, v)| format!("{k}={}", format_figure(*v))).collect();
        out.push_str(&format!("{:<9} {:<44} {}\n", row.scenario, row.setting, figures.join("  ")));
    }
    out
}

fn format_figure(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
