//! The one error type of this crate: what can go wrong connecting to NATS and
//! opening the stream. Once open, failures are the engine's `Error::Storage`
//! (retryable) or `Error::Corrupt`, per the store contract.

/// Why a NATS store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum NatsStoreError {
    /// The `nats://` address or one of its options does not parse.
    /// Caller: show the message; the user fixes the flag.
    #[error("bad NATS address {url:?}: {reason}")]
    BadUrl {
        /// The address as given.
        url: String,
        /// What is wrong with it, naming the option at fault.
        reason: String,
    },

    /// No server answered, or credentials/TLS were refused.
    /// Caller: show the message; check the server, the address and the credentials.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The servers tried, comma-separated.
        url: String,
        /// The client's error: unreachable, refused credentials, TLS failure.
        reason: String,
    },

    /// The server is older than gridloop supports (2.10), or has JetStream off.
    /// Caller: show the message; upgrade the server or enable JetStream (`-js`).
    #[error("NATS server {version} is not supported: {reason}")]
    Unsupported {
        /// The version the server reports, such as `2.9.25`.
        version: String,
        /// What gridloop needs that this server lacks.
        reason: String,
    },

    /// The stream exists with a configuration gridloop cannot trust (a limit
    /// that would delete events, memory storage, other subjects...).
    /// Caller: show the message; an operator fixes the stream or picks another name. Never changed for them.
    #[error("stream {stream} exists with {field} = {actual}, but gridloop needs {wanted}")]
    StreamConfig {
        /// The stream's name.
        stream: String,
        /// The stream setting that differs, such as `max_age`.
        field: &'static str,
        /// The setting's value on the server.
        actual: String,
        /// The value gridloop needs.
        wanted: String,
    },

    /// The stream does not exist and creating it was not allowed, or the
    /// server refused to create it. Caller: show the message.
    #[error("stream {stream}: {reason}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// Why it could not be used: missing with `create=false`, or the
        /// server's refusal.
        reason: String,
    },
}
