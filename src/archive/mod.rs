//! The bundle's payload: a deterministic tar + compression writer ([`pack`]) and a strict extractor
//! into a fresh private folder ([`unpack`]) (DESIGN.md, "Bundle file format" and `bundle-bootstrap`).
//!
//! This part knows no crypto, no HTTP and no personality logic: it reads and writes plain
//! `Read`/`Write` streams. The caller puts the openssl-enc `Encryptor` behind [`pack`]'s output and
//! the decrypting reader in front of [`unpack`]'s input.
//!
//! Layout: [`entry`] (what goes in, walking a folder), `pack` (tar headers), `pipeline` (the
//! compression threads), `detect` + `gzip_read` + `zstd_read` (choosing and running the
//! decompressor), `stream` (reading the tar stream to its end, and why it stopped), `unpack` +
//! `staging` + `extract` + `tree` (the strict extractor, working through directory handles), `paths` (the path rules both sides
//! share), `tripwire` (telling a broken stream from a bad archive), [`readahead`] (reading on a
//! thread of its own).

mod detect;
pub mod entry;
mod error;
mod extract;
mod gzip_read;
#[cfg(feature = "publisher")]
mod pack;
mod paths;
#[cfg(feature = "publisher")]
mod pipeline;
pub mod readahead;
mod staging;
mod stream;
mod tree;
mod tripwire;
mod unpack;
mod zstd_read;

use std::fmt;
use std::str::FromStr;

pub use entry::{PackEntry, Source, collect_tree, content_bytes};
pub use error::ArchiveError;
#[cfg(feature = "publisher")]
pub use pack::{PackOptions, pack};
pub use readahead::ReadAhead;
pub use unpack::{Limits, Unpacked, unpack, unpack_in};

/// How the tar stream is compressed. Detected by magic bytes when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (RFC 1952), written as independent members so it compresses on several threads.
    #[default]
    Gzip,
    /// Zstandard (RFC 8878), level 3.
    Zstd,
    /// A plain tar stream.
    None,
}

impl Compression {
    /// The name used on the command line (`--compression`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }
}

impl FromStr for Compression {
    type Err = ArchiveError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            _ => Err(ArchiveError::UnknownCompression {
                given: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_names_round_trip() {
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            assert_eq!(c.to_string().parse::<Compression>().ok(), Some(c));
        }
        assert!("bzip2".parse::<Compression>().is_err());
        assert_eq!(Compression::default(), Compression::Gzip);
    }
}
