//! gridloop-chatbot: the chat bot's core, with no transport and no network.
//!
//! Volunteers accept orders where they already are: in chat. This crate is
//! what the bot understands and answers; the Matrix transport (sync, rooms,
//! rate limits) will drive it from outside.
//!
//! # Map
//!
//! - [`grammar`]: the command grammar in Chinese and English, forgiving of
//!   full-width characters, spacing and case; [`grammar::parse`] turns one
//!   message into a [`grammar::ChatCommand`] or asks for help.
//! - [`links`]: which chat account speaks for which volunteer, and the
//!   one-time 6-digit codes dispatchers issue to bind them.
//! - [`bot`]: [`bot::Bot::handle`], one message in, one sentence out: it
//!   sends the command to the engine as the linked volunteer, with the
//!   message id as the command id, and words the outcome.
//!
//! # Invariants
//!
//! - An unlinked account can do nothing but link; a linked account acts only
//!   as its volunteer (`Role::Volunteer` with that volunteer's id).
//! - One message is one command id: a redelivered message writes nothing
//!   twice and gets the same answer.
//! - Encryption is out of scope for now: the bot reads only unencrypted
//!   rooms.

pub mod bot;
pub mod grammar;
pub mod links;

pub use bot::{Bot, Reply};
pub use grammar::{ChatCommand, Lang, Parsed, parse};
