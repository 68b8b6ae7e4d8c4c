//! The notifier's one error.

/// What setting up or running the notifier fails with. A failed delivery is
/// not an error: it is retried, then recorded as failed in the outbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log or the personal store failed, or an event did not decode.
    #[error(transparent)]
    Engine(#[from] gridloop_engine::Error),
    /// The outbox's sled trees failed to read or write.
    #[error("the notifier's outbox: {0}")]
    Outbox(String),
    /// A setting is wrong: an SMTP URL, a sender address, a webhook URL or
    /// its secret.
    #[error("notifier setting {setting}: {reason}")]
    Config {
        /// The flag or setting at fault (`--smtp`, `--webhook-secret-file`).
        setting: &'static str,
        /// Why, in a sentence.
        reason: String,
    },
}

impl Error {
    /// Whether the follower may try again (a store or the outbox failing for
    /// a while) rather than stop.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Engine(error) => gridloop_policies::follower::storage_failed(error),
            Error::Outbox(_) => true,
            Error::Config { .. } => false,
        }
    }

    pub(crate) fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        Error::Config { setting, reason: reason.into() }
    }
}

impl From<sled::Error> for Error {
    fn from(error: sled::Error) -> Self {
        Error::Outbox(error.to_string())
    }
}

impl From<Error> for gridloop_engine::Error {
    /// The courier answers the HTTP crate in the engine's error: a broken
    /// outbox is a storage failure (503), a wrong setting an internal one.
    fn from(error: Error) -> Self {
        match error {
            Error::Engine(error) => error,
            Error::Outbox(reason) => gridloop_engine::Error::Storage(reason),
            Error::Config { setting, reason } => gridloop_engine::Error::Storage(format!("{setting}: {reason}")),
        }
    }
}
