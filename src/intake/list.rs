//! One call list read end to end: its bytes scanned (hash, encoding), its records decoded
//! and judged, its duplicates found, every row handed to the caller in file order. The
//! same pass serves `voicecast check` (which keeps nothing) and the import (which stores
//! every row).

use std::io::{Read, Seek, SeekFrom};

use super::decode::{CallList, DecodeError, FileFacts, scan};
use super::rows::{Deduplicator, Duplicate, Rules, Tally, Verdict, check_row, is_blank};
use crate::columns::{Columns, HeaderError};

/// One row as the pass hands it on.
#[derive(Debug)]
pub struct Row<'a> {
    pub columns: &'a Columns,
    pub delimiter: u8,
    /// The row's place among the file's rows, from 0.
    pub ordinal: u64,
    pub line: u64,
    pub record: &'a csv::StringRecord,
    pub verdict: &'a Verdict,
}

/// A whole file, read.
#[derive(Debug)]
pub struct Checked {
    pub facts: FileFacts,
    pub delimiter: u8,
    pub columns: Columns,
    pub tally: Tally,
    /// In file order. The rows were handed on as good; they are skipped.
    pub duplicates: Vec<Duplicate>,
}

/// Why a pass stopped: the file is unreadable, or the caller's sink failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError<E> {
    #[error(transparent)]
    Unreadable(#[from] DecodeError),
    #[error(transparent)]
    Sink(E),
}

/// The bytes a row takes in memory while a file is read (for the duplicate check's
/// estimate of the row count): smaller than any real row, so the estimate is high.
const MIN_ROW_BYTES: u64 = 24;

/// Scans `file` for its hash and encoding ([`scan`]), from its start.
pub fn facts(file: &mut (impl Read + Seek)) -> Result<FileFacts, DecodeError> {
    file.seek(SeekFrom::Start(0))?;
    scan(file)
}

/// Reads `file` (whose [`facts`] are known) from its start, hands every row to `sink` in
/// file order, and returns the tally. Blank rows are no rows and are not handed on.
pub fn read<R, E>(
    mut file: R,
    facts: FileFacts,
    rules: &Rules,
    mut sink: impl FnMut(Row<'_>) -> Result<(), E>,
) -> Result<Checked, ListError<E>>
where
    R: Read + Seek + 'static,
{
    file.seek(SeekFrom::Start(0)).map_err(DecodeError::from)?;
    let mut list = CallList::open(file, facts.encoding)?;
    if let Some(template) = &rules.template {
        check_template_columns(template, &list.columns)?;
    }
    let estimate = (facts.bytes / MIN_ROW_BYTES).min(1 << 20) as usize;
    let mut duplicates = Deduplicator::with_capacity(estimate);
    let mut tally = Tally::default();
    let mut record = csv::StringRecord::new();
    let mut ordinal = 0u64;
    // The last row's line and whether it spans lines: an unclosed quote that runs to the
    // end of the file leaves exactly that, with an odd number of quotes in the file.
    let mut last = (0, false);
    while let Some(line) = list.next_record(&mut record)? {
        if is_blank(&record) {
            continue;
        }
        let breaks = line_breaks(&record);
        last = (line, breaks > 0);
        if breaks > MAX_LINE_BREAKS_IN_ROW {
            return Err(DecodeError::Record {
                line,
                message: format!(
                    "a quoted field runs on over {breaks} line breaks: a quote opened on this \
                     line is probably never closed"
                ),
            }
            .into());
        }
        let (Ok(short_ordinal), Ok(short_line)) = (u32::try_from(ordinal), u32::try_from(line))
        else {
            return Err(DecodeError::Record {
                line,
                message: "the file has more than 4 billion lines: split it".into(),
            }
            .into());
        };
        let verdict = check_row(rules, &list.columns, &record);
        if let Verdict::Good(good) = &verdict {
            duplicates.add(&good.callee, short_ordinal, short_line);
        }
        tally.count(line, &verdict);
        sink(Row {
            columns: &list.columns,
            delimiter: list.delimiter,
            ordinal,
            line,
            record: &record,
            verdict: &verdict,
        })
        .map_err(ListError::Sink)?;
        ordinal += 1;
    }
    if let (line, true) = last {
        if list.quote_left_open() {
            return Err(DecodeError::Record {
                line,
                message: "a quoted field runs to the end of the file: a quote opened on this \
                          line is probably never closed"
                    .into(),
            }
            .into());
        }
    }
    let duplicates = duplicates.finish();
    tally.duplicates(&duplicates);
    Ok(Checked {
        facts,
        delimiter: list.delimiter,
        columns: list.columns,
        tally,
        duplicates,
    })
}

/// More line breaks than any real row holds inside its quoted fields: beyond this, a
/// quote left open has swallowed the rows after it, and the file is refused rather than
/// those rows silently lost.
const MAX_LINE_BREAKS_IN_ROW: usize = 50;

/// The line breaks inside a record's fields (CRLF counts once).
fn line_breaks(record: &csv::StringRecord) -> usize {
    record
        .iter()
        .map(|field| {
            let bytes = field.as_bytes();
            memchr::memchr2_iter(b'\n', b'\r', bytes)
                .filter(|&i| bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n'))
                .count()
        })
        .sum()
}

/// Every variable the template uses needs a column; a file without one could only skip
/// every row, so it is refused naming the variable.
fn check_template_columns(
    template: &callcenter_openapi::template::Template,
    columns: &Columns,
) -> Result<(), DecodeError> {
    match template
        .variables()
        .into_iter()
        .find(|&n| columns.variables[usize::from(n) - 1].is_none())
    {
        Some(n) => Err(DecodeError::Header(HeaderError(format!(
            "has no column for {{{n}}}, which the template uses: name a column {n} \
             (or {{{n}}}, <{n}>, var{n}, v{n}, 变量{n})"
        )))),
        None => Ok(()),
    }
}

/// The delimiter as people name it.
pub fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b'\t' => "tab",
        b';' => "semicolon",
        _ => "comma",
    }
}

#[cfg(test)]
mod tests;
