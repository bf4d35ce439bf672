//! When a campaign may dial: after its `start_at`, on one of its calling days
//! (`calling_days` by China's official calendar, less the `blackout_dates`) and inside one
//! of its calling windows, all in the campaign's time zone; and the windows ahead.
//! Dispatch, the reports' ETA and next window, and `voicecast windows` all ask here. Pure.

use std::time::Duration;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan, ZonedDateTime};

use super::{CallingDays, CampaignSettings, Window};
use crate::calendar::{Calendar, Day, UnknownYear};

/// How far ahead a window is looked for: past the longest holiday, and a year of
/// blackout dates.
pub const LOOK_AHEAD_DAYS: i64 = 400;

/// Whether a campaign may dial at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTime {
    Now,
    /// Not before `until` (`None` when no window opens within [`LOOK_AHEAD_DAYS`]);
    /// `why` says so in words (shown as the campaign's state reason).
    Wait {
        until: Option<Timestamp>,
        why: String,
    },
}

/// Why a campaign places no call on a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayOff {
    /// One of its `blackout_dates`.
    Blackout,
    /// A public holiday, with its name.
    Holiday(String),
    /// A Saturday or Sunday that is not a make-up workday, for a `workdays` campaign.
    Weekend,
    /// A day in a year the calendar does not know, under `unknown_year = "wait"`.
    UnknownYear(i16),
}

impl std::fmt::Display for DayOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DayOff::Blackout => f.write_str("blackout date"),
            DayOff::Holiday(name) => write!(f, "holiday: {name}"),
            DayOff::Weekend => f.write_str("weekend"),
            DayOff::UnknownYear(year) => write!(
                f,
                "the calendar does not know {year} (unknown_year = \"wait\")"
            ),
        }
    }
}

/// Why `settings` allow no call on `date`; `None` when they allow calls on it.
pub fn day_off(settings: &CampaignSettings, calendar: &Calendar, date: Date) -> Option<DayOff> {
    if settings.blackout_dates.contains(&date) {
        return Some(DayOff::Blackout);
    }
    let day = match settings.calling_days {
        CallingDays::All => return None,
        _ => calendar.day(date),
    };
    let day = match (day, calendar.unknown_year) {
        (Day::Unknown, UnknownYear::Wait) => return Some(DayOff::UnknownYear(date.year())),
        (Day::Unknown, UnknownYear::Weekdays) if is_weekend(date) => Day::Weekend,
        (Day::Unknown, UnknownYear::Weekdays) => Day::Workday,
        (day, _) => day,
    };
    match (settings.calling_days, day) {
        (_, Day::Holiday(name)) => Some(DayOff::Holiday(name)),
        (CallingDays::Workdays, Day::Weekend) => Some(DayOff::Weekend),
        _ => None,
    }
}

fn is_weekend(date: Date) -> bool {
    date.weekday().to_monday_one_offset() >= 6
}

/// Whether `settings` allow dialling at `now`, and if not, until when to wait and why.
pub fn dial_time(settings: &CampaignSettings, calendar: &Calendar, now: Timestamp) -> DialTime {
    let before_start = settings.start_at.filter(|start| *start > now);
    let found = search(settings, calendar, before_start.unwrap_or(now));
    let local = |t: Timestamp| {
        t.to_zoned_datetime(settings.timezone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let skipped = found
        .skipped
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some((until, _)) = found.span else {
        let why = match found
            .skipped
            .iter()
            .find(|off| matches!(off, DayOff::UnknownYear(_)))
        {
            Some(unknown) => {
                format!("{unknown}: no call until its holidays are put in [calendar] dir")
            }
            None => format!("no calling window in the next {LOOK_AHEAD_DAYS} days ({skipped})"),
        };
        return DialTime::Wait { until: None, why };
    };
    if until <= now {
        return DialTime::Now;
    }
    let why = match (before_start, skipped.is_empty()) {
        (Some(_), true) => format!("starts at {}", local(until)),
        (Some(_), false) => format!("starts at {}, after {skipped}", local(until)),
        (None, true) => format!("outside calling hours until {}", local(until)),
        (None, false) => format!("{skipped} until {}", local(until)),
    };
    DialTime::Wait {
        until: Some(until),
        why,
    }
}

/// The calling windows of the `days` dates from `from`'s on: each of `calling_hours` on
/// each date the settings call on, from `from` and `start_at` on (the first one clipped at
/// the later of them), in order.
pub fn windows(
    settings: &CampaignSettings,
    calendar: &Calendar,
    from: Timestamp,
    days: u32,
) -> Vec<(Timestamp, Timestamp)> {
    let from = settings.start_at.map_or(from, |start| start.max(from));
    let first = from.to_zoned_datetime(settings.timezone.clone()).date();
    let mut windows = (0..i64::from(days))
        .filter_map(|day| first.checked_add(day.days()).ok())
        .filter(|date| day_off(settings, calendar, *date).is_none())
        .flat_map(|date| spans_on(settings, date))
        .filter(|(_, end)| *end > from)
        .map(|(start, end)| (start.max(from), end))
        .collect::<Vec<_>>();
    windows.sort();
    windows
}

/// What [`search`] found.
struct Found {
    /// The first stretch of dialling time at or after the instant searched from: its
    /// start (that instant itself when inside a window) and the end of its window.
    span: Option<(Timestamp, Timestamp)>,
    /// Why the days passed over before it had no calls, each reason once, in order.
    skipped: Vec<DayOff>,
}

/// Looks for the first stretch of dialling time at or after `from`, up to
/// [`LOOK_AHEAD_DAYS`] ahead.
fn search(settings: &CampaignSettings, calendar: &Calendar, from: Timestamp) -> Found {
    let today = from.to_zoned_datetime(settings.timezone.clone()).date();
    let mut skipped = Vec::new();
    let dates = (0..LOOK_AHEAD_DAYS).filter_map(|day| today.checked_add(day.days()).ok());
    for date in dates {
        if let Some(off) = day_off(settings, calendar, date) {
            if !skipped.contains(&off) {
                skipped.push(off);
            }
            continue;
        }
        let span = spans_on(settings, date)
            .filter(|(_, end)| *end > from)
            .map(|(start, end)| (start.max(from), end))
            .min();
        if span.is_some() {
            return Found { span, skipped };
        }
    }
    Found {
        span: None,
        skipped,
    }
}

/// When `dialling` of calling time, counted from `now`, is used up: `start_at`, the
/// calling days and the calling hours pause the count outside their windows. `None`
/// when no window opens, or the work runs past a year of them.
pub fn dialling_ends(
    settings: &CampaignSettings,
    calendar: &Calendar,
    now: Timestamp,
    dialling: Duration,
) -> Option<Timestamp> {
    let mut at = settings.start_at.map_or(now, |start| start.max(now));
    let mut left = dialling;
    for _ in 0..(366 * 4) {
        let (start, end) = search(settings, calendar, at).span?;
        let open = end.duration_since(start).unsigned_abs();
        if left <= open {
            return start.checked_add(left).ok();
        }
        left -= open;
        at = end;
    }
    None
}

/// The settings' calling windows on `date`, as instants.
fn spans_on(
    settings: &CampaignSettings,
    date: Date,
) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
    settings
        .calling_hours
        .iter()
        .filter_map(move |window| span_of(window, date, &settings.timezone))
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
        assert_eq!(
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T02:00:00Z")),
            DialTime::Now
        );
        // 12:30 waits for 14:00.
        let DialTime::Wait { until, why } =
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T04:30:00Z"))
        else {
            panic!("should wait");
        };
        assert_eq!(until, Some(at("2026-11-24T06:00:00Z")));
        assert_eq!(why, "outside calling hours until 2026-11-24 14:00 CST");
        // 20:00 exactly is outside: the end is open; the next window is tomorrow 09:00.
        let DialTime::Wait { until, .. } =
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T12:00:00Z"))
        else {
            panic!("should wait");
        };
        assert_eq!(until, Some(at("2026-11-25T01:00:00Z")));
    }

    #[test]
    fn start_at_waits_for_itself_then_for_a_window() {
        let s = settings(
            "template = \"x\"\nstart_at = \"2026-11-25 08:00\"\ncalling_hours = [\"09:00-20:00\"]",
        );
        let DialTime::Wait { until, why } =
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T02:00:00Z"))
        else {
            panic!("should wait");
        };
        assert_eq!(until, Some(at("2026-11-25T01:00:00Z")));
        assert_eq!(why, "starts at 2026-11-25 09:00 CST");
        assert_eq!(
            dial_time(&s, &Calendar::built_in(), at("2026-11-25T01:00:00Z")),
            DialTime::Now
        );
    }

    #[test]
    fn all_day_and_other_zones() {
        let s = settings("template = \"x\"\ncalling_hours = [\"00:00-24:00\"]");
        assert_eq!(
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T16:59:59Z")),
            DialTime::Now
        );
        let s = settings(
            "template = \"x\"\ntimezone = \"America/New_York\"\ncalling_hours = [\"09:00-17:00\"]",
        );
        // 08:30 in New York (EST, UTC-5).
        let DialTime::Wait { until, .. } =
            dial_time(&s, &Calendar::built_in(), at("2026-11-24T13:30:00Z"))
        else {
            panic!("should wait");
        };
        assert_eq!(until, Some(at("2026-11-24T14:00:00Z")));
    }

    #[test]
    fn dialling_time_is_counted_inside_the_windows_only() {
        let s = settings(
            "template = \"x\"\ncalling_hours = [\"09:00-12:00\", \"14:00-18:00\"]\ntimezone = \"Asia/Shanghai\"",
        );
        let now = at("2026-11-24T10:00:00+08:00");
        let ends = |secs: u64| {
            dialling_ends(&s, &Calendar::built_in(), now, Duration::from_secs(secs)).unwrap()
        };
        assert_eq!(ends(3600), at("2026-11-24T11:00:00+08:00"));
        // Two hours this morning, then an hour after lunch.
        assert_eq!(ends(3 * 3600), at("2026-11-24T15:00:00+08:00"));
        // Past tonight's end: on into tomorrow morning.
        assert_eq!(ends(7 * 3600), at("2026-11-25T10:00:00+08:00"));
    }

    /// A `workdays` campaign with two windows a day, as the README's example.
    fn workdays() -> CampaignSettings {
        settings(
            "template = \"x\"\ncalling_days = \"workdays\"\n\
             calling_hours = [\"09:00-12:00\", \"14:00-18:00\"]",
        )
    }

    fn waits(s: &CampaignSettings, calendar: &Calendar, now: &str) -> (Option<Timestamp>, String) {
        match dial_time(s, calendar, at(now)) {
            DialTime::Wait { until, why } => (until, why),
            DialTime::Now => panic!("{now}: dials"),
        }
    }

    #[test]
    fn national_day_waits_with_its_name_and_the_make_up_saturday_dials() {
        let s = workdays();
        let calendar = Calendar::built_in();
        // Wednesday 2026-09-30, after the day's last window: the holiday comes next.
        let (until, why) = waits(&s, &calendar, "2026-09-30T21:00:00+08:00");
        assert_eq!(until, Some(at("2026-10-08T09:00:00+08:00")));
        assert_eq!(why, "holiday: 国庆节 until 2026-10-08 09:00 CST");
        let (_, why) = waits(&s, &calendar, "2026-10-03T10:00:00+08:00");
        assert_eq!(why, "holiday: 国庆节 until 2026-10-08 09:00 CST");
        // Saturday 2026-10-10 is a make-up workday; Sunday the 11th is not.
        assert_eq!(
            dial_time(&s, &calendar, at("2026-10-10T10:00:00+08:00")),
            DialTime::Now
        );
        let (until, why) = waits(&s, &calendar, "2026-10-11T10:00:00+08:00");
        assert_eq!(until, Some(at("2026-10-12T09:00:00+08:00")));
        assert_eq!(why, "weekend until 2026-10-12 09:00 CST");
        // Friday evening before 清明节 2026 (Saturday to Monday off).
        let (until, why) = waits(&s, &calendar, "2026-04-03T19:00:00+08:00");
        assert_eq!(until, Some(at("2026-04-07T09:00:00+08:00")));
        assert_eq!(why, "holiday: 清明节 until 2026-04-07 09:00 CST");
    }

    #[test]
    fn not_holidays_calls_on_weekends_and_all_calls_on_holidays() {
        let calendar = Calendar::built_in();
        let s = settings("template = \"x\"\ncalling_days = \"not_holidays\"");
        assert_eq!(
            dial_time(&s, &calendar, at("2026-10-11T10:00:00+08:00")),
            DialTime::Now
        );
        let (until, _) = waits(&s, &calendar, "2026-10-05T10:00:00+08:00");
        assert_eq!(until, Some(at("2026-10-08T09:00:00+08:00")));
        let s = settings("template = \"x\"");
        assert_eq!(
            dial_time(&s, &calendar, at("2026-10-05T10:00:00+08:00")),
            DialTime::Now
        );
    }

    #[test]
    fn start_at_on_a_holiday_waits_for_the_first_workday_after_it() {
        let calendar = Calendar::built_in();
        let mut s = workdays();
        s.start_at = Some(at("2026-10-01T00:00:00+08:00"));
        let (until, why) = waits(&s, &calendar, "2026-09-29T10:00:00+08:00");
        assert_eq!(until, Some(at("2026-10-08T09:00:00+08:00")));
        assert_eq!(why, "starts at 2026-10-08 09:00 CST, after holiday: 国庆节");
    }

    #[test]
    fn blackout_dates_have_no_calls_in_the_campaign_zone() {
        let calendar = Calendar::built_in();
        let s = settings(
            "template = \"x\"\nblackout_dates = [\"2026-12-24\", \"2026-12-25\"]\n\
             timezone = \"America/New_York\"",
        );
        // 10:00 on the 24th in New York: the dates are New York's.
        let (until, why) = waits(&s, &calendar, "2026-12-24T15:00:00Z");
        assert_eq!(until, Some(at("2026-12-26T14:00:00Z")));
        assert_eq!(why, "blackout date until 2026-12-26 09:00 EST");
    }

    #[test]
    fn an_unknown_year_waits_with_no_end_or_counts_weekdays() {
        let mut calendar = Calendar::built_in();
        let s = workdays();
        // Monday 2027-01-04.
        let (until, why) = waits(&s, &calendar, "2027-01-04T10:00:00+08:00");
        assert_eq!(until, None);
        assert_eq!(
            why,
            "the calendar does not know 2027 (unknown_year = \"wait\"): no call until its \
             holidays are put in [calendar] dir"
        );
        // Late on the last day of 2026, the wait is the same.
        let (until, _) = waits(&s, &calendar, "2026-12-31T19:00:00+08:00");
        assert_eq!(until, None);
        assert_eq!(
            dialling_ends(
                &s,
                &calendar,
                at("2026-12-31T10:00:00+08:00"),
                Duration::from_secs(8 * 3600)
            ),
            None
        );
        calendar.unknown_year = UnknownYear::Weekdays;
        assert_eq!(
            dial_time(&s, &calendar, at("2027-01-04T10:00:00+08:00")),
            DialTime::Now
        );
        let (until, why) = waits(&s, &calendar, "2027-01-09T10:00:00+08:00");
        assert_eq!(until, Some(at("2027-01-11T09:00:00+08:00")));
        assert_eq!(why, "weekend until 2027-01-11 09:00 CST");
    }

    #[test]
    fn dialling_time_skips_the_days_off() {
        let s = workdays();
        let calendar = Calendar::built_in();
        // Two hours left on 09-30 after 16:00, then the holiday: the rest from 10-08 on.
        let ends = dialling_ends(
            &s,
            &calendar,
            at("2026-09-30T16:00:00+08:00"),
            Duration::from_secs(3 * 3600),
        );
        assert_eq!(ends, Some(at("2026-10-08T10:00:00+08:00")));
    }

    #[test]
    fn the_windows_ahead_clip_the_first_and_leave_out_the_days_off() {
        let s = workdays();
        let calendar = Calendar::built_in();
        let listed = windows(&s, &calendar, at("2026-10-09T10:30:00+08:00"), 3);
        let expected: Vec<_> = [
            ("2026-10-09T10:30:00+08:00", "2026-10-09T12:00:00+08:00"),
            ("2026-10-09T14:00:00+08:00", "2026-10-09T18:00:00+08:00"),
            ("2026-10-10T09:00:00+08:00", "2026-10-10T12:00:00+08:00"),
            ("2026-10-10T14:00:00+08:00", "2026-10-10T18:00:00+08:00"),
        ]
        .iter()
        .map(|(start, end)| (at(start), at(end)))
        .collect();
        assert_eq!(listed, expected);
    }
}
