//! Campaign settings (PRODUCT.md section 3): the keys of `NAME.toml` and of
//! `[campaign_defaults]`, read as a partial layer, merged over the defaults, and checked
//! into one [`CampaignSettings`]; and (in [`hours`]) when those settings let a campaign
//! dial, which dispatch, the reports' ETA and next window all ask. Pure: no I/O.

pub mod hours;

pub use hours::{DayOff, DialTime, day_off, dial_time, dialling_ends, windows};

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::domain::RetryClass;

/// One layer of settings, every key optional. Unknown keys are an error naming the key.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartialSettings {
    pub template: Option<String>,
    pub template_id: Option<String>,
    pub caller: Option<String>,
    pub cycle_play_times: Option<u32>,
    pub rate: Option<u32>,
    pub priority: Option<i32>,
    pub calling_hours: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub start_at: Option<String>,
    pub max_attempts: Option<u32>,
    pub retry_after: Option<String>,
    pub retry_on: Option<Vec<RetryClass>>,
    pub allow_duplicate_file: Option<bool>,
    pub calling_days: Option<CallingDays>,
    pub blackout_dates: Option<Vec<String>>,
    pub min_answer_rate: Option<f64>,
    pub sheet: Option<Sheet>,
}

impl PartialSettings {
    /// This layer over `base`: every key set here wins. A layer that names `template` or
    /// `template_id` replaces both of the base's, so a campaign's own choice never
    /// collides with a default of the other kind.
    pub fn over(&self, base: &PartialSettings) -> PartialSettings {
        let own_template = self.template.is_some() || self.template_id.is_some();
        let (template, template_id) = if own_template {
            (self.template.clone(), self.template_id.clone())
        } else {
            (base.template.clone(), base.template_id.clone())
        };
        macro_rules! pick {
            ($($key:ident),*) => { PartialSettings {
                template,
                template_id,
                $($key: self.$key.clone().or_else(|| base.$key.clone()),)*
            } };
        }
        pick!(
            caller,
            cycle_play_times,
            rate,
            priority,
            calling_hours,
            timezone,
            start_at,
            max_attempts,
            retry_after,
            retry_on,
            allow_duplicate_file,
            calling_days,
            blackout_dates,
            min_answer_rate,
            sheet
        )
    }
}

/// Where a campaign's text comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateSource {
    /// The template text itself.
    Text(String),
    /// A vendor template's `ID`, resolved through getTTSTemplateList.
    VendorId(String),
}

/// One calling window, `[start, end)` in the campaign's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Time,
    /// `None` means midnight at the end of the day (`24:00`).
    pub end: Option<Time>,
}

impl std::fmt::Display for Window {
    /// As it is written in the settings: `09:00-20:00`, `20:00-24:00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self
            .end
            .map_or_else(|| "24:00".to_string(), |t| t.strftime("%H:%M").to_string());
        write!(f, "{}-{end}", self.start.strftime("%H:%M"))
    }
}

/// Which days a campaign calls on, by China's official calendar (see [`crate::calendar`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallingDays {
    /// Every day.
    #[default]
    All,
    /// Official workdays: Monday to Friday and the make-up workdays (调休), not the
    /// public holidays.
    Workdays,
    /// Every day but the public holidays.
    NotHolidays,
}

impl std::fmt::Display for CallingDays {
    /// As the settings write it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallingDays::All => "all",
            CallingDays::Workdays => "workdays",
            CallingDays::NotHolidays => "not_holidays",
        })
    }
}

/// The worksheet of a workbook call list that holds the list: its name, or its place
/// among the sheets from 1 (`sheet = "名单"`, `sheet = 2`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Sheet {
    Number(u32),
    Name(String),
}

impl std::fmt::Display for Sheet {
    /// As the settings write it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sheet::Number(n) => write!(f, "{n}"),
            Sheet::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// A campaign's checked settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CampaignSettings {
    pub template: TemplateSource,
    pub caller: Option<String>,
    pub cycle_play_times: u32,
    pub rate: Option<NonZeroU32>,
    pub priority: i32,
    pub calling_hours: Vec<Window>,
    pub timezone: TimeZone,
    pub start_at: Option<Timestamp>,
    pub max_attempts: u32,
    pub retry_after: Duration,
    pub retry_on: Vec<RetryClass>,
    pub allow_duplicate_file: bool,
    pub calling_days: CallingDays,
    /// Days with no calls, in `timezone`.
    pub blackout_dates: BTreeSet<Date>,
    /// The answer rate below which the campaign is paused.
    pub min_answer_rate: Option<f64>,
    /// The worksheet to read, when the call list is a workbook; the first when `None`.
    pub sheet: Option<Sheet>,
}

/// A bad setting, naming its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct SettingsError {
    pub key: &'static str,
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        key,
        message: message.into(),
    }
}

/// A campaign's settings: the layer the store keeps for it (see
/// [`PartialSettings::to_keep`], as TOML) over `[campaign_defaults]` as they are now,
/// checked.
pub fn from_stored(text: &str, defaults: &PartialSettings) -> anyhow::Result<CampaignSettings> {
    let layer: PartialSettings = toml::from_str(text)?;
    Ok(layer.over(defaults).resolve()?)
}

/// The built-in defaults, under `[campaign_defaults]`.
pub fn builtin_defaults() -> PartialSettings {
    PartialSettings {
        cycle_play_times: Some(1),
        priority: Some(0),
        calling_hours: Some(vec!["09:00-20:00".into()]),
        timezone: Some("Asia/Shanghai".into()),
        max_attempts: Some(2),
        retry_after: Some("30m".into()),
        retry_on: Some(vec![RetryClass::NoAnswer, RetryClass::Busy]),
        allow_duplicate_file: Some(false),
        calling_days: Some(CallingDays::All),
        blackout_dates: Some(Vec::new()),
        ..PartialSettings::default()
    }
}

impl PartialSettings {
    /// The layer the store keeps for a campaign whose own layer is `self` and whose
    /// layer merged over `[campaign_defaults]` at import is `merged`. What its rows were
    /// checked and rendered against (the template, the caller, `cycle_play_times`,
    /// `allow_duplicate_file`) is fixed as it was at import; the keys that say when and
    /// how fast to call and retry are kept only when the campaign's own file sets them,
    /// so the others follow `[campaign_defaults]` as a reload changes them.
    pub fn to_keep(&self, merged: &PartialSettings) -> PartialSettings {
        PartialSettings {
            template: merged.template.clone(),
            template_id: merged.template_id.clone(),
            caller: merged.caller.clone(),
            cycle_play_times: merged.cycle_play_times,
            allow_duplicate_file: merged.allow_duplicate_file,
            ..self.clone()
        }
    }

    /// Checks every key this layer sets, so a bad default is caught at start-up rather
    /// than when the first campaign needs it.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.template.is_some() && self.template_id.is_some() {
            return Err(bad(
                "template",
                "give either `template` or `template_id`, not both",
            ));
        }
        if let Some(t) = &self.template_id {
            check_template_id(t)?;
        }
        if let Some(n) = self.cycle_play_times {
            check_cycle_play_times(n)?;
        }
        if self.rate == Some(0) {
            return Err(bad("rate", "must be at least 1 call per second"));
        }
        if self.max_attempts == Some(0) {
            return Err(bad("max_attempts", "must be at least 1"));
        }
        if let Some(hours) = &self.calling_hours {
            parse_calling_hours(hours)?;
        }
        let zone = self.timezone.as_deref().map(parse_timezone).transpose()?;
        if let Some(start_at) = &self.start_at {
            parse_start_at(start_at, zone.as_ref().unwrap_or(&TimeZone::UTC))?;
        }
        if let Some(d) = &self.retry_after {
            parse_duration("retry_after", d)?;
        }
        if let Some(dates) = &self.blackout_dates {
            parse_blackout_dates(dates)?;
        }
        if let Some(rate) = self.min_answer_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(bad(
                    "min_answer_rate",
                    format!("{rate} is not a share between 0 and 1, like 0.3"),
                ));
            }
        }
        match &self.sheet {
            Some(Sheet::Number(0)) => Err(bad("sheet", "sheets are numbered from 1")),
            Some(Sheet::Name(name)) if name.trim().is_empty() => Err(bad(
                "sheet",
                "is empty: name the worksheet, or give its number from 1",
            )),
            _ => Ok(()),
        }
    }

    /// Resolves this (fully merged) layer into checked settings.
    pub fn resolve(&self) -> Result<CampaignSettings, SettingsError> {
        self.check()?;
        let template = match (&self.template, &self.template_id) {
            (Some(text), None) => TemplateSource::Text(text.clone()),
            (None, Some(id)) => TemplateSource::VendorId(id.trim().to_string()),
            _ => {
                return Err(bad(
                    "template",
                    "no template: set `template` (the text) or `template_id` (a vendor template) \
                     in the campaign's settings file or in [campaign_defaults]",
                ));
            }
        };
        let settings = self.over(&builtin_defaults());
        // Every key with a built-in default is set after merging over the defaults.
        macro_rules! defaulted {
            ($key:ident) => {
                settings
                    .$key
                    .clone()
                    .expect(concat!("builtin_defaults sets ", stringify!($key)))
            };
        }
        let timezone = parse_timezone(&defaulted!(timezone))?;
        Ok(CampaignSettings {
            template,
            caller: settings.caller.clone().filter(|c| !c.trim().is_empty()),
            cycle_play_times: defaulted!(cycle_play_times),
            rate: settings.rate.and_then(NonZeroU32::new),
            priority: defaulted!(priority),
            calling_hours: parse_calling_hours(&defaulted!(calling_hours))?,
            start_at: settings
                .start_at
                .as_deref()
                .map(|s| parse_start_at(s, &timezone))
                .transpose()?,
            timezone,
            max_attempts: defaulted!(max_attempts),
            retry_after: parse_duration("retry_after", &defaulted!(retry_after))?,
            retry_on: defaulted!(retry_on),
            allow_duplicate_file: defaulted!(allow_duplicate_file),
            calling_days: defaulted!(calling_days),
            blackout_dates: parse_blackout_dates(&defaulted!(blackout_dates))?,
            min_answer_rate: settings.min_answer_rate,
            sheet: settings.sheet.clone(),
        })
    }
}

fn check_template_id(id: &str) -> Result<(), SettingsError> {
    if id.trim().is_empty() || !id.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "template_id",
            format!("{id:?} is not a vendor template ID (digits)"),
        ));
    }
    Ok(())
}

fn check_cycle_play_times(n: u32) -> Result<(), SettingsError> {
    if !(1..=10).contains(&n) {
        return Err(bad(
            "cycle_play_times",
            format!("{n} is not between 1 and 10"),
        ));
    }
    Ok(())
}

fn parse_timezone(name: &str) -> Result<TimeZone, SettingsError> {
    TimeZone::get(name.trim()).map_err(|_| {
        bad(
            "timezone",
            format!("{name:?} is not a time zone name (like \"Asia/Shanghai\")"),
        )
    })
}

fn parse_start_at(text: &str, zone: &TimeZone) -> Result<Timestamp, SettingsError> {
    let civil = DateTime::strptime("%Y-%m-%d %H:%M", text.trim())
        .map_err(|_| bad("start_at", format!("{text:?} is not \"YYYY-MM-DD HH:MM\"")))?;
    civil
        .to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|e| bad("start_at", format!("{text:?}: {e}")))
}

/// Reads a humantime duration (`"30m"`, `"1h 30m"`) for `key`.
pub fn parse_duration(key: &'static str, text: &str) -> Result<Duration, SettingsError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        bad(
            key,
            format!("{text:?} is not a duration like \"30m\" or \"2h\": {e}"),
        )
    })
}

/// Reads `["2026-12-24", "2026-12-25"]`.
fn parse_blackout_dates(dates: &[String]) -> Result<BTreeSet<Date>, SettingsError> {
    dates
        .iter()
        .map(|text| {
            Date::strptime("%Y-%m-%d", text.trim()).map_err(|_| {
                bad(
                    "blackout_dates",
                    format!("{text:?} is not a date like \"2026-12-24\""),
                )
            })
        })
        .collect()
}

/// Reads `["09:00-12:00", "14:00-20:00"]`; `"00:00-24:00"` is the whole day.
pub fn parse_calling_hours(windows: &[String]) -> Result<Vec<Window>, SettingsError> {
    if windows.is_empty() {
        return Err(bad(
            "calling_hours",
            "needs at least one window, like \"09:00-20:00\"",
        ));
    }
    windows.iter().map(|w| parse_window(w)).collect()
}

fn parse_window(text: &str) -> Result<Window, SettingsError> {
    let shape = || {
        bad(
            "calling_hours",
            format!("{text:?} is not a window like \"09:00-20:00\""),
        )
    };
    let (start, end) = text.trim().split_once('-').ok_or_else(shape)?;
    let time = |t: &str| Time::strptime("%H:%M", t.trim()).map_err(|_| shape());
    let start = time(start)?;
    let end = if end.trim() == "24:00" {
        None
    } else {
        Some(time(end)?)
    };
    if end.is_some_and(|end| end <= start) {
        return Err(bad(
            "calling_hours",
            format!(
                "{text:?} ends before it starts; write a window past midnight as two, \
                     like \"20:00-24:00\" and \"00:00-08:00\""
            ),
        ));
    }
    Ok(Window { start, end })
}

#[cfg(test)]
mod tests;
