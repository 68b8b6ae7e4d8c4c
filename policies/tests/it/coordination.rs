//! 巡办协同 across streams: a parent handled in part, its child resolved,
//! the coordination policy relays the child's settling and the parent's
//! own `decide` resolves it; the policy running again writes nothing.

use std::sync::Arc;

use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, TicketId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Found, Status, TicketCommand};
use gridloop_engine::time::Timestamp;
use gridloop_policies::coordination::Coordination;

const GRID: &str = "440802-001-001-001";
const WORKER: &str = "gw-440802-001-001-001";

async fn send<S: EventStore>(service: &CommandService<S>, key: &str, id: u64, command: TicketCommand) {
    let envelope = CommandEnvelope {
        command_id: CommandId::new(key).expect("key"),
        correlation_id: None,
        actor: Actor::new(Role::GridWorker, WORKER).expect("actor"),
        command: Command::Ticket { id: TicketId::from_number(id), command },
        expected_version: None,
    };
    service.execute(envelope).await.unwrap_or_else(|e| panic!("{key}: {e}"));
}

fn found(what: &str) -> TicketCommand {
    TicketCommand::Report(Found {
        item: "GP-001".parse().expect("item"),
        grid: gridloop_engine::grid::GridCode::parse(GRID).expect("grid"),
        description: what.into(),
        location: None,
        photos: vec![],
    })
}

async fn catch_up<S: EventStore>(policy: &mut Coordination, service: &CommandService<S>) -> u64 {
    let mut scan = service.store().scan(policy.next_position());
    while let Some(batch) = scan.next_batch().await.expect("scan") {
        batch.iter().for_each(|e| policy.fold(e).expect("folds"));
    }
    policy.relay(service).await.expect("relays")
}

#[tokio::test]
async fn the_parent_resolves_when_its_child_has_and_a_second_run_writes_nothing() {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-02T01:00:00Z").expect("valid")));
    let service = CommandService::new(MemoryStore::new(), district.world.clone(), clock, 1);
    send(&service, "found-1", 1, found("楼道堆物, 二楼需城管清运")).await;
    send(&service, "found-2", 2, found("二楼大件杂物清运")).await;
    let coordinate = TicketCommand::Coordinate {
        done: "已清理一楼".into(),
        minutes_spent: 10,
        photos: vec![],
        children: vec![TicketId::from_number(2)],
    };
    send(&service, "coordinate-1", 1, coordinate).await;
    let mut policy = Coordination::default();
    assert_eq!(catch_up(&mut policy, &service).await, 0, "nothing settled yet");
    assert_eq!(service.ticket(&TicketId::from_number(1)).await.expect("T-1").status, Status::Accepted);

    send(&service, "take-2", 2, TicketCommand::SelfHandle).await;
    let resolve = TicketCommand::Resolve { result: "已清运".into(), minutes_spent: 30, photos: vec![] };
    send(&service, "resolve-2", 2, resolve).await;
    assert_eq!(catch_up(&mut policy, &service).await, 1, "the child's settling is relayed once");
    let parent = service.ticket(&TicketId::from_number(1)).await.expect("T-1");
    assert_eq!(parent.status, Status::Resolved);
    assert_eq!(parent.result.as_deref(), Some("已清理一楼"));

    // A policy starting over (a restart) relays again under the same id.
    let mut again = Coordination::default();
    assert_eq!(catch_up(&mut again, &service).await, 0, "a restart writes nothing twice");
}
