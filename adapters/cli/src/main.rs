//! `gridloop`: the command line of the closed loop (居民点单 · 社区派单 · 志愿接单).
//!
//! This file parses the arguments and dispatches; each subcommand is a
//! module of [`cmd`], on the [`deployment::Deployment`] it opens (or the one
//! a running `serve` has open, through the [`control`] socket).

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

#[macro_use]
mod output;
mod cmd;
mod control;
mod deployment;

use cmd::audit::AuditArgs;
use cmd::bench::BenchArgs;
use cmd::chatbot::ChatbotArgs;
use cmd::demo::DemoArgs;
use cmd::duty::DutyArgs;
use cmd::export::ExportArgs;
use cmd::import::ImportArgs;
use cmd::keys::KeysArgs;
use cmd::metrics::MetricsArgs;
use cmd::qr::QrArgs;
use cmd::replay::ReplayArgs;
use cmd::report::ReportArgs;
use cmd::resident::ResidentArgs;
use cmd::seal::SealArgs;
use cmd::serve::ServeArgs;
use cmd::token::TokenArgs;
use cmd::volunteer::VolunteerArgs;
use cmd::world::WorldArgs;
use cmd::{DataDir, Host, Serving};

/// mimalloc, not glibc's malloc: folding a log allocates and frees many small
/// values (ids, JSON maps), and glibc spent 45% of a rebuild in malloc, free
/// and consolidation (BENCHMARKS.md, "rebuild").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Demo(DemoArgs),
    Metrics(MetricsArgs),
    Qr(QrArgs),
    Duty(DutyArgs),
    Keys(KeysArgs),
    Seal(SealArgs),
    Token(TokenArgs),
    Resident(ResidentArgs),
    Volunteer(VolunteerArgs),
    World(WorldArgs),
    Chatbot(ChatbotArgs),
    Replay(ReplayArgs),
    Report(ReportArgs),
    Audit(AuditArgs),
    Export(ExportArgs),
    Import(ImportArgs),
    Serve(ServeArgs),
    Bench(BenchArgs),
}

impl Cmd {
    /// The data directory the subcommand works on (`bench` has none).
    fn data(&self) -> Option<&DataDir> {
        Some(match self {
            Cmd::Demo(a) => &a.data,
            Cmd::Metrics(a) => &a.data,
            Cmd::Qr(a) => &a.data,
            Cmd::Duty(a) => &a.data,
            Cmd::Keys(a) => a.data(),
            Cmd::Seal(a) => &a.data,
            Cmd::Token(a) => a.data(),
            Cmd::Resident(a) => a.data(),
            Cmd::Volunteer(a) => a.data(),
            Cmd::World(a) => return a.data(),
            Cmd::Chatbot(a) => &a.data,
            Cmd::Replay(a) => &a.data,
            Cmd::Report(a) => a.data(),
            Cmd::Audit(a) => &a.data,
            Cmd::Export(a) => &a.data,
            Cmd::Import(a) => &a.data,
            Cmd::Serve(a) => &a.data,
            Cmd::Bench(_) => return None,
        })
    }
}

fn main() -> ExitCode {
    install_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => match usage_error(&error) {
            (text, 1) => {
                eprint!("{text}");
                return ExitCode::FAILURE;
            }
            _ => error.exit(),
        },
    };
    // With `serve` running on this data directory, it runs the command.
    let bundle_dir = match &cli.command {
        Cmd::World(args) => args.bundle_dir(),
        _ => None,
    };
    if let Some(code) = cli.command.data().and_then(|data| control::forward(data, bundle_dir)) {
        return code;
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gridloop: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRIDLOOP_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// The flags whose values are an enum: an unknown value is refused with
/// exit status 1, as it was when they were checked after parsing.
const ENUM_FLAGS: [&str; 3] = ["--by", "--projection", "--role"];

/// How a refusal of clap's is reported: the text for stderr and the exit
/// status. An unknown value of an [`ENUM_FLAGS`] flag is `FLAG "VALUE" is
/// not one of …`, status 1; anything else is clap's own text and status.
fn usage_error(error: &clap::Error) -> (String, u8) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg)
        && let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue)
        && let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue)
        && let Some(flag) = ENUM_FLAGS.iter().find(|flag| arg.split(' ').next() == Some(**flag))
    {
        return (format!("gridloop: {flag} {value:?} is not one of {}\n", valid.join(", ")), 1);
    }
    (error.render().to_string(), u8::try_from(error.exit_code()).unwrap_or(2))
}

/// Runs a subcommand in this process.
fn run(command: Cmd) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let host = &Host::Offline;
    runtime.block_on(async {
        match command {
            Cmd::Demo(args) => cmd::demo::run(args).await,
            Cmd::Metrics(args) => cmd::metrics::run(args, host).await,
            Cmd::Qr(args) => cmd::qr::run(args, host).await,
            Cmd::Duty(args) => cmd::duty::run(args, host).await,
            Cmd::Keys(args) => cmd::keys::run(args),
            Cmd::Seal(args) => cmd::seal::run(args, host).await,
            Cmd::Token(args) => cmd::token::run(args, host).await,
            Cmd::Resident(args) => cmd::resident::run(args, host).await,
            Cmd::Volunteer(args) => cmd::volunteer::run(args, host).await,
            Cmd::World(args) => cmd::world::run(args, host).await,
            Cmd::Chatbot(args) => cmd::chatbot::run(args).await,
            Cmd::Replay(args) => cmd::replay::run(args, host).await,
            Cmd::Report(args) => cmd::report::run(args, host).await,
            Cmd::Audit(args) => cmd::audit::run(args, host).await,
            Cmd::Export(args) => cmd::export::run(args, host).await,
            Cmd::Import(args) => cmd::import::run(args).await,
            Cmd::Serve(args) => cmd::serve::run(args).await,
            Cmd::Bench(args) => cmd::bench::run(args).await,
        }
    })
}

/// Runs a subcommand a control client sent, inside `serve`, on its
/// deployment. Those that need the store to themselves are refused.
async fn dispatch_served(command: Cmd, serving: &Serving) -> Result<()> {
    let host = &Host::Serve(serving);
    let name = match command {
        Cmd::Metrics(args) => return cmd::metrics::run(args, host).await,
        Cmd::Qr(args) => return cmd::qr::run(args, host).await,
        Cmd::Duty(args) => return cmd::duty::run(args, host).await,
        Cmd::Seal(args) => return cmd::seal::run(args, host).await,
        Cmd::Token(args) => return cmd::token::run(args, host).await,
        Cmd::Resident(args) => return cmd::resident::run(args, host).await,
        Cmd::Volunteer(args) => return cmd::volunteer::run(args, host).await,
        Cmd::World(args) => return cmd::world::run(args, host).await,
        Cmd::Replay(args) => return cmd::replay::run(args, host).await,
        Cmd::Report(args) => return cmd::report::run(args, host).await,
        Cmd::Audit(args) => return cmd::audit::run(args, host).await,
        Cmd::Export(args) => return cmd::export::run(args, host).await,
        Cmd::Demo(_) => "demo",
        Cmd::Keys(_) => "keys init",
        Cmd::Chatbot(_) => "chatbot",
        Cmd::Import(_) => "import",
        Cmd::Serve(_) => "serve",
        Cmd::Bench(_) => "bench",
    };
    bail!(
        "`gridloop {name}` does not run while `gridloop serve` runs on {}: stop the server first, or use another \
         --data directory",
        serving.deployment.dir().display()
    )
}
