//! The daemon under systemd's eye: the binary talks to a notify socket the test owns, as
//! it would to systemd's (`NOTIFY_SOCKET`, `WATCHDOG_USEC`); reloads, through SIGHUP and
//! in process.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcenter_simulator::{EXAMPLE_PASSWORD, Fault, Faults};
use voicecast::clock::{Clock, ManualClock};
use voicecast::domain::{CampaignState, RowState};

use crate::site::{
    Site, TEMPLATE, answering, calls_per_number, campaign_state, finished, most_in_a_second,
    wait_for_folders,
};
use crate::support::{
    eventually, eventually_explained, exited, lines_with, listen, signal, simulator,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_notifies_systemd_and_its_watchdog_pings_stop_when_dispatch_stalls() {
    let sim = simulator(answering(Duration::from_millis(50))).await;
    let site = Site::with_config(&format!(
        "[api]\nbase_url = \"{}\"\ncustomer = \"C2\"\nmode = \"v1\"\ntimeout_secs = 60\n\
         [limits]\nrate = 5\nmax_in_flight = 1\n\
         [dispatch]\ndrain_timeout_secs = 2\n\
         [reports]\ninterval_secs = 0.2\n\
         [campaign_defaults]\ncalling_hours = [\"00:00-24:00\"]\n\
         [log]\nlevel = \"warn\"\n",
        sim.base_url()
    ));
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("notify.sock");
    let received = listen(UnixDatagram::bind(&path).unwrap());
    // A watchdog of 3 s: pings every 1.5 s while dispatch's loop (which turns at least once
    // a second) has turned within 1.5 s.
    let mut child = site
        .command_for_run()
        .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "3000000")
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "READY=1", || async {
        (!lines_with(&received, "READY=1").is_empty()).then_some(())
    })
    .await;
    wait_for_folders(&site).await;
    site.drop_in("svc", 500);
    let status = eventually(
        Duration::from_secs(20),
        "a STATUS= of the campaign",
        || async {
            lines_with(&received, "STATUS=")
                .into_iter()
                .find(|(_, line)| line.contains("1 running"))
        },
    )
    .await;
    eprintln!("{}", status.1);
    assert!(
        status.1.contains("rows final; account active"),
        "{}",
        status.1
    );
    eventually(Duration::from_secs(20), "two watchdog pings", || async {
        (lines_with(&received, "WATCHDOG=1").len() >= 2).then_some(())
    })
    .await;

    // Every request now hangs (for the 60 s timeout): the one in flight holds dispatch,
    // its loop stops turning, and the pings must stop.
    sim.set_faults(Faults::always(Fault::Hang));
    let stalled = eventually(Duration::from_secs(30), "the pings to stop", || async {
        let last = lines_with(&received, "WATCHDOG=1").last().unwrap().0;
        (last.elapsed() > Duration::from_secs(4)).then_some(last)
    })
    .await;
    let pings_then = lines_with(&received, "WATCHDOG=1").len();
    eprintln!(
        "{pings_then} watchdog pings, none in the last {:.1} s",
        stalled.elapsed().as_secs_f64()
    );
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "the daemon itself is still up"
    );

    let signalled = Instant::now();
    signal(&child, "TERM");
    let exit = exited(&mut child, Duration::from_secs(20)).await;
    assert!(exit.success(), "{exit}");
    let stopping = lines_with(&received, "STOPPING=1");
    assert_eq!(stopping.len(), 1, "STOPPING=1 once");
    assert!(stopping[0].0 >= signalled);
    assert_eq!(lines_with(&received, "WATCHDOG=1").len(), pings_then);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_new_rate_changes_the_dial_rate_and_no_row_is_lost_or_doubled() {
    const ROWS: usize = 250;
    let sim = simulator(answering(Duration::from_millis(50))).await;
    let config = |rate: u32| {
        format!(
            "[api]\nbase_url = \"{}\"\ncustomer = \"C2\"\nmode = \"v1\"\n\
             [limits]\nrate = {rate}\nburst = 1\n\
             [reconcile]\ninterval_secs = 0.5\n\
             [campaign_defaults]\ncalling_hours = [\"00:00-24:00\"]\n\
             [log]\nlevel = \"warn\"\n",
            sim.base_url()
        )
    };
    let site = Site::with_config(&config(20));
    let mut child = site.spawn_dialling().await;
    site.drop_in("hup", ROWS);
    eventually(
        Duration::from_secs(30),
        "twenty calls at 20 a second",
        || async { (sim.calls().len() >= 20).then_some(()) },
    )
    .await;
    // The new rate goes in the file as a person would write it, then SIGHUP.
    let text = std::fs::read_to_string(site.config_file()).unwrap();
    std::fs::write(
        site.config_file(),
        text.replace("rate = 20\n", "rate = 200\n"),
    )
    .unwrap();
    let reloaded_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    signal(&child, "HUP");
    let store = site.store();
    let counts = finished(&store, "hup", Duration::from_secs(60)).await;
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "SIGHUP does not stop the daemon"
    );
    signal(&child, "TERM");
    assert!(exited(&mut child, Duration::from_secs(20)).await.success());

    assert_eq!(counts, BTreeMap::from([(RowState::Answered, ROWS as u64)]));
    let per_number = calls_per_number(&sim);
    assert_eq!(per_number.len(), ROWS);
    assert!(
        per_number.values().all(|n| *n == 1),
        "a number called twice"
    );
    // The daemon's own send times: at most the old rate in any second before the reload,
    // at most the new one after it, and more than the old one once it applies. (The
    // polls of call records take cells of the same limit, so calls alone stay below it.)
    let (before, after): (Vec<i64>, Vec<i64>) = site
        .send_times()
        .into_iter()
        .partition(|t| *t < reloaded_at);
    let most_before = most_in_a_second(before);
    let most_after = most_in_a_second(after);
    eprintln!("most calls sent in a second: {most_before} before the reload, {most_after} after");
    assert!(most_before <= 20, "{most_before} in a second at rate 20");
    assert!(
        (21..=200).contains(&most_after),
        "{most_after} in a second at rate 200"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_the_default_calling_hours_reaches_campaigns_already_waiting() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let evening = crate::site::config(&sim, "v1", "[limits]\nrate = 200");
    let site = Site::with_config(&evening.replace(
        "calling_hours = [\"00:00-24:00\"]",
        "calling_hours = [\"09:00-20:00\"]",
    ));
    // 21:00 in Shanghai: after the default calling hours.
    let clock = Arc::new(ManualClock::new("2026-11-24T13:00:00Z".parse().unwrap()));
    let (daemon, reload) = site
        .start_reloading(crate::site::password_env(), clock as Arc<dyn Clock>)
        .await;
    site.drop_in("defaults", 20);
    site.drop_file(
        "own",
        Some(&format!("{TEMPLATE}calling_hours = [\"09:00-20:00\"]\n")),
        crate::site::call_list(10),
    );
    let store = site.store();
    let tomorrow = Some("outside calling hours until 2026-11-25 09:00 CST".to_string());
    for name in ["defaults", "own"] {
        eventually_explained(
            Duration::from_secs(20),
            "both campaigns to wait",
            || format!(": {name} is {:?}", campaign_state(&store, name)),
            || async {
                (campaign_state(&store, name) == Some((CampaignState::Waiting, tomorrow.clone())))
                    .then_some(())
            },
        )
        .await;
    }

    // Calling all day by default from now on; "own" keeps the hours its file sets.
    std::fs::write(site.config_file(), &evening).unwrap();
    reload
        .send(site.config(crate::site::password_env()))
        .await
        .unwrap();
    let counts = crate::site::finished(&store, "defaults", Duration::from_secs(30)).await;
    assert_eq!(counts, BTreeMap::from([(RowState::Answered, 20)]));
    assert_eq!(
        campaign_state(&store, "own"),
        Some((CampaignState::Waiting, tomorrow))
    );
    assert_eq!(
        sim.calls().len(),
        20,
        "only the campaign following the defaults dialled"
    );
    daemon.stop().await;
}
