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
use std::rc::Rc;
use std::sync::Arc;

use super::Compression;
use super::detect;
use super::error::ArchiveError;
use super::extract::{Extractor, Failure};
use super::readahead::ReadAhead;
use super::tripwire::{Budgeted, Gauge, StreamFault, Tripwire};
use crate::exit::Classify as _;

/// Default cap on the file bytes of one archive.
const DEFAULT_MAX_BYTES: u64 = 4 << 30;
/// Default cap on the entries of one archive.
const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// tar's block size (POSIX.1-1988 ustar).
const BLOCK: u64 = 512;
/// How far tar may read past the last entry's data before the next entry: room for GNU long
/// names and PAX records, which tar-rs holds in memory.
const MAX_HEADER_BYTES: u64 = 1 << 20;
/// How much may follow the end-of-archive marker (GNU tar pads to its record size, 10 KiB by
/// default; `-b` can raise that).
const MAX_TRAILING_BYTES: u64 = 16 << 20;
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
    let outcome = extract_all(input, &mut extractor)
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

/// Reads the whole stream, extracting every entry, and drains it to the end.
fn extract_all<R: Read + Send + 'static>(
    input: R,
    extractor: &mut Extractor<'_>,
) -> Result<Compression, ArchiveError> {
    let fault = StreamFault::new();
    let (compression, decoded) =
        detect::open(input, &fault).map_err(|e| Stream::new(&fault).fail(e))?;
    let gauge = Gauge::new(MAX_HEADER_BYTES);
    let reader = Budgeted::new(
        Tripwire::new(ReadAhead::new(decoded), Arc::clone(&fault)),
        Rc::clone(&gauge),
    );
    let mut archive = tar::Archive::new(reader);
    let mut stream = Stream::new(&fault);
    stream.gauge = Some(Rc::clone(&gauge));
    let mut last_end = 0u64;
    if let Err(e) = read_entries(&mut archive, extractor, &mut stream, &gauge, &mut last_end) {
        return Err(damage_or_refusal(
            e,
            archive,
            &fault,
            &gauge,
            extractor.limits.max_bytes,
        ));
    }
    // tar-rs ends quietly both at a zero block and at a plain end of stream; only the first is an
    // archive's real end (POSIX: "two consecutive blocks of zero bytes").
    if gauge.pos() == last_end {
        return Err(ArchiveError::Stream {
            what: if last_end == 0 {
                "it is empty".to_owned()
            } else {
                "it ends before the end-of-archive marker".to_owned()
            },
            source: None,
        });
    }
    stream.trailing = true;
    gauge.set_limit(gauge.pos().saturating_add(MAX_TRAILING_BYTES));
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| stream.fail(e))?;
    Ok(compression)
}

/// Extracts every entry of the archive in order.
fn read_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    extractor: &mut Extractor<'_>,
    stream: &mut Stream<'_>,
    gauge: &Gauge,
    last_end: &mut u64,
) -> Result<(), ArchiveError> {
    let entries = archive.entries().map_err(|e| stream.fail(e))?;
    for item in entries {
        let mut entry = item.map_err(|e| stream.fail(e))?;
        stream.entry = Some(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        *last_end = entry
            .raw_file_position()
            .saturating_add(entry.size().div_ceil(BLOCK).saturating_mul(BLOCK));
        gauge.set_limit(last_end.saturating_add(MAX_HEADER_BYTES));
        extractor.entry(&mut entry).map_err(|f| match f {
            Failure::Read(e) => stream.fail(e),
            Failure::Archive(a) => a,
        })?;
    }
    Ok(())
}

/// A malformed or refused entry may only be the first symptom of a damaged file: CBC turns a
/// flipped ciphertext byte into a garbage block that tar sees before gzip's CRC-32 or the padding
/// check at the very end can. So before calling an archive unsafe (exit 4), read the rest of the
/// stream (at most `cap` more bytes): if the decrypter or decompressor then fails, the file is
/// damaged or the key wrong (exit 3), which is what the operator needs to hear.
fn damage_or_refusal<R: Read>(
    e: ArchiveError,
    archive: tar::Archive<R>,
    fault: &StreamFault,
    gauge: &Gauge,
    cap: u64,
) -> ArchiveError {
    if fault.failed() || e.exit() != crate::exit::Exit::Archive {
        return e;
    }
    gauge.set_limit(gauge.pos().saturating_add(cap));
    let _ = io::copy(&mut archive.into_inner().take(cap), &mut io::sink());
    if fault.failed() {
        return ArchiveError::Stream {
            what: "reading or decompressing it failed".to_owned(),
            source: fault.take(),
        };
    }
    e
}

/// Turns a read failure into the right error: a broken stream (exit 3) or a bad archive (exit 4).
struct Stream<'a> {
    fault: &'a StreamFault,
    gauge: Option<Rc<Gauge>>,
    entry: Option<String>,
    trailing: bool,
}

impl<'a> Stream<'a> {
    fn new(fault: &'a Arc<StreamFault>) -> Self {
        Stream {
            fault,
            gauge: None,
            entry: None,
            trailing: false,
        }
    }

    fn fail(&self, e: io::Error) -> ArchiveError {
        if self.fault.failed() {
            return ArchiveError::Stream {
                what: "reading or decompressing it failed".to_owned(),
                source: self.fault.take().or(Some(e)),
            };
        }
        let entry = self.entry.clone().unwrap_or_else(|| "(start)".to_owned());
        if self.gauge.as_ref().is_some_and(|g| g.over()) {
            let reason = if self.trailing {
                format!("more than {MAX_TRAILING_BYTES} bytes follow the end-of-archive marker")
            } else {
                format!("more than {MAX_HEADER_BYTES} bytes of headers before the next entry")
            };
            return ArchiveError::malformed(&entry, reason);
        }
        if self.entry.is_some() && self.gauge.as_ref().is_some_and(|g| g.at_eof()) {
            // The stream ended cleanly in the middle of a header: a plain tar cut short.
            return ArchiveError::Stream {
                what: "it ends inside an entry header".to_owned(),
                source: Some(e),
            };
        }
        match &self.entry {
            // The very first header is unreadable: this was never a tar stream.
            None => ArchiveError::Stream {
                what: "it is not a gzip, zstd or tar stream".to_owned(),
                source: Some(e),
            },
            Some(_) => ArchiveError::Malformed {
                entry,
                reason: "an unreadable entry header".to_owned(),
                source: Some(e),
            },
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
