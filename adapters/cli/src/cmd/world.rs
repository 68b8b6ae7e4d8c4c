//! `gridloop world`: check a world bundle, import it into the log, show the
//! world (as of any instant), and list the changes that made it.
//!
//! The bundle's format is `docs/world.md`; reading, checking and importing
//! are `gridloop_world`'s. This module only maps flags and prints.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::StreamId;
use gridloop_engine::personal::PersonalStore;
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_world::{Bundle, Encoding};

use super::{DataDir, Host};
use crate::output::progress_bar;

/// The district's world: `world check DIR` names every error of a bundle;
/// `world import DIR` writes its difference from the log's world as events
/// (nothing unless the whole bundle is valid; again: nothing); `world show
/// [--as-of T]` prints the world; `world log` lists the changes, by whom.
#[derive(Debug, Args)]
pub struct WorldArgs {
    #[command(subcommand)]
    action: WorldCmd,
}

#[derive(Debug, Subcommand)]
enum WorldCmd {
    /// Read and check a bundle; print every problem (file, line or feature,
    /// column, what is wrong) and exit non-zero if there is one. Writes nothing.
    Check {
        /// The bundle's directory (docs/world.md).
        #[arg(value_name = "DIR")]
        bundle: PathBuf,
        #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
        encoding: EncodingArg,
    },
    /// Check a bundle, then append its difference from the world in the log
    /// (and its volunteers, and their personal data to the personal store).
    /// Works while `serve` runs.
    Import {
        /// The bundle's directory (docs/world.md).
        #[arg(value_name = "DIR")]
        bundle: PathBuf,
        #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
        encoding: EncodingArg,
        /// Who imports (the actor of the events: who admitted an item).
        #[arg(long, default_value = "operator")]
        operator: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the world: as it is, or as it stood at --as-of.
    Show {
        /// An instant (YYYY-MM-DD, China time, or RFC 3339).
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// The changes that made the world, one line each: when, who, what.
    Log {
        /// Only changes naming this item, grid, team or staff code.
        #[arg(long, value_name = "CODE")]
        about: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum EncodingArg {
    Auto,
    #[value(name = "utf-8")]
    Utf8,
    Gb18030,
}

impl EncodingArg {
    fn encoding(self) -> Encoding {
        match self {
            EncodingArg::Auto => Encoding::Auto,
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Gb18030 => Encoding::Gb18030,
        }
    }
}

impl WorldArgs {
    /// The data directory, for the commands that use the log.
    pub fn data(&self) -> Option<&DataDir> {
        match &self.action {
            WorldCmd::Check { .. } => None,
            WorldCmd::Import { data, .. } | WorldCmd::Show { data, .. } | WorldCmd::Log { data, .. } => Some(data),
        }
    }

    /// The bundle directory named relative to this process's working
    /// directory, for a running server whose working directory differs.
    pub fn bundle_dir(&self) -> Option<&PathBuf> {
        match &self.action {
            WorldCmd::Check { bundle, .. } | WorldCmd::Import { bundle, .. } => Some(bundle),
            _ => None,
        }
    }
}

pub async fn run(args: WorldArgs, host: &Host<'_>) -> Result<()> {
    match args.action {
        WorldCmd::Check { bundle, encoding } => check(&bundle, encoding.encoding()).map(|_| ()),
        WorldCmd::Import { bundle, encoding, operator, data } => {
            import(&bundle, encoding.encoding(), &operator, &data, host).await
        }
        WorldCmd::Show { as_of, data } => show(as_of.as_deref(), &data, host).await,
        WorldCmd::Log { about, data } => log(about.as_deref(), &data, host).await,
    }
}

/// Reads the bundle, printing every problem; an error names how many.
fn check(dir: &std::path::Path, encoding: Encoding) -> Result<Bundle> {
    match gridloop_world::read(dir, encoding) {
        Ok(bundle) => {
            let world = bundle.world.world().context("the bundle's world")?;
            say!(
                "{}: OK — district {} ({}), {} grids and sub-grids, {} categories, {} catalog items, {} teams, {} \
                 volunteers, {} staff",
                dir.display(),
                bundle.world.district.as_ref().map_or("", |d| d.name.as_str()),
                bundle.world.district.as_ref().map_or(String::new(), |d| d.code.to_string()),
                world.grids.len(),
                world.catalog.categories().count(),
                world.catalog.items().count(),
                world.teams.len(),
                bundle.volunteers.len(),
                world.staff.len()
            );
            Ok(bundle)
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            bail!("{}: {} problem(s); nothing was written", dir.display(), problems.len())
        }
    }
}

async fn import(
    dir: &std::path::Path,
    encoding: Encoding,
    operator: &str,
    data: &DataDir,
    host: &Host<'_>,
) -> Result<()> {
    let bundle = check(dir, encoding)?;
    let operator = Actor::new(Role::Admin, operator).context("--operator")?;
    let deployment = match host {
        Host::Offline => crate::deployment::Deployment::create(data, Default::default()).await?,
        Host::Serve(_) => host.open(data).await?,
    };
    let summary = import_bundle(&deployment, &bundle, operator, "import steps").await;
    let s = summary?;
    say!(
        "imported {}: {} world events in {} commands; volunteers {} registered, {} changed, {} exited, {} unchanged; \
         personal records {} written, {} unchanged",
        dir.display(),
        s.world_events,
        s.world_commands,
        s.volunteers_registered,
        s.volunteers_changed,
        s.volunteers_exited,
        s.volunteers_unchanged,
        s.personal_written,
        s.personal_unchanged
    );
    if !s.volunteers_not_in_bundle.is_empty() {
        say!("{} volunteers in the log are not in the bundle (left as they are)", s.volunteers_not_in_bundle.len());
    }
    for note in &s.notes {
        say!("note: {note}");
    }
    if s.wrote_nothing() {
        say!("nothing to write: the log already holds this bundle");
    }
    Ok(())
}

/// Imports a checked bundle into the deployment's log and personal store,
/// with a progress bar: `world import`'s and the demo's one way in.
pub async fn import_bundle(
    deployment: &crate::deployment::Deployment,
    bundle: &Bundle,
    operator: Actor,
    what: &'static str,
) -> Result<gridloop_world::ImportSummary> {
    let personal = deployment.store().local().personal()?;
    let bar = progress_bar(0, what);
    let summary = gridloop_world::import(
        deployment.service(),
        Some(&personal as &dyn PersonalStore),
        bundle,
        operator,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .await;
    bar.finish_and_clear();
    Ok(summary?)
}

async fn show(as_of: Option<&str>, data: &DataDir, host: &Host<'_>) -> Result<()> {
    let end_of_time = Timestamp::parse("2199-12-31T23:59:59Z")?;
    let at = as_of.map(|t| super::parse_instant(t, "--as-of")).transpose()?.unwrap_or(end_of_time);
    let deployment = host.open(data).await?;
    let events = deployment.store().read_stream(&StreamId::world(), 1).await?;
    if events.is_empty() {
        bail!("the log holds no world yet: `gridloop world import DIR` writes one");
    }
    let state = gridloop_world::world_as_of(&events, at)?;
    match as_of {
        Some(text) => say!("the world as of {text} ({}):", at),
        None => say!("the world now:"),
    }
    say_raw!("{}", gridloop_world::describe(&state));
    Ok(())
}

async fn log(about: Option<&str>, data: &DataDir, host: &Host<'_>) -> Result<()> {
    let deployment = host.open(data).await?;
    let events = deployment.store().read_stream(&StreamId::world(), 1).await?;
    let shown = print_lines(&events, about);
    say!("{shown} of {} world events", events.len());
    Ok(())
}

/// Prints one line per event (when, version, what, by whom, the codes and
/// names it names), only those naming `about` when given; returns how many.
pub fn print_lines(events: &[gridloop_engine::envelope::RecordedEvent], about: Option<&str>) -> usize {
    let mut shown = 0;
    for event in events {
        if about.is_some_and(|code| !event.payload.to_string().contains(&format!("\"{code}\""))) {
            continue;
        }
        let what = event.schema.name.split_once('.').map_or(event.schema.name.as_str(), |(_, w)| w);
        say!(
            "{}  v{:<5} {:<18} by {} {}  {}",
            event.occurred_at,
            event.version,
            what,
            event.actor.role.name(),
            event.actor.id,
            summary_of(&event.payload)
        );
        shown += 1;
    }
    shown
}

/// The code and name (or reason) a payload carries, for one line.
fn summary_of(payload: &serde_json::Value) -> String {
    let data = payload.get("data").unwrap_or(payload);
    let pick = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let find = |k: &str| pick(data, k).or_else(|| data.as_object()?.values().find_map(|inner| pick(inner, k)));
    let code = find("code").or_else(|| find("id")).or_else(|| find("subject")).unwrap_or_default();
    let name = find("name").or_else(|| find("reason")).unwrap_or_default();
    format!("{code} {name}").trim().to_string()
}
