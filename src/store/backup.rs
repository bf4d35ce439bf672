//! `voicecast backup FILE` and `voicecast restore FILE` (PRODUCT.md sections 6 and 9).
//! A backup is a consistent copy of the store taken while the daemon runs: SQLite's
//! `VACUUM INTO` reads the database in one read transaction on a connection of its own
//! (under WAL, the daemon's writes go on beside it) and writes a compact copy, which
//! lands at FILE atomically. A restore, with the daemon stopped, checks a copy, marks it
//! restored (see `adoption`) and puts it in place of the store, keeping the store it
//! replaces beside it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::lock::{LockError, lock_store};
use super::{Checkpoint, Store, StoreError, failed, open_read_only};

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

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub bytes: u64,
    /// Where the store it replaced was kept, if there was one.
    pub replaced: Option<PathBuf>,
}

/// Why a restore failed; the store is then as it was.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}: stop it first (systemctl stop voicecast)")]
    Locked(#[from] LockError),
    #[error("{} is not a whole voicecast store: {reason}", .file.display())]
    NotAStore { file: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Puts the copy at `copy` in place of the store at `database`, marked restored at
/// `now_ms`, unless a daemon holds the store. The copy is checked whole first, and read
/// into a new file beside the store, which replaces it by a rename; the store it
/// replaces (with its log) is kept as `DATABASE.replaced-TIME`.
pub fn restore(copy: &Path, database: &Path, now_ms: i64) -> Result<Restored, RestoreError> {
    let _lock = lock_store(database)?;
    check_copy(copy)?;
    let staged = sibling(database, ".restoring");
    remove_with_log(&staged)?;
    if let Err(error) = stage(copy, &staged, now_ms) {
        // Nothing of a failed restore stays behind; the store is as it was.
        let _ = remove_with_log(&staged);
        return Err(error);
    }
    let replaced = if database.exists() {
        let stamp = jiff::Timestamp::from_millisecond(now_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y%m%dT%H%M%SZ");
        let aside = sibling(database, &format!(".replaced-{stamp}"));
        rename(database, &aside)?;
        let log = sibling(database, "-wal");
        if log.exists() {
            rename(&log, &sibling(&aside, "-wal"))?;
        }
        remove(&sibling(database, "-shm"))?;
        Some(aside)
    } else {
        None
    };
    rename(&staged, database)?;
    let folder = database.parent().filter(|p| !p.as_os_str().is_empty());
    sync(folder.unwrap_or(Path::new(".")))?;
    Ok(Restored {
        bytes: std::fs::metadata(database).map_or(0, |m| m.len()),
        replaced,
    })
}

/// Reads `copy` into a new store at `staged`, brought to this version's schema and marked
/// restored, its log emptied into it and the file synced.
fn stage(copy: &Path, staged: &Path, now_ms: i64) -> Result<(), RestoreError> {
    {
        let source = open_read_only(copy)?;
        let to = staged
            .to_str()
            .ok_or_else(|| io("name the new store", not_utf8()))?;
        source
            .execute("VACUUM INTO ?1", [to])
            .map_err(failed("read the copy"))?;
        let store = Store::open(staged)?;
        store.mark_restored(now_ms)?;
        store.checkpoint(Checkpoint::Truncate)?;
    }
    // The log was emptied into the new store by the checkpoint; what is left of it is
    // nothing the new store needs.
    remove(&sibling(staged, "-wal"))?;
    remove(&sibling(staged, "-shm"))?;
    sync(staged)
}

/// Checks that `copy` is a voicecast store SQLite reads whole.
fn check_copy(copy: &Path) -> Result<(), RestoreError> {
    let not_a_store = |reason: String| RestoreError::NotAStore {
        file: copy.to_path_buf(),
        reason,
    };
    if !copy.is_file() {
        return Err(not_a_store("there is no such file".into()));
    }
    let conn = open_read_only(copy).map_err(|e| not_a_store(e.to_string()))?;
    let checked = (|| -> rusqlite::Result<(String, i64, i64)> {
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master
             WHERE type = 'table' AND name IN ('meta', 'campaigns', 'rows', 'attempts')",
            [],
            |r| r.get(0),
        )?;
        Ok((integrity, version, tables))
    })();
    match checked {
        Err(error) => Err(not_a_store(error.to_string())),
        Ok((integrity, _, _)) if integrity != "ok" => Err(not_a_store(format!(
            "SQLite's integrity check says {integrity:?}"
        ))),
        Ok((_, version, tables)) if version < 1 || tables < 4 => {
            Err(not_a_store("it lacks voicecast's tables".into()))
        }
        Ok(_) => Ok(()),
    }
}

/// `path` with `suffix` added to its name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes a database file and its log and shared-memory files, where they exist.
fn remove_with_log(database: &Path) -> Result<(), RestoreError> {
    for suffix in ["", "-wal", "-shm"] {
        remove(&sibling(database, suffix))?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), RestoreError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io(&format!("remove {}", path.display()), error))
        }
        _ => Ok(()),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), RestoreError> {
    std::fs::rename(from, to)
        .map_err(|e| io(&format!("move {} to {}", from.display(), to.display()), e))
}

fn sync(path: &Path) -> Result<(), RestoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&format!("sync {}", path.display()), e))
}

fn io(what: &str, source: std::io::Error) -> RestoreError {
    RestoreError::Io {
        what: what.to_string(),
        source,
    }
}

fn not_utf8() -> std::io::Error {
    std::io::Error::other("the path is not UTF-8")
}
