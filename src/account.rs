//! The account's state, shared by every stage that talks to the vendor: dialling is
//! open, halted (the vendor refused the account: only probes go out until one passes or
//! `control/account.resume` appears), waiting (a call came outside the vendor's service
//! hours: no calls for a while), or held by the circuit breaker after a run of requests
//! that were not placed. A halt and a wait are kept in the store, so they outlast a
//! restart. Apart from those, dialling waits at start until reconcile has adopted the
//! vendor's records of calls the store may have forgotten, and after a restore until
//! its hold ends (PRODUCT.md section 9).

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
    /// Stopped until `until`, since the vendor's service hours (which are the
    /// account's) had ended.
    Waiting {
        reason: String,
        until: Instant,
    },
    /// Stopped while the vendor's call records are adopted: until the pass at start is
    /// done (`until` is `None` while it runs), and after a restore until its hold ends.
    Adopting {
        reason: String,
        until: Option<Instant>,
    },
}

impl AccountState {
    /// When a timed stop (the breaker, a wait) ends.
    fn until(&self) -> Option<Instant> {
        match self {
            AccountState::Breaker { until, .. } | AccountState::Waiting { until, .. } => {
                Some(*until)
            }
            AccountState::Adopting { until, .. } => *until,
            AccountState::Active | AccountState::Halted { .. } => None,
        }
    }
}

const HALT_KEY: &str = "account_halt";
/// A wait, as `UNTIL_MS REASON`.
const WAIT_KEY: &str = "account_wait";

/// Where the adoption of the vendor's call records stands (see [`Account::adopting`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Adoption {
    /// Whether the pass over the records since the store's newest activity is done.
    passed: bool,
    /// After a restore, when its hold ends, and that time on the wall clock.
    hold_until: Option<(Instant, jiff::Timestamp)>,
}

/// The shared account state.
#[derive(Debug)]
pub struct Account {
    state: watch::Sender<AccountState>,
    adoption: watch::Sender<Adoption>,
    store: Store,
}

impl Account {
    /// The account as the store left it: halted if it was halted when the daemon
    /// stopped, waiting if its wait has time left, held if a restore's hold has.
    pub fn load(store: Store) -> Result<Account, StoreError> {
        let now_ms = crate::store::now_ms();
        let hold_until = store.restore_hold()?.and_then(|hold| {
            let left = u64::try_from(hold.until_ms - now_ms).ok()?;
            let wall = jiff::Timestamp::from_millisecond(hold.until_ms).ok()?;
            Some((Instant::now() + Duration::from_millis(left), wall))
        });
        let wait = store.meta(WAIT_KEY)?.and_then(|text| {
            let (until_ms, reason) = text.split_once(' ')?;
            let left = until_ms.parse::<i64>().ok()? - crate::store::now_ms();
            let left = Duration::from_millis(u64::try_from(left).ok()?);
            Some(AccountState::Waiting {
                reason: reason.to_string(),
                until: Instant::now() + left,
            })
        });
        let state = match store.meta(HALT_KEY)? {
            Some(reason) if !reason.is_empty() => AccountState::Halted { reason },
            _ => wait.unwrap_or(AccountState::Active),
        };
        Ok(Account {
            state: watch::Sender::new(state),
            adoption: watch::Sender::new(Adoption {
                passed: true,
                hold_until,
            }),
            store,
        })
    }

    /// Where the account stands now: a timed stop whose time is up is over. A halt, a
    /// wait and the breaker show before the adoption's hold.
    pub fn state(&self) -> AccountState {
        let state = self.state.borrow().clone();
        let state = match state.until() {
            Some(until) if Instant::now() >= until => AccountState::Active,
            _ => state,
        };
        if state != AccountState::Active {
            return state;
        }
        let adoption = *self.adoption.borrow();
        if !adoption.passed {
            return AccountState::Adopting {
                reason: "the vendor's call records since the store's last activity are read \
                         before the first call"
                    .into(),
                until: None,
            };
        }
        match adoption.hold_until {
            Some((until, wall)) if Instant::now() < until => AccountState::Adopting {
                reason: format!(
                    "restored from a copy: no calls until {} while the vendor's call records \
                     are adopted",
                    wall.to_zoned_datetime(jiff::tz::TimeZone::system())
                        .strftime("%Y-%m-%d %H:%M:%S %Z")
                ),
                until: Some(until),
            },
            _ => AccountState::Active,
        }
    }

    /// Holds dialling until [`Account::adopted`]: the vendor's records of calls the
    /// store may have forgotten are read first.
    pub fn adopting(&self) {
        self.adoption.send_modify(|a| a.passed = false);
    }

    /// The records since the store's newest activity are adopted: dialling may begin
    /// (after a restore's hold).
    pub fn adopted(&self) {
        self.adoption.send_modify(|a| a.passed = true);
    }

    /// Returns true if and only if dialling may go on now.
    pub fn is_open(&self) -> bool {
        self.state() == AccountState::Active
    }

    /// Waits until dialling may go on.
    pub async fn open(&self) {
        let mut changes = self.state.subscribe();
        let mut adoption = self.adoption.subscribe();
        loop {
            changes.borrow_and_update();
            adoption.borrow_and_update();
            // A timed stop is waited out; a halt, or a pass not done, waits for a change.
            let wait = match self.state() {
                AccountState::Active => return,
                stopped => stopped
                    .until()
                    .map(|until| until.saturating_duration_since(Instant::now())),
            };
            let changed = async {
                tokio::select! {
                    changed = changes.changed() => changed,
                    changed = adoption.changed() => changed,
                }
            };
            match wait {
                Some(wait) => {
                    let _ = tokio::time::timeout(wait, changed).await;
                }
                None => {
                    if changed.await.is_err() {
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
        if self.stopped_past(Instant::now() + pause) {
            return;
        }
        tracing::warn!(%reason, secs = pause.as_secs(), "Circuit breaker: dialling pauses.");
        self.state.send_replace(AccountState::Breaker {
            reason: reason.to_string(),
            until: Instant::now() + pause,
        });
    }

    /// Holds all dialling for `pause`, keeping the wait in the store: a call came
    /// outside the vendor's service hours. A halt, or a longer stop, stands.
    pub fn wait(&self, reason: &str, pause: Duration) {
        let until = Instant::now() + pause;
        if self.stopped_past(until) {
            return;
        }
        tracing::warn!(%reason, secs = pause.as_secs(), "The account waits: no calls are placed until then or `voicecast resume --account`.");
        let until_ms = crate::store::now_ms() + i64::try_from(pause.as_millis()).unwrap_or(0);
        if let Err(error) = self
            .store
            .set_meta(WAIT_KEY, &format!("{until_ms} {reason}"))
        {
            tracing::error!(%error, "Cannot keep the wait in the store.");
        }
        self.state.send_replace(AccountState::Waiting {
            reason: reason.to_string(),
            until,
        });
    }

    /// Whether dialling is halted, or held by a timed stop that outlasts `until`.
    fn stopped_past(&self, until: Instant) -> bool {
        match &*self.state.borrow() {
            AccountState::Halted { .. } => true,
            timed => timed.until().is_some_and(|end| end >= until),
        }
    }

    /// Dialling goes on (a probe passed, an operator resumed, or the breaker closed).
    pub fn resume(&self, why: &str) {
        if *self.state.borrow() == AccountState::Active {
            return;
        }
        tracing::info!(%why, "The account is active again; dialling resumes.");
        for key in [HALT_KEY, WAIT_KEY] {
            if let Err(error) = self.store.set_meta(key, "") {
                tracing::error!(%error, "Cannot clear the account's stop in the store.");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_holds_dialling_for_its_time_across_a_restart_until_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("voicecast.db")).unwrap();
        let account = Account::load(store.clone()).unwrap();
        account.wait("429", Duration::from_secs(1800));
        assert!(!account.is_open());
        assert!(matches!(account.state(), AccountState::Waiting { .. }));
        // A shorter breaker does not cut the wait short.
        account.trip_breaker("not placed", Duration::from_secs(5));
        assert!(matches!(account.state(), AccountState::Waiting { .. }));
        let again = Account::load(store.clone()).unwrap();
        let AccountState::Waiting { reason, until } = again.state() else {
            panic!("the wait outlasts a restart");
        };
        assert_eq!(reason, "429");
        assert!(until > Instant::now() + Duration::from_secs(1790));
        again.resume("control/account.resume");
        assert!(again.is_open());
        assert_eq!(
            Account::load(store.clone()).unwrap().state(),
            AccountState::Active
        );
        // A wait whose time is up is over.
        again.wait("429", Duration::ZERO);
        assert!(again.is_open());
    }

    #[tokio::test]
    async fn dialling_waits_for_the_adoption_at_start_and_a_restores_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("voicecast.db")).unwrap();
        let account = std::sync::Arc::new(Account::load(store.clone()).unwrap());
        account.adopting();
        assert!(matches!(
            account.state(),
            AccountState::Adopting { until: None, .. }
        ));
        // A halt shows first; a resume ends it, not the adoption.
        account.halt("error 11");
        assert!(matches!(account.state(), AccountState::Halted { .. }));
        account.resume("an operator");
        assert!(!account.is_open());
        let opened = tokio::spawn({
            let account = account.clone();
            async move { account.open().await }
        });
        account.adopted();
        tokio::time::timeout(Duration::from_secs(10), opened)
            .await
            .expect("open once the records are adopted")
            .unwrap();
        // After a restore, the hold outlasts the pass, and a restart.
        let now = crate::store::now_ms();
        store.mark_restored(now).unwrap();
        store.begin_restore_hold(now, 3_600_000).unwrap();
        let restored = Account::load(store).unwrap();
        let AccountState::Adopting { reason, until } = restored.state() else {
            panic!("held after a restore");
        };
        assert!(
            reason.starts_with("restored from a copy: no calls until "),
            "{reason}"
        );
        assert!(until.is_some_and(|u| u > Instant::now() + Duration::from_secs(3500)));
    }
}
