//! The line rules of process output: splitting a byte stream into lines, decoding them
//! lossily and cutting over-long ones into pieces. Pure logic, run on reader threads.
//!
//! A `\n` ends a line and a `\r` just before it is dropped. A last line without a
//! newline still counts. Bytes that are not UTF-8 become U+FFFD, even when a character
//! is split across two reads. A line longer than the cap leaves in pieces of at most
//! the cap (in bytes of UTF-8), cut between characters; every piece but the last is
//! marked partial. At most the cap plus one read of the source is held at any time.

use std::io::{self, BufRead};

/// The smallest cap that always fits one character.
pub(crate) const MIN_LINE_CAP: usize = 4;

/// Splits bytes into lines and pieces; `emit` receives each piece and whether more of
/// its line follows.
pub(crate) struct LineSplitter {
    cap: usize,
    /// The decoded part of the current line that has not been sent yet.
    text: String,
    /// The start of a character whose remaining bytes have not been read yet.
    pending: Vec<u8>,
    lines: u64,
}

impl LineSplitter {
    /// Returns a splitter that cuts lines longer than `cap` bytes; `cap` is at least
    /// [`MIN_LINE_CAP`].
    pub(crate) fn new(cap: usize) -> LineSplitter {
        LineSplitter {
            cap: cap.max(MIN_LINE_CAP),
            text: String::new(),
            pending: Vec::new(),
            lines: 0,
        }
    }

    /// Returns how many lines have ended so far.
    pub(crate) fn lines(&self) -> u64 {
        self.lines
    }

    /// Takes the next bytes of the stream.
    pub(crate) fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(&str, bool)) {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.append(&rest[..at], emit);
            self.end_line(emit);
            rest = &rest[at + 1..];
        }
        self.append(rest, emit);
    }

    /// Ends the stream: a last line without a newline is sent as it is.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&str, bool)) {
        if self.text.is_empty() && self.pending.is_empty() {
            return;
        }
        self.flush_pending();
        self.cut(false, emit);
        emit(&self.text, false);
        self.text.clear();
        self.lines += 1;
    }

    fn end_line(&mut self, emit: &mut impl FnMut(&str, bool)) {
        self.flush_pending();
        if self.text.ends_with('\r') {
            self.text.pop();
        }
        emit(&self.text, false);
        self.text.clear();
        self.lines += 1;
    }

    /// Adds bytes from inside a line, then sends what has grown past the cap.
    fn append(&mut self, bytes: &[u8], emit: &mut impl FnMut(&str, bool)) {
        self.decode(bytes);
        self.cut(true, emit);
    }

    /// Sends full pieces while the text is longer than the cap. With `hold_cr`, a
    /// trailing `\r` does not count: it may belong to a `\r\n` still to come.
    fn cut(&mut self, hold_cr: bool, emit: &mut impl FnMut(&str, bool)) {
        loop {
            let held = usize::from(hold_cr && self.text.ends_with('\r'));
            if self.text.len() - held <= self.cap {
                return;
            }
            let mut at = self.cap;
            while !self.text.is_char_boundary(at) {
                at -= 1;
            }
            emit(&self.text[..at], true);
            self.text.drain(..at);
        }
    }

    /// Decodes bytes onto the text, completing a character split by the previous read.
    fn decode(&mut self, mut bytes: &[u8]) {
        while !self.pending.is_empty() && !bytes.is_empty() {
            // A character is at most four bytes: a few more settle the pending one.
            let take = bytes.len().min(4 - self.pending.len());
            let mut head = std::mem::take(&mut self.pending);
            head.extend_from_slice(&bytes[..take]);
            self.decode_slice(&head);
            bytes = &bytes[take..];
        }
        self.decode_slice(bytes);
    }

    fn decode_slice(&mut self, mut bytes: &[u8]) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    self.text.push_str(text);
                    return;
                }
                Err(err) => {
                    let (valid, after) = bytes.split_at(err.valid_up_to());
                    // The prefix was just checked; this cannot fail.
                    self.text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match err.error_len() {
                        Some(bad) => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            bytes = &after[bad..];
                        }
                        None => {
                            self.pending.extend_from_slice(after);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Replaces a character that the line ended in the middle of.
    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            self.pending.clear();
            self.text.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// Reads `reader` to its end and sends every piece of every line to `emit`; returns
/// how many lines there were.
pub(crate) fn read_lines(
    reader: &mut impl BufRead,
    cap: usize,
    mut emit: impl FnMut(&str, bool),
) -> io::Result<u64> {
    let mut splitter = LineSplitter::new(cap);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if chunk.is_empty() {
            splitter.finish(&mut emit);
            return Ok(splitter.lines());
        }
        let len = chunk.len();
        splitter.feed(chunk, &mut emit);
        reader.consume(len);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    /// Splits `input` read in chunks of `chunk` bytes; returns the pieces.
    fn split(input: &[u8], cap: usize, chunk: usize) -> Vec<(String, bool)> {
        let mut reader = BufReader::with_capacity(chunk, Cursor::new(input.to_vec()));
        let mut pieces = Vec::new();
        read_lines(&mut reader, cap, |text, partial| pieces.push((text.to_owned(), partial)))
            .unwrap();
        pieces
    }

    fn whole(lines: &[&str]) -> Vec<(String, bool)> {
        lines.iter().map(|line| (line.to_string(), false)).collect()
    }

    #[test]
    fn newline_ends_a_line_and_a_carriage_return_before_it_is_dropped() {
        let pieces = split(b"one\r\ntwo\n\nthree\r\r\n", 64, 3);
        assert_eq!(pieces, whole(&["one", "two", "", "three\r"]));
    }

    #[test]
    fn a_last_line_without_newline_is_kept_with_its_carriage_return() {
        assert_eq!(split(b"a\nlast", 64, 2), whole(&["a", "last"]));
        assert_eq!(split(b"a\nlast\r", 64, 2), whole(&["a", "last\r"]));
        assert_eq!(split(b"", 64, 2), whole(&[]));
    }

    #[test]
    fn invalid_bytes_are_replaced_and_split_characters_survive() {
        // "é" is C3 A9; a chunk size of one splits it between reads.
        let pieces = split(b"caf\xc3\xa9 \xff\xfe ok\n\xe2\x82\n", 64, 1);
        assert_eq!(pieces, whole(&["caf\u{e9} \u{fffd}\u{fffd} ok", "\u{fffd}"]));
        assert_eq!(split(b"end\xf0\x9f", 64, 1), whole(&["end\u{fffd}"]));
    }

    #[test]
    fn long_lines_are_cut_into_marked_pieces() {
        let pieces = split(b"abcdefghij\nxy\n", 4, 3);
        let expected = [("abcd", true), ("efgh", true), ("ij", false), ("xy", false)];
        assert_eq!(pieces, expected.map(|(t, p)| (t.to_owned(), p)));
    }

    #[test]
    fn cuts_fall_between_characters() {
        // Each "€" is three bytes: a cap of 7 fits two of them.
        let pieces = split("€€€€€\n".as_bytes(), 7, 2);
        let expected = [("€€", true), ("€€", true), ("€", false)];
        assert_eq!(pieces, expected.map(|(t, p)| (t.to_owned(), p)));
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_one_piece_even_before_crlf() {
        assert_eq!(split(b"abcd\r\nabcd", 4, 1), whole(&["abcd", "abcd"]));
        let pieces = split(b"abcd\r", 4, 1);
        assert_eq!(pieces, [("abcd".to_owned(), true), ("\r".to_owned(), false)]);
    }

    #[test]
    fn memory_stays_near_the_cap_for_a_huge_line() {
        let line = vec![b'x'; 1 << 20];
        let mut reader = BufReader::with_capacity(8 * 1024, Cursor::new(line));
        let mut splitter = LineSplitter::new(16 * 1024);
        let mut pieces = 0;
        let mut emit = |text: &str, _| {
            assert!(text.len() <= 16 * 1024);
            pieces += 1;
        };
        while let Ok(chunk) = reader.fill_buf() {
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len();
            splitter.feed(chunk, &mut emit);
            reader.consume(len);
            assert!(splitter.text.capacity() <= 64 * 1024, "{}", splitter.text.capacity());
        }
        splitter.finish(&mut emit);
        assert_eq!(pieces, 64);
    }
}
