//! Opening a bundle file: decrypt → decompress → strict unpack, shared by `bundle unpack`,
//! `bundle inspect` and `bundle-bootstrap`.
//!
//! Decryption runs on its own thread ([`archive::ReadAhead`]) so it overlaps decompression and file
//! writing. The openssl-enc padding check only happens at the very end of the stream; the extractor
//! drains its input to the end before it renames anything into place, so a wrong passphrase that
//! happened to produce a readable archive head still leaves nothing behind.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::archive::{self, ArchiveError, Limits, Unpacked};
use crate::enc::{self, EncError, Params};
use crate::exit::{Classify, Exit};
use crate::secret::Passphrase;

/// Buffer between the file and the decryptor.
const READ_BUFFER: usize = 256 * 1024;

/// Why a bundle could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The bundle file could not be opened.
    #[error("cannot open the bundle {path}")]
    Open {
        /// The bundle file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The openssl-enc header was wrong or decryption failed.
    #[error(transparent)]
    Enc(#[from] EncError),
    /// The payload was not a readable archive, or held a refused entry.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl Classify for OpenError {
    fn exit(&self) -> Exit {
        match self {
            OpenError::Open { .. } => Exit::Usage,
            OpenError::Enc(e) => e.exit(),
            OpenError::Archive(e) => e.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            OpenError::Open { .. } => Some("check the path of the bundle file".to_string()),
            OpenError::Enc(e) => e.hint(),
            OpenError::Archive(e) => e.hint(),
        }
    }
}

/// Decrypts `bundle` and unpacks it into `dest`, which must not exist yet; `dest` appears only when
/// everything was unpacked and the whole file decrypted cleanly.
pub fn decrypt_unpack(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
    dest: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Unpacked, OpenError> {
    let file = File::open(bundle).map_err(|source| OpenError::Open {
        path: bundle.to_path_buf(),
        source,
    })?;
    let decrypted = enc::Decryptor::new(
        BufReader::with_capacity(READ_BUFFER, file),
        pass.expose(),
        params,
    )?;
    let ahead = archive::ReadAhead::new(decrypted);
    Ok(archive::unpack(ahead, dest, limits, progress)?)
}
