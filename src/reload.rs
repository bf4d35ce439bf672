//! A reload (SIGHUP): the configuration read again, and what can change while the daemon
//! runs applied at once, whole: the account's rate, burst and per-number caps, the log level,
//! `[campaign_defaults]` (for every campaign, in the keys its own file leaves unset that
//! say when and how fast to call and retry; see `PartialSettings::to_keep`) and the
//! do-not-call file (for call lists imported from then on) and the calendar (`[calendar]`,
//! its folder read again). Any other changed section is
//! logged as needing a restart and not applied at all.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::domain::NumberCap;
use crate::limiter::AccountLimiter;
use crate::settings::PartialSettings;

/// The settings a reload applies live.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    pub rate: NonZeroU32,
    pub burst: NonZeroU32,
    pub per_number: Vec<NumberCap>,
    pub log_level: String,
    pub campaign_defaults: PartialSettings,
    pub dnc_file: Option<PathBuf>,
    pub calendar: Arc<Calendar>,
}

impl Live {
    pub fn of(config: &Config) -> Live {
        Live {
            rate: config.limits.rate,
            burst: config.limits.burst,
            per_number: config.limits.per_number.clone(),
            log_level: config.log.level.clone(),
            campaign_defaults: config.campaign_defaults.clone(),
            dnc_file: config.intake.dnc_file.clone(),
            calendar: config.calendar.clone(),
        }
    }

    /// `config` with these live settings.
    fn put_into(&self, mut config: Config) -> Config {
        config.limits.rate = self.rate;
        config.limits.burst = self.burst;
        config.limits.per_number = self.per_number.clone();
        config.log.level = self.log_level.clone();
        config.campaign_defaults = self.campaign_defaults.clone();
        config.intake.dnc_file = self.dnc_file.clone();
        config.calendar = self.calendar.clone();
        config
    }
}

/// The sections of `new` that differ from `old` in settings a reload cannot apply.
pub fn needing_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let new = Live::of(old).put_into(new.clone());
    let mut sections: Vec<&'static str> = [
        ("[api]", old.api != new.api),
        ("[limits] max_in_flight", old.limits != new.limits),
        ("[paths]", old.paths != new.paths),
        ("[intake]", old.intake != new.intake),
        ("[dispatch]", old.dispatch != new.dispatch),
        ("[reconcile]", old.reconcile != new.reconcile),
        ("[push]", old.push != new.push),
        ("[reports]", old.reports != new.reports),
        ("[retention]", old.retention != new.retention),
        ("[metrics]", old.metrics != new.metrics),
        ("[log] format", old.log != new.log),
    ]
    .into_iter()
    .filter_map(|(section, changed)| changed.then_some(section))
    .collect();
    // What no section names: where the password comes from.
    if sections.is_empty() && *old != new {
        sections.push("the password's source");
    }
    sections
}

/// Applies each configuration that `reloads` brings until `shutdown`: the live settings
/// to `limiter`, the log level and `live` (which intake, dispatch, reconcile and the
/// reports follow); the rest is logged as needing a restart. Tells systemd when each
/// reload is done.
pub async fn run(
    mut current: Config,
    mut reloads: mpsc::Receiver<Config>,
    live: watch::Sender<Live>,
    limiter: Option<Arc<AccountLimiter>>,
    shutdown: CancellationToken,
) {
    loop {
        let new = tokio::select! {
            new = reloads.recv() => match new {
                Some(new) => new,
                None => return,
            },
            _ = shutdown.cancelled() => return,
        };
        for section in needing_restart(&current, &new) {
            tracing::warn!(
                section,
                "The configuration changed here; that takes a restart (systemctl restart voicecast) and is not applied."
            );
        }
        let applied = Live::of(&new);
        if applied != *live.borrow() {
            if let Some(limiter) = &limiter {
                limiter.set_rate(applied.rate, applied.burst);
            }
            crate::logging::set_level(&applied.log_level);
            tracing::info!(
                rate = applied.rate,
                burst = applied.burst,
                per_number = %applied.per_number.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                log_level = %applied.log_level,
                calendar_years = ?applied.calendar.known_years(),
                unknown_year = %applied.calendar.unknown_year,
                "Configuration reloaded: the rate, per-number caps, log level, campaign defaults, do-not-call file and calendar apply now."
            );
            current = applied.put_into(current);
            live.send_replace(applied);
        } else {
            tracing::info!("Configuration reloaded: nothing that applies live changed.");
        }
        crate::service::ready();
    }
}
