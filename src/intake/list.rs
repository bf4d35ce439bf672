//! One call list read end to end: a CSV file's bytes scanned (hash, encoding) and its
//! records decoded, or a workbook's sheet read cell by cell; every record judged, the
//! duplicates found, every row handed to the caller in file order. The same pass serves
//! `voicecast check` (which keeps nothing) and the import (which stores every row).

use std::io::{Read, Seek, SeekFrom};

use super::decode::{CallList, DecodeError, TextEncoding, scan};
use super::rows::{Deduplicator, Duplicate, Rules, Tally, Verdict, check_row, is_blank};
use super::workbook::{self, CellProblem};
use crate::columns::{Columns, HeaderError};
use crate::layout::ListFormat;
use crate::settings::Sheet;

/// One row as the pass hands it on.
#[derive(Debug)]
pub struct Row<'a> {
    pub columns: &'a Columns,
    pub shape: &'a Shape,
    /// The row's place among the file's rows, from 0.
    pub ordinal: u64,
    pub line: u64,
    pub record: &'a csv::StringRecord,
    pub verdict: &'a Verdict,
}

/// How a call list's text was laid out in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    Csv {
        encoding: TextEncoding,
        delimiter: u8,
    },
    Workbook {
        format: ListFormat,
        /// The worksheet read.
        sheet: String,
    },
}

impl Shape {
    /// The encoding as `check --json` and the store name it: a CSV file's text encoding,
    /// or a workbook's format (`xlsx`, `xls`, `ods`).
    pub fn encoding(&self) -> &'static str {
        match self {
            Shape::Csv { encoding, .. } => encoding.label(),
            Shape::Workbook { format, .. } => format.extension(),
        }
    }

    /// A CSV file's delimiter as people name it; a workbook has none.
    pub fn delimiter(&self) -> Option<&'static str> {
        match self {
            Shape::Csv { delimiter, .. } => Some(delimiter_name(*delimiter)),
            Shape::Workbook { .. } => None,
        }
    }

    /// The worksheet read, for a workbook.
    pub fn sheet(&self) -> Option<&str> {
        match self {
            Shape::Csv { .. } => None,
            Shape::Workbook { sheet, .. } => Some(sheet),
        }
    }
}

/// A whole file, read.
#[derive(Debug)]
pub struct Checked {
    /// The content hash that tells the same list dropped again: SHA-256 of a CSV file's
    /// bytes, or of a workbook's decoded cells, lowercase hex.
    pub hash: String,
    pub shape: Shape,
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

/// A call list's records, one by one, whatever file they come from.
pub trait Records {
    fn shape(&self) -> Shape;

    fn columns(&self) -> &Columns;

    /// How many rows the file may hold, for the duplicate check's first allocation: an
    /// estimate, high rather than low.
    fn estimated_rows(&self) -> usize;

    /// Reads the next record into `record`; `None` at the end.
    fn next_record(&mut self, record: &mut csv::StringRecord)
    -> Result<Option<Found>, DecodeError>;

    /// Called once the last record is read: checks the end of the file and returns its
    /// content hash (see [`Checked::hash`]).
    fn finish(&mut self) -> Result<String, DecodeError>;
}

/// Where a record was found, and what was wrong with one of its cells, if anything.
#[derive(Debug)]
pub struct Found {
    pub line: u64,
    /// A workbook cell that could not be made text as it is: it skips its row.
    pub problem: Option<CellProblem>,
}

/// Reads `file`, a call list in `format` (and for a workbook, its worksheet `sheet`, else
/// the first), from its start; hands every row to `sink` in file order and returns the
/// tally. Blank rows are no rows and are not handed on.
pub fn read<R, E>(
    mut file: R,
    format: ListFormat,
    sheet: Option<&Sheet>,
    rules: &Rules,
    sink: impl FnMut(Row<'_>) -> Result<(), E>,
) -> Result<Checked, ListError<E>>
where
    R: Read + Seek + 'static,
{
    file.seek(SeekFrom::Start(0)).map_err(DecodeError::from)?;
    if format != ListFormat::Csv {
        return workbook::read(file, format, sheet, |records| pass(records, rules, sink))?;
    }
    let facts = scan(&mut file)?;
    file.seek(SeekFrom::Start(0)).map_err(DecodeError::from)?;
    pass(&mut CallList::open(file, facts)?, rules, sink)
}

/// Judges every record of `records`, handing each row to `sink`.
fn pass<E>(
    records: &mut dyn Records,
    rules: &Rules,
    mut sink: impl FnMut(Row<'_>) -> Result<(), E>,
) -> Result<Checked, ListError<E>> {
    let shape = records.shape();
    let columns = records.columns().clone();
    if let Some(template) = &rules.template {
        check_template_columns(template, &columns)?;
    }
    let mut duplicates = Deduplicator::with_capacity(records.estimated_rows());
    let mut tally = Tally::default();
    let mut record = csv::StringRecord::new();
    let mut ordinal = 0u64;
    while let Some(found) = records.next_record(&mut record)? {
        if is_blank(&record) {
            continue;
        }
        let line = found.line;
        let (Ok(short_ordinal), Ok(short_line)) = (u32::try_from(ordinal), u32::try_from(line))
        else {
            return Err(DecodeError::Record {
                line,
                message: "the file has more than 4 billion lines: split it".into(),
            }
            .into());
        };
        let verdict = match &found.problem {
            Some(problem) => Verdict::Skip(problem.skip(&columns)),
            None => check_row(rules, &columns, &record),
        };
        if let Verdict::Good(good) = &verdict {
            duplicates.add(&good.callee, short_ordinal, short_line);
        }
        tally.count(line, &verdict);
        sink(Row {
            columns: &columns,
            shape: &shape,
            ordinal,
            line,
            record: &record,
            verdict: &verdict,
        })
        .map_err(ListError::Sink)?;
        ordinal += 1;
    }
    let hash = records.finish()?;
    let duplicates = duplicates.finish();
    tally.duplicates(&duplicates);
    Ok(Checked {
        hash,
        shape,
        columns,
        tally,
        duplicates,
    })
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
fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b'\t' => "tab",
        b';' => "semicolon",
        _ => "comma",
    }
}

#[cfg(test)]
mod tests;
