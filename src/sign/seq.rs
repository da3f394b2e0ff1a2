//! The rollback floor: the highest signed sequence number applied on this machine, per bundle name,
//! kept as `STATE/seq/<name>` (one decimal number).
//!
//! Written atomically (temp file + rename) and only ever raised, so a crash leaves the old floor or
//! the new one, never a torn number. Knows no signatures and no policy: `bootstrap.rs` decides.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Folder under the state folder.
pub const SEQ_DIR: &str = "seq";
/// The state folder is private; so are these files.
const PRIVATE_FILE_MODE: u32 = 0o600;
/// And the folder.
const PRIVATE_DIR_MODE: u32 = 0o700;

/// The per-name floors inside one state folder.
#[derive(Debug, Clone)]
pub struct SeqStore {
    dir: PathBuf,
}

impl SeqStore {
    /// The store inside `state_dir`.
    pub fn new(state_dir: &Path) -> SeqStore {
        SeqStore {
            dir: state_dir.join(SEQ_DIR),
        }
    }

    /// The file that holds `name`'s floor.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(file_name(name))
    }

    /// The highest sequence number applied for `name`, if any. A file that does not hold one number
    /// is an error (`InvalidData`), never a silent zero.
    pub fn highest(&self, name: &str) -> io::Result<Option<u64>> {
        let text = match fs::read_to_string(self.path(name)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let trimmed = text.trim_end_matches('\n');
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "does not hold one sequence number",
            ));
        }
        trimmed
            .parse()
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "sequence number too large"))
    }

    /// Raises `name`'s floor to `seq` (never lowers it).
    pub fn record(&self, name: &str, seq: u64) -> io::Result<()> {
        if self.highest(name)?.is_some_and(|h| h >= seq) {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR_MODE)
            .create(&self.dir)?;
        let target = self.path(name);
        let staged = self
            .dir
            .join(format!(".{}.{}", file_name(name), std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(PRIVATE_FILE_MODE)
            .open(&staged)
            .and_then(|mut f| {
                writeln!(f, "{seq}")?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&staged, &target));
        if written.is_err() {
            let _ = fs::remove_file(&staged);
        }
        written
    }
}

/// A bundle name as one safe file name: bytes outside `[A-Za-z0-9._-]`, and a leading dot, are
/// percent-encoded, so `../x` or `a/b` cannot leave the folder or collide with a temp file.
fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        assert_eq!(file_name("shop"), "shop");
        assert_eq!(file_name("../etc/x"), "%2E.%2Fetc%2Fx");
        assert_eq!(file_name(".hidden"), "%2Ehidden");
    }

    #[test]
    fn only_raises_and_refuses_garbage() {
        let tmp = std::env::temp_dir().join(format!("sb-seq-{}", std::process::id()));
        let store = SeqStore::new(&tmp);
        assert_eq!(store.highest("shop").unwrap(), None);
        store.record("shop", 7).unwrap();
        store.record("shop", 3).unwrap();
        assert_eq!(store.highest("shop").unwrap(), Some(7));
        store.record("shop", 9).unwrap();
        assert_eq!(store.highest("shop").unwrap(), Some(9));
        fs::write(store.path("shop"), "nine\n").unwrap();
        assert_eq!(
            store.highest("shop").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        fs::remove_dir_all(tmp).unwrap();
    }
}
