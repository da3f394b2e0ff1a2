//! The strict extractor's per-entry rules. It writes only below a fresh folder that `unpack`
//! created private (0700) and holds open, through that handle ([`Tree`]): every path is walked a
//! component at a time and no symlink is ever followed, so no other user can redirect a write, and
//! what this archive made before is whatever the disk holds there.
//!
//! We do not use tar-rs's `unpack`/`unpack_in`: they skip bad entries, follow existing symlinks in
//! some versions (CVE-2021-38511: a parent directory symlink), and keep modes we do not want.
//! Instead, one bad entry refuses the whole archive, and:
//! - tar-slip (absolute paths, `..`): refused by [`paths::split_entry_path`], which also caps
//!   depth and length and refuses NUL bytes;
//! - writing through a symlink (CVE-2018-20997 and CVE-2021-38511 style): every folder is opened
//!   with `O_NOFOLLOW`, files are made with `O_CREAT|O_EXCL|O_NOFOLLOW`, so a path through a
//!   symlink is refused;
//! - symlinks: relative, staying inside ([`paths::check_symlink_target`]);
//! - hard links: only to a regular file already there (so one this archive extracted);
//! - devices, fifos, sparse and unknown entry types: refused;
//! - modes: `& 0o777` (no setuid, setgid or sticky bit), set with fchmod; owners and mtimes ignored;
//! - size (issue 9, the directory bomb): every folder made counts as an entry, listed or only
//!   implied by a deeper path, and costs [`FOLDER_BYTES`] against the byte cap, as a symlink
//!   costs its target; nothing is remembered per folder, so memory does not grow with them.

use std::collections::HashMap;
use std::fs::{File, Permissions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::entry::PERMISSION_BITS;
use super::error::ArchiveError;
use super::paths;
use super::tree::{self, Tree};
use super::unpack::Limits;

/// What a folder costs against the byte cap: one block, what ext4 and xfs spend on an empty one.
pub(crate) const FOLDER_BYTES: u64 = 4096;
/// Mode of a file while we write it: ours alone.
const WORKING_FILE_MODE: u32 = crate::fsutil::PRIVATE_FILE_MODE;
/// The owner's bits of a mode: a folder without all three would stop us writing inside it.
const OWNER_BITS: u32 = 0o700;
/// Copy buffer for file contents.
const COPY_BUFFER: usize = 64 * 1024;
/// PAX keys GNU tar uses for sparse files; such an entry's data is not the file's content.
const PAX_SPARSE_PREFIX: &[u8] = b"GNU.sparse.";

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

/// What an archive may still spend: entries (things made, and entries that make nothing) and
/// bytes on disk.
struct Budget<'a> {
    limits: &'a Limits,
    entries: u64,
    bytes: u64,
}

impl Budget<'_> {
    /// One more entry.
    fn entry(&mut self) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// `n` more bytes on disk, for entry `name`.
    fn bytes(&mut self, name: &str, n: u64) -> Result<(), ArchiveError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_bytes {
            return Err(ArchiveError::TooBig {
                entry: name.to_owned(),
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }

    /// A folder that only a deeper path implies: an entry of its own, and its block.
    fn implied_folder(&mut self, name: &str) -> Result<(), ArchiveError> {
        self.entry()?;
        self.bytes(name, FOLDER_BYTES)
    }
}

/// Extracts entries one by one below a private folder's handle.
pub(crate) struct Extractor<'a> {
    tree: Tree<'a>,
    budget: Budget<'a>,
    progress: &'a (dyn Fn(u64) + Sync),
    /// Folders whose mode lacks one of the owner's bits, by (device, inode): they keep `rwx` for
    /// us until [`Extractor::finish`]. Only listed folders with such a mode are here.
    deferred: HashMap<(u64, u64), u32>,
    /// File bytes written so far.
    pub(crate) bytes: u64,
}

impl<'a> Extractor<'a> {
    /// An extractor writing below `root`, the handle of a fresh private folder shown as `shown`.
    pub(crate) fn new(
        root: BorrowedFd<'a>,
        shown: &'a Path,
        limits: &'a Limits,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        Extractor {
            tree: Tree::new(root, shown),
            budget: Budget {
                limits,
                entries: 0,
                bytes: 0,
            },
            progress,
            deferred: HashMap::new(),
            bytes: 0,
        }
    }

    /// The byte cap.
    pub(crate) fn max_bytes(&self) -> u64 {
        self.budget.limits.max_bytes
    }

    /// Entries so far: the archive's own, plus every folder only implied by a deeper path.
    pub(crate) fn entries(&self) -> u64 {
        self.budget.entries
    }

    /// Extracts one entry, or refuses it.
    pub(crate) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Failure> {
        self.budget.entry()?;
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
        let Extractor {
            tree,
            budget,
            deferred,
            ..
        } = self;
        let shown = tree.shown(name);
        let own = parts.len();
        // The folder itself is this entry (already counted); only its block is new.
        let dir = tree.folder(name, parts, &mut |depth| {
            if depth == own {
                budget.bytes(name, FOLDER_BYTES)
            } else {
                budget.implied_folder(name)
            }
        })?;
        let io = |e: io::Error| ArchiveError::io(&shown, e);
        let id = tree::identity(dir).map_err(io)?;
        // The last entry for a folder sets its mode, as tar does.
        deferred.remove(&id);
        if mode & OWNER_BITS != OWNER_BITS {
            deferred.insert(id, mode);
        }
        rfs::fchmod(dir, Mode::from_raw_mode(mode | OWNER_BITS)).map_err(|e| io(e.into()))?;
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
        self.budget.bytes(name, size)?;
        let shown = self.tree.shown(name);
        let (dir, leaf) = self.parent(name, parts)?;
        let fd = rfs::openat(
            dir,
            leaf,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(WORKING_FILE_MODE),
        )
        .map_err(|e| create_error(name, &shown, e))?;
        let mut file = File::from(fd);
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
                .map_err(|e| ArchiveError::io(&shown, e))?;
            left -= n as u64;
            self.bytes += n as u64;
            (self.progress)(self.bytes);
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| ArchiveError::io(&shown, e))?;
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
        // The target is what a symlink stores.
        self.budget.bytes(name, target.len() as u64)?;
        let shown = self.tree.shown(name);
        let (dir, leaf) = self.parent(name, parts)?;
        rfs::symlinkat(target.as_str(), dir, leaf).map_err(|e| create_error(name, &shown, e))?;
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
        let not_before = || {
            ArchiveError::refused(
                name,
                format!("hard link target {target:?} is not a file extracted before it"),
            )
        };
        let Some((target_leaf, target_folders)) = target_parts.split_last() else {
            return Err(not_before().into());
        };
        let target_shown = self.tree.shown(&target);
        let io = |e: io::Error| ArchiveError::io(&target_shown, e);
        let Some(target_dir) = self.tree.existing(target_folders).map_err(io)? else {
            return Err(not_before().into());
        };
        match tree::kind_at(target_dir.as_fd(), *target_leaf).map_err(io)? {
            None => return Err(not_before().into()),
            Some(FileType::RegularFile) => {}
            Some(_) => {
                return Err(ArchiveError::refused(
                    name,
                    format!("hard link target {target:?} is not a regular file"),
                )
                .into());
            }
        }
        let shown = self.tree.shown(name);
        let (dir, leaf) = self.parent(name, parts)?;
        // Without AT_SYMLINK_FOLLOW, linkat(2) never follows a symlink at the target.
        rfs::linkat(&target_dir, *target_leaf, dir, leaf, AtFlags::empty())
            .map_err(|e| create_error(name, &shown, e))?;
        Ok(())
    }

    /// The folder that holds a leaf entry (made as needed) and the leaf's name.
    fn parent<'p>(
        &mut self,
        name: &str,
        parts: &[&'p str],
    ) -> Result<(BorrowedFd<'_>, &'p str), Failure> {
        let Some((leaf, folders)) = parts.split_last() else {
            return Err(ArchiveError::refused(name, "the path names the archive root").into());
        };
        let Extractor { tree, budget, .. } = self;
        let dir = tree.folder(name, folders, &mut |_| budget.implied_folder(name))?;
        Ok((dir, leaf))
    }

    /// Gives the folders whose mode was held back their mode, deepest first.
    pub(crate) fn finish(&self) -> Result<(), ArchiveError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        let wanted = |id| self.deferred.get(&id).copied();
        tree::apply_modes(self.tree.root(), &wanted)
            .map_err(|e| ArchiveError::io(self.tree.shown(""), e))
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

/// A failure to create entry `name`: something there already (only an earlier entry can have put
/// it there) refuses the archive; anything else is local I/O.
fn create_error(name: &str, shown: &Path, e: Errno) -> Failure {
    if e == Errno::EXIST {
        ArchiveError::malformed(
            name,
            "the path appears twice (it collides with an earlier entry)",
        )
        .into()
    } else {
        ArchiveError::io(shown, e.into()).into()
    }
}
