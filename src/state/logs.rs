//! Run logs: `STATE/logs/<run-id>/<module>.<phase>.log`, and the hooks' `hook.log` beside them.
//! A run id is `YYYYMMDDTHHMMSSZ-<pid>` (so they sort by time); old run folders are pruned.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::fsutil;

use super::error::StateError;

/// Run log folders kept by default (the current run's among them).
pub const DEFAULT_KEEP_RUNS: usize = 20;

/// The run logs of one state folder.
#[derive(Debug, Clone)]
pub struct Logs {
    dir: PathBuf,
}

impl Logs {
    pub(super) fn new(dir: PathBuf) -> Logs {
        Logs { dir }
    }

    /// Picks a new run's id and creates its private log folder. A second run in the same second of
    /// the same process gets `-2`, `-3`…: `create_dir` claims the name atomically.
    pub fn new_run(&self, now: SystemTime) -> Result<(String, PathBuf), StateError> {
        fsutil::create_private_dir(&self.dir).map_err(|e| StateError::dir(&self.dir, e))?;
        let base = format!("{}-{}", crate::date::compact(now), std::process::id());
        let mut n = 1u32;
        loop {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = self.dir.join(&id);
            match fs::DirBuilder::new()
                .mode(fsutil::PRIVATE_DIR_MODE)
                .create(&dir)
            {
                Ok(()) => return Ok((id, dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(StateError::io("create", dir)(e)),
            }
        }
    }

    /// Removes all but the `keep` newest run folders; `current` (this run's) is always kept.
    /// Returns the folders removed.
    pub fn prune(&self, keep: usize, current: &Path) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut runs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| p != current)
            .collect();
        // Run ids start with the UTC time: name order is age order.
        runs.sort();
        let surplus = (runs.len() + 1).saturating_sub(keep.max(1));
        runs.into_iter()
            .take(surplus)
            .filter(|old| fs::remove_dir_all(old).is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_the_oldest_and_keeps_the_current() {
        let tmp = crate::scratch::ScratchDir::create("sb-logs-").unwrap();
        let logs = Logs::new(tmp.path().join("logs"));
        let mut made = Vec::new();
        for i in 0..5u64 {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i);
            made.push(logs.new_run(at).unwrap().1);
        }
        let removed = logs.prune(3, &made[0]);
        assert_eq!(removed, vec![made[1].clone(), made[2].clone()]);
        assert!(made[0].is_dir() && made[3].is_dir() && made[4].is_dir());
    }
}
