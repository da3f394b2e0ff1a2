//! Base64 armour as `openssl enc -a` writes it, streamed both ways.
//!
//! Writing: 48 input bytes per 64-column line, every line ending in `\n`, the last one padded with
//! `=` (openssl's `BIO_f_base64`). Reading is lenient about layout and strict about content: lines of
//! any length, CRLF, or none at all (`-A`) are fine; an alphabet error, data after the padding or a
//! dangling partial quad is [`EncError::DecryptionFailed`](super::EncError), because base64 damage
//! is just another damaged file. Knows nothing of ciphers or salts.

use std::io::{self, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::BATCH;
use super::error::EncError;

/// Input bytes per armour line: 48 bytes encode to exactly 64 characters.
const LINE_BYTES: usize = 48;
/// Characters per armour line, before its newline.
const LINE_CHARS: usize = 64;
/// One encoded line with its newline.
const LINE_WITH_NEWLINE: usize = LINE_CHARS + 1;
/// Lines collected before one write to the sink (about 64 KiB of text).
const LINES_PER_WRITE: usize = BATCH / LINE_WITH_NEWLINE;
/// Characters in one base64 quantum, which decodes to 3 bytes.
const QUAD: usize = 4;

/// Encodes everything written to it as 64-column base64 lines into `inner`.
pub(crate) struct ArmorWriter<W> {
    inner: W,
    /// Input bytes that do not yet fill a line.
    carry: [u8; LINE_BYTES],
    carry_len: usize,
    /// Encoded lines not yet handed to `inner`.
    out: Box<[u8]>,
    out_len: usize,
}

impl<W: Write> ArmorWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            carry: [0; LINE_BYTES],
            carry_len: 0,
            out: vec![0; LINES_PER_WRITE * LINE_WITH_NEWLINE].into_boxed_slice(),
            out_len: 0,
        }
    }

    /// Encodes all of `data`; whole lines go to `inner` once a batch of them is ready.
    pub(crate) fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.carry_len > 0 {
            let take = (LINE_BYTES - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            if self.carry_len < LINE_BYTES {
                return Ok(());
            }
            let line = self.carry;
            self.carry_len = 0;
            self.push_line(&line)?;
        }
        let mut lines = data.chunks_exact(LINE_BYTES);
        for line in &mut lines {
            self.push_line(line)?;
        }
        let rest = lines.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
        Ok(())
    }

    /// Encodes one line (48 bytes, or fewer for the last) plus its newline.
    fn push_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.out.len() - self.out_len < LINE_WITH_NEWLINE {
            self.drain()?;
        }
        let slot = &mut self.out[self.out_len..self.out_len + LINE_CHARS];
        let n = STANDARD
            .encode_slice(line, slot)
            .map_err(io::Error::other)?;
        self.out[self.out_len + n] = b'\n';
        self.out_len += n + 1;
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out[..self.out_len])?;
        self.out_len = 0;
        Ok(())
    }

    /// Hands every complete line to `inner` and flushes it (a partial line must wait for more).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }

    /// Writes the last, padded line and its newline; returns the sink, flushed.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.carry_len > 0 {
            let line = self.carry;
            self.push_line(&line[..self.carry_len])?;
            self.carry_len = 0;
        }
        self.flush()?;
        Ok(self.inner)
    }
}

/// Decodes base64 text from `inner`, ignoring whitespace, into the bytes it stands for.
pub(crate) struct ArmorReader<R> {
    inner: R,
    /// Text already read by the caller while sniffing, decoded before anything else.
    prefix: Vec<u8>,
    /// Raw text from `inner`; its front holds up to three characters carried between reads.
    text: Box<[u8]>,
    /// Characters carried to the next batch: a quad cannot be decoded until it is whole.
    carried: usize,
    /// Decoded bytes waiting for the caller: `decoded[start..end]`.
    decoded: Box<[u8]>,
    start: usize,
    end: usize,
    /// A quad with `=` padding has been decoded: only whitespace may follow.
    padded: bool,
    state: ReadState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Reading,
    Done,
    Failed,
}

impl<R: Read> ArmorReader<R> {
    /// Reads base64 from `prefix` (what sniffing already took out of `inner`), then `inner`.
    pub(crate) fn new(inner: R, prefix: &[u8]) -> Self {
        Self {
            inner,
            prefix: prefix.to_vec(),
            text: vec![0; BATCH].into_boxed_slice(),
            carried: 0,
            decoded: vec![0; BATCH / QUAD * 3].into_boxed_slice(),
            start: 0,
            end: 0,
            padded: false,
            state: ReadState::Reading,
        }
    }

    fn fail(&mut self) -> io::Error {
        self.state = ReadState::Failed;
        EncError::failed()
    }

    /// Reads one batch of text and decodes its whole quads into `decoded`.
    fn refill(&mut self) -> io::Result<()> {
        let room = &mut self.text[self.carried..];
        let n = if self.prefix.is_empty() {
            loop {
                match self.inner.read(room) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        } else {
            let n = self.prefix.len().min(room.len());
            room[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            n
        };
        if n == 0 {
            // A dangling partial quad means the text was cut short.
            return if self.carried == 0 {
                self.state = ReadState::Done;
                Ok(())
            } else {
                Err(self.fail())
            };
        }
        // Drop line breaks and other whitespace in place, as openssl's decoder skips them.
        let mut kept = self.carried;
        for i in self.carried..self.carried + n {
            let c = self.text[i];
            if !c.is_ascii_whitespace() {
                self.text[kept] = c;
                kept += 1;
            }
        }
        let whole = kept / QUAD * QUAD;
        if whole > 0 {
            if self.padded {
                return Err(self.fail());
            }
            let quads = &self.text[..whole];
            self.padded = quads[whole - 1] == b'=';
            self.end = match STANDARD.decode_slice(quads, &mut self.decoded) {
                Ok(len) => len,
                Err(_) => return Err(self.fail()),
            };
            self.start = 0;
        }
        self.text.copy_within(whole..kept, 0);
        self.carried = kept - whole;
        Ok(())
    }
}

impl<R: Read> Read for ArmorReader<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start < self.end {
                let n = (self.end - self.start).min(dst.len());
                dst[..n].copy_from_slice(&self.decoded[self.start..self.start + n]);
                self.start += n;
                return Ok(n);
            }
            match self.state {
                ReadState::Done => return Ok(0),
                ReadState::Failed => return Err(EncError::failed()),
                ReadState::Reading if dst.is_empty() => return Ok(0),
                ReadState::Reading => self.refill()?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(data: &[u8], chunk: usize) -> String {
        let mut w = ArmorWriter::new(Vec::new());
        for piece in data.chunks(chunk.max(1)) {
            w.write_all(piece).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn decode(text: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ArmorReader::new(text, b"").read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lines_are_64_columns_with_a_final_newline() {
        let data: Vec<u8> = (0..=255).cycle().take(1000).collect();
        for chunk in [1, 7, 48, 1000] {
            let text = encode(&data, chunk);
            assert!(text.ends_with('\n'));
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 1000_usize.div_ceil(LINE_BYTES));
            assert!(
                lines[..lines.len() - 1]
                    .iter()
                    .all(|l| l.len() == LINE_CHARS)
            );
            assert_eq!(decode(text.as_bytes()).unwrap(), data);
        }
        // Exactly one line's worth: no empty line after it.
        assert_eq!(encode(&[0; 48], 5).matches('\n').count(), 1);
        assert_eq!(encode(b"", 1), "");
    }

    #[test]
    fn layout_is_free_when_reading() {
        let text = "U2Fs\r\ndGVk  X18=\n\n";
        assert_eq!(decode(text.as_bytes()).unwrap(), b"Salted__");
        assert_eq!(decode(b"U2FsdGVkX18x").unwrap(), b"Salted__1");
    }

    #[test]
    fn damage_is_the_opaque_failure() {
        for bad in [&b"U2Fs*GVk"[..], b"U2FsdGV", b"U2E=U2Fs", b"U2E=\nU2Fs"] {
            let err = decode(bad).unwrap_err();
            assert!(crate::enc::is_decryption_failure(&err), "{bad:?}: {err}");
        }
    }

    #[test]
    fn one_byte_reads_work() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(dst.len()).min(1);
                dst[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data: Vec<u8> = (0..200).collect();
        let text = encode(&data, 200);
        let mut out = Vec::new();
        ArmorReader::new(Trickle(&text.as_bytes()[3..]), &text.as_bytes()[..3])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
