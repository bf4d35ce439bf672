use super::*;
use crate::domain::{CampaignState, RowState, SkipReason};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state/voicecast.db")).unwrap();
    (dir, store)
}

fn campaign<'a>(name: &'a str, hash: &'a str) -> NewCampaign<'a> {
    NewCampaign {
        name,
        source_file: name,
        file_hash: hash,
        settings: "template = \"{1}\"",
        template: Some("{1}"),
        header: "[\"callee\",\"1\"]",
        encoding: "utf-8",
        delimiter: ",",
        now_ms: 1,
    }
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
fn opening_migrates_once_and_uses_wal() {
    let (dir, store) = temp_store();
    let path = store.path().to_path_buf();
    drop(store);
    let again = Store::open(&path).unwrap();
    let (version, mode): (usize, String) = again
        .read(|tx| {
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
        .write(|tx| tx.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
        .unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn an_import_is_invisible_until_finished_and_spans_chunks() {
    let (_dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("july", "h1")).unwrap();
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
    let mut kept = store.begin_import(&campaign("kept", "k")).unwrap();
    kept.push(&row(2, "13800000001")).unwrap();
    kept.finish(&[], 2).unwrap();

    let mut dropped = store.begin_import(&campaign("crashed", "c")).unwrap();
    for n in 0..7_000 {
        dropped.push(&row(n + 2, "13800000002")).unwrap();
    }
    drop(dropped);
    let mut abandoned = store.begin_import(&campaign("abandoned", "a")).unwrap();
    abandoned.push(&row(2, "13800000003")).unwrap();
    abandoned.abandon().unwrap();
    assert!(!store.campaign_name_taken("abandoned").unwrap());

    assert_eq!(store.discard_unfinished_imports().unwrap(), vec!["crashed"]);
    assert!(!store.campaign_name_taken("crashed").unwrap());
    let total: i64 = store
        .read(|tx| tx.query_row("SELECT count(*) FROM rows", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(store.campaigns().unwrap()[0].name, "kept");
}

#[test]
fn a_second_process_writes_while_the_first_holds_a_snapshot() {
    let (_dir, store) = temp_store();
    let other = Store::open(store.path()).unwrap();
    store.set_meta("a", "1").unwrap();
    other.set_meta("b", "2").unwrap();
    assert_eq!(store.meta("b").unwrap().as_deref(), Some("2"));
}
