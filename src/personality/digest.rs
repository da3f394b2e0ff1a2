//! A module folder's content digest: `sha256:<hex>` of a canonical listing, the same on the
//! publisher's tree and on the tree unpacked at boot (DESIGN.md, "Archive layout").
//!
//! Only what a tar round trip keeps goes in: type, relative path, permission bits (`& 0o777`),
//! file content and link target. No mtimes, owners or the module folder's own mode. Reads files;
//! never writes.

use crate::hashing::hex;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::tree::{self, Kind};

/// The prefix of every digest string.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Domain separation: a different listing format must never produce the same hash.
const LISTING_VERSION: &[u8] = b"startup-bundle module digest v1\0";

/// What [`module_digest`] finds in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The content digest, `sha256:<hex>`.
    pub digest: String,
    /// Number of regular files.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The digest of a module folder, its number of regular files, and their total size in bytes.
///
/// The canonical listing hashed is, for each entry below `dir` in path-byte order:
/// `type NUL path NUL mode NUL payload NUL`, where type is `f`, `d` or `l`, mode is octal
/// permission bits (`0` for links, whose bits mean nothing on Linux and differ on macOS), and
/// payload is the content's hex sha256 (files), empty (folders) or the raw link target (links).
/// NUL cannot occur in a path or a link target, so the listing is unambiguous.
///
/// A fifo, socket or device below `dir` is an [`io::ErrorKind::InvalidData`] error: it cannot be
/// packed and is never opened.
pub fn module_digest(dir: &Path) -> io::Result<Content> {
    let mut listing = Sha256::new();
    listing.update(LISTING_VERSION);
    let (mut files, mut bytes) = (0u64, 0u64);
    for entry in tree::walk(dir)? {
        let mode = match entry.kind {
            Kind::Symlink(_) => 0,
            _ => entry.mode,
        };
        let (tag, payload): (&[u8], Vec<u8>) = match &entry.kind {
            Kind::File(_) => {
                let (hex, len) = file_sha256(&entry.path)?;
                files += 1;
                bytes += len;
                (b"f", hex.into_bytes())
            }
            Kind::Dir => (b"d", Vec::new()),
            Kind::Symlink(target) => (b"l", target.as_os_str().as_bytes().to_vec()),
            Kind::Special(what) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: a {what} cannot be packed; remove it",
                        entry.path.display()
                    ),
                ));
            }
        };
        for field in [
            tag,
            entry.rel.as_os_str().as_bytes(),
            format!("{mode:o}").as_bytes(),
            &payload,
        ] {
            listing.update(field);
            listing.update([0u8]);
        }
    }
    Ok(Content {
        digest: format!("{DIGEST_PREFIX}{}", hex(&listing.finalize())),
        files,
        bytes,
    })
}

/// Hex sha256 of a file's content (streamed) and the number of bytes read.
fn file_sha256(path: &Path) -> io::Result<(String, u64)> {
    crate::hashing::file_sha256(path).map_err(|e| tree::with_path(e, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn module() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("start"), "echo hi\n").unwrap();
        fs::create_dir(d.path().join("lib")).unwrap();
        fs::write(d.path().join("lib/a.txt"), "abc").unwrap();
        d
    }

    #[test]
    fn counts_files_and_bytes_and_is_stable() {
        let d = module();
        let Content {
            digest: a,
            files,
            bytes,
        } = module_digest(d.path()).unwrap();
        assert!(a.starts_with(DIGEST_PREFIX) && a.len() == DIGEST_PREFIX.len() + 64);
        assert_eq!((files, bytes), (2, 11));
        assert_eq!(module_digest(d.path()).unwrap().digest, a);
    }

    #[test]
    fn content_mode_and_names_all_count() {
        let d = module();
        let base = module_digest(d.path()).unwrap().digest;
        fs::write(d.path().join("lib/a.txt"), "abd").unwrap();
        let content = module_digest(d.path()).unwrap().digest;
        assert_ne!(base, content);
        fs::set_permissions(d.path().join("start"), fs::Permissions::from_mode(0o755)).unwrap();
        let mode = module_digest(d.path()).unwrap().digest;
        assert_ne!(content, mode);
        fs::rename(d.path().join("lib"), d.path().join("lib2")).unwrap();
        assert_ne!(mode, module_digest(d.path()).unwrap().digest);
    }

    #[test]
    fn the_folder_s_own_mode_does_not_count() {
        let d = module();
        let before = module_digest(d.path()).unwrap().digest;
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(before, module_digest(d.path()).unwrap().digest);
    }
}
