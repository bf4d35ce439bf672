//! What a loop does while the same thing keeps failing (a full disk under the store, a
//! vendor that does not answer): it waits longer after each failure ([`Backoff`]), and
//! logs each distinct error at most once a minute with how often it came ([`LogThrottle`]),
//! so a fault can neither busy a core nor fill what space is left with log lines. Pure:
//! the caller passes the time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A wait that starts at [`Backoff::FIRST`] and doubles with each failure in a row up to
/// [`Backoff::MOST`]; a success starts it over.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(50);
    pub const MOST: Duration = Duration::from_secs(1);

    /// Notes a failure; returns how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        let wait = Backoff::FIRST.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        wait.min(Backoff::MOST)
    }

    /// Notes a success: the next failure waits [`Backoff::FIRST`] again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// How often the same error is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Says which failures to log: the first of each distinct error at once, then at most
/// one a minute, each with the count of the ones not logged since.
#[derive(Debug, Default)]
pub struct LogThrottle {
    errors: HashMap<String, Seen>,
}

#[derive(Debug)]
struct Seen {
    logged: Instant,
    last: Instant,
    /// How often it came without a log line since `logged`.
    repeats: u64,
}

impl LogThrottle {
    /// Notes that `error` happened at `now`. Returns `Some(repeats)` when it is to be
    /// logged now, `repeats` being how many times it came without a log line since the
    /// last one; `None` when it is to be left out.
    pub fn admit(&mut self, error: &str, now: Instant) -> Option<u64> {
        // An error not seen for a minute is forgotten, and new again if it comes back.
        self.errors
            .retain(|_, seen| now.saturating_duration_since(seen.last) < LOG_EVERY);
        let Some(seen) = self.errors.get_mut(error) else {
            let seen = Seen {
                logged: now,
                last: now,
                repeats: 0,
            };
            self.errors.insert(error.to_string(), seen);
            return Some(0);
        };
        seen.last = now;
        if now.saturating_duration_since(seen.logged) < LOG_EVERY {
            seen.repeats += 1;
            return None;
        }
        seen.logged = now;
        Some(std::mem::take(&mut seen.repeats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_50_ms_to_a_second_and_a_success_starts_it_over() {
        let mut backoff = Backoff::default();
        let waits: Vec<u128> = (0..8).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        for _ in 0..100 {
            backoff.failed();
        }
        assert_eq!(backoff.failed(), Backoff::MOST);
        backoff.succeeded();
        assert_eq!(backoff.failed(), Backoff::FIRST);
    }

    #[test]
    fn each_distinct_error_is_logged_at_most_once_a_minute_with_its_repeats() {
        let mut throttle = LogThrottle::default();
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(throttle.admit("disk full", at(0)), Some(0));
        // 175,000 failures in 30 s: none logged.
        let logged = (1..175_000u64)
            .filter(|n| {
                throttle
                    .admit("disk full", at(n * 30_000 / 175_000))
                    .is_some()
            })
            .count();
        assert_eq!(logged, 0);
        // Another error is its own line.
        assert_eq!(throttle.admit("locked", at(30_000)), Some(0));
        // A minute after the first line, the next one says how many were left out.
        assert_eq!(throttle.admit("disk full", at(59_999)), None);
        assert_eq!(throttle.admit("disk full", at(60_000)), Some(175_000));
        assert_eq!(throttle.admit("disk full", at(60_001)), None);
        // An error gone for a minute is new again when it comes back.
        assert_eq!(throttle.admit("locked", at(95_000)), Some(0));
    }
}
