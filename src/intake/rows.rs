//! Every row of a call list checked against its campaign's rules (PRODUCT.md section 2):
//! the verdict for one row, the do-not-call list, duplicates within the file, and the
//! tally that `check`, the rejection note and the import all report. Pure: no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::numbers::{self, NumberError};
use crate::columns::Columns;
use crate::config::NumberPolicy;
use crate::domain::SkipReason;
use callcenter_openapi::template::Template;

/// What a row is checked against.
#[derive(Clone, Debug)]
pub struct Rules {
    pub numbers: NumberPolicy,
    /// The template, when known (a vendor template is not known offline).
    pub template: Option<Template>,
    pub max_text_chars: usize,
    pub do_not_call: DoNotCall,
}

/// A row that will be called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoodRow {
    pub callee: String,
    /// The rendered text; `None` while the template is not known.
    pub text: Option<String>,
    pub caller: Option<String>,
    pub cycle_play_times: Option<u32>,
}

/// Why a row is skipped, for a person: the reason code and what exactly was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub reason: SkipReason,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good(GoodRow),
    Skip(Skip),
}

fn skip(reason: SkipReason, detail: impl Into<String>) -> Verdict {
    Verdict::Skip(Skip {
        reason,
        detail: detail.into(),
    })
}

/// Returns true if and only if every field of the record is blank: the empty rows Excel
/// leaves at the end of a sheet, which are no rows at all.
pub fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|f| f.trim().is_empty())
}

/// The verdict on one record, duplicates aside (they need the whole file).
pub fn check_row(rules: &Rules, columns: &Columns, record: &csv::StringRecord) -> Verdict {
    let expected = columns.header.len();
    if record.len() != expected {
        return skip(
            SkipReason::FieldCount,
            format!("{} fields; the header has {expected}", record.len()),
        );
    }
    let callee = match numbers::normalise(&record[columns.callee], rules.numbers) {
        Ok(number) => number,
        Err(e @ NumberError::ScientificNotation(_)) => {
            return skip(SkipReason::ScientificNotation, e.to_string());
        }
        Err(e) => return skip(SkipReason::BadNumber, e.to_string()),
    };
    if rules.do_not_call.contains(&callee) {
        return skip(
            SkipReason::DoNotCall,
            format!("{callee} is on the do-not-call list"),
        );
    }
    let caller = match columns
        .caller
        .map(|i| record[i].trim())
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(cell) => match numbers::normalise(cell, NumberPolicy::Any) {
            Ok(number) => Some(number),
            Err(e) => return skip(SkipReason::BadField, format!("caller {e}")),
        },
    };
    let cycle_play_times = match columns
        .cycle_play_times
        .map(|i| record[i].trim())
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(cell) => match cell.parse::<u32>() {
            Ok(n @ 1..=10) => Some(n),
            _ => {
                return skip(
                    SkipReason::BadField,
                    format!("cycle_play_times {cell:?} is not a whole number from 1 to 10"),
                );
            }
        },
    };
    let text = match &rules.template {
        None => None,
        Some(template) => match template.render(|n| columns.variable(record, n)) {
            Ok(text) => Some(text),
            Err(n) => {
                let column = columns.variables[usize::from(n) - 1]
                    .map(|i| columns.header[i].trim().to_string())
                    .unwrap_or_default();
                return skip(
                    SkipReason::MissingVariable,
                    format!("variable {{{n}}} (column {column:?}) is empty"),
                );
            }
        },
    };
    if let Some(text) = &text {
        let chars = text.chars().count();
        if chars > rules.max_text_chars {
            return skip(
                SkipReason::TextTooLong,
                format!(
                    "the text has {chars} characters; the limit is {}",
                    rules.max_text_chars
                ),
            );
        }
    }
    Verdict::Good(GoodRow {
        callee,
        text,
        caller,
        cycle_play_times,
    })
}

/// A normalised number as a compact key: numbers of up to 18 digits fit a `u64` exactly
/// (a leading 1 keeps leading zeros); longer ones (only possible with `numbers = "any"`)
/// are kept as text.
fn key(number: &str) -> Option<u64> {
    if number.len() > 18 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        number
            .bytes()
            .fold(1u64, |key, digit| key * 10 + u64::from(digit - b'0')),
    )
}

/// The do-not-call list: normalised numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoNotCall {
    short: HashSet<u64>,
    long: HashSet<String>,
}

impl DoNotCall {
    /// Reads one number a line, normalised by `policy`: blank lines and `#` comments are
    /// skipped, a line that is a CSV row gives its first field, and a first line with no
    /// digit is a header. Any other line that is not a number makes the whole list
    /// unusable (the error names it): a list that is half read would let numbers on it
    /// be called.
    pub fn parse(text: &str, policy: NumberPolicy) -> Result<DoNotCall, String> {
        let mut list = DoNotCall::default();
        let mut first = true;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            let cell = line
                .split([',', ';', '\t'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if cell.is_empty() {
                continue;
            }
            let header = first && !cell.chars().any(|c| c.is_ascii_digit());
            first = false;
            if header {
                continue;
            }
            let number =
                numbers::normalise(cell, policy).map_err(|e| format!("line {}: {e}", i + 1))?;
            list.insert(number);
        }
        Ok(list)
    }

    fn insert(&mut self, number: String) {
        match key(&number) {
            Some(k) => self.short.insert(k),
            None => self.long.insert(number),
        };
    }

    pub fn contains(&self, number: &str) -> bool {
        match key(number) {
            Some(k) => self.short.contains(&k),
            None => self.long.contains(number),
        }
    }

    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A later row with a number an earlier good row already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The row's place among the file's rows, from 0.
    pub ordinal: u64,
    pub line: u64,
    pub first_line: u64,
}

impl Duplicate {
    pub fn skip(&self) -> Skip {
        Skip {
            reason: SkipReason::Duplicate,
            detail: format!("duplicate of line {}", self.first_line),
        }
    }
}

/// Finds duplicates among the good rows. Memory is 16 bytes a row: the keys are sorted
/// once at the end rather than held in a hash map, which would need twice that.
#[derive(Debug, Default)]
pub struct Deduplicator {
    short: Vec<(u64, u32, u32)>,
    long: HashMap<String, u64>,
    found: Vec<Duplicate>,
}

impl Deduplicator {
    pub fn with_capacity(rows: usize) -> Deduplicator {
        Deduplicator {
            short: Vec::with_capacity(rows),
            ..Deduplicator::default()
        }
    }

    /// Notes a good row's number. `ordinal` and `line` must fit 32 bits.
    pub fn add(&mut self, number: &str, ordinal: u32, line: u32) {
        match key(number) {
            Some(k) => self.short.push((k, ordinal, line)),
            None => match self.long.get(number) {
                Some(&first_line) => self.found.push(Duplicate {
                    ordinal: ordinal.into(),
                    line: line.into(),
                    first_line,
                }),
                None => {
                    self.long.insert(number.to_string(), line.into());
                }
            },
        }
    }

    /// Every duplicate, in file order.
    pub fn finish(mut self) -> Vec<Duplicate> {
        self.short.sort_unstable();
        for group in self.short.chunk_by(|a, b| a.0 == b.0) {
            let first_line = u64::from(group[0].2);
            self.found
                .extend(group[1..].iter().map(|&(_, ordinal, line)| Duplicate {
                    ordinal: ordinal.into(),
                    line: line.into(),
                    first_line,
                }));
        }
        self.found.sort_unstable_by_key(|d| d.ordinal);
        self.found
    }
}

/// How many skipped rows a report lists, and how many rendered texts it shows.
pub const LISTED_SKIPS: usize = 20;
pub const SAMPLES: usize = 5;

/// A skipped row as reports list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    pub line: u64,
    pub reason: SkipReason,
    pub detail: String,
}

/// The counts per reason, one a line, for a person: `indent`, the code, the count.
pub fn reason_lines(skipped: &BTreeMap<SkipReason, u64>, indent: &str) -> String {
    skipped
        .iter()
        .map(|(reason, count)| format!("{indent}{reason:<20} {count}\n"))
        .collect()
}

/// The listed skipped rows, one a line, for a person: the line, the code, the detail.
pub fn skipped_row_lines(rows: &[SkippedRow], indent: &str) -> String {
    rows.iter()
        .map(|s| format!("{indent}line {:<6} {:<20} {}\n", s.line, s.reason, s.detail))
        .collect()
}

/// A good row's rendered text, as `check` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub line: u64,
    pub callee: String,
    pub text: Option<String>,
}

/// The counts of a checked file: rows, good rows, skips per reason, the first skipped
/// rows and the first rendered texts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub rows: u64,
    pub good: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    pub skipped_rows: Vec<SkippedRow>,
    pub samples: Vec<Sample>,
}

impl Tally {
    /// Counts one row's verdict (duplicates come later, through [`Tally::duplicates`]).
    pub fn count(&mut self, line: u64, verdict: &Verdict) {
        self.rows += 1;
        match verdict {
            Verdict::Good(row) => {
                self.good += 1;
                // The samples are the first good rows, so a sample can only repeat another.
                let repeated = self.samples.iter().any(|s| s.callee == row.callee);
                if self.samples.len() < SAMPLES && !repeated {
                    self.samples.push(Sample {
                        line,
                        callee: row.callee.clone(),
                        text: row.text.clone(),
                    });
                }
            }
            Verdict::Skip(skip) => self.skip(line, skip),
        }
    }

    fn skip(&mut self, line: u64, skip: &Skip) {
        *self.skipped.entry(skip.reason).or_default() += 1;
        if self.skipped_rows.len() < LISTED_SKIPS {
            self.skipped_rows.push(SkippedRow {
                line,
                reason: skip.reason,
                detail: skip.detail.clone(),
            });
        }
    }

    /// Moves the duplicates (in file order) from good to skipped.
    pub fn duplicates(&mut self, duplicates: &[Duplicate]) {
        let listed = std::mem::take(&mut self.skipped_rows);
        for d in duplicates.iter().take(LISTED_SKIPS) {
            self.skip(d.line, &d.skip());
        }
        let extra = duplicates.len().saturating_sub(LISTED_SKIPS) as u64;
        if !duplicates.is_empty() {
            *self.skipped.entry(SkipReason::Duplicate).or_default() += extra;
        }
        self.good -= duplicates.len() as u64;
        let mut merged = listed;
        merged.append(&mut self.skipped_rows);
        merged.sort_by_key(|s| s.line);
        merged.truncate(LISTED_SKIPS);
        self.skipped_rows = merged;
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Why the file as a whole cannot be accepted, if it cannot.
    pub fn rejection(&self) -> Option<String> {
        match (self.rows, self.good) {
            (0, _) => Some("the file has a header but no rows".into()),
            (rows, 0) => Some(format!(
                "no usable row: all {rows} rows were skipped (see the reasons below)"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
