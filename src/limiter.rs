//! The account's rate limit, shared by every request the daemon sends: a voiceNotify
//! request of N calls takes N cells, every other request (polls, probes, look-ups) one.
//!
//! Two checks pace a request. `governor`'s limiter spaces the cells one interval
//! (1/`rate` s) apart, with a tolerance of one interval: a cell granted late does not push
//! every later cell back, so a late wake-up is made up by the next one instead of lost.
//! Then, for calls, a window over the recent calls holds the promise itself: a voiceNotify
//! request leaves only when the last second, half-open, holds at most `rate` calls with
//! it. The window counts each call at the moment its request is cleared to leave, which is
//! also the send time the store keeps; at start it is seeded from the store's send times,
//! so a restart cannot open a burst. Other requests take their cells of the spacing but
//! no place in the window: a poll between two batches of ten delays the next batch by
//! its cell, not by the half-second a batch would need to fit beside it. A concurrency
//! cause from the vendor halves the rate for a while.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use governor::clock::{Clock, MonotonicClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// tokio's timer fires on whole milliseconds: a shorter wait is yielded through instead,
/// or a rate above 1,000 a second would be held to one cell a tick.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// The window no more than `rate` calls may share.
const WINDOW: Duration = Duration::from_secs(1);

/// How long a slow-down lasts.
pub const SLOW_DOWN_FOR: Duration = Duration::from_secs(300);

/// The quota for `rate` cells a second with at most `burst` at once. `allow_burst` is set
/// explicitly: `Quota::per_second(n)` alone would allow a burst of n.
pub fn quota(rate: NonZeroU32, burst: NonZeroU32) -> Quota {
    Quota::per_second(rate).allow_burst(burst)
}

/// The account's spacing: `burst` at once, plus one cell of tolerance for lateness.
fn spacing_quota(rate: NonZeroU32, burst: NonZeroU32) -> Quota {
    quota(rate, burst.min(rate).saturating_add(1))
}

/// The limit's state on any `governor` clock: the spacing, the rate in force and the
/// recent sends. Pure apart from the clock, so the tests drive it on a fake one.
#[derive(Debug)]
pub struct Pace<C: Clock> {
    clock: C,
    spacing: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    /// The rate granted now: the full rate, or less during a slow-down.
    rate: NonZeroU32,
    slowed_until: Option<C::Instant>,
    /// The configured rate and burst.
    full: NonZeroU32,
    burst: NonZeroU32,
    /// When each recent call was cleared, oldest first: at most `full` of them.
    sent: VecDeque<C::Instant>,
}

/// What a request asking for clearance must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Clearance<I> {
    /// It may leave; its calls count from this instant.
    Leave(I),
    /// It must wait this long and ask again.
    Wait(Duration),
}

impl<C: Clock + Clone> Pace<C> {
    pub fn new(clock: C, rate: NonZeroU32, burst: NonZeroU32) -> Pace<C> {
        Pace {
            spacing: RateLimiter::direct_with_clock(spacing_quota(rate, burst), clock.clone()),
            clock,
            rate,
            slowed_until: None,
            full: rate,
            burst,
            sent: VecDeque::new(),
        }
    }

    /// Counts calls sent before this limiter existed (by an earlier run of the daemon),
    /// at the instants given, which need not be in order.
    pub fn seed(&mut self, instants: Vec<C::Instant>) {
        self.sent.extend(instants);
        self.sent.make_contiguous().sort();
        self.forget_old();
    }

    /// The rate granted now.
    pub fn rate(&self) -> NonZeroU32 {
        self.rate
    }

    /// One step toward clearing a request of `cells` cells, `calls` of them calls (all of
    /// them for voiceNotify, none for any other request). `spaced` counts the cells the
    /// spacing has already granted it, across the steps of the same request.
    pub fn clear(&mut self, cells: u32, calls: u32, spaced: &mut u32) -> Clearance<C::Instant> {
        let now = self.clock.now();
        self.end_slow_down(now);
        while *spaced < cells {
            match self.spacing.check() {
                Ok(()) => *spaced += 1,
                Err(not_until) => return Clearance::Wait(not_until.wait_time_from(now)),
            }
        }
        if calls == 0 {
            return Clearance::Leave(now);
        }
        // The request may leave when the last second holds at most `rate - calls` calls:
        // the oldest of the newest `rate - calls + 1` must be a whole second old. A
        // request of more calls than a slowed rate waits for a second with none.
        let calls = calls as usize;
        let keep = (self.rate.get() as usize).saturating_sub(calls);
        if self.sent.len() > keep {
            let oldest = self.sent[self.sent.len() - keep - 1];
            let age = Duration::from(now.duration_since(oldest));
            if age < WINDOW {
                return Clearance::Wait(WINDOW - age);
            }
        }
        self.sent.extend(std::iter::repeat_n(now, calls));
        self.forget_old();
        Clearance::Leave(now)
    }

    /// Halves the rate (not below 1) for [`SLOW_DOWN_FOR`]; a slow-down during one halves
    /// it again and starts the time over.
    pub fn slow_down(&mut self) {
        let rate = NonZeroU32::new(self.rate.get() / 2).unwrap_or(NonZeroU32::MIN);
        tracing::warn!(
            from = self.rate,
            to = rate,
            secs = SLOW_DOWN_FOR.as_secs(),
            "The vendor reports a concurrency or caller-frequency limit; the rate is halved for a while."
        );
        self.slowed_until = Some(self.clock.now() + SLOW_DOWN_FOR.into());
        self.apply(rate);
    }

    /// A new configured rate and burst (a reload). A slow-down under way goes on, at no
    /// more than the new rate.
    pub fn set_rate(&mut self, full: NonZeroU32, burst: NonZeroU32) {
        self.full = full;
        self.burst = burst;
        let rate = match self.slowed_until {
            Some(_) => self.rate.min(full),
            None => full,
        };
        self.apply(rate);
    }

    fn end_slow_down(&mut self, now: C::Instant) {
        if self.slowed_until.is_some_and(|until| now >= until) {
            tracing::info!(
                rate = self.full,
                "The slow-down is over; the full rate applies again."
            );
            self.slowed_until = None;
            self.apply(self.full);
        }
    }

    /// A new spacing at `rate`; the recent sends stay, so the window holds across it.
    fn apply(&mut self, rate: NonZeroU32) {
        self.rate = rate;
        self.spacing =
            RateLimiter::direct_with_clock(spacing_quota(rate, self.burst), self.clock.clone());
        self.forget_old();
    }

    /// Keeps only the sends the window can still need: the newest `full`.
    fn forget_old(&mut self) {
        let excess = self.sent.len().saturating_sub(self.full.get() as usize);
        self.sent.drain(..excess);
    }
}

/// The account-wide limiter on the real clock. The send times it hands out are wall-clock
/// milliseconds read off the monotonic clock from one origin, so the times the store
/// keeps are exactly the ones the window was checked with.
#[derive(Debug)]
pub struct AccountLimiter {
    pace: Mutex<Pace<MonotonicClock>>,
    origin: (Instant, i64),
}

impl AccountLimiter {
    pub fn new(rate: NonZeroU32, burst: NonZeroU32) -> AccountLimiter {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        AccountLimiter {
            pace: Mutex::new(Pace::new(MonotonicClock, rate, burst)),
            origin: (Instant::now(), since_epoch.as_millis() as i64),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace<MonotonicClock>> {
        self.pace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the calls an earlier run sent at `sent_ms` (wall-clock milliseconds), so
    /// the first second after a restart holds no more than the rate with them.
    pub fn seed(&self, sent_ms: &[i64]) {
        let (origin, origin_ms) = self.origin;
        let instants = sent_ms
            .iter()
            .map(|ms| {
                let before = Duration::from_millis(origin_ms.saturating_sub(*ms).max(0) as u64);
                origin.checked_sub(before).unwrap_or(origin)
            })
            .collect();
        self.pace().seed(instants);
    }

    /// The calls a second it grants now.
    pub fn rate(&self) -> NonZeroU32 {
        self.pace().rate()
    }

    /// Waits until a voiceNotify request of `calls` calls may leave, and returns its send
    /// time in wall-clock milliseconds.
    pub async fn acquire_calls(&self, calls: u32) -> i64 {
        self.acquire(calls, calls).await
    }

    /// Waits until any other request (a poll, a probe, a look-up) may leave.
    pub async fn acquire_request(&self) {
        self.acquire(1, 0).await;
    }

    async fn acquire(&self, cells: u32, calls: u32) -> i64 {
        let mut spaced = 0;
        loop {
            let step = self.pace().clear(cells, calls, &mut spaced);
            match step {
                Clearance::Leave(at) => {
                    let (origin, origin_ms) = self.origin;
                    return origin_ms + at.duration_since(origin).as_millis() as i64;
                }
                Clearance::Wait(wait) if wait < TIMER_RESOLUTION => tokio::task::yield_now().await,
                Clearance::Wait(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// See [`Pace::slow_down`].
    pub fn slow_down(&self) {
        self.pace().slow_down();
    }

    /// See [`Pace::set_rate`].
    pub fn set_rate(&self, full: NonZeroU32, burst: NonZeroU32) {
        self.pace().set_rate(full, burst);
    }
}

#[cfg(test)]
mod tests;
