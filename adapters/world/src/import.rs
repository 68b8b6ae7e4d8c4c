//! Importing a checked bundle: the difference between the log's world and
//! the bundle's, as world commands; then the volunteers, each on their own
//! stream; then the personal data. Every command id is derived from what
//! the command says and the version of the stream it was decided on, so
//! running an import again after a crash finishes it, and running it on a
//! log that already holds the bundle writes nothing.

use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{ActorId, CommandId, StreamId, VolunteerId};
use gridloop_engine::personal::{Lookup, PersonalStore};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, fold};
use gridloop_engine::store::EventStore;
use gridloop_engine::volunteer::{Volunteer, VolunteerCommand};
use gridloop_engine::world::{CHANGES_PER_COMMAND_MAX, WorldChange, WorldCommand, WorldState};
use serde::Serialize;

use crate::{Bundle, Status, VolunteerEntry, WorldError};

/// What an import wrote, and what it left as it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// World commands sent (each of at most 64 changes).
    pub world_commands: usize,
    /// Events those world commands wrote; 0 when the log already held the
    /// bundle's world.
    pub world_events: usize,
    /// Volunteers new to the log, now registered.
    pub volunteers_registered: usize,
    /// Transferred, skills changed, stood down or reactivated.
    pub volunteers_changed: usize,
    /// Volunteers this import made exit (already exited ones are unchanged).
    pub volunteers_exited: usize,
    /// Volunteers the log already held as the bundle says, or who had
    /// exited and so cannot change (a note says so).
    pub volunteers_unchanged: usize,
    /// Personal records (names, phones) written, new or changed.
    pub personal_written: usize,
    /// Personal records already as the bundle says, or erased and so not
    /// written again (a note says so).
    pub personal_unchanged: usize,
    /// Volunteers the log has and the bundle does not: left as they are.
    pub volunteers_not_in_bundle: Vec<VolunteerId>,
    /// Staff the world has and the bundle does not: left as they are.
    pub staff_not_in_bundle: Vec<ActorId>,
    /// What the import could not do, as sentences (a volunteer who exited
    /// cannot be changed; an erased person's record is not written again).
    pub notes: Vec<String>,
}

impl ImportSummary {
    /// Whether the import wrote nothing at all.
    pub fn wrote_nothing(&self) -> bool {
        self.world_events == 0
            && self.volunteers_registered == 0
            && self.volunteers_changed == 0
            && self.volunteers_exited == 0
            && self.personal_written == 0
    }
}

/// Imports `bundle` (already read and checked) into the log `service`
/// writes, as `operator` (an admin), calling `progress(done, total)` after
/// each step. Personal data go to `personal` when given.
pub async fn import<S: EventStore>(
    service: &CommandService<S>,
    personal: Option<&dyn PersonalStore>,
    bundle: &Bundle,
    operator: Actor,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportSummary, WorldError> {
    if operator.role != Role::Admin {
        return Err(WorldError::NotOperator { role: operator.role.name() });
    }
    let mut summary = ImportSummary::default();
    let (current, changes) = world_changes(service, bundle, &mut summary).await?;
    let chunks: Vec<&[WorldChange]> = changes.chunks(CHANGES_PER_COMMAND_MAX).collect();
    let personal_total = personal.map_or(0, |_| bundle.personal.len());
    let total = chunks.len() + bundle.volunteers.len() + personal_total;
    let mut done = 0;
    let mut version = current;
    for chunk in chunks {
        version = write_world(service, chunk, version, &operator, &mut summary).await?;
        done += 1;
        progress(done, total);
    }
    for entry in bundle.volunteers.values() {
        import_volunteer(service, entry, &operator, &mut summary).await?;
        done += 1;
        progress(done, total);
    }
    summary.volunteers_not_in_bundle = volunteers_in_log(service, bundle).await?;
    match personal {
        Some(store) => import_personal(store, bundle, &mut summary, |n| progress(done + n, total))?,
        None if !bundle.personal.is_empty() => {
            summary.notes.push(format!("no personal store: {} names and phones not written", bundle.personal.len()));
        }
        None => {}
    }
    Ok(summary)
}

/// The world stream's version and the changes that make its world the
/// bundle's. Staff the log has and the bundle lacks are kept (reported in
/// the summary): the bundle may simply not list them.
async fn world_changes<S: EventStore>(
    service: &CommandService<S>,
    bundle: &Bundle,
    summary: &mut ImportSummary,
) -> Result<(u64, Vec<WorldChange>), WorldError> {
    service.refresh_world().await.map_err(|e| WorldError::engine("reading the world", e))?;
    let history = service
        .store()
        .read_stream(&StreamId::world(), 1)
        .await
        .map_err(|e| WorldError::engine("reading the world", e))?;
    let current: WorldState = fold(&history).map_err(|e| WorldError::engine("reading the world", e))?;
    let mut desired = bundle.world.clone();
    for (subject, staff) in current.staff.iter().filter(|(s, _)| !bundle.world.staff.contains_key(*s)) {
        summary.staff_not_in_bundle.push(subject.clone());
        desired.staff.insert(subject.clone(), staff.clone());
    }
    let version = history.last().map_or(0, |e| e.version);
    Ok((version, current.changes_to(&desired)))
}

/// Sends one world command, decided on `version`; returns the version after it.
async fn write_world<S: EventStore>(
    service: &CommandService<S>,
    chunk: &[WorldChange],
    version: u64,
    operator: &Actor,
    summary: &mut ImportSummary,
) -> Result<u64, WorldError> {
    let command = WorldCommand { changes: chunk.to_vec() };
    let envelope = CommandEnvelope {
        command_id: command_id(&StreamId::world(), version, &command),
        correlation_id: None,
        actor: operator.clone(),
        command: Command::World { command },
        // Decided on this version: a world another writer changed meanwhile
        // is refused rather than overwritten, and the import is run again.
        expected_version: Some(version),
    };
    let outcome = service.execute(envelope).await.map_err(|e| WorldError::engine(describe_chunk(chunk), e))?;
    summary.world_commands += 1;
    if !outcome.is_duplicate() {
        summary.world_events += outcome.events.len();
    }
    Ok(service.world_version())
}

fn describe_chunk(chunk: &[WorldChange]) -> String {
    format!("importing the world ({} changes, the first {})", chunk.len(), change_name(&chunk[0]))
}

/// A change's name as its event will say it (`add_grid`).
fn change_name(change: &WorldChange) -> String {
    serde_json::to_value(change)
        .ok()
        .and_then(|v| v.get("change").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// A command id from the stream, the version the command is decided on and
/// what it says: the same command on the same state has the same id (a
/// re-run after a crash writes nothing twice), and a command repeated later
/// (an item admitted again after a revocation) has another.
fn command_id(stream: &StreamId, version: u64, command: &impl Serialize) -> CommandId {
    let json = serde_json::to_vec(&(stream, version, command)).expect("commands serialise to JSON");
    let hash = blake3::hash(&json).to_hex();
    CommandId::new(format!("import-{}", &hash[..40])).expect("import- and hex digits make a valid command id")
}

/// Who changes volunteers in an import: the operator, in the role the
/// volunteer aggregate lets register, transfer, re-skill and stand down
/// volunteers (a dispatcher's; it lets no admin act on volunteers).
pub(crate) fn volunteer_actor(operator: &Actor) -> Actor {
    Actor { role: Role::Dispatcher, id: operator.id.clone() }
}

/// The commands that bring a volunteer the log does not have to the row.
pub(crate) fn first_commands(entry: &VolunteerEntry) -> Vec<VolunteerCommand> {
    let register = VolunteerCommand::Register {
        team: entry.team.clone(),
        home_grid: entry.home_grid.clone(),
        skills: entry.skills.clone(),
        open_orders_max: entry.open_orders_max,
    };
    match &entry.status {
        Status::Active => vec![register],
        Status::Inactive { reason } => vec![register, VolunteerCommand::Deactivate { reason: reason.clone() }],
        Status::Exited { reason } => vec![register, VolunteerCommand::Exit { reason: reason.clone() }],
    }
}

/// The commands that bring a registered volunteer to the row; `None` when
/// the volunteer has exited and the row wants them otherwise (an exit is
/// for good).
fn next_commands(state: &Volunteer, entry: &VolunteerEntry) -> Option<Vec<VolunteerCommand>> {
    if state.exited.is_some() {
        return matches!(entry.status, Status::Exited { .. }).then(Vec::new);
    }
    if let Status::Exited { reason } = &entry.status {
        return Some(vec![VolunteerCommand::Exit { reason: reason.clone() }]);
    }
    let mut commands = Vec::new();
    let moved = state.team.as_ref() != Some(&entry.team)
        || state.home_grid.as_ref() != Some(&entry.home_grid)
        || state.open_orders_max != entry.open_orders_max;
    if moved {
        commands.push(VolunteerCommand::Transfer {
            team: entry.team.clone(),
            home_grid: entry.home_grid.clone(),
            open_orders_max: entry.open_orders_max,
        });
    }
    if state.skills != entry.skills {
        commands.push(VolunteerCommand::ChangeSkills { skills: entry.skills.clone() });
    }
    match (&entry.status, &state.inactive) {
        (Status::Active, Some(_)) => commands.push(VolunteerCommand::Reactivate {}),
        (Status::Inactive { reason }, None) => commands.push(VolunteerCommand::Deactivate { reason: reason.clone() }),
        _ => {}
    }
    Some(commands)
}

/// Registers or updates one volunteer, counting what was written.
async fn import_volunteer<S: EventStore>(
    service: &CommandService<S>,
    entry: &VolunteerEntry,
    operator: &Actor,
    summary: &mut ImportSummary,
) -> Result<(), WorldError> {
    let failed = |e| WorldError::engine(format!("importing volunteer {}", entry.id), e);
    let state = service.volunteer(&entry.id).await.map_err(failed)?;
    let registered = state.id.is_some();
    let commands = if registered { next_commands(&state, entry) } else { Some(first_commands(entry)) };
    let Some(commands) = commands else {
        summary.notes.push(format!("{} has exited; the row's other status is not applied", entry.id));
        summary.volunteers_unchanged += 1;
        return Ok(());
    };
    let (stream, actor) = (StreamId::volunteer(&entry.id), volunteer_actor(operator));
    let (mut version, mut wrote) = (state.version, false);
    for command in commands {
        let exits = matches!(command, VolunteerCommand::Exit { .. });
        let envelope = CommandEnvelope {
            command_id: command_id(&stream, version, &command),
            correlation_id: None,
            actor: actor.clone(),
            command: Command::Volunteer { id: entry.id.clone(), command },
            expected_version: None,
        };
        let outcome = service.execute(envelope).await.map_err(failed)?;
        if let Some(append) = outcome.append.as_ref().filter(|a| !a.duplicate) {
            version = append.last_version;
            wrote = true;
            summary.volunteers_exited += usize::from(exits);
        }
    }
    match (registered, wrote) {
        (false, true) => summary.volunteers_registered += 1,
        (true, true) if matches!(entry.status, Status::Exited { .. }) => {}
        (true, true) => summary.volunteers_changed += 1,
        (_, false) => summary.volunteers_unchanged += 1,
    }
    Ok(())
}

/// Every volunteer registered in the log that the bundle does not list.
/// Reads the whole log once: volunteers have a stream each and no index.
async fn volunteers_in_log<S: EventStore>(
    service: &CommandService<S>,
    bundle: &Bundle,
) -> Result<Vec<VolunteerId>, WorldError> {
    let failed = |e| WorldError::engine("listing the volunteers in the log", e);
    let mut missing = Vec::new();
    let mut scan = service.store().scan(1);
    while let Some(batch) = scan.next_batch().await.map_err(failed)? {
        for event in batch.iter().filter(|e| e.schema.name == "volunteer.registered") {
            let Ok(id) = VolunteerId::new(event.stream.id()) else { continue };
            if !bundle.volunteers.contains_key(&id) {
                missing.push(id);
            }
        }
    }
    Ok(missing)
}

/// Writes each changed name and phone. An erased person is not written
/// again: erasure is the person's right, and an old spreadsheet must not
/// undo it.
fn import_personal(
    store: &dyn PersonalStore,
    bundle: &Bundle,
    summary: &mut ImportSummary,
    mut progress: impl FnMut(usize),
) -> Result<(), WorldError> {
    for (n, (key, person)) in bundle.personal.iter().enumerate() {
        let failed = |source| WorldError::Personal { key: key.to_string(), source };
        match store.get(key).map_err(failed)? {
            Lookup::Found(found) if found == *person => summary.personal_unchanged += 1,
            Lookup::Erased => {
                summary.notes.push(format!("{key} was erased; the bundle's record is not written again"));
                summary.personal_unchanged += 1;
            }
            Lookup::Found(_) | Lookup::Unknown => {
                store.put(key, person).map_err(failed)?;
                summary.personal_written += 1;
            }
        }
        progress(n + 1);
    }
    Ok(())
}
