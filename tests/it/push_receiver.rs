//! The daemon's push receiver: the simulator's pushes settle rows (the list brings their
//! fees); pushes with a bad digest, an old timestamp, a replayed seq or an oversized body
//! are refused in the vendor's JSON form; idle connections cannot hold a push up.

use std::collections::BTreeMap;
use std::time::Duration;

use callcenter_openapi::auth::now_ms;
use callcenter_openapi::push::{self, Notify};
use callcenter_openapi::wire::CdrNotify;
use callcenter_openapi::{Credentials, Password};
use callcenter_simulator::{SimulatorOptions, example_credentials};
use voicecast::domain::RowState;

use crate::site::{Site, answering, calls_per_number, config, finished, start};
use crate::support::{eventually, free_port, quick_calls, simulator};

fn push_config(port: u16) -> String {
    format!("[push]\nlisten = \"127.0.0.1:{port}\"\npath = \"/voicecast/push\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_records_settle_rows_and_the_list_brings_their_fees() {
    let port = free_port();
    let sim = simulator(SimulatorOptions {
        push_url: Some(format!("http://127.0.0.1:{port}/voicecast/push")),
        ..answering(Duration::from_millis(100))
    })
    .await;
    let extra = format!("[limits]\nrate = 200\n{}", push_config(port));
    let site = Site::with_config(&config(&sim, "v1", &extra));
    let daemon = start(&site).await;
    site.drop_in("pushed", 100);
    let store = site.store();
    let counts = finished(&store, "pushed", Duration::from_secs(60)).await;
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, 100)]));
    let connection = rusqlite::Connection::open(site.database()).unwrap();
    eventually(
        Duration::from_secs(20),
        "every fee from the list",
        || async {
            let missing: i64 = connection
                .query_row("SELECT count(*) FROM rows WHERE fee IS NULL", [], |r| {
                    r.get(0)
                })
                .unwrap();
            (missing == 0).then_some(())
        },
    )
    .await;
    daemon.stop().await;
    let (settled, counted): (i64, i64) = connection
        .query_row(
            "SELECT (SELECT count(*) FROM attempts WHERE state = 'settled'),
                    (SELECT sum(attempts) FROM rows)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((settled, counted), (100, 100), "each record applied once");
    assert!(calls_per_number(&sim).values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_digests_old_timestamps_replays_and_big_bodies_are_refused() {
    let port = free_port();
    let sim = simulator(quick_calls()).await;
    let site = Site::with_config(&config(&sim, "v1", &push_config(port)));
    let daemon = start(&site).await;
    let url = format!("http://127.0.0.1:{port}/voicecast/push");
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        let request = http
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let notify = Notify::Cdr(Box::new(CdrNotify {
        kind: "TTSVoiceNotifyBilling".into(),
        session: "1633767017-0045-567389".into(),
        user_data: "vc-000000-1-1".into(),
        time_length: "9".into(),
        ..CdrNotify::default()
    }));
    // The receiver may still be binding: wait for its first answer.
    let good = push::build(&example_credentials(), now_ms(), "9001", &notify);
    let (status, text) = eventually(Duration::from_secs(10), "the receiver", || {
        let body = good.clone();
        let request = http.post(&url).body(body);
        async move {
            let response = request.send().await.ok()?;
            Some((response.status().as_u16(), response.text().await.unwrap()))
        }
    })
    .await;
    assert_eq!(
        (status, text.contains("\"error\":0")),
        (200, true),
        "{text}"
    );
    // Every refusal is answered in the vendor's form: the HTTP status and `result.error`.
    let refused = |(status, text): (u16, String)| {
        let answer: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not the vendor's JSON ({e}): {text}"));
        (status, answer["result"]["error"].as_u64().unwrap())
    };
    assert_eq!(refused(post(good).await), (401, 1), "a replayed seq");
    let stale = push::build(
        &example_credentials(),
        now_ms() - 11 * 60 * 1000,
        "9002",
        &notify,
    );
    assert_eq!(refused(post(stale).await), (401, 1), "eleven minutes old");
    let stranger = Credentials {
        customer: "C2".into(),
        password: Password::new("not the password"),
    };
    let forged = post(push::build(&stranger, now_ms(), "9003", &notify)).await;
    assert_eq!(refused(forged), (401, 1));
    let big = post(vec![b' '; 1024 * 1024 + 1]).await;
    assert_eq!(refused(big), (413, 8), "over 1 MiB");
    assert_eq!(refused(post(b"{".to_vec()).await), (400, 8));
    let elsewhere = http
        .post(format!("http://127.0.0.1:{port}/elsewhere"))
        .send()
        .await
        .unwrap();
    let elsewhere = (elsewhere.status().as_u16(), elsewhere.text().await.unwrap());
    assert_eq!(refused(elsewhere), (404, 11));
    let fetched = http.get(&url).send().await.unwrap();
    let fetched = (fetched.status().as_u16(), fetched.text().await.unwrap());
    assert_eq!(refused(fetched), (405, 11));
    daemon.stop().await;
}

/// Idle connections cannot hold a push up: 900 opened and left silent against the real
/// binary with an open-file limit of 1024 (systemd's default), then a valid push is
/// answered, and the idle ones are closed by the receiver (evicted, or timed out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_never_hold_a_push_up() {
    let figures = crate::scenarios::idle_connections(900).await;
    eprintln!(
        "a push answered {} ms after 900 idle connections were opened; all of them closed by the receiver after {:.1} s",
        figures.answered_after.as_millis(),
        figures.all_closed_after.as_secs_f64()
    );
}
