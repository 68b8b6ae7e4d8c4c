//! `gridloop serve`: the API, the timers, the projection follower, the
//! seal schedule and the control socket over one deployment, until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_engine::seal::SealEvent;
use gridloop_policies::{autodispatch, coordination, timers};
use gridloop_projections::cold::Cold;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::chatbot::MatrixArgs;
use super::notify::NotifyArgs;
use super::{DataDir, Serving};
use crate::control;
use crate::deployment::{Deployment, Setup};

/// Serve the JSON API (/api/v1) and run the deadline timers on the
/// store in --data (and, with --matrix-homeserver, the volunteers' chat
/// bot; residents are told what happened to their requests on their page,
/// and with --smtp and --webhook by e-mail and a signed webhook), until
/// Ctrl-C. On the first start it issues a
/// dispatcher and an auditor token, prints them once, and keeps only
/// their hashes (DATA/tokens.json). On the embedded store it seals the log
/// each midnight (China time) and answers other gridloop commands on
/// DATA/control.sock while it runs.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; port 0 picks a free port (printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Run the dispatcher policy: every ticket waiting for dispatch gets
    /// its next step (triage, offer ring by ring, assign) at once, as
    /// the dispatcher of its tier. Without it, dispatchers act by hand.
    #[arg(long)]
    auto_dispatch: bool,
    /// Seal the log this often (30m, 6h, 1d; 1m to 7d) instead of each
    /// midnight, China time. On NATS, only a serve given this flag seals.
    #[arg(long, value_name = "DURATION", value_parser = sealing::parse_seal_every)]
    seal_every: Option<Duration>,
    /// Hold every order from the resident's pages (/r) until its phone is
    /// confirmed with a one-time code sent to the resident's channel
    /// (docs/adr/0005-resident-accounts.md); without it, an order enters
    /// the dispatch queue at once.
    #[arg(long)]
    confirm_phone: bool,
    /// The public URL of this server, which the grids' QR codes point at
    /// (default: the address a request came to).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    #[command(flatten)]
    matrix: MatrixArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    pub data: DataDir,
}

/// The background tasks of a running server.
struct Tasks {
    follower: JoinHandle<Result<(), gridloop_engine::Error>>,
    timers: JoinHandle<Result<gridloop_policies::deadlines::Fired, gridloop_engine::Error>>,
    /// 巡办协同: relays settled child tickets to their parents.
    coordination: JoinHandle<Result<(), gridloop_engine::Error>>,
    dispatcher: Option<JoinHandle<Result<u64, gridloop_engine::Error>>>,
    chatbot: Option<JoinHandle<Result<(), gridloop_chatbot::Error>>>,
    notifier: JoinHandle<Result<(), gridloop_notify::Error>>,
    sealer: Option<JoinHandle<u64>>,
    control: Option<JoinHandle<()>>,
}

pub async fn run(args: ServeArgs) -> Result<()> {
    // Checked before anything starts, so a wrong flag costs nothing.
    let matrix = args.matrix.config(&args.data.dir)?;
    let notify = args.notify.config()?;
    let deployment = Deployment::create(&args.data, Setup::default()).await?;
    let world = deployment.world();
    if world.grids.is_empty() {
        say!("no district in this log yet: import one with `gridloop world import DIR` (it works while serving)");
    }
    if let Some(zone) = world.district.as_ref().map(|d| d.time_zone.as_str()).filter(|z| !china_time(z)) {
        // Days, weeks and the nightly seal are counted in China time today
        // (UTC+8); another zone is recorded but not yet followed.
        say!("note: the district's time zone is {zone}; days and the nightly seal use China time (UTC+8)");
    }
    let token_file = deployment.dir().join("tokens.json");
    let tokens = serve_tokens(&token_file)?;
    // Names and phones given over the API go to the same encrypted personal
    // store the bundle import and `resident erase` use.
    let personal: Arc<dyn gridloop_engine::personal::PersonalStore> = Arc::new(deployment.store().local().personal()?);
    let notifier = super::notify::notifier(&deployment, personal.clone(), notify).await?;
    // Residents' accounts, links and codes live beside the personal data,
    // in the local store, never in the log.
    let accounts: Arc<dyn gridloop_engine::account::AccountStore> = Arc::new(deployment.store().local().accounts()?);
    // The projections' snapshots and cold rows, in the local sled database
    // (on NATS too): a restart folds only the log's tail past them.
    let cold_store: Arc<dyn gridloop_projections::cold::ColdStore> = Arc::new(deployment.store().local().snapshots()?);
    let started = std::time::Instant::now();
    let state = gridloop_http::AppState::new(deployment.service().clone(), tokens, Cold::new(cold_store.clone()))
        .await?
        .with_token_file(token_file)
        .with_personal(personal)
        .with_blobs(deployment.blobs().clone())
        .with_courier(Arc::new(notifier.clone()))
        .with_accounts(accounts)
        .with_public_url(args.public_url.clone())
        .with_confirm_phone(args.confirm_phone);
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let seals = seal_schedule(&deployment, args.seal_every)?;
    let serving = Arc::new(Serving { deployment: deployment.clone(), tokens: state.tokens.clone() });
    let control = match deployment.store() {
        LogStore::Sled(_) => control::Listener::bind(deployment.dir()),
        LogStore::Nats { .. } => None,
    };
    say!("projections ready at position {} in {:.2}s", state.live.checkpoint().await, started.elapsed().as_secs_f64());
    say!("listening on http://{}", listener.local_addr()?);
    let (stop, stopped) = watch::channel(false);
    let follower =
        tokio::spawn(gridloop_http::reads::follow(state.live.clone(), deployment.store().clone(), stopped.clone()));
    let chatbot = matrix.map(|config| start_chatbot(&deployment, config, stopped.clone()));
    let notifier = tokio::spawn({
        let stopped = stopped.clone();
        async move { notifier.run(stopped).await }
    });
    let service = deployment.service();
    let dispatcher = args.auto_dispatch.then(|| {
        tokio::spawn(autodispatch::run_saved(service.clone(), Cold::new(cold_store.clone()), stopped.clone()))
    });
    // Each policy resumes from its own snapshot in the same store, with its
    // own handle (its commits never carry the views' pending rows).
    let timers = tokio::spawn(timers::run_saved(service.clone(), Cold::new(cold_store.clone()), stopped.clone()));
    let coordination =
        tokio::spawn(coordination::run_saved(service.clone(), Cold::new(cold_store.clone()), stopped.clone()));
    let sealer = seals.map(|every| tokio::spawn(seal_on_schedule(deployment.clone(), every, stopped.clone())));
    let control = control.map(|listener| tokio::spawn(listener.serve(serving, stopped.clone())));
    let shutdown = async {
        // If the signal cannot be installed the server runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let options = gridloop_http::server::Options::default();
    gridloop_http::serve(listener, gridloop_http::router(state), options, shutdown).await?;
    let _ = stop.send(true);
    stopped_all(Tasks { follower, timers, coordination, dispatcher, chatbot, notifier, sealer, control }).await
}

/// Waits for every task to stop, and says what the timers and the
/// dispatcher policy wrote.
async fn stopped_all(tasks: Tasks) -> Result<()> {
    if let Some(control) = tasks.control {
        control.await.context("the control socket")?;
    }
    if let Some(sealer) = tasks.sealer {
        sealer.await.context("the seal schedule")?;
    }
    let fired = tasks.timers.await.context("the timer task")??;
    tasks.follower.await.context("the projection follower")??;
    tasks.coordination.await.context("the coordination policy")??;
    if let Some(dispatcher) = tasks.dispatcher {
        let written = dispatcher.await.context("the dispatcher policy")??;
        say!("the dispatcher policy wrote {written} commands");
    }
    // The notifier's follower logged its error when it stopped; the API
    // served on without it.
    if let Err(error) = tasks.notifier.await.context("the notifier")? {
        eprintln!("gridloop: the notifier stopped: {error}");
    }
    if let Some(chatbot) = tasks.chatbot {
        // Its error, if any, was reported when it happened.
        let _ = chatbot.await.context("the chat bot task")?;
    }
    say!("stopped; the timers wrote {} commands", fired.written);
    Ok(())
}

/// The chat bot inside `serve`.
fn start_chatbot(
    deployment: &Deployment,
    config: gridloop_chatbot::matrix::Config,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<Result<(), gridloop_chatbot::Error>> {
    say!("chat bot {} on {}", config.client.user_id(), config.client.server());
    // The bot keeps volunteers' photos where the deployment keeps every photo.
    let bot = Arc::new(gridloop_chatbot::Bot::new(deployment.service().clone()).with_blobs(deployment.blobs().clone()));
    tokio::spawn(async move {
        let ended = gridloop_chatbot::matrix::run(bot, config, stopped).await;
        // Said at once: the API keeps serving without the bot.
        if let Err(error) = &ended {
            eprintln!("gridloop: the chat bot stopped: {error}");
        }
        ended
    })
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

/// Whether this server seals on a schedule (`Some`), and how often
/// (`Some(None)`: each midnight). On sled, always; on NATS, where several
/// servers share the log, only the one given --seal-every. Makes the seal
/// key if it is missing.
fn seal_schedule(deployment: &Deployment, every: Option<Duration>) -> Result<Option<Option<Duration>>> {
    if matches!(deployment.store(), LogStore::Nats { .. }) && every.is_none() {
        return Ok(None);
    }
    if !sealing::key_path(deployment.dir()).exists() {
        say!("seal key made; its public half, for auditors: {}", sealing::init_key(deployment.dir())?);
    }
    Ok(Some(every))
}

/// Seals the log when due (each midnight by `next_seal_at`, or `every`), by
/// the deployment's clock, until stopped; a seal that fell due while no
/// server ran is made at once. Returns how many seals it made.
async fn seal_on_schedule(deployment: Deployment, every: Option<Duration>, mut stopped: watch::Receiver<bool>) -> u64 {
    const RECHECK: Duration = Duration::from_secs(60);
    let mut made = 0;
    let mut last = match sealing::last_sealed_at(deployment.store()).await {
        Ok(last) => last,
        Err(error) => {
            eprintln!("gridloop: the seal schedule cannot read the log ({error:#}); it starts from now");
            None
        }
    };
    while !*stopped.borrow() {
        let now = deployment.clock().now();
        let base = *last.get_or_insert(now);
        let due = sealing::seal_due_after(base, every);
        let wait = if due <= now {
            match seal_once(&deployment).await {
                Ok(()) => {
                    made += 1;
                    last = Some(now);
                    continue;
                }
                Err(error) => {
                    eprintln!("gridloop: the scheduled seal failed ({error:#}); trying again in a minute");
                    RECHECK
                }
            }
        } else {
            // Woken at least each minute: a clock that moves is followed.
            Duration::from_millis(due.since(now).0).min(RECHECK)
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
    }
    made
}

/// One scheduled seal, said on the server's stdout (none on an empty log).
async fn seal_once(deployment: &Deployment) -> Result<()> {
    if deployment.store().head_position().await? == 0 {
        return Ok(());
    }
    let SealEvent::Sealed { position, streams, .. } = deployment.seal().await?;
    say!("sealed {streams} streams up to position {position} (on schedule)");
    Ok(())
}

/// Whether an IANA zone name keeps China time (UTC+8 all year).
fn china_time(zone: &str) -> bool {
    matches!(
        zone,
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "Asia/Hong_Kong" | "Asia/Macau" | "Asia/Taipei" | "PRC"
    )
}
