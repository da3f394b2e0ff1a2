//! What can go wrong with the state folder, with the fix an operator can apply.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::duration::human;
use crate::exit::{Classify, Exit};
use crate::fsutil::{DirError, Unsafe};

/// Why the state folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The folder, or one inside it, is not safe to trust.
    #[error("refusing the state folder {}: {problem}", path.display())]
    Unsafe {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        problem: Unsafe,
    },
    /// Reading or writing failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another run holds the lock and did not let go in time.
    #[error(
        "another run holds {} ({}) and did not finish within {}",
        path.display(),
        pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}")),
        human(*waited)
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The pid written in it by the holder, when readable.
        pid: Option<u32>,
        /// How long we waited.
        waited: Duration,
    },
    /// `status` was asked for before any run wrote one.
    #[error("no run recorded in {} yet", state_dir.display())]
    NoStatus {
        /// The folder looked in.
        state_dir: PathBuf,
    },
    /// The status file is damaged, too large, or from a newer version.
    #[error("{} {reason}", path.display())]
    BadStatus {
        /// The status file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl StateError {
    /// An `Io` error maker for `?` chains.
    pub fn io(action: &'static str, path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        move |source| StateError::Io {
            action,
            path,
            source,
        }
    }

    /// From a private-folder error on `path`.
    pub fn dir(path: &Path, e: DirError) -> Self {
        match e {
            DirError::Unsafe(problem) => StateError::Unsafe {
                path: path.to_path_buf(),
                problem,
            },
            DirError::Io(source) => StateError::Io {
                action: "create",
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// Whether another run holds the lock (not this run's failure to report).
    pub fn is_locked(&self) -> bool {
        matches!(self, StateError::Locked { .. })
    }
}

impl Classify for StateError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            StateError::Unsafe { path, problem } => Some(problem.fix(path)),
            StateError::Io { source, path, .. } => Some(match source.kind() {
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => format!(
                    "run as root, or pass --state-dir with a folder you own ({} is not writable)",
                    path.display()
                ),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => format!(
                    "free space on the disk that holds {} (df -h), then run again",
                    path.display()
                ),
                _ => format!("check {} and its folder", path.display()),
            }),
            StateError::Locked { .. } => Some(
                "wait for the other run (bundle-bootstrap status --wait), or raise --lock-wait"
                    .to_string(),
            ),
            StateError::NoStatus { .. } => {
                Some("run bundle-bootstrap run first, or pass the --state-dir it used".to_string())
            }
            StateError::BadStatus { .. } => Some(
                "the next run writes a fresh one; move the damaged file away to keep it"
                    .to_string(),
            ),
        }
    }
}
