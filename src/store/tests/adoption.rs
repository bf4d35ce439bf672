//! Adoption: a restored copy takes the records of the calls it forgot, keeps the ones of
//! rows it never knew, and dials under a new instance.

use super::attempts::{answered, ready};
use super::*;

/// A store with one campaign of three rows, the first two dialled and the first one's
/// record applied; returns the store's instance and the two attempts' userData.
fn dialling(store: &Store) -> (String, Vec<String>) {
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for (n, callee) in ["13800000001", "13800000002", "13800000003"]
        .iter()
        .enumerate()
    {
        import.push(&row(n as u64 + 2, callee)).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let instance = store.instance_id().unwrap();
    let campaign = store.dial_campaigns().unwrap()[0].id;
    let first = store
        .begin_attempts(&ready(store, campaign, 1), &[], &instance, 1_000)
        .unwrap();
    store
        .apply_records(
            &[answered(&first[0].user_data, "s-1", Some("0.06"))],
            &|_| None,
            0,
            2_000,
        )
        .unwrap();
    let second = store
        .begin_attempts(&ready(store, campaign, 1), &[], &instance, 3_000)
        .unwrap();
    (
        instance,
        vec![first[0].user_data.clone(), second[0].user_data.clone()],
    )
}

fn copy_of(store: &Store, dir: &std::path::Path) -> Store {
    let copy = dir.join("copy.db");
    crate::store::backup(store.path(), &copy).unwrap();
    Store::open(&copy).unwrap()
}

fn row_state(store: &Store, row: i64) -> (String, i64, i64) {
    store
        .read("read a row", |tx| {
            tx.query_row(
                "SELECT state, attempts, tries FROM rows WHERE id = ?1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .unwrap()
}

#[test]
fn a_restored_copy_adopts_the_record_of_a_call_it_forgot() {
    let (dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for (n, callee) in ["13800000001", "13800000002"].iter().enumerate() {
        import.push(&row(n as u64 + 2, callee)).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let instance = store.instance_id().unwrap();
    let campaign = store.dial_campaigns().unwrap()[0].id;
    // The copy is taken before any call; then both rows are dialled.
    let copy = copy_of(&store, dir.path());
    let begun = store
        .begin_attempts(&ready(&store, campaign, 2), &[], &instance, 1_000)
        .unwrap();
    copy.mark_restored(5_000).unwrap();
    assert_ne!(
        copy.instance_id().unwrap(),
        instance,
        "a restore takes a new instance"
    );

    let records: Vec<Settlement> = begun
        .iter()
        .enumerate()
        .map(|(n, a)| answered(&a.user_data, &format!("s-{n}"), Some("0.06")))
        .collect();
    let applied = copy.apply_records(&records, &|_| None, 0, 6_000).unwrap();
    assert_eq!((applied.settled, applied.adopted), (2, 2));
    assert!(applied.orphans.is_empty());
    for a in &begun {
        // Answered, one call counted, and its next attempt would be number 2.
        assert_eq!(row_state(&copy, a.row), ("answered".into(), 1, 1));
    }
    // The calls count for their numbers from when they started (1 000 ms).
    let held = copy
        .write("judge a cap", |tx| {
            crate::store::number_calls::held(
                tx,
                "13800000001",
                &[crate::domain::NumberCap::parse("1/1m").unwrap()],
                30_000,
            )
        })
        .unwrap();
    assert_eq!(held.and_then(|h| h.until_ms), Some(61_000));
    // The same records again change nothing.
    let again = copy.apply_records(&records, &|_| None, 0, 7_000).unwrap();
    assert_eq!((again.settled, again.adopted, again.repeated), (0, 0, 2));
    assert!(copy.campaigns().unwrap().len() == 1);
}

#[test]
fn a_record_of_a_row_the_copy_never_knew_is_an_orphan_and_raises_the_row_floor() {
    let (dir, store) = temp_store();
    let (instance, _) = dialling(&store);
    let copy = copy_of(&store, dir.path());
    copy.mark_restored(5_000).unwrap();
    // A campaign imported after the copy was taken: its rows came after the copy's.
    let unknown = format!("vc-{instance}-40-1");
    let applied = copy
        .apply_records(
            &[answered(&unknown, "s-9", Some("0.06"))],
            &|_| None,
            0,
            6_000,
        )
        .unwrap();
    assert_eq!((applied.settled, applied.adopted), (0, 0));
    assert_eq!(applied.orphans, std::slice::from_ref(&unknown));
    let again = copy
        .apply_records(
            &[answered(&unknown, "s-9", Some("0.06"))],
            &|_| None,
            0,
            7_000,
        )
        .unwrap();
    assert_eq!((again.repeated, again.orphans.len()), (1, 0));
    // A new campaign's rows start past the row the record named.
    let mut import = copy.begin_import(&campaign("later")).unwrap();
    import.push(&row(2, "13800000009")).unwrap();
    import.finish(&[], "h2", 8_000).unwrap();
    let first_new = copy
        .read("read the new row", |tx| {
            tx.query_row(
                "SELECT min(id) FROM rows WHERE line = 2 AND callee = '13800000009'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap();
    assert_eq!(first_new, 41);
    // A record of the copy's own former instance for a row at or past its floor names
    // one of the rows made since, not one the copy knew: an orphan too.
    let past = format!("vc-{instance}-41-1");
    let applied = copy
        .apply_records(
            &[answered(&past, "s-10", Some("0.06"))],
            &|_| None,
            0,
            9_000,
        )
        .unwrap();
    assert_eq!(applied.orphans, [past]);
    assert_eq!(row_state(&copy, 41), ("pending".into(), 0, 0));
    // Another system's call on the account is no orphan.
    let foreign = copy
        .apply_records(
            &[answered("vc-ffffff-1-1", "s-11", Some("0.06"))],
            &|_| None,
            0,
            9_000,
        )
        .unwrap();
    assert_eq!(foreign, Applied::default());
}

#[test]
fn records_of_a_rows_forgotten_attempts_are_taken_oldest_first_whatever_their_order() {
    use crate::domain::{Outcome, RecordClass, RetryClass, RetryPolicy};
    let (dir, store) = temp_store();
    let (instance, user_data) = dialling(&store);
    let copy = copy_of(&store, dir.path());
    copy.mark_restored(5_000).unwrap();
    // After the copy, the third row's call went unanswered and its retry was answered;
    // a page lists the two records newest first.
    let row = row_named(&user_data[1]) + 1;
    let mut no_answer = answered(&format!("vc-{instance}-{row}-1"), "s-2", Some("0"));
    no_answer.class = RecordClass::Outcome {
        outcome: Outcome::NoAnswer,
        retry_class: Some(RetryClass::NoAnswer),
    };
    let retry = answered(&format!("vc-{instance}-{row}-2"), "s-3", Some("0.06"));
    let policy = |_: i64| {
        Some(RetryPolicy {
            max_attempts: 3,
            retry_after_ms: 1_000,
            retry_on: vec![RetryClass::NoAnswer],
        })
    };
    let applied = copy
        .apply_records(&[retry, no_answer], &policy, 0, 6_000)
        .unwrap();
    assert_eq!((applied.settled, applied.adopted), (2, 2));
    assert_eq!(row_state(&copy, row), ("answered".into(), 2, 2));
}

#[test]
fn the_first_start_after_a_restore_begins_a_hold_that_a_later_start_keeps() {
    let (dir, store) = temp_store();
    dialling(&store);
    let copy = copy_of(&store, dir.path());
    assert_eq!(copy.begin_restore_hold(10_000, 900_000).unwrap(), None);
    copy.mark_restored(5_000).unwrap();
    let hold = copy.begin_restore_hold(10_000, 900_000).unwrap();
    let expected = RestoreHold {
        restored_at_ms: 5_000,
        since_ms: Some(3_000),
        until_ms: 910_000,
    };
    assert_eq!(hold, Some(expected));
    // A restart during the hold keeps it; past it, there is none.
    assert_eq!(
        copy.begin_restore_hold(20_000, 900_000).unwrap(),
        Some(expected)
    );
    assert_eq!(copy.begin_restore_hold(910_000, 900_000).unwrap(), None);
    assert_eq!(copy.restore_hold().unwrap(), Some(expected));
}

fn row_named(user_data: &str) -> i64 {
    crate::store::dispatch::row_named_by(user_data).unwrap()
}

#[test]
fn a_restore_puts_a_whole_copy_in_place_and_keeps_the_store_it_replaces() {
    let (dir, store) = temp_store();
    let (instance, _) = dialling(&store);
    let copy = dir.path().join("copy.db");
    crate::store::backup(store.path(), &copy).unwrap();
    let database = store.path().to_path_buf();
    // A daemon holds the store: refused, nothing changed.
    let held = crate::store::lock_store(&database).unwrap();
    let refused = crate::store::restore(&copy, &database, 5_000).unwrap_err();
    assert!(refused.to_string().contains("stop it first"), "{refused}");
    drop(held);
    // Not a copy at all: refused.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"no database here").unwrap();
    let refused = crate::store::restore(&junk, &database, 5_000).unwrap_err();
    assert!(
        refused.to_string().starts_with(&format!(
            "{} is not a whole voicecast store: ",
            junk.display()
        )),
        "{refused}"
    );
    drop(store);
    let restored = crate::store::restore(&copy, &database, 5_000).unwrap();
    let replaced = restored.replaced.expect("the old store is kept");
    assert!(
        replaced
            .to_str()
            .unwrap()
            .ends_with(".replaced-19700101T000005Z")
    );
    assert_eq!(
        Store::open(&replaced).unwrap().instance_id().unwrap(),
        instance
    );
    let store = Store::open(&database).unwrap();
    assert_ne!(store.instance_id().unwrap(), instance);
    assert_eq!(store.campaigns().unwrap().len(), 1);
    assert!(store.begin_restore_hold(6_000, 1_000).unwrap().is_some());
}

#[test]
fn a_copy_put_back_by_hand_adopts_the_calls_of_its_own_instance_too() {
    let (dir, store) = temp_store();
    let (instance, _) = dialling(&store);
    let copy = copy_of(&store, dir.path());
    // The third row was dialled after the copy was taken; nobody ran `voicecast restore`.
    let row = 3;
    let record = answered(&format!("vc-{instance}-{row}-1"), "s-3", Some("0.06"));
    let applied = copy.apply_records(&[record], &|_| None, 0, 6_000).unwrap();
    assert_eq!((applied.settled, applied.adopted), (1, 1));
    assert_eq!(row_state(&copy, row), ("answered".into(), 1, 1));
    assert_eq!(copy.instance_id().unwrap(), instance);
}
