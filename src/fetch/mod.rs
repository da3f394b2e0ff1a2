//! Fetch: turns a URL (https://, http://, s3://, file:// or a plain path) into bytes in a private
//! temporary file, with its sha256 and size, retrying what the network at boot gets wrong.
//!
//! Owns URLs, HTTP, TLS, retries and size caps (DESIGN.md, "bundle-bootstrap": Fetch). Knows no
//! formats: no crypto, no tar; it never looks inside the bytes. The body is streamed to disk and
//! never held in memory. URLs are redacted in every log line and error, because presigned URLs
//! carry credentials in their query string.

mod error;
mod http;
mod local;
mod part;
mod redirect;
mod resume;
pub(crate) mod retry;
mod s3;
pub(crate) mod tls;
mod url;
mod validators;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use error::{FetchError, Overrun, RedirectRefusal, TlsProblem};
pub(crate) use http::client;
pub(crate) use redirect::Follow;
pub use s3::S3Options;
pub use tls::client_config as tls_config;
pub use url::{DEFAULT_NAME, redact};
pub use validators::Validators;

use crate::progress::Progress;
use part::Part;
use url::Source;

/// Default `--retry-for`: long enough for a network that comes up late at boot.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(5 * 60);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default stall timeout: no byte for this long and the attempt counts as failed.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `--max-size`: 2 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;
/// Default first backoff ceiling.
pub const DEFAULT_BACKOFF_START: Duration = Duration::from_millis(500);
/// Default largest backoff ceiling.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How hard to try, and what to accept.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Total time budget of a fetch, slow bodies and retries included (`--retry-for`); counted
    /// from `deadline`'s start when several fetches share it.
    pub retry_for: Duration,
    /// When the budget ends, for fetches that share one (see [`FetchOptions::until`]); None:
    /// `retry_for` from the start of each fetch.
    pub deadline: Option<Instant>,
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// How long to wait for the next byte (or the headers) before the attempt counts as failed.
    pub stall_timeout: Duration,
    /// Largest download accepted, in bytes (`--max-size`).
    pub max_size: u64,
    /// PEM file with extra CA certificates, added to the embedded roots (`--ca-file`).
    pub ca_file: Option<PathBuf>,
    /// Backoff ceiling after the first failure; it doubles after each further one.
    pub backoff_start: Duration,
    /// Largest backoff ceiling.
    pub backoff_max: Duration,
    /// How `s3://` URLs are reached: region, endpoint, IMDS.
    pub s3: S3Options,
    /// Progress lines while the body arrives (none by default).
    pub progress: Progress,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retry_for: DEFAULT_RETRY_FOR,
            deadline: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_size: DEFAULT_MAX_SIZE,
            ca_file: None,
            backoff_start: DEFAULT_BACKOFF_START,
            backoff_max: DEFAULT_BACKOFF_MAX,
            s3: S3Options::default(),
            progress: Progress::Quiet,
        }
    }
}

impl FetchOptions {
    /// The end of a `retry_for` budget that starts now, to share between fetches with
    /// [`FetchOptions::until`].
    pub fn deadline_from_now(&self) -> Instant {
        retry::deadline_after(self.retry_for)
    }

    /// These options with the budget ending at `deadline`: one boot's pointer, bundle and
    /// signature together get `--retry-for`, not one each.
    pub fn until(&self, deadline: Instant) -> FetchOptions {
        FetchOptions {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// When this fetch must be done: the shared deadline, or `retry_for` from now.
    fn deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| retry::deadline_after(self.retry_for))
    }
}

/// A completed fetch: the bytes sit in a temporary file the caller renames or deletes.
#[derive(Debug)]
pub struct Fetched {
    /// The temporary file (mode 0600) inside the destination folder.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, computed while streaming.
    pub sha256: [u8; 32],
    /// The last path segment of the URL (as written, without query), or the file name of a path;
    /// [`DEFAULT_NAME`] when empty. Taken from the URL given, not from where redirects led.
    pub name: String,
    /// What the server said identifies these bytes (`ETag`, `Last-Modified`), for a later
    /// [`fetch_if_changed`]; None for a local file or a server that sent none usable.
    pub validators: Option<Validators>,
}

impl Fetched {
    /// The sha256 as 64 lower-case hex digits.
    pub fn sha256_hex(&self) -> String {
        crate::hashing::hex(&self.sha256)
    }
}

/// What [`fetch_if_changed`] found.
#[derive(Debug)]
pub enum Answer {
    /// The server still has the bytes of the validators given (304): nothing was downloaded.
    NotModified,
    /// Other bytes (or the server ignored the condition): downloaded.
    Fetched(Fetched),
}

/// [`fetch`], but conditional when `known` is given and the URL is a web or S3 one: a server
/// that still has the bytes `known` describes answers 304 and nothing is downloaded
/// (`If-None-Match`, else `If-Modified-Since`; RFC 9110 §13.1). A local file is always copied.
pub fn fetch_if_changed(
    url: &str,
    dest_dir: &Path,
    opts: &FetchOptions,
    known: Option<&Validators>,
    log: &mut dyn FnMut(&str),
) -> Result<Answer, FetchError> {
    let source = url::parse(url)?;
    let create = |name: &str| {
        Part::create(dest_dir, opts.max_size)
            .map(|part| part.metered(opts.progress.meter(format!("downloading {name}"))))
            .map_err(|source| FetchError::TempFile {
                dir: dest_dir.to_path_buf(),
                source,
            })
    };
    let (part, name, answer) = match source {
        Source::Web(web) => {
            // TLS first, so a bad --ca-file leaves nothing behind in dest_dir.
            let tls = tls::client_config(opts.ca_file.as_deref())?;
            let name = url::web_name(&web);
            let mut part = create(&name)?;
            let answer = http::download(&web, tls, &mut part, opts, None, known, log)?;
            (part, name, answer)
        }
        Source::S3(location) => {
            let tls = tls::client_config(opts.ca_file.as_deref())?;
            let env = |name: &str| std::env::var(name).ok();
            let get = s3::prepare(location, &opts.s3, &env, tls.clone(), log)?;
            let name = get.name();
            let mut part = create(&name)?;
            let answer = http::download(&get.url, tls, &mut part, opts, Some(&get), known, log)?;
            (part, name, answer)
        }
        Source::Local(path) => {
            let name = url::local_name(&path);
            let mut part = create(&name)?;
            local::copy(&path, &mut part, opts)?;
            (part, name, http::Answer::Body(None))
        }
    };
    let validators = match answer {
        // The part is removed when dropped.
        http::Answer::NotModified => return Ok(Answer::NotModified),
        http::Answer::Body(validators) => validators,
    };
    let (temp, written) = (part.path().to_path_buf(), part.len());
    let (path, size, sha256) = part
        .finish()
        .map_err(|e| FetchError::write(&temp, &redact(url), written, e))?;
    Ok(Answer::Fetched(Fetched {
        path,
        size,
        sha256,
        name,
        validators,
    }))
}

/// Fetches `url` into a new private temporary file inside `dest_dir`.
///
/// `s3://bucket/key` is an HTTPS GET (or one at `opts.s3.endpoint_url`) built by [`crate::aws`],
/// signed with SigV4 when credentials are found (`AWS_*` variables, else the instance role via
/// IMDSv2), anonymous otherwise.
/// Web URLs are retried on connection errors, timeouts, stalls, 429, 5xx and short bodies until
/// `opts`' deadline, which also cuts a body still arriving; a cut body resumes with `Range` and
/// `If-Range` when the server gave a strong ETag. Redirects are checked before they are followed
/// (no https → http, no other scheme, no loopback or link-local target unless the URL was one)
/// and an S3 GET follows none. Each failed attempt is one line through `log`. On failure nothing
/// is left in `dest_dir`; a full disk there is a local error, not a failed fetch.
pub fn fetch(
    url: &str,
    dest_dir: &Path,
    opts: &FetchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Fetched, FetchError> {
    match fetch_if_changed(url, dest_dir, opts, None, log)? {
        Answer::Fetched(fetched) => Ok(fetched),
        // Without validators no request is conditional, and a 304 to an unconditional request
        // is refused by the download as any other unexpected status is.
        Answer::NotModified => Err(FetchError::not_modified(url)),
    }
}
