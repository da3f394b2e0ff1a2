//! [`unpack`]: decompress and extract a payload into a new folder, all or nothing (DESIGN.md,
//! `bundle-bootstrap`: "Unpack … in a fresh folder, renamed into place only when complete").
//!
//! Everything goes into `<parent>/.<name>.partial-<random>`, created private (0700). That folder is
//! renamed to `dest` only when every entry was extracted *and* the input was read to its very end
//! without error: the decrypting reader reports bad padding only at EOF, so after tar's
//! end-of-archive marker the rest of the stream is drained. On any error the folder is removed.
//! Reads only the given stream; writes only below `dest`'s parent, in that one folder.

use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Compression;
use super::error::ArchiveError;
use super::extract::Extractor;
use super::stream;

/// Default cap on the file bytes of one archive.
const DEFAULT_MAX_BYTES: u64 = 4 << 30;
/// Default cap on the entries of one archive.
const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// The private folder's mode while we write into it, and after.
const PRIVATE_DIR_MODE: u32 = crate::fsutil::PRIVATE_DIR_MODE;
/// Attempts at a fresh temporary name.
const TEMP_ATTEMPTS: usize = 8;

/// Caps on what one archive may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of regular files.
    pub max_bytes: u64,
    /// Entries of any kind.
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

/// What [`unpack`] made.
#[derive(Debug)]
pub struct Unpacked {
    /// The new folder (`dest`).
    pub root: PathBuf,
    /// Entries in the archive.
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
/// module for the rules and the CVE classes they stop. The input is decompressed on a thread of
/// its own ([`ReadAhead`]), overlapping file writing.
pub fn unpack<R: Read + Send + 'static>(
    input: R,
    dest: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Unpacked, ArchiveError> {
    match fs::symlink_metadata(dest) {
        Ok(_) => {
            return Err(ArchiveError::DestinationExists {
                path: dest.to_path_buf(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ArchiveError::io(dest, e)),
    }
    let Some(name) = dest.file_name() else {
        return Err(ArchiveError::io(
            dest,
            io::Error::new(io::ErrorKind::InvalidInput, "no folder name to create"),
        ));
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = make_private_dir(parent, &name.to_string_lossy())?;
    let mut extractor = Extractor::new(&temp, limits, progress);
    let outcome = stream::extract_all(input, &mut extractor)
        .and_then(|compression| extractor.finish().map(|()| compression))
        .and_then(|compression| {
            rename_new(&temp, dest)
                .map(|()| compression)
                .map_err(|e| ArchiveError::io(dest, e))
        });
    match outcome {
        Ok(compression) => Ok(Unpacked {
            root: dest.to_path_buf(),
            entries: extractor.entries,
            bytes: extractor.bytes,
            compression,
        }),
        Err(e) => {
            extractor.relax();
            // Best effort: the error that matters is `e`. std's remove_dir_all does not follow
            // symlinks (CVE-2022-21658 was fixed in Rust 1.58.1).
            let _ = fs::remove_dir_all(&temp);
            Err(e)
        }
    }
}

/// Creates `<parent>/.<name>.partial-<random>`, mode 0700, failing if it exists.
fn make_private_dir(parent: &Path, name: &str) -> Result<PathBuf, ArchiveError> {
    let mut last = None;
    for _ in 0..TEMP_ATTEMPTS {
        let tag = crate::scratch::random_tag().map_err(|e| ArchiveError::io(parent, e))?;
        let temp = parent.join(format!(".{name}.partial-{tag}"));
        match DirBuilder::new().mode(PRIVATE_DIR_MODE).create(&temp) {
            Ok(()) => {
                fs::set_permissions(&temp, Permissions::from_mode(PRIVATE_DIR_MODE))
                    .map_err(|e| ArchiveError::io(&temp, e))?;
                return Ok(temp);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some((temp, e)),
            Err(e) => return Err(ArchiveError::io(&temp, e)),
        }
    }
    let (temp, e) =
        last.unwrap_or_else(|| (parent.to_path_buf(), io::ErrorKind::AlreadyExists.into()));
    Err(ArchiveError::io(temp, e))
}

/// Renames `from` to `to`, never replacing anything already at `to` (not even an empty folder,
/// which plain rename(2) would silently replace).
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            // Old kernels and some file systems lack RENAME_NOREPLACE: check, then rename.
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    if fs::symlink_metadata(to).is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    fs::rename(from, to)
}
