//! The timer task and the dispatcher policy task, each started on a store:
//! the timers fire the escalation once the (manual) clock passes the accept
//! deadline, and stop when told; both wait out a store that fails for a
//! while, and both stop with an error naming the event on a log that does
//! not decode.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, NewEvent, RecordedEvent, Role, Schema};
use gridloop_engine::ids::{CommandId, CorrelationId, ResidentId, StreamId, TicketId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{AppendResult, EventStore, ExpectedVersion, MemoryStore};
use gridloop_engine::ticket::{Channel, Status, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};

/// The longest a test waits for a task to do what it should; a bound, not
/// a measurement.
const BOUND: Duration = Duration::from_secs(10);

fn service_on<S: EventStore>(store: S) -> (Arc<CommandService<S>>, Arc<ManualClock>) {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-02T01:00:00Z").expect("valid")));
    (Arc::new(CommandService::new(store, district.world.clone(), clock.clone(), 1)), clock)
}

/// Submits ticket `T-1`, an order for a volunteer item.
async fn submit<S: EventStore>(service: &CommandService<S>) {
    let submit = CommandEnvelope {
        command_id: CommandId::new("submit-1").expect("valid"),
        correlation_id: None,
        actor: Actor::new(Role::Resident, "r-1").expect("valid"),
        command: Command::Ticket {
            id: TicketId::from_number(1),
            command: TicketCommand::Submit {
                photos: vec![],
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
}

/// Polls T-1's status every 100 ms until `done` says so or [`BOUND`] passes.
async fn status_until<S: EventStore>(service: &CommandService<S>, done: impl Fn(Status) -> bool) -> Status {
    let mut status = Status::Submitted;
    for _ in 0..BOUND.as_millis() / 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = service.ticket(&TicketId::from_number(1)).await.expect("loads").status;
        if done(status) {
            break;
        }
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_task_fires_when_the_clock_passes_a_deadline() {
    let (service, clock) = service_on(MemoryStore::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(gridloop_policies::timers::run(service.clone(), stopped));
    submit(&service).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(service.ticket(&TicketId::from_number(1)).await.expect("loads").status, Status::Submitted);
    clock.advance(Millis::days(2));
    let status = status_until(&service, |s| s == Status::Escalated).await;
    assert_eq!(status, Status::Escalated, "the accept deadline passed; the timer escalated it");
    stop.send(true).expect("stops");
    let fired = tokio::time::timeout(BOUND, task).await.expect("it stops").expect("joins").expect("runs");
    assert!(fired.written >= 1);
}

/// A store holding, at position 1, a `ticket.submitted/1` event whose
/// payload is not a submission: what a damaged or foreign log looks like.
async fn a_log_that_does_not_decode() -> MemoryStore {
    let store = MemoryStore::new();
    let at = Timestamp::parse("2026-11-02T00:00:00Z").expect("valid");
    let garbage = NewEvent {
        event_id: SplitMix64::new(1).uuid_v7(at.as_millis()),
        occurred_at: at,
        actor: Actor::system(),
        command_id: CommandId::new("garbage-1").expect("valid"),
        correlation_id: CorrelationId::new("garbage").expect("valid"),
        schema: Schema::parse("ticket.submitted/1").expect("valid"),
        payload: serde_json::json!({ "not": "a submission" }),
    };
    let stream = StreamId::ticket(&TicketId::from_number(1));
    store.append(&stream, ExpectedVersion::NoStream, vec![garbage]).await.expect("the store takes any payload");
    store
}

/// The error a task stopped with names the corruption, the event and its
/// place in the log.
fn assert_names_the_corrupt_event(error: &Error, task: &str) {
    let message = error.to_string();
    assert_eq!(error.code(), "corrupt_log", "{task}: {message}");
    for part in ["ticket-T-1 v1 at position 1", "ticket.submitted/1", "does not decode"] {
        assert!(message.contains(part), "{task}: {message:?} should name {part:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_task_stops_on_a_log_that_does_not_decode() {
    let (service, _) = service_on(a_log_that_does_not_decode().await);
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let ended = tokio::time::timeout(BOUND, gridloop_policies::timers::run(service, stopped)).await;
    let error = ended.expect("it stops by itself").expect_err("with an error");
    assert_names_the_corrupt_event(&error, "timers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_policy_stops_on_a_log_that_does_not_decode() {
    let (service, _) = service_on(a_log_that_does_not_decode().await);
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let ended = tokio::time::timeout(BOUND, gridloop_policies::autodispatch::run(service, stopped)).await;
    let error = ended.expect("it stops by itself").expect_err("with an error");
    assert_names_the_corrupt_event(&error, "dispatcher policy");
}

/// A [`MemoryStore`] whose whole-log reads fail with a storage error while
/// `down` is set, as a NATS server restarting would; stream reads and
/// appends still work, so commands can be sent meanwhile.
#[derive(Clone, Debug, Default)]
struct Outage {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
    failed_reads: Arc<AtomicU64>,
}

impl EventStore for Outage {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<RecordedEvent>, Error> {
        self.inner.read_stream(stream, from_version).await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if self.down.load(Ordering::SeqCst) {
            self.failed_reads.fetch_add(1, Ordering::SeqCst);
            return Err(Error::Storage("injected: the server is restarting".into()));
        }
        self.inner.read_all(from_position, max).await
    }

    async fn wait_for(&self, position: u64) -> Result<(), Error> {
        self.inner.wait_for(position).await
    }
}

/// Keeps the store down for a second under a running task, doing `meanwhile`
/// first, and checks that the task met the outage and was still running
/// when the store came back.
async fn outage_under<T>(store: &Outage, task: &tokio::task::JoinHandle<T>, name: &str, meanwhile: impl Future) {
    store.down.store(true, Ordering::SeqCst);
    meanwhile.await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(store.failed_reads.load(Ordering::SeqCst) >= 2, "{name}: the outage was met, more than once");
    assert!(!task.is_finished(), "{name}: a failing store does not stop the task");
    store.down.store(false, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_task_waits_out_a_failing_store() {
    let store = Outage::default();
    let (service, clock) = service_on(store.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(gridloop_policies::timers::run(service.clone(), stopped));
    // The order comes in and its accept deadline passes while the log cannot be read.
    let meanwhile = async {
        submit(&service).await;
        clock.advance(Millis::days(2));
    };
    outage_under(&store, &task, "timers", meanwhile).await;
    let status = status_until(&service, |s| s == Status::Escalated).await;
    assert_eq!(status, Status::Escalated, "what fell due during the outage fires when the store is back");
    stop.send(true).expect("stops");
    let fired = tokio::time::timeout(BOUND, task).await.expect("it stops").expect("joins").expect("runs");
    assert!(fired.written >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_policy_waits_out_a_failing_store() {
    let store = Outage::default();
    let (service, _) = service_on(store.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(gridloop_policies::autodispatch::run(service.clone(), stopped));
    outage_under(&store, &task, "dispatcher policy", submit(&service)).await;
    let status = status_until(&service, |s| s != Status::Submitted).await;
    assert_ne!(status, Status::Submitted, "the order that came in during the outage is dispatched after it");
    stop.send(true).expect("stops");
    let written = tokio::time::timeout(BOUND, task).await.expect("it stops").expect("joins").expect("runs");
    assert!(written >= 1);
}
