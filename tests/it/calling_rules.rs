//! The calling rules as the vendor sees them: per-number caps across campaigns and
//! restarts.

use std::time::Duration;

use crate::scenarios::shared_numbers;

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
