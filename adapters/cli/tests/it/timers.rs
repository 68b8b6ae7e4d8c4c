//! The timer task, started on a store with a ticket, fires the escalation
//! once the (manual) clock passes the accept deadline, and stops when told.

use std::sync::Arc;
use std::time::Duration;

use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, ResidentId, TicketId};
use gridloop_engine::service::{Command, CommandService, Envelope, ManualClock};
use gridloop_engine::store::MemoryStore;
use gridloop_engine::ticket::{Channel, Status, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_task_fires_when_the_clock_passes_a_deadline() {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-02T01:00:00Z").expect("valid")));
    let service = Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock.clone(), 1));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(gridloop_cli::timers::run(service.clone(), stopped));
    let submit = Envelope {
        command_id: CommandId::new("submit-1").expect("valid"),
        correlation_id: None,
        actor: Actor::new(Role::Resident, "r-1").expect("valid"),
        command: Command::Ticket {
            id: TicketId::from_number(1),
            command: TicketCommand::Submit {
                item: "CS-001".parse().expect("valid"),
                grid: gridloop_engine::grid::GridCode::parse("440802-001-001-001").expect("valid"),
                resident: ResidentId::new("r-1").expect("valid"),
                description: "老人需要探访".into(),
                urgency: Urgency::Normal,
                channel: Channel::Phone,
                location: None,
            },
        },
        expected_version: None,
    };
    service.execute(submit).await.expect("submits");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(service.ticket(&TicketId::from_number(1)).await.expect("loads").status, Status::Submitted);
    clock.advance(Millis::days(2));
    let mut status = Status::Submitted;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = service.ticket(&TicketId::from_number(1)).await.expect("loads").status;
        if status == Status::Escalated {
            break;
        }
    }
    assert_eq!(status, Status::Escalated, "the accept deadline passed; the timer escalated it");
    stop.send(true).expect("stops");
    let fired =
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("it stops").expect("joins").expect("runs");
    assert!(fired.written >= 1);
}
