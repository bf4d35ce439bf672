//! The dispatch benchmark: the whole daemon (`app::run`: intake, dispatch, reconcile)
//! against the built-in simulator in the same process, with the account's rate set far
//! above what the machine reaches, so the figures are the daemon's own ceiling. Every call
//! is written ahead durably (`synchronous=FULL` group commits) before its request leaves.
//!
//! Three runs, each printing its figures:
//! - v1: one call a request to `/voiceNotify` (100,000 rows unless told);
//! - v2: 50 calls a request to `/v2/voiceNotify` (1,000,000 rows unless told);
//! - reconcile: the v2 run's call records, all visible at once, polled with getCdrList
//!   and applied until every row is settled.
//!
//! `cargo bench --bench dispatch` or `cargo bench --bench dispatch -- --v1 20000 --v2 200000`;
//! `--rate` sets `limits.rate` (a realistic one shows what pacing costs).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use callcenter_simulator::{EXAMPLE_PASSWORD, OutcomeWeights, Simulator, SimulatorOptions};
use clap::Parser;
use rusqlite::{Connection, OptionalExtension};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use voicecast::config::{self, Config, LoadOptions, NumberPolicy};
use voicecast::intake::campaign::{self, Limits};
use voicecast::intake::import::{self, Taken};
use voicecast::intake::rows::DoNotCall;
use voicecast::layout::Layout;
use voicecast::settings::builtin_defaults;
use voicecast::store::Store;

use common::{cpu_time, generate, peak_memory_kib, reset_peak_memory};

const CAMPAIGN: &str = "template = \"{1}您好，您在{2}购买的商品已由{3}送达{4}，取件码{5}，请于今日20点前领取。\"\n\
                        calling_hours = [\"00:00-24:00\"]\n";

#[derive(Parser)]
struct Args {
    /// Rows of the v1 run.
    #[arg(long, default_value_t = 100_000)]
    v1: usize,
    /// Rows of the v2 run, and call records of the reconcile run.
    #[arg(long, default_value_t = 1_000_000)]
    v2: usize,
    /// `limits.rate`, calls a second.
    #[arg(long, default_value_t = 1_000_000)]
    rate: u32,
    /// `limits.max_in_flight`.
    #[arg(long, default_value_t = 64)]
    in_flight: u32,
    /// `limits.burst`: 1 paces every call on its own.
    #[arg(long, default_value_t = 1)]
    burst: u32,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Interrupted, the runs are dropped, and with them their stores (about 1 GB).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ran = runs(args) => ran,
        _ = tokio::signal::ctrl_c() => interrupted(),
        _ = terminate.recv() => interrupted(),
    }
}

fn interrupted() -> anyhow::Result<()> {
    anyhow::bail!("interrupted; its temporary stores are removed")
}

/// The three runs, each printing its figures.
async fn runs(args: Args) -> anyhow::Result<()> {
    let options = SimulatorOptions {
        outcomes: OutcomeWeights::parse("answered=1").map_err(anyhow::Error::msg)?,
        cdr_delay: Duration::ZERO,
        call_time_scale: 0.0,
        ..SimulatorOptions::default()
    };
    println!(
        "rate {}/s, burst {}, max_in_flight {}, {} cores",
        args.rate,
        args.burst,
        args.in_flight,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let sim = Simulator::start(TcpListener::bind("127.0.0.1:0").await?, options.clone())?;
    let v1 = Site::new(args.v1)?;
    let run = v1.run(&sim, "v1", &args, Phase::Dispatch).await?;
    v1.report("v1, 1 call a request", run)?;
    sim.stop().await;

    let sim = Simulator::start(TcpListener::bind("127.0.0.1:0").await?, options)?;
    let v2 = Site::new(args.v2)?;
    let run = v2.run(&sim, "v2", &args, Phase::Dispatch).await?;
    v2.report("v2, 50 calls a request", run)?;
    let records = v2.open_attempts()?;
    let run = v2.run(&sim, "v2", &args, Phase::Reconcile).await?;
    println!("reconcile");
    println!("  records applied  {records}");
    println!("  wall time        {:.2} s", run.took.as_secs_f64());
    println!(
        "  records a second {:.0}",
        records as f64 / run.took.as_secs_f64()
    );
    run.print_cpu(records, "record");
    println!("  rows settled     {}", records - v2.open_attempts()?);
    println!(
        "peak RSS {:.0} MB (daemon and simulator, whole process)",
        peak_memory_kib() as f64 / 1024.0
    );
    sim.stop().await;
    Ok(())
}

/// A run's wall time, and the CPU time the process used in it (daemon, simulator and
/// this benchmark's probe).
struct Run {
    took: Duration,
    /// When the daemon was started, in milliseconds since the epoch.
    started_ms: i64,
    cpu: Duration,
}

impl Run {
    fn print_cpu(&self, items: u64, item: &str) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "  CPU time         {:.2} s ({:.0}% of {cores} cores), {:.1} µs a {item}",
            self.cpu.as_secs_f64(),
            100.0 * self.cpu.as_secs_f64() / self.took.as_secs_f64() / cores as f64,
            self.cpu.as_secs_f64() * 1e6 / items.max(1) as f64
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Dialled until no row is pending or sending; the list is polled past its end.
    Dispatch,
    /// Polled every second until no attempt is open.
    Reconcile,
}

/// A campaign root and its store, with one campaign of `rows` rows imported.
struct Site {
    dir: tempfile::TempDir,
    rows: usize,
}

impl Site {
    fn new(rows: usize) -> anyhow::Result<Site> {
        let dir = tempfile::tempdir()?;
        let layout = Layout::new(dir.path().join("campaigns"));
        layout.create()?;
        std::fs::write(layout.inbox().join("bench.toml"), CAMPAIGN)?;
        let csv = layout.inbox().join("bench.csv");
        generate(&csv, rows)?;
        let store = Store::open(&dir.path().join("voicecast.db"))?;
        let plan = campaign::plan(
            Some(&layout.inbox().join("bench.toml")),
            &builtin_defaults(),
            &Limits {
                numbers: NumberPolicy::Cn,
                max_text_chars: 500,
            },
            DoNotCall::default(),
        )
        .map_err(anyhow::Error::msg)?;
        let taken = import::take(&layout, &store, &csv, plan, &CancellationToken::new())?;
        let Taken::Accepted { good, .. } = taken else {
            anyhow::bail!("the call list was not accepted: {taken:?}");
        };
        Ok(Site {
            dir,
            rows: good as usize,
        })
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("voicecast.db")
    }

    fn config(
        &self,
        sim: &Simulator,
        mode: &str,
        args: &Args,
        phase: Phase,
    ) -> anyhow::Result<Config> {
        let interval = match phase {
            Phase::Dispatch => 86_400,
            Phase::Reconcile => 1,
        };
        let file = self.dir.path().join("voicecast.toml");
        std::fs::write(
            &file,
            format!(
                "[paths]\ncampaigns = \"campaigns\"\ndatabase = \"voicecast.db\"\n\
                 [api]\nbase_url = \"{}\"\ncustomer = \"C2\"\nmode = \"{mode}\"\nbatch_size = 50\n\
                 timeout_secs = 30\n\
                 [limits]\nrate = {}\nburst = {}\nmax_in_flight = {}\n\
                 [reconcile]\ninterval_secs = {interval}\nlookup_after_secs = 86400\n\
                 unknown_grace_secs = 86400\nrecord_timeout_secs = 86400\n",
                sim.base_url(),
                args.rate,
                args.burst,
                args.in_flight,
            ),
        )?;
        let options = LoadOptions {
            explicit: Some(file),
            env: vec![("VOICECAST_API__PASSWORD".into(), EXAMPLE_PASSWORD.into())],
            current_dir: self.dir.path().to_path_buf(),
            system_file: self.dir.path().join("absent.toml"),
        };
        Ok(config::load(&options)?)
    }

    /// Runs the daemon until the phase's work is done.
    async fn run(
        &self,
        sim: &Simulator,
        mode: &str,
        args: &Args,
        phase: Phase,
    ) -> anyhow::Result<Run> {
        let config = self.config(sim, mode, args, phase)?;
        // Reconcile polls once at start-up, then every interval (a day while dialling):
        // the start-up poll, chasing records while its pages come back full, would settle
        // calls during the dispatch run whenever one was open at that instant. A cursor
        // past every record keeps the dispatch run free of it; the reconcile run reads
        // from the first record.
        let cursor = match phase {
            Phase::Dispatch => u64::MAX.to_string(),
            Phase::Reconcile => "0".to_string(),
        };
        Store::open(&self.database())?.set_cdr_cursor(&cursor)?;
        let probe = Connection::open(self.database())?;
        let shutdown = CancellationToken::new();
        reset_peak_memory();
        let cpu = cpu_time();
        let started = Instant::now();
        let started_ms = jiff::Timestamp::now().as_millisecond();
        let daemon = tokio::spawn(voicecast::app::run(config, shutdown.clone()));
        let deadline = started + Duration::from_secs(600);
        loop {
            // Asked every 50 ms, each through an index or from the end where the answer
            // is, so the probe takes no share from the daemon measured: EXISTS stops at
            // the first row found, and `sending` attempts, the newest, are looked for
            // from the last attempt back, only once no row is pending.
            let done = match phase {
                Phase::Dispatch => {
                    !exists(&probe, "rows WHERE state = 'pending'")? && !any_sending(&probe)?
                }
                Phase::Reconcile => !exists(&probe, OPEN)?,
            };
            if done {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the run did not end within 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let run = Run {
            took: started.elapsed(),
            started_ms,
            cpu: cpu_time() - cpu,
        };
        shutdown.cancel();
        daemon.await??;
        Ok(run)
    }

    fn open_attempts(&self) -> anyhow::Result<u64> {
        open_attempts(&Connection::open(self.database())?)
    }

    /// Prints a dispatch run's figures from the store: calls a second by the wall clock
    /// and as sent, and what became of the attempts.
    fn report(&self, title: &str, run: Run) -> anyhow::Result<()> {
        let took = run.took;
        let db = Connection::open(self.database())?;
        let (attempts, first, last): (u64, i64, i64) = db.query_row(
            "SELECT count(*), min(sent_at), max(sent_at) FROM attempts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let accepted = count(
            &db,
            "SELECT count(*) FROM attempts WHERE state = 'accepted'",
        )?;
        let span = Duration::from_millis((last - first).max(1) as u64);
        let written: i64 =
            db.query_row("SELECT min(written_at) FROM attempts", [], |r| r.get(0))?;
        println!("{title}");
        println!("  rows             {}", self.rows);
        println!("  attempts         {attempts} ({accepted} accepted)");
        println!(
            "  wall time        {:.2} s (daemon start to every answer recorded)",
            took.as_secs_f64()
        );
        println!(
            "  calls a second   {:.0} by the wall clock",
            attempts as f64 / took.as_secs_f64()
        );
        println!(
            "  calls a second   {:.0} as sent (first to last request, {:.2} s)",
            attempts as f64 / span.as_secs_f64(),
            span.as_secs_f64()
        );
        println!(
            "  start-up         {:.2} s to the first write-ahead, {:.2} s to the first request",
            (written - run.started_ms) as f64 / 1e3,
            (first - run.started_ms) as f64 / 1e3
        );
        run.print_cpu(attempts, "call");
        println!(
            "  peak RSS         {:.0} MB",
            peak_memory_kib() as f64 / 1024.0
        );
        Ok(())
    }
}

fn count(db: &Connection, sql: &str) -> rusqlite::Result<u64> {
    db.query_row(sql, [], |r| r.get(0))
}

/// Whether `SELECT 1 FROM {from}` finds a row (stopping at the first).
fn exists(db: &Connection, from: &str) -> rusqlite::Result<bool> {
    db.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {from})"), [], |r| {
        r.get(0)
    })
}

/// Whether an attempt is still `sending`, looked for from the newest back.
fn any_sending(db: &Connection) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT id FROM attempts WHERE state = 'sending' ORDER BY id DESC LIMIT 1",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// The attempts waiting for their record, as the store's open-attempt index has them.
const OPEN: &str = "attempts WHERE settled_at IS NULL";

fn open_attempts(db: &Connection) -> anyhow::Result<u64> {
    Ok(count(db, &format!("SELECT count(*) FROM {OPEN}"))?)
}
