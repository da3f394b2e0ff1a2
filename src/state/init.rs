//! Init records: `STATE/init/<module>@<digest>`, one per module and content digest whose `init`
//! succeeded on this machine (DESIGN.md, "Modules and run order"). Written only after the script
//! succeeded, atomically, so a failed or interrupted init runs again next time.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::fsutil::{self, PRIVATE_FILE_MODE};

use super::error::StateError;

/// An init record is a few lines; anything larger is not one.
const MAX_RECORD: u64 = 4096;

/// The init records of one state folder.
#[derive(Debug, Clone)]
pub struct InitRecords {
    dir: PathBuf,
}

impl InitRecords {
    pub(super) fn new(dir: PathBuf) -> InitRecords {
        InitRecords { dir }
    }

    /// The file that records `module`'s init at `digest`: `init/<module>@<digest>`, with any byte
    /// that is not safe in a file name replaced by `_` (the file's content holds the exact pair).
    pub fn path(&self, module: &str, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{}@{}", file_safe(module), file_safe(digest)))
    }

    /// Whether `module`'s init has already succeeded at `digest` here.
    pub fn done(&self, module: &str, digest: &str) -> bool {
        let mut text = String::new();
        File::open(self.path(module, digest))
            .and_then(|f| f.take(MAX_RECORD).read_to_string(&mut text))
            .is_ok_and(|_| text.starts_with(&record_text(module, digest)))
    }

    /// Records that `module`'s init succeeded at `digest` in run `run_id`.
    pub fn record(&self, module: &str, digest: &str, run_id: &str) -> Result<(), StateError> {
        crate::fsutil::create_private_dir(&self.dir).map_err(|e| StateError::dir(&self.dir, e))?;
        let text = format!(
            "{}run={run_id}\nfinished={}\n",
            record_text(module, digest),
            crate::date::rfc3339(SystemTime::now())
        );
        let path = self.path(module, digest);
        fsutil::atomic_write(&path, text.as_bytes(), PRIVATE_FILE_MODE)
            .map_err(StateError::io("write", &path))
    }
}

/// The content of an init record: exactly which module and digest it stands for.
fn record_text(module: &str, digest: &str) -> String {
    format!("module={module}\ndigest={digest}\n")
}

/// `text` usable as (part of) one file name: every character other than ASCII letters, digits and
/// `-_.+` becomes `_`, so no name can climb out of its folder.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_safe_and_exact() {
        let records = InitRecords::new(PathBuf::from("/s/init"));
        assert_eq!(
            records.path("../x", "sha256:ab"),
            PathBuf::from("/s/init/.._x@sha256_ab")
        );
    }
}
