//! Attempts: written ahead, answered, settled by records, and the migrations that
//! reshaped them.

use super::*;

/// How long a row refused for its callee's frequency waits, in milliseconds.
const HOUR: i64 = 3_600_000;

/// Up to `limit` of the campaign's ready rows, as `begin_attempts` takes them.
pub(super) fn ready(store: &Store, campaign: i64, limit: usize) -> Vec<Claim> {
    ready_at(store, campaign, 10, limit)
}

/// [`ready`] at `now_ms`.
pub(super) fn ready_at(store: &Store, campaign: i64, now_ms: i64, limit: usize) -> Vec<Claim> {
    let rows = store.ready_rows(campaign, now_ms, None, limit).unwrap();
    rows.iter()
        .map(|r| Claim {
            row: r.id,
            tries: r.tries,
            callee: r.callee.clone(),
        })
        .collect()
}

/// A store with one running campaign of `callees`, each row with an attempt sent and
/// accepted; returns the attempts' userData in row order.
pub(super) fn dialled(store: &Store, callees: &[&str]) -> Vec<String> {
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for (n, callee) in callees.iter().enumerate() {
        import.push(&row(n as u64 + 2, callee)).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let campaign_id = store.dial_campaigns().unwrap()[0].id;
    let rows = ready(store, campaign_id, 100);
    let begun = store.begin_attempts(&rows, &[], "abc123", 1_000).unwrap();
    let results: Vec<SendResult> = begun
        .iter()
        .map(|a| SendResult {
            attempt: a.id,
            row: a.row,
            sent_at_ms: Some(1_000),
            sent: Sent::Accepted,
        })
        .collect();
    store.record_sends(&results, 1_001).unwrap();
    begun.into_iter().map(|a| a.user_data).collect()
}

pub(super) fn answered(user_data: &str, session: &str, fee: Option<&str>) -> Settlement {
    use crate::domain::{Outcome, RecordClass};
    Settlement {
        user_data: Some(user_data.into()),
        session: session.into(),
        callee: String::new(),
        start_ms: Some(1_000),
        class: RecordClass::Outcome {
            outcome: Outcome::Answered,
            retry_class: None,
        },
        cause: Some(0),
        answer_time: None,
        end_time: None,
        talk_secs: Some(9),
        fee: fee.map(str::to_string),
        recording: None,
    }
}

#[test]
fn write_ahead_ids_name_the_instance_the_row_and_the_attempt() {
    let (_dir, store) = temp_store();
    let user_data = dialled(&store, &["13800000001", "13800000002"]);
    let rows = store.ready_rows(1, i64::MAX, None, 10).unwrap();
    assert!(rows.is_empty(), "both rows are accepted");
    assert!(user_data[0].starts_with("vc-abc123-") && user_data[0].ends_with("-1"));
    assert_ne!(user_data[0], user_data[1]);
    let counts = store.row_counts("calls").unwrap();
    assert_eq!(counts[&RowState::Accepted], 2);
}

#[test]
fn the_same_record_by_push_and_by_polling_is_applied_once() {
    let (_dir, store) = temp_store();
    let user_data = dialled(&store, &["13800000001"]);
    let no_policy = |_: i64| None;
    let pushed = store
        .apply_records(
            &[answered(&user_data[0], "s-1", None)],
            &no_policy,
            HOUR,
            2_000,
        )
        .unwrap();
    assert_eq!((pushed.settled, pushed.repeated), (1, 0));
    // The push carried no fee: the list must still be polled for this call.
    assert_eq!(store.oldest_open_written_at().unwrap(), Some(1_000));
    // Listed, then listed again: a repeat each time.
    for now_ms in [3_000, 4_000] {
        let listed = store
            .apply_records(
                &[answered(&user_data[0], "s-1", Some("0.06"))],
                &no_policy,
                HOUR,
                now_ms,
            )
            .unwrap();
        assert_eq!((listed.settled, listed.repeated), (0, 1));
    }
    assert_eq!(store.oldest_open_written_at().unwrap(), None);
    let (state, attempts, fee): (String, i64, Option<String>) = store
        .read("run a test's query", |tx| {
            tx.query_row("SELECT state, attempts, fee FROM rows", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
        })
        .unwrap();
    assert_eq!(
        (state.as_str(), attempts, fee.as_deref()),
        ("answered", 1, Some("0.06"))
    );
}

#[test]
fn a_retried_class_returns_the_row_to_pending_until_max_attempts() {
    use crate::domain::{Outcome, RecordClass, RetryClass, RetryPolicy};
    let (_dir, store) = temp_store();
    let user_data = dialled(&store, &["13800000001"]);
    let policy = |_: i64| {
        Some(RetryPolicy {
            max_attempts: 2,
            retry_after_ms: 60_000,
            retry_on: vec![RetryClass::Busy],
        })
    };
    let busy = |user_data: &str, session: &str| Settlement {
        class: RecordClass::Outcome {
            outcome: Outcome::Busy,
            retry_class: Some(RetryClass::Busy),
        },
        cause: Some(306),
        talk_secs: Some(0),
        ..answered(user_data, session, Some("0"))
    };
    store
        .apply_records(&[busy(&user_data[0], "s-1")], &policy, HOUR, 5_000)
        .unwrap();
    assert!(
        store.ready_rows(1, 64_999, None, 10).unwrap().is_empty(),
        "not before retry_after"
    );
    let ready = store.ready_rows(1, 65_000, None, 10).unwrap();
    assert_eq!(ready.len(), 1);
    assert!(
        store
            .begin_attempts(
                &[Claim {
                    row: ready[0].id,
                    tries: 0,
                    callee: ready[0].callee.clone()
                }],
                &[],
                "abc123",
                70_000
            )
            .unwrap()
            .is_empty(),
        "a read from before the first attempt is stale: not written ahead"
    );
    let second = store
        .begin_attempts(
            &[Claim {
                row: ready[0].id,
                tries: ready[0].tries,
                callee: ready[0].callee.clone(),
            }],
            &[],
            "abc123",
            70_000,
        )
        .unwrap();
    assert!(second[0].user_data.ends_with("-2"));
    store
        .record_sends(
            &[SendResult {
                attempt: second[0].id,
                row: second[0].row,
                sent_at_ms: Some(70_000),
                sent: Sent::Accepted,
            }],
            70_001,
        )
        .unwrap();
    store
        .apply_records(&[busy(&second[0].user_data, "s-2")], &policy, HOUR, 80_000)
        .unwrap();
    let counts = store.row_counts("calls").unwrap();
    assert_eq!(
        counts.get(&RowState::Busy),
        Some(&1),
        "two accepted calls: final"
    );
}

/// Schema 4 counts each row's attempts in `rows.tries`; a database from before it has
/// them counted when it is opened, so the next attempt's `userData` is new.
#[test]
fn the_migration_to_row_tries_counts_the_attempts_already_made() {
    let (_dir, store) = temp_store();
    dialled(&store, &["13800000001", "13800000002"]);
    back_to(&store, 3);
    let path = store.path().to_path_buf();
    drop(store);
    let store = Store::open(&path).unwrap();
    let tries: Vec<(Option<String>, i64)> = store
        .read("run a test's query", |tx| {
            let mut statement = tx.prepare("SELECT callee, tries FROM rows ORDER BY id")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .unwrap();
    assert_eq!(
        tries,
        vec![
            (Some("13800000001".into()), 1),
            (Some("13800000002".into()), 1)
        ]
    );
}

/// Schema 5 rebuilds the attempts table: every attempt keeps its ids and times, is open
/// exactly when its state says so, and is still found by its `userData`.
#[test]
fn the_migration_to_schema_5_keeps_every_attempt_and_which_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voicecast.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for migration in &schema::MIGRATIONS[..4] {
        conn.execute_batch(migration).unwrap();
    }
    conn.execute_batch(
        "PRAGMA user_version = 4;
         INSERT INTO campaigns (id, name, source_file, file_hash, settings, header, encoding,
                                delimiter, first_row, row_count, state, created_at, updated_at)
             VALUES (1, 'calls', 'calls.csv', 'h', '', '[]', 'utf-8', ',', 1, 3, 'running', 1, 1);
         INSERT INTO rows (id, campaign, line, callee, fields, state, tries) VALUES
             (1, 1, 2, '13800000001', '[]', 'accepted', 1),
             (2, 1, 3, '13800000002', '[]', 'rejected', 1),
             (3, 1, 4, '13800000003', '[]', 'answered', 1);
         INSERT INTO attempts (id, row, seq, user_data, sent_at, state, settled_at) VALUES
             (1, 1, '1', 'vc-abc123-1-1', 1000, 'accepted', NULL),
             (2, 2, '2', 'vc-abc123-2-1', 2000, 'rejected', NULL),
             (3, 3, '3', 'vc-abc123-3-1', 3000, 'settled', 3500);",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let attempts: Vec<(i64, String, i64, i64, Option<i64>)> = store
        .read("run a test's query", |tx| {
            let mut statement = tx.prepare(
                "SELECT id, user_data, written_at, sent_at, settled_at FROM attempts ORDER BY id",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect()
        })
        .unwrap();
    assert_eq!(
        attempts,
        vec![
            (1, "vc-abc123-1-1".into(), 1000, 1000, None),
            (2, "vc-abc123-2-1".into(), 2000, 2000, Some(2000)),
            (3, "vc-abc123-3-1".into(), 3000, 3000, Some(3500)),
        ]
    );
    assert_eq!(store.oldest_open_written_at().unwrap(), Some(1000));
    let applied = store
        .apply_records(
            &[answered("vc-abc123-1-1", "s-1", Some("0.06"))],
            &|_| None,
            HOUR,
            4_000,
        )
        .unwrap();
    assert_eq!(applied.settled, 1);
    assert_eq!(store.oldest_open_written_at().unwrap(), None);
    assert_eq!(store.row_counts("calls").unwrap()[&RowState::Answered], 2);
}

#[test]
fn a_user_data_names_its_row_only_in_the_form_voicecast_writes() {
    use super::dispatch::row_named_by;
    assert_eq!(row_named_by("vc-abc123-7-2"), Some(7));
    assert_eq!(row_named_by("vc-abc123-1234567890-1"), Some(1_234_567_890));
    for other in [
        "",
        "vc-abc123-7",
        "vc--7-1",
        "vc-abc123-x-1",
        "vc-abc123-7-",
        "ab-c-7-1",
    ] {
        assert_eq!(row_named_by(other), None, "{other:?}");
    }
}

/// The calls chart counts calls: what the vendor accepted (or may have), never a command
/// that was not placed, was refused, or never left.
#[test]
fn calls_per_second_counts_only_requests_that_may_have_placed_a_call() {
    let (_dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for n in 0..5 {
        import.push(&row(n + 2, &format!("1380000000{n}"))).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let rows = ready(&store, 1, 10);
    let begun = store.begin_attempts(&rows, &[], "abc123", 1_000).unwrap();
    let fates = [
        Sent::Accepted,
        Sent::Unknown {
            detail: "502".into(),
        },
        Sent::Rejected {
            code: Some(5),
            detail: "bad".into(),
        },
        Sent::NotPlaced {
            code: Some(4),
            detail: "busy".into(),
            retry_at_ms: 0,
        },
        Sent::Withdrawn,
    ];
    let results: Vec<SendResult> = begun
        .iter()
        .zip(fates)
        .map(|(a, sent)| SendResult {
            attempt: a.id,
            row: a.row,
            sent_at_ms: (sent != Sent::Withdrawn).then_some(2_500),
            sent,
        })
        .collect();
    store.record_sends(&results, 3_000).unwrap();
    let mut reader = Reader::open(&store).unwrap();
    assert_eq!(reader.calls_per_second(1).unwrap(), vec![(2, 2)]);
}

/// What a stop leaves `sending` becomes `unknown` at the next start, rows and attempts
/// alike; answered attempts and rows not written ahead stay as they were.
#[test]
fn rows_a_stop_left_sending_become_unknown_with_their_attempts() {
    let (_dir, store) = temp_store();
    dialled(&store, &["13800000001"]);
    let mut import = store.begin_import(&campaign("more")).unwrap();
    for line in 2..6 {
        import.push(&row(line, "13800000002")).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let more = store.dial_campaigns().unwrap()[1].id;
    let rows = ready(&store, more, 3);
    store.begin_attempts(&rows, &[], "abc123", 2_000).unwrap();
    assert_eq!(store.sending_to_unknown(3_000).unwrap(), 3);
    assert_eq!(store.sending_to_unknown(3_000).unwrap(), 0, "done once");
    let counts = store.row_counts("more").unwrap();
    assert_eq!(counts.get(&RowState::Unknown), Some(&3));
    assert_eq!(counts.get(&RowState::Pending), Some(&1));
    let states: Vec<(String, Option<String>)> = store
        .read("run a test's query", |tx| {
            let mut statement =
                tx.prepare("SELECT state, error_message FROM attempts ORDER BY id")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .unwrap();
    assert_eq!(states[0], ("accepted".to_string(), None));
    for stranded in &states[1..] {
        assert_eq!(stranded.0, "unknown");
        assert!(stranded.1.as_deref().unwrap().contains("stopped"));
    }
    assert_eq!(states.len(), 4);
}
