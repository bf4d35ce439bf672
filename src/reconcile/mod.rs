//! Reconcile: the vendor's call records back onto attempts and rows.
//!
//! Every `interval` it polls getCdrList from the persisted cursor over a window from the
//! oldest unsettled call (minus a margin) to now, in the vendor's zone; asks getOneCdr for
//! attempts still unsettled after `lookup_after`, several at once; and settles the ones
//! that waited too long (`unknown_grace` for unknown ones, `record_timeout` for accepted
//! ones) once a complete list pass, from the first record, has not found them. Records
//! (and pushes, through [`push`]) are applied by the store, once each by `session`.
//!
//! Its first round, before any call, adopts the records of calls the store may have
//! forgotten (PRODUCT.md section 9): a complete list pass over the time since the
//! store's newest activity, after which dialling may begin. After a restore, the polls
//! go on reading from the copy's newest activity until the hold ends.

pub mod push;
pub mod settle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::account::Vendor;
use crate::config::{Config, OnUnknown, Reconcile};
use crate::domain::RetryPolicy;
use crate::domain::caps::longest_window;
use crate::domain::{AttemptState, CampaignState, RowState};
use crate::metrics::Metrics;
use crate::reload::Live;
use crate::settings::PartialSettings;
use crate::store::{OpenAttempt, Settlement, Store, now_ms};
use crate::trouble::{Backoff, LogThrottle};
use callcenter_openapi::causes::cause;
use callcenter_openapi::time as vendor_time;
use callcenter_openapi::{CdrLookup, CdrPager, CdrQuery, VendorError};

/// What reconcile needs from the configuration: its own section and the vendor's zone.
#[derive(Clone, Debug)]
pub struct ReconcileConfig {
    pub reconcile: Reconcile,
    pub vendor_zone: TimeZone,
}

impl ReconcileConfig {
    pub fn from_config(config: &Config) -> ReconcileConfig {
        ReconcileConfig {
            reconcile: config.reconcile.clone(),
            vendor_zone: config.api.vendor_timezone.clone(),
        }
    }
}

/// How far before the oldest unsettled call the getCdrList window starts, and how far
/// past now it ends (the vendor's clock may run ahead of ours).
const WINDOW_MARGIN: Duration = Duration::from_secs(600);
/// Look-ups per round, so a backlog never starves the other requests.
const LOOKUPS_PER_ROUND: usize = 200;
/// Look-ups in flight at once: they overlap the vendor's answer times, and the
/// limiter still paces them.
const LOOKUPS_AT_ONCE: usize = 8;
/// How long a row refused for its callee's frequency (409) waits without per-number caps.
const CALLEE_REFUSAL_WAIT: Duration = Duration::from_secs(3600);
/// How long all dialling waits after a call came outside the vendor's service hours (429).
const SERVICE_HOURS_WAIT: Duration = Duration::from_secs(30 * 60);
/// Attempts given up per round (they need no request each).
const EXPIRIES_PER_ROUND: usize = 10_000;
/// A complete list pass is begun no sooner than this many times its last one took after
/// that one began: passes take at most a tenth of the time, and of the rate.
const PASS_DUTY: u32 = 10;

/// Applies records through the store, with the campaigns' retry policies (over
/// `[campaign_defaults]` as `live` brings them), and passes the account-level causes on.
/// Shared by polling and the push receiver.
#[derive(Clone, Debug)]
pub struct Applier {
    store: Store,
    vendor: Vendor,
    live: watch::Receiver<Live>,
}

impl Applier {
    pub fn new(store: Store, vendor: Vendor, live: watch::Receiver<Live>) -> Applier {
        Applier {
            store,
            vendor,
            live,
        }
    }

    /// Applies `records`; returns how many settled an attempt.
    pub async fn apply(&self, records: Vec<Settlement>) -> anyhow::Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let store = self.store.clone();
        let (defaults, caps) = {
            let live = self.live.borrow();
            (live.campaign_defaults.clone(), live.per_number.clone())
        };
        // A callee refused for its frequency waits out the longest cap's window.
        let callee_wait = longest_window(&caps).unwrap_or(CALLEE_REFUSAL_WAIT);
        let callee_wait_ms = i64::try_from(callee_wait.as_millis()).unwrap_or(i64::MAX);
        let applied = tokio::task::spawn_blocking(move || {
            let policies = retry_policies(&store, &defaults)?;
            let policy = |campaign: i64| policies.get(&campaign).cloned().flatten();
            anyhow::Ok(store.apply_records(&records, &policy, callee_wait_ms, now_ms())?)
        })
        .await??;
        if let Some(code) = applied.halts.first() {
            let text = cause(*code).map_or("", |c| c.en);
            self.vendor.account.halt(&format!(
                "a call record carries releaseCause {code} ({text})"
            ));
        }
        if !applied.slowdowns.is_empty() {
            self.vendor.limiter.slow_down();
        }
        if applied.adopted > 0 {
            tracing::info!(
                records = applied.adopted,
                "Adopted call records of calls the store did not know (it was restored from an older copy): their rows are not dialled again for them."
            );
        }
        if let Some(first) = applied.orphans.first() {
            tracing::warn!(
                records = applied.orphans.len(),
                user_data = %first,
                "Call records name rows this store does not know (a campaign imported after the copy was taken?): kept as orphans in the store."
            );
        }
        if applied.outside_service_hours {
            self.vendor.account.wait(
                "a call record carries releaseCause 429 (outside the call center's service hours)",
                SERVICE_HOURS_WAIT,
            );
        }
        Ok(applied.settled)
    }
}

/// Each campaign's retry policy; `None` for campaigns that retry nothing (cancelled, or
/// with settings that no longer read).
fn retry_policies(
    store: &Store,
    defaults: &PartialSettings,
) -> anyhow::Result<HashMap<i64, Option<RetryPolicy>>> {
    let mut policies = HashMap::new();
    for campaign in store.dial_campaigns()? {
        let policy = match campaign.state {
            CampaignState::Cancelled => None,
            // A campaign whose stored settings no longer read retries nothing; its
            // records are still applied, and the other campaigns' too.
            _ => match crate::settings::from_stored(&campaign.settings, defaults) {
                Ok(settings) => Some(RetryPolicy {
                    max_attempts: settings.max_attempts,
                    retry_after_ms: settings.retry_after.as_millis() as i64,
                    retry_on: settings.retry_on,
                }),
                Err(error) => {
                    tracing::error!(campaign = %campaign.name, error = format!("{error:#}"), "The campaign's settings cannot be read; its rows are not retried.");
                    None
                }
            },
        };
        policies.insert(campaign.id, policy);
    }
    Ok(policies)
}

/// The reconcile stage: runs until `shutdown`.
pub async fn run(
    config: ReconcileConfig,
    store: Store,
    vendor: Vendor,
    live: watch::Receiver<Live>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let applier = Applier::new(store.clone(), vendor.clone(), live);
    let reconciler = Reconciler {
        config,
        store,
        vendor,
        applier,
        metrics,
        last_pass: Mutex::default(),
        adopted: AtomicBool::new(false),
    };
    let mut tick = tokio::time::interval(reconciler.config.reconcile.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A round that keeps failing (a store that cannot be written, a vendor that does not
    // answer) waits longer each time, and is logged once a minute.
    let mut backoff = Backoff::default();
    let mut trouble = LogThrottle::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
        let round = async {
            reconciler.adopt().await?;
            reconciler.poll().await?;
            reconciler.look_up().await?;
            reconciler.expire().await
        };
        let done = tokio::select! {
            done = round => done,
            _ = shutdown.cancelled() => return Ok(()),
        };
        match done {
            Ok(()) => backoff.succeeded(),
            Err(error) => {
                let error = format!("{error:#}");
                if let Some(repeats) = trouble.admit(&error, std::time::Instant::now()) {
                    tracing::warn!(%error, repeats, "A reconcile round failed; the next one tries again.");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.failed()) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }
}

struct Reconciler {
    config: ReconcileConfig,
    store: Store,
    vendor: Vendor,
    applier: Applier,
    metrics: Arc<Metrics>,
    /// When the last complete list pass began, and how long it took.
    last_pass: Mutex<Option<(Instant, Duration)>>,
    /// Whether the pass at start has adopted the records of calls the store forgot.
    adopted: AtomicBool,
}

impl Reconciler {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }

    /// Once, before any call: a complete list pass from the store's newest activity (the
    /// copy's, during the hold after a restore), whose records of calls the store
    /// forgot the store adopts; then dialling may begin.
    async fn adopt(&self) -> anyhow::Result<()> {
        if self.adopted.load(Ordering::Relaxed) {
            return Ok(());
        }
        let since = match self.restore_hold_since().await? {
            Some(since) => Some(since),
            None => self.blocking(|s| s.newest_activity()).await?,
        };
        if let Some(since) = since {
            let began = Instant::now();
            self.list(since, None).await?;
            tracing::info!(
                pass_ms = began.elapsed().as_millis() as u64,
                "The vendor's call records since the store's last activity are read; dialling may begin."
            );
        }
        self.adopted.store(true, Ordering::Relaxed);
        self.vendor.account.adopted();
        Ok(())
    }

    /// During the hold after a restore, the copy's newest activity, which records are
    /// adopted from.
    async fn restore_hold_since(&self) -> anyhow::Result<Option<i64>> {
        let now = now_ms();
        let hold = self.blocking(|s| s.restore_hold()).await?;
        Ok(hold
            .filter(|hold| hold.until_ms > now)
            .and_then(|hold| hold.since_ms))
    }

    /// getCdrList from the cursor over the window of unsettled calls (and, during the
    /// hold after a restore, of the calls since the copy), page by page, saving the
    /// cursor after each page is applied.
    async fn poll(&self) -> anyhow::Result<()> {
        let oldest = self.blocking(|s| s.oldest_open_written_at()).await?;
        let adopting = self.restore_hold_since().await?;
        let Some(since) = oldest.into_iter().chain(adopting).min() else {
            // No call waits for its record: reconcile is up to date.
            self.metrics.polled();
            return Ok(());
        };
        let start_key = self.blocking(|s| s.cdr_cursor()).await?;
        self.list(since, start_key).await
    }

    /// Reads getCdrList over [`since_ms` - margin, now + margin] from `start_key` (from
    /// the first record when `None`) to its last page, applying each page; the cursor is
    /// saved after each page only when reading from it.
    async fn list(&self, since_ms: i64, start_key: Option<String>) -> anyhow::Result<()> {
        let zone = &self.config.vendor_zone;
        let from = Timestamp::from_millisecond(since_ms)? - WINDOW_MARGIN;
        let until = Timestamp::now() + WINDOW_MARGIN;
        let from_cursor = start_key.is_some();
        let mut pager = CdrPager::new(CdrQuery {
            start_time: vendor_time::format(from, zone),
            end_time: vendor_time::format(until, zone),
            start_key,
            task_id: self.config.reconcile.task_id.clone(),
        });
        loop {
            self.vendor.limiter.acquire_request().await;
            let page = match pager.next_page(&self.vendor.client).await {
                Ok(Some(page)) => page,
                Ok(None) => {
                    self.metrics.polled();
                    return Ok(());
                }
                Err(error) => return Err(self.failed(error)),
            };
            let records: Vec<Settlement> = page
                .iter()
                .filter_map(|r| settle::from_record(r, zone))
                .collect();
            let settled = self.applier.apply(records).await?;
            tracing::debug!(records = page.len(), settled, "Call records listed.");
            if let Some(key) = pager
                .start_key()
                .filter(|_| from_cursor)
                .map(str::to_string)
            {
                self.blocking(move |s| s.set_cdr_cursor(&key)).await?;
            }
        }
    }

    /// getOneCdr for attempts unsettled after `lookup_after`, each at most once per
    /// `lookup_after`: for the records the list, read from its cursor, may have passed.
    /// Up to [`LOOKUPS_AT_ONCE`] are in flight at once, each taking a cell of the rate.
    async fn look_up(&self) -> anyhow::Result<()> {
        let after = self.config.reconcile.lookup_after.as_millis() as i64;
        let now = now_ms();
        let mut due = Vec::new();
        for state in [AttemptState::Accepted, AttemptState::Unknown] {
            due.extend(
                self.blocking(move |s| {
                    s.attempts_waiting(state, now - after, now - after, LOOKUPS_PER_ROUND)
                })
                .await?,
            );
        }
        // The futures are made first: a stream that maps borrowed attempts into them
        // would not be `Send` for every lifetime, as a spawned stage must be.
        let lookups: Vec<_> = due.iter().map(|a| self.look_up_one(a)).collect();
        let looked_up: Vec<anyhow::Result<()>> = futures_util::stream::iter(lookups)
            .buffer_unordered(LOOKUPS_AT_ONCE)
            .collect()
            .await;
        looked_up.into_iter().collect()
    }

    /// Looks one attempt up and applies what comes back.
    async fn look_up_one(&self, attempt: &OpenAttempt) -> anyhow::Result<()> {
        self.vendor.limiter.acquire_request().await;
        let lookup = CdrLookup::UserData(attempt.user_data.clone());
        let records = match self.vendor.client.one_cdr(&lookup).await {
            Ok(records) => records,
            Err(error) => return Err(self.failed(error)),
        };
        let zone = &self.config.vendor_zone;
        let settlements: Vec<Settlement> = records
            .iter()
            .filter_map(|r| settle::from_record(r, zone))
            .map(|mut s| {
                // getOneCdr was asked by userData: the record is this attempt's, even
                // where the answer leaves the field empty.
                s.user_data = Some(attempt.user_data.clone());
                s
            })
            .collect();
        self.applier.apply(settlements).await?;
        let id = attempt.id;
        self.blocking(move |s| s.mark_looked_up(id, now_ms())).await
    }

    /// Attempts that waited too long: unknown ones past `unknown_grace` go back to
    /// `pending` (or become `unresolved` with `give_up`), accepted ones past
    /// `record_timeout` become `unresolved`, once one complete list pass begun after
    /// their time was up has not found their record. A pass reads getCdrList from its
    /// first record (not from the cursor) over the window of the oldest of them, and
    /// settles every one whose record it finds; passes take at most a tenth of the time
    /// ([`PASS_DUTY`]).
    async fn expire(&self) -> anyhow::Result<()> {
        let now = now_ms();
        let grace = self.config.reconcile.unknown_grace.as_millis() as i64;
        let timeout = self.config.reconcile.record_timeout.as_millis() as i64;
        let unbilled = self
            .blocking(move |s| s.stop_waiting_for_fees(now - timeout))
            .await?;
        if unbilled > 0 {
            tracing::warn!(
                calls = unbilled,
                "Pushed records never came through the list: their fee stays unknown."
            );
        }
        let mut candidates = Vec::new();
        for (state, limit) in [
            (AttemptState::Accepted, timeout),
            (AttemptState::Unknown, grace),
        ] {
            candidates.extend(
                self.blocking(move |s| {
                    s.attempts_waiting(state, now - limit, i64::MAX, EXPIRIES_PER_ROUND)
                })
                .await?
                .into_iter()
                .map(|a| (a, limit)),
            );
        }
        let Some(oldest) = candidates.iter().map(|(a, _)| a.written_at).min() else {
            return Ok(());
        };
        let last_pass = *self.last_pass.lock().unwrap_or_else(|p| p.into_inner());
        if last_pass.is_some_and(|(began, took)| began.elapsed() < took * PASS_DUTY) {
            return Ok(());
        }
        let began = Instant::now();
        self.list(oldest, None).await?;
        let took = began.elapsed();
        *self.last_pass.lock().unwrap_or_else(|p| p.into_inner()) = Some((began, took));
        let on_unknown = self.config.reconcile.on_unknown;
        let expiring: Vec<(i64, RowState, String)> = candidates
            .iter()
            .map(|(attempt, limit)| {
                let secs = limit / 1000;
                let (state, detail) = match (attempt.accepted, on_unknown) {
                    (true, _) => (
                        RowState::Unresolved,
                        format!("no call record within {secs} s of an accepted call"),
                    ),
                    (false, OnUnknown::Retry) => (
                        RowState::Pending,
                        format!(
                            "no call record within {secs} s of an unanswered request; dialled again"
                        ),
                    ),
                    (false, OnUnknown::GiveUp) => (
                        RowState::Unresolved,
                        format!("no call record within {secs} s of an unanswered request"),
                    ),
                };
                (attempt.id, state, detail)
            })
            .collect();
        let expired = self
            .blocking(move |s| s.expire_attempts(&expiring, now_ms()))
            .await?;
        if !expired.is_empty() {
            tracing::info!(
                attempts = expired.len(),
                pass_ms = took.as_millis() as u64,
                "Attempts waited too long for their records; a complete list pass did not find them."
            );
        }
        Ok(())
    }

    /// A failed request: an account-level refusal halts the account.
    fn failed(&self, error: VendorError) -> anyhow::Error {
        if let VendorError::AccountHalt(failure) = &error {
            self.vendor.account.halt(&failure.to_string());
        }
        anyhow::Error::new(error).context("a reconcile request failed")
    }
}
