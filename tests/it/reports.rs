//! The report files after a campaign and during one: every figure agrees with the store,
//! `results.csv` keeps a GBK list's columns text-identical behind a BOM, and a reader
//! polling `status.json` never sees a partial file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use callcenter_simulator::{Simulator, SimulatorOptions};
use serde_json::Value;
use voicecast::domain::RowState;

use crate::site::{Daemon, Site, config, finished, start};
use crate::support::{eventually, quick_calls, simulator, voicecast};

const SETTINGS: &str = "template = \"{1}您好，您在{2}的包裹请凭{3}领取。\"\nmax_attempts = 1\n";

/// A GBK call list: Chinese header and values, a carried column with a comma and a quote,
/// and two bad rows (a bad number, a duplicate).
fn gbk_list(rows: usize) -> (String, Vec<u8>) {
    let mut text = String::from("姓名,手机号,1,2,3,备注\n");
    for n in 0..rows {
        text.push_str(&format!(
            "王{n},139{n:08},王先生{n},朝阳区望京驿站,{:04},\"易碎, 轻放 \"\"小心\"\"\"\n",
            n % 10_000
        ));
    }
    text.push_str("坏号码,12345,李女士,海淀区,0001,\n");
    text.push_str("重复,13900000001,张女士,海淀区,0002,\n");
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    let bytes = bytes.into_owned();
    (text, bytes)
}

/// Each sheet of a workbook by name, its cells as text; a cell that is not text (a number,
/// a date) fails the read.
fn read_workbook(path: &std::path::Path) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut workbook: Xlsx<_> = open_workbook(path).unwrap();
    let names = workbook.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            let rows = range
                .rows()
                .map(|row| {
                    let mut cells: Vec<String> = row
                        .iter()
                        .map(|cell| match cell {
                            Data::String(text) => text.clone(),
                            Data::Empty => String::new(),
                            other => panic!("{name}: a cell that is not text: {other:?}"),
                        })
                        .collect();
                    while cells.last().is_some_and(String::is_empty) {
                        cells.pop();
                    }
                    cells
                })
                .collect();
            (name, rows)
        })
        .collect()
}

/// A part of an xlsx file (its XML), as text.
fn xml_in(path: &std::path::Path, part: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    std::io::read_to_string(archive.by_name(part).unwrap()).unwrap()
}

fn read_json(path: &std::path::Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    Some(serde_json::from_slice(&bytes).expect("status.json is always whole, valid JSON"))
}

/// Whole fen of a fee text like `0.06`.
fn fen(fee: &str) -> i64 {
    let (yuan, fraction) = fee.split_once('.').unwrap_or((fee, "0"));
    yuan.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}")[..2].parse::<i64>().unwrap()
}

/// A simulator with the default outcome mix, and a daemon dialling it in `mode` whose
/// reports refresh every 0.2 s.
async fn reporting(mode: &str, extra: &str) -> (Simulator, Site, Daemon) {
    let sim = simulator(SimulatorOptions {
        cdr_delay: Duration::from_millis(50),
        ..quick_calls()
    })
    .await;
    let site = Site::with_config(&config(&sim, mode, extra));
    let daemon = start(&site).await;
    (sim, site, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_campaign_every_report_agrees_with_the_store() {
    let (sim, site, daemon) = reporting("v2", "[limits]\nrate = 500\nmax_in_flight = 16").await;
    let (text, bytes) = gbk_list(300);
    site.drop_file("gbk", Some(SETTINGS), bytes);
    let store = site.store();
    let counts = finished(&store, "gbk", Duration::from_secs(60)).await;
    let reports = site.folder("reports").join("gbk");
    let status = eventually(Duration::from_secs(20), "status.json finished", || {
        let status = read_json(&reports.join("status.json"));
        async move { status.filter(|s| s["state"] == "finished") }
    })
    .await;
    daemon.stop().await;

    // Counts: one per state, summing to the rows.
    assert_eq!(status["schema_version"], 1);
    for state in RowState::ALL {
        let expected = counts.get(state).copied().unwrap_or(0);
        assert_eq!(status["rows"][state.as_str()], expected, "{state}");
    }
    assert_eq!(status["rows"]["total"], 302);
    assert_eq!(counts.values().sum::<u64>(), 302);
    // Talk time and fee add up to the rows'.
    let db = rusqlite::Connection::open(site.database()).unwrap();
    let talk: i64 = db
        .query_row("SELECT coalesce(sum(talk_secs), 0) FROM rows", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status["talk_secs_total"], talk);
    let mut fees = db
        .prepare("SELECT fee FROM rows WHERE fee IS NOT NULL")
        .unwrap();
    let total_fen: i64 = fees
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|f| fen(&f.unwrap()))
        .sum();
    assert_eq!(fen(status["fee_total"].as_str().unwrap()), total_fen);
    assert!(total_fen > 0);
    let answered = counts[&RowState::Answered] as f64;
    let rate = status["answer_rate"].as_f64().unwrap();
    assert!((rate - answered / 300.0).abs() < 1e-3, "{rate}");
    assert!(!status["top_causes"].as_array().unwrap().is_empty());

    // results.csv: a BOM, the original header and values text-identical, then ours.
    let results = std::fs::read(reports.join("results.csv")).unwrap();
    assert!(results.starts_with(b"\xEF\xBB\xBF"));
    let mut csv = csv::Reader::from_reader(&results[3..]);
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..6], ["姓名", "手机号", "1", "2", "3", "备注"]);
    assert_eq!(header[6], "call_state");
    assert_eq!(header.len(), 17);
    let mut original = csv::Reader::from_reader(text.as_bytes());
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 302);
    for (ours, theirs) in rows.iter().zip(original.records()) {
        let theirs = theirs.unwrap();
        assert_eq!(
            ours.iter().take(6).collect::<Vec<_>>(),
            theirs.iter().collect::<Vec<_>>()
        );
        *by_state.entry(ours[6].to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, u64> = counts.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(by_state, expected);
    let answered_row = rows.iter().find(|r| &r[6] == "answered").unwrap();
    assert!(
        answered_row[10].len() == 19,
        "answer time: {:?}",
        &answered_row[10]
    );
    assert!(
        answered_row[15].starts_with(&sim.base_url()),
        "{:?}",
        &answered_row[15]
    );

    // skipped.csv: the two bad rows with their lines and reasons.
    let skipped = std::fs::read(reports.join("skipped.csv")).unwrap();
    let mut csv = csv::Reader::from_reader(&skipped[3..]);
    let lines: Vec<(String, String)> = csv
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("302".to_string(), "bad_number".to_string()),
            ("303".into(), "duplicate".into())
        ]
    );

    let summary = std::fs::read_to_string(reports.join("summary.txt")).unwrap();
    assert!(summary.starts_with("Campaign gbk: finished"), "{summary}");

    // results.xlsx, read back by calamine (which the writer does not share): the same
    // rows as results.csv, every cell text, then the skipped rows and the summary.
    let workbook = reports.join("results.xlsx");
    let sheets = read_workbook(&workbook);
    let names: Vec<&str> = sheets.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["results", "skipped", "summary"]);
    // A sheet has no trailing empty cells: the CSV's are dropped to compare.
    let as_csv = |bytes: &[u8]| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[3..])
            .records()
            .map(|r| {
                let mut cells: Vec<String> = r.unwrap().iter().map(String::from).collect();
                while cells.last().is_some_and(String::is_empty) {
                    cells.pop();
                }
                cells
            })
            .collect()
    };
    for (sheet, file) in [(&sheets[0].1, &results), (&sheets[1].1, &skipped)] {
        let csv = as_csv(file);
        assert_eq!(sheet.len(), csv.len());
        for (n, (ours, theirs)) in sheet.iter().zip(&csv).enumerate() {
            assert_eq!(ours, theirs, "row {n} differs from the CSV's");
        }
    }
    assert_eq!(sheets[2].1[0], ["Campaign gbk", "finished"]);
    assert_eq!(
        sheets[0].1[1][4], "0000",
        "a code with its zeros, kept as text"
    );
    let sheet_xml = xml_in(&workbook, "xl/worksheets/sheet1.xml");
    assert!(sheet_xml.contains(r#"state="frozen""#) && sheet_xml.contains(r#"ySplit="1""#));
    assert!(
        sheet_xml.contains(r#"<autoFilter ref="A1:Q303"/>"#),
        "{sheet_xml}"
    );
    assert!(!sheet_xml.contains(r#" t="n""#), "no number cells");
    assert!(
        xml_in(&workbook, "xl/styles.xml").contains("<b/>"),
        "a bold header"
    );
    // report.html shows the same totals (its rendering is the demo test's).
    let page = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(page.contains(&format!("¥{}", status["fee_total"].as_str().unwrap())));
    assert!(page.contains(&format!(
        "<div class=\"value\">{}</div>",
        counts[&RowState::Answered]
    )));
    assert!(page.contains("100.0% of the rows are final"), "{page}");
    let daemon = read_json(&site.folder("reports").join("status.json")).unwrap();
    assert_eq!(daemon["campaigns"][0]["campaign"], "gbk");
    assert_eq!(daemon["campaigns"][0]["rows"]["total"], 302);
    assert_eq!(daemon["limits"]["rate"], 500);

    // `voicecast status` reads the same files.
    let status_command = |args: &[&str]| {
        voicecast()
            .arg("--config")
            .arg(site.config_file())
            .arg("status")
            .args(args)
            .output()
            .unwrap()
    };
    let table = status_command(&[]);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    let line = table.lines().find(|l| l.starts_with("gbk ")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[..4], ["gbk", "finished", "302", "302"]);
    let one = status_command(&["gbk", "--json"]);
    assert_eq!(
        one.stdout,
        std::fs::read(reports.join("status.json")).unwrap()
    );
    let text = status_command(&["gbk"]);
    assert_eq!(String::from_utf8(text.stdout).unwrap(), summary);
    let missing = status_command(&["nosuch"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no report for campaign \"nosuch\""));
}

/// Sets its flag when dropped, so a thread polling the flag stops however a test ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_polling_status_json_never_sees_a_partial_file() {
    let (_sim, site, daemon) = reporting("v1", "[limits]\nrate = 1000\nmax_in_flight = 8").await;
    let (_, bytes) = gbk_list(1_000);
    site.drop_file("polled", Some(SETTINGS), bytes);
    let path = site.folder("reports").join("polled").join("status.json");
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_reader = StopOnDrop(stop.clone());
    // The reader polls as fast as it can until the campaign is finished.
    let reader = tokio::task::spawn_blocking(move || {
        let mut reads = 0u64;
        let mut states = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            // read_json panics on a partial or invalid file.
            if let Some(status) = read_json(&path) {
                reads += 1;
                let state = status["state"].as_str().unwrap().to_string();
                if states.last() != Some(&state) {
                    states.push(state.clone());
                }
                if state == "finished" {
                    break;
                }
            }
            std::thread::yield_now();
        }
        (reads, states)
    });
    let (reads, states) = tokio::time::timeout(Duration::from_secs(90), reader)
        .await
        .expect("the campaign to finish")
        .unwrap();
    daemon.stop().await;
    eprintln!("{reads} whole reads of status.json; states seen: {states:?}");
    assert_eq!(states.last().map(String::as_str), Some("finished"));
}
