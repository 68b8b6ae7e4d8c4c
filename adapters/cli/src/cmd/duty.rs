//! `gridloop duty`: the monthly duty report of backup agencies' members.

use anyhow::{Result, bail};
use clap::Args;
use gridloop_engine::time::Timestamp;
use gridloop_projections::ledger::Ledger;

use super::{DataDir, Host, catch_up, store_last_event_time};

/// The monthly duty report of backup agencies' members (后盾单位: at
/// least 2 services and 4 hours a month): who meets it, who does not.
#[derive(Debug, Args)]
pub struct DutyArgs {
    /// The month, YYYY-MM (China time); default: the month of the last event.
    #[arg(long)]
    month: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub data: DataDir,
}

pub async fn run(args: DutyArgs, host: &Host<'_>) -> Result<()> {
    if let Some(m) = &args.month {
        let ok = m.len() == 7 && m.as_bytes()[4] == b'-' && Timestamp::parse(&format!("{m}-01T00:00:00Z")).is_ok();
        if !ok {
            bail!("--month {m:?}: expected YYYY-MM");
        }
    }
    let deployment = host.open(&args.data).await?;
    let store = deployment.store();
    let runner = catch_up::<Ledger>(store).await?;
    let month = match args.month {
        Some(m) => m,
        None => gridloop_projections::calendar::month(store_last_event_time(store).await?.unwrap_or_default()),
    };
    // The backup agencies as the world in the log names them.
    let teams: std::collections::BTreeMap<_, _> = deployment
        .world()
        .teams
        .values()
        .filter(|t| t.kind == gridloop_engine::world::TeamKind::BackupAgency)
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    let lines = runner.state().duty_report(&month, |team| teams.contains_key(team));
    let met = lines.iter().filter(|l| l.meets_duty).count();
    if args.json {
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
