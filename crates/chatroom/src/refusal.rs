//! Logging of refused input. Every refusal (a limit reached, a malformed packet, a bad
//! handshake) is worth a log line with the client's address and the reason, but a flood of
//! them must not fill the disk: lines are rate limited process-wide, and the number left out
//! is reported with the next line that gets through.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::fmt::Display;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Refusal lines per second, sustained; a burst of [`LINES_BURST`] gets through at once.
pub const LINES_PER_SECOND: u32 = 20;
/// Refusal lines logged at once after a quiet period.
pub const LINES_BURST: u32 = 100;

static LIMITER: LazyLock<DefaultDirectRateLimiter> = LazyLock::new(|| {
    let per_second = NonZeroU32::new(LINES_PER_SECOND).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(LINES_BURST).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
});
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Logs one refusal at `warn`: who (`client`, an address or `-`), the stable `reason` code
/// (the one the client is told, e.g. `rate_limited`) and a human `detail`.
pub fn refused(client: Option<impl Display>, reason: &str, detail: impl Display) {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    if LIMITER.check().is_err() {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
    let client = client.map_or_else(|| "-".to_owned(), |c| c.to_string());
    if suppressed > 0 {
        tracing::warn!(%client, reason, suppressed, "refused: {detail}");
    } else {
        tracing::warn!(%client, reason, "refused: {detail}");
    }
}

/// Refusals since start, logged or not (for /healthz).
pub fn total() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}
