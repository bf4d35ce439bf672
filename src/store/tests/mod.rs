use super::*;
use crate::domain::{CampaignState, RowState, SkipReason};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state/voicecast.db")).unwrap();
    (dir, store)
}

fn campaign(name: &str) -> NewCampaign<'_> {
    NewCampaign {
        name,
        source_file: name,
        settings: "template = \"{1}\"",
        template: Some("{1}"),
        header: "[\"callee\",\"1\"]",
        encoding: "utf-8",
        delimiter: ",",
        now_ms: 1,
    }
}

/// What undoes each migration from the 4th on, by the version it made: enough for the
/// data the tests put in, so a test can take a store of today back to an older schema.
/// The 5th reshaped `attempts`, and reads that shape as well as the older one.
const UNDO: &[(usize, &str)] = &[
    (4, "ALTER TABLE rows DROP COLUMN tries;"),
    (5, ""),
    (6, "DROP INDEX rows_skipped;"),
    (
        7,
        "ALTER TABLE rows ADD COLUMN fields TEXT NOT NULL DEFAULT '[]'; DROP TABLE row_fields;",
    ),
    (8, "DROP TABLE number_calls;"),
    (9, "ALTER TABLE rows DROP COLUMN refusals;"),
    (
        10,
        "ALTER TABLE campaigns DROP COLUMN guard_since;
         ALTER TABLE campaigns DROP COLUMN guard_records;
         ALTER TABLE campaigns DROP COLUMN guard_answered;",
    ),
    (
        11,
        "ALTER TABLE campaigns DROP COLUMN archived_figures;
         ALTER TABLE campaigns DROP COLUMN archived_at;
         DELETE FROM meta WHERE key = 'row_floor';",
    ),
    (12, "DROP TABLE orphan_records;"),
    (13, "DROP TABLE record_outcomes;"),
];

/// Takes `store` back to schema `version`: undoes every later migration, newest first.
fn back_to(store: &Store, version: usize) {
    assert_eq!(
        UNDO.last().map(|u| u.0),
        Some(schema::VERSION),
        "UNDO has every version"
    );
    store
        .write("take the store back to an older schema", |tx| {
            for (_, undo) in UNDO.iter().rev().filter(|u| u.0 > version) {
                tx.execute_batch(undo)?;
            }
            tx.pragma_update(None, "user_version", version)
        })
        .unwrap();
}

fn row(line: u64, callee: &str) -> ImportRow<'_> {
    ImportRow {
        line,
        callee: Some(callee),
        caller: None,
        cycle_play_times: None,
        fields: "[]",
        state: RowState::Pending,
        reason: None,
        detail: None,
    }
}

#[test]
fn a_failure_names_what_the_store_was_doing() {
    let (_dir, store) = temp_store();
    let error = store
        .write("record the vendor's answers", |tx| {
            tx.execute("UPDATE no_such_table SET x = 1", [])
        })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the store cannot record the vendor's answers: no such table: no_such_table"
    );
    let error = store
        .read("read ready rows", |tx| {
            tx.query_row("SELECT nothing", [], |r| r.get::<_, i64>(0))
        })
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the store cannot read ready rows: "),
        "{error}"
    );
}

#[test]
fn opening_migrates_once_and_uses_wal() {
    let (dir, store) = temp_store();
    let path = store.path().to_path_buf();
    drop(store);
    let again = Store::open(&path).unwrap();
    let (version, mode): (usize, String) = again
        .read("run a test's query", |tx| {
            Ok((
                tx.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                tx.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!((version, mode.as_str()), (SCHEMA_VERSION, "wal"));
    again.set_meta("seq", "41").unwrap();
    again.set_meta("seq", "42").unwrap();
    assert_eq!(again.meta("seq").unwrap().as_deref(), Some("42"));
    assert_eq!(again.meta("cursor").unwrap(), None);
    drop(dir);
}

#[test]
fn a_database_from_a_newer_voicecast_is_refused() {
    let (_dir, store) = temp_store();
    store
        .write("run a test's query", |tx| {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        })
        .unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn an_import_is_invisible_until_finished_and_spans_chunks() {
    let (_dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("july")).unwrap();
    let numbers: Vec<String> = (0..45_000).map(|n| format!("138{n:08}")).collect();
    for (n, callee) in numbers.iter().enumerate() {
        import.push(&row(n as u64 + 2, callee)).unwrap();
    }
    assert!(store.campaigns().unwrap().is_empty());
    assert!(store.campaigns_with_hash("h1").unwrap().is_empty());
    assert!(store.campaign_name_taken("july").unwrap());
    import
        .finish(
            &[(3, SkipReason::Duplicate, "duplicate of line 2".into())],
            "h1",
            2,
        )
        .unwrap();
    let listed = store.campaigns().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].state, listed[0].rows),
        (CampaignState::Running, 45_000)
    );
    assert_eq!(store.campaigns_with_hash("h1").unwrap()[0].name, "july");
    let counts = store.row_counts("july").unwrap();
    assert_eq!(counts.get(&RowState::Pending), Some(&44_999));
    assert_eq!(counts.get(&RowState::Skipped), Some(&1));
}

#[test]
fn unfinished_and_abandoned_imports_leave_nothing() {
    let (_dir, store) = temp_store();
    let mut kept = store.begin_import(&campaign("kept")).unwrap();
    kept.push(&row(2, "13800000001")).unwrap();
    kept.finish(&[], "h", 2).unwrap();

    let mut dropped = store.begin_import(&campaign("crashed")).unwrap();
    for n in 0..7_000 {
        dropped.push(&row(n + 2, "13800000002")).unwrap();
    }
    drop(dropped);
    let mut abandoned = store.begin_import(&campaign("abandoned")).unwrap();
    abandoned.push(&row(2, "13800000003")).unwrap();
    abandoned.abandon().unwrap();
    assert!(!store.campaign_name_taken("abandoned").unwrap());

    assert_eq!(store.discard_unfinished_imports().unwrap(), vec!["crashed"]);
    assert!(!store.campaign_name_taken("crashed").unwrap());
    let count = |table: &str| -> i64 {
        store
            .read("run a test's query", |tx| {
                tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            })
            .unwrap()
    };
    assert_eq!((count("rows"), count("row_fields")), (1, 1));
    assert_eq!(store.campaigns().unwrap()[0].name, "kept");
}

#[test]
fn a_clone_of_the_store_hears_of_each_accepted_campaign_and_of_nothing_else() {
    let (_dir, store) = temp_store();
    let mut accepted = store.clone().accepted_campaigns();
    let mut abandoned = store.begin_import(&campaign("abandoned")).unwrap();
    abandoned.push(&row(2, "13800000003")).unwrap();
    abandoned.abandon().unwrap();
    drop(store.begin_import(&campaign("crashed")).unwrap());
    assert!(!accepted.has_changed().unwrap());
    let mut kept = store.begin_import(&campaign("kept")).unwrap();
    kept.push(&row(2, "13800000001")).unwrap();
    kept.finish(&[], "h", 2).unwrap();
    assert!(accepted.has_changed().unwrap());
    accepted.mark_unchanged();
    assert!(!accepted.has_changed().unwrap());
}

#[test]
fn a_refused_write_is_known_to_every_clone_until_a_write_goes_through() {
    let (_dir, store) = temp_store();
    let reports = store.clone();
    assert_eq!(reports.write_failure(), None);
    // The database may not grow: as good as a full disk to SQLite, which says the same.
    let pages: i64 = store
        .lock()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .lock()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let before = now_ms();
    let mut import = store.begin_import(&campaign("big")).unwrap();
    let pushed = (0..20_000)
        .map(|n| import.push(&row(n + 2, "13800000001")))
        .find_map(Result::err);
    let refused = match pushed {
        Some(error) => error,
        None => import.finish(&[], "h", 2).unwrap_err(),
    };
    assert!(
        refused.to_string().contains("database or disk is full"),
        "{refused}"
    );
    let failure = reports.write_failure().expect("the failure is known");
    assert_eq!(failure.cause, "database or disk is full");
    assert!(failure.since_ms >= before);
    // Later failures keep the time the first came.
    assert!(store.set_cdr_cursor(&"9".repeat(200_000)).is_err());
    assert_eq!(reports.write_failure().unwrap().since_ms, failure.since_ms);
    store
        .lock()
        .pragma_update(None, "max_page_count", 1 << 30)
        .unwrap();
    store.set_cdr_cursor("12").unwrap();
    assert_eq!(reports.write_failure(), None);
}

/// An import writes through a small page cache (it reads nothing back, and a cache of
/// what it wrote would grow the process by 64 MiB), and gives the writer its full cache
/// back when it ends, finished or abandoned.
#[test]
fn an_import_writes_through_a_small_page_cache_and_gives_the_full_one_back() {
    let (_dir, store) = temp_store();
    let cache_kib = || -> i64 {
        -store
            .lock()
            .query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(cache_kib(), CACHE_KIB);
    let mut import = store.begin_import(&campaign("july")).unwrap();
    import.push(&row(2, "13800000001")).unwrap();
    assert_eq!(cache_kib(), IMPORT_CACHE_KIB);
    import.finish(&[], "h", 2).unwrap();
    assert_eq!(cache_kib(), CACHE_KIB);
    let abandoned = store.begin_import(&campaign("august")).unwrap();
    assert_eq!(cache_kib(), IMPORT_CACHE_KIB);
    abandoned.abandon().unwrap();
    assert_eq!(cache_kib(), CACHE_KIB);
}

/// Schema 7 moves each row's fields to `row_fields`: every row keeps its own, and reads
/// find them there.
#[test]
fn the_migration_to_schema_7_keeps_every_rows_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voicecast.db");
    let conn = Connection::open(&path).unwrap();
    for migration in &schema::MIGRATIONS[..6] {
        conn.execute_batch(migration).unwrap();
    }
    conn.execute_batch(
        r#"PRAGMA user_version = 6;
         INSERT INTO campaigns (id, name, source_file, file_hash, settings, header, encoding,
                                delimiter, first_row, row_count, state, created_at, updated_at)
             VALUES (1, 'calls', 'calls.csv', 'h', '', '["phone","name"]', 'utf-8', ',', 1, 2,
                     'running', 1, 1);
         INSERT INTO rows (id, campaign, line, callee, fields, state) VALUES
             (1, 1, 2, '13800000001', '["13800000001","王"]', 'pending'),
             (2, 1, 3, '13800000002', '["13800000002","李"]', 'pending');"#,
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let ready = store.ready_rows(1, 0, None, 10).unwrap();
    let fields: Vec<&str> = ready.iter().map(|r| r.fields.as_str()).collect();
    assert_eq!(
        fields,
        [r#"["13800000001","王"]"#, r#"["13800000002","李"]"#]
    );
    let columns: Vec<String> = store
        .read("run a test's query", |tx| {
            let mut statement = tx.prepare("SELECT name FROM pragma_table_info('rows')")?;
            let names = statement.query_map([], |r| r.get(0))?;
            names.collect()
        })
        .unwrap();
    assert!(!columns.iter().any(|c| c == "fields"), "{columns:?}");
}

#[test]
fn a_second_process_writes_while_the_first_holds_a_snapshot() {
    let (_dir, store) = temp_store();
    let other = Store::open(store.path()).unwrap();
    store.set_meta("a", "1").unwrap();
    other.set_meta("b", "2").unwrap();
    assert_eq!(store.meta("b").unwrap().as_deref(), Some("2"));
}

/// Pages the writer connection has read from the file since the last call.
fn writer_cache_misses(store: &Store) -> i32 {
    let conn = store.lock();
    let (mut misses, mut highest) = (0, 0);
    // SAFETY: the handle is the writer's open connection, held under its lock for the
    // call; sqlite3_db_status only reads (and resets) a counter of it.
    let status = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_MISS,
            &mut misses,
            &mut highest,
            1,
        )
    };
    assert_eq!(status, rusqlite::ffi::SQLITE_OK);
    misses
}

#[test]
fn a_reader_scanning_the_database_leaves_the_writers_page_cache_alone() {
    // Built with SQLITE_ENABLE_MEMORY_MANAGEMENT (libsqlite3-sys's default), SQLite
    // keeps one page cache for every connection of the process, and a reader past its
    // own cache size takes the writer's least recently used pages: the reports' scan of a
    // big campaign emptied dispatch's cache, and every write-ahead read its pages back
    // from the file. `.cargo/config.toml` builds SQLite without it.
    let (_dir, store) = temp_store();
    store
        .write("run a test's query", |tx| {
            tx.execute_batch(
                "CREATE TABLE filler (b BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
                 INSERT INTO filler SELECT zeroblob(4000) FROM n;",
            )
        })
        .unwrap();
    let scan = "SELECT sum(length(b)) FROM filler";
    let scan_by_writer = || {
        store
            .read("run a test's query", |tx| {
                tx.query_row(scan, [], |r| r.get::<_, i64>(0))
            })
            .unwrap()
    };
    scan_by_writer();
    writer_cache_misses(&store);
    scan_by_writer();
    assert_eq!(
        writer_cache_misses(&store),
        0,
        "the writer's cache holds the table"
    );

    let reader =
        Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    reader.pragma_update(None, "cache_size", -1024).unwrap();
    let total: i64 = reader.query_row(scan, [], |r| r.get(0)).unwrap();
    assert_eq!(total, 4000 * 4000);
    scan_by_writer();
    assert_eq!(
        writer_cache_misses(&store),
        0,
        "a reader's scan took pages from the writer's cache"
    );
}

/// A daemon and a command (or a test) opening a new database at the same moment: the
/// switch to WAL used to fail at once with "database is locked".
#[test]
fn two_connections_opening_a_new_database_at_once_both_succeed() {
    for _ in 0..100 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db/voicecast.db");
        let a = {
            let path = path.clone();
            std::thread::spawn(move || Store::open(&path).map(drop))
        };
        let b = Store::open(&path).map(drop);
        let a = a.join().unwrap();
        if let Err(e) = a.as_ref().and(b.as_ref()) {
            panic!("{e}");
        }
    }
}

mod adoption;
mod attempts;
mod calling_rules;
mod retention;

#[test]
fn skipped_rows_are_read_through_their_index_in_file_order() {
    let (_dir, store) = temp_store();
    for name in ["june", "july"] {
        let mut import = store.begin_import(&campaign(name)).unwrap();
        for line in 2..2_002u64 {
            let mut row = row(line, "13800000000");
            if line % 500 == 0 {
                row.state = RowState::Skipped;
                row.reason = Some(SkipReason::BadNumber);
            }
            import.push(&row).unwrap();
        }
        import
            .finish(
                &[(7, SkipReason::Duplicate, "duplicate of line 2".into())],
                name,
                2,
            )
            .unwrap();
    }
    let mut reader = Reader::open(&store).unwrap();
    let july = reader.campaigns().unwrap()[1].id;
    let mut lines = Vec::new();
    reader
        .each_row(july, Which::Skipped, |row| {
            assert_eq!(row.state, RowState::Skipped);
            lines.push(row.line);
            Ok(())
        })
        .unwrap();
    assert_eq!(lines, [9, 500, 1000, 1500, 2000]);
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", reports::SKIPPED_ROWS))
        .unwrap()
        .query_map([july], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        plan,
        [
            "SEARCH rows USING INDEX rows_skipped (campaign=?)",
            FIELDS_BY_ROW
        ]
    );
}

/// How a row's fields are found, in a query plan: by the row's id.
const FIELDS_BY_ROW: &str = "SEARCH row_fields USING INTEGER PRIMARY KEY (rowid=?)";

/// Ready rows page by `(due_at, id)` from where the last read stopped, never before it
/// (rows handed on are still pending there), and never past now; each read is a seek in
/// `rows_ready`.
#[test]
fn ready_rows_go_on_from_the_last_read_in_due_order() {
    let (_dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for line in 2..12 {
        import.push(&row(line, "13800000000")).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute_batch(
        "UPDATE rows SET due_at = 100 WHERE id BETWEEN 5 AND 7;
         UPDATE rows SET due_at = 200 WHERE id >= 8;",
    )
    .unwrap();
    let read = |now_ms, after| -> Vec<(i64, i64)> {
        let rows = store.ready_rows(1, now_ms, after, 3).unwrap();
        rows.iter().map(|r| (r.due_at, r.id)).collect()
    };
    assert_eq!(read(150, None), [(0, 1), (0, 2), (0, 3)]);
    assert_eq!(read(150, Some((0, 3))), [(0, 4), (100, 5), (100, 6)]);
    assert_eq!(read(150, Some((100, 6))), [(100, 7)], "not due yet past it");
    assert_eq!(read(150, Some((100, 7))), []);
    assert_eq!(read(250, Some((100, 7))), [(200, 8), (200, 9), (200, 10)]);
    let plans = dispatch::READY_ROWS.map(|sql| {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params![1, 150, 0, 3, 3], |r| r.get(3))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap()
    });
    assert_eq!(
        plans,
        [
            [
                "SEARCH rows USING INDEX rows_ready (campaign=? AND due_at=? AND id>?)",
                FIELDS_BY_ROW
            ],
            [
                "SEARCH rows USING INDEX rows_ready (campaign=? AND due_at>? AND due_at<?)",
                FIELDS_BY_ROW
            ],
        ]
    );
}
