//! The account's state, shared by every stage that talks to the vendor: dialling is
//! open, halted (the vendor refused the account: only probes go out until one passes or
//! `control/account.resume` appears), or held by the circuit breaker after a run of
//! requests that were not placed. A halt is kept in the store, so it outlasts a restart.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::store::{Store, StoreError};

/// Where the account stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountState {
    Active,
    /// Stopped until a probe passes or an operator resumes it.
    Halted {
        reason: String,
    },
    /// Stopped until `until`, after a run of requests that were not placed.
    Breaker {
        reason: String,
        until: Instant,
    },
}

const HALT_KEY: &str = "account_halt";

/// The shared account state.
#[derive(Debug)]
pub struct Account {
    state: watch::Sender<AccountState>,
    store: Store,
}

impl Account {
    /// The account as the store left it: halted if it was halted when the daemon stopped.
    pub fn load(store: Store) -> Result<Account, StoreError> {
        let state = match store.meta(HALT_KEY)? {
            Some(reason) if !reason.is_empty() => AccountState::Halted { reason },
            _ => AccountState::Active,
        };
        Ok(Account {
            state: watch::Sender::new(state),
            store,
        })
    }

    pub fn state(&self) -> AccountState {
        self.state.borrow().clone()
    }

    /// Returns true if and only if dialling may go on now.
    pub fn is_open(&self) -> bool {
        match &*self.state.borrow() {
            AccountState::Active => true,
            AccountState::Halted { .. } => false,
            AccountState::Breaker { until, .. } => Instant::now() >= *until,
        }
    }

    /// Waits until dialling may go on.
    pub async fn open(&self) {
        let mut changes = self.state.subscribe();
        loop {
            let wait = match &*changes.borrow_and_update() {
                AccountState::Active => return,
                AccountState::Halted { .. } => None,
                AccountState::Breaker { until, .. } => {
                    match until.checked_duration_since(Instant::now()) {
                        None => return,
                        wait => wait,
                    }
                }
            };
            match wait {
                Some(wait) => {
                    let _ = tokio::time::timeout(wait, changes.changed()).await;
                }
                None => {
                    if changes.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Stops all dialling, keeping the reason in the store. A halt while halted keeps the
    /// first reason.
    pub fn halt(&self, reason: &str) {
        if matches!(*self.state.borrow(), AccountState::Halted { .. }) {
            return;
        }
        tracing::error!(%reason, "The account is halted: no calls are placed until a probe passes or `voicecast resume --account`.");
        if let Err(error) = self.store.set_meta(HALT_KEY, reason) {
            tracing::error!(%error, "Cannot keep the halt in the store.");
        }
        self.state.send_replace(AccountState::Halted {
            reason: reason.to_string(),
        });
    }

    /// Holds dialling for `pause` after a run of requests that were not placed.
    pub fn trip_breaker(&self, reason: &str, pause: Duration) {
        if matches!(*self.state.borrow(), AccountState::Halted { .. }) {
            return;
        }
        tracing::warn!(%reason, secs = pause.as_secs(), "Circuit breaker: dialling pauses.");
        self.state.send_replace(AccountState::Breaker {
            reason: reason.to_string(),
            until: Instant::now() + pause,
        });
    }

    /// Dialling goes on (a probe passed, an operator resumed, or the breaker closed).
    pub fn resume(&self, why: &str) {
        if *self.state.borrow() == AccountState::Active {
            return;
        }
        tracing::info!(%why, "The account is active again; dialling resumes.");
        if let Err(error) = self.store.set_meta(HALT_KEY, "") {
            tracing::error!(%error, "Cannot clear the halt in the store.");
        }
        self.state.send_replace(AccountState::Active);
    }

    /// Notified on every change.
    pub fn subscribe(&self) -> watch::Receiver<AccountState> {
        self.state.subscribe()
    }
}

/// What every stage that talks to the vendor shares: the client, the account's rate limit
/// and the account's state.
#[derive(Clone, Debug)]
pub struct Vendor {
    pub client: std::sync::Arc<callcenter_openapi::VendorClient>,
    pub limiter: std::sync::Arc<crate::limiter::AccountLimiter>,
    pub account: std::sync::Arc<Account>,
}
