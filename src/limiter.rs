//! The account's rate limit: one `governor` limiter counting calls, shared by every
//! request the daemon sends. A voiceNotify request of N calls takes N cells, one by one at
//! the limiter's pace; every other request (polls, probes, look-ups) takes one. A
//! concurrency cause from the vendor halves the rate for a while.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Direct = RateLimiter<NotKeyed, InMemoryState, MonotonicClock>;

/// tokio's timer fires on whole milliseconds: a shorter wait is yielded through instead,
/// or a rate above 1,000 a second would be held to one cell a tick (burst 1 keeps no
/// credit for a late wake).
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// How long a slow-down lasts.
pub const SLOW_DOWN_FOR: Duration = Duration::from_secs(300);

/// The quota for `rate` calls a second with at most `burst` at once. `allow_burst` is set
/// explicitly: `Quota::per_second(n)` alone would allow a burst of n.
pub fn quota(rate: NonZeroU32, burst: NonZeroU32) -> Quota {
    Quota::per_second(rate).allow_burst(burst)
}

#[derive(Debug)]
struct Current {
    limiter: Arc<Direct>,
    /// The rate the limiter grants now: the full rate, or less during a slow-down.
    rate: NonZeroU32,
    slowed_until: Option<Instant>,
    /// The configured rate and burst.
    full: NonZeroU32,
    burst: NonZeroU32,
}

impl Current {
    fn new(rate: NonZeroU32, full: NonZeroU32, burst: NonZeroU32) -> Current {
        Current {
            limiter: Arc::new(RateLimiter::direct_with_clock(
                quota(rate, burst.min(rate)),
                MonotonicClock,
            )),
            rate,
            slowed_until: None,
            full,
            burst,
        }
    }
}

/// The account-wide limiter.
#[derive(Debug)]
pub struct AccountLimiter {
    current: Mutex<Current>,
    clock: MonotonicClock,
}

impl AccountLimiter {
    pub fn new(rate: NonZeroU32, burst: NonZeroU32) -> AccountLimiter {
        AccountLimiter {
            current: Mutex::new(Current::new(rate, rate, burst)),
            clock: MonotonicClock,
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn limiter(&self) -> Arc<Direct> {
        let mut current = self.current();
        if current
            .slowed_until
            .is_some_and(|until| Instant::now() >= until)
        {
            tracing::info!(
                rate = current.full,
                "The slow-down is over; the full rate applies again."
            );
            *current = Current::new(current.full, current.full, current.burst);
        }
        current.limiter.clone()
    }

    /// The calls a second it grants now.
    pub fn rate(&self) -> NonZeroU32 {
        self.current().rate
    }

    /// Waits until `cells` cells have been granted, one by one.
    pub async fn acquire(&self, cells: u32) {
        for _ in 0..cells {
            loop {
                let limiter = self.limiter();
                match limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(self.clock.now());
                        if wait < TIMER_RESOLUTION {
                            tokio::task::yield_now().await
                        } else {
                            tokio::time::sleep(wait).await
                        }
                    }
                }
            }
        }
    }

    /// Halves the rate (not below 1) for [`SLOW_DOWN_FOR`]; a slow-down during one halves
    /// it again and starts the time over.
    pub fn slow_down(&self) {
        let mut current = self.current();
        let rate = NonZeroU32::new(current.rate.get() / 2).unwrap_or(NonZeroU32::MIN);
        tracing::warn!(
            from = current.rate,
            to = rate,
            secs = SLOW_DOWN_FOR.as_secs(),
            "The vendor reports a concurrency limit; the rate is halved for a while."
        );
        *current = Current {
            slowed_until: Some(Instant::now() + SLOW_DOWN_FOR),
            ..Current::new(rate, current.full, current.burst)
        };
    }

    /// A new configured rate and burst (a reload). A slow-down under way goes on, at no
    /// more than the new rate.
    pub fn set_rate(&self, full: NonZeroU32, burst: NonZeroU32) {
        let mut current = self.current();
        let rate = match current.slowed_until {
            Some(_) => current.rate.min(full),
            None => full,
        };
        *current = Current {
            slowed_until: current.slowed_until,
            ..Current::new(rate, full, burst)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    /// Drives a limiter on a fake clock as fast as it allows for `secs` seconds and
    /// returns the instants (in microseconds) of the cells it granted.
    fn grants(rate: u32, burst: u32, secs: u64) -> Vec<u64> {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(
            quota(
                NonZeroU32::new(rate).unwrap(),
                NonZeroU32::new(burst).unwrap(),
            ),
            clock.clone(),
        );
        let mut granted = Vec::new();
        let step = Duration::from_micros(100);
        let mut now = 0u64;
        while now < secs * 1_000_000 {
            while limiter.check().is_ok() {
                granted.push(now);
            }
            clock.advance(step);
            now += 100;
        }
        granted
    }

    fn most_in_a_second(instants: &[u64]) -> usize {
        instants
            .iter()
            .enumerate()
            .map(|(i, start)| {
                instants[i..]
                    .iter()
                    .take_while(|t| **t < start + 1_000_000)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn with_burst_one_no_half_open_second_holds_more_than_the_rate() {
        for rate in [1, 7, 20, 100] {
            let granted = grants(rate, 1, 5);
            assert_eq!(most_in_a_second(&granted), rate as usize, "rate {rate}");
            assert!(
                granted.len() >= 5 * rate as usize,
                "rate {rate}: {}",
                granted.len()
            );
        }
    }

    #[test]
    fn per_second_alone_would_burst_past_the_rate() {
        // The pitfall `quota` avoids: a full bucket of n, then n more within the second.
        let granted = grants(20, 20, 3);
        assert!(most_in_a_second(&granted) > 20);
    }
}
