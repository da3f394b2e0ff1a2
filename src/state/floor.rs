//! The rollback floor: the highest signed sequence number applied on this machine, per bundle name,
//! kept as `STATE/seq/<name>` (one decimal number).
//!
//! Written through the one atomic-write helper (synced file and folder) and only ever raised, so a
//! power cut leaves the old floor or the new one, never a torn or lost number. Knows no signatures
//! and no policy: `sign::policy` judges, `boot` decides when to raise it.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use crate::fsutil::{self, PRIVATE_FILE_MODE};

/// A floor file holds one number; anything larger is not one.
const MAX_FLOOR_FILE: u64 = 64;

/// The per-name floors inside one state folder.
#[derive(Debug, Clone)]
pub struct Floor {
    dir: PathBuf,
}

impl Floor {
    pub(super) fn new(dir: PathBuf) -> Floor {
        Floor { dir }
    }

    /// The file that holds `name`'s floor.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(file_name(name))
    }

    /// The highest sequence number applied for `name`, if any. A file that does not hold one number
    /// is an error (`InvalidData`), never a silent zero.
    pub fn highest(&self, name: &str) -> io::Result<Option<u64>> {
        let mut text = String::new();
        match File::open(self.path(name))
            .and_then(|f| f.take(MAX_FLOOR_FILE).read_to_string(&mut text))
        {
            Ok(_) => {}
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
        fsutil::create_private_dir(&self.dir).map_err(|e| match e {
            fsutil::DirError::Io(e) => e,
            fsutil::DirError::Unsafe(u) => io::Error::new(io::ErrorKind::PermissionDenied, u),
        })?;
        fsutil::atomic_write(
            &self.path(name),
            format!("{seq}\n").as_bytes(),
            PRIVATE_FILE_MODE,
        )
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
        let tmp = crate::scratch::ScratchDir::create("sb-seq-").unwrap();
        let store = Floor::new(tmp.path().join("seq"));
        assert_eq!(store.highest("shop").unwrap(), None);
        store.record("shop", 7).unwrap();
        store.record("shop", 3).unwrap();
        assert_eq!(store.highest("shop").unwrap(), Some(7));
        store.record("shop", 9).unwrap();
        assert_eq!(store.highest("shop").unwrap(), Some(9));
        std::fs::write(store.path("shop"), "nine\n").unwrap();
        assert_eq!(
            store.highest("shop").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
