//! `voicecast backup FILE` while the daemon dials (PRODUCT.md section 9): the copy is
//! whole and consistent, and holds the campaign.

use std::time::Duration;

use crate::site::{Site, answering, config, finished, start};
use crate::support::{eventually, simulator, voicecast};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_daemon_dials_is_a_consistent_store() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 200"));
    let daemon = start(&site).await;
    site.drop_in("july", 2_000);
    eventually(Duration::from_secs(30), "dialling under way", || async {
        (sim.calls().len() >= 200).then_some(())
    })
    .await;
    let copy = site.folder("..").join("copy.db");
    let output = voicecast()
        .args(["backup"])
        .arg(&copy)
        .arg("--config")
        .arg(site.config_file())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(" backed up to ") && said.contains(" MB in "),
        "{said}"
    );
    let dialled_then = sim.calls().len();
    assert!(
        dialled_then < 2_000,
        "the backup ran while dialling went on"
    );
    finished(&site.store(), "july", Duration::from_secs(60)).await;
    daemon.stop().await;

    let copy = rusqlite::Connection::open(&copy).unwrap();
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (name, rows): (String, i64) = copy
        .query_row(
            "SELECT name, (SELECT count(*) FROM rows) FROM campaigns",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), rows), ("july", 2_000));
    let made: i64 = copy
        .query_row(
            "SELECT count(*) FROM attempts WHERE state != 'sending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(made > 0, "the copy holds calls made before it");
}
