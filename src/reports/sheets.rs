//! The sheets of `results.xlsx`: rows as text cells, streamed to sheets that continue
//! on `results-2`, ... when full, and the `summary` sheet.

use std::io;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::files::Sink;

/// A workbook to be saved at `path`, whose sheets stream their rows to temporary files
/// beside it, not to /tmp, which may be memory; a sheet's XML may pass ZIP's 4 GB, which
/// ZIP64 allows.
pub(super) fn streaming_workbook(path: &Path) -> io::Result<Workbook> {
    let mut workbook = Workbook::new();
    workbook
        .set_tempdir(path.parent().unwrap_or(Path::new(".")))
        .map_err(io::Error::other)?;
    workbook.use_zip_large_file(true);
    Ok(workbook)
}

/// The rows a sheet holds below its header (Excel's 1,048,576 rows, less the header).
pub(super) const ROWS_PER_SHEET: u32 = 1_048_575;
/// Column widths are judged from this many rows: fitting them to the whole sheet would
/// keep every row in memory.
const WIDTH_SAMPLE_ROWS: u32 = 1_000;
/// No column is made wider than this many characters.
const MAX_WIDTH: f64 = 60.0;

/// Rows written as text cells (so `13800138000` and `01062345678` stay as they are) to a
/// workbook's sheets named `name`, then `name-2`, ... once a sheet is full; each sheet
/// with the header bold and frozen, an auto-filter over its rows, and column widths
/// fitted to the header and its first rows. The sheets are streamed (rust_xlsxwriter's
/// constant memory mode), so a campaign of any size takes little memory.
pub(super) struct Sheets {
    workbook: Workbook,
    name: &'static str,
    header: Vec<String>,
    rows_per_sheet: u32,
    /// This name's sheets so far, and the current one's index in the workbook.
    count: u32,
    index: usize,
    /// The next cell: its row (1 is the first below the header) and column.
    row: u32,
    column: u16,
    widths: Vec<f64>,
    bold: Format,
}

impl Sheets {
    pub(super) fn new(
        workbook: Workbook,
        name: &'static str,
        header: &[String],
        rows_per_sheet: u32,
    ) -> Result<Sheets, XlsxError> {
        let mut sheets = Sheets {
            workbook,
            name,
            header: header.to_vec(),
            rows_per_sheet,
            count: 0,
            index: 0,
            row: 0,
            column: 0,
            widths: Vec::new(),
            bold: Format::new().set_bold(),
        };
        sheets.start_sheet()?;
        Ok(sheets)
    }

    fn start_sheet(&mut self) -> Result<(), XlsxError> {
        self.count += 1;
        let name = match self.count {
            1 => self.name.to_string(),
            n => format!("{}-{n}", self.name),
        };
        self.index = self.workbook.worksheets().len();
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        sheet.set_name(name)?;
        for (column, text) in (0u16..).zip(&self.header) {
            sheet.write_string_with_format(0, column, text, &self.bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        self.widths = self.header.iter().map(|h| width_of(h)).collect();
        self.row = 1;
        self.column = 0;
        Ok(())
    }

    /// The current sheet's filter and column widths.
    fn finish_sheet(&mut self) -> Result<(), XlsxError> {
        let last_column = u16::try_from(self.widths.len().max(1) - 1).unwrap_or(u16::MAX);
        let sheet = self.workbook.worksheet_from_index(self.index)?;
        sheet.autofilter(0, 0, self.row.saturating_sub(1).max(1), last_column)?;
        for (column, width) in (0u16..).zip(&self.widths) {
            sheet.set_column_width(column, width.min(MAX_WIDTH))?;
        }
        Ok(())
    }

    /// The workbook, this name's last sheet finished.
    pub(super) fn finish(mut self) -> Result<Workbook, XlsxError> {
        self.finish_sheet()?;
        Ok(self.workbook)
    }
}

impl Sink for Sheets {
    fn field(&mut self, text: &str) -> io::Result<()> {
        if self.column == 0 && self.row > self.rows_per_sheet {
            self.finish_sheet().map_err(io::Error::other)?;
            self.start_sheet().map_err(io::Error::other)?;
        }
        let (row, column) = (self.row, self.column);
        let sheet = self
            .workbook
            .worksheet_from_index(self.index)
            .map_err(io::Error::other)?;
        if !text.is_empty() {
            sheet
                .write_string(row, column, text)
                .map_err(io::Error::other)?;
        }
        if row <= WIDTH_SAMPLE_ROWS {
            let at = usize::from(column);
            if self.widths.len() <= at {
                self.widths.resize(at + 1, 0.0);
            }
            self.widths[at] = self.widths[at].max(width_of(text));
        }
        self.column = self.column.saturating_add(1);
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        self.row += 1;
        self.column = 0;
        Ok(())
    }
}

/// The width a text needs, in Excel's units (about one a Latin character, two a Chinese
/// one), with a little room.
fn width_of(text: &str) -> f64 {
    let units: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    units as f64 + 2.0
}

/// The `summary` sheet: each line of `summary.txt` as its label (bold) and its value.
pub(super) fn summary_sheet(workbook: &mut Workbook, summary: &str) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name("summary")?;
    let mut widths = (0.0f64, 0.0f64);
    for (row, line) in (0u32..).zip(summary.lines()) {
        let (label, value) = line.split_once(':').unwrap_or((line, ""));
        let (label, value) = (label.trim(), value.trim());
        sheet.write_string_with_format(row, 0, label, &bold)?;
        sheet.write_string(row, 1, value)?;
        widths = (widths.0.max(width_of(label)), widths.1.max(width_of(value)));
    }
    sheet.set_column_width(0, widths.0.min(MAX_WIDTH))?;
    sheet.set_column_width(1, widths.1.min(MAX_WIDTH * 2.0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::files::Rows;
    use super::*;

    /// More rows than a sheet holds go on to `results-2`, `results-3`, each with the
    /// header; every cell is text.
    #[test]
    fn rows_past_a_full_sheet_continue_on_the_next() {
        use calamine::{Data, Reader, Xlsx};
        let header = ["手机号".to_string(), "code".into()];
        let mut sheets = Sheets::new(Workbook::new(), "results", &header, 2).unwrap();
        let mut rows = Rows::new(&mut sheets);
        for n in 0..5 {
            rows.field(&format!("1380013800{n}")).unwrap();
            rows.field(&format!("00{n}")).unwrap();
            rows.end().unwrap();
        }
        let buffer = sheets.finish().unwrap().save_to_buffer().unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(buffer)).unwrap();
        assert_eq!(book.sheet_names(), ["results", "results-2", "results-3"]);
        let mut all = Vec::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).unwrap();
            let mut read = range.rows().map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Data::String(text) => text.clone(),
                        other => panic!("not text: {other:?}"),
                    })
                    .collect::<Vec<_>>()
            });
            assert_eq!(
                read.next().unwrap(),
                header,
                "{name} starts with the header"
            );
            let below: Vec<_> = read.collect();
            assert!(below.len() <= 2, "{name}: {below:?}");
            all.extend(below);
        }
        let codes: Vec<&str> = all.iter().map(|row| row[1].as_str()).collect();
        assert_eq!(codes, ["000", "001", "002", "003", "004"]);
    }
}
