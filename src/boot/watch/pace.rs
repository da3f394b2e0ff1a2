//! The watch's pace: jittered intervals, how many polls a failed release waits before it is tried
//! again, and how often a poll that found nothing new is worth a log line.
//!
//! Arithmetic on durations and poll counts; the caller owns the clock, the randomness and the log.

use std::time::{Duration, Instant};

/// The largest `--jitter`: two polls stay at least half an interval apart.
pub const MAX_JITTER_PERCENT: u8 = 50;
/// `--jitter`'s default: ±10 % — 10,000 instances started together spread over a fifth of an
/// interval after one poll, and drift further apart at every poll after it.
pub const DEFAULT_JITTER_PERCENT: u8 = 10;
/// `--max-backoff`'s default.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// How often a run of polls that found nothing new is said again.
pub const QUIET_FOR: Duration = Duration::from_secs(60 * 60);

/// `interval` moved by a uniformly random fraction of ±`percent` % of it; `random` is any u64
/// (the whole range maps onto the whole span).
pub fn jittered(interval: Duration, percent: u8, random: u64) -> Duration {
    let spread = interval.as_secs_f64() * f64::from(percent.min(MAX_JITTER_PERCENT)) / 100.0;
    // random/MAX is in [0, 1]: map it onto [-spread, +spread].
    let offset = spread * (2.0 * (random as f64 / u64::MAX as f64) - 1.0);
    Duration::try_from_secs_f64(interval.as_secs_f64() + offset).unwrap_or(interval)
}

/// How many polls after its `attempts`-th failed attempt a release is tried again, unless the URL
/// designates other bytes first: 2, 4, 8… polls, at most as many as fit in `max_backoff` (and at
/// least the next one). Counted in polls, not on the clock, so jitter cannot make a due retry
/// wait one more interval.
pub fn backoff_polls(attempts: u32, interval: Duration, max_backoff: Duration) -> u64 {
    let cap = if interval.is_zero() {
        u64::MAX
    } else {
        (max_backoff.as_nanos() / interval.as_nanos()).clamp(1, u128::from(u64::MAX)) as u64
    };
    1u64.checked_shl(attempts.min(63))
        .unwrap_or(u64::MAX)
        .min(cap)
        .max(1)
}

/// Says a repeated finding once, then again once per [`QUIET_FOR`] with how many polls it stood
/// for: "unchanged" at every poll of a fleet is noise in every journal.
#[derive(Debug, Default)]
pub struct Quiet {
    /// What was said last, when it was, and the polls since that found the same.
    last: Option<(String, Instant, u64)>,
}

impl Quiet {
    /// Whether a poll that found `what` at `now` should be logged, and how many polls since the
    /// last time it was said found it too (None: a new finding).
    pub fn say(&mut self, what: &str, now: Instant) -> Option<Option<u64>> {
        match &mut self.last {
            Some((said, at, since)) if said == what => {
                *since += 1;
                if now.saturating_duration_since(*at) < QUIET_FOR {
                    return None;
                }
                let repeated = *since;
                *at = now;
                *since = 0;
                Some(Some(repeated))
            }
            _ => {
                self.last = Some((what.to_string(), now, 0));
                Some(None)
            }
        }
    }

    /// Something else happened: the next finding is said whatever it is.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn jitter_spans_plus_minus_the_percentage() {
        let base = Duration::from_secs(100);
        assert_eq!(jittered(base, 10, 0), Duration::from_secs(90));
        assert_eq!(jittered(base, 10, u64::MAX), Duration::from_secs(110));
        assert_eq!(jittered(base, 10, u64::MAX / 2), base);
        assert_eq!(jittered(base, 0, 12345), base);
        // Capped at MAX_JITTER_PERCENT.
        assert_eq!(jittered(base, 100, 0), Duration::from_secs(50));
    }

    #[test]
    fn backoff_doubles_in_polls_up_to_the_cap() {
        let every = MS(200);
        let polls: Vec<u64> = (1..=5).map(|n| backoff_polls(n, every, MS(1000))).collect();
        assert_eq!(polls, [2, 4, 5, 5, 5]);
        assert_eq!(backoff_polls(1, every, MS(10)), 1, "at least the next poll");
        assert_eq!(
            backoff_polls(200, Duration::from_secs(300), DEFAULT_MAX_BACKOFF),
            12
        );
    }

    #[test]
    fn quiet_says_a_finding_once_an_hour() {
        let mut quiet = Quiet::default();
        let t0 = Instant::now();
        assert_eq!(quiet.say("unchanged a", t0), Some(None));
        assert_eq!(quiet.say("unchanged a", t0 + MS(1)), None);
        assert_eq!(quiet.say("unchanged a", t0 + QUIET_FOR), Some(Some(2)));
        assert_eq!(quiet.say("unchanged a", t0 + QUIET_FOR + MS(1)), None);
        assert_eq!(quiet.say("unchanged b", t0 + QUIET_FOR + MS(2)), Some(None));
        quiet.reset();
        assert_eq!(quiet.say("unchanged b", t0 + QUIET_FOR + MS(3)), Some(None));
    }
}
