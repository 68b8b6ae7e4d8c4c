//! A log builder for hand-made histories, and a random history generator
//! that drives the real command service.

use std::collections::BTreeMap;
use std::sync::Arc;

use gridloop_engine::envelope::{Actor, EventPayload, Hash, NewEvent, RecordedEvent, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, CorrelationId, ItemCode, ResidentId, StreamId, TeamId, TicketId, VolunteerId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Clock, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Assignee, Channel, Rating, TicketCommand, TicketEvent, Tier, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::world::TeamKind;
use gridloop_fixtures::District;
use gridloop_projections::runner::Projection;

pub fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

pub fn grid(code: &str) -> GridCode {
    GridCode::parse(code).expect("valid grid code")
}

/// Two grids in one community of street 001, one in street 002.
pub const GRID_A: &str = "440802-001-001-001";
pub const GRID_B: &str = "440802-001-001-002";
pub const GRID_C: &str = "440802-002-001-001";

pub fn vol(n: u64) -> Assignee {
    Assignee::Volunteer(VolunteerId::from_number(n))
}

pub fn dept(code: &str) -> Assignee {
    Assignee::Department(code.parse().expect("valid department"))
}

pub fn team(n: u64) -> Assignee {
    Assignee::Team(TeamId::from_number(n))
}

/// Builds a log event by event, numbering versions and positions and
/// chaining hashes as a store would.
#[derive(Default)]
pub struct Log {
    pub events: Vec<RecordedEvent>,
    heads: BTreeMap<StreamId, (u64, Hash)>,
}

impl Log {
    pub fn push<E: EventPayload>(&mut self, stream: StreamId, at: &str, event: E) -> &mut Self {
        let (version, prev) = self.heads.get(&stream).copied().unwrap_or((0, Hash::GENESIS));
        let position = self.events.len() as u64 + 1;
        let new = NewEvent {
            event_id: SplitMix64::new(position).uuid_v7(t(at).as_millis()),
            occurred_at: t(at),
            actor: Actor::system(),
            command_id: CommandId::new(format!("c-{position}")).expect("valid"),
            correlation_id: CorrelationId::new(stream.id()).expect("valid"),
            schema: event.schema(),
            payload: event.encode(),
        };
        let recorded = new.record(stream.clone(), version + 1, position, prev);
        self.heads.insert(stream, (version + 1, recorded.hash));
        self.events.push(recorded);
        self
    }

    /// Puts `item` in the catalog (or revises it) under `category`, as a
    /// world import would.
    pub fn item(&mut self, at: &str, item: &str, category: &str, revised: bool) -> &mut Self {
        use gridloop_engine::catalog::{CatalogItem, HandlingMode, Sla};
        let item = CatalogItem {
            code: ItemCode::new(item).expect("valid item code"),
            name: item.to_string(),
            name_en: item.to_string(),
            category: gridloop_engine::ids::CategoryCode::new(category).expect("valid category"),
            mode: HandlingMode::Volunteer,
            department: "civil_affairs".parse().expect("valid department"),
            skills: vec!["elderly_care".parse().expect("valid skill")],
            sla: Sla {
                accept_within: Millis::hours(2),
                resolve_within: Millis::days(2),
                feedback_window: Millis::days(3),
                accept_working_days: None,
                resolve_working_days: None,
            },
            points: 5,
            admitted: true,
            emergency: false,
        };
        let event = match revised {
            false => gridloop_engine::world::WorldEvent::ItemProposed { item },
            true => gridloop_engine::world::WorldEvent::ItemRevised { item },
        };
        self.push(StreamId::world(), at, event)
    }

    /// Forms team `TM-n` (or revises it) as a team of `kind` serving
    /// `GRID_A`'s community, as a world import would.
    pub fn team(&mut self, at: &str, n: u64, kind: TeamKind, revised: bool) -> &mut Self {
        use gridloop_engine::world::{Team, WorldEvent};
        let team = Team {
            id: TeamId::from_number(n),
            name: format!("队{n}"),
            name_en: format!("team {n}"),
            kind,
            scope: grid("440802-001-001"),
            linked: vec![],
        };
        let event = match revised {
            false => WorldEvent::TeamFormed { team },
            true => WorldEvent::TeamRevised { team },
        };
        self.push(StreamId::world(), at, event)
    }

    /// Registers volunteer `V-n` in team `TM-team`.
    pub fn member(&mut self, at: &str, n: u64, team: u64) -> &mut Self {
        let event = gridloop_engine::volunteer::VolunteerEvent::Registered {
            volunteer: VolunteerId::from_number(n),
            team: TeamId::from_number(team),
            home_grid: grid(GRID_A),
            skills: Default::default(),
            open_orders_max: 3,
        };
        self.push(StreamId::volunteer(&VolunteerId::from_number(n)), at, event)
    }

    pub fn ticket(&mut self, n: u64, at: &str, event: TicketEvent) -> &mut Self {
        self.push(StreamId::ticket(&TicketId::from_number(n)), at, event)
    }

    /// Submits ticket `n` in `grid` for `item`, with its deadlines.
    pub fn submit(
        &mut self,
        n: u64,
        at: &str,
        grid_code: &str,
        item: &str,
        accept_by: &str,
        resolve_by: &str,
    ) -> &mut Self {
        self.ticket(
            n,
            at,
            TicketEvent::Submitted {
                photos: vec![],
                ticket: TicketId::from_number(n),
                item: ItemCode::new(item).expect("valid item"),
                grid: grid(grid_code),
                resident: Some(ResidentId::new(format!("r-{n}")).expect("valid")),
                description: "楼道灯坏了".into(),
                urgency: Urgency::Normal,
                channel: Channel::QrCode,
                location: None,
                tier: Tier::Grid,
                accept_by: t(accept_by),
                resolve_by: t(resolve_by),
            },
        )
    }

    pub fn fold<P: Projection>(&self) -> P {
        // Folded in place, not cloned through serde: a board's final
        // tickets are in its cold store, which no snapshot carries.
        let mut state = P::default();
        for event in &self.events {
            state.evolve(event).expect("applies");
        }
        state
    }
}

pub fn accepted(by: Assignee) -> TicketEvent {
    TicketEvent::Accepted { by, round: 1 }
}

pub fn resolved(by: Assignee, minutes: u32, feedback_by: &str) -> TicketEvent {
    TicketEvent::Resolved {
        photos: vec![],
        by,
        result: "已处理".into(),
        minutes_spent: minutes,
        feedback_by: t(feedback_by),
    }
}

pub fn rated(rating: Rating) -> TicketEvent {
    TicketEvent::FeedbackGiven { rating, comment: String::new() }
}

/// A random history over the fixture district: `steps` commands from a
/// menu, sent through the real command service to random tickets at random
/// times; refusals are part of the game and write nothing.
pub async fn random_history(seed: u64, steps: u32) -> MemoryStore {
    let district: Arc<District> = Arc::new(gridloop_fixtures::chikan(1).expect("fixture"));
    let store = MemoryStore::new();
    let start = t("2026-11-02T00:00:00Z");
    let clock = Arc::new(ManualClock::new(start));
    let service = CommandService::new(store.clone(), district.world.clone(), clock.clone(), seed);
    let mut rng = SplitMix64::new(seed);
    let items: Vec<_> =
        district.world.catalog.items().filter(|i| i.dispatchable_to_grid()).map(|i| i.code.clone()).collect();
    let grids: Vec<_> =
        district.world.grids.at_level(gridloop_engine::grid::Level::Grid).map(|g| g.code.clone()).collect();
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").expect("valid");
    for v in 1..=3u64 {
        let register = CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("register-{v}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher.clone(),
            command: Command::Volunteer {
                id: VolunteerId::from_number(v),
                command: gridloop_engine::volunteer::VolunteerCommand::Register {
                    team: gridloop_engine::ids::TeamId::from_number(v % 2 + 1),
                    home_grid: grids[v as usize].clone(),
                    skills: Default::default(),
                    open_orders_max: 5,
                },
            },
        };
        service.execute(register).await.expect("registers");
    }
    let mut tickets = 0u64;
    for step in 0..steps {
        let span = if rng.chance(100) { 3_000 } else { 40 };
        clock.advance(Millis::minutes(1 + rng.below(span)));
        let pick = rng.below(16);
        let rare_end = matches!(pick, 10 | 11) && !rng.chance(200);
        if pick == 0 || tickets == 0 || rare_end {
            tickets += 1;
            let command = TicketCommand::Submit {
                photos: vec![],
                item: rng.pick(&items).clone(),
                grid: rng.pick(&grids).clone(),
                resident: ResidentId::new(format!("r-{tickets}")).expect("valid"),
                description: "随机".into(),
                urgency: Urgency::Normal,
                channel: Channel::Web,
                location: None,
            };
            send(&service, step, &dispatcher, tickets, command).await;
            continue;
        }
        // Mostly the newest few tickets, so that stories get told to the end.
        let ticket = if rng.chance(800) { tickets - rng.below(tickets.min(3)) } else { 1 + rng.below(tickets) };
        let v = if rng.chance(700) { ticket % 3 + 1 } else { 1 + rng.below(3) };
        let volunteer = Actor::new(Role::Volunteer, &format!("V-{v}")).expect("valid");
        let resident = Actor::new(Role::Resident, &format!("r-{ticket}")).expect("valid");
        let now = clock.now();
        let (actor, command) = match pick {
            1 => (
                &dispatcher,
                TicketCommand::Offer {
                    candidates: vec![vol(1), vol(2), vol(3)],
                    expires_at: now.plus(Millis::hours(2)),
                },
            ),
            2 | 3 => (&volunteer, TicketCommand::AcceptOffer { by: vol(v) }),
            4 => (&dispatcher, TicketCommand::Assign { to: vol(v), reason: "派单".into() }),
            5 => (
                &volunteer,
                TicketCommand::Resolve {
                    photos: vec![],
                    result: "好了".into(),
                    minutes_spent: 30 + rng.below(200) as u32,
                },
            ),
            6 => (&dispatcher, TicketCommand::Resolve { photos: vec![], result: "好了".into(), minutes_spent: 60 }),
            7 => (
                &resident,
                TicketCommand::GiveFeedback {
                    rating: *rng.pick(&[Rating::Satisfied, Rating::BasicallySatisfied, Rating::Unsatisfied]),
                    comment: String::new(),
                },
            ),
            8 => (&dispatcher, TicketCommand::Close),
            9 => (
                &dispatcher,
                TicketCommand::Escalate {
                    reason: gridloop_engine::ticket::EscalationReason::Whistle,
                    note: String::new(),
                },
            ),
            10 => (&resident, TicketCommand::Cancel { reason: "不需要了".into() }),
            11 => (&dispatcher, TicketCommand::MarkDuplicate { of: TicketId::from_number(1 + rng.below(tickets)) }),
            12 => (&Actor::system(), TicketCommand::ExpireOffer { round: 1 }),
            13 => (&volunteer, TicketCommand::AcceptOffer { by: vol(ticket % 3 + 1) }),
            14 => (&dispatcher, TicketCommand::Reopen { reason: "回访不满意".into() }),
            _ => (&volunteer, TicketCommand::Start),
        };
        send(&service, step, actor, ticket, command).await;
        if rng.chance(30) {
            let award = CommandEnvelope {
                expected_version: None,
                command_id: CommandId::new(format!("s{seed}-award-{step}")).expect("valid"),
                correlation_id: None,
                actor: Actor::system(),
                command: Command::Volunteer {
                    id: VolunteerId::from_number(v),
                    command: gridloop_engine::volunteer::VolunteerCommand::AwardPoints {
                        points: 5,
                        ticket: None,
                        reason: "奖励".into(),
                    },
                },
            };
            let _ = service.execute(award).await;
        }
    }
    store
}

async fn send(service: &CommandService<MemoryStore>, step: u32, actor: &Actor, ticket: u64, command: TicketCommand) {
    let envelope = CommandEnvelope {
        expected_version: None,
        command_id: CommandId::new(format!("step-{step}")).expect("valid"),
        correlation_id: None,
        actor: actor.clone(),
        command: Command::Ticket { id: TicketId::from_number(ticket), command },
    };
    // Refusals are part of a random history: they write nothing.
    let _ = service.execute(envelope).await;
}
