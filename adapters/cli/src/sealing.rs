//! The deployment's seal key, sealing the log, and checking seals.
//!
//! `gridloop keys init` writes a fresh ed25519 key to `DATA/keys/seal.key`
//! (64 hex digits, readable by its owner only) and prints its public half
//! for auditors. `gridloop seal` folds every stream's head, signs the digest
//! ([`gridloop_engine::seal`]), appends the seal to the log's `seal-log`
//! stream and to the journal `DATA/seals.ndjson` beside the log. An auditor
//! checks every seal of both against the log: a deleted stream, a stream
//! cut short or a log cut after a seal is named.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use gridloop_engine::envelope::{Actor, EventPayload, NewEvent};
use gridloop_engine::ids::{CommandId, CorrelationId, StreamId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::seal::{SealChecker, SealEvent, SealReport, public_key_hex, signing_key};
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_engine::time::Timestamp;
use gridloop_projections::audit::heads::StreamHeads;
use gridloop_projections::cold::Cold;
use gridloop_projections::runner::Runner;

/// The stream seals are appended to.
pub const SEAL_STREAM: &str = "seal-log";

pub fn key_path(data: &Path) -> PathBuf {
    data.join("keys").join("seal.key")
}

pub fn journal_path(data: &Path) -> PathBuf {
    data.join("seals.ndjson")
}

/// Creates the key; refuses to overwrite one (a new key would orphan every
/// seal made with the old one). Returns the public key, hex.
pub fn init_key(data: &Path) -> Result<String> {
    let path = key_path(data);
    if path.exists() {
        bail!("{} exists already; a deployment keeps one seal key", path.display());
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).context("reading 32 random bytes from the operating system")?;
    std::fs::create_dir_all(path.parent().expect("a key file has a folder"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(public_key_hex(&signing_key(&secret)))
}

pub fn load_key(data: &Path) -> Result<ed25519_dalek::SigningKey> {
    let path = key_path(data);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (make one with `gridloop keys init`)", path.display()))?;
    let bytes = parse_key(&text).with_context(|| format!("{} is not 64 hex digits", path.display()))?;
    Ok(signing_key(&bytes))
}

/// A key file's text: 64 hex digits, either case, surrounding white space
/// ignored. Read by the engine's hash parser, which looks at bytes and never
/// slices the text, so a file of 64 bytes holding a multi-byte character is
/// refused rather than cut inside that character (it once was, and panicked).
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    gridloop_engine::envelope::Hash::parse_hex(text.trim()).ok().map(|hash| hash.0)
}

/// Seals the log as it stands: appends the seal and writes it to the journal.
///
/// The stream heads are a projection kept in `cold` (its own handle: a
/// commit of it writes only the heads): a seal folds only the events since
/// the last one, then digests the heads from disk. A `Cold::default()` (in
/// memory) folds the whole log each time, as the demo does.
pub async fn seal_now<S: EventStore>(store: &S, data: &Path, now: Timestamp, cold: &Cold) -> Result<SealEvent> {
    let key = load_key(data)?;
    let mut heads = Runner::<StreamHeads>::resume_cold(cold)?;
    heads.catch_up(store, Some(cold), |_| {}).await?;
    let seal = heads.state().seal(&key)?;
    let position = heads.state().folded;
    let event = NewEvent {
        event_id: SplitMix64::new(position ^ now.as_millis() as u64).uuid_v7(now.as_millis()),
        occurred_at: now,
        actor: Actor::system(),
        command_id: CommandId::new(format!("seal-{position}"))?,
        correlation_id: CorrelationId::new("seal")?,
        schema: seal.schema(),
        payload: seal.encode(),
    };
    store.append(&StreamId::new(SEAL_STREAM)?, ExpectedVersion::Any, vec![event]).await?;
    let mut journal = std::fs::OpenOptions::new().create(true).append(true).open(journal_path(data))?;
    writeln!(journal, "{}", serde_json::to_string(&seal.encode())?)?;
    journal.sync_all()?;
    Ok(seal)
}

/// Every seal of the log's seal stream and of the journal.
pub async fn all_seals<S: EventStore>(store: &S, data: &Path) -> Result<Vec<SealEvent>> {
    let mut seals: Vec<SealEvent> = Vec::new();
    for event in store.read_stream(&StreamId::new(SEAL_STREAM)?, 1).await? {
        seals.push(event.decode()?);
    }
    let journal = journal_path(data);
    if journal.exists() {
        let schema = gridloop_engine::envelope::Schema::parse("seal.sealed/1")?;
        for (n, line) in std::fs::read_to_string(&journal)?.lines().enumerate() {
            let payload: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("{} line {}", journal.display(), n + 1))?;
            seals.push(SealEvent::decode(&schema, &payload)?);
        }
    }
    Ok(seals)
}

/// Checks every seal against the log in one pass, `progress(position)`
/// after each batch. The trusted key is the deployment's own, when its key
/// file is here.
pub async fn check_seals<S: EventStore>(store: &S, data: &Path, mut progress: impl FnMut(u64)) -> Result<SealReport> {
    let trusted = load_key(data).ok().map(|k| public_key_hex(&k));
    let mut checker = SealChecker::new(all_seals(store, data).await?, trusted);
    crate::store::scan_log(store, |batch| {
        for event in batch {
            checker.apply(event)?;
        }
        progress(batch.last().map_or(0, |e| e.position));
        Ok(())
    })
    .await?;
    Ok(checker.finish()?)
}

/// The district's offset from UTC: China Standard Time (UTC+8). The
/// district's time zone will come from its world; [`next_seal_at`] is the
/// one place that reads it.
const DISTRICT_UTC_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The shortest and longest `serve --seal-every`.
pub const SEAL_EVERY_MIN: std::time::Duration = std::time::Duration::from_secs(60);
pub const SEAL_EVERY_MAX: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// When `serve` seals next by default: the first midnight in the district's
/// time zone after `now`.
pub fn next_seal_at(now: Timestamp) -> Timestamp {
    let local = now.as_millis() + DISTRICT_UTC_OFFSET_MS;
    let next = (local.div_euclid(DAY_MS) + 1) * DAY_MS - DISTRICT_UTC_OFFSET_MS;
    // Within the engine's range whenever `now` is a day inside it.
    Timestamp::from_millis(next).unwrap_or(now)
}

/// `serve --seal-every`: a whole number of minutes (`30m`), hours (`6h`) or
/// days (`1d`), from one minute to seven days.
pub fn parse_seal_every(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{text:?}: expected a number and m, h or d (30m, 6h, 1d), from 1m to 7d");
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        "d" => n.checked_mul(86_400),
        _ => None,
    };
    let every = std::time::Duration::from_secs(seconds.ok_or_else(bad)?);
    if !(SEAL_EVERY_MIN..=SEAL_EVERY_MAX).contains(&every) {
        return Err(bad());
    }
    Ok(every)
}

/// When the next scheduled seal falls due after one at `last`: every
/// `every`, or by default at the next midnight ([`next_seal_at`]).
pub fn seal_due_after(last: Timestamp, every: Option<std::time::Duration>) -> Timestamp {
    match every {
        Some(every) => last.plus(gridloop_engine::time::Millis(every.as_millis() as u64)),
        None => next_seal_at(last),
    }
}

/// What the schedule starts from: the time of the log's last seal, or, on a
/// log never sealed, of its first event (`None`: an empty log). A seal that
/// fell due while no server ran is made as soon as one starts.
pub async fn last_sealed_at<S: EventStore>(store: &S) -> Result<Option<Timestamp>> {
    if let Some(seal) = store.read_stream(&StreamId::new(SEAL_STREAM)?, 1).await?.last() {
        return Ok(Some(seal.occurred_at));
    }
    Ok(store.scan(1).batch_max(1).next_batch().await?.and_then(|b| b.first().map(|e| e.occurred_at)))
}
