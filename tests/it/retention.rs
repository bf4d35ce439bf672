//! Retention (PRODUCT.md section 9) on an injected clock: a campaign that ended more than
//! `keep_days` ago is archived at the next start (its rows gone, its figures kept, its
//! file still known), and its files go after `files_keep_days`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use voicecast::clock::{Clock, ManualClock};

use crate::site::{Site, answering, config, files_in, finished, password_env};
use crate::support::{eventually, free_port, simulator};

const DAY: Duration = Duration::from_secs(86_400);

fn json(path: &std::path::Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn count(site: &Site, sql: &str) -> i64 {
    rusqlite::Connection::open(site.database())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_campaign_is_archived_after_keep_days_and_its_files_go_later() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let port = free_port();
    let site = Site::with_config(&config(
        &sim,
        "v1",
        &format!(
            "[retention]\nkeep_days = 90\nfiles_keep_days = 100\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\""
        ),
    ));
    let clock = Arc::new(ManualClock::new("2026-11-27T02:00:00Z".parse().unwrap()));
    let start = || site.start_with_clock(password_env(), clock.clone() as Arc<dyn Clock>);
    let daemon = start().await;
    site.drop_in("july", 5);
    finished(&site.store(), "july", Duration::from_secs(30)).await;
    let campaign_status = site.folder("reports").join("july/status.json");
    eventually(Duration::from_secs(10), "july's files complete", || async {
        (json(&campaign_status)["state"] == "finished"
            && files_in(&site.folder("done")) == ["july.csv", "july.toml"])
        .then_some(())
    })
    .await;
    daemon.stop().await;
    let last_id = count(&site, "SELECT max(id) FROM rows");

    // 89 days on, nothing goes; 91 days on, the first start archives the campaign.
    clock.advance(89 * DAY);
    let daemon = start().await;
    site.drop_in("august", 3);
    finished(&site.store(), "august", Duration::from_secs(30)).await;
    assert_eq!(
        count(&site, "SELECT count(*) FROM rows WHERE campaign = 1"),
        5
    );
    daemon.stop().await;
    clock.advance(2 * DAY);
    let daemon = start().await;
    let daemon_status = site.folder("reports").join("status.json");
    eventually(Duration::from_secs(20), "july archived", || async {
        (json(&daemon_status)["campaigns"][0]["state"] == "archived").then_some(())
    })
    .await;
    let listed = &json(&daemon_status)["campaigns"];
    assert_eq!(listed[0]["rows"]["total"], 5, "its figures stay: {listed}");
    // Its metrics series are gone (the round that archived it published them); the
    // other campaign's stay.
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("campaign=\"july\""), "{metrics}");
    assert!(
        metrics.contains("voicecast_calls_total{campaign=\"august\"} 3"),
        "{metrics}"
    );
    assert_eq!(
        listed[1]["state"], "finished",
        "august is not due: {listed}"
    );
    assert_eq!(
        count(&site, "SELECT count(*) FROM rows WHERE campaign = 1"),
        0
    );
    assert_eq!(
        count(&site, "SELECT count(*) FROM rows WHERE campaign = 2"),
        3
    );
    assert_eq!(
        json(&campaign_status)["state"],
        "finished",
        "its own status stays"
    );

    // The same list again is still the same content; a new one takes new ids.
    site.drop_in("july", 5);
    eventually(
        Duration::from_secs(20),
        "the same july rejected",
        || async {
            (files_in(&site.folder("rejected")).contains(&"july.error.txt".to_string()))
                .then_some(())
        },
    )
    .await;
    site.drop_in("september", 2);
    finished(&site.store(), "september", Duration::from_secs(30)).await;
    let first_new = count(
        &site,
        "SELECT min(rows.id) FROM rows JOIN campaigns ON campaigns.id = rows.campaign
         WHERE campaigns.name = 'september'",
    );
    assert!(
        first_new > last_id + 3,
        "{first_new} after {last_id} and august's 3"
    );
    daemon.stop().await;
    assert!(site.folder("reports").join("july").is_dir());

    // 101 days after july ended, its files go; august's (ended later) stay.
    clock.advance(10 * DAY);
    let daemon = start().await;
    eventually(Duration::from_secs(20), "july's files deleted", || async {
        (!site.folder("reports").join("july").exists()).then_some(())
    })
    .await;
    let done = files_in(&site.folder("done"));
    assert!(!done.contains(&"july.csv".to_string()), "{done:?}");
    assert!(done.contains(&"august.csv".to_string()), "{done:?}");
    daemon.stop().await;
}
