//! The report files' contents, each written through [`crate::atomic`] so a reader sees
//! the old file or the new one, never a part. `results.csv` and `skipped.csv` are
//! streamed from the store's rows.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::path::Path;

use csv::StringRecord;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::figures::LOCAL;
use crate::atomic;
use crate::fields;
use crate::store::{Reader, ReportReadError, ResultRow, Which};
use callcenter_openapi::causes::cause;

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
        let mut rows = Rows::new(out);
        let prefix = column_prefix(layout.header);
        let mut header: Vec<String> = layout.header.to_vec();
        header.extend(CALL_COLUMNS.iter().map(|c| format!("{prefix}{c}")));
        rows.csv.write_record(&header).map_err(io::Error::from)?;
        let base = layout.recording_base.trim_end_matches('/');
        reader.each_row(campaign, Which::All, |row| {
            // Short rows are padded and long ones cut to the header, so the call columns
            // line up; skipped.csv keeps a long row whole.
            rows.original(row, Some(layout.header.len()))?;
            rows.field(row.state.as_str())?;
            rows.number(Some(row.attempts))?;
            rows.number(row.cause)?;
            match row.cause.and_then(cause) {
                Some(text) => rows.made(format_args!("{} / {}", text.zh, text.en))?,
                None => rows.field("")?,
            }
            for time in [row.answer_time, row.end_time] {
                match time.and_then(|t| t.parse::<Timestamp>().ok()) {
                    Some(t) => rows.made(format_args!(
                        "{}",
                        t.to_zoned_datetime(layout.zone.clone()).strftime(LOCAL)
                    ))?,
                    None => rows.field("")?,
                }
            }
            rows.number(row.talk_secs)?;
            rows.field(row.fee.unwrap_or_default())?;
            rows.field(row.session.unwrap_or_default())?;
            match row.recording {
                Some(file) => rows.made(format_args!("{base}{file}"))?,
                None => rows.field("")?,
            }
            rows.field(&note(row, layout.held.as_deref()))?;
            rows.end()
        })?;
        Ok(rows.csv.flush()?)
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
        let mut rows = Rows::new(out);
        let mut first = vec!["line".to_string(), "reason".into(), "detail".into()];
        first.extend(header.iter().cloned());
        rows.csv.write_record(&first).map_err(io::Error::from)?;
        reader.each_row(campaign, Which::Skipped, |row| {
            rows.number(Some(row.line))?;
            rows.field(row.reason.unwrap_or_default())?;
            rows.field(row.detail.unwrap_or_default())?;
            rows.original(row, None)?;
            rows.end()
        })?;
        Ok(rows.csv.flush()?)
    })
}

/// Writes CSV records a field at a time, through buffers kept from row to row: a row
/// costs no allocation unless its note joins a reason and a detail.
struct Rows<W: Write> {
    csv: csv::Writer<W>,
    /// The current row's original fields.
    fields: StringRecord,
    /// The current field, when it is made from parts.
    made: String,
}

impl<W: Write> Rows<W> {
    fn new(out: W) -> Rows<W> {
        Rows {
            csv: csv::WriterBuilder::new()
                .flexible(true)
                .buffer_capacity(1 << 16)
                .from_writer(out),
            fields: StringRecord::new(),
            made: String::new(),
        }
    }

    /// The row's original fields, padded or cut to `width` if given.
    fn original(&mut self, row: &ResultRow<'_>, width: Option<usize>) -> io::Result<()> {
        if fields::read_json(row.fields, &mut self.fields).is_err() {
            // Stored fields that do not read are shown as they are, in one field.
            self.fields.clear();
            self.fields.push_field(&String::from_utf8_lossy(row.fields));
        }
        for i in 0..width.unwrap_or(self.fields.len()) {
            self.csv
                .write_field(self.fields.get(i).unwrap_or_default())?;
        }
        Ok(())
    }

    fn field(&mut self, text: &str) -> io::Result<()> {
        Ok(self.csv.write_field(text)?)
    }

    /// A field made from parts.
    fn made(&mut self, parts: fmt::Arguments<'_>) -> io::Result<()> {
        self.made.clear();
        self.made.write_fmt(parts).expect("a String takes any text");
        Ok(self.csv.write_field(&self.made)?)
    }

    fn number(&mut self, n: Option<impl fmt::Display>) -> io::Result<()> {
        match n {
            Some(n) => self.made(format_args!("{n}")),
            None => self.field(""),
        }
    }

    /// Ends the record.
    fn end(&mut self) -> io::Result<()> {
        Ok(self.csv.write_record(None::<&[u8]>)?)
    }
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

/// `call_note`: the row's own reason and detail, or for a row not final without one,
/// why its campaign is `held`.
fn note<'r>(row: &ResultRow<'r>, held: Option<&'r str>) -> Cow<'r, str> {
    match (row.reason, row.detail) {
        (Some(reason), Some(detail)) => format!("{reason}: {detail}").into(),
        (Some(text), None) | (None, Some(text)) => text.into(),
        (None, None) if !row.state.is_final() => held.unwrap_or_default().into(),
        (None, None) => "".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RowState;

    /// A row on line 2 with these fields and state, and nothing else.
    fn row(fields: &'static [u8], state: RowState) -> ResultRow<'static> {
        ResultRow {
            line: 2,
            fields,
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
        }
    }

    #[test]
    fn rows_not_final_say_why_their_campaign_is_held() {
        let held = Some("halted: account halted: error 1");
        let of = |state| note(&row(b"[]", state), held).into_owned();
        assert_eq!(of(RowState::Pending), "halted: account halted: error 1");
        assert_eq!(of(RowState::Answered), "");
        let skipped = ResultRow {
            reason: Some("bad_number"),
            detail: Some("12345"),
            ..row(b"[]", RowState::Skipped)
        };
        assert_eq!(note(&skipped, held), "bad_number: 12345");
    }

    #[test]
    fn original_fields_are_fitted_to_the_header_only_where_asked() {
        let written = |fields, width| {
            let mut rows = Rows::new(Vec::new());
            rows.original(&row(fields, RowState::Pending), width)
                .unwrap();
            rows.field("end").unwrap();
            rows.end().unwrap();
            String::from_utf8(rows.csv.into_inner().unwrap()).unwrap()
        };
        let long = br#"["a","b,c","d"]"#;
        assert_eq!(written(long, Some(2)), "a,\"b,c\",end\n");
        assert_eq!(written(long, None), "a,\"b,c\",d,end\n");
        assert_eq!(written(br#"["a"]"#, Some(3)), "a,,,end\n");
        // Stored fields that do not read are shown whole rather than lost.
        assert_eq!(written(b"a\xFFb", Some(2)), "a\u{FFFD}b,,end\n");
        // The buffers are reused: a short row after a long one has only its own fields.
        let mut rows = Rows::new(Vec::new());
        for fields in [&long[..], br#"["x"]"#] {
            rows.original(&row(fields, RowState::Pending), None)
                .unwrap();
            rows.end().unwrap();
        }
        let out = String::from_utf8(rows.csv.into_inner().unwrap()).unwrap();
        assert_eq!(out, "a,\"b,c\",d\nx\n");
    }

    #[test]
    fn our_columns_step_aside_for_the_inputs_own() {
        let plain = ["手机号".to_string(), "1".into()];
        assert_eq!(column_prefix(&plain), "call_");
        let clash = ["phone".to_string(), "Call_State".into()];
        assert_eq!(column_prefix(&clash), "voicecast_");
    }
}
