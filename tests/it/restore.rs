//! `voicecast restore FILE` (PRODUCT.md section 9): a store restored from a backup taken
//! mid-campaign calls nobody twice. The calls the backup does not know are adopted from
//! the vendor's records, those still under way when the daemon died among them (the hold
//! waits for their records), and every row ends final.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::Duration;

use callcenter_simulator::{EXAMPLE_PASSWORD, OutcomeWeights, SimulatorOptions};
use voicecast::domain::RowState;

use crate::site::{
    Site, command_output, config, each_number_called_once, finished, kill, placed, wait_for_folders,
};
use crate::support::{quick_calls, simulator};

/// Rows in the campaign; the backup is taken after `AT_BACKUP` calls, the daemon killed
/// after `AT_KILL`.
const ROWS: usize = 300;
const AT_BACKUP: usize = 60;
const AT_KILL: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_restored_from_a_backup_taken_mid_campaign_calls_nobody_twice() {
    // Calls last 0.16 to 1.4 s (a fiftieth of their time), so some are under way when
    // the daemon dies, and their records come only after it started again.
    let sim = simulator(SimulatorOptions {
        outcomes: OutcomeWeights::parse("answered=1").unwrap(),
        cdr_delay: Duration::from_millis(100),
        call_time_scale: 0.02,
        ..quick_calls()
    })
    .await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 100"));
    let spawn = || -> Child {
        site.command_for_run()
            .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
            // Longer than the longest call and its record's delay: nothing is dialled
            // again, or dialled after the restore, before its record could have come.
            .env("VOICECAST_RECONCILE__UNKNOWN_GRACE_SECS", "5")
            .env("VOICECAST_RECONCILE__RESTORE_HOLD_SECS", "3")
            .spawn()
            .unwrap()
    };
    let mut daemon = spawn();
    wait_for_folders(&site).await;
    site.drop_called_once("june", ROWS);
    placed(
        &sim,
        AT_BACKUP,
        Duration::from_secs(60),
        "calls before the backup",
    )
    .await;
    let copy = site.folder("..").join("copy.db");
    let backup = command_output(&site, &["backup", copy.to_str().unwrap()]);
    assert!(backup.status.success(), "{backup:?}");
    // A restore is refused while the daemon runs.
    let refused = command_output(&site, &["restore", copy.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("another voicecast daemon uses the store"),
        "{refused:?}"
    );
    placed(
        &sim,
        AT_KILL,
        Duration::from_secs(60),
        "calls after the backup",
    )
    .await;
    kill(&mut daemon);
    let at_kill = sim.calls().len();
    assert!(
        at_kill < ROWS,
        "the campaign was still dialling when the daemon died"
    );

    let restore = command_output(&site, &["restore", copy.to_str().unwrap()]);
    assert!(restore.status.success(), "{restore:?}");
    let said = String::from_utf8_lossy(&restore.stdout);
    assert!(said.contains("The store it replaced is kept as "), "{said}");
    let mut daemon = spawn();
    let counts = finished(&site.store(), "june", Duration::from_secs(120)).await;
    kill(&mut daemon);

    assert_eq!(counts, BTreeMap::from([(RowState::Answered, ROWS as u64)]));
    each_number_called_once(&sim, ROWS);
    // The restored store took the calls the backup did not know from their records: it
    // holds more attempts of its former instance than the backup did.
    let store = rusqlite::Connection::open(site.database()).unwrap();
    let former: String = store
        .query_row(
            "SELECT value FROM meta WHERE key = 'former_instances'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let former = former.split(':').next().unwrap().to_string();
    let of_former = |db: &rusqlite::Connection| -> i64 {
        db.query_row(
            "SELECT count(*) FROM attempts WHERE user_data LIKE 'vc-' || ?1 || '-%'",
            [&former],
            |r| r.get(0),
        )
        .unwrap()
    };
    let in_backup = of_former(&rusqlite::Connection::open(&copy).unwrap());
    assert!(of_former(&store) > in_backup, "no call was adopted");
}
