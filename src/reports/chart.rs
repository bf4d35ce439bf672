//! The calls chart of `report.html`: calls per minute over a campaign's span, in columns
//! of one step each, with round axis ticks. Geometry only, in the chart's 800 × 220 view
//! box; the template draws it.

use jiff::tz::TimeZone;

use super::figures::local_time;

/// The calls chart has at most this many columns; their width is the first step of
/// [`STEPS`] that fits the campaign's span.
const MAX_COLUMNS: i64 = 90;
const STEPS: [i64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];
/// The calls chart's drawing area inside its 800 × 220 view box.
const PLOT_LEFT: f64 = 56.0;
const PLOT_RIGHT: f64 = 790.0;
const PLOT_TOP: f64 = 12.0;
const PLOT_BOTTOM: f64 = 190.0;

pub struct Timeline {
    pub columns: Vec<Column>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub step: String,
    pub peak: String,
}

pub struct Column {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub title: String,
}

pub struct Tick {
    pub at: f64,
    pub label: String,
}

/// Calls per minute over the campaign's span, in columns of one step each.
pub fn timeline(calls: &[(i64, u64)], zone: &TimeZone) -> Option<Timeline> {
    let (first, last) = (calls.first()?.0, calls.last()?.0);
    let span = last - first + 1;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| (span + s - 1) / s <= MAX_COLUMNS)
        .unwrap_or(86400 * ((span + 86400 * MAX_COLUMNS - 1) / (86400 * MAX_COLUMNS)));
    let start = first.div_euclid(step) * step;
    let count = (last.div_euclid(step) * step - start) / step + 1;
    let mut buckets = vec![0u64; count as usize];
    for (second, n) in calls {
        buckets[((second - start) / step) as usize] += n;
    }
    let per_minute = |n: u64| n as f64 * 60.0 / step as f64;
    let peak_index = (0..buckets.len()).max_by_key(|i| buckets[*i])?;
    let peak = per_minute(buckets[peak_index]);
    let (top, tick) = axis(peak);
    let width = (PLOT_RIGHT - PLOT_LEFT) / count as f64;
    let y = |v: f64| PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * v / top;
    let format = if span > 86400 {
        "%m-%d %H:%M"
    } else if step < 60 {
        "%H:%M:%S"
    } else {
        "%H:%M"
    };
    let label = |i: usize| clock(start + i as i64 * step, zone, format);
    let columns = buckets
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let value = per_minute(*n);
            Column {
                x: round1(PLOT_LEFT + i as f64 * width + width * 0.1),
                y: round1(y(value)),
                width: round1((width * 0.8).max(0.5)),
                height: round1(PLOT_BOTTOM - y(value)),
                title: format!("{}: {} calls ({} a minute)", label(i), n, number(value)),
            }
        })
        .collect();
    let ticks = (top / tick).round() as usize;
    let y_ticks = (0..=ticks)
        .map(|k| Tick {
            at: round1(y(k as f64 * tick)),
            label: number(k as f64 * tick),
        })
        .collect();
    let every = (count as usize).div_ceil(6).max(1);
    let x_ticks = (0..count as usize)
        .step_by(every)
        .map(|i| Tick {
            at: round1(PLOT_LEFT + i as f64 * width),
            label: label(i),
        })
        .collect();
    Some(Timeline {
        columns,
        y_ticks,
        x_ticks,
        step: step_name(step),
        peak: format!(
            "peak {} calls a minute at {}",
            number(peak),
            label(peak_index)
        ),
    })
}

/// The axis top and its tick step for values up to `peak`: 1, 2 or 5 times a power of
/// ten, three to five ticks above zero.
fn axis(peak: f64) -> (f64, f64) {
    let raw = (peak / 5.0).max(0.1);
    let magnitude = 10f64.powf(raw.log10().floor());
    let tick = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|t| *t >= raw)
        .unwrap_or(10.0 * magnitude);
    ((peak / tick).ceil().max(1.0) * tick, tick)
}

fn step_name(step: i64) -> String {
    match step {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

/// `second` (Unix) in `zone`, as `format` says.
fn clock(second: i64, zone: &TimeZone, format: &str) -> String {
    local_time(second * 1000, zone, format)
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A chart value: whole when it is, else one decimal.
pub fn number(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis(87.0), (100.0, 20.0));
        assert_eq!(axis(600.0), (600.0, 200.0));
        assert_eq!(axis(3.0), (3.0, 1.0));
        assert_eq!(axis(0.2), (0.2, 0.1));
    }

    #[test]
    fn the_timeline_steps_to_fit_the_span() {
        let zone = TimeZone::UTC;
        // Ten minutes of calls, one a second: 10-second columns, 600 a minute.
        let calls: Vec<(i64, u64)> = (0..600).map(|s| (1_800_000_000 + s, 1)).collect();
        let ten_minutes = timeline(&calls, &zone).unwrap();
        assert_eq!(ten_minutes.step, "10 s");
        assert_eq!(ten_minutes.columns.len(), 60);
        assert!(ten_minutes.peak.starts_with("peak 60 calls a minute"));
        // Two days: hour-long columns, labelled with the date.
        let calls = [(1_800_000_000, 5), (1_800_000_000 + 2 * 86400, 1)];
        let two_days = timeline(&calls, &zone).unwrap();
        assert_eq!(two_days.step, "1 h");
        assert_eq!(two_days.columns.len(), 2);
        assert_eq!(two_days.x_ticks[0].label.len(), "01-15 08:00".len());
        assert!(timeline(&[], &zone).is_none());
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1500.0), "1,500");
    }
}
