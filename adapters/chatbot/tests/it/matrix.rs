//! Real conversations through a real Synapse: volunteers link, get offers,
//! accept, race, and the bot is killed and restarted in the middle.
//!
//! The engine is a `MemoryStore` with the Chikan fixture; the bot runs as a
//! task (`matrix::run`) that a test aborts to kill it and starts again over
//! the same store and state file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gridloop_chatbot::client::{Client, Method};
use gridloop_chatbot::matrix::{self, Config};
use gridloop_chatbot::{Bot, links};
use gridloop_engine::blob::{BlobHash, BlobStore as _, MemoryBlobs};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, ResidentId, StreamId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Assignee, Channel, Status, TicketCommand, TicketEvent, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::{VolunteerCommand, link_code_hash};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::synapse::{Limits, Person, Synapse};

/// The engine side: a store, a command service, two registered volunteers.
struct Engine {
    service: Arc<CommandService<MemoryStore>>,
    /// The deployment's photos, which the bot keeps volunteers' photos in.
    blobs: Arc<MemoryBlobs>,
    clock: Arc<ManualClock>,
    v1: VolunteerId,
    v2: VolunteerId,
    codes: std::sync::atomic::AtomicU64,
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

fn dispatcher() -> Actor {
    Actor::new(Role::Dispatcher, "d-1").expect("valid")
}

impl Engine {
    async fn new() -> Self {
        let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
        let clock = Arc::new(ManualClock::new(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")));
        let service = Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock.clone(), 7));
        for (n, profile) in district.volunteers.iter().take(2).enumerate() {
            let register = VolunteerCommand::Register {
                team: profile.team.clone(),
                home_grid: profile.home_grid.clone(),
                skills: profile.skills.clone(),
                open_orders_max: profile.open_orders_max,
            };
            let command = Command::Volunteer { id: profile.id.clone(), command: register };
            service.execute(envelope(&format!("register-{n}"), dispatcher(), command)).await.expect("registers");
        }
        let (v1, v2) = (district.volunteers[0].id.clone(), district.volunteers[1].id.clone());
        let blobs = Arc::new(MemoryBlobs::new());
        Self { service, blobs, clock, v1, v2, codes: std::sync::atomic::AtomicU64::new(100_000) }
    }

    /// A dispatcher issues a link code for `volunteer` (distinct every call).
    async fn issue_code(&self, volunteer: &VolunteerId) -> String {
        let n = self.codes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let code = links::code_from(n * 7_919);
        let id = CommandId::new(format!("code-{n}")).expect("valid");
        links::issue_code(&self.service, volunteer, dispatcher(), id, &code).await.expect("issues");
        code
    }

    /// A resident orders ticket `n`; a dispatcher offers it to `to`.
    async fn offer(&self, n: u64, to: &[&VolunteerId]) -> TicketId {
        let ticket = TicketId::from_number(n);
        let submit = TicketCommand::Submit {
            photos: vec![],
            item: "CS-001".parse().expect("valid"),
            grid: GridCode::parse("440802-001-001-001").expect("valid"),
            resident: ResidentId::new("r-1").expect("valid"),
            description: "独居老人需要探访".into(),
            urgency: Urgency::Normal,
            channel: Channel::Chat,
            location: None,
        };
        let resident = Actor::new(Role::Resident, "r-1").expect("valid");
        let command = Command::Ticket { id: ticket.clone(), command: submit };
        self.service.execute(envelope(&format!("submit-{n}"), resident, command)).await.expect("submits");
        let candidates = to.iter().map(|v| Assignee::Volunteer((*v).clone())).collect();
        let expires_at = self.service.clock().now().plus(Millis::minutes(30));
        let command = Command::Ticket { id: ticket.clone(), command: TicketCommand::Offer { candidates, expires_at } };
        self.service.execute(envelope(&format!("offer-{n}"), dispatcher(), command)).await.expect("offers");
        ticket
    }

    /// The events of a ticket, decoded.
    async fn history(&self, ticket: &TicketId) -> Vec<TicketEvent> {
        let events = self.service.store().read_stream(&StreamId::ticket(ticket), 1).await.expect("reads");
        events.iter().map(|e| e.decode::<TicketEvent>().expect("decodes")).collect()
    }
}

/// The bot as a task over the engine; aborting it is killing it.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), gridloop_chatbot::Error>>,
}

fn start_bot(engine: &Engine, client: &Client, state_path: &Path) -> Running {
    start_bot_with(engine, client, state_path, matrix::TIMELINE_LIMIT)
}

fn start_bot_with(engine: &Engine, client: &Client, state_path: &Path, timeline_limit: u32) -> Running {
    // A new Bot each start: links are rebuilt from the log, as after a real
    // restart.
    let bot = Arc::new(Bot::new(engine.service.clone()).with_blobs(engine.blobs.clone()));
    let mut config = Config::new(client.clone(), state_path.to_path_buf());
    config.sync_timeout_ms = 1_000;
    config.timeline_limit = timeline_limit;
    let (stop, stopped) = watch::channel(false);
    let running = Running { stop, task: tokio::spawn(matrix::run(bot, config, stopped)) };
    // On its first start the bot begins at the end of the log and writes its
    // state file: wait for that, so that what the test writes next is after.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !state_path.exists() {
        assert!(std::time::Instant::now() < deadline, "the bot wrote no state file within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

impl Running {
    /// Kills the task wherever it is (no graceful stop).
    async fn kill(self) {
        self.task.abort();
        // Cancelled, or already ended; either way it runs no more.
        let _ = self.task.await;
        drop(self.stop);
    }

    /// Asks the bot to stop and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let ended = tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("stops in time");
        ended.expect("the task did not panic").expect("the bot ended without an error");
    }
}

/// A running server with the bot and two volunteers registered and logged in.
struct Scene {
    synapse: Synapse,
    engine: Engine,
    bot_client: Client,
    alice: Person,
    bob: Person,
    state_path: PathBuf,
    _state_dir: tempfile::TempDir,
}

async fn scene(limits: Limits) -> Scene {
    // The bot's log, when asked for: GRIDLOOP_LOG=gridloop_chatbot=debug.
    if let Ok(filter) = std::env::var("GRIDLOOP_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let synapse = Synapse::start_with(limits);
    synapse.register(&["gridloop", "alice", "bob"]);
    let bot_client = synapse.login("gridloop").await;
    let alice = Person::new(synapse.login("alice").await);
    let bob = Person::new(synapse.login("bob").await);
    let state_dir = tempfile::tempdir().expect("a temporary directory");
    let state_path = state_dir.path().join("matrix.json");
    Scene { synapse, engine: Engine::new().await, bot_client, alice, bob, state_path, _state_dir: state_dir }
}

/// `person` opens a direct room with the bot, waits for it to join, and
/// links with a fresh code for `volunteer`; returns the room.
async fn link(person: &mut Person, engine: &Engine, bot: &str, volunteer: &VolunteerId) -> String {
    let room = person.open_dm(bot).await;
    person.wait_joined(&room, bot).await;
    let code = engine.issue_code(volunteer).await;
    person.say(&room, &format!("绑定 {code}")).await;
    let reply = person.wait_for("已绑定").await;
    assert!(reply.body.contains(volunteer.as_str()), "{reply:?}");
    assert_eq!(reply.room, room);
    room
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_links_gets_an_offer_accepts_it_and_the_engine_shows_it_accepted() {
    let mut s = scene(Limits::default()).await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let bot_id = s.bot_client.user_id().to_string();

    // Before linking, the account can do nothing but link.
    let room = s.alice.open_dm(&bot_id).await;
    s.alice.wait_joined(&room, &bot_id).await;
    s.alice.say(&room, "mine").await;
    s.alice.wait_for("Please link first").await;
    s.alice.say(&room, "link 000001").await;
    s.alice.wait_for("unknown, expired or used").await;

    let code = s.engine.issue_code(&s.engine.v1).await;
    s.alice.say(&room, &format!("绑定 {code}")).await;
    let linked = s.alice.wait_for("已绑定").await;
    assert!(linked.body.contains(s.engine.v1.as_str()));

    // The engine offers a ticket to both volunteers; only Alice is linked.
    let ticket = s.engine.offer(1024, &[&s.engine.v1, &s.engine.v2]).await;
    let offer = s.alice.wait_for("新派单 T-1024").await;
    assert_eq!(offer.room, room, "the offer goes to the room Alice linked from");
    for part in ["独居老人需要探访", "accept T-1024", "接单 T-1024", "by 11-23 16:30 (China time)"] {
        assert!(offer.body.contains(part), "the offer lacks {part:?}: {}", offer.body);
    }

    s.alice.say(&room, "accept T-1024").await;
    let reply = s.alice.wait_for("You accepted T-1024").await;
    assert_eq!(reply.sender, bot_id);
    let state = s.engine.service.ticket(&ticket).await.expect("loads");
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.holder, Some(Assignee::Volunteer(s.engine.v1.clone())));

    s.alice.say(&room, "我的").await;
    s.alice.wait_for("你手上有 1 单：T-1024").await;
    bot.stop().await;
    drop(s.synapse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_volunteers_race_for_one_offer_and_exactly_one_wins() {
    let mut s = scene(Limits::default()).await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let bot_id = s.bot_client.user_id().to_string();
    let alice_room = link(&mut s.alice, &s.engine, &bot_id, &s.engine.v1).await;
    let bob_room = link(&mut s.bob, &s.engine, &bot_id, &s.engine.v2).await;

    let ticket = s.engine.offer(7, &[&s.engine.v1, &s.engine.v2]).await;
    s.alice.wait_for("New offer T-7").await;
    s.bob.wait_for("New offer T-7").await;
    // Both accept at once.
    let Scene { alice, bob, engine, .. } = &mut s;
    tokio::join!(alice.say(&alice_room, "接单 T-7"), bob.say(&bob_room, "accept 7"));
    // Each gets one answer to their own acceptance: accepted, or taken.
    let (alice_answer, bob_answer) = tokio::join!(
        alice.wait_for_any(&["已接单 T-7", "T-7 已被其他志愿者接走。"]),
        bob.wait_for_any(&["You accepted T-7", "T-7 has already been taken by another volunteer."])
    );
    let alice_won = alice_answer.body.contains("已接单");
    let bob_won = bob_answer.body.contains("You accepted");
    assert!(alice_won ^ bob_won, "exactly one wins: {alice_answer:?} {bob_answer:?}");
    let (winner, loser) = if alice_won { (&engine.v1, bob) } else { (&engine.v2, alice) };
    // The loser is also told by the notice that follows the acceptance.
    loser.wait_for("has been taken by another volunteer").await;
    let accepted =
        engine.history(&ticket).await.into_iter().filter(|e| matches!(e, TicketEvent::Accepted { .. })).count();
    assert_eq!(accepted, 1);
    let state = engine.service.ticket(&ticket).await.expect("loads");
    assert_eq!(state.holder, Some(Assignee::Volunteer(winner.clone())));

    // An offer that runs out: both are told it expired.
    let other = s.engine.offer(8, &[&s.engine.v1, &s.engine.v2]).await;
    s.alice.wait_for("New offer T-8").await;
    s.bob.wait_for("New offer T-8").await;
    s.engine.clock.advance(Millis::minutes(31));
    let expire = Command::Ticket { id: other, command: TicketCommand::ExpireOffer { round: 1 } };
    s.engine.service.execute(envelope("expire-8", Actor::system(), expire)).await.expect("expires");
    s.alice.wait_for("The offer of T-8 has expired").await;
    s.bob.wait_for("The offer of T-8 has expired").await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_and_restarted_loses_no_command_and_runs_none_twice() {
    let mut s = scene(Limits::default()).await;
    let bot_id = s.bot_client.user_id().to_string();
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let room = link(&mut s.alice, &s.engine, &bot_id, &s.engine.v1).await;
    // The state as it is now: the link handled, no offer yet.
    let before_offer = std::fs::read(&s.state_path).expect("the bot saved its state");

    let ticket = s.engine.offer(31, &[&s.engine.v1]).await;
    s.alice.wait_for("New offer T-31").await;
    s.alice.say(&room, "accept T-31").await;
    s.alice.wait_for("You accepted T-31").await;

    // Killed; then the state file is put back as it was before the offer:
    // the same as a crash after the offer was sent and the acceptance
    // handled, but before either was saved.
    bot.kill().await;
    std::fs::write(&s.state_path, &before_offer).expect("rewinds the state");
    // A command sent while the bot is down.
    s.alice.say(&room, "start T-31").await;

    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    s.alice.wait_for("You started on T-31").await;
    s.alice.say(&room, "mine").await;
    s.alice.wait_for("You hold 1: T-31").await;
    s.alice.settle(Duration::from_secs(2)).await;

    // Nothing ran twice: one acceptance, one start in the log, and Alice
    // saw one offer and one answer to each of her messages.
    let history = s.engine.history(&ticket).await;
    assert_eq!(history.iter().filter(|e| matches!(e, TicketEvent::Accepted { .. })).count(), 1);
    assert_eq!(history.iter().filter(|e| matches!(e, TicketEvent::Started { .. })).count(), 1);
    assert_eq!(s.engine.service.ticket(&ticket).await.expect("loads").status, Status::InProgress);
    assert_eq!(s.alice.count("New offer T-31"), 1, "{:#?}", s.alice.seen);
    assert_eq!(s.alice.count("You accepted T-31"), 1, "{:#?}", s.alice.seen);
    assert_eq!(s.alice.count("You started on T-31"), 1, "{:#?}", s.alice.seen);
    assert_eq!(s.alice.count("已绑定"), 1, "{:#?}", s.alice.seen);

    // Killed once more with nothing rewound: a new offer after the restart
    // reaches her once.
    bot.kill().await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    s.engine.offer(32, &[&s.engine.v1]).await;
    s.alice.wait_for("New offer T-32").await;
    s.alice.settle(Duration::from_secs(2)).await;
    assert_eq!(s.alice.count("New offer T-32"), 1);
    assert_eq!(s.alice.count("New offer T-31"), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_go_only_to_direct_rooms_made_when_needed_and_a_flooder_is_told_once() {
    let mut s = scene(Limits::default()).await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let bot_id = s.bot_client.user_id().to_string();

    // Alice links in a room Bob is in too: her offers must not go there.
    let body = serde_json::json!({ "preset": "private_chat", "invite": [bot_id, s.bob.user_id()] });
    let created = s.alice.client.request(Method::POST, "/_matrix/client/v3/createRoom", Some(&body)).await;
    let group = created.expect("creates a room")["room_id"].as_str().expect("a room id").to_string();
    let bob_id = s.bob.user_id();
    s.bob.wait_joined(&group, &bob_id).await;
    s.alice.wait_joined(&group, &bot_id).await;
    let code = s.engine.issue_code(&s.engine.v1).await;
    s.alice.say(&group, &format!("link {code}")).await;
    s.alice.wait_for("Linked to volunteer").await;
    s.engine.offer(4, &[&s.engine.v1]).await;
    let offer = s.alice.wait_for("New offer T-4").await;
    assert_ne!(offer.room, group, "the offer went to a new direct room, not the shared one");
    s.bob.settle(Duration::from_secs(1)).await;
    assert_eq!(s.bob.count("New offer T-4"), 0, "Bob never sees Alice's offer");
    // Bob is linked without ever writing to the bot (the engine command the
    // bot would send), so the bot has no room for him yet.
    let code = s.engine.issue_code(&s.engine.v2).await;
    let link = VolunteerCommand::LinkChat { account: s.bob.user_id(), code: code.clone() };
    let command = Command::Volunteer { id: s.engine.v2.clone(), command: link };
    s.engine.service.execute(envelope("link-bob", Actor::system(), command)).await.expect("links");
    assert_eq!(link_code_hash(&code).len(), 64);

    s.engine.offer(5, &[&s.engine.v2]).await;
    let offer = s.bob.wait_for("New offer T-5").await;
    let room = offer.room.clone();

    // Flooding: FLOOD_MESSAGES_MAX answers, one warning, then silence.
    let max = gridloop_chatbot::flood::FLOOD_MESSAGES_MAX as usize;
    for _ in 0..max + 5 {
        s.bob.say(&room, "help").await;
    }
    s.bob.wait_for("Too many messages").await;
    s.bob.settle(Duration::from_secs(2)).await;
    assert_eq!(s.bob.count("Commands: accept"), max, "{:#?}", s.bob.seen);
    assert_eq!(s.bob.count("Too many messages"), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_waits_out_the_homeservers_rate_limit_and_answers_everything() {
    // One message a second after a burst of two, for every user: the bot's
    // replies hit M_LIMIT_EXCEEDED and must wait rather than drop them.
    let mut s = scene(Limits { messages_per_second: 1.0, message_burst: 2 }).await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let bot_id = s.bot_client.user_id().to_string();
    let room = s.alice.open_dm(&bot_id).await;
    s.alice.wait_joined(&room, &bot_id).await;
    for _ in 0..5 {
        s.alice.say(&room, "points").await;
    }
    for _ in 0..5 {
        s.alice.wait_for("Please link first").await;
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_sent_during_a_long_stop_are_all_answered_though_one_sync_cannot_hold_them() {
    // Two events per room per sync: six messages sent while the bot is down
    // make a gap that the bot must fill from the room's history.
    let mut s = scene(Limits::default()).await;
    let bot_id = s.bot_client.user_id().to_string();
    let bot = start_bot_with(&s.engine, &s.bot_client, &s.state_path, 2);
    let room = link(&mut s.alice, &s.engine, &bot_id, &s.engine.v1).await;
    bot.kill().await;
    for n in 1..=6 {
        let ticket = if n % 2 == 0 { "points".to_string() } else { format!("start T-{n}") };
        s.alice.say(&room, &ticket).await;
    }
    let bot = start_bot_with(&s.engine, &s.bot_client, &s.state_path, 2);
    for _ in 0..3 {
        s.alice.wait_for("Your balance is 0 points").await;
    }
    for n in [1, 3, 5] {
        s.alice.wait_for(&format!("There is no ticket T-{n}")).await;
    }
    s.alice.settle(Duration::from_secs(1)).await;
    assert_eq!(s.alice.count("Your balance"), 3, "{:#?}", s.alice.seen);
    bot.stop().await;
}

/// A small real JPEG (16×12, made with Pillow), as a phone sends it.
const AFTER_JPG: &[u8] = include_bytes!("../../../../fixtures/photos/after.jpg");

/// Uploads `bytes` to the homeserver's media repository as `person`, as a
/// Matrix client does before sending an image; returns its `mxc://` URI.
async fn upload(synapse: &Synapse, person: &Person, bytes: &[u8]) -> String {
    let url = format!("{}/_matrix/media/v3/upload?filename=after.jpg", synapse.url);
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(person.client.access_token())
        .header("content-type", "image/jpeg")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("uploads");
    let text = response.text().await.expect("an answer");
    let answer: serde_json::Value = serde_json::from_str(&text).expect("a JSON answer");
    answer["content_uri"].as_str().expect("a content_uri").to_string()
}

/// Sends an `m.image` message naming `mxc`, as a Matrix client does.
async fn send_image(person: &Person, room: &str, mxc: &str, size: usize, txn: &str) {
    use gridloop_chatbot::client::Endpoint;
    let endpoint =
        Endpoint::new("/_matrix/client/v3/rooms").segment(room).segment("send").segment("m.room.message").segment(txn);
    let content = serde_json::json!({
        "msgtype": "m.image",
        "body": "after.jpg",
        "url": mxc,
        "info": { "mimetype": "image/jpeg", "size": size, "w": 16, "h": 12 },
    });
    person.client.request(Method::PUT, endpoint, Some(&content)).await.expect("sends the image");
}

/// A volunteer photographs the work: the bot fetches the image from the
/// homeserver's (authenticated) media repository, keeps it through a
/// restart, and the volunteer's next `done` carries it as an after-photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_sent_in_chat_goes_with_the_next_done() {
    let mut s = scene(Limits::default()).await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    let bot_id = s.bot_client.user_id().to_string();
    let room = link(&mut s.alice, &s.engine, &bot_id, &s.engine.v1).await;
    let ticket = s.engine.offer(5, &[&s.engine.v1]).await;
    s.alice.wait_for("T-5").await;
    s.alice.say(&room, "接单 T-5").await;
    s.alice.wait_for("已接单 T-5").await;

    let mxc = upload(&s.synapse, &s.alice, AFTER_JPG).await;
    send_image(&s.alice, &room, &mxc, AFTER_JPG.len(), "img-1").await;
    let received = s.alice.wait_for("Photo received").await;
    assert!(received.body.contains("会随你下一条“完成”一起提交"), "{received:?}");

    // The photo waits in the state file: a restart does not lose it.
    bot.stop().await;
    let bot = start_bot(&s.engine, &s.bot_client, &s.state_path);
    s.alice.say(&room, "完成 T-5 40分钟 扶手已装好").await;
    s.alice.wait_for("T-5 已完成，用时 40分钟，附照片 1 张。").await;
    let state = s.engine.service.ticket(&ticket).await.expect("loads");
    assert_eq!(state.status, Status::Resolved);
    assert_eq!(state.result_photos.len(), 1, "{state:?}");
    let stored = s.engine.blobs.get(&state.result_photos[0]).await.expect("reads").expect("the photo is stored");
    assert_eq!(BlobHash::of(&stored), state.result_photos[0]);

    // A media URI that names nothing is answered, not retried for ever.
    send_image(&s.alice, &room, "mxc://localhost/NoSuchMedia", 100, "img-2").await;
    s.alice.wait_for("could not be fetched").await;
    bot.stop().await;
    drop(s.synapse);
}
