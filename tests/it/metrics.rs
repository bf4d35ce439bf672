//! `/metrics` and `/healthz` on `[metrics] listen` (PRODUCT.md section 9): after a
//! campaign the call and outcome counters equal what the simulator and the rows say,
//! before and after a restart; `promtool check metrics` passes them; no label carries a
//! phone number; `/healthz` is 503 while dispatch's loop is stalled.

use std::collections::BTreeMap;
use std::time::Duration;

use callcenter_simulator::{EXAMPLE_PASSWORD, Fault, Faults, OutcomeWeights, SimulatorOptions};

use crate::site::{Site, TEMPLATE, call_list, config, finished, start, wait_for_folders};
use crate::support::{eventually, free_port, quick_calls, simulator};

/// The text `/metrics` serves at `port`; `None` while the daemon is not listening yet.
async fn scrape(port: u16) -> Option<String> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    Some(response.text().await.unwrap())
}

/// The value of the sample `series` (its name with its labels, as written) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

/// Every label value in `text`.
fn label_values(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| Some(line.split_once('{')?.1.rsplit_once('}')?.0))
        .flat_map(|labels| {
            labels
                .split("\",")
                .filter_map(|pair| {
                    Some(pair.split_once("=\"")?.1.trim_end_matches('"').to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The counters the store's facts say the metrics must show: calls placed, and records
/// by outcome (with one call a row, each row's final state is its record's outcome).
fn stored_counts(site: &Site) -> (f64, BTreeMap<String, f64>) {
    let db = rusqlite::Connection::open(site.database()).unwrap();
    let calls: i64 = db
        .query_row("SELECT sum(attempts) FROM rows", [], |r| r.get(0))
        .unwrap();
    let mut statement = db
        .prepare("SELECT state, count(*) FROM rows WHERE attempts > 0 GROUP BY state")
        .unwrap();
    let outcomes = statement
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as f64))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (calls as f64, outcomes)
}

fn shown_counts(text: &str, outcomes: &BTreeMap<String, f64>) -> (f64, BTreeMap<String, f64>) {
    let calls = sample(text, "voicecast_calls_total{campaign=\"june\"}").unwrap_or(-1.0);
    let shown = outcomes
        .keys()
        .map(|outcome| {
            let series =
                format!("voicecast_call_outcomes_total{{campaign=\"june\",outcome=\"{outcome}\"}}");
            (outcome.clone(), sample(text, &series).unwrap_or(-1.0))
        })
        .collect();
    (calls, shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_campaign_and_a_restart_the_counters_equal_the_stores_counts() {
    let sim = simulator(SimulatorOptions {
        outcomes: OutcomeWeights::parse("answered=6,no_answer=2,busy=1,empty=1").unwrap(),
        cdr_delay: Duration::from_millis(50),
        ..quick_calls()
    })
    .await;
    let port = free_port();
    let site = Site::with_config(&config(
        &sim,
        "v1",
        &format!("[limits]\nrate = 200\n[metrics]\nlisten = \"127.0.0.1:{port}\""),
    ));
    let daemon = start(&site).await;
    site.drop_file(
        "june",
        Some(&format!("{TEMPLATE}max_attempts = 1\n")),
        call_list(60),
    );
    finished(&site.store(), "june", Duration::from_secs(60)).await;
    let (calls, outcomes) = stored_counts(&site);
    assert_eq!(calls as usize, sim.calls().len());
    assert!(outcomes.len() >= 3, "{outcomes:?}");
    let text = eventually(
        Duration::from_secs(20),
        "the counters of the finished campaign",
        || async {
            let text = scrape(port).await?;
            (shown_counts(&text, &outcomes) == (calls, outcomes.clone())).then_some(text)
        },
    )
    .await;
    for line in [
        "voicecast_vendor_requests_total{api=\"voiceNotify\",result=\"ok\"}",
        "voicecast_vendor_request_duration_seconds_count{api=\"getCdrList\"}",
        "voicecast_rows{campaign=\"june\",state=\"answered\"}",
        "voicecast_rows_dialable{campaign=\"june\"} 0",
        "voicecast_account_halted 0",
        "voicecast_rate_limit_calls_per_second 200",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    // No label value is a phone number, or holds one.
    let callees: Vec<String> = sim.calls().into_iter().map(|c| c.callee).collect();
    for value in label_values(&text) {
        assert!(
            !callees.iter().any(|callee| value.contains(callee.as_str()))
                && !value
                    .split(|c: char| !c.is_ascii_digit())
                    .any(|run| run.len() >= 7),
            "a label holds a phone number: {value}"
        );
    }
    promtool_check(&text);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let other = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    daemon.stop().await;

    // After a restart the counters still equal the store's.
    let daemon = start(&site).await;
    eventually(
        Duration::from_secs(20),
        "the counters after a restart",
        || async {
            let text = scrape(port).await?;
            (shown_counts(&text, &outcomes) == (calls, outcomes.clone())).then_some(())
        },
    )
    .await;
    daemon.stop().await;
}

/// Runs `promtool check metrics` on `text`.
fn promtool_check(text: &str) {
    promtool(&["check", "metrics"], text);
}

/// Runs promtool with `args` and `stdin`, and asserts it passed, when promtool is
/// installed (`.ci/run` installs it and sets `VOICECAST_REQUIRE_PROMTOOL=1`, which makes
/// it mandatory).
fn promtool(args: &[&str], stdin: &str) {
    use std::io::Write;
    let spawned = std::process::Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/prometheus"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if std::env::var_os("VOICECAST_REQUIRE_PROMTOOL").is_none() => {
            eprintln!("promtool is not installed ({error}): promtool {args:?} was not run");
            return;
        }
        Err(error) => panic!("promtool: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool {args:?}: {}{}\n{stdin}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_example_alert_rules_check_and_stay_quiet_at_night() {
    promtool(&["check", "rules", "voicecast.rules.yml"], "");
    promtool(&["test", "rules", "voicecast.rules.test.yml"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_with_the_reason_while_dispatch_is_stalled() {
    let sim = simulator(SimulatorOptions {
        cdr_delay: Duration::from_millis(50),
        ..quick_calls()
    })
    .await;
    let port = free_port();
    let site = Site::with_config(&format!(
        "[api]\nbase_url = \"{}\"\ncustomer = \"C2\"\nmode = \"v1\"\ntimeout_secs = 60\n\
         [limits]\nrate = 5\nmax_in_flight = 1\n\
         [dispatch]\ndrain_timeout_secs = 1\n\
         [metrics]\nlisten = \"127.0.0.1:{port}\"\n\
         [campaign_defaults]\ncalling_hours = [\"00:00-24:00\"]\n\
         [log]\nlevel = \"warn\"\n",
        sim.base_url()
    ));
    // A watchdog of 2 s: dispatch's loop, which turns at least once a second, is stalled
    // once it has not turned for 1 s.
    let mut child = site
        .command_for_run()
        .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
        .env("WATCHDOG_USEC", "2000000")
        .spawn()
        .unwrap();
    wait_for_folders(&site).await;
    site.drop_in("svc", 500);
    let health = || async move {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .ok()?;
        Some((response.status().as_u16(), response.text().await.ok()?))
    };
    eventually(
        Duration::from_secs(20),
        "a healthy daemon dialling",
        || async { (health().await?.0 == 200 && !sim.calls().is_empty()).then_some(()) },
    )
    .await;
    // Every request now hangs (for the 60 s timeout): dispatch's loop stops turning.
    sim.set_faults(Faults::always(Fault::Hang));
    let (_, reason) = eventually(Duration::from_secs(30), "503 from /healthz", || async {
        health().await.filter(|(status, _)| *status == 503)
    })
    .await;
    assert!(
        reason.starts_with("dispatch's loop has made no progress for "),
        "{reason}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
