//! [`unpack`] and [`unpack_in`]: decompress and extract a payload, all or nothing (DESIGN.md,
//! `bundle-bootstrap`: "Unpack … in a fresh folder, renamed into place only when complete").
//!
//! Everything goes into `<parent>/.<name>.partial-<random>`, created private (0700) and held open
//! ([`Staging`]); every entry is written through that handle. The folder is placed only when every
//! entry was extracted *and* the input was read to its very end without error: the decrypting
//! reader reports bad padding only at EOF, so after tar's end-of-archive marker the rest of the
//! stream is drained. On any error what was unpacked is removed. Reads only the given stream;
//! writes only in that one folder, and then to the names it places.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Compression;
use super::error::ArchiveError;
use super::extract::Extractor;
use super::staging::{Staging, open_parent};
use super::stream;

/// Default cap on the bytes one archive puts on disk.
const DEFAULT_MAX_BYTES: u64 = 4 << 30;
/// Default cap on the entries of one archive.
const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// The private folder's name stem for [`unpack_in`].
const UNPACK_IN_STEM: &str = "bundle-unpack";

/// Caps on what one archive may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes on disk: regular files, plus a block per folder and each symlink's target.
    pub max_bytes: u64,
    /// Entries of any kind, counting every folder made, listed in the archive or not.
    pub max_entries: u64,
}

impl Default for Limits {
    /// 4 GiB and 100,000 entries.
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// What [`unpack`] or [`unpack_in`] made.
#[derive(Debug)]
pub struct Unpacked {
    /// The folder unpacked into: `dest` for [`unpack`], `dir` for [`unpack_in`].
    pub root: PathBuf,
    /// What was placed: `dest` itself, or each top-level entry moved into `dir`.
    pub placed: Vec<PathBuf>,
    /// Entries counted against the cap: the archive's, and each folder only implied by a path.
    pub entries: u64,
    /// Bytes of regular files written.
    pub bytes: u64,
    /// The compression found.
    pub compression: Compression,
}

/// Unpacks the archive read from `input` into the new folder `dest` (which must not exist; its
/// parent must). `progress` hears the file bytes written so far. `dest` itself gets mode 0700.
///
/// # Security
///
/// One refused entry refuses the whole archive and nothing is left behind; see the `extract`
/// module for the rules and the CVE classes they stop. The private folder is held open from its
/// creation and written only through that handle, so nobody who can write to `dest`'s parent can
/// redirect a write; if they move or replace the folder, the unpack fails with
/// [`ArchiveError::Moved`]. The input is decompressed on a thread of its own, overlapping file
/// writing.
pub fn unpack<R: Read + Send + 'static>(
    input: R,
    dest: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Unpacked, ArchiveError> {
    let no_name = || {
        ArchiveError::io(
            dest,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no folder name to create"),
        )
    };
    let name = dest.file_name().ok_or_else(no_name)?;
    let name = name.to_str().ok_or_else(no_name)?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let staging = Staging::create(open_parent(parent)?, parent, name)?;
    staging.check_free(name.as_ref())?;
    let (compression, entries, bytes) = fill(&staging, input, limits, progress)?;
    staging.place(name)?;
    Ok(Unpacked {
        root: dest.to_path_buf(),
        placed: vec![dest.to_path_buf()],
        entries,
        bytes,
        compression,
    })
}

/// Unpacks the archive read from `input` into the existing folder `dir`, as `tar -C dir` would:
/// into a private folder inside `dir` first, then each top-level entry moved into `dir`, never
/// replacing anything there. Nothing is placed unless everything was unpacked.
///
/// # Security
///
/// As [`unpack`]: `dir` is opened once and everything after goes through handles, so another
/// user who can write to `dir` can neither redirect a write nor have anything but this archive's
/// entries placed.
pub fn unpack_in<R: Read + Send + 'static>(
    input: R,
    dir: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Unpacked, ArchiveError> {
    let staging = Staging::create(open_parent(dir)?, dir, UNPACK_IN_STEM)?;
    let (compression, entries, bytes) = fill(&staging, input, limits, progress)?;
    let placed = staging.spill()?;
    Ok(Unpacked {
        root: dir.to_path_buf(),
        placed,
        entries,
        bytes,
        compression,
    })
}

/// Extracts the whole stream into the private folder and gives folders their final modes.
fn fill<R: Read + Send + 'static>(
    staging: &Staging,
    input: R,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Compression, u64, u64), ArchiveError> {
    let shown = staging.shown();
    let mut extractor = Extractor::new(staging.root(), &shown, limits, progress);
    let compression = stream::extract_all(input, &mut extractor)?;
    extractor.finish()?;
    Ok((compression, extractor.entries(), extractor.bytes))
}
