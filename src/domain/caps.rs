//! Per-number caps (`[limits] per_number`, PRODUCT.md section 4): rolling windows over the
//! calls to one normalised number, across all campaigns and restarts, and whether one
//! more call to it may be written ahead now. Pure: the store keeps the calls and asks here.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

/// At most `calls` calls to one number in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberCap {
    pub calls: NonZeroU32,
    pub window: Duration,
}

impl NumberCap {
    /// Reads `"N/DURATION"`: N a positive whole number, DURATION a humantime span
    /// (`"5/1h"`, `"1/30s"`).
    pub fn parse(text: &str) -> Result<NumberCap, String> {
        let shape = || {
            format!(
                "{text:?} is not \"N/DURATION\" (a positive whole number of calls, a span like 30s, 1m, 1h, 24h)"
            )
        };
        let (calls, window) = text.trim().split_once('/').ok_or_else(shape)?;
        let calls = calls.trim().parse::<NonZeroU32>().map_err(|_| shape())?;
        let window = humantime::parse_duration(window.trim()).map_err(|_| shape())?;
        if window.is_zero() {
            return Err(shape());
        }
        Ok(NumberCap { calls, window })
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for NumberCap {
    /// As the configuration writes it, the window in its largest whole unit: `5/1h`,
    /// `20/24h`, `1/90s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.window.as_millis();
        let (count, unit) = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")]
            .into_iter()
            .find(|(size, _)| ms % size == 0)
            .map_or((ms, "ms"), |(size, unit)| (ms / size, unit));
        write!(f, "{}/{count}{unit}", self.calls)
    }
}

/// The longest window of `caps` (none without caps): how long a call stays counted.
pub fn longest_window(caps: &[NumberCap]) -> Option<Duration> {
    caps.iter().map(|cap| cap.window).max()
}

/// Why one more call to a number must wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The cap it is at.
    pub cap: NumberCap,
    /// When that cap (and every other) lets a call through again, in milliseconds since
    /// the epoch; `None` while calls still in flight hold it, whose answers are not in
    /// yet (they count from their answers).
    pub until_ms: Option<i64>,
}

/// Whether one more call to a number may leave at `now_ms`, given `in_flight` calls to it
/// whose answers have not come yet and the instants `counted_ms` from which its other
/// calls count. `None` when it may; else the cap it is at, and until when.
pub fn held(caps: &[NumberCap], in_flight: u32, counted_ms: &[i64], now_ms: i64) -> Option<Held> {
    let mut newest_first = counted_ms.to_vec();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut holding: Option<Held> = None;
    for cap in caps {
        let window = cap.window_ms();
        let in_window = newest_first
            .iter()
            .take_while(|at| **at > now_ms.saturating_sub(window))
            .count();
        let calls = in_flight as usize + in_window;
        let limit = cap.calls.get() as usize;
        if calls < limit {
            continue;
        }
        // One more may leave once the window holds limit - 1: the counted calls past
        // the newest `limit - 1 - in_flight` have left it.
        let until_ms = (limit - 1)
            .checked_sub(in_flight as usize)
            .map(|keep| newest_first[keep] + window);
        let later = match (&holding, until_ms) {
            (None, _) => true,
            (Some(Held { until_ms: None, .. }), _) => false,
            (Some(_), None) => true,
            (
                Some(Held {
                    until_ms: Some(a), ..
                }),
                Some(b),
            ) => b > *a,
        };
        if later {
            holding = Some(Held {
                cap: *cap,
                until_ms,
            });
        }
    }
    holding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(texts: &[&str]) -> Vec<NumberCap> {
        texts.iter().map(|t| NumberCap::parse(t).unwrap()).collect()
    }

    #[test]
    fn caps_read_and_show_as_written() {
        let cap = NumberCap::parse(" 5/1h ").unwrap();
        assert_eq!(cap.calls.get(), 5);
        assert_eq!(cap.window, Duration::from_secs(3600));
        assert_eq!(cap.to_string(), "5/1h");
        assert_eq!(NumberCap::parse("20/24h").unwrap().to_string(), "20/24h");
        assert_eq!(NumberCap::parse("1/90s").unwrap().to_string(), "1/90s");
        for bad in ["0/1m", "1", "x/1m", "1/soon", "1/0s", "-1/1m"] {
            let error = NumberCap::parse(bad).unwrap_err();
            assert!(error.contains("N/DURATION"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_number_at_a_cap_waits_until_its_oldest_call_leaves_the_window() {
        let caps = caps(&["1/1m", "3/1h"]);
        let now = 10_000_000;
        assert_eq!(held(&caps, 0, &[], now), None);
        // One call 20 s ago: the minute frees 40 s from now.
        let got = held(&caps, 0, &[now - 20_000], now).unwrap();
        assert_eq!(got.cap.to_string(), "1/1m");
        assert_eq!(got.until_ms, Some(now + 40_000));
        // A call 61 s ago no longer counts for the minute.
        assert_eq!(held(&caps, 0, &[now - 61_000], now), None);
        // Three in the hour: the oldest leaves it at 3,600 s after it.
        let calls = [now - 100_000, now - 2_000_000, now - 3_000_000];
        let got = held(&caps, 0, &calls, now).unwrap();
        assert_eq!(got.cap.to_string(), "3/1h");
        assert_eq!(got.until_ms, Some(now - 3_000_000 + 3_600_000));
    }

    #[test]
    fn calls_in_flight_count_with_no_end_yet() {
        let caps = caps(&["1/2s"]);
        let got = held(&caps, 1, &[], 5_000).unwrap();
        assert_eq!(got.until_ms, None);
        // Two a minute: one in flight and one counted; the counted one's end frees it.
        let caps = self::caps(&["2/1m"]);
        let got = held(&caps, 1, &[1_000], 5_000).unwrap();
        assert_eq!(got.until_ms, Some(61_000));
        assert_eq!(held(&caps, 1, &[], 5_000), None);
    }

    #[test]
    fn the_cap_that_frees_last_is_the_one_named() {
        let caps = caps(&["1/1m", "2/1h"]);
        let now = 10_000_000;
        let got = held(&caps, 0, &[now - 10_000, now - 20_000], now).unwrap();
        assert_eq!(got.cap.to_string(), "2/1h");
        assert_eq!(got.until_ms, Some(now - 20_000 + 3_600_000));
        assert_eq!(longest_window(&caps), Some(Duration::from_secs(3600)));
        assert_eq!(longest_window(&[]), None);
    }
}
