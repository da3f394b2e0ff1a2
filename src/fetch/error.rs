//! Why a fetch failed, and which exit status and hint that maps to.
//!
//! Owns only the error enum and its classification; every URL stored here is already redacted
//! (see [`super::redact`]) because presigned URLs carry credentials in their query string.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::redirect::RedirectRefusal;
pub use super::tls::TlsProblem;

use crate::aws::error::Code;
use crate::duration::human;
use crate::exit::{Classify, Exit};

/// How a size cap was hit: announced by the server, or found while streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// The Content-Length (or Content-Range total) was already over the cap.
    Announced,
    /// More bytes arrived than the cap allows.
    Streamed,
}

/// Everything that can stop a fetch. URLs in here are redacted.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be parsed.
    #[error("bad URL {url}: {reason}")]
    BadUrl {
        /// The offending URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scheme this tool does not speak at all.
    #[error(
        "unsupported URL scheme `{scheme}` in {url}: use https://, http://, s3://, file:// or a path"
    )]
    UnsupportedScheme {
        /// The URL, redacted.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// `--ca-file` could not be read.
    #[error("cannot read the CA file {}", path.display())]
    CaFileUnreadable {
        /// The CA file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },
    /// `--ca-file` holds no usable PEM certificate.
    #[error("the CA file {} holds no usable PEM certificate: {reason}", path.display())]
    CaFileInvalid {
        /// The CA file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS configuration could not be assembled (a bug or an unusable provider).
    #[error("cannot set up TLS: {reason}")]
    TlsSetup {
        /// What the TLS library said.
        reason: String,
    },
    /// The private temporary file could not be created in the destination folder.
    #[error("cannot create a temporary file in {}", dir.display())]
    TempFile {
        /// The destination folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing the downloaded bytes to the temporary file failed.
    #[error("cannot write the download to {}", path.display())]
    Write {
        /// The temporary file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The disk holding the download folder is full, or a quota or file size limit was hit.
    #[error("no space left in {} for {url} after {}", dir.display(), crate::size::human(*written))]
    NoSpace {
        /// The download folder.
        dir: PathBuf,
        /// The URL or path being fetched, redacted.
        url: String,
        /// Bytes written before the disk said no.
        written: u64,
        /// What the disk said.
        #[source]
        source: io::Error,
    },
    /// A local file (file:// or a path) could not be opened or read.
    #[error("cannot read {}", path.display())]
    Local {
        /// The local file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client")]
    Client {
        /// What reqwest said (without URL).
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a status that retrying will not fix.
    #[error("HTTP {status} {reason} from {url}{}", redirected_from(from))]
    Status {
        /// The URL that answered, redacted: where redirects led.
        url: String,
        /// The URL given, redacted, when redirects led elsewhere.
        from: Option<String>,
        /// The status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The server's certificate was refused, or the TLS handshake failed.
    #[error("TLS failed for {url}: {reason}")]
    Tls {
        /// The URL, redacted.
        url: String,
        /// What rustls said.
        reason: String,
        /// What kind of failure, for the hint.
        problem: TlsProblem,
        /// The `--ca-file` that was given, if any.
        ca_file: Option<PathBuf>,
    },
    /// A redirect this tool will not follow.
    #[error("{url} redirected to {target}, which is refused: {why}")]
    Redirect {
        /// The URL that answered with the redirect, redacted.
        url: String,
        /// The `Location` it named, redacted.
        target: String,
        /// Why it is refused.
        why: RedirectRefusal,
    },
    /// A request failed in a way that retrying will not fix (too many redirects, …).
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL, redacted.
        url: String,
        /// The root cause.
        reason: String,
    },
    /// The download is bigger than `--max-size`.
    #[error("{url} is larger than --max-size ({}{})", over(*size, *max), match how {
        Overrun::Announced => ", known before downloading",
        Overrun::Streamed => ", found while downloading",
    })]
    TooLarge {
        /// The URL or path, redacted.
        url: String,
        /// The size announced, or the bytes received so far.
        size: u64,
        /// The cap.
        max: u64,
        /// Announced or streamed.
        how: Overrun,
    },
    /// S3 refused the credentials or the request (403): wrong secret, no permission, a clock
    /// too far off, or a private object read anonymously.
    #[error(
        "S3 refused {url} (HTTP {status}{}) signed with {signer}",
        code_text(code)
    )]
    S3Denied {
        /// `s3://bucket/key`.
        url: String,
        /// The HTTP status.
        status: u16,
        /// S3's error code (`AccessDenied`, `SignatureDoesNotMatch`, …), or empty.
        code: String,
        /// Who signed: the credential source and shortened key id, or "no credentials".
        signer: String,
        /// True when no credentials were found and the request went unsigned.
        anonymous: bool,
    },
    /// The bucket or key does not exist (404).
    #[error("S3 has no {url} (HTTP 404{})", code_text(code))]
    S3NotFound {
        /// `s3://bucket/key`.
        url: String,
        /// S3's error code (`NoSuchKey`, `NoSuchBucket`), or empty.
        code: String,
    },
    /// The bucket lives in another region than the one the request was signed for.
    #[error("the bucket of {url} is in {bucket_region}, not {region}")]
    S3WrongRegion {
        /// `s3://bucket/key`.
        url: String,
        /// The region used.
        region: String,
        /// The region S3 named.
        bucket_region: String,
    },
    /// An `s3://` address, region or endpoint that cannot be used, or credentials that HTTP
    /// headers cannot carry.
    #[error(transparent)]
    S3Address(#[from] crate::aws::s3::RequestError),
    /// `--retry-for` ran out: between failed attempts, or while a body was still arriving.
    #[error(
        "gave up on {url}: --retry-for ({}) ran out after {attempts} attempt{}; {last}",
        human(*retry_for),
        if *attempts == 1 { "" } else { "s" }
    )]
    GaveUp {
        /// The URL, redacted.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The budget that ran out (one for the whole fetch stage of a run).
        retry_for: Duration,
        /// What the last attempt said, or why none was made.
        last: String,
    },
}

impl FetchError {
    /// A 304 Not Modified to a request that carried no condition, which the download refuses
    /// like any other unexpected status: what a caller reports if one ever reaches it.
    pub fn not_modified(url: &str) -> FetchError {
        FetchError::Status {
            from: None,
            url: super::redact(url),
            status: 304,
            reason: "Not Modified".into(),
        }
    }

    /// The error for a failed write of the download to `path` (inside the download folder), after
    /// `written` bytes of `url`: [`FetchError::NoSpace`] when the disk is full, else `Write`.
    pub(crate) fn write(path: &Path, url: &str, written: u64, source: io::Error) -> FetchError {
        use io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
        match source.kind() {
            StorageFull | QuotaExceeded | FileTooLarge => FetchError::NoSpace {
                dir: path.parent().unwrap_or(path).to_path_buf(),
                url: url.to_string(),
                written,
                source,
            },
            _ => FetchError::Write {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// ` (redirected from URL)` when redirects led elsewhere, for messages.
fn redirected_from(from: &Option<String>) -> String {
    from.as_ref()
        .map(|from| format!(" (redirected from {from})"))
        .unwrap_or_default()
}

/// `, CODE` when S3 named an error code, for messages.
fn code_text(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(", {code}")
    }
}

impl Classify for FetchError {
    fn exit(&self) -> Exit {
        match self {
            FetchError::BadUrl { .. }
            | FetchError::UnsupportedScheme { .. }
            | FetchError::S3Address(_)
            | FetchError::CaFileUnreadable { .. }
            | FetchError::CaFileInvalid { .. }
            // Local problems: nothing the server or a retry can fix.
            | FetchError::TempFile { .. }
            | FetchError::Write { .. }
            | FetchError::NoSpace { .. } => Exit::Usage,
            _ => Exit::Fetch,
        }
    }

    fn hint(&self) -> Option<String> {
        let text = match self {
            FetchError::S3Denied {
                anonymous: true, ..
            } => {
                "the object is private and no credentials were found: set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, or give the instance a role (IMDSv2) allowed s3:GetObject"
            }
            FetchError::S3Denied { code, .. } if Code::of(code) == Code::WrongKey => {
                "check the credentials: the access key or its secret is wrong (AWS_* variables or \
                 the instance role)"
            }
            FetchError::S3Denied { code, .. } if Code::of(code).advice().is_some() => {
                return Code::of(code).advice().map(str::to_string);
            }
            FetchError::S3Denied { .. } => {
                "check the credentials and that the IAM or bucket policy allows s3:GetObject on \
                 the key"
            }
            FetchError::S3NotFound { .. } => {
                "check the bucket and key, and that the bundle was published"
            }
            FetchError::S3WrongRegion { bucket_region, .. } => {
                return Some(format!("pass --region {bucket_region}"));
            }
            FetchError::Status { status: 404, .. } => {
                "check the URL and that the bundle was published"
            }
            FetchError::Status {
                status: 401 | 403, ..
            } => "the object is private: check the bucket policy or use a presigned URL",
            FetchError::Status { status: 410, .. } => "check the URL: the bundle was removed",
            FetchError::Tls {
                problem, ca_file, ..
            } => return Some(problem.hint(ca_file.as_deref())),
            FetchError::Redirect { why, .. } => return Some(why.hint()),
            FetchError::NoSpace { dir, .. } => {
                return Some(format!(
                    "free space in {} (a download needs its whole size there), or give \
                     --state-dir a larger disk",
                    dir.display()
                ));
            }
            FetchError::GaveUp { .. } => {
                "--retry-for bounds the whole fetch (pointer, bundle and signature, slow bodies \
                 and retries included): raise it, or check the network and the server"
            }
            FetchError::TooLarge { .. } => "raise --max-size",
            FetchError::CaFileInvalid { .. } => {
                "--ca-file takes PEM certificates (BEGIN CERTIFICATE)"
            }
            FetchError::Local { .. } => "check the path",
            _ => return None,
        };
        Some(text.to_string())
    }
}

/// `12.3 MiB > 10.0 MiB`: a size over its cap, for people.
fn over(size: u64, max: u64) -> String {
    let (size, max) = crate::size::human_pair(size, max);
    format!("{size} > {max}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> FetchError {
        FetchError::Status {
            url: "https://example.com/b.enc".into(),
            from: None,
            status: code,
            reason: String::new(),
        }
    }

    #[test]
    fn configuration_mistakes_are_usage_errors() {
        let e = FetchError::UnsupportedScheme {
            url: "ftp://b/k".into(),
            scheme: "ftp".into(),
        };
        assert_eq!(e.exit(), Exit::Usage);
        assert_eq!(status(503).exit(), Exit::Fetch);
    }

    #[test]
    fn s3_refusals_say_what_to_fix() {
        let denied = |code: &str, anonymous: bool| FetchError::S3Denied {
            url: "s3://b/k".into(),
            status: 403,
            code: code.into(),
            signer: "AKIA… from the environment".into(),
            anonymous,
        };
        let wrong = denied("SignatureDoesNotMatch", false);
        assert_eq!(wrong.exit(), Exit::Fetch);
        assert_eq!(
            wrong.to_string(),
            "S3 refused s3://b/k (HTTP 403, SignatureDoesNotMatch) signed with AKIA… from the environment"
        );
        assert!(wrong.hint().unwrap().contains("secret is wrong"));
        assert!(denied("", true).hint().unwrap().contains("no credentials"));
        assert!(
            denied("AccessDenied", false)
                .hint()
                .unwrap()
                .contains("policy")
        );
        assert!(
            denied("RequestTimeTooSkewed", false)
                .hint()
                .unwrap()
                .contains("clock")
        );
        let region = FetchError::S3WrongRegion {
            url: "s3://b/k".into(),
            region: "us-east-1".into(),
            bucket_region: "eu-west-1".into(),
        };
        assert_eq!(region.hint().unwrap(), "pass --region eu-west-1");
        let missing = FetchError::S3NotFound {
            url: "s3://b/k".into(),
            code: "NoSuchKey".into(),
        };
        assert_eq!(
            (missing.exit(), missing.to_string().as_str()),
            (Exit::Fetch, "S3 has no s3://b/k (HTTP 404, NoSuchKey)")
        );
    }

    #[test]
    fn statuses_carry_their_hints() {
        assert!(status(404).hint().unwrap().contains("published"));
        assert!(status(403).hint().unwrap().contains("presigned"));
        assert_eq!(status(418).hint(), None);
    }
}
