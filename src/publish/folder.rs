//! A folder destination: a local or mounted path, often one a web server serves.
//!
//! Every write lands in a temp file in the target's own folder and is renamed over the target, so
//! readers (a web server handing the file to a booting instance) see the old file or the new one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Destination, PublishError};
use crate::fsutil::{NewFile, Overwrite};

/// Published files are encrypted or signatures, meant to be served: readable by all.
const PUBLISHED_MODE: u32 = 0o644;

/// Publishes into a folder.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    /// A destination rooted at `root` (created when first written).
    pub fn new(root: &Path) -> Folder {
        Folder {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PublishError {
    let path = path.display().to_string();
    move |source| PublishError::Io { op, path, source }
}

impl Destination for Folder {
    fn put(&self, key: &str, local: &Path) -> Result<(), PublishError> {
        let target = self.path(key);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
        let copied = (|| {
            let mut staged = NewFile::create(&target, PUBLISHED_MODE)?;
            io::copy(&mut fs::File::open(local)?, &mut staged)?;
            staged.place(Overwrite::Replace)
        })();
        copied.map_err(io_err("write", &target))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError> {
        let path = self.path(key);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError> {
        let dir = self.path(prefix);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let name = entry
                .map_err(io_err("list", &dir))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !name.starts_with('.') {
                keys.push(format!("{prefix}{name}"));
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn fetch_to(&self, key: &str, to: &Path) -> Result<(), PublishError> {
        let from = self.path(key);
        fs::copy(&from, to)
            .map(|_| ())
            .map_err(io_err("copy", &from))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn check_exists(&self) -> Result<(), PublishError> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(PublishError::NoDestination(self.describe()))
        }
    }
}
