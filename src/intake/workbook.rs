//! Workbook call lists (PRODUCT.md section 2): one worksheet of an `.xlsx` or `.ods` file,
//! read through calamine, its cells made the text a person typed, its rows handed on as
//! records. An `.xlsx` sheet is read cell by cell as it is unzipped; the `.ods` reader
//! gives a sheet only whole. An `.xls` file is refused (see [`read`]).
//!
//! Cells become text so that no digit is lost: a whole number is its exact digits, another
//! number its shortest decimal (to the 15 significant digits a spreadsheet keeps), a date
//! `YYYY-MM-DD` (with `HH:MM:SS` when it has a time), a time `HH:MM` (`HH:MM:SS` with
//! seconds), a formula its cached value. What cannot be made text faithfully (an error
//! cell, a number whose digits past the 15th the spreadsheet already dropped, a value
//! outside the header's columns) skips its row with a [`CellProblem`].

use std::io::{BufReader, Read, Seek};

use calamine::{
    CellErrorType, Data, DataRef, ExcelDateTime, Ods, OdsError, Range, Reader, Xlsx, XlsxError,
};
use sha2::{Digest, Sha256};

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
            let mut book = Xlsx::new(file).map_err(|e| unreadable(format, e))?;
            let sheet = pick(&book.sheet_names(), choice)?;
            let mut cells = book
                .worksheet_cells_reader(&sheet)
                .map_err(|e| unreadable(format, e))?;
            let rows = cells.dimensions().end.0 as usize + 1;
            // The cells as they are unzipped (calamine does not name its reader's type, so
            // a closure holds it).
            let next_cell = move || {
                while let Some(cell) = cells.next_cell().map_err(|e| unreadable(format, e))? {
                    let (row, column) = cell.get_position();
                    if let Some(value) = Value::of(CellRef::from(cell.get_value())) {
                        return Ok(Some((row, column, value)));
                    }
                }
                Ok(None)
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
            let mut book = Ods::new(file).map_err(|e| unreadable(format, e))?;
            let sheet = pick(&book.sheet_names(), choice)?;
            let range = book
                .worksheet_range(&sheet)
                .map_err(|e| unreadable(format, e))?;
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

/// A cell's value as either reader gives it.
enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Float(f64),
    Int(i64),
    Bool(bool),
    /// A number with a date, time or duration format.
    Serial(ExcelDateTime),
    /// An `.ods` date or date and time, `2026-12-02T14:05:09`.
    IsoDateTime(&'a str),
    /// An `.ods` time, `PT18H00M05S`.
    IsoDuration(&'a str),
    Error(&'a CellErrorType),
}

impl<'a> From<&'a DataRef<'_>> for CellRef<'a> {
    fn from(value: &'a DataRef<'_>) -> CellRef<'a> {
        match value {
            DataRef::Empty => CellRef::Empty,
            DataRef::String(text) => CellRef::Text(text),
            DataRef::SharedString(text) => CellRef::Text(text),
            DataRef::Float(n) => CellRef::Float(*n),
            DataRef::Int(n) => CellRef::Int(*n),
            DataRef::Bool(b) => CellRef::Bool(*b),
            DataRef::DateTime(serial) => CellRef::Serial(*serial),
            DataRef::DateTimeIso(text) => CellRef::IsoDateTime(text),
            DataRef::DurationIso(text) => CellRef::IsoDuration(text),
            DataRef::Error(error) => CellRef::Error(error),
        }
    }
}

impl<'a> From<&'a Data> for CellRef<'a> {
    fn from(value: &'a Data) -> CellRef<'a> {
        match value {
            Data::Empty => CellRef::Empty,
            Data::String(text) => CellRef::Text(text),
            Data::Float(n) => CellRef::Float(*n),
            Data::Int(n) => CellRef::Int(*n),
            Data::Bool(b) => CellRef::Bool(*b),
            Data::DateTime(serial) => CellRef::Serial(*serial),
            Data::DateTimeIso(text) => CellRef::IsoDateTime(text),
            Data::DurationIso(text) => CellRef::IsoDuration(text),
            Data::Error(error) => CellRef::Error(error),
        }
    }
}

/// A cell made text, or why it cannot be.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Text(String),
    /// An error cell, as the spreadsheet shows it (`#N/A`).
    Error(String),
    /// A number of more than 15 significant digits, with the digits the file holds.
    TooManyDigits(String),
}

impl Value {
    /// The value of a cell that is not empty.
    fn of(cell: CellRef<'_>) -> Option<Value> {
        let value = match cell {
            CellRef::Empty => return None,
            CellRef::Text("") => return None,
            CellRef::Text(text) => Value::Text(text.to_string()),
            CellRef::Float(n) => number(n),
            CellRef::Int(n) => number(n as f64),
            CellRef::Bool(b) => Value::Text(if b { "TRUE" } else { "FALSE" }.to_string()),
            CellRef::Serial(serial) => Value::Text(serial_text(&serial)),
            CellRef::IsoDateTime(text) => Value::Text(iso_date_time(text)),
            CellRef::IsoDuration(text) => Value::Text(iso_duration(text)),
            CellRef::Error(error) => Value::Error(error.to_string()),
        };
        Some(value)
    }

    fn text(&self) -> &str {
        match self {
            Value::Text(text) | Value::Error(text) | Value::TooManyDigits(text) => text,
        }
    }
}

/// The smallest number with more significant digits than a spreadsheet keeps (15).
const SIXTEEN_DIGITS: f64 = 1e15;

/// A number as its exact digits when whole, else its shortest decimal to 15 significant
/// digits (so a sum like `0.1 + 0.2` reads `0.3`, as the spreadsheet shows it); never in
/// scientific notation. A number of 16 digits or more is one whose last digits the
/// spreadsheet may have dropped, given to the 15 it keeps.
fn number(n: f64) -> Value {
    if !n.is_finite() {
        return Value::Text(n.to_string());
    }
    // The 15 significant digits a spreadsheet keeps: some formats (`.xls`) hold the
    // binary number with more, others (`.xlsx`) write these, and the cell must read alike.
    let kept = format!("{n:.14e}");
    if n.abs() >= SIXTEEN_DIGITS {
        return Value::TooManyDigits(whole_digits(&kept));
    }
    if n.fract() == 0.0 {
        return Value::Text(format!("{}", n as i64));
    }
    Value::Text(kept.parse::<f64>().unwrap_or(n).to_string())
}

/// The whole number `-d.dddde<exponent>` (an exponent of 15 or more) stands for, in
/// digits: the mantissa's, then zeros.
fn whole_digits(scientific: &str) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(digits) => ("-", digits.to_string()),
        None => ("", digits),
    };
    let places = exponent.parse::<usize>().unwrap_or(0) + 1;
    format!("{sign}{digits:0<places$}")
}

/// A number with a date, time or duration format: a date (and time) from 1 on, a time of
/// day below 1, a duration as hours, minutes and seconds.
fn serial_text(serial: &ExcelDateTime) -> String {
    let value = serial.as_f64();
    if serial.is_duration() || (0.0..1.0).contains(&value) {
        return clock((value * 86_400.0).round() as i64);
    }
    if value < 0.0 {
        return number(value).text().to_string();
    }
    let (year, month, day, hour, minute, second, _) = serial.to_ymd_hms_milli();
    if (hour, minute, second) == (0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

/// A time of day or a duration in seconds: `HH:MM`, or `HH:MM:SS` when it has seconds.
fn clock(seconds: i64) -> String {
    let (sign, seconds) = if seconds < 0 {
        ("-", -seconds)
    } else {
        ("", seconds)
    };
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if seconds == 0 {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}:{seconds:02}")
    }
}

/// `2026-12-02T14:05:09` as `2026-12-02 14:05:09`, and a date at midnight as the date
/// alone; fractions of a second are dropped.
fn iso_date_time(text: &str) -> String {
    match text.split_once('T') {
        None => text.to_string(),
        Some((date, time)) => match time.split('.').next().unwrap_or(time) {
            "00:00:00" => date.to_string(),
            time => format!("{date} {time}"),
        },
    }
}

/// `PT18H00M05S` as `18:00:05`; a duration that is not ISO 8601 stays as it is.
fn iso_duration(text: &str) -> String {
    let seconds = text.parse::<jiff::Span>().ok().and_then(|span| {
        span.total(jiff::SpanTotal::from(jiff::Unit::Second).days_are_24_hours())
            .ok()
    });
    match seconds {
        Some(seconds) => clock(seconds.round() as i64),
        None => text.to_string(),
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

#[cfg(test)]
mod tests;
