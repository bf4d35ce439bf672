//! The report files on disk: each written whole to a temporary file beside it, flushed to
//! the disk, then renamed over the old one, so a reader sees the old file or the new one,
//! never a part. `results.csv` and `skipped.csv` are streamed from the store's rows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::domain::RowState;
use crate::store::{Reader, ReportReadError, ResultRow};
use crate::vendor::causes::cause;

/// Excel reads a UTF-8 CSV as UTF-8 only when it starts with this.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The columns `results.csv` adds after the original ones.
const CALL_COLUMNS: [&str; 11] = [
    "state",
    "attempts",
    "cause",
    "cause_text",
    "answer_time",
    "end_time",
    "talk_secs",
    "fee",
    "session",
    "recording_url",
    "note",
];

/// Writes `path` atomically with what `fill` writes.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), ReportReadError>,
) -> Result<(), ReportReadError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    // A dot-file, so nothing that lists the reports mistakes it for one.
    let temporary = dir.join(format!(".{name}.tmp"));
    let io = ReportReadError::Write;
    let file = File::create(&temporary).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let written = fill(&mut out).and_then(|()| {
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::rename(&temporary, path).map_err(io)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), ReportReadError> {
    write_atomic(path, |out| {
        out.write_all(bytes).map_err(ReportReadError::Write)
    })
}

/// How `results.csv` shows a campaign's rows.
pub struct ResultsLayout<'a> {
    /// The original header.
    pub header: &'a [String],
    /// Answer and end times are shown in this zone.
    pub zone: &'a TimeZone,
    /// Put before a record's file name to make the recording's URL.
    pub recording_base: &'a str,
}

/// `results.csv`: every input row, skipped ones too, with its original header and values,
/// then the `call_*` columns (`voicecast_*` when the input already has a `call_*` name).
pub fn results_csv(
    path: &Path,
    reader: &mut Reader,
    campaign: i64,
    layout: &ResultsLayout<'_>,
) -> Result<(), ReportReadError> {
    write_atomic(path, |out| {
        out.write_all(BOM).map_err(ReportReadError::Write)?;
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let prefix = column_prefix(layout.header);
        let mut header: Vec<String> = layout.header.to_vec();
        header.extend(CALL_COLUMNS.iter().map(|c| format!("{prefix}{c}")));
        csv.write_record(&header).map_err(csv_error)?;
        let width = layout.header.len();
        reader.each_row(campaign, None, |row| {
            let mut record = original_fields(&row);
            // Short rows are padded and long ones cut to the header, so the call columns
            // line up; skipped.csv keeps a long row whole.
            record.resize(width, String::new());
            record.extend(call_fields(&row, layout));
            csv.write_record(&record).map_err(std::io::Error::other)
        })?;
        csv.flush().map_err(ReportReadError::Write)
    })
}

/// `skipped.csv`: `line`, `reason`, `detail`, then the original row as it was.
pub fn skipped_csv(
    path: &Path,
    reader: &mut Reader,
    campaign: i64,
    header: &[String],
) -> Result<(), ReportReadError> {
    write_atomic(path, |out| {
        out.write_all(BOM).map_err(ReportReadError::Write)?;
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let mut first = vec!["line".to_string(), "reason".into(), "detail".into()];
        first.extend(header.iter().cloned());
        csv.write_record(&first).map_err(csv_error)?;
        reader.each_row(campaign, Some(RowState::Skipped), |row| {
            let mut record = vec![
                row.line.to_string(),
                row.reason.clone().unwrap_or_default(),
                row.detail.clone().unwrap_or_default(),
            ];
            record.extend(original_fields(&row));
            csv.write_record(&record).map_err(std::io::Error::other)
        })?;
        csv.flush().map_err(ReportReadError::Write)
    })
}

fn csv_error(error: csv::Error) -> ReportReadError {
    ReportReadError::Write(std::io::Error::other(error))
}

/// `call_`, or `voicecast_` when an input column already has one of our names.
fn column_prefix(header: &[String]) -> &'static str {
    let taken = header.iter().any(|h| {
        CALL_COLUMNS
            .iter()
            .any(|c| h.trim().eq_ignore_ascii_case(&format!("call_{c}")))
    });
    if taken { "voicecast_" } else { "call_" }
}

fn original_fields(row: &ResultRow) -> Vec<String> {
    serde_json::from_str(&row.fields).unwrap_or_else(|_| vec![row.fields.clone()])
}

fn call_fields(row: &ResultRow, layout: &ResultsLayout<'_>) -> Vec<String> {
    let text = row.cause.and_then(cause);
    let local = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(|t| {
                t.to_zoned_datetime(layout.zone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let note = match (&row.reason, &row.detail) {
        (Some(reason), Some(detail)) => format!("{reason}: {detail}"),
        (Some(reason), None) => reason.clone(),
        (None, Some(detail)) => detail.clone(),
        (None, None) => String::new(),
    };
    vec![
        row.state.as_str().to_string(),
        row.attempts.to_string(),
        row.cause.map(|c| c.to_string()).unwrap_or_default(),
        text.map(|c| format!("{} / {}", c.zh, c.en))
            .unwrap_or_default(),
        local(&row.answer_time),
        local(&row.end_time),
        row.talk_secs.map(|s| s.to_string()).unwrap_or_default(),
        row.fee.clone().unwrap_or_default(),
        row.session.clone().unwrap_or_default(),
        row.recording
            .as_deref()
            .map(|file| format!("{}{file}", layout.recording_base.trim_end_matches('/')))
            .unwrap_or_default(),
        note,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_columns_step_aside_for_the_inputs_own() {
        let plain = ["手机号".to_string(), "1".into()];
        assert_eq!(column_prefix(&plain), "call_");
        let clash = ["phone".to_string(), "Call_State".into()];
        assert_eq!(column_prefix(&clash), "voicecast_");
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write_bytes(&path, b"old").unwrap();
        let failed = write_atomic(&path, |out| {
            out.write_all(b"half").map_err(ReportReadError::Write)?;
            Err(ReportReadError::Write(std::io::Error::other("disk full")))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
