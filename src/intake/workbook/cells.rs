//! A workbook's cells made the text a person typed (PRODUCT.md section 2): a whole number
//! its exact digits, another number its shortest decimal to the 15 significant digits a
//! spreadsheet keeps, a date `YYYY-MM-DD` (with `HH:MM:SS` when it has a time), a time
//! `HH:MM` (`HH:MM:SS` with seconds); or why a cell cannot be made text faithfully. Pure.

use calamine::{CellErrorType, Data, DataRef, ExcelDateTime};

/// A cell's value as either reader gives it.
pub(super) enum CellRef<'a> {
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
pub(super) enum Value {
    Text(String),
    /// An error cell, as the spreadsheet shows it (`#N/A`).
    Error(String),
    /// A number of more than 15 significant digits, with the digits the file holds.
    TooManyDigits(String),
}

impl Value {
    /// The value of a cell that is not empty.
    pub(super) fn of(cell: CellRef<'_>) -> Option<Value> {
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

    pub(super) fn text(&self) -> &str {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: Value) -> String {
        match value {
            Value::Text(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numbers_keep_their_digits_and_lose_only_float_noise() {
        for (n, expected) in [
            (13800138000.0, "13800138000"),
            (1062345678.0, "1062345678"),
            (-5.0, "-5"),
            (123.5, "123.5"),
            (0.1 + 0.2, "0.3"),
            (1.0 / 3.0, "0.333333333333333"),
            (0.000001, "0.000001"),
            (999_999_999_999_999.0, "999999999999999"),
        ] {
            assert_eq!(text(number(n)), expected, "{n}");
        }
        assert_eq!(
            number(12345678901234567.0),
            Value::TooManyDigits("12345678901234600".into())
        );
        assert_eq!(
            number(-12345678901234567.0),
            Value::TooManyDigits("-12345678901234600".into())
        );
        assert_eq!(
            number(110101199003078888.0),
            Value::TooManyDigits("110101199003079000".into())
        );
    }

    #[test]
    fn dates_and_times_read_as_people_write_them() {
        let serial = |value, kind| ExcelDateTime::new(value, kind, false);
        let date_time = calamine::ExcelDateTimeType::DateTime;
        let duration = calamine::ExcelDateTimeType::TimeDelta;
        assert_eq!(serial_text(&serial(46357.0, date_time)), "2026-12-01");
        assert_eq!(
            serial_text(&serial(46358.586909722224, date_time)),
            "2026-12-02 14:05:09"
        );
        assert_eq!(serial_text(&serial(0.3958333333333333, date_time)), "09:30");
        assert_eq!(
            serial_text(&serial(0.7500578703703704, date_time)),
            "18:00:05"
        );
        assert_eq!(serial_text(&serial(1.0625, duration)), "25:30");
        assert_eq!(iso_date_time("2026-12-01"), "2026-12-01");
        assert_eq!(iso_date_time("2026-12-02T14:05:09"), "2026-12-02 14:05:09");
        assert_eq!(iso_date_time("2026-12-02T00:00:00"), "2026-12-02");
        assert_eq!(
            iso_date_time("2026-12-02T14:05:09.250"),
            "2026-12-02 14:05:09"
        );
        assert_eq!(iso_duration("PT09H30M00S"), "09:30");
        assert_eq!(iso_duration("PT18H00M05S"), "18:00:05");
        assert_eq!(iso_duration("P1DT01H30M00S"), "25:30");
        assert_eq!(iso_duration("soon"), "soon");
    }
}
