//! `gridloop`: the command line of the closed loop (居民点单 · 社区派单 · 志愿接单).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use gridloop_cli::audit;
use gridloop_cli::demo::{self, DemoConfig};
use gridloop_cli::report;

/// mimalloc, not glibc's malloc: folding a log allocates and frees many small
/// values (ids, JSON maps), and glibc spent 45% of a rebuild in malloc, free
/// and consolidation (BENCHMARKS.md, "rebuild").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_engine::grid::{GridCode, GridTree, Level};
use gridloop_engine::ids::ResidentId;
use gridloop_engine::ids::{StreamId, TicketId};
use gridloop_engine::personal::{Lookup, PersonalStore};
use gridloop_engine::service::CommandService;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_projections::board::Board;
use gridloop_projections::calendar::parse_day_or_instant;
use gridloop_projections::ledger::Ledger;
use gridloop_projections::runner::{Projection, Runner};
use gridloop_projections::{By, Cohort, Metrics};
use gridloop_store_sled::{SledSnapshots, SledStore};

/// gridloop runs the closed loop of community service requests: a resident
/// orders, the community dispatches, a volunteer accepts. Every step is an
/// immutable event in a local store (sled, in --data DIR).
///
/// Start with `gridloop demo`: it simulates a week in a district shaped like
/// Zhanjiang's Chikan and prints the rates cities are judged by.
#[derive(Debug, Parser)]
#[command(name = "gridloop", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Simulate N days of residents ordering, dispatch, volunteers accepting
    /// (some racing), escalations, resolutions, feedback and closing, into a
    /// fresh store; then print the district's rates.
    Demo {
        /// Simulated days (1 to 366).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Seed of every random choice: the same seed gives the same result.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Resident orders per simulated day (1 to 100000).
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        orders_per_day: u32,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the completion-rate metrics (受理率, 办结率, 按期, 满意率,
    /// 网格内, 闭环率) of the tickets submitted in a window, broken down by
    /// place, department, team, category or period.
    Metrics {
        /// Only tickets in this place: district|street|community|grid:CODE,
        /// e.g. community:440802-001-002.
        #[arg(long, value_name = "LEVEL:CODE")]
        scope: Option<String>,
        /// Submitted at or after this (YYYY-MM-DD, China time, or RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Submitted before this (YYYY-MM-DD, China time, or RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Rows per street, community, grid, department, team, category,
        /// day, week or month.
        #[arg(long, default_value = "street")]
        by: String,
        /// Evaluate as of this instant (RFC 3339); default: just after the
        /// last event.
        #[arg(long)]
        as_of: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// The monthly duty report of backup agencies' members (后盾单位: at
    /// least 2 services and 4 hours a month): who meets it, who does not.
    Duty {
        /// The month, YYYY-MM (China time); default: the month of the last event.
        #[arg(long)]
        month: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// The deployment's seal key: `gridloop keys init` makes it (once) and
    /// prints its public half for auditors.
    Keys {
        #[command(subcommand)]
        action: KeysCmd,
    },
    /// Seal the log now: sign a digest over every stream's head with the
    /// deployment's key, append it to the log and to the seal journal.
    Seal {
        #[command(flatten)]
        data: DataDir,
    },
    /// API tokens: `gridloop token create --role volunteer --subject V-7`
    /// prints a new bearer token once; only its hash is kept.
    Token {
        #[command(subcommand)]
        action: TokenCmd,
    },
    /// Residents' personal data (kept out of the log).
    Resident {
        #[command(subcommand)]
        action: ResidentCmd,
    },
    /// Volunteers: `gridloop volunteer link-code V-7` issues the one-time
    /// code a volunteer sends to the chat bot to link their chat account.
    Volunteer {
        #[command(subcommand)]
        action: VolunteerCmd,
    },
    /// Run the volunteers' chat bot on Matrix as a process of its own,
    /// beside `serve` processes on one NATS log (--store nats://…), with a
    /// data directory of its own (it keeps DATA/matrix.json there). On the
    /// embedded store, run it inside `serve` instead (serve --matrix-…).
    Chatbot {
        #[command(flatten)]
        matrix: MatrixArgs,
        #[command(flatten)]
        data: DataDir,
    },
    /// Rebuild projections (board, metrics, ledger) from the start of the
    /// log, save their snapshots, and report events/s and each snapshot's
    /// digest (a rebuild gives the same digest as the live projection).
    Replay {
        /// One projection: board, metrics or ledger; default: all.
        #[arg(long)]
        projection: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// A ticket's history as an auditor reads it: each event's time, actor
    /// and role, what changed, the state after it, and the deadlines it met
    /// or missed; --as-of shows the ticket exactly as it was then. With
    /// --verify, the ticket's hash chain is checked first; `gridloop audit
    /// --all --verify` checks the whole log.
    Audit {
        /// The ticket, e.g. T-12.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ticket: Option<String>,
        /// Show the ticket as it was at this instant (RFC 3339, e.g.
        /// 2026-11-02T08:00:00Z): only the events up to it, and its running
        /// deadlines judged then.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Check the hash chain (versions without gaps, each hash correct and
        /// chained onto the previous one) and exit non-zero naming the first
        /// event that does not verify.
        #[arg(long)]
        verify: bool,
        /// With --verify: check every stream of the whole log, in position
        /// order, instead of one ticket.
        #[arg(long, requires = "verify", conflicts_with = "as_of")]
        all: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Write the log to stdout as NDJSON, one event envelope per line exactly
    /// as stored, in position order: `gridloop export > log.ndjson`.
    /// Progress goes to stderr.
    Export {
        /// Start at this global position (events at it or later).
        #[arg(long, value_name = "POSITION", default_value_t = 1)]
        from: u64,
        #[command(flatten)]
        data: DataDir,
    },
    /// Load an NDJSON export into an empty store. Every line is parsed and
    /// every stream's hash chain verified before anything is written (a
    /// broken line stops the import with its number, and the store stays
    /// empty); then the events are appended as they were, and every hash the
    /// store computes must equal the file's.
    Import {
        /// The export to read (written by `gridloop export`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Serve the JSON API (/api/v1) and run the deadline timers on the
    /// store in --data (and, with --matrix-homeserver, the volunteers' chat
    /// bot), until Ctrl-C. On the first start it issues a
    /// dispatcher and an auditor token, prints them once, and keeps only
    /// their hashes (DATA/tokens.json).
    Serve {
        /// The address to listen on; port 0 picks a free port (printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The district's grid tree (a district.toml like
        /// fixtures/data/district.toml); default: the Chikan fixture.
        #[arg(long, value_name = "FILE")]
        district: Option<PathBuf>,
        /// Run the dispatcher policy: every ticket waiting for dispatch gets
        /// its next step (triage, offer ring by ring, assign) at once, as
        /// the dispatcher of its tier. Without it, dispatchers act by hand.
        #[arg(long)]
        auto_dispatch: bool,
        #[command(flatten)]
        matrix: MatrixArgs,
        #[command(flatten)]
        data: DataDir,
    },
    /// Measure gridloop beside its limits in one run: durable commands at 1,
    /// 8 and 64 clients, the raw store, the peer (cqrs-es on PostgreSQL,
    /// from --peer-results), the accept race, rebuild, submit → offer and
    /// HTTP. Prints a table; --quick finishes in about a minute.
    Bench {
        /// A short run for CI smoke: small counts, one small rebuild.
        #[arg(long)]
        quick: bool,
        /// `sled` (default) or `nats://HOST:PORT[?…]` (each scenario uses a new stream).
        #[arg(long = "store", value_name = "URL")]
        store: Option<String>,
        /// Also write every figure as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// The peer's JSON lines, written by scripts/bench-peer.
        #[arg(long, value_name = "FILE")]
        peer_results: Option<PathBuf>,
        /// Events in each rebuild log, comma-separated (default 1000000; --quick 60000).
        #[arg(long, value_name = "N,...", value_delimiter = ',')]
        rebuild_events: Option<Vec<u64>>,
        /// Run only these scenarios, comma-separated: commands, raw, race,
        /// rebuild, offer, http (default: all of them).
        #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
        only: Option<Vec<gridloop_cli::bench::Scenario>>,
        /// Where the stores go (default: a new directory under the system's temp dir, removed after).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
}

/// The volunteers' chat bot on Matrix, run inside `serve` when
/// --matrix-homeserver is given.
#[derive(Debug, Args)]
struct MatrixArgs {
    /// The Matrix homeserver of the volunteers' chat bot, http://HOST:PORT
    /// (plain HTTP: run the bot beside its homeserver). Without it no bot
    /// runs. The bot keeps its sync token, log position and direct rooms in
    /// DATA/matrix.json. Encrypted rooms are not supported.
    #[arg(long = "matrix-homeserver", value_name = "URL", requires_all = ["matrix_user", "matrix_token_file"])]
    matrix_homeserver: Option<String>,
    /// The bot's Matrix user id, e.g. @gridloop:example.org.
    #[arg(long = "matrix-user", value_name = "USER_ID", requires = "matrix_homeserver")]
    matrix_user: Option<String>,
    /// A file holding the bot's access token (keep it readable by gridloop
    /// only).
    #[arg(long = "matrix-token-file", value_name = "FILE", requires = "matrix_homeserver")]
    matrix_token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Make the seal key (DATA/keys/seal.key, readable by its owner only)
    /// and print its public half. Refuses if one exists.
    Init {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Issue a bearer token for the API (shown once; its hash goes to
    /// DATA/tokens.json, which `gridloop serve` reads at start; a running
    /// server takes new tokens from an admin at `POST /api/v1/tokens`).
    Create {
        /// resident, grid_worker, dispatcher, volunteer, department, auditor
        /// or admin (manages tokens through the API; acts on no ticket).
        #[arg(long)]
        role: String,
        /// Who it is: a resident id (r-12), volunteer (V-7), department code,
        /// grid worker or dispatcher id.
        #[arg(long)]
        subject: String,
        /// A dispatcher's place (a district, street or community code): they
        /// may act only on tickets inside it.
        #[arg(long)]
        place: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Subcommand)]
enum VolunteerCmd {
    /// Issue a one-time 6-digit code for the volunteer to send to the chat
    /// bot (`绑定 123456` / `link 123456`), valid 24 hours; a new code
    /// replaces the old one. Only the code's hash is kept in the log. With
    /// `serve` running, use the API instead (POST
    /// /api/v1/volunteers/{id}/link-code).
    LinkCode {
        /// The volunteer, e.g. V-7.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Subcommand)]
enum ResidentCmd {
    /// Erase a resident's personal data (name, phone, address) for good:
    /// their key and record are deleted; the log, which never held them,
    /// still verifies, and shows "erased" where the name was.
    Erase {
        /// The resident id, e.g. r-1024.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Debug, Args)]
struct DataDir {
    /// The data directory: created if missing; must be empty or a gridloop
    /// data directory.
    #[arg(long = "data", value_name = "DIR", default_value = "gridloop-data")]
    dir: PathBuf,
    /// The event log: `sled` (in the data directory, the default) or
    /// `nats://HOST:PORT[,…][?stream=NAME&replicas=3&creds=FILE&ca=FILE&…]`.
    #[arg(long = "store", value_name = "URL")]
    store: Option<String>,
}

/// Prints a line to stdout. A closed pipe (`gridloop duty | head`) ends the
/// program quietly instead of panicking.
macro_rules! say {
    () => { emit(format_args!("\n")) };
    ($($arg:tt)*) => { emit(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to stdout without a newline; see [`say!`].
macro_rules! say_raw {
    ($($arg:tt)*) => { emit(format_args!($($arg)*)) };
}

fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(error) = std::io::stdout().lock().write_fmt(args) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("gridloop: writing to stdout failed: {error}");
        std::process::exit(1);
    }
}

fn main() -> std::process::ExitCode {
    install_tracing();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gridloop: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRIDLOOP_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match cli.command {
        Cmd::Demo { days, seed, orders_per_day, data } => runtime.block_on(run_demo(days, seed, orders_per_day, data)),
        Cmd::Metrics { scope, from, to, by, as_of, json, data } => {
            let args = MetricsArgs { scope, from, to, by, as_of, json };
            runtime.block_on(run_metrics(args, data))
        }
        Cmd::Replay { projection, data } => runtime.block_on(run_replay(projection, data)),
        Cmd::Duty { month, json, data } => runtime.block_on(run_duty(month, json, data)),
        Cmd::Audit { ticket, as_of, json, verify, all, data } => {
            runtime.block_on(run_audit(AuditArgs { ticket, as_of, json, verify, all }, data))
        }
        Cmd::Export { from, data } => runtime.block_on(run_export(from, data)),
        Cmd::Import { file, data } => runtime.block_on(run_import(file, data)),
        Cmd::Keys { action: KeysCmd::Init { data } } => run_keys_init(data),
        Cmd::Seal { data } => runtime.block_on(run_seal(data)),
        Cmd::Resident { action: ResidentCmd::Erase { id, data } } => runtime.block_on(run_resident_erase(id, data)),
        Cmd::Token { action: TokenCmd::Create { role, subject, place, data } } => {
            run_token_create(&role, &subject, place.as_deref(), data)
        }
        Cmd::Volunteer { action: VolunteerCmd::LinkCode { id, data } } => runtime.block_on(run_link_code(id, data)),
        Cmd::Chatbot { matrix, data } => runtime.block_on(run_chatbot(matrix, data)),
        Cmd::Serve { listen, district, auto_dispatch, matrix, data } => {
            runtime.block_on(run_serve(listen, district, auto_dispatch, matrix, data))
        }
        Cmd::Bench { quick, store, json, peer_results, rebuild_events, only, work_dir } => {
            let only = only.unwrap_or_else(|| gridloop_cli::bench::Scenario::ALL.to_vec());
            runtime.block_on(run_bench(quick, store, json, peer_results, rebuild_events, only, work_dir))
        }
    }
}

async fn run_demo(days: u32, seed: u64, orders_per_day: u32, data: DataDir) -> Result<()> {
    let store = LogStore::open(&data.dir, data.store.as_deref()).await?;
    let head = store.head_position().await?;
    if head > 0 {
        bail!(
            "{} already holds events (up to position {head}); the demo needs a fresh store: pass --data with a new \
             directory (or a new NATS stream)",
            store.describe(&data.dir)
        );
    }
    let district = Arc::new(gridloop_fixtures::chikan(seed)?);
    say!(
        "district {} ({}): {} grids and sub-grids, {} catalog items, {} teams, {} volunteers",
        district.world.grids.root().name,
        district.world.grids.root().code,
        district.world.grids.len(),
        district.world.catalog.items().count(),
        district.teams.len(),
        district.volunteers.len()
    );
    let config = DemoConfig { orders_per_day, seal_dir: Some(data.dir.clone()), ..DemoConfig::new(days, seed) };
    let started = Instant::now();
    let bar = progress_bar(u64::from(days) * 24 * 12, "simulated 5-minute steps");
    let bar_for_progress = bar.clone();
    if !sealing::key_path(&data.dir).exists() {
        say!("seal key made; its public half, for auditors: {}", sealing::init_key(&data.dir)?);
    }
    let personal: Arc<dyn PersonalStore> = Arc::new(store.local().personal()?);
    let summary =
        demo::run_with_personal(store.clone(), Some(personal), district.clone(), &config, move |done, total| {
            bar_for_progress.set_length(total);
            bar_for_progress.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    let clock = Arc::new(gridloop_engine::service::ManualClock::new(summary.end));
    let service = CommandService::new(store.clone(), district.world.clone(), clock, seed);
    let awarded = gridloop_projections::policy::PointsPolicy::default().catch_up(&service).await?;
    let (metrics, events) = report::fold_metrics(&store, |_| {}).await?;
    say!(
        "{} days, {} tickets, {} commands, {} events in {:.1}s: the dispatcher policy took {} steps, timers fired {}, \
         {} races lost (first acceptance wins), {} acts overtaken by events, {} point awards",
        days,
        summary.tickets,
        summary.commands,
        events,
        started.elapsed().as_secs_f64(),
        summary.dispatched,
        summary.timers_fired,
        summary.races_lost,
        summary.overtaken,
        awarded
    );
    if !summary.unexpected.is_empty() {
        say!("unexpected refusals: {:?}", summary.unexpected);
    }
    say!(
        "\ntickets ordered in the {days} days, as of {} when {}:",
        summary.end,
        if summary.open == 0 {
            "the last one was closed".to_string()
        } else {
            format!("{} were still open", summary.open)
        }
    );
    let rows = report::rates_by_street(&metrics, &district.world.grids, summary.orders_end, summary.end);
    say_raw!("{}", report::rates_table(&rows));
    let seal = sealing::seal_now(&store, &data.dir, summary.end).await?;
    let gridloop_engine::seal::SealEvent::Sealed { position, .. } = &seal;
    say!(
        "log sealed at every simulated midnight ({} seals) and at the end, position {position} (gridloop audit --all --verify checks them)",
        summary.seals
    );
    let snapshots = store.local().snapshots()?;
    for name in ["board", "metrics", "ledger"] {
        match name {
            "board" => rebuild::<Board>(&store, &snapshots).await?,
            "metrics" => rebuild::<Metrics>(&store, &snapshots).await?,
            _ => rebuild::<Ledger>(&store, &snapshots).await?,
        };
    }
    let subtitle = format!(
        "{} 天 · {} 张工单 · seed {seed} · as of {} · tickets ordered {} to {}",
        days, summary.tickets, summary.end, config.start, summary.orders_end
    );
    let html =
        report::html_report(&metrics, &district.world.grids, (config.start, summary.orders_end), summary.end, subtitle);
    let report_path = data.dir.join("report.html");
    std::fs::write(&report_path, html).with_context(|| format!("writing {}", report_path.display()))?;
    say!("\nreport: {}", report_path.display());
    match &store {
        LogStore::Sled(sled) => say!("store: {} ({} bytes on disk)", data.dir.display(), sled.size_on_disk()),
        LogStore::Nats { .. } => say!("store: {}", store.describe(&data.dir)),
    }
    Ok(())
}

#[derive(Debug)]
struct MetricsArgs {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: String,
    as_of: Option<String>,
    json: bool,
}

/// Opens an existing log: on sled, an existing data directory (never
/// creates one); on NATS, the stream (the data directory is only local state).
async fn open_existing(data: &DataDir) -> Result<LogStore> {
    let on_sled = matches!(data.store.as_deref(), None | Some("sled"));
    if on_sled && !data.dir.join(gridloop_store_sled::MARKER_FILE).exists() {
        bail!("{} is not a gridloop data directory (run `gridloop demo` first, or pass --data)", data.dir.display());
    }
    LogStore::open(&data.dir, data.store.as_deref()).await
}

async fn run_metrics(args: MetricsArgs, data: DataDir) -> Result<()> {
    let district = gridloop_fixtures::chikan(1)?;
    let grids = &district.world.grids;
    let scope = args.scope.as_deref().map(|s| parse_scope(s, grids)).transpose()?;
    let by = parse_by(&args.by)?;
    let from = args.from.as_deref().map(|t| parse_instant(t, "--from")).transpose()?;
    let to = args.to.as_deref().map(|t| parse_instant(t, "--to")).transpose()?;
    let store = open_existing(&data).await?;
    let snapshots = store.local().snapshots()?;
    let bar = progress_bar(store.head_position().await?, "events folded");
    let mut runner = Runner::<Metrics>::resume(&snapshots)?;
    runner.catch_up(&store, Some(&snapshots), |position| bar.set_position(position)).await?;
    bar.finish_and_clear();
    let metrics = runner.state();
    let last = metrics.tickets().map(|(_, t)| t.submitted_at).max().unwrap_or_default();
    let as_of = match args.as_of {
        Some(text) => Timestamp::parse(&text).context("--as-of")?,
        None => store_last_event_time(&store).await?.unwrap_or(last).plus(Millis(1)),
    };
    let cohort = Cohort { from: from.unwrap_or_else(report::beginning), to: to.unwrap_or(as_of), scope };
    if cohort.from >= cohort.to {
        bail!("--from must be before --to");
    }
    let rows = report::breakdown(metrics, grids, &cohort, as_of, by);
    if args.json {
        let rows: Vec<serde_json::Value> =
            rows.iter().map(|(key, rates)| serde_json::json!({ "key": key, "rates": rates })).collect();
        say!("{}", serde_json::to_string_pretty(&serde_json::json!({ "as_of": as_of, "rows": rows }))?);
    } else {
        say!("as of {as_of}:");
        say_raw!("{}", report::rates_table(&rows));
    }
    Ok(())
}

/// The time of the log's last event.
/// The time of the log's last activity: its last event that is not a seal
/// (seals are written after the fact, at the end of a run or a day).
async fn store_last_event_time(store: &LogStore) -> Result<Option<Timestamp>> {
    const LOOK_BACK: u64 = 1_000;
    // Positions are dense on sled and sparse on NATS (64 per message).
    let span = match store {
        LogStore::Sled(_) => LOOK_BACK,
        LogStore::Nats { .. } => LOOK_BACK * 64,
    };
    let mut from = store.head_position().await?.saturating_sub(span).max(1);
    let (mut activity, mut last) = (None, None);
    loop {
        let page = store.read_all(from, LOOK_BACK as usize).await?;
        let Some(end) = page.last() else { break };
        from = end.position + 1;
        last = Some(end.occurred_at);
        activity = page.iter().rev().find(|e| e.stream.kind() != "seal").map(|e| e.occurred_at).or(activity);
    }
    Ok(activity.or(last))
}

fn parse_scope(text: &str, grids: &GridTree) -> Result<GridCode> {
    let (level, code) = text.split_once(':').context("--scope is LEVEL:CODE, e.g. community:440802-001-002")?;
    let code = GridCode::parse(code)?;
    let expected = match level {
        "district" => Level::District,
        "street" => Level::Street,
        "community" => Level::Community,
        "grid" => Level::Grid,
        other => bail!("--scope level {other:?} is not one of district, street, community, grid"),
    };
    if code.level() != expected {
        bail!("--scope {code} is a {} code, not a {level} code", code.level().name());
    }
    grids.require(&code)?;
    Ok(code)
}

fn parse_by(text: &str) -> Result<By> {
    By::parse(text).with_context(|| {
        format!("--by {text:?} is not one of street, community, grid, department, team, category, day, week, month")
    })
}

/// `YYYY-MM-DD` (midnight, China time) or RFC 3339.
fn parse_instant(text: &str, flag: &str) -> Result<Timestamp> {
    parse_day_or_instant(text).with_context(|| format!("{flag} {text:?}: expected YYYY-MM-DD or RFC 3339"))
}

async fn run_duty(month: Option<String>, json: bool, data: DataDir) -> Result<()> {
    if let Some(m) = &month {
        let ok = m.len() == 7 && m.as_bytes()[4] == b'-' && Timestamp::parse(&format!("{m}-01T00:00:00Z")).is_ok();
        if !ok {
            bail!("--month {m:?}: expected YYYY-MM");
        }
    }
    let district = gridloop_fixtures::chikan(1)?;
    let store = open_existing(&data).await?;
    let snapshots = store.local().snapshots()?;
    let mut runner = Runner::<Ledger>::resume(&snapshots)?;
    let bar = progress_bar(store.head_position().await?, "events folded");
    runner.catch_up(&store, Some(&snapshots), |position| bar.set_position(position)).await?;
    bar.finish_and_clear();
    let month = match month {
        Some(m) => m,
        None => gridloop_projections::calendar::month(store_last_event_time(&store).await?.unwrap_or_default()),
    };
    let teams: std::collections::BTreeMap<_, _> = district
        .teams
        .iter()
        .filter(|t| t.kind == gridloop_fixtures::TeamKind::BackupAgency)
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    let lines = runner.state().duty_report(&month, |team| teams.contains_key(team));
    let met = lines.iter().filter(|l| l.meets_duty).count();
    if json {
        let answer = serde_json::json!({ "month": month, "members": lines.len(), "met": met, "lines": lines });
        say!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    say!("{month}: {met} of {} backup-agency members met the duty (≥ 2 services and ≥ 4 hours)", lines.len());
    say!("{:<8} {:>8} {:>7}  {:<5} team", "member", "services", "hours", "duty");
    for line in &lines {
        let hours = format!("{}.{}", line.minutes / 60, line.minutes % 60 * 10 / 60);
        let duty = if line.meets_duty { "met" } else { "short" };
        let team = teams.get(&line.team).map_or("", String::as_str);
        say!("{:<8} {:>8} {:>7}  {:<5} {team}", line.volunteer, line.services, hours, duty);
    }
    Ok(())
}

async fn run_replay(projection: Option<String>, data: DataDir) -> Result<()> {
    let names = match projection.as_deref() {
        None | Some("all") => vec!["board", "metrics", "ledger"],
        Some(name @ ("board" | "metrics" | "ledger")) => vec![name],
        Some(other) => bail!("--projection {other:?} is not one of board, metrics, ledger"),
    };
    let store = open_existing(&data).await?;
    let snapshots = store.local().snapshots()?;
    for name in names {
        let (events, seconds, snapshot) = match name {
            "board" => rebuild::<Board>(&store, &snapshots).await?,
            "metrics" => rebuild::<Metrics>(&store, &snapshots).await?,
            _ => rebuild::<Ledger>(&store, &snapshots).await?,
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

#[derive(Debug)]
struct AuditArgs {
    ticket: Option<String>,
    as_of: Option<String>,
    json: bool,
    verify: bool,
    all: bool,
}

async fn run_audit(args: AuditArgs, data: DataDir) -> Result<()> {
    if args.all {
        return run_audit_all(args.json, data).await;
    }
    let text = args.ticket.as_deref().context("name a ticket, e.g. T-12, or pass --all --verify")?;
    let ticket = TicketId::new(text).with_context(|| format!("{text:?} is not a ticket id like T-12"))?;
    let as_of =
        args.as_of.as_deref().map(|t| Timestamp::parse(t).with_context(|| format!("--as-of {t:?}"))).transpose()?;
    let store = open_existing(&data).await?;
    let stream = StreamId::ticket(&ticket);
    let events = store.read_stream(&stream, 1).await.with_context(|| format!("reading {stream}"))?;
    if events.is_empty() {
        bail!("{ticket} not found");
    }
    let verified = match args.verify {
        true => Some(audit::verify_ticket_stream(&events).context("the hash chain does not verify")?),
        false => None,
    };
    let log_end = store_last_event_time(&store).await?.unwrap_or_default();
    let mut report = audit::audit_ticket(&ticket, &events, as_of, log_end)?;
    report.verified = verified;
    let resident = resident_line(&store, report.state.ticket.resident.as_ref())?;
    if args.json {
        let mut answer = serde_json::to_value(&report)?;
        answer["resident"] = serde_json::json!(resident);
        say!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        say_raw!("{}", audit::render_text(&report));
        say!("\nresident: {resident}");
    }
    Ok(())
}

/// Who the resident is, from the personal store: masked phone, or "erased".
fn resident_line(store: &LogStore, resident: Option<&ResidentId>) -> Result<String> {
    let Some(resident) = resident else { return Ok("none".into()) };
    Ok(match store.local().personal()?.get(resident)? {
        Lookup::Found(p) => {
            let phone: String =
                p.phone.chars().enumerate().map(|(i, c)| if (3..7).contains(&i) { '*' } else { c }).collect();
            format!("{resident} · {} · {phone} · {}", p.name, p.address)
        }
        Lookup::Erased => format!("{resident} · erased (personal data deleted on request)"),
        Lookup::Unknown => format!("{resident} · no personal data on file"),
    })
}

fn run_keys_init(data: DataDir) -> Result<()> {
    drop(SledStore::open(&data.dir)?);
    let public = sealing::init_key(&data.dir)?;
    say!("seal key written to {}", sealing::key_path(&data.dir).display());
    say!("public key, for auditors: {public}");
    Ok(())
}

async fn run_seal(data: DataDir) -> Result<()> {
    let store = open_existing(&data).await?;
    let now = Timestamp::from_millis(i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis(),
    )?)?;
    let gridloop_engine::seal::SealEvent::Sealed { position, streams, digest, .. } =
        sealing::seal_now(&store, &data.dir, now).await?;
    say!("sealed {streams} streams up to position {position}: digest {digest}");
    Ok(())
}

fn run_token_create(role: &str, subject: &str, place: Option<&str>, data: DataDir) -> Result<()> {
    use gridloop_engine::envelope::Role;
    let Some(role) = Role::parse_issuable(role) else {
        bail!("--role {role:?} is not one of resident, grid_worker, dispatcher, volunteer, department, auditor, admin")
    };
    let place = place.map(GridCode::parse).transpose().context("--place")?;
    // Creates the data directory if this is a deployment's first step.
    drop(SledStore::open(&data.dir)?);
    let path = data.dir.join("tokens.json");
    let mut table = match path.exists() {
        true => gridloop_http::TokenTable::load(&path).with_context(|| format!("reading {}", path.display()))?,
        false => gridloop_http::TokenTable::new(),
    };
    let (token, entry) = gridloop_http::TokenTable::issue(role, subject, place)?;
    table.insert(entry)?;
    table.save(&path).with_context(|| format!("writing {}", path.display()))?;
    say!("{} token for {subject} (shown once; restart `gridloop serve` to use it): {token}", role.name());
    Ok(())
}

async fn run_resident_erase(id: String, data: DataDir) -> Result<()> {
    let resident = ResidentId::new(id.as_str()).with_context(|| format!("{id:?} is not a resident id"))?;
    let store = open_existing(&data).await?;
    match store.local().personal()?.erase(&resident)? {
        true => say!("{resident}: personal data erased; the log never held it and still verifies"),
        false => bail!("{resident} has no personal data on file"),
    }
    Ok(())
}

async fn run_audit_all(json: bool, data: DataDir) -> Result<()> {
    let store = open_existing(&data).await?;
    let bar = progress_bar(store.head_position().await?, "events verified");
    let summary = audit::verify_store(&store, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let summary = summary?;
    let bar = progress_bar(store.head_position().await?, "seals checked");
    let seals = sealing::check_seals(&store, &data.dir, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let seals = seals.context("the seals do not verify")?;
    if json {
        let seals = serde_json::json!({ "seals": seals.seals, "sealed_to": seals.sealed_to });
        say!("{}", serde_json::to_string_pretty(&serde_json::json!({ "ok": true, "log": summary, "seals": seals }))?);
        return Ok(());
    }
    let kinds: Vec<String> = summary.streams_by_kind.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    say!(
        "{} events in {} streams ({}), positions {} to {}: versions run without gaps, every hash matches its event \
         and chains onto the one before, positions increase. OK",
        summary.events,
        summary.streams,
        if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") },
        summary.first_position.unwrap_or(0),
        summary.last_position.unwrap_or(0)
    );
    match seals.seals {
        0 => say!("no seals yet (gridloop seal makes one)"),
        n => {
            say!("{n} seals verified: every stream's head matches what was signed, up to position {}", seals.sealed_to)
        }
    }
    Ok(())
}

async fn run_export(from: u64, data: DataDir) -> Result<()> {
    let store = open_existing(&data).await?;
    let bar = progress_bar(store.head_position().await?, "events exported");
    bar.set_position(from.saturating_sub(1).min(store.head_position().await?));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = audit::export(&store, from, &mut out, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            let last = summary.last_position.map_or_else(String::new, |p| format!(", up to position {p}"));
            eprintln!("exported {} events{last}", summary.events);
            Ok(())
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

async fn run_import(file: PathBuf, data: DataDir) -> Result<()> {
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
    Ok(())
}

/// Folds the whole log into a fresh projection, with a progress bar, and
/// saves its snapshot.
async fn rebuild<P: Projection>(store: &LogStore, snapshots: &SledSnapshots) -> Result<(u64, f64, Vec<u8>)> {
    let bar = progress_bar(store.head_position().await?, P::NAME);
    let started = Instant::now();
    let mut runner = Runner::<P>::fresh();
    let events = runner.catch_up(store, None, |position| bar.set_position(position)).await?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    runner.save(snapshots)?;
    Ok((events, seconds, runner.snapshot()))
}

fn progress_bar(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what);
    bar
}

/// `gridloop serve`: the API, the timers and the projection follower over
/// one command service, until Ctrl-C; then the server drains its requests
/// and the timers and the follower stop.
async fn run_serve(
    listen: std::net::SocketAddr,
    district: Option<PathBuf>,
    auto_dispatch: bool,
    matrix: MatrixArgs,
    data: DataDir,
) -> Result<()> {
    // Checked before anything starts, so a wrong flag costs nothing.
    let matrix = matrix_config(&matrix, &data)?;
    let district = match district {
        None => gridloop_fixtures::chikan(1)?,
        Some(path) => {
            // Bounded: a district file is a few hundred kilobytes at most.
            const DISTRICT_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
            let size = std::fs::metadata(&path).with_context(|| format!("--district {}", path.display()))?.len();
            if size > DISTRICT_FILE_BYTES_MAX {
                bail!("--district {} is larger than 16 MiB", path.display());
            }
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            gridloop_fixtures::load(&text, gridloop_fixtures::CATALOG_TOML, gridloop_fixtures::ROUTING_TOML, 1)
                .with_context(|| format!("--district {}", path.display()))?
        }
    };
    let store = LogStore::open(&data.dir, data.store.as_deref()).await?;
    let id_seed = u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?;
    let clock = gridloop_cli::clock::serve_clock().map_err(anyhow::Error::msg)?;
    let service = Arc::new(CommandService::new(store, district.world.clone(), clock, id_seed));
    let tokens = serve_tokens(&data.dir.join("tokens.json"))?;
    let state =
        gridloop_http::AppState::new(service.clone(), tokens).await?.with_token_file(data.dir.join("tokens.json"));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    say!("listening on http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let store = service.store().clone();
    let follower = tokio::spawn(gridloop_http::reads::follow(state.live.clone(), store, stopped.clone()));
    let chatbot = match matrix {
        Some(config) => {
            say!("chat bot {} on {}", config.client.user_id(), config.client.server());
            let bot = Arc::new(gridloop_chatbot::Bot::new(service.clone()));
            let stopped = stopped.clone();
            Some(tokio::spawn(async move {
                let ended = gridloop_chatbot::matrix::run(bot, config, stopped).await;
                // Said at once: the API keeps serving without the bot.
                if let Err(error) = &ended {
                    eprintln!("gridloop: the chat bot stopped: {error}");
                }
                ended
            }))
        }
        None => None,
    };
    let dispatcher =
        auto_dispatch.then(|| tokio::spawn(gridloop_cli::autodispatch::run(service.clone(), stopped.clone())));
    let timers = tokio::spawn(gridloop_cli::timers::run(service, stopped));
    let shutdown = async {
        // If the signal cannot be installed the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    axum::serve(listener, gridloop_http::router(state)).with_graceful_shutdown(shutdown).await?;
    let _ = stop.send(true);
    let fired = timers.await.context("the timer task")??;
    follower.await.context("the projection follower")??;
    if let Some(dispatcher) = dispatcher {
        let written = dispatcher.await.context("the dispatcher policy")??;
        say!("the dispatcher policy wrote {written} commands");
    }
    if let Some(chatbot) = chatbot {
        // Its error, if any, was reported when it happened.
        let _ = chatbot.await.context("the chat bot task")?;
    }
    say!("stopped; the timers wrote {} commands", fired.written);
    Ok(())
}

/// The chat bot's configuration from `serve`'s --matrix-* flags, if given.
fn matrix_config(args: &MatrixArgs, data: &DataDir) -> Result<Option<gridloop_chatbot::matrix::Config>> {
    // Bounded: an access token is a few hundred bytes.
    const TOKEN_FILE_BYTES_MAX: u64 = 4096;
    let (Some(url), Some(user), Some(token_file)) =
        (&args.matrix_homeserver, &args.matrix_user, &args.matrix_token_file)
    else {
        return Ok(None);
    };
    let server = gridloop_chatbot::client::Homeserver::parse(url).context("--matrix-homeserver")?;
    let size =
        std::fs::metadata(token_file).with_context(|| format!("--matrix-token-file {}", token_file.display()))?;
    if size.len() > TOKEN_FILE_BYTES_MAX {
        bail!("--matrix-token-file {} is larger than {TOKEN_FILE_BYTES_MAX} bytes", token_file.display());
    }
    let token = std::fs::read_to_string(token_file).with_context(|| format!("reading {}", token_file.display()))?;
    let client = gridloop_chatbot::client::Client::new(server, user, &token).context("--matrix-user or the token")?;
    Ok(Some(gridloop_chatbot::matrix::Config::new(client, data.dir.join("matrix.json"))))
}

/// `gridloop chatbot`: the chat bot alone on the log in --store, until
/// Ctrl-C.
async fn run_chatbot(matrix: MatrixArgs, data: DataDir) -> Result<()> {
    let Some(config) = matrix_config(&matrix, &data)? else {
        bail!("gridloop chatbot needs --matrix-homeserver, --matrix-user and --matrix-token-file");
    };
    let store = LogStore::open(&data.dir, data.store.as_deref()).await?;
    let id_seed = u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?;
    let clock = gridloop_cli::clock::serve_clock().map_err(anyhow::Error::msg)?;
    // The catalog and grid names of the offers it words: the Chikan fixture,
    // as `serve` uses by default.
    let world = gridloop_fixtures::chikan(1)?.world.clone();
    let service = Arc::new(CommandService::new(store, world, clock, id_seed));
    say!("chat bot {} on {}", config.client.user_id(), config.client.server());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut bot =
        tokio::spawn(gridloop_chatbot::matrix::run(Arc::new(gridloop_chatbot::Bot::new(service)), config, stopped));
    tokio::select! {
        ended = &mut bot => return ended.context("the chat bot task")?.map_err(Into::into),
        signal = tokio::signal::ctrl_c() => signal.context("waiting for Ctrl-C")?,
    }
    let _ = stop.send(true);
    bot.await.context("the chat bot task")??;
    say!("stopped");
    Ok(())
}

/// `gridloop volunteer link-code V-7`: prints a fresh one-time link code.
async fn run_link_code(id: String, data: DataDir) -> Result<()> {
    let volunteer = gridloop_engine::ids::VolunteerId::new(&id).with_context(|| format!("volunteer {id:?}"))?;
    let store = open_existing(&data).await?;
    let id_seed = u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?;
    let clock = gridloop_cli::clock::serve_clock().map_err(anyhow::Error::msg)?;
    let service = CommandService::new(store, gridloop_fixtures::chikan(1)?.world.clone(), clock, id_seed);
    let random = u64::from_str_radix(&gridloop_http::random_hex(8)?, 16)?;
    let code = gridloop_chatbot::links::code_from(random);
    let command_id = gridloop_engine::ids::CommandId::new(format!("link-code-{}", gridloop_http::random_hex(16)?))?;
    let operator = gridloop_engine::envelope::Actor::new(gridloop_engine::envelope::Role::Dispatcher, "d-cli")?;
    gridloop_chatbot::links::issue_code(&service, &volunteer, operator, command_id, &code).await?;
    let state = service.volunteer(&volunteer).await?;
    let expires = state.link_code.map(|c| c.expires_at.to_string()).unwrap_or_default();
    say!(
        "link code for {volunteer}: {code} (valid until {expires}; they send `绑定 {code}` or `link {code}` to the bot)"
    );
    Ok(())
}

/// The token table of `serve`: read from `path`, or, on the first start, a
/// dispatcher token for the whole district, an auditor token and an admin
/// token, printed once, their hashes saved to `path`.
fn serve_tokens(path: &std::path::Path) -> Result<gridloop_http::TokenTable> {
    use gridloop_engine::envelope::Role;
    if path.exists() {
        return gridloop_http::TokenTable::load(path).with_context(|| format!("reading {}", path.display()));
    }
    let mut table = gridloop_http::TokenTable::new();
    for (role, subject) in [(Role::Dispatcher, "d-district"), (Role::Auditor, "auditor"), (Role::Admin, "admin")] {
        let (token, entry) = gridloop_http::TokenTable::issue(role, subject, None)?;
        table.insert(entry)?;
        say!("{} token for {subject} (shown once): {token}", role.name());
    }
    table.save(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(table)
}

/// `gridloop bench`.
async fn run_bench(
    quick: bool,
    store: Option<String>,
    json: Option<PathBuf>,
    peer_results: Option<PathBuf>,
    rebuild_events: Option<Vec<u64>>,
    only: Vec<gridloop_cli::bench::Scenario>,
    work_dir: Option<PathBuf>,
) -> Result<()> {
    const REBUILD_EVENTS_MAX: u64 = 20_000_000;
    let rebuild_events = rebuild_events.unwrap_or_else(|| vec![if quick { 60_000 } else { 1_000_000 }]);
    if rebuild_events.iter().any(|&n| n == 0 || n > REBUILD_EVENTS_MAX) || rebuild_events.len() > 4 {
        bail!("--rebuild-events: up to 4 sizes, each 1 to {REBUILD_EVENTS_MAX}");
    }
    let (work_dir, temporary) = match work_dir {
        Some(dir) => (dir, false),
        None => (std::env::temp_dir().join(format!("gridloop-bench-{}", std::process::id())), true),
    };
    let options = gridloop_cli::bench::BenchOptions {
        quick,
        store,
        work_dir: work_dir.clone(),
        peer_results,
        rebuild_events,
        only,
    };
    let started = Instant::now();
    let report =
        gridloop_cli::bench::run(options, |what| eprintln!("bench: {what} ({:.0}s)", started.elapsed().as_secs_f64()))
            .await;
    if temporary {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    let report = report?;
    say_raw!("{}", gridloop_cli::bench::render(&report));
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
