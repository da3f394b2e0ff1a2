//! What goes into an archive: [`PackEntry`] values, made by walking a folder ([`collect_tree`]) or
//! by the caller (e.g. a generated `bundle.json`), and the checks that keep `pack` from writing
//! anything the extractor would refuse. Reads the file system (metadata only); writes nothing.

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::ArchiveError;
use super::paths;

/// Permission bits kept in the archive: setuid, setgid and sticky bits are dropped.
pub(crate) const PERMISSION_BITS: u32 = 0o777;
/// The mode a symlink is written with (its own mode means nothing on Linux).
#[cfg(feature = "publisher")]
pub(crate) const SYMLINK_MODE: u32 = 0o777;

/// Where an entry's content comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A folder.
    Dir,
    /// A regular file, read when packing.
    File(PathBuf),
    /// A regular file whose content is given (e.g. a generated manifest).
    Bytes(Vec<u8>),
    /// A symlink to this target (relative, staying inside the archive).
    Symlink(PathBuf),
}

/// One entry to pack.
#[derive(Debug, Clone)]
pub struct PackEntry {
    /// Archive path, `/`-separated, no leading `/`, no trailing `/`.
    pub path: String,
    /// Permission bits; anything above 0o777 is dropped when packing.
    pub mode: u32,
    /// The content.
    pub source: Source,
}

/// Walks `dir` without following symlinks and returns its entries under `prefix`, sorted by path
/// bytes. `dir` itself is included (path = `prefix`) unless `prefix` is empty. Sockets, fifos and
/// devices are refused with an error naming the path, as are names that are not UTF-8.
pub fn collect_tree(dir: &Path, prefix: &str) -> Result<Vec<PackEntry>, ArchiveError> {
    if !prefix.is_empty() {
        paths::check_pack_path(prefix).map_err(|reason| ArchiveError::BadEntry {
            entry: prefix.to_owned(),
            reason: reason.to_owned(),
        })?;
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| ArchiveError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(ArchiveError::BadEntry {
            entry: dir.display().to_string(),
            reason: "not a folder".to_owned(),
        });
    }
    let mut out = Vec::new();
    if !prefix.is_empty() {
        out.push(PackEntry {
            path: prefix.to_owned(),
            mode: meta.permissions().mode() & PERMISSION_BITS,
            source: Source::Dir,
        });
    }
    let mut pending = vec![(dir.to_path_buf(), prefix.to_owned())];
    while let Some((folder, archive_folder)) = pending.pop() {
        let listing = fs::read_dir(&folder).map_err(|e| ArchiveError::io(&folder, e))?;
        for item in listing {
            let item = item.map_err(|e| ArchiveError::io(&folder, e))?;
            let local = item.path();
            let name = item.file_name();
            let Some(name) = name.to_str() else {
                return Err(bad(&local, "the name is not valid UTF-8"));
            };
            let path = if archive_folder.is_empty() {
                name.to_owned()
            } else {
                format!("{archive_folder}/{name}")
            };
            let meta = fs::symlink_metadata(&local).map_err(|e| ArchiveError::io(&local, e))?;
            let kind = meta.file_type();
            let mode = meta.permissions().mode() & PERMISSION_BITS;
            let source = if kind.is_dir() {
                pending.push((local.clone(), path.clone()));
                Source::Dir
            } else if kind.is_file() {
                Source::File(local.clone())
            } else if kind.is_symlink() {
                let target = fs::read_link(&local).map_err(|e| ArchiveError::io(&local, e))?;
                if target.to_str().is_none() {
                    return Err(bad(&local, "the symlink target is not valid UTF-8"));
                }
                Source::Symlink(target)
            } else {
                return Err(bad(&local, special_kind(kind)));
            };
            out.push(PackEntry { path, mode, source });
        }
    }
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// The total size of the file contents in `entries` (files are looked up), for a progress bar
/// whose position is [`pack`](super::pack)'s progress value.
pub fn content_bytes(entries: &[PackEntry]) -> Result<u64, ArchiveError> {
    let mut total = 0u64;
    for entry in entries {
        total += match &entry.source {
            Source::File(path) => fs::metadata(path)
                .map_err(|e| ArchiveError::io(path, e))?
                .len(),
            Source::Bytes(data) => data.len() as u64,
            Source::Dir | Source::Symlink(_) => 0,
        };
    }
    Ok(total)
}

/// Sorts `entries` by path bytes and checks them against the extractor's rules: canonical paths,
/// no duplicates, nothing below a file or symlink, symlinks that stay inside the archive.
#[cfg(feature = "publisher")]
pub(crate) fn sort_and_check(entries: &mut [PackEntry]) -> Result<(), ArchiveError> {
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut leaves: std::collections::HashMap<&str, &'static str> = Default::default();
    for (i, entry) in entries.iter().enumerate() {
        let refuse = |reason: &str| ArchiveError::BadEntry {
            entry: entry.path.clone(),
            reason: reason.to_owned(),
        };
        paths::check_pack_path(&entry.path).map_err(refuse)?;
        if i > 0 && entries[i - 1].path == entry.path {
            return Err(refuse("the path appears twice"));
        }
        let parts: Vec<&str> = entry.path.split('/').collect();
        for (slash, _) in entry.path.match_indices('/') {
            let ancestor = &entry.path[..slash];
            if let Some(kind) = leaves.get(ancestor) {
                return Err(refuse(&format!(
                    "it lies below {ancestor:?}, which is a {kind}"
                )));
            }
        }
        match &entry.source {
            Source::Dir => {}
            Source::File(_) | Source::Bytes(_) => {
                leaves.insert(&entry.path, "file");
            }
            Source::Symlink(target) => {
                let target = target
                    .to_str()
                    .ok_or_else(|| refuse("the symlink target is not valid UTF-8"))?;
                paths::check_symlink_target(paths::folder_depth(&parts), target).map_err(refuse)?;
                leaves.insert(&entry.path, "symlink");
            }
        }
    }
    Ok(())
}

fn bad(local: &Path, reason: &str) -> ArchiveError {
    ArchiveError::BadEntry {
        entry: local.display().to_string(),
        reason: reason.to_owned(),
    }
}

fn special_kind(kind: fs::FileType) -> &'static str {
    if kind.is_socket() {
        "sockets cannot be packed"
    } else if kind.is_fifo() {
        "fifos cannot be packed"
    } else if kind.is_char_device() || kind.is_block_device() {
        "device files cannot be packed"
    } else {
        "only folders, regular files and symlinks can be packed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, source: Source) -> PackEntry {
        PackEntry {
            path: path.to_owned(),
            mode: 0o644,
            source,
        }
    }

    #[test]
    fn sorting_puts_parents_first_and_checks_rules() {
        let mut ok = vec![
            entry("a/b", Source::Bytes(vec![])),
            entry("a-b", Source::Dir),
            entry("a", Source::Dir),
            entry("a/l", Source::Symlink("../a-b".into())),
        ];
        sort_and_check(&mut ok).unwrap();
        let order: Vec<&str> = ok.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(order, ["a", "a-b", "a/b", "a/l"]);

        let cases = [
            vec![entry("a", Source::Dir), entry("a", Source::Dir)],
            vec![
                entry("l", Source::Symlink("x".into())),
                entry("l/f", Source::Dir),
            ],
            vec![entry("f", Source::Bytes(vec![])), entry("f/g", Source::Dir)],
            vec![entry("l", Source::Symlink("../x".into()))],
            vec![entry("l", Source::Symlink("/etc".into()))],
            vec![entry("a/", Source::Dir)],
        ];
        for mut bad in cases {
            assert!(sort_and_check(&mut bad).is_err(), "{bad:?}");
        }
    }
}
