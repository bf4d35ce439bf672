//! Call lists from Excel (PRODUCT.md section 2): the workbooks LibreOffice Calc made from
//! `tests/fixtures/excel/list.fods` (see the README there), checked by `voicecast check`
//! and imported and dialled by the daemon, every cell as the sheet shows it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::site::{Site, answering, config, files_in, finished, start};
use crate::support::{check_json, eventually, simulator};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/excel")
}

/// The texts the two good rows of `list` give: a whole number, a date, a time, a
/// formula's value and a text code in the first; a date and time, a time with seconds
/// and a decimal in the second.
const TEXTS: [&str; 2] = [
    "张三您好，您2026-12-01 09:30的快递已到，到付123.5元，取件码00123。",
    "李四您好，您2026-12-02 14:05:09 18:00:05的快递已到，到付0.1元，取件码00456。",
];

/// `(line, reason, detail)` of each listed skipped row.
fn skipped_rows(report: &Value) -> Vec<(u64, String, String)> {
    report["skipped_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().to_string(),
                s["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Each workbook LibreOffice saved the list in gives the same rows, lines, reasons and
/// texts; only an `.ods` file's error cell reads as empty (calamine issue #720), which
/// skips its row as `missing_variable`, since the cell is a variable the template uses.
#[test]
fn check_reads_each_format_cell_for_cell() {
    for (file, format) in [
        ("list.xlsx", "xlsx"),
        ("list-resaved.xlsx", "xlsx"),
        ("list.ods", "ods"),
    ] {
        let (code, r) = check_json(&fixtures(), file, &["--settings", "list.toml"]);
        assert_eq!(code, 0, "{file}: {r:#}");
        assert_eq!(
            (&r["encoding"], &r["delimiter"], &r["sheet"]),
            (&json!(format), &Value::Null, &json!("名单")),
            "{file}"
        );
        assert_eq!((r["rows"].as_u64(), r["good"].as_u64()), (Some(5), Some(2)));
        let texts: Vec<&str> = (0..2)
            .map(|i| r["samples"][i]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, TEXTS, "{file}");
        let callees: Vec<&str> = (0..2)
            .map(|i| r["samples"][i]["callee"].as_str().unwrap())
            .collect();
        assert_eq!(callees, ["13800138000", "01062345678"], "{file}");
        let rows = skipped_rows(&r);
        let reasons: Vec<(u64, &str)> = rows.iter().map(|(l, r, _)| (*l, r.as_str())).collect();
        let error_cell = if format == "ods" {
            "missing_variable"
        } else {
            "bad_field"
        };
        assert_eq!(
            reasons,
            [(4, "bad_number"), (5, error_cell), (7, "bad_field")],
            "{file}"
        );
        assert!(
            rows[0]
                .2
                .contains("looks like the landline 01062345679 without its leading 0"),
            "{file}: {}",
            rows[0].2
        );
        if format != "ods" {
            assert_eq!(
                rows[1].2,
                "cell C5 is an error (#N/A): correct its formula or clear it"
            );
        }
        assert!(
            rows[2].2.starts_with("cell G7 is a number of 17 digits")
                && rows[2].2.contains("format the column as text"),
            "{file}: {}",
            rows[2].2
        );
    }
}

/// An `.xls` workbook is refused unread (a damaged one can crash calamine's reader),
/// saying to save it as `.xlsx`.
#[test]
fn check_refuses_an_xls_workbook_saying_what_to_save_instead() {
    let (code, r) = check_json(&fixtures(), "list.xls", &[]);
    assert_eq!(code, 1, "{r:#}");
    let rejected = r["rejected"].as_str().unwrap();
    assert!(
        rejected.contains("save the list as an .xlsx workbook"),
        "{rejected}"
    );
}

/// The sheet is the one `sheet` names, by name or number; a name the workbook lacks is
/// refused naming the sheets it has, and the first sheet (a note, no callee column)
/// cannot be a list.
#[test]
fn the_sheet_setting_picks_the_worksheet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("list.xlsx"), dir.path().join("list.xlsx")).unwrap();
    let template = "template = \"{1}您好，您{2} {3}的快递已到，到付{4}元，取件码{5}。\"\n";
    for (sheet, accepted, says) in [
        ("sheet = 2", true, ""),
        ("", false, "has no callee column"),
        (
            "sheet = \"Sheet9\"",
            false,
            "the workbook has no sheet \"Sheet9\" (the `sheet` setting); its sheets are \
             \"说明\", \"名单\"",
        ),
    ] {
        std::fs::write(dir.path().join("list.toml"), format!("{template}{sheet}\n")).unwrap();
        let (code, r) = check_json(dir.path(), "list.xlsx", &[]);
        assert_eq!(code == 0, accepted, "{sheet}: {r:#}");
        if accepted {
            assert_eq!(r["good"], 2, "{sheet}");
        } else {
            let rejected = r["rejected"].as_str().unwrap();
            assert!(rejected.contains(says), "{sheet}: {rejected}");
        }
    }
}

/// The daemon takes a workbook from the inbox, dials its good rows with the texts its
/// cells give, reports every row, and moves it to `done/` under its own format. The same
/// list saved again has other bytes but the same cells, so it is the same content.
#[tokio::test]
async fn the_daemon_dials_a_workbook_and_knows_it_saved_again() {
    let sim = simulator(answering(Duration::ZERO)).await;
    let site = Site::with_config(&config(&sim, "v1", ""));
    let daemon = start(&site).await;
    let settings = std::fs::read_to_string(fixtures().join("list.toml")).unwrap();
    let workbook = std::fs::read(fixtures().join("list.xlsx")).unwrap();
    site.drop_list("list.xlsx", Some(&settings), workbook);
    finished(&site.store(), "list", Duration::from_secs(30)).await;
    let mut spoken: Vec<(String, String)> = sim
        .calls()
        .into_iter()
        .map(|call| (call.callee, call.content))
        .collect();
    spoken.sort();
    assert_eq!(
        spoken,
        [
            ("01062345678".to_string(), TEXTS[1].to_string()),
            ("13800138000".to_string(), TEXTS[0].to_string())
        ]
    );
    eventually(Duration::from_secs(10), "the workbook in done/", || async {
        (files_in(&site.folder("done")) == ["list.toml", "list.xlsx"]).then_some(())
    })
    .await;

    let results = std::fs::read_to_string(site.folder("reports").join("list/results.csv")).unwrap();
    let rows: Vec<&str> = results.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), 6, "{results}");
    assert!(
        rows[0].starts_with("手机号,1,2,3,4,5,备注,call_state"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("13800138000,张三,2026-12-01,09:30,123.5,00123,VIP客户,answered"),
        "{}",
        rows[1]
    );
    assert!(
        rows[4].starts_with("13900139000,赵六,#N/A,11:00,8,01000,,skipped"),
        "{}",
        rows[4]
    );

    site.drop_list(
        "again.xlsx",
        Some(&settings),
        std::fs::read(fixtures().join("list-resaved.xlsx")).unwrap(),
    );
    eventually(
        Duration::from_secs(20),
        "the same list saved again rejected",
        || async {
            (files_in(&site.folder("rejected")) == ["again.error.txt", "again.toml", "again.xlsx"])
                .then_some(())
        },
    )
    .await;
    let note = std::fs::read_to_string(site.folder("rejected").join("again.error.txt")).unwrap();
    assert!(note.contains("the same as campaign \"list\""), "{note}");
    daemon.stop().await;
}
