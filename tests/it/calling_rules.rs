//! The calling rules as the vendor sees them: per-number caps across campaigns and
//! restarts, and the vendor's refusals of frequency (409, 410) and time (429).

use std::collections::BTreeMap;
use std::time::Duration;

use callcenter_simulator::{OutcomeWeights, SimulatorOptions};
use voicecast::domain::{CampaignState, RowState};

use crate::scenarios::shared_numbers;
use crate::site::{Site, calls_per_number, campaign_state, command, config, finished, start};
use crate::support::{eventually, quick_calls, simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_campaigns_sharing_numbers_never_call_one_twice_within_its_cap() {
    let figures = shared_numbers(50, "2s", false).await;
    assert!(figures.shortest_gap >= Duration::from_secs(2));
    assert!(figures.most_held > 0, "rows were seen held by the cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_across_a_kill_and_a_restart() {
    let figures = shared_numbers(50, "2s", true).await;
    assert!(figures.shortest_gap >= Duration::from_secs(2));
}

/// A simulator whose calls all end as `outcomes` says, their records visible at once.
async fn ending(outcomes: &str) -> callcenter_simulator::Simulator {
    simulator(SimulatorOptions {
        outcomes: OutcomeWeights::parse(outcomes).unwrap(),
        cdr_delay: Duration::ZERO,
        ..quick_calls()
    })
    .await
}

/// Each row's state, attempts and 409 refusals, in row order.
fn rows(site: &Site) -> Vec<(String, i64, i64)> {
    let connection = rusqlite::Connection::open(site.database()).unwrap();
    let mut statement = connection
        .prepare("SELECT state, attempts, refusals FROM rows ORDER BY id")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Cause 409 (the callee was called too often) sends the row back uncounted after the
/// longest cap's window, three times; the fourth refusal makes it `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_refused_for_frequency_comes_back_three_times_then_fails() {
    let sim = ending("callee_frequency=1").await;
    let site = Site::with_config(&config(
        &sim,
        "v1",
        "[limits]\nrate = 200\nper_number = [\"1/300ms\"]",
    ));
    let daemon = start(&site).await;
    site.drop_in("refused", 3);
    let store = site.store();
    let counts = finished(&store, "refused", Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_eq!(counts, BTreeMap::from([(RowState::Failed, 3)]));
    assert!(calls_per_number(&sim).values().all(|calls| *calls == 4));
    assert_eq!(rows(&site), vec![("failed".to_string(), 1, 4); 3]);
}

/// Cause 410 (the caller calls too often) sends the row back at once, uncounted, and
/// halves the rate.
#[tokio::test]
async fn a_caller_refused_for_frequency_is_dialled_again_at_a_lower_rate() {
    let (log, _guard) = crate::support::LogSink::capture(tracing::Level::INFO);
    let sim = ending("caller_frequency=1").await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 200"));
    let daemon = start(&site).await;
    site.drop_in("caller", 5);
    eventually(Duration::from_secs(20), "the rate halved", || async {
        log.text().contains("rate is halved").then_some(())
    })
    .await;
    sim.set_outcomes(OutcomeWeights::parse("answered=1").unwrap());
    let store = site.store();
    let counts = finished(&store, "caller", Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, 5)]));
    assert!(calls_per_number(&sim).values().all(|calls| *calls >= 2));
    assert_eq!(rows(&site), vec![("answered".to_string(), 1, 0); 5]);
}

/// Cause 429 (outside the vendor's service hours) sends the row back uncounted and holds
/// all dialling for 30 minutes, the account `waiting`, across a restart, until it is over
/// or `voicecast resume --account`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_service_hours_holds_all_dialling_until_its_time_is_up() {
    let sim = ending("service_hours=1").await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 200"));
    let daemon = start(&site).await;
    site.drop_in("late", 5);
    let store = site.store();
    let reason = eventually(Duration::from_secs(20), "the campaign to wait", || async {
        match campaign_state(&store, "late") {
            Some((CampaignState::Waiting, Some(reason))) => Some(reason),
            _ => None,
        }
    })
    .await;
    assert!(reason.starts_with("account waiting: "), "{reason}");
    assert!(reason.contains("429"), "{reason}");
    let account = eventually(Duration::from_secs(20), "the account waiting", || async {
        let path = site.folder("reports").join("status.json");
        let status: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        (status["account"]["state"] == "waiting").then_some(status)
    })
    .await;
    assert!(
        account["account"]["reason"]
            .as_str()
            .unwrap()
            .contains("429")
    );
    // The wait is kept for its time: 30 minutes from the refusal.
    let connection = rusqlite::Connection::open(site.database()).unwrap();
    let kept: String = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'account_wait'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let until_ms: i64 = kept.split_once(' ').unwrap().0.parse().unwrap();
    let left = until_ms - voicecast::store::now_ms();
    assert!(
        (29 * 60_000..=30 * 60_000).contains(&left),
        "{left} ms left"
    );
    let refused = sim.calls().len();
    assert!(
        rows(&site)
            .iter()
            .all(|(state, attempts, _)| state == "pending" && *attempts == 0)
    );
    // A restart keeps waiting.
    daemon.stop().await;
    let daemon = start(&site).await;
    eventually(
        Duration::from_secs(20),
        "the campaign still waiting",
        || async {
            let (state, reason) = campaign_state(&store, "late")?;
            (state == CampaignState::Waiting && reason?.starts_with("account waiting"))
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        sim.calls().len(),
        refused,
        "no call while the account waits"
    );
    sim.set_outcomes(OutcomeWeights::parse("answered=1").unwrap());
    command(&site, &["resume", "--account"]);
    let counts = finished(&store, "late", Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, 5)]));
    assert_eq!(rows(&site), vec![("answered".to_string(), 1, 0); 5]);
}

/// A campaign whose answer rate is below `min_answer_rate` once 200 call records have
/// come pauses, saying why; `voicecast resume NAME` resumes it and starts the count over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_below_its_answer_rate_pauses_and_a_resume_starts_the_count_over() {
    let sim = ending("no_answer=1").await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 100"));
    let daemon = start(&site).await;
    site.drop_file(
        "quiet",
        Some(&format!(
            "{}min_answer_rate = 0.5\nmax_attempts = 1\n",
            crate::site::TEMPLATE
        )),
        crate::site::call_list(600),
    );
    let store = site.store();
    let reason = eventually(Duration::from_secs(30), "the campaign paused", || async {
        match campaign_state(&store, "quiet") {
            Some((CampaignState::Paused, reason)) => reason,
            _ => None,
        }
    })
    .await;
    assert!(
        reason.starts_with("the answer rate is 0.0% over ")
            && reason.contains("min_answer_rate 50.0%"),
        "{reason}"
    );
    let records = |site: &Site| -> (i64, i64) {
        let connection = rusqlite::Connection::open(site.database()).unwrap();
        connection
            .query_row(
                "SELECT guard_records, guard_answered FROM campaigns WHERE name = 'quiet'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert!(records(&site).0 >= 200);
    let pending = store.row_counts("quiet").unwrap()[&RowState::Pending];
    assert!(pending > 0, "rows were left when it paused");
    // The callees answer from now on; the resume starts the count over, so the old
    // records do not pause it again.
    sim.set_outcomes(OutcomeWeights::parse("answered=1").unwrap());
    command(&site, &["resume", "quiet"]);
    let counts = finished(&store, "quiet", Duration::from_secs(30)).await;
    daemon.stop().await;
    // Had the count not started over, the old records (none answered) would have paused
    // it again at once, and it would not have finished.
    let answered = counts[&RowState::Answered];
    assert!(answered >= pending, "{counts:?}");
    assert_eq!(answered + counts[&RowState::NoAnswer], 600);
    // The count since the resume: the 200 and more unanswered records before it are
    // gone from it.
    let (records, answered_records) = records(&site);
    assert!(answered_records > 0 && answered_records as u64 <= answered);
    assert!(
        records - answered_records < 100,
        "{records} {answered_records}"
    );
}
