//! The intake benchmark: generates a call list of realistic rows (1,000,000 unless a
//! count is given), imports it into a fresh store the way the daemon does, and prints the
//! wall time and the peak resident memory of the import; then times one round of the
//! reports over the imported campaign (`results.csv` of every row, `report.html`, ...), and
//! `results.xlsx` with `results.csv`.
//!
//! `cargo bench --bench intake` or `cargo bench --bench intake -- 200000`.

use std::time::Instant;

mod common;

use common::{
    count_argument, cpu_time, generate, import_measured, peak_memory_kib, reset_peak_memory,
};

use tokio_util::sync::CancellationToken;
use voicecast::layout::Layout;
use voicecast::reports::{self, ReportsConfig};
use voicecast::store::{Checkpoint, Store};

fn main() -> anyhow::Result<()> {
    let rows = count_argument(1_000_000);
    let dir = tempfile::tempdir()?;
    let layout = Layout::new(dir.path().join("campaigns"));
    layout.create()?;
    let csv = layout.inbox().join("bench.csv");
    generate(&csv, rows)?;
    let bytes = std::fs::metadata(&csv)?.len();
    let store = Store::open(&dir.path().join("voicecast.db"))?;
    let import = import_measured(&layout, &store, &csv)?;
    let checkpoint_started = Instant::now();
    store.checkpoint(Checkpoint::Truncate)?;
    let checkpoint = checkpoint_started.elapsed();
    let database = std::fs::metadata(store.path())?.len();
    let wal = std::fs::metadata(store.path().with_extension("db-wal")).map_or(0, |m| m.len());
    println!("rows             {rows}");
    println!("file             {:.1} MB", bytes as f64 / 1e6);
    import.print(rows);
    println!(
        "then checkpoint  {:.2} s (the log copied into the database after the import, off its path)",
        checkpoint.as_secs_f64()
    );
    println!(
        "database         {:.1} MB (write-ahead log {:.1} MB)",
        database as f64 / 1e6,
        wal as f64 / 1e6
    );

    // What every reports round reads, even one that writes no file: the facts.
    let mut reader = voicecast::store::Reader::open(&store)?;
    let started = Instant::now();
    reader.campaigns()?;
    println!(
        "reports facts    {:.2} s (what every round reads)",
        started.elapsed().as_secs_f64()
    );
    drop(reader);

    // One round of the reports: a stage whose shutdown has come runs exactly one.
    let config = ReportsConfig {
        layout: layout.clone(),
        interval: std::time::Duration::from_secs(5),
        rate: std::num::NonZeroU32::new(10).unwrap(),
        burst: std::num::NonZeroU32::new(1).unwrap(),
        max_in_flight: std::num::NonZeroU32::new(32).unwrap(),
        campaign_defaults: Default::default(),
        calendar: std::sync::Arc::new(voicecast::calendar::Calendar::built_in()),
        recording_base: String::new(),
    };
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let runtime = tokio::runtime::Runtime::new()?;
    let cpu = cpu_time();
    let started = Instant::now();
    runtime.block_on(reports::run(
        config,
        store.clone(),
        None,
        None,
        std::sync::Arc::new(voicecast::clock::SystemClock),
        std::sync::Arc::default(),
        shutdown,
    ))?;
    let round = started.elapsed();
    let cpu = cpu_time() - cpu;
    let results = std::fs::metadata(layout.reports().join("bench/results.csv"))?.len();
    println!(
        "reports round    {:.2} s, {:.2} s of CPU (results.csv {:.1} MB, every file of the campaign)",
        round.as_secs_f64(),
        cpu.as_secs_f64(),
        results as f64 / 1e6
    );

    // The round a stop asks for leaves a running campaign's results.xlsx for the next
    // start; every other round writes it with results.csv, as here.
    let mut reader = voicecast::store::Reader::open(&store)?;
    let facts = reader.campaigns()?.remove(0);
    let header: Vec<String> = serde_json::from_str(&facts.header)?;
    let results_layout = voicecast::reports::files::ResultsLayout {
        header: &header,
        zone: &jiff::tz::TimeZone::UTC,
        recording_base: "",
        held: None,
    };
    let workbook = layout.reports().join("bench/results.xlsx");
    reset_peak_memory();
    let before = peak_memory_kib();
    let cpu = cpu_time();
    let started = Instant::now();
    voicecast::reports::files::results(
        &layout.reports().join("bench/results.csv"),
        Some(voicecast::reports::files::WorkbookFile {
            path: &workbook,
            summary: "Campaign bench: running",
        }),
        &mut reader,
        facts.id,
        &results_layout,
    )?;
    println!(
        "results.xlsx     {:.2} s, {:.2} s of CPU with results.csv; {:.1} MB; peak RSS {:.1} MB (the process held {:.1} MB before)",
        started.elapsed().as_secs_f64(),
        (cpu_time() - cpu).as_secs_f64(),
        std::fs::metadata(&workbook)?.len() as f64 / 1e6,
        peak_memory_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    Ok(())
}
