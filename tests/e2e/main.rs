//! The end-to-end scenarios that need real time, kept out of `cargo test` so the suite
//! stays fast: the demo as a newcomer runs it (about 20 s, its report rendered in headless
//! Chromium), the kill loop at full size (50 SIGKILLs in a campaign of 10,000 rows), a
//! one-minute per-number cap across two campaigns, and a standby restored from a lagging
//! Litestream replica.
//! `scripts/e2e/run` runs them, and `.ci/run` runs that.

mod calling_rules;
mod demo;
mod hardening;
mod standby;

// The integration tests' helpers, shared by path; each binary uses some of them.
#[allow(dead_code)]
#[path = "../it/scenarios.rs"]
mod scenarios;
#[allow(dead_code)]
#[path = "../it/site.rs"]
mod site;
#[allow(dead_code, unused_imports)]
#[path = "../it/support.rs"]
mod support;

/// The hostile run of issue 20 (503s before and after placing, hanging requests, records
/// 1 s after each call): no number called twice, no row lost, and how soon the campaign
/// settles after the last kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_fifty_times_no_number_is_called_twice_and_no_row_is_lost() {
    let (dialled, finished) =
        scenarios::killed_repeatedly(10_000, 50, scenarios::KillRun::hostile()).await;
    println!(
        "FIGURES kill loop: 10,000 rows, 50 SIGKILLs; after the last kill every row was dialled once by {:.1} s and the campaign finished at {:.1} s, {:.1} s later (unknown_grace_secs = 15)",
        dialled.as_secs_f64(),
        finished.as_secs_f64(),
        (finished - dialled.min(finished)).as_secs_f64()
    );
}
