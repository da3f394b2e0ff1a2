//! One run at a time per state folder: an exclusive lock on `STATE/lock` (DESIGN.md,
//! "bundle-bootstrap").
//!
//! The lock is flock(2) through std's `File::lock`: the kernel drops it when the holder exits, even
//! on SIGKILL, so a crashed run never leaves a stale lock behind. The pid written in the file is only
//! for the message a waiting run prints. The file is opened without following a link.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::duration::human;
use crate::fsutil::PRIVATE_FILE_MODE;

use super::error::StateError;

/// How often a waiting run tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// The held lock on a state folder; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    // Holding the open file is holding the lock: closing it releases the flock.
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Takes the lock at `path`, waiting up to `wait` for another run to let go. Says once, through
/// `log`, when it has to wait.
pub(super) fn lock(
    path: &Path,
    wait: Duration,
    log: &mut dyn FnMut(&str),
) -> Result<StateLock, StateError> {
    let mut file = open(path).map_err(StateError::io("open", path))?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(StateError::io("lock", path)(e)),
        }
        let pid = holder(&mut file);
        if started.elapsed() >= wait {
            return Err(StateError::Locked {
                path: path.to_path_buf(),
                pid,
                waited: started.elapsed(),
            });
        }
        if !said {
            let who = pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"));
            log(&format!(
                "another run holds {} ({who}); waiting up to {}",
                path.display(),
                human(wait)
            ));
            said = true;
        }
        std::thread::sleep(RETRY_EVERY.min(wait.saturating_sub(started.elapsed())));
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    written.map_err(StateError::io("write", path))?;
    Ok(StateLock {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// Whether some process holds the lock at `path` now. A lock file we cannot open (not ours to
/// read) counts as held: `status` then trusts the pid check instead.
pub(super) fn is_held(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    else {
        return path.exists();
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => true,
    }
}

/// The pid the holder wrote in the lock file, if it has written one yet.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    Read::by_ref(file).take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
