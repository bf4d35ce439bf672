//! The daemon. Everything a start needs that can fail is built first: the account's
//! credentials and client, the push receiver's and the metrics' listeners, the campaign
//! folder, the store (locked, so that no other daemon and no restore uses it meanwhile).
//! Only when all of them stand do the stages start under one shutdown, "running" is
//! logged and systemd hears `READY=1`, so a failed start imports nothing and sends
//! nothing. The only module that knows every stage.

use std::sync::Arc;

use anyhow::Context;
use callcenter_openapi::{Credentials, VendorClient};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::account::{Account, Vendor};
use crate::atomic;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::dispatch::{self, DispatchConfig};
use crate::intake::{self, IntakeConfig};
use crate::layout::Layout;
use crate::limiter::AccountLimiter;
use crate::metrics::{self, Metrics};
use crate::reconcile::{self, ReconcileConfig};
use crate::reload::{self, Live};
use crate::reports::{self, ReportsConfig};
use crate::retention::{self, RetentionConfig};
use crate::service::{self, Heartbeat};
use crate::store::{Store, now_ms};

type StageFuture = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// Runs the daemon until `shutdown` is cancelled and every stage has stopped.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_clock(config, Arc::new(SystemClock), shutdown).await
}

/// [`run`], with calling hours and `start_at` judged by `clock`.
pub async fn run_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_reloading(config, clock, mpsc::channel(1).1, shutdown).await
}

/// [`run_with_clock`], applying each configuration `reloads` brings (see [`reload`]).
/// A configuration error (such as a customer with no readable password) is a
/// [`crate::config::ConfigError`]; any other failure to start names what failed.
pub async fn run_reloading(
    config: Config,
    clock: Arc<dyn Clock>,
    reloads: mpsc::Receiver<Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Held until every stage has stopped: no other daemon, and no restore, meanwhile.
    let _lock = crate::store::lock_store(&config.paths.database)?;
    let started = Started::build(&config).await?;
    tracing::info!(
        campaigns = %started.layout.root().display(),
        database = %started.store.path().display(),
        account = started.dialling.is_some(),
        calendar_years = ?config.calendar.known_years(),
        "voicecast is running."
    );
    service::ready();
    let tasks = TaskTracker::new();
    let stages = spawn_stages(&config, started, clock, reloads, &tasks, &shutdown);
    tasks.close();
    let result = wait_for(stages).await;
    tasks.wait().await;
    tracing::info!("voicecast stopped.");
    result
}

/// What the daemon runs on, every piece of it built before any stage starts.
struct Started {
    layout: Layout,
    store: Store,
    /// What the stages count, and the listener that serves it (bound) when
    /// `[metrics] listen` is set.
    metrics: Arc<Metrics>,
    metrics_listener: Option<TcpListener>,
    /// The account and everything that talks to it; none when `api.customer` is empty,
    /// the documented no-account mode, in which nothing is dialled.
    dialling: Option<Dialling>,
}

/// The account's side of the daemon.
struct Dialling {
    vendor: Vendor,
    /// The push receiver's listener, bound, and the credentials pushes are checked with.
    push: Option<(TcpListener, Credentials)>,
    /// Beaten by dispatch's loop; the watchdog pings systemd while it beats.
    heartbeat: Heartbeat,
}

impl Started {
    async fn build(config: &Config) -> anyhow::Result<Started> {
        let credentials = config.account_credentials()?;
        let metrics = Arc::new(Metrics::default());
        let client = match &credentials {
            Some(credentials) => Some(Arc::new(
                VendorClient::new(config.client_settings(), credentials.clone())
                    .context("cannot build the vendor's HTTP client")?
                    .observed_by(metrics.clone()),
            )),
            None => {
                tracing::warn!(
                    "`api.customer` is empty: nothing is dialled, and campaigns with a template_id wait."
                );
                None
            }
        };
        let push = match (&credentials, config.push.listen) {
            (Some(credentials), Some(listen)) => {
                let listener = reconcile::push::bind(listen)
                    .await
                    .with_context(|| format!("the push receiver cannot listen on {listen}"))?;
                Some((listener, credentials.clone()))
            }
            (None, Some(listen)) => {
                tracing::warn!(%listen, "`push.listen` is set but there is no account to check pushes with: the push receiver is not started.");
                None
            }
            (_, None) => None,
        };
        let metrics_listener = match config.metrics.listen {
            Some(listen) => Some(
                metrics::bind(listen)
                    .await
                    .with_context(|| format!("the metrics cannot be served on {listen}"))?,
            ),
            None => None,
        };
        let layout = Layout::new(&config.paths.campaigns);
        layout
            .create()
            .with_context(|| format!("the campaign folder {}", layout.root().display()))?;
        sweep_temporaries(&layout);
        let (store, stranded) = open_store(config).await?;
        let dialling = match client {
            Some(client) => {
                let account = Account::load(store.clone())?;
                // Nothing is dialled before reconcile has adopted the records of calls
                // the store may have forgotten.
                account.adopting();
                let vendor = Vendor {
                    client,
                    limiter: Arc::new(limiter(config, &store, stranded)?),
                    account: Arc::new(account),
                };
                let heartbeat = Heartbeat::default();
                metrics.watch_account(
                    vendor.account.clone(),
                    vendor.limiter.clone(),
                    heartbeat.clone(),
                );
                Some(Dialling {
                    vendor,
                    push,
                    heartbeat,
                })
            }
            None => None,
        };
        Ok(Started {
            layout,
            store,
            metrics,
            metrics_listener,
            dialling,
        })
    }
}

/// Removes the temporaries of atomic writes (reports, control files, rejection notes)
/// that a crash left behind. A folder that cannot be swept is logged and left as it is.
fn sweep_temporaries(layout: &Layout) {
    let reports = std::fs::read_dir(layout.reports())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir());
    let folders = [layout.reports(), layout.control(), layout.rejected()];
    for folder in folders.into_iter().chain(reports) {
        match atomic::sweep(&folder) {
            Ok(0) => {}
            Ok(removed) => {
                tracing::info!(folder = %folder.display(), removed, "Removed temporary files a stop left behind.")
            }
            Err(error) => {
                tracing::warn!(folder = %folder.display(), %error, "Cannot sweep temporary files.")
            }
        }
    }
}

/// Opens the store, discarding imports a stop interrupted and making rows a stop left
/// `sending` unknown, and begins the hold after a restore; returns the store and how many
/// rows were left `sending`.
async fn open_store(config: &Config) -> anyhow::Result<(Store, usize)> {
    let database = config.paths.database.clone();
    let hold_ms = i64::try_from(config.reconcile.restore_hold.as_millis()).unwrap_or(i64::MAX);
    tokio::task::spawn_blocking(move || -> anyhow::Result<(Store, usize)> {
        let store = Store::open(&database)?;
        if let Some(hold) = store.begin_restore_hold(now_ms(), hold_ms)? {
            tracing::warn!(
                restored_at = %crate::reports::figures::rfc3339(hold.restored_at_ms, &jiff::tz::TimeZone::system()),
                hold_until = %crate::reports::figures::rfc3339(hold.until_ms, &jiff::tz::TimeZone::system()),
                "The store was restored from a copy: nothing is dialled until the hold ends, while the vendor's records of calls the copy does not know are adopted."
            );
        }
        for name in store.discard_unfinished_imports()? {
            tracing::info!(campaign = %name, "Discarded an import a stop interrupted; its file is read again.");
        }
        let stranded = store.sending_to_unknown(now_ms())?;
        if stranded > 0 {
            tracing::warn!(rows = stranded, "Rows a stop left sending are unknown until their call records come.");
        }
        Ok((store, stranded))
    })
    .await?
}

/// The account's limiter, holding the calls the last run sent in its last second. The
/// `stranded` calls a stop left `sending` may have left at any moment up to now, so they
/// count as sent now.
fn limiter(config: &Config, store: &Store, stranded: usize) -> anyhow::Result<AccountLimiter> {
    let limiter = AccountLimiter::new(config.limits.rate, config.limits.burst);
    let mut sent = store.recent_send_times(config.limits.rate.get())?;
    sent.extend(std::iter::repeat_n(now_ms(), stranded));
    limiter.seed(&sent);
    Ok(limiter)
}

/// The stages of a running daemon, each a task whose failure stops all the others: the
/// daemon never runs half its stages.
struct Stages<'a> {
    tasks: &'a TaskTracker,
    shutdown: &'a CancellationToken,
    running: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Stages<'_> {
    fn start(&mut self, stage: StageFuture) {
        let shutdown = self.shutdown.clone();
        self.running.push(self.tasks.spawn(async move {
            let result = stage.await;
            if result.is_err() {
                shutdown.cancel();
            }
            result
        }));
    }
}

/// Starts every stage and the tasks beside them on `tasks`; returns the stages.
fn spawn_stages(
    config: &Config,
    started: Started,
    clock: Arc<dyn Clock>,
    reloads: mpsc::Receiver<Config>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<anyhow::Result<()>>> {
    let Started {
        store,
        dialling,
        metrics,
        metrics_listener,
        ..
    } = started;
    if let Some(listener) = metrics_listener {
        tasks.spawn(metrics::serve(
            listener,
            metrics.clone(),
            shutdown.child_token(),
        ));
    }
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            shutdown.cancelled().await;
            service::stopping();
        });
    }
    let vendor = dialling.as_ref().map(|d| d.vendor.clone());
    let (live, follow) = watch::channel(Live::of(config));
    tasks.spawn(reload::run(
        config.clone(),
        reloads,
        live,
        vendor.as_ref().map(|v| v.limiter.clone()),
        shutdown.child_token(),
    ));
    let mut stages = Stages {
        tasks,
        shutdown,
        running: Vec::new(),
    };
    stages.start(Box::pin(intake::run(
        IntakeConfig::from_config(config),
        store.clone(),
        vendor.as_ref().map(|v| v.client.clone()),
        follow.clone(),
        shutdown.child_token(),
    )));
    stages.start(Box::pin(reports::run(
        ReportsConfig::from_config(config),
        store.clone(),
        vendor.as_ref().map(|v| v.account.clone()),
        Some(follow.clone()),
        clock.clone(),
        metrics.clone(),
        shutdown.child_token(),
    )));
    stages.start(Box::pin(retention::run(
        RetentionConfig::from_config(config),
        store.clone(),
        clock.clone(),
        shutdown.child_token(),
    )));
    // The watchdog follows dispatch's loop; with no account there is none to follow.
    let heartbeat = dialling.as_ref().map(|d| d.heartbeat.clone());
    tasks.spawn(service::watchdog(heartbeat, shutdown.child_token()));
    if let Some(dialling) = dialling {
        start_dialling(&mut stages, config, store, dialling, clock, follow, metrics);
    }
    stages.running
}

/// Starts the stages that talk to the vendor: dispatch, the push receiver, reconcile.
fn start_dialling(
    stages: &mut Stages<'_>,
    config: &Config,
    store: Store,
    dialling: Dialling,
    clock: Arc<dyn Clock>,
    follow: watch::Receiver<Live>,
    metrics: Arc<Metrics>,
) {
    let Dialling {
        vendor,
        push,
        heartbeat,
    } = dialling;
    let shutdown = stages.shutdown;
    stages.start(Box::pin(dispatch::run(
        DispatchConfig::from_config(config),
        store.clone(),
        vendor.clone(),
        clock,
        heartbeat,
        follow.clone(),
        shutdown.child_token(),
    )));
    if let Some((listener, credentials)) = push {
        stages.tasks.spawn(reconcile::push::serve(
            listener,
            config.push.path.clone(),
            credentials,
            reconcile::Applier::new(store.clone(), vendor.clone(), follow.clone()),
            config.api.vendor_timezone.clone(),
            metrics.clone(),
            shutdown.child_token(),
        ));
    }
    stages.start(Box::pin(reconcile::run(
        ReconcileConfig::from_config(config),
        store,
        vendor,
        follow,
        metrics,
        shutdown.child_token(),
    )));
}

/// Waits for every stage; the first failure is the daemon's.
async fn wait_for(stages: Vec<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    let mut result = Ok(());
    for stage in stages {
        let outcome = stage.await.context("a stage panicked").and_then(|r| r);
        if let Err(error) = outcome {
            tracing::error!(
                error = format!("{error:#}"),
                "A stage failed; the daemon stops."
            );
            result = result.and(Err(error));
        }
    }
    result
}
