//! A script's output: the log file the script writes, followed as it grows, cut into capped lines,
//! echoed with the module's prefix, and the last lines kept for the failure message.
//!
//! Pure bookkeeping over `Read`/`Write`; it never starts or stops a process, and never writes the log
//! (the script does: [`super::script`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

/// The longest line we hold in memory; a longer one is cut into pieces of this size, so a script that
/// prints megabytes without a newline cannot exhaust memory. The log file keeps it whole.
pub const MAX_LINE: usize = 64 * 1024;

/// How many of the last lines the failure message shows.
pub const TAIL_LINES: usize = 20;

/// The longest tail line shown in a failure message; the log keeps the whole line.
const MAX_TAIL_LINE: usize = 1000;

/// Size of one read from the log file.
const READ_CHUNK: usize = 8 * 1024;

/// Cuts a byte stream into lines (without their `\n`), none longer than [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds `bytes`, handing every completed line to `emit`.
    pub fn push(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(Vec<u8>)) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.partial.extend_from_slice(&window[..at]);
                    emit(std::mem::take(&mut self.partial));
                    bytes = &bytes[at + 1..];
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() == MAX_LINE {
                        emit(std::mem::take(&mut self.partial));
                    }
                }
            }
        }
    }

    /// The last line, when the stream ended without a newline.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then_some(self.partial)
    }
}

/// Follows a file that a script is writing (its log): each call reads what was added since the last,
/// from our own file offset — never the writer's, so the script's writes are not disturbed.
pub struct Follow<R> {
    file: R,
    /// Bytes read so far: where the next read starts.
    read: u64,
    splitter: LineSplitter,
    buf: Vec<u8>,
}

impl<R: Read> Follow<R> {
    /// Follows `file` from its start.
    pub fn new(file: R) -> Self {
        Follow {
            file,
            read: 0,
            splitter: LineSplitter::default(),
            buf: vec![0u8; READ_CHUNK],
        }
    }

    /// Reads at most `budget` new bytes (fewer when the writer has not written more yet), handing
    /// every completed line to `sink`. Returns how many bytes it read: 0 when there is nothing new.
    pub fn read_new(&mut self, budget: usize, sink: &mut LineSink<'_>) -> usize {
        self.read_until(self.read.saturating_add(budget as u64), sink)
    }

    /// Reads up to byte `end` of the file, or to its end when that comes first: what was written
    /// when the script exited, but not what the processes it left running write later.
    pub fn read_to(&mut self, end: u64, sink: &mut LineSink<'_>) {
        while self.read < end {
            if self.read_until(end, sink) == 0 {
                break;
            }
        }
    }

    /// Hands the last line to `sink` when the output ended without a newline.
    pub fn finish(self, sink: &mut LineSink<'_>) {
        if let Some(last) = self.splitter.finish() {
            sink.line(&last);
        }
    }

    fn read_until(&mut self, end: u64, sink: &mut LineSink<'_>) -> usize {
        let mut got = 0;
        while self.read < end {
            let want = usize::try_from(end - self.read).map_or(READ_CHUNK, |n| n.min(READ_CHUNK));
            match self.file.read(&mut self.buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    self.read += n as u64;
                    got += n;
                    self.splitter
                        .push(&self.buf[..n], &mut |line| sink.line(&line));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A log we cannot read any more only costs the echo; the script goes on.
                Err(_) => break,
            }
        }
        got
    }
}

/// Where one script's lines go: the echo (prefixed) and the tail. The log already has them.
pub struct LineSink<'a> {
    prefix: Vec<u8>,
    echo: &'a mut dyn Write,
    tail: VecDeque<String>,
}

impl<'a> LineSink<'a> {
    /// A sink that prefixes echoed lines with `[label] `.
    pub fn new(label: &str, echo: &'a mut dyn Write) -> Self {
        LineSink {
            prefix: format!("[{label}] ").into_bytes(),
            echo,
            tail: VecDeque::with_capacity(TAIL_LINES),
        }
    }

    /// Takes one line of the script's output.
    ///
    /// Write errors are ignored on purpose: a closed console (`bundle-bootstrap | head`) must not
    /// stop the modules themselves; the script's exit status still decides the run.
    pub fn line(&mut self, line: &[u8]) {
        self.say(line);
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let shown = match text.char_indices().nth(MAX_TAIL_LINE) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        };
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(shown);
    }

    /// Echoes a line of our own about the script (not its output: kept out of the log and tail).
    pub fn note(&mut self, text: &str) {
        self.say(text.as_bytes());
    }

    fn say(&mut self, line: &[u8]) {
        let _ = self
            .echo
            .write_all(&self.prefix)
            .and_then(|()| self.echo.write_all(line))
            .and_then(|()| self.echo.write_all(b"\n"))
            .and_then(|()| self.echo.flush());
    }

    /// The last lines seen, oldest first.
    pub fn into_tail(self) -> Vec<String> {
        self.tail.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |l| out.push(l));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            split(&[b"a\nb", b"c\n\nd"]),
            vec![b"a".to_vec(), b"bc".to_vec(), vec![], b"d".to_vec()]
        );
    }

    #[test]
    fn a_long_line_is_cut() {
        let big = vec![b'x'; MAX_LINE * 2 + 5];
        let out = split(&[&big, b"\n"]);
        assert_eq!(
            out.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_LINE, MAX_LINE, 5]
        );
    }

    #[test]
    fn sink_prefixes_echo_and_keeps_the_tail() {
        let mut echo = Vec::new();
        let mut sink = LineSink::new("10-java", &mut echo);
        for i in 0..25 {
            sink.line(format!("line {i}").as_bytes());
        }
        let tail = sink.into_tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[0], "line 5");
        assert!(String::from_utf8_lossy(&echo).starts_with("[10-java] line 0\n"));
    }

    /// A reader that hands out what has been "written" so far, like a log file a script is writing.
    struct Growing(std::rc::Rc<std::cell::RefCell<(Vec<u8>, usize)>>);

    impl Read for Growing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut inner = self.0.borrow_mut();
            let (data, at) = &mut *inner;
            let n = buf.len().min(data.len() - *at);
            buf[..n].copy_from_slice(&data[*at..*at + n]);
            *at += n;
            Ok(n)
        }
    }

    #[test]
    fn follow_reads_what_was_added_and_stops_where_told() {
        let shared = std::rc::Rc::new(std::cell::RefCell::new((Vec::new(), 0)));
        let mut follow = Follow::new(Growing(shared.clone()));
        let mut echo = Vec::new();
        let mut sink = LineSink::new("m", &mut echo);
        assert_eq!(follow.read_new(1024, &mut sink), 0, "nothing written yet");
        shared.borrow_mut().0.extend_from_slice(b"one\ntw");
        assert_eq!(follow.read_new(1024, &mut sink), 6);
        shared.borrow_mut().0.extend_from_slice(b"o\nlater\n");
        // The script exited when 8 bytes were written: what came later is not echoed.
        follow.read_to(8, &mut sink);
        follow.finish(&mut sink);
        assert_eq!(sink.into_tail(), ["one", "two"]);
        assert_eq!(String::from_utf8_lossy(&echo), "[m] one\n[m] two\n");
    }

    #[test]
    fn follow_keeps_to_its_budget() {
        let shared = std::rc::Rc::new(std::cell::RefCell::new((vec![b'x'; 100], 0)));
        let mut follow = Follow::new(Growing(shared));
        let mut echo = Vec::new();
        let mut sink = LineSink::new("m", &mut echo);
        assert_eq!(follow.read_new(30, &mut sink), 30);
        assert_eq!(follow.read_new(1000, &mut sink), 70);
        follow.finish(&mut sink);
        assert_eq!(sink.into_tail(), ["x".repeat(100)]);
    }
}
