//! The Matrix transport: the bot as a Matrix user, driving [`Bot`].
//!
//! [`run`] runs two loops until told to stop:
//!
//! - **Sync.** A long-poll `/sync` from the persisted `since` token. Invites
//!   are accepted (joined). Each `m.text` message from someone else is
//!   counted against the sender's flood limit ([`crate::flood`]), handed to
//!   [`Bot::handle`] with its Matrix event id as the message id (so as the
//!   command id), and answered in the same room. Only when every event of
//!   the batch was handled is the batch's `next_batch` saved. A crash before
//!   that makes the next start see the same messages again: their commands
//!   were recorded under their event ids, so the engine writes nothing
//!   twice, and the replies go out under transaction ids derived from the
//!   event ids, which the homeserver deduplicates. Nothing is lost (the
//!   token never moves past an unhandled message) and nothing runs twice.
//!   When a room had more events than one sync returns (a long stop), the
//!   missed ones are read from the room's history first (`/messages` from
//!   the saved token, at most [`GAP_PAGES_MAX`] pages).
//! - **Offers.** The event log is followed from the persisted position
//!   (catch-up then live); [`crate::notify::notices`] says what each event
//!   means for volunteers, and each notice for a linked volunteer goes to
//!   their direct room, created (and the volunteer invited) when the bot has
//!   none for them yet. The position is saved after the batch's notices were
//!   sent, and the notices' transaction ids come from the event ids, so a
//!   restart re-sends nothing the homeserver has already taken. On the very
//!   first start (no state file) the bot starts at the end of the log: it
//!   does not page volunteers with offers made before it existed.
//!
//! A linked account's direct room is the first room with only the two of
//! them in which it wrote to the bot once linked (usually the room it linked
//! from), or else a room the bot makes for it; it is kept in the state file
//! ([`crate::state`]). Offers never go to a room with others in it.
//!
//! Failures back off from [`BACKOFF_MIN`] to [`BACKOFF_MAX`] and retry;
//! fatal ones ([`Error::is_fatal`]: a refused token, the state file, a
//! corrupt log) end [`run`] with the error. Rate limits are waited out in
//! [`crate::client`].
//!
//! Encryption is out of scope: the bot reads only unencrypted rooms. To an
//! encrypted message it answers, in clear, that it cannot read it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gridloop_engine::blob::BLOB_BYTES_MAX;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::store::EventStore;
use gridloop_policies::follower::{self, Follow};
use serde_json::Value;
use tokio::sync::watch;
use tracing::Instrument;

use crate::client::{Client, Endpoint, Method, str_field};
use crate::flood::{FloodLimit, Verdict};
use crate::grammar::INPUT_CHARS_MAX;
use crate::state::{ROOMS_MAX, StateFile};
use crate::{Bot, Error, notify};

/// How long one `/sync` long-poll waits for something to happen.
pub const SYNC_TIMEOUT_MS: u64 = 30_000;
/// The most timeline events per room one sync returns.
pub const TIMELINE_LIMIT: u32 = 100;
/// The most pages of missed events fetched to fill one gap in a room's
/// timeline (each of the timeline limit).
pub const GAP_PAGES_MAX: usize = 50;
/// The most log events read at once while following the log.
pub const LOG_BATCH_MAX: usize = 200;
/// The longest user, room or event id the bot accepts, in bytes (the Matrix
/// specification's limit).
pub const MATRIX_ID_BYTES_MAX: usize = 255;
/// The first wait after a failure; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// The longest wait between retries after repeated failures, so the bot
/// notices a recovered homeserver or store within half a minute.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

const FLOOD_TEXT: &str = "消息太多，请一分钟后再发。\nToo many messages; please wait a minute.";
const PHOTO_UNREADABLE_TEXT: &str = "这张照片取不到或太大（最大 5 MB），请重发。\n\
     That photo could not be fetched or is too large (at most 5 MB); please send it again.";
const ENCRYPTED_TEXT: &str = "我读不了加密消息，请在不加密的房间里发给我。\n\
     I cannot read encrypted messages; please write to me in an unencrypted room.";

/// How the transport is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bot's Matrix account.
    pub client: Client,
    /// The state file (sync token, log position, direct rooms).
    pub state_path: PathBuf,
    /// The `/sync` long-poll timeout; [`SYNC_TIMEOUT_MS`] in production,
    /// shorter in tests so that a stop is noticed quickly.
    pub sync_timeout_ms: u64,
    /// Events per room per sync; [`TIMELINE_LIMIT`], smaller in tests to
    /// make gaps.
    pub timeline_limit: u32,
}

impl Config {
    /// The production settings for `client`, keeping its state in
    /// `state_path`.
    pub fn new(client: Client, state_path: PathBuf) -> Self {
        Self { client, state_path, sync_timeout_ms: SYNC_TIMEOUT_MS, timeline_limit: TIMELINE_LIMIT }
    }
}

/// Runs the bot on Matrix until `stop` turns true (or its sender is
/// dropped), or until a fatal error.
pub async fn run<S: EventStore>(bot: Arc<Bot<S>>, config: Config, stop: watch::Receiver<bool>) -> Result<(), Error> {
    let state = StateFile::open(&config.state_path)?;
    bot.restore_pending_photos(state.get().pending);
    bot.catch_up().await?;
    if !state.existed() {
        let head = bot.log_position();
        state.update(|s| s.log_position = head)?;
    }
    tracing::info!(user = config.client.user_id(), server = %config.client.server(), "matrix bot running");
    let transport = Transport {
        bot,
        client: config.client,
        state,
        flood: Mutex::new(FloodLimit::new()),
        sync_timeout_ms: config.sync_timeout_ms,
        timeline_limit: config.timeline_limit.clamp(1, TIMELINE_LIMIT),
    };
    tokio::try_join!(transport.sync_loop(stop.clone()), transport.offer_loop(stop))?;
    Ok(())
}

/// What a message holds, as the bot reads it.
enum Input<'a> {
    /// Words: a command, or anything else the grammar answers.
    Text(&'a str),
    /// An image (`m.image`): its `mxc://` URL and the size the sender gave.
    Photo { url: &'a str, size: Option<u64> },
    /// An encrypted message, which the bot cannot read.
    Encrypted,
}

struct Transport<S> {
    bot: Arc<Bot<S>>,
    client: Client,
    state: StateFile,
    flood: Mutex<FloodLimit>,
    sync_timeout_ms: u64,
    timeline_limit: u32,
}

impl<S: EventStore> Transport<S> {
    async fn sync_loop(&self, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
        let filter = serde_json::json!({
            "room": {
                "timeline": { "limit": self.timeline_limit },
                "state": { "lazy_load_members": true },
                "ephemeral": { "types": [] },
                "account_data": { "types": [] },
            },
            "presence": { "types": [] },
            "account_data": { "types": [] },
        })
        .to_string();
        let mut backoff = Backoff::default();
        loop {
            let since = self.state.get().since;
            let answer = tokio::select! {
                () = stopped(&mut stop) => return Ok(()),
                answer = self.client.sync(since.as_deref(), self.sync_timeout_ms, &filter) => answer,
            };
            let handled = match answer {
                Ok(batch) => self.handle_sync(&batch).await,
                Err(e) => Err(e),
            };
            match handled {
                Ok(()) => backoff.reset(),
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "matrix sync failed; the batch will be fetched again");
                    tokio::select! {
                        () = stopped(&mut stop) => return Ok(()),
                        () = tokio::time::sleep(backoff.next()) => {}
                    }
                }
            }
        }
    }

    /// Handles one sync batch, then saves its token.
    async fn handle_sync(&self, batch: &Value) -> Result<(), Error> {
        let next_batch = str_field(batch, "next_batch")?;
        let since = self.state.get().since;
        let rooms = &batch["rooms"];
        for (room_id, room) in rooms["invite"].as_object().into_iter().flatten() {
            self.accept_invite(room_id, room).await?;
        }
        for (room_id, room) in rooms["join"].as_object().into_iter().flatten() {
            let timeline = &room["timeline"];
            let mut events: Vec<&Value> = timeline["events"].as_array().into_iter().flatten().collect();
            // A limited timeline has a gap before it: more events came since
            // the last sync than one sync returns. They are fetched, so a
            // command sent while the bot was away is not lost. (A first sync
            // has no `since`: history from before the bot is not its business.)
            let gap = match (&since, timeline["limited"].as_bool()) {
                (Some(since), Some(true)) => self.missed(room_id, since, timeline["prev_batch"].as_str()).await?,
                _ => vec![],
            };
            let mut seen = std::collections::HashSet::new();
            for event in gap.iter().chain(events.drain(..)) {
                // The gap and the timeline may overlap at their edges.
                if seen.insert(event["event_id"].as_str().unwrap_or("").to_string()) {
                    self.handle_event(room_id, event).await?;
                }
            }
        }
        let left: Vec<&String> = rooms["leave"].as_object().into_iter().flatten().map(|(id, _)| id).collect();
        self.state.update(|s| {
            s.rooms.retain(|_, room| !left.contains(&&*room));
            s.since = Some(next_batch);
        })
    }

    /// The events of `room_id` after the sync token `since` and before
    /// `until` (a limited timeline's `prev_batch`), oldest first, at most
    /// [`GAP_PAGES_MAX`] pages of the timeline limit.
    async fn missed(&self, room_id: &str, since: &str, until: Option<&str>) -> Result<Vec<Value>, Error> {
        let mut events = Vec::new();
        let mut from = since.to_string();
        for _ in 0..GAP_PAGES_MAX {
            let mut endpoint = Endpoint::new("/_matrix/client/v3/rooms")
                .segment(room_id)
                .segment("messages")
                .query("dir", "f")
                .query("limit", &self.timeline_limit.to_string())
                .query("from", &from);
            if let Some(until) = until {
                endpoint = endpoint.query("to", until);
            }
            let page = self.client.request(Method::GET, endpoint, None).await?;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            if chunk.is_empty() {
                return Ok(events);
            }
            events.extend(chunk);
            match page["end"].as_str() {
                Some(end) if end != from => from = end.to_string(),
                _ => return Ok(events),
            }
        }
        tracing::warn!(room = %room_id, "a gap longer than {GAP_PAGES_MAX} pages; the rest is not read");
        Ok(events)
    }

    async fn accept_invite(&self, room_id: &str, room: &Value) -> Result<(), Error> {
        let me = self.client.user_id();
        let inviter = room["invite_state"]["events"].as_array().into_iter().flatten().find_map(|e| {
            let to_me = e["type"] == "m.room.member" && e["state_key"] == me;
            to_me.then(|| e["sender"].as_str()).flatten()
        });
        tracing::info!(room = %room_id, inviter = inviter.unwrap_or("?"), "joining a room the bot was invited to");
        skip_refusal(self.client.join(room_id).await)
    }

    async fn handle_event(&self, room_id: &str, event: &Value) -> Result<(), Error> {
        let sender = event["sender"].as_str().unwrap_or("");
        let event_id = event["event_id"].as_str().unwrap_or("");
        // Matrix ids are at most 255 bytes; anything longer is not a real
        // message and must not reach the tables keyed by sender.
        let bounded = |id: &str| !id.is_empty() && id.len() <= MATRIX_ID_BYTES_MAX;
        if !bounded(sender) || !bounded(event_id) || !bounded(room_id) || sender == self.client.user_id() {
            return Ok(());
        }
        let content = &event["content"];
        let text = match event["type"].as_str() {
            Some("m.room.message") if content["msgtype"] == "m.text" => content["body"].as_str().unwrap_or(""),
            Some("m.room.message") if content["msgtype"] == "m.image" => {
                let span = tracing::info_span!("matrix.photo", %event_id, %sender);
                let photo =
                    Input::Photo { url: content["url"].as_str().unwrap_or(""), size: content["info"]["size"].as_u64() };
                return self.answer(room_id, sender, event_id, photo).instrument(span).await;
            }
            Some("m.room.encrypted") => {
                let span = tracing::info_span!("matrix.message", %event_id, %sender, encrypted = true);
                return self.answer(room_id, sender, event_id, Input::Encrypted).instrument(span).await;
            }
            _ => return Ok(()),
        };
        // The grammar reads at most INPUT_CHARS_MAX characters and refuses
        // longer messages; one character more keeps that refusal.
        let text: String = text.chars().take(INPUT_CHARS_MAX + 1).collect();
        let span = tracing::info_span!("matrix.message", %event_id, %sender);
        self.answer(room_id, sender, event_id, Input::Text(&text)).instrument(span).await
    }

    /// Answers one message, within the sender's flood limit.
    async fn answer(&self, room_id: &str, sender: &str, event_id: &str, input: Input<'_>) -> Result<(), Error> {
        let now = self.bot.service().clock().now();
        let verdict = self.flood.lock().unwrap_or_else(PoisonError::into_inner).check(sender, now);
        let txn = |prefix: &str| format!("{prefix}-{}", &blake3::hash(event_id.as_bytes()).to_hex()[..32]);
        match (verdict, input) {
            (Verdict::Ignore, _) => Ok(()),
            (Verdict::WarnOnce, _) => {
                tracing::info!("flood limit reached; one warning, then silence");
                skip_refusal(self.client.send_text(room_id, &txn("f"), FLOOD_TEXT).await.map(|_| ()))
            }
            (Verdict::Handle, Input::Encrypted) => {
                skip_refusal(self.client.send_text(room_id, &txn("e"), ENCRYPTED_TEXT).await.map(|_| ()))
            }
            (Verdict::Handle, Input::Photo { url, size }) => {
                let text = self.take_photo(sender, url, size).await?;
                skip_refusal(self.client.send_text(room_id, &txn("r"), &text).await.map(|_| ()))
            }
            (Verdict::Handle, Input::Text(text)) => {
                let reply = self.bot.handle(sender, event_id, text).await;
                tracing::info!(code = reply.code, "answered");
                // A resolve may have taken the photos waiting: keep that.
                self.state.update(|s| s.pending = self.bot.pending_photos())?;
                // A linked account's first direct room with the bot becomes
                // the room offers go to. A room with others in it is not
                // used: an offer names a resident's need and place. It is
                // recorded before the reply goes out, so that once the
                // volunteer reads "linked" their offers find this room.
                if self.bot.linked(sender).is_some() && self.state.room(sender).is_none() {
                    let full = self.state.get().rooms.len() >= ROOMS_MAX;
                    if !full && self.is_direct(room_id, sender).await? {
                        self.state.update(|s| {
                            s.rooms.insert(sender.to_string(), room_id.to_string());
                        })?;
                    }
                }
                skip_refusal(self.client.send_text(room_id, &txn("r"), &reply.text).await.map(|_| ()))
            }
        }
    }

    /// Fetches a photo from the media repository and hands it to the bot;
    /// returns the reply. A photo larger than a blob may be is refused by
    /// its announced size before any byte is fetched, and by its length
    /// while fetching. A homeserver that cannot be reached is an error, so
    /// the batch is fetched again; one that refuses the media is a reply.
    async fn take_photo(&self, sender: &str, url: &str, size: Option<u64>) -> Result<String, Error> {
        if self.bot.linked(sender).is_none() {
            // The bot asks an unlinked account to link, without fetching.
            return Ok(self.bot.photo(sender, Vec::new()).await.text);
        }
        if size.is_some_and(|n| n > BLOB_BYTES_MAX as u64) {
            return Ok(PHOTO_UNREADABLE_TEXT.to_string());
        }
        let bytes = match self.client.download(url, BLOB_BYTES_MAX).await {
            Ok(bytes) => bytes,
            Err(e @ (Error::Transport(_) | Error::RateLimited { .. })) => return Err(e),
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                tracing::info!(error = %e, "photo not fetched");
                return Ok(PHOTO_UNREADABLE_TEXT.to_string());
            }
        };
        let reply = self.bot.photo(sender, bytes).await;
        tracing::info!(code = reply.code, "answered a photo");
        // Kept before the reply goes out: "received" is then true after a crash.
        self.state.update(|s| s.pending = self.bot.pending_photos())?;
        Ok(reply.text)
    }

    /// Whether exactly the bot and `account` are joined to `room_id`.
    async fn is_direct(&self, room_id: &str, account: &str) -> Result<bool, Error> {
        let endpoint = Endpoint::new("/_matrix/client/v3/rooms").segment(room_id).segment("joined_members");
        let members = match self.client.request(Method::GET, endpoint, None).await {
            Ok(answer) => answer,
            Err(Error::Api { status: 403 | 404, .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let joined = members["joined"].as_object();
        Ok(joined.is_some_and(|j| j.len() == 2 && j.contains_key(account) && j.contains_key(self.client.user_id())))
    }

    /// Pushes offers and notices as the one log follower does, from the
    /// position the state file saved: a restart neither loses nor repeats
    /// one (the homeserver dedupes a repeat by its transaction id).
    async fn offer_loop(&self, stop: watch::Receiver<bool>) -> Result<(), Error> {
        let store = self.bot.service().store().clone();
        follower::run(&store, &mut Offers(self), stop).await
    }

    /// Sends the notices of one batch of log events, then saves the
    /// position after it.
    async fn push(&self, batch: &[RecordedEvent]) -> Result<(), Error> {
        for event in batch {
            let notices = notify::notices(self.bot.service(), event).await?;
            if notices.is_empty() {
                continue;
            }
            // A volunteer linked a moment ago is reached already.
            self.bot.catch_up().await?;
            for notice in notices {
                let Some(account) = self.bot.account_of(&notice.volunteer) else { continue };
                let span = tracing::info_span!("matrix.notice", kind = notice.kind, volunteer = %notice.volunteer);
                async {
                    let room = self.room_for(&account).await?;
                    let txn = format!("n-{}", &blake3::hash(notice.key.as_bytes()).to_hex()[..32]);
                    skip_refusal(self.client.send_text(&room, &txn, &notice.text).await.map(|_| ()))
                }
                .instrument(span)
                .await?;
            }
        }
        if let Some(last) = batch.last() {
            self.state.update(|s| s.log_position = last.position + 1)?;
        }
        Ok(())
    }

    /// The direct room of `account`: the one known, or a new private room
    /// with the account invited.
    async fn room_for(&self, account: &str) -> Result<String, Error> {
        if let Some(room) = self.state.room(account) {
            return Ok(room);
        }
        let room = self.client.create_direct_room(account).await?;
        tracing::info!(%account, room = %room, "created a direct room");
        self.state.update(|s| {
            s.rooms.insert(account.to_string(), room.clone());
        })?;
        Ok(room)
    }
}

/// The offer pusher as a [`Follow`]er of the log.
struct Offers<'a, S>(&'a Transport<S>);

impl<S: EventStore> Follow for Offers<'_, S> {
    type Error = Error;

    fn name(&self) -> &'static str {
        "chat offers"
    }

    fn is_transient(error: &Error) -> bool {
        !error.is_fatal()
    }

    fn next_position(&self) -> u64 {
        self.0.state.get().log_position.max(1)
    }

    /// The position is saved after each batch: a crash repeats at most one.
    fn batch_max(&self) -> usize {
        LOG_BATCH_MAX
    }

    async fn fold(&mut self, batch: &[RecordedEvent]) -> Result<(), Error> {
        self.0.push(batch).await
    }
}

/// A refusal by the homeserver to join or to send to one room (not in the
/// room, no such room, forbidden) concerns that room only: it is logged and
/// the batch goes on, rather than being retried forever.
fn skip_refusal(result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(Error::Api { status: 400 | 403 | 404, errcode, message }) => {
            tracing::warn!(%errcode, %message, "the homeserver refused; skipped");
            Ok(())
        }
        other => other,
    }
}

/// Resolves once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Doubling waits between retries.
#[derive(Debug, Default)]
struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let wait = self.next.unwrap_or(BACKOFF_MIN);
        self.next = Some((wait * 2).min(BACKOFF_MAX));
        wait
    }

    fn reset(&mut self) {
        self.next = None;
    }
}
