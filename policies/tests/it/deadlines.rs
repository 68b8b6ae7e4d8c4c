//! The deadline index and its timers, driven by a manual clock through the
//! real command service: each kind of deadline fires its command, a timer
//! that fires twice or late writes nothing, and a restart fires what fell
//! due while the process was down.

use std::sync::Arc;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, ResidentId, TicketId};
use gridloop_engine::service::{Clock, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Channel, CloseReason, DeadlineKind, Status, TicketCommand, TicketEvent, Tier, Urgency};
use gridloop_engine::time::Millis;
use gridloop_policies::deadlines::DeadlineIndex;
use gridloop_projections::runner::Runner;

use crate::support::*;

struct Rig {
    service: CommandService<MemoryStore>,
    clock: Arc<ManualClock>,
    index: Runner<DeadlineIndex>,
    sent: u64,
}

impl Rig {
    fn new() -> Self {
        let district = gridloop_fixtures::chikan(1).expect("fixture");
        let clock = Arc::new(ManualClock::new(t("2026-11-02T01:00:00Z")));
        let service = CommandService::new(MemoryStore::new(), district.world.clone(), clock.clone(), 1);
        Self { service, clock, index: Runner::fresh(), sent: 0 }
    }

    async fn send(&mut self, actor: Actor, n: u64, command: TicketCommand) {
        let named = match &command {
            TicketCommand::Offer { candidates, .. } => candidates.clone(),
            TicketCommand::Assign { to, .. } => vec![to.clone()],
            _ => vec![],
        };
        for candidate in &named {
            self.register(candidate).await;
        }
        self.sent += 1;
        let envelope = CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("c{}", self.sent)).expect("valid"),
            correlation_id: None,
            actor,
            command: Command::Ticket { id: TicketId::from_number(n), command },
        };
        self.service.execute(envelope).await.expect("accepted");
    }

    /// Registers a volunteer candidate (once): an offer names only
    /// volunteers who exist.
    async fn register(&self, candidate: &gridloop_engine::ticket::Assignee) {
        let gridloop_engine::ticket::Assignee::Volunteer(id) = candidate else { return };
        let command = gridloop_engine::volunteer::VolunteerCommand::Register {
            team: gridloop_engine::ids::TeamId::from_number(1),
            home_grid: grid(GRID_A),
            skills: Default::default(),
            open_orders_max: 3,
        };
        let envelope = CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("register-{id}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher(),
            command: Command::Volunteer { id: id.clone(), command },
        };
        self.service.execute(envelope).await.expect("registered");
    }

    async fn submit(&mut self, n: u64, item: &str) {
        let command = TicketCommand::Submit {
            photos: vec![],
            item: item.parse().expect("valid"),
            grid: grid(GRID_A),
            resident: ResidentId::new(format!("r-{n}")).expect("valid"),
            description: "楼道灯坏了".into(),
            urgency: Urgency::Normal,
            channel: Channel::Web,
            location: None,
        };
        self.send(Actor::new(Role::Resident, &format!("r-{n}")).expect("valid"), n, command).await;
    }

    async fn tick(&mut self, by: Millis) -> gridloop_policies::deadlines::Fired {
        self.clock.advance(by);
        self.index.catch_up(self.service.store(), None, |_| {}).await.expect("catches up");
        self.index.state().fire(&self.service, self.clock.now()).await.expect("fires")
    }

    async fn ticket(&self, n: u64) -> gridloop_engine::ticket::Ticket {
        self.service.ticket(&TicketId::from_number(n)).await.expect("loads")
    }
}

fn dispatcher() -> Actor {
    Actor::new(Role::Dispatcher, "d-1").expect("valid")
}

#[tokio::test]
async fn an_unanswered_offer_expires_then_the_ticket_climbs_the_ladder() {
    let mut rig = Rig::new();
    rig.submit(1, "CS-001").await;
    rig.send(dispatcher(), 1, TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None }).await;
    let expires_at = rig.clock.now().plus(Millis::minutes(30));
    rig.send(dispatcher(), 1, TicketCommand::Offer { candidates: vec![vol(1), vol(2)], expires_at }).await;
    assert_eq!(rig.tick(Millis::minutes(29)).await.written, 0, "nothing is due yet");
    assert_eq!(rig.tick(Millis::minutes(1)).await.written, 1, "the offer expires at its deadline");
    assert_eq!(rig.ticket(1).await.status, Status::Triaged);
    let accept_by = rig.ticket(1).await.accept_by.expect("deadline");
    // Step through the accept deadline, then each tier's response deadline.
    let mut tiers = vec![];
    for _ in 0..6 {
        rig.tick(accept_by.since(rig.clock.now()).max(Millis::hours(9))).await;
        tiers.push(rig.ticket(1).await.tier.expect("tier"));
    }
    assert_eq!(tiers[..3], [Tier::Community, Tier::Street, Tier::District]);
    assert!(tiers[3..].iter().all(|t| *t == Tier::District), "the ladder ends at the district: {tiers:?}");
    let escalations = rig.ticket(1).await.escalations;
    assert_eq!(escalations, 3);
}

#[tokio::test]
async fn a_timer_firing_twice_or_late_writes_nothing() {
    let mut rig = Rig::new();
    rig.submit(1, "CS-001").await;
    rig.send(dispatcher(), 1, TicketCommand::Triage { mode: HandlingMode::Volunteer, item: None }).await;
    let expires_at = rig.clock.now().plus(Millis::minutes(30));
    rig.send(dispatcher(), 1, TicketCommand::Offer { candidates: vec![vol(1)], expires_at }).await;
    rig.clock.advance(Millis::minutes(31));
    rig.index.catch_up(rig.service.store(), None, |_| {}).await.expect("catches up");
    let due = rig.index.state().due(rig.clock.now());
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, DeadlineKind::OfferExpiry);
    let first = rig.index.state().fire(&rig.service, rig.clock.now()).await.expect("fires");
    let before = rig.service.store().snapshot().len();
    // The same (now stale) index fires again: same command id, old version.
    let second = rig.index.state().fire(&rig.service, rig.clock.now()).await.expect("fires again");
    assert_eq!((first.written, second.written, second.stale), (1, 0, 1));
    assert_eq!(rig.service.store().snapshot().len(), before, "nothing new was written");
    // A volunteer accepts late: the ticket moved on, so the old timer stays quiet.
    let expired = rig.ticket(1).await;
    assert_eq!(expired.status, Status::Triaged);
}

#[tokio::test]
async fn the_feedback_window_closes_a_resolved_ticket_without_feedback() {
    let mut rig = Rig::new();
    rig.submit(1, "CS-001").await;
    rig.send(dispatcher(), 1, TicketCommand::Assign { to: vol(1), reason: "直接派单".into() }).await;
    let volunteer = Actor::new(Role::Volunteer, "V-1").expect("valid");
    rig.send(volunteer, 1, TicketCommand::Resolve { photos: vec![], result: "已处理".into(), minutes_spent: 40 }).await;
    let feedback_by = rig.ticket(1).await.feedback_by.expect("window");
    rig.tick(feedback_by.since(rig.clock.now())).await;
    let closed = rig.ticket(1).await;
    assert_eq!(closed.status, Status::Closed);
    let log = rig.service.store().snapshot();
    let last: TicketEvent = log.last().expect("events").decode().expect("decodes");
    assert_eq!(last, TicketEvent::Closed { reason: CloseReason::NoFeedback });
}

#[tokio::test]
async fn a_restart_rebuilds_the_index_and_fires_what_fell_due_while_down() {
    let mut rig = Rig::new();
    for n in 1..=5 {
        rig.submit(n, "CS-001").await;
    }
    // The process is "down" for two days: nobody catches up or fires.
    rig.clock.advance(Millis::days(2));
    let mut rebuilt = Runner::<DeadlineIndex>::fresh();
    rebuilt.catch_up(rig.service.store(), None, |_| {}).await.expect("rebuilds");
    assert_eq!(rebuilt.state().due(rig.clock.now()).len(), 5, "every accept deadline passed while down");
    let fired = rebuilt.state().fire(&rig.service, rig.clock.now()).await.expect("fires");
    assert_eq!(fired.written, 5);
    for n in 1..=5 {
        assert_eq!(rig.ticket(n).await.status, Status::Escalated);
    }
}

#[tokio::test]
async fn final_tickets_leave_the_index() {
    let mut rig = Rig::new();
    rig.submit(1, "CS-001").await;
    let resident = Actor::new(Role::Resident, "r-1").expect("valid");
    rig.send(resident, 1, TicketCommand::Cancel { reason: "不需要了".into() }).await;
    rig.index.catch_up(rig.service.store(), None, |_| {}).await.expect("catches up");
    assert_eq!((rig.index.state().pending_len(), rig.index.state().next_at()), (0, None));
    let events = rig.service.store().read_all(1, 100).await.expect("read").len();
    assert_eq!(events, 2);
}

#[tokio::test]
async fn a_summoned_department_that_does_not_report_sends_the_ticket_up_again() {
    let mut rig = Rig::new();
    rig.submit(1, "SC-005").await;
    for note in ["社区吹哨", "街道吹哨"] {
        let whistle =
            TicketCommand::Escalate { reason: gridloop_engine::ticket::EscalationReason::Whistle, note: note.into() };
        rig.send(dispatcher(), 1, whistle).await;
    }
    assert_eq!(rig.ticket(1).await.tier, Some(Tier::Street));
    let departments = vec!["urban_management".parse().expect("valid"), "water_affairs".parse().expect("valid")];
    rig.send(dispatcher(), 1, TicketCommand::Summon { departments }).await;
    let water = Actor::new(Role::Department, "water_affairs").expect("valid");
    rig.send(water, 1, TicketCommand::ReportToSummons { report: "已到场".into() }).await;
    // The street's own response deadline is 4 hours; keep the ticket busy by
    // assigning it, so that only the summons deadline is left to miss.
    let assign = TicketCommand::Assign { to: dept("street_office"), reason: "街道派单".into() };
    rig.send(dispatcher(), 1, assign).await;
    rig.tick(Millis::hours(23)).await;
    assert_eq!(rig.ticket(1).await.tier, Some(Tier::Street), "the report is not due yet");
    rig.tick(Millis::hours(2)).await;
    let ticket = rig.ticket(1).await;
    assert_eq!(
        (ticket.tier, ticket.status),
        (Some(Tier::District), Status::Escalated),
        "urban management never reported"
    );
    assert!(ticket.summons.is_empty());
}
