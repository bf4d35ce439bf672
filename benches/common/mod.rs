//! What the benchmarks share: a realistic call list and the process's peak memory.

use std::io::{BufWriter, Write};

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
#[allow(dead_code)] // Each benchmark uses the part of this module it needs.
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
