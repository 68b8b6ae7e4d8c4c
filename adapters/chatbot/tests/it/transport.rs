//! The transport's parts that need no network: the flood limit, the
//! notices the log calls for, the state file, homeserver URLs.

use std::sync::Arc;

use gridloop_chatbot::client::{Endpoint, Homeserver};
use gridloop_chatbot::flood::{FLOOD_ACCOUNTS_MAX, FLOOD_MESSAGES_MAX, FLOOD_WINDOW, FloodLimit, Verdict};
use gridloop_chatbot::notify::{self, Notice};
use gridloop_chatbot::state::{BotState, StateFile};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::{CommandId, ResidentId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, MemoryStore};
use gridloop_engine::ticket::{Assignee, Channel, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-23T08:00:00Z").expect("valid")
}

// ---- flood limit

#[test]
fn a_flooder_gets_one_warning_then_silence_until_the_window_ends() {
    let mut flood = FloodLimit::new();
    for _ in 0..FLOOD_MESSAGES_MAX {
        assert_eq!(flood.check("@f:x", t0()), Verdict::Handle);
    }
    assert_eq!(flood.check("@f:x", t0()), Verdict::WarnOnce);
    for _ in 0..100 {
        assert_eq!(flood.check("@f:x", t0().plus(Millis(FLOOD_WINDOW.0 - 1))), Verdict::Ignore);
    }
    // Others are not affected.
    assert_eq!(flood.check("@g:x", t0()), Verdict::Handle);
    // A new window starts afresh.
    assert_eq!(flood.check("@f:x", t0().plus(FLOOD_WINDOW)), Verdict::Handle);
}

#[test]
fn the_flood_table_stays_bounded() {
    let mut flood = FloodLimit::new();
    for n in 0..FLOOD_ACCOUNTS_MAX + 10 {
        flood.check(&format!("@u{n}:x"), t0());
    }
    assert!(flood.len() <= FLOOD_ACCOUNTS_MAX, "{}", flood.len());
    // Ended windows are dropped first, so a later newcomer keeps the rest.
    let later = t0().plus(FLOOD_WINDOW);
    flood.check("@late:x", later);
    assert!(flood.len() <= FLOOD_ACCOUNTS_MAX);
}

// ---- notices

struct Log {
    service: Arc<CommandService<MemoryStore>>,
    clock: Arc<ManualClock>,
    volunteers: Vec<VolunteerId>,
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

impl Log {
    fn new() -> Self {
        let district = gridloop_fixtures::chikan(1).expect("loads");
        let clock = Arc::new(ManualClock::new(t0()));
        let service = Arc::new(CommandService::new(MemoryStore::new(), district.world.clone(), clock.clone(), 3));
        let volunteers = district.volunteers.iter().take(3).map(|v| v.id.clone()).collect();
        Self { service, clock, volunteers }
    }

    async fn run(&self, id: &str, actor: Actor, ticket: &TicketId, command: TicketCommand) {
        let command = Command::Ticket { id: ticket.clone(), command };
        self.service.execute(envelope(id, actor, command)).await.expect("the engine accepts it");
    }

    /// Ticket 1 offered to the three volunteers.
    async fn offered(&self) -> TicketId {
        let ticket = TicketId::from_number(1);
        let submit = TicketCommand::Submit {
            photos: vec![],
            item: "CS-001".parse().expect("valid"),
            grid: GridCode::parse("440802-001-001-001").expect("valid"),
            resident: ResidentId::new("r-1").expect("valid"),
            description: "水管漏水".into(),
            urgency: Urgency::Normal,
            channel: Channel::Chat,
            location: None,
        };
        self.run("submit", Actor::new(Role::Resident, "r-1").expect("valid"), &ticket, submit).await;
        // An offer names only volunteers who exist: register them first.
        let district = gridloop_fixtures::chikan(1).expect("loads");
        for profile in district.volunteers.iter().take(3) {
            let register = gridloop_engine::volunteer::VolunteerCommand::Register {
                team: profile.team.clone(),
                home_grid: profile.home_grid.clone(),
                skills: profile.skills.clone(),
                open_orders_max: profile.open_orders_max,
            };
            let command = Command::Volunteer { id: profile.id.clone(), command: register };
            let key = format!("register-{}", profile.id);
            self.service.execute(envelope(&key, dispatcher(), command)).await.expect("registers");
        }
        let candidates = self.volunteers.iter().cloned().map(Assignee::Volunteer).collect();
        let offer = TicketCommand::Offer { candidates, expires_at: t0().plus(Millis::minutes(45)) };
        self.run("offer", dispatcher(), &ticket, offer).await;
        ticket
    }

    /// The notices of the last event in the log.
    async fn last_notices(&self) -> Vec<Notice> {
        let events = self.service.store().read_all(1, 1_000).await.expect("reads");
        notify::notices(&self.service, events.last().expect("an event")).await.expect("notices")
    }

    fn by(&self, n: usize) -> Assignee {
        Assignee::Volunteer(self.volunteers[n].clone())
    }

    fn volunteer(&self, n: usize) -> Actor {
        Actor::new(Role::Volunteer, self.volunteers[n].as_str()).expect("valid")
    }
}

fn dispatcher() -> Actor {
    Actor::new(Role::Dispatcher, "d-1").expect("valid")
}

fn recipients(notices: &[Notice]) -> Vec<VolunteerId> {
    notices.iter().map(|n| n.volunteer.clone()).collect()
}

#[tokio::test]
async fn an_offer_tells_each_candidate_what_where_until_when_and_how() {
    let log = Log::new();
    log.offered().await;
    let notices = log.last_notices().await;
    assert_eq!(recipients(&notices), log.volunteers);
    let text = &notices[0].text;
    // 08:45 UTC is 16:45 in China.
    for part in ["新派单 T-1", "水管漏水", "11-23 16:45", "接单 T-1", "拒绝 T-1", "accept T-1", "decline T-1"]
    {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    assert!(notices.iter().all(|n| n.kind == "offer"));
    // Keys differ per volunteer and are stable.
    assert_ne!(notices[0].key, notices[1].key);
    assert_eq!(log.last_notices().await, notices);
}

#[tokio::test]
async fn taken_goes_to_the_others_who_did_not_decline() {
    let log = Log::new();
    let ticket = log.offered().await;
    let decline = TicketCommand::DeclineOffer { by: log.by(2), reason: String::new() };
    log.run("decline", log.volunteer(2), &ticket, decline).await;
    assert!(log.last_notices().await.is_empty(), "a decline tells nobody");
    log.run("accept", log.volunteer(0), &ticket, TicketCommand::AcceptOffer { by: log.by(0) }).await;
    let notices = log.last_notices().await;
    assert_eq!(recipients(&notices), vec![log.volunteers[1].clone()]);
    assert_eq!(notices[0].kind, "taken");
    assert!(notices[0].text.contains("T-1 has been taken by another volunteer"), "{}", notices[0].text);
}

#[tokio::test]
async fn an_expired_or_cancelled_offer_is_said_once_and_a_stale_offer_is_not_sent() {
    let log = Log::new();
    let ticket = log.offered().await;
    let offered_at = log.service.store().read_all(1, 1_000).await.expect("reads").last().cloned().expect("an event");
    log.clock.advance(Millis::minutes(45));
    log.run("expire", Actor::system(), &ticket, TicketCommand::ExpireOffer { round: 1 }).await;
    let notices = log.last_notices().await;
    assert_eq!(notices.len(), 3);
    assert!(notices.iter().all(|n| n.kind == "expired"));
    // Read late, the old offer is no longer out: nothing to send.
    assert!(notify::notices(&log.service, &offered_at).await.expect("notices").is_empty());
}

#[tokio::test]
async fn a_cancelled_offer_is_withdrawn() {
    let log = Log::new();
    let ticket = log.offered().await;
    log.run("cancel", dispatcher(), &ticket, TicketCommand::Cancel { reason: "重复".into() }).await;
    let notices = log.last_notices().await;
    assert_eq!(notices.len(), 3);
    assert!(notices.iter().all(|n| n.kind == "withdrawn"), "{notices:?}");
}

// ---- state file

#[test]
fn the_state_file_round_trips_and_starts_empty() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("matrix.json");
    let state = StateFile::open(&path).expect("opens");
    assert!(!state.existed());
    assert_eq!(state.get(), BotState::default());
    state
        .update(|s| {
            s.since = Some("s72_1".into());
            s.log_position = 42;
            s.rooms.insert("@a:x".into(), "!r:x".into());
        })
        .expect("writes");
    let again = StateFile::open(&path).expect("opens");
    assert!(again.existed());
    assert_eq!(again.get().since.as_deref(), Some("s72_1"));
    assert_eq!(again.get().log_position, 42);
    assert_eq!(again.room("@a:x").as_deref(), Some("!r:x"));
    assert!(!path.with_extension("json.tmp").exists(), "no temporary file is left behind");
}

#[test]
fn a_damaged_state_file_is_refused_not_reset() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("matrix.json");
    std::fs::write(&path, "{ not json").expect("writes");
    let error = StateFile::open(&path).expect_err("refused");
    assert!(error.is_fatal());
    assert!(error.to_string().contains("matrix.json"), "{error}");
}

// ---- homeserver URLs

#[test]
fn homeserver_urls_are_http_or_https() {
    let shown = |url: &str| Homeserver::parse(url).expect(url).to_string();
    assert_eq!(shown("http://127.0.0.1:8008"), "http://127.0.0.1:8008");
    assert_eq!(shown("http://matrix.local/"), "http://matrix.local");
    assert_eq!(shown("http://h:1/prefix/"), "http://h:1/prefix");
    assert_eq!(shown("https://matrix.org"), "https://matrix.org");
    assert_eq!(shown("https://m.org:8448/"), "https://m.org:8448");
    for bad in ["matrix.org", "ftp://m.org", "http://:80", "http://h:port", "http://u@h", "http://h/?q", "http://h#f"] {
        let error = Homeserver::parse(bad).expect_err(bad);
        assert!(error.is_fatal(), "{bad}: {error}");
    }
    assert!(Homeserver::parse("ftp://m.org").expect_err("ftp").to_string().contains("only http:// and https://"));
}

#[test]
fn ids_are_whole_path_segments_and_query_values() {
    let server = Homeserver::parse("https://m.org/prefix/").expect("a URL");
    let endpoint = Endpoint::new("/_matrix/client/v3/rooms")
        .segment("!room/x?y#z:example.org")
        .segment("messages")
        .query("from", "s72_1&to=x")
        .query("filter", r#"{"a": "b+c"}"#);
    let url = server.url(&endpoint).expect("a URL");
    assert_eq!(
        url.as_str(),
        "https://m.org/prefix/_matrix/client/v3/rooms/!room%2Fx%3Fy%23z:example.org/messages\
         ?from=s72_1%26to%3Dx&filter=%7B%22a%22%3A+%22b%2Bc%22%7D"
    );
    assert_eq!(url.path_segments().expect("segments").nth(5), Some("!room%2Fx%3Fy%23z:example.org"));
    let at_root = Homeserver::parse("http://h:1").expect("a URL");
    assert_eq!(
        at_root.url(&"/_matrix/client/v3/sync".into()).expect("a URL").as_str(),
        "http://h:1/_matrix/client/v3/sync"
    );
    // `.` and `..` would be dropped by URL normalisation, and an empty id
    // would make `//`: refused, not sent elsewhere.
    for odd in ["", ".", ".."] {
        let error = at_root.url(&Endpoint::new("/_matrix/client/v3/join").segment(odd)).expect_err(odd);
        assert!(!error.is_fatal(), "{error}");
    }
}

// ---- rate limits, against a homeserver that only says "slow down"

/// A fake homeserver on loopback: answers each connection with the next of
/// `answers` (status, body), then 200 `{}`; returns its URL and a counter
/// of requests.
async fn fake_homeserver(answers: Vec<(u16, &'static str)>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    fake_homeserver_with_headers(answers.into_iter().map(|(status, body)| (status, "", body)).collect()).await
}

/// [`fake_homeserver`] with extra header lines (each ending in `\r\n`) per
/// answer: (status, headers, body).
async fn fake_homeserver_with_headers(
    answers: Vec<(u16, &'static str, &'static str)>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    // A plain thread: the test's runtime need not know about it, and it
    // ends with the test process.
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (status, headers, body) = answers.get(n).copied().unwrap_or((200, "", "{}"));
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request);
            let reason = if status == 429 { "Too Many Requests" } else { "OK" };
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes());
        }
    });
    (url, count)
}

fn client_of(url: &str) -> gridloop_chatbot::client::Client {
    gridloop_chatbot::client::Client::new(Homeserver::parse(url).expect("a URL"), "@bot:localhost", "token")
        .expect("a client")
}

const SLOW_DOWN: &str = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":150}"#;

#[tokio::test]
async fn m_limit_exceeded_is_waited_out_for_as_long_as_the_server_asks() {
    let answers = vec![(429, SLOW_DOWN), (429, SLOW_DOWN), (200, r#"{"event_id":"$sent"}"#)];
    let (url, count) = fake_homeserver(answers).await;
    let started = std::time::Instant::now();
    let sent = client_of(&url).send_text("!r:localhost", "t1", "hello").await.expect("sent in the end");
    assert_eq!(sent, "$sent");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3, "two refusals, then the request went through");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "waited 2 × 150 ms: {:?}", started.elapsed());
}

#[tokio::test]
async fn without_retry_after_ms_the_retry_after_header_says_how_long_to_wait() {
    let slow_down = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests"}"#;
    let answers = vec![(429, "Retry-After: 1\r\n", slow_down), (200, "", r#"{"event_id":"$sent"}"#)];
    let (url, count) = fake_homeserver_with_headers(answers).await;
    let started = std::time::Instant::now();
    let sent = client_of(&url).send_text("!r:localhost", "t1", "hello").await.expect("sent in the end");
    assert_eq!(sent, "$sent");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "waited 1 s: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_homeserver_that_keeps_refusing_ends_in_rate_limited_after_the_bounded_retries() {
    use gridloop_chatbot::client::RATE_LIMIT_RETRIES_MAX;
    let refusals = vec![(429, r#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1}"#); 100];
    let (url, count) = fake_homeserver(refusals).await;
    let sent = client_of(&url).send_text("!r:localhost", "t1", "hello").await;
    match sent {
        Err(gridloop_chatbot::Error::RateLimited { retry_after_ms }) => assert_eq!(retry_after_ms, 1),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), RATE_LIMIT_RETRIES_MAX as usize + 1);
}

#[tokio::test]
async fn a_refused_token_is_fatal_and_other_errors_are_not() {
    let (url, _) = fake_homeserver(vec![
        (401, r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token"}"#),
        (403, r#"{"errcode":"M_FORBIDDEN","error":"not in room"}"#),
    ])
    .await;
    let client = client_of(&url);
    let first = client.join("!r:localhost").await.expect_err("401");
    assert!(first.is_fatal(), "{first}");
    assert!(first.to_string().contains("M_UNKNOWN_TOKEN"), "{first}");
    let second = client.join("!r:localhost").await.expect_err("403");
    assert!(!second.is_fatal(), "{second}");
}

// ---- https

#[tokio::test]
async fn an_https_homeserver_is_spoken_to_in_tls() {
    use std::io::{Read as _, Write as _};
    // A listener that speaks no TLS: it keeps the first bytes the client
    // sends and answers them in plain HTTP.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("https://{}", listener.local_addr().expect("an address"));
    let (first_bytes, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else { return };
        let mut hello = [0u8; 3];
        let _ = socket.read_exact(&mut hello);
        let _ = first_bytes.send(hello);
        let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    let error = client_of(&url).join("!r:localhost").await.expect_err("no TLS on the other side");
    let hello = received.recv_timeout(std::time::Duration::from_secs(5)).expect("the client connected");
    // A TLS record of type 22 (handshake), version 3.x: a ClientHello.
    assert_eq!(hello[..2], [0x16, 0x03], "{hello:?}");
    let text = error.to_string();
    assert!(matches!(error, gridloop_chatbot::Error::Transport(_)), "{text}");
    assert!(!error.is_fatal(), "{text}");
    assert!(text.contains(&url), "the error names the server: {text}");
    // rustls's own complaint about a plain-HTTP answer, not "unsupported scheme".
    assert!(text.contains("corrupt message"), "{text}");
}

// ---- media downloads

const UNRECOGNIZED: &str = r#"{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}"#;
const NOT_FOUND: &str = r#"{"errcode":"M_NOT_FOUND","error":"Not found"}"#;

#[tokio::test]
async fn a_homeserver_without_authenticated_media_is_asked_the_older_way() {
    let (url, count) = fake_homeserver(vec![(404, UNRECOGNIZED), (200, "the bytes of a photo")]).await;
    let bytes = client_of(&url).download("mxc://localhost/AbC-123_x", 1_000).await.expect("fetched");
    assert_eq!(bytes, b"the bytes of a photo");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2, "v1, then v3");
}

#[tokio::test]
async fn missing_media_is_not_asked_for_twice_and_large_media_is_refused() {
    let (url, count) = fake_homeserver(vec![(404, NOT_FOUND)]).await;
    let error = client_of(&url).download("mxc://localhost/gone", 1_000).await.expect_err("missing");
    assert!(matches!(error, gridloop_chatbot::Error::Api { status: 404, .. }), "{error}");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "the media is missing, not the API");
    let (url, _) = fake_homeserver(vec![(200, "twelve bytes")]).await;
    let error = client_of(&url).download("mxc://localhost/big", 11).await.expect_err("too large");
    assert!(matches!(error, gridloop_chatbot::Error::Protocol(_)) && !error.is_fatal(), "{error}");
}

#[test]
fn only_mxc_uris_name_media() {
    use gridloop_chatbot::client::parse_mxc;
    assert_eq!(parse_mxc("mxc://matrix.org:8448/AbC-123_x").expect("valid"), ("matrix.org:8448", "AbC-123_x"));
    for bad in ["", "https://h/x", "mxc://h", "mxc:///x", "mxc://h/a/b", "mxc://h/../x", "mxc://h/x?y", "mxc://h/é"] {
        assert!(parse_mxc(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn waiting_photos_survive_in_the_state_file() {
    use gridloop_engine::blob::BlobHash;
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("matrix.json");
    let state = StateFile::open(&path).expect("opens");
    let hash = BlobHash::of(b"a photo");
    state.update(|s| s.pending.add("@a:x", hash, t0()).map(|_| ()).expect("kept")).expect("writes");
    let again = StateFile::open(&path).expect("opens");
    assert_eq!(again.get().pending.waiting("@a:x", t0()), [hash]);
    // A state file from before photos reads with none waiting.
    std::fs::write(&path, r#"{"since":null,"log_position":3,"rooms":{}}"#).expect("writes");
    assert_eq!(StateFile::open(&path).expect("opens").get().pending.accounts(), 0);
}
