//! A bundle named the way an instance names it — a path, an `http(s)://`, `file://` or `s3://`
//! URL, or a release pointer (`…/NAME.latest`) — fetched for `bundle verify` and `bundle inspect`
//! into a private scratch folder, with the signature text that vouches for it.
//!
//! Uses the bootstrap's own fetch (retries, TLS, size caps, S3) and its pointer rules
//! ([`crate::pointer`], [`crate::boot::source`]), so the publisher checks what an instance would
//! download. Nothing here is trusted: the pointer's facts are read to find the release, and the
//! caller verifies them with [`crate::sign::policy`] or says they are unverified. Decrypts nothing.

use std::io;
use std::path::PathBuf;

use crate::boot::BootError;
use crate::boot::source::{SignatureText, fetch_signature, fetch_small_text};
use crate::exit::{Classify, Exit};
use crate::fetch::{self, FetchError, FetchOptions};
use crate::pointer;
use crate::scratch::ScratchDir;
use crate::sign::{TrustedFacts, VerifyError};

/// Why a bundle could not be fetched, or its pointer followed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A pointer or signature could not be fetched or read.
    #[error(transparent)]
    Small(#[from] BootError),
    /// The pointer's comment is not ours.
    #[error(transparent)]
    Signature(#[from] VerifyError),
    /// The release fetched is not the one the pointer names.
    #[error("{url} has sha256 {actual}, but the pointer {pointer} names {named}")]
    NotNamed {
        /// The release's (redacted) URL.
        url: String,
        /// The pointer's (redacted) URL.
        pointer: String,
        /// The sha256 the pointer names.
        named: String,
        /// What was fetched.
        actual: String,
    },
    /// The scratch folder could not be made.
    #[error("cannot create a scratch folder")]
    Scratch(#[source] io::Error),
}

impl Classify for RemoteError {
    fn exit(&self) -> Exit {
        match self {
            RemoteError::Fetch(e) => e.exit(),
            RemoteError::Small(e) => e.exit(),
            RemoteError::Signature(e) => e.exit(),
            RemoteError::NotNamed { .. } => Exit::Verify,
            RemoteError::Scratch(_) => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RemoteError::Fetch(e) => e.hint(),
            RemoteError::Small(e) => e.hint(),
            RemoteError::Signature(e) => e.hint(),
            RemoteError::NotNamed { .. } => Some(
                "the release under the pointer was replaced: publish it again with `bundle publish`"
                    .into(),
            ),
            RemoteError::Scratch(_) => Some("check TMPDIR and its free space".into()),
        }
    }
}

/// True when `given` must be fetched (a URL or a pointer) rather than read in place.
pub fn is_remote(given: &str) -> bool {
    given.contains("://") || pointer::is_pointer(given)
}

/// Whether the signature beside a bundle URL is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Fetch `URL.minisig` too (a pointer is its own signature either way).
    Fetch,
    /// Only the bundle.
    Skip,
}

/// A bundle fetched into a private scratch folder, removed when dropped.
#[derive(Debug)]
pub struct Located {
    /// The bundle file.
    pub file: PathBuf,
    /// The URL of the bytes (redacted): a pointer's release, or the URL given.
    pub url: String,
    /// The file name the URL gives (what a bundle without `bundle.json` is named after).
    pub file_name: String,
    /// The name an instance booting the URL given expects a signature to vouch for.
    pub expected_name: String,
    /// The pointer's facts, unverified, when the URL given is a pointer.
    pub pointer: Option<TrustedFacts>,
    /// The signature: the pointer's text, or `URL.minisig` when asked for.
    pub signature: Option<SignatureText>,
    _scratch: ScratchDir,
}

/// Fetches what `given` designates, following a release pointer to its release (and checking the
/// release is the one the pointer names), with its signature when `signature` asks for it. Each
/// retry or redirect refusal is one line through `log`.
pub fn locate(
    given: &str,
    opts: &FetchOptions,
    signature: Signature,
    log: &mut dyn FnMut(&str),
) -> Result<Located, RemoteError> {
    let scratch = ScratchDir::create("bundle-fetch-").map_err(RemoteError::Scratch)?;
    let downloads = scratch.path().to_path_buf();
    let deadline = opts.deadline_from_now();
    let within = opts.until(deadline);
    let shown = fetch::redact(given);
    let (url, pointer, mut sig) = if pointer::is_pointer(given) {
        let text = fetch_small_text(given, &within, &downloads, log)?;
        let facts = pointer::trusted_facts(&text).map_err(|e| VerifyError::Malformed {
            origin: shown.clone(),
            reason: e.to_string(),
        })?;
        let url = pointer::release_url(given, &facts);
        let sig = SignatureText {
            origin: shown.clone(),
            text,
        };
        (url, Some(facts), Some(sig))
    } else {
        (given.to_string(), None, None)
    };
    let fetched = fetch::fetch(&url, &downloads, &within, log)?;
    let actual = fetched.sha256_hex();
    if let Some(facts) = &pointer
        && facts.sha256 != actual
    {
        return Err(RemoteError::NotNamed {
            url: fetch::redact(&url),
            pointer: shown,
            named: facts.sha256.clone(),
            actual,
        });
    }
    if sig.is_none() && signature == Signature::Fetch {
        sig = Some(fetch_signature(&url, &within, &downloads, log)?);
    }
    Ok(Located {
        file: fetched.path,
        url: fetch::redact(&url),
        file_name: fetched.name,
        expected_name: pointer::expected_name(given).to_string(),
        pointer,
        signature: sig,
        _scratch: scratch,
    })
}
