//! The only reader of configuration files and of the environment: finds the file
//! (PRODUCT.md section 7), applies `VOICECAST_SECTION__KEY` overrides, and checks every
//! value once into a typed [`Config`] that is passed down explicitly.

mod check;
mod raw;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use raw::RawConfig;
pub use raw::{ApiMode, LogFormat, NumberPolicy, OnUnknown};

use crate::calendar::Calendar;
use crate::domain::NumberCap;
use crate::settings::PartialSettings;
use callcenter_openapi::{ClientSettings, Credentials, Password};

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
    pub retention: Retention,
    pub metrics: Metrics,
    /// China's official calendar: the built-in years, those of `[calendar] dir`, and
    /// `[calendar] unknown_year`.
    pub calendar: Arc<Calendar>,
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
    /// Rolling caps on the calls to one number, across all campaigns.
    pub per_number: Vec<NumberCap>,
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
    /// How long the first start after `voicecast restore` holds dialling.
    pub restore_hold: Duration,
    pub task_id: Option<String>,
}

/// `[metrics]`: where `/metrics` and `/healthz` are served, if anywhere.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    pub listen: Option<SocketAddr>,
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

/// How long ended campaigns keep their rows in the store, and their files; `None` keeps
/// them for good.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    pub keep: Option<Duration>,
    pub files_keep: Option<Duration>,
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
    check::check(raw, file, &base, options)
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

impl Config {
    /// Where and how patiently to reach the vendor.
    pub fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            base_url: self.api.base_url.clone(),
            version: self.api.version.clone(),
            timeout: self.api.timeout,
            connect_timeout: self.api.connect_timeout,
            user_agent: concat!("voicecast/", env!("CARGO_PKG_VERSION")).into(),
        }
    }

    /// The account the daemon dials with: `None` when `api.customer` is empty (the
    /// documented no-account mode, in which nothing is dialled), an error when a customer
    /// is set and no password can be read for it.
    pub fn account_credentials(&self) -> Result<Option<Credentials>, ConfigError> {
        if self.api.customer.is_empty() {
            return Ok(None);
        }
        self.credentials().map(Some)
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
