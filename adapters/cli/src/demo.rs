//! `gridloop demo`: simulated days of the closed loop, through the real
//! command service, dispatcher policy, deadline timers and store.
//!
//! The engine's own parts do their real jobs: the dispatcher policy
//! ([`gridloop_policies::dispatch`]) triages, offers to routed volunteers
//! ring by ring, assigns teams and departments; the deadline index
//! ([`gridloop_policies::deadlines`]) expires offers, escalates missed
//! deadlines up the ladder and closes loops after the feedback window. What
//! is simulated is the people: residents ordering, cancelling and rating;
//! volunteers answering offers (some never do), grid workers handling on the
//! spot, departments working (some slowly, some missing a summons), holders
//! finding a matter beyond them, a street declaring a typhoon emergency.
//!
//! The people react to the events in the log: an `Offered` event makes its
//! candidates answer after a while, an `Accepted` one makes the holder start
//! and later resolve, a `Resolved` one makes the resident rate it (or not).
//! Each reaction draws from a generator seeded by the demo seed and the
//! event, so the story does not depend on timing. Time moves in steps of
//! [`STEP`] on a manual clock; in each step the due reactions run, then the
//! dispatcher, then the timers, all one after the other, so the same seed
//! writes the same log. Volunteers answering in the same step "race": the
//! first one wins and the others are told the ticket is taken. (True
//! concurrent races are the store conformance suite's 64-task test.)

use std::collections::BTreeMap;
use std::sync::Arc;

use gridloop_engine::Error;
use gridloop_engine::emergency::EmergencyCommand;
use gridloop_engine::envelope::{Actor, RecordedEvent, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{ActorId, CommandId, DepartmentId, TicketId, VolunteerId};
use gridloop_engine::personal::{Lookup, Person, PersonalStore};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, EscalationReason, Rating, TicketCommand, TicketEvent, Tier};
use gridloop_engine::time::{DAY_MS, MINUTE_MS, Millis, Timestamp};
use gridloop_fixtures::District;
use gridloop_fixtures::traffic::{Order, day_orders};
use gridloop_policies::deadlines::DeadlineIndex;
use gridloop_policies::dispatch::{self, dispatcher_of};
use gridloop_projections::directory::Directory;
use gridloop_projections::runner::Runner;

/// The simulation's time step.
pub const STEP: Millis = Millis(5 * MINUTE_MS);
/// The most days the simulation runs on after the last orders.
const DRAIN_DAYS: u64 = 30;
/// The most days one demo may simulate.
pub const DAYS_MAX: u32 = 366;
/// The most orders a simulated day may carry.
pub const ORDERS_PER_DAY_MAX: u32 = 100_000;

#[derive(Clone, Debug)]
pub struct DemoConfig {
    pub days: u32,
    pub seed: u64,
    pub orders_per_day: u32,
    /// The first simulated midnight (UTC).
    pub start: Timestamp,
    /// When set, the data directory whose seal key seals the log at every
    /// simulated midnight (periodic seals, as a deployment would make).
    pub seal_dir: Option<std::path::PathBuf>,
}

impl DemoConfig {
    pub fn new(days: u32, seed: u64) -> Self {
        let start = Timestamp::parse("2026-11-02T00:00:00Z").expect("valid");
        Self { days, seed, orders_per_day: 120, start, seal_dir: None }
    }
}

/// What happened, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub tickets: u64,
    pub commands: u64,
    /// Acceptances that lost a race (AlreadyTaken): expected, not failures.
    pub races_lost: u64,
    /// People acting on a ticket that had moved on (an answer after the
    /// offer expired, a resolution after a timeout took the ticket away).
    pub overtaken: u64,
    /// Commands of the dispatcher policy and of the timers that wrote.
    pub dispatched: u64,
    pub timers_fired: u64,
    /// Refusals nobody should meet, by error code. A healthy run has none.
    pub unexpected: BTreeMap<String, u64>,
    /// The end of the last day of orders.
    pub orders_end: Timestamp,
    /// The simulated instant the run ended (every story over, or the drain limit).
    pub end: Timestamp,
    /// Tickets still open at the end (0 unless the drain limit was reached).
    pub open: u64,
    /// Seals made at simulated midnights.
    pub seals: u64,
}

/// Runs the demo. `progress(done, total)` is called once a simulated step;
/// `total` counts the drain period too, which usually ends early.
pub async fn run<S: EventStore>(
    store: S,
    district: Arc<District>,
    config: &DemoConfig,
    progress: impl Fn(u64, u64),
) -> Result<DemoSummary, Error> {
    run_with_personal(store, None, district, config, progress).await
}

/// [`run`], and residents leave their (made-up) name, phone and address in
/// `personal` when they first order: kept out of the log, as real ones are.
pub async fn run_with_personal<S: EventStore>(
    store: S,
    personal: Option<Arc<dyn PersonalStore>>,
    district: Arc<District>,
    config: &DemoConfig,
    progress: impl Fn(u64, u64),
) -> Result<DemoSummary, Error> {
    if config.days == 0
        || config.days > DAYS_MAX
        || config.orders_per_day == 0
        || config.orders_per_day > ORDERS_PER_DAY_MAX
    {
        return Err(Error::invalid("demo", "days must be 1 to 366 and orders per day 1 to 100,000"));
    }
    let clock = Arc::new(ManualClock::new(config.start));
    let service = Arc::new(CommandService::new(store, district.world.clone(), clock.clone(), config.seed));
    let mut sim = Sim::new(service, district.clone(), config.seed);
    sim.personal = personal;
    sim.register_volunteers().await?;
    sim.plan_orders(config);
    sim.plan_emergency(config)?;

    let orders_end = config.start.plus(Millis(u64::from(config.days) * DAY_MS));
    let end = orders_end.plus(Millis(DRAIN_DAYS * DAY_MS));
    let steps = end.since(config.start).0 / STEP.0;
    let mut now = config.start;
    // The stream heads the midnight seals fold, kept between them so that
    // each seal reads only the day's events.
    let heads = gridloop_projections::cold::Cold::default();
    for step in 1..=steps {
        if now >= orders_end && sim.is_quiet() {
            break;
        }
        now = now.plus(STEP);
        clock.set(now);
        sim.step(now).await?;
        if let Some(dir) = config.seal_dir.as_deref().filter(|_| now.as_millis() % DAY_MS as i64 == 0) {
            crate::sealing::seal_now(sim.service.store(), dir, now, &heads)
                .await
                .map_err(|e| Error::Storage(format!("sealing the log failed: {e:#}")))?;
            sim.summary.seals += 1;
        }
        progress(step, steps);
    }
    sim.summary.orders_end = orders_end;
    sim.summary.end = now;
    sim.summary.open = sim.index.state().open_tickets().count() as u64;
    Ok(sim.summary)
}

/// Something a person will do at a time.
#[derive(Clone, Debug)]
enum Act {
    Submit(Box<Order>, TicketId),
    Ticket { ticket: TicketId, actor: Actor, command: TicketCommand },
    Emergency { place: GridCode, command: EmergencyCommand },
}

struct Sim<S> {
    service: Arc<CommandService<S>>,
    district: Arc<District>,
    seed: u64,
    /// Due acts by (time, sequence number).
    agenda: BTreeMap<(Timestamp, u64), Act>,
    next_act: u64,
    index: Runner<DeadlineIndex>,
    directory: Runner<Directory>,
    /// The last position the people have reacted to.
    seen: u64,
    /// Departments that work slowly (their resolutions run late).
    slow_departments: Vec<DepartmentId>,
    /// Where residents' personal data goes, if anywhere.
    personal: Option<Arc<dyn PersonalStore>>,
    summary: DemoSummary,
}

impl<S: EventStore> Sim<S> {
    fn new(service: Arc<CommandService<S>>, district: Arc<District>, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0x5EED);
        let slow_departments =
            district.world.catalog.departments().filter(|_| rng.chance(250)).map(|d| d.code.clone()).collect();
        Self {
            service,
            district,
            seed,
            agenda: BTreeMap::new(),
            next_act: 0,
            index: Runner::fresh(),
            directory: Runner::fresh(),
            seen: 0,
            slow_departments,
            personal: None,
            summary: DemoSummary::default(),
        }
    }

    fn is_quiet(&self) -> bool {
        self.agenda.is_empty() && self.index.state().open_tickets().next().is_none()
    }

    fn schedule(&mut self, at: Timestamp, act: Act) {
        self.next_act += 1;
        self.agenda.insert((at, self.next_act), act);
    }

    /// Registers the fixture's volunteers, one after the other: in a fixed
    /// order, so that the same seed writes the same log.
    async fn register_volunteers(&mut self) -> Result<(), Error> {
        for v in &self.district.volunteers {
            // An imported district registered its volunteers already.
            if self.service.volunteer(&v.id).await?.id.is_some() {
                continue;
            }
            let command_id = CommandId::new(format!("register-{}-{}", v.id, self.seed))?;
            self.service.execute(v.registration(command_id)).await?;
            self.summary.commands += 1;
        }
        Ok(())
    }

    fn plan_orders(&mut self, config: &DemoConfig) {
        let mut rng = SplitMix64::new(config.seed);
        for day in 0..config.days {
            let midnight = config.start.plus(Millis(u64::from(day) * DAY_MS));
            for order in day_orders(&self.district, midnight, config.orders_per_day, &mut rng) {
                self.summary.tickets += 1;
                let ticket = TicketId::from_number(self.summary.tickets);
                self.schedule(order.at, Act::Submit(Box::new(order), ticket));
            }
        }
    }

    /// 平急转换: from the third day on, a typhoon puts the coastal street
    /// (the fifth) into emergency mode for a day.
    fn plan_emergency(&mut self, config: &DemoConfig) -> Result<(), Error> {
        if config.days < 3 {
            return Ok(());
        }
        let Some(street) = self.district.world.grids.at_level(Level::Street).nth(4).map(|s| s.code.clone()) else {
            return Ok(());
        };
        let day_three = config.start.plus(Millis(2 * DAY_MS));
        let declare = EmergencyCommand::Declare { reason: "台风红色预警 typhoon red alert".into() };
        self.schedule(day_three, Act::Emergency { place: street.clone(), command: declare });
        let lift = EmergencyCommand::Lift { reason: "台风过境 the typhoon has passed".into() };
        self.schedule(day_three.plus(Millis(DAY_MS)), Act::Emergency { place: street, command: lift });
        Ok(())
    }

    /// One step: the people's due acts, then the dispatcher, then the
    /// timers; the people react to what each of them wrote.
    async fn step(&mut self, now: Timestamp) -> Result<(), Error> {
        let due: Vec<(Timestamp, u64)> = self.agenda.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
        for key in due {
            let act = self.agenda.remove(&key).expect("listed above");
            self.perform(act).await?;
        }
        self.catch_up(now).await?;
        let tickets: Vec<_> =
            self.index.state().open_tickets().filter(|t| t.status.awaits_dispatch()).cloned().collect();
        self.summary.dispatched +=
            dispatch::dispatch(tickets.iter(), self.directory.state(), &self.service, now).await?;
        self.catch_up(now).await?;
        let fired = self.index.state().fire(&self.service, now).await?;
        self.summary.timers_fired += fired.written;
        self.catch_up(now).await
    }

    async fn perform(&mut self, act: Act) -> Result<(), Error> {
        let (command, actor) = match act {
            Act::Submit(order, ticket) => {
                self.remember_resident(&order)?;
                let actor = self.submitter(&order);
                let command = TicketCommand::Submit {
                    photos: vec![],
                    item: order.item,
                    grid: order.grid,
                    resident: order.resident,
                    description: order.description,
                    urgency: order.urgency,
                    channel: order.channel,
                    location: order.location,
                };
                (Command::Ticket { id: ticket, command }, actor)
            }
            Act::Ticket { ticket, actor, command } => (Command::Ticket { id: ticket, command }, actor),
            Act::Emergency { place, command } => {
                (Command::Emergency { place: place.clone(), command }, dispatcher_of(&place, Tier::District))
            }
        };
        self.summary.commands += 1;
        let envelope = CommandEnvelope {
            command_id: CommandId::new(format!("act-{}-{}", self.summary.commands, self.seed))?,
            correlation_id: None,
            actor,
            command,
            expected_version: None,
        };
        match self.service.execute(envelope).await {
            Ok(_) => {}
            Err(Error::AlreadyTaken { .. }) => self.summary.races_lost += 1,
            Err(
                Error::OfferExpired { .. }
                | Error::NotOffered { .. }
                | Error::NotHolder { .. }
                | Error::IllegalTransition { .. },
            ) => self.summary.overtaken += 1,
            Err(e @ (Error::Storage(_) | Error::Corrupt(_) | Error::Contended { .. })) => return Err(e),
            Err(refusal) => {
                tracing::warn!(%refusal, "the demo met an unexpected refusal");
                *self.summary.unexpected.entry(refusal.code().to_string()).or_default() += 1;
            }
        }
        Ok(())
    }

    /// A made-up name, phone and address for a resident's first order.
    fn remember_resident(&self, order: &Order) -> Result<(), Error> {
        let Some(personal) = &self.personal else { return Ok(()) };
        if personal.get(&order.resident)? != Lookup::Unknown {
            return Ok(());
        }
        const SURNAMES: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "梁"];
        const GIVEN: [&str; 12] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰"];
        let n: u64 = order.resident.as_str().trim_start_matches("r-").parse().unwrap_or(0);
        let mut rng = SplitMix64::new(n ^ 0xC0FFEE);
        let name = format!("{}{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN), rng.pick(&GIVEN));
        let phone = format!("13{}{:08}", rng.below(10), rng.below(100_000_000));
        let place = self.district.world.grids.get(&order.grid).map_or("", |g| g.name.as_str());
        let address = format!("{place}{}栋{}室", 1 + rng.below(30), 101 + rng.below(20) * 100 + rng.below(6));
        personal.put(&order.resident, &Person::new(&name, &phone, &address)?)
    }

    fn submitter(&self, order: &Order) -> Actor {
        if order.channel == gridloop_engine::ticket::Channel::Patrol {
            if let Some(worker) = self.district.grid_worker_for(&order.grid) {
                return Actor { role: Role::GridWorker, id: worker.clone() };
            }
        }
        Actor { role: Role::Resident, id: ActorId::new(order.resident.as_str()).expect("resident ids are actor ids") }
    }

    /// Brings the projections up to date and lets the people react to every
    /// event written since they last looked.
    async fn catch_up(&mut self, now: Timestamp) -> Result<(), Error> {
        let store = self.service.store().clone();
        self.index.catch_up(&store, None, |_| {}).await.map_err(log_error)?;
        self.directory.catch_up(&store, None, |_| {}).await.map_err(log_error)?;
        let mut scan = store.scan(self.seen + 1);
        while let Some(batch) = scan.next_batch().await? {
            for event in &batch {
                self.react(event, now).await?;
                self.seen = event.position;
            }
        }
        Ok(())
    }

    /// What people do about one event.
    async fn react(&mut self, event: &RecordedEvent, now: Timestamp) -> Result<(), Error> {
        if event.stream.kind() != "ticket" {
            return Ok(());
        }
        let ticket = TicketId::new(event.stream.id())?;
        // Seeded by the event's hash, not its position: positions are the
        // store's own numbering (dense on sled, sparse on NATS), and the same
        // seed must write the same log on every store.
        let salt = u64::from_le_bytes(event.hash.0[..8].try_into().expect("8 bytes"));
        let mut rng = SplitMix64::new(self.seed ^ salt);
        let minutes = |rng: &mut SplitMix64, from: u64, to: u64| Millis::minutes(from + rng.below(to - from + 1));
        match event.decode::<TicketEvent>()? {
            // A problem found on patrol has no resident to cancel it.
            TicketEvent::Submitted { resident: Some(resident), tier, .. } => {
                let act = |command| Act::Ticket { ticket: ticket.clone(), actor: resident_actor(&resident), command };
                if rng.chance(20) && tier == Tier::Grid {
                    let at = now.plus(minutes(&mut rng, 3, 20));
                    self.schedule(at, act(TicketCommand::Cancel { reason: "已自行解决".into() }));
                }
            }
            TicketEvent::Triaged { mode: gridloop_engine::catalog::HandlingMode::SelfHandle, .. } => {
                let grid = self.service.ticket(&ticket).await?.grid.expect("submitted");
                if let Some(worker) = self.district.grid_worker_for(&grid).cloned() {
                    let actor = Actor { role: Role::GridWorker, id: worker };
                    let at = now.plus(minutes(&mut rng, 10, 120));
                    self.schedule(at, Act::Ticket { ticket, actor, command: TicketCommand::SelfHandle });
                }
            }
            TicketEvent::Offered { candidates, .. } => {
                for candidate in candidates {
                    let Assignee::Volunteer(v) = candidate else { continue };
                    if silent(&v, self.seed) {
                        continue;
                    }
                    let roll = rng.below(100);
                    let at = now.plus(minutes(&mut rng, 1, 20));
                    let by = Assignee::Volunteer(v.clone());
                    let command = match roll {
                        0..55 => TicketCommand::AcceptOffer { by },
                        55..75 => TicketCommand::DeclineOffer { by, reason: "时间冲突".into() },
                        _ => continue,
                    };
                    self.schedule(at, Act::Ticket { ticket: ticket.clone(), actor: volunteer_actor(&v), command });
                }
            }
            TicketEvent::Accepted { by, .. } | TicketEvent::Reassigned { to: by, .. } => {
                self.plan_work(ticket, by, now, &mut rng).await?;
            }
            TicketEvent::SelfHandled { worker } => {
                self.plan_work(ticket, Assignee::GridWorker(worker), now, &mut rng).await?;
            }
            TicketEvent::Escalated { to: Tier::Street, .. } if rng.chance(300) => {
                let state = self.service.ticket(&ticket).await?;
                let item = self.district.world.catalog.item(state.item.as_ref().expect("submitted"))?;
                let grid = state.grid.expect("submitted");
                let command = TicketCommand::Summon { departments: vec![item.department.clone()] };
                let at = now.plus(minutes(&mut rng, 10, 30));
                self.schedule(at, Act::Ticket { ticket, actor: dispatcher_of(&grid, Tier::Street), command });
            }
            TicketEvent::Summoned { departments, report_by } => {
                for department in departments {
                    // Most report in time; some never do, and the timer
                    // escalates again.
                    if rng.chance(850) {
                        let span = report_by.since(now).0.max(2 * STEP.0);
                        let at = now.plus(Millis(STEP.0 + rng.below(span - STEP.0)));
                        let actor = Actor::new(Role::Department, department.as_str())?;
                        let command = TicketCommand::ReportToSummons { report: "已到场，正在处置".into() };
                        self.schedule(at, Act::Ticket { ticket: ticket.clone(), actor, command });
                    }
                }
            }
            TicketEvent::Resolved { feedback_by, .. } if rng.chance(700) => {
                let state = self.service.ticket(&ticket).await?;
                let resident = state.resident.expect("submitted");
                let latest = feedback_by.since(now).0 * 8 / 10 / MINUTE_MS;
                let at = now.plus(minutes(&mut rng, 30, latest.max(31)));
                let rating = match rng.below(100) {
                    _ if state.reopenings > 0 => Rating::Satisfied,
                    0..80 => Rating::Satisfied,
                    80..94 => Rating::BasicallySatisfied,
                    _ => Rating::Unsatisfied,
                };
                let command = TicketCommand::GiveFeedback { rating, comment: String::new() };
                self.schedule(at, Act::Ticket { ticket, actor: resident_actor(&resident), command });
            }
            _ => {}
        }
        Ok(())
    }

    /// The holder starts and resolves, sometimes late (slow departments,
    /// one in eight others), sometimes finding the matter beyond them.
    async fn plan_work(
        &mut self,
        ticket: TicketId,
        holder: Assignee,
        now: Timestamp,
        rng: &mut SplitMix64,
    ) -> Result<(), Error> {
        let state = self.service.ticket(&ticket).await?;
        let grid = state.grid.clone().expect("submitted");
        let tier = state.tier.unwrap_or(Tier::Grid);
        let actor = speaker(&holder, &grid, tier);
        let act = |command| Act::Ticket { ticket: ticket.clone(), actor: actor.clone(), command };
        if rng.chance(25) && tier < Tier::District {
            let note = "超出能力范围，需要上级协调".into();
            let at = now.plus(Millis::minutes(30 + rng.below(90)));
            self.schedule(at, act(TicketCommand::Escalate { reason: EscalationReason::Difficulty, note }));
            return Ok(());
        }
        if matches!(holder, Assignee::Volunteer(_)) {
            let at = now.plus(Millis::minutes(10 + rng.below(50)));
            self.schedule(at, act(TicketCommand::Start));
        }
        let window = state.resolve_by.map_or(Millis::days(1), |by| by.since(now)).0.max(4 * STEP.0);
        let slow = matches!(&holder, Assignee::Department(d) if self.slow_departments.contains(d));
        let late = (slow && rng.chance(500)) || rng.chance(60);
        let at = if late {
            now.plus(Millis(window + window / 4 + rng.below(window / 2)))
        } else {
            now.plus(Millis(window / 10 + rng.below(window * 7 / 10)))
        };
        let minutes_spent = 20 + rng.below(220) as u32;
        self.schedule(at, act(TicketCommand::Resolve { photos: vec![], result: "已处理完毕".into(), minutes_spent }));
        Ok(())
    }
}

/// A volunteer who never answers offers (about one in ten).
fn silent(volunteer: &VolunteerId, seed: u64) -> bool {
    let n: u64 = volunteer.as_str()[2..].parse().unwrap_or(0);
    SplitMix64::new(seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407)).chance(100)
}

fn resident_actor(resident: &gridloop_engine::ids::ResidentId) -> Actor {
    Actor { role: Role::Resident, id: ActorId::new(resident.as_str()).expect("resident ids are actor ids") }
}

fn volunteer_actor(id: &VolunteerId) -> Actor {
    Actor::new(Role::Volunteer, id.as_str()).expect("volunteer ids are actor ids")
}

/// Who reports for a holder: the volunteer, the department, the grid worker;
/// for a team, the dispatcher who assigned it.
fn speaker(holder: &Assignee, grid: &GridCode, tier: Tier) -> Actor {
    match holder {
        Assignee::Volunteer(v) => volunteer_actor(v),
        Assignee::Department(d) => Actor::new(Role::Department, d.as_str()).expect("valid"),
        Assignee::GridWorker(w) => Actor { role: Role::GridWorker, id: w.clone() },
        Assignee::Team(_) => dispatcher_of(grid, tier),
    }
}

fn log_error(e: gridloop_projections::ProjectionError) -> Error {
    match e {
        gridloop_projections::ProjectionError::Log(e) => e,
        other => Error::Corrupt(other.to_string()),
    }
}
