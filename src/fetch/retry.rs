//! When to try again: exponential backoff with full jitter inside a total time budget, and the
//! server's `Retry-After` when it fits.
//!
//! Pure arithmetic plus the clock; no network, no files.

use std::time::{Duration, Instant};

/// Stands in for "never" when a budget is too large for the clock (`--retry-for 99999999h`).
const FAR: Duration = Duration::from_secs(1 << 32);

/// The moment `budget` from now ends.
pub(crate) fn deadline_after(budget: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(budget).unwrap_or(now + FAR)
}

/// The `--retry-for` budget: a deadline for every attempt, body included.
pub(crate) struct Budget {
    deadline: Instant,
}

impl Budget {
    /// A budget that ends at `deadline`.
    pub(crate) fn until(deadline: Instant) -> Budget {
        Budget { deadline }
    }

    /// Time left; zero once spent.
    pub(crate) fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// True once the deadline has passed.
    pub(crate) fn spent(&self) -> bool {
        self.left().is_zero()
    }
}

/// The backoff ceiling after `failures` earlier failures: `min(max, start × 2^failures)`.
pub(crate) fn ceiling(start: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2u32.checked_pow(failures).unwrap_or(u32::MAX);
    start.checked_mul(factor).unwrap_or(max).min(max)
}

/// A uniformly random point in `[0, ceiling]`: "full jitter" (AWS Architecture Blog,
/// "Exponential Backoff And Jitter", 2015), which spreads a fleet booting at once.
pub(crate) fn full_jitter(ceiling: Duration, random: u64) -> Duration {
    let fraction = random as f64 / u64::MAX as f64;
    ceiling.mul_f64(fraction)
}

/// The delay before the next attempt: the server's `Retry-After` when it fits in what is left of
/// the budget, else jittered backoff; never longer than what is left.
pub(crate) fn next_delay(
    jittered: Duration,
    retry_after: Option<Duration>,
    left: Duration,
) -> Duration {
    match retry_after {
        Some(wait) if wait <= left => wait,
        _ => jittered.min(left),
    }
}

/// A `Retry-After` header in its delay-seconds form (RFC 9110 §10.2.3). The HTTP-date form is
/// ignored: a server clock we cannot trust at boot is no better than our own backoff.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A random u64 for jitter; a fixed midpoint if the system will not give us one.
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => u64::MAX / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn ceiling_doubles_up_to_the_max() {
        assert_eq!(ceiling(MS(500), MS(30_000), 0), MS(500));
        assert_eq!(ceiling(MS(500), MS(30_000), 3), MS(4_000));
        assert_eq!(ceiling(MS(500), MS(30_000), 7), MS(30_000));
        assert_eq!(ceiling(MS(500), MS(30_000), 200), MS(30_000));
    }

    #[test]
    fn jitter_stays_inside_the_ceiling() {
        assert_eq!(full_jitter(MS(800), 0), Duration::ZERO);
        assert_eq!(full_jitter(MS(800), u64::MAX), MS(800));
        let mid = full_jitter(MS(800), u64::MAX / 2);
        assert!(mid > MS(399) && mid < MS(401), "{mid:?}");
    }

    #[test]
    fn retry_after_is_honoured_only_within_budget() {
        assert_eq!(next_delay(MS(10), Some(MS(2_000)), MS(5_000)), MS(2_000));
        assert_eq!(next_delay(MS(10), Some(MS(9_000)), MS(5_000)), MS(10));
        assert_eq!(next_delay(MS(9_000), None, MS(5_000)), MS(5_000));
    }

    #[test]
    fn budgets_end_and_never_overflow() {
        assert!(Budget::until(Instant::now()).spent());
        let far = Budget::until(deadline_after(Duration::MAX));
        assert!(far.left() > Duration::from_secs(1 << 31));
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
