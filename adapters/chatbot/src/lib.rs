//! gridloop-chatbot: the volunteers' chat bot, and its Matrix transport.
//!
//! Volunteers accept orders where they already are: in chat. The core
//! (grammar, links, bot) knows no network; the Matrix modules drive it from
//! a homeserver and push the engine's offers to volunteers.
//!
//! # Map
//!
//! - [`grammar`]: the command grammar in Chinese and English, forgiving of
//!   full-width characters, spacing and case; [`grammar::parse`] turns one
//!   message into a [`grammar::ChatCommand`] or asks for help.
//! - [`links`]: which chat account speaks for which volunteer, and the
//!   one-time 6-digit codes dispatchers issue to bind them: a fold of the
//!   volunteer events in the log, so links survive restarts.
//! - [`bot`]: [`bot::Bot::handle`], one message in, one sentence out: it
//!   sends the command to the engine as the linked volunteer, with the
//!   message id as the command id, and words the outcome;
//!   [`bot::Bot::photo`], a photo in: checked, stored in the blob store and
//!   kept for the sender's next resolve.
//! - [`pending`]: photos a volunteer sent (`m.image`), waiting for their
//!   next `完成` / `done`, which carries them as after-photos; bounded and
//!   expiring, kept in the state file.
//! - [`notify`]: what an event of the log means for volunteers' chats
//!   (an offer; taken; expired; withdrawn).
//! - [`matrix`]: the transport: `/sync` with the token persisted after
//!   handling, replies, invites, direct rooms, offers pushed from the log.
//! - [`client`]: the small Matrix client–server API client (reqwest,
//!   HTTP/1 over http or https, rate limits waited out); [`state`]: the bot's state file; [`flood`]:
//!   the per-account flood limit; [`guess`]: the bounds on guessing link
//!   codes; [`error`]: the crate's one error.
//!
//! # Invariants
//!
//! - An unlinked account can do nothing but link; a linked account acts only
//!   as its volunteer (`Role::Volunteer` with that volunteer's id).
//! - One message is one command id (its Matrix event id): a redelivered
//!   message writes nothing twice and gets the same answer.
//! - The sync token is saved only after its batch was handled, and the log
//!   position only after its notices were sent; replies and notices carry
//!   transaction ids derived from event ids. A restart loses nothing and
//!   repeats nothing.
//! - Encryption is out of scope for now: the bot reads only unencrypted
//!   rooms, and says so to an encrypted message.
#![warn(missing_docs, unreachable_pub)]

pub mod bot;
pub mod client;
pub mod error;
pub mod flood;
pub mod grammar;
pub mod guess;
pub mod links;
pub mod matrix;
pub mod notify;
pub mod pending;
pub mod state;

pub use bot::{Bot, Reply};
pub use error::Error;
pub use grammar::{ChatCommand, Lang, Parsed, parse};
