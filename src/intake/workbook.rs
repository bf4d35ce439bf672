//! Workbook call lists (PRODUCT.md section 2): one worksheet of an `.xlsx` or `.ods` file,
//! read through calamine, its cells made the text a person typed, its rows handed on as
//! records. An `.xlsx` sheet is read cell by cell as it is unzipped; the `.ods` reader
//! gives a sheet only whole. An `.xls` file is refused (see [`read`]).
//!
//! Each cell becomes text in [`cells`], so that no digit is lost; a formula gives its
//! cached value. What cannot be made text faithfully (an error cell, a number whose digits
//! past the 15th the spreadsheet already dropped, a value outside the header's columns)
//! skips its row with a [`CellProblem`].

use std::io::{BufReader, Read, Seek};

use calamine::{Data, Ods, OdsError, Range, Reader, Xlsx, XlsxError};
use sha2::{Digest, Sha256};

use cells::{CellRef, Value};

use super::decode::DecodeError;
use super::list::{Found, Records, Shape};
use super::rows::Skip;
use crate::columns::Columns;
use crate::domain::SkipReason;
use crate::layout::ListFormat;
use crate::settings::Sheet;

/// Opens the workbook in `file`, a `format` file, picks the worksheet `choice` names (else
/// the first), and hands its records to `pass`.
pub fn read<R, T>(
    file: R,
    format: ListFormat,
    choice: Option<&Sheet>,
    pass: impl FnOnce(&mut dyn Records) -> T,
) -> Result<T, DecodeError>
where
    R: Read + Seek,
{
    let file = BufReader::with_capacity(64 * 1024, file);
    match format {
        ListFormat::Xlsx => {
            let mut book = guarded(format, || {
                Xlsx::new(file).map_err(|e| unreadable(format, e))
            })?;
            let sheet = pick(&book.sheet_names(), choice)?;
            let (opened, name) = (&mut book, &sheet);
            let mut cells = guarded(format, move || {
                opened
                    .worksheet_cells_reader(name)
                    .map_err(|e| unreadable(format, e))
            })?;
            let rows = cells.dimensions().end.0 as usize + 1;
            // The cells as they are unzipped (calamine does not name its reader's type, so
            // a closure holds it).
            let next_cell = move || {
                guarded(format, || {
                    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(format, e))? {
                        let (row, column) = cell.get_position();
                        if let Some(value) = Value::of(CellRef::from(cell.get_value())) {
                            return Ok(Some((row, column, value)));
                        }
                    }
                    Ok(None)
                })
            };
            let mut records = SheetRows::open(next_cell, format, sheet, rows)?;
            Ok(pass(&mut records))
        }
        // calamine's `.xls` reader sizes its tables by counts in the file (the sheet's
        // dimensions, the header's table sizes) before it checks them: a damaged file
        // makes it ask for terabytes, and the allocator then aborts the whole daemon
        // rather than return an error. Such a file is refused, never read.
        ListFormat::Xls => Err(DecodeError::Unsupported(
            "an .xls workbook (Excel 97-2003) is not read, since a damaged one can crash the \
             reader: save the list as an .xlsx workbook (Excel Workbook) and drop that"
                .into(),
        )),
        ListFormat::Ods => {
            let (sheet, range) = guarded(format, || {
                let mut book = Ods::new(file).map_err(|e| unreadable(format, e))?;
                let sheet = pick(&book.sheet_names(), choice)?;
                let range = book
                    .worksheet_range(&sheet)
                    .map_err(|e| unreadable(format, e))?;
                Ok((sheet, range))
            })?;
            let rows = range.height();
            let mut records = SheetRows::open(RangeCells::new(range), format, sheet, rows)?;
            Ok(pass(&mut records))
        }
        ListFormat::Csv => unreachable!("a CSV call list is read by decode::CallList"),
    }
}

/// The sheet `choice` names among `sheets`: by number from 1, or by name (exactly, else
/// ignoring case and surrounding spaces); the first sheet when there is no choice.
fn pick(sheets: &[String], choice: Option<&Sheet>) -> Result<String, DecodeError> {
    let found = match choice {
        None => sheets.first(),
        Some(Sheet::Number(n)) => (*n as usize).checked_sub(1).and_then(|i| sheets.get(i)),
        Some(Sheet::Name(name)) => sheets.iter().find(|s| *s == name).or_else(|| {
            sheets
                .iter()
                .find(|s| s.trim().to_lowercase() == name.trim().to_lowercase())
        }),
    };
    found.cloned().ok_or_else(|| DecodeError::NoSheet {
        wanted: choice.map_or_else(|| "1".to_string(), ToString::to_string),
        sheets: sheets.to_vec(),
    })
}

/// Runs `read`, a call into calamine, turning a panic in it into the file's rejection: a
/// damaged file the reader does not expect must not fail the import over and over.
fn guarded<T>(
    format: ListFormat,
    read: impl FnOnce() -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(DecodeError::Workbook {
            format: format.extension(),
            message: format!("its reader failed ({what})"),
        })
    })
}

/// Why calamine cannot read a `format` workbook, as intake says it.
fn unreadable(format: ListFormat, error: impl Into<calamine::Error>) -> DecodeError {
    match error.into() {
        calamine::Error::Xlsx(XlsxError::Password) | calamine::Error::Ods(OdsError::Password) => {
            DecodeError::Password
        }
        other => DecodeError::Workbook {
            format: format.extension(),
            message: other.to_string(),
        },
    }
}

/// A sheet's cells with a value, row by row and left to right within a row.
trait Cells {
    /// The next cell that is not empty: its row and column from 0, and its value.
    fn next_cell(&mut self) -> Result<Option<(u32, u32, Value)>, DecodeError>;
}

/// A function that gives the next cell is a sheet's cells.
impl<F> Cells for F
where
    F: FnMut() -> Result<Option<(u32, u32, Value)>, DecodeError>,
{
    fn next_cell(&mut self) -> Result<Option<(u32, u32, Value)>, DecodeError> {
        self()
    }
}

/// A sheet read whole, its cells taken one by one.
struct RangeCells {
    range: Range<Data>,
    /// The next cell's place in the range, relative to its start.
    next: (usize, usize),
}

impl RangeCells {
    fn new(range: Range<Data>) -> RangeCells {
        RangeCells {
            range,
            next: (0, 0),
        }
    }
}

impl Cells for RangeCells {
    fn next_cell(&mut self) -> Result<Option<(u32, u32, Value)>, DecodeError> {
        let (height, width) = self.range.get_size();
        let (top, left) = self.range.start().unwrap_or_default();
        while self.next.0 < height {
            let (row, column) = self.next;
            self.next = if column + 1 < width {
                (row, column + 1)
            } else {
                (row + 1, 0)
            };
            let value = self.range.get((row, column)).map(CellRef::from);
            if let Some(value) = value.and_then(Value::of) {
                return Ok(Some((top + row as u32, left + column as u32, value)));
            }
        }
        Ok(None)
    }
}

/// A cell that cannot be made text as it is, which skips its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellProblem {
    /// As the spreadsheet names it: `D5`.
    cell: String,
    /// Its place in the record; `None` when it lies outside the header's columns.
    field: Option<usize>,
    kind: ProblemKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ProblemKind {
    /// An error cell, as the spreadsheet shows it.
    Error(String),
    /// A number of this many digits.
    TooManyDigits(usize),
    /// A value in a column the header does not name.
    OutsideHeader,
}

impl CellProblem {
    /// Why the row is skipped: an error cell or a value outside the header anywhere, a
    /// number cut short in the callee column (`bad_number`) or elsewhere (`bad_field`).
    pub fn skip(&self, columns: &Columns) -> Skip {
        let cell = &self.cell;
        let (reason, detail) = match &self.kind {
            ProblemKind::Error(error) => (
                SkipReason::BadField,
                format!("cell {cell} is an error ({error}): correct its formula or clear it"),
            ),
            ProblemKind::TooManyDigits(digits) => (
                if self.field == Some(columns.callee) {
                    SkipReason::BadNumber
                } else {
                    SkipReason::BadField
                },
                format!(
                    "cell {cell} is a number of {digits} digits, and a spreadsheet keeps only \
                     15: the digits after the 15th are lost; format the column as text and \
                     type the numbers again"
                ),
            ),
            ProblemKind::OutsideHeader => (
                SkipReason::FieldCount,
                format!(
                    "cell {cell} has a value, but its column has no header: name the column \
                     in the header row, or clear the cell"
                ),
            ),
        };
        Skip { reason, detail }
    }
}

/// A column's letters, as the spreadsheet names it: 0 is `A`, 26 is `AA`.
fn column_letters(column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        n -= 1;
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// A worksheet read as a call list: its first row with a value is the header, whose
/// first and last values bound the columns; each later row with a value is a record.
struct SheetRows<C> {
    cells: C,
    format: ListFormat,
    sheet: String,
    columns: Columns,
    /// The column of the header's first value.
    first_column: u32,
    /// The first cell of the next row, read while looking for the end of a row.
    ahead: Option<(u32, u32, Value)>,
    /// Whether the last cell has been read: the readers must not be asked again.
    ended: bool,
    /// Over the header and every record, so the same cells give the same hash whatever
    /// the file around them.
    hasher: Sha256,
    estimated_rows: usize,
}

impl<C: Cells> SheetRows<C> {
    fn open(
        mut cells: C,
        format: ListFormat,
        sheet: String,
        estimated_rows: usize,
    ) -> Result<SheetRows<C>, DecodeError> {
        let Some(first) = cells.next_cell()? else {
            return Err(DecodeError::EmptySheet(sheet));
        };
        let row = first.0;
        let mut header = vec![first];
        let mut ahead = None;
        while let Some(cell) = cells.next_cell()? {
            if cell.0 != row {
                ahead = Some(cell);
                break;
            }
            header.push(cell);
        }
        let first_column = header.iter().map(|c| c.1).min().unwrap_or(0);
        let last_column = header.iter().map(|c| c.1).max().unwrap_or(0);
        let mut names = vec![String::new(); (last_column - first_column) as usize + 1];
        for (row, column, value) in header {
            if let Value::Error(error) = &value {
                return Err(DecodeError::Header(crate::columns::HeaderError(format!(
                    "has an error in cell {}{} ({error}): type the column's name there",
                    column_letters(column),
                    row + 1
                ))));
            }
            names[(column - first_column) as usize] = value.text().to_string();
        }
        let header = csv::StringRecord::from(names);
        let columns = Columns::from_header(&header)?;
        let mut hasher = Sha256::new();
        hash_record(&mut hasher, &header);
        Ok(SheetRows {
            cells,
            format,
            sheet,
            columns,
            first_column,
            ended: ahead.is_none(),
            ahead,
            hasher,
            estimated_rows,
        })
    }
}

impl<C: Cells> SheetRows<C> {
    /// The next cell with a value, read once: `None` from the end on.
    fn next_cell(&mut self) -> Result<Option<(u32, u32, Value)>, DecodeError> {
        if self.ended {
            return Ok(None);
        }
        let cell = self.cells.next_cell()?;
        self.ended = cell.is_none();
        Ok(cell)
    }
}

/// Adds a record to `hasher`, every field with its length, so no two records hash alike.
fn hash_record(hasher: &mut Sha256, record: &csv::StringRecord) {
    hasher.update((record.len() as u64).to_le_bytes());
    for field in record {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
}

impl<C: Cells> Records for SheetRows<C> {
    fn shape(&self) -> Shape {
        Shape::Workbook {
            format: self.format,
            sheet: self.sheet.clone(),
        }
    }

    fn columns(&self) -> &Columns {
        &self.columns
    }

    fn estimated_rows(&self) -> usize {
        self.estimated_rows.min(1 << 20)
    }

    fn next_record(
        &mut self,
        record: &mut csv::StringRecord,
    ) -> Result<Option<Found>, DecodeError> {
        let first = match self.ahead.take() {
            Some(cell) => cell,
            None => match self.next_cell()? {
                Some(cell) => cell,
                None => return Ok(None),
            },
        };
        let row = first.0;
        let width = self.columns.header.len();
        let mut fields = vec![String::new(); width];
        let mut problem = None;
        let mut cell = Some(first);
        while let Some((_, column, value)) = cell {
            let field = column
                .checked_sub(self.first_column)
                .map(|f| f as usize)
                .filter(|&f| f < width);
            let kind = match (&value, field) {
                (_, None) => Some(ProblemKind::OutsideHeader),
                (Value::Error(error), _) => Some(ProblemKind::Error(error.clone())),
                (Value::TooManyDigits(digits), _) => Some(ProblemKind::TooManyDigits(
                    digits.trim_start_matches('-').len(),
                )),
                (Value::Text(_), _) => None,
            };
            if let (Some(kind), None) = (kind, &problem) {
                problem = Some(CellProblem {
                    cell: format!("{}{}", column_letters(column), row + 1),
                    field,
                    kind,
                });
            }
            if let Some(field) = field {
                fields[field] = match value {
                    Value::Text(text) | Value::Error(text) | Value::TooManyDigits(text) => text,
                };
            }
            cell = match self.next_cell()? {
                Some(next) if next.0 == row => Some(next),
                next => {
                    self.ahead = next;
                    None
                }
            };
        }
        *record = csv::StringRecord::from(fields);
        hash_record(&mut self.hasher, record);
        Ok(Some(Found {
            line: u64::from(row) + 1,
            problem,
        }))
    }

    fn finish(&mut self) -> Result<String, DecodeError> {
        Ok(hex::encode(std::mem::take(&mut self.hasher).finalize()))
    }
}

mod cells;
#[cfg(test)]
mod tests;
