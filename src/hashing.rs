//! The hashing helpers every part needs: lower-case hex, the short form of a digest, and a file's
//! sha256 streamed.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// Hex digits of a sha256 shown where a short name will do: the version of a bundle without a
/// manifest, summaries, release listings.
pub const SHORT_SHA_LEN: usize = 12;

/// The first [`SHORT_SHA_LEN`] digits of a hex digest (all of it when shorter).
pub fn short(hex: &str) -> &str {
    hex.get(..SHORT_SHA_LEN).unwrap_or(hex)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// sha256 (hex) of a file's content, streamed, and its length.
pub fn file_sha256(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hash = Sha256::new();
    let len = io::copy(&mut file, &mut hash)?;
    Ok((hex(&hash.finalize()), len))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab]), "000fab");
    }
}
