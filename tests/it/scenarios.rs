//! Scenarios the suite runs small and the end-to-end runner (`tests/e2e/`) runs at full
//! size.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::Duration;

use callcenter_simulator::{EXAMPLE_PASSWORD, Fault, Faults, SimulatorOptions};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use voicecast::domain::RowState;

use crate::site::{Site, answering, calls_per_number, config, finished, wait_for_folders};
use crate::support::{eventually, simulator};

/// The seed of a test's random choices: `VOICECAST_TEST_SEED`, else 1. Printed, so a
/// failure can be run again as it was.
pub fn seeded_rng() -> StdRng {
    let seed = std::env::var("VOICECAST_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    eprintln!("VOICECAST_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

fn kill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A v2 campaign of `rows` rows, 2% of its requests left hanging, dialled by the real
/// binary (its clock in UTC, the simulator's in UTC+8: every record must still match)
/// that is killed with SIGKILL `kills` times, each time after a drawn number of calls
/// since its start; then every row is answered and every number was called exactly once.
pub async fn killed_repeatedly(rows: usize, kills: usize) {
    let sim = simulator(SimulatorOptions {
        faults: Faults {
            rates: vec![(Fault::Hang, 0.02)],
        },
        ..answering(Duration::from_millis(100))
    })
    .await;
    let site = Site::with_config(&format!(
        "{}\n[log]\nlevel = \"warn\"\n",
        config(
            &sim,
            "v2",
            "batch_size = 10\n[limits]\nrate = 1000\nmax_in_flight = 8"
        )
    ));
    let spawn = || {
        let mut command = site.command_for_run();
        command
            .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
            .env("TZ", "UTC");
        command.spawn().unwrap()
    };
    let mut child = spawn();
    wait_for_folders(&site).await;
    site.drop_in("kills", rows);
    let store = site.store();
    let mut rng = seeded_rng();
    // Each run makes fewer than rows / (2 × kills) calls before its kill, so the campaign
    // outlasts the kills.
    let most_per_run = (rows / (2 * kills)).max(2);
    for _ in 0..kills {
        let since = sim.calls().len();
        let calls = rng.random_range(1..most_per_run);
        eventually(Duration::from_secs(60), "calls since the start", || async {
            (sim.calls().len() >= since + calls).then_some(())
        })
        .await;
        kill(&mut child);
        child = spawn();
    }
    let counts = finished(&store, "kills", Duration::from_secs(120)).await;
    kill(&mut child);
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, rows as u64)]));
    let calls = calls_per_number(&sim);
    assert_eq!(calls.len(), rows, "every number called");
    let doubled: Vec<_> = calls.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "numbers called twice: {doubled:?}");
    let connection = rusqlite::Connection::open(site.database()).unwrap();
    let stranded: i64 = connection
        .query_row(
            "SELECT count(*) FROM attempts WHERE error_message LIKE 'the daemon stopped%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    eprintln!("{kills} kills; attempts a kill left sending, settled after the restart: {stranded}");
}
