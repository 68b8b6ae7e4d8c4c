//! Limits on what one caller may ask of the service: a per-token rate and a
//! per-request time.
//!
//! **Rate.** Each token has a bucket of [`RATE_BURST`] requests that refills
//! continuously at [`RATE_PER_MINUTE`]; a request takes one, and a request
//! that finds the bucket empty is refused with 429 `rate_limited` and a
//! `Retry-After` (whole seconds until one request is back). Buckets are keyed
//! by the token's BLAKE3 hash, never the token, and are only made for tokens
//! the table knows (an unknown token is 401 before it reaches the limiter),
//! so their number is bounded by the token table. Time is the command
//! service's clock, so tests drive it with a manual clock.
//!
//! The table holds at most [`RATE_LIMITED_TOKENS_MAX`] buckets. When a new
//! token would pass the bound, buckets that have refilled to full are dropped
//! first (a full bucket is the same as none); if every bucket is still
//! draining, the whole table is cleared. Clearing refuses nothing and at
//! worst grants every token one fresh burst; it is chosen over a
//! least-recently-used list because tokens are issued by operators, the
//! table is small and the bound is a guard, not a working regime.
//!
//! **Public routes.** Open311's reads take no token, so they are limited
//! per client address at the same rate, in a limiter of their own
//! ([`AppState::clients`](crate::AppState::clients)) so that many
//! addresses cannot clear the tokens' buckets. The key is the peer's IP
//! address ([`client_key`]); an IPv6 address counts by its /64, which one
//! host is commonly given whole. Behind a reverse proxy every client is the
//! proxy: the operator limits there (no forwarded header is trusted, since
//! any client can send one).
//!
//! **Time.** [`with_timeout`] answers 503 `timeout` when a request takes
//! longer than its limit ([`REQUEST_TIMEOUT`] for [`router`](crate::router)).
//! The handler's future is dropped: a command whose append had already
//! completed stays written, so a client that gets `timeout` on a POST retries
//! with the same `Idempotency-Key` and gets the first answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use gridloop_engine::time::{MINUTE_MS, Timestamp};

use crate::AppError;

/// Requests one token may make per minute, refilled continuously.
pub const RATE_PER_MINUTE: u32 = 600;
/// Requests one token may make at once, before the rate applies.
pub const RATE_BURST: u32 = 120;
/// The most tokens the rate limiter tracks at once.
pub const RATE_LIMITED_TOKENS_MAX: usize = 100_000;
/// The longest a request may take before it is answered 503 `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Units of a bucket one request costs. A bucket refills by its rate per
/// hour in units a millisecond, so it regains that many requests an hour,
/// in integers.
const REQUEST_COST: u64 = 60 * MINUTE_MS;

/// How fast a limiter's buckets refill, and how much they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests regained an hour, continuously.
    pub per_hour: u32,
    /// Requests a full bucket holds.
    pub burst: u32,
}

impl Rate {
    /// The API's rate: [`RATE_PER_MINUTE`] with a burst of [`RATE_BURST`].
    pub const API: Rate = Rate { per_hour: RATE_PER_MINUTE * 60, burst: RATE_BURST };

    fn capacity(self) -> u64 {
        u64::from(self.burst) * REQUEST_COST
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Units left, at most [`CAPACITY`].
    units: u64,
    /// When `units` was last brought up to date, in milliseconds.
    at: i64,
}

impl Bucket {
    /// The bucket as it stands at `now` (time never runs backwards here: an
    /// earlier `now` refills nothing).
    fn refilled(self, now: i64, rate: Rate) -> Self {
        let elapsed = u64::try_from(now.saturating_sub(self.at)).unwrap_or(0);
        let units = self.units.saturating_add(elapsed.saturating_mul(u64::from(rate.per_hour))).min(rate.capacity());
        Self { units, at: self.at.max(now) }
    }
}

/// Token buckets by token hash.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
    rate: Rate,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_rate(Rate::API)
    }
}

impl RateLimiter {
    /// A limiter with no buckets, at the API's rate: every token starts
    /// with a full burst.
    pub fn new() -> Self {
        Self::default()
    }

    /// A limiter with no buckets, at `rate` (the resident's orders are
    /// limited far tighter than reads, [`crate::door`]).
    pub fn with_rate(rate: Rate) -> Self {
        Self { buckets: Mutex::default(), rate }
    }

    /// Takes one request from the bucket of the token hashed `hash` at `now`;
    /// `Err` carries the whole seconds until one is back (at least 1).
    /// Nothing is taken from a bucket that refuses.
    pub fn take(&self, hash: &[u8; 32], now: Timestamp) -> Result<(), u64> {
        let (now, rate) = (now.as_millis(), self.rate);
        let capacity = rate.capacity();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(hash) && buckets.len() >= RATE_LIMITED_TOKENS_MAX {
            buckets.retain(|_, b| b.refilled(now, rate).units < capacity);
            if buckets.len() >= RATE_LIMITED_TOKENS_MAX {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(*hash).or_insert(Bucket { units: capacity, at: now });
        *bucket = bucket.refilled(now, rate);
        if bucket.units >= REQUEST_COST {
            bucket.units -= REQUEST_COST;
            return Ok(());
        }
        let missing_ms = (REQUEST_COST - bucket.units).div_ceil(u64::from(rate.per_hour.max(1)));
        Err(missing_ms.div_ceil(1_000).max(1))
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether no token has a bucket yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bucket of a client of the public routes, by its address (see the
/// module doc): an IPv4 address whole, an IPv6 one by its first 64 bits;
/// no address (a router called without a socket, as in tests) is one
/// client.
pub fn client_key(peer: Option<std::net::IpAddr>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"gridloop client address\0");
    match peer.map(|ip| ip.to_canonical()) {
        Some(std::net::IpAddr::V4(v4)) => hasher.update(&v4.octets()),
        Some(std::net::IpAddr::V6(v6)) => hasher.update(&v6.octets()[..8]),
        None => hasher.update(b"none"),
    };
    *hasher.finalize().as_bytes()
}

/// `router` with every request bounded to `limit`: past it, 503 `timeout`.
pub fn with_timeout<S: Clone + Send + Sync + 'static>(router: Router<S>, limit: Duration) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(limit, bounded))
}

async fn bounded(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout(limit).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(Timestamp::parse("2026-11-23T08:00:00Z").expect("valid").as_millis() + ms)
            .expect("valid")
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = RateLimiter::new();
        let key = [1u8; 32];
        for _ in 0..RATE_BURST {
            assert_eq!(limiter.take(&key, at(0)), Ok(()));
        }
        assert_eq!(limiter.take(&key, at(0)), Err(1));
        // One request comes back every 60_000 / RATE_PER_MINUTE ms.
        let every = i64::from(60_000 / RATE_PER_MINUTE);
        assert_eq!(limiter.take(&key, at(every - 1)), Err(1));
        assert_eq!(limiter.take(&key, at(every)), Ok(()));
        assert_eq!(limiter.take(&key, at(every)), Err(1));
        // A clock that steps back refills nothing and breaks nothing.
        assert_eq!(limiter.take(&key, at(0)), Err(1));
        // A minute refills the whole burst, and no more.
        for _ in 0..RATE_BURST {
            assert_eq!(limiter.take(&key, at(10 * 60_000)), Ok(()));
        }
        assert_eq!(limiter.take(&key, at(10 * 60_000)), Err(1));
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = RateLimiter::new();
        let key = |i: usize| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            k
        };
        for i in 0..RATE_LIMITED_TOKENS_MAX {
            limiter.take(&key(i), at(0)).expect("a first request");
        }
        assert_eq!(limiter.len(), RATE_LIMITED_TOKENS_MAX);
        // Every bucket is still draining: one more token clears the table.
        limiter.take(&key(RATE_LIMITED_TOKENS_MAX), at(0)).expect("a new token is never refused");
        assert_eq!(limiter.len(), 1);
        // Buckets that refilled are dropped before anything else.
        for i in 0..RATE_LIMITED_TOKENS_MAX - 1 {
            limiter.take(&key(i), at(0)).expect("a first request");
        }
        assert_eq!(limiter.len(), RATE_LIMITED_TOKENS_MAX);
        // A minute later all are full again but one, drained just now.
        for _ in 0..RATE_BURST {
            limiter.take(&key(0), at(60_000)).expect("within the burst");
        }
        limiter.take(&key(RATE_LIMITED_TOKENS_MAX + 1), at(60_000)).expect("a new token is never refused");
        assert_eq!(limiter.len(), 2);
        assert_eq!(limiter.take(&key(0), at(60_000)), Err(1), "the drained bucket was kept");
    }
}
