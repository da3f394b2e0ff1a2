//! One run at a time per state dir: an exclusive lock on `STATE/lock` (DESIGN.md, "bundle-bootstrap").
//!
//! The lock is flock(2) through std's `File::lock`: the kernel drops it when the holder exits, even on
//! SIGKILL, so a crashed run never leaves a stale lock behind. The pid written in the file is only for
//! the message a waiting run prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::duration::human;

use super::error::RunError;

/// The lock file's name inside the state dir.
pub const LOCK_FILE: &str = "lock";

/// How often a waiting run tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// The held lock on a state dir; released when dropped.
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

/// Takes the state dir's lock, waiting up to `wait` for another run to let go. Says once, through
/// `log`, when it has to wait. Creates the state dir when missing.
pub fn lock(
    state_dir: &Path,
    wait: Duration,
    log: &mut dyn FnMut(&str),
) -> Result<StateLock, RunError> {
    std::fs::create_dir_all(state_dir).map_err(RunError::io("create", state_dir))?;
    let path = state_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(RunError::io("open", &path))?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(RunError::io("lock", &path)(e)),
        }
        let pid = holder(&mut file);
        if started.elapsed() >= wait {
            return Err(RunError::Locked {
                path,
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
    written.map_err(RunError::io("write", &path))?;
    Ok(StateLock { _file: file, path })
}

/// The pid the holder wrote in the lock file, if it has written one yet.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
