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
use crate::sign::comment::{CommentError, TrustedFacts};

pub use folder::Folder;
pub use release::{Published, Release, list_releases, publish, republish};

/// File name suffix of a release pointer.
pub const POINTER_SUFFIX: &str = ".latest";
/// File name suffix of a release in its name's folder.
pub const BUNDLE_SUFFIX: &str = ".bundle";

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
}

/// Opens a destination: `s3://bucket/prefix`, or a folder path.
pub fn open(spec: &str, s3: &s3::S3Config) -> Result<Box<dyn Destination>, PublishError> {
    if spec.starts_with("s3://") {
        Ok(Box::new(s3_prefix::S3Prefix::open(spec, s3)?))
    } else {
        Ok(Box::new(Folder::new(Path::new(spec))))
    }
}

/// The key of a release's bundle file.
pub fn bundle_key(name: &str, sha256: &str) -> String {
    format!("{name}/{sha256}{BUNDLE_SUFFIX}")
}

/// The key of a name's pointer.
pub fn pointer_key(name: &str) -> String {
    format!("{name}{POINTER_SUFFIX}")
}

/// True when `url` names a pointer (`…/NAME.latest`, query ignored).
pub fn is_pointer(url: &str) -> bool {
    strip_query(url).ends_with(POINTER_SUFFIX)
}

/// The bundle name a pointer URL stands for: `…/web.latest?…` → `web`.
pub fn pointer_name(pointer_url: &str) -> &str {
    let plain = strip_query(pointer_url);
    let file = plain.rsplit('/').next().unwrap_or(plain);
    file.strip_suffix(POINTER_SUFFIX).unwrap_or(file)
}

/// The URL of the release a pointer at `pointer_url` designates, by its signed facts.
pub fn release_url(pointer_url: &str, facts: &TrustedFacts) -> String {
    let plain = strip_query(pointer_url);
    let base = match plain.rsplit_once('/') {
        Some((base, _)) => format!("{base}/"),
        None => String::new(),
    };
    format!("{base}{}", bundle_key(&facts.name, &facts.sha256))
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The trusted comment of a `.minisig` text (unverified: the caller verifies it with the bundle).
pub fn trusted_facts(minisig: &str) -> Result<TrustedFacts, CommentError> {
    let comment = minisig
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .ok_or_else(|| CommentError::Malformed {
            reason: "no trusted comment line".into(),
        })?;
    TrustedFacts::parse(comment.trim_end())
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
    /// No published release has that sequence number.
    #[error("no release of {name} with seq {seq} in {dest}")]
    NoSuchRelease {
        /// Bundle name.
        name: String,
        /// The sequence number asked for.
        seq: u64,
        /// The destination.
        dest: String,
    },
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
                "to go back to an earlier release, use `bundle publish --from SEQ`: it republishes it under a new seq".into()
            }
            PublishError::NoSuchRelease { .. } | PublishError::NothingPublished { .. } => {
                "`bundle releases --from DEST` lists what is published".into()
            }
            PublishError::Sign(e) => return e.hint(),
            PublishError::S3(e) => return e.hint(),
            PublishError::Io { .. } => "check the destination path and its permissions".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_name_their_release_beside_them() {
        let facts = TrustedFacts {
            name: "shop".into(),
            version: "1".into(),
            seq: 3,
            sha256: "ab".repeat(32),
            params: crate::enc::Params::default(),
            expires: None,
        };
        let sha = "ab".repeat(32);
        assert!(is_pointer("http://h/x/shop.latest?sig=1"));
        assert!(!is_pointer("http://h/x/shop.bundle"));
        assert_eq!(
            release_url("http://h/x/shop.latest?q", &facts),
            format!("http://h/x/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("s3://b/p/shop.latest", &facts),
            format!("s3://b/p/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("/srv/shop.latest", &facts),
            format!("/srv/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("shop.latest", &facts),
            format!("shop/{sha}.bundle")
        );
    }
}
