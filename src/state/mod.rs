//! The state folder (`/var/lib/startup-bundle` by default): the one owner of its layout. Nothing
//! else joins paths under it.
//!
//! ```text
//! STATE/
//!   lock                     one run at a time (flock)          lock.rs
//!   status.json              the last run, whatever stage it reached   status.rs
//!   current -> releases/<sha256>   the last release applied successfully   releases.rs
//!   releases/<sha256>/       unpacked releases, kept for re-use, rerun and rollback
//!   releases/<sha256>.json   what was verified and unpacked here: the proof a folder may be re-used,
//!                            and how its URL answered (validators for watch's conditional GET)
//!   downloads/               partial downloads of the run holding the lock
//!   init/<module>@<digest>   inits that succeeded                init.rs
//!   seq/<name>               the rollback floor per signed name  floor.rs
//!   logs/<run-id>/           every script's output, and the hooks'   logs.rs
//!   modules/<module>/        each module's own state: BUNDLE_MODULE_STATE_DIR
//! ```
//!
//! The folder holds decrypted module code and decides what root runs at the next boot, so
//! [`StateDir::open`] refuses it — and every folder inside it — unless it is a real folder (not a
//! symbolic link), owned by the effective user, and closed to group and others. Writes go through
//! [`crate::fsutil`]: atomic, synced, never through a link.

mod error;
mod floor;
mod init;
mod lock;
mod logs;
mod releases;
mod status;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use error::StateError;
pub use floor::Floor;
pub use init::InitRecords;
pub use lock::StateLock;
pub use logs::{DEFAULT_KEEP_RUNS, Logs};
pub use releases::{FetchedAs, KEEP_RELEASES, ReleaseRecord, Releases};
pub use status::{
    BundleInfo, MAX_STATUS_SIZE, Phase, RunKind, RunRecord, RunResult, STATUS_FORMAT, SignedInfo,
    Stage, Status, Step, StepState, this_boot,
};

use crate::fsutil;

/// Where state lives when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/startup-bundle";

/// The lock file.
const LOCK_FILE: &str = "lock";
/// The last run's status.
const STATUS_FILE: &str = "status.json";
/// The link to the release of the last successful run.
const CURRENT_LINK: &str = "current";
/// Unpacked releases and their records.
const RELEASES_DIR: &str = "releases";
/// Partial downloads.
const DOWNLOADS_DIR: &str = "downloads";
/// Init records.
const INIT_DIR: &str = "init";
/// Rollback floors.
const SEQ_DIR: &str = "seq";
/// Run logs.
const LOGS_DIR: &str = "logs";
/// Modules' own state.
const MODULES_DIR: &str = "modules";

/// Every folder the tool keeps directly under the state folder: each is checked when the state
/// folder is opened, and no module may be named like one of them (a module's state lives under
/// `modules/`, but a personality that reuses these names confuses people reading the folder).
pub const RESERVED_NAMES: &[&str] = &[
    LOCK_FILE,
    STATUS_FILE,
    CURRENT_LINK,
    RELEASES_DIR,
    DOWNLOADS_DIR,
    INIT_DIR,
    SEQ_DIR,
    LOGS_DIR,
    MODULES_DIR,
];

/// The folders among [`RESERVED_NAMES`].
const SUBFOLDERS: &[&str] = &[
    RELEASES_DIR,
    DOWNLOADS_DIR,
    INIT_DIR,
    SEQ_DIR,
    LOGS_DIR,
    MODULES_DIR,
];

/// A state folder that passed its checks.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens the state folder for a run: creates it private when missing, and refuses it (or any of
    /// its folders) when it is a link, someone else's, or open to others.
    pub fn open(path: &Path) -> Result<StateDir, StateError> {
        let root = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        fsutil::create_private_dir(&root).map_err(|e| StateError::dir(&root, e))?;
        let state = StateDir { root };
        for name in SUBFOLDERS {
            let dir = state.root.join(name);
            match fs::symlink_metadata(&dir) {
                Ok(meta) => fsutil::check_private_meta(&meta)
                    .map_err(|problem| StateError::Unsafe { path: dir, problem })?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::io("read", dir)(e)),
            }
        }
        Ok(state)
    }

    /// Opens an existing state folder only to read it (`status`): nothing is created or checked
    /// beyond it being a real folder, and nothing is written.
    pub fn open_read_only(path: &Path) -> Result<StateDir, StateError> {
        let root = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        match fs::symlink_metadata(&root) {
            Ok(meta) if meta.is_dir() => Ok(StateDir { root }),
            Ok(meta) if meta.file_type().is_symlink() => Err(StateError::Unsafe {
                path: root,
                problem: fsutil::Unsafe::Symlink,
            }),
            Ok(_) => Err(StateError::Unsafe {
                path: root,
                problem: fsutil::Unsafe::NotADir,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StateError::NoStatus { state_dir: root })
            }
            Err(e) => Err(StateError::io("read", root)(e)),
        }
    }

    /// The folder itself (absolute): `BUNDLE_STATE_DIR`.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Takes the lock, waiting up to `wait` for another run; says once through `log` when it waits.
    pub fn lock(
        &self,
        wait: std::time::Duration,
        log: &mut dyn FnMut(&str),
    ) -> Result<StateLock, StateError> {
        let held = lock::lock(&self.root.join(LOCK_FILE), wait, log)?;
        self.sweep();
        Ok(held)
    }

    /// Removes the temp files a killed run left half-written (`.NAME.partial-…`): under the lock,
    /// nobody else is writing them.
    fn sweep(&self) {
        for dir in [
            self.root.clone(),
            self.root.join(SEQ_DIR),
            self.root.join(INIT_DIR),
            self.root.join(RELEASES_DIR),
        ] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.contains(fsutil::PARTIAL_MARK) {
                    let _ = match entry.file_type() {
                        Ok(t) if t.is_dir() => fs::remove_dir_all(entry.path()),
                        _ => fs::remove_file(entry.path()),
                    };
                }
            }
        }
    }

    /// Whether a run holds the lock now (`status`: a "running" status with a free lock is a run
    /// that died).
    pub fn is_locked(&self) -> bool {
        lock::is_held(&self.root.join(LOCK_FILE))
    }

    /// The downloads folder, emptied of what a killed run left there. Needs the lock: no other run
    /// can be writing in it.
    pub fn downloads(&self, _held: &StateLock) -> Result<PathBuf, StateError> {
        let dir = self.private(DOWNLOADS_DIR)?;
        let entries = fs::read_dir(&dir).map_err(StateError::io("read", &dir))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
            removed.map_err(StateError::io("remove", &path))?;
        }
        Ok(dir)
    }

    /// Unpacked releases, their records, and `current`.
    pub fn releases(&self) -> Result<Releases, StateError> {
        Ok(Releases::new(
            self.private(RELEASES_DIR)?,
            self.root.join(CURRENT_LINK),
        ))
    }

    /// The releases folder to read (no folder created): for `status`, `watch` and dry runs.
    pub fn releases_read_only(&self) -> Releases {
        Releases::new(self.root.join(RELEASES_DIR), self.root.join(CURRENT_LINK))
    }

    /// Init records.
    pub fn init_records(&self) -> InitRecords {
        InitRecords::new(self.root.join(INIT_DIR))
    }

    /// The rollback floor per signed name.
    pub fn floor(&self) -> Floor {
        Floor::new(self.root.join(SEQ_DIR))
    }

    /// Run logs.
    pub fn logs(&self) -> Logs {
        Logs::new(self.root.join(LOGS_DIR))
    }

    /// The status file's path (for messages).
    pub fn status_path(&self) -> PathBuf {
        self.root.join(STATUS_FILE)
    }

    /// The last run's status.
    pub fn read_status(&self) -> Result<Status, StateError> {
        status::read(&self.root, &self.status_path())
    }

    /// Starts this run's record: a run id, its private log folder, and `status.json` saying it is
    /// running. Needs the lock: only the run that holds it writes the status.
    pub fn begin_run(
        &self,
        _held: &StateLock,
        kind: RunKind,
        source: String,
    ) -> Result<RunRecord, StateError> {
        let (run_id, log_dir) = self.logs().new_run(std::time::SystemTime::now())?;
        RunRecord::begin(
            self.status_path(),
            Status::begin(run_id, kind, source, log_dir),
        )
    }

    /// A module's own state folder, `modules/<module>/`, created private: `BUNDLE_MODULE_STATE_DIR`.
    /// `module` is a checked module name (no `/`, not `.` or `..`).
    pub fn module_dir(&self, module: &str) -> Result<PathBuf, StateError> {
        let modules = self.private(MODULES_DIR)?;
        let dir = modules.join(module);
        fsutil::create_private_dir(&dir).map_err(|e| StateError::dir(&dir, e))?;
        Ok(dir)
    }

    /// `STATE/<name>`, created private or checked.
    fn private(&self, name: &str) -> Result<PathBuf, StateError> {
        let dir = self.root.join(name);
        fsutil::create_private_dir(&dir).map_err(|e| StateError::dir(&dir, e))?;
        Ok(dir)
    }
}

/// The default state folder.
pub fn default_state_dir() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn refuses_a_subfolder_that_is_a_link_or_open() {
        let tmp = crate::scratch::ScratchDir::create("sb-state-").unwrap();
        let root = tmp.path().join("state");
        StateDir::open(&root).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("releases")).unwrap();
        let err = StateDir::open(&root).unwrap_err();
        assert!(err.to_string().contains("releases"), "{err}");
        fs::remove_file(root.join("releases")).unwrap();
        fs::create_dir(root.join("logs")).unwrap();
        fs::set_permissions(root.join("logs"), fs::Permissions::from_mode(0o755)).unwrap();
        let err = StateDir::open(&root).unwrap_err();
        assert!(err.to_string().contains("logs"), "{err}");
    }
}
