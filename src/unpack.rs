//! `bundle unpack -C DIR`: decrypt and unpack a bundle into DIR, as `tar -C DIR` would, running
//! nothing.
//!
//! The bundle is opened through [`crate::open`] into a fresh private staging folder inside DIR; only
//! when all of it decrypted and unpacked cleanly are its top-level entries moved into DIR, refusing
//! to replace anything there.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::archive::{ArchiveError, Limits};
use crate::enc::Params;
use crate::exit::{Classify, Exit};
use crate::open::{self, OpenError};
use crate::scratch::ScratchDir;
use crate::secret::Passphrase;

/// Why a bundle could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// Decrypting or unpacking failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// DIR already holds an entry of the same name.
    #[error("{0} already exists: remove it or unpack elsewhere")]
    Exists(PathBuf),
    /// A local file or folder could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for UnpackError {
    fn exit(&self) -> Exit {
        match self {
            UnpackError::Open(e) => e.exit(),
            UnpackError::Exists(_) | UnpackError::Io { .. } => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            UnpackError::Open(e) => e.hint(),
            UnpackError::Exists(_) => None,
            UnpackError::Io { .. } => Some("check the path and its permissions".to_string()),
        }
    }
}

/// Unpacks `bundle` into `dir` (created if missing), like `tar -C dir`: returns the top-level paths
/// placed there. Nothing is placed unless the whole bundle decrypted and unpacked cleanly.
pub fn unpack_into(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
    dir: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PathBuf>, UnpackError> {
    fs::create_dir_all(dir).map_err(|source| UnpackError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let staging =
        ScratchDir::reserve_in(dir, ".bundle-unpack-").map_err(|source| UnpackError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    open::decrypt_unpack(bundle, pass, params, staging.path(), limits, progress)?;
    let read_err = |source| UnpackError::Io {
        path: staging.path().to_path_buf(),
        source,
    };
    let mut tops: Vec<_> = fs::read_dir(staging.path())
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    tops.sort_by_key(|e| e.file_name());
    for top in &tops {
        let target = dir.join(top.file_name());
        if fs::symlink_metadata(&target).is_ok() {
            return Err(UnpackError::Exists(target));
        }
    }
    let mut placed = Vec::new();
    for top in tops {
        let target = dir.join(top.file_name());
        fs::rename(top.path(), &target).map_err(|source| UnpackError::Io {
            path: target.clone(),
            source,
        })?;
        placed.push(target);
    }
    Ok(placed)
}

impl From<ArchiveError> for UnpackError {
    fn from(e: ArchiveError) -> Self {
        UnpackError::Open(OpenError::from(e))
    }
}
