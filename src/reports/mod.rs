//! Reports: what people read, under `reports/`. Every `interval` the stage reads each
//! campaign's facts from the store (on a read-only connection of its own) and rewrites
//! the files of the campaigns whose facts changed: `results.csv`, `skipped.csv`,
//! `report.html`, `summary.txt`, and `status.json` last (the row files of a big running
//! campaign less often: `ROW_FILES_DUTY`); then the daemon's `reports/status.json`.
//! One last round runs at shutdown. A report that cannot be written is logged and tried
//! again next round: reports never stop the daemon.

mod chart;
pub mod figures;
pub mod files;
pub mod page;
mod sheets;
pub mod summary;
mod warnings;

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::account::Account;
use crate::atomic;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::CampaignState;
use crate::layout::{Layout, ReportFile};
use crate::metrics::{CampaignSeries, Metrics};
use crate::reload::Live;
use crate::settings::{CampaignSettings, PartialSettings};
use crate::store::{CampaignFacts, Reader, Store};
use crate::trouble::{Backoff, LogThrottle};
use figures::{AccountStatus, Context, RowCounts, SCHEMA_VERSION, rfc3339};
use files::ResultsLayout;
use warnings::warnings;

/// What the reports need from the configuration.
#[derive(Clone, Debug)]
pub struct ReportsConfig {
    pub layout: Layout,
    pub interval: Duration,
    pub rate: NonZeroU32,
    pub burst: NonZeroU32,
    pub max_in_flight: NonZeroU32,
    /// What campaigns' settings are read over.
    pub campaign_defaults: PartialSettings,
    /// What their calling days are judged by.
    pub calendar: Arc<Calendar>,
    /// Put before a record's file name to make its recording's URL.
    pub recording_base: String,
}

impl ReportsConfig {
    pub fn from_config(config: &Config) -> ReportsConfig {
        ReportsConfig {
            layout: Layout::new(&config.paths.campaigns),
            interval: config.reports.interval,
            rate: config.limits.rate,
            burst: config.limits.burst,
            max_in_flight: config.limits.max_in_flight,
            campaign_defaults: config.campaign_defaults.clone(),
            calendar: config.calendar.clone(),
            recording_base: config.api.base_url.clone(),
        }
    }
}

/// `reports/status.json`: the daemon.
#[derive(Debug, Serialize)]
pub struct DaemonStatus {
    pub schema_version: u32,
    pub version: &'static str,
    pub up_since: String,
    pub account: AccountStatus,
    pub limits: Limits,
    pub campaigns: Vec<CampaignLine>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub rate: u32,
    pub burst: u32,
    pub max_in_flight: u32,
}

/// The daemon in one line, for `systemctl status`: `2 campaigns (1 running), 120 of 300
/// rows final; account active`, and its warnings after it.
fn status_line(status: &DaemonStatus) -> String {
    let running = status
        .campaigns
        .iter()
        .filter(|c| c.state == CampaignState::Running.as_str())
        .count();
    let rows: u64 = status.campaigns.iter().map(|c| c.rows.total()).sum();
    let open: u64 = status.campaigns.iter().map(|c| c.rows.open()).sum();
    let campaigns = status.campaigns.len();
    let mut line = format!(
        "{campaigns} campaign{} ({running} running), {} of {rows} rows final; account {}",
        if campaigns == 1 { "" } else { "s" },
        rows - open,
        status.account.state
    );
    for warning in &status.warnings {
        line.push_str("; WARNING: ");
        line.push_str(warning);
    }
    line
}

#[derive(Debug, Serialize)]
pub struct CampaignLine {
    pub campaign: String,
    /// Its state, or `archived` once retention removed its rows (PRODUCT.md section 5).
    pub state: &'static str,
    pub rows: RowCounts,
}

/// The state the daemon's status gives a campaign whose rows retention removed.
pub const ARCHIVED: &str = "archived";

/// The reports stage: a round every `interval` until `shutdown`, then one more. `live`
/// brings a reload's rate, burst, campaign defaults and calendar; `clock` tells the time
/// that the figures (ETA, next window) and the calendar's warning are judged at.
pub async fn run(
    config: ReportsConfig,
    store: Store,
    account: Option<Arc<Account>>,
    live: Option<watch::Receiver<Live>>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut writer = Writer::new(config.clone(), store, clock, metrics);
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff = Backoff::default();
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.cancelled() => true,
        };
        writer.stopping = last;
        if let Some(live) = &live {
            // A reload's rate and calling hours show in the figures (ETA, limits, next
            // window) from this round on.
            let live = live.borrow();
            (writer.config.rate, writer.config.burst) = (live.rate, live.burst);
            writer.config.campaign_defaults = live.campaign_defaults.clone();
            writer.config.calendar = live.calendar.clone();
        }
        let status = AccountStatus::of(account.as_ref().map(|a| a.state()).as_ref());
        let (returned, went_through) = tokio::task::spawn_blocking(move || {
            let went_through = writer.round(&status);
            (writer, went_through)
        })
        .await?;
        writer = returned;
        if last {
            return Ok(());
        }
        // A round that failed (a full disk) waits longer each time before the next.
        if went_through {
            backoff.succeeded();
        } else {
            tokio::select! {
                _ = tokio::time::sleep(backoff.failed()) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

/// What one campaign's files were last written from.
struct Written {
    facts: CampaignFacts,
    account: AccountStatus,
    warnings: Vec<String>,
    /// Whether the row files were written from these facts too (not put off).
    rows_current: bool,
}

/// A big campaign's row files (`results.csv`, `report.html`) take seconds to write: while
/// it runs they are rewritten only once this many times their last writing has passed,
/// so the reports never take more than a tenth of a core from dispatch.
const ROW_FILES_DUTY: u32 = 10;

/// When a campaign's row files were last written, and how long that took.
#[derive(Clone, Copy)]
struct RowFiles {
    at: Instant,
    took: Duration,
}

/// The reports' state between rounds.
struct Writer {
    config: ReportsConfig,
    store: Store,
    reader: Option<Reader>,
    up_since: Timestamp,
    written: HashMap<i64, Written>,
    row_files: HashMap<i64, RowFiles>,
    /// Each campaign's (instant, calls placed) over the last minute or so.
    samples: HashMap<i64, VecDeque<(Instant, u64)>>,
    /// The daemon's `status.json` as last written, and its `STATUS=` line as last sent.
    daemon: Option<String>,
    status_line: Option<String>,
    /// Failures that come every round (a full disk) are logged once a minute.
    trouble: LogThrottle,
    /// The warnings of the last round: each one is logged when it first shows.
    warnings: Vec<String>,
    /// Whether this round is the one a stop asks for.
    stopping: bool,
    /// What time it is, for the figures and the calendar's warning.
    clock: Arc<dyn Clock>,
    /// Where the campaigns' series go after each round.
    metrics: Arc<Metrics>,
}

impl Writer {
    fn new(
        config: ReportsConfig,
        store: Store,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Writer {
        Writer {
            config,
            store,
            metrics,
            warnings: Vec::new(),
            stopping: false,
            clock,
            reader: None,
            up_since: Timestamp::now(),
            written: HashMap::new(),
            row_files: HashMap::new(),
            samples: HashMap::new(),
            daemon: None,
            status_line: None,
            trouble: LogThrottle::default(),
        }
    }

    /// Logs a failure of the round, at most once a minute for the same error.
    fn failed(&mut self, campaign: Option<&str>, error: &anyhow::Error) {
        let error = format!("{error:#}");
        if let Some(repeats) = self.trouble.admit(&error, Instant::now()) {
            tracing::warn!(
                campaign,
                %error,
                repeats,
                "Cannot write the reports; the next round tries again."
            );
        }
    }

    /// One round: every campaign whose facts (or the account, or the warnings) changed,
    /// then the daemon. Returns whether it went through.
    fn round(&mut self, account: &AccountStatus) -> bool {
        let warnings = warnings(
            &self.store,
            &self.config.layout,
            &self.config.calendar,
            self.clock.now(),
        );
        for warning in warnings.iter().filter(|w| !self.warnings.contains(w)) {
            tracing::warn!(%warning, "A warning shows in the reports.");
        }
        self.warnings.clone_from(&warnings);
        match self.try_round(account, &warnings) {
            Ok(()) => true,
            Err(error) => {
                self.failed(None, &error);
                self.reader = None;
                false
            }
        }
    }

    fn try_round(&mut self, account: &AccountStatus, warnings: &[String]) -> anyhow::Result<()> {
        if self.reader.is_none() {
            self.reader = Some(Reader::open(&self.store)?);
        }
        let campaigns = self.reader.as_mut().expect("opened above").campaigns()?;
        let now = Instant::now();
        for facts in &campaigns {
            let samples = self.samples.entry(facts.id).or_default();
            samples.push_back((now, facts.attempts));
            while samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
            {
                samples.pop_front();
            }
            // An archived campaign's files stay as they were written at its end: its
            // rows are gone.
            if facts.archived_at_ms.is_some() {
                continue;
            }
            let unchanged = self.written.get(&facts.id).is_some_and(|w| {
                w.facts == *facts
                    && w.account == *account
                    && w.warnings == warnings
                    && w.rows_current
            });
            if unchanged {
                continue;
            }
            match self.campaign_files(facts, account, warnings) {
                Ok(rows_current) => {
                    self.written.insert(
                        facts.id,
                        Written {
                            facts: facts.clone(),
                            account: account.clone(),
                            warnings: warnings.to_vec(),
                            rows_current,
                        },
                    );
                }
                Err(error) => self.failed(Some(&facts.name), &error),
            }
        }
        self.publish_series(&campaigns)?;
        self.daemon_file(&campaigns, account, warnings)
    }

    /// Hands the metrics every campaign's series as the store has them now (archived
    /// campaigns have none).
    fn publish_series(&mut self, campaigns: &[CampaignFacts]) -> anyhow::Result<()> {
        let reader = self.reader.as_mut().expect("opened by the round");
        let mut outcomes = reader.record_outcomes()?;
        let now_ms = self.clock.now().as_millisecond();
        let mut series = Vec::with_capacity(campaigns.len());
        for facts in campaigns.iter().filter(|f| f.archived_at_ms.is_none()) {
            let dialable = match facts.state {
                CampaignState::Running => reader.rows_due(facts.id, now_ms)?,
                _ => 0,
            };
            series.push(CampaignSeries {
                id: facts.id,
                name: facts.name.clone(),
                calls: facts.attempts,
                outcomes: outcomes.remove(&facts.id).unwrap_or_default(),
                rows: facts.rows.iter().map(|(s, n)| (*s, *n)).collect(),
                dialable,
                held_by_cap: facts.held_by_cap,
            });
        }
        self.metrics.publish_campaigns(series);
        Ok(())
    }

    /// Calls a second over the samples of the last minute.
    fn calls_per_sec(&self, campaign: i64) -> f64 {
        let Some(samples) = self.samples.get(&campaign) else {
            return 0.0;
        };
        match (samples.front(), samples.back()) {
            (Some((t0, a0)), Some((t1, a1))) if t1 > t0 => {
                a1.saturating_sub(*a0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Writes a campaign's files; returns false if the row files were put off this round.
    fn campaign_files(
        &mut self,
        facts: &CampaignFacts,
        account: &AccountStatus,
        warnings: &[String],
    ) -> anyhow::Result<bool> {
        let folder = self.config.layout.clone();
        std::fs::create_dir_all(folder.campaign_reports(&facts.name))?;
        // Settings that no longer read leave the figures that need them (ETA, next
        // window) empty and the times in UTC; dispatch logs why.
        let settings =
            crate::settings::from_stored(&facts.settings, &self.config.campaign_defaults).ok();
        let now = self.clock.now();
        let context = Context {
            now,
            calendar: &self.config.calendar,
            account_rate: self.config.rate.get(),
            account,
            calls_per_sec_1m: self.calls_per_sec(facts.id),
            warnings,
        };
        let status = figures::campaign_status(facts, settings.as_ref(), &context);
        // The row files first: status.json saying `finished` means they are complete.
        let over = matches!(
            facts.state,
            CampaignState::Finished | CampaignState::Cancelled
        );
        let due = self.row_files.get(&facts.id).is_none_or(|last| {
            last.at.elapsed() >= (last.took * ROW_FILES_DUTY).max(self.config.interval)
        });
        if over || due {
            let started = Instant::now();
            self.write_row_files(facts, &status, settings.as_ref(), now, over)?;
            let files = RowFiles {
                at: Instant::now(),
                took: started.elapsed(),
            };
            self.row_files.insert(facts.id, files);
        }
        atomic::write(
            &folder.report(&facts.name, ReportFile::Summary),
            summary::summary(&status).as_bytes(),
        )?;
        let mut json = serde_json::to_vec_pretty(&status)?;
        json.push(b'\n');
        atomic::write(&folder.report(&facts.name, ReportFile::Status), &json)?;
        Ok(over || due)
    }

    /// Writes the files that read a campaign's rows: `results.csv`, `results.xlsx`,
    /// `skipped.csv` (once a run: skipped rows never change after the import) and
    /// `report.html`. `over` says the campaign has ended.
    fn write_row_files(
        &mut self,
        facts: &CampaignFacts,
        status: &figures::CampaignStatus,
        settings: Option<&CampaignSettings>,
        now: Timestamp,
        over: bool,
    ) -> anyhow::Result<()> {
        let folder = &self.config.layout;
        let header: Vec<String> = serde_json::from_str(&facts.header)?;
        let zone = settings.map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.clone());
        let reader = self.reader.as_mut().expect("opened by the round");
        let layout = ResultsLayout {
            header: &header,
            zone: &zone,
            recording_base: &self.config.recording_base,
            held: match facts.state {
                CampaignState::Halted | CampaignState::Paused | CampaignState::Waiting => {
                    Some(match &facts.state_reason {
                        Some(reason) => format!("{}: {reason}", facts.state),
                        None => facts.state.to_string(),
                    })
                }
                _ => None,
            },
        };
        // A workbook takes about seven times as long as the CSV (13 s for a million
        // rows): the round a stop asks for leaves a running campaign's for the next start,
        // within systemd's stop timeout.
        let summary = summary::summary(status);
        let workbook_path = folder.report(&facts.name, ReportFile::Workbook);
        let workbook = (!self.stopping || over).then(|| files::WorkbookFile {
            path: &workbook_path,
            summary: &summary,
        });
        files::results(
            &folder.report(&facts.name, ReportFile::Results),
            workbook,
            reader,
            facts.id,
            &layout,
        )?;
        if !self.written.contains_key(&facts.id) {
            files::skipped_csv(
                &folder.report(&facts.name, ReportFile::Skipped),
                reader,
                facts.id,
                &header,
            )?;
        }
        let calls = reader.calls_per_second(facts.id)?;
        let html = page::render(&page::PageInput {
            status,
            facts,
            settings,
            calls: &calls,
            zone: &zone,
            now,
            account_rate: self.config.rate.get(),
        })?;
        atomic::write(
            &folder.report(&facts.name, ReportFile::Page),
            html.as_bytes(),
        )?;
        Ok(())
    }

    /// Writes the daemon's `status.json` when it changed, and sends systemd its line
    /// (which needs no disk, so a full one still shows in `systemctl status`).
    fn daemon_file(
        &mut self,
        campaigns: &[CampaignFacts],
        account: &AccountStatus,
        warnings: &[String],
    ) -> anyhow::Result<()> {
        let status = DaemonStatus {
            schema_version: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            up_since: rfc3339(
                self.up_since.as_millisecond(),
                &jiff::tz::TimeZone::system(),
            ),
            account: account.clone(),
            limits: Limits {
                rate: self.config.rate.get(),
                burst: self.config.burst.get(),
                max_in_flight: self.config.max_in_flight.get(),
            },
            campaigns: campaigns
                .iter()
                .map(|c| CampaignLine {
                    campaign: c.name.clone(),
                    state: match c.archived_at_ms {
                        Some(_) => ARCHIVED,
                        None => c.state.as_str(),
                    },
                    rows: RowCounts(c.rows.clone()),
                })
                .collect(),
            warnings: warnings.to_vec(),
        };
        let line = status_line(&status);
        if self.status_line.as_ref() != Some(&line) {
            crate::service::status(&line);
            self.status_line = Some(line);
        }
        let mut json = serde_json::to_string_pretty(&status)?;
        json.push('\n');
        if self.daemon.as_deref() != Some(json.as_str()) {
            atomic::write(&self.config.layout.daemon_status(), json.as_bytes())?;
            self.daemon = Some(json);
        }
        Ok(())
    }
}
