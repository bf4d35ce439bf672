//! The report files' contents, each written through [`crate::atomic`] so a reader sees
//! the old file or the new one, never a part. `results.csv`, `results.xlsx` and
//! `skipped.csv` are streamed from the store's rows.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::path::Path;

use csv::StringRecord;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::figures::LOCAL;
use super::sheets::{ROWS_PER_SHEET, Sheets, streaming_workbook, summary_sheet};
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

/// The workbook to write beside `results.csv`: where, and the summary for its sheet.
pub struct WorkbookFile<'a> {
    pub path: &'a Path,
    pub summary: &'a str,
}

/// `results.csv`, and with `workbook` `results.xlsx`, from one pass over the rows: every
/// input row, skipped ones too, with its original header and values, then the `call_*`
/// columns (`voicecast_*` when the input already has a `call_*` name). The workbook
/// holds the same rows as text cells, then the skipped rows (as `skipped.csv`) and
/// `summary` (the lines of `summary.txt`) on sheets of their own.
pub fn results(
    csv_path: &Path,
    workbook: Option<WorkbookFile<'_>>,
    reader: &mut Reader,
    campaign: i64,
    layout: &ResultsLayout<'_>,
) -> Result<(), ReportReadError> {
    let prefix = column_prefix(layout.header);
    let mut header: Vec<String> = layout.header.to_vec();
    header.extend(CALL_COLUMNS.iter().map(|c| format!("{prefix}{c}")));
    let mut sheets = match &workbook {
        Some(file) => Some(
            Sheets::new(
                streaming_workbook(file.path)?,
                "results",
                &header,
                ROWS_PER_SHEET,
            )
            .map_err(io::Error::other)?,
        ),
        None => None,
    };
    atomic::write_with(csv_path, |out| {
        out.write_all(BOM)?;
        let mut csv = csv_writer(out);
        csv.write_record(&header).map_err(io::Error::from)?;
        let mut rows = Rows::new((csv, sheets.as_mut()));
        let base = layout.recording_base.trim_end_matches('/');
        reader.each_row(campaign, Which::All, |row| {
            result_row(&mut rows, row, layout, base)
        })?;
        Ok::<_, ReportReadError>(rows.sink.0.flush()?)
    })?;
    let (Some(file), Some(sheets)) = (workbook, sheets) else {
        return Ok(());
    };
    let workbook = sheets.finish().map_err(io::Error::other)?;
    let mut skipped = Sheets::new(
        workbook,
        "skipped",
        &skipped_header(layout.header),
        ROWS_PER_SHEET,
    )
    .map_err(io::Error::other)?;
    let mut rows = Rows::new(&mut skipped);
    reader.each_row(campaign, Which::Skipped, |row| skipped_row(&mut rows, row))?;
    let mut workbook = skipped.finish().map_err(io::Error::other)?;
    summary_sheet(&mut workbook, file.summary).map_err(io::Error::other)?;
    atomic::write_with(file.path, |out| {
        workbook.save_to_writer(out).map_err(io::Error::other)
    })?;
    Ok(())
}

/// One row of the results: its original fields, padded or cut to the header so the call
/// columns line up (`skipped.csv` keeps a long row whole), then the call columns.
fn result_row<S: Sink>(
    rows: &mut Rows<S>,
    row: &ResultRow<'_>,
    layout: &ResultsLayout<'_>,
    base: &str,
) -> io::Result<()> {
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
        let mut csv = csv_writer(out);
        csv.write_record(skipped_header(header))
            .map_err(io::Error::from)?;
        let mut rows = Rows::new(csv);
        reader.each_row(campaign, Which::Skipped, |row| skipped_row(&mut rows, row))?;
        Ok(rows.sink.flush()?)
    })
}

fn skipped_header(header: &[String]) -> Vec<String> {
    let mut first = vec!["line".to_string(), "reason".into(), "detail".into()];
    first.extend(header.iter().cloned());
    first
}

fn skipped_row<S: Sink>(rows: &mut Rows<S>, row: &ResultRow<'_>) -> io::Result<()> {
    rows.number(Some(row.line))?;
    rows.field(row.reason.unwrap_or_default())?;
    rows.field(row.detail.unwrap_or_default())?;
    rows.original(row, None)?;
    rows.end()
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_writer(out)
}

/// Where rows go a field at a time: a CSV file, a workbook's sheets, or both.
pub(super) trait Sink {
    fn field(&mut self, text: &str) -> io::Result<()>;
    /// Ends the row.
    fn end(&mut self) -> io::Result<()>;
}

impl<W: Write> Sink for csv::Writer<W> {
    fn field(&mut self, text: &str) -> io::Result<()> {
        Ok(self.write_field(text)?)
    }

    fn end(&mut self) -> io::Result<()> {
        Ok(self.write_record(None::<&[u8]>)?)
    }
}

impl<S: Sink> Sink for &mut S {
    fn field(&mut self, text: &str) -> io::Result<()> {
        (**self).field(text)
    }

    fn end(&mut self) -> io::Result<()> {
        (**self).end()
    }
}

/// No sink: the fields go nowhere.
impl<S: Sink> Sink for Option<S> {
    fn field(&mut self, text: &str) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), |sink| sink.field(text))
    }

    fn end(&mut self) -> io::Result<()> {
        self.as_mut().map_or(Ok(()), Sink::end)
    }
}

impl<A: Sink, B: Sink> Sink for (A, B) {
    fn field(&mut self, text: &str) -> io::Result<()> {
        self.0.field(text)?;
        self.1.field(text)
    }

    fn end(&mut self) -> io::Result<()> {
        self.0.end()?;
        self.1.end()
    }
}

/// Writes rows a field at a time, through buffers kept from row to row: a row costs no
/// allocation unless its note joins a reason and a detail.
pub(super) struct Rows<S: Sink> {
    sink: S,
    /// The current row's original fields.
    fields: StringRecord,
    /// The current field, when it is made from parts.
    made: String,
}

impl<S: Sink> Rows<S> {
    pub(super) fn new(sink: S) -> Rows<S> {
        Rows {
            sink,
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
            self.sink.field(self.fields.get(i).unwrap_or_default())?;
        }
        Ok(())
    }

    pub(super) fn field(&mut self, text: &str) -> io::Result<()> {
        self.sink.field(text)
    }

    /// A field made from parts.
    fn made(&mut self, parts: fmt::Arguments<'_>) -> io::Result<()> {
        self.made.clear();
        self.made.write_fmt(parts).expect("a String takes any text");
        self.sink.field(&self.made)
    }

    fn number(&mut self, n: Option<impl fmt::Display>) -> io::Result<()> {
        match n {
            Some(n) => self.made(format_args!("{n}")),
            None => self.field(""),
        }
    }

    pub(super) fn end(&mut self) -> io::Result<()> {
        self.sink.end()
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
            let mut rows = Rows::new(csv_writer(Vec::new()));
            rows.original(&row(fields, RowState::Pending), width)
                .unwrap();
            rows.field("end").unwrap();
            rows.end().unwrap();
            String::from_utf8(rows.sink.into_inner().unwrap()).unwrap()
        };
        let long = br#"["a","b,c","d"]"#;
        assert_eq!(written(long, Some(2)), "a,\"b,c\",end\n");
        assert_eq!(written(long, None), "a,\"b,c\",d,end\n");
        assert_eq!(written(br#"["a"]"#, Some(3)), "a,,,end\n");
        // Stored fields that do not read are shown whole rather than lost.
        assert_eq!(written(b"a\xFFb", Some(2)), "a\u{FFFD}b,,end\n");
        // The buffers are reused: a short row after a long one has only its own fields.
        let mut rows = Rows::new(csv_writer(Vec::new()));
        for fields in [&long[..], br#"["x"]"#] {
            rows.original(&row(fields, RowState::Pending), None)
                .unwrap();
            rows.end().unwrap();
        }
        let out = String::from_utf8(rows.sink.into_inner().unwrap()).unwrap();
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
