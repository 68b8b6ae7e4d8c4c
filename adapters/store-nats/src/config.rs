//! How a NATS store is named on the command line: one `nats://` address with
//! the stream's settings and the client's credentials as query options.
//!
//! `nats://host:4222[,host:4223...][?stream=GRIDLOOP&replicas=3&...]`
//!
//! | option       | default    | meaning                                             |
//! |--------------|------------|-----------------------------------------------------|
//! | `stream`     | `GRIDLOOP` | the JetStream stream's name                         |
//! | `prefix`     | `gridloop` | subject prefix; the stream covers `<prefix>.>`      |
//! | `replicas`   | `1`        | 1 or 3 (a new stream; an existing one must match)   |
//! | `dedupe_s`   | `600`      | the duplicate window for `Nats-Msg-Id`, in seconds  |
//! | `create`     | `true`     | create the stream when it is missing                |
//! | `creds`      | —          | a `.creds` file (JWT + nkey seed)                   |
//! | `ca`         | —          | a PEM file of root certificates to trust            |
//! | `cert`,`key` | —          | a client certificate and key (mutual TLS)           |
//! | `tls`        | `false`    | require TLS even if the server does not ask for it  |
//! | `districts`  | —          | a city stream sourced from these districts: read only |
//!
//! A user and password, or a token, go in the address itself
//! (`nats://user:pass@host:4222`), as every NATS client reads them.

use std::path::PathBuf;
use std::time::Duration;

use crate::NatsStoreError;

/// The longest address accepted.
pub const URL_LEN_MAX: usize = 4_096;
/// The duplicate window's lower bound, in seconds. A retried publish is
/// only recognised as a repeat within the window, so it must outlast a
/// client's retries.
pub const DEDUPE_S_MIN: u64 = 10;
/// How many districts one city stream may source.
pub const DISTRICTS_MAX: usize = 99;
/// The duplicate window's upper bound, in seconds (7 days): the server
/// keeps every message id of the window in memory.
pub const DEDUPE_S_MAX: u64 = 7 * 24 * 3_600;

/// A NATS store's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    /// Servers, comma-separated, as async-nats takes them.
    pub servers: String,
    /// The JetStream stream's name (`stream=`, default `GRIDLOOP`).
    pub stream: String,
    /// The subject prefix (`prefix=`, default `gridloop`); the stream covers
    /// `<prefix>.>`, so two stores on one server need two prefixes.
    pub prefix: String,
    /// How many servers hold each message: 1, or 3 for a cluster that
    /// survives losing one node (`replicas=`).
    pub replicas: usize,
    /// How long the server remembers a `Nats-Msg-Id` to drop a repeated
    /// publish (`dedupe_s=`, default 600 seconds).
    pub duplicate_window: Duration,
    /// Whether opening creates the stream when it is missing (`create=`);
    /// false for deployments where an operator provisions it.
    pub create: bool,
    /// A `.creds` file holding a user JWT and nkey seed (`creds=`).
    pub credentials_file: Option<PathBuf>,
    /// A PEM file of root certificates to trust instead of the system's
    /// (`ca=`).
    pub tls_roots: Option<PathBuf>,
    /// A client certificate and its private key, both PEM files, for mutual
    /// TLS (`cert=` and `key=`, given together).
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Whether to insist on TLS even when the server does not ask for it
    /// (`tls=`).
    pub tls_required: bool,
    /// The districts a city stream sources, in order (`districts=a,b`);
    /// empty for a district's own writable stream. A city stream is read
    /// only: its subjects are `<prefix>.<district>.<kind>.<id>`, and the
    /// district's place in this list keeps its ticket numbers apart
    /// ([`crate::layout::city_stream`]).
    pub districts: Vec<String>,
}

impl NatsConfig {
    /// Default settings for the given servers.
    pub fn new(servers: impl Into<String>) -> Self {
        Self {
            servers: servers.into(),
            stream: "GRIDLOOP".into(),
            prefix: "gridloop".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(600),
            create: true,
            credentials_file: None,
            tls_roots: None,
            tls_client: None,
            tls_required: false,
            districts: Vec::new(),
        }
    }

    /// Parses a `nats://` address with its options.
    pub fn parse(url: &str) -> Result<Self, NatsStoreError> {
        let bad = |reason: &str| NatsStoreError::BadUrl { url: url.into(), reason: reason.into() };
        if url.len() > URL_LEN_MAX {
            return Err(bad("is longer than 4096 bytes"));
        }
        let (servers, query) = url.split_once('?').unwrap_or((url, ""));
        if servers.split(',').any(|s| !(s.starts_with("nats://") || s.starts_with("tls://")) || s.len() < 8) {
            return Err(bad("every server must be nats://HOST:PORT or tls://HOST:PORT"));
        }
        let mut config = Self::new(servers);
        let mut cert = None;
        let mut key = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| bad("an option must be name=value"))?;
            match name {
                "stream" => {
                    config.stream = stream_name(value).ok_or_else(|| bad("stream: letters, digits, - and _"))?
                }
                "prefix" => config.prefix = token(value).ok_or_else(|| bad("prefix: letters, digits, - and _"))?,
                "replicas" => {
                    config.replicas = match value {
                        "1" => 1,
                        "3" => 3,
                        _ => return Err(bad("replicas must be 1 or 3")),
                    }
                }
                "dedupe_s" => {
                    let seconds: u64 = value.parse().map_err(|_| bad("dedupe_s must be a whole number of seconds"))?;
                    if !(DEDUPE_S_MIN..=DEDUPE_S_MAX).contains(&seconds) {
                        return Err(bad("dedupe_s must be 10 seconds to 7 days"));
                    }
                    config.duplicate_window = Duration::from_secs(seconds);
                }
                "create" => config.create = flag(value).ok_or_else(|| bad("create must be true or false"))?,
                "tls" => config.tls_required = flag(value).ok_or_else(|| bad("tls must be true or false"))?,
                "creds" => config.credentials_file = Some(path(value).ok_or_else(|| bad("creds: a file path"))?),
                "ca" => config.tls_roots = Some(path(value).ok_or_else(|| bad("ca: a file path"))?),
                "cert" => cert = Some(path(value).ok_or_else(|| bad("cert: a file path"))?),
                "key" => key = Some(path(value).ok_or_else(|| bad("key: a file path"))?),
                "districts" => {
                    config.districts = districts(value)
                        .ok_or_else(|| bad("districts: 1 to 99 distinct names of letters, digits, - and _"))?
                }
                _ => return Err(bad(&format!("unknown option {name:?}"))),
            }
        }
        config.tls_client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(bad("cert and key go together")),
        };
        Ok(config)
    }

    /// Whether this is a city stream, sourced from districts and read only.
    pub fn is_city(&self) -> bool {
        !self.districts.is_empty()
    }

    /// The subjects the stream covers.
    pub fn subjects(&self) -> String {
        format!("{}.>", self.prefix)
    }
}

fn token(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_string())
}

fn districts(value: &str) -> Option<Vec<String>> {
    let names: Vec<String> = value.split(',').map(token).collect::<Option<_>>()?;
    let distinct = names.iter().collect::<std::collections::BTreeSet<_>>().len() == names.len();
    (distinct && names.len() <= DISTRICTS_MAX).then_some(names)
}

fn stream_name(value: &str) -> Option<String> {
    token(value)
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty() && value.len() <= 1_024 && !value.contains('\0')).then(|| PathBuf::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_options() {
        let plain = NatsConfig::parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!(plain, NatsConfig::new("nats://127.0.0.1:4222"));
        let full = NatsConfig::parse(
            "nats://a:1,nats://b:2?stream=OPS&prefix=ops&replicas=3&dedupe_s=120&create=false&creds=/x.creds&tls=1",
        )
        .unwrap();
        assert_eq!(full.servers, "nats://a:1,nats://b:2");
        assert_eq!((full.stream.as_str(), full.prefix.as_str(), full.replicas), ("OPS", "ops", 3));
        assert_eq!(full.duplicate_window, Duration::from_secs(120));
        assert!(!full.create && full.tls_required);
        assert_eq!(full.subjects(), "ops.>");
        assert!(!full.is_city());
        let city = NatsConfig::parse("nats://a:1?stream=CITY&prefix=city&districts=north,south").unwrap();
        assert_eq!(city.districts, ["north", "south"]);
        assert!(city.is_city());
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for url in [
            "http://x:1",
            "nats://x:1?replicas=2",
            "nats://x:1?dedupe_s=1",
            "nats://x:1?stream=a.b",
            "nats://x:1?prefix=a>",
            "nats://x:1?cert=/c",
            "nats://x:1?colour=blue",
            "nats://x:1?stream",
            "nats://x:1?districts=",
            "nats://x:1?districts=a,a",
            "nats://x:1?districts=a.b",
        ] {
            assert!(NatsConfig::parse(url).is_err(), "{url} should be refused");
        }
    }
}
