//! Intake: the inbox folder and the call lists in it (CSV files and workbooks), decoded,
//! checked row by row, and committed to the store as campaigns of `pending` rows.
//!
//! [`run`] is the stage: it watches the inbox ([`watch`]), waits for each call list to be
//! complete, puts its settings and template together ([`campaign`]), and hands it to
//! [`import`], which reads it ([`list`]; [`decode`] for CSV or [`workbook`]; [`rows`],
//! [`numbers`]) into the store or rejects it.

pub mod campaign;
pub mod decode;
pub mod import;
pub mod list;
pub mod numbers;
pub mod rows;
pub mod watch;
pub mod workbook;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use campaign::{Limits, Plan};
use import::Taken;
use rows::DoNotCall;
use watch::{Seen, Settler};

use crate::layout::{self, Layout};
use crate::reload::Live;
use crate::settings::{PartialSettings, TemplateSource};
use crate::store::Store;
use crate::trouble::LogThrottle;
use callcenter_openapi::VendorClient;
use callcenter_openapi::template::Template;
use callcenter_openapi::wire::Review;

/// What intake needs from the configuration.
#[derive(Clone, Debug)]
pub struct IntakeConfig {
    pub layout: Layout,
    pub settle: Duration,
    pub rescan: Duration,
    pub limits: Limits,
    /// `[campaign_defaults]` over the built-in defaults.
    pub defaults: PartialSettings,
    pub dnc_file: Option<PathBuf>,
}

impl IntakeConfig {
    pub fn from_config(config: &crate::config::Config) -> IntakeConfig {
        IntakeConfig {
            layout: Layout::new(&config.paths.campaigns),
            settle: config.intake.settle,
            rescan: config.intake.rescan,
            limits: Limits {
                numbers: config.intake.numbers,
                max_text_chars: config.intake.max_text_chars.get() as usize,
            },
            defaults: config.campaign_defaults.clone(),
            dnc_file: config.intake.dnc_file.clone(),
        }
    }
}

/// The intake stage: runs until `shutdown`. `templates` resolves `template_id`s; without
/// it such campaigns wait. `live` brings a reload's campaign defaults and do-not-call file.
pub async fn run(
    config: IntakeConfig,
    store: Store,
    templates: Option<Arc<VendorClient>>,
    mut live: tokio::sync::watch::Receiver<Live>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let inbox = config.layout.inbox();
    let (events, mut seen) = mpsc::unbounded_channel();
    let _watcher = match watch::watch(&inbox, events) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(inbox = %inbox.display(), %error, "Cannot watch the inbox; new files are seen by the rescan only.");
            None
        }
    };
    let mut stage = Stage {
        settler: Settler::new(config.settle),
        config,
        store,
        templates,
        waiting: HashMap::new(),
        trouble: LogThrottle::default(),
    };
    let mut rescan = tokio::time::interval(stage.config.rescan);
    tracing::info!(inbox = %inbox.display(), "Intake is watching the inbox.");
    loop {
        let wait = stage
            .settler
            .next_due(Instant::now())
            .map_or(stage.config.rescan, |d| d.max(Duration::from_millis(50)));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(event) = seen.recv() => stage.note(event),
            Ok(()) = live.changed() => {
                // A reload: campaigns imported from now on take these.
                let live = live.borrow_and_update();
                stage.config.defaults = live.campaign_defaults.clone();
                stage.config.dnc_file = live.dnc_file.clone();
            }
            _ = rescan.tick() => {
                stage.complete_moves().await;
                stage.rescan();
            }
            _ = tokio::time::sleep(wait) => {}
        }
        let has_settings = |list: &Path| layout::settings_beside(list).is_file();
        for list in stage
            .settler
            .ready(Instant::now(), watch::stat, has_settings)
        {
            if shutdown.is_cancelled() {
                break;
            }
            stage.take(&list, &shutdown).await;
        }
    }
    tracing::info!("Intake stopped.");
    Ok(())
}

struct Stage {
    config: IntakeConfig,
    store: Store,
    templates: Option<Arc<VendorClient>>,
    settler: Settler,
    /// Call lists left in the inbox on purpose, with why: logged once per reason.
    waiting: HashMap<PathBuf, String>,
    trouble: LogThrottle,
}

impl Stage {
    fn note(&mut self, event: Seen) {
        match event {
            Seen::CallList { path, renamed_in } => self.saw(&path, renamed_in),
            Seen::Gone(path) => self.settler.forget(&path),
            Seen::Rescan => self.rescan(),
        }
    }

    /// Hands a call list that appeared or changed to the settler.
    fn saw(&mut self, path: &Path, renamed_in: bool) {
        let Some(stat) = watch::stat(path) else {
            return;
        };
        if !renamed_in && !self.settler.is_watching(path) {
            tracing::debug!(file = %path.display(), settle_secs = self.config.settle.as_secs_f64(), "A call list is being written; it is read once it holds still.");
        }
        self.settler.saw(path, renamed_in, stat, Instant::now());
    }

    /// Looks at every call list in the inbox: the ones no event reported (present at
    /// start, lost events) and the ones left waiting.
    fn rescan(&mut self) {
        let inbox = self.config.layout.inbox();
        match watch::list_inbox(&inbox) {
            Ok(files) => {
                for path in files {
                    if !self.settler.is_watching(&path) {
                        self.saw(&path, false);
                    }
                }
            }
            Err(error) => {
                tracing::error!(inbox = %inbox.display(), %error, "Cannot list the inbox.")
            }
        }
    }

    /// Moves the files of accepted campaigns that are still in the inbox to `active/`.
    async fn complete_moves(&self) {
        let (layout, store) = (self.config.layout.clone(), self.store.clone());
        match tokio::task::spawn_blocking(move || import::complete_moves(&layout, &store)).await {
            Ok(Ok(names)) => {
                for name in names {
                    tracing::info!(campaign = %name, "Moved an accepted campaign's files to active/ after an interruption.");
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "Cannot move accepted campaigns' files to active/; tried again at the next rescan.");
            }
            Err(error) => tracing::error!(%error, "Moving accepted campaigns' files failed."),
        }
    }

    /// Takes one complete call list: accepted, rejected, or left waiting with a reason.
    async fn take(&mut self, list: &Path, shutdown: &CancellationToken) {
        // A file an accepted campaign left behind is that campaign's, never a new one.
        self.complete_moves().await;
        if !list.is_file() {
            return;
        }
        let file = list.display().to_string();
        let plan = match self.plan(list).await {
            Ok(plan) => plan,
            Err(Unready::Wait(reason)) => {
                if self.waiting.get(list) != Some(&reason) {
                    tracing::warn!(%file, %reason, "Call list waits in the inbox.");
                    self.waiting.insert(list.to_path_buf(), reason);
                }
                return;
            }
            Err(Unready::Reject(reason)) => {
                let (layout, path) = (self.config.layout.clone(), list.to_path_buf());
                let rejected = tokio::task::spawn_blocking(move || {
                    import::reject(&layout, &path, &reason, None)
                })
                .await;
                self.report(list, rejected.map_err(anyhow::Error::from));
                return;
            }
        };
        let (layout, store, path, cancel) = (
            self.config.layout.clone(),
            self.store.clone(),
            list.to_path_buf(),
            shutdown.clone(),
        );
        let taken = tokio::task::spawn_blocking(move || {
            import::take(&layout, &store, &path, plan, &cancel)
        })
        .await;
        self.report(list, taken.map_err(anyhow::Error::from));
    }

    fn report(&mut self, list: &Path, taken: anyhow::Result<Result<Taken, import::TakeError>>) {
        self.waiting.remove(list);
        let file = list.display().to_string();
        match taken {
            Ok(Ok(Taken::Accepted {
                name,
                rows,
                good,
                skipped,
            })) => {
                tracing::info!(campaign = %name, %file, rows, good, skipped, "Campaign accepted.");
            }
            Ok(Ok(Taken::Changed)) => {
                tracing::info!(%file, "The file changed while it was read; it is read again once it holds still.");
            }
            Ok(Ok(Taken::Rejected { reason })) => {
                tracing::warn!(%file, %reason, "Call list rejected.");
            }
            Ok(Ok(Taken::Interrupted)) => {
                tracing::info!(%file, "Import interrupted by shutdown; the file stays in the inbox.");
            }
            Ok(Err(error)) => {
                // A store that cannot be written fails every rescan: once a minute is told.
                let key = format!("{file}: {error}");
                if let Some(repeats) = self.trouble.admit(&key, std::time::Instant::now()) {
                    tracing::error!(%file, %error, repeats, "Call list not taken; it is tried again at the next rescan.");
                }
            }
            Err(error) => {
                tracing::error!(%file, %error, "Import failed; the file is tried again at the next rescan.");
            }
        }
    }

    /// The call list's settings, template and do-not-call list.
    async fn plan(&self, list: &Path) -> Result<Plan, Unready> {
        let do_not_call = match &self.config.dnc_file {
            None => DoNotCall::default(),
            Some(path) => campaign::read_do_not_call(path, self.config.limits.numbers)
                .map_err(Unready::Wait)?,
        };
        let settings_file = Some(layout::settings_beside(list)).filter(|p| p.is_file());
        let mut plan = campaign::plan(
            settings_file.as_deref(),
            &self.config.defaults,
            &self.config.limits,
            do_not_call,
        )
        .map_err(Unready::Reject)?;
        if let TemplateSource::VendorId(id) = &plan.settings.template {
            plan.rules.template = Some(resolve_template(self.templates.as_deref(), id).await?);
        }
        Ok(plan)
    }
}

/// Why a call list is not read now.
#[derive(Debug, PartialEq, Eq)]
enum Unready {
    /// It stays in the inbox and is looked at again at the next rescan.
    Wait(String),
    Reject(String),
}

/// A vendor template's content, once the vendor approved it.
async fn resolve_template(client: Option<&VendorClient>, id: &str) -> Result<Template, Unready> {
    let Some(client) = client else {
        return Err(Unready::Wait(format!(
            "template_id {id} needs the vendor account to look it up: set api.customer and the API password"
        )));
    };
    let templates = client
        .templates()
        .await
        .map_err(|e| Unready::Wait(format!("cannot ask the vendor about template {id}: {e}")))?;
    let Some(row) = templates.into_iter().find(|t| t.id.trim() == id) else {
        return Err(Unready::Reject(format!(
            "template_id {id} is not a template of this account (`voicecast templates list` shows them)"
        )));
    };
    match row.review() {
        Some(Review::Approved) => Template::parse(&row.content).map_err(|e| {
            Unready::Reject(format!(
                "template {id}'s content breaks the vendor's rules: {e}"
            ))
        }),
        Some(Review::Pending) => Err(Unready::Wait(format!(
            "template {id} awaits the vendor's review; the campaign starts once it is approved"
        ))),
        Some(Review::Rejected) => Err(Unready::Reject(format!(
            "the vendor rejected template {id}: {}",
            row.remark.trim()
        ))),
        None => Err(Unready::Wait(format!(
            "template {id} has review status {:?}, which the vendor does not document",
            row.verify_status
        ))),
    }
}
