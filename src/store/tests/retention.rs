//! Retention in the store: an ended campaign archived (figures kept, rows, attempts,
//! fields and counted calls gone) in transactions that can stop and go on, the space
//! given back, and new rows' ids above every id ever used.

use super::attempts::dialled;
use super::*;

fn count(store: &Store, sql: &str) -> i64 {
    store
        .read("run a test's query", |tx| {
            tx.query_row(sql, [], |r| r.get(0))
        })
        .unwrap()
}

fn facts(store: &Store) -> CampaignFacts {
    Reader::open(store).unwrap().campaigns().unwrap().remove(0)
}

/// 1,200 rows (more than one purge transaction's worth), 100 of them dialled, the
/// campaign finished at 5,000.
fn ended_campaign(store: &Store) -> i64 {
    let callees: Vec<String> = (0..1_200).map(|n| format!("138{n:08}")).collect();
    let callees: Vec<&str> = callees.iter().map(String::as_str).collect();
    dialled(store, &callees);
    store
        .set_campaign_state(1, CampaignState::Finished, None, 5_000)
        .unwrap();
    1
}

#[test]
fn an_archived_campaign_keeps_its_figures_and_its_hash_and_loses_its_rows() {
    let (_dir, store) = temp_store();
    let id = ended_campaign(&store);
    let before = facts(&store);
    assert_eq!(before.rows.values().sum::<u64>(), 1_200);
    assert!(
        store.expired_campaigns(5_000).unwrap().is_empty(),
        "not ended before 5,000"
    );
    let expired = store.expired_campaigns(5_001).unwrap();
    assert_eq!(
        expired,
        [Expired {
            id,
            name: "calls".into()
        }]
    );

    // Stopped after the first transaction, the campaign is not archived yet, and its
    // figures are already the kept ones.
    let mut transactions = 0;
    assert!(
        !store
            .archive(id, 9_000, |_| {
                transactions += 1;
                false
            })
            .unwrap()
    );
    assert_eq!(transactions, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM rows"), 1_200 - 100);
    let midway = facts(&store);
    assert_eq!((midway.archived_at_ms, &midway.rows), (None, &before.rows));

    assert!(store.archive(id, 9_000, |_| true).unwrap());
    for table in ["rows", "row_fields", "attempts", "number_calls"] {
        assert_eq!(
            count(&store, &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    let after = facts(&store);
    assert_eq!(after.archived_at_ms, Some(9_000));
    assert_eq!(
        (&after.rows, after.attempts, after.state),
        (&before.rows, before.attempts, CampaignState::Finished)
    );
    assert!(store.expired_campaigns(i64::MAX).unwrap().is_empty());
    assert_eq!(store.campaigns_with_hash("h").unwrap()[0].name, "calls");
    assert_eq!(store.archived_campaigns(5_001).unwrap(), ["calls"]);
    assert!(store.archived_campaigns(5_000).unwrap().is_empty());

    // New rows take ids above every id ever used, though no row is left to say so.
    let mut import = store.begin_import(&campaign("next")).unwrap();
    import.push(&row(2, "13900000000")).unwrap();
    import.finish(&[], "h2", 10_000).unwrap();
    assert_eq!(count(&store, "SELECT min(id) FROM rows"), 1_201);
}

#[test]
fn a_new_store_gives_the_freed_pages_back() {
    let (_dir, store) = temp_store();
    let id = ended_campaign(&store);
    assert!(store.archive(id, 9_000, |_| true).unwrap());
    let free = count(&store, "PRAGMA freelist_count");
    assert!(free > 0);
    let mut steps = 0;
    let given = store
        .give_back_space(|_| {
            steps += 1;
            true
        })
        .unwrap();
    assert_eq!((given, steps), (free as u64, 1), "up to 64 pages a step");
    assert_eq!(count(&store, "PRAGMA freelist_count"), 0);
}

/// Schema 11 starts the floor of new rows' ids past the rows a store already has.
#[test]
fn the_migration_to_schema_11_sets_the_floor_past_every_row() {
    let (_dir, store) = temp_store();
    ended_campaign(&store);
    back_to(&store, 10);
    let path = store.path().to_path_buf();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.meta("row_floor").unwrap().as_deref(), Some("1201"));
}
