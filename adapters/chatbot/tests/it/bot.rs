//! Conversations with the bot core over a `MemoryStore` and the Chikan
//! fixture: linking, offers, the race for one offer, redelivery, resolving,
//! points and the list of one's tickets.

use std::collections::BTreeSet;
use std::sync::Arc;

use gridloop_chatbot::{Bot, Lang, links};
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobHash, BlobState, BlobStore as _, MemoryBlobs, RESULT_PHOTOS_MAX};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, ResidentId, TicketId, VolunteerId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Assignee, Channel, Status, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerCommand;

const ALICE: &str = "@alice:example.org";
const BOB: &str = "@bob:example.org";

struct World {
    bot: Bot<MemoryStore>,
    blobs: Arc<MemoryBlobs>,
    codes: std::sync::Mutex<SplitMix64>,
    service: Arc<CommandService<MemoryStore>>,
    clock: Arc<ManualClock>,
    v1: VolunteerId,
    v2: VolunteerId,
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

/// Two registered volunteers (the first with 30 points), a bot, and no links.
async fn world() -> World {
    let district = gridloop_fixtures::chikan(1).expect("the fixture district loads");
    let start = Timestamp::parse("2026-11-23T08:00:00Z").expect("valid");
    let clock = Arc::new(ManualClock::new(start));
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
    let v1 = district.volunteers[0].id.clone();
    let v2 = district.volunteers[1].id.clone();
    let award = VolunteerCommand::AwardPoints { points: 30, ticket: None, reason: "welcome".into() };
    let command = Command::Volunteer { id: v1.clone(), command: award };
    service.execute(envelope("award", Actor::system(), command)).await.expect("awards");
    let blobs = Arc::new(MemoryBlobs::new());
    let bot = Bot::new(service.clone()).with_blobs(blobs.clone());
    World { bot, blobs, codes: std::sync::Mutex::new(SplitMix64::new(42)), service, clock, v1, v2 }
}

impl World {
    /// A dispatcher issues a fresh link code for `volunteer`.
    async fn issue_code(&self, volunteer: &VolunteerId) -> String {
        let random = self.codes.lock().expect("lock").next_u64();
        let code = links::code_from(random);
        let command_id = CommandId::new(format!("code-{random}")).expect("valid");
        links::issue_code(&self.service, volunteer, dispatcher(), command_id, &code).await.expect("issues");
        code
    }

    /// A resident submits ticket `n`; a dispatcher offers it to both volunteers.
    async fn offered(&self, n: u64) -> TicketId {
        let ticket = TicketId::from_number(n);
        let submit = TicketCommand::Submit {
            photos: vec![],
            item: "CS-001".parse().expect("valid"),
            grid: GridCode::parse("440802-001-001-001").expect("valid"),
            resident: ResidentId::new("r-1").expect("valid"),
            description: "老人需要探访".into(),
            urgency: Urgency::Normal,
            channel: Channel::Chat,
            location: None,
        };
        let resident = Actor::new(Role::Resident, "r-1").expect("valid");
        let command = Command::Ticket { id: ticket.clone(), command: submit };
        self.service.execute(envelope(&format!("submit-{n}"), resident, command)).await.expect("submits");
        let candidates = vec![Assignee::Volunteer(self.v1.clone()), Assignee::Volunteer(self.v2.clone())];
        let expires_at = self.service.clock().now().plus(Millis::minutes(30));
        let offer = TicketCommand::Offer { candidates, expires_at };
        let command = Command::Ticket { id: ticket.clone(), command: offer };
        self.service.execute(envelope(&format!("offer-{n}"), dispatcher(), command)).await.expect("offers");
        ticket
    }

    /// Links `account` to `volunteer` through a fresh code.
    async fn link(&self, account: &str, volunteer: &VolunteerId) {
        let code = self.issue_code(volunteer).await;
        let reply = self.bot.handle(account, &format!("$link-{account}"), &format!("link {code}")).await;
        assert_eq!(reply.code, "linked", "{reply:?}");
    }

    async fn log_len(&self) -> usize {
        self.service.store().read_all(0, 10_000).await.expect("reads").len()
    }
}

#[tokio::test]
async fn a_code_links_once_and_a_wrong_or_used_code_is_refused() {
    let w = world().await;
    let code = w.issue_code(&w.v1).await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let reply = w.bot.handle(ALICE, "$1", &format!("绑定 {wrong}")).await;
    assert_eq!((reply.code, reply.lang), ("link_refused", Lang::Zh));
    assert_eq!(w.bot.linked(ALICE), None);

    let reply = w.bot.handle(ALICE, "$2", &format!("绑定 {code}")).await;
    assert_eq!(reply.code, "linked");
    assert!(reply.text.contains(w.v1.as_str()), "{}", reply.text);
    assert_eq!(w.bot.linked(ALICE), Some(w.v1.clone()));

    // The same message delivered again gets the same answer.
    assert_eq!(w.bot.handle(ALICE, "$2", &format!("绑定 {code}")).await, reply);

    // The code is consumed: nobody else can use it.
    let reply = w.bot.handle(BOB, "$3", &format!("link {code}")).await;
    assert_eq!((reply.code, reply.lang), ("link_refused", Lang::En));
    assert_eq!(w.bot.linked(BOB), None);
}

#[tokio::test]
async fn a_code_expires_after_its_time_to_live() {
    let w = world().await;
    let code = w.issue_code(&w.v1).await;
    w.clock.advance(gridloop_engine::volunteer::LINK_CODE_TTL);
    assert_eq!(w.bot.handle(ALICE, "$1", &format!("link {code}")).await.code, "link_refused");
    assert_eq!(w.bot.linked(ALICE), None);
}

#[tokio::test]
async fn links_live_in_the_log_and_survive_a_new_bot() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    let pending = w.issue_code(&w.v2).await;
    // A new bot over the same store: it knows the link and the outstanding
    // code from the log alone.
    let restarted = Bot::new(w.service.clone());
    restarted.catch_up().await.expect("reads the log");
    assert_eq!(restarted.linked(ALICE), Some(w.v1.clone()));
    assert_eq!(restarted.account_of(&w.v1).as_deref(), Some(ALICE));
    assert_eq!(restarted.handle(BOB, "$9", &format!("link {pending}")).await.code, "linked");
    assert_eq!(restarted.linked(BOB), Some(w.v2.clone()));
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let w = world().await;
    let old = w.issue_code(&w.v1).await;
    let new = w.issue_code(&w.v1).await;
    if old != new {
        assert_eq!(w.bot.handle(ALICE, "$1", &format!("link {old}")).await.code, "link_refused");
    }
    assert_eq!(w.bot.handle(ALICE, "$2", &format!("link {new}")).await.code, "linked");
}

#[tokio::test]
async fn an_unlinked_sender_can_do_nothing_but_link() {
    let w = world().await;
    let ticket = w.offered(1).await;
    let before = w.log_len().await;
    for text in ["接单 T-1", "accept T-1", "mine", "积分", "help", "nonsense"] {
        let reply = w.bot.handle(ALICE, "$x", text).await;
        assert_eq!(reply.code, "link_first", "{text}: {reply:?}");
    }
    let reply = w.bot.handle(ALICE, "$y", "接单 T-1").await;
    assert!(reply.text.contains("绑定 123456"), "{}", reply.text);
    assert_eq!(w.log_len().await, before, "nothing was written");
    assert_eq!(w.service.ticket(&ticket).await.expect("loads").status, Status::Offered);
}

#[tokio::test]
async fn first_acceptance_wins_and_a_redelivery_writes_nothing() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    w.link(BOB, &w.v2).await;
    let ticket = w.offered(1024).await;

    let first = w.bot.handle(ALICE, "$accept-1", "接单 T-1024").await;
    assert_eq!((first.code, first.lang), ("accepted", Lang::Zh), "{first:?}");
    assert!(first.text.contains("T-1024"));
    let state = w.service.ticket(&ticket).await.expect("loads");
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(state.holder, Some(Assignee::Volunteer(w.v1.clone())));

    // The transport delivers the same event again: same reply, no write.
    let before = w.log_len().await;
    assert_eq!(w.bot.handle(ALICE, "$accept-1", "接单 T-1024").await, first);
    assert_eq!(w.log_len().await, before);

    let second = w.bot.handle(BOB, "$accept-2", "accept t-1024").await;
    assert_eq!((second.code, second.lang), ("already_taken", Lang::En), "{second:?}");
    assert_eq!(second.text, "T-1024 has already been taken by another volunteer.");
    assert_eq!(w.log_len().await, before);
}

#[tokio::test]
async fn refusals_are_one_sentence_each() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    w.link(BOB, &w.v2).await;
    w.offered(1).await;

    let reply = w.bot.handle(ALICE, "$1", "accept T-999").await;
    assert_eq!((reply.code, reply.text.as_str()), ("not_found", "There is no ticket T-999."));

    // Not a candidate any more once declined.
    assert_eq!(w.bot.handle(BOB, "$2", "拒绝 1 太远了").await.code, "declined");
    let reply = w.bot.handle(BOB, "$3", "接单 1").await;
    assert_eq!((reply.code, reply.text.as_str()), ("not_offered", "T-1 没有派给你。"));

    // Nobody holds it yet, so it cannot be started.
    let reply = w.bot.handle(ALICE, "$4", "start 1").await;
    assert_eq!((reply.code, reply.text.as_str()), ("illegal_transition", "T-1 is offered; that cannot be done now."));

    // Bob holds T-2: Alice cannot finish it.
    w.offered(2).await;
    assert_eq!(w.bot.handle(BOB, "$4b", "accept 2").await.code, "accepted");
    let reply = w.bot.handle(ALICE, "$4c", "完成 2 1h 好了").await;
    assert_eq!((reply.code, reply.text.as_str()), ("not_holder", "T-2 不在你名下。"));

    // The offer runs out.
    w.clock.advance(Millis::minutes(31));
    let reply = w.bot.handle(ALICE, "$5", "accept 1").await;
    assert_eq!((reply.code, reply.text.as_str()), ("offer_expired", "The offer of T-1 has expired."));

    // Not understood: help, in the message's language.
    let reply = w.bot.handle(ALICE, "$6", "你好").await;
    assert_eq!((reply.code, reply.lang), ("help", Lang::Zh));
    let reply = w.bot.handle(ALICE, "$7", "done T-1 1.5h fixed").await;
    assert_eq!((reply.code, reply.lang), ("help", Lang::En));
}

#[tokio::test]
async fn start_done_points_and_mine() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    let one = w.offered(1).await;
    w.offered(2).await;
    w.offered(3).await;

    let reply = w.bot.handle(ALICE, "$m0", "我的").await;
    assert_eq!(reply.text, "你手上没有工单。");
    for (n, id) in ["1", "2", "3"].iter().enumerate() {
        let reply = w.bot.handle(ALICE, &format!("$a{n}"), &format!("accept {id}")).await;
        assert_eq!(reply.code, "accepted", "{reply:?}");
    }
    assert_eq!(w.bot.handle(ALICE, "$s1", "到达 T-1").await.code, "started");
    let reply = w.bot.handle(ALICE, "$d1", "完成 T-1 2小时30分 已修好").await;
    assert_eq!((reply.code, reply.text.as_str()), ("resolved", "T-1 已完成，用时 2小时30分钟。"));
    assert_eq!(w.service.ticket(&one).await.expect("loads").status, Status::Resolved);

    let reply = w.bot.handle(ALICE, "$d2", "done T-2 45m replaced the bulb").await;
    assert_eq!((reply.code, reply.text.as_str()), ("resolved", "T-2 is resolved, in 45 min."));

    let reply = w.bot.handle(ALICE, "$m1", "mine").await;
    assert_eq!(reply.text, "You hold 1: T-3.");
    let reply = w.bot.handle(ALICE, "$p1", "积分").await;
    assert_eq!((reply.code, reply.text.as_str()), ("points", "你的积分：30。"));
    let reply = w.bot.handle(ALICE, "$p2", "POINTS").await;
    assert_eq!(reply.text, "Your balance is 30 points.");
}

#[tokio::test]
async fn a_message_id_that_is_not_a_command_id_is_hashed() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    w.offered(1).await;
    let odd = "event id with spaces";
    assert_eq!(w.bot.handle(ALICE, odd, "accept 1").await.code, "accepted");
    let before = w.log_len().await;
    assert_eq!(w.bot.handle(ALICE, odd, "accept 1").await.code, "accepted");
    assert_eq!(w.log_len().await, before);
    let ids: BTreeSet<String> = w
        .service
        .store()
        .read_all(0, 10_000)
        .await
        .expect("reads")
        .into_iter()
        .map(|e| e.command_id.as_str().to_string())
        .collect();
    assert!(ids.contains(blake3::hash(odd.as_bytes()).to_hex().as_str()));
}

/// The transport will run `handle` on a multi-threaded runtime, so its future
/// must be `Send`: the links lock is never held across an await.
#[tokio::test]
async fn handling_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let w = world().await;
    let future = w.bot.handle(ALICE, "$1", "help");
    assert_send(&future);
    assert_eq!(future.await.code, "link_first");
}

/// A 6-digit code that is not `code`.
fn other_than(code: &str, n: u32) -> String {
    let wrong = format!("{:06}", (code.parse::<u32>().expect("digits") + 1 + n) % 1_000_000);
    assert_ne!(wrong, code);
    wrong
}

#[tokio::test]
async fn wrong_codes_pause_linking_for_the_account_then_for_everyone() {
    use gridloop_chatbot::guess::{LINK_FAILURE_WINDOW, LINK_FAILURES_MAX, LINK_FAILURES_PER_ACCOUNT_MAX};
    let w = world().await;
    let code = w.issue_code(&w.v1).await;
    for n in 0..LINK_FAILURES_PER_ACCOUNT_MAX {
        let reply = w.bot.handle(ALICE, &format!("$g{n}"), &format!("link {}", other_than(&code, n))).await;
        assert_eq!(reply.code, "link_refused");
    }
    // Paused for Alice, even with the right code; Bob is not affected.
    let reply = w.bot.handle(ALICE, "$right", &format!("link {code}")).await;
    assert_eq!(
        (reply.code, reply.text.as_str()),
        ("link_paused", "Too many wrong link codes; try again in an hour, or ask a dispatcher.")
    );
    assert_eq!(w.bot.linked(ALICE), None);
    let bob_code = w.issue_code(&w.v2).await;
    assert_eq!(w.bot.handle(BOB, "$bob", &format!("绑定 {bob_code}")).await.code, "linked");
    // After the window Alice may try again, and her code still works.
    w.clock.advance(LINK_FAILURE_WINDOW);
    assert_eq!(w.bot.handle(ALICE, "$later", &format!("link {code}")).await.code, "linked");

    // Many accounts together: past the global limit nobody links for a while.
    let fresh = w.issue_code(&w.v2).await;
    for n in 0..LINK_FAILURES_MAX {
        let account = format!("@guesser{n}:example.org");
        let reply = w.bot.handle(&account, &format!("$m{n}"), &format!("link {}", other_than(&fresh, n))).await;
        assert_eq!(reply.code, "link_refused", "{account}");
    }
    let reply = w.bot.handle("@honest:example.org", "$h", &format!("绑定 {fresh}")).await;
    assert_eq!((reply.code, reply.lang), ("link_paused", Lang::Zh));
    w.clock.advance(LINK_FAILURE_WINDOW);
    assert_eq!(w.bot.handle("@honest:example.org", "$h2", &format!("绑定 {fresh}")).await.code, "linked");
}

/// Seven different small JPEGs (`fixtures/photos/make.py`), as a phone sends them.
const PHOTOS: [&[u8]; 7] = [
    include_bytes!("../../../../fixtures/photos/chat-0.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-1.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-2.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-3.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-4.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-5.jpg"),
    include_bytes!("../../../../fixtures/photos/chat-6.jpg"),
];

/// The `n`th photo's bytes.
fn photo(n: usize) -> Vec<u8> {
    PHOTOS[n].to_vec()
}

/// The hash a photo is stored under: its bytes without metadata.
fn stored(n: usize) -> BlobHash {
    BlobHash::of(&gridloop_media::check(PHOTOS[n]).expect("a photo").bytes)
}

/// Given a volunteer linked and holding T-1, when they send a photo and
/// then `完成`, the resolve carries the photo, and the photo no longer
/// waits.
#[tokio::test]
async fn a_photo_waits_for_the_next_done_and_goes_with_it() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    let one = w.offered(1).await;
    assert_eq!(w.bot.handle(ALICE, "$a1", "接单 T-1").await.code, "accepted");

    let reply = w.bot.photo(ALICE, photo(1)).await;
    assert_eq!(reply.code, "photo_received", "{reply:?}");
    assert!(reply.text.contains("完成") && reply.text.contains("done"), "both languages: {}", reply.text);
    let hash = stored(1);
    assert_eq!(w.blobs.state(&hash).await.expect("a state"), BlobState::Present);

    let reply = w.bot.handle(ALICE, "$d1", "完成 T-1 30分钟 水管修好了").await;
    assert_eq!((reply.code, reply.text.as_str()), ("resolved", "T-1 已完成，用时 30分钟，附照片 1 张。"));
    let ticket = w.service.ticket(&one).await.expect("loads");
    assert_eq!(ticket.result_photos, [hash]);
    assert_eq!(ticket.result.as_deref(), Some("水管修好了"));
    let now = w.service.clock().now();
    assert!(w.bot.pending_photos().waiting(ALICE, now).is_empty(), "sent photos no longer wait");

    // The same message again writes nothing and answers the same.
    let before = w.log_len().await;
    let again = w.bot.handle(ALICE, "$d1", "完成 T-1 30分钟 水管修好了").await;
    assert_eq!(again.code, "resolved");
    assert_eq!(w.log_len().await, before);
}

/// A resolve the engine refuses leaves the photos waiting for the next one.
#[tokio::test]
async fn a_refused_done_keeps_the_photos_for_the_next() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    let one = w.offered(1).await;
    assert_eq!(w.bot.photo(ALICE, photo(1)).await.code, "photo_received");
    assert_eq!(w.bot.photo(ALICE, photo(2)).await.code, "photo_received");
    let reply = w.bot.handle(ALICE, "$d0", "done T-1 1h fixed").await;
    assert_eq!(reply.code, "illegal_transition", "not accepted yet: {reply:?}");
    assert_eq!(w.bot.pending_photos().waiting(ALICE, w.service.clock().now()).len(), 2);
    assert_eq!(w.bot.handle(ALICE, "$a1", "accept T-1").await.code, "accepted");
    let reply = w.bot.handle(ALICE, "$d1", "done T-1 1h fixed").await;
    assert_eq!((reply.code, reply.text.as_str()), ("resolved", "T-1 is resolved, in 1 h, with 2 photos."));
    let ticket = w.service.ticket(&one).await.expect("loads");
    assert_eq!(ticket.result_photos, [stored(1), stored(2)]);
}

/// Photos are bounded per volunteer (the engine's six), a repeat counts
/// once, and a photo waits a day at most.
#[tokio::test]
async fn waiting_photos_are_bounded_and_expire() {
    let w = world().await;
    w.link(ALICE, &w.v1).await;
    for n in 0..RESULT_PHOTOS_MAX {
        assert_eq!(w.bot.photo(ALICE, photo(n)).await.code, "photo_received");
    }
    assert_eq!(w.bot.photo(ALICE, photo(0)).await.code, "photo_received", "a redelivered photo counts once");
    let reply = w.bot.photo(ALICE, photo(6)).await;
    assert_eq!(reply.code, "photos_full", "{reply:?}");
    assert_eq!(w.bot.pending_photos().waiting(ALICE, w.service.clock().now()).len(), RESULT_PHOTOS_MAX);
    w.clock.advance(Millis(gridloop_chatbot::pending::PENDING_MS + 1));
    assert!(w.bot.pending_photos().waiting(ALICE, w.service.clock().now()).is_empty(), "a day later they are gone");
    let reply = w.bot.photo(ALICE, photo(6)).await;
    assert!(reply.code == "photo_received" && reply.text.contains("(1)"), "{reply:?}");
}

/// An unlinked account's photo and an oversized one are not stored.
#[tokio::test]
async fn an_unlinked_or_oversized_photo_is_refused_and_not_stored() {
    let w = world().await;
    let reply = w.bot.photo(BOB, photo(1)).await;
    assert_eq!(reply.code, "link_first");
    assert_eq!(w.blobs.state(&stored(1)).await.expect("a state"), BlobState::Missing);
    w.link(ALICE, &w.v1).await;
    let huge = vec![0xFF; BLOB_BYTES_MAX + 1];
    let reply = w.bot.photo(ALICE, huge.clone()).await;
    assert_eq!(reply.code, "photo_refused");
    assert_eq!(w.blobs.state(&BlobHash::of(&huge)).await.expect("a state"), BlobState::Missing);
    assert!(w.bot.pending_photos().waiting(ALICE, w.service.clock().now()).is_empty());
    // A photo with a GPS position and a camera in its EXIF is kept without them.
    let gps = include_bytes!("../../../../fixtures/photos/gps.jpg").to_vec();
    assert_eq!(w.bot.photo(ALICE, gps).await.code, "photo_received");
    let kept = w.bot.pending_photos().waiting(ALICE, w.service.clock().now());
    let bytes = w.blobs.get(&kept[0]).await.expect("reads").expect("kept");
    let window = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!window(b"GridloopCam") && !window(b"Model-GPS-7"), "the camera and GPS are stripped");
    let text = b"a text file renamed to photo.jpg".to_vec();
    assert_eq!(w.bot.photo(ALICE, text.clone()).await.code, "photo_refused", "a photo by its bytes, not its name");
    assert_eq!(w.blobs.state(&BlobHash::of(&text)).await.expect("a state"), BlobState::Missing);
    let without_store = Bot::new(w.service.clone());
    assert_eq!(without_store.photo(ALICE, photo(1)).await.code, "photo_refused", "a bot without a store keeps none");
}
