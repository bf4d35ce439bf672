//! The daemon: opens the store and the campaign folder, and runs the stages under one
//! shutdown. The only module that knows every stage.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::account::{Account, Vendor};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::dispatch::{self, DispatchConfig};
use crate::intake::{self, IntakeConfig};
use crate::limiter::AccountLimiter;
use crate::reconcile::{self, ReconcileConfig};
use crate::reload::{self, Live};
use crate::reports::{self, ReportsConfig};
use crate::service::{self, Heartbeat};
use crate::store::Store;
use callcenter_openapi::VendorClient;

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
pub async fn run_reloading(
    config: Config,
    clock: Arc<dyn Clock>,
    reloads: mpsc::Receiver<Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let intake_config = IntakeConfig::from_config(&config);
    let layout = intake_config.layout.clone();
    layout
        .create()
        .with_context(|| format!("the campaign folder {}", layout.root().display()))?;
    let database = config.paths.database.clone();
    let store = tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
        let store = Store::open(&database)?;
        for name in store.discard_unfinished_imports()? {
            tracing::info!(campaign = %name, "Discarded an import a stop interrupted; its file is read again.");
        }
        let stranded = store.sending_to_unknown()?;
        if stranded > 0 {
            tracing::warn!(rows = stranded, "Rows a stop left sending are unknown until their call records come.");
        }
        Ok(store)
    })
    .await??;
    let client = match config.credentials() {
        Ok(credentials) => Some(Arc::new(VendorClient::new(
            config.client_settings(),
            credentials,
        )?)),
        Err(error) => {
            tracing::warn!(%error, "No vendor account: nothing is dialled, and campaigns with a template_id wait.");
            None
        }
    };
    tracing::info!(
        campaigns = %layout.root().display(),
        database = %store.path().display(),
        "voicecast is running."
    );
    service::ready();
    let tasks = TaskTracker::new();
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            shutdown.cancelled().await;
            service::stopping();
        });
    }
    // A stage that fails stops the others: the daemon never runs half its stages.
    let stage = |future| {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let result: anyhow::Result<()> = future.await;
            if result.is_err() {
                shutdown.cancel();
            }
            result
        })
    };
    let account = match &client {
        Some(_) => Some(Arc::new(Account::load(store.clone())?)),
        None => None,
    };
    let limiter = client
        .as_ref()
        .map(|_| Arc::new(AccountLimiter::new(config.limits.rate, config.limits.burst)));
    let (live, follow) = watch::channel(Live::of(&config));
    tasks.spawn(reload::run(
        config.clone(),
        reloads,
        live,
        limiter.clone(),
        shutdown.child_token(),
    ));
    let mut stages = vec![stage(Box::pin(intake::run(
        intake_config,
        store.clone(),
        client.clone(),
        follow.clone(),
        shutdown.child_token(),
    )) as StageFuture)];
    stages.push(stage(Box::pin(reports::run(
        ReportsConfig::from_config(&config),
        store.clone(),
        account.clone(),
        Some(follow.clone()),
        shutdown.child_token(),
    ))));
    // The watchdog follows dispatch's loop; with no account there is none to follow.
    let heartbeat = client.is_some().then(Heartbeat::default);
    tasks.spawn(service::watchdog(heartbeat.clone(), shutdown.child_token()));
    if let (Some(client), Some(account), Some(limiter), Some(heartbeat)) =
        (client, account, limiter, heartbeat)
    {
        let vendor = Vendor {
            client,
            limiter,
            account,
        };
        stages.push(stage(Box::pin(dispatch::run(
            DispatchConfig::from_config(&config),
            store.clone(),
            vendor.clone(),
            clock,
            heartbeat,
            follow.clone(),
            shutdown.child_token(),
        ))));
        if let Some(listen) = config.push.listen {
            let listener = reconcile::push::bind(listen)
                .await
                .with_context(|| format!("the push receiver cannot listen on {listen}"))?;
            tasks.spawn(reconcile::push::serve(
                listener,
                config.push.path.clone(),
                config.credentials()?,
                reconcile::Applier::new(store.clone(), vendor.clone(), follow.clone()),
                config.api.vendor_timezone.clone(),
                shutdown.child_token(),
            ));
        }
        stages.push(stage(Box::pin(reconcile::run(
            ReconcileConfig::from_config(&config),
            store,
            vendor,
            follow,
            shutdown.child_token(),
        ))));
    }
    tasks.close();
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
    tasks.wait().await;
    tracing::info!("voicecast stopped.");
    result
}
