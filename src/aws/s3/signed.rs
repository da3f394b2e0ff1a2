//! The headers of one S3 request: `x-amz-date`, `x-amz-content-sha256`, the session token, and
//! `Authorization` (SigV4 over the request as it will be sent) — or, unsigned, only the caller's.
//!
//! Reads no clock of its own: the caller gives the time.

use std::time::SystemTime;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use super::super::credentials::Credentials;
use super::super::sigv4::{self, AmzTime, Request, Scope, host_header};

/// A request to sign: what [`Signed::headers`] needs besides credentials, region and time.
pub(super) struct Signed<'a> {
    /// `GET`, `PUT`, …
    pub method: Method,
    /// The URL as sent (its path is the canonical URI; its query must be `query`, encoded).
    pub url: &'a Url,
    /// The query parameters, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// The payload's sha256 hex, or [`sigv4::UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
    /// Further headers to send and sign (lower-case names).
    pub extra: &'a [(&'a str, &'a str)],
}

impl Signed<'_> {
    /// Every header to send: `x-amz-date`, `x-amz-content-sha256`, the session token if any,
    /// `extra`, and `Authorization`; only `extra` when `creds` is None (an anonymous request).
    /// Err names a header whose value HTTP cannot carry.
    pub(super) fn headers(
        &self,
        creds: Option<&Credentials>,
        region: &str,
        now: SystemTime,
    ) -> Result<HeaderMap, String> {
        let Some(creds) = creds else {
            return header_map(self.extra.iter().copied());
        };
        let time = AmzTime::at(now);
        let mut signed: Vec<(&str, &str)> = vec![
            (sigv4::X_AMZ_CONTENT_SHA256, self.payload_hash),
            (sigv4::X_AMZ_DATE, &time.stamp),
        ];
        if let Some(token) = creds.session_token() {
            signed.push((sigv4::X_AMZ_SECURITY_TOKEN, token));
        }
        signed.extend_from_slice(self.extra);
        let host = host_header(self.url);
        let request = Request {
            method: self.method.as_str(),
            host: &host,
            path: self.url.path(),
            query: self.query,
            headers: &signed,
            payload_hash: self.payload_hash,
        };
        let scope = Scope {
            region,
            service: sigv4::SERVICE_S3,
        };
        let authorization = sigv4::authorization(creds, scope, &time, &request);
        header_map(
            signed
                .iter()
                .copied()
                .chain([(AUTHORIZATION.as_str(), authorization.as_str())]),
        )
    }
}

fn header_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Result<HeaderMap, String> {
    let mut out = HeaderMap::new();
    for (name, value) in pairs {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| name.to_string())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| name.to_string())?;
        // Keeps the token and signature out of reqwest's Debug output.
        value.set_sensitive(true);
        out.insert(header, value);
    }
    Ok(out)
}
