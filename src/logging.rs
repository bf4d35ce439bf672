//! Logging through `tracing` to stderr (journald keeps its fields): text or JSON, at the
//! configured level unless `RUST_LOG` says otherwise. A reload may change the level.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::LogFormat;

/// The installed filter, for [`set_level`]; `None` when `RUST_LOG` sets the level.
static LEVEL: OnceLock<Option<reload::Handle<EnvFilter, Registry>>> = OnceLock::new();

/// Installs the global subscriber; a second call (tests) leaves the first in place.
pub fn init(level: &str, format: LogFormat) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let by_env = from_env.is_some();
    let (filter, handle) = reload::Layer::new(from_env.unwrap_or_else(|| EnvFilter::new(level)));
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry.with(fmt.json()).try_init(),
    };
    if installed.is_ok() {
        let _ = LEVEL.set((!by_env).then_some(handle));
    }
}

/// Applies a new configured level; `RUST_LOG`, when set, still wins.
pub fn set_level(level: &str) {
    match LEVEL.get() {
        Some(Some(handle)) => {
            if let Err(error) = handle.reload(EnvFilter::new(level)) {
                tracing::warn!(%error, "Cannot change the log level.");
            }
        }
        Some(None) => tracing::info!("RUST_LOG sets the log level; [log] level is not applied."),
        None => {}
    }
}
