//! The clock `gridloop serve` runs on: the wall clock, optionally set ahead.
//!
//! The crash tests must see deadline timers fire what fell due while the
//! process was down, without waiting out real offer deadlines. So a test may
//! set `GRIDLOOP_TEST_CLOCK_AHEAD_SECS` to run the service clock that many
//! seconds ahead of the wall clock; restarting with a larger value is the
//! same as having been down that long. It is an environment variable rather
//! than a flag so that it never shows up in `--help`, and `serve` warns when
//! it is set. The clock only ever runs ahead, so time never goes backwards
//! across restarts of one test.

use std::sync::Arc;

use gridloop_engine::service::Clock;
use gridloop_engine::time::{Millis, Timestamp};

/// The variable that sets the clock ahead (test use only).
pub const CLOCK_AHEAD_VAR: &str = "GRIDLOOP_TEST_CLOCK_AHEAD_SECS";
/// The furthest ahead it may be set: ten years, well inside the 2000–2199
/// range timestamps must stay in.
pub const CLOCK_AHEAD_SECS_MAX: u64 = 10 * 366 * 24 * 3600;

/// The wall clock plus a fixed lead.
#[derive(Clone, Copy, Debug)]
pub struct AheadClock {
    ahead: Millis,
}

impl Clock for AheadClock {
    fn now(&self) -> Timestamp {
        gridloop_http::SystemClock.now().plus(self.ahead)
    }
}

/// The service clock for `serve`: the wall clock, or, when
/// [`CLOCK_AHEAD_VAR`] is set, the wall clock that many seconds ahead.
/// A value that is not a number of seconds up to [`CLOCK_AHEAD_SECS_MAX`]
/// is refused, so a typo cannot silently run the service on the wrong time.
pub fn serve_clock() -> Result<Arc<dyn Clock>, String> {
    let Ok(text) = std::env::var(CLOCK_AHEAD_VAR) else { return Ok(Arc::new(gridloop_http::SystemClock)) };
    let seconds: u64 =
        text.trim().parse().ok().filter(|s| *s <= CLOCK_AHEAD_SECS_MAX).ok_or_else(|| {
            format!("{CLOCK_AHEAD_VAR}={text:?} is not a number of seconds up to {CLOCK_AHEAD_SECS_MAX}")
        })?;
    tracing::warn!(seconds, "{CLOCK_AHEAD_VAR} is set: the service clock runs ahead of the wall clock (tests only)");
    Ok(Arc::new(AheadClock { ahead: Millis(seconds * 1_000) }))
}
