//! The measured faults of issue 20, measured again: each prints its figures. Only the
//! guarantees (no number called twice, no row lost) are asserted; the figures are read.

use std::time::Duration;

use callcenter_simulator::EXAMPLE_PASSWORD;
use rand::RngExt;

use crate::scenarios::seeded_rng;
use crate::site::{
    Site, TEMPLATE, answering, config, config_at, most_in_a_second, wait_for_folders,
};
use crate::support::{eventually, exited, free_port, signal, simulator, voicecast};

/// A store on a full file system for 30 s, as the hostile run held it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_for_thirty_seconds() {
    let figures = crate::scenarios::full_disk(Duration::from_secs(30)).await;
    println!(
        "FIGURES full disk: held {:.1} s; {:.2}% of a core; {} log lines of the failure, {} bytes of log; the next call {} ms after the space came back",
        figures.full_for.as_secs_f64(),
        figures.core_share * 100.0,
        figures.log_lines,
        figures.log_bytes,
        figures.resumed_after.as_millis()
    );
}

/// 900 idle connections against the push receiver of a daemon limited to 1024 files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_after_nine_hundred_idle_connections() {
    let figures = crate::scenarios::idle_connections(900).await;
    println!(
        "FIGURES push receiver: a valid push answered {} ms after 900 idle connections were opened; the last idle one closed after {:.1} s",
        figures.answered_after.as_millis(),
        figures.all_closed_after.as_secs_f64()
    );
}

/// A minute of dialling at `rate = 20`, `burst = 1`, in v1 and then in v2: the calls
/// a second the vendor saw, the gaps between them, and the most calls any half-open second
/// held, as sent (the daemon's send times) and as received. The vendor is the release
/// simulator in a process of its own, as a real one is elsewhere: one built for tests
/// in this process would take the daemon's processor time (and its wake-ups) with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_at_rate_twenty() {
    // One after the other, so neither daemon takes the other's processor time.
    let v1 = dial_a_minute("v1").await;
    let v2 = dial_a_minute("v2").await;
    for (mode, figures) in [("v1", v1), ("v2", v2)] {
        println!(
            "FIGURES rate 20 {mode}: {:.2} calls a second over 60 s ({:+.2}% of the rate); gaps median {} ms, mean {:.1} ms; at most {} in a second as sent, {} as received",
            figures.per_sec,
            (figures.per_sec / 20.0 - 1.0) * 100.0,
            figures.median_gap,
            figures.mean_gap,
            figures.most_sent,
            figures.most_received
        );
        assert!(figures.most_sent <= 20);
    }
}

struct RateFigures {
    per_sec: f64,
    median_gap: u64,
    mean_gap: f64,
    most_sent: usize,
    most_received: usize,
}

async fn dial_a_minute(mode: &str) -> RateFigures {
    let folder = tempfile::tempdir().unwrap();
    let vendor = VendorProcess::start(folder.path()).await;
    let site = Site::with_config(&format!(
        "{}\n[log]\nlevel = \"warn\"\n",
        config_at(
            &vendor.base_url,
            mode,
            "batch_size = 10\n[limits]\nrate = 20\nburst = 1"
        )
    ));
    // Polls take cells of the same rate: every 30 s, as a daemon with the default settings
    // polls, they cost the calls a few cells a minute. The reports too are written as
    // often as by default: each round syncs its files to the disk the store is on.
    let mut child = site
        .command_for_run()
        .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
        .env("VOICECAST_RECONCILE__INTERVAL_SECS", "30")
        .env("VOICECAST_REPORTS__INTERVAL_SECS", "5")
        .spawn()
        .unwrap();
    wait_for_folders(&site).await;
    site.drop_in("minute", 1_400);
    // Counted at the vendor: the daemon's attempts run ahead of its calls.
    eventually(Duration::from_secs(120), "62 s of calls", || async {
        (vendor.calls_placed() >= 20 * 62 + 10).then_some(())
    })
    .await;
    signal(&child, "TERM");
    assert!(exited(&mut child, Duration::from_secs(30)).await.success());
    let mut arrived = vendor.stop_and_read_arrivals();
    arrived.sort_unstable();
    // The 60 s after the first second, so the start-up is left out.
    let from = arrived[0] + 1_000;
    let minute: Vec<i64> = arrived
        .iter()
        .copied()
        .filter(|t| (from..from + 60_000).contains(t))
        .collect();
    let mut gaps: Vec<i64> = minute.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    RateFigures {
        per_sec: minute.len() as f64 / 60.0,
        median_gap: gaps[gaps.len() / 2] as u64,
        mean_gap: gaps.iter().sum::<i64>() as f64 / gaps.len() as f64,
        most_sent: most_in_a_second(site.send_times()),
        most_received: most_in_a_second(arrived),
    }
}

/// `voicecast simulator` in a process of its own, every call answered, writing each call
/// it places to its call log (JSON lines, with the time it was placed).
struct VendorProcess {
    child: std::process::Child,
    calls: std::path::PathBuf,
    base_url: String,
}

impl VendorProcess {
    async fn start(folder: &std::path::Path) -> VendorProcess {
        let port = free_port();
        let calls = folder.join("calls.jsonl");
        let child = voicecast()
            .arg("simulator")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--outcomes", "answered=1", "--cdr-delay-ms", "200"])
            .args(["--call-time-scale", "0"])
            .arg("--call-log")
            .arg(&calls)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        eventually(
            Duration::from_secs(20),
            "the simulator listening",
            || async { std::net::TcpStream::connect(("127.0.0.1", port)).ok() },
        )
        .await;
        VendorProcess {
            child,
            calls,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// How many calls it has placed so far.
    fn calls_placed(&self) -> usize {
        std::fs::read_to_string(&self.calls).map_or(0, |log| log.lines().count())
    }

    /// Stops it, and returns when each call was placed (milliseconds since the epoch).
    fn stop_and_read_arrivals(mut self) -> Vec<i64> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::fs::read_to_string(&self.calls)
            .unwrap()
            .lines()
            .map(|line| {
                let call: serde_json::Value = serde_json::from_str(line).unwrap();
                call["placed_at_ms"].as_i64().unwrap()
            })
            .collect()
    }
}

/// Twenty small call lists renamed into the inbox of an idle daemon, each at a random
/// moment: the time from the rename to the list's first call at the vendor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_call_of_a_new_list() {
    let sim = simulator(answering(Duration::from_millis(100))).await;
    let site = Site::with_config(&format!(
        "{}\n[log]\nlevel = \"warn\"\n",
        config(&sim, "v1", "[limits]\nrate = 50")
    ));
    let mut child = site
        .command_for_run()
        .env("VOICECAST_API__PASSWORD", EXAMPLE_PASSWORD)
        .spawn()
        .unwrap();
    wait_for_folders(&site).await;
    let mut rng = seeded_rng();
    let mut latencies = Vec::new();
    for list in 0..20 {
        // A random moment, so a periodic look would show in the spread.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1000))).await;
        let mut csv = String::from("手机号,姓名,1,订单号\n");
        for n in 0..5 {
            csv.push_str(&format!("139{list:04}{n:04},客户{n},客户{n},SF{n:010}\n"));
        }
        let prefix = format!("139{list:04}");
        let renamed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        site.drop_file(&format!("list{list}"), Some(TEMPLATE), csv);
        let first = eventually(Duration::from_secs(20), "the list's first call", || async {
            sim.calls()
                .iter()
                .filter(|c| c.callee.starts_with(&prefix))
                .map(|c| c.placed_at_ms)
                .min()
        })
        .await;
        latencies.push(first.saturating_sub(renamed));
    }
    signal(&child, "TERM");
    assert!(exited(&mut child, Duration::from_secs(30)).await.success());
    latencies.sort_unstable();
    println!(
        "FIGURES new list: from the rename to the first call, min {} ms, median {} ms, max {} ms (20 lists)",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}
