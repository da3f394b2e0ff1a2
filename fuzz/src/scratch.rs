//! Fresh folders under the system temp folder, one per input, removed afterwards even when the code
//! under test left folders without search or write permission behind.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Mode given to every folder before removal, so `remove_dir_all` can enter and empty it.
const REMOVABLE_DIR_MODE: u32 = 0o700;

/// Counts folders made by this process, so names never repeat within it.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A folder made for one input; removed (with everything in it) on drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes `<temp>/startup-bundle-fuzz-<label>-<pid>-<n>-<nanos>`, failing if it exists.
    pub fn new(label: &str) -> io::Result<Scratch> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "startup-bundle-fuzz-{label}-{}-{}-{nanos:09}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        ));
        fs::create_dir(&path)?;
        Ok(Scratch { path })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover folder in /tmp must not hide the finding being reported.
        let _ = make_removable(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Gives every real folder below `dir` (never following symlinks) mode 0700.
fn make_removable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(REMOVABLE_DIR_MODE))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_removable(&entry.path())?;
        }
    }
    Ok(())
}
