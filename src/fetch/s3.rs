//! The `s3://bucket/key` source: which credentials sign the GET (the `AWS_*` variables, else the
//! instance role through IMDSv2, else none: a public object), which region, and what S3's
//! refusals mean for the person booting.
//!
//! The AWS client (`crate::aws`) builds each signed request; the download itself is the ordinary
//! retrying HTTP path (`http.rs`), which asks this source for every attempt's headers (a fresh
//! `x-amz-date`, and the attempt's `Range` and `If-Range` signed with it). Secrets are never
//! logged.

use std::time::SystemTime;

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};

use super::error::FetchError;
use super::http::Authorize;
use super::url::usable_name;
use crate::aws::credentials::{CredentialSource, Credentials};
use crate::aws::error::{Meaning, Refusal};
use crate::aws::imds;
use crate::aws::resolve;
use crate::aws::s3::{Bucket, Location};

/// How `s3://` URLs are reached (`--region`, `--endpoint-url`, `--imds-endpoint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket's region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, IMDS,
    /// [`crate::aws::DEFAULT_REGION`].
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

/// A resolved S3 GET: the object, and the credentials that sign it (None: anonymous).
pub(crate) struct S3Get {
    /// The object's HTTP URL.
    pub url: Url,
    bucket: Bucket,
    key: String,
    signer: Option<(Credentials, CredentialSource)>,
}

/// Resolves credentials (environment → instance role → anonymous) and region (`--region` →
/// environment → IMDS → the default); IMDS is asked only when needed.
pub(crate) fn prepare(
    loc: Location,
    opts: &S3Options,
    env: &dyn Fn(&str) -> Option<String>,
    tls: rustls::ClientConfig,
    log: &mut dyn FnMut(&str),
) -> Result<S3Get, FetchError> {
    let found = resolve::find(
        opts.region.as_deref(),
        &opts.imds_endpoint,
        env,
        tls,
        "s3",
        log,
    );
    let (signer, region) = (found.signer, found.region);
    let region = region.unwrap_or_else(|| crate::aws::DEFAULT_REGION.to_string());
    let bucket = Bucket::new(&loc.bucket, &region, opts.endpoint_url.as_deref())?;
    let url = bucket.object_url(&loc.key)?;
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
        bucket,
        key: loc.key,
        signer,
    })
}

impl S3Get {
    /// The file name for the download: the key's last segment.
    pub(crate) fn name(&self) -> String {
        usable_name(self.key.rsplit('/').next().unwrap_or_default())
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
    fn headers(&self, extra: &[(&str, &str)]) -> Result<HeaderMap, FetchError> {
        let creds = self.signer.as_ref().map(|(creds, _)| creds);
        let request = self
            .bucket
            .get_object(&self.key, creds, extra, SystemTime::now())?;
        Ok(request.headers)
    }

    fn refused(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<FetchError> {
        let refusal = Refusal::read(status, headers, body);
        let url = self.bucket.shown(&self.key);
        match refusal.meaning(self.bucket.region()) {
            Meaning::WrongRegion(bucket_region) => Some(FetchError::S3WrongRegion {
                url,
                region: self.bucket.region().to_string(),
                bucket_region,
            }),
            Meaning::NotFound => Some(FetchError::S3NotFound {
                url,
                code: refusal.code,
            }),
            Meaning::Denied => Some(FetchError::S3Denied {
                url,
                status: refusal.status,
                code: refusal.code,
                signer: self.signer_text(),
                anonymous: self.signer.is_none(),
            }),
            Meaning::Other => None,
        }
    }
}
