//! `voicecast restore FILE`: with the daemon stopped, a backup or a replica's restored
//! copy put in place of the store and marked restored (PRODUCT.md sections 6 and 9).

use std::path::PathBuf;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The copy: a file `voicecast backup` wrote, or one a replica (such as Litestream)
    /// restored.
    file: PathBuf,
}

/// Restores the copy as the store `[paths] database` names; says what the next start
/// does.
pub fn run(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let database = &config.paths.database;
    let restored =
        crate::store::restore(&args.file, database, crate::store::now_ms()).map_err(|e| {
            anyhow::anyhow!(
                "cannot restore {} as {}: {e}",
                args.file.display(),
                database.display()
            )
        })?;
    println!(
        "{} restored as {} ({:.1} MB).",
        args.file.display(),
        database.display(),
        restored.bytes as f64 / 1e6
    );
    if let Some(replaced) = &restored.replaced {
        println!("The store it replaced is kept as {}.", replaced.display());
    }
    println!(
        "The next start holds all dialling for {} s ([reconcile] restore_hold_secs) while it \
         adopts the vendor's records of calls the copy does not know.",
        config.reconcile.restore_hold.as_secs()
    );
    Ok(())
}
