//! The command service: load, decide, append, and retry on conflict.
//!
//! For one command it reads the target stream, folds it into the aggregate's
//! state, asks the aggregate to `decide`, and appends the resulting events
//! with `ExpectedVersion::Exact` (or `NoStream`) of the version it decided on.
//! If another writer got there first the store refuses with a version
//! conflict, and the service reloads and decides again, at most
//! `attempts_max` times. This is what makes "first acceptance wins" hold: of
//! 64 volunteers racing to accept one offer, one append lands, and the 63
//! others decide again on a ticket that is taken and get `AlreadyTaken`.
//!
//! Idempotency: before deciding, the service looks for the command id among
//! the stream's events; if it is there, the command ran before, and the
//! service returns what it wrote then and writes nothing. Two copies of one
//! command racing end the same way: the loser's append conflicts, it reloads,
//! and finds the winner's events under its own command id.
//!
//! Reads are saved by [`cache`]: the service decides on the state it folded
//! last time and reads the stream only when the store's version check, or a
//! refusal, asks it to. The module says why that changes no decision.

pub mod cache;
pub mod numbering;
pub mod references;

use std::sync::{Arc, Mutex, RwLock};

use cache::{Base, StreamCache};

use crate::emergency::{Emergency, EmergencyCommand, EmergencyEvent};
use crate::envelope::{Actor, EventPayload, NewEvent, RecordedEvent};
use crate::grid::{GridCode, Level};
use crate::ids::{ActorId, CommandId, CorrelationId, StreamId, TicketId, VolunteerId};
use crate::patrol::{PatrolCommand, PatrolEvent, Patrols};
use crate::rng::SplitMix64;
use crate::store::{AppendResult, EventStore, ExpectedVersion};
use crate::ticket::{Ticket, TicketCommand, TicketEvent};
use crate::time::Timestamp;
use crate::volunteer::{Volunteer, VolunteerCommand, VolunteerEvent};
use crate::weekly::{WeeklyCommand, WeeklyEvent, WeeklyId, WeeklyReport};
use crate::world::{WorldCommand, WorldEvent, WorldState};
use crate::{Context, Error, World};

/// Where time comes from. The engine ships only [`ManualClock`]; the binary
/// supplies a system clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current moment, in milliseconds since the Unix epoch; commands are
    /// decided and stamped at it.
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock that reads `start` until it is set or advanced.
    pub fn new(start: Timestamp) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start.as_millis()))
    }
    /// Moves the clock to `to` (backwards too: the clock checks nothing).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_millis(), std::sync::atomic::Ordering::SeqCst);
    }
    /// Moves the clock forward by `by` milliseconds.
    pub fn advance(&self, by: crate::time::Millis) {
        self.set(self.now().plus(by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(std::sync::atomic::Ordering::SeqCst)).expect("set from a valid timestamp")
    }
}

/// One aggregate kind, as the service drives it.
pub trait Aggregate: Default + Clone {
    /// The instance id within the kind (a ticket id, a volunteer id, a place's
    /// grid code).
    type Id: std::fmt::Display;
    /// What a caller asks of an instance.
    type Command;
    /// What an instance's events say, with their schema and upcasters.
    type Event: EventPayload;
    /// The stream that holds the instance's events, e.g. `ticket-T-1024`.
    fn stream(id: &Self::Id) -> StreamId;
    /// Where the service keeps this kind's folded streams.
    fn cache(caches: &Caches) -> &StreamCache<Self>;
    /// Folds one event in (no rules: `decide` already held them).
    fn evolve(&mut self, event: &Self::Event, at: Timestamp);
    /// Decides what a command does to this instance: the events to append, or
    /// the refusal. Pure: everything it needs is in `self`, `actor` and `ctx`.
    fn decide(
        &self,
        id: &Self::Id,
        command: &Self::Command,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Error>;
}

impl Aggregate for Ticket {
    type Id = TicketId;
    type Command = TicketCommand;
    type Event = TicketEvent;
    fn stream(id: &TicketId) -> StreamId {
        StreamId::ticket(id)
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.tickets
    }
    fn evolve(&mut self, event: &TicketEvent, at: Timestamp) {
        Ticket::evolve(self, event, at);
    }
    fn decide(
        &self,
        id: &TicketId,
        command: &TicketCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<TicketEvent>, Error> {
        Ticket::decide(self, id, command, actor, ctx)
    }
}

impl Aggregate for Emergency {
    type Id = GridCode;
    type Command = EmergencyCommand;
    type Event = EmergencyEvent;
    fn stream(id: &GridCode) -> StreamId {
        StreamId::emergency(id)
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.emergencies
    }
    fn evolve(&mut self, event: &EmergencyEvent, _at: Timestamp) {
        Emergency::evolve(self, event);
    }
    fn decide(
        &self,
        id: &GridCode,
        command: &EmergencyCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<EmergencyEvent>, Error> {
        Emergency::decide(self, id, command, actor, ctx)
    }
}

impl Aggregate for WeeklyReport {
    type Id = WeeklyId;
    type Command = WeeklyCommand;
    type Event = WeeklyEvent;
    fn stream(id: &WeeklyId) -> StreamId {
        StreamId::new(format!("weekly-{id}")).expect("a grid code and a week make a stream id")
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.weekly
    }
    fn evolve(&mut self, event: &WeeklyEvent, at: Timestamp) {
        WeeklyReport::evolve(self, event, at);
    }
    fn decide(
        &self,
        id: &WeeklyId,
        command: &WeeklyCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<WeeklyEvent>, Error> {
        WeeklyReport::decide(self, id, command, actor, ctx)
    }
}

impl Aggregate for Patrols {
    type Id = ActorId;
    type Command = PatrolCommand;
    type Event = PatrolEvent;
    fn stream(id: &ActorId) -> StreamId {
        StreamId::patrol(id)
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.patrols
    }
    fn evolve(&mut self, event: &PatrolEvent, _at: Timestamp) {
        Patrols::evolve(self, event);
    }
    fn decide(
        &self,
        id: &ActorId,
        command: &PatrolCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<PatrolEvent>, Error> {
        Patrols::decide(self, id, command, actor, ctx)
    }
}

impl Aggregate for Volunteer {
    type Id = VolunteerId;
    type Command = VolunteerCommand;
    type Event = VolunteerEvent;
    fn stream(id: &VolunteerId) -> StreamId {
        StreamId::volunteer(id)
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.volunteers
    }
    fn evolve(&mut self, event: &VolunteerEvent, _at: Timestamp) {
        Volunteer::evolve(self, event);
    }
    fn decide(
        &self,
        id: &VolunteerId,
        command: &VolunteerCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<VolunteerEvent>, Error> {
        Volunteer::decide(self, id, command, actor, ctx)
    }
}

/// The id of the one world stream (`world-district`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorldId;

impl std::fmt::Display for WorldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("district")
    }
}

impl Aggregate for WorldState {
    type Id = WorldId;
    type Command = WorldCommand;
    type Event = WorldEvent;
    fn stream(_id: &WorldId) -> StreamId {
        StreamId::world()
    }
    fn cache(caches: &Caches) -> &StreamCache<Self> {
        &caches.world
    }
    fn evolve(&mut self, event: &WorldEvent, _at: Timestamp) {
        WorldState::evolve(self, event);
    }
    fn decide(
        &self,
        _id: &WorldId,
        command: &WorldCommand,
        actor: &Actor,
        ctx: &Context,
    ) -> Result<Vec<WorldEvent>, Error> {
        WorldState::decide(self, command, actor, ctx)
    }
}

/// Folds a stream's recorded events into the aggregate's state.
pub fn fold<A: Aggregate>(events: &[RecordedEvent]) -> Result<A, Error> {
    let mut state = A::default();
    for event in events {
        Aggregate::evolve(&mut state, &event.decode::<A::Event>()?, event.occurred_at);
    }
    Ok(state)
}

/// A command addressed to one aggregate instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A command to one ticket.
    Ticket {
        /// The ticket addressed; a `Submit` creates it under this id.
        id: TicketId,
        /// What is asked of the ticket.
        command: TicketCommand,
    },
    /// A command to one volunteer.
    Volunteer {
        /// The volunteer addressed; a `Register` creates them under this id.
        id: VolunteerId,
        /// What is asked of the volunteer.
        command: VolunteerCommand,
    },
    /// Switches emergency mode for a district or street.
    Emergency {
        /// The district or street whose mode changes.
        place: GridCode,
        /// Whether to declare or lift emergency mode.
        command: EmergencyCommand,
    },
    /// Submits a grid head's weekly report for a grid and week.
    Weekly {
        /// The grid and week reported on.
        id: WeeklyId,
        /// The submission.
        command: WeeklyCommand,
    },
    /// A grid worker's patrol: start, check in, end.
    Patrol {
        /// The worker whose patrol stream it is (the actor themself).
        worker: ActorId,
        /// What is asked of the patrol.
        command: PatrolCommand,
    },
    /// Changes the world (the district's grids, catalog, teams, staff,
    /// routing): the operator's bundle import, or one change from the API.
    World {
        /// The batch of changes, decided in order and written in one append.
        command: WorldCommand,
    },
}

/// A command with who sent it and its idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandEnvelope {
    /// The caller's idempotency key: a repeated id writes nothing and answers
    /// with what the first command wrote. Policies derive it from what they
    /// react to.
    pub command_id: CommandId,
    /// Defaults to the ticket id for ticket commands, else the command id.
    pub correlation_id: Option<CorrelationId>,
    /// Who sends the command; `decide` checks it against each command's rules.
    pub actor: Actor,
    /// The command and the aggregate instance it goes to.
    pub command: Command,
    /// When set, the command applies only if the stream is still at this
    /// version: timers and policies send what they decided on, so one that
    /// fires twice, or after the ticket moved on, writes nothing (it gets
    /// `WrongExpectedVersion`, and is not retried).
    pub expected_version: Option<u64>,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `None` when the command decided that nothing needed to happen.
    pub append: Option<AppendResult>,
    /// The events written (for a repeated command id: written the first time).
    pub events: Vec<NewEvent>,
}

impl Outcome {
    /// Whether the command id had run before, so nothing was written now and
    /// `events` are those of the first run.
    pub fn is_duplicate(&self) -> bool {
        self.append.as_ref().is_some_and(|a| a.duplicate)
    }
}

/// The most times one command is decided again after version conflicts.
pub const ATTEMPTS_MAX: u32 = 16;

/// The folded streams the service keeps, one cache per aggregate kind.
#[derive(Debug, Default)]
pub struct Caches {
    tickets: StreamCache<Ticket>,
    volunteers: StreamCache<Volunteer>,
    emergencies: StreamCache<Emergency>,
    weekly: StreamCache<WeeklyReport>,
    patrols: StreamCache<Patrols>,
    world: StreamCache<WorldState>,
}

/// The command service: for each command, it loads (or keeps) the target
/// stream's state, decides, and appends with the version it decided on,
/// deciding again on a version conflict up to `ATTEMPTS_MAX` times. Generic
/// over the event store.
#[derive(Debug)]
pub struct CommandService<S> {
    store: S,
    world: RwLock<KeptWorld>,
    clock: Arc<dyn Clock>,
    ids: Mutex<SplitMix64>,
    caches: Caches,
}

impl<S: EventStore> CommandService<S> {
    /// `id_seed` seeds the random bits of event ids: a fixed seed (with a
    /// manual clock) makes a run reproducible.
    ///
    /// `world` is what the service decides against until the log holds a
    /// world of its own (the world stream has events): from then on the
    /// log's world wins, read at [`CommandService::open`], at every
    /// submission, and after every world command.
    pub fn new(store: S, world: Arc<World>, clock: Arc<dyn Clock>, id_seed: u64) -> Self {
        let world = RwLock::new(KeptWorld { version: 0, state: WorldState::default(), world });
        Self { store, world, clock, ids: Mutex::new(SplitMix64::new(id_seed)), caches: Caches::default() }
    }

    /// A service on the world the log holds (empty on a fresh log).
    pub async fn open(store: S, clock: Arc<dyn Clock>, id_seed: u64) -> Result<Self, Error> {
        let service = Self::new(store, Arc::new(World::default()), clock, id_seed);
        service.refresh_world().await?;
        Ok(service)
    }

    /// The event store the service appends to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The world as last read from the log (see [`CommandService::new`]).
    pub fn world(&self) -> Arc<World> {
        self.world.read().expect("world lock").world.clone()
    }

    /// The version of the world stream the kept world was folded to.
    pub fn world_version(&self) -> u64 {
        self.world.read().expect("world lock").version
    }

    /// Reads the world stream past the kept version and, when it moved,
    /// folds the new events and rebuilds the world. Returns the version.
    pub async fn refresh_world(&self) -> Result<u64, Error> {
        let known = self.world_version();
        let events = self.store.read_stream(&StreamId::world(), known + 1).await?;
        if events.is_empty() {
            return Ok(known);
        }
        let mut kept = self.world.write().expect("world lock");
        let mut state = kept.state.clone();
        let mut version = kept.version;
        for event in &events {
            if event.version > version {
                state.evolve(&event.decode::<WorldEvent>()?);
                version = event.version;
            }
        }
        if version > kept.version {
            *kept = KeptWorld { version, world: Arc::new(state.world()?), state };
        }
        Ok(kept.version)
    }

    /// The clock the service decides at.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// How many ticket streams the service keeps folded (for tests and benches).
    pub fn tickets_cached(&self) -> usize {
        self.caches.tickets.len()
    }

    /// Runs one command: finds a repeated command id's first outcome, or
    /// decides on the stream's state and appends the events, retrying on
    /// version conflicts. A submission also reads the world and the place's
    /// emergency mode first.
    pub async fn execute(&self, envelope: CommandEnvelope) -> Result<Outcome, Error> {
        let CommandEnvelope { command_id, correlation_id, actor, command, expected_version } = envelope;
        let call = Call { command_id, actor, expected_version };
        match command {
            Command::Ticket { id, command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(id.as_str())?,
                };
                let emergency = match command.creates_in() {
                    Some(grid) => {
                        self.refresh_world().await?;
                        self.in_emergency(grid).await?
                    }
                    None => false,
                };
                if let Err(refused) = self.check_references(&id, &command).await {
                    return self.refuse_reference(&id, &command, &call, refused).await;
                }
                self.run::<Ticket>(&id, &command, call, correlation, emergency).await
            }
            Command::Volunteer { id, command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(call.command_id.as_str())?,
                };
                self.run::<Volunteer>(&id, &command, call, correlation, false).await
            }
            Command::Emergency { place, command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(call.command_id.as_str())?,
                };
                self.run::<Emergency>(&place, &command, call, correlation, false).await
            }
            Command::Weekly { id, command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(call.command_id.as_str())?,
                };
                self.run::<WeeklyReport>(&id, &command, call, correlation, false).await
            }
            Command::Patrol { worker, command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(call.command_id.as_str())?,
                };
                self.run::<Patrols>(&worker, &command, call, correlation, false).await
            }
            Command::World { command } => {
                let correlation = match correlation_id {
                    Some(c) => c,
                    None => CorrelationId::new(call.command_id.as_str())?,
                };
                let outcome = self.run::<WorldState>(&WorldId, &command, call, correlation, false).await?;
                self.refresh_world().await?;
                Ok(outcome)
            }
        }
    }

    /// Decides a submission on a ticket not yet numbered, writing nothing:
    /// its refusal, if it would be refused. Numbering asks first, so that
    /// a refused order takes no number.
    pub async fn check_submit(&self, command: &TicketCommand, actor: &Actor) -> Result<(), Error> {
        self.refresh_world().await?;
        let world = self.world();
        let ctx = world.context(self.clock.now(), false);
        Ticket::default().decide(&TicketId::from_number(1), command, actor, &ctx).map(drop)
    }

    /// Loads a ticket's current state.
    pub async fn ticket(&self, id: &TicketId) -> Result<Ticket, Error> {
        fold(&self.store.read_stream(&StreamId::ticket(id), 1).await?)
    }

    /// Loads a volunteer's current state.
    pub async fn volunteer(&self, id: &VolunteerId) -> Result<Volunteer, Error> {
        fold(&self.store.read_stream(&StreamId::volunteer(id), 1).await?)
    }

    /// Whether the district or street of `grid` is in emergency mode.
    pub async fn in_emergency(&self, grid: &GridCode) -> Result<bool, Error> {
        for level in [Level::District, Level::Street] {
            let Some(place) = grid.at_level(level) else { continue };
            let state: Emergency = fold(&self.store.read_stream(&StreamId::emergency(&place), 1).await?)?;
            if state.active {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Decides on the kept state of the stream (or, with none kept, on an
    /// empty one), and reads the stream only when that cannot be trusted:
    /// a version conflict, a refusal, a decision to do nothing, a command id
    /// seen before, or a timer's expected version that differs. See [`cache`].
    async fn run<A: Aggregate>(
        &self,
        id: &A::Id,
        command: &A::Command,
        call: Call,
        correlation_id: CorrelationId,
        emergency: bool,
    ) -> Result<Outcome, Error> {
        let Call { command_id, actor, expected_version } = call;
        let actor = &actor;
        let stream = A::stream(id);
        let cache = A::cache(&self.caches);
        let mut base = cache.get(&stream).unwrap_or_default();
        // `fresh`: `base` was read in this call. `reread`: the last attempt
        // found it stale (a conflict) or untrustworthy (a refusal on kept state).
        let (mut fresh, mut reread) = (false, false);
        for _attempt in 0..ATTEMPTS_MAX {
            if reread || (!fresh && (base.ran(&command_id) || expected_version.is_some_and(|v| v != base.version))) {
                match self.read::<A>(&stream, &command_id).await? {
                    Read::Earlier(outcome) => return Ok(outcome),
                    Read::Folded(read) => (base, fresh) = (read, true),
                }
            }
            if let Some(expected) = expected_version.filter(|&v| v != base.version) {
                return Err(Error::WrongExpectedVersion {
                    stream: stream.to_string(),
                    expected: expected.to_string(),
                    actual: base.version,
                });
            }
            let now = self.clock.now();
            let world = self.world();
            let ctx = world.context(now, emergency);
            let decided = match base.state.decide(id, command, actor, &ctx) {
                Ok(decided) if !decided.is_empty() => decided,
                _ if !fresh => {
                    reread = true;
                    continue;
                }
                Ok(_) => return Ok(Outcome { append: None, events: vec![] }),
                Err(refused) => return Err(refused),
            };
            let expected =
                if base.version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(base.version) };
            let events = self.envelopes(&decided, now, actor, &command_id, &correlation_id);
            match self.store.append(&stream, expected, events.clone()).await {
                Ok(append) if append.duplicate => return self.duplicate_outcome(&stream, append).await,
                Ok(append) => {
                    for event in &decided {
                        base.state.evolve(event, now);
                    }
                    base.version = append.last_version;
                    base.commands.push(command_id.clone());
                    cache.put_written(&stream, base);
                    return Ok(Outcome { append: Some(append), events });
                }
                Err(Error::WrongExpectedVersion { .. }) => reread = true,
                Err(other) => return Err(other),
            }
        }
        Err(Error::Contended { stream: stream.to_string(), attempts: ATTEMPTS_MAX })
    }

    /// Reads the whole stream: what the command wrote before, if it ran;
    /// else the folded state, which the cache keeps from now on.
    async fn read<A: Aggregate>(&self, stream: &StreamId, command_id: &CommandId) -> Result<Read<A>, Error> {
        let history = self.store.read_stream(stream, 1).await?;
        if let Some(earlier) = earlier_outcome(&history, command_id) {
            return Ok(Read::Earlier(earlier));
        }
        let base = Base::<A>::fold(&history)?;
        A::cache(&self.caches).put_read(stream, base.clone());
        Ok(Read::Folded(base))
    }

    fn envelopes<E: EventPayload>(
        &self,
        decided: &[E],
        now: Timestamp,
        actor: &Actor,
        command_id: &CommandId,
        correlation_id: &CorrelationId,
    ) -> Vec<NewEvent> {
        let mut ids = self.ids.lock().expect("id generator lock");
        decided
            .iter()
            .map(|event| {
                let (schema, payload) = event.to_payload();
                NewEvent {
                    event_id: ids.uuid_v7(now.as_millis()),
                    occurred_at: now,
                    actor: actor.clone(),
                    command_id: command_id.clone(),
                    correlation_id: correlation_id.clone(),
                    schema,
                    payload,
                }
            })
            .collect()
    }

    /// The store says this command id was appended before. When it was on
    /// this stream that is a repeat: answer with what was written. On another
    /// stream it is a client reusing a key for a different command.
    async fn duplicate_outcome(&self, stream: &StreamId, append: AppendResult) -> Result<Outcome, Error> {
        if &append.stream != stream {
            return Err(Error::invalid("command id", format!("was already used for {}", append.stream)));
        }
        let written = self.store.read_stream(stream, append.first_version).await?;
        let events = written
            .iter()
            .take((append.last_version - append.first_version + 1) as usize)
            .map(RecordedEvent::to_new)
            .collect();
        Ok(Outcome { append: Some(append), events })
    }
}

/// The world the service decides against, and the world stream's version
/// and folded state it came from.
#[derive(Debug)]
struct KeptWorld {
    version: u64,
    state: WorldState,
    world: Arc<World>,
}

/// What reading a stream found for a command.
enum Read<A> {
    /// The command ran before: what it wrote then.
    Earlier(Outcome),
    Folded(Base<A>),
}

/// Who sends a command, its idempotency key, and the version it expects.
struct Call {
    command_id: CommandId,
    actor: Actor,
    expected_version: Option<u64>,
}

/// If `command_id` wrote events to this stream before, the outcome it had.
fn earlier_outcome(history: &[RecordedEvent], command_id: &CommandId) -> Option<Outcome> {
    let mine: Vec<&RecordedEvent> = history.iter().filter(|e| &e.command_id == command_id).collect();
    let (first, last) = (mine.first()?, mine.last()?);
    let append = AppendResult {
        stream: first.stream.clone(),
        first_version: first.version,
        last_version: last.version,
        position: last.position,
        duplicate: true,
    };
    Some(Outcome { append: Some(append), events: mine.into_iter().map(RecordedEvent::to_new).collect() })
}
