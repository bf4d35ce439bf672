//! `voicecast demo`: a whole campaign with no account. Starts the built-in simulator on
//! loopback, makes `./demo-run/` the campaign root (wiped first, kept afterwards), drops
//! in the example campaign of `campaigns/examples/` (built into the binary, so the demo
//! runs from any folder), runs the daemon until the campaign is `finished`, then prints
//! its summary and where the reports are.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{self, LoadOptions, LogFormat};
use crate::layout::{self, Layout, ReportFile};
use callcenter_simulator::{EXAMPLE_CUSTOMER, EXAMPLE_PASSWORD, Simulator, SimulatorOptions};

/// The demo's folder, under the current one.
const ROOT: &str = "demo-run";
const CAMPAIGN: &str = "delivery-reminder";
const LIST: &[u8] = include_bytes!("../../campaigns/examples/delivery-reminder.csv");
const SETTINGS: &[u8] = include_bytes!("../../campaigns/examples/delivery-reminder.toml");
/// A demo that has not finished by then has gone wrong.
const DEADLINE: Duration = Duration::from_secs(300);

/// The demo daemon's configuration: the simulator as the vendor, and timings fast enough
/// that retries and call records come within seconds. The password stays out of it.
fn config_text(base_url: &str) -> String {
    format!(
        "# Written by `voicecast demo`: the built-in simulator is the vendor.\n\
         [api]\nbase_url = \"{base_url}\"\ncustomer = \"{EXAMPLE_CUSTOMER}\"\nmode = \"v1\"\n\n\
         [limits]\nrate = 20\nmax_in_flight = 16\nper_number = [\"1/5s\", \"20/24h\"]\n\n\
         [paths]\ncampaigns = \"campaigns\"\ndatabase = \"voicecast.db\"\n\n\
         [intake]\nsettle_secs = 0\n\n\
         [dispatch]\nprobe_secs = 2\n\n\
         [reconcile]\ninterval_secs = 1\nlookup_after_secs = 5\nunknown_grace_secs = 10\n\
         record_timeout_secs = 60\n\n\
         [reports]\ninterval_secs = 1\n\n\
         [log]\nlevel = \"warn\"\n\n\
         [campaign_defaults]\nretry_after = \"3s\"\n"
    )
}

pub async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let root = std::env::current_dir()
        .context("cannot tell the current folder")?
        .join(ROOT);
    prepare(&root)?;
    let simulator = Simulator::start(
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot start the simulator on loopback")?,
        SimulatorOptions {
            cdr_delay: Duration::from_secs(1),
            // Calls run twenty times faster than on a real line (a minute's call ends
            // in 3 s), so the demo ends soon; its records keep the calls' own times.
            call_time_scale: 0.05,
            ..SimulatorOptions::default()
        },
    )?;
    let config_file = root.join("voicecast.toml");
    std::fs::write(&config_file, config_text(&simulator.base_url()))
        .with_context(|| format!("cannot write {}", config_file.display()))?;
    let config = config::load(&LoadOptions {
        explicit: Some(config_file.clone()),
        // Only the simulator's password: the user's VOICECAST_* settings are for their
        // own daemon, not the demo's.
        env: vec![(
            config::PASSWORD_ENV.to_string(),
            EXAMPLE_PASSWORD.to_string(),
        )],
        current_dir: root.clone(),
        system_file: root.join("none"),
    })?;
    crate::logging::init(&config.log.level, LogFormat::Text);
    let layout = Layout::new(&config.paths.campaigns);
    layout.create()?;
    // The settings first: intake takes a list whose settings file is beside it.
    let list = layout
        .inbox()
        .join(layout::call_list_file(CAMPAIGN, layout::ListFormat::Csv));
    std::fs::write(layout::settings_beside(&list), SETTINGS)?;
    std::fs::write(&list, LIST)?;
    println!(
        "voicecast demo: the simulator listens on {}; campaign {CAMPAIGN} is in {}",
        simulator.base_url(),
        layout.inbox().display()
    );

    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(crate::app::run(config, shutdown.clone()));
    let status_file = layout.report(CAMPAIGN, ReportFile::Status);
    let outcome = tokio::select! {
        outcome = follow(&status_file, started) => outcome,
        () = crate::shutdown::signalled() => Err(anyhow::anyhow!("stopped by a signal")),
    };
    shutdown.cancel();
    daemon.await.context("the daemon panicked")??;
    simulator.stop().await;
    outcome?;

    let summary = std::fs::read_to_string(layout.report(CAMPAIGN, ReportFile::Summary))?;
    println!("\n{summary}");
    println!(
        "Reports in {}:",
        layout.campaign_reports(CAMPAIGN).display()
    );
    for file in ReportFile::ALL {
        println!("  {}", layout.report(CAMPAIGN, file).display());
    }
    println!(
        "Done in {:.1} s. `voicecast --config {} status` shows it again.",
        started.elapsed().as_secs_f64(),
        relative(&config_file).display()
    );
    Ok(())
}

/// Wipes the demo folder of an earlier run and makes it anew.
fn prepare(root: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(root) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(root)
            .with_context(|| format!("cannot wipe {}", root.display()))?,
        Ok(_) => anyhow::bail!(
            "{} is not a folder; move it away and run the demo again",
            root.display()
        ),
        Err(_) => {}
    }
    std::fs::create_dir_all(root).with_context(|| format!("cannot make {}", root.display()))
}

/// Prints the campaign's progress as its `status.json` changes, until it is `finished`.
async fn follow(status_file: &Path, started: Instant) -> anyhow::Result<()> {
    let mut last = String::new();
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    loop {
        poll.tick().await;
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "the demo campaign did not finish within {} s; see {}",
            DEADLINE.as_secs(),
            status_file.display()
        );
        let Some(status) = std::fs::read(status_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            continue;
        };
        let line = progress(&status);
        if line != last {
            println!("  {:>5.1} s  {line}", started.elapsed().as_secs_f64());
            last = line;
        }
        if status["state"] == "finished" {
            return Ok(());
        }
    }
}

/// `running: 120/200 final (answered 80, no_answer 20, ...), 131 calls placed`.
fn progress(status: &Value) -> String {
    let rows = &status["rows"];
    let total = rows["total"].as_u64().unwrap_or(0);
    let counts: Vec<String> = rows
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(state, n)| *state != "total" && n.as_u64().unwrap_or(0) > 0)
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    format!(
        "{}: {} of {total} rows; {} calls placed",
        status["state"].as_str().unwrap_or("?"),
        counts.join(", "),
        status["attempts"]
    )
}

/// `path` relative to the current folder when it is under it.
fn relative(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
