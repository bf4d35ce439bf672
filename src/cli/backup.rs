//! `voicecast backup FILE`: a consistent copy of the store, taken while the daemon runs
//! (PRODUCT.md section 6).

use std::path::PathBuf;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where the copy goes; written whole or not at all.
    file: PathBuf,
}

/// Copies the store `[paths] database` names to the file; prints its size and the time
/// it took.
pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let database = &config.paths.database;
    let backup = crate::store::backup(database, &args.file).map_err(|e| {
        anyhow::anyhow!(
            "cannot back {} up to {}: {e}",
            database.display(),
            args.file.display()
        )
    })?;
    println!(
        "{} backed up to {}: {:.1} MB in {:.1} s",
        database.display(),
        args.file.display(),
        backup.bytes as f64 / 1e6,
        backup.took.as_secs_f64()
    );
    Ok(())
}
