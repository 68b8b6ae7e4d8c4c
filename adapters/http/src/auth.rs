//! Bearer tokens: who is calling.
//!
//! A token is 32 random bytes, shown once as 64 hex characters when it is
//! issued. The table keeps only its BLAKE3 hash, so a leaked table (or token
//! file) grants nothing; a request's token is hashed and looked up, never
//! compared as text, and the hashes compare in constant time. A token names
//! a [`Principal`] (the engine's, `gridloop_engine::permit`): the [`Actor`]
//! (role and id) its commands are signed with, and for a dispatcher or grid
//! worker the place in the grid tree they serve.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use gridloop_engine::Error;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::GridCode;
use gridloop_engine::store::EventStore;
use serde::{Deserialize, Serialize};

use crate::{AppError, AppState};

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// The most tokens one table holds (a token file larger than this is refused).
pub const TOKENS_MAX: usize = 100_000;
/// The largest token file read, in bytes.
pub const TOKEN_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

pub use gridloop_engine::permit::Principal;

/// One row of the table as it is persisted: the token's hash, never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// BLAKE3 of the token's text, hex.
    pub hash: String,
    /// Who the token belongs to.
    pub principal: Principal,
}

/// Token hashes and who they belong to.
#[derive(Clone, Debug, Default)]
pub struct TokenTable {
    /// Keyed by `blake3::Hash`, whose equality is constant-time: a lookup
    /// compares the presented token's hash with a stored one without leaking
    /// through timing how much of it matched.
    by_hash: HashMap<blake3::Hash, Principal>,
}

impl TokenTable {
    /// An empty table: no token is accepted until one is inserted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a new token for `role` and `subject` (and a dispatcher's or
    /// grid worker's `place`; a door checks them against the district first,
    /// with [`Principal::admit`]): the token text, to hand to its holder once, and the entry
    /// to [`insert`](Self::insert) and persist. The system role is the
    /// engine's own and gets no token.
    pub fn issue(role: Role, subject: &str, place: Option<GridCode>) -> Result<(String, TokenEntry), Error> {
        if role == Role::System {
            return Err(Error::invalid("role", "the system role is the engine's own"));
        }
        if place.is_some() {
            gridloop_engine::permit::may_serve_a_place(role)?;
        }
        let actor = Actor::new(role, subject)?;
        let token = crate::random_hex(TOKEN_BYTES)
            .map_err(|e| Error::Storage(format!("no randomness from the operating system: {e}")))?;
        let hash = blake3::hash(token.as_bytes()).to_hex().to_string();
        Ok((token, TokenEntry { hash, principal: Principal { actor, place } }))
    }

    /// Adds `entry` (a hash from [`issue`](Self::issue) or a token file),
    /// replacing any principal under the same hash. Fails when the hash is not
    /// 64 hex digits or the table already holds [`TOKENS_MAX`] tokens.
    pub fn insert(&mut self, entry: TokenEntry) -> Result<(), Error> {
        let hash = blake3::Hash::from_hex(&entry.hash).map_err(|_| Error::invalid("token hash", "must be 64 hex"))?;
        if self.by_hash.len() >= TOKENS_MAX {
            return Err(Error::invalid("tokens", "the table is full"));
        }
        self.by_hash.insert(hash, entry.principal);
        Ok(())
    }

    /// A token's public id: the first 16 hex digits of its hash (the hash
    /// is no secret; it names a token for listing and revoking).
    pub fn id_of(hash: &blake3::Hash) -> String {
        hash.to_hex()[..16].to_string()
    }

    /// Removes the token whose id is `id`; what it was, if it was there.
    pub fn revoke(&mut self, id: &str) -> Option<TokenEntry> {
        let hash = *self.by_hash.keys().find(|h| Self::id_of(h) == id)?;
        let principal = self.by_hash.remove(&hash)?;
        Some(TokenEntry { hash: hash.to_hex().to_string(), principal })
    }

    /// Who holds `token`, if anyone.
    pub fn lookup(&self, token: &str) -> Option<&Principal> {
        self.by_hash.get(&blake3::hash(token.as_bytes()))
    }

    /// Whether the token hashed `hash` is in the table.
    pub fn holds(&self, hash: &blake3::Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Tokens in the table.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the table holds no token (then every request is unauthorized).
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The rows, for persisting (hashes only).
    pub fn entries(&self) -> Vec<TokenEntry> {
        let mut rows: Vec<TokenEntry> = self
            .by_hash
            .iter()
            .map(|(hash, principal)| TokenEntry { hash: hash.to_hex().to_string(), principal: principal.clone() })
            .collect();
        rows.sort_by(|a, b| a.hash.cmp(&b.hash));
        rows
    }

    /// Reads a token file (a JSON array of [`TokenEntry`]).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let size = std::fs::metadata(path)?.len();
        if size > TOKEN_FILE_BYTES_MAX {
            return Err(std::io::Error::other(format!(
                "{} is larger than {TOKEN_FILE_BYTES_MAX} bytes",
                path.display()
            )));
        }
        let rows: Vec<TokenEntry> = serde_json::from_slice(&std::fs::read(path)?)?;
        let mut table = Self::new();
        for row in rows {
            table.insert(row).map_err(std::io::Error::other)?;
        }
        Ok(table)
    }

    /// Writes the token file whole: to a temporary file, then renamed over
    /// the old one, so a crash leaves the old file or the new, never half.
    /// The file is made readable and writable by its owner only (0600 on
    /// Unix), before any byte is written: a hash grants nothing, but who
    /// holds which role and place is the operator's to know.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        let temporary = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        // A temporary file left by an older version may have other bits.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(&self.entries())?)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    }
}

/// The caller of a request, from its `Authorization: Bearer` header.
/// Extracting it first means a request without a valid token gets 401
/// before its body is read.
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl<S: EventStore> FromRequestParts<AppState<S>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, AppError> {
        let token = bearer_token(&parts.headers).ok_or(AppError::Unauthorized)?;
        state.authenticate(token).map(Caller)
    }
}

/// The token of an `Authorization: Bearer <token>` header, trimmed. The
/// scheme's name is case-insensitive (RFC 9110, section 11.1), so `bearer`
/// and `BEARER` are read as `Bearer`; it is split off by characters, never
/// by a byte index into text the client chose.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?.trim_start();
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl<S: EventStore> AppState<S> {
    /// Who holds `token`, after taking one request from its rate
    /// ([`limits`](crate::limits)): 401 for a token the table does not know,
    /// 429 for one past its rate. Every route that takes a token comes here.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AppError> {
        let hash = blake3::hash(token.as_bytes());
        let known = self.tokens.read().expect("token table lock").by_hash.get(&hash).cloned();
        // A resident's personal link is a token too: stored hashed in the
        // account store, it names a resident ([`crate::door::account`]).
        let principal = match known {
            Some(principal) => principal,
            None => crate::door::account::capability(self, hash.as_bytes())?.ok_or(AppError::Unauthorized)?,
        };
        self.limiter.take(hash.as_bytes(), self.service.clock().now()).map_err(AppError::RateLimited)?;
        Ok(principal)
    }
}
