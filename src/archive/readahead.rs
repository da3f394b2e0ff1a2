//! [`ReadAhead`]: a `Read` adapter that reads its inner reader on a thread of its own, so that the
//! stage below (decryption, decompression) runs while the stage above (tar, file writing) works.
//! Knows nothing of what it carries.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

/// Buffers in flight between the two threads.
const BUFFERS: usize = 8;
/// Size of each buffer: 8 × 256 KiB keeps at most 2 MiB ahead.
const BUFFER_SIZE: usize = 256 * 1024;

enum Message {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// Where the reading thread stands, once it has said so.
enum Ended {
    No,
    AtEof,
    /// Kind and text of the error already handed out, for any later read.
    WithError(io::ErrorKind, String),
}

/// Reads an inner reader on its own thread, through a bounded queue of buffers.
///
/// Data arrive in order; an error from the inner reader is handed out as the very same
/// `io::Error` object (kind and inner error kept), after the data read before it. Reads after an
/// error fail again with the same kind and text, never a silent end of file. Dropping a
/// `ReadAhead` early lets the thread end after its current read.
pub struct ReadAhead {
    incoming: Receiver<Message>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    ended: Ended,
}

impl ReadAhead {
    /// Starts reading `inner` on a new thread.
    pub fn new<R: Read + Send + 'static>(inner: R) -> Self {
        let (data_tx, incoming) = sync_channel(BUFFERS);
        let (recycle, spare) = sync_channel(BUFFERS);
        let ended = match thread::Builder::new()
            .name("read-ahead".to_owned())
            .spawn(move || pump(inner, &data_tx, &spare))
        {
            Ok(_) => Ended::No,
            Err(e) => Ended::WithError(e.kind(), format!("cannot start a read-ahead thread: {e}")),
        };
        ReadAhead {
            incoming,
            recycle,
            current: Vec::new(),
            at: 0,
            ended,
        }
    }
}

fn pump<R: Read>(mut inner: R, out: &SyncSender<Message>, spare: &Receiver<Vec<u8>>) {
    loop {
        // A buffer the reader has finished with, when one is back; else a new one.
        let mut buf = spare.try_recv().unwrap_or_default();
        buf.resize(BUFFER_SIZE, 0);
        let mut filled = 0;
        let mut last = None;
        while filled < buf.len() {
            match inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    last = Some(Message::End);
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    last = Some(Message::Failed(e));
                    break;
                }
            }
        }
        if filled > 0 {
            buf.truncate(filled);
            if out.send(Message::Data(buf)).is_err() {
                return;
            }
        }
        if let Some(last) = last {
            let _ = out.send(last);
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.at < self.current.len() {
                let n = out.len().min(self.current.len() - self.at);
                out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            match &self.ended {
                Ended::AtEof => return Ok(0),
                Ended::WithError(kind, text) => return Err(io::Error::new(*kind, text.clone())),
                Ended::No => {}
            }
            let used = std::mem::take(&mut self.current);
            if used.capacity() > 0 {
                // The thread may be gone or the queue full; then the buffer is simply freed.
                let _ = self.recycle.try_send(used);
            }
            self.at = 0;
            match self.incoming.recv() {
                Ok(Message::Data(buf)) => self.current = buf,
                Ok(Message::End) => self.ended = Ended::AtEof,
                Ok(Message::Failed(e)) => {
                    self.ended = Ended::WithError(e.kind(), e.to_string());
                    return Err(e);
                }
                Err(_) => {
                    self.ended = Ended::WithError(
                        io::ErrorKind::Other,
                        "the read-ahead thread stopped unexpectedly".to_owned(),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;
    use std::fmt;

    #[derive(Debug)]
    struct BadPadding;
    impl fmt::Display for BadPadding {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad padding")
        }
    }
    impl Error for BadPadding {}

    /// Gives `data` in small pieces, then fails.
    struct ThenFail {
        data: Vec<u8>,
        at: usize,
    }
    impl Read for ThenFail {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, BadPadding));
            }
            let n = buf.len().min(7).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn data_come_in_order_then_the_original_error() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
        let mut r = ReadAhead::new(ThenFail {
            data: data.clone(),
            at: 0,
        });
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, data);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.get_ref().is_some_and(|inner| inner.is::<BadPadding>()));
        // Never a silent end of file afterwards.
        assert!(r.read(&mut [0; 4]).is_err());
    }

    #[test]
    fn a_clean_end_reads_as_eof() {
        let mut r = ReadAhead::new(io::Cursor::new(vec![5u8; 1_000_000]));
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 1_000_000);
        assert_eq!(r.read(&mut [0; 4]).unwrap(), 0);
    }
}
