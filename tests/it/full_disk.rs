//! A store that cannot be written: the real binary on a full file system.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_told_everywhere_logged_once_and_survived() {
    let figures = crate::scenarios::full_disk(Duration::ZERO).await;
    eprintln!(
        "full for {:.1} s: {:.1}% of a core, {} log lines of the failure, {} bytes of log; resumed {} ms after the space came back",
        figures.full_for.as_secs_f64(),
        figures.core_share * 100.0,
        figures.log_lines,
        figures.log_bytes,
        figures.resumed_after.as_millis()
    );
    // Each place that writes the store logs a distinct failure at most once a minute.
    assert!(figures.log_lines <= 6, "{} lines", figures.log_lines);
}
