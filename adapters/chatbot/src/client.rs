//! A small Matrix client–server API client over plain HTTP/1.
//!
//! Only what the bot needs: `/sync`, sending a text message with a
//! transaction id, joining, creating a direct room, and logging in (for
//! tests and tools). Each request opens its own connection: the bot talks
//! to one homeserver, usually on the same machine, and one long-poll plus a
//! few sends a second do not need a pool. TLS is not spoken: run the bot
//! beside its homeserver (loopback), or behind a local TLS-terminating
//! proxy.
//!
//! Every request runs in a tracing span (`matrix.request`, with the method
//! and the path without the query) and under a timeout. `M_LIMIT_EXCEEDED`
//! (HTTP 429) is waited out: the server's `retry_after_ms` (or
//! `Retry-After`), capped at [`RETRY_AFTER_MAX_MS`], at most
//! [`RATE_LIMIT_RETRIES_MAX`] times; then the caller gets
//! [`Error::RateLimited`] and backs off itself. Answers are read up to
//! [`RESPONSE_BYTES_MAX`].

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::Error;

/// The largest answer read, in bytes: a sync of a busy account is a few
/// hundred kilobytes.
pub const RESPONSE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// How many times one request waits out `M_LIMIT_EXCEEDED` before giving up.
pub const RATE_LIMIT_RETRIES_MAX: u32 = 5;
/// The longest single wait for the rate limit, whatever the server says.
pub const RETRY_AFTER_MAX_MS: u64 = 60_000;
/// The wait when the server asks to slow down without saying how long.
pub const RETRY_AFTER_DEFAULT_MS: u64 = 1_000;
/// How long a request other than a long-poll may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest homeserver URL, user id, room id or token accepted.
pub const ID_BYTES_MAX: usize = 1_024;

/// Where the homeserver is: `http://host:port[/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Homeserver {
    host: String,
    port: u16,
    prefix: String,
}

impl Homeserver {
    /// Parses `http://host[:port][/prefix]`; `https` is refused (no TLS here).
    pub fn parse(url: &str) -> Result<Self, Error> {
        if url.len() > ID_BYTES_MAX {
            return Err(Error::Config("the homeserver URL is too long".into()));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(Error::Config(format!(
                "homeserver {url:?}: only http:// is supported (run the bot beside its homeserver, or behind a local TLS proxy)"
            )));
        };
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| Error::Config(format!("homeserver {url:?}: bad port")))?;
                (host, port)
            }
            None => (authority, 80),
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '@') {
            return Err(Error::Config(format!("homeserver {url:?}: bad host")));
        }
        let prefix = path.trim_end_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("/{prefix}") };
        Ok(Self { host: host.to_string(), port, prefix })
    }

    fn authority(&self) -> String {
        if self.port == 80 { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }
}

impl std::fmt::Display for Homeserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix)
    }
}

/// A client acting as one Matrix user.
#[derive(Clone)]
pub struct Client {
    server: Homeserver,
    user_id: String,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("Client").field("server", &self.server).field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `user_id` (`@gridloop:example.org`) with its access token.
    pub fn new(server: Homeserver, user_id: &str, token: &str) -> Result<Self, Error> {
        let valid_user = user_id.len() <= 255
            && user_id.starts_with('@')
            && user_id.contains(':')
            && !user_id.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid_user {
            return Err(Error::Config(format!("{user_id:?} is not a Matrix user id like @gridloop:example.org")));
        }
        let token = token.trim();
        if token.is_empty() || token.len() > ID_BYTES_MAX || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config("the access token is empty, too long or not printable ASCII".into()));
        }
        Ok(Self { server, user_id: user_id.to_string(), token: token.to_string() })
    }

    /// Logs in with a password and returns a client with the new token.
    pub async fn login(server: Homeserver, user: &str, password: &str) -> Result<Self, Error> {
        let body = json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": user },
            "password": password,
        });
        let answer =
            call(&server, None, Method::POST, "/_matrix/client/v3/login", Some(&body), REQUEST_TIMEOUT).await?;
        let user_id = str_field(&answer, "user_id")?;
        let token = str_field(&answer, "access_token")?;
        Client::new(server, &user_id, &token)
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The access token, for writing a token file (a tool, a test); it is a
    /// secret, never to be logged.
    pub fn access_token(&self) -> &str {
        &self.token
    }

    pub fn server(&self) -> &Homeserver {
        &self.server
    }

    /// One request as this user, rate limits waited out.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        call(&self.server, Some(&self.token), method, path, body, REQUEST_TIMEOUT).await
    }

    /// A long-poll `/sync`: answers when something happened or after
    /// `timeout_ms`. `filter` is an inline filter (JSON).
    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64, filter: &str) -> Result<Value, Error> {
        let mut path = format!("/_matrix/client/v3/sync?timeout={timeout_ms}&filter={}", encode(filter));
        if let Some(since) = since {
            path.push_str(&format!("&since={}", encode(since)));
        }
        let limit = REQUEST_TIMEOUT + Duration::from_millis(timeout_ms);
        call(&self.server, Some(&self.token), Method::GET, &path, None, limit).await
    }

    /// Sends a plain-text message; the same `txn_id` twice sends it once
    /// (the homeserver remembers transaction ids per access token).
    pub async fn send_text(&self, room_id: &str, txn_id: &str, text: &str) -> Result<String, Error> {
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", encode(room_id), encode(txn_id));
        let answer = self.request(Method::PUT, &path, Some(&json!({ "msgtype": "m.text", "body": text }))).await?;
        str_field(&answer, "event_id")
    }

    /// Joins a room the user was invited to.
    pub async fn join(&self, room_id: &str) -> Result<(), Error> {
        let path = format!("/_matrix/client/v3/join/{}", encode(room_id));
        self.request(Method::POST, &path, Some(&json!({}))).await.map(|_| ())
    }

    /// Creates a private direct room with `invitee` invited; returns its id.
    pub async fn create_direct_room(&self, invitee: &str) -> Result<String, Error> {
        let body = json!({ "preset": "trusted_private_chat", "is_direct": true, "invite": [invitee] });
        let answer = self.request(Method::POST, "/_matrix/client/v3/createRoom", Some(&body)).await?;
        str_field(&answer, "room_id")
    }
}

/// A string field of an answer, bounded.
pub fn str_field(answer: &Value, field: &str) -> Result<String, Error> {
    match answer.get(field).and_then(Value::as_str) {
        Some(s) if s.len() <= ID_BYTES_MAX => Ok(s.to_string()),
        _ => Err(Error::Protocol(format!("the answer has no usable {field:?}"))),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters: room
/// ids (`!abc:host`), transaction ids and sync tokens go into paths and
/// query strings.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One request with the rate limit waited out.
async fn call(
    server: &Homeserver,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
    limit: Duration,
) -> Result<Value, Error> {
    let route = path.split('?').next().unwrap_or(path).to_string();
    let span = tracing::debug_span!("matrix.request", method = %method, path = %route);
    async move {
        let mut waits = 0;
        loop {
            let (status, retry_header_ms, answer) = once(server, token, method.clone(), path, body, limit).await?;
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            let errcode = answer.get("errcode").and_then(Value::as_str).unwrap_or("").to_string();
            if status == 429 || errcode == "M_LIMIT_EXCEEDED" {
                let asked = answer.get("retry_after_ms").and_then(Value::as_u64).or(retry_header_ms);
                let wait_ms = asked.unwrap_or(RETRY_AFTER_DEFAULT_MS).min(RETRY_AFTER_MAX_MS);
                if waits >= RATE_LIMIT_RETRIES_MAX {
                    return Err(Error::RateLimited { retry_after_ms: wait_ms });
                }
                waits += 1;
                tracing::info!(wait_ms, waits, "rate limited by the homeserver; waiting");
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                continue;
            }
            let message = answer.get("error").and_then(Value::as_str).unwrap_or("").chars().take(200).collect();
            return Err(Error::Api { status, errcode, message });
        }
    }
    .instrument(span)
    .await
}

/// One HTTP exchange on a fresh connection: status, `Retry-After` in ms,
/// and the JSON answer (`null` when the body is empty or not JSON).
async fn once(
    server: &Homeserver,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
    limit: Duration,
) -> Result<(u16, Option<u64>, Value), Error> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((server.host.as_str(), server.port))
            .await
            .map_err(|e| Error::Transport(format!("connecting to {server}: {e}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::Transport(format!("handshake with {server}: {e}")))?;
        // The connection is driven by its own task and ends with the request.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "matrix connection closed with an error");
            }
        });
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.prefix))
            .header(hyper::header::HOST, server.authority())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| Error::Protocol(format!("building a request: {e}")))?;
        let response =
            sender.send_request(request).await.map_err(|e| Error::Transport(format!("request to {server}: {e}")))?;
        let status = response.status().as_u16();
        let retry_after_ms = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000));
        let collected = Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| Error::Protocol(format!("reading the answer (at most {RESPONSE_BYTES_MAX} bytes): {e}")))?;
        let bytes = collected.to_bytes();
        let answer = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if (200..300).contains(&status) && !answer.is_object() {
            return Err(Error::Protocol(format!("status {status} with a body that is not a JSON object")));
        }
        Ok((status, retry_after_ms, answer))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| Error::Transport(format!("no answer from {server} within {} s", limit.as_secs())))?
}
