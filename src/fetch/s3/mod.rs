//! `s3://bucket/key`: where the object is (virtual-hosted AWS, or path-style at `--endpoint-url`),
//! which credentials sign the GET (the `AWS_*` variables, else the instance role through IMDSv2,
//! else none: a public object), which region, and what S3's refusals mean.
//!
//! The download itself is the ordinary retrying HTTP path (`http.rs`); this file only adds signed
//! headers to each attempt (a fresh `x-amz-date`, and the attempt's `Range` signed with it) and
//! turns S3's XML error codes into errors that say what to fix. Secrets are never logged.

mod address;
mod signed;

use std::time::SystemTime;

use reqwest::header::{HeaderMap, RANGE};
use reqwest::{StatusCode, Url};

pub use address::{Location, bucket_url, object_url, parse_location};
pub(crate) use signed::Signed;

use super::credentials::{self, CredentialSource, Credentials};
use super::error::FetchError;
use super::http::Authorize;
use super::imds::{self, Imds};
use super::sigv4;

/// The region used when neither `--region`, the environment nor IMDS names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The standard variables naming the region, in the order the AWS CLI reads them.
pub const ENV_REGIONS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];
/// S3's header naming the bucket's region on a wrong-region answer.
const BUCKET_REGION_HEADER: &str = "x-amz-bucket-region";

/// How `s3://` URLs are reached (`--region`, `--endpoint-url`, `--imds-endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket's region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, IMDS, [`DEFAULT_REGION`].
    pub region: Option<String>,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`), addressed path-style.
    pub endpoint_url: Option<String>,
    /// The instance metadata service ([`imds::DEFAULT_IMDS_ENDPOINT`]).
    pub imds_endpoint: String,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            region: None,
            endpoint_url: None,
            imds_endpoint: imds::DEFAULT_IMDS_ENDPOINT.to_string(),
        }
    }
}

/// A resolved S3 GET: the URL, the region, and the credentials that sign it (None: anonymous).
pub(crate) struct S3Get {
    /// The object's HTTP URL.
    pub url: Url,
    location: Location,
    region: String,
    signer: Option<(Credentials, CredentialSource)>,
}

/// Resolves credentials (environment → instance role → anonymous) and region (`--region` →
/// environment → IMDS → [`DEFAULT_REGION`]); IMDS is asked only when needed, at most once each.
pub(crate) fn prepare(
    loc: Location,
    opts: &S3Options,
    env: &dyn Fn(&str) -> Option<String>,
    tls: rustls::ClientConfig,
    log: &mut dyn FnMut(&str),
) -> Result<S3Get, FetchError> {
    let mut signer = credentials::from_env(env).map(|c| (c, CredentialSource::Environment));
    let mut region = opts
        .region
        .clone()
        .or_else(|| ENV_REGIONS.iter().find_map(|v| env(v)))
        .filter(|r| !r.is_empty());
    let imds_off = env(imds::ENV_IMDS_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if (signer.is_none() || region.is_none()) && !imds_off {
        match Imds::new(&opts.imds_endpoint, tls) {
            Ok(mut imds) => {
                if signer.is_none() {
                    match imds.role_credentials() {
                        Ok(Some((role, creds))) => {
                            signer = Some((creds, CredentialSource::InstanceRole(role)));
                        }
                        Ok(None) => log("s3: the instance has no role attached"),
                        Err(e) => log(&format!("s3: {e}")),
                    }
                }
                if region.is_none() {
                    match imds.region() {
                        Ok(found) => region = found,
                        Err(e) if signer.is_some() => {
                            log(&format!("s3: no region from IMDS: {e}"));
                        }
                        Err(_) => {}
                    }
                }
            }
            Err(e) => log(&format!("s3: {e}")),
        }
    }
    let region = region.unwrap_or_else(|| DEFAULT_REGION.to_string());
    let url = object_url(&loc, &region, opts.endpoint_url.as_deref())?;
    match &signer {
        Some((creds, source)) => log(&format!(
            "s3: {} in {region}, signed with {} from {source}",
            loc.shown(),
            creds.shown_key_id()
        )),
        None => log(&format!(
            "s3: {} in {region}: no credentials found, reading anonymously",
            loc.shown()
        )),
    }
    Ok(S3Get {
        url,
        location: loc,
        region,
        signer,
    })
}

impl S3Get {
    /// The file name for the download.
    pub(crate) fn name(&self) -> String {
        self.location.name()
    }

    /// Who signs, for refusals: the source and shortened key id, or "no credentials".
    fn signer_text(&self) -> String {
        match &self.signer {
            Some((creds, source)) => format!("{} from {source}", creds.shown_key_id()),
            None => "no credentials (anonymous)".into(),
        }
    }
}

impl Authorize for S3Get {
    fn headers(&self, url: &Url, range: Option<&str>) -> Result<HeaderMap, FetchError> {
        let Some((creds, _)) = &self.signer else {
            return Ok(HeaderMap::new());
        };
        // The Range is signed too, so each resumed attempt is signed afresh for its own range.
        let range: Vec<(&str, &str)> = range.map(|r| (RANGE.as_str(), r)).into_iter().collect();
        let signed = Signed {
            method: "GET",
            url,
            query: &[],
            payload_hash: sigv4::UNSIGNED_PAYLOAD,
            extra: &range,
        };
        signed
            .headers(creds, &self.region, SystemTime::now())
            .map_err(|name| FetchError::BadCredentials {
                url: self.location.shown(),
                what: format!("the `{name}` header would hold characters HTTP does not allow"),
            })
    }

    fn refused(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<FetchError> {
        let code = error_code(body);
        let url = self.location.shown();
        let bucket_region = headers
            .get(BUCKET_REGION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|r| *r != self.region);
        if let Some(bucket_region) = bucket_region
            && matches!(status.as_u16(), 301 | 400 | 403)
        {
            return Some(FetchError::S3WrongRegion {
                url,
                region: self.region.clone(),
                bucket_region: bucket_region.to_string(),
            });
        }
        match status.as_u16() {
            404 => Some(FetchError::S3NotFound { url, code }),
            401 | 403 => Some(FetchError::S3Denied {
                url,
                status: status.as_u16(),
                code,
                signer: self.signer_text(),
                anonymous: self.signer.is_none(),
            }),
            _ => None,
        }
    }
}

/// The `<Code>` of an S3 XML error body (`NoSuchKey`, `AccessDenied`, …), or empty.
pub(crate) fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_string())
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_s3_error_codes() {
        let body =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        assert_eq!(error_code(body), "NoSuchKey");
        assert_eq!(error_code(b"<html>nope</html>"), "");
        assert_eq!(error_code(b"<Code><script></Code>"), "");
    }
}
