//! From picked rows to recorded answers: the write-ahead (rows become `sending` in one
//! durable commit per group), the requests (one call each in v1, batches formed within
//! `linger` in v2; the account's limiter and the in-flight cap before each), and the
//! recording of what the vendor answered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::picker::Call;
use crate::account::Vendor;
use crate::reload::Live;
use crate::store::{Claim, SendResult, Sent, Store, now_ms};
use crate::trouble::{Backoff, LogThrottle};
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

/// Writes picked rows ahead in groups of about `max_group`: the group's rows whose
/// numbers are under the per-number caps (as `live` brings them) become `sending` in one
/// durable commit, then go on to the sender together. Ends when the picker does.
pub async fn write_ahead(
    store: Store,
    instance: String,
    live: watch::Receiver<Live>,
    mut calls: mpsc::Receiver<Vec<Call>>,
    ready: mpsc::Sender<Vec<Ready>>,
    claimed: Arc<Mutex<HashSet<i64>>>,
    max_group: usize,
) {
    let mut backoff = Backoff::default();
    let mut trouble = LogThrottle::default();
    while let Some(mut group) = calls.recv().await {
        while group.len() < max_group {
            match calls.try_recv() {
                Ok(more) => group.extend(more),
                Err(_) => break,
            }
        }
        let rows: Vec<Claim> = group
            .iter()
            .map(|c| Claim {
                row: c.row,
                tries: c.tries,
                callee: c.command.callee.clone(),
            })
            .collect();
        let caps = live.borrow().per_number.clone();
        let (store_, instance_, rows_) = (store.clone(), instance.clone(), rows.clone());
        let begun = tokio::task::spawn_blocking(move || {
            store_.begin_attempts(&rows_, &caps, &instance_, now_ms())
        })
        .await;
        // While the store refuses writes, each failure waits longer before the next try.
        let mut wait = None;
        let begun = match begun {
            Ok(Ok(begun)) => {
                backoff.succeeded();
                begun
            }
            Ok(Err(error)) => {
                if let Some(repeats) = trouble.admit(&error.to_string(), std::time::Instant::now())
                {
                    tracing::error!(%error, repeats, rows = rows.len(), "Cannot write rows ahead; they are not sent and stay pending.");
                }
                wait = Some(backoff.failed());
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
        {
            let mut claimed = claimed.lock().unwrap_or_else(|p| p.into_inner());
            for claim in rows {
                claimed.remove(&claim.row);
            }
        }
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
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
    let recorder = tokio::spawn(record(store, recorded));
    let mut sender = Sender {
        in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
        settings,
        vendor,
        results,
        breaker: Arc::new(Breaker::default()),
        requests: JoinSet::new(),
        attempts_of: HashMap::new(),
    };
    // Written-ahead rows come in groups; requests take them in order, `batch` at a time.
    let mut waiting: VecDeque<Ready> = VecDeque::new();
    while let Some(batch) = sender.next_batch(&mut waiting, &mut ready, &shutdown).await {
        match sender.clearance(batch.len(), &shutdown).await {
            Some((permit, sent_at_ms)) => sender.request(batch, permit, sent_at_ms),
            None => sender.withdraw(&batch),
        }
    }
    // Nothing more is sent: what is still waiting goes back to pending.
    ready.close();
    while let Some(group) = ready.recv().await {
        waiting.extend(group);
    }
    sender.withdraw(waiting.make_contiguous());
    sender.drain().await;
    drop(sender);
    let _ = recorder.await;
}

/// The sender's state while it sends.
struct Sender {
    settings: SendSettings,
    vendor: Vendor,
    /// Where answers go to be recorded.
    results: mpsc::UnboundedSender<Vec<SendResult>>,
    in_flight: Arc<Semaphore>,
    breaker: Arc<Breaker>,
    requests: JoinSet<()>,
    /// Each request's attempts and their rows, until it ends.
    attempts_of: HashMap<tokio::task::Id, Vec<(i64, i64)>>,
}

impl Sender {
    /// The next request's rows: up to `batch`, waiting at most `linger` for more once
    /// the first is there; `None` once `ready` closes or `shutdown` comes.
    async fn next_batch(
        &self,
        waiting: &mut VecDeque<Ready>,
        ready: &mut mpsc::Receiver<Vec<Ready>>,
        shutdown: &CancellationToken,
    ) -> Option<Vec<Ready>> {
        let batch = self.settings.batch;
        while waiting.is_empty() {
            tokio::select! {
                next = ready.recv() => waiting.extend(next?),
                _ = shutdown.cancelled() => return None,
            }
        }
        if waiting.len() < batch {
            let deadline = Instant::now() + self.settings.linger;
            while waiting.len() < batch {
                tokio::select! {
                    next = ready.recv() => match next {
                        Some(group) => waiting.extend(group),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
        }
        (!shutdown.is_cancelled()).then(|| waiting.drain(..batch.min(waiting.len())).collect())
    }

    /// Waits for what a request of `calls` calls needs before it leaves: the permit first,
    /// the limiter's clearance last, so nothing waits between the clearance and the
    /// request and requests leave at the limiter's pace. Returns the permit and the send
    /// time the limiter counted the calls at; `None` on `shutdown`, or when the account is
    /// closed by then.
    async fn clearance(
        &self,
        calls: usize,
        shutdown: &CancellationToken,
    ) -> Option<(OwnedSemaphorePermit, i64)> {
        let permit = tokio::select! {
            permit = self.in_flight.clone().acquire_owned() => permit.ok()?,
            _ = shutdown.cancelled() => return None,
        };
        let sent_at_ms = tokio::select! {
            sent_at_ms = self.vendor.limiter.acquire_calls(calls as u32) => sent_at_ms,
            _ = shutdown.cancelled() => return None,
        };
        (self.vendor.account.is_open() && !shutdown.is_cancelled()).then_some((permit, sent_at_ms))
    }

    /// Sends `batch` as one request in a task of its own, which records the answers (sent
    /// at `sent_at_ms`) and then gives `permit` back.
    fn request(&mut self, batch: Vec<Ready>, permit: OwnedSemaphorePermit, sent_at_ms: i64) {
        while let Some(done) = self.requests.try_join_next_with_id() {
            self.attempts_of
                .remove(&done.map_or_else(|e| e.id(), |(id, ())| id));
        }
        let ids: Vec<(i64, i64)> = batch.iter().map(|r| (r.attempt, r.row)).collect();
        let (vendor, results, breaker) = (
            self.vendor.clone(),
            self.results.clone(),
            self.breaker.clone(),
        );
        let (endpoint, task_ids) = (self.settings.endpoint, ids.clone());
        let sent_at_ms = Some(sent_at_ms);
        let handle = self.requests.spawn(async move {
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
        self.attempts_of.insert(handle.id(), ids);
    }

    /// Records `rows` as never sent: their rows are pending again.
    fn withdraw(&self, rows: &[Ready]) {
        if rows.is_empty() {
            return;
        }
        let withdrawn = rows
            .iter()
            .map(|r| SendResult::withdrawn(r.attempt, r.row))
            .collect();
        let _ = self.results.send(withdrawn);
    }

    /// Waits for the requests in flight, for most of `drain_timeout`: a tenth of it is
    /// kept for recording what is left and closing, so the daemon is gone within it.
    /// Requests still unanswered then are aborted and recorded as unknown.
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.settings.drain_timeout.mul_f64(0.9);
        loop {
            match tokio::time::timeout_at(deadline, self.requests.join_next_with_id()).await {
                Ok(Some(Ok((id, ())))) => {
                    self.attempts_of.remove(&id);
                }
                Ok(Some(Err(error))) => {
                    self.attempts_of.remove(&error.id());
                }
                Ok(None) => return,
                Err(_) => break,
            }
        }
        self.requests.abort_all();
        let stranded: Vec<SendResult> = self
            .attempts_of
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
        let _ = self.results.send(stranded);
    }
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
/// While the store refuses writes, the answers are kept and tried again (with newer ones)
/// after a wait that grows with each failure; at the end they are given up, and their
/// rows, still `sending`, become `unknown` at the next start.
async fn record(store: Store, mut results: mpsc::UnboundedReceiver<Vec<SendResult>>) {
    let mut backoff = Backoff::default();
    let mut trouble = LogThrottle::default();
    let mut group: Vec<SendResult> = Vec::new();
    loop {
        if group.is_empty() {
            match results.recv().await {
                Some(first) => group = first,
                None => return,
            }
        }
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
        let written = tokio::task::spawn_blocking(move || {
            let written = store.record_sends(&group, now_ms());
            (group, written)
        })
        .await;
        match written {
            Ok((_, Ok(()))) => {
                backoff.succeeded();
                group = Vec::new();
            }
            Ok((kept, Err(error))) if results.is_closed() && results.is_empty() => {
                tracing::error!(%error, calls = kept.len(), "Cannot record answers; their rows stay sending and become unknown at the next start.");
                return;
            }
            Ok((kept, Err(error))) => {
                if let Some(repeats) = trouble.admit(&error.to_string(), std::time::Instant::now())
                {
                    tracing::error!(%error, repeats, calls = kept.len(), "Cannot record answers yet; they are kept and tried again.");
                }
                group = kept;
                tokio::time::sleep(backoff.failed()).await;
            }
            Err(panic) => {
                tracing::error!(%panic, "Recording answers panicked.");
                group = Vec::new();
            }
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

#[cfg(test)]
mod tests;
