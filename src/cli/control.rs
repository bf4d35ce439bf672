//! `voicecast pause|resume|cancel NAME` and `voicecast resume --account`: each writes its
//! control file for the running daemon to apply and consume.

use clap::Args;

use crate::config::{Config, ConfigError};
use crate::layout::{Control, Layout};

#[derive(Debug, Args)]
pub struct CampaignArg {
    /// The campaign's name (its call list's file stem).
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The campaign to resume.
    #[arg(required_unless_present = "account", conflicts_with = "account")]
    pub name: Option<String>,
    /// End an account halt instead (writes control/account.resume).
    #[arg(long)]
    pub account: bool,
}

/// Writes the control file for `control` (to a hidden name first, then renamed, so the
/// daemon never reads half a file).
pub fn write(config: &Config, control: Control) -> anyhow::Result<()> {
    if let Control::Pause(name) | Control::Resume(name) | Control::Cancel(name) = &control {
        let bad = name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']);
        if bad {
            return Err(ConfigError(format!("{name:?} is not a campaign name")).into());
        }
    }
    let layout = Layout::new(&config.paths.campaigns);
    let path = layout.control_file(&control);
    let folder = layout.control();
    if !folder.is_dir() {
        anyhow::bail!(
            "{} does not exist: is the campaign root right, and has the daemon run there?",
            folder.display()
        );
    }
    crate::atomic::write(&path, b"")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    println!(
        "Wrote {}; the running daemon applies it within a second.",
        path.display()
    );
    Ok(())
}
