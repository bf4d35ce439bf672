//! The measured faults of issue 20, measured again: each prints its figures. Only the
//! guarantees (no number called twice, no row lost) are asserted; the figures are read.

use std::time::Duration;

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
