//! The daemon: opens the store and the campaign folder, and runs the stages under one
//! shutdown. The only module that knows every stage.

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::intake::{self, IntakeConfig};
use crate::store::Store;
use crate::vendor::VendorClient;

/// Runs the daemon until `shutdown` is cancelled and every stage has stopped.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
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
        Ok(store)
    })
    .await??;
    let templates = match config.credentials() {
        Ok(credentials) => Some(VendorClient::new(config.client_settings(), credentials)?),
        Err(error) => {
            tracing::warn!(%error, "No vendor account: campaigns with a template_id wait.");
            None
        }
    };
    tracing::info!(
        campaigns = %layout.root().display(),
        database = %store.path().display(),
        "voicecast is running."
    );
    let tasks = TaskTracker::new();
    let intake = tasks.spawn(intake::run(
        intake_config,
        store,
        templates,
        shutdown.child_token(),
    ));
    tasks.close();
    let result = intake.await.context("the intake stage panicked")?;
    tasks.wait().await;
    tracing::info!("voicecast stopped.");
    result
}
