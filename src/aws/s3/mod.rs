//! S3 requests, built but not sent: a [`Bucket`] (name, region, endpoint) turns "get this
//! object", "put this file", "list this prefix" into an [`S3Request`] — method, URL and every
//! header, signed with SigV4 when credentials are given, anonymous otherwise.
//!
//! The caller sends it with its own client, timeouts and retries, and reads S3's refusals with
//! [`super::error::Refusal`]. Ranges and other headers a caller adds go through `extra`, so they
//! are signed too.

mod address;
mod signed;

use std::time::SystemTime;

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};

pub use address::{Location, parse_location};

use super::credentials::Credentials;
use super::sigv4::{self, Slash, uri_encode};
use signed::Signed;

/// Why an S3 request could not be built. Both are configuration mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The bucket, key, region or endpoint is unusable.
    #[error("bad S3 address {url}: {reason}")]
    Address {
        /// What was given (`s3://bucket/key`, or the endpoint).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header would hold characters HTTP does not allow (credentials with a newline, …).
    #[error(
        "cannot sign the request for {url}: the `{header}` header would hold characters HTTP \
         does not allow"
    )]
    Header {
        /// `s3://bucket`.
        url: String,
        /// The header's name (never its value).
        header: String,
    },
}

/// One request ready to send.
#[derive(Debug)]
pub struct S3Request {
    /// `GET`, `PUT`.
    pub method: Method,
    /// The URL, query included.
    pub url: Url,
    /// Every header to send (values marked sensitive).
    pub headers: HeaderMap,
}

/// One bucket, as requests address it.
#[derive(Debug, Clone)]
pub struct Bucket {
    name: String,
    region: String,
    base: Url,
    path: String,
}

impl Bucket {
    /// The bucket `name` in `region`, at `endpoint` (path-style) or on AWS. The name, region and
    /// endpoint are checked once here, so every later URL builds.
    pub fn new(name: &str, region: &str, endpoint: Option<&str>) -> Result<Bucket, RequestError> {
        let (base, path) = address::base(name, region, endpoint)?;
        Ok(Bucket {
            name: name.to_string(),
            region: region.to_string(),
            base,
            path,
        })
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// `s3://bucket/key`, for messages.
    pub fn shown(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    /// The object's URL; the key must name one object (see [`parse_location`]).
    pub fn object_url(&self, key: &str) -> Result<Url, RequestError> {
        address::check_key(key, &self.shown(key))?;
        let mut url = self.base.clone();
        url.set_path(&format!("{}/{}", self.path, uri_encode(key, Slash::Keep)));
        Ok(url)
    }

    /// The bucket's own URL (for listings): `…/bucket` path-style, `https://bucket.s3…/` on AWS.
    pub fn url(&self) -> Url {
        let mut url = self.base.clone();
        url.set_path(if self.path.is_empty() {
            "/"
        } else {
            &self.path
        });
        url
    }

    /// GET `key`, with `extra` headers (`range`, `if-range`) sent and signed; anonymous when
    /// `signer` is None.
    pub fn get_object(
        &self,
        key: &str,
        signer: Option<&Credentials>,
        extra: &[(&str, &str)],
        now: SystemTime,
    ) -> Result<S3Request, RequestError> {
        let url = self.object_url(key)?;
        self.request(
            Signed {
                method: Method::GET,
                url: &url,
                query: &[],
                payload_hash: sigv4::UNSIGNED_PAYLOAD,
                extra,
            },
            signer,
            now,
        )
    }

    /// PUT `key` with a body whose sha256 (hex) is `payload_sha256`: S3 refuses a body that
    /// differs from it.
    pub fn put_object(
        &self,
        key: &str,
        signer: &Credentials,
        payload_sha256: &str,
        now: SystemTime,
    ) -> Result<S3Request, RequestError> {
        let url = self.object_url(key)?;
        self.request(
            Signed {
                method: Method::PUT,
                url: &url,
                query: &[],
                payload_hash: payload_sha256,
                extra: &[],
            },
            Some(signer),
            now,
        )
    }

    /// One page of ListObjectsV2 for `prefix`, from `continuation` (the previous page's
    /// `NextContinuationToken`) when given.
    pub fn list_objects(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        signer: &Credentials,
        now: SystemTime,
    ) -> Result<S3Request, RequestError> {
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(token) = continuation {
            query.push(("continuation-token", token));
        }
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", uri_encode(v, Slash::Encode)))
            .collect();
        let mut url = self.url();
        url.set_query(Some(&encoded.join("&")));
        self.request(
            Signed {
                method: Method::GET,
                url: &url,
                query: &query,
                payload_hash: sigv4::UNSIGNED_PAYLOAD,
                extra: &[],
            },
            Some(signer),
            now,
        )
    }

    fn request(
        &self,
        signed: Signed<'_>,
        signer: Option<&Credentials>,
        now: SystemTime,
    ) -> Result<S3Request, RequestError> {
        let headers = signed
            .headers(signer, &self.region, now)
            .map_err(|header| RequestError::Header {
                url: format!("s3://{}", self.name),
                header,
            })?;
        Ok(S3Request {
            method: signed.method,
            url: signed.url.clone(),
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Option<&str> = Some("http://127.0.0.1:9000/");

    #[test]
    fn addresses_aws_and_compatible_endpoints() {
        let key = "dir/a b+c.bundle";
        let aws = Bucket::new("bucket", "eu-west-1", None).unwrap();
        assert_eq!(
            aws.object_url(key).unwrap().as_str(),
            "https://bucket.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.bundle"
        );
        assert_eq!(
            aws.url().as_str(),
            "https://bucket.s3.eu-west-1.amazonaws.com/"
        );
        let dotted = Bucket::new("my.bucket", "us-east-1", None).unwrap();
        assert_eq!(
            dotted.object_url("k").unwrap().as_str(),
            "https://s3.us-east-1.amazonaws.com/my.bucket/k"
        );
        let local = Bucket::new("bucket", "us-east-1", LOCAL).unwrap();
        assert_eq!(
            local.object_url(key).unwrap().as_str(),
            "http://127.0.0.1:9000/bucket/dir/a%20b%2Bc.bundle"
        );
        assert_eq!(local.url().as_str(), "http://127.0.0.1:9000/bucket");
        assert!(Bucket::new("bucket", "evil.com/x", None).is_err());
        assert!(Bucket::new("b@d", "us-east-1", None).is_err());
        assert!(Bucket::new("bucket", "us-east-1", Some("ftp://h")).is_err());
        assert!(local.object_url("a/../b").is_err());
    }

    #[test]
    fn signs_when_given_credentials_and_only_passes_extras_when_not() {
        let bucket = Bucket::new("bucket", "us-east-1", LOCAL).unwrap();
        let creds = Credentials::new("AKIAEXAMPLE".into(), "s".into(), Some("tok".into()));
        let range = [("range", "bytes=5-")];
        let now = SystemTime::UNIX_EPOCH;
        let signed = bucket.get_object("k", Some(&creds), &range, now).unwrap();
        assert_eq!(signed.method, Method::GET);
        for name in [
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "range",
        ] {
            assert!(signed.headers.contains_key(name), "{name}");
        }
        let anonymous = bucket.get_object("k", None, &range, now).unwrap();
        assert_eq!(anonymous.headers.len(), 1);
        let list = bucket.list_objects("a b/", Some("t"), &creds, now).unwrap();
        assert_eq!(
            list.url.as_str(),
            "http://127.0.0.1:9000/bucket?list-type=2&prefix=a%20b%2F&continuation-token=t"
        );
        let bad = Credentials::new("AKIA\nX".into(), "s".into(), None);
        assert!(matches!(
            bucket.put_object("k", &bad, sigv4::UNSIGNED_PAYLOAD, now),
            Err(RequestError::Header { .. })
        ));
    }
}
