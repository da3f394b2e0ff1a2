//! The private folder as an open handle. Every file-system call of the extractor is made relative
//! to a directory handle, one path component at a time, and never follows a symlink: `openat`
//! with `O_NOFOLLOW`, `mkdirat`, `symlinkat`, `linkat` without `AT_SYMLINK_FOLLOW`. So neither a
//! symlink the archive made nor another user swapping the folder's own name for a symlink can
//! send a write anywhere else (issue 9: `bundle unpack -C DIR` run by root in a folder others can
//! write put 20,001 decrypted files where such a symlink pointed).
//!
//! What this archive made is remembered by the disk, not by a table in memory: nobody else can
//! write below a fresh 0700 folder, so whatever is there, the archive put there. Memory stays
//! flat however many folders an archive makes; only the last folder walked to is kept open.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use rustix::path::Arg;

use super::error::ArchiveError;

/// Mode of a folder the archive needs but does not list.
pub(crate) const IMPLICIT_DIR_MODE: u32 = 0o755;
/// Mode of a folder while we still write into it: ours alone.
pub(crate) const WORKING_DIR_MODE: u32 = crate::fsutil::PRIVATE_DIR_MODE;

/// Opens the folder `name` in `dir` without following a symlink there.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &str) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The kind of `name` in `dir`, not following a symlink, or `None` when it is missing.
pub(crate) fn kind_at(dir: BorrowedFd<'_>, name: impl Arg) -> io::Result<Option<FileType>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The device and inode of an open file: who it is, whatever its name.
pub(crate) fn identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = rfs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

/// Renames `from` in `from_dir` to `to` in `to_dir`, never replacing anything at `to` (plain
/// rename(2) silently replaces an empty folder).
pub(crate) fn rename_new<P: Arg + Copy, Q: Arg + Copy>(
    from_dir: BorrowedFd<'_>,
    from: P,
    to_dir: BorrowedFd<'_>,
    to: Q,
) -> io::Result<()> {
    match rfs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => return Ok(()),
        // Old kernels and some file systems lack RENAME_NOREPLACE: check, then rename.
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {}
        Err(e) => return Err(e.into()),
    }
    if kind_at(to_dir, to)?.is_some() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    Ok(rfs::renameat(from_dir, from, to_dir, to)?)
}

/// Walks and grows the tree below the private folder's handle.
pub(crate) struct Tree<'a> {
    root: BorrowedFd<'a>,
    /// The private folder's path, for messages only: nothing is ever opened by it.
    shown: &'a Path,
    /// The last folder walked to (relative path) and its handle. Archives list a folder's entries
    /// together, so most entries start from it; and a folder this archive made is never removed
    /// or replaced, so the handle stays right.
    cached: Option<(String, OwnedFd)>,
}

impl<'a> Tree<'a> {
    /// The tree below `root`, a fresh private folder shown as `shown` in messages.
    pub(crate) fn new(root: BorrowedFd<'a>, shown: &'a Path) -> Self {
        Tree {
            root,
            shown,
            cached: None,
        }
    }

    /// The private folder's handle.
    pub(crate) fn root(&self) -> BorrowedFd<'a> {
        self.root
    }

    /// Where `rel` is, for a message.
    pub(crate) fn shown(&self, rel: &str) -> PathBuf {
        self.shown.join(rel)
    }

    /// The folder `parts` (the root when empty), making every missing folder on the way with
    /// `IMPLICIT_DIR_MODE`. `made(n)` hears of each folder made, `n` being its number of
    /// components, before it is used, and can stop the walk. A symlink or a file on the way
    /// refuses entry `name`.
    pub(crate) fn folder(
        &mut self,
        name: &str,
        parts: &[&str],
        made: &mut dyn FnMut(usize) -> Result<(), ArchiveError>,
    ) -> Result<BorrowedFd<'_>, ArchiveError> {
        if parts.is_empty() {
            return Ok(self.root);
        }
        let rel = parts.join("/");
        let skip = match &self.cached {
            Some((cached, _)) if *cached == rel => parts.len(),
            Some((cached, _))
                if rel.starts_with(cached.as_str())
                    && rel.as_bytes().get(cached.len()) == Some(&b'/') =>
            {
                cached.split('/').count()
            }
            _ => 0,
        };
        if skip < parts.len() {
            let mut current: Option<OwnedFd> = None;
            for depth in skip + 1..=parts.len() {
                let dir = match (&current, &self.cached) {
                    (Some(fd), _) => fd.as_fd(),
                    (None, Some((_, fd))) if skip > 0 => fd.as_fd(),
                    _ => self.root,
                };
                current = Some(self.step(dir, name, &parts[..depth], made)?);
            }
            if let Some(fd) = current {
                self.cached = Some((rel, fd));
            }
        }
        Ok(match &self.cached {
            Some((_, fd)) => fd.as_fd(),
            None => self.root,
        })
    }

    /// Makes (or finds) the last folder of `so_far` in `dir`, and opens it.
    fn step(
        &self,
        dir: BorrowedFd<'_>,
        name: &str,
        so_far: &[&str],
        made: &mut dyn FnMut(usize) -> Result<(), ArchiveError>,
    ) -> Result<OwnedFd, ArchiveError> {
        let Some(component) = so_far.last() else {
            return Err(ArchiveError::refused(name, "an empty path component"));
        };
        let fresh = match rfs::mkdirat(dir, *component, Mode::from_raw_mode(WORKING_DIR_MODE)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(ArchiveError::io(self.shown(&so_far.join("/")), e.into())),
        };
        if fresh {
            made(so_far.len())?;
        }
        let fd = open_dir(dir, component).map_err(|e| self.blocked(dir, name, so_far, e))?;
        if fresh {
            // Explicit, so a strict umask cannot leave us unable to write inside.
            rfs::fchmod(&fd, Mode::from_raw_mode(IMPLICIT_DIR_MODE))
                .map_err(|e| ArchiveError::io(self.shown(&so_far.join("/")), e.into()))?;
        }
        Ok(fd)
    }

    /// The folder `parts` as it already is: nothing is made, and a missing folder, a symlink or
    /// a file on the way is `None`.
    pub(crate) fn existing(&self, parts: &[&str]) -> io::Result<Option<OwnedFd>> {
        let mut current = self.root.try_clone_to_owned()?;
        for component in parts {
            match open_dir(current.as_fd(), component) {
                Ok(fd) => current = fd,
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(current))
    }

    /// Why the folder `so_far` could not be opened in `dir`.
    fn blocked(&self, dir: BorrowedFd<'_>, name: &str, so_far: &[&str], e: Errno) -> ArchiveError {
        let rel = so_far.join("/");
        let component = so_far.last().copied().unwrap_or_default();
        match kind_at(dir, component) {
            Ok(Some(FileType::Symlink)) => ArchiveError::refused(
                name,
                format!("{rel:?} is a symlink; writing through it could land outside"),
            ),
            Ok(Some(kind)) if kind != FileType::Directory => {
                ArchiveError::malformed(name, format!("{rel:?} is a file"))
            }
            _ => ArchiveError::io(self.shown(&rel), e.into()),
        }
    }
}

/// Calls `each` with the name and listed kind of every entry of the folder `dir` (not `.` and
/// `..`).
pub(crate) fn for_each_name(
    dir: BorrowedFd<'_>,
    each: &mut dyn FnMut(&CStr, FileType) -> io::Result<()>,
) -> io::Result<()> {
    let mut list = rfs::Dir::read_from(dir)?;
    while let Some(item) = list.read() {
        let item = item?;
        let name = item.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        each(name, item.file_type())?;
    }
    Ok(())
}

/// Whether an entry of `dir` is a folder, asking the disk when the listing does not say.
fn is_dir(dir: BorrowedFd<'_>, name: &CStr, listed: FileType) -> io::Result<bool> {
    Ok(match listed {
        FileType::Unknown => {
            let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            FileType::from_raw_mode(st.st_mode) == FileType::Directory
        }
        kind => kind == FileType::Directory,
    })
}

/// Gives each folder below `dir` whose identity `wanted` names its mode, deepest first (a parent
/// without `x` would stop us). Depth is bounded by the path rules.
pub(crate) fn apply_modes(
    dir: BorrowedFd<'_>,
    wanted: &dyn Fn((u64, u64)) -> Option<u32>,
) -> io::Result<()> {
    for_each_name(dir, &mut |name, listed| {
        if !is_dir(dir, name, listed)? {
            return Ok(());
        }
        let sub = rfs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        apply_modes(sub.as_fd(), wanted)?;
        if let Some(mode) = wanted(identity(sub.as_fd())?) {
            rfs::fchmod(&sub, Mode::from_raw_mode(mode))?;
        }
        Ok(())
    })
}

/// Removes everything below `dir`, through handles: it cleans up our own folder wherever another
/// user may have moved it, and never follows a symlink. Folders are made ours (0700) first, so a
/// mode the archive gave them cannot stop us.
pub(crate) fn clear(dir: BorrowedFd<'_>) -> io::Result<()> {
    // Removing entries while listing may hide others from the listing: go again until a pass
    // finds nothing.
    loop {
        let mut removed = false;
        for_each_name(dir, &mut |name, listed| {
            removed = true;
            if is_dir(dir, name, listed)? {
                // By name, as opening it may need the very permission it lacks. It is a folder
                // (checked just above, without following), and nobody else writes in here.
                rfs::chmodat(
                    dir,
                    name,
                    Mode::from_raw_mode(WORKING_DIR_MODE),
                    AtFlags::empty(),
                )?;
                let sub = rfs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                clear(sub.as_fd())?;
                rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
            } else {
                rfs::unlinkat(dir, name, AtFlags::empty())?;
            }
            Ok(())
        })?;
        if !removed {
            return Ok(());
        }
    }
}
