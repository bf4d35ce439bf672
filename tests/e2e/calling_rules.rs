//! The per-number caps over real time: two campaigns sharing numbers under a cap of one
//! call a minute.

use crate::scenarios::shared_numbers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_minute_cap_across_two_campaigns() {
    let figures = shared_numbers(20, "1m", false).await;
    println!(
        "FIGURES per-number cap 1/1m: two campaigns sharing 20 numbers; the shortest gap between two calls to one number {:.1} s; at most {} rows held by the cap at once; both finished in {:.1} s",
        figures.shortest_gap.as_secs_f64(),
        figures.most_held,
        figures.took.as_secs_f64()
    );
}
