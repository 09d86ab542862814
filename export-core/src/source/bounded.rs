//! Bounds on what a record-based source keeps in memory: a reader that refuses CSV records
//! longer than a limit, so that an endless line (a link to `/dev/zero` named `.csv`) fails with
//! the line's number instead of growing until the process aborts, and short excerpts of input
//! for error messages.

use std::fmt;
use std::io::{self, Read};

/// Most characters of input an error message quotes.
pub(crate) const EXCERPT_CHARS: usize = 80;

/// At most [`EXCERPT_CHARS`] characters of `text`, with `…` when cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The error a [`RecordLimit`] returns, inside an [`io::Error`] of kind `InvalidData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordTooLong {
    /// The 1-based record (line) that is too long.
    pub line: u64,
    /// The limit in bytes.
    pub limit: usize,
}

impl fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record longer than {} bytes (the max_record_bytes limit)",
            self.limit
        )
    }
}

impl std::error::Error for RecordTooLong {}

impl RecordTooLong {
    /// The limit error carried by `error`, if it is one.
    pub(crate) fn of(error: &io::Error) -> Option<RecordTooLong> {
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<RecordTooLong>())
            .copied()
    }
}

/// Where the scanner is within a record, as the `csv` parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// In an unquoted field.
    Unquoted,
    /// In a quoted field: delimiters and line ends are data.
    Quoted,
    /// Just after a quote in a quoted field: `""` is an escaped quote, anything else ends the
    /// quoting.
    QuoteInQuoted,
}

/// A reader passing bytes through while it follows CSV records (quoted fields may hold line
/// ends; `\n`, `\r` and `\r\n` end records) and fails once a record exceeds `limit` bytes.
pub(crate) struct RecordLimit<R> {
    inner: R,
    limit: usize,
    delimiter: u8,
    quote: u8,
    state: State,
    after_cr: bool,
    /// Bytes of the current record so far (line ends excluded).
    len: usize,
    /// The 1-based number of the current record.
    line: u64,
    failed: Option<RecordTooLong>,
}

impl<R: Read> RecordLimit<R> {
    pub(crate) fn new(inner: R, limit: usize, delimiter: u8, quote: u8) -> RecordLimit<R> {
        RecordLimit {
            inner,
            limit,
            delimiter,
            quote,
            state: State::FieldStart,
            after_cr: false,
            len: 0,
            line: 1,
            failed: None,
        }
    }

    /// Follows one byte; false once the record is too long.
    fn step(&mut self, b: u8) -> bool {
        let ends_record = (b == b'\n' || b == b'\r') && self.state != State::Quoted;
        if ends_record {
            // The `\n` of `\r\n` ends nothing more.
            if !(b == b'\n' && self.after_cr) {
                self.line += 1;
                self.len = 0;
                self.state = State::FieldStart;
            }
            self.after_cr = b == b'\r';
            return true;
        }
        self.after_cr = false;
        self.len += 1;
        self.state = match (self.state, b) {
            (State::Quoted, q) if q == self.quote => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, q) if q == self.quote => State::Quoted,
            (_, d) if d == self.delimiter => State::FieldStart,
            (State::FieldStart, q) if q == self.quote => State::Quoted,
            _ => State::Unquoted,
        };
        self.len <= self.limit
    }
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if !self.step(b) {
                let err = RecordTooLong {
                    line: self.line,
                    limit: self.limit,
                };
                self.failed = Some(err);
                // The bytes before pass (a header read ahead of a long record still parses);
                // the error comes with the next read.
                if i > 0 {
                    return Ok(i);
                }
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        }
        Ok(n)
    }
}

/// A reader keeping a copy of what it read, to replay it to a second parser.
pub(crate) struct Recording<'a, R> {
    pub(crate) inner: &'a mut R,
    pub(crate) seen: Vec<u8>,
}

impl<R: Read> Read for Recording<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_until_error(input: &[u8], limit: usize) -> Option<u64> {
        let mut reader = RecordLimit::new(input, limit, b',', b'"');
        let mut sink = Vec::new();
        match reader.read_to_end(&mut sink) {
            Ok(_) => None,
            Err(e) => RecordTooLong::of(&e).map(|e| e.line),
        }
    }

    #[test]
    fn records_are_counted_as_the_csv_parser_does() {
        assert_eq!(lines_until_error(b"ab\ncd\n", 2), None);
        assert_eq!(lines_until_error(b"ab\r\ncd\r\nefg\n", 2), Some(3));
        // A quoted line end is data: the second record is `"x\ny",zz`, 8 bytes.
        assert_eq!(lines_until_error(b"a\n\"x\ny\",zz\nb\n", 7), Some(2));
        assert_eq!(lines_until_error(b"a\n\"x\ny\",zz\nb\n", 8), None);
        // An escaped quote stays in the quoted field; a quote inside an unquoted field is data.
        assert_eq!(lines_until_error(b"\"x\"\"\nyy\"\nz\n", 5), Some(1));
        assert_eq!(lines_until_error(b"a\"b\nc\nddd\n", 3), None);
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(200);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
