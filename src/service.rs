//! Talking to systemd over `$NOTIFY_SOCKET` (the `sd-notify` crate): `READY=1` once the
//! daemon is up, `STATUS=` lines, `WATCHDOG=1` while the dispatch loop makes progress,
//! `RELOADING=1` around a reload and `STOPPING=1` at shutdown. Outside systemd (no
//! `$NOTIFY_SOCKET`) every call does nothing.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "Cannot notify systemd.");
    }
}

/// The daemon is up: the store is open and the campaign folders are there.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// A one-line summary for `systemctl status`.
pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// The daemon is stopping: draining requests in flight.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// A reload starts (`READY=1` follows when it is done, as systemd asks).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Proof of life from a loop: [`watchdog`] pings systemd only while it beats.
#[derive(Clone, Debug)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        let heartbeat = Heartbeat(Arc::new(AtomicU64::new(0)));
        heartbeat.beat();
        heartbeat
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        self.0.store(since_start(), Ordering::Relaxed);
    }

    /// How long ago it last beat.
    pub fn age(&self) -> Duration {
        Duration::from_millis(since_start().saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

/// How long dispatch's loop may go without a beat before it counts as stalled: half of
/// systemd's `WatchdogSec=` when it set one (as the watchdog judges), else 30 s.
pub fn stall_limit() -> Duration {
    sd_notify::watchdog_enabled().map_or(Duration::from_secs(30), |period| period / 2)
}

/// Milliseconds since the first call.
fn since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Pings systemd's watchdog every half of `WatchdogSec=` while `heartbeat` (when given)
/// has beaten within that half; a loop that stops beating stops the pings, and systemd
/// then restarts the daemon. Returns at once when systemd set no watchdog.
pub async fn watchdog(heartbeat: Option<Heartbeat>, shutdown: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = period / 2;
    let mut tick = tokio::time::interval(every);
    let mut stalled = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let age = heartbeat.as_ref().map_or(Duration::ZERO, Heartbeat::age);
        if age < every {
            if stalled {
                tracing::info!("Dispatch makes progress again; the watchdog pings resume.");
            }
            stalled = false;
            send(&[NotifyState::Watchdog]);
        } else if !stalled {
            stalled = true;
            tracing::error!(
                stalled_secs = age.as_secs(),
                "Dispatch has made no progress; the watchdog pings stop, and systemd restarts the daemon if it goes on."
            );
        }
    }
}
