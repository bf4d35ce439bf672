//! When a campaign may dial: after its `start_at` and inside one of its calling windows,
//! both in the campaign's time zone. Pure.

use std::time::Duration;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan, ZonedDateTime};

use super::{CampaignSettings, Window};

/// Whether a campaign may dial at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTime {
    Now,
    /// Not before `until`; `why` says so in words (shown as the campaign's state reason).
    Wait {
        until: Timestamp,
        why: String,
    },
    /// Its windows never open (none at all).
    Never,
}

/// Whether `settings` allow dialling at `now`, and if not, until when to wait.
pub fn dial_time(settings: &CampaignSettings, now: Timestamp) -> DialTime {
    let zone = &settings.timezone;
    let local = |t: Timestamp| {
        t.to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    if let Some(start) = settings.start_at.filter(|s| *s > now) {
        // The first window at or after the start.
        let until = match next_opening(&settings.calling_hours, start, zone) {
            Some(t) => t,
            None => return DialTime::Never,
        };
        return DialTime::Wait {
            until,
            why: format!("starts at {}", local(until)),
        };
    }
    match next_opening(&settings.calling_hours, now, zone) {
        Some(t) if t <= now => DialTime::Now,
        Some(until) => DialTime::Wait {
            until,
            why: format!("outside calling hours until {}", local(until)),
        },
        None => DialTime::Never,
    }
}

/// The first instant at or after `from` inside a window (`from` itself when it is inside
/// one), looking a week ahead; `None` when there are no windows.
fn next_opening(
    windows: &[Window],
    from: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> Option<Timestamp> {
    next_span(windows, from, zone).map(|(start, _)| start)
}

/// The first stretch of dialling time at or after `from`: its start (`from` itself when
/// inside a window) and the end of that window.
fn next_span(
    windows: &[Window],
    from: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> Option<(Timestamp, Timestamp)> {
    let here = from.to_zoned_datetime(zone.clone());
    let today = here.date();
    (0..8i64)
        .filter_map(|day| today.checked_add(day.days()).ok())
        .flat_map(|date| windows.iter().filter_map(move |w| span_of(w, date, zone)))
        .filter(|(_, end)| *end > from)
        .map(|(start, end)| (start.max(from), end))
        .min()
}

/// When `dialling` of calling time, counted from `now`, is used up: the calling hours
/// and `start_at` pause the count outside their windows. `None` when the windows never
/// open, or the work runs past a year of them.
pub fn dialling_ends(
    settings: &CampaignSettings,
    now: Timestamp,
    dialling: Duration,
) -> Option<Timestamp> {
    let zone = &settings.timezone;
    let mut at = settings.start_at.map_or(now, |start| start.max(now));
    let mut left = dialling;
    for _ in 0..(366 * 4) {
        let (start, end) = next_span(&settings.calling_hours, at, zone)?;
        let open = end.duration_since(start).unsigned_abs();
        if left <= open {
            return start.checked_add(left).ok();
        }
        left -= open;
        at = end;
    }
    None
}

/// A window on one date, as instants (a clock gap or fold takes the zone's usual choice).
fn span_of(
    window: &Window,
    date: Date,
    zone: &jiff::tz::TimeZone,
) -> Option<(Timestamp, Timestamp)> {
    let at = |d: Date, t| -> Option<ZonedDateTime> {
        d.to_datetime(t).to_zoned_datetime(zone.clone()).ok()
    };
    let start = at(date, window.start)?.timestamp();
    let end = match window.end {
        Some(end) => at(date, end)?.timestamp(),
        None => at(date.tomorrow().ok()?, jiff::civil::Time::midnight())?.timestamp(),
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::PartialSettings;

    fn settings(toml_text: &str) -> CampaignSettings {
        let layer: PartialSettings = toml::from_str(toml_text).unwrap();
        layer
            .over(&crate::settings::builtin_defaults())
            .resolve()
            .unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn inside_a_window_dials_now_and_outside_waits_for_the_next() {
        let s = settings("template = \"x\"\ncalling_hours = [\"09:00-12:00\", \"14:00-20:00\"]");
        // 10:00 in Shanghai.
        assert_eq!(dial_time(&s, at("2026-11-24T02:00:00Z")), DialTime::Now);
        // 12:30 waits for 14:00.
        let DialTime::Wait { until, why } = dial_time(&s, at("2026-11-24T04:30:00Z")) else {
            panic!("should wait");
        };
        assert_eq!(until, at("2026-11-24T06:00:00Z"));
        assert_eq!(why, "outside calling hours until 2026-11-24 14:00 CST");
        // 20:00 exactly is outside: the end is open; the next window is tomorrow 09:00.
        let DialTime::Wait { until, .. } = dial_time(&s, at("2026-11-24T12:00:00Z")) else {
            panic!("should wait");
        };
        assert_eq!(until, at("2026-11-25T01:00:00Z"));
    }

    #[test]
    fn start_at_waits_for_itself_then_for_a_window() {
        let s = settings(
            "template = \"x\"\nstart_at = \"2026-11-25 08:00\"\ncalling_hours = [\"09:00-20:00\"]",
        );
        let DialTime::Wait { until, why } = dial_time(&s, at("2026-11-24T02:00:00Z")) else {
            panic!("should wait");
        };
        assert_eq!(until, at("2026-11-25T01:00:00Z"));
        assert_eq!(why, "starts at 2026-11-25 09:00 CST");
        assert_eq!(dial_time(&s, at("2026-11-25T01:00:00Z")), DialTime::Now);
    }

    #[test]
    fn all_day_and_other_zones() {
        let s = settings("template = \"x\"\ncalling_hours = [\"00:00-24:00\"]");
        assert_eq!(dial_time(&s, at("2026-11-24T16:59:59Z")), DialTime::Now);
        let s = settings(
            "template = \"x\"\ntimezone = \"America/New_York\"\ncalling_hours = [\"09:00-17:00\"]",
        );
        // 08:30 in New York (EST, UTC-5).
        let DialTime::Wait { until, .. } = dial_time(&s, at("2026-11-24T13:30:00Z")) else {
            panic!("should wait");
        };
        assert_eq!(until, at("2026-11-24T14:00:00Z"));
    }

    #[test]
    fn dialling_time_is_counted_inside_the_windows_only() {
        let s = settings(
            "template = \"x\"\ncalling_hours = [\"09:00-12:00\", \"14:00-18:00\"]\ntimezone = \"Asia/Shanghai\"",
        );
        let now = at("2026-11-24T10:00:00+08:00");
        let ends = |secs: u64| dialling_ends(&s, now, Duration::from_secs(secs)).unwrap();
        assert_eq!(ends(3600), at("2026-11-24T11:00:00+08:00"));
        // Two hours this morning, then an hour after lunch.
        assert_eq!(ends(3 * 3600), at("2026-11-24T15:00:00+08:00"));
        // Past tonight's end: on into tomorrow morning.
        assert_eq!(ends(7 * 3600), at("2026-11-25T10:00:00+08:00"));
    }
}
