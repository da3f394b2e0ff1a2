//! The fetch stage: what the URL designates, downloaded into the state folder's `downloads/`, with
//! the signature text that must vouch for it — `URL.minisig`, or the release pointer itself.
//!
//! Nothing here is trusted yet: the verify stage checks the signature over these bytes.
//!
//! `--retry-for` is the budget of the whole stage, not of each file: [`designated`] starts the
//! clock once, and the pointer, the bundle and its `.minisig` share it, so a slow server cannot
//! hold a run (its lock, its failure hook) for three budgets.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::Digest as _;

use crate::fetch::{self, FetchError, FetchOptions, Fetched, Validators};
use crate::pointer;
use crate::sign::{self, VerifyError};
use crate::state::{FetchedAs, ReleaseRecord};

use super::error::BootError;
use super::options::BootOptions;

/// A downloaded file, removed when dropped.
#[derive(Debug)]
pub struct Download {
    /// What the fetch produced.
    pub fetched: Fetched,
    /// The folder it was downloaded into (the run's `downloads/`).
    downloads: PathBuf,
}

impl Download {
    /// The file on disk.
    pub fn path(&self) -> &Path {
        &self.fetched.path
    }

    /// Its sha256, lower-case hex.
    pub fn sha256(&self) -> String {
        self.fetched.sha256_hex()
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.fetched.path);
    }
}

/// Where a signature came from and what it says (unverified).
#[derive(Debug, Clone)]
pub struct SignatureText {
    /// The (redacted) URL of the `.minisig` or of the pointer.
    pub origin: String,
    /// The text.
    pub text: String,
}

/// The fetched bundle and its signature.
#[derive(Debug)]
pub struct Source {
    /// The URL of the bytes: a pointer's release, or the URL given.
    pub url: String,
    /// The bundle file.
    pub download: Download,
    /// The signature to check, when `--pubkey` was given.
    pub signature: Option<SignatureText>,
    /// The end of the fetch stage's `--retry-for`, for the `.minisig`.
    deadline: Instant,
    /// What was fetched, for the log: `fetched URL (SIZE, sha256 HEX)`.
    pub said: String,
}

/// The signature (pointer or `.minisig`) and where the bytes are, before the bundle is fetched:
/// `watch` uses this alone to see whether anything changed.
#[derive(Debug)]
pub struct Designated {
    /// The URL of the bytes.
    pub url: String,
    /// The sha256 a pointer's comment names (unverified), when the URL is a pointer.
    pub pointed_sha256: Option<String>,
    /// The pointer's text, when the URL is a pointer (it is the release's signature).
    pub pointer: Option<SignatureText>,
    /// The end of the fetch stage's `--retry-for`, started by [`designated`].
    deadline: Instant,
    /// What the pointer said, for the log (`URL points at NAME VERSION seq N: URL`); a caller
    /// that finds nothing changed need not say it.
    pub said: Option<String>,
}

/// Follows a release pointer (`…/NAME.latest`): fetches it and returns the URL of the release its
/// signed comment names. Not a pointer: the URL as given. The comment is only trusted once the
/// verify stage checked it with the release's bytes.
pub fn designated(
    opts: &BootOptions,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Designated, BootError> {
    let deadline = opts.fetch.deadline_from_now();
    if !pointer::is_pointer(&opts.url) {
        return Ok(Designated {
            url: opts.url.clone(),
            pointed_sha256: None,
            pointer: None,
            deadline,
            said: None,
        });
    }
    let shown = fetch::redact(&opts.url);
    if opts.signature.keys.is_empty() {
        return Err(BootError::UnsignedPointer { url: shown });
    }
    let text = fetch_small_text(&opts.url, &opts.fetch.until(deadline), downloads, log)?;
    let facts = pointer::trusted_facts(&text).map_err(|e| VerifyError::Malformed {
        origin: shown.clone(),
        reason: e.to_string(),
    })?;
    let expected = opts.expected_name();
    if facts.name != expected {
        return Err(VerifyError::NameMismatch {
            signed: facts.name,
            expected: expected.to_string(),
        }
        .into());
    }
    let url = pointer::release_url(&opts.url, &facts);
    let said = format!(
        "{shown} points at {} {} seq {}: {}",
        facts.name,
        facts.version,
        facts.seq,
        fetch::redact(&url)
    );
    Ok(Designated {
        url,
        pointed_sha256: Some(facts.sha256),
        pointer: Some(SignatureText {
            origin: shown,
            text,
        }),
        deadline,
        said: Some(said),
    })
}

/// Downloads the designated bytes. A pointer's text comes along as their signature; a direct
/// URL's `.minisig` is fetched by [`attach_signature`], once the bytes are known to be needed.
pub fn fetch_designated(
    opts: &BootOptions,
    designated: Designated,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Source, BootError> {
    let url = designated.url.clone();
    // Not asked conditionally, so the download refuses a 304 before this.
    fetch_designated_if_changed(opts, designated, None, downloads, log)?
        .ok_or_else(|| FetchError::not_modified(&url).into())
}

/// [`fetch_designated`], asked with `known` validators (a conditional GET): None when the
/// server still has the bytes they describe, and nothing was downloaded.
pub fn fetch_designated_if_changed(
    opts: &BootOptions,
    designated: Designated,
    known: Option<&Validators>,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Option<Source>, BootError> {
    let within = FetchOptions {
        progress: opts.progress,
        ..opts.fetch.until(designated.deadline)
    };
    let fetched = match fetch::fetch_if_changed(&designated.url, downloads, &within, known, log)? {
        fetch::Answer::NotModified => return Ok(None),
        fetch::Answer::Fetched(fetched) => fetched,
    };
    let download = Download {
        fetched,
        downloads: downloads.to_path_buf(),
    };
    let said = format!(
        "fetched {} ({}, sha256 {})",
        fetch::redact(&designated.url),
        crate::size::human(download.fetched.size),
        download.sha256()
    );
    Ok(Some(Source {
        url: designated.url,
        download,
        // A release pointer *is* the release's signature.
        signature: designated.pointer,
        deadline: designated.deadline,
        said,
    }))
}

/// How `url` answered with `validators`, as the state folder keeps it with the release.
pub fn fetched_as(url: &str, validators: &Validators) -> FetchedAs {
    FetchedAs {
        url_sha256: crate::hashing::hex(&sha2::Sha256::digest(url.as_bytes())),
        etag: validators.etag.clone(),
        last_modified: validators.last_modified.clone(),
    }
}

/// The validators kept with `record`, when they were given for `url`.
pub fn known_validators(url: &str, record: &ReleaseRecord) -> Option<Validators> {
    let kept = record.fetched_as.as_ref()?;
    let asked = fetched_as(url, &Validators::default());
    (kept.url_sha256 == asked.url_sha256).then(|| Validators {
        etag: kept.etag.clone(),
        last_modified: kept.last_modified.clone(),
    })
}

/// With `--pubkey` and a direct URL: fetches `URL.minisig` into the source.
pub fn attach_signature(
    opts: &BootOptions,
    source: &mut Source,
    log: &mut dyn FnMut(&str),
) -> Result<(), BootError> {
    if source.signature.is_some() || opts.signature.keys.is_empty() {
        return Ok(());
    }
    let downloads = source.download.downloads.clone();
    let within = opts.fetch.until(source.deadline);
    source.signature = Some(fetch_signature(&source.url, &within, &downloads, log)?);
    Ok(())
}

/// Fetches `URL.minisig`; a missing one is "not signed" (exit 3), not a fetch failure.
pub fn fetch_signature(
    bundle_url: &str,
    fetch_opts: &FetchOptions,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<SignatureText, BootError> {
    let url = sign::sig_url(bundle_url);
    let origin = fetch::redact(&url);
    match fetch_small_text(&url, fetch_opts, downloads, log) {
        Ok(text) => Ok(SignatureText { origin, text }),
        Err(BootError::Fetch(e)) if is_missing(&e) => Err(VerifyError::NotSigned {
            what: fetch::redact(bundle_url),
            sig: origin,
        }
        .into()),
        Err(e) => Err(e),
    }
}

/// Downloads a signature-sized text file (a `.minisig` or a pointer).
pub fn fetch_small_text(
    url: &str,
    fetch_opts: &FetchOptions,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<String, BootError> {
    let small = FetchOptions {
        max_size: sign::MAX_SIGNATURE_SIZE,
        ..fetch_opts.clone()
    };
    let fetched = match fetch::fetch(url, downloads, &small, log) {
        Ok(fetched) => fetched,
        // The cap here is ours, not --max-size's, which cannot help: say what it means.
        Err(FetchError::TooLarge { .. }) => {
            return Err(VerifyError::Malformed {
                origin: fetch::redact(url),
                reason: format!(
                    "it is larger than {}, so it is not a minisign signature or release pointer",
                    crate::size::human(sign::MAX_SIGNATURE_SIZE)
                ),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let download = Download {
        fetched,
        downloads: downloads.to_path_buf(),
    };
    let bytes = fs::read(download.path()).map_err(|source| FetchError::Write {
        path: PathBuf::from(download.path()),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| {
        VerifyError::Malformed {
            origin: fetch::redact(url),
            reason: "not text".into(),
        }
        .into()
    })
}

/// A signature that is not there, as opposed to one that could not be fetched.
fn is_missing(e: &FetchError) -> bool {
    match e {
        FetchError::Status { status, .. } => matches!(status, 404 | 410),
        FetchError::Local { source, .. } => source.kind() == io::ErrorKind::NotFound,
        _ => false,
    }
}
