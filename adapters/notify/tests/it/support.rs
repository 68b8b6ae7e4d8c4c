//! The test harness: a district with one volunteer and one resident on the
//! embedded store, a real SMTP server, and a webhook receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, ResidentId, TicketId, VolunteerId};
use gridloop_engine::personal::{Person, PersonalStore};
use gridloop_engine::service::{Clock, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::ticket::{Assignee, Channel as OrderChannel, Rating, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_notify::mail::Mailer;
use gridloop_notify::outbox::Outbox;
use gridloop_notify::webhook::Webhook;
use gridloop_notify::{Config, Notifier, RetryPolicy};
use gridloop_store_sled::SledStore;
use serde_json::Value;

pub(crate) use crate::smtp::{Smtp, free_port};

/// The webhook's shared secret in the tests.
pub const SECRET: &[u8] = b"a-test-secret-of-32-bytes-length";
/// The resident every ticket is for.
pub const RESIDENT: &str = "r-1";

/// Waits until `done` holds, up to ten seconds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn envelope(id: &str, actor: Actor, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(id).expect("valid"),
        correlation_id: None,
        actor,
        command,
        expected_version: None,
    }
}

/// The deployment: a data directory with the log, the personal store and
/// the outbox in one sled database, the fixture district, a manual clock.
pub struct World {
    pub dir: tempfile::TempDir,
    pub store: SledStore,
    pub service: Arc<CommandService<SledStore>>,
    pub clock: Arc<ManualClock>,
    pub volunteer: VolunteerId,
    district: Arc<gridloop_engine::World>,
    generation: u64,
}

impl World {
    /// One registered volunteer; resident r-1 with an e-mail address and a
    /// phone in the personal store.
    pub async fn new() -> Self {
        let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SledStore::open(dir.path()).expect("opens the store");
        let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")));
        let world = district.world.clone();
        let service = Arc::new(CommandService::new(store.clone(), world.clone(), clock.clone(), 1));
        let profile = &district.volunteers[0];
        let register = VolunteerCommand::Register {
            team: profile.team.clone(),
            home_grid: profile.home_grid.clone(),
            skills: profile.skills.clone(),
            open_orders_max: profile.open_orders_max,
        };
        let command = Command::Volunteer { id: profile.id.clone(), command: register };
        service.execute(envelope("register", Self::dispatcher(), command)).await.expect("registers");
        let person = Person::new("王小明", "13800000001", "幸福路 1 号")
            .expect("valid")
            .with_email("xm@example.org")
            .expect("valid");
        store.personal().expect("opens").put(&Self::resident(), &person).expect("stores");
        Self { dir, store, service, clock, volunteer: profile.id.clone(), district: world, generation: 1 }
    }

    /// The same deployment after a restart: every handle dropped, the
    /// database opened again.
    pub fn restart(self) -> Self {
        let Self { dir, store, service, clock, volunteer, district, generation } = self;
        drop(service);
        drop(store);
        let store = SledStore::open(dir.path()).expect("opens the store again");
        // Another id seed: the manual clock has not moved, and event ids
        // must not repeat across the restart.
        let service = Arc::new(CommandService::new(store.clone(), district.clone(), clock.clone(), generation + 1));
        Self { dir, store, service, clock, volunteer, district, generation: generation + 1 }
    }

    pub fn resident() -> ResidentId {
        ResidentId::new(RESIDENT).expect("valid")
    }

    fn dispatcher() -> Actor {
        Actor::new(Role::Dispatcher, "d-1").expect("valid")
    }

    async fn run(&self, id: String, actor: Actor, ticket: &TicketId, command: TicketCommand) {
        let command = Command::Ticket { id: ticket.clone(), command };
        self.service.execute(envelope(&id, actor, command)).await.expect("the command is taken");
    }

    /// The resident orders ticket `n`.
    pub async fn submit(&self, n: u64) -> TicketId {
        let ticket = TicketId::from_number(n);
        let submit = TicketCommand::Submit {
            item: "CS-001".parse().expect("valid"),
            grid: GridCode::parse("440802-001-001-001").expect("valid"),
            resident: Self::resident(),
            description: "老人需要探访".into(),
            urgency: Urgency::Normal,
            channel: OrderChannel::Web,
            location: None,
            photos: vec![],
        };
        let resident = Actor::new(Role::Resident, RESIDENT).expect("valid");
        self.run(format!("submit-{n}-{}", self.generation), resident, &ticket, submit).await;
        ticket
    }

    /// `resident` (with the e-mail address `email`) follows `ticket` as a
    /// co-reporter.
    pub async fn follow(&self, ticket: &TicketId, resident: &str, email: &str) {
        let person = Person::new("", "", "").expect("valid").with_email(email).expect("valid");
        let id = ResidentId::new(resident).expect("valid");
        self.store.personal().expect("opens").put(&id, &person).expect("stores");
        let actor = Actor::new(Role::Resident, resident).expect("valid");
        self.run(format!("follow-{ticket}-{resident}"), actor, ticket, TicketCommand::Follow).await;
    }

    /// A dispatcher offers `ticket` to the volunteer, who accepts it.
    pub async fn take(&self, ticket: &TicketId) {
        let candidates = vec![Assignee::Volunteer(self.volunteer.clone())];
        let expires_at = self.clock.now().plus(Millis::minutes(30));
        self.run(
            format!("offer-{ticket}"),
            Self::dispatcher(),
            ticket,
            TicketCommand::Offer { candidates, expires_at },
        )
        .await;
        let me = Actor::new(Role::Volunteer, self.volunteer.as_str()).expect("valid");
        let accept = TicketCommand::AcceptOffer { by: Assignee::Volunteer(self.volunteer.clone()) };
        self.run(format!("accept-{ticket}"), me, ticket, accept).await;
    }

    /// The volunteer resolves `ticket` with `result`.
    pub async fn resolve(&self, ticket: &TicketId, result: &str) {
        let me = Actor::new(Role::Volunteer, self.volunteer.as_str()).expect("valid");
        let resolve = TicketCommand::Resolve { result: result.into(), minutes_spent: 30, photos: vec![] };
        self.run(format!("resolve-{ticket}"), me, ticket, resolve).await;
    }

    /// The resident is satisfied, and a dispatcher closes the ticket.
    pub async fn close(&self, ticket: &TicketId) {
        let resident = Actor::new(Role::Resident, RESIDENT).expect("valid");
        let feedback = TicketCommand::GiveFeedback { rating: Rating::Satisfied, comment: String::new() };
        self.run(format!("feedback-{ticket}"), resident, ticket, feedback).await;
        self.run(format!("close-{ticket}"), Self::dispatcher(), ticket, TicketCommand::Close).await;
    }

    /// A notifier on this deployment; on its first start, from the start of
    /// the log unless `config` says where.
    pub fn notifier(&self, config: Config) -> Notifier<SledStore> {
        let outbox = Outbox::open(|name| self.store.tree(name)).expect("opens the outbox");
        let personal = Arc::new(self.store.personal().expect("opens"));
        Notifier::new(
            self.service.clone(),
            personal,
            outbox,
            Config { first_position: config.first_position.max(1), seed: 7, ..config },
        )
    }
}

/// The settings with e-mail to `smtp` and the webhook to `hook`, retrying
/// after a minute at first, at most `attempts` times.
pub fn config(smtp: &Smtp, hook: &str, attempts: u32) -> Config {
    Config {
        mail: Some(Mailer::new(&smtp.url(), "网格通 <noreply@gridloop.test>").expect("a valid mailer")),
        webhook: Some(Webhook::new(hook, SECRET.to_vec()).expect("a valid webhook")),
        retry: RetryPolicy { first: Millis::minutes(1), max: Millis::minutes(10), attempts },
        ..Config::default()
    }
}

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Hooked {
    pub key: String,
    /// Whether the signature matched, checked here with ring, and the
    /// body's key is the header's.
    pub signed: bool,
    pub body: Value,
    pub status: u16,
}

#[derive(Default)]
struct Receiver {
    statuses: Mutex<VecDeque<u16>>,
    got: Mutex<Vec<Hooked>>,
}

/// A webhook receiver on loopback: checks each request's signature and
/// answers the statuses it was told, in turn (then 200).
#[derive(Clone)]
pub struct Hook {
    receiver: Arc<Receiver>,
    pub url: String,
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (timestamp, signature, key) =
        (header("x-gridloop-timestamp"), header("x-gridloop-signature"), header("idempotency-key"));
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET),
        &[timestamp.as_bytes(), b".", &body].concat(),
    );
    let expected: String = mac.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let signed = signature == format!("sha256={expected}") && body["key"] == key.as_str() && !timestamp.is_empty();
    let status = if signed { receiver.statuses.lock().expect("lock").pop_front().unwrap_or(200) } else { 401 };
    receiver.got.lock().expect("lock").push(Hooked { key, signed, body, status });
    StatusCode::from_u16(status).expect("a status")
}

impl Hook {
    pub async fn start(statuses: &[u16]) -> Self {
        let receiver = Arc::new(Receiver::default());
        receiver.statuses.lock().expect("lock").extend(statuses);
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { receiver, url }
    }

    /// Every request received so far.
    pub fn got(&self) -> Vec<Hooked> {
        self.receiver.got.lock().expect("lock").clone()
    }

    /// The requests answered 2xx.
    pub fn taken(&self) -> Vec<Hooked> {
        self.got().into_iter().filter(|h| h.status < 300).collect()
    }
}
