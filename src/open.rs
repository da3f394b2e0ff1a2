//! Opening a bundle file: decrypt → decompress → strict unpack, shared by `bundle unpack`,
//! `bundle inspect` and `bundle-bootstrap`.
//!
//! Decryption runs on its own thread ([`archive::ReadAhead`]) so it overlaps decompression and file
//! writing. The openssl-enc padding check only happens at the very end of the stream; the extractor
//! drains its input to the end before it renames anything into place, so a wrong passphrase that
//! happened to produce a readable archive head still leaves nothing behind.
//!
//! Only this part knows both layers, so it decides what a reader of the payload failing means:
//! bad padding, a payload that is not an archive, a decompressor error and a stream that ends
//! early are all the one [`EncError::DecryptionFailed`], one sentence with no detail. Telling them
//! apart would tell an attacker who tampers with the file whether its padding was valid (a padding
//! oracle, Vaudenay 2002; issue 9). A signature over the file is what rules tampering out: that is
//! why `--sha256` and `--pubkey` check the ciphertext before any of this runs.

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
    /// Decryption failed although the parameters came from a verified signature, which also
    /// covers every byte of the file: the passphrase is what is wrong.
    #[error("cannot decrypt: wrong passphrase (the file and its parameters are signed)")]
    SignedParams {
        /// The parameters the signature gave.
        params: Params,
    },
    /// The payload held a refused or malformed entry (a payload that cannot be read is
    /// [`EncError::DecryptionFailed`]).
    #[error(transparent)]
    Archive(ArchiveError),
}

impl OpenError {
    /// Says that the decryption parameters were taken from a verified signature, not from flags:
    /// a decryption failure then blames the passphrase and names the signed parameters instead of
    /// the flags (`bundle-bootstrap` with `--pubkey`). Any other error is returned as it was.
    pub fn with_signed_params(self, params: &Params) -> OpenError {
        match self {
            OpenError::Enc(EncError::DecryptionFailed) => {
                OpenError::SignedParams { params: *params }
            }
            other => other,
        }
    }
}

impl From<ArchiveError> for OpenError {
    /// Everything that stops the payload from being read becomes the one opaque decryption
    /// failure (see the module documentation); only a failure of the file itself (not bad
    /// padding) keeps its own error.
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Input { source } if !enc::is_decryption_failure(&source) => {
                OpenError::Enc(EncError::Io(source))
            }
            ArchiveError::Input { .. } | ArchiveError::Unreadable | ArchiveError::Stream { .. } => {
                OpenError::Enc(EncError::DecryptionFailed)
            }
            other => OpenError::Archive(other),
        }
    }
}

impl Classify for OpenError {
    fn exit(&self) -> Exit {
        match self {
            OpenError::Open { .. } => Exit::Usage,
            OpenError::Enc(e) => e.exit(),
            OpenError::SignedParams { .. } => Exit::Verify,
            OpenError::Archive(e) => e.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            OpenError::Open { .. } => Some("check the path of the bundle file".to_string()),
            OpenError::Enc(e) => e.hint(),
            OpenError::SignedParams { params } => Some(format!(
                "the signed parameters are {}; the passphrase is the likely culprit: check --pass (or BUNDLE_PASSPHRASE)",
                params.openssl_flags()
            )),
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
    let decrypted = decrypt(bundle, pass, params)?;
    Ok(archive::unpack(decrypted, dest, limits, progress)?)
}

/// Decrypts `bundle` and unpacks it into the existing folder `dir`, like `tar -C dir`
/// ([`archive::unpack_in`]); nothing is placed unless the whole file decrypted and unpacked cleanly.
pub fn decrypt_unpack_in(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
    dir: &Path,
    limits: &Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Unpacked, OpenError> {
    let decrypted = decrypt(bundle, pass, params)?;
    Ok(archive::unpack_in(decrypted, dir, limits, progress)?)
}

/// The plaintext of `bundle`, decrypted on a thread of its own.
fn decrypt(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
) -> Result<archive::ReadAhead, OpenError> {
    let file = File::open(bundle).map_err(|source| OpenError::Open {
        path: bundle.to_path_buf(),
        source,
    })?;
    let decrypted = enc::Decryptor::new(
        BufReader::with_capacity(READ_BUFFER, file),
        pass.expose(),
        params,
    )?;
    Ok(archive::ReadAhead::new(decrypted))
}
