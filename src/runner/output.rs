//! A script's output: bytes cut into capped lines, echoed with the module's prefix, logged without
//! it, and the last lines kept for the failure message.
//!
//! Pure bookkeeping over `Read`/`Write`; it never starts or stops a process.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::mpsc::SyncSender;

/// The longest line we hold in memory; a longer one is cut into pieces of this size, so a script that
/// prints megabytes without a newline cannot exhaust memory.
pub const MAX_LINE: usize = 64 * 1024;

/// How many of the last lines the failure message shows.
pub const TAIL_LINES: usize = 20;

/// The longest tail line shown in a failure message; the log keeps the whole line.
const MAX_TAIL_LINE: usize = 1000;

/// Size of one read from the pipe.
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

/// Reads `reader` to its end, sending each line to `lines`. Runs on its own thread.
///
/// When the receiver has gone (the script exited but a background child it started still holds the
/// pipe), it keeps reading and discards: closing our end would kill that child with SIGPIPE the next
/// time it writes.
pub fn pump(mut reader: impl Read, lines: SyncSender<Vec<u8>>) {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut listening = true;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if listening => splitter.push(&buf[..n], &mut |line| {
                if listening && lines.send(line).is_err() {
                    listening = false;
                }
            }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(last) = splitter.finish() {
        // The receiver may be gone; nothing to do about it then.
        let _ = lines.send(last);
    }
}

/// Where one script's lines go: the echo (prefixed), its log (as is), and the tail.
pub struct LineSink<'a> {
    prefix: Vec<u8>,
    echo: &'a mut dyn Write,
    log: &'a mut dyn Write,
    tail: VecDeque<String>,
}

impl<'a> LineSink<'a> {
    /// A sink that prefixes echoed lines with `[label] `.
    pub fn new(label: &str, echo: &'a mut dyn Write, log: &'a mut dyn Write) -> Self {
        LineSink {
            prefix: format!("[{label}] ").into_bytes(),
            echo,
            log,
            tail: VecDeque::with_capacity(TAIL_LINES),
        }
    }

    /// Takes one line of the script's output.
    ///
    /// Write errors are ignored on purpose: a closed console (`bundle-bootstrap | head`) or a full disk
    /// must not stop the modules themselves; the script's exit status still decides the run.
    pub fn line(&mut self, line: &[u8]) {
        let _ = self
            .log
            .write_all(line)
            .and_then(|()| self.log.write_all(b"\n"));
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
        let _ = self.log.flush();
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
        let (mut echo, mut log) = (Vec::new(), Vec::new());
        let mut sink = LineSink::new("10-java", &mut echo, &mut log);
        for i in 0..25 {
            sink.line(format!("line {i}").as_bytes());
        }
        let tail = sink.into_tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[0], "line 5");
        assert!(String::from_utf8_lossy(&echo).starts_with("[10-java] line 0\n"));
        assert!(String::from_utf8_lossy(&log).starts_with("line 0\nline 1\n"));
    }
}
