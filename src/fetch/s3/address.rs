//! Where an S3 object is: `s3://bucket/key` split and checked, and the HTTP URL for it —
//! virtual-hosted on AWS, path-style at `--endpoint-url`.
//!
//! Pure string work: no network, no credentials.

use reqwest::Url;

use super::super::error::FetchError;
use super::super::sigv4::{self, Slash};
use super::super::url::usable_name;

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

    /// The key's last segment, the downloaded file's name.
    pub(crate) fn name(&self) -> String {
        usable_name(self.key.rsplit('/').next().unwrap_or_default())
    }
}

/// Splits `s3://bucket/key`; `text` must start with the scheme (any case).
pub fn parse_location(text: &str) -> Result<Location, FetchError> {
    let bad = |reason: &str| FetchError::BadUrl {
        url: text.to_string(),
        reason: reason.to_string(),
    };
    let rest = text.get("s3://".len()..).unwrap_or_default();
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| bad("write s3://bucket/key"))?;
    let bucket_ok = !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !bucket_ok {
        return Err(bad(
            "the bucket name takes letters, digits, `.`, `-` and `_`",
        ));
    }
    if key.is_empty() || key.ends_with('/') {
        return Err(bad("the key names no object"));
    }
    // URL normalisation would fold `a/../b` into `b` and fetch another object than was asked for.
    if key.split('/').any(|s| s == "." || s == "..") {
        return Err(bad("the key has a `.` or `..` segment"));
    }
    Ok(Location {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

/// The object's HTTP URL: path-style under `endpoint` when given, else AWS's virtual-hosted
/// `https://bucket.s3.REGION.amazonaws.com/key` (path-style for a dotted bucket, which the
/// `*.s3.REGION.amazonaws.com` certificate does not cover).
pub fn object_url(loc: &Location, region: &str, endpoint: Option<&str>) -> Result<Url, FetchError> {
    let (mut url, base) = bucket_base(&loc.bucket, region, endpoint)?;
    url.set_path(&format!(
        "{base}/{}",
        sigv4::uri_encode(&loc.key, Slash::Keep)
    ));
    Ok(url)
}

/// The bucket's own URL (for listings): `…/bucket` path-style, `https://bucket.s3…/` otherwise.
pub fn bucket_url(bucket: &str, region: &str, endpoint: Option<&str>) -> Result<Url, FetchError> {
    let (mut url, base) = bucket_base(bucket, region, endpoint)?;
    url.set_path(if base.is_empty() { "/" } else { &base });
    Ok(url)
}

/// The URL's scheme and host, and the path the bucket's objects sit under (empty when the bucket
/// is in the host name).
fn bucket_base(
    bucket: &str,
    region: &str,
    endpoint: Option<&str>,
) -> Result<(Url, String), FetchError> {
    let bad = |url: &str, reason: String| FetchError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(bad(
            &format!("s3://{bucket}"),
            format!("`{region}` is not a region name (like eu-west-1)"),
        ));
    }
    let encoded = sigv4::uri_encode(bucket, Slash::Encode);
    let (mut url, base) = match endpoint {
        Some(endpoint) => {
            let url = Url::parse(endpoint).map_err(|e| bad(endpoint, e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(bad(
                    endpoint,
                    "--endpoint-url takes http://host[:port] or https://host[:port]".into(),
                ));
            }
            let base = format!("{}/{encoded}", url.path().trim_end_matches('/'));
            (url, base)
        }
        None if bucket.contains('.') => {
            let host = format!("https://s3.{region}.amazonaws.com");
            let url = Url::parse(&host).map_err(|e| bad(&host, e.to_string()))?;
            (url, format!("/{encoded}"))
        }
        None => {
            let host = format!("https://{bucket}.s3.{region}.amazonaws.com");
            let url = Url::parse(&host).map_err(|e| bad(&host, e.to_string()))?;
            (url, String::new())
        }
    };
    url.set_query(None);
    url.set_fragment(None);
    Ok((url, base))
}

/// The `Host` header reqwest sends for `url`: the host, plus the port when it is not the default.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(text: &str) -> Location {
        parse_location(text).unwrap()
    }

    #[test]
    fn parses_bucket_and_key() {
        let l = loc("s3://my-bucket/releases/web 1.bundle");
        assert_eq!(l.bucket, "my-bucket");
        assert_eq!(l.key, "releases/web 1.bundle");
        assert_eq!(l.name(), "web 1.bundle");
        for bad in [
            "s3://bucket",
            "s3:///key",
            "s3://bucket/",
            "s3://bucket/dir/",
            "s3://b@d/key",
            "s3://bucket/a/../b",
        ] {
            assert!(
                matches!(parse_location(bad), Err(FetchError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses_aws_and_compatible_endpoints() {
        let l = loc("s3://bucket/dir/a b+c.bundle");
        assert_eq!(
            object_url(&l, "eu-west-1", None).unwrap().as_str(),
            "https://bucket.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.bundle"
        );
        assert_eq!(
            object_url(&loc("s3://my.bucket/k"), "us-east-1", None)
                .unwrap()
                .as_str(),
            "https://s3.us-east-1.amazonaws.com/my.bucket/k"
        );
        let local = object_url(&l, "us-east-1", Some("http://127.0.0.1:9000/")).unwrap();
        assert_eq!(
            local.as_str(),
            "http://127.0.0.1:9000/bucket/dir/a%20b%2Bc.bundle"
        );
        assert_eq!(host_header(&local), "127.0.0.1:9000");
        let aws = object_url(&l, "us-east-1", None).unwrap();
        assert_eq!(host_header(&aws), "bucket.s3.us-east-1.amazonaws.com");
        assert!(object_url(&l, "evil.com/x", None).is_err());
        assert_eq!(
            bucket_url("bucket", "us-east-1", Some("http://127.0.0.1:9000"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000/bucket"
        );
        assert_eq!(
            bucket_url("bucket", "us-east-1", None).unwrap().as_str(),
            "https://bucket.s3.us-east-1.amazonaws.com/"
        );
        assert!(object_url(&l, "us-east-1", Some("ftp://h")).is_err());
    }
}
