//! Why `bundle-bootstrap install` installed nothing (and left nothing behind): exit 1, with what
//! to do.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::MIN_WATCH_INTERVAL;
use crate::exit::{Classify, Exit};

/// Why nothing was installed.
#[derive(Debug, thiserror::Error)]
pub enum UnitsError {
    /// systemd does not run this machine.
    #[error("systemd is not running this machine ({} is missing): no units installed", dir.display())]
    NoSystemd {
        /// The folder looked for.
        dir: PathBuf,
    },
    /// No saved configuration for the units to apply.
    #[error("no saved configuration at {}: the units would have nothing to apply", path.display())]
    NoConfig {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The configuration cannot be read, or names no URL.
    #[error("the saved configuration {}: {why}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A path cannot go into a unit file, or is not the program.
    #[error("{} {why}", path.display())]
    BadPath {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The watch interval is too short.
    #[error("--watch {0:?} is shorter than {MIN_WATCH_INTERVAL:?}")]
    Interval(Duration),
    /// A unit file of that name exists and was not written by this program.
    #[error("{} exists and was not written by bundle-bootstrap install; it is left alone", path.display())]
    NotOurs {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a unit file failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// systemctl failed (or could not be started).
    #[error("`{command}` failed: {why}")]
    Systemctl {
        /// The command line.
        command: String,
        /// Its exit status and last lines of output.
        why: String,
    },
}

impl Classify for UnitsError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            UnitsError::NoSystemd { .. } => "in a container or under another init, run `bundle-bootstrap run` from \
                 its own start-up instead (bundle userdata --no-units leaves the units out)"
                .into(),
            UnitsError::NoConfig { .. } | UnitsError::BadConfig { .. } => {
                "apply the bundle once with `bundle-bootstrap run URL …` (it saves the configuration), or name it with --config FILE".into()
            }
            UnitsError::BadPath { .. } => "give absolute paths without control characters (--bin, --config)".into(),
            UnitsError::Interval(_) => "poll every 30s or more; 5m is cfn-hup's habit".into(),
            UnitsError::NotOurs { .. } => "remove or rename that unit (or use --unit-dir), then install again".into(),
            UnitsError::Io { .. } => "check that the unit folder exists and is writable (root)".into(),
            UnitsError::Systemctl { .. } => "see `journalctl -u startup-bundle` and `systemctl status`".into(),
        })
    }
}
