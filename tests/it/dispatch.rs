//! The whole daemon against the simulator: campaigns dialled to the end in v1 and v2,
//! every row final and exactly one call per number through vendor faults, the account
//! halted and resumed, pause, resume and cancel, calling hours on an injected clock, and a
//! new list looked at as soon as it is accepted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use callcenter_simulator::{Fault, Faults, Outcome, Simulator, SimulatorOptions};
use voicecast::clock::{Clock, ManualClock};
use voicecast::domain::{CampaignState, RowState};

use crate::site::{
    Site, TEMPLATE, answering, calls_per_number, campaign_state, command, config, finished,
    password_env, start,
};
use crate::support::{eventually, eventually_explained, quick_calls, simulator};

/// The row state each number's last call at the simulator stands for.
fn expected_states(simulator: &Simulator) -> BTreeMap<RowState, u64> {
    let mut last: HashMap<String, Outcome> = HashMap::new();
    for call in simulator.calls() {
        last.insert(call.callee, call.outcome);
    }
    let mut counts = BTreeMap::new();
    for outcome in last.values() {
        let state = match outcome {
            Outcome::Answered => RowState::Answered,
            Outcome::NoAnswer => RowState::NoAnswer,
            Outcome::Busy => RowState::Busy,
            Outcome::Empty => RowState::InvalidNumber,
            Outcome::Failed => RowState::Failed,
            Outcome::CalleeFrequency | Outcome::CallerFrequency | Outcome::ServiceHours => {
                unreachable!("the simulator refuses no call unless told to")
            }
        };
        *counts.entry(state).or_insert(0) += 1;
    }
    counts
}

async fn a_campaign_reaches_all_final(mode: &str) {
    let sim = simulator(SimulatorOptions {
        cdr_delay: Duration::from_millis(100),
        ..quick_calls()
    })
    .await;
    let site = Site::with_config(&config(
        &sim,
        mode,
        "[limits]\nrate = 1000\nmax_in_flight = 16",
    ));
    let daemon = start(&site).await;
    site.drop_in("all", 1_000);
    let counts = finished(&site.store(), "all", Duration::from_secs(60)).await;
    daemon.stop().await;
    assert_eq!(counts, expected_states(&sim), "mode {mode}");
    assert_eq!(counts.values().sum::<u64>(), 1_000);
    // Retried classes were called at most twice (max_attempts = 2), the others once.
    assert!(calls_per_number(&sim).values().all(|n| *n <= 2));
    assert_eq!(calls_per_number(&sim).len(), 1_000);
    assert_eq!(
        site.store().campaigns().unwrap()[0].state,
        CampaignState::Finished
    );
    assert!(site.folder("done").join("all.csv").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_reaches_all_final_in_v1() {
    a_campaign_reaches_all_final("v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_reaches_all_final_in_v2() {
    a_campaign_reaches_all_final("v2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_vendor_faults_every_number_is_called_exactly_once() {
    let sim = simulator(SimulatorOptions {
        faults: Faults {
            rates: vec![
                (Fault::ServerErrorBefore, 0.05),
                (Fault::ServerErrorAfter, 0.05),
                (Fault::Hang, 0.10),
                (Fault::Garbage, 0.10),
                (Fault::VendorError4, 0.05),
            ],
        },
        ..answering(Duration::from_millis(100))
    })
    .await;
    let site = Site::with_config(&config(
        &sim,
        "v1",
        "[limits]\nrate = 1000\nmax_in_flight = 128",
    ));
    let daemon = start(&site).await;
    site.drop_in("faults", 1_000);
    let counts = finished(&site.store(), "faults", Duration::from_secs(120)).await;
    daemon.stop().await;
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, 1_000)]));
    let calls = calls_per_number(&sim);
    assert_eq!(calls.len(), 1_000, "every number called");
    let doubled: Vec<_> = calls.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "numbers called twice: {doubled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_hours_hold_a_campaign_until_its_window_on_the_injected_clock() {
    let sim = simulator(SimulatorOptions {
        cdr_delay: Duration::ZERO,
        ..quick_calls()
    })
    .await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 200"));
    // 08:59 in Shanghai.
    let clock = Arc::new(ManualClock::new("2026-11-24T00:59:00Z".parse().unwrap()));
    let daemon = site
        .start_with_clock(password_env(), clock.clone() as Arc<dyn Clock>)
        .await;
    site.drop_file(
        "morning",
        Some(&format!("{TEMPLATE}calling_hours = [\"09:00-20:00\"]\n")),
        crate::site::call_list(20),
    );
    let store = site.store();
    let reason = eventually(Duration::from_secs(20), "the campaign to wait", || async {
        let campaigns = store.campaigns().unwrap();
        let c = campaigns.iter().find(|c| c.name == "morning")?;
        (c.state == CampaignState::Waiting).then(|| c.state_reason.clone())
    })
    .await;
    assert_eq!(
        reason.as_deref(),
        Some("outside calling hours until 2026-11-24 09:00 CST")
    );
    assert!(sim.calls().is_empty(), "nothing dialled before 09:00");
    clock.advance(Duration::from_secs(60));
    finished(&store, "morning", Duration::from_secs(30)).await;
    daemon.stop().await;
    assert_eq!(calls_per_number(&sim).len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel_through_the_command_line() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let site = Site::with_config(&config(&sim, "v1", "[limits]\nrate = 40"));
    let daemon = start(&site).await;
    site.drop_in("slow", 300);
    let store = site.store();
    let explain = || {
        let inbox: Vec<_> = std::fs::read_dir(site.folder("inbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let counts = store.row_counts("slow");
        format!(": {:?} {counts:?} inbox {inbox:?}", store.campaigns())
    };
    eventually_explained(
        Duration::from_secs(20),
        "the first calls",
        explain,
        || async { (sim.calls().len() >= 10).then_some(()) },
    )
    .await;
    command(&site, &["pause", "slow"]);
    let (_, reason) = eventually(Duration::from_secs(10), "the pause", || async {
        campaign_state(&store, "slow").filter(|(s, _)| *s == CampaignState::Paused)
    })
    .await;
    assert!(
        reason
            .unwrap()
            .starts_with("paused by control/slow.pause at ")
    );
    assert!(
        !site.folder("control").join("slow.pause").exists(),
        "consumed"
    );
    // Calls in flight settle; then nothing more is dialled while reconcile keeps polling.
    eventually(
        Duration::from_secs(10),
        "calls in flight to settle",
        || async {
            let counts = store.row_counts("slow").unwrap();
            let open = [RowState::Sending, RowState::Accepted, RowState::Unknown];
            open.iter().all(|s| !counts.contains_key(s)).then_some(())
        },
    )
    .await;
    let placed = sim.calls().len();
    command(&site, &["resume", "slow"]);
    eventually(Duration::from_secs(10), "dialling to resume", || async {
        (sim.calls().len() > placed).then_some(())
    })
    .await;
    command(&site, &["cancel", "slow"]);
    let counts = eventually(Duration::from_secs(20), "the cancel to settle", || async {
        let counts = store.row_counts("slow").unwrap();
        let settled = site.folder("done").join("slow.csv").is_file();
        settled.then_some(counts)
    })
    .await;
    daemon.stop().await;
    let (state, reason) = campaign_state(&store, "slow").unwrap();
    assert_eq!(state, CampaignState::Cancelled);
    assert!(
        reason
            .unwrap()
            .starts_with("cancelled by control/slow.cancel at ")
    );
    let called = sim.calls().len() as u64;
    assert_eq!(
        counts.get(&RowState::Answered).copied().unwrap_or(0),
        called
    );
    assert_eq!(counts[&RowState::Cancelled], 300 - called);
}

/// A list accepted while dispatch waits is looked at because it was accepted (the store
/// signals it), not at dispatch's next look at the campaigns a second later.
#[tokio::test]
async fn an_accepted_list_is_looked_at_at_once() {
    let (log, _guard) = crate::support::LogSink::capture(tracing::Level::DEBUG);
    let sim = simulator(answering(Duration::from_millis(50))).await;
    let site = Site::with_config(&config(&sim, "v1", ""));
    let daemon = start(&site).await;
    // Dispatch has looked at the (no) campaigns once, and now waits.
    eventually(Duration::from_secs(20), "dispatch's first look", || async {
        log.text()
            .contains("Looking at the campaigns.")
            .then_some(())
    })
    .await;
    site.drop_in("prompt", 3);
    let store = site.store();
    finished(&store, "prompt", Duration::from_secs(20)).await;
    daemon.stop().await;
    assert!(
        log.text()
            .lines()
            .any(|l| l.contains("Looking at the campaigns.")
                && l.contains("a campaign was accepted")),
        "no look at the campaigns for the accepted list"
    );
}
