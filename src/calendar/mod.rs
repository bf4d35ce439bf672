//! China's official calendar: the public holidays and the make-up workdays (调休, weekend
//! days that are official workdays) the State Council publishes each year, as the
//! holiday-cn project's files hold them (`data/holiday-cn/`, MIT; its `SOURCE.md` says
//! where they come from). The years published when the binary was built are built in; a
//! `YYYY.json` in `[calendar] dir` replaces its year. Pure apart from reading that
//! folder: it answers what a date is.
//!
//! A file is keyed by the year of its notice, and a notice can reach into the year before
//! (元旦 2019 made 2018-12-29 a workday), so a date is looked up in its own year's notice
//! and the next year's. A year whose notice is missing or lists no day is unknown: its
//! dates are neither workdays nor holidays until its notice comes, and the calendar
//! carries `[calendar] unknown_year`, which says how calling days treat them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::{self, TimeZone};
use serde::Deserialize;

/// The notices built into the binary, by year.
const BUILT_IN: [(i16, &str); 9] = [
    (2019, include_str!("../../data/holiday-cn/2019.json")),
    (2020, include_str!("../../data/holiday-cn/2020.json")),
    (2021, include_str!("../../data/holiday-cn/2021.json")),
    (2022, include_str!("../../data/holiday-cn/2022.json")),
    (2023, include_str!("../../data/holiday-cn/2023.json")),
    (2024, include_str!("../../data/holiday-cn/2024.json")),
    (2025, include_str!("../../data/holiday-cn/2025.json")),
    (2026, include_str!("../../data/holiday-cn/2026.json")),
    (2027, include_str!("../../data/holiday-cn/2027.json")),
];

/// What a date is in China's official calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Day {
    /// Monday to Friday, no holiday.
    Workday,
    /// Saturday or Sunday, not made a workday.
    Weekend,
    /// A public holiday (or a day off around one), with the holiday's name: 国庆节.
    Holiday(String),
    /// A weekend day made an official workday, with the holiday it makes up for.
    MakeUpWorkday(String),
    /// In a year whose notice the calendar does not have.
    Unknown,
}

impl Day {
    /// Whether people work that day; `None` when the calendar does not know.
    pub fn is_workday(&self) -> Option<bool> {
        match self {
            Day::Workday | Day::MakeUpWorkday(_) => Some(true),
            Day::Weekend | Day::Holiday(_) => Some(false),
            Day::Unknown => None,
        }
    }
}

/// A calendar file that cannot be used: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct CalendarError {
    pub path: PathBuf,
    pub reason: String,
}

/// How calling days treat a date in a year the calendar does not know
/// (`[calendar] unknown_year`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownYear {
    /// No calls on it for campaigns that follow the calendar.
    #[default]
    Wait,
    /// Monday to Friday are workdays, and no day is a holiday.
    Weekdays,
}

impl std::fmt::Display for UnknownYear {
    /// As the configuration writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnknownYear::Wait => "wait",
            UnknownYear::Weekdays => "weekdays",
        })
    }
}

/// The notices the calendar knows, by the year each is for, and what to do about the
/// years it does not know.
#[derive(Clone, PartialEq)]
pub struct Calendar {
    notices: BTreeMap<i16, Notice>,
    pub unknown_year: UnknownYear,
}

impl std::fmt::Debug for Calendar {
    /// The years it knows, not every day of them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calendar")
            .field("known_years", &self.known_years())
            .field("unknown_year", &self.unknown_year)
            .finish()
    }
}

/// One year's notice: every day it lists, off (a holiday) or not (a make-up workday).
#[derive(Clone, Debug, Default, PartialEq)]
struct Notice {
    days: BTreeMap<Date, (bool, String)>,
}

/// A holiday-cn file, as written.
#[derive(Deserialize)]
struct File {
    year: i16,
    days: Vec<FileDay>,
}

#[derive(Deserialize)]
struct FileDay {
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

impl Notice {
    /// Reads a file said to be `year`'s notice.
    fn parse(text: &str, year: i16) -> Result<Notice, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.year != year {
            return Err(format!("it says \"year\": {}, not {year}", file.year));
        }
        let mut days = BTreeMap::new();
        for day in file.days {
            let date: Date = day
                .date
                .parse()
                .map_err(|e| format!("\"date\": {:?} is not a date: {e}", day.date))?;
            days.insert(date, (day.is_off_day, day.name));
        }
        Ok(Notice { days })
    }
}

impl Calendar {
    /// The notices built into the binary.
    pub fn built_in() -> Calendar {
        let notices = BUILT_IN
            .iter()
            .map(|(year, text)| {
                let notice = Notice::parse(text, *year)
                    .unwrap_or_else(|e| panic!("the built-in calendar of {year}: {e}"));
                (*year, notice)
            })
            .collect();
        Calendar {
            notices,
            unknown_year: UnknownYear::default(),
        }
    }

    /// The built-in notices, with each `YYYY.json` in `dir` in place of its year's.
    /// Other files there are left alone.
    pub fn with_dir(dir: &Path) -> Result<Calendar, CalendarError> {
        let failed = |path: &Path, reason: String| CalendarError {
            path: path.to_path_buf(),
            reason,
        };
        let mut calendar = Calendar::built_in();
        let entries = std::fs::read_dir(dir).map_err(|e| failed(dir, e.to_string()))?;
        for entry in entries {
            let path = entry.map_err(|e| failed(dir, e.to_string()))?.path();
            let Some(year) = year_of_file(&path) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|e| failed(&path, e.to_string()))?;
            let notice = Notice::parse(&text, year).map_err(|e| failed(&path, e))?;
            calendar.notices.insert(year, notice);
        }
        Ok(calendar)
    }

    /// The years the calendar knows, in order.
    pub fn known_years(&self) -> Vec<i16> {
        let years = self.notices.keys().copied();
        years.filter(|year| self.knows(*year)).collect()
    }

    /// Whether the calendar has `year`'s notice (one that lists at least one day).
    pub fn knows(&self, year: i16) -> bool {
        self.notices.get(&year).is_some_and(|n| !n.days.is_empty())
    }

    /// What `date` is: listed in its year's notice or the next year's, else a workday or
    /// a weekend day when its year is known, else unknown.
    pub fn day(&self, date: Date) -> Day {
        let listed = [date.year(), date.year() + 1]
            .iter()
            .filter_map(|year| self.notices.get(year)?.days.get(&date))
            .next();
        match listed {
            Some((true, name)) => Day::Holiday(name.clone()),
            Some((false, name)) => Day::MakeUpWorkday(name.clone()),
            None if !self.knows(date.year()) => Day::Unknown,
            None if matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) => Day::Weekend,
            None => Day::Workday,
        }
    }

    /// The year of `today` when the calendar does not know it, else from December 1 on
    /// the next year when it does not know that yet: the year to warn about.
    pub fn missing_year(&self, today: Date) -> Option<i16> {
        let this = today.year();
        let next = this + 1;
        if !self.knows(this) {
            Some(this)
        } else {
            (today.month() == 12 && !self.knows(next)).then_some(next)
        }
    }

    /// The warning about a year the calendar is missing on `today`, if any.
    pub fn warning(&self, today: Date) -> Option<String> {
        self.missing_year(today).map(|year| self.year_warning(year))
    }

    /// The warning that the calendar does not know `year`, in words, saying what that
    /// means for calls and how to mend it.
    pub fn year_warning(&self, year: i16) -> String {
        let meaning = match self.unknown_year {
            UnknownYear::Wait => {
                "campaigns with calling_days \"workdays\" or \"not_holidays\" place no call on its days"
            }
            UnknownYear::Weekdays => {
                "campaigns with calling_days \"workdays\" call Monday to Friday on its days, holidays included"
            }
        };
        format!(
            "the calendar does not know {year}'s public holidays and make-up workdays: under \
             [calendar] unknown_year = \"{}\" {meaning}; put {year}.json (holiday-cn format) in \
             [calendar] dir and reload",
            self.unknown_year
        )
    }
}

/// The date in China at `at`: the calendar's years begin there. China keeps UTC+8 all
/// year, with no summer time.
pub fn date_in_china(at: Timestamp) -> Date {
    at.to_zoned_datetime(TimeZone::fixed(tz::offset(8))).date()
}

/// The year a file in `[calendar] dir` is for: `2027.json` is 2027's.
fn year_of_file(path: &Path) -> Option<i16> {
    let name = path.file_name()?.to_str()?;
    let year = name.strip_suffix(".json")?;
    (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()))
        .then(|| year.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests;
