//! The store: one SQLite database holding campaigns, their rows, the attempts made for
//! them and small named values (cursors, counters). The only module that knows SQL.
//!
//! One writer connection, shared behind a mutex; every write is a `BEGIN IMMEDIATE`
//! transaction (a deferred one that turns into a write fails at once under WAL). Reads
//! run on a read-only connection of their own, behind its own mutex. Callers in async
//! code run store calls on blocking threads.

mod adoption;
mod backup;
mod campaigns;
mod dispatch;
mod lock;
mod number_calls;
mod records;
mod reports;
mod retention;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use adoption::RestoreHold;
pub use backup::{Backup, BackupError, RestoreError, Restored, backup, restore};
pub use campaigns::{CampaignSummary, Import, ImportRow, NewCampaign};
pub use dispatch::{Claim, DialCampaign, NewAttempt, ReadyAfter, ReadyRow, SendResult, Sent};
pub use lock::{LockError, StoreLock, lock_store};
pub use number_calls::HELD_BY_CAP;
pub use records::{Applied, OpenAttempt, Settlement};
pub use reports::{CampaignFacts, Reader, ReportReadError, ResultRow, Which};
pub use retention::Expired;
pub use schema::VERSION as SCHEMA_VERSION;

/// SQLite's default: a commit that leaves this many pages in the log checkpoints them.
const AUTOCHECKPOINT_PAGES: u32 = 1000;
/// How long a statement waits for another connection's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The writer's page cache, KiB.
const CACHE_KIB: i64 = 64 * 1024;
/// The writer's page cache while an import writes, KiB: a chunk's pages (about 1.3 MiB)
/// and the right edges of the tables it appends to.
const IMPORT_CACHE_KIB: i64 = 4 * 1024;
/// What the store was doing when a connection's settings failed.
const SET_UP: &str = "set the database up";
/// The reader's page cache, KiB: its reads walk indexes and recent rows.
const READER_CACHE_KIB: i64 = 16 * 1024;

/// How thoroughly [`Store::checkpoint`] works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    Passive,
    Truncate,
}

/// A store failure: the database cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused what the store was doing; `operation` says what, in words that
    /// follow "the store cannot".
    #[error("the store cannot {operation}: {cause}")]
    Sqlite {
        operation: &'static str,
        cause: rusqlite::Error,
    },
    #[error(
        "database schema version {found} is newer than this voicecast knows ({known}): run the newer voicecast"
    )]
    TooNew { found: usize, known: usize },
    #[error("cannot open the database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
}

/// The database, opened and migrated. Cheap to clone: clones share the one writer and
/// the one reader.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    /// Reads run on a connection of their own: under WAL they go on while a write (and
    /// its sync) holds the writer, and each sees every commit made before it began.
    reader: Arc<Mutex<Connection>>,
    /// Changed each time a campaign is accepted, so dispatch dials a new call list at
    /// once instead of at its next look at the campaigns.
    accepted: Arc<tokio::sync::watch::Sender<()>>,
    /// Why writes fail, while they do: every clone sees it, so the reports can say it.
    write_failure: Arc<Mutex<Option<WriteFailure>>>,
}

/// The store refusing writes: since when, and why the latest write failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteFailure {
    /// When the first of the failures in a row came (milliseconds since the epoch).
    pub since_ms: i64,
    /// SQLite's reason for the latest one: "database or disk is full".
    pub cause: String,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let cannot_open = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| cannot_open(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut conn = Connection::open(path).map_err(|e| cannot_open(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(failed(SET_UP))?;
        conn.pragma_update(None, "page_size", 16384)
            .map_err(failed(SET_UP))?;
        // A new store gives the pages retention frees back to the file system (see
        // `retention.rs`); in a store that has tables already, this changes nothing.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(failed(SET_UP))?;
        // Switching a new database to WAL does not wait in the busy handler when another
        // connection is opening it at the same moment (a daemon and a command, say):
        // SQLite answers "database is locked" at once. Try again until the busy timeout.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                mode => break mode.map_err(failed(SET_UP))?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(cannot_open(format!(
                "the database cannot use write-ahead logging (journal mode {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(failed(SET_UP))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(failed(SET_UP))?;
        // Dispatch and reconcile touch rows all over a big campaign: keep its pages in
        // memory rather than read them back from the file at each statement.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(failed(SET_UP))?;
        // Statement journals (an UPDATE of many rows keeps one to undo itself) stay in
        // memory instead of a temporary file written at every statement.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(failed(SET_UP))?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
            .map_err(failed(SET_UP))?;
        // A big import grows the WAL; keep what a checkpoint leaves of it small.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(failed(SET_UP))?;
        schema::migrate(&mut conn)?;
        let reader = open_read_only(path)?;
        reader
            .pragma_update(None, "cache_size", -READER_CACHE_KIB)
            .map_err(failed(SET_UP))?;
        reader
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(failed(SET_UP))?;
        Ok(Store {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            accepted: Arc::new(tokio::sync::watch::Sender::new(())),
            write_failure: Arc::default(),
        })
    }

    /// Whether the latest write failed, and how, while writes keep failing.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        lock_value(&self.write_failure).clone()
    }

    /// Notes how a write ended: a failure starts (or goes on) a run of failures, a
    /// success ends it.
    fn note_write<T>(&self, written: Result<T, StoreError>) -> Result<T, StoreError> {
        let mut failure = lock_value(&self.write_failure);
        match &written {
            Ok(_) => *failure = None,
            Err(error) => {
                let since_ms = failure.as_ref().map_or_else(now_ms, |f| f.since_ms);
                let cause = match error {
                    StoreError::Sqlite { cause, .. } => cause.to_string(),
                    other => other.to_string(),
                };
                *failure = Some(WriteFailure { since_ms, cause });
            }
        }
        written
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A receiver that sees a change each time this store (or a clone of it) accepts a
    /// campaign.
    pub fn accepted_campaigns(&self) -> tokio::sync::watch::Receiver<()> {
        self.accepted.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`; a
    /// failure says it was trying to do `operation`.
    fn write<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let written = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        self.note_write(written.map_err(failed(operation)))
    }

    /// Like [`Store::write`], and the commit reaches the disk before this returns
    /// (`synchronous = FULL` for this one commit): for the commits that a step outside the
    /// database (a file moved, a request sent) relies on.
    fn write_durably<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let written = (|| {
            conn.pragma_update(None, "synchronous", "FULL")?;
            let written: rusqlite::Result<T> = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            let restored = conn.pragma_update(None, "synchronous", "NORMAL");
            let value = written?;
            restored?;
            Ok(value)
        })();
        self.note_write(written.map_err(failed(operation)))
    }

    /// Runs `f` on a consistent snapshot, on the reader; a failure says it was trying to
    /// do `operation`.
    fn read<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = lock(&self.reader);
        let read = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            f(&tx)
        })();
        read.map_err(failed(operation))
    }

    /// Sets the writer up for an import, or back for everything else. While an import
    /// writes, no commit checkpoints (the log is copied into the database once, after
    /// it), and the page cache is small: the import writes each page once and reads none
    /// back, so a big cache would only grow the process by its size.
    fn set_importing(&self, importing: bool) -> Result<(), StoreError> {
        let (autocheckpoint, cache_kib) = match importing {
            true => (0, IMPORT_CACHE_KIB),
            false => (AUTOCHECKPOINT_PAGES, CACHE_KIB),
        };
        let conn = self.lock();
        let set = |name, value: i64| {
            conn.pragma_update(None, name, value)
                .map_err(failed("set the writer up for an import"))
        };
        set("wal_autocheckpoint", i64::from(autocheckpoint))?;
        set("cache_size", -cache_kib)
    }

    /// Copies the write-ahead log into the database file, on a connection of its own.
    /// [`Checkpoint::Passive`] holds up neither readers nor the writer and copies what it
    /// can; [`Checkpoint::Truncate`] waits for them, copies everything and empties the log.
    pub fn checkpoint(&self, mode: Checkpoint) -> Result<(), StoreError> {
        const CHECKPOINT: &str = "checkpoint the write-ahead log";
        let conn = Connection::open(&self.path).map_err(failed(CHECKPOINT))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(failed(CHECKPOINT))?;
        let sql = match mode {
            Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            // The first column says whether another checkpoint (or a reader) was in the way.
            let busy: bool = conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(failed(CHECKPOINT))?;
            if !busy || mode == Checkpoint::Passive || std::time::Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The named value `key`, if set.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read("read a stored value", |tx| {
            tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write("store a value", |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(drop)
        })
    }
}

/// The error for SQLite refusing `operation`, for `map_err`.
fn failed(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |cause| StoreError::Sqlite { operation, cause }
}

/// Milliseconds since the Unix epoch, as every time is stored.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves no transaction open (rusqlite rolls back on
    // drop), so the connection is still sound.
    lock_value(connection)
}

fn lock_value<T>(value: &Mutex<T>) -> MutexGuard<'_, T> {
    value
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A read-only connection to the database at `path`, which must exist.
fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(failed(SET_UP))?;
    Ok(conn)
}

#[cfg(test)]
mod tests;
