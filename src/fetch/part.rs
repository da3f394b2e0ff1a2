//! The partial download: a private (0600) temporary file inside the destination folder, hashed
//! and size-capped as bytes are appended, removed unless the fetch succeeds.
//!
//! Knows nothing of URLs or HTTP; callers turn its errors into [`super::FetchError`]s.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::progress::Meter;

/// Owner read/write only: the download may be a secret-bearing bundle.
const PRIVATE_MODE: u32 = crate::fsutil::PRIVATE_FILE_MODE;
/// Tries before giving up on finding a free temporary name.
const NAME_TRIES: usize = 8;

/// Why an append failed.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The cap would be exceeded; carries the size the file would have had.
    TooLarge(u64),
    /// The disk said no.
    Io(io::Error),
}

/// A temporary file being filled; deleted on drop unless [`Part::finish`] was called.
pub(crate) struct Part {
    path: PathBuf,
    file: File,
    hasher: Sha256,
    len: u64,
    max: u64,
    keep: bool,
    meter: Meter,
}

impl Part {
    /// Creates `dir/.fetch-<random>.part` with mode 0600, refusing to reuse an existing file.
    pub(crate) fn create(dir: &Path, max: u64) -> io::Result<Part> {
        let mut last = io::Error::other("no temporary name tried");
        for _ in 0..NAME_TRIES {
            let path = dir.join(format!(".fetch-{}.part", crate::scratch::random_tag()?));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(PRIVATE_MODE)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Part {
                        path,
                        file,
                        hasher: Sha256::new(),
                        len: 0,
                        max,
                        keep: false,
                        meter: Meter::quiet(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// This part with `meter` told of every append (progress lines of a long download).
    pub(crate) fn metered(mut self, meter: Meter) -> Part {
        self.meter = meter;
        self
    }

    /// The size the download will reach, when the server said (for the progress lines).
    pub(crate) fn expect(&self, total: Option<u64>) {
        self.meter.set_total(total);
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `buf`, refusing to grow past the cap.
    pub(crate) fn append(&mut self, buf: &[u8]) -> Result<(), AppendError> {
        let new_len = self.len.saturating_add(buf.len() as u64);
        if new_len > self.max {
            return Err(AppendError::TooLarge(new_len));
        }
        self.file.write_all(buf).map_err(AppendError::Io)?;
        self.hasher.update(buf);
        self.len = new_len;
        self.meter.set(new_len);
        Ok(())
    }

    /// Empties the file and the hash, for a download that has to start again from byte zero.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = Sha256::new();
        self.len = 0;
        Ok(())
    }

    /// Flushes to disk and hands back the path, size and sha256; the file is kept.
    pub(crate) fn finish(mut self) -> io::Result<(PathBuf, u64, [u8; 32])> {
        // The caller renames this file into place; sync first so a crash at boot cannot leave a
        // renamed but empty bundle.
        self.file.sync_all()?;
        self.keep = true;
        let digest = std::mem::take(&mut self.hasher).finalize();
        Ok((self.path.clone(), self.len, digest.into()))
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: nothing useful can be done about a file that will not go away.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_hashed_capped_and_removed_unless_finished() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = Part::create(dir.path(), 5).unwrap();
        let path = part.path().to_path_buf();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, PRIVATE_MODE);
        part.append(b"xyz").unwrap();
        part.reset().unwrap();
        part.append(b"abc").unwrap();
        assert!(matches!(part.append(b"def"), Err(AppendError::TooLarge(6))));
        let (kept, len, digest) = part.finish().unwrap();
        assert_eq!((kept.as_path(), len), (path.as_path(), 3));
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"abc")));
        assert_eq!(fs::read(&kept).unwrap(), b"abc");

        let dropped = Part::create(dir.path(), 5).unwrap();
        let gone = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!gone.exists());
    }
}
