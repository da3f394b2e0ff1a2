//! HTTP(S) downloads into a [`Part`]: attempts, resume with `Range` and `If-Range` (`resume.rs`), and
//! the retry loop, all inside one deadline: after each body read the deadline is checked, so a body
//! that trickles in below the stall timeout still ends with `--retry-for`, overrunning it by one stall.
//!
//! Decides which failures are worth retrying (connection errors, timeouts, stalls, 429, 5xx, short
//! bodies) and which are not (other 4xx, TLS certificate errors, size caps). Knows no formats.
//! Every URL it logs or reports is redacted.

use std::io::{self, Read};
use std::thread;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, IF_RANGE, RANGE, RETRY_AFTER};
use reqwest::{StatusCode, Url, redirect};

use super::FetchOptions;
use super::error::{FetchError, Overrun, TlsProblem};
use super::part::{AppendError, Part};
use super::resume::Resume;
use super::retry::{self, Budget};
use super::url::redact;
use crate::duration::human;
use crate::errchain::{self, root_cause};

/// Redirects followed before giving up: enough for a CDN hop or two, not for a loop.
const MAX_REDIRECTS: usize = 5;
/// Bytes read per system call while streaming the body.
const CHUNK: usize = 64 * 1024;
/// Bytes of a refusal's body handed to [`Authorize::refused`].
const ERROR_BODY_MAX: usize = 4096;
/// Sent so server logs can tell boot-time fetches apart.
const USER_AGENT: &str = concat!("startup-bundle/", env!("CARGO_PKG_VERSION"));

/// How one attempt ended badly.
enum Failure {
    /// Worth another try; `what` is the log line's middle part.
    Retry {
        what: String,
        retry_after: Option<Duration>,
    },
    /// `--retry-for` ran out while the body was arriving; says how far it got.
    OutOfTime(String),
    /// Will not fix itself.
    Fatal(FetchError),
}

type Attempt = Result<(), Failure>;

/// Per-attempt request signing, and better errors for refusals: what an S3 source adds.
pub(crate) trait Authorize {
    /// Every header of one attempt's GET; `extra` holds the headers the attempt carries anyway
    /// (`range`, lower-case), which the signature must cover.
    fn headers(&self, extra: &[(&str, &str)]) -> Result<HeaderMap, FetchError>;
    /// A more telling error than [`FetchError::Status`] for a final status, from its headers
    /// and the first bytes of its body; None keeps the plain one.
    fn refused(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<FetchError>;
}

/// Downloads `url` into `part` over `tls`, retrying within `opts.retry_for`; one `log` line per
/// failed attempt. `auth`, when given, signs every attempt afresh.
pub(crate) fn download(
    url: &Url,
    tls: rustls::ClientConfig,
    part: &mut Part,
    opts: &FetchOptions,
    auth: Option<&dyn Authorize>,
    log: &mut dyn FnMut(&str),
) -> Result<(), FetchError> {
    let shown = redact(url.as_str());
    let client = client(tls, opts)?;
    // Fixed once here, so every attempt and body read below checks the same deadline.
    let opts = &opts.until(opts.deadline());
    let budget = Budget::until(opts.deadline());
    let gave_up = |attempts, last| FetchError::GaveUp {
        url: shown.clone(),
        attempts,
        retry_for: opts.retry_for,
        last,
    };
    if budget.spent() {
        return Err(gave_up(
            0,
            "the fetches before this one in the same run used it all".into(),
        ));
    }
    let mut resume = Resume::default();
    let mut failures: u32 = 0;
    loop {
        let (what, retry_after) = match attempt(&client, url, &shown, part, opts, auth, &mut resume)
        {
            Ok(()) => return Ok(()),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::OutOfTime(what)) => return Err(gave_up(failures + 1, what)),
            Err(Failure::Retry { what, retry_after }) => (what, retry_after),
        };
        failures += 1;
        let left = budget.left();
        if left.is_zero() {
            return Err(gave_up(failures, format!("last error: {what}")));
        }
        let ceiling = retry::ceiling(opts.backoff_start, opts.backoff_max, failures - 1);
        let jittered = retry::full_jitter(ceiling, retry::random_u64());
        let delay = retry::next_delay(jittered, retry_after, left);
        log(&format!(
            "fetch: attempt {failures} failed: {what}; retrying in {} ({} of --retry-for left)",
            human(delay),
            human(left)
        ));
        thread::sleep(delay);
    }
}

fn client(tls: rustls::ClientConfig, opts: &FetchOptions) -> Result<Client, FetchError> {
    Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        // The blocking client applies this to waiting for the headers and to every body read,
        // which is exactly a stall timeout: a slow but steady download is cut only by the deadline.
        .timeout(opts.stall_timeout)
        .redirect(redirect::Policy::limited(MAX_REDIRECTS))
        .build()
        .map_err(|source| FetchError::Client {
            source: source.without_url(),
        })
}

fn attempt(
    client: &Client,
    url: &Url,
    shown: &str,
    part: &mut Part,
    opts: &FetchOptions,
    auth: Option<&dyn Authorize>,
    resume: &mut Resume,
) -> Attempt {
    let ask = resume.ask(part.len());
    let from = match &ask {
        Some(_) => part.len(),
        None => {
            reset(part, shown)?;
            0
        }
    };
    let extra: Vec<(&str, &str)> = ask
        .iter()
        .flat_map(|(range, etag)| [(RANGE.as_str(), range.as_str()), (IF_RANGE.as_str(), etag)])
        .collect();
    let mut request = client.get(url.clone());
    for (name, value) in &extra {
        request = request.header(*name, *value);
    }
    if let Some(auth) = auth {
        request = request.headers(auth.headers(&extra).map_err(Failure::Fatal)?);
    }
    let mut response = request.send().map_err(|e| send_failure(&e, shown, opts))?;
    let status = response.status();
    let total = match status {
        StatusCode::OK => {
            reset(part, shown)?;
            resume.whole(response.headers(), response.content_length());
            response.content_length()
        }
        StatusCode::PARTIAL_CONTENT if from == 0 => {
            resume.forget();
            return Err(Failure::Retry {
                what: format!(
                    "{shown} answered 206 Partial Content to a request without Range, so \
                     starting again"
                ),
                retry_after: None,
            });
        }
        StatusCode::PARTIAL_CONTENT => {
            match resume.partial(from, response.headers(), response.content_length()) {
                Ok(total) => total,
                Err(why) => {
                    reset(part, shown)?;
                    resume.forget();
                    return Err(Failure::Retry {
                        what: format!(
                            "{shown} answered `Range: bytes={from}-` with {why}, so starting \
                             again from zero"
                        ),
                        retry_after: None,
                    });
                }
            }
        }
        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
            let honours =
                s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::SERVICE_UNAVAILABLE;
            let retry_after = honours
                .then(|| retry::parse_retry_after(&header(response.headers(), RETRY_AFTER)))
                .flatten();
            return Err(Failure::Retry {
                what: format!("{} from {shown}", status_line(s)),
                retry_after,
            });
        }
        s => {
            if let Some(auth) = auth {
                let mut body = Vec::new();
                let headers = response.headers().clone();
                // Only the start: enough for an S3 `<Code>`, never a whole hostile body.
                let _ = (&mut response)
                    .take(ERROR_BODY_MAX as u64)
                    .read_to_end(&mut body);
                if let Some(e) = auth.refused(s, &headers, &body) {
                    return Err(Failure::Fatal(e));
                }
            }
            return Err(Failure::Fatal(FetchError::Status {
                url: shown.to_string(),
                status: s.as_u16(),
                reason: s.canonical_reason().unwrap_or("(unknown status)").into(),
            }));
        }
    };
    if let Some(total) = total
        && total > opts.max_size
    {
        return Err(Failure::Fatal(FetchError::TooLarge {
            url: shown.to_string(),
            size: total,
            max: opts.max_size,
            how: Overrun::Announced,
        }));
    }
    stream(&mut response, part, shown, opts, total)?;
    match total {
        Some(total) if part.len() < total => Err(Failure::Retry {
            what: format!(
                "body from {shown} cut short at {} of {total} bytes",
                part.len()
            ),
            retry_after: None,
        }),
        _ => Ok(()),
    }
}

/// Copies the body into `part`, chunk by chunk, until it ends or the deadline passes; a read
/// error or stall is retryable.
fn stream(
    response: &mut Response,
    part: &mut Part,
    shown: &str,
    opts: &FetchOptions,
    total: Option<u64>,
) -> Attempt {
    let budget = Budget::until(opts.deadline());
    let mut buf = vec![0u8; CHUNK];
    loop {
        if budget.spent() {
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            return Err(Failure::OutOfTime(format!(
                "the body was still arriving ({} bytes{of} so far)",
                part.len()
            )));
        }
        let n = match response.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let what = if read_timed_out(&e) {
                    format!(
                        "no data from {shown} for {} after {} bytes",
                        human(opts.stall_timeout),
                        part.len()
                    )
                } else {
                    format!(
                        "connection to {shown} cut after {} bytes: {}",
                        part.len(),
                        root_cause(&e)
                    )
                };
                return Err(Failure::Retry {
                    what,
                    retry_after: None,
                });
            }
        };
        part.append(&buf[..n]).map_err(|e| match e {
            AppendError::TooLarge(size) => Failure::Fatal(FetchError::TooLarge {
                url: shown.to_string(),
                size,
                max: opts.max_size,
                how: Overrun::Streamed,
            }),
            AppendError::Io(source) => write_failure(part, shown, source),
        })?;
    }
}

fn reset(part: &mut Part, shown: &str) -> Attempt {
    part.reset()
        .map_err(|source| write_failure(part, shown, source))
}

fn write_failure(part: &Part, shown: &str, source: io::Error) -> Failure {
    Failure::Fatal(FetchError::write(part.path(), shown, part.len(), source))
}

/// Sorts a failed request: TLS, redirect loops and unusable requests are fatal, the rest retryable.
fn send_failure(err: &reqwest::Error, shown: &str, opts: &FetchOptions) -> Failure {
    if let Some(tls) = errchain::find::<rustls::Error>(err) {
        return Failure::Fatal(FetchError::Tls {
            url: shown.to_string(),
            reason: tls.to_string(),
            problem: TlsProblem::of(tls),
            ca_file: opts.ca_file.clone(),
        });
    }
    if err.is_redirect() || err.is_builder() {
        return Failure::Fatal(FetchError::Request {
            url: shown.to_string(),
            reason: root_cause(err),
        });
    }
    let what = if err.is_connect() && err.is_timeout() {
        format!(
            "no connection to {shown} within {}",
            human(opts.connect_timeout)
        )
    } else if err.is_connect() {
        format!("cannot connect to {shown}: {}", root_cause(err))
    } else if err.is_timeout() {
        format!(
            "no answer from {shown} within {}",
            human(opts.stall_timeout)
        )
    } else {
        format!("request to {shown} failed: {}", root_cause(err))
    };
    Failure::Retry {
        what,
        retry_after: None,
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// True when a body read gave up because no byte came within the stall timeout.
fn read_timed_out(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::TimedOut
        || err
            .get_ref()
            .and_then(|e| e.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}
