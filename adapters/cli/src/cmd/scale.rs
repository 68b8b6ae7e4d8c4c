//! `gridloop bench --scale`: a city's log at several lengths, and what a
//! running `serve` costs on each.
//!
//! For each size the harness generates a log (the Chikan world imported
//! through the real bundle path, then a year of tickets decided by the real
//! command service and written through the real store, 64 lifecycles in
//! flight), always ending with the same number of open tickets; then it
//! starts this very binary as `gridloop serve` on it and measures the time
//! to ready, the memory, the disk, the p99 of three reads, and two
//! restarts: the first right after the first start (sled then recovers
//! everything that start wrote), the second with nothing written since.
//! The first start is the rebuild of every view `serve` keeps, in one pass
//! with their cold rows committed: its events/s is the rebuild figure.
//! `results.json`, one SVG per measure and a markdown table with a linear
//! extrapolation to 160 M events go to `--out`.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CommandId, ItemCode, ResidentId, TicketId, VolunteerId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Clock, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::ticket::{Assignee, Channel, Rating, TicketCommand, Urgency};
use gridloop_engine::time::{DAY_MS, MINUTE_MS, Millis, Timestamp};
use serde::Serialize;

use super::DataDir;
use super::scale_plot;
use crate::deployment::{Deployment, Setup};
use gridloop_cli::store::LogStore;

/// Lifecycles in flight while generating: enough for the store's group commit.
const WORKERS: u64 = 64;
/// Volunteers offered to (the bundle registers them); worker `w` offers only to those with `(n - 1) % 64 == w`,
/// so that no two workers race for one volunteer.
const VOLUNTEERS: u64 = 512;
/// How long a start may take before the harness gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(5400);
/// The events a size may hold at most.
pub const SIZE_MAX: u64 = 200_000_000;

/// What `--scale` was asked for.
#[derive(Clone, Debug)]
pub struct ScaleOptions {
    pub sizes: Vec<u64>,
    pub store: Option<String>,
    pub out: PathBuf,
    pub keep: bool,
    pub open: u64,
    pub requests: usize,
    pub seed: u64,
    pub disk_limit_bytes: u64,
}

/// Everything measured on one size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SizeResult {
    pub requested_events: u64,
    pub events: u64,
    pub tickets: u64,
    pub open_tickets: u64,
    pub refusals: u64,
    pub generate_seconds: f64,
    pub generate_events_per_s: f64,
    /// Every measure, by name (see [`MEASURES`]).
    pub measures: BTreeMap<String, f64>,
}

/// The file `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub store: String,
    pub world: String,
    pub open_tickets: u64,
    pub requests_per_read: usize,
    pub machine: BTreeMap<&'static str, String>,
    pub sizes: Vec<SizeResult>,
    /// Per measure: the least-squares line against events, and its value at 160 M.
    pub fits: BTreeMap<String, Fit>,
}

/// A line `value = intercept + slope × events`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Fit {
    pub intercept: f64,
    pub slope_per_million: f64,
    pub at_160m: f64,
}

/// The measures, their units and what they say, in the table's order.
pub const MEASURES: [(&str, &str, &str); 15] = [
    ("rss_ready_mib", "MiB", "RSS of serve, ready (first start)"),
    ("rss_after_queries_mib", "MiB", "RSS of serve after the reads"),
    ("hwm_mib", "MiB", "peak RSS of serve (VmHWM, first start)"),
    ("restart_rss_mib", "MiB", "RSS of serve, ready after a restart"),
    ("restart_again_rss_mib", "MiB", "RSS of serve, ready after a second restart"),
    ("disk_bytes_per_event", "B", "bytes on disk per event"),
    ("disk_gib", "GiB", "bytes on disk"),
    ("first_ready_s", "s", "first start to ready"),
    ("restart_ready_s", "s", "restart to ready (sled recovers the first start's writes)"),
    ("restart_again_ready_s", "s", "second restart to ready (nothing written since)"),
    ("p99_board_ms", "ms", "p99 board page (50 tickets)"),
    ("p99_rates_ms", "ms", "p99 a year's rates"),
    ("p99_audit_ms", "ms", "p99 one ticket's audit"),
    ("rebuild_events_per_s", "ev/s", "rebuild of every view (the first start), events/s"),
    ("generate_events_per_s", "ev/s", "generation through the command service, events/s"),
];

/// Parses `20k`, `1M`, `3m`, `10000`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, factor) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1_000),
        Some('m' | 'M') => (&text[..text.len() - 1], 1_000_000),
        _ => (text, 1),
    };
    let n: f64 = digits.parse().map_err(|_| format!("`{text}` is not a size like 20k, 1M or 10M"))?;
    let events = (n * factor as f64).round() as u64;
    if events < 1_000 || events > SIZE_MAX {
        return Err(format!("`{text}`: a size is 1k to {} M events", SIZE_MAX / 1_000_000));
    }
    Ok(events)
}

/// Runs every size, writes `results.json`, the plots and the table.
pub async fn run(options: ScaleOptions) -> Result<Results> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    let mut sizes = Vec::new();
    for (n, &events) in options.sizes.iter().enumerate() {
        let data = DataDir { dir: options.out.join(format!("data-{events}")), store: store_url(&options, n) };
        if data.dir.exists() {
            bail!("{} exists: remove it, or pick another --out", data.dir.display());
        }
        let result = one_size(&options, &data, events).await;
        if !options.keep {
            let _ = std::fs::remove_dir_all(&data.dir);
            delete_stream(&data).await;
        }
        let result = result.with_context(|| format!("the {events}-event size"))?;
        sizes.push(result);
        // Written after each size, so a long run that fails late keeps what it measured.
        write_results(&options, &sizes)?;
    }
    write_results(&options, &sizes)
}

/// The store of the `n`th size: sled, or a new stream on the NATS server.
fn store_url(options: &ScaleOptions, n: usize) -> Option<String> {
    let url = options.store.as_deref().filter(|s| *s != "sled")?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let unique = format!("{}x{n}", std::process::id());
    Some(format!("{url}{sep}stream=SCALE{unique}&prefix=scale{unique}"))
}

fn write_results(options: &ScaleOptions, sizes: &[SizeResult]) -> Result<Results> {
    let results = Results {
        store: options.store.clone().unwrap_or_else(|| "sled".into()),
        world: "Chikan (赤坎区) bundle: 8 streets, 38 communities, 1,500 grids, 55 catalog items, 124 teams, 2,795 \
                volunteers (the first 512 take the offers)"
            .into(),
        open_tickets: options.open,
        requests_per_read: options.requests,
        machine: gridloop_cli::bench::machine(),
        sizes: sizes.to_vec(),
        fits: fits(sizes),
    };
    std::fs::write(options.out.join("results.json"), serde_json::to_vec_pretty(&results)?)?;
    scale_plot::write_all(&options.out, &results)?;
    std::fs::write(options.out.join("table.md"), table(&results))?;
    Ok(results)
}

async fn one_size(options: &ScaleOptions, data: &DataDir, requested: u64) -> Result<SizeResult> {
    eprintln!("scale {}: generating", short(requested));
    let generated = generate(data, requested, options).await?;
    let mut result = SizeResult {
        requested_events: requested,
        events: generated.events,
        tickets: generated.tickets,
        open_tickets: generated.open,
        refusals: generated.refusals,
        generate_seconds: generated.seconds,
        generate_events_per_s: generated.events as f64 / generated.seconds.max(1e-9),
        measures: BTreeMap::new(),
    };
    let m = &mut result.measures;
    m.insert("generate_events_per_s".into(), result.generate_events_per_s);
    let token = write_token(&data.dir)?;
    eprintln!("scale {}: first start of serve", short(requested));
    let serve = Serve::start(data).await?;
    m.insert("first_ready_s".into(), serve.ready_s);
    let (rss, _) = serve.memory();
    m.insert("rss_ready_mib".into(), rss);
    let reads = Reads { token: &token, end: generated.end, history: generated.history_tickets, n: options.requests };
    for (name, p99) in reads.measure(serve.addr, options.seed).await? {
        m.insert(name, p99);
    }
    let (rss, hwm) = serve.memory();
    m.insert("rss_after_queries_mib".into(), rss);
    m.insert("hwm_mib".into(), hwm);
    serve.stop()?;
    eprintln!("scale {}: restart", short(requested));
    let serve = Serve::start(data).await?;
    m.insert("restart_ready_s".into(), serve.ready_s);
    m.insert("restart_rss_mib".into(), serve.memory().0);
    serve.stop()?;
    eprintln!("scale {}: restart again (nothing written since)", short(requested));
    let serve = Serve::start(data).await?;
    m.insert("restart_again_ready_s".into(), serve.ready_s);
    m.insert("restart_again_rss_mib".into(), serve.memory().0);
    serve.stop()?;
    let first = m.get("first_ready_s").copied().unwrap_or(f64::INFINITY);
    m.insert("rebuild_events_per_s".into(), generated.events as f64 / first.max(1e-9));
    let disk = du(&data.dir) + generated.stream_bytes;
    m.insert("disk_gib".into(), disk as f64 / f64::from(1u32 << 30));
    m.insert("disk_bytes_per_event".into(), disk as f64 / generated.events.max(1) as f64);
    eprintln!("scale {}: {}", short(requested), serde_json::to_string(&result.measures)?);
    Ok(result)
}

fn short(events: u64) -> String {
    match events {
        n if n >= 1_000_000 && n % 100_000 == 0 => format!("{}M", n as f64 / 1e6),
        n if n >= 1_000 && n % 100 == 0 => format!("{}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// What generation made.
struct Generated {
    events: u64,
    tickets: u64,
    history_tickets: u64,
    open: u64,
    refusals: u64,
    seconds: f64,
    /// The end of the generated year (the open tickets are submitted then).
    end: Timestamp,
    /// NATS: the stream's bytes on the server (not under the data directory).
    stream_bytes: u64,
}

/// Counters the workers share.
#[derive(Default)]
struct Progress {
    next_ticket: AtomicU64,
    events: AtomicU64,
    refusals: AtomicU64,
    open: AtomicU64,
    abort: AtomicBool,
}

/// Imports the world, registers the volunteers, writes a year of settled
/// tickets and then the open ones, with progress on stderr.
async fn generate(data: &DataDir, requested: u64, options: &ScaleOptions) -> Result<Generated> {
    let started = Instant::now();
    let deployment = Deployment::create(data, Setup { clock: None, id_seed: Some(options.seed) }).await?;
    // The bundle import registers the district's volunteers (V-1 on) too.
    let district = super::demo::import_chikan(&deployment).await?;
    if (district.volunteers.len() as u64) < VOLUNTEERS {
        bail!("the world has {} volunteers; the generator offers to {VOLUNTEERS}", district.volunteers.len());
    }
    let store = deployment.store().clone();
    let set_up = store.head_position().await?;
    // The year ends a day before now: each ticket's steps run hours past
    // its start, and no event may lie in the reader's future (the board's
    // tallies count only up to the latest event; a query before that
    // instant walks every match instead).
    let now = gridloop_http::SystemClock.now();
    let end = Timestamp::from_millis(now.as_millis() - DAY_MS as i64).unwrap_or(now);
    let grids: Arc<Vec<GridCode>> =
        Arc::new(deployment.world().grids.at_level(Level::Grid).map(|g| g.code.clone()).collect());
    // An open ticket writes about two events; the settled ones fill the rest.
    let history_events = requested.saturating_sub(set_up + options.open * 2);
    let plan = Plan { end, estimated_tickets: (history_events / 7).max(1), history_events, open: options.open };
    let progress = Arc::new(Progress::default());
    let ticker = spawn_ticker(progress.clone(), requested, set_up, data.dir.clone(), options.disk_limit_bytes);
    let history = run_workers(&store, &plan, &grids, options.seed, &progress, Phase::History).await;
    let history_tickets = progress.next_ticket.load(Ordering::SeqCst);
    let open = match history {
        Ok(()) => run_workers(&store, &plan, &grids, options.seed, &progress, Phase::Open).await,
        Err(e) => Err(e),
    };
    ticker.abort();
    if progress.abort.load(Ordering::SeqCst) {
        bail!("stopped: at the measured bytes per event this size would pass the disk limit (--disk-limit-gb)");
    }
    open?;
    let events = store.head_position().await?;
    let stream_bytes = match &store {
        LogStore::Nats { nats, .. } => nats.stored_bytes().await?,
        LogStore::Sled(_) => 0,
    };
    drop(store);
    drop(deployment);
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("  generated {events} events in {seconds:.1}s ({:.0} events/s)", events as f64 / seconds);
    Ok(Generated {
        events,
        tickets: progress.next_ticket.load(Ordering::SeqCst),
        history_tickets,
        open: progress.open.load(Ordering::SeqCst),
        refusals: progress.refusals.load(Ordering::SeqCst),
        seconds,
        end,
        stream_bytes,
    })
}

/// What the workers write.
struct Plan {
    end: Timestamp,
    estimated_tickets: u64,
    history_events: u64,
    open: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    History,
    Open,
}

async fn run_workers(
    store: &LogStore,
    plan: &Plan,
    grids: &Arc<Vec<GridCode>>,
    seed: u64,
    progress: &Arc<Progress>,
    phase: Phase,
) -> Result<()> {
    let first_open = progress.next_ticket.load(Ordering::SeqCst);
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let clock = Arc::new(ManualClock::new(plan.end));
        let service = CommandService::open(store.clone(), clock.clone(), seed ^ (w + 1)).await?;
        let worker = Worker { w, service, clock, grids: grids.clone(), progress: progress.clone(), seed };
        let (end, estimated, budget, open) = (plan.end, plan.estimated_tickets, plan.history_events, plan.open);
        tasks.push(tokio::spawn(async move {
            loop {
                if worker.progress.abort.load(Ordering::Relaxed) {
                    return anyhow::Ok(());
                }
                let i = worker.progress.next_ticket.fetch_add(1, Ordering::SeqCst);
                match phase {
                    Phase::History if worker.progress.events.load(Ordering::Relaxed) >= budget => {
                        worker.progress.next_ticket.fetch_sub(1, Ordering::SeqCst);
                        return Ok(());
                    }
                    Phase::History => worker.settled(i, year_instant(end, i, estimated)).await?,
                    Phase::Open if i >= first_open + open => {
                        worker.progress.next_ticket.fetch_sub(1, Ordering::SeqCst);
                        return Ok(());
                    }
                    Phase::Open => worker.open(i, end).await?,
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    // The counter overshoots by the workers that found the work done; the
    // decrements above put it back, so it holds the tickets written.
    Ok(())
}

/// Where ticket `i` of about `estimated` falls in the year before `end`.
fn year_instant(end: Timestamp, i: u64, estimated: u64) -> Timestamp {
    let year = 365 * DAY_MS;
    let offset = (u128::from(i.min(estimated)) * u128::from(year) / u128::from(estimated.max(1))) as u64;
    Timestamp::from_millis(end.as_millis() - year as i64 + offset as i64).unwrap_or(end)
}

/// One of the lifecycles in flight, with its own clock.
struct Worker {
    w: u64,
    service: CommandService<LogStore>,
    clock: Arc<ManualClock>,
    grids: Arc<Vec<GridCode>>,
    progress: Arc<Progress>,
    seed: u64,
}

/// Who issues a step.
#[derive(Clone, Copy)]
enum By {
    Resident,
    Dispatcher,
    Volunteer,
}

impl Worker {
    /// Ticket `i`'s whole story, starting at `at`: most loops close with
    /// feedback; some are cancelled. A step the engine refuses is counted, and the
    /// ticket is cancelled so that history holds no stray open ticket.
    async fn settled(&self, i: u64, at: Timestamp) -> Result<()> {
        let mut rng = SplitMix64::new(self.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Each ticket starts at its own instant of the year, not where this
        // worker's last ticket ended: a worker takes every 64th ticket, and
        // a story of hours would otherwise push its clock past the year
        // (and past now) as the log grows.
        self.clock.set(at);
        let (id, v) = (TicketId::from_number(i + 1), self.volunteer(i));
        let roll = rng.next_u64() % 100;
        let mut steps = vec![(By::Resident, self.submit(i)?)];
        if roll < 7 {
            steps.push((By::Resident, TicketCommand::Cancel { reason: "已自行解决 sorted it myself".into() }));
        } else {
            // No escalations yet: an escalated ticket is routed at the next
            // tier, which the generator does not do the way a dispatcher
            // would; that path is left for later (BENCHMARKS.md).
            steps.extend(offer_accept(&v, self.clock.now()));
            steps.push((By::Volunteer, resolve()));
            // Unsatisfied feedback reopens a ticket (and the close that follows is
            // refused), so the generated residents are satisfied or basically so.
            let rating = if rng.next_u64() % 10 == 0 { Rating::BasicallySatisfied } else { Rating::Satisfied };
            steps.push((By::Resident, TicketCommand::GiveFeedback { rating, comment: String::new() }));
            steps.push((By::Dispatcher, TicketCommand::Close));
        }
        if !self.steps(&id, i, &v, steps, &mut rng).await? {
            self.progress.refusals.fetch_add(1, Ordering::Relaxed);
            let cancel = TicketCommand::Cancel { reason: "bench: a refused step".into() };
            self.steps(&id, i + 1_000_000_000, &v, vec![(By::Dispatcher, cancel)], &mut rng).await?;
        }
        Ok(())
    }

    /// An open ticket at `at`: waiting for dispatch, offered, or accepted, in turn.
    async fn open(&self, i: u64, at: Timestamp) -> Result<()> {
        let mut rng = SplitMix64::new(self.seed ^ i);
        self.clock.set(at);
        let (id, v) = (TicketId::from_number(i + 1), self.volunteer(i));
        let mut steps = vec![(By::Resident, self.submit(i)?)];
        steps.extend(offer_accept(&v, self.clock.now()).into_iter().take((i % 3) as usize));
        if !self.steps(&id, i, &v, steps, &mut rng).await? {
            self.progress.refusals.fetch_add(1, Ordering::Relaxed);
            bail!("the engine refused a step of open ticket {id}");
        }
        self.progress.open.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs the steps a few minutes apart; false when one is refused.
    async fn steps(
        &self,
        id: &TicketId,
        i: u64,
        v: &VolunteerId,
        steps: Vec<(By, TicketCommand)>,
        rng: &mut SplitMix64,
    ) -> Result<bool> {
        let resident = Actor::new(Role::Resident, &format!("r-{}", 1 + i % 100_000))?;
        let dispatcher = Actor::new(Role::Dispatcher, "d-district")?;
        let volunteer = Actor::new(Role::Volunteer, v.as_str())?;
        for (n, (by, command)) in steps.into_iter().enumerate() {
            let actor = match by {
                By::Resident => &resident,
                By::Dispatcher => &dispatcher,
                By::Volunteer => &volunteer,
            };
            self.clock.advance(Millis((5 + rng.next_u64() % 115) * MINUTE_MS));
            let envelope = CommandEnvelope {
                command_id: CommandId::new(format!("scale-{i}-{n}"))?,
                correlation_id: None,
                actor: actor.clone(),
                command: Command::Ticket { id: id.clone(), command },
                expected_version: None,
            };
            match self.service.execute(envelope).await {
                Ok(outcome) => {
                    let written = outcome.append.map_or(0, |a| a.last_version - a.first_version + 1);
                    self.progress.events.fetch_add(written, Ordering::Relaxed);
                }
                Err(gridloop_engine::Error::Storage(e)) => bail!("the store failed: {e}"),
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }

    /// This worker's volunteers only, so that workers never race for one.
    fn volunteer(&self, i: u64) -> VolunteerId {
        VolunteerId::from_number(1 + self.w + WORKERS * (i % (VOLUNTEERS / WORKERS)))
    }

    /// An order for a volunteer item, in grid `i` of the district's grids in turn.
    fn submit(&self, i: u64) -> Result<TicketCommand> {
        Ok(TicketCommand::Submit {
            photos: vec![],
            item: ItemCode::new("CS-001")?,
            grid: self.grids[(i as usize) % self.grids.len()].clone(),
            resident: ResidentId::new(format!("r-{}", 1 + i % 100_000))?,
            description: "独居老人需要上门探访 an elderly neighbour needs a visit".into(),
            urgency: Urgency::Normal,
            channel: Channel::QrCode,
            location: None,
        })
    }
}

fn offer_accept(v: &VolunteerId, now: Timestamp) -> Vec<(By, TicketCommand)> {
    vec![
        (
            By::Dispatcher,
            TicketCommand::Offer {
                candidates: vec![Assignee::Volunteer(v.clone())],
                expires_at: now.plus(Millis(24 * 60 * MINUTE_MS)),
            },
        ),
        (By::Volunteer, TicketCommand::AcceptOffer { by: Assignee::Volunteer(v.clone()) }),
    ]
}

fn resolve() -> TicketCommand {
    TicketCommand::Resolve { photos: vec![], result: "已上门探访 visited".into(), minutes_spent: 45 }
}

/// Says every five seconds how far generation has got, and stops it when
/// the bytes per event so far say the size would pass the disk limit.
fn spawn_ticker(
    progress: Arc<Progress>,
    requested: u64,
    set_up: u64,
    dir: PathBuf,
    limit: u64,
) -> tokio::task::JoinHandle<()> {
    let started = Instant::now();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let done = set_up + progress.events.load(Ordering::Relaxed);
            let rate = progress.events.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
            let eta = requested.saturating_sub(done) as f64 / rate.max(1.0);
            let disk = du(&dir);
            let projected = disk as f64 / done.max(1) as f64 * requested as f64;
            eprintln!(
                "  {done}/{requested} events, {rate:.0} events/s, ETA {eta:.0}s; {:.2} GB on disk (projected {:.2} GB)",
                disk as f64 / 1e9,
                projected / 1e9
            );
            if done > 100_000 && projected > limit as f64 {
                progress.abort.store(true, Ordering::SeqCst);
            }
        }
    })
}

/// The bytes of the files under `dir`.
pub fn du(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A dispatcher token for the reads, written where `serve` looks first.
fn write_token(dir: &Path) -> Result<String> {
    let mut table = gridloop_http::TokenTable::new();
    let (token, entry) = gridloop_http::TokenTable::issue(Role::Dispatcher, "d-district", None)?;
    table.insert(entry)?;
    table.save(&dir.join("tokens.json"))?;
    Ok(token)
}

/// A `gridloop serve` child process.
struct Serve {
    child: Child,
    addr: SocketAddr,
    ready_s: f64,
}

impl Serve {
    /// Starts this binary as `serve` and waits until the board answers.
    async fn start(data: &DataDir) -> Result<Self> {
        let started = Instant::now();
        let mut command = Process::new(std::env::current_exe()?);
        command.arg("serve").arg("--data").arg(&data.dir).arg("--listen").arg("127.0.0.1:0");
        if let Some(url) = &data.store {
            command.arg("--store").arg(url);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let stdout = child.stdout.take().context("serve's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // The thread drains serve's stdout for its whole life, so that serve never blocks on it.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr: SocketAddr = loop {
            if let Ok(addr) = rx.try_recv() {
                break addr.parse()?;
            }
            if let Some(status) = child.try_wait()? {
                bail!("serve exited before listening ({status})");
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                bail!("serve did not listen within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut serve = Self { child, addr, ready_s: 0.0 };
        while !serve.answers().await {
            if started.elapsed() > READY_TIMEOUT {
                bail!("serve did not answer within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        serve.ready_s = started.elapsed().as_secs_f64();
        eprintln!("  serve ready on {addr} in {:.2}s", serve.ready_s);
        Ok(serve)
    }

    /// Whether the API answers (401 without a token: routed and serving).
    async fn answers(&self) -> bool {
        match gridloop_cli::bench::KeepAlive::connect(self.addr).await {
            Ok(mut c) => c.send("GET", "/api/v1/tickets?page=1&per_page=1", "", "").await.is_ok_and(|(s, _)| s == 401),
            Err(_) => false,
        }
    }

    /// VmRSS and VmHWM of the child, in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    /// SIGINT (as Ctrl-C), then waits for it to save and exit.
    fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        Process::new("kill").args(["-INT", &pid]).status().context("kill -INT")?;
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > READY_TIMEOUT {
                let _ = self.child.kill();
                bail!("serve did not stop within {READY_TIMEOUT:?} of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // A harness that fails half-way leaves no server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The three reads whose p99 each size reports.
struct Reads<'a> {
    token: &'a str,
    end: Timestamp,
    history: u64,
    n: usize,
}

impl Reads<'_> {
    async fn measure(&self, addr: SocketAddr, seed: u64) -> Result<Vec<(String, f64)>> {
        let mut client = gridloop_cli::bench::KeepAlive::connect(addr).await?;
        let year_ago = Timestamp::from_millis(self.end.as_millis() - (365 * DAY_MS) as i64)?;
        let rates = format!("/api/v1/metrics/rates?from={year_ago}&to={}", self.end.plus(Millis(1)));
        let mut rng = SplitMix64::new(seed);
        let history = self.history.max(1);
        let mut out = Vec::new();
        for name in ["board", "rates", "audit"] {
            let mut latencies = Vec::with_capacity(self.n);
            for _ in 0..self.n {
                let path = match name {
                    "board" => "/api/v1/tickets?page=1&per_page=50".to_string(),
                    "rates" => rates.clone(),
                    _ => format!("/api/v1/tickets/{}/history", TicketId::from_number(1 + rng.next_u64() % history)),
                };
                let (mut at, (mut status, mut body)) =
                    (Instant::now(), client.send("GET", &path, self.token, "").await?);
                // The token's rate limit (600 a minute) is the API's, not what
                // is measured: wait it out and ask again, timing the answer.
                while status == 429 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    at = Instant::now();
                    (status, body) = client.send("GET", &path, self.token, "").await?;
                }
                latencies.push(at.elapsed().as_secs_f64() * 1e3);
                if status != 200 {
                    bail!("GET {path}: {status}: {}", body.chars().take(300).collect::<String>());
                }
            }
            latencies.sort_by(f64::total_cmp);
            let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
            out.push((format!("p99_{name}_ms"), p99));
        }
        Ok(out)
    }
}

/// NATS: deletes the size's stream, so the server's disk gets its space back.
async fn delete_stream(data: &DataDir) {
    let Some(url) = data.store.as_deref() else { return };
    let (server, query) = url.split_once('?').unwrap_or((url, ""));
    let Some(stream) = query.split('&').find_map(|kv| kv.strip_prefix("stream=")) else { return };
    if let Ok(client) = async_nats::connect(server.trim_start_matches("nats://")).await {
        let _ = async_nats::jetstream::new(client).delete_stream(stream).await;
    }
}

/// The least-squares line of each measure against events (two sizes at least).
fn fits(sizes: &[SizeResult]) -> BTreeMap<String, Fit> {
    let mut out = BTreeMap::new();
    for (name, _, _) in MEASURES {
        let points: Vec<(f64, f64)> =
            sizes.iter().filter_map(|s| Some((s.events as f64, *s.measures.get(name)?))).collect();
        if let Some(fit) = fit(&points) {
            out.insert(name.to_string(), fit);
        }
    }
    out
}

/// `y = a + b x` through the points, and its value at 160 M events.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let intercept = my - slope * mx;
    Some(Fit { intercept, slope_per_million: slope * 1e6, at_160m: intercept + slope * 160e6 })
}

/// The markdown table for BENCHMARKS.md: one row per measure, one column
/// per size, and the straight line's value at 160 M events.
pub fn table(results: &Results) -> String {
    let mut out = format!(
        "Store: {}; {} open tickets at every size; p99 over {} requests each.\n\n| measure |",
        results.store, results.open_tickets, results.requests_per_read
    );
    for s in &results.sizes {
        out.push_str(&format!(" {} events |", thousands(s.events)));
    }
    out.push_str(" slope per M events | at 160 M (linear fit) |\n|---|");
    out.push_str(&"---:|".repeat(results.sizes.len() + 2));
    out.push('\n');
    for (name, unit, what) in MEASURES {
        out.push_str(&format!("| {what} ({unit}) |"));
        for s in &results.sizes {
            out.push_str(&format!(" {} |", s.measures.get(name).map_or("–".into(), |v| figure(*v))));
        }
        match results.fits.get(name) {
            Some(f) => out.push_str(&format!(" {} | {} |\n", figure(f.slope_per_million), figure(f.at_160m))),
            None => out.push_str(" – | – |\n"),
        }
    }
    out
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A figure with sensible digits.
pub fn figure(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 => {
            let digits = thousands(a.round() as u64);
            if v < 0.0 { format!("-{digits}") } else { digits }
        }
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}
