//! `gridloop audit`: a ticket's history as an auditor reads it, or the
//! whole log verified (`--all --verify`).

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_cli::sealing;
use gridloop_cli::store::LogStore;
use gridloop_cli::{audit, photos};
use gridloop_engine::ids::{ResidentId, StreamId, TicketId};
use gridloop_engine::personal::{Lookup, PersonalStore};
use gridloop_engine::store::EventStore;
use gridloop_engine::time::Timestamp;
use gridloop_projections::audit as timeline;

use super::{DataDir, Host, store_last_event_time};
use crate::output::progress_bar;

/// A ticket's history as an auditor reads it: each event's time, actor
/// and role, what changed, the state after it, and the deadlines it met
/// or missed; --as-of shows the ticket exactly as it was then. With
/// --verify, the ticket's hash chain is checked first; `gridloop audit
/// --all --verify` checks the whole log.
#[derive(Debug, Args)]
pub struct AuditArgs {
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
    /// event that does not verify; and that every photo the ticket names
    /// is there unchanged, or erased on request.
    #[arg(long)]
    verify: bool,
    /// With --verify: check every stream of the whole log, in position
    /// order, instead of one ticket, the seals, and every photo the events
    /// name (present and unchanged, or erased on request).
    #[arg(long, requires = "verify", conflicts_with = "as_of")]
    all: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// A volunteer (`V-7`) or the world (`world`): their streams are audited as
/// lines of what happened, when and by whom.
fn other_stream(text: &str) -> Option<StreamId> {
    if text == "world" {
        return Some(StreamId::world());
    }
    gridloop_engine::ids::VolunteerId::new(text).ok().map(|v| StreamId::volunteer(&v))
}

pub async fn run(args: AuditArgs, host: &Host<'_>) -> Result<()> {
    if args.all {
        return run_all(args.json, &args.data, host).await;
    }
    let text = args.ticket.as_deref().context("name a ticket, e.g. T-12, or pass --all --verify")?;
    if let Some(stream) = other_stream(text) {
        let deployment = host.open(&args.data).await?;
        let events = deployment.store().read_stream(&stream, 1).await.with_context(|| format!("reading {stream}"))?;
        if events.is_empty() {
            bail!("{text} not found");
        }
        if args.verify {
            gridloop_engine::envelope::verify_stream(&events).context("the hash chain does not verify")?;
            say!("{stream}: {} events, the hash chain verifies", events.len());
        }
        super::world::print_lines(&events, None);
        return Ok(());
    }
    let ticket = TicketId::new(text).with_context(|| format!("{text:?} is not a ticket id like T-12"))?;
    let as_of =
        args.as_of.as_deref().map(|t| Timestamp::parse(t).with_context(|| format!("--as-of {t:?}"))).transpose()?;
    let deployment = host.open(&args.data).await?;
    let store = deployment.store();
    let stream = StreamId::ticket(&ticket);
    let events = store.read_stream(&stream, 1).await.with_context(|| format!("reading {stream}"))?;
    if events.is_empty() {
        bail!("{ticket} not found");
    }
    let verified = match args.verify {
        true => Some(timeline::verify_ticket_stream(&events).context("the hash chain does not verify")?),
        false => None,
    };
    if args.verify {
        verify_ticket_photos(&deployment, &events).await?;
    }
    let log_end = store_last_event_time(store).await?.unwrap_or_default();
    let mut report = timeline::audit_ticket(&ticket, &events, as_of, log_end)?;
    report.verified = verified;
    let resident = resident_line(store, report.state.ticket.resident.as_ref())?;
    if args.json {
        let mut answer = serde_json::to_value(&report)?;
        answer["resident"] = serde_json::json!(resident);
        say!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        say_raw!("{}", timeline::render_text(&report));
        say!("\nresident: {resident}");
    }
    Ok(())
}

/// `audit T-12 --verify`: the ticket's photos are there and unchanged, or
/// erased on request; a missing or changed one fails, naming its hash.
async fn verify_ticket_photos(
    deployment: &crate::deployment::Deployment,
    events: &[gridloop_engine::envelope::RecordedEvent],
) -> Result<()> {
    let photos = photos::verify_ticket_photos(events, deployment.blobs().as_ref()).await?;
    if !photos.failures.is_empty() {
        bail!("the ticket's photos do not verify:\n{}", photos.failures.join("\n"));
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

/// `audit --all --verify`: every chain, every position, every seal, and
/// every photo the events name (present and matching its hash, or erased on
/// request; a missing or changed one fails, naming its ticket and hash).
async fn run_all(json: bool, data: &DataDir, host: &Host<'_>) -> Result<()> {
    let deployment = host.open(data).await?;
    let store = deployment.store();
    let bar = progress_bar(store.head_position().await?, "events verified");
    let summary = audit::verify_store(store, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let summary = summary?;
    let bar = progress_bar(store.head_position().await?, "seals checked");
    let seals = sealing::check_seals(store, deployment.dir(), |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let seals = seals.context("the seals do not verify")?;
    let photos = photos::verify_photos(store, deployment.blobs().as_ref()).await.context("checking the photos")?;
    if !photos.failures.is_empty() {
        bail!(
            "{} of the photos the log names are missing or changed ({} present, {} erased on request):\n{}",
            photos.failures.len(),
            photos.present,
            photos.erased,
            photos.failures.join("\n")
        );
    }
    if json {
        let seals = serde_json::json!({ "seals": seals.seals, "sealed_to": seals.sealed_to });
        let answer = serde_json::json!({ "ok": true, "log": summary, "seals": seals, "photos": photos });
        say!("{}", serde_json::to_string_pretty(&answer)?);
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
    say!(
        "{} photos named by the log: {} present and matching their hashes, {} erased on request",
        photos.present + photos.erased,
        photos.present,
        photos.erased
    );
    Ok(())
}
