//! `gridloop demo`: simulated days of the closed loop, through the real
//! command service and store.
//!
//! Each resident order becomes a [`Script`]: a small state machine that, at
//! each wake-up, sends the next command of that ticket's life (submit,
//! triage, offer, the volunteers' answers, start, resolve, feedback, close)
//! and says when to wake it next. Every random choice a script makes comes
//! from its own generator, seeded from the demo seed and the ticket number,
//! so the story of a ticket does not depend on how the tasks interleave.
//!
//! Time moves in steps of [`STEP`] on a manual clock. In each step every
//! script that is due runs concurrently (so the store's group commit has
//! company), and volunteers who answer an offer in the same step race for it
//! for real: the command service lets exactly one win. Which volunteer wins
//! a race may differ between runs; what the ticket does next does not, so
//! the same seed gives the same counts and rates.
//!
//! The deadline timers of the engine (issue: dispatch and deadlines) are not
//! here yet; the scripts send the timer commands themselves (expire an offer,
//! escalate on a missed deadline, close after the feedback window) as a
//! system actor, at the deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gridloop_engine::Error;
use gridloop_engine::catalog::{CatalogItem, HandlingMode};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::{GridCode, Level};
use gridloop_engine::ids::{CommandId, Skill, TicketId, VolunteerId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Command, CommandService, Envelope, ManualClock, Outcome};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, Channel, EscalationReason, Rating, TicketCommand, Tier};
use gridloop_engine::time::{DAY_MS, MINUTE_MS, Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_fixtures::District;
use gridloop_fixtures::traffic::{Order, day_orders};
use tokio::task::JoinSet;

/// The simulation's time step.
pub const STEP: Millis = Millis(5 * MINUTE_MS);
/// How long an offer stays open.
const OFFER_WINDOW: Millis = Millis(30 * MINUTE_MS);
/// Offer rounds before the ticket escalates for a missed acceptance.
const OFFER_ROUNDS: u32 = 2;
/// Registrations in flight at once.
const REGISTRATIONS_IN_FLIGHT: usize = 256;
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
}

impl DemoConfig {
    pub fn new(days: u32, seed: u64) -> Self {
        Self { days, seed, orders_per_day: 120, start: Timestamp::parse("2026-11-02T00:00:00Z").expect("valid") }
    }
}

/// What happened, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub tickets: u64,
    pub commands: u64,
    /// Acceptances that lost a race (AlreadyTaken): expected, not failures.
    pub races_lost: u64,
    /// Refusals the scripts did not expect, by error code. A healthy run has none.
    pub unexpected: BTreeMap<String, u64>,
    /// The end of the last day of orders.
    pub orders_end: Timestamp,
    /// The simulated instant the run ended (every story over, or the drain limit).
    pub end: Timestamp,
    /// Tickets still open at the end (0 unless the drain limit was reached).
    pub open: u64,
}

/// Runs the demo. `progress(done, total)` is called once a simulated step;
/// `total` counts the drain period too, which usually ends early.
pub async fn run<S: EventStore>(
    store: S,
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
    let sim = Arc::new(Sim::new(service, district.clone(), config.seed));
    let mut summary = DemoSummary::default();
    sim.register_volunteers(&mut summary).await?;

    let mut rng = SplitMix64::new(config.seed);
    let mut queue: BTreeMap<(Timestamp, u64), Script> = BTreeMap::new();
    for day in 0..config.days {
        let midnight = config.start.plus(Millis(u64::from(day) * DAY_MS));
        for order in day_orders(&district, midnight, config.orders_per_day, &mut rng) {
            summary.tickets += 1;
            let script = Script::new(TicketId::from_number(summary.tickets), order, config.seed);
            queue.insert((round_up(script.order.at, config.start), script.number()), script);
        }
    }
    // Orders arrive for `days`; then time runs on (at most DRAIN_DAYS) until
    // every ticket's story has ended, so the rates describe closed loops.
    let orders_end = config.start.plus(Millis(u64::from(config.days) * DAY_MS));
    let end = orders_end.plus(Millis(DRAIN_DAYS * DAY_MS));
    let steps = end.since(config.start).0 / STEP.0;
    let mut now = config.start;
    for step in 1..=steps {
        if queue.is_empty() && now >= orders_end {
            break;
        }
        now = now.plus(STEP);
        clock.set(now);
        let due: Vec<(Timestamp, u64)> = queue.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
        let mut tasks = JoinSet::new();
        for key in due {
            let script = queue.remove(&key).expect("listed above");
            let sim = sim.clone();
            tasks.spawn(async move { sim.advance(script, now).await });
        }
        while let Some(joined) = tasks.join_next().await {
            let (script, tally) =
                joined.map_err(|e| Error::Storage(format!("a simulated ticket's task failed: {e}")))?;
            summary.commands += tally.commands;
            summary.races_lost += tally.races_lost;
            for code in tally.unexpected {
                *summary.unexpected.entry(code).or_default() += 1;
            }
            if let Some(wake) = script.wake {
                queue.insert((round_up(wake, config.start), script.number()), script);
            }
        }
        progress(step.min(steps), steps);
    }
    summary.open = queue.len() as u64;
    summary.orders_end = orders_end;
    summary.end = now;
    Ok(summary)
}

/// The step boundary at or after `at`.
fn round_up(at: Timestamp, start: Timestamp) -> Timestamp {
    let offset = at.since(start).0;
    start.plus(Millis(offset.div_ceil(STEP.0).max(1) * STEP.0))
}

/// Counts from one script step.
#[derive(Default)]
struct Tally {
    commands: u64,
    races_lost: u64,
    unexpected: Vec<String>,
}

/// Where a ticket's story is.
#[derive(Clone, Debug)]
enum Phase {
    Submit,
    Triage,
    Cancel,
    MarkDuplicate,
    SelfHandle,
    Offer,
    Answers,
    Expire,
    Assign,
    Start,
    Resolve,
    EscalateTimeout,
    Feedback,
    Close,
    CloseWithoutFeedback,
}

/// One volunteer's answer to an offer.
#[derive(Clone, Debug)]
struct Answer {
    volunteer: VolunteerId,
    at: Timestamp,
    accept: bool,
}

#[derive(Debug)]
struct Script {
    id: TicketId,
    order: Order,
    rng: SplitMix64,
    phase: Phase,
    wake: Option<Timestamp>,
    sent: u32,
    round: u32,
    tier: Tier,
    holder: Option<Assignee>,
    answers: Vec<Answer>,
    offer_expires: Timestamp,
    resolve_by: Timestamp,
    feedback_by: Timestamp,
    reopened: bool,
}

impl Script {
    fn new(id: TicketId, order: Order, seed: u64) -> Self {
        let rng = SplitMix64::new(seed ^ id.number().wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let at = order.at;
        Self {
            id,
            order,
            rng,
            phase: Phase::Submit,
            wake: Some(at),
            sent: 0,
            round: 0,
            tier: Tier::Grid,
            holder: None,
            answers: vec![],
            offer_expires: at,
            resolve_by: at,
            feedback_by: at,
            reopened: false,
        }
    }

    fn number(&self) -> u64 {
        self.id.number()
    }

    fn next(&mut self, phase: Phase, at: Timestamp) {
        self.phase = phase;
        self.wake = Some(at);
    }

    fn done(&mut self) {
        self.wake = None;
    }

    fn minutes(&mut self, from: u64, to: u64) -> Millis {
        Millis::minutes(from + self.rng.below(to - from + 1))
    }
}

struct Sim<S> {
    service: Arc<CommandService<S>>,
    district: Arc<District>,
    by_skill: BTreeMap<Skill, Vec<usize>>,
    seed: u64,
}

impl<S: EventStore> Sim<S> {
    fn new(service: Arc<CommandService<S>>, district: Arc<District>, seed: u64) -> Self {
        let mut by_skill: BTreeMap<Skill, Vec<usize>> = BTreeMap::new();
        for (i, v) in district.volunteers.iter().enumerate() {
            for skill in &v.skills {
                by_skill.entry(skill.clone()).or_default().push(i);
            }
        }
        Self { service, district, by_skill, seed }
    }

    async fn register_volunteers(&self, summary: &mut DemoSummary) -> Result<(), Error> {
        let dispatcher = Actor::new(Role::Dispatcher, "d-district")?;
        for chunk in self.district.volunteers.chunks(REGISTRATIONS_IN_FLIGHT) {
            let mut tasks = JoinSet::new();
            for v in chunk {
                let command = VolunteerCommand::Register {
                    team: v.team.clone(),
                    home_grid: v.home_grid.clone(),
                    skills: v.skills.clone(),
                    open_orders_max: v.open_orders_max,
                };
                let envelope = Envelope {
                    expected_version: None,
                    command_id: CommandId::new(format!("register-{}-{}", v.id, self.seed))?,
                    correlation_id: None,
                    actor: dispatcher.clone(),
                    command: Command::Volunteer { id: v.id.clone(), command },
                };
                let service = self.service.clone();
                tasks.spawn(async move { service.execute(envelope).await });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.map_err(|e| Error::Storage(format!("registration task failed: {e}")))??;
                summary.commands += 1;
            }
        }
        Ok(())
    }

    /// Runs the script's due step and returns it with its next wake-up.
    async fn advance(&self, mut s: Script, now: Timestamp) -> (Script, Tally) {
        let mut tally = Tally::default();
        let item = self.district.world.catalog.item(&s.order.item).expect("orders name catalog items").clone();
        let result = match s.phase.clone() {
            Phase::Submit => self.submit(&mut s, now, &mut tally).await,
            Phase::Triage => self.triage(&mut s, &item, now, &mut tally).await,
            Phase::Cancel => {
                let actor = resident(&s);
                self.simple(&mut s, actor, TicketCommand::Cancel { reason: "已自行解决".into() }, &mut tally)
                    .await
                    .map(|_| s.done())
            }
            Phase::MarkDuplicate => {
                let of = TicketId::from_number(s.number() - 1);
                let actor = dispatcher(&s.order.grid, Tier::Community);
                self.simple(&mut s, actor, TicketCommand::MarkDuplicate { of }, &mut tally).await.map(|_| s.done())
            }
            Phase::SelfHandle => self.self_handle(&mut s, now, &mut tally).await,
            Phase::Offer => self.offer(&mut s, &item, now, &mut tally).await,
            Phase::Answers => self.answers(&mut s, now, &mut tally).await,
            Phase::Expire => self.expire(&mut s, now, &mut tally).await,
            Phase::Assign => self.assign(&mut s, &item, now, &mut tally).await,
            Phase::Start => self.start(&mut s, now, &mut tally).await,
            Phase::Resolve => self.resolve(&mut s, &item, now, &mut tally).await,
            Phase::EscalateTimeout => self.escalate(&mut s, EscalationReason::Timeout, now, &mut tally).await,
            Phase::Feedback => self.feedback(&mut s, &item, now, &mut tally).await,
            Phase::Close => {
                let actor = dispatcher(&s.order.grid, Tier::Community);
                self.simple(&mut s, actor, TicketCommand::Close, &mut tally).await.map(|_| s.done())
            }
            Phase::CloseWithoutFeedback => {
                self.simple(&mut s, Actor::system(), TicketCommand::Close, &mut tally).await.map(|_| s.done())
            }
        };
        if let Err(error) = result {
            tally.unexpected.push(error.code().to_string());
            tracing::warn!(ticket = %s.id, phase = ?s.phase, %error, "the demo met an unexpected refusal");
            s.done();
        }
        (s, tally)
    }

    async fn send(
        &self,
        s: &mut Script,
        actor: Actor,
        command: TicketCommand,
        tally: &mut Tally,
    ) -> Result<Outcome, Error> {
        s.sent += 1;
        tally.commands += 1;
        let envelope = Envelope {
            expected_version: None,
            command_id: CommandId::new(format!("{}-{}-{}", s.id, s.sent, self.seed))?,
            correlation_id: None,
            actor,
            command: Command::Ticket { id: s.id.clone(), command },
        };
        self.service.execute(envelope).await
    }

    async fn simple(
        &self,
        s: &mut Script,
        actor: Actor,
        command: TicketCommand,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        self.send(s, actor, command, tally).await.map(|_| ())
    }

    async fn submit(&self, s: &mut Script, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let o = &s.order;
        let actor = if o.channel == Channel::Patrol {
            Actor {
                role: Role::GridWorker,
                id: self.district.grid_worker_for(&o.grid).expect("every grid has a worker").clone(),
            }
        } else {
            resident(s)
        };
        let command = TicketCommand::Submit {
            item: o.item.clone(),
            grid: o.grid.clone(),
            resident: o.resident.clone(),
            description: o.description.clone(),
            urgency: o.urgency,
            channel: o.channel,
            location: o.location,
        };
        self.send(s, actor, command, tally).await?;
        let item = self.district.world.catalog.item(&s.order.item)?;
        s.resolve_by = now.plus(item.sla.resolve_within);
        match s.rng.below(1000) {
            0..15 if s.number() > 1 => s.next(Phase::MarkDuplicate, now.plus(Millis::minutes(10))),
            15..35 => {
                let wait = s.minutes(3, 20);
                s.next(Phase::Cancel, now.plus(wait));
            }
            _ => {
                let wait = s.minutes(5, 30);
                s.next(Phase::Triage, now.plus(wait));
            }
        }
        Ok(())
    }

    async fn triage(&self, s: &mut Script, item: &CatalogItem, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let mode = if item.dispatchable_to_grid() { item.mode } else { HandlingMode::Department };
        self.send(s, dispatcher(&s.order.grid, Tier::Community), TicketCommand::Triage { mode, item: None }, tally)
            .await?;
        match mode {
            HandlingMode::SelfHandle => {
                let wait = s.minutes(10, 120);
                s.next(Phase::SelfHandle, now.plus(wait));
            }
            HandlingMode::Volunteer => s.next(Phase::Offer, now.plus(Millis::minutes(1))),
            HandlingMode::Department => s.next(Phase::Assign, now.plus(Millis::minutes(5))),
        }
        Ok(())
    }

    async fn self_handle(&self, s: &mut Script, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let worker = self.district.grid_worker_for(&s.order.grid).expect("every grid has a worker").clone();
        self.send(s, Actor { role: Role::GridWorker, id: worker.clone() }, TicketCommand::SelfHandle, tally).await?;
        s.holder = Some(Assignee::GridWorker(worker));
        self.schedule_resolution(s, now);
        Ok(())
    }

    /// Offers the ticket to 1–4 volunteers with a needed skill, from the
    /// ring the round allows (the grid first, then the community, then the
    /// street); with nobody there, the community's team gets it assigned.
    async fn offer(&self, s: &mut Script, item: &CatalogItem, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let candidates = self.candidates(s, item);
        if candidates.is_empty() {
            s.next(Phase::Assign, now);
            return self.assign(s, item, now, tally).await;
        }
        let expires_at = now.plus(OFFER_WINDOW);
        let offered: Vec<Assignee> = candidates.iter().map(|v| Assignee::Volunteer(v.clone())).collect();
        self.send(
            s,
            dispatcher(&s.order.grid, s.tier),
            TicketCommand::Offer { candidates: offered, expires_at },
            tally,
        )
        .await?;
        s.round += 1;
        s.offer_expires = expires_at;
        s.answers = candidates
            .into_iter()
            .filter_map(|volunteer| {
                let roll = s.rng.below(100);
                let delay = s.minutes(1, 20);
                (roll < 65).then_some(Answer { volunteer, at: now.plus(delay), accept: roll < 45 })
            })
            .collect();
        s.answers.sort_by_key(|a| (a.at, a.volunteer.clone()));
        self.schedule_answers(s);
        Ok(())
    }

    fn candidates(&self, s: &mut Script, item: &CatalogItem) -> Vec<VolunteerId> {
        let rings = [Level::Grid, Level::Community, Level::Street];
        let ring = rings[(s.round as usize).min(rings.len() - 1)];
        let Some(scope) = s.order.grid.at_level(ring) else { return vec![] };
        let mut pool: BTreeSet<usize> = BTreeSet::new();
        for skill in &item.skills {
            let Some(list) = self.by_skill.get(skill) else { continue };
            pool.extend(list.iter().copied().filter(|&i| self.district.volunteers[i].home_grid.is_within(&scope)));
        }
        let mut pool: Vec<usize> = pool.into_iter().collect();
        let want = 1 + s.rng.below(4) as usize;
        let mut chosen = Vec::new();
        while chosen.len() < want && !pool.is_empty() {
            let i = s.rng.below(pool.len() as u64) as usize;
            chosen.push(self.district.volunteers[pool.swap_remove(i)].id.clone());
        }
        chosen
    }

    fn schedule_answers(&self, s: &mut Script) {
        match s.answers.first() {
            Some(answer) => {
                let at = answer.at;
                s.next(Phase::Answers, at);
            }
            None => {
                let at = s.offer_expires;
                s.next(Phase::Expire, at);
            }
        }
    }

    /// Every answer due by the end of this step: declines first, then the
    /// acceptances race each other for real.
    async fn answers(&self, s: &mut Script, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let due: Vec<Answer> = s.answers.iter().filter(|a| a.at <= now).cloned().collect();
        s.answers.retain(|a| a.at > now);
        let mut offer_closed = false;
        for answer in due.iter().filter(|a| !a.accept) {
            let by = Assignee::Volunteer(answer.volunteer.clone());
            let outcome = self
                .send(
                    s,
                    volunteer(&answer.volunteer),
                    TicketCommand::DeclineOffer { by, reason: "时间冲突".into() },
                    tally,
                )
                .await?;
            offer_closed |= outcome.events.iter().any(|e| e.schema.name == "ticket.offer_expired");
        }
        let racers: Vec<&Answer> = due.iter().filter(|a| a.accept).collect();
        if !racers.is_empty() {
            if let Some(winner) = self.race(s, &racers, tally).await? {
                s.holder = Some(Assignee::Volunteer(winner));
                s.answers.clear();
                let wait = s.minutes(10, 60);
                s.next(Phase::Start, now.plus(wait));
                return Ok(());
            }
        }
        if offer_closed {
            return self.after_failed_offer(s, now);
        }
        self.schedule_answers(s);
        Ok(())
    }

    /// Sends every racer's acceptance at once; returns the winner.
    async fn race(&self, s: &mut Script, racers: &[&Answer], tally: &mut Tally) -> Result<Option<VolunteerId>, Error> {
        let mut tasks = JoinSet::new();
        for answer in racers {
            s.sent += 1;
            tally.commands += 1;
            let envelope = Envelope {
                expected_version: None,
                command_id: CommandId::new(format!("{}-{}-{}", s.id, s.sent, self.seed))?,
                correlation_id: None,
                actor: volunteer(&answer.volunteer),
                command: Command::Ticket {
                    id: s.id.clone(),
                    command: TicketCommand::AcceptOffer { by: Assignee::Volunteer(answer.volunteer.clone()) },
                },
            };
            let (service, who) = (self.service.clone(), answer.volunteer.clone());
            tasks.spawn(async move { (who, service.execute(envelope).await) });
        }
        let mut winner = None;
        while let Some(joined) = tasks.join_next().await {
            let (who, result) = joined.map_err(|e| Error::Storage(format!("a racer's task failed: {e}")))?;
            match result {
                Ok(_) => winner = Some(who),
                Err(Error::AlreadyTaken { .. }) => tally.races_lost += 1,
                Err(other) => return Err(other),
            }
        }
        Ok(winner)
    }

    async fn expire(&self, s: &mut Script, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        self.send(s, Actor::system(), TicketCommand::ExpireOffer { round: s.round }, tally).await?;
        self.after_failed_offer(s, now)
    }

    /// Offer again to a wider ring, or escalate when the rounds are used up.
    fn after_failed_offer(&self, s: &mut Script, now: Timestamp) -> Result<(), Error> {
        s.answers.clear();
        if s.round < OFFER_ROUNDS {
            s.next(Phase::Offer, now.plus(Millis::minutes(1)));
        } else {
            s.next(Phase::EscalateTimeout, now);
            s.wake = Some(now);
        }
        Ok(())
    }

    async fn escalate(
        &self,
        s: &mut Script,
        reason: EscalationReason,
        now: Timestamp,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        self.send(s, Actor::system(), TicketCommand::Escalate { reason, note: "期限已过".into() }, tally).await?;
        s.tier = s.tier.above().unwrap_or(Tier::District);
        s.holder = None;
        let wait = s.minutes(10, 40);
        s.next(Phase::Assign, now.plus(wait));
        Ok(())
    }

    /// The dispatcher of the ticket's tier assigns it: a department item (or
    /// anything past the community) to its department, the rest to the
    /// community's volunteer team.
    async fn assign(&self, s: &mut Script, item: &CatalogItem, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let team = self.district.team_for(&s.order.grid).map(|t| t.id.clone());
        let to = match team {
            Some(team) if item.dispatchable_to_grid() && s.tier <= Tier::Community => Assignee::Team(team),
            _ => Assignee::Department(item.department.clone()),
        };
        if s.holder.as_ref() != Some(&to) {
            self.send(
                s,
                dispatcher(&s.order.grid, s.tier),
                TicketCommand::Assign { to: to.clone(), reason: "按类别派单".into() },
                tally,
            )
            .await?;
        }
        s.holder = Some(to);
        self.schedule_resolution(s, now);
        Ok(())
    }

    async fn start(&self, s: &mut Script, now: Timestamp, tally: &mut Tally) -> Result<(), Error> {
        let holder = s.holder.clone().expect("started tickets are held");
        self.send(s, speaker(&holder, &s.order.grid, s.tier), TicketCommand::Start, tally).await?;
        self.schedule_resolution(s, now);
        Ok(())
    }

    /// Most resolutions come well inside the SLA; about one in eight runs
    /// late, and the deadline escalates it first.
    fn schedule_resolution(&self, s: &mut Script, now: Timestamp) {
        let window = s.resolve_by.since(now).0.max(STEP.0 * 4);
        let late = s.rng.chance(125) && s.tier < Tier::District;
        let at = if late {
            s.resolve_by.plus(Millis(window / 4 + STEP.0))
        } else {
            now.plus(Millis(window / 10 + s.rng.below(window * 7 / 10)))
        };
        if late {
            let resolve_by = s.resolve_by;
            s.next(Phase::EscalateTimeout, resolve_by);
        } else {
            s.next(Phase::Resolve, at);
        }
    }

    async fn resolve(
        &self,
        s: &mut Script,
        item: &CatalogItem,
        now: Timestamp,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        let holder = s.holder.clone().expect("resolved tickets are held");
        let minutes_spent = 20 + s.rng.below(220) as u32;
        self.send(
            s,
            speaker(&holder, &s.order.grid, s.tier),
            TicketCommand::Resolve { result: "已处理完毕".into(), minutes_spent },
            tally,
        )
        .await?;
        s.feedback_by = now.plus(item.sla.feedback_window);
        if s.rng.chance(700) {
            let latest = item.sla.feedback_window.0 * 8 / 10 / MINUTE_MS;
            let wait = s.minutes(30, latest.max(31));
            s.next(Phase::Feedback, now.plus(wait));
        } else {
            let at = s.feedback_by;
            s.next(Phase::CloseWithoutFeedback, at);
        }
        Ok(())
    }

    async fn feedback(
        &self,
        s: &mut Script,
        item: &CatalogItem,
        now: Timestamp,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        let roll = s.rng.below(100);
        let rating = match roll {
            _ if s.reopened => Rating::Satisfied,
            0..80 => Rating::Satisfied,
            80..94 => Rating::BasicallySatisfied,
            _ => Rating::Unsatisfied,
        };
        self.send(s, resident(s), TicketCommand::GiveFeedback { rating, comment: String::new() }, tally).await?;
        if rating == Rating::Unsatisfied {
            s.reopened = true;
            s.resolve_by = now.plus(item.sla.resolve_within);
            let wait = s.minutes(20, 90);
            s.next(Phase::Assign, now.plus(wait));
            s.holder = None;
        } else {
            let wait = s.minutes(30, 240);
            s.next(Phase::Close, now.plus(wait));
        }
        Ok(())
    }
}

fn resident(s: &Script) -> Actor {
    Actor {
        role: Role::Resident,
        id: gridloop_engine::ids::ActorId::new(s.order.resident.as_str()).expect("resident ids are actor ids"),
    }
}

fn volunteer(id: &VolunteerId) -> Actor {
    Actor::new(Role::Volunteer, id.as_str()).expect("volunteer ids are actor ids")
}

/// The dispatcher of the station at `tier` above `grid`.
fn dispatcher(grid: &GridCode, tier: Tier) -> Actor {
    let level = match tier {
        Tier::Grid | Tier::Community => Level::Community,
        Tier::Street => Level::Street,
        Tier::District => Level::District,
    };
    let place = grid.at_level(level).expect("grids are below every level");
    Actor::new(Role::Dispatcher, &format!("d-{place}")).expect("valid actor id")
}

/// Who reports for a holder: the volunteer, the department, the grid worker;
/// for a team, the dispatcher who assigned it.
fn speaker(holder: &Assignee, grid: &GridCode, tier: Tier) -> Actor {
    match holder {
        Assignee::Volunteer(v) => volunteer(v),
        Assignee::Department(d) => Actor::new(Role::Department, d.as_str()).expect("valid"),
        Assignee::GridWorker(w) => Actor { role: Role::GridWorker, id: w.clone() },
        Assignee::Team(_) => dispatcher(grid, tier),
    }
}
