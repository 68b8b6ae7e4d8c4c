//! The points policy awards once per closed ticket a volunteer resolved,
//! whatever replays or redeliveries happen.

use std::sync::Arc;

use gridloop_engine::envelope::Actor;
use gridloop_engine::ids::{CommandId, TeamId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{CloseReason, Rating, TicketEvent};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_policies::points::PointsPolicy;

use crate::support::*;

/// Ticket 1 (CS-001) resolved by volunteer 1 and closed; ticket 2 resolved
/// by a department and closed; ticket 3 resolved by volunteer 1, not closed.
fn history() -> Log {
    let mut log = Log::default();
    for n in 1..=3 {
        log.submit(n, "2026-11-02T00:00:00Z", GRID_A, "CS-001", "2026-11-02T03:00:00Z", "2026-11-04T00:00:00Z");
    }
    log.ticket(1, "2026-11-02T01:00:00Z", accepted(vol(1)))
        .ticket(1, "2026-11-02T02:00:00Z", resolved(vol(1), 60, "2026-11-05T00:00:00Z"))
        .ticket(1, "2026-11-02T03:00:00Z", rated(Rating::Satisfied))
        .ticket(1, "2026-11-02T04:00:00Z", TicketEvent::Closed { reason: CloseReason::Confirmed });
    log.ticket(2, "2026-11-02T01:00:00Z", TicketEvent::Reassigned { to: dept("civil_affairs"), reason: "派单".into() })
        .ticket(2, "2026-11-02T02:00:00Z", resolved(dept("civil_affairs"), 60, "2026-11-05T00:00:00Z"))
        .ticket(2, "2026-11-05T00:00:00Z", TicketEvent::Closed { reason: CloseReason::NoFeedback });
    log.ticket(3, "2026-11-02T01:00:00Z", accepted(vol(1))).ticket(
        3,
        "2026-11-02T02:00:00Z",
        resolved(vol(1), 60, "2026-11-05T00:00:00Z"),
    );
    log
}

#[test]
fn reacts_to_a_volunteer_resolved_closed_ticket_only() {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let mut policy = PointsPolicy::default();
    let commands: Vec<CommandEnvelope> =
        history().events.iter().filter_map(|e| policy.react(e, &district.world.catalog).expect("reacts")).collect();
    assert_eq!(commands.len(), 1);
    let award = &commands[0];
    assert_eq!(award.command_id.as_str(), "award-ticket-T-1-v5", "derived from the Closed event");
    let points = district.world.catalog.item(&"CS-001".parse().expect("valid")).expect("item").points;
    match &award.command {
        Command::Volunteer { id, command: VolunteerCommand::AwardPoints { points: p, ticket, .. } } => {
            assert_eq!(
                (id, *p, ticket),
                (&VolunteerId::from_number(1), u64::from(points), &Some(TicketId::from_number(1)))
            );
        }
        other => panic!("unexpected command {other:?}"),
    }
}

#[tokio::test]
async fn awarding_twice_writes_once() {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let store = MemoryStore::new();
    let clock = Arc::new(ManualClock::new(t("2026-11-06T00:00:00Z")));
    let service = CommandService::new(store.clone(), district.world.clone(), clock, 1);
    let register = CommandEnvelope {
        expected_version: None,
        command_id: CommandId::new("register-1").expect("valid"),
        correlation_id: None,
        actor: gridloop_engine::envelope::Actor::new(gridloop_engine::envelope::Role::Dispatcher, "d-1")
            .expect("valid"),
        command: Command::Volunteer {
            id: VolunteerId::from_number(1),
            command: VolunteerCommand::Register {
                team: TeamId::from_number(1),
                home_grid: grid(GRID_A),
                skills: Default::default(),
                open_orders_max: 3,
            },
        },
    };
    service.execute(register).await.expect("registers");
    for event in history().events {
        let stream = event.stream.clone();
        let version = event.version;
        let expected = if version == 1 {
            gridloop_engine::store::ExpectedVersion::NoStream
        } else {
            gridloop_engine::store::ExpectedVersion::Exact(version - 1)
        };
        let new = gridloop_engine::envelope::NewEvent {
            event_id: event.event_id,
            occurred_at: event.occurred_at,
            actor: Actor::system(),
            command_id: CommandId::new(format!("{stream}-{version}")).expect("valid"),
            correlation_id: event.correlation_id.clone(),
            schema: event.schema.clone(),
            payload: event.payload.clone(),
        };
        store.append(&stream, expected, vec![new]).await.expect("appends");
    }
    assert_eq!(PointsPolicy::default().catch_up(&service).await.expect("first pass"), 1);
    assert_eq!(PointsPolicy::default().catch_up(&service).await.expect("a replay"), 0, "a replay awards nothing new");
    let volunteer = service.volunteer(&VolunteerId::from_number(1)).await.expect("volunteer");
    let points = district.world.catalog.item(&"CS-001".parse().expect("valid")).expect("item").points;
    assert_eq!(volunteer.points_balance, u64::from(points));
}
