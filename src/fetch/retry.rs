//! When to try again: exponential backoff with full jitter inside a total time budget, the
//! server's `Retry-After` when it fits, and the loop that applies them ([`run`]).
//!
//! Arithmetic, the clock and sleeping; no network, no files.

use std::thread;
use std::time::{Duration, Instant};

use crate::duration::human;

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

/// How one attempt ended badly, for [`run`].
pub(crate) enum Step<E> {
    /// Worth another try; `what` is the log line's middle part.
    Retry {
        /// What went wrong, for the log.
        what: String,
        /// The server's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
    },
    /// The budget ran out during the attempt; says how far it got.
    OutOfTime(String),
    /// Will not fix itself.
    Fatal(E),
}

impl<E> Step<E> {
    /// A retryable failure without `Retry-After`.
    pub(crate) fn retry(what: String) -> Step<E> {
        Step::Retry {
            what,
            retry_after: None,
        }
    }
}

/// The backoff ceilings: after the first failure, and the largest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// The ceiling after the first failure; it doubles after each further one.
    pub start: Duration,
    /// The largest ceiling.
    pub max: Duration,
}

/// Calls `attempt` until it succeeds, fails for good, or `budget` runs out, sleeping a jittered
/// backoff between tries; each retry is one `log` line starting with `label`. `gave_up` makes the
/// error for a spent budget from the number of attempts and the last failure.
pub(crate) fn run<T, E>(
    budget: &Budget,
    backoff: Backoff,
    label: &str,
    log: &mut dyn FnMut(&str),
    mut attempt: impl FnMut() -> Result<T, Step<E>>,
    gave_up: impl FnOnce(u32, String) -> E,
) -> Result<T, E> {
    let mut failures: u32 = 0;
    loop {
        let (what, retry_after) = match attempt() {
            Ok(done) => return Ok(done),
            Err(Step::Fatal(e)) => return Err(e),
            Err(Step::OutOfTime(what)) => return Err(gave_up(failures + 1, what)),
            Err(Step::Retry { what, retry_after }) => (what, retry_after),
        };
        failures += 1;
        let left = budget.left();
        if left.is_zero() {
            return Err(gave_up(failures, format!("last error: {what}")));
        }
        let jittered = full_jitter(
            ceiling(backoff.start, backoff.max, failures - 1),
            random_u64(),
        );
        let delay = next_delay(jittered, retry_after, left);
        log(&format!(
            "{label}: attempt {failures} failed: {what}; retrying in {} ({} of --retry-for left)",
            human(delay),
            human(left)
        ));
        thread::sleep(delay);
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
    fn run_retries_until_done_fatal_or_out_of_budget() {
        let budget = Budget::until(deadline_after(Duration::from_secs(5)));
        let quick = Backoff {
            start: MS(1),
            max: MS(2),
        };
        let mut lines = Vec::new();
        let mut calls = 0;
        let done: Result<u32, String> = run(
            &budget,
            quick,
            "test",
            &mut |l| lines.push(l.to_string()),
            || {
                calls += 1;
                if calls < 3 {
                    Err(Step::retry(format!("try {calls}")))
                } else {
                    Ok(calls)
                }
            },
            |n, last| format!("gave up after {n}: {last}"),
        );
        assert_eq!(done, Ok(3));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("test: attempt 1 failed: try 1; retrying in"));
        let fatal: Result<(), String> = run(
            &budget,
            quick,
            "test",
            &mut |_| {},
            || Err(Step::Fatal("no".to_string())),
            |_, _| unreachable!(),
        );
        assert_eq!(fatal, Err("no".to_string()));
        let spent = Budget::until(Instant::now());
        let out: Result<(), String> = run(
            &spent,
            quick,
            "test",
            &mut |_| {},
            || Err(Step::retry("down".into())),
            |n, last| format!("{n}: {last}"),
        );
        assert_eq!(out, Err("1: last error: down".to_string()));
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
