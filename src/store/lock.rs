//! One daemon to a store: `voicecast run` holds an exclusive lock on `DATABASE.lock`
//! beside the store while it runs, and `voicecast restore` takes the same lock, so a
//! restore never replaces a store under a running daemon and a second daemon never
//! dials from the same store. The lock is `flock(2)` on a file of its own: SQLite's own
//! locks on the database are POSIX locks, which any close of the file would release.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock, held until dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another voicecast daemon uses the store {} (it holds {})", .database.display(), .lock.display())]
    Held { database: PathBuf, lock: PathBuf },
    #[error("cannot lock the store through {}: {source}", .lock.display())]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The lock file of the store at `database`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the store's lock, or says who holds it; never waits.
pub fn lock_store(database: &Path) -> Result<StoreLock, LockError> {
    let lock = lock_path(database);
    let io = |source| LockError::Io {
        lock: lock.clone(),
        source,
    };
    if let Some(folder) = lock.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(StoreLock { _file: file }),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(LockError::Held {
            database: database.to_path_buf(),
            lock,
        }),
        Err(error) => Err(io(error.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_locked_once_until_the_lock_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("state/voicecast.db");
        let held = lock_store(&database).unwrap();
        let refused = lock_store(&database).unwrap_err();
        assert!(matches!(refused, LockError::Held { .. }), "{refused}");
        assert!(
            refused.to_string().starts_with(&format!(
                "another voicecast daemon uses the store {}",
                database.display()
            )),
            "{refused}"
        );
        drop(held);
        lock_store(&database).unwrap();
    }
}
