//! The strict extractor's per-entry rules. It writes only below `root`, a fresh folder that
//! `unpack` created private (0700), so no other user can race us inside it; every path it creates
//! is checked against what this archive itself created before, never against what the disk says.
//!
//! We do not use tar-rs's `unpack`/`unpack_in`: they skip bad entries, follow existing symlinks in
//! some versions (CVE-2021-38511: a parent directory symlink), and keep modes we do not want.
//! Instead, one bad entry refuses the whole archive, and:
//! - tar-slip (absolute paths, `..`): refused by [`paths::split_entry_path`];
//! - writing through a symlink (CVE-2018-20997 and CVE-2021-38511 style): a path whose parent is a
//!   symlink is refused, and files are made with `create_new` (O_CREAT|O_EXCL, which never follows a
//!   symlink at the last component);
//! - symlinks: relative, staying inside ([`paths::check_symlink_target`]);
//! - hard links: only to a regular file this archive already extracted;
//! - devices, fifos, sparse and unknown entry types: refused;
//! - modes: `& 0o777` (no setuid, setgid or sticky bit), set with fchmod; owners and mtimes ignored.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::entry::PERMISSION_BITS;
use super::error::ArchiveError;
use super::paths;
use super::unpack::Limits;

/// Mode of a folder the archive needs but does not list.
const IMPLICIT_DIR_MODE: u32 = 0o755;
/// Modes while we are still writing: ours alone.
const WORKING_DIR_MODE: u32 = crate::fsutil::PRIVATE_DIR_MODE;
/// And for files.
const WORKING_FILE_MODE: u32 = crate::fsutil::PRIVATE_FILE_MODE;
/// Copy buffer for file contents.
const COPY_BUFFER: usize = 64 * 1024;
/// PAX keys GNU tar uses for sparse files; such an entry's data is not the file's content.
const PAX_SPARSE_PREFIX: &[u8] = b"GNU.sparse.";

/// What this archive has put at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    Dir,
    File,
    Symlink,
}

/// How one entry went wrong.
pub(crate) enum Failure {
    /// Reading the archive stream failed; the caller tells a broken stream from a bad archive.
    Read(io::Error),
    /// Already classified.
    Archive(ArchiveError),
}

impl From<ArchiveError> for Failure {
    fn from(e: ArchiveError) -> Self {
        Failure::Archive(e)
    }
}

/// Extracts entries one by one below `root`.
pub(crate) struct Extractor<'a> {
    root: &'a Path,
    pub(super) limits: &'a Limits,
    progress: &'a (dyn Fn(u64) + Sync),
    made: HashMap<String, Made>,
    dir_modes: HashMap<String, u32>,
    /// Entries seen so far.
    pub(crate) entries: u64,
    /// File bytes written so far.
    pub(crate) bytes: u64,
}

impl<'a> Extractor<'a> {
    /// An extractor writing below `root`, which must be a fresh private folder.
    pub(crate) fn new(
        root: &'a Path,
        limits: &'a Limits,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        Extractor {
            root,
            limits,
            progress,
            made: HashMap::new(),
            dir_modes: HashMap::new(),
            entries: 0,
            bytes: 0,
        }
    }

    /// Extracts one entry, or refuses it.
    pub(crate) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Failure> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            }
            .into());
        }
        let raw = entry.path_bytes().into_owned();
        // Our choice: names must be UTF-8. Bundles are made by `bundle pack`, which writes only
        // UTF-8 names; anything else is a hand-made oddity we would rather not guess about.
        let name = String::from_utf8(raw).map_err(|e| {
            ArchiveError::refused(
                &String::from_utf8_lossy(e.as_bytes()),
                "the path is not valid UTF-8",
            )
        })?;
        let parts = paths::split_entry_path(&name).map_err(|r| ArchiveError::refused(&name, r))?;
        if is_pax_sparse(entry) {
            return Err(ArchiveError::refused(&name, "sparse files are not supported").into());
        }
        let kind = entry.header().entry_type();
        let mode = entry
            .header()
            .mode()
            .map_err(|e| ArchiveError::malformed(&name, format!("unreadable mode: {e}")))?
            & PERMISSION_BITS;
        use tar::EntryType as T;
        match kind {
            // V7 tar marked folders by a trailing slash on a regular entry.
            T::Regular | T::Continuous if name.ends_with('/') => self.dir(&name, &parts, mode),
            T::Regular | T::Continuous => self.file(&name, &parts, mode, entry),
            T::Directory => self.dir(&name, &parts, mode),
            T::Symlink => self.symlink(&name, &parts, entry),
            T::Link => self.hard_link(&name, &parts, entry),
            // A PAX global header carries defaults we do not use; tar-rs applies none either.
            T::XGlobalHeader => Ok(()),
            T::Char => {
                Err(ArchiveError::refused(&name, "character devices are not allowed").into())
            }
            T::Block => Err(ArchiveError::refused(&name, "block devices are not allowed").into()),
            T::Fifo => Err(ArchiveError::refused(&name, "fifos are not allowed").into()),
            T::GNUSparse => {
                Err(ArchiveError::refused(&name, "sparse files are not supported").into())
            }
            other => Err(ArchiveError::refused(
                &name,
                format!(
                    "entry type {:?} is not supported",
                    char::from(other.as_byte())
                ),
            )
            .into()),
        }
    }

    fn dir(&mut self, name: &str, parts: &[&str], mode: u32) -> Result<(), Failure> {
        if parts.is_empty() {
            // `./`: the root itself, which stays ours and private.
            return Ok(());
        }
        self.make_dirs(name, parts)?;
        self.dir_modes.insert(parts.join("/"), mode);
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        name: &str,
        parts: &[&str],
        mode: u32,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        let size = entry.size();
        if self.bytes.saturating_add(size) > self.limits.max_bytes {
            return Err(ArchiveError::TooBig {
                entry: name.to_owned(),
                limit: self.limits.max_bytes,
            }
            .into());
        }
        let rel = self.prepare_leaf(name, parts)?;
        let path = self.root.join(&rel);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(WORKING_FILE_MODE)
            .open(&path)
            .map_err(|e| create_error(name, &path, e))?;
        self.made.insert(rel, Made::File);
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match entry.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(ArchiveError::Stream {
                        what: format!("it ends inside {name:?}"),
                        source: None,
                    }
                    .into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Read(e)),
            };
            file.write_all(&buf[..n])
                .map_err(|e| ArchiveError::io(&path, e))?;
            left -= n as u64;
            self.bytes += n as u64;
            (self.progress)(self.bytes);
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| ArchiveError::io(&path, e))?;
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        name: &str,
        parts: &[&str],
        entry: &tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        let target = link_target(name, entry)?;
        paths::check_symlink_target(paths::folder_depth(parts), &target)
            .map_err(|r| ArchiveError::refused(name, r))?;
        let rel = self.prepare_leaf(name, parts)?;
        let path = self.root.join(&rel);
        std::os::unix::fs::symlink(&target, &path).map_err(|e| create_error(name, &path, e))?;
        self.made.insert(rel, Made::Symlink);
        Ok(())
    }

    fn hard_link<R: Read>(
        &mut self,
        name: &str,
        parts: &[&str],
        entry: &tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        let target = link_target(name, entry)?;
        let target_parts = paths::split_entry_path(&target)
            .map_err(|r| ArchiveError::refused(name, format!("hard link target: {r}")))?;
        let target_rel = target_parts.join("/");
        match self.made.get(&target_rel) {
            Some(Made::File) => {}
            Some(_) => {
                return Err(ArchiveError::refused(
                    name,
                    format!("hard link target {target:?} is not a regular file"),
                )
                .into());
            }
            None => {
                return Err(ArchiveError::refused(
                    name,
                    format!("hard link target {target:?} is not a file extracted before it"),
                )
                .into());
            }
        }
        let rel = self.prepare_leaf(name, parts)?;
        let path = self.root.join(&rel);
        // link(2) does not follow a symlink at the target; it is a regular file we made anyway.
        fs::hard_link(self.root.join(&target_rel), &path)
            .map_err(|e| create_error(name, &path, e))?;
        self.made.insert(rel, Made::File);
        Ok(())
    }

    /// Creates the parents of a leaf entry and checks the leaf is new; returns its relative path.
    fn prepare_leaf(&mut self, name: &str, parts: &[&str]) -> Result<String, Failure> {
        let Some((_, parents)) = parts.split_last() else {
            return Err(ArchiveError::refused(name, "the path names the archive root").into());
        };
        self.make_dirs(name, parents)?;
        let rel = parts.join("/");
        if self.made.contains_key(&rel) {
            return Err(ArchiveError::malformed(name, "the path appears twice").into());
        }
        Ok(rel)
    }

    /// Makes every folder of `parts` that this archive has not made yet, refusing to pass
    /// through a symlink or a file.
    fn make_dirs(&mut self, name: &str, parts: &[&str]) -> Result<(), Failure> {
        for depth in 1..=parts.len() {
            let rel = parts[..depth].join("/");
            match self.made.get(&rel) {
                Some(Made::Dir) => continue,
                Some(Made::Symlink) => {
                    return Err(ArchiveError::refused(
                        name,
                        format!("{rel:?} is a symlink; writing through it could land outside"),
                    )
                    .into());
                }
                Some(Made::File) => {
                    return Err(ArchiveError::malformed(name, format!("{rel:?} is a file")).into());
                }
                None => {}
            }
            let path = self.root.join(&rel);
            DirBuilder::new()
                .mode(WORKING_DIR_MODE)
                .create(&path)
                .map_err(|e| create_error(name, &path, e))?;
            // Explicit, so a strict umask cannot leave us unable to write inside.
            fs::set_permissions(&path, Permissions::from_mode(WORKING_DIR_MODE))
                .map_err(|e| ArchiveError::io(&path, e))?;
            self.made.insert(rel.clone(), Made::Dir);
            self.dir_modes.insert(rel, IMPLICIT_DIR_MODE);
        }
        Ok(())
    }

    /// Gives every folder its final mode, deepest first (a parent without `x` would stop us).
    pub(crate) fn finish(&self) -> Result<(), ArchiveError> {
        let mut dirs: Vec<(&String, &u32)> = self.dir_modes.iter().collect();
        dirs.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.matches('/').count()));
        for (rel, mode) in dirs {
            let path = self.root.join(rel);
            fs::set_permissions(&path, Permissions::from_mode(*mode))
                .map_err(|e| ArchiveError::io(&path, e))?;
        }
        Ok(())
    }

    /// Makes every folder ours again (0700), so a failed unpack can be removed.
    pub(crate) fn relax(&self) {
        let mut dirs: Vec<&String> = self.dir_modes.keys().collect();
        dirs.sort_by_key(|rel| rel.matches('/').count());
        for rel in dirs {
            let _ = fs::set_permissions(
                self.root.join(rel),
                Permissions::from_mode(WORKING_DIR_MODE),
            );
        }
    }
}

/// A link's target, as UTF-8.
fn link_target<R: Read>(name: &str, entry: &tar::Entry<'_, R>) -> Result<String, Failure> {
    let Some(raw) = entry.link_name_bytes() else {
        return Err(ArchiveError::malformed(name, "a link without a target").into());
    };
    String::from_utf8(raw.into_owned())
        .map_err(|_| ArchiveError::refused(name, "the link target is not valid UTF-8").into())
}

/// GNU tar's PAX sparse formats store a map in the data: extracting it as-is would be wrong.
fn is_pax_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> bool {
    match entry.pax_extensions() {
        Ok(Some(extensions)) => extensions
            .flatten()
            .any(|ext| ext.key_bytes().starts_with(PAX_SPARSE_PREFIX)),
        _ => false,
    }
}

/// A failure to create `path`: a collision (only possible with an entry we made, e.g. on a
/// case-insensitive disk) refuses the archive; anything else is local I/O.
fn create_error(name: &str, path: &Path, e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::AlreadyExists {
        ArchiveError::refused(name, "it collides with an earlier entry").into()
    } else {
        ArchiveError::io(path, e).into()
    }
}
