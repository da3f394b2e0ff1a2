//! The private folder an archive is unpacked into, held open from the moment it is made until it
//! is placed or removed. It is made with `mkdirat` in its parent's handle, opened without
//! following a symlink and checked to be ours; it is placed by renaming it (or moving its
//! entries) between handles, and checked again; and it is removed through its own handle,
//! wherever it may have been moved. Another user who can write to the parent can rename things
//! there, but cannot make us write through a symlink, nor place anything we did not unpack
//! (issue 9: `bundle unpack -C DIR` by root, DIR writable by others).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::error::ArchiveError;
use super::tree::{self, WORKING_DIR_MODE};

/// Attempts at a fresh temporary name.
const TEMP_ATTEMPTS: usize = 8;

/// Opens the folder at `path` to unpack into. The caller's path is followed as given (like
/// `tar -C`): it names the folder; from here on only the handle is used.
pub(crate) fn open_parent(path: &Path) -> Result<OwnedFd, ArchiveError> {
    rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ArchiveError::io(path, e.into()))
}

/// A fresh private folder inside `parent`, and what it takes to place or remove it.
pub(crate) struct Staging {
    parent: OwnedFd,
    parent_shown: PathBuf,
    name: String,
    root: OwnedFd,
    /// (device, inode) of `root`: what the name must still lead to.
    id: (u64, u64),
    /// Whether its content has gone where it belongs (then there is nothing to remove).
    placed: bool,
}

impl Staging {
    /// Makes `.<stem>.partial-<random>` in `parent` (shown as `parent_shown`), private (0700).
    pub(crate) fn create(
        parent: OwnedFd,
        parent_shown: &Path,
        stem: &str,
    ) -> Result<Staging, ArchiveError> {
        let mut made = None;
        for _ in 0..TEMP_ATTEMPTS {
            let tag =
                crate::scratch::random_tag().map_err(|e| ArchiveError::io(parent_shown, e))?;
            let name = format!(".{stem}.partial-{tag}");
            match rfs::mkdirat(
                &parent,
                name.as_str(),
                Mode::from_raw_mode(WORKING_DIR_MODE),
            ) {
                Ok(()) => {
                    made = Some(name);
                    break;
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(ArchiveError::io(parent_shown.join(name), e.into())),
            }
        }
        let Some(name) = made else {
            let e = io::Error::from(io::ErrorKind::AlreadyExists);
            return Err(ArchiveError::io(parent_shown, e));
        };
        let shown = parent_shown.join(&name);
        let moved = || ArchiveError::Moved {
            path: shown.clone(),
        };
        // Between mkdirat and here, another user who can write to the parent may have put
        // something else in its place: a symlink fails to open, a folder of theirs is not ours.
        let root = tree::open_dir(parent.as_fd(), &name).map_err(|_| moved())?;
        let st = rfs::fstat(&root).map_err(|e| ArchiveError::io(&shown, e.into()))?;
        if st.st_uid != rustix::process::geteuid().as_raw() {
            return Err(moved());
        }
        // Explicit, whatever the umask; only after the owner check (root may chmod anything).
        rfs::fchmod(&root, Mode::from_raw_mode(WORKING_DIR_MODE))
            .map_err(|e| ArchiveError::io(&shown, e.into()))?;
        Ok(Staging {
            parent,
            parent_shown: parent_shown.to_path_buf(),
            name,
            root,
            id: (st.st_dev, st.st_ino),
            placed: false,
        })
    }

    /// The private folder's handle.
    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Where the private folder is, for messages.
    pub(crate) fn shown(&self) -> PathBuf {
        self.parent_shown.join(&self.name)
    }

    /// Fails when `name` is already taken in the parent.
    pub(crate) fn check_free(&self, name: &OsStr) -> Result<(), ArchiveError> {
        let path = self.parent_shown.join(name);
        match tree::kind_at(self.parent.as_fd(), name) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(ArchiveError::DestinationExists { path }),
            Err(e) => Err(ArchiveError::io(path, e)),
        }
    }

    /// Whether our name in the parent still leads to our folder.
    fn still_ours(&self) -> bool {
        rfs::statat(&self.parent, self.name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| (st.st_dev, st.st_ino) == self.id)
    }

    fn moved(&self) -> ArchiveError {
        ArchiveError::Moved { path: self.shown() }
    }

    /// Renames the folder to `dest` in the parent, never replacing anything there.
    pub(crate) fn place(mut self, dest: &str) -> Result<(), ArchiveError> {
        if !self.still_ours() {
            return Err(self.moved());
        }
        let path = self.parent_shown.join(dest);
        tree::rename_new(
            self.parent.as_fd(),
            self.name.as_str(),
            self.parent.as_fd(),
            dest,
        )
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => ArchiveError::DestinationExists { path },
            _ => ArchiveError::io(self.parent_shown.join(dest), e),
        })?;
        // A swap between the check and the rename would have moved someone else's entry.
        let placed = rfs::statat(&self.parent, dest, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| (st.st_dev, st.st_ino) == self.id);
        if !placed {
            return Err(self.moved());
        }
        self.placed = true;
        Ok(())
    }

    /// Moves every top-level entry of the folder into the parent (as `tar -C` would have put
    /// it), from handle to handle, refusing to replace anything; then removes the empty folder.
    /// Returns the paths placed.
    pub(crate) fn spill(mut self) -> Result<Vec<PathBuf>, ArchiveError> {
        // Not needed for safety (nothing below goes by that name), but someone is tampering
        // with the folder: say so rather than place the bundle there.
        if !self.still_ours() {
            return Err(self.moved());
        }
        let mut names = Vec::new();
        tree::for_each_name(self.root.as_fd(), &mut |name, _| {
            names.push(OsStr::from_bytes(name.to_bytes()).to_owned());
            Ok(())
        })
        .map_err(|e| ArchiveError::io(self.shown(), e))?;
        names.sort();
        for name in &names {
            self.check_free(name)?;
        }
        let mut placed = Vec::new();
        for name in names {
            let path = self.parent_shown.join(&name);
            tree::rename_new(
                self.root.as_fd(),
                name.as_os_str(),
                self.parent.as_fd(),
                name.as_os_str(),
            )
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    ArchiveError::DestinationExists { path: path.clone() }
                }
                _ => ArchiveError::io(&path, e),
            })?;
            placed.push(path);
        }
        self.placed = true;
        if self.still_ours() {
            // Best effort: an empty private folder left behind harms nobody.
            let _ = rfs::unlinkat(&self.parent, self.name.as_str(), AtFlags::REMOVEDIR);
        }
        Ok(placed)
    }
}

impl Drop for Staging {
    /// Removes what was unpacked, through the folder's own handle, and the folder itself when
    /// its name still leads to it. Best effort: the error that matters was already returned.
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        let _ = tree::clear(self.root.as_fd());
        if self.still_ours() {
            let _ = rfs::unlinkat(&self.parent, self.name.as_str(), AtFlags::REMOVEDIR);
        }
    }
}
