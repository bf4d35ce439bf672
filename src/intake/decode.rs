//! CSV call lists decoded (PRODUCT.md section 2): the encoding (UTF-8 with or without BOM,
//! UTF-16 with a BOM, else GB18030), the delimiter sniffed from the header, RFC 4180
//! records with the line each starts on, and the header's columns given their roles.
//! Streaming: a file is never held whole in memory.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

use lines::{LineCounter, Newlines};

use super::list::{Found, Records, Shape};
use crate::columns::{Columns, HeaderError};

mod lines;

/// How a file's bytes become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    Gb18030,
}

impl TextEncoding {
    /// The name `check --json` and the store use.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Gb18030 => "gb18030",
        }
    }

    fn decoder(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => None,
            TextEncoding::Utf16Le => Some(encoding_rs::UTF_16LE),
            TextEncoding::Utf16Be => Some(encoding_rs::UTF_16BE),
            TextEncoding::Gb18030 => Some(encoding_rs::GB18030),
        }
    }
}

/// Why a file cannot be read as a call list. Each says where.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    #[error(
        "line {line} is neither UTF-8 nor GB18030 (GBK): save the file as UTF-8 or as Excel's CSV"
    )]
    Encoding { line: u64 },
    #[error(
        "line {line} is not valid UTF-8, though the file begins with UTF-8's byte-order mark: \
         save it as UTF-8 again"
    )]
    BrokenUtf8 { line: u64 },
    #[error("the file is empty: it needs a header row naming its columns")]
    Empty,
    #[error("the header row {0}")]
    Header(#[from] HeaderError),
    #[error("line {line}: {message}")]
    Record { line: u64, message: String },
    #[error("cannot read the file as an .{format} workbook (is it one?): {message}")]
    Workbook {
        format: &'static str,
        message: String,
    },
    #[error("the workbook is protected by a password: save a copy without one")]
    Password,
    /// A kind of file that is recognised but not read, saying why and what to do.
    #[error("{0}")]
    Unsupported(String),
    #[error(
        "the workbook has no sheet {wanted} (the `sheet` setting); its sheets are {}",
        sheet_list(sheets)
    )]
    NoSheet { wanted: String, sheets: Vec<String> },
    #[error("the sheet {0:?} is empty: it needs a header row naming its columns")]
    EmptySheet(String),
}

/// The sheets' names, quoted: `"说明", "名单"`.
fn sheet_list(sheets: &[String]) -> String {
    let names: Vec<String> = sheets.iter().map(|s| format!("{s:?}")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// What one pass over the raw bytes tells: the content hash and the encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    /// SHA-256 of the bytes, lowercase hex.
    pub hash: String,
    pub encoding: TextEncoding,
    pub bytes: u64,
}

/// Reads the file once for its hash and encoding: valid UTF-8 (with or without BOM) is
/// UTF-8, a UTF-16 BOM is UTF-16, anything else must be GB18030, checked by a second pass
/// that names the first line that is not.
pub fn scan<R: Read + Seek>(mut reader: R) -> Result<FileFacts, DecodeError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::with_capacity(4);
    let (mut kept, mut bytes, mut utf8) = (0usize, 0u64, true);
    // The line of the first byte that is not UTF-8, while every byte before it is.
    let (mut newlines, mut bad_line) = (0u64, None);
    loop {
        let n = reader.read(&mut buf[kept..])?;
        if n == 0 {
            if utf8 && kept > 0 {
                utf8 = false;
                bad_line = Some(newlines + 1);
            }
            break;
        }
        hasher.update(&buf[kept..kept + n]);
        if head.len() < 4 {
            let take = (4 - head.len()).min(n);
            head.extend_from_slice(&buf[kept..kept + take]);
        }
        bytes += n as u64;
        let filled = kept + n;
        kept = 0;
        if utf8 {
            let valid = match std::str::from_utf8(&buf[..filled]) {
                Ok(_) => filled,
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(e) => {
                    utf8 = false;
                    bad_line = Some(newlines + count_newlines(&buf[..e.valid_up_to()]) + 1);
                    e.valid_up_to()
                }
            };
            newlines += count_newlines(&buf[..valid]);
            if utf8 && valid < filled {
                buf.copy_within(valid..filled, 0);
                kept = filled - valid;
            }
        }
    }
    if let (true, Some(line)) = (head.starts_with(&[0xEF, 0xBB, 0xBF]), bad_line) {
        return Err(DecodeError::BrokenUtf8 { line });
    }
    let encoding = if head.starts_with(&[0xEF, 0xBB, 0xBF]) && utf8 {
        TextEncoding::Utf8Bom
    } else if head.starts_with(&[0xFF, 0xFE]) {
        TextEncoding::Utf16Le
    } else if head.starts_with(&[0xFE, 0xFF]) {
        TextEncoding::Utf16Be
    } else if utf8 {
        TextEncoding::Utf8
    } else {
        reader.seek(SeekFrom::Start(0))?;
        check_gb18030(&mut reader)?;
        TextEncoding::Gb18030
    };
    Ok(FileFacts {
        hash: hex::encode(hasher.finalize()),
        encoding,
        bytes,
    })
}

/// Decodes the whole input as GB18030 without replacement; the first malformed sequence
/// is reported with its line.
fn check_gb18030(reader: &mut impl Read) -> Result<(), DecodeError> {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut input = vec![0u8; 64 * 1024];
    let mut output = vec![0u8; 256 * 1024];
    let mut line = 1u64;
    loop {
        let n = reader.read(&mut input)?;
        let last = n == 0;
        let mut chunk = &input[..n];
        loop {
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(chunk, &mut output, last);
            line += count_newlines(&output[..written]);
            chunk = &chunk[read..];
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => continue,
                encoding_rs::DecoderResult::Malformed(..) => {
                    return Err(DecodeError::Encoding { line });
                }
            }
        }
        if last {
            return Ok(());
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// A CSV call list being read: its delimiter, its columns, then its records one by one.
pub struct CallList {
    reader: csv::Reader<LineCounter<Box<dyn Read>>>,
    newlines: Newlines,
    facts: FileFacts,
    delimiter: u8,
    columns: Columns,
    /// The last record's line and whether it spans lines: an unclosed quote that runs to
    /// the end of the file leaves exactly that, with an odd number of quotes in the file.
    last: (u64, bool),
}

impl CallList {
    /// Starts reading `input` (from its beginning), whose [`scan`] gave `facts`.
    pub fn open(input: impl Read + 'static, facts: FileFacts) -> Result<CallList, DecodeError> {
        let encoding = facts.encoding;
        let text: Box<dyn Read> = match encoding.decoder() {
            None => Box::new(input),
            Some(decoder) => Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(decoder))
                    .bom_sniffing(encoding != TextEncoding::Gb18030)
                    .build(input),
            ),
        };
        let mut text = BufReader::with_capacity(64 * 1024, text);
        let first_line = read_header(&mut text)?;
        let delimiter = sniff_delimiter(&first_line);
        let newlines = Newlines::default();
        let counted = LineCounter::new(
            Box::new(io::Cursor::new(first_line).chain(text)) as Box<dyn Read>,
            newlines.clone(),
        );
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(counted);
        let header = reader.headers().map_err(|e| record_error(&e, 1))?.clone();
        if header.is_empty() || (header.len() == 1 && header[0].trim().is_empty()) {
            return Err(DecodeError::Empty);
        }
        let columns = Columns::from_header(&header)?;
        Ok(CallList {
            reader,
            newlines,
            facts,
            delimiter,
            columns,
            last: (0, false),
        })
    }
}

/// The bytes a row takes in memory while a file is read (for the duplicate check's
/// estimate of the row count): smaller than any real row, so the estimate is high.
const MIN_ROW_BYTES: u64 = 24;

/// More line breaks than any real row holds inside its quoted fields: beyond this, a
/// quote left open has swallowed the rows after it, and the file is refused rather than
/// those rows silently lost.
const MAX_LINE_BREAKS_IN_ROW: usize = 50;

impl Records for CallList {
    fn shape(&self) -> Shape {
        Shape::Csv {
            encoding: self.facts.encoding,
            delimiter: self.delimiter,
        }
    }

    fn columns(&self) -> &Columns {
        &self.columns
    }

    fn estimated_rows(&self) -> usize {
        (self.facts.bytes / MIN_ROW_BYTES).min(1 << 20) as usize
    }

    fn next_record(
        &mut self,
        record: &mut csv::StringRecord,
    ) -> Result<Option<Found>, DecodeError> {
        let line = match self.reader.read_record(record) {
            Ok(true) => {
                let start = record.position().map_or(0, |p| p.byte());
                self.newlines.line_at(start)
            }
            Ok(false) => return Ok(None),
            Err(e) => {
                let at = e.position().map_or(0, |p| p.byte());
                return Err(record_error(&e, self.newlines.line_at(at)));
            }
        };
        let breaks = line_breaks(record);
        if breaks > MAX_LINE_BREAKS_IN_ROW {
            return Err(DecodeError::Record {
                line,
                message: format!(
                    "a quoted field runs on over {breaks} line breaks: a quote opened on this \
                     line is probably never closed"
                ),
            });
        }
        if !record.iter().all(|f| f.trim().is_empty()) {
            self.last = (line, breaks > 0);
        }
        Ok(Some(Found {
            line,
            problem: None,
        }))
    }

    /// Refuses a file whose last row spans lines and that looks like it has a quote that
    /// never closes: an odd number of quotes, and no closing quote at its end.
    fn finish(&mut self) -> Result<String, DecodeError> {
        if let (line, true) = self.last {
            if self.newlines.quote_left_open() {
                return Err(DecodeError::Record {
                    line,
                    message: "a quoted field runs to the end of the file: a quote opened on \
                              this line is probably never closed"
                        .into(),
                });
            }
        }
        Ok(self.facts.hash.clone())
    }
}

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

impl std::fmt::Debug for CallList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallList")
            .field("delimiter", &char::from(self.delimiter))
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

fn record_error(error: &csv::Error, line: u64) -> DecodeError {
    match error.kind() {
        csv::ErrorKind::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
            DecodeError::Encoding { line }
        }
        csv::ErrorKind::Io(e) => DecodeError::Record {
            line,
            message: format!("cannot read: {e}"),
        },
        csv::ErrorKind::Utf8 { .. } => DecodeError::Encoding { line },
        _ => DecodeError::Record {
            line,
            message: error.to_string(),
        },
    }
}

/// The most of a header line that is read to sniff its delimiter.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Reads the header line: up to and including the first line break (CR, LF) outside
/// quotes, or [`MAX_HEADER_BYTES`].
fn read_header(text: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut header = Vec::new();
    let mut quoted = false;
    loop {
        let buf = text.fill_buf()?;
        if buf.is_empty() {
            return Ok(header);
        }
        let mut end = None;
        for (i, &b) in buf.iter().enumerate() {
            match b {
                b'"' => quoted = !quoted,
                b'\r' | b'\n' if !quoted => {
                    end = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        let take = end.unwrap_or(buf.len());
        header.extend_from_slice(&buf[..take]);
        text.consume(take);
        if end.is_some() || header.len() >= MAX_HEADER_BYTES {
            return Ok(header);
        }
    }
}

/// The delimiter of a header line: whichever of comma, tab and semicolon occurs most
/// outside quotes; a comma when none does.
pub fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b'\t', 0), (b';', 0)];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(slot) = counts.iter_mut().find(|(d, _)| *d == b) {
                slot.1 += 1;
            }
        }
    }
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(d, n)| if n > best.1 { (d, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests;
