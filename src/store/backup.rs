//! `voicecast backup FILE` (PRODUCT.md sections 6 and 9): a consistent copy of the store
//! taken while the daemon runs. SQLite's `VACUUM INTO` reads the database in one read
//! transaction on a connection of its own (under WAL, the daemon's writes go on beside
//! it) and writes a compact copy, which lands at FILE atomically.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{StoreError, failed, open_read_only};

/// What a backup wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backup {
    pub bytes: u64,
    pub took: Duration,
}

/// Why a backup failed: the store could not be read, or the copy not written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the copy: {0}")]
    Write(#[from] std::io::Error),
}

/// Copies the store at `database` (which must exist) to `to`, whole or not at all.
pub fn backup(database: &Path, to: &Path) -> Result<Backup, BackupError> {
    let started = Instant::now();
    let conn = open_read_only(database)?;
    crate::atomic::write_through(to, |copy| {
        let copy = copy
            .to_str()
            .ok_or_else(|| std::io::Error::other("the copy's path is not UTF-8"))?;
        conn.execute("VACUUM INTO ?1", [copy])
            .map_err(failed("back the store up"))?;
        Ok::<(), BackupError>(())
    })?;
    let bytes = std::fs::metadata(to).map_or(0, |m| m.len());
    Ok(Backup {
        bytes,
        took: started.elapsed(),
    })
}
