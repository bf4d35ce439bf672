//! The schema, as an append-only list of migrations keyed on `PRAGMA user_version`
//! (cargo's `util/sqlite.rs` pattern). Never edit or remove a migration: add one.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema one version up; version N is `MIGRATIONS[..N]` applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: campaigns, their rows, one attempt per request, and small named values.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE campaigns (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        source_file  TEXT NOT NULL,
        file_hash    TEXT NOT NULL,
        settings     TEXT NOT NULL,
        template     TEXT,
        header       TEXT NOT NULL,
        encoding     TEXT NOT NULL,
        delimiter    TEXT NOT NULL,
        first_row    INTEGER NOT NULL,
        row_count    INTEGER NOT NULL DEFAULT 0,
        state        TEXT NOT NULL,
        state_reason TEXT,
        created_at   INTEGER NOT NULL,
        started_at   INTEGER,
        finished_at  INTEGER,
        updated_at   INTEGER NOT NULL,
        moved_at     INTEGER
    );
    CREATE INDEX campaigns_by_hash ON campaigns (file_hash);

    CREATE TABLE rows (
        id               INTEGER PRIMARY KEY,
        campaign         INTEGER NOT NULL REFERENCES campaigns (id),
        line             INTEGER NOT NULL,
        callee           TEXT,
        caller           TEXT,
        cycle_play_times INTEGER,
        fields           TEXT NOT NULL,
        state            TEXT NOT NULL,
        reason           TEXT,
        detail           TEXT,
        attempts         INTEGER NOT NULL DEFAULT 0,
        due_at           INTEGER NOT NULL DEFAULT 0,
        cause            INTEGER,
        answer_time      TEXT,
        end_time         TEXT,
        talk_secs        INTEGER,
        fee              TEXT,
        session          TEXT,
        recording        TEXT
    );
    CREATE INDEX rows_ready ON rows (campaign, due_at, id) WHERE state = 'pending';

    CREATE TABLE attempts (
        id            INTEGER PRIMARY KEY,
        row           INTEGER NOT NULL REFERENCES rows (id),
        seq           TEXT NOT NULL,
        user_data     TEXT NOT NULL UNIQUE,
        sent_at       INTEGER NOT NULL,
        state         TEXT NOT NULL,
        error_code    INTEGER,
        error_message TEXT,
        session       TEXT,
        settled_at    INTEGER
    );
    CREATE INDEX attempts_by_row ON attempts (row);
    ",
    // 2: what dispatch and reconcile look attempts up by: the open ones by age, a call
    // record's session (each applied once), the ones a push settled (their fee still to
    // come from the list), and when an attempt was last looked up.
    "
    ALTER TABLE attempts ADD COLUMN looked_up_at INTEGER;
    CREATE INDEX attempts_open ON attempts (sent_at)
        WHERE state IN ('sending', 'accepted', 'unknown');
    CREATE UNIQUE INDEX attempts_by_session ON attempts (session) WHERE session IS NOT NULL;
    CREATE INDEX attempts_pushed ON attempts (sent_at) WHERE state = 'pushed';
    ",
    // 3: the open-attempt index says "open" with OR rather than IN: SQLite evaluates an IN
    // list of three in a temporary table at every insert and update of an attempt. Queries
    // that use it say it the same way (`OPEN_ATTEMPT`).
    "
    DROP INDEX attempts_open;
    CREATE INDEX attempts_open ON attempts (sent_at)
        WHERE state = 'sending' OR state = 'accepted' OR state = 'unknown';
    ",
    // 4: each row counts the attempts made for it (`tries`), so writing one ahead needs
    // no count of its attempts: the next attempt's number is the count read with the row.
    "
    ALTER TABLE rows ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
    UPDATE rows SET tries = (SELECT count(*) FROM attempts WHERE attempts.row = rows.id)
        WHERE id IN (SELECT row FROM attempts);
    ",
    // 5: the attempts table again, shaped so that writing an attempt ahead and recording
    // its answer change as few index entries as can be:
    // - `userData` is unique within its row (it names the row), so one index on
    //   (row, user_data) serves both lookups in place of two;
    // - `written_at` (when it was written ahead) never changes, and an attempt is open
    //   while `settled_at` is NULL, so the open-attempt index is keyed and filtered on
    //   columns the answer leaves alone; `sent_at` (when its request left) is no key.
    "
    CREATE TABLE attempts_5 (
        id            INTEGER PRIMARY KEY,
        row           INTEGER NOT NULL REFERENCES rows (id),
        seq           TEXT NOT NULL,
        user_data     TEXT NOT NULL,
        written_at    INTEGER NOT NULL,
        sent_at       INTEGER NOT NULL,
        state         TEXT NOT NULL,
        error_code    INTEGER,
        error_message TEXT,
        session       TEXT,
        settled_at    INTEGER,
        looked_up_at  INTEGER
    );
    INSERT INTO attempts_5 (id, row, seq, user_data, written_at, sent_at, state, error_code,
                            error_message, session, settled_at, looked_up_at)
        SELECT id, row, seq, user_data, sent_at, sent_at, state, error_code, error_message,
               session,
               CASE WHEN state IN ('sending', 'accepted', 'unknown') THEN NULL
                    ELSE coalesce(settled_at, sent_at) END,
               looked_up_at
        FROM attempts;
    DROP TABLE attempts;
    ALTER TABLE attempts_5 RENAME TO attempts;
    CREATE UNIQUE INDEX attempts_by_row ON attempts (row, user_data);
    CREATE INDEX attempts_open ON attempts (written_at) WHERE settled_at IS NULL;
    CREATE UNIQUE INDEX attempts_by_session ON attempts (session) WHERE session IS NOT NULL;
    CREATE INDEX attempts_pushed ON attempts (written_at) WHERE state = 'pushed';
    ",
    // 6: a campaign's skipped rows in file order, for `skipped.csv` without reading every
    // row. Rows become `skipped` only at their import and never leave it, so dispatch
    // never touches this index.
    "
    CREATE INDEX rows_skipped ON rows (campaign, id) WHERE state = 'skipped';
    ",
    // 7: a row's original fields (most of its bytes, written once at its import and
    // only read after) move to a table of their own, keyed by the row's id: every change
    // of a row's state rewrites the row, and with it every byte it holds, into the WAL.
    "
    CREATE TABLE row_fields (
        row    INTEGER PRIMARY KEY REFERENCES rows (id),
        fields TEXT NOT NULL
    );
    INSERT INTO row_fields (row, fields) SELECT id, fields FROM rows;
    ALTER TABLE rows DROP COLUMN fields;
    ",
    // 8: the calls to each number that the per-number caps count (PRODUCT.md section 4),
    // whatever campaign made them: one per attempt, `at` NULL while its request is in
    // flight, then the moment its answer came (or it became unknown); an attempt that
    // was not placed leaves none. Filled from the last day's attempts, counted from
    // when their requests left.
    "
    CREATE TABLE number_calls (
        attempt INTEGER PRIMARY KEY,
        callee  TEXT NOT NULL,
        at      INTEGER
    );
    CREATE INDEX number_calls_by_callee ON number_calls (callee, at);
    INSERT INTO number_calls (attempt, callee, at)
        SELECT attempts.id, rows.callee,
               CASE WHEN attempts.state = 'sending' THEN NULL ELSE attempts.sent_at END
        FROM attempts JOIN rows ON rows.id = attempts.row
        WHERE attempts.state NOT IN ('rejected', 'not_placed', 'withdrawn')
          AND rows.callee IS NOT NULL
          AND attempts.written_at > (unixepoch() - 86400) * 1000;
    ",
    // 9: how many times the vendor refused each row for its callee's frequency (cause
    // 409): it comes back at most three times.
    "
    ALTER TABLE rows ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
    ",
    // 10: the answer-rate guard's count (PRODUCT.md section 4): the call records whose
    // outcome is answered, no_answer or busy since the campaign started or was last
    // resumed (`guard_since`, NULL until a resume), and how many of them were answered.
    "
    ALTER TABLE campaigns ADD COLUMN guard_since INTEGER;
    ALTER TABLE campaigns ADD COLUMN guard_records INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE campaigns ADD COLUMN guard_answered INTEGER NOT NULL DEFAULT 0;
    ",
    // 11: retention (PRODUCT.md section 9). An ended campaign's rows go after
    // `keep_days`; its figures stay (`archived_figures`, JSON, kept before the first row
    // goes) and `archived_at` says when the last went. New rows' ids never go back:
    // `row_floor` in meta is the lowest a new row may take, from the rows there are.
    "
    ALTER TABLE campaigns ADD COLUMN archived_figures TEXT;
    ALTER TABLE campaigns ADD COLUMN archived_at INTEGER;
    INSERT INTO meta (key, value) SELECT 'row_floor', coalesce(max(id), 0) + 1 FROM rows;
    ",
    // 12: adoption (PRODUCT.md section 9): call records whose `userData` is the store's
    // own but whose row it does not know (a restored copy taken before the campaign
    // came), or whose attempt is older than its row's latest, kept once by `session`.
    "
    CREATE TABLE orphan_records (
        session   TEXT PRIMARY KEY,
        user_data TEXT NOT NULL,
        callee    TEXT NOT NULL,
        start_ms  INTEGER,
        cause     INTEGER,
        end_time  TEXT,
        talk_secs INTEGER,
        fee       TEXT,
        seen_at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 13: the call records applied to each campaign's rows, by what they said (the
    // `outcome` is `RecordClass::name`), counted in the transaction that applies each:
    // the metrics' outcome counters, which a restart must not reset. Filled from the
    // rows' outcomes so far.
    "
    CREATE TABLE record_outcomes (
        campaign INTEGER NOT NULL,
        outcome  TEXT NOT NULL,
        records  INTEGER NOT NULL,
        PRIMARY KEY (campaign, outcome)
    ) WITHOUT ROWID;
    INSERT INTO record_outcomes (campaign, outcome, records)
        SELECT campaign, state, count(*) FROM rows
        WHERE state IN ('answered', 'no_answer', 'busy', 'invalid_number', 'failed')
        GROUP BY campaign, state;
    ",
];

/// The condition of an open attempt (`sending`, `accepted` or `unknown`: its record yet
/// to come), written as the `attempts_open` index says it, so the index serves the query.
/// Every change of an attempt's state out of those three sets `settled_at`.
pub const OPEN_ATTEMPT: &str = "attempts.settled_at IS NULL";

/// The schema version this build writes.
pub const VERSION: usize = MIGRATIONS.len();

/// Brings the database up to [`VERSION`] in one exclusive transaction; refuses a database
/// written by a newer voicecast.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let failed = |cause| StoreError::Sqlite {
        operation: "migrate the database schema",
        cause,
    };
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .map_err(failed)?;
    let current: usize = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(failed)?;
    if current > VERSION {
        return Err(StoreError::TooNew {
            found: current,
            known: VERSION,
        });
    }
    for (done, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(migration).map_err(failed)?;
        tx.pragma_update(None, "user_version", done + 1)
            .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}
