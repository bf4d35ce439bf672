//! Physical line numbers for CSV records: the CSV reader reports where a record starts
//! as a byte offset (on the line break before it), and [`LineCounter`], wrapped around
//! its input, notes where the line breaks are, so [`Newlines::line_at`] can say which
//! line that is. Memory is bounded by the reader's buffer. It also counts the quotes, so a
//! quote left open to the end of the file can be told apart.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

/// Where the line breaks are among the bytes the CSV reader has buffered but not yet
/// passed, and how many newlines it has passed: enough to give any record the physical
/// line it starts on, in memory bounded by the reader's buffer.
#[derive(Clone, Default)]
pub struct Newlines(Rc<RefCell<Breaks>>);

#[derive(Default)]
struct Breaks {
    /// Offsets of `\r` and `\n` bytes not yet passed, with whether each is a `\n`.
    ahead: VecDeque<(u64, bool)>,
    passed: u64,
    /// How many `"` bytes have gone by: an odd count at the end means a quote never
    /// closed (or a stray one inside an unquoted field).
    quotes: u64,
    /// The last byte that is not a line break.
    last: Option<u8>,
}

impl Newlines {
    /// Returns true if and only if the bytes so far look like a quote left open: an odd
    /// number of `"`, and the last byte before any final line breaks is not a closing `"`.
    pub fn quote_left_open(&self) -> bool {
        let breaks = self.0.borrow();
        breaks.quotes % 2 == 1 && breaks.last != Some(b'"')
    }

    /// The line (from 1) of the first byte at or after `offset` that is not a line break:
    /// the CSV reader places a record's start on the line break before it. Offsets must
    /// not decrease between calls.
    pub fn line_at(&self, offset: u64) -> u64 {
        let mut breaks = self.0.borrow_mut();
        while breaks.ahead.front().is_some_and(|&(at, _)| at < offset) {
            let ended = ends_line(&breaks.ahead, 0);
            breaks.ahead.pop_front();
            breaks.passed += u64::from(ended);
        }
        let leading = (0..breaks.ahead.len())
            .take_while(|&i| breaks.ahead[i].0 == offset + i as u64)
            .filter(|&i| ends_line(&breaks.ahead, i))
            .count() as u64;
        breaks.passed + leading + 1
    }
}

/// Whether the break at `ahead[i]` ends a line: a `\n` does, and a `\r` does unless a
/// `\n` follows it (CRLF is one break; a lone CR, as old Mac Excel writes, is one too).
/// The byte after a break the CSV reader has passed is always already read.
fn ends_line(ahead: &VecDeque<(u64, bool)>, i: usize) -> bool {
    let (at, newline) = ahead[i];
    newline || ahead.get(i + 1) != Some(&(at + 1, true))
}

/// A reader that notes where every line break it hands on sits.
pub struct LineCounter<R> {
    inner: R,
    offset: u64,
    newlines: Newlines,
}

impl<R> LineCounter<R> {
    /// Counts the line breaks `inner` hands on, into `newlines`.
    pub fn new(inner: R, newlines: Newlines) -> LineCounter<R> {
        LineCounter {
            inner,
            offset: 0,
            newlines,
        }
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut breaks = self.newlines.0.borrow_mut();
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[..n]) {
            breaks
                .ahead
                .push_back((self.offset + i as u64, buf[i] == b'\n'));
        }
        breaks.quotes += memchr::memchr_iter(b'"', &buf[..n]).count() as u64;
        if let Some(&b) = buf[..n].iter().rev().find(|b| !matches!(b, b'\r' | b'\n')) {
            breaks.last = Some(b);
        }
        self.offset += n as u64;
        Ok(n)
    }
}
