//! The one error type of the chat bot crate.

use thiserror::Error;

/// What can go wrong between the bot, its homeserver, its state file and
/// the engine. [`Error::is_fatal`] says which errors stop the bot; the
/// others are retried after a back-off, and since nothing is marked done
/// until it is done, a retry repeats no effect.
#[derive(Debug, Error)]
pub enum Error {
    /// The homeserver URL, the user id or the token given at start is
    /// unusable. Caller: fix the configuration; the bot does not start.
    #[error("matrix configuration: {0}")]
    Config(String),

    /// The homeserver could not be reached, the connection broke, or it did
    /// not answer in time. Caller: back off and try again; the sync token is
    /// not advanced, so nothing is lost.
    #[error("matrix homeserver unreachable: {0}")]
    Transport(String),

    /// The homeserver refused the request with a Matrix error. Caller: an
    /// unknown or missing token (401) is fatal, the operator must give a new
    /// one; anything else is logged and retried after a back-off.
    #[error("matrix homeserver answered {status} {errcode}: {message}")]
    Api {
        /// The HTTP status code, such as 401 or 403.
        status: u16,
        /// The Matrix error code, such as `M_UNKNOWN_TOKEN`.
        errcode: String,
        /// The homeserver's own explanation.
        message: String,
    },

    /// Still `M_LIMIT_EXCEEDED` after [`crate::client::RATE_LIMIT_RETRIES_MAX`]
    /// waits. Caller: back off; the batch is tried again later.
    #[error("rate limited by the matrix homeserver; retry after {retry_after_ms} ms")]
    RateLimited {
        /// How long the homeserver asked to wait, in milliseconds.
        retry_after_ms: u64,
    },

    /// The answer was not the JSON expected, or was larger than
    /// [`crate::client::RESPONSE_BYTES_MAX`]. Caller: log it, back off and
    /// retry.
    #[error("unexpected answer from the matrix homeserver: {0}")]
    Protocol(String),

    /// The bot's state file could not be read or written. Caller: stop:
    /// without it a restart could lose or repeat commands and offers.
    #[error("bot state file {path}: {reason}")]
    State {
        /// The state file's path.
        path: String,
        /// What went wrong: the operating system's error, or why the
        /// content is not a bot state.
        reason: String,
    },

    /// The engine refused or its store failed while the bot followed the
    /// log. Caller: a corrupt log is fatal; anything else is retried after
    /// a back-off (a store failure acknowledged nothing).
    #[error(transparent)]
    Engine(#[from] gridloop_engine::Error),
}

impl Error {
    /// Whether the bot must stop rather than retry.
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Config(_) | Error::State { .. } => true,
            Error::Api { status, .. } => *status == 401,
            Error::Engine(e) => matches!(e, gridloop_engine::Error::Corrupt(_)),
            Error::Transport(_) | Error::RateLimited { .. } | Error::Protocol(_) => false,
        }
    }
}
