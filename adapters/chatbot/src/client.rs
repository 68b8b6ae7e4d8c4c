//! A small Matrix client–server API client, over `reqwest` (HTTP/1, with
//! TLS by rustls for `https://` homeservers).
//!
//! Only what the bot needs: `/sync`, sending a text message with a
//! transaction id, joining, creating a direct room, downloading a photo
//! from the media repository ([`Client::download`]), and logging in (for
//! tests and tools). URLs are built by the `url` crate (reqwest's [`Url`]):
//! ids and tokens go in as whole path segments or query values
//! ([`Endpoint`]), percent-encoded by it, so no id can change the route.
//! Redirects are not followed and proxy variables are not read: the bot
//! talks to the one homeserver it was given.
//!
//! Every request runs in a tracing span (`matrix.request`, with the method
//! and the path without the query) and under a timeout. `M_LIMIT_EXCEEDED`
//! (HTTP 429) is waited out: the server's `retry_after_ms` (or
//! `Retry-After`), capped at [`RETRY_AFTER_MAX_MS`], at most
//! [`RATE_LIMIT_RETRIES_MAX`] times; then the caller gets
//! [`Error::RateLimited`] and backs off itself. Answers are read up to
//! [`RESPONSE_BYTES_MAX`].

use std::time::Duration;

pub use reqwest::Method;
use reqwest::Url;
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

/// Where the homeserver is: `http[s]://host[:port][/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Homeserver {
    /// The base URL, its path the prefix without a trailing slash.
    base: Url,
}

impl Homeserver {
    /// Parses `http://` or `https://host[:port][/prefix]`; credentials, a
    /// query or a fragment are refused.
    pub fn parse(url: &str) -> Result<Self, Error> {
        if url.len() > ID_BYTES_MAX {
            return Err(Error::Config("the homeserver URL is too long".into()));
        }
        let bad = |why: &str| Error::Config(format!("homeserver {url:?}: {why}"));
        let mut base = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("only http:// and https:// are supported"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("a query or fragment does not belong in the URL"));
        }
        let prefix = base.path().trim_end_matches('/').to_string();
        base.set_path(&prefix);
        Ok(Self { base })
    }

    /// The URL of `endpoint` on this homeserver, under its prefix.
    pub fn url(&self, endpoint: &Endpoint) -> Result<Url, Error> {
        // `url` silently drops `.` and `..` segments, and an empty one would
        // make `//`: either would send the request somewhere else.
        if let Some(odd) = endpoint.segments.iter().find(|s| matches!(s.as_str(), "" | "." | "..")) {
            return Err(Error::Protocol(format!("{odd:?} cannot be a path segment")));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config(format!("homeserver {self}: not a base URL")))?
            .pop_if_empty()
            .extend(&endpoint.segments);
        if !endpoint.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&endpoint.query);
        }
        Ok(url)
    }
}

impl std::fmt::Display for Homeserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Without a query or fragment, the URL ends with its path.
        f.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

/// A request's place under the homeserver's prefix: path segments, each
/// percent-encoded as one segment (a room id's `/` or `?` stays inside it),
/// and query pairs, form-encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    segments: Vec<String>,
    query: Vec<(String, String)>,
}

impl Endpoint {
    /// A fixed path such as `/_matrix/client/v3/createRoom`, split at its
    /// slashes. It must not hold a query or ids: those go in with
    /// [`Endpoint::query`] and [`Endpoint::segment`].
    pub fn new(path: &str) -> Self {
        let segments = path.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
        Self { segments, query: Vec::new() }
    }

    /// One more path segment, taken whole.
    pub fn segment(mut self, segment: &str) -> Self {
        self.segments.push(segment.to_string());
        self
    }

    /// One more query pair.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }
}

impl From<&str> for Endpoint {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

/// A client acting as one Matrix user.
#[derive(Clone)]
pub struct Client {
    server: Homeserver,
    user_id: String,
    token: String,
    /// Shared by the clones: one connection pool to the homeserver.
    http: reqwest::Client,
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
        Self::with_http(http_client()?, server, user_id, token)
    }

    fn with_http(http: reqwest::Client, server: Homeserver, user_id: &str, token: &str) -> Result<Self, Error> {
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
        Ok(Self { server, user_id: user_id.to_string(), token: token.to_string(), http })
    }

    /// Logs in with a password and returns a client with the new token.
    pub async fn login(server: Homeserver, user: &str, password: &str) -> Result<Self, Error> {
        let body = json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": user },
            "password": password,
        });
        let http = http_client()?;
        let url = server.url(&Endpoint::new("/_matrix/client/v3/login"))?;
        let answer = call(&http, None, Method::POST, url, Some(&body), REQUEST_TIMEOUT).await?;
        let user_id = str_field(&answer, "user_id")?;
        let token = str_field(&answer, "access_token")?;
        Client::with_http(http, server, &user_id, &token)
    }

    /// The Matrix user this client acts as, such as `@gridloop:example.org`;
    /// the bot ignores its own messages by it.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The access token, for writing a token file (a tool, a test); it is a
    /// secret, never to be logged.
    pub fn access_token(&self) -> &str {
        &self.token
    }

    /// The homeserver this client talks to.
    pub fn server(&self) -> &Homeserver {
        &self.server
    }

    /// One request as this user, rate limits waited out.
    pub async fn request(
        &self,
        method: Method,
        endpoint: impl Into<Endpoint>,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let url = self.server.url(&endpoint.into())?;
        call(&self.http, Some(&self.token), method, url, body, REQUEST_TIMEOUT).await
    }

    /// A long-poll `/sync`: answers when something happened or after
    /// `timeout_ms`. `filter` is an inline filter (JSON).
    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64, filter: &str) -> Result<Value, Error> {
        let mut endpoint =
            Endpoint::new("/_matrix/client/v3/sync").query("timeout", &timeout_ms.to_string()).query("filter", filter);
        if let Some(since) = since {
            endpoint = endpoint.query("since", since);
        }
        let url = self.server.url(&endpoint)?;
        let limit = REQUEST_TIMEOUT + Duration::from_millis(timeout_ms);
        call(&self.http, Some(&self.token), Method::GET, url, None, limit).await
    }

    /// Sends a plain-text message; the same `txn_id` twice sends it once
    /// (the homeserver remembers transaction ids per access token).
    pub async fn send_text(&self, room_id: &str, txn_id: &str, text: &str) -> Result<String, Error> {
        let endpoint = Endpoint::new("/_matrix/client/v3/rooms")
            .segment(room_id)
            .segment("send")
            .segment("m.room.message")
            .segment(txn_id);
        let answer = self.request(Method::PUT, endpoint, Some(&json!({ "msgtype": "m.text", "body": text }))).await?;
        str_field(&answer, "event_id")
    }

    /// The bytes of the media `mxc` names (`mxc://server/media-id`), at most
    /// `limit` of them: from the authenticated media API
    /// (`/_matrix/client/v1/media/download`), or, from a homeserver that
    /// does not know it yet, the older `/_matrix/media/v3/download`. Past
    /// `limit` is [`Error::Protocol`] as soon as the length says so, before
    /// the rest is read.
    pub async fn download(&self, mxc: &str, limit: usize) -> Result<Vec<u8>, Error> {
        let (server, media) = parse_mxc(mxc)?;
        let authenticated = Endpoint::new("/_matrix/client/v1/media/download").segment(server).segment(media);
        match self.fetch(&authenticated, limit).await {
            // A homeserver without the authenticated media API answers an
            // unknown endpoint with M_UNRECOGNIZED (404, or 405).
            Err(Error::Api { status: 404 | 405, errcode, .. }) if errcode == "M_UNRECOGNIZED" || errcode.is_empty() => {
                let legacy = Endpoint::new("/_matrix/media/v3/download")
                    .segment(server)
                    .segment(media)
                    .query("allow_redirect", "false");
                self.fetch(&legacy, limit).await
            }
            other => other,
        }
    }

    /// One bounded GET of raw bytes as this user, rate limits waited out.
    async fn fetch(&self, endpoint: &Endpoint, limit: usize) -> Result<Vec<u8>, Error> {
        let url = self.server.url(endpoint)?;
        let server = origin(&url);
        let mut waits = 0;
        loop {
            let request = self.http.get(url.clone()).bearer_auth(&self.token);
            let exchange = async {
                let response = request.send().await.map_err(|e| {
                    Error::Transport(format!("fetching media from {server}: {}", causes(&e.without_url())))
                })?;
                let status = response.status().as_u16();
                let bytes =
                    read_bounded(response, &server, if status < 300 { limit } else { RESPONSE_BYTES_MAX }).await?;
                Ok::<_, Error>((status, bytes))
            };
            let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| {
                Error::Transport(format!("no media from {server} within {} s", REQUEST_TIMEOUT.as_secs()))
            })??;
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let errcode = answer.get("errcode").and_then(Value::as_str).unwrap_or("").to_string();
            if (status == 429 || errcode == "M_LIMIT_EXCEEDED") && waits < RATE_LIMIT_RETRIES_MAX {
                waits += 1;
                let wait_ms = answer.get("retry_after_ms").and_then(Value::as_u64).unwrap_or(RETRY_AFTER_DEFAULT_MS);
                tokio::time::sleep(Duration::from_millis(wait_ms.min(RETRY_AFTER_MAX_MS))).await;
                continue;
            }
            let message = answer.get("error").and_then(Value::as_str).unwrap_or("").chars().take(200).collect();
            return Err(Error::Api { status, errcode, message });
        }
    }

    /// Joins a room the user was invited to.
    pub async fn join(&self, room_id: &str) -> Result<(), Error> {
        let endpoint = Endpoint::new("/_matrix/client/v3/join").segment(room_id);
        self.request(Method::POST, endpoint, Some(&json!({}))).await.map(|_| ())
    }

    /// Creates a private direct room with `invitee` invited; returns its id.
    pub async fn create_direct_room(&self, invitee: &str) -> Result<String, Error> {
        let body = json!({ "preset": "trusted_private_chat", "is_direct": true, "invite": [invitee] });
        let answer = self.request(Method::POST, "/_matrix/client/v3/createRoom", Some(&body)).await?;
        str_field(&answer, "room_id")
    }
}

/// The server name and media id of an `mxc://` URI; anything else (another
/// scheme, a path, characters outside the media id's grammar) is refused,
/// so no sender can point the bot at another route.
pub fn parse_mxc(mxc: &str) -> Result<(&str, &str), Error> {
    let bad = || Error::Protocol(format!("not a media URI: {:?}", mxc.chars().take(64).collect::<String>()));
    let rest = mxc.strip_prefix("mxc://").ok_or_else(bad)?;
    let (server, media) = rest.split_once('/').ok_or_else(bad)?;
    let server_ok = !server.is_empty()
        && server.len() <= 255
        && server.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let media_ok = !media.is_empty()
        && media.len() <= 255
        && media.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if server_ok && media_ok { Ok((server, media)) } else { Err(bad()) }
}

/// A string field of an answer, bounded.
pub fn str_field(answer: &Value, field: &str) -> Result<String, Error> {
    match answer.get(field).and_then(Value::as_str) {
        Some(s) if s.len() <= ID_BYTES_MAX => Ok(s.to_string()),
        _ => Err(Error::Protocol(format!("the answer has no usable {field:?}"))),
    }
}

/// The HTTP client: no redirects (a redirect is not the homeserver the bot
/// was given) and no proxy from the environment (the bot reaches its
/// homeserver directly, as it always has).
fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("gridloop-chatbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("setting up the HTTP client: {}", causes(&e))))
}

/// One request with the rate limit waited out.
async fn call(
    http: &reqwest::Client,
    token: Option<&str>,
    method: Method,
    url: Url,
    body: Option<&Value>,
    limit: Duration,
) -> Result<Value, Error> {
    let span = tracing::debug_span!("matrix.request", method = %method, path = %url.path());
    async move {
        let mut waits = 0;
        loop {
            let (status, retry_header_ms, answer) = once(http, token, method.clone(), &url, body, limit).await?;
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

/// One HTTP exchange, within `limit`: status, `Retry-After` in ms, and the
/// JSON answer (`null` when the body is empty or not JSON).
async fn once(
    http: &reqwest::Client,
    token: Option<&str>,
    method: Method,
    url: &Url,
    body: Option<&Value>,
    limit: Duration,
) -> Result<(u16, Option<u64>, Value), Error> {
    let server = origin(url);
    let exchange = async {
        let mut request = http.request(method, url.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = request.send().await.map_err(|e| {
            let what = if e.is_connect() { "connecting to" } else { "request to" };
            Error::Transport(format!("{what} {server}: {}", causes(&e.without_url())))
        })?;
        let status = response.status().as_u16();
        let retry_after_ms = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000));
        let bytes = read_bounded(response, &server, RESPONSE_BYTES_MAX).await?;
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

/// The body of `response`, refused past `limit` bytes.
async fn read_bounded(mut response: reqwest::Response, server: &str, limit: usize) -> Result<Vec<u8>, Error> {
    let too_large = || Error::Protocol(format!("an answer larger than {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::Transport(format!("reading the answer of {server}: {}", causes(&e.without_url()))))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// `scheme://host[:port]` of `url`, to name the server in errors without
/// the path and query (a sync token, a filter).
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// An error and its causes, `: `-separated: reqwest's own message is only
/// "error sending request"; the cause (refused, TLS, DNS) is below it.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
