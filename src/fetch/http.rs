//! HTTP(S) downloads into a [`Part`]: attempts, resume with `Range` and `If-Range` (`resume.rs`),
//! conditional GETs (`validators.rs`), redirects checked before they are followed
//! (`redirect.rs`), and the retry loop, all inside one deadline.
//!
//! Decides which failures are worth retrying (connection errors, timeouts, stalls, 429, 5xx, short
//! bodies) and which are not (other 4xx, TLS certificate errors, refused redirects, size caps, a
//! full disk). `--retry-for` bounds the whole download, a body that trickles in included: after
//! each read the deadline is checked, so a last attempt overruns it by one stall timeout at most.
//! Knows no formats. Every URL it logs or reports is redacted.

use std::io::{self, Read};

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, IF_RANGE, LOCATION, RANGE, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::FetchOptions;
use super::error::{FetchError, Overrun, TlsProblem};
use super::part::{AppendError, Part};
use super::redirect::{self, Follow, Refused};
use super::resume::Resume;
use super::retry::{self, Budget};
use super::url::redact;
use super::validators::Validators;
use crate::aws::error::ERROR_BODY_MAX;
use crate::duration::human;
use crate::errchain::{self, root_cause};

/// Bytes read per system call while streaming the body.
const CHUNK: usize = 64 * 1024;
/// Sent so server logs can tell boot-time fetches apart.
const USER_AGENT: &str = concat!("startup-bundle/", env!("CARGO_PKG_VERSION"));

/// How one attempt ended badly: retry, out of time, or fatal.
type Failure = retry::Step<FetchError>;

type Attempt = Result<(), Failure>;

/// How a download ended well.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The condition held: the server still has the bytes of the validators sent (304, no body).
    NotModified,
    /// The body is in the part; the validators of the answer that sent it, if usable.
    Body(Option<Validators>),
}

/// What the attempts of one download learnt so far.
struct Learnt<'a> {
    /// How to resume a cut body.
    resume: Resume,
    /// The validators to send while no body has come (a 200 means the object changed: later
    /// attempts want its bytes, not a 304).
    ask: Option<&'a Validators>,
    /// The validators of the answer whose body is in the part.
    got: Option<Validators>,
}

/// Per-attempt request signing, and better errors for refusals: what an S3 source adds.
pub(crate) trait Authorize {
    /// Every header of one attempt's GET; `extra` holds the headers the attempt carries anyway
    /// (`range`, `if-range`, lower-case), which the signature must cover.
    fn headers(&self, extra: &[(&str, &str)]) -> Result<HeaderMap, FetchError>;
    /// A more telling error than [`FetchError::Status`] for a final status, from its headers
    /// and the first bytes of its body; None keeps the plain one.
    fn refused(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<FetchError>;
}

/// One download's fixed parts.
struct Session<'a> {
    client: Client,
    url: &'a Url,
    shown: String,
    opts: &'a FetchOptions,
    auth: Option<&'a dyn Authorize>,
    budget: Budget,
}

/// Downloads `url` into `part` over `tls`, retrying until `opts`' deadline; one `log` line per
/// failed attempt. `auth`, when given, signs every attempt afresh, and no redirect is followed.
/// With `known`, the first attempts are conditional: a 304 ends the download with nothing in
/// `part`.
pub(crate) fn download(
    url: &Url,
    tls: rustls::ClientConfig,
    part: &mut Part,
    opts: &FetchOptions,
    auth: Option<&dyn Authorize>,
    known: Option<&Validators>,
    log: &mut dyn FnMut(&str),
) -> Result<Answer, FetchError> {
    let follow = match auth {
        Some(_) => Follow::Never,
        None => Follow::Checked,
    };
    let session = Session {
        client: client(tls, opts, follow)?,
        url,
        shown: redact(url.as_str()),
        opts,
        auth,
        budget: Budget::until(opts.deadline()),
    };
    let gave_up = |attempts, last| FetchError::GaveUp {
        url: session.shown.clone(),
        attempts,
        retry_for: opts.retry_for,
        last,
    };
    if session.budget.spent() {
        return Err(gave_up(
            0,
            "the fetches before this one in the same run used it all".into(),
        ));
    }
    let mut learnt = Learnt {
        resume: Resume::default(),
        ask: known,
        got: None,
    };
    let backoff = retry::Backoff {
        start: opts.backoff_start,
        max: opts.backoff_max,
    };
    retry::run(
        &session.budget,
        backoff,
        "fetch",
        log,
        || session.attempt(part, &mut learnt),
        gave_up,
    )
}

/// The client every HTTP request of a fetch goes through (and the passphrase's AWS calls):
/// `opts`' TLS roots and timeouts, HTTP/1.1, redirects as `follow` says, no Referer.
pub(crate) fn client(
    tls: rustls::ClientConfig,
    opts: &FetchOptions,
    follow: Follow,
) -> Result<Client, FetchError> {
    Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        // The blocking client applies this to waiting for the headers and to every body read,
        // which is exactly a stall timeout: a slow but steady download is cut only by the deadline.
        .timeout(opts.stall_timeout)
        .redirect(redirect::policy(follow))
        // A presigned URL's query (credential, signature, token) must not travel in a Referer.
        .referer(false)
        .build()
        .map_err(|source| FetchError::Client {
            source: source.without_url(),
        })
}

impl Session<'_> {
    fn attempt(&self, part: &mut Part, learnt: &mut Learnt) -> Result<Answer, Failure> {
        let resume = &mut learnt.resume;
        let ask = resume.ask(part.len());
        let from = match &ask {
            Some(_) => part.len(),
            None => {
                reset(part, &self.shown)?;
                0
            }
        };
        let mut extra: Vec<(&str, &str)> = ask
            .iter()
            .flat_map(|(range, etag)| [(RANGE.as_str(), range.as_str()), (IF_RANGE.as_str(), etag)])
            .collect();
        // A resumed body is of an object already answered with 200: never conditional then.
        let condition = learnt
            .ask
            .filter(|_| ask.is_none())
            .and_then(Validators::condition);
        if let Some((name, value)) = &condition {
            extra.push((name.as_str(), *value));
        }
        let mut request = self.client.get(self.url.clone());
        for (name, value) in &extra {
            request = request.header(*name, *value);
        }
        if let Some(auth) = self.auth {
            request = request.headers(auth.headers(&extra).map_err(Failure::Fatal)?);
        }
        let mut response = request.send().map_err(|e| self.send_failure(&e))?;
        let status = response.status();
        // Where redirects led: what answered is what messages name.
        let here = redact(response.url().as_str());
        let total = match status {
            StatusCode::NOT_MODIFIED if condition.is_some() => return Ok(Answer::NotModified),
            StatusCode::OK => {
                reset(part, &self.shown)?;
                resume.whole(response.headers(), response.content_length());
                learnt.ask = None;
                learnt.got = Validators::of(response.headers());
                response.content_length()
            }
            StatusCode::PARTIAL_CONTENT if from == 0 => {
                resume.forget();
                return Err(retry(format!(
                    "{here} answered 206 Partial Content to a request without Range, so \
                     starting again"
                )));
            }
            StatusCode::PARTIAL_CONTENT => {
                match resume.partial(from, response.headers(), response.content_length()) {
                    Ok(total) => total,
                    Err(why) => {
                        reset(part, &self.shown)?;
                        resume.forget();
                        return Err(retry(format!(
                            "{here} answered `Range: bytes={from}-` with {why}, so starting \
                             again from zero"
                        )));
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
                    what: format!("{} from {here}", status_line(s)),
                    retry_after,
                });
            }
            s => return Err(Failure::Fatal(self.refusal(s, &mut response, here))),
        };
        if let Some(total) = total
            && total > self.opts.max_size
        {
            return Err(Failure::Fatal(FetchError::TooLarge {
                url: self.shown.clone(),
                size: total,
                max: self.opts.max_size,
                how: Overrun::Announced,
            }));
        }
        part.expect(total);
        self.stream(&mut response, part, total)?;
        match total {
            Some(total) if part.len() < total => {
                let (got, total) = crate::size::human_pair(part.len(), total);
                Err(retry(format!(
                    "body from {here} cut short at {got} of {total}"
                )))
            }
            _ => Ok(Answer::Body(learnt.got.clone())),
        }
    }

    /// The error for a final status: S3's own reading, a redirect that was not followed, or
    /// the plain status.
    fn refusal(&self, status: StatusCode, response: &mut Response, here: String) -> FetchError {
        if let Some(auth) = self.auth {
            let headers = response.headers().clone();
            let mut body = Vec::new();
            // Only the start: enough for an S3 `<Code>`, never a whole hostile body.
            let _ = response.take(ERROR_BODY_MAX).read_to_end(&mut body);
            if let Some(e) = auth.refused(status, &headers, &body) {
                return e;
            }
        }
        if status.is_redirection()
            && let Some(e) = self.unfollowed(response)
        {
            return e;
        }
        FetchError::Status {
            from: (response.url() != self.url).then(|| self.shown.clone()),
            url: here,
            status: status.as_u16(),
            reason: status
                .canonical_reason()
                .unwrap_or("(unknown status)")
                .into(),
        }
    }

    /// A 3xx that reached us: a signed S3 request follows none, and reqwest leaves alone a
    /// `Location` that is not http(s) (`file:///…`), which is named rather than called a 302.
    fn unfollowed(&self, response: &Response) -> Option<FetchError> {
        let location = response.headers().get(LOCATION)?.to_str().ok()?;
        let target = response.url().join(location).ok()?;
        let why = match self.auth {
            Some(_) => redirect::RedirectRefusal::Signed,
            None => redirect::check(std::slice::from_ref(self.url), &target).err()?,
        };
        Some(FetchError::Redirect {
            url: redact(response.url().as_str()),
            target: redact(target.as_str()),
            why,
        })
    }

    /// Copies the body into `part`, chunk by chunk, until it ends or the deadline passes; a read
    /// error or stall is retryable.
    fn stream(&self, response: &mut Response, part: &mut Part, total: Option<u64>) -> Attempt {
        let mut buf = vec![0u8; CHUNK];
        loop {
            if self.budget.spent() {
                let so_far = match total {
                    Some(total) => {
                        let (got, total) = crate::size::human_pair(part.len(), total);
                        format!("{got} of {total}")
                    }
                    None => crate::size::human(part.len()),
                };
                return Err(Failure::OutOfTime(format!(
                    "the body was still arriving ({so_far} so far)"
                )));
            }
            let n = match response.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if read_timed_out(&e) => {
                    return Err(retry(format!(
                        "no data from {} for {} after {} bytes",
                        self.shown,
                        human(self.opts.stall_timeout),
                        part.len()
                    )));
                }
                Err(e) => {
                    return Err(retry(format!(
                        "connection to {} cut after {} bytes: {}",
                        self.shown,
                        part.len(),
                        root_cause(&e)
                    )));
                }
            };
            part.append(&buf[..n]).map_err(|e| match e {
                AppendError::TooLarge(size) => Failure::Fatal(FetchError::TooLarge {
                    url: self.shown.clone(),
                    size,
                    max: self.opts.max_size,
                    how: Overrun::Streamed,
                }),
                AppendError::Io(source) => Failure::Fatal(FetchError::write(
                    part.path(),
                    &self.shown,
                    part.len(),
                    source,
                )),
            })?;
        }
    }

    /// Sorts a failed request: TLS, refused redirects and unusable requests are fatal, the rest
    /// retryable.
    fn send_failure(&self, err: &reqwest::Error) -> Failure {
        let shown = &self.shown;
        if let Some(refused) = errchain::find::<Refused>(err) {
            let from = err
                .url()
                .map_or_else(|| shown.clone(), |u| redact(u.as_str()));
            return Failure::Fatal(FetchError::Redirect {
                url: from,
                target: redact(refused.target.as_str()),
                why: refused.why.clone(),
            });
        }
        if let Some(tls) = errchain::find::<rustls::Error>(err) {
            return Failure::Fatal(FetchError::Tls {
                url: shown.clone(),
                reason: tls.to_string(),
                problem: TlsProblem::of(tls),
                ca_file: self.opts.ca_file.clone(),
            });
        }
        if err.is_redirect() || err.is_builder() {
            return Failure::Fatal(FetchError::Request {
                url: shown.clone(),
                reason: root_cause(err),
            });
        }
        retry(if err.is_connect() && err.is_timeout() {
            format!(
                "no connection to {shown} within {}",
                human(self.opts.connect_timeout)
            )
        } else if err.is_connect() {
            format!("cannot connect to {shown}: {}", root_cause(err))
        } else if err.is_timeout() {
            format!(
                "no answer from {shown} within {}",
                human(self.opts.stall_timeout)
            )
        } else {
            format!("request to {shown} failed: {}", root_cause(err))
        })
    }
}

fn retry(what: String) -> Failure {
    Failure::retry(what)
}

fn reset(part: &mut Part, shown: &str) -> Attempt {
    part.reset()
        .map_err(|source| Failure::Fatal(FetchError::write(part.path(), shown, 0, source)))
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
