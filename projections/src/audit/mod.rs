//! What an auditor reads: a ticket's timeline, and the hash chain checked.
//!
//! These are pure folds over events as read from a store; the binary reads
//! the store and prints (`gridloop audit`, `gridloop audit --all --verify`).
//!
//! # Timeline
//!
//! [`audit_ticket`] folds a ticket's stream event by event with the engine's
//! own `Ticket::evolve`, so the state shown after each event is the state the
//! command service saw. For each event it says who acted, what changed in a
//! short sentence, the state after it, and which deadlines the event ended,
//! met or missed:
//!
//! - taking the ticket (accepted, assigned, self-handled) against the accept
//!   deadline (受理时限, only the first time it is taken: that is what the
//!   acceptance rate judges) and against the tier's response deadline after
//!   an escalation or reopening;
//! - resolving against the resolve deadline the on-time rate judges (the
//!   engine's `TicketEvent::judged_resolve_by`: from the submission or the
//!   last reopening), and also against a renewed one an escalation gave,
//!   when there is one;
//! - a summoned department's report against its report deadline;
//! - an escalation: the running deadlines it found already passed.
//!
//! `as_of` keeps the longest prefix of the stream whose events occurred at or
//! before that instant, and judges every running deadline against it.
//! [`render_text`] lays the timeline out for a terminal.
//!
//! # Verifying
//!
//! [`LogVerifier`] takes events in log order and checks, per stream, that
//! versions run 1, 2, 3… without gaps, that each event's `prev_hash` is the
//! previous event's hash and its own hash matches its contents (the engine's
//! `RecordedEvent::verify`), and that positions strictly increase. It keeps
//! one head (version, hash) per stream, so the whole log streams through it.
//! Seals are checked by the engine's `seal::SealChecker`, next to what they
//! sign.

mod chain;
pub mod heads;
mod text;
mod timeline;

pub use chain::{ChainBreak, LogVerifier, VerifiedChain, VerifySummary, verify_log, verify_ticket_stream};
pub use text::{render_text, span};
pub use timeline::{DeadlineCheck, RunningDeadline, StateAfter, StateAsOf, TicketAudit, TimelineEntry, audit_ticket};
