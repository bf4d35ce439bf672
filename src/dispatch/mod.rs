//! Dispatch: `pending` rows out as calls, at the account's rate, each written ahead as
//! `sending` before its request leaves.
//!
//! Three tasks in a line, joined by bounded channels: the [`picker`] chooses rows (fair
//! share, calling hours, control files), [`sender::write_ahead`] makes each group
//! `sending` in one durable commit, and [`sender::send`] paces the requests through the
//! account's limiter and records the answers. Beside them, the probe ends an account
//! halt when the vendor accepts the account again.

pub mod control;
pub mod picker;
pub mod sender;
pub mod shares;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::account::{AccountState, Vendor};
use crate::clock::Clock;
use crate::config::{ApiMode, Config};
use crate::layout::Layout;
use crate::reload::Live;
use crate::service::Heartbeat;
use crate::store::Store;
use callcenter_openapi::NotifyEndpoint;
use picker::{Next, Picker};
use sender::SendSettings;

/// What dispatch needs from the configuration.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    pub layout: Layout,
    pub mode: ApiMode,
    pub batch_size: NonZeroU32,
    pub rate: NonZeroU32,
    pub max_in_flight: NonZeroU32,
    pub linger: Duration,
    pub drain_timeout: Duration,
    pub probe: Duration,
}

impl DispatchConfig {
    pub fn from_config(config: &Config) -> DispatchConfig {
        DispatchConfig {
            layout: Layout::new(&config.paths.campaigns),
            mode: config.api.mode,
            batch_size: config.api.batch_size,
            rate: config.limits.rate,
            max_in_flight: config.limits.max_in_flight,
            linger: config.dispatch.linger,
            drain_timeout: config.dispatch.drain_timeout,
            probe: config.dispatch.probe,
        }
    }
}

/// The most rows the picker hands on in one message (fewer when a group is smaller).
const PICK_CHUNK: usize = 256;

/// Groups written ahead that may wait for the sender.
const READY_GROUPS: usize = 5;

/// How often campaign states, control files and calling hours are looked at.
const REFRESH: Duration = Duration::from_secs(1);

/// The dispatch stage: runs until `shutdown`, then drains (see [`sender::send`]).
pub async fn run(
    config: DispatchConfig,
    store: Store,
    vendor: Vendor,
    clock: Arc<dyn Clock>,
    heartbeat: Heartbeat,
    live: watch::Receiver<Live>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let instance = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.instance_id()).await??
    };
    let rate = config.rate.get() as usize;
    let (endpoint, batch) = match config.mode {
        ApiMode::V1 => (NotifyEndpoint::Standard, 1),
        ApiMode::V2 => (
            NotifyEndpoint::HighPerformance,
            (config.batch_size.get() as usize).min(rate),
        ),
    };
    // A group is about 50 ms of calls at the full rate: few rows wait as `sending`.
    let group = (rate / 20).clamp(batch, 2048);
    let picker = Picker::new(
        store.clone(),
        config.layout.clone(),
        vendor.clone(),
        clock,
        live.clone(),
    );
    let claimed = picker.claimed.clone();
    // About a group waits for the write-ahead, in the picker's chunks. Written-ahead rows
    // wait for the sender in up to five groups, about a quarter of a second of calls (less
    // at the highest rates, where a group is capped): a commit the disk holds up for a
    // moment (its sync behind other files') then leaves the sender rows to send. (A crash
    // leaves those rows `unknown`, settled after their grace.)
    let chunk = group.min(PICK_CHUNK);
    let (calls_tx, calls_rx) = mpsc::channel(group.div_ceil(chunk));
    let (ready_tx, ready_rx) = mpsc::channel(READY_GROUPS);
    let picking = tokio::spawn(pick(
        picker,
        calls_tx,
        chunk,
        vendor.clone(),
        heartbeat,
        shutdown.clone(),
    ));
    let writing = tokio::spawn(sender::write_ahead(
        store.clone(),
        instance,
        live,
        calls_rx,
        ready_tx,
        claimed,
        group,
    ));
    let settings = SendSettings {
        endpoint,
        batch,
        linger: config.linger,
        max_in_flight: config.max_in_flight.get() as usize,
        drain_timeout: config.drain_timeout,
    };
    let sending = tokio::spawn(sender::send(
        settings,
        vendor.clone(),
        store,
        ready_rx,
        shutdown.clone(),
    ));
    let probing = tokio::spawn(probe(vendor, config.probe, shutdown));
    picking.await?;
    writing.await?;
    sending.await?;
    probing.await?;
    Ok(())
}

/// The picker's loop: hands rows on, at most `chunk` a message, while the account is
/// open. Each turn beats `heartbeat`: a turn takes at most [`REFRESH`] unless the rest of
/// dispatch is stuck. A campaign the store accepts brings the next look at the campaigns
/// forward to at once.
async fn pick(
    mut picker: Picker,
    calls: mpsc::Sender<Vec<picker::Call>>,
    chunk: usize,
    vendor: Vendor,
    heartbeat: Heartbeat,
    shutdown: CancellationToken,
) {
    let mut accepted = picker.accepted_campaigns();
    // Set when a wait below was ended by the signal, which `changed()` marks seen.
    let mut woken_by_acceptance = false;
    let mut next_refresh = tokio::time::Instant::now();
    while !shutdown.is_cancelled() {
        heartbeat.beat();
        let newly_accepted = woken_by_acceptance || accepted.has_changed().unwrap_or(false);
        if newly_accepted || tokio::time::Instant::now() >= next_refresh {
            accepted.mark_unchanged();
            woken_by_acceptance = false;
            tracing::debug!(
                because = if newly_accepted {
                    "a campaign was accepted"
                } else {
                    "it is time"
                },
                "Looking at the campaigns."
            );
            picker.refresh().await;
            next_refresh = tokio::time::Instant::now() + REFRESH;
        }
        if !vendor.account.is_open() {
            tokio::select! {
                _ = vendor.account.open() => {}
                _ = tokio::time::sleep_until(next_refresh) => {}
                _ = accepted.changed() => woken_by_acceptance = true,
                _ = shutdown.cancelled() => {}
            }
            continue;
        }
        // Rows that may go now go on together, up to a chunk: one message, not one a row.
        let mut taken = Vec::new();
        let wait = loop {
            match picker.next().await {
                Next::Call(call) => {
                    taken.push(call);
                    if taken.len() == chunk {
                        break None;
                    }
                }
                Next::Wait(until) => break Some(until),
            }
        };
        if !taken.is_empty() {
            tokio::select! {
                _ = calls.send(taken) => {}
                _ = shutdown.cancelled() => {}
            }
        } else if let Some(until) = wait {
            let until = tokio::time::Instant::from_std(until).min(next_refresh);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = accepted.changed() => woken_by_acceptance = true,
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

/// While the account is halted: a getTTSTemplateList every `every` (the first at once),
/// one cell of the limiter each; the first that passes resumes dialling.
async fn probe(vendor: Vendor, every: Duration, shutdown: CancellationToken) {
    let mut changes = vendor.account.subscribe();
    loop {
        let halted = matches!(*changes.borrow_and_update(), AccountState::Halted { .. });
        if !halted {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = shutdown.cancelled() => return,
            }
            continue;
        }
        tokio::select! {
            _ = vendor.limiter.acquire_request() => {}
            _ = shutdown.cancelled() => return,
        }
        match vendor.client.template_page(1, 1).await {
            Ok(_) => vendor.account.resume("a probe (getTTSTemplateList) passed"),
            Err(error) => {
                tracing::info!(%error, secs = every.as_secs(), "The probe did not pass; the account stays halted.");
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = changes.changed() => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }
}
