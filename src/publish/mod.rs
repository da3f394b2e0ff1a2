//! Publishing signed bundles so an instance booting mid-publish sees the old release or the new one,
//! never a mix (seed 001's race), and rolling back without going back in sequence numbers.
//!
//! Layout of a destination (a folder, later also `s3://bucket/prefix`), for a bundle named NAME:
//!
//! - `NAME/<sha256>.bundle` and `NAME/<sha256>.bundle.minisig` — content-addressed releases, written
//!   first and never changed (a rollback writes a fresh signature for an old release, same bytes);
//! - `NAME.latest` — the pointer, written last in one atomic step: it *is* the `.minisig` of the
//!   current release. Its signed trusted comment names the release's sha256 (so where the bytes
//!   are), sequence number and decryption parameters; one file, so a reader cannot see a new pointer
//!   with an old signature.
//!
//! This part moves files and reads trusted comments; it signs nothing itself (that is `sign`) and
//! opens no bundle.

pub mod folder;
pub mod release;
pub mod s3;
mod s3_error;
mod s3_list;
pub mod s3_prefix;

use std::io;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Exit};
use crate::sign::comment::CommentError;

pub use folder::Folder;
pub use release::{Found, Published, Release, find_release, list_releases, publish, republish};

pub use crate::pointer::{
    BUNDLE_SUFFIX, POINTER_SUFFIX, bundle_key, is_pointer, pointer_key, pointer_name, release_url,
    trusted_facts,
};

/// Where releases are published: a folder today, an S3 prefix tomorrow.
pub trait Destination {
    /// Stores `local` under `key` so that readers see either nothing (or the old object) or the
    /// whole new one.
    fn put(&self, key: &str, local: &Path) -> Result<(), PublishError>;
    /// The bytes stored under `key`, or None when there is nothing.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError>;
    /// The keys directly under `prefix` (which ends with `/`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError>;
    /// Copies the object under `key` into the local file `to`.
    fn fetch_to(&self, key: &str, to: &Path) -> Result<(), PublishError>;
    /// How the destination is named to people.
    fn describe(&self) -> String;
    /// Refuses a destination that does not exist (a mistyped folder), where reading it would
    /// otherwise look like "nothing published". Listing an S3 bucket that does not exist fails on
    /// its own.
    fn check_exists(&self) -> Result<(), PublishError> {
        Ok(())
    }
    /// Where the credentials that sign the calls came from (no secret), when there are any.
    fn credentials(&self) -> Option<String> {
        None
    }
}

/// Opens a destination: `s3://bucket/prefix`, or a folder path.
pub fn open(spec: &str, s3: &s3::S3Config) -> Result<Box<dyn Destination>, PublishError> {
    if spec.starts_with("s3://") {
        Ok(Box::new(s3_prefix::S3Prefix::open(spec, s3)?))
    } else {
        Ok(Box::new(Folder::new(Path::new(spec))))
    }
}

/// Why publishing or listing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bundle has no signature beside it: only signed bundles are published.
    #[error("{0} has no signature beside it")]
    NotSigned(PathBuf),
    /// A signature's trusted comment is not ours.
    #[error("the signature {what} does not carry startup-bundle's trusted comment")]
    Comment {
        /// Which signature.
        what: String,
        /// The cause.
        #[source]
        source: CommentError,
    },
    /// The signature is for other bytes than the file beside it.
    #[error("{path} has sha256 {actual}, but its signature is for {signed}")]
    Mismatch {
        /// The bundle.
        path: PathBuf,
        /// What the signature says.
        signed: String,
        /// What the file is.
        actual: String,
    },
    /// Publishing a lower sequence number than the current release: instances would refuse it.
    #[error("{name} seq {seq} is lower than the published seq {current}")]
    Older {
        /// Bundle name.
        name: String,
        /// The sequence number being published.
        seq: u64,
        /// The one already published.
        current: u64,
    },
    /// No published release has that sequence number, sha256 or version.
    #[error("no release of {name} has the seq, sha256 or version {from:?} in {dest}")]
    NoSuchRelease {
        /// Bundle name.
        name: String,
        /// What `--from` said.
        from: String,
        /// The destination.
        dest: String,
    },
    /// Several published releases have that version.
    #[error("{from:?} names several releases of {name}: seq {}", seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// Bundle name.
        name: String,
        /// What `--from` said.
        from: String,
        /// Their sequence numbers.
        seqs: Vec<u64>,
    },
    /// The destination folder does not exist: nothing was ever published there.
    #[error("the destination {0} does not exist")]
    NoDestination(String),
    /// Nothing is published under that name.
    #[error("nothing named {name} is published in {dest}")]
    NothingPublished {
        /// Bundle name.
        name: String,
        /// The destination.
        dest: String,
    },
    /// An S3 call failed.
    #[error(transparent)]
    S3(#[from] s3_error::S3Error),
    /// Signing the rolled-back release failed.
    #[error(transparent)]
    Sign(#[from] crate::sign::create::SignError),
    /// A file or object could not be read or written.
    #[error("cannot {op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file, folder or key.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for PublishError {
    fn exit(&self) -> Exit {
        match self {
            PublishError::Sign(e) => e.exit(),
            PublishError::S3(e) => e.exit(),
            PublishError::Mismatch { .. } | PublishError::Comment { .. } => Exit::Verify,
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            PublishError::NotSigned(_) => "pack it with --sign KEY, or sign it with `bundle sign`".into(),
            PublishError::Comment { .. } => "sign it with `bundle pack --sign` or `bundle sign`".into(),
            PublishError::Mismatch { .. } => "the bundle changed after it was signed: sign it again".into(),
            PublishError::Older { .. } => {
                "to go back to an earlier release, use `bundle publish --from SEQ|SHA256|VERSION`: it republishes it under a new seq".into()
            }
            PublishError::NoSuchRelease { .. } | PublishError::NothingPublished { .. } => {
                "`bundle releases --from DEST` lists what is published".into()
            }
            PublishError::Ambiguous { .. } => "give one of their seq numbers, or a sha256".into(),
            PublishError::NoDestination(_) => {
                "check the path: `bundle publish FILE --to DEST` creates it".into()
            }
            PublishError::Sign(e) => return e.hint(),
            PublishError::S3(e) => return e.hint(),
            PublishError::Io { .. } => "check the destination path and its permissions".into(),
        })
    }
}
