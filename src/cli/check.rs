//! `voicecast check FILE.csv|FILE.xlsx [--settings FILE.toml] [--json]`: the intake's
//! decoding and validation with no store and no network (PRODUCT.md section 6).

use std::fs::File;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::intake::campaign::{self, Limits};
use crate::intake::decode::DecodeError;
use crate::intake::list::{self, Checked};
use crate::intake::rows::{DoNotCall, Sample, SkippedRow, reason_lines, skipped_row_lines};
use crate::layout::{self, ListFormat};
use crate::settings::TemplateSource;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The call list: a CSV file, or a workbook (.xlsx, .ods).
    file: PathBuf,
    /// The campaign's settings (else FILE.toml beside the call list, if there is one).
    #[arg(long, value_name = "FILE.toml")]
    settings: Option<PathBuf>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// `check --json`, field for field as PRODUCT.md names them.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    encoding: Option<&'static str>,
    delimiter: Option<&'static str>,
    sheet: Option<String>,
    rows: u64,
    good: u64,
    skipped: std::collections::BTreeMap<crate::domain::SkipReason, u64>,
    skipped_rows: Vec<SkippedRow>,
    rejected: Option<String>,
    samples: Vec<Sample>,
    #[serde(skip)]
    notes: Vec<String>,
}

/// Runs the check; returns whether the file would be accepted.
pub fn run(config: &Config, args: CheckArgs) -> anyhow::Result<bool> {
    if !args.file.is_file() {
        return Err(ConfigError(format!("{} is not a file", args.file.display())).into());
    }
    let settings_file = args
        .settings
        .clone()
        .or_else(|| Some(layout::settings_beside(&args.file)).filter(|p| p.is_file()));
    let do_not_call = match &config.intake.dnc_file {
        Some(path) => {
            campaign::read_do_not_call(path, config.intake.numbers).map_err(ConfigError)?
        }
        None => DoNotCall::default(),
    };
    let limits = Limits {
        numbers: config.intake.numbers,
        max_text_chars: config.intake.max_text_chars.get() as usize,
    };
    let mut report = Report {
        file: args.file.display().to_string(),
        encoding: None,
        delimiter: None,
        sheet: None,
        rows: 0,
        good: 0,
        skipped: Default::default(),
        skipped_rows: Vec::new(),
        rejected: None,
        samples: Vec::new(),
        notes: Vec::new(),
    };
    match campaign::plan(
        settings_file.as_deref(),
        &config.campaign_defaults,
        &limits,
        do_not_call,
    ) {
        Err(reason) => report.rejected = Some(reason),
        Ok(plan) => {
            if let TemplateSource::VendorId(id) = &plan.settings.template {
                report.notes.push(format!(
                    "template_id {id} is not checked offline: rows are checked without their text"
                ));
            }
            let nothing_kept = |_: list::Row<'_>| Ok::<(), std::convert::Infallible>(());
            let read = File::open(&args.file)
                .map_err(|e| list::ListError::from(DecodeError::from(e)))
                .and_then(|file| {
                    list::read(
                        file,
                        ListFormat::of_list(&args.file),
                        plan.settings.sheet.as_ref(),
                        &plan.rules,
                        nothing_kept,
                    )
                });
            match read {
                Ok(checked) => fill(&mut report, checked),
                Err(list::ListError::Unreadable(e)) => report.rejected = Some(e.to_string()),
                Err(list::ListError::Sink(never)) => match never {},
            }
        }
    }
    let accepted = report.rejected.is_none();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report));
    }
    Ok(accepted)
}

fn fill(report: &mut Report, checked: Checked) {
    report.encoding = Some(checked.shape.encoding());
    report.delimiter = checked.shape.delimiter();
    report.sheet = checked.shape.sheet().map(str::to_string);
    report.rejected = checked.tally.rejection();
    let tally = checked.tally;
    report.rows = tally.rows;
    report.good = tally.good;
    report.skipped = tally.skipped;
    report.skipped_rows = tally.skipped_rows;
    report.samples = tally.samples;
}

fn human(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.file);
    if let Some(encoding) = report.encoding {
        match (report.delimiter, &report.sheet) {
            (Some(delimiter), _) => writeln!(out, "  {encoding}, {delimiter}-separated"),
            (None, Some(sheet)) => writeln!(out, "  {encoding}, sheet {sheet:?}"),
            (None, None) => writeln!(out, "  {encoding}"),
        }
        .expect("writing to a String");
        let skipped: u64 = report.skipped.values().sum();
        let _ = writeln!(
            out,
            "  {} rows: {} good, {skipped} skipped",
            report.rows, report.good
        );
    }
    out.push_str(&reason_lines(&report.skipped, "    "));
    if !report.skipped_rows.is_empty() {
        let _ = writeln!(out, "  skipped rows (first {}):", report.skipped_rows.len());
        out.push_str(&skipped_row_lines(&report.skipped_rows, "    "));
    }
    if !report.samples.is_empty() {
        let _ = writeln!(out, "  first texts:");
        for s in &report.samples {
            let text = s.text.as_deref().unwrap_or("(not known offline)");
            let _ = writeln!(out, "    line {:<6} {}  {text}", s.line, s.callee);
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    match &report.rejected {
        None => {
            let _ = writeln!(out, "accepted");
        }
        Some(reason) => {
            let _ = writeln!(out, "rejected: {reason}");
        }
    }
    out
}
