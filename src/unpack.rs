//! `bundle unpack -C DIR`: decrypt and unpack a bundle into DIR, as `tar -C DIR` would, running
//! nothing.
//!
//! The bundle is opened through [`crate::open`] into a fresh private folder inside DIR, held open
//! and written only through its handle ([`crate::archive::unpack_in`]); only when all of it
//! decrypted and unpacked cleanly are its top-level entries moved into DIR, refusing to replace
//! anything there. DIR may be writable by other users (issue 9): they cannot redirect a write.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::archive::{ArchiveError, Limits};
use crate::enc::Params;
use crate::exit::{Classify, Exit};
use crate::open::{self, OpenError};
use crate::secret::Passphrase;

/// Why a bundle could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// Decrypting or unpacking failed.
    #[error(transparent)]
    Open(#[from] OpenError),
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
            UnpackError::Io { .. } => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            UnpackError::Open(e) => e.hint(),
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
    let unpacked = open::decrypt_unpack_in(bundle, pass, params, dir, limits, progress)?;
    Ok(unpacked.placed)
}

impl From<ArchiveError> for UnpackError {
    fn from(e: ArchiveError) -> Self {
        UnpackError::Open(OpenError::from(e))
    }
}
