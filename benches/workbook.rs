//! The workbook intake benchmark: writes the intake benchmark's call list (1,000,000 rows
//! unless a count is given) as an `.xlsx` workbook the way a spreadsheet program saves
//! one (the mobile numbers as number cells, every text in the shared-string table), then
//! imports it into a fresh store the way the daemon does, and prints the wall time, the
//! CPU time and the peak resident memory of the import, with the size of the
//! shared-string table the reader holds whole.
//!
//! The workbook is written by a child process (this benchmark run again with `--write`),
//! so the writer's memory is not counted in the import's peak.
//!
//! `cargo bench --bench workbook` or `cargo bench --bench workbook -- 200000`.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

mod common;

use common::{HEADER, count_argument, import_measured, row};

use voicecast::layout::Layout;
use voicecast::store::Store;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows = count_argument(1_000_000);
    if let Some(i) = args.iter().position(|a| a == "--write") {
        return write_workbook(Path::new(&args[i + 1]), rows);
    }
    let dir = tempfile::tempdir()?;
    let layout = Layout::new(dir.path().join("campaigns"));
    layout.create()?;
    let workbook = layout.inbox().join("bench.xlsx");
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--write",
            &workbook.display().to_string(),
            &rows.to_string(),
        ])
        .status()?;
    anyhow::ensure!(status.success(), "writing the workbook failed: {status}");
    let written = started.elapsed();
    let bytes = std::fs::metadata(&workbook)?.len();
    let (strings, table_bytes) = shared_strings(&workbook)?;

    let store = Store::open(&dir.path().join("voicecast.db"))?;
    let import = import_measured(&layout, &store, &workbook)?;
    println!("rows             {rows}");
    println!(
        "workbook         {:.1} MB, written in {:.1} s by rust_xlsxwriter",
        bytes as f64 / 1e6,
        written.as_secs_f64()
    );
    println!(
        "shared strings   {strings} strings, {:.1} MB of XML (read whole before the first row)",
        table_bytes as f64 / 1e6
    );
    import.print(rows);
    Ok(())
}

/// Writes `rows` rows of the benchmarks' list to `path` as a spreadsheet program would:
/// the mobile numbers as numbers, the texts as shared strings.
fn write_workbook(path: &Path, rows: usize) -> anyhow::Result<()> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet_with_low_memory();
    for (column, name) in HEADER.iter().enumerate() {
        sheet.write_string(0, column as u16, *name)?;
    }
    for n in 0..rows {
        let line = n as u32 + 1;
        for (column, value) in row(n).iter().enumerate() {
            match value.parse::<f64>() {
                Ok(number) if HEADER[column] == "手机号" => {
                    sheet.write_number(line, column as u16, number)?;
                }
                _ if value.is_empty() => {}
                _ => {
                    sheet.write_string(line, column as u16, value)?;
                }
            }
        }
    }
    workbook.save(path)?;
    Ok(())
}

/// The count of strings in the workbook's shared-string table, and its XML's size.
fn shared_strings(workbook: &Path) -> anyhow::Result<(u64, u64)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(workbook)?)?;
    let mut table = zip.by_name("xl/sharedStrings.xml")?;
    let size = table.size();
    let mut head = vec![0u8; 512];
    let read = table.read(&mut head)?;
    let head = String::from_utf8_lossy(&head[..read]);
    let count = head
        .split("uniqueCount=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok((count, size))
}
