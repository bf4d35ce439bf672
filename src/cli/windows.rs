//! `voicecast windows SETTINGS.toml [--from T] [--days N] [--json]`: the calling windows
//! ahead for a campaign's settings, with the calendar applied, so an operator sees when a
//! campaign will call before dropping it (PRODUCT.md section 6). Needs no store.

use std::collections::BTreeSet;
use std::path::PathBuf;

use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::Serialize;

use crate::calendar::{Calendar, Day};
use crate::config::{Config, ConfigError};
use crate::intake::campaign::read_settings;
use crate::reports::figures::rfc3339;
use crate::settings::{CallingDays, CampaignSettings};

#[derive(Debug, clap::Args)]
pub struct WindowsArgs {
    /// The campaign's settings file (read over `[campaign_defaults]`).
    settings: PathBuf,
    /// Where to begin, "YYYY-MM-DD HH:MM" in the campaign's time zone (else now).
    #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
    from: Option<String>,
    /// How many days to list, the first being --from's.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// Print one JSON object instead of a window a line.
    #[arg(long)]
    json: bool,
}

/// `windows --json`, field for field as PRODUCT.md names them.
#[derive(Debug, Serialize)]
struct Listing {
    timezone: String,
    windows: Vec<Span>,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Span {
    start: String,
    end: String,
}

pub fn run(config: &Config, args: WindowsArgs, now: Timestamp) -> anyhow::Result<()> {
    let own = read_settings(&args.settings).map_err(anyhow::Error::msg)?;
    let settings = own
        .over(&config.campaign_defaults)
        .resolve()
        .map_err(|e| anyhow::anyhow!("the settings file {}: {e}", args.settings.display()))?;
    let from = match &args.from {
        None => now,
        Some(text) => DateTime::strptime("%Y-%m-%d %H:%M", text.trim())
            .and_then(|t| t.to_zoned_datetime(settings.timezone.clone()))
            .map(|t| t.timestamp())
            .map_err(|_| ConfigError(format!("--from {text:?} is not \"YYYY-MM-DD HH:MM\"")))?,
    };
    let calendar = &config.calendar;
    let windows = crate::settings::windows(&settings, calendar, from, args.days);
    let warnings = warnings(&settings, calendar, from, args.days);
    if args.json {
        let zone = &settings.timezone;
        let listing = Listing {
            timezone: zone.iana_name().unwrap_or("UTC").to_string(),
            windows: windows
                .iter()
                .map(|(start, end)| Span {
                    start: rfc3339(start.as_millisecond(), zone),
                    end: rfc3339(end.as_millisecond(), zone),
                })
                .collect(),
            warnings,
        };
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(());
    }
    for (start, end) in &windows {
        println!("{}", line(&settings, calendar, *start, *end));
    }
    if windows.is_empty() {
        eprintln!("No calling window in these {} days.", args.days);
    }
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// A window for a person: `2026-10-10 Sat 09:00-12:00 CST  make-up workday (国庆节)`.
fn line(
    settings: &CampaignSettings,
    calendar: &Calendar,
    start: Timestamp,
    end: Timestamp,
) -> String {
    let zone = &settings.timezone;
    let start = start.to_zoned_datetime(zone.clone());
    let end = end.to_zoned_datetime(zone.clone());
    let until = match end.date() > start.date() {
        true => "24:00".to_string(),
        false => end.strftime("%H:%M").to_string(),
    };
    let kind = match calendar.day(start.date()) {
        Day::MakeUpWorkday(name) if settings.calling_days != CallingDays::All => {
            format!("  make-up workday ({name})")
        }
        _ => String::new(),
    };
    format!(
        "{} {}-{until} {}{kind}",
        start.strftime("%Y-%m-%d %a"),
        start.strftime("%H:%M"),
        start.strftime("%Z")
    )
}

/// The years of the listed days that the calendar does not know, when the campaign
/// follows the calendar: their days are listed by `[calendar] unknown_year`, not by a
/// notice.
fn warnings(
    settings: &CampaignSettings,
    calendar: &Calendar,
    from: Timestamp,
    days: u32,
) -> Vec<String> {
    if settings.calling_days == CallingDays::All {
        return Vec::new();
    }
    let first = from.to_zoned_datetime(settings.timezone.clone()).date();
    let years: BTreeSet<i16> = (0..i64::from(days))
        .filter_map(|day| first.checked_add(jiff::ToSpan::days(day)).ok())
        .map(|date| date.year())
        .filter(|year| !calendar.knows(*year))
        .collect();
    years
        .into_iter()
        .map(|year| calendar.year_warning(year))
        .collect()
}
