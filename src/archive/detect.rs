//! Choosing the decompressor by the payload's first bytes (DESIGN.md: "detected by magic bytes
//! when reading"): gzip `1f 8b` (RFC 1952 §2.3.1), zstd `28 b5 2f fd` (RFC 8878 §3.1.1), anything
//! else is read as plain tar. Knows nothing of tar or of where the bytes come from.

use std::io::{self, BufReader, Cursor, Read};
use std::sync::Arc;

use super::Compression;
use super::gzip_read::GzipMembers;
use super::tripwire::{StreamFault, Tripwire};
use super::zstd_read::{ZSTD_MAGIC, ZstdFrames};

/// RFC 1952 §2.3.1: ID1 ID2.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The longest magic we look at.
const MAGIC_LEN: usize = 4;
/// Read buffer for the zstd frame reader and the gzip member reader.
const DECODER_BUFFER: usize = 64 * 1024;

/// The compression whose magic `prefix` starts with.
pub(crate) fn detect(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    }
}

/// Reads the first bytes of `input` (behind a [`Tripwire`]), and returns the compression found
/// and a reader of the decompressed stream. gzip reads every member and then zero padding
/// ([`GzipMembers`]), zstd every frame.
pub(crate) fn open<R: Read + Send + 'static>(
    input: R,
    fault: &Arc<StreamFault>,
) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    let mut input = Tripwire::new(input, Arc::clone(fault));
    let mut magic = [0u8; MAGIC_LEN];
    let mut got = 0;
    while got < MAGIC_LEN {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = detect(&magic[..got]);
    let stream = Cursor::new(magic[..got].to_vec()).chain(input);
    let decoded: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(GzipMembers::new(BufReader::with_capacity(
            DECODER_BUFFER,
            stream,
        ))),
        Compression::Zstd => Box::new(ZstdFrames::new(BufReader::with_capacity(
            DECODER_BUFFER,
            stream,
        ))),
        Compression::None => Box::new(stream),
    };
    Ok((compression, decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_choose_the_decoder() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(detect(&ZSTD_MAGIC), Compression::Zstd);
        assert_eq!(detect(b"star"), Compression::None);
        assert_eq!(detect(&[0x1f]), Compression::None);
        assert_eq!(detect(&[]), Compression::None);
    }

    #[test]
    fn gzip_members_are_all_read() {
        let mut two = super::super::pipeline::gzip_member(b"one ").unwrap();
        two.extend(super::super::pipeline::gzip_member(b"two").unwrap());
        let (c, mut r) = open(io::Cursor::new(two), &StreamFault::new()).unwrap();
        assert_eq!(c, Compression::Gzip);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "one two");
    }
}
