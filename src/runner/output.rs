//! A script's output: bytes cut into capped lines, echoed with the module's prefix, logged without
//! it, and the last lines kept for the failure message.
//!
//! Bookkeeping over `Read`/`Write`; it never starts or stops a process.

use std::collections::VecDeque;
use std::io::{self, PipeReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// The longest line we hold in memory; a longer one is cut into pieces of this size, so a script that
/// prints megabytes without a newline cannot exhaust memory.
pub const MAX_LINE: usize = 64 * 1024;

/// How many of the last lines the failure message shows.
pub const TAIL_LINES: usize = 20;

/// The longest tail line shown in a failure message; the log keeps the whole line.
const MAX_TAIL_LINE: usize = 1000;

/// Size of one read from the pipe.
const READ_CHUNK: usize = 8 * 1024;

/// How long [`pump`] waits for output before it looks whether it was asked to stop.
const STOP_CHECK: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

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

/// Reads the script's output pipe to its end, sending each line to `lines` — or until `stop` is
/// set: then it sends the unfinished line and gives the pipe back, because processes the script left
/// running still hold it (the caller hands it on: see [`super::script`]). Runs on its own thread.
///
/// When the receiver has gone, it keeps reading and discards: closing our end would kill whatever
/// holds the pipe with SIGPIPE the next time it writes.
pub fn pump(
    reader: PipeReader,
    lines: SyncSender<Vec<u8>>,
    stop: &AtomicBool,
) -> Option<PipeReader> {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut listening = true;
    let mut send = |line| {
        if listening && lines.send(line).is_err() {
            listening = false;
        }
    };
    let stopped = loop {
        if stop.load(Ordering::SeqCst) {
            break true;
        }
        let mut ready = [PollFd::new(&reader, PollFlags::IN)];
        match poll(&mut ready, Some(&STOP_CHECK)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => break false,
        }
        match (&reader).read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => splitter.push(&buf[..n], &mut send),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break false,
        }
    };
    if let Some(last) = splitter.finish() {
        send(last);
    }
    stopped.then_some(reader)
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

    /// Writes out what the log holds in memory, before another writer appends to the same file.
    pub fn flush_log(&mut self) {
        let _ = self.log.flush();
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
    fn pump_gives_back_a_pipe_still_held_and_keeps_its_lines() {
        let (reader, mut writer) = io::pipe().unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let pumping = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || pump(reader, tx, &stop))
        };
        writer.write_all(b"whole\nhalf").unwrap();
        assert_eq!(rx.recv().unwrap(), b"whole");
        stop.store(true, Ordering::SeqCst);
        let back = pumping.join().unwrap();
        assert_eq!(rx.recv().unwrap(), b"half", "the unfinished line is sent");
        assert!(
            back.is_some(),
            "a pipe that still has a writer is given back"
        );
        // Whoever gets it reads what the writer writes next.
        writer.write_all(b"later\n").unwrap();
        drop(writer);
        let mut rest = String::new();
        back.unwrap().read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "later\n");
    }

    #[test]
    fn pump_reads_to_the_end_and_gives_nothing_back() {
        let (reader, mut writer) = io::pipe().unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        writer.write_all(b"a\nb").unwrap();
        drop(writer);
        assert!(pump(reader, tx, &AtomicBool::new(false)).is_none());
        assert_eq!(
            rx.iter().collect::<Vec<_>>(),
            [b"a".to_vec(), b"b".to_vec()]
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
