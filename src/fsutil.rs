//! How the tool writes the files and folders it owns — one way, everywhere: output files appear
//! whole or not at all, state files survive a power cut, private folders are checked, and no write
//! ever follows a symbolic link someone else planted.
//!
//! - [`NewFile`]: a temp file beside the target (`create_new`, so never through a link), synced,
//!   then linked (refusing an existing target) or renamed into place, then the folder synced — a
//!   rename is only durable once its folder is (ext4 and xfs both say so in their fsync notes).
//! - [`atomic_write`] and [`atomic_symlink`]: the one atomic-write helper every state file uses.
//! - [`create_private_dir`] and [`check_private_dir`]: folders that hold decrypted code or state:
//!   mode 0700, owned by whoever runs us, not a symbolic link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Folders that hold decrypted module code, state or scratch copies: owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Files in them.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// What the name of a file being written carries until it is placed: `.NAME.partial-RANDOM`.
pub const PARTIAL_MARK: &str = ".partial-";

/// Permission bits that let anyone but the owner in.
const GROUP_OTHER_BITS: u32 = 0o077;

/// What to do when the output file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse (the default): nothing is silently replaced.
    Refuse,
    /// Replace it atomically (`--force`).
    Replace,
}

impl Overwrite {
    /// `--force` as an [`Overwrite`].
    pub fn from_force(force: bool) -> Overwrite {
        if force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        }
    }
}

/// A file being written beside its final name, removed unless [`NewFile::place`]d.
#[derive(Debug)]
pub struct NewFile {
    temp: PathBuf,
    target: PathBuf,
    file: File,
    placed: bool,
}

impl NewFile {
    /// Creates `.<name>.partial-<random>` beside `target` with `mode`. `create_new` (O_EXCL) never
    /// follows a symbolic link, and the random name cannot be planted in advance.
    pub fn create(target: &Path, mode: u32) -> io::Result<NewFile> {
        let parent = parent_of(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(
            ".{name}{PARTIAL_MARK}{}",
            crate::scratch::random_tag()?
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        Ok(NewFile {
            temp,
            target: target.to_path_buf(),
            file,
            placed: false,
        })
    }

    /// The final name.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where the content is being written until it is placed (to read it back before placing).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The open file, to clone a handle for a buffered writer.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Syncs the content, moves it to its name and syncs the folder. With [`Overwrite::Refuse`] an
    /// existing target is an `AlreadyExists` error, decided atomically by link(2).
    pub fn place(mut self, overwrite: Overwrite) -> io::Result<()> {
        self.file.sync_all()?;
        match overwrite {
            Overwrite::Replace => fs::rename(&self.temp, &self.target)?,
            Overwrite::Refuse => {
                fs::hard_link(&self.temp, &self.target)?;
                let _ = fs::remove_file(&self.temp);
            }
        }
        self.placed = true;
        sync_dir(&parent_of(&self.target))
    }
}

impl Write for NewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Replaces `path` with `bytes` so that a reader — or the next boot after a power cut — sees the
/// old file or the new one, never half of one, and never writes through a link at `path`.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = NewFile::create(path, mode)?;
    file.write_all(bytes)?;
    file.place(Overwrite::Replace)
}

/// Points the symbolic link `link` at `target`, atomically (a new link renamed over the old one),
/// and durably.
pub fn atomic_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staged = parent_of(link).join(format!(
        ".{name}{PARTIAL_MARK}{}",
        crate::scratch::random_tag()?
    ));
    std::os::unix::fs::symlink(target, &staged)?;
    if let Err(e) = fs::rename(&staged, link) {
        let _ = fs::remove_file(&staged);
        return Err(e);
    }
    sync_dir(&parent_of(link))
}

/// fsync(2) on a folder: makes the names created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens `path` for appending, creating it private, and refuses (ELOOP) a symbolic link there.
pub fn append_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Why a folder is not private enough to hold decrypted code or state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    /// A symbolic link: whoever can change it decides where we write.
    #[error("it is a symbolic link")]
    Symlink,
    /// Not a folder at all.
    #[error("it is not a folder")]
    NotADir,
    /// Owned by another user, who could change what is in it.
    #[error("it is owned by uid {owner}, not by uid {me} that runs this")]
    Owner {
        /// The folder's owner.
        owner: u32,
        /// Our effective uid.
        me: u32,
    },
    /// Group or others may read or write it.
    #[error("others can open it (mode {mode:04o}); it must be 0700")]
    Mode {
        /// Its permission bits.
        mode: u32,
    },
}

impl Unsafe {
    /// The command that fixes it, for a `hint:` line.
    pub fn fix(&self, path: &Path) -> String {
        let shown = crate::shell::quote(&path.to_string_lossy());
        match self {
            Unsafe::Symlink | Unsafe::NotADir => {
                format!("remove {shown} (or pass another folder) and run again")
            }
            Unsafe::Owner { me, .. } => {
                format!("check who made {shown}; if it is yours: chown -R {me} {shown}")
            }
            Unsafe::Mode { .. } => format!("chmod 700 {shown}"),
        }
    }
}

/// Why a private folder could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// Creating or reading it failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// It exists but is not private.
    #[error(transparent)]
    Unsafe(#[from] Unsafe),
}

/// Checks that `path` is a private folder of ours: not a link, a folder, owned by the effective
/// user, no group or other bits.
pub fn check_private_dir(path: &Path) -> Result<(), DirError> {
    let meta = fs::symlink_metadata(path)?;
    check_private_meta(&meta)?;
    Ok(())
}

/// [`check_private_dir`] on metadata already read (`lstat`, not `stat`).
pub fn check_private_meta(meta: &fs::Metadata) -> Result<(), Unsafe> {
    if meta.file_type().is_symlink() {
        return Err(Unsafe::Symlink);
    }
    if !meta.is_dir() {
        return Err(Unsafe::NotADir);
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(Unsafe::Owner {
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(Unsafe::Mode { mode });
    }
    Ok(())
}

/// Creates `path` as a private folder (its missing parents too, also 0700), or checks the one
/// that is there. An existing folder that is not private is refused, never silently changed (a
/// chmod on a shared folder such as /tmp would break the machine).
pub fn create_private_dir(path: &Path) -> Result<(), DirError> {
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR_MODE)
                .create(path)?;
        }
        Err(e) => return Err(e.into()),
    }
    check_private_dir(path)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> crate::scratch::ScratchDir {
        crate::scratch::ScratchDir::create("sb-fsutil-").unwrap()
    }

    #[test]
    fn atomic_write_replaces_a_planted_link_instead_of_following_it() {
        let dir = scratch();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let state = dir.path().join("status.json");
        std::os::unix::fs::symlink(&victim, &state).unwrap();
        atomic_write(&state, b"new", PRIVATE_FILE_MODE).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&state).unwrap(), "new");
        assert!(
            !fs::symlink_metadata(&state)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn refuse_keeps_an_existing_file_and_leaves_no_temp() {
        let dir = scratch();
        let target = dir.path().join("out");
        fs::write(&target, "old").unwrap();
        let mut file = NewFile::create(&target, 0o644).unwrap();
        file.write_all(b"new").unwrap();
        let err = file.place(Overwrite::Refuse).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn append_refuses_a_link() {
        let dir = scratch();
        let link = dir.path().join("hook.log");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        assert!(append_no_follow(&link).is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }

    #[test]
    fn private_dirs_are_checked_not_fixed() {
        let dir = scratch();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            create_private_dir(&open),
            Err(DirError::Unsafe(Unsafe::Mode { mode: 0o755 }))
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(matches!(
            create_private_dir(&link),
            Err(DirError::Unsafe(Unsafe::Symlink))
        ));
        let deep = dir.path().join("a/b");
        create_private_dir(&deep).unwrap();
        let mode = fs::metadata(dir.path().join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
