use governor::clock::FakeRelativeClock;
use governor::nanos::Nanos;

use super::*;

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap()
}

/// How late each wake-up is: pseudo-random below `max`, the same every run.
struct Lateness {
    state: u64,
    max: Duration,
}

impl Lateness {
    fn up_to(max: Duration) -> Lateness {
        Lateness {
            state: 0x9E37_79B9_7F4A_7C15,
            max,
        }
    }

    fn next(&mut self) -> Duration {
        // xorshift64: enough spread for a test, and no dependency.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let max = self.max.as_nanos() as u64;
        Duration::from_nanos(if max == 0 { 0 } else { self.state % max })
    }
}

/// A limiter on a fake clock, driven as a sender drives it: each request asks until it
/// is cleared, and every wait is overslept by the next `lateness`.
struct Driver {
    clock: FakeRelativeClock,
    pace: Pace<FakeRelativeClock>,
    lateness: Lateness,
    /// The instant (nanoseconds) each call was cleared at, in order.
    sent: Vec<u64>,
}

impl Driver {
    fn new(rate: u32, burst: u32, lateness: Duration) -> Driver {
        let clock = FakeRelativeClock::default();
        Driver {
            pace: Pace::new(clock.clone(), n(rate), n(burst)),
            clock,
            lateness: Lateness::up_to(lateness),
            sent: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.clock.now().as_u64()
    }

    /// Clears one request of `calls` calls (or, for 0, one other request), waiting as long
    /// as it takes.
    fn request(&mut self, calls: u32) {
        let mut spaced = 0;
        loop {
            match self.pace.clear(calls.max(1), calls, &mut spaced) {
                Clearance::Leave(at) => {
                    self.sent
                        .extend(std::iter::repeat_n(at.as_u64(), calls as usize));
                    return;
                }
                Clearance::Wait(wait) => {
                    let late = self.lateness.next();
                    self.clock
                        .advance(wait.max(Duration::from_micros(1)) + late);
                }
            }
        }
    }

    /// Sends requests of `size()` calls back to back until `secs` more seconds have passed.
    fn run_for(&mut self, secs: f64, mut size: impl FnMut() -> u32) {
        let until = self.now() + Duration::from_secs_f64(secs).as_nanos() as u64;
        while self.now() < until {
            self.request(size());
        }
    }

    /// The calls cleared in [`from`, `to`) seconds.
    fn between(&self, from: f64, to: f64) -> Vec<u64> {
        let (from, to) = ((from * 1e9) as u64, (to * 1e9) as u64);
        self.sent
            .iter()
            .copied()
            .filter(|t| (from..to).contains(t))
            .collect()
    }
}

/// The most instants (nanoseconds) any half-open second holds.
fn most_in_a_second(instants: &[u64]) -> usize {
    (0..instants.len())
        .map(|i| {
            instants[i..]
                .iter()
                .take_while(|t| **t < instants[i] + 1_000_000_000)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Calls a second over [`from`, `to`) seconds.
fn mean_rate(driver: &Driver, from: f64, to: f64) -> f64 {
    driver.between(from, to).len() as f64 / (to - from)
}

#[test]
fn late_wake_ups_are_made_up_and_no_second_holds_more_than_the_rate() {
    // (rate, burst, calls a request, the latest wake-up)
    let cases = [
        (20, 1, 1, Duration::from_millis(3)),
        (20, 1, 10, Duration::from_millis(3)),
        (7, 1, 1, Duration::from_millis(10)),
        (200, 1, 10, Duration::from_millis(2)),
        (1000, 1, 1, Duration::from_micros(500)),
        (20, 5, 1, Duration::from_millis(3)),
    ];
    for (rate, burst, calls, late) in cases {
        let mut driver = Driver::new(rate, burst, late);
        driver.run_for(61.0, || calls);
        let mean = mean_rate(&driver, 1.0, 61.0);
        let case = format!("rate {rate}, burst {burst}, {calls} a request, late up to {late:?}");
        assert!(
            mean >= 0.99 * rate as f64,
            "{case}: {mean:.2} calls a second"
        );
        assert!(
            most_in_a_second(&driver.sent) <= rate as usize,
            "{case}: {} in a second",
            most_in_a_second(&driver.sent)
        );
    }
}

#[test]
fn requests_of_mixed_sizes_never_crowd_a_second() {
    // Partial v2 batches (as `linger` forms them): the window counts each call when its
    // request leaves, so no half-open second holds more than the rate. Calls that leave
    // in lumps of different sizes fit the window less tightly than a steady stream
    // (about 82% of the rate here); a sender that is kept busy sends full batches.
    let mut driver = Driver::new(20, 1, Duration::from_millis(3));
    let mut sizes = Lateness::up_to(Duration::from_nanos(10));
    driver.run_for(30.0, || 1 + sizes.next().as_nanos() as u32);
    assert!(driver.sent.len() > 450, "{} calls", driver.sent.len());
    assert_eq!(most_in_a_second(&driver.sent), 20);
}

#[test]
fn a_poll_takes_its_cell_and_no_place_in_the_window() {
    // Batches of ten at rate 20, and a poll after every fifth batch: each poll takes one
    // cell of the spacing (so calls and other requests together keep to the rate) and
    // delays the next batch by that cell only, not by the half-second a batch would wait
    // for room in the window beside it.
    let mut driver = Driver::new(20, 1, Duration::from_millis(3));
    let mut batches = 0;
    driver.run_for(61.0, || {
        batches += 1;
        if batches % 6 == 0 { 0 } else { 10 }
    });
    let calls = mean_rate(&driver, 1.0, 61.0);
    // Five batches of ten and one poll take 51 cells: 20 × 50/51 calls a second.
    assert!(
        calls >= 0.99 * 20.0 * 50.0 / 51.0,
        "{calls:.2} calls a second"
    );
    assert_eq!(most_in_a_second(&driver.sent), 20);
}

#[test]
fn a_slow_down_halves_the_rate_until_its_time_is_over() {
    let mut driver = Driver::new(20, 1, Duration::from_millis(3));
    driver.run_for(5.0, || 1);
    let slowed_at = driver.now() as f64 / 1e9;
    driver.pace.slow_down();
    assert_eq!(driver.pace.rate(), n(10));
    driver.run_for(SLOW_DOWN_FOR.as_secs_f64() + 10.0, || 1);
    let slowed = driver.between(slowed_at, slowed_at + SLOW_DOWN_FOR.as_secs_f64());
    // Every window that ends in the slow-down holds at most the halved rate.
    assert_eq!(most_in_a_second(&slowed), 10);
    let during = mean_rate(&driver, slowed_at + 1.0, slowed_at + 61.0);
    assert!(during >= 9.9, "{during:.2} calls a second while slowed");
    assert_eq!(driver.pace.rate(), n(20));
    let end = driver.now() as f64 / 1e9;
    let after = mean_rate(&driver, end - 8.0, end);
    assert!((19.8..=20.0).contains(&after), "{after:.2} after");
    assert!(most_in_a_second(&driver.sent) <= 20);
}

#[test]
fn a_reload_applies_the_new_rate_at_once_and_a_slow_down_outlasts_it() {
    let mut driver = Driver::new(20, 1, Duration::from_millis(3));
    driver.run_for(5.0, || 1);
    let lowered_at = driver.now() as f64 / 1e9;
    driver.pace.set_rate(n(5), n(1));
    driver.run_for(10.0, || 1);
    // Every window that ends after the reload holds at most the new rate.
    assert_eq!(
        most_in_a_second(&driver.between(lowered_at, lowered_at + 10.0)),
        5
    );
    let raised_at = driver.now() as f64 / 1e9;
    driver.pace.set_rate(n(50), n(1));
    driver.run_for(10.0, || 1);
    let raised = mean_rate(&driver, raised_at + 1.0, raised_at + 10.0);
    assert!(raised >= 49.5, "{raised:.2} after raising the rate");
    // A reload during a slow-down keeps it, at no more than the new rate.
    driver.pace.slow_down();
    driver.pace.set_rate(n(100), n(1));
    assert_eq!(driver.pace.rate(), n(25));
    driver.pace.set_rate(n(10), n(1));
    assert_eq!(driver.pace.rate(), n(10));
}

#[test]
fn sends_of_an_earlier_run_hold_the_first_second_after_a_restart() {
    let mut driver = Driver::new(20, 1, Duration::ZERO);
    driver.clock.advance(Duration::from_secs(10));
    // The earlier run sent 20 calls in the 300 ms before this one started.
    let seeded: Vec<Nanos> = (0..20)
        .map(|i| Nanos::from(Duration::from_millis(9_700 + 15 * i)))
        .collect();
    driver.pace.seed(seeded.clone());
    driver.run_for(3.0, || 1);
    let first = driver.sent[0];
    assert!(
        first >= 10_700_000_000,
        "the first call after the restart at {first} ns"
    );
    let all: Vec<u64> = seeded
        .iter()
        .map(|t| t.as_u64())
        .chain(driver.sent.iter().copied())
        .collect();
    assert_eq!(most_in_a_second(&all), 20);
}
