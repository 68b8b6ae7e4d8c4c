//! The bot core: one chat message in, one short sentence out.
//!
//! [`Bot::handle`] parses the message, checks who sent it against the
//! [`Links`] table (a fold of the log, caught up before every message), and
//! sends the command to the engine's
//! [`CommandService`] as the linked volunteer (`Role::Volunteer`, the
//! volunteer's id): an account never acts as anyone else. The chat message's
//! id becomes the command id, so a message delivered twice (a transport
//! retry, a restart before the sync token was saved) is recognised by the
//! engine and writes nothing the second time; its reply is the same.
//!
//! Every engine outcome is one sentence in the language of the command
//! ([`grammar::language`]), with a stable [`Reply::code`] beside it for
//! transports and tests.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use gridloop_engine::Error;
use gridloop_engine::blob::{BlobStore, RESULT_PHOTOS_MAX};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::{CommandId, TicketId, VolunteerId};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, TicketCommand, TicketEvent};
use gridloop_engine::volunteer::{VolunteerCommand, link_code_hash};

use crate::grammar::{self, ChatCommand, Lang, Parsed};
use crate::guess::GuessLimit;
use crate::links::{self, Links};
use crate::pending::{PendingPhotos, Refusal};

/// The most events `mine` reads while looking for the volunteer's tickets.
/// A full scan is fine for a pilot; the board projection will answer this
/// once the bot runs beside it.
pub const SCAN_EVENTS_MAX: usize = 1_000_000;
/// The most ticket ids `mine` lists in its one sentence.
pub const MINE_LISTED_MAX: usize = 10;
const SCAN_PAGE: usize = 1_000;

/// The answer to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The language of the command word the volunteer used, or, without
    /// one, Chinese if the message has Chinese characters, else English.
    pub lang: Lang,
    /// A stable machine code: `accepted`, `already_taken`, `link_first`...
    pub code: &'static str,
    /// One short sentence for the volunteer.
    pub text: String,
}

/// The chat bot, transport aside: it turns a volunteer's message into an
/// engine command and the outcome into a reply. Shared by reference between
/// the transport's tasks; its tables sit behind their own locks.
pub struct Bot<S> {
    service: Arc<CommandService<S>>,
    links: Mutex<Links>,
    guesses: Mutex<GuessLimit>,
    /// Where photos go (`None`: the bot refuses photos rather than drop them).
    blobs: Option<Arc<dyn BlobStore>>,
    /// Photos waiting for their sender's next resolve.
    pending: Mutex<PendingPhotos>,
}

impl<S> std::fmt::Debug for Bot<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("photos", &self.blobs.is_some()).finish_non_exhaustive()
    }
}

impl<S: EventStore> Bot<S> {
    /// A bot sending its commands through `service`, with an empty link
    /// table that the first [`Bot::catch_up`] fills from the log.
    pub fn new(service: Arc<CommandService<S>>) -> Self {
        Self {
            service,
            links: Mutex::new(Links::new()),
            guesses: Mutex::new(GuessLimit::new()),
            blobs: None,
            pending: Mutex::default(),
        }
    }

    /// Keeps the photos volunteers send in `blobs` (the deployment's blob
    /// store), to go with their next resolve.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// A copy of the photos waiting, for the transport to keep in its
    /// state file after each message.
    pub fn pending_photos(&self) -> PendingPhotos {
        self.pending().clone()
    }

    /// Puts back the photos waiting, as the state file kept them.
    pub fn restore_pending_photos(&self, pending: PendingPhotos) {
        *self.pending() = pending;
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, PendingPhotos> {
        // Every change to the table is one call that leaves it consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles a photo `sender` sent (its bytes, fetched by the transport):
    /// checked as every photo is, stored, and kept for the sender's next
    /// `完成` / `done`. A photo carries no words to tell the language by,
    /// so the reply is in both.
    pub async fn photo(&self, sender: &str, bytes: Vec<u8>) -> Reply {
        if let Err(e) = self.catch_up().await {
            return refused(Lang::Zh, None, &e);
        }
        if self.linked(sender).is_none() {
            return both(
                "link_first",
                "请先绑定：绑定 123456（向调度员要绑定码）。",
                "Please link first: link 123456 (ask a dispatcher for the code).",
            );
        }
        let Some(blobs) = &self.blobs else {
            return both("photo_refused", "这里不收照片。", "This bot keeps no photos.");
        };
        // The same check as every photo's: a real JPEG, PNG or WebP by its
        // bytes, bounded in size and pixels, stored without its metadata.
        let photo = match gridloop_media::check(&bytes) {
            Ok(photo) => photo,
            Err(e) => {
                tracing::info!(error = %e, "photo refused");
                return both(
                    "photo_refused",
                    "这不是可用的照片（JPEG、PNG 或 WebP，最大 5 MB）。",
                    "That is not a photo that can be kept (JPEG, PNG or WebP, at most 5 MB).",
                );
            }
        };
        let hash = match blobs.put(photo.bytes).await {
            Ok(hash) => hash,
            Err(e) => return refused(Lang::Zh, None, &e),
        };
        let now = self.service.clock().now();
        match self.pending().add(sender, hash, now) {
            Ok(n) => both(
                "photo_received",
                &format!("已收到照片（{n} 张），会随你下一条“完成”一起提交。"),
                &format!("Photo received ({n}) — it will go with your next done."),
            ),
            Err(Refusal::Full) => both(
                "photos_full",
                &format!("已有 {RESULT_PHOTOS_MAX} 张照片等待提交，请先发“完成”。"),
                &format!("{RESULT_PHOTOS_MAX} photos are already waiting; send done first."),
            ),
            Err(Refusal::Busy) => both(
                "photos_busy",
                "现在收不了照片，请稍后再发。",
                "Photos cannot be taken right now; please send it again later.",
            ),
        }
    }

    /// The command service the bot acts through; the transport reads the
    /// log and the clock through it.
    pub fn service(&self) -> &CommandService<S> {
        &self.service
    }

    /// Folds the volunteer events written since the last call into the link
    /// table.
    pub async fn catch_up(&self) -> Result<(), Error> {
        let from = self.links().next_position();
        let (events, end) = links::unread(self.service.store(), from).await?;
        self.links().fold(&events, end)
    }

    /// The log position after the last event the link table has read.
    pub fn log_position(&self) -> u64 {
        self.links().next_position()
    }

    /// The volunteer `account` is linked to, if any (as of the last catch-up).
    pub fn linked(&self, account: &str) -> Option<VolunteerId> {
        self.links().volunteer(account).cloned()
    }

    /// The account `volunteer` is linked to, if any (as of the last catch-up).
    pub fn account_of(&self, volunteer: &VolunteerId) -> Option<String> {
        self.links().account(volunteer).map(str::to_string)
    }

    /// Handles one message: `sender` is the chat account (a Matrix user id),
    /// `message_id` the chat's id of the message (a Matrix event id).
    pub async fn handle(&self, sender: &str, message_id: &str, text: &str) -> Reply {
        let lang = grammar::language(text);
        let parsed = grammar::parse(text);
        if let Err(e) = self.catch_up().await {
            return refused(lang, None, &e);
        }
        if let Parsed::Command(ChatCommand::Link(code)) = &parsed {
            return self.link(lang, sender, message_id, code).await;
        }
        let Some(volunteer) = self.linked(sender) else {
            return reply(
                lang,
                "link_first",
                "请先绑定：绑定 123456（向调度员要绑定码）。".into(),
                "Please link first: link 123456 (ask a dispatcher for the code).".into(),
            );
        };
        let command = match parsed {
            Parsed::Command(command) => command,
            Parsed::Help => return help(lang),
        };
        match command {
            ChatCommand::Help | ChatCommand::Link(_) => help(lang),
            ChatCommand::Mine => self.mine(lang, &volunteer).await,
            ChatCommand::Points => match self.service.volunteer(&volunteer).await {
                Ok(state) => {
                    let n = state.points_balance;
                    reply(lang, "points", format!("你的积分：{n}。"), format!("Your balance is {n} points."))
                }
                Err(e) => refused(lang, None, &e),
            },
            ChatCommand::Accept(ticket) => {
                let by = Assignee::Volunteer(volunteer.clone());
                let done = (
                    "accepted",
                    format!("已接单 {ticket}，请尽快前往。"),
                    format!("You accepted {ticket}; please go there soon."),
                );
                self.run(lang, &volunteer, message_id, ticket, TicketCommand::AcceptOffer { by }, done).await
            }
            ChatCommand::Decline(ticket, reason) => {
                let by = Assignee::Volunteer(volunteer.clone());
                let done = ("declined", format!("已拒绝 {ticket}。"), format!("You declined {ticket}."));
                self.run(lang, &volunteer, message_id, ticket, TicketCommand::DeclineOffer { by, reason }, done).await
            }
            ChatCommand::Start(ticket) => {
                let done = ("started", format!("已到达 {ticket}，开始处理。"), format!("You started on {ticket}."));
                self.run(lang, &volunteer, message_id, ticket, TicketCommand::Start, done).await
            }
            ChatCommand::Done { ticket, minutes, result } => {
                self.resolve(lang, sender, &volunteer, message_id, ticket, minutes, result).await
            }
        }
    }

    /// Resolves `ticket` as `volunteer`, with the photos `sender` sent and
    /// that still wait; they stop waiting only once the engine took them.
    #[allow(clippy::too_many_arguments)]
    async fn resolve(
        &self,
        lang: Lang,
        sender: &str,
        volunteer: &VolunteerId,
        message_id: &str,
        ticket: TicketId,
        minutes: u32,
        result: String,
    ) -> Reply {
        let photos = self.pending().waiting(sender, self.service.clock().now());
        let n = photos.len();
        let (zh_photos, en_photos) = match n {
            0 => (String::new(), String::new()),
            1 => ("，附照片 1 张".to_string(), ", with 1 photo".to_string()),
            n => (format!("，附照片 {n} 张"), format!(", with {n} photos")),
        };
        let done = (
            "resolved",
            format!("{ticket} 已完成，用时 {}{zh_photos}。", minutes_zh(minutes)),
            format!("{ticket} is resolved, in {}{en_photos}.", minutes_en(minutes)),
        );
        let command = TicketCommand::Resolve { result, minutes_spent: minutes, photos: photos.clone() };
        let reply = self.run(lang, volunteer, message_id, ticket, command, done).await;
        if reply.code == "resolved" {
            self.pending().remove(sender, &photos);
        }
        reply
    }

    /// Links `sender` with `code`: finds whose code it is, and asks the
    /// engine, which checks the code's hash and expiry and uses it up.
    async fn link(&self, lang: Lang, sender: &str, message_id: &str, code: &str) -> Reply {
        let command_id = command_id(message_id);
        let linked =
            |v: &VolunteerId| reply(lang, "linked", format!("已绑定志愿者 {v}。"), format!("Linked to volunteer {v}."));
        let refused_link = || {
            reply(
                lang,
                "link_refused",
                "绑定码无效、已过期或已用过，请向调度员要一个新的。".into(),
                "That link code is unknown, expired or used; ask a dispatcher for a new one.".into(),
            )
        };
        // A redelivered link message: its code is used up, but it is the
        // message that linked this account, so it gets the same answer.
        if let Some(link) = self.links().link(sender).filter(|l| l.linked_by == command_id) {
            return linked(&link.volunteer);
        }
        let now = self.service.clock().now();
        let guesses = || self.guesses.lock().unwrap_or_else(PoisonError::into_inner);
        if !guesses().allowed(sender, now) {
            return reply(
                lang,
                "link_paused",
                "绑定码错误次数太多，请一小时后再试，或联系调度员。".into(),
                "Too many wrong link codes; try again in an hour, or ask a dispatcher.".into(),
            );
        }
        let Some(volunteer) = self.links().code_holder(&link_code_hash(code), now).cloned() else {
            guesses().failed(sender, now);
            return refused_link();
        };
        let envelope = CommandEnvelope {
            command_id,
            correlation_id: None,
            actor: Actor::system(),
            command: Command::Volunteer {
                id: volunteer.clone(),
                command: VolunteerCommand::LinkChat { account: sender.to_string(), code: code.to_string() },
            },
            expected_version: None,
        };
        match self.service.execute(envelope).await {
            Ok(_) => {
                // Fold the link in now, so the next message already finds it.
                if let Err(e) = self.catch_up().await {
                    return refused(lang, None, &e);
                }
                linked(&volunteer)
            }
            Err(Error::Invalid { .. } | Error::NotPermitted { .. }) => {
                guesses().failed(sender, now);
                refused_link()
            }
            Err(e) => refused(lang, None, &e),
        }
    }

    fn links(&self) -> std::sync::MutexGuard<'_, Links> {
        // The table is consistent after every call, so a panic elsewhere
        // while it was held leaves nothing half-done: keep using it.
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a ticket command as `volunteer` and answers in one sentence.
    async fn run(
        &self,
        lang: Lang,
        volunteer: &VolunteerId,
        message_id: &str,
        ticket: TicketId,
        command: TicketCommand,
        (code, zh, en): (&'static str, String, String),
    ) -> Reply {
        let envelope = CommandEnvelope {
            command_id: command_id(message_id),
            correlation_id: None,
            actor: Actor::new(Role::Volunteer, volunteer.as_str()).expect("a volunteer id is a valid actor id"),
            command: Command::Ticket { id: ticket.clone(), command },
            expected_version: None,
        };
        match self.service.execute(envelope).await {
            Ok(_) => reply(lang, code, zh, en),
            Err(e) => refused(lang, Some(&ticket), &e),
        }
    }

    /// The tickets `volunteer` holds now: every ticket ever accepted by or
    /// reassigned to them (one bounded scan of the log), each checked
    /// against its current state.
    async fn mine(&self, lang: Lang, volunteer: &VolunteerId) -> Reply {
        let me = Assignee::Volunteer(volunteer.clone());
        let mut candidates = BTreeSet::new();
        let mut scan = self.service.store().scan(1).batch_max(SCAN_PAGE);
        let mut scanned = 0;
        while scanned < SCAN_EVENTS_MAX {
            let page = match scan.next_batch().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) => return refused(lang, None, &e),
            };
            scanned += page.len();
            for event in page.iter().filter(|e| e.stream.kind() == "ticket") {
                let held = match event.decode::<TicketEvent>() {
                    Ok(TicketEvent::Accepted { by, .. }) => by == me,
                    Ok(TicketEvent::Reassigned { to, .. }) => to == me,
                    _ => false,
                };
                if held {
                    candidates.extend(TicketId::new(event.stream.id()).ok());
                }
            }
        }
        let mut held = Vec::new();
        for id in candidates {
            match self.service.ticket(&id).await {
                Ok(t) if t.status.is_held() && t.holder.as_ref() == Some(&me) => held.push(id),
                Ok(_) => {}
                Err(e) => return refused(lang, None, &e),
            }
        }
        if held.is_empty() {
            return reply(lang, "mine", "你手上没有工单。".into(), "You hold no tickets.".into());
        }
        // Ticket ids sort as text, not numbers: order them by number so the
        // list reads naturally.
        held.sort_by_key(TicketId::number);
        let n = held.len();
        let mut list = held.iter().take(MINE_LISTED_MAX).map(TicketId::as_str).collect::<Vec<_>>().join(", ");
        if n > MINE_LISTED_MAX {
            list.push_str(", …");
        }
        reply(lang, "mine", format!("你手上有 {n} 单：{list}。"), format!("You hold {n}: {list}."))
    }
}

/// The command id of a message: its id if that is a valid command id (a
/// Matrix event id is), else the BLAKE3 hex of it, so that any message id
/// still maps to one stable command id.
pub fn command_id(message_id: &str) -> CommandId {
    CommandId::new(message_id).unwrap_or_else(|_| {
        CommandId::new(blake3::hash(message_id.as_bytes()).to_hex().as_str()).expect("64 hex digits are a valid id")
    })
}

/// A reply in both languages, Chinese first, for messages without words.
fn both(code: &'static str, zh: &str, en: &str) -> Reply {
    Reply { lang: Lang::Zh, code, text: format!("{zh}\n{en}") }
}

fn reply(lang: Lang, code: &'static str, zh: String, en: String) -> Reply {
    Reply { lang, code, text: if lang == Lang::Zh { zh } else { en } }
}

fn help(lang: Lang) -> Reply {
    reply(
        lang,
        "help",
        "可用命令：接单 T-1024，拒绝 T-1024 原因，到达 T-1024，完成 T-1024 2小时 已修好，我的，积分，绑定 123456。".into(),
        "Commands: accept T-1024, decline T-1024 reason, start T-1024, done T-1024 1h30m fixed, mine, points, link 123456."
            .into(),
    )
}

/// One sentence for each way the engine can refuse.
fn refused(lang: Lang, ticket: Option<&TicketId>, error: &Error) -> Reply {
    let t = ticket.map_or_else(String::new, |t| t.to_string());
    let (zh, en) = match error {
        Error::AlreadyTaken { .. } => {
            (format!("{t} 已被其他志愿者接走。"), format!("{t} has already been taken by another volunteer."))
        }
        Error::NotOffered { .. } => (format!("{t} 没有派给你。"), format!("{t} was not offered to you.")),
        Error::NotFound { .. } => (format!("没有工单 {t}。"), format!("There is no ticket {t}.")),
        Error::OfferExpired { .. } => (format!("{t} 的派单已过期。"), format!("The offer of {t} has expired.")),
        Error::NotHolder { .. } => (format!("{t} 不在你名下。"), format!("{t} is not yours.")),
        Error::IllegalTransition { status, .. } => {
            (format!("{t} 现在的状态（{status}）不能这样做。"), format!("{t} is {status}; that cannot be done now."))
        }
        Error::NotPermitted { .. } => ("你不能这样做。".into(), "You may not do that.".into()),
        Error::Invalid { .. } => {
            ("内容不符合要求，请检查后再发。".into(), "Something in that is not valid; please check it.".into())
        }
        // Nothing was written; the same message may be sent again.
        Error::Contended { .. } | Error::WrongExpectedVersion { .. } | Error::Storage(_) => {
            ("系统忙，请稍后再发一次。".into(), "The system is busy; please send it again later.".into())
        }
        _ => ("出错了，请联系调度员。".into(), "Something went wrong; please tell a dispatcher.".into()),
    };
    reply(lang, error.code(), zh, en)
}

fn minutes_zh(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}分钟"),
        (h, 0) => format!("{h}小时"),
        (h, m) => format!("{h}小时{m}分钟"),
    }
}

fn minutes_en(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}
