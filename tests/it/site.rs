//! A campaign site for daemon tests: a temporary folder with a configuration file, a
//! campaign root and a database; the daemon run in this process or as the real binary;
//! call lists dropped into its inbox as people do; and what tests ask of it once it dials
//! a simulator (a campaign finished, the calls to each number).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use callcenter_simulator::{EXAMPLE_PASSWORD, OutcomeWeights, Simulator, SimulatorOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use voicecast::clock::{Clock, SystemClock};
use voicecast::config::{self, Config, LoadOptions};
use voicecast::domain::{CampaignState, RowState};
use voicecast::store::Store;

use crate::support::{eventually, quick_calls, voicecast};

pub const TEMPLATE: &str = "template = \"{1}您好，您的快递到了。\"\n";

/// A campaign root and database in a temporary folder, with its configuration file.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        Site::with_config("")
    }

    /// A site whose configuration file ends with `extra` (sections of its own).
    pub fn with_config(extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("voicecast.toml"),
            format!(
                "[paths]\ncampaigns = \"campaigns\"\ndatabase = \"state/voicecast.db\"\n\
                 [intake]\nsettle_secs = 0.5\nrescan_secs = 0.2\n{extra}"
            ),
        )
        .unwrap();
        Site { dir }
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("state/voicecast.db")
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("voicecast.toml")
    }

    pub fn folder(&self, name: &str) -> PathBuf {
        self.dir.path().join("campaigns").join(name)
    }

    pub fn store(&self) -> Store {
        Store::open(&self.database()).unwrap()
    }

    /// When the daemon sent each request's calls (Unix milliseconds), as its store says:
    /// every attempt but those withdrawn before they left.
    pub fn send_times(&self) -> Vec<i64> {
        rusqlite::Connection::open(self.database())
            .unwrap()
            .prepare("SELECT sent_at FROM attempts WHERE state != 'withdrawn'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Starts `app::run` in this process and waits for its folders.
    pub async fn start(&self) -> Daemon {
        self.start_with_env(Vec::new()).await
    }

    /// Starts `app::run` with `env` as its whole environment, and waits for its folders.
    pub async fn start_with_env(&self, env: Vec<(String, String)>) -> Daemon {
        self.start_with_clock(env, Arc::new(SystemClock)).await
    }

    /// Starts the daemon with `env` as its whole environment and `clock` for calling
    /// hours, and waits for its folders.
    pub async fn start_with_clock(
        &self,
        env: Vec<(String, String)>,
        clock: Arc<dyn Clock>,
    ) -> Daemon {
        self.start_reloading(env, clock).await.0
    }

    /// [`Site::start_with_clock`], and the sender a reload goes through (as SIGHUP's
    /// handler sends the configuration it read again).
    pub async fn start_reloading(
        &self,
        env: Vec<(String, String)>,
        clock: Arc<dyn Clock>,
    ) -> (Daemon, mpsc::Sender<Config>) {
        let (reload, reloads) = mpsc::channel(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(voicecast::app::run_reloading(
            self.config(env),
            clock,
            reloads,
            shutdown.clone(),
        ));
        wait_for_folders(self).await;
        (Daemon { shutdown, task }, reload)
    }

    /// The configuration file as it reads now, with `env` as the whole environment.
    pub fn config(&self, env: Vec<(String, String)>) -> Config {
        let mut options = LoadOptions::from_process(Some(self.config_file()));
        options.env = env;
        config::load(&options).unwrap()
    }

    /// Starts the `voicecast run` binary.
    pub fn spawn(&self) -> Child {
        self.command_for_run().spawn().unwrap()
    }

    /// Starts the `voicecast run` binary with the simulator's password and waits for its
    /// folders.
    pub async fn spawn_dialling(&self) -> Child {
        let child = self
            .command_for_run()
            .env(
                "VOICECAST_API__PASSWORD",
                callcenter_simulator::EXAMPLE_PASSWORD,
            )
            .spawn()
            .unwrap();
        wait_for_folders(self).await;
        child
    }

    /// The command that runs `voicecast run` on this site, for a test to add to.
    pub fn command_for_run(&self) -> std::process::Command {
        let mut command = voicecast();
        command
            .args(["run", "--config"])
            .arg(self.config_file())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Writes a call list of `rows` rows with the test template and renames it in.
    pub fn drop_in(&self, name: &str, rows: usize) {
        self.drop_file(name, Some(TEMPLATE), call_list(rows));
    }

    /// [`Site::drop_in`], each row to be called once at most (`max_attempts = 1`): a
    /// number called twice can then only be a call made again.
    pub fn drop_called_once(&self, name: &str, rows: usize) {
        let settings = format!("{TEMPLATE}max_attempts = 1\n");
        self.drop_file(name, Some(&settings), call_list(rows));
    }

    /// Writes `NAME.toml` (when given), then `NAME.csv` under a partial name, renamed in.
    pub fn drop_file(&self, name: &str, settings: Option<&str>, csv: impl AsRef<[u8]>) {
        self.drop_list(&format!("{name}.csv"), settings, csv);
    }

    /// Writes the settings beside `file` (when given), then `file` (a call list of any
    /// format) under a partial name, renamed in.
    pub fn drop_list(&self, file: &str, settings: Option<&str>, bytes: impl AsRef<[u8]>) {
        let inbox = self.folder("inbox");
        if let Some(settings) = settings {
            std::fs::write(inbox.join(file).with_extension("toml"), settings).unwrap();
        }
        let staged = inbox.join(format!("{file}.part"));
        std::fs::write(&staged, bytes).unwrap();
        std::fs::rename(&staged, inbox.join(file)).unwrap();
    }
}

/// The daemon running in this process.
pub struct Daemon {
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Daemon {
    /// Cancels its shutdown token and waits for it to stop cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub fn call_list(rows: usize) -> String {
    let mut text = String::from("手机号,姓名,1,订单号\n");
    for n in 0..rows {
        text.push_str(&format!("138{n:08},客户{n},客户{n},SF{n:010}\n"));
    }
    text
}

pub async fn wait_for_folders(site: &Site) {
    eventually(Duration::from_secs(10), "the campaign folders", || async {
        site.folder("control").is_dir().then_some(())
    })
    .await;
}

pub fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The configuration of a fast site dialling `simulator`; `extra` adds to `[api]` or adds
/// sections of its own. Records come through the list within a poll (0.2 s); a lookup
/// (getOneCdr, whose records carry no hang-up cause, so a busy call reads as no_answer)
/// waits 30 s, so outcomes can be compared with the simulator's.
pub fn config(simulator: &Simulator, mode: &str, extra: &str) -> String {
    config_at(&simulator.base_url(), mode, extra)
}

/// [`config`] for a vendor at `base_url`. The per-number caps are off (retries come
/// within a second) unless `extra` sets `per_number` in its `[limits]`.
pub fn config_at(base_url: &str, mode: &str, extra: &str) -> String {
    let extra = if extra.contains("per_number") {
        extra.to_string()
    } else if extra.contains("[limits]") {
        extra.replacen("[limits]", "[limits]\nper_number = []", 1)
    } else {
        format!("{extra}\n[limits]\nper_number = []")
    };
    format!(
        "[api]\nbase_url = \"{base_url}\"\ncustomer = \"C2\"\nmode = \"{mode}\"\ntimeout_secs = 0.5\n\
         {extra}\n\
         [dispatch]\nprobe_secs = 0.2\ndrain_timeout_secs = 5\n\
         [reconcile]\ninterval_secs = 0.2\nlookup_after_secs = 30\nunknown_grace_secs = 1\n\
         record_timeout_secs = 60\n\
         [reports]\ninterval_secs = 0.2\n\
         [campaign_defaults]\ncalling_hours = [\"00:00-24:00\"]\nretry_after = \"200ms\"\n"
    )
}

/// A simulator where every call is answered and ends at once, its record visible after
/// `cdr_delay`.
pub fn answering(cdr_delay: Duration) -> SimulatorOptions {
    SimulatorOptions {
        outcomes: OutcomeWeights::parse("answered=1").unwrap(),
        cdr_delay,
        ..quick_calls()
    }
}

pub fn password_env() -> Vec<(String, String)> {
    vec![(
        "VOICECAST_API__PASSWORD".to_string(),
        EXAMPLE_PASSWORD.to_string(),
    )]
}

pub async fn start(site: &Site) -> Daemon {
    site.start_with_env(password_env()).await
}

/// Waits until campaign `name` is `finished`; returns its row counts.
pub async fn finished(store: &Store, name: &str, within: Duration) -> BTreeMap<RowState, u64> {
    eventually(within, &format!("campaign {name} finished"), || async {
        let done = store
            .campaigns()
            .unwrap()
            .iter()
            .any(|c| c.name == name && c.state == CampaignState::Finished);
        done.then(|| store.row_counts(name).unwrap())
    })
    .await
}

/// Asserts that the simulator called each of the `rows` numbers exactly once.
pub fn each_number_called_once(simulator: &Simulator, rows: usize) {
    let calls = calls_per_number(simulator);
    assert_eq!(calls.len(), rows, "every number called");
    let twice: Vec<_> = calls.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "numbers called twice: {twice:?}");
}

/// Kills a daemon process with SIGKILL, as a crash would, and reaps it.
pub fn kill(child: &mut std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// How many calls the simulator placed to each number.
pub fn calls_per_number(simulator: &Simulator) -> HashMap<String, usize> {
    let mut calls = HashMap::new();
    for call in simulator.calls() {
        *calls.entry(call.callee).or_insert(0) += 1;
    }
    calls
}

/// Runs `voicecast ARGS --config FILE` to its end; panics unless it succeeds.
pub fn command(site: &Site, args: &[&str]) {
    let output = command_output(site, args);
    assert!(output.status.success(), "{args:?}: {output:?}");
}

/// Runs `voicecast ARGS --config FILE` to its end, and returns what it did.
pub fn command_output(site: &Site, args: &[&str]) -> std::process::Output {
    crate::support::voicecast()
        .args(args)
        .arg("--config")
        .arg(site.config_file())
        .output()
        .unwrap()
}

/// Waits up to `within` until `simulator` has placed at least `calls` calls.
pub async fn placed(simulator: &Simulator, calls: usize, within: Duration, what: &str) {
    eventually(within, what, || async {
        (simulator.calls().len() >= calls).then_some(())
    })
    .await;
}

pub fn campaign_state(store: &Store, name: &str) -> Option<(CampaignState, Option<String>)> {
    let campaigns = store.campaigns().unwrap();
    let c = campaigns.iter().find(|c| c.name == name)?;
    Some((c.state, c.state_reason.clone()))
}

/// The most calls any half-open one-second window holds, of instants in milliseconds.
pub fn most_in_a_second(mut instants: Vec<i64>) -> usize {
    instants.sort_unstable();
    (0..instants.len())
        .map(|i| {
            instants[i..]
                .iter()
                .take_while(|t| **t < instants[i] + 1000)
                .count()
        })
        .max()
        .unwrap_or(0)
}
