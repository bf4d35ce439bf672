//! Raw configuration values checked into a [`Config`]: every bad value is an error naming
//! its key; relative paths resolve against the file's folder.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::raw::{RawApi, RawConfig, RawPush, RawReconcile};
use super::{
    Api, Config, ConfigError, Dispatch, Intake, Limits, LoadOptions, Log, Metrics,
    PASSWORD_CREDENTIAL, PASSWORD_ENV, PasswordSources, Paths, Push, Reconcile, Reports, Retention,
};
use crate::calendar::{Calendar, UnknownYear};
use crate::domain::NumberCap;
use crate::settings::builtin_defaults;
use callcenter_openapi::Password;

/// The shortest interval or timeout a key of seconds takes.
const MIN_INTERVAL_SECS: f64 = 0.01;

/// Checks every section of `raw` into a [`Config`]; `file` is where it was read from and
/// `base` the folder relative paths resolve against.
pub(super) fn check(
    raw: RawConfig,
    file: Option<PathBuf>,
    base: &Path,
    options: &LoadOptions,
) -> Result<Config, ConfigError> {
    let resolve = |path: PathBuf| {
        if path.is_relative() {
            base.join(path)
        } else {
            path
        }
    };
    let api = check_api(&raw.api)?;
    let push = check_push(raw.push)?;
    check_log_level(&raw.log.level).map_err(|m| err("log.level", m))?;
    raw.campaign_defaults
        .check()
        .map_err(|e| err(&format!("campaign_defaults.{}", e.key), e.message))?;
    Ok(Config {
        api,
        limits: Limits {
            rate: nonzero("limits.rate", raw.limits.rate)?,
            burst: nonzero("limits.burst", raw.limits.burst)?,
            max_in_flight: nonzero("limits.max_in_flight", raw.limits.max_in_flight)?,
            per_number: raw
                .limits
                .per_number
                .iter()
                .map(|text| NumberCap::parse(text).map_err(|m| err("limits.per_number", m)))
                .collect::<Result<_, _>>()?,
        },
        paths: Paths {
            campaigns: resolve(raw.paths.campaigns),
            database: resolve(raw.paths.database),
        },
        intake: Intake {
            settle: secs("intake.settle_secs", raw.intake.settle_secs, 0.0)?,
            rescan: interval("intake.rescan_secs", raw.intake.rescan_secs)?,
            numbers: raw.intake.numbers,
            max_text_chars: nonzero("intake.max_text_chars", raw.intake.max_text_chars)?,
            dnc_file: raw.intake.dnc_file.map(resolve),
        },
        dispatch: Dispatch {
            linger: Duration::from_millis(raw.dispatch.linger_ms),
            drain_timeout: interval(
                "dispatch.drain_timeout_secs",
                raw.dispatch.drain_timeout_secs,
            )?,
            probe: interval("dispatch.probe_secs", raw.dispatch.probe_secs)?,
        },
        reconcile: check_reconcile(raw.reconcile)?,
        push,
        reports: Reports {
            interval: interval("reports.interval_secs", raw.reports.interval_secs)?,
        },
        retention: Retention {
            keep: days("retention.keep_days", raw.retention.keep_days)?,
            files_keep: days("retention.files_keep_days", raw.retention.files_keep_days)?,
        },
        metrics: Metrics {
            listen: address("metrics.listen", raw.metrics.listen, "127.0.0.1:9464")?,
        },
        calendar: Arc::new(check_calendar(
            raw.calendar.dir.map(resolve),
            raw.calendar.unknown_year,
        )?),
        log: Log {
            level: raw.log.level,
            format: raw.log.format,
        },
        campaign_defaults: raw.campaign_defaults.over(&builtin_defaults()),
        password: PasswordSources {
            from_env: options.var(PASSWORD_ENV).map(Password::new),
            file: raw.api.password_file.map(resolve),
            credentials_directory: options.var("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        },
        file,
    })
}

/// The built-in calendar, with the years in `dir` (when one is named) in place of its own.
fn check_calendar(
    dir: Option<PathBuf>,
    unknown_year: UnknownYear,
) -> Result<Calendar, ConfigError> {
    let mut calendar = match dir {
        Some(dir) => Calendar::with_dir(&dir).map_err(|e| err("calendar.dir", e.to_string()))?,
        None => Calendar::built_in(),
    };
    calendar.unknown_year = unknown_year;
    Ok(calendar)
}

/// The error for `key`, saying `message`.
fn err(key: &str, message: String) -> ConfigError {
    ConfigError(format!("`{key}`: {message}"))
}

fn nonzero(key: &str, value: u32) -> Result<NonZeroU32, ConfigError> {
    NonZeroU32::new(value).ok_or_else(|| err(key, "must be at least 1".into()))
}

/// Seconds, which may be fractional (`0.2`) for tests and trials, at least `min`.
fn secs(key: &str, value: f64, min: f64) -> Result<Duration, ConfigError> {
    if value.is_nan() || value < min {
        return Err(err(
            key,
            format!("must be a number of seconds of at least {min}, not {value}"),
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| err(key, format!("{value}: {e}")))
}

/// Days, which may be fractional (`0.5`, or a few seconds' worth for tests and trials);
/// 0 is `None`, for good.
fn days(key: &str, value: f64) -> Result<Option<Duration>, ConfigError> {
    if value == 0.0 {
        return Ok(None);
    }
    let secs = secs(key, value * 86_400.0, MIN_INTERVAL_SECS).map_err(|_| {
        err(
            key,
            format!("must be a number of days above 0 (0 keeps for good), not {value}"),
        )
    })?;
    Ok(Some(secs))
}

/// Seconds of an interval or a timeout: at least [`MIN_INTERVAL_SECS`], so no loop spins
/// on an interval of 0.
fn interval(key: &str, value: f64) -> Result<Duration, ConfigError> {
    secs(key, value, MIN_INTERVAL_SECS)
}

fn check_api(api: &RawApi) -> Result<Api, ConfigError> {
    if api.password.is_some() {
        return Err(err(
            "api.password",
            format!(
                "the password never sits in the configuration file; put it in \
                 {PASSWORD_ENV}, in the file `api.password_file` names, or in the systemd \
                 credential `{PASSWORD_CREDENTIAL}`"
            ),
        ));
    }
    let base_url = check_base_url(&api.base_url).map_err(|m| err("api.base_url", m))?;
    if !is_version(&api.version) {
        return Err(err(
            "api.version",
            format!("{:?} is not a version like \"V2.0.6\"", api.version),
        ));
    }
    let customer = api.customer.trim().to_string();
    if !customer.is_empty() && !is_customer(&customer) {
        return Err(err(
            "api.customer",
            format!("{customer:?} is not \"C\" followed by digits"),
        ));
    }
    if !(1..=1000).contains(&api.batch_size) {
        return Err(err(
            "api.batch_size",
            format!("{} is not between 1 and 1000", api.batch_size),
        ));
    }
    let vendor_timezone = TimeZone::get(api.vendor_timezone.trim()).map_err(|_| {
        err(
            "api.vendor_timezone",
            format!("{:?} is not a time zone name", api.vendor_timezone),
        )
    })?;
    Ok(Api {
        base_url,
        version: api.version.clone(),
        customer,
        mode: api.mode,
        batch_size: nonzero("api.batch_size", api.batch_size)?,
        timeout: interval("api.timeout_secs", api.timeout_secs)?,
        connect_timeout: interval("api.connect_timeout_secs", api.connect_timeout_secs)?,
        vendor_timezone,
    })
}

fn check_reconcile(reconcile: RawReconcile) -> Result<Reconcile, ConfigError> {
    Ok(Reconcile {
        interval: interval("reconcile.interval_secs", reconcile.interval_secs)?,
        lookup_after: secs(
            "reconcile.lookup_after_secs",
            reconcile.lookup_after_secs,
            0.0,
        )?,
        unknown_grace: secs(
            "reconcile.unknown_grace_secs",
            reconcile.unknown_grace_secs,
            0.0,
        )?,
        on_unknown: reconcile.on_unknown,
        record_timeout: interval(
            "reconcile.record_timeout_secs",
            reconcile.record_timeout_secs,
        )?,
        restore_hold: secs(
            "reconcile.restore_hold_secs",
            reconcile.restore_hold_secs,
            0.0,
        )?,
        task_id: reconcile.task_id.filter(|t| !t.trim().is_empty()),
    })
}

fn check_push(push: RawPush) -> Result<Push, ConfigError> {
    let listen = address("push.listen", push.listen, "127.0.0.1:8601")?;
    if !push.path.starts_with('/') {
        return Err(err(
            "push.path",
            format!("{:?} must start with /", push.path),
        ));
    }
    Ok(Push {
        listen,
        path: push.path,
    })
}

/// An optional listening address (an empty one is none), like `example`.
fn address(
    key: &str,
    text: Option<String>,
    example: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    text.filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<SocketAddr>()
                .map_err(|_| err(key, format!("{l:?} is not an address like \"{example}\"")))
        })
        .transpose()
}

fn check_base_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} is not an http:// or https:// URL"));
    }
    if url.path().trim_end_matches('/').ends_with("/openapi") {
        return Err(format!(
            "{text:?} must not end in /openapi: give the scheme, host and port"
        ));
    }
    Ok(trimmed.to_string())
}

/// A level (`info`), or a filter whose every part ends in a level (`info,voicecast=debug`).
/// Stricter than `tracing`'s own parser, which reads a misspelt level as a target name.
fn check_log_level(text: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let bad = || {
        format!(
            "{text:?} is not a level ({}) or a filter like \"info,voicecast=debug\"",
            LEVELS.join(", ")
        )
    };
    for part in text.split(',') {
        let level = part.rsplit('=').next().unwrap_or("").trim();
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(bad());
        }
    }
    tracing_subscriber::EnvFilter::try_new(text)
        .map(drop)
        .map_err(|_| bad())
}

fn is_version(text: &str) -> bool {
    text.strip_prefix('V').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn is_customer(text: &str) -> bool {
    text.strip_prefix('C')
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}
