//! A zstd reader over ruzstd (pure Rust, small enough for `bundle-bootstrap`) that reads a whole
//! stream: every frame, skippable frames skipped, checksums checked, and an error, never a quiet
//! end, when the stream stops inside a frame.
//!
//! Why not ruzstd's own `StreamingDecoder`: it decodes a single frame and stops (its docs say so)
//! and does not compare the content checksum. RFC 8878 §3.1 allows any number of frames, so we read
//! frame headers ourselves.

use std::io::{self, BufRead, Read};

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// RFC 8878 §3.1.1: a zstd frame starts with 0xFD2FB528, little-endian.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// RFC 8878 §3.1.2: skippable frames use magic 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
/// The largest window we accept: 128 MiB, the zstd tool's own default decoding limit
/// (`ZSTD_WINDOWLOG_LIMIT_DEFAULT` = 27). Level 3 uses far less.
const MAX_WINDOW: u64 = 1 << 27;
/// Frame header: descriptor byte, then window byte, dictionary id and content size (§3.1.1.1).
const DESCRIPTOR_SINGLE_SEGMENT: u8 = 0x20;
const MAX_HEADER_TAIL: usize = 1 + 4 + 8;

/// Decodes every zstd frame of `source`, in order.
pub(crate) struct ZstdFrames<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
    done: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    /// Reads zstd frames from `source`.
    pub(crate) fn new(source: R) -> Self {
        // ruzstd 0.9 has a window limit of its own (128 MiB by default); hold it to ours, so the
        // two cannot drift apart. `next_frame` checks first, with a message that names the limit.
        let mut decoder = FrameDecoder::new();
        decoder.set_max_window_size(MAX_WINDOW);
        ZstdFrames {
            source,
            decoder,
            in_frame: false,
            done: false,
        }
    }

    /// Starts the next frame; `false` at a clean end of the stream (between frames).
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            let mut magic = [0u8; 4];
            self.source.read_exact(&mut magic)?;
            if u32::from_le_bytes(magic) & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
                let mut len = [0u8; 4];
                self.source.read_exact(&mut len)?;
                let len = u64::from(u32::from_le_bytes(len));
                let skipped = io::copy(&mut (&mut self.source).take(len), &mut io::sink())?;
                if skipped != len {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                continue;
            }
            if magic != ZSTD_MAGIC {
                return Err(invalid("data after a zstd frame is not another frame"));
            }
            let mut descriptor = [0u8; 1];
            self.source.read_exact(&mut descriptor)?;
            let descriptor = descriptor[0];
            let single = descriptor & DESCRIPTOR_SINGLE_SEGMENT != 0;
            let dict_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
            let size_len = match descriptor >> 6 {
                0 => usize::from(single),
                1 => 2,
                2 => 4,
                _ => 8,
            };
            let tail_len = usize::from(!single) + dict_len + size_len;
            let mut tail = [0u8; MAX_HEADER_TAIL];
            self.source.read_exact(&mut tail[..tail_len])?;
            let window = if single {
                let mut size = [0u8; 8];
                size[..size_len].copy_from_slice(&tail[tail_len - size_len..tail_len]);
                let size = u64::from_le_bytes(size);
                // §3.1.1.4: a 2-byte content size is stored minus 256.
                if size_len == 2 { size + 256 } else { size }
            } else {
                let exponent = u32::from(tail[0] >> 3);
                let base = 1u64 << (10 + exponent);
                base + base / 8 * u64::from(tail[0] & 7)
            };
            if window > MAX_WINDOW {
                return Err(invalid(format!(
                    "zstd frame asks for a {window}-byte window, over the {MAX_WINDOW}-byte limit"
                )));
            }
            let header: Vec<u8> = magic
                .iter()
                .chain(&[descriptor])
                .chain(&tail[..tail_len])
                .copied()
                .collect();
            self.decoder.reset(&header[..]).map_err(invalid)?;
            return Ok(true);
        }
    }

    fn end_frame(&mut self) -> io::Result<()> {
        if let Some(expected) = self.decoder.get_checksum_from_data()
            && self.decoder.get_calculated_checksum() != Some(expected)
        {
            return Err(invalid("zstd frame checksum mismatch"));
        }
        self.in_frame = false;
        Ok(())
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            if !self.in_frame {
                if !self.next_frame()? {
                    self.done = true;
                    return Ok(0);
                }
                self.in_frame = true;
            }
            while !self.decoder.is_finished() && self.decoder.can_collect() < buf.len() {
                let wanted = buf.len() - self.decoder.can_collect();
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(invalid)?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                self.end_frame()?;
            }
        }
    }
}

fn invalid<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ZstdFrames::new(io::BufReader::new(data)).read_to_end(&mut out)?;
        Ok(out)
    }

    fn frame(data: &[u8]) -> Vec<u8> {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_checksum(true).unwrap();
        std::io::Write::write_all(&mut enc, data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_every_frame_and_skips_skippable_ones() {
        let first: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
        let mut stream = frame(&first);
        stream.extend_from_slice(&[0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        stream.extend(frame(b"second"));
        let mut want = first.clone();
        want.extend_from_slice(b"second");
        assert_eq!(decode(&stream).unwrap(), want);
    }

    #[test]
    fn truncation_checksums_and_huge_windows_are_errors() {
        let whole = frame(&[3u8; 100_000]);
        for cut in [whole.len() - 1, whole.len() - 4, 10, 5] {
            assert!(decode(&whole[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode(&flipped).is_err());
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"junk");
        assert!(decode(&trailing).is_err());
        // Window descriptor exponent 30: a 1 TiB window.
        let huge = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 30 << 3, 0, 0, 0];
        assert!(decode(&huge).is_err());
    }
}
