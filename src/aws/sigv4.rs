//! AWS Signature Version 4, signed in the `Authorization` header: S3's requests and the JSON
//! APIs' (SSM, Secrets Manager).
//!
//! Pure computation: no clock, no network, no environment. The caller gives the time, the
//! credentials, the service and the request as it will be sent; this file builds the canonical
//! request, the string to sign, the signing key chain and the header value, following AWS's
//! documented algorithm ("Signature Calculations for the Authorization Header: Transferring
//! Payload in a Single Chunk", Amazon S3 API Reference, sig-v4-header-based-auth; "Create a
//! signed AWS API request", IAM User Guide). The unit tests use the S3 page's examples.

use std::time::SystemTime;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::{Digest, Sha256};

use super::credentials::Credentials;

/// The signing algorithm's name, first in the string to sign and the `Authorization` header.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// S3's name in the credential scope.
pub(crate) const SERVICE_S3: &str = "s3";
/// The last element of the credential scope.
const TERMINATOR: &str = "aws4_request";
/// `x-amz-content-sha256` for a body that is not part of the signature (S3 allows it for any
/// request over TLS or to an S3-compatible endpoint; a GET has no body anyway).
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The header that carries the request time.
pub(crate) const X_AMZ_DATE: &str = "x-amz-date";
/// The header that carries the payload hash.
pub(crate) const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
/// The header that carries a temporary credential's session token.
pub(crate) const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
/// SHA-256's block size, HMAC's key size (RFC 2104).
const HMAC_BLOCK: usize = 64;

/// A request's time in the two forms SigV4 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmzTime {
    /// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC): the `x-amz-date` header.
    pub stamp: String,
    /// `YYYYMMDD`: the credential scope's date.
    pub date: String,
}

impl AmzTime {
    /// The time `at`, in UTC. A clock before 1970 reads as 1970 (and S3 will refuse it as skewed).
    pub(crate) fn at(at: SystemTime) -> AmzTime {
        let civil = crate::date::Civil::from_unix(crate::date::unix(at));
        AmzTime {
            stamp: civil.compact(),
            date: civil.compact_date(),
        }
    }
}

/// One request, as it will be sent.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The `Host` header exactly as sent: `host` or `host:port` for a non-default port.
    pub host: &'a str,
    /// The path as sent, already URI-encoded (see [`uri_encode`]).
    pub path: &'a str,
    /// Query parameters, not encoded; they are encoded and sorted here.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host`: lower-case names, values as sent.
    pub headers: &'a [(&'a str, &'a str)],
    /// The payload's sha256 in hex, or [`UNSIGNED_PAYLOAD`]; also sent as `x-amz-content-sha256`.
    pub payload_hash: &'a str,
}

/// Where a signature is valid: the region and the service's signing name (`s3`, `ssm`,
/// `secretsmanager`), the middle of the credential scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The region, e.g. `eu-west-1`.
    pub region: &'a str,
    /// The service's signing name.
    pub service: &'a str,
}

/// The `Authorization` header value for `request` at `time`, for `scope`.
///
/// `request.headers` must include `x-amz-date` (= `time.stamp`), `x-amz-content-sha256` for S3,
/// and `x-amz-security-token` when the credentials carry one: every `x-amz-*` header sent must be
/// signed.
pub(crate) fn authorization(
    creds: &Credentials,
    scope: Scope<'_>,
    time: &AmzTime,
    request: &Request<'_>,
) -> String {
    let (canonical, signed_headers) = canonical_request(request);
    let Scope { region, service } = scope;
    let scope = format!("{}/{region}/{service}/{TERMINATOR}", time.date);
    let to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        time.stamp,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(creds.secret(), &time.date, region, service);
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
        creds.access_key_id()
    )
}

/// The canonical request and its `SignedHeaders` list.
fn canonical_request(request: &Request<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value)))
        .collect();
    headers.push(("host".into(), request.host.to_string()));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, Slash::Encode), uri_encode(v, Slash::Encode)))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = format!(
        "{}\n{}\n{}\n",
        request.method,
        request.path,
        query.join("&")
    );
    for (name, value) in &headers {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(&format!("\n{signed}\n{}", request.payload_hash));
    (out, signed)
}

/// A header value trimmed, with runs of spaces folded to one, as the canonical form requires.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The signing key: HMAC chain over date, region, service and terminator, seeded with the secret.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // RFC 2104 §2: a key longer than the hash's block is hashed first, and any key is then
    // zero-padded to the block; doing that here makes the constructor infallible.
    let mut block = [0u8; HMAC_BLOCK];
    if key.len() > HMAC_BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The `Host` header reqwest sends for `url`: the host, plus the port when it is not the default.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The sha256 of `bytes` in lower-case hex: a signed payload's hash.
pub(crate) fn payload_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    crate::hashing::hex(bytes)
}

/// Whether `/` is kept (object key paths) or encoded (query names and values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slash {
    /// Keep `/` as is.
    Keep,
    /// Encode `/` as `%2F`.
    Encode,
}

/// AWS's `UriEncode`: every byte except `A-Z a-z 0-9 - . _ ~` (and `/` when kept) becomes `%XX`
/// with upper-case hex; S3 paths are encoded once, not twice.
pub(crate) fn uri_encode(text: &str, slash: Slash) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (b == b'/' && slash == Slash::Keep);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const US_EAST_1_S3: Scope<'static> = Scope {
        region: "us-east-1",
        service: SERVICE_S3,
    };

    /// The example credentials of AWS's SigV4 documentation.
    fn example_credentials() -> Credentials {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            None,
        )
    }

    fn example_time() -> AmzTime {
        // 2013-05-24T00:00:00Z.
        AmzTime::at(UNIX_EPOCH + Duration::from_secs(1_369_353_600))
    }

    #[test]
    fn formats_times_in_utc() {
        let time = example_time();
        assert_eq!(time.stamp, "20130524T000000Z");
        assert_eq!(time.date, "20130524");
        let leap = AmzTime::at(UNIX_EPOCH + Duration::from_secs(951_825_600 + 3_723));
        assert_eq!(leap.stamp, "20000229T130203Z");
        assert_eq!(AmzTime::at(UNIX_EPOCH).stamp, "19700101T000000Z");
    }

    /// sig-v4-header-based-auth, "Example: GET Object": the first 10 bytes of test.txt.
    #[test]
    fn matches_the_documented_get_object_example() {
        let time = example_time();
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: &[],
            headers: &[
                ("range", "bytes=0-9"),
                (X_AMZ_CONTENT_SHA256, EMPTY_SHA256),
                (X_AMZ_DATE, &time.stamp),
            ],
            payload_hash: EMPTY_SHA256,
        };
        let (canonical, signed) = canonical_request(&request);
        assert_eq!(signed, "host;range;x-amz-content-sha256;x-amz-date");
        // The documented string to sign ends with this hash of the canonical request.
        assert_eq!(
            hex(&Sha256::digest(canonical.as_bytes())),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            authorization(&example_credentials(), US_EAST_1_S3, &time, &request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// sig-v4-header-based-auth, "Example: PUT Object": a signed payload, an encoded `$` in the
    /// key, and extra signed headers.
    #[test]
    fn matches_the_documented_put_object_example() {
        let time = example_time();
        let payload_hash = hex(&Sha256::digest(b"Welcome to Amazon S3."));
        assert_eq!(
            payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = format!("/{}", uri_encode("test$file.text", Slash::Keep));
        let request = Request {
            method: "PUT",
            host: "examplebucket.s3.amazonaws.com",
            path: &path,
            query: &[],
            headers: &[
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                (X_AMZ_DATE, &time.stamp),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                (X_AMZ_CONTENT_SHA256, &payload_hash),
            ],
            payload_hash: &payload_hash,
        };
        assert_eq!(
            authorization(&example_credentials(), US_EAST_1_S3, &time, &request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,\
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    /// sig-v4-header-based-auth, "Example: GET Bucket (List Objects)": a query to sort and encode.
    #[test]
    fn matches_the_documented_list_objects_example() {
        let time = example_time();
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/",
            query: &[("prefix", "J"), ("max-keys", "2")],
            headers: &[
                (X_AMZ_CONTENT_SHA256, EMPTY_SHA256),
                (X_AMZ_DATE, &time.stamp),
            ],
            payload_hash: EMPTY_SHA256,
        };
        assert!(
            authorization(&example_credentials(), US_EAST_1_S3, &time, &request).ends_with(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            )
        );
    }

    #[test]
    fn a_changed_secret_or_range_changes_the_signature() {
        let time = example_time();
        let sign = |creds: &Credentials, range: &str| {
            let headers = [
                ("range", range),
                (X_AMZ_CONTENT_SHA256, UNSIGNED_PAYLOAD),
                (X_AMZ_DATE, time.stamp.as_str()),
            ];
            let request = Request {
                method: "GET",
                host: "127.0.0.1:9000",
                path: "/b/k",
                query: &[],
                headers: &headers,
                payload_hash: UNSIGNED_PAYLOAD,
            };
            authorization(creds, US_EAST_1_S3, &time, &request)
        };
        let good = example_credentials();
        let wrong = Credentials::new("AKIAIOSFODNN7EXAMPLE".into(), "other".into(), None);
        assert_ne!(sign(&good, "bytes=0-"), sign(&wrong, "bytes=0-"));
        assert_ne!(sign(&good, "bytes=0-"), sign(&good, "bytes=10-"));
    }

    /// AWS's SigV4 test suite: `get-vanilla` and `post-x-www-form-urlencoded`, for a service
    /// other than S3 (named `service`), the latter with a signed body and content type.
    #[test]
    fn matches_the_test_suite_for_other_services() {
        let creds = Credentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            None,
        );
        // 2015-08-30T12:36:00Z.
        let time = AmzTime::at(UNIX_EPOCH + Duration::from_secs(1_440_938_160));
        let scope = Scope {
            region: "us-east-1",
            service: "service",
        };
        let sign = |method, headers: &[(&str, &str)], body: &[u8]| {
            let hash = payload_hash(body);
            let request = Request {
                method,
                host: "example.amazonaws.com",
                path: "/",
                query: &[],
                headers,
                payload_hash: &hash,
            };
            authorization(&creds, scope, &time, &request)
        };
        let date = [(X_AMZ_DATE, time.stamp.as_str())];
        assert!(sign("GET", &date, b"").ends_with(
            "SignedHeaders=host;x-amz-date,\
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ));
        let form = [
            ("content-type", "application/x-www-form-urlencoded"),
            (X_AMZ_DATE, time.stamp.as_str()),
        ];
        assert_eq!(
            sign("POST", &form, b"Param1=value1"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,\
             SignedHeaders=content-type;host;x-amz-date,\
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn host_headers_carry_only_other_ports() {
        let local = Url::parse("http://127.0.0.1:9000/b/k").unwrap();
        assert_eq!(host_header(&local), "127.0.0.1:9000");
        let aws = Url::parse("https://b.s3.us-east-1.amazonaws.com/k").unwrap();
        assert_eq!(host_header(&aws), "b.s3.us-east-1.amazonaws.com");
    }

    #[test]
    fn queries_are_encoded_and_sorted() {
        let request = Request {
            method: "GET",
            host: "h",
            path: "/b",
            query: &[("prefix", "a b/c"), ("list-type", "2")],
            headers: &[],
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let (canonical, _) = canonical_request(&request);
        assert!(canonical.starts_with("GET\n/b\nlist-type=2&prefix=a%20b%2Fc\nhost:h\n"));
    }

    #[test]
    fn encodes_like_aws_uri_encode() {
        assert_eq!(
            uri_encode("a b/c~d_e.f-g$ü", Slash::Keep),
            "a%20b/c~d_e.f-g%24%C3%BC"
        );
        assert_eq!(uri_encode("a/b+c", Slash::Encode), "a%2Fb%2Bc");
        assert_eq!(canonical_value("  a   b "), "a b");
    }
}
