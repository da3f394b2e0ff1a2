//! The deterministic tar writer: the same entries give the same bytes, always (DESIGN.md,
//! "Deterministic"). Entries sorted by path bytes; mtime from `SOURCE_DATE_EPOCH` or 0 (never the
//! tar crate's own `HeaderMode::Deterministic` constant); uid/gid 0 and no user or group names;
//! permissions kept but setuid/setgid/sticky dropped. GNU headers, with GNU long-name records for
//! paths over 100 bytes, which GNU tar reads. Reads the files it is given; writes only to `out`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::Compression;
use super::entry::{self, PERMISSION_BITS, PackEntry, SYMLINK_MODE, Source};
use super::error::ArchiveError;
use super::pipeline::{self, Chunker};

/// The reproducible-builds variable giving the timestamp to write (seconds since 1970).
const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// How often, in content bytes, the progress callback hears from a long file.
const PROGRESS_STEP: u64 = 1 << 20;

/// How to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Compression of the tar stream.
    pub compression: Compression,
    /// The mtime written for every entry (see [`PackOptions::mtime_from_env`]).
    pub mtime: u64,
    /// gzip compression threads; the output is the same for any value.
    pub threads: usize,
}

impl PackOptions {
    /// The mtime to write: `SOURCE_DATE_EPOCH` when set (an error if it is not a whole number of
    /// seconds; an empty value counts as unset), else 0.
    pub fn mtime_from_env() -> Result<u64, ArchiveError> {
        match std::env::var_os(SOURCE_DATE_EPOCH) {
            None => Ok(0),
            Some(value) => parse_epoch(&value.to_string_lossy()),
        }
    }
}

fn parse_epoch(value: &str) -> Result<u64, ArchiveError> {
    if value.is_empty() {
        return Ok(0);
    }
    let bad = || ArchiveError::SourceDateEpoch {
        value: value.to_owned(),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map_err(|_| bad())
}

impl Default for PackOptions {
    /// gzip, mtime 0, one thread per available core.
    fn default() -> Self {
        PackOptions {
            compression: Compression::Gzip,
            mtime: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Writes `entries` as a compressed tar stream to `out` and returns `out` once everything is
/// written (the caller then finishes its own writer, e.g. the encryptor). `progress` hears the
/// file-content bytes read so far (the total is [`content_bytes`](super::content_bytes)).
///
/// Entries are checked first, so nothing is written for a tree the extractor would refuse:
/// canonical paths, no duplicates, nothing below a file or symlink, symlinks staying inside.
pub fn pack<W: Write + Send + 'static>(
    mut entries: Vec<PackEntry>,
    opts: &PackOptions,
    out: W,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<W, ArchiveError> {
    entry::sort_and_check(&mut entries)?;
    pipeline::run(opts.compression, opts.threads, out, |chunker| {
        write_tar(&entries, opts.mtime, chunker, progress)
    })
}

fn write_tar(
    entries: &[PackEntry],
    mtime: u64,
    chunker: &mut Chunker,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), ArchiveError> {
    let mut builder = tar::Builder::new(chunker);
    let mut done = 0u64;
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode & PERMISSION_BITS);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(0);
        let mut file_problem = None;
        let written = match &entry.source {
            Source::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                // GNU tar writes folder names with a trailing slash; so do we.
                builder.append_data(&mut header, format!("{}/", entry.path), io::empty())
            }
            Source::Bytes(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                done += data.len() as u64;
                builder.append_data(&mut header, &entry.path, &data[..])
            }
            Source::File(local) => {
                let mut reader = ExactFile::open(local, &mut done, progress)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(reader.left);
                let result = builder.append_data(&mut header, &entry.path, &mut reader);
                file_problem = reader.problem.take();
                result
            }
            Source::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(SYMLINK_MODE);
                builder.append_link(&mut header, &entry.path, target)
            }
        };
        if let Err(e) = written {
            return Err(file_problem.unwrap_or_else(|| write_error(&builder, &entry.path, e)));
        }
        progress(done);
    }
    builder.finish().map_err(|e| write_error(&builder, "", e))
}

/// A tar-side failure: the downstream stage stopping (reported by the pipeline), or tar refusing
/// a name.
fn write_error(builder: &tar::Builder<&mut Chunker>, path: &str, e: io::Error) -> ArchiveError {
    if builder.get_ref().closed() || path.is_empty() {
        ArchiveError::Output { source: e }
    } else {
        ArchiveError::BadEntry {
            entry: path.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// Reads exactly the size the header announced, and notices a file that shrank or grew meanwhile
/// (either would corrupt the tar stream or silently cut the file).
struct ExactFile<'a> {
    file: File,
    path: &'a Path,
    left: u64,
    done: &'a mut u64,
    progress: &'a (dyn Fn(u64) + Sync),
    problem: Option<ArchiveError>,
}

impl<'a> ExactFile<'a> {
    fn open(
        path: &'a Path,
        done: &'a mut u64,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Result<Self, ArchiveError> {
        let file = File::open(path).map_err(|e| ArchiveError::io(path, e))?;
        let meta = file.metadata().map_err(|e| ArchiveError::io(path, e))?;
        if !meta.is_file() {
            return Err(ArchiveError::BadEntry {
                entry: path.display().to_string(),
                reason: "not a regular file".to_owned(),
            });
        }
        Ok(ExactFile {
            file,
            path,
            left: meta.len(),
            done,
            progress,
            problem: None,
        })
    }

    fn fail(&mut self, problem: ArchiveError) -> io::Error {
        let e = io::Error::other(problem.to_string());
        self.problem = Some(problem);
        e
    }
}

impl Read for ExactFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let target = if self.left == 0 {
            // One byte more than announced means the file grew while we read it.
            &mut buf[..1]
        } else {
            &mut buf[..want]
        };
        let n = match self.file.read(target) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(self.fail(ArchiveError::io(self.path, e))),
        };
        if self.left == 0 {
            if n > 0 {
                return Err(self.fail(ArchiveError::Changed {
                    path: self.path.to_path_buf(),
                }));
            }
            return Ok(0);
        }
        if n == 0 {
            return Err(self.fail(ArchiveError::Changed {
                path: self.path.to_path_buf(),
            }));
        }
        self.left -= n as u64;
        let before = *self.done;
        *self.done += n as u64;
        if before / PROGRESS_STEP != *self.done / PROGRESS_STEP {
            (self.progress)(*self.done);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_must_be_whole_seconds() {
        assert_eq!(parse_epoch("1700000000").ok(), Some(1_700_000_000));
        assert_eq!(parse_epoch("").ok(), Some(0));
        for bad in ["-1", "1.5", "soon", " 12"] {
            assert!(parse_epoch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn packing_bytes_gives_a_plain_tar_with_fixed_fields() {
        let entries = vec![PackEntry {
            path: "x/m".into(),
            mode: 0o4755,
            source: Source::Bytes(b"hi".to_vec()),
        }];
        let opts = PackOptions {
            compression: Compression::None,
            mtime: 42,
            threads: 1,
        };
        let tar = pack(entries, &opts, Vec::new(), &|_| {}).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entries = archive.entries().unwrap();
        let e = entries.next().unwrap().unwrap();
        let h = e.header();
        assert_eq!(h.mode().unwrap(), 0o755);
        assert_eq!(h.mtime().unwrap(), 42);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username_bytes(), Some(&b""[..]));
    }
}
