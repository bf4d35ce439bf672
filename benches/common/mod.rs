//! What the benchmarks share: a realistic call list, its import measured, and the
//! process's CPU time and peak memory. Each benchmark uses the part it needs.
#![allow(dead_code)]

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use voicecast::config::NumberPolicy;
use voicecast::intake::campaign::{self, Limits};
use voicecast::intake::import::{self, Taken};
use voicecast::intake::rows::DoNotCall;
use voicecast::layout::Layout;
use voicecast::settings::builtin_defaults;
use voicecast::store::Store;

/// The settings the benchmarks' list is imported with: a text with its five variables.
pub const TEMPLATE: &str =
    "template = \"{1}您好，您在{2}购买的商品已由{3}送达{4}，取件码{5}，请于今日20点前领取。\"\n";

/// The first argument that is a number (a row count), else `default`.
pub fn count_argument(default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(default)
}

/// What an import took.
pub struct MeasuredImport {
    pub wall: Duration,
    /// The CPU time of every thread.
    pub cpu: Duration,
    /// The process's resident memory before the import, and at its peak during it.
    pub before_kib: u64,
    pub peak_kib: u64,
    pub good: u64,
    pub skipped: u64,
}

impl MeasuredImport {
    /// Prints the import's figures for `rows` rows, one a line.
    pub fn print(&self, rows: usize) {
        println!("good / skipped   {} / {}", self.good, self.skipped);
        println!(
            "import wall time {:.2} s ({:.2} s of CPU, every thread)",
            self.wall.as_secs_f64(),
            self.cpu.as_secs_f64()
        );
        println!(
            "rows per second  {:.0}",
            rows as f64 / self.wall.as_secs_f64()
        );
        println!(
            "peak RSS         {:.1} MB during the import (the process held {:.1} MB before it)",
            self.peak_kib as f64 / 1024.0,
            self.before_kib as f64 / 1024.0
        );
    }
}

/// Imports the call list `list` from `layout`'s inbox into `store` as the daemon does,
/// with `bench.toml` ([`TEMPLATE`]) beside it, and measures the import.
pub fn import_measured(
    layout: &Layout,
    store: &Store,
    list: &Path,
) -> anyhow::Result<MeasuredImport> {
    let settings = layout.inbox().join("bench.toml");
    std::fs::write(&settings, TEMPLATE)?;
    let limits = Limits {
        numbers: NumberPolicy::Cn,
        max_text_chars: 500,
    };
    reset_peak_memory();
    let before_kib = peak_memory_kib();
    let cpu = cpu_time();
    let started = Instant::now();
    let plan = campaign::plan(
        Some(&settings),
        &builtin_defaults(),
        &limits,
        DoNotCall::default(),
    )
    .map_err(anyhow::Error::msg)?;
    let taken = import::take(layout, store, list, plan, &CancellationToken::new())?;
    let wall = started.elapsed();
    let cpu = cpu_time() - cpu;
    let peak_kib = peak_memory_kib();
    let Taken::Accepted { good, skipped, .. } = taken else {
        anyhow::bail!("the call list was not accepted: {taken:?}");
    };
    Ok(MeasuredImport {
        wall,
        cpu,
        before_kib,
        peak_kib,
        good,
        skipped,
    })
}

/// The header of the benchmarks' call list.
pub const HEADER: [&str; 9] = ["姓名", "手机号", "1", "2", "3", "4", "5", "订单号", "备注"];

/// Row `n` of a Chinese delivery-reminder list: name, mobile, five variables, two carried
/// columns; one row in 200 repeats an earlier number.
pub fn row(n: usize) -> [String; 9] {
    const SHOPS: [&str; 4] = ["天猫旗舰店", "京东自营", "拼多多", "抖音小店"];
    const COURIERS: [&str; 4] = ["顺丰速运", "中通快递", "圆通速递", "韵达快递"];
    let number = if n % 200 == 199 { n - 100 } else { n };
    [
        format!("客户{n}"),
        format!("1{}{number:09}", 3 + number % 7),
        format!("客户{n}"),
        SHOPS[n % 4].to_string(),
        COURIERS[n % 4].to_string(),
        format!("朝阳区建国路{}号驿站", n % 300),
        format!("{:06}", n % 1_000_000),
        format!("SF{n:012}"),
        if n % 3 == 0 { "加急" } else { "" }.to_string(),
    ]
}

/// Writes `rows` rows of the list as a UTF-8 CSV file.
pub fn generate(path: &std::path::Path, rows: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{}", HEADER.join(","))?;
    for n in 0..rows {
        writeln!(out, "{}", row(n).join(","))?;
    }
    out.flush()
}

/// Resets the kernel's peak-RSS mark (VmHWM) so it measures the import alone.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time the whole process (every thread) has used, user and system, from
/// `/proc/self/stat`, whose times are in USER_HZ ticks: 100 a second on Linux.
pub fn cpu_time() -> std::time::Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name (which may hold spaces) in parentheses:
            // utime and stime are the 12th and 13th of them.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}
