//! Walks one module folder into a flat list of entries sorted by relative path bytes, without
//! following symlinks and without opening anything: the shared ground of the checks and the digest.
//!
//! Reads metadata only; never writes, never opens special files (opening a fifo would block).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The permission bits that survive a tar round trip; setuid/setgid/sticky are dropped by pack.
pub const MODE_MASK: u32 = 0o777;

/// What kind of thing an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file of this many bytes.
    File(u64),
    /// A folder.
    Dir,
    /// A symbolic link and its target, as stored.
    Symlink(PathBuf),
    /// Anything else: fifo, socket, block or character device (named for messages).
    Special(&'static str),
}

/// One entry below a module folder.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the module folder.
    pub rel: PathBuf,
    /// Full path (module folder joined with `rel`).
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// Permission bits, masked with [`MODE_MASK`].
    pub mode: u32,
}

/// Every entry below `dir` (not `dir` itself), sorted by relative path bytes.
pub fn walk(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk_into(dir, PathBuf::new(), &mut out)?;
    out.sort_by(|a, b| {
        a.rel
            .as_os_str()
            .as_bytes()
            .cmp(b.rel.as_os_str().as_bytes())
    });
    Ok(out)
}

fn walk_into(root: &Path, rel: PathBuf, out: &mut Vec<Entry>) -> io::Result<()> {
    let here = root.join(&rel);
    let mut names: Vec<OsString> = fs::read_dir(&here)
        .map_err(|e| with_path(e, &here))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| with_path(e, &here))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let rel = rel.join(&name);
        let path = root.join(&rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| with_path(e, &path))?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink(fs::read_link(&path).map_err(|e| with_path(e, &path))?)
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File(meta.len())
        } else {
            Kind::Special(special_name(&ft))
        };
        let descend = kind == Kind::Dir;
        out.push(Entry {
            rel: rel.clone(),
            path,
            kind,
            mode: meta.permissions().mode() & MODE_MASK,
        });
        if descend {
            walk_into(root, rel, out)?;
        }
    }
    Ok(())
}

fn special_name(ft: &fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

/// Adds the path to an I/O error's message, keeping its kind.
pub fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Whether a symlink at `rel` (relative to the module folder) pointing at `target` stays inside
/// the module folder, judged on the names alone: absolute targets and `..` climbing above the
/// folder are outside. (The filesystem check in `check.rs` covers links through other links.)
pub fn target_stays_inside(rel: &Path, target: &Path) -> bool {
    use std::path::Component;
    if target.is_absolute() {
        return false;
    }
    // Depth of the folder holding the link, then walk the target's components from there.
    let mut depth: usize = rel
        .parent()
        .map(|p| {
            p.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .count()
        })
        .unwrap_or(0);
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_symlink_rule() {
        let inside = |rel: &str, t: &str| target_stays_inside(Path::new(rel), Path::new(t));
        assert!(inside("link", "start"));
        assert!(inside("lib/link", "../start"));
        assert!(inside("a/b/link", "../../x/../start"));
        assert!(!inside("link", "../other/start"));
        assert!(!inside("lib/link", "../../x"));
        assert!(!inside("link", "/etc/passwd"));
        assert!(!inside("link", "x/../../y"));
    }
}
