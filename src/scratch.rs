//! Private scratch folders and unguessable names for temp files: the one place that makes them.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Random bytes in a temp name (12 hex digits).
const TAG_BYTES: usize = 6;

/// 12 random hex digits, for temp names nobody can predict.
pub fn random_tag() -> io::Result<String> {
    let mut salt = [0u8; TAG_BYTES];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    Ok(crate::hashing::hex(&salt))
}

/// A private (0700) folder that is removed with everything in it when dropped, unless kept.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    /// Creates `<parent>/<prefix><random>` (the name is reserved: creation fails if it exists).
    pub fn create_in(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        let path = parent.join(format!("{prefix}{}", random_tag()?));
        fs::DirBuilder::new()
            .mode(crate::fsutil::PRIVATE_DIR_MODE)
            .create(&path)?;
        Ok(ScratchDir { path, keep: false })
    }

    /// Creates one under the system's temp folder.
    pub fn create(prefix: &str) -> io::Result<ScratchDir> {
        Self::create_in(&std::env::temp_dir(), prefix)
    }

    /// A name under `parent` for a folder that does not exist yet, removed on drop if it appears.
    pub fn reserve_in(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        Ok(ScratchDir {
            path: parent.join(format!("{prefix}{}", random_tag()?)),
            keep: false,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the folder past the drop and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
