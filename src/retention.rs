//! Retention (PRODUCT.md section 9), the stage that keeps the store and the campaign
//! folder from growing for good. At start and then every little while, it archives each
//! campaign that ended more than `[retention] keep_days` ago (its rows, attempts and
//! fields removed from the store, its figures kept), gives the space they took back to
//! the file system, and deletes the files (`done/NAME.*`, `reports/NAME/`) of archived
//! campaigns that ended more than `files_keep_days` ago.
//!
//! Each removal is a small transaction, and the stage waits as long as each one took
//! before the next: it holds the store's writer at most half the time, a few
//! milliseconds at once, so a write-ahead never waits long behind it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::layout::Layout;
use crate::store::Store;

/// What the stage needs of the configuration.
#[derive(Clone, Debug)]
pub struct RetentionConfig {
    pub layout: Layout,
    /// How long an ended campaign keeps its rows; `None` for good.
    pub keep: Option<Duration>,
    /// How long an archived campaign keeps its files; `None` for good.
    pub files_keep: Option<Duration>,
}

impl RetentionConfig {
    pub fn from_config(config: &Config) -> RetentionConfig {
        RetentionConfig {
            layout: Layout::new(&config.paths.campaigns),
            keep: config.retention.keep,
            files_keep: config.retention.files_keep,
        }
    }
}

/// The longest and shortest time between two passes.
const MOST_BETWEEN_PASSES: Duration = Duration::from_secs(600);
const LEAST_BETWEEN_PASSES: Duration = Duration::from_secs(1);

/// Runs a pass at start, then one every tenth of `keep` (or of `files_keep` when rows are
/// kept for good; from a second to ten minutes), until `shutdown`. `clock` tells the time
/// campaigns' ends are judged at, as dispatch recorded them. With rows and files kept for
/// good, there is nothing to do, and the stage ends at once.
pub async fn run(
    config: RetentionConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(shortest) = config.keep.or(config.files_keep) else {
        return Ok(());
    };
    let every = (shortest / 10).clamp(LEAST_BETWEEN_PASSES, MOST_BETWEEN_PASSES);
    let mut trouble = crate::trouble::LogThrottle::default();
    loop {
        let (config, store, cancel) = (config.clone(), store.clone(), shutdown.clone());
        let now_ms = clock.now().as_millisecond();
        let passed =
            tokio::task::spawn_blocking(move || pass(&config, &store, now_ms, &cancel)).await?;
        if let Err(error) = passed {
            let error = format!("{error:#}");
            if let Some(repeats) = trouble.admit(&error, std::time::Instant::now()) {
                tracing::warn!(%error, repeats, "Retention failed; its next pass tries again.");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One pass at `now_ms`; stops early at `cancel`, leaving the rest to the next start.
fn pass(
    config: &RetentionConfig,
    store: &Store,
    now_ms: i64,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let paced = |took: Duration| pace(took, cancel);
    let mut archived = 0;
    if let Some(keep) = config.keep {
        for expired in store.expired_campaigns(now_ms - millis(keep))? {
            if !store.archive(expired.id, now_ms, paced)? {
                return Ok(());
            }
            tracing::info!(
                campaign = %expired.name,
                keep_days = keep.as_secs_f64() / 86_400.0,
                "Campaign archived: its rows are removed from the store, its figures kept."
            );
            archived += 1;
        }
    }
    if archived > 0 {
        let pages = store.give_back_space(paced)?;
        if pages > 0 {
            tracing::info!(pages, "Store space given back to the file system.");
        }
    }
    if let Some(files_keep) = config.files_keep {
        for name in store.archived_campaigns(now_ms - millis(files_keep))? {
            if config.layout.remove_campaign_files(&name)? {
                tracing::info!(
                    campaign = %name,
                    "Files of an archived campaign deleted from done/ and reports/."
                );
            }
        }
    }
    Ok(())
}

/// What the stage does between two of its transactions, which took `took`: waits as long,
/// so that it holds the store's writer at most half the time; then says whether to go on.
pub fn pace(took: Duration, cancel: &CancellationToken) -> bool {
    std::thread::sleep(took);
    !cancel.is_cancelled()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
