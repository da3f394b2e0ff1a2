//! Where an S3 object is: `s3://bucket/key` split and checked, and the HTTP URL of a bucket —
//! virtual-hosted on AWS, path-style at an S3-compatible endpoint.
//!
//! Pure string work: no network, no credentials.

use reqwest::Url;

use super::super::is_region_name;
use super::super::sigv4::{Slash, uri_encode};
use super::RequestError;

/// A bucket and an object key, as written in `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The key, as written (not percent-decoded: `aws s3` URLs are not encoded either).
    pub key: String,
}

impl Location {
    /// `s3://bucket/key`, for messages.
    pub fn shown(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Splits `s3://bucket/key`; `text` must start with the scheme (any case).
pub fn parse_location(text: &str) -> Result<Location, RequestError> {
    let rest = text.get("s3://".len()..).unwrap_or_default();
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| bad(text, "write s3://bucket/key"))?;
    check_bucket(bucket, text)?;
    check_key(key, text)?;
    Ok(Location {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

fn bad(url: &str, reason: &str) -> RequestError {
    RequestError::Address {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// A bucket name of letters, digits, `.`, `-` and `_`: nothing that changes a host name or path.
pub(super) fn check_bucket(bucket: &str, shown: &str) -> Result<(), RequestError> {
    let ok = !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            shown,
            "the bucket name takes letters, digits, `.`, `-` and `_`",
        ))
    }
}

/// A key that names one object: not empty, not a folder, no `.` or `..` segment.
pub(super) fn check_key(key: &str, shown: &str) -> Result<(), RequestError> {
    if key.is_empty() || key.ends_with('/') {
        return Err(bad(shown, "the key names no object"));
    }
    // URL normalisation would fold `a/../b` into `b` and reach another object than was asked for.
    if key.split('/').any(|s| s == "." || s == "..") {
        return Err(bad(shown, "the key has a `.` or `..` segment"));
    }
    Ok(())
}

/// The bucket's scheme and host, and the path its objects sit under (empty when the bucket is in
/// the host name): path-style under `endpoint` when given, else AWS's virtual-hosted
/// `https://bucket.s3.REGION.amazonaws.com` (path-style for a dotted bucket, which the
/// `*.s3.REGION.amazonaws.com` certificate does not cover).
pub(super) fn base(
    bucket: &str,
    region: &str,
    endpoint: Option<&str>,
) -> Result<(Url, String), RequestError> {
    let bucket_shown = format!("s3://{bucket}");
    check_bucket(bucket, &bucket_shown)?;
    if !is_region_name(region) {
        return Err(RequestError::Address {
            url: bucket_shown,
            reason: format!("`{region}` is not a region name (like eu-west-1)"),
        });
    }
    let parse = |text: &str| Url::parse(text).map_err(|e| bad(text, &e.to_string()));
    let encoded = uri_encode(bucket, Slash::Encode);
    let (mut url, path) = match endpoint {
        Some(endpoint) => {
            let url = parse(endpoint)?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(bad(
                    endpoint,
                    "--endpoint-url takes http://host[:port] or https://host[:port]",
                ));
            }
            let path = format!("{}/{encoded}", url.path().trim_end_matches('/'));
            (url, path)
        }
        None if bucket.contains('.') => (
            parse(&format!("https://s3.{region}.amazonaws.com"))?,
            format!("/{encoded}"),
        ),
        None => (
            parse(&format!("https://{bucket}.s3.{region}.amazonaws.com"))?,
            String::new(),
        ),
    };
    url.set_query(None);
    url.set_fragment(None);
    Ok((url, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key() {
        let l = parse_location("s3://my-bucket/releases/web 1.bundle").unwrap();
        assert_eq!(l.bucket, "my-bucket");
        assert_eq!(l.key, "releases/web 1.bundle");
        assert_eq!(l.shown(), "s3://my-bucket/releases/web 1.bundle");
        for bad in [
            "s3://bucket",
            "s3:///key",
            "s3://bucket/",
            "s3://bucket/dir/",
            "s3://b@d/key",
            "s3://bucket/a/../b",
        ] {
            assert!(
                matches!(parse_location(bad), Err(RequestError::Address { .. })),
                "{bad}"
            );
        }
    }
}
