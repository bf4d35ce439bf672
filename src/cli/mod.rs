//! The command line (PRODUCT.md section 6): arguments become checked objects once, each
//! subcommand is a little glue over the library, and errors become exit codes
//! (0 success, 1 the job failed, 2 usage or configuration error).

mod backup;
mod check;
mod control;
mod demo;
mod records;
mod restore;
mod simulator;
mod status;
mod vendor;
mod windows;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, LoadOptions, LogFormat};
use crate::layout::Control;

#[derive(Debug, Parser)]
#[command(
    name = "voicecast",
    version,
    about = "Batch voice-notification dispatcher"
)]
struct Cli {
    /// The configuration file (else $VOICECAST_CONFIG, ./voicecast.toml,
    /// /etc/voicecast/voicecast.toml, or the built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log lines as text or JSON (else `[log] format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: take call lists from the inbox, dial them, reconcile the records.
    Run,
    /// Decode and validate a call list, with no store and no network; exit 1 if the file
    /// would be rejected.
    Check(check::CheckArgs),
    /// Run the built-in vendor stand-in (needs no account).
    Simulator(Box<simulator::SimulatorArgs>),
    /// List, upload or edit the account's TTS templates.
    Templates {
        #[command(subcommand)]
        action: vendor::TemplatesAction,
    },
    /// Read call records from the vendor.
    Cdr {
        #[command(subcommand)]
        action: vendor::CdrAction,
    },
    /// Pause a campaign: nothing more is dialled until it is resumed.
    Pause(control::CampaignArg),
    /// Resume a paused campaign, or (with --account) end an account halt.
    Resume(control::ResumeArgs),
    /// Cancel a campaign: its pending rows are never dialled; calls in flight settle.
    Cancel(control::CampaignArg),
    /// Show the campaigns (or one campaign's figures) from the daemon's report files.
    Status(status::StatusArgs),
    /// List the calling windows ahead for a campaign's settings, with China's official
    /// calendar applied (needs no store).
    Windows(windows::WindowsArgs),
    /// Run the example campaign against the built-in simulator in ./demo-run/ (needs no
    /// account; the folder is wiped first and kept afterwards).
    Demo,
    /// Copy the store to FILE while the daemon runs: a consistent copy, written whole.
    Backup(backup::BackupArgs),
    /// With the daemon stopped, put FILE (a backup, or a replica's restored copy) in place
    /// of the store; the next start adopts the calls the copy does not know before it
    /// dials.
    Restore(restore::RestoreArgs),
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    match outcome {
        Ok(Done::Success) => ExitCode::SUCCESS,
        Ok(Done::Failed) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// How a command that ran to its end went.
enum Done {
    Success,
    /// The job failed without an error to print (`check` on a file it would reject).
    Failed,
}

async fn run(cli: Cli) -> anyhow::Result<Done> {
    let success = |()| Done::Success;
    match cli.command {
        Command::Run => {
            let config = load_config(cli.config.clone(), cli.log_format)?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                crate::shutdown::signalled().await;
                tracing::info!("Stopping: a signal asked for it.");
                trigger.cancel();
            });
            let (reload, reloads) = tokio::sync::mpsc::channel(1);
            tokio::spawn(reload_on_hangup(cli.config, cli.log_format, reload));
            let clock = std::sync::Arc::new(crate::clock::SystemClock);
            crate::app::run_reloading(config, clock, reloads, shutdown)
                .await
                .map(success)
        }
        Command::Check(args) => {
            match check::run(&load_config(cli.config, cli.log_format)?, args)? {
                true => Ok(Done::Success),
                false => Ok(Done::Failed),
            }
        }
        Command::Simulator(args) => {
            // Only its `[log]` applies: the simulator stands in for the vendor.
            load_config(cli.config, cli.log_format)?;
            simulator::run(*args).await.map(success)
        }
        Command::Templates { action } => {
            vendor::templates(&load_config(cli.config, cli.log_format)?, action)
                .await
                .map(success)
        }
        Command::Cdr { action } => vendor::cdr(&load_config(cli.config, cli.log_format)?, action)
            .await
            .map(success),
        Command::Pause(args) => control::write(
            &load_config(cli.config, cli.log_format)?,
            Control::Pause(args.name),
        )
        .map(success),
        Command::Resume(args) => {
            let control = match args.name {
                Some(name) if !args.account => Control::Resume(name),
                _ => Control::ResumeAccount,
            };
            control::write(&load_config(cli.config, cli.log_format)?, control).map(success)
        }
        Command::Cancel(args) => control::write(
            &load_config(cli.config, cli.log_format)?,
            Control::Cancel(args.name),
        )
        .map(success),
        Command::Status(args) => {
            status::run(&load_config(cli.config, cli.log_format)?, args).map(success)
        }
        Command::Windows(args) => windows::run(
            &load_config(cli.config, cli.log_format)?,
            args,
            jiff::Timestamp::now(),
        )
        .map(success),
        Command::Demo => demo::run().await.map(success),
        Command::Backup(args) => {
            backup::run(&load_config(cli.config, cli.log_format)?, args).map(success)
        }
        Command::Restore(args) => {
            restore::run(&load_config(cli.config, cli.log_format)?, args).map(success)
        }
    }
}

/// Loads the configuration and starts logging as it (or `--log-format`) says.
fn load_config(
    explicit: Option<PathBuf>,
    log_format: Option<LogFormat>,
) -> Result<Config, ConfigError> {
    let mut config = config::load(&LoadOptions::from_process(explicit))?;
    if let Some(format) = log_format {
        config.log.format = format;
    }
    crate::logging::init(&config.log.level, config.log.format);
    Ok(config)
}

/// On each SIGHUP, reads the configuration again and hands it to the daemon; one that
/// does not load is logged and the daemon goes on as it was.
async fn reload_on_hangup(
    explicit: Option<PathBuf>,
    log_format: Option<LogFormat>,
    reload: tokio::sync::mpsc::Sender<Config>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("Cannot listen for SIGHUP; reloads need a restart.");
        return;
    };
    while hangups.recv().await.is_some() {
        crate::service::reloading();
        tracing::info!("Reloading the configuration: SIGHUP.");
        match config::load(&LoadOptions::from_process(explicit.clone())) {
            Ok(mut config) => {
                config.log.format = log_format.unwrap_or(config.log.format);
                if reload.send(config).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "The configuration does not load; nothing changed.");
                crate::service::ready();
            }
        }
    }
}
