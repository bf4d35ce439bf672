//! The calling rules in the store: per-number caps judged at the write-ahead, the calls
//! they count, and the vendor's refusals of frequency and time.

use super::attempts::{answered, dialled, ready, ready_at};
use super::*;

/// The rows of two campaigns that carry one number, dialled at once under a cap of one
/// call in 2 s: only one call is written ahead; the other row stays pending, due when
/// the first call's answer is 2 s old, and says why.
#[test]
fn a_number_at_its_cap_is_held_across_campaigns_until_the_window_frees() {
    let (_dir, store) = temp_store();
    for name in ["first", "second"] {
        let mut import = store.begin_import(&campaign(name)).unwrap();
        import.push(&row(2, "13800000001")).unwrap();
        import.finish(&[], "h", 2).unwrap();
    }
    let caps = [crate::domain::NumberCap::parse("1/2s").unwrap()];
    let both: Vec<Claim> = [1, 2].iter().flat_map(|c| ready(&store, *c, 1)).collect();
    let begun = store.begin_attempts(&both, &caps, "abc123", 1_000).unwrap();
    assert_eq!(begun.len(), 1, "one call to the number at a time");
    let held = |store: &Store| -> (String, Option<String>, Option<String>) {
        store
            .read("run a test's query", |tx| {
                tx.query_row(
                    "SELECT state, reason, detail FROM rows WHERE campaign = 2",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .unwrap()
    };
    let (state, reason, detail) = held(&store);
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("pending", Some(HELD_BY_CAP))
    );
    assert!(detail.unwrap().contains("one is under way"));
    // The answer comes at 1,500: the call counts from then, to 3,500.
    let answer = SendResult {
        attempt: begun[0].id,
        row: begun[0].row,
        sent_at_ms: Some(1_200),
        sent: Sent::Accepted,
    };
    store.record_sends(&[answer], 1_500).unwrap();
    let second = ready_at(&store, 2, 2_500, 1);
    let again = store
        .begin_attempts(&second, &caps, "abc123", 2_500)
        .unwrap();
    assert!(again.is_empty(), "still within 2 s of the answer");
    let due: i64 = store
        .read("run a test's query", |tx| {
            tx.query_row("SELECT due_at FROM rows WHERE campaign = 2", [], |r| {
                r.get(0)
            })
        })
        .unwrap();
    assert_eq!(due, 3_500);
    assert!(held(&store).2.unwrap().contains("at the cap 1/2s"));
    let mut reader = Reader::open(&store).unwrap();
    let facts = reader.campaigns().unwrap();
    assert_eq!(facts[1].held_by_cap, 1);
    assert!(
        ready_at(&store, 2, 3_499, 1).is_empty(),
        "not due before the window frees"
    );
    let due_now = ready_at(&store, 2, 3_500, 1);
    let third = store
        .begin_attempts(&due_now, &caps, "abc123", 3_500)
        .unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(
        held(&store).1,
        None,
        "the reason goes when it is written ahead"
    );
}

/// A call not placed counts for nothing; one left sending by a stop counts from the
/// next start; old calls are forgotten.
#[test]
fn only_calls_that_may_have_been_placed_count_and_old_ones_are_forgotten() {
    let (_dir, store) = temp_store();
    let mut import = store.begin_import(&campaign("calls")).unwrap();
    for line in 2..5 {
        import.push(&row(line, "13800000001")).unwrap();
    }
    import.finish(&[], "h", 2).unwrap();
    let caps = [crate::domain::NumberCap::parse("1/1m").unwrap()];
    let first = store
        .begin_attempts(&ready(&store, 1, 1), &caps, "abc123", 1_000)
        .unwrap();
    let not_placed = SendResult {
        attempt: first[0].id,
        row: first[0].row,
        sent_at_ms: Some(1_000),
        sent: Sent::NotPlaced {
            code: Some(4),
            detail: "busy".into(),
            retry_at_ms: 0,
        },
    };
    store.record_sends(&[not_placed], 1_100).unwrap();
    let second = store
        .begin_attempts(&ready_at(&store, 1, 1_200, 1), &caps, "abc123", 1_200)
        .unwrap();
    assert_eq!(second.len(), 1, "the call not placed did not count");
    // A stop leaves it sending; the next start counts it from then.
    store.sending_to_unknown(50_000).unwrap();
    let third = store
        .begin_attempts(&ready_at(&store, 1, 100_000, 3), &caps, "abc123", 100_000)
        .unwrap();
    assert!(third.is_empty(), "counted from 50,000 until 110,000");
    let count = |store: &Store| -> i64 {
        store
            .read("run a test's query", |tx| {
                tx.query_row("SELECT count(*) FROM number_calls", [], |r| r.get(0))
            })
            .unwrap()
    };
    assert_eq!(count(&store), 1);
    assert_eq!(store.forget_number_calls(50_000).unwrap(), 0);
    assert_eq!(store.forget_number_calls(50_001).unwrap(), 1);
    assert_eq!(count(&store), 0);
}

/// Schema 8 counts the calls of the last day for the per-number caps: those that may
/// have been placed, from when their requests left.
#[test]
fn the_migration_to_number_calls_counts_the_last_days_calls() {
    let (_dir, store) = temp_store();
    dialled(&store, &["13800000001", "13800000002"]);
    let now = crate::store::now_ms();
    store
        .write("run a test's query", |tx| {
            tx.execute_batch(&format!(
                "UPDATE attempts SET written_at = {now} - 1000, sent_at = {now} - 900 WHERE id = 1;"
            ))
        })
        .unwrap();
    back_to(&store, 7);
    let path = store.path().to_path_buf();
    drop(store);
    let store = Store::open(&path).unwrap();
    let counted: Vec<(String, i64)> = store
        .read("run a test's query", |tx| {
            let mut statement = tx.prepare("SELECT callee, at FROM number_calls")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .unwrap();
    assert_eq!(counted, vec![("13800000001".to_string(), now - 900)]);
}

/// A refusal for the callee's frequency (409) sends its row back uncounted after the
/// wait, three times; the fourth makes it `failed` with the cause. One for the caller's
/// frequency (410) or the service hours (429) sends it back at once, and says so.
#[test]
fn refusals_send_rows_back_uncounted_and_the_fourth_callee_refusal_fails() {
    use callcenter_openapi::causes::Refusal;
    let (_dir, store) = temp_store();
    for (name, callee) in [("calls", "13800000001"), ("more", "13800000002")] {
        let mut import = store.begin_import(&campaign(name)).unwrap();
        import.push(&row(2, callee)).unwrap();
        import.finish(&[], "h", 2).unwrap();
    }
    let refused = |user_data: &str, session: &str, refusal: Refusal| Settlement {
        class: crate::domain::RecordClass::Refused(refusal),
        cause: Some(refusal.cause()),
        talk_secs: Some(0),
        ..answered(user_data, session, Some("0"))
    };
    let state = |store: &Store, campaign: i64| -> (String, i64, i64, i64) {
        store
            .read("run a test's query", |tx| {
                tx.query_row(
                    "SELECT state, attempts, refusals, due_at FROM rows WHERE campaign = ?1",
                    [campaign],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .unwrap()
    };
    let mut now = 1_000;
    for n in 1..=4 {
        let claims = ready_at(&store, 1, now, 1);
        assert_eq!(claims.len(), 1, "refusal {n}: due again");
        let begun = store.begin_attempts(&claims, &[], "abc123", now).unwrap();
        let session = format!("s-{n}");
        let record = refused(&begun[0].user_data, &session, Refusal::CalleeFrequency);
        store
            .apply_records(&[record], &|_| None, 60_000, now + 100)
            .unwrap();
        let (row_state, attempts, refusals, due_at) = state(&store, 1);
        if n <= 3 {
            assert_eq!(
                (row_state.as_str(), attempts, refusals, due_at),
                ("pending", 0, n, now + 100 + 60_000)
            );
        } else {
            assert_eq!((row_state.as_str(), refusals), ("failed", 4));
        }
        now += 100 + 60_000;
    }
    let other = ready_at(&store, 2, now, 1);
    let begun = store.begin_attempts(&other, &[], "abc123", now).unwrap();
    let applied = store
        .apply_records(
            &[refused(
                &begun[0].user_data,
                "s-9",
                Refusal::OutsideServiceHours,
            )],
            &|_| None,
            60_000,
            now,
        )
        .unwrap();
    assert!(applied.outside_service_hours);
    assert_eq!(state(&store, 2), ("pending".into(), 0, 0, now));
}
