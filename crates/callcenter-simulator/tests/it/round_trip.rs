//! The client against the simulator: every API round-trips, batches are matched by seq,
//! and paging through startKey hands out each record once.

use std::collections::HashMap;
use std::time::Duration;

use callcenter_openapi::{CdrLookup, CdrPager, CdrQuery, NotifyEndpoint, VendorError};
use callcenter_simulator::{CdrOrder, SimulatorOptions, TemplateReview};

use crate::support::{client, command, eventually, fast_options, simulator};

fn all_day() -> CdrQuery {
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let now = jiff::Timestamp::now();
    CdrQuery {
        start_time: callcenter_openapi::time::format(now - Duration::from_secs(3600), &zone),
        end_time: callcenter_openapi::time::format(now + Duration::from_secs(3600), &zone),
        ..CdrQuery::default()
    }
}

#[tokio::test]
async fn every_api_round_trips() {
    let sim = simulator(SimulatorOptions {
        templates: TemplateReview::Hold,
        ..fast_options()
    })
    .await;
    let client = client(&sim);

    let id = client
        .upload_template("快递提醒", "{1}您好，您的快递已到{2}。")
        .await
        .unwrap();
    let rows = client.templates().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id.as_str(), rows[0].verify_status.as_str()),
        (id.as_str(), "2")
    );
    sim.review_template(id.parse().unwrap(), true, "").unwrap();
    assert_eq!(
        client.template_page(1, 10).await.unwrap().rows[0].verify_status,
        "1"
    );
    assert_eq!(
        client
            .edit_template(&id, None, Some("{1}您好，请取件。"))
            .await
            .unwrap(),
        id
    );
    let edited = &client.templates().await.unwrap()[0];
    assert_eq!(
        (edited.content.as_str(), edited.verify_status.as_str()),
        ("{1}您好，请取件。", "2")
    );

    let v1 = command(1);
    assert_eq!(
        client
            .voice_notify(NotifyEndpoint::Standard, std::slice::from_ref(&v1))
            .await,
        vec![Ok(())]
    );
    let v2 = command(2);
    assert_eq!(
        client
            .voice_notify(NotifyEndpoint::HighPerformance, std::slice::from_ref(&v2))
            .await,
        vec![Ok(())]
    );
    let calls = sim.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.user_data.as_str())
            .collect::<Vec<_>>(),
        [v1.user_data.as_str(), v2.user_data.as_str()]
    );

    let page = client.cdr_page(&all_day()).await.unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(page.records.iter().all(|r| r.service_type == "21"));
    let by_user_data = client
        .one_cdr(&CdrLookup::UserData(v1.user_data.clone()))
        .await
        .unwrap();
    assert_eq!(by_user_data.len(), 1);
    assert_eq!(by_user_data[0].callee, v1.callee);
    let session = by_user_data[0].session_id().to_string();
    assert_eq!(session, calls[0].session);
    let by_session = client.one_cdr(&CdrLookup::Session(session)).await.unwrap();
    assert_eq!(by_session[0].user_data, v1.user_data);
    assert!(
        client
            .one_cdr(&CdrLookup::UserData("vc-none".into()))
            .await
            .unwrap()
            .is_empty()
    );
    sim.stop().await;
}

#[tokio::test]
async fn records_appear_only_after_the_delay_and_outside_windows_are_not_listed() {
    let sim = simulator(SimulatorOptions {
        cdr_delay: Duration::from_millis(300),
        call_time_scale: 0.0,
        ..SimulatorOptions::default()
    })
    .await;
    let client = client(&sim);
    assert_eq!(
        client
            .voice_notify(NotifyEndpoint::Standard, &[command(7)])
            .await,
        vec![Ok(())]
    );
    assert!(
        client
            .cdr_page(&all_day())
            .await
            .unwrap()
            .records
            .is_empty()
    );
    eventually(Duration::from_secs(5), "the record", || async {
        (client.cdr_page(&all_day()).await.unwrap().records.len() == 1).then_some(())
    })
    .await;
    let yesterday = CdrQuery {
        start_time: "2020-01-01 00:00:00".into(),
        end_time: "2020-01-02 00:00:00".into(),
        ..CdrQuery::default()
    };
    assert!(
        client
            .cdr_page(&yesterday)
            .await
            .unwrap()
            .records
            .is_empty()
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_batch_of_50_with_3_invalid_places_47_matched_by_seq_even_shuffled() {
    let sim = simulator(SimulatorOptions {
        shuffle_responses: true,
        seed: 7,
        ..fast_options()
    })
    .await;
    let client = client(&sim);
    let mut commands: Vec<_> = (0..50).map(command).collect();
    commands[3].callee.clear();
    commands[20].content.clear();
    commands[41].cycle_play_times = "zero".into();
    let fates = client
        .voice_notify(NotifyEndpoint::HighPerformance, &commands)
        .await;
    let rejected: Vec<usize> = fates
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(rejected, [3, 20, 41]);
    for i in rejected {
        assert!(
            matches!(&fates[i], Err(VendorError::Permanent(_))),
            "{:?}",
            fates[i]
        );
        assert_eq!(fates[i].as_ref().unwrap_err().code(), Some(5));
    }
    let placed = sim.calls();
    assert_eq!(placed.len(), 47);
    let placed_seqs: Vec<&str> = placed.iter().map(|c| c.seq.as_str()).collect();
    for (i, c) in commands.iter().enumerate() {
        assert_eq!(
            placed_seqs.contains(&c.seq.as_str()),
            ![3, 20, 41].contains(&i),
            "command {i}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn paging_1234_records_in_descending_order_returns_each_once() {
    let sim = simulator(SimulatorOptions {
        cdr_order: CdrOrder::Descending,
        ..fast_options()
    })
    .await;
    let client = client(&sim);
    for batch in 0..25 {
        let commands: Vec<_> = (batch * 50..(batch * 50 + 50).min(1234))
            .map(command)
            .collect();
        if commands.is_empty() {
            break;
        }
        let fates = client
            .voice_notify(NotifyEndpoint::HighPerformance, &commands)
            .await;
        assert!(fates.iter().all(Result::is_ok));
    }
    let placed = sim.calls();
    assert_eq!(placed.len(), 1234);

    let first = client.cdr_page(&all_day()).await.unwrap();
    let keys: Vec<u64> = first
        .records
        .iter()
        .map(|r| r.key.parse().unwrap())
        .collect();
    assert_eq!(keys.len(), 500);
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "the page is in descending order"
    );

    let mut pager = CdrPager::new(all_day());
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut highest = 0;
    let mut pages = 0;
    while let Some(records) = pager.next_page(&client).await.unwrap() {
        pages += 1;
        for r in records {
            *seen.entry(r.session_id().to_string()).or_default() += 1;
            highest = highest.max(r.key.parse::<u64>().unwrap());
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 1234);
    assert!(seen.values().all(|n| *n == 1));
    assert!(placed.iter().all(|c| seen.contains_key(&c.session)));
    assert_eq!(pager.start_key(), Some(highest.to_string().as_str()));
    sim.stop().await;
}

#[tokio::test]
async fn the_call_log_and_the_admin_routes_count_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.jsonl");
    let sim = simulator(SimulatorOptions {
        call_log: Some(log.clone()),
        templates: TemplateReview::Hold,
        latency: (Duration::from_millis(5), Duration::from_millis(20)),
        ..fast_options()
    })
    .await;
    let client = client(&sim);
    let fates = client
        .voice_notify(
            NotifyEndpoint::HighPerformance,
            &[command(1), command(2), command(1)],
        )
        .await;
    assert!(fates.iter().all(Result::is_ok));
    let lines = std::fs::read_to_string(&log).unwrap();
    let logged: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged.len(), 3);
    let duplicates = logged
        .iter()
        .filter(|c| c["callee"] == logged[0]["callee"])
        .count();
    assert_eq!(duplicates, 2, "a duplicate call shows up in the log");

    let http = reqwest::Client::new();
    let calls: Vec<serde_json::Value> = http
        .get(format!("{}/simulator/calls", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls.len(), 3);

    let id = client.upload_template("t", "{1}您好").await.unwrap();
    let approve = format!("{}/simulator/templates/{id}/approve", sim.base_url());
    let row: serde_json::Value = http
        .post(&approve)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(row["verifyStatus"], "1");
    assert_eq!(client.templates().await.unwrap()[0].verify_status, "1");
    let missing = http
        .post(format!(
            "{}/simulator/templates/999/approve",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    sim.stop().await;
}
