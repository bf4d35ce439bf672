//! `voicecast check` on the intake fixtures (`tests/fixtures/intake/`): every encoding,
//! delimiter and row problem of PRODUCT.md section 2, each with its exact counts,
//! reasons and lines.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::{check_json, voicecast};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/intake")
}

/// Runs `voicecast check NAME.csv --json` in the fixtures folder; returns the exit code
/// and the report.
fn check(name: &str, extra: &[&str]) -> (i32, Value) {
    check_json(&fixtures(), &format!("{name}.csv"), extra)
}

/// `(line, reason)` of each listed skipped row.
fn skipped_lines(report: &Value) -> Vec<(u64, String)> {
    report["skipped_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn sample(report: &Value, i: usize, field: &str) -> String {
    report["samples"][i][field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_gbk_file_as_excel_writes_it() {
    let (code, r) = check("gbk-excel", &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        (r["encoding"].as_str(), r["delimiter"].as_str()),
        (Some("gb18030"), Some("comma"))
    );
    assert_eq!((r["rows"].as_u64(), r["good"].as_u64()), (Some(4), Some(2)));
    assert_eq!(
        r["skipped"],
        json!({"bad_number": 1, "scientific_notation": 1})
    );
    assert_eq!(
        skipped_lines(&r),
        vec![(3, "scientific_notation".into()), (5, "bad_number".into())]
    );
    assert!(
        r["skipped_rows"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("format the column as text")
    );
    assert_eq!(
        sample(&r, 0, "text"),
        "张三您好，您的快递已到东门驿站，请凭取件码5521领取。"
    );
    assert_eq!(sample(&r, 1, "callee"), "13900139002");
    assert_eq!(r["rejected"], Value::Null);
}

/// Landlines a spreadsheet saved as numbers, without their leading 0: skipped, saying
/// which landline each looks like and how to keep the zero.
#[test]
fn a_landline_that_lost_its_zero_says_so() {
    let (code, r) = check("lost-zero", &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["skipped"], json!({"bad_number": 2}));
    assert_eq!(
        skipped_lines(&r),
        vec![(3, "bad_number".into()), (4, "bad_number".into())]
    );
    for (i, landline) in ["01062345678", "02166666666"].iter().enumerate() {
        let detail = r["skipped_rows"][i]["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!(
                "looks like the landline {landline} without its leading 0"
            )) && detail.contains("format the column as text"),
            "{detail}"
        );
    }
}

#[test]
fn utf8_with_bom_crlf_quotes_and_other_delimiters() {
    let (code, r) = check("utf8-bom", &[]);
    assert_eq!(
        (code, r["encoding"].as_str(), r["good"].as_u64()),
        (0, Some("utf-8-bom"), Some(2))
    );

    let (code, r) = check("crlf-quoted", &[]);
    assert_eq!(
        (code, r["rows"].as_u64(), r["good"].as_u64()),
        (0, Some(3), Some(3))
    );
    let lines: Vec<u64> = (0..3)
        .map(|i| r["samples"][i]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![2, 4, 5],
        "a quoted line break moves the next row's line"
    );
    assert_eq!(
        sample(&r, 0, "text"),
        "张三, 先生您好，您的快递已到东门，请凭取件码1领取。"
    );
    assert_eq!(
        sample(&r, 1, "text"),
        "李四您好，您的快递已到西门, 2号，请凭取件码2领取。"
    );

    let (code, r) = check("tabs", &[]);
    assert_eq!(
        (code, r["delimiter"].as_str(), r["good"].as_u64()),
        (0, Some("tab"), Some(2))
    );
    assert_eq!(sample(&r, 1, "callee"), "13800138001");

    let (code, r) = check("ten-variables", &[]);
    assert_eq!((code, r["delimiter"].as_str()), (0, Some("semicolon")));
    assert_eq!(sample(&r, 0, "text"), "abcdefghij");
    assert_eq!(skipped_lines(&r), vec![(3, "missing_variable".into())]);
    assert_eq!(
        r["skipped_rows"][0]["detail"],
        "variable {10} (column \"10\") is empty"
    );
}

#[test]
fn files_without_rows_are_rejected_with_exit_1() {
    for (name, reason) in [
        ("header-only", "the file has a header but no rows"),
        ("empty", "the file is empty"),
        ("no-column", "the header row has no column for {3}"),
        ("scientific", "no usable row: all 2 rows were skipped"),
    ] {
        let (code, r) = check(name, &[]);
        assert_eq!(code, 1, "{name}: {r:#}");
        let got = r["rejected"].as_str().unwrap_or_default();
        assert!(got.contains(reason), "{name}: {got}");
    }
    let (_, r) = check("scientific", &[]);
    assert_eq!(r["skipped"], json!({"scientific_notation": 2}));
}

#[test]
fn ragged_rows_long_texts_and_full_width_numbers() {
    let (code, r) = check("ragged", &[]);
    assert_eq!(
        (code, r["rows"].as_u64(), r["good"].as_u64()),
        (0, Some(4), Some(2))
    );
    assert_eq!(
        skipped_lines(&r),
        vec![(3, "field_count".into()), (4, "field_count".into())]
    );
    assert_eq!(r["skipped_rows"][1]["detail"], "5 fields; the header has 4");

    let (_, r) = check("too-long", &[]);
    assert_eq!(skipped_lines(&r), vec![(2, "text_too_long".into())]);
    assert!(
        r["skipped_rows"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("the limit is 500")
    );

    let (code, r) = check("fullwidth", &[]);
    assert_eq!((code, r["good"].as_u64()), (0, Some(4)));
    let callees: Vec<String> = (0..4).map(|i| sample(&r, i, "callee")).collect();
    assert_eq!(
        callees,
        ["13800138000", "13800138001", "01012345678", "4008108888"]
    );
}

#[test]
fn duplicates_name_their_first_line_and_do_not_call_numbers_are_skipped() {
    let (code, r) = check("duplicates", &[]);
    assert_eq!(
        (code, r["rows"].as_u64(), r["good"].as_u64()),
        (0, Some(5), Some(2))
    );
    assert_eq!(r["skipped"], json!({"missing_variable": 1, "duplicate": 2}));
    assert_eq!(
        skipped_lines(&r),
        vec![
            (3, "missing_variable".into()),
            (4, "duplicate".into()),
            (6, "duplicate".into())
        ]
    );
    assert_eq!(r["skipped_rows"][1]["detail"], "duplicate of line 2");
    // Line 5 repeats line 3's number, but line 3 was skipped: line 5 is still called.
    assert_eq!(r["samples"][1]["line"], 5);

    let (code, r) = check("dnc", &["--config", "dnc.config.toml"]);
    assert_eq!((code, r["good"].as_u64()), (0, Some(1)));
    assert_eq!(
        skipped_lines(&r),
        vec![(3, "do_not_call".into()), (4, "do_not_call".into())]
    );
    let (_, without) = check("dnc", &[]);
    assert_eq!(without["good"], 3);
}

#[test]
fn an_unknown_settings_key_is_named_with_its_line() {
    let (code, r) = check("unknown-key", &[]);
    assert_eq!(code, 1);
    let reason = r["rejected"].as_str().unwrap();
    assert!(
        reason.contains("unknown-key.toml, line 2: unknown field `retry_afte`"),
        "{reason}"
    );
}

#[test]
fn the_human_form_counts_reasons_and_shows_texts_and_a_missing_file_is_a_usage_error() {
    let output = voicecast()
        .current_dir(fixtures())
        .args(["check", "gbk-excel.csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("4 rows: 2 good, 2 skipped"), "{text}");
    assert!(text.contains("scientific_notation  1"), "{text}");
    assert!(text.contains("line 2      13800138000  张三您好"), "{text}");
    assert!(text.ends_with("accepted\n"), "{text}");
    let missing = voicecast()
        .args(["check", "/nonexistent/x.csv"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
