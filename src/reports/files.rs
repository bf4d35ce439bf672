//! The report files' contents, each written through [`crate::atomic`] so a reader sees
//! the old file or the new one, never a part. `results.csv` and `skipped.csv` are
//! streamed from the store's rows.

use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::figures::{LOCAL, local_time};
use crate::atomic;
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

/// How `results.csv` shows a campaign's rows.
pub struct ResultsLayout<'a> {
    /// The original header.
    pub header: &'a [String],
    /// Answer and end times are shown in this zone.
    pub zone: &'a TimeZone,
    /// Put before a record's file name to make the recording's URL.
    pub recording_base: &'a str,
    /// Why the campaign is not dialling (halted, paused, waiting), as the note of its
    /// rows that are not final and have no note of their own.
    pub held: Option<String>,
}

/// `results.csv`: every input row, skipped ones too, with its original header and values,
/// then the `call_*` columns (`voicecast_*` when the input already has a `call_*` name).
pub fn results_csv(
    path: &Path,
    reader: &mut Reader,
    campaign: i64,
    layout: &ResultsLayout<'_>,
) -> Result<(), ReportReadError> {
    atomic::write_with(path, |out| {
        out.write_all(BOM)?;
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let prefix = column_prefix(layout.header);
        let mut header: Vec<String> = layout.header.to_vec();
        header.extend(CALL_COLUMNS.iter().map(|c| format!("{prefix}{c}")));
        csv.write_record(&header).map_err(std::io::Error::other)?;
        let width = layout.header.len();
        reader.each_row(campaign, None, |row| {
            let mut record = original_fields(&row);
            // Short rows are padded and long ones cut to the header, so the call columns
            // line up; skipped.csv keeps a long row whole.
            record.resize(width, String::new());
            record.extend(call_fields(&row, layout));
            csv.write_record(&record).map_err(std::io::Error::other)
        })?;
        Ok(csv.flush()?)
    })
}

/// `skipped.csv`: `line`, `reason`, `detail`, then the original row as it was.
pub fn skipped_csv(
    path: &Path,
    reader: &mut Reader,
    campaign: i64,
    header: &[String],
) -> Result<(), ReportReadError> {
    atomic::write_with(path, |out| {
        out.write_all(BOM)?;
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let mut first = vec!["line".to_string(), "reason".into(), "detail".into()];
        first.extend(header.iter().cloned());
        csv.write_record(&first).map_err(std::io::Error::other)?;
        reader.each_row(campaign, Some(RowState::Skipped), |row| {
            let mut record = vec![
                row.line.to_string(),
                row.reason.clone().unwrap_or_default(),
                row.detail.clone().unwrap_or_default(),
            ];
            record.extend(original_fields(&row));
            csv.write_record(&record).map_err(std::io::Error::other)
        })?;
        Ok(csv.flush()?)
    })
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
            .map(|t| local_time(t.as_millisecond(), layout.zone, LOCAL))
            .unwrap_or_default()
    };
    let note = match (&row.reason, &row.detail) {
        (Some(reason), Some(detail)) => format!("{reason}: {detail}"),
        (Some(reason), None) => reason.clone(),
        (None, Some(detail)) => detail.clone(),
        (None, None) if !row.state.is_final() => layout.held.clone().unwrap_or_default(),
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
    fn rows_not_final_say_why_their_campaign_is_held() {
        let row = |state| ResultRow {
            line: 2,
            fields: "[]".into(),
            state,
            attempts: 0,
            reason: None,
            detail: None,
            cause: None,
            answer_time: None,
            end_time: None,
            talk_secs: None,
            fee: None,
            session: None,
            recording: None,
        };
        let layout = ResultsLayout {
            header: &[],
            zone: &TimeZone::UTC,
            recording_base: "",
            held: Some("halted: account halted: error 1".into()),
        };
        let note = |state| call_fields(&row(state), &layout).pop().unwrap();
        assert_eq!(note(RowState::Pending), "halted: account halted: error 1");
        assert_eq!(note(RowState::Answered), "");
        let skipped = ResultRow {
            reason: Some("bad_number".into()),
            detail: Some("12345".into()),
            ..row(RowState::Skipped)
        };
        assert_eq!(
            call_fields(&skipped, &layout).pop().unwrap(),
            "bad_number: 12345"
        );
    }

    #[test]
    fn our_columns_step_aside_for_the_inputs_own() {
        let plain = ["手机号".to_string(), "1".into()];
        assert_eq!(column_prefix(&plain), "call_");
        let clash = ["phone".to_string(), "Call_State".into()];
        assert_eq!(column_prefix(&clash), "voicecast_");
    }
}
