//! The only reader of configuration files and of the environment: finds the file
//! (PRODUCT.md section 7), applies `VOICECAST_SECTION__KEY` overrides, and checks every
//! value once into a typed [`Config`] that is passed down explicitly.

mod raw;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;

use raw::RawConfig;
pub use raw::{ApiMode, LogFormat, NumberPolicy, OnUnknown};

use crate::settings::{PartialSettings, builtin_defaults};
use crate::vendor::{ClientSettings, Credentials, Password};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "VOICECAST_CONFIG";
/// The environment variable holding the API password.
pub const PASSWORD_ENV: &str = "VOICECAST_API__PASSWORD";
/// The systemd credential holding the API password, under `$CREDENTIALS_DIRECTORY`.
pub const PASSWORD_CREDENTIAL: &str = "api-password";
/// The configuration file looked for last, when no other is given.
pub const SYSTEM_CONFIG: &str = "/etc/voicecast/voicecast.toml";

/// A configuration problem: a bad, missing or unknown key, or an unreadable file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where `load` looks. `from_process` fills it from the real process; tests build their own.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `--config FILE`.
    pub explicit: Option<PathBuf>,
    /// The environment, as `(name, value)` pairs.
    pub env: Vec<(String, String)>,
    /// The folder `./voicecast.toml` is looked for in, and relative paths resolve against
    /// when there is no file.
    pub current_dir: PathBuf,
    /// The last file looked for.
    pub system_file: PathBuf,
}

impl LoadOptions {
    pub fn from_process(explicit: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            explicit,
            env: std::env::vars().collect(),
            current_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            system_file: PathBuf::from(SYSTEM_CONFIG),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The checked configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    pub api: Api,
    pub limits: Limits,
    pub paths: Paths,
    pub intake: Intake,
    pub dispatch: Dispatch,
    pub reconcile: Reconcile,
    pub push: Push,
    pub reports: Reports,
    pub log: Log,
    /// `[campaign_defaults]` over the built-in defaults.
    pub campaign_defaults: PartialSettings,
    password: PasswordSources,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Api {
    /// Scheme, host and port, without a trailing `/`.
    pub base_url: String,
    pub version: String,
    /// Empty when not configured.
    pub customer: String,
    pub mode: ApiMode,
    pub batch_size: NonZeroU32,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub vendor_timezone: TimeZone,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Calls per second, whole account.
    pub rate: NonZeroU32,
    pub burst: NonZeroU32,
    pub max_in_flight: NonZeroU32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Paths {
    pub campaigns: PathBuf,
    pub database: PathBuf,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Intake {
    pub settle: Duration,
    pub rescan: Duration,
    pub numbers: NumberPolicy,
    pub max_text_chars: NonZeroU32,
    pub dnc_file: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    pub linger: Duration,
    pub drain_timeout: Duration,
    pub probe: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reconcile {
    pub interval: Duration,
    pub lookup_after: Duration,
    pub unknown_grace: Duration,
    pub on_unknown: OnUnknown,
    pub record_timeout: Duration,
    pub task_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Push {
    pub listen: Option<SocketAddr>,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Reports {
    pub interval: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Log {
    /// A `tracing` filter directive (`info`, `voicecast=debug`).
    pub level: String,
    pub format: LogFormat,
}

/// Where the password may come from, in order; read only when a command needs it.
#[derive(Clone, Debug, PartialEq)]
struct PasswordSources {
    from_env: Option<Password>,
    file: Option<PathBuf>,
    credentials_directory: Option<PathBuf>,
}

/// Finds, reads and checks the configuration.
pub fn load(options: &LoadOptions) -> Result<Config, ConfigError> {
    let file = find_file(options)?;
    let mut builder = config::Config::builder();
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
    }
    let overrides = options
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("VOICECAST_") && k.contains("__") && k != PASSWORD_ENV)
        .cloned()
        .collect();
    let environment = config::Environment::with_prefix("VOICECAST")
        .prefix_separator("_")
        .separator("__")
        .source(Some(overrides));
    let origin = match &file {
        Some(path) => format!("{} or the environment", path.display()),
        None => "the environment".to_string(),
    };
    let raw: RawConfig = builder
        .add_source(environment)
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError(format!("configuration ({origin}): {e}")))?;
    let base = match &file {
        Some(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => options.current_dir.clone(),
    };
    let base = if base.as_os_str().is_empty() {
        options.current_dir.clone()
    } else {
        base
    };
    check(raw, file, &base, options)
        .map_err(|e| ConfigError(format!("configuration ({origin}): {}", e.0)))
}

/// `--config`, else `$VOICECAST_CONFIG`, else `./voicecast.toml`, else the system file,
/// else none. A file named explicitly must exist.
fn find_file(options: &LoadOptions) -> Result<Option<PathBuf>, ConfigError> {
    let named = options
        .explicit
        .clone()
        .map(|p| (p, "--config"))
        .or_else(|| {
            options
                .var(CONFIG_ENV)
                .map(|p| (PathBuf::from(p), CONFIG_ENV))
        });
    if let Some((path, how)) = named {
        let path = options.current_dir.join(path);
        return match path.is_file() {
            true => Ok(Some(path)),
            false => Err(ConfigError(format!(
                "{how} names {}, which is not a file",
                path.display()
            ))),
        };
    }
    let local = options.current_dir.join("voicecast.toml");
    Ok([local, options.system_file.clone()]
        .into_iter()
        .find(|p| p.is_file()))
}

fn check(
    raw: RawConfig,
    file: Option<PathBuf>,
    base: &Path,
    options: &LoadOptions,
) -> Result<Config, ConfigError> {
    let err = |key: &str, message: String| ConfigError(format!("`{key}`: {message}"));
    let nonzero = |key: &str, value: u32| {
        NonZeroU32::new(value).ok_or_else(|| err(key, "must be at least 1".into()))
    };
    let secs = |key: &str, value: u64, min: u64| {
        if value < min {
            return Err(err(key, format!("must be at least {min}")));
        }
        Ok(Duration::from_secs(value))
    };
    let resolve = |path: PathBuf| {
        if path.is_relative() {
            base.join(path)
        } else {
            path
        }
    };

    let api = raw.api;
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
    let push_listen = raw
        .push
        .listen
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse::<SocketAddr>().map_err(|_| {
                err(
                    "push.listen",
                    format!("{l:?} is not an address like \"127.0.0.1:8601\""),
                )
            })
        })
        .transpose()?;
    if !raw.push.path.starts_with('/') {
        return Err(err(
            "push.path",
            format!("{:?} must start with /", raw.push.path),
        ));
    }
    check_log_level(&raw.log.level).map_err(|m| err("log.level", m))?;
    raw.campaign_defaults
        .check()
        .map_err(|e| err(&format!("campaign_defaults.{}", e.key), e.message))?;

    Ok(Config {
        api: Api {
            base_url,
            version: api.version,
            customer,
            mode: api.mode,
            batch_size: nonzero("api.batch_size", api.batch_size)?,
            timeout: secs("api.timeout_secs", api.timeout_secs, 1)?,
            connect_timeout: secs("api.connect_timeout_secs", api.connect_timeout_secs, 1)?,
            vendor_timezone,
        },
        limits: Limits {
            rate: nonzero("limits.rate", raw.limits.rate)?,
            burst: nonzero("limits.burst", raw.limits.burst)?,
            max_in_flight: nonzero("limits.max_in_flight", raw.limits.max_in_flight)?,
        },
        paths: Paths {
            campaigns: resolve(raw.paths.campaigns),
            database: resolve(raw.paths.database),
        },
        intake: Intake {
            settle: secs("intake.settle_secs", raw.intake.settle_secs, 0)?,
            rescan: secs("intake.rescan_secs", raw.intake.rescan_secs, 1)?,
            numbers: raw.intake.numbers,
            max_text_chars: nonzero("intake.max_text_chars", raw.intake.max_text_chars)?,
            dnc_file: raw.intake.dnc_file.map(resolve),
        },
        dispatch: Dispatch {
            linger: Duration::from_millis(raw.dispatch.linger_ms),
            drain_timeout: secs(
                "dispatch.drain_timeout_secs",
                raw.dispatch.drain_timeout_secs,
                1,
            )?,
            probe: secs("dispatch.probe_secs", raw.dispatch.probe_secs, 1)?,
        },
        reconcile: Reconcile {
            interval: secs("reconcile.interval_secs", raw.reconcile.interval_secs, 1)?,
            lookup_after: secs(
                "reconcile.lookup_after_secs",
                raw.reconcile.lookup_after_secs,
                0,
            )?,
            unknown_grace: secs(
                "reconcile.unknown_grace_secs",
                raw.reconcile.unknown_grace_secs,
                0,
            )?,
            on_unknown: raw.reconcile.on_unknown,
            record_timeout: secs(
                "reconcile.record_timeout_secs",
                raw.reconcile.record_timeout_secs,
                1,
            )?,
            task_id: raw.reconcile.task_id.filter(|t| !t.trim().is_empty()),
        },
        push: Push {
            listen: push_listen,
            path: raw.push.path,
        },
        reports: Reports {
            interval: secs("reports.interval_secs", raw.reports.interval_secs, 1)?,
        },
        log: Log {
            level: raw.log.level,
            format: raw.log.format,
        },
        campaign_defaults: raw.campaign_defaults.over(&builtin_defaults()),
        password: PasswordSources {
            from_env: options.var(PASSWORD_ENV).map(Password::new),
            file: api.password_file.map(resolve),
            credentials_directory: options.var("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        },
        file,
    })
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

impl Config {
    /// Where and how patiently to reach the vendor.
    pub fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            base_url: self.api.base_url.clone(),
            version: self.api.version.clone(),
            timeout: self.api.timeout,
            connect_timeout: self.api.connect_timeout,
        }
    }

    /// The account's credentials, for the commands that talk to the vendor. The password
    /// comes from `VOICECAST_API__PASSWORD`, else `api.password_file`, else
    /// `$CREDENTIALS_DIRECTORY/api-password`.
    pub fn credentials(&self) -> Result<Credentials, ConfigError> {
        if self.api.customer.is_empty() {
            return Err(ConfigError(
                "`api.customer` is not set: give the customer name (like \"C2\") in the \
                 configuration file or in VOICECAST_API__CUSTOMER"
                    .into(),
            ));
        }
        let sources = &self.password;
        let password = if let Some(p) = &sources.from_env {
            p.clone()
        } else if let Some(file) = &sources.file {
            read_password(file, "`api.password_file`")?
        } else if let Some(dir) = &sources.credentials_directory {
            read_password(&dir.join(PASSWORD_CREDENTIAL), "the systemd credential")?
        } else {
            return Err(ConfigError(format!(
                "no API password: set {PASSWORD_ENV}, or `api.password_file`, or the systemd \
                 credential `{PASSWORD_CREDENTIAL}`"
            )));
        };
        Ok(Credentials {
            customer: self.api.customer.clone(),
            password,
        })
    }
}

fn read_password(path: &Path, what: &str) -> Result<Password, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the password file {} ({what}): {e}",
            path.display()
        ))
    })?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(ConfigError(format!(
            "the password file {} ({what}) is empty",
            path.display()
        )));
    }
    Ok(Password::new(password))
}

#[cfg(test)]
mod tests;
