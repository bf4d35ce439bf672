//! The configuration file's shape, key for key, with PRODUCT.md's defaults. Only
//! `config::load` reads it; everything else gets the checked [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::calendar::UnknownYear;
use crate::settings::PartialSettings;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub api: RawApi,
    pub limits: RawLimits,
    pub paths: RawPaths,
    pub intake: RawIntake,
    pub dispatch: RawDispatch,
    pub reconcile: RawReconcile,
    pub push: RawPush,
    pub reports: RawReports,
    pub retention: RawRetention,
    pub calendar: RawCalendar,
    pub metrics: RawMetrics,
    pub log: RawLog,
    pub campaign_defaults: PartialSettings,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawApi {
    pub base_url: String,
    pub version: String,
    pub customer: String,
    pub password_file: Option<PathBuf>,
    /// Present only to refuse it with a message that says where the password goes.
    pub password: Option<IgnoredAny>,
    pub mode: ApiMode,
    pub batch_size: u32,
    pub timeout_secs: f64,
    pub connect_timeout_secs: f64,
    pub vendor_timezone: String,
}

impl Default for RawApi {
    fn default() -> RawApi {
        RawApi {
            base_url: "http://123.57.254.226".into(),
            version: "V2.0.6".into(),
            customer: String::new(),
            password_file: None,
            password: None,
            mode: ApiMode::V1,
            batch_size: 50,
            timeout_secs: 10.0,
            connect_timeout_secs: 3.0,
            vendor_timezone: "Asia/Shanghai".into(),
        }
    }
}

/// `v1` sends one command per request to `/voiceNotify`; `v2` sends batches to the
/// high-performance `/v2/voiceNotify`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiMode {
    #[default]
    V1,
    V2,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    pub rate: u32,
    pub burst: u32,
    pub max_in_flight: u32,
    pub per_number: Vec<String>,
}

impl Default for RawLimits {
    fn default() -> RawLimits {
        RawLimits {
            rate: 10,
            burst: 1,
            max_in_flight: 32,
            per_number: vec!["1/1m".into(), "5/1h".into(), "20/24h".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPaths {
    pub campaigns: PathBuf,
    pub database: PathBuf,
}

impl Default for RawPaths {
    fn default() -> RawPaths {
        RawPaths {
            campaigns: "campaigns".into(),
            database: "voicecast.db".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawIntake {
    pub settle_secs: f64,
    pub rescan_secs: f64,
    pub numbers: NumberPolicy,
    pub max_text_chars: u32,
    pub dnc_file: Option<PathBuf>,
}

impl Default for RawIntake {
    fn default() -> RawIntake {
        RawIntake {
            settle_secs: 2.0,
            rescan_secs: 30.0,
            numbers: NumberPolicy::Cn,
            max_text_chars: 500,
            dnc_file: None,
        }
    }
}

/// Which callee numbers are valid: Chinese mobile, landline and 400/800 numbers, or any
/// 5 to 20 digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberPolicy {
    #[default]
    Cn,
    Any,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDispatch {
    pub linger_ms: u64,
    pub drain_timeout_secs: f64,
    pub probe_secs: f64,
}

impl Default for RawDispatch {
    fn default() -> RawDispatch {
        RawDispatch {
            linger_ms: 20,
            drain_timeout_secs: 20.0,
            probe_secs: 60.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawReconcile {
    pub interval_secs: f64,
    pub lookup_after_secs: f64,
    pub unknown_grace_secs: f64,
    pub on_unknown: OnUnknown,
    pub record_timeout_secs: f64,
    pub restore_hold_secs: f64,
    pub task_id: Option<String>,
}

impl Default for RawReconcile {
    fn default() -> RawReconcile {
        RawReconcile {
            interval_secs: 30.0,
            lookup_after_secs: 600.0,
            unknown_grace_secs: 1800.0,
            on_unknown: OnUnknown::Retry,
            record_timeout_secs: 21600.0,
            restore_hold_secs: 900.0,
            task_id: None,
        }
    }
}

/// What becomes of a row whose fate stayed unknown past `unknown_grace_secs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnknown {
    /// Back to `pending`, not counted as an attempt.
    #[default]
    Retry,
    /// `unresolved`, final.
    GiveUp,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPush {
    pub listen: Option<String>,
    pub path: String,
}

impl Default for RawPush {
    fn default() -> RawPush {
        RawPush {
            listen: None,
            path: "/voicecast/push".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawReports {
    pub interval_secs: f64,
}

impl Default for RawReports {
    fn default() -> RawReports {
        RawReports { interval_secs: 5.0 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRetention {
    pub keep_days: f64,
    pub files_keep_days: f64,
}

impl Default for RawRetention {
    fn default() -> RawRetention {
        RawRetention {
            keep_days: 90.0,
            files_keep_days: 0.0,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCalendar {
    pub dir: Option<PathBuf>,
    pub unknown_year: UnknownYear,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    pub level: String,
    pub format: LogFormat,
}

impl Default for RawLog {
    fn default() -> RawLog {
        RawLog {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
