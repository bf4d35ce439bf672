//! From picked rows to recorded answers: the write-ahead (rows become `sending` in one
//! durable commit per group), the requests (one call each in v1, batches formed within
//! `linger` in v2; the account's limiter and the in-flight cap before each), and the
//! recording of what the vendor answered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::picker::Call;
use crate::account::Vendor;
use crate::store::{SendResult, Sent, Store, now_ms};
use callcenter_openapi::wire::VoiceNotifyCommand;
use callcenter_openapi::{NotifyEndpoint, VendorError};

/// A row written ahead: its attempt and its complete command.
#[derive(Debug)]
pub struct Ready {
    pub attempt: i64,
    pub row: i64,
    pub command: VoiceNotifyCommand,
}

/// How long a row that was not placed waits before it is tried again.
const NOT_PLACED_BACKOFF: Duration = Duration::from_secs(2);
/// Requests in a row not placed before the circuit breaker opens.
const BREAKER_RUN: u32 = 10;
/// Answers are recorded in groups of up to this many, gathered for at most
/// [`RECORD_LINGER`]: every commit rewrites the pages it touched, so at a high rate a few
/// big commits cost the writer far less than many small ones.
const RECORD_GROUP: usize = 4096;
const RECORD_LINGER: Duration = Duration::from_millis(10);

/// Writes picked rows ahead in groups of about `max_group`: the group's rows become
/// `sending` in one durable commit, then go on to the sender together. Ends when the
/// picker does.
pub async fn write_ahead(
    store: Store,
    instance: String,
    mut calls: mpsc::Receiver<Vec<Call>>,
    ready: mpsc::Sender<Vec<Ready>>,
    claimed: Arc<Mutex<HashSet<i64>>>,
    max_group: usize,
) {
    while let Some(mut group) = calls.recv().await {
        while group.len() < max_group {
            match calls.try_recv() {
                Ok(more) => group.extend(more),
                Err(_) => break,
            }
        }
        let rows: Vec<(i64, i64)> = group.iter().map(|c| (c.row, c.tries)).collect();
        let (store_, instance_, rows_) = (store.clone(), instance.clone(), rows.clone());
        let begun = tokio::task::spawn_blocking(move || {
            store_.begin_attempts(&rows_, &instance_, now_ms())
        })
        .await;
        let begun = match begun {
            Ok(Ok(begun)) => begun,
            Ok(Err(error)) => {
                tracing::error!(%error, rows = rows.len(), "Cannot write rows ahead; they are not sent and stay pending.");
                Vec::new()
            }
            Err(panic) => {
                tracing::error!(%panic, "Writing rows ahead panicked.");
                Vec::new()
            }
        };
        // The attempts come in the order of the rows they were begun for.
        let mut begun = begun.into_iter().peekable();
        let written: Vec<Ready> = group
            .into_iter()
            .filter_map(|call| {
                let attempt = begun.next_if(|a| a.row == call.row)?;
                let mut command = call.command;
                command.seq = attempt.seq;
                command.user_data = attempt.user_data;
                Some(Ready {
                    attempt: attempt.id,
                    row: attempt.row,
                    command,
                })
            })
            .collect();
        if !written.is_empty() {
            if let Err(unsent) = ready.send(written).await {
                // The sender is gone: record the rows as never sent.
                withdraw_now(&store, &unsent.0).await;
            }
        }
        let mut claimed = claimed.lock().unwrap_or_else(|p| p.into_inner());
        for (row, _) in rows {
            claimed.remove(&row);
        }
    }
}

/// How the sender sends.
#[derive(Clone, Debug)]
pub struct SendSettings {
    pub endpoint: NotifyEndpoint,
    /// Calls per request: 1 in v1, `min(batch_size, rate)` in v2.
    pub batch: usize,
    pub linger: Duration,
    pub max_in_flight: usize,
    pub drain_timeout: Duration,
}

/// Sends written-ahead rows until `ready` closes. On `shutdown` it sends nothing more:
/// rows still waiting are withdrawn (pending again), and requests in flight get
/// `drain_timeout` to finish; those still unanswered then are recorded as `unknown`.
pub async fn send(
    settings: SendSettings,
    vendor: Vendor,
    store: Store,
    mut ready: mpsc::Receiver<Vec<Ready>>,
    shutdown: CancellationToken,
) {
    let (results, recorded) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(store.clone(), recorded));
    let in_flight = Arc::new(Semaphore::new(settings.max_in_flight));
    let breaker = Arc::new(Breaker::default());
    let mut requests = JoinSet::new();
    // Each request's attempts and their rows, until it ends.
    let mut attempts_of: HashMap<tokio::task::Id, Vec<(i64, i64)>> = HashMap::new();
    // Written-ahead rows come in groups; requests take them in order, `batch` at a time.
    let mut waiting: VecDeque<Ready> = VecDeque::new();
    while !shutdown.is_cancelled() {
        if waiting.is_empty() {
            let next = tokio::select! {
                next = ready.recv() => next,
                _ = shutdown.cancelled() => None,
            };
            match next {
                Some(group) => {
                    waiting.extend(group);
                    continue;
                }
                None => break,
            }
        }
        if waiting.len() < settings.batch {
            let deadline = Instant::now() + settings.linger;
            while waiting.len() < settings.batch {
                tokio::select! {
                    next = ready.recv() => match next {
                        Some(group) => waiting.extend(group),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        let batch: Vec<Ready> = waiting.drain(..settings.batch.min(waiting.len())).collect();
        // The permit first, the limiter's cells last: nothing waits between the cells
        // and the request, so requests leave at the limiter's pace.
        let permit = tokio::select! {
            permit = in_flight.clone().acquire_owned() => permit.ok(),
            _ = shutdown.cancelled() => None,
        };
        let cells = batch.len() as u32;
        let permit = match permit {
            Some(permit) => tokio::select! {
                _ = vendor.limiter.acquire(cells) => Some(permit),
                _ = shutdown.cancelled() => None,
            },
            None => None,
        };
        let Some(permit) = permit.filter(|_| vendor.account.is_open()) else {
            let withdrawn: Vec<SendResult> = batch
                .iter()
                .map(|r| SendResult::withdrawn(r.attempt, r.row))
                .collect();
            let _ = results.send(withdrawn);
            continue;
        };
        while let Some(done) = requests.try_join_next_with_id() {
            attempts_of.remove(&done.map_or_else(|e| e.id(), |(id, ())| id));
        }
        let ids: Vec<(i64, i64)> = batch.iter().map(|r| (r.attempt, r.row)).collect();
        let (vendor, results, breaker) = (vendor.clone(), results.clone(), breaker.clone());
        let (endpoint, task_ids) = (settings.endpoint, ids.clone());
        let sent_at_ms = Some(now_ms());
        let handle = requests.spawn(async move {
            let commands: Vec<VoiceNotifyCommand> = batch.into_iter().map(|r| r.command).collect();
            let answers = vendor.client.voice_notify(endpoint, &commands).await;
            let sent = judge(&vendor, &breaker, &answers);
            let answered = task_ids
                .into_iter()
                .zip(sent)
                .map(|((attempt, row), sent)| SendResult {
                    attempt,
                    row,
                    sent_at_ms,
                    sent,
                })
                .collect();
            let _ = results.send(answered);
            drop(permit);
        });
        attempts_of.insert(handle.id(), ids);
    }
    // Nothing more is sent: what is still waiting goes back to pending.
    ready.close();
    while let Some(group) = ready.recv().await {
        waiting.extend(group);
    }
    if !waiting.is_empty() {
        let withdrawn: Vec<SendResult> = waiting
            .drain(..)
            .map(|r| SendResult::withdrawn(r.attempt, r.row))
            .collect();
        let _ = results.send(withdrawn);
    }
    // A tenth of the time is kept for recording what is left and closing, so the daemon
    // is gone within `drain_timeout`.
    let deadline = Instant::now() + settings.drain_timeout.mul_f64(0.9);
    loop {
        match tokio::time::timeout_at(deadline, requests.join_next_with_id()).await {
            Ok(Some(Ok((id, ())))) => {
                attempts_of.remove(&id);
            }
            Ok(Some(Err(error))) => {
                attempts_of.remove(&error.id());
            }
            Ok(None) => break,
            Err(_) => {
                requests.abort_all();
                let stranded: Vec<SendResult> = attempts_of
                    .drain()
                    .flat_map(|(_, ids)| ids)
                    .map(|(attempt, row)| SendResult {
                        attempt,
                        row,
                        sent_at_ms: None,
                        sent: Sent::Unknown {
                            detail: "the daemon stopped before the vendor answered".into(),
                        },
                    })
                    .collect();
                tracing::warn!(
                    calls = stranded.len(),
                    "Requests still unanswered at the drain deadline are recorded as unknown."
                );
                let _ = results.send(stranded);
                break;
            }
        }
    }
    drop(results);
    let _ = recorder.await;
}

/// What each answer means for its attempt, and for the account: a halt stops dialling at
/// once (before the next request can start); a run of requests not placed trips the
/// breaker.
fn judge(vendor: &Vendor, breaker: &Breaker, answers: &[Result<(), VendorError>]) -> Vec<Sent> {
    let now = now_ms();
    let mut placed_any = false;
    let sent: Vec<Sent> = answers
        .iter()
        .map(|answer| match answer {
            Ok(()) => {
                placed_any = true;
                Sent::Accepted
            }
            Err(error @ VendorError::Permanent(_)) => {
                placed_any = true;
                Sent::Rejected {
                    code: error.code(),
                    detail: error.failure().to_string(),
                }
            }
            Err(error @ VendorError::MayHaveBeenPlaced(_)) => {
                placed_any = true;
                Sent::Unknown {
                    detail: error.failure().to_string(),
                }
            }
            Err(error @ VendorError::NotPlaced(_)) => Sent::NotPlaced {
                code: error.code(),
                detail: error.failure().to_string(),
                retry_at_ms: now + NOT_PLACED_BACKOFF.as_millis() as i64,
            },
            Err(error @ VendorError::AccountHalt(_)) => {
                vendor.account.halt(&error.failure().to_string());
                Sent::NotPlaced {
                    code: error.code(),
                    detail: error.failure().to_string(),
                    retry_at_ms: now,
                }
            }
        })
        .collect();
    if placed_any {
        breaker.reset();
    } else if let Some(Sent::NotPlaced { detail, .. }) = sent.first() {
        if let Some(pause) = breaker.failed() {
            vendor.account.trip_breaker(
                &format!("{BREAKER_RUN} requests in a row were not placed, the last: {detail}"),
                pause,
            );
        }
    }
    sent
}

/// Counts requests in a row that were not placed; each time the run reaches
/// [`BREAKER_RUN`] the pause doubles, from 5 s up to 5 min.
#[derive(Debug, Default)]
struct Breaker {
    state: Mutex<(u32, u32)>,
}

impl Breaker {
    fn reset(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (0, 0);
    }

    fn failed(&self) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        if state.0 < BREAKER_RUN {
            return None;
        }
        state.0 = 0;
        let pause = Duration::from_secs(5 << state.1.min(6)).min(Duration::from_secs(300));
        state.1 += 1;
        Some(pause)
    }
}

/// Records answers as they come, in groups, until every sender of `results` is gone.
async fn record(store: Store, mut results: mpsc::UnboundedReceiver<Vec<SendResult>>) {
    while let Some(mut group) = results.recv().await {
        let deadline = Instant::now() + RECORD_LINGER;
        while group.len() < RECORD_GROUP {
            tokio::select! {
                more = results.recv() => match more {
                    Some(more) => group.extend(more),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let store = store.clone();
        let written =
            tokio::task::spawn_blocking(move || store.record_sends(&group, now_ms())).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "Cannot record answers; their rows stay sending and become unknown at the next start.")
            }
            Err(panic) => tracing::error!(%panic, "Recording answers panicked."),
        }
    }
}

/// Records attempts as never sent, at once.
async fn withdraw_now(store: &Store, ready: &[Ready]) {
    let withdrawn: Vec<SendResult> = ready
        .iter()
        .map(|r| SendResult::withdrawn(r.attempt, r.row))
        .collect();
    let store = store.clone();
    let _ = tokio::task::spawn_blocking(move || store.record_sends(&withdrawn, now_ms())).await;
}
