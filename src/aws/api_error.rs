//! The error answers of the AWS JSON APIs: the code, a message, and what they mean.
//!
//! An error answer names its code in the `x-amzn-errortype` header or the body's `__type` (both
//! may carry a namespace before `#` and a URL after `:`), and S3-style servers put it in an XML
//! `<Code>`: all three are read, and only a plain code and a printable, shortened message are kept
//! — nothing an answer says reaches a message unchecked. Pure: no I/O.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::error::{Code, code_of};

/// The header some services name the error code in.
const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";
/// Longest error code kept.
const CODE_MAX: usize = 64;
/// Characters of an error message kept: AWS's access-denied messages run to about 300.
const MESSAGE_MAX: usize = 400;

/// An error answer, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The error code (`ParameterNotFound`, `AccessDeniedException`, …), or empty.
    pub code: String,
    /// The service's message, printable ASCII only and shortened; may be empty.
    pub message: String,
}

/// What an error answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The credentials themselves were refused: wrong key, expired token, clock skew.
    Credentials(Code),
    /// No such parameter or secret.
    NotFound,
    /// The credentials are fine, but a policy does not allow the call; `kms` when it is the KMS
    /// key that may not be used (`kms:Decrypt`).
    Denied {
        /// The answer blames KMS.
        kms: bool,
    },
    /// Too many requests: worth another try later.
    Throttled,
    /// The service failed (5xx, internal errors): worth another try.
    ServiceFailed,
    /// Anything else: the service's own code says more.
    Other,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl ApiError {
    /// Reads an answer's status, headers and the first bytes of its body.
    pub fn read(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let header = headers
            .get(ERROR_TYPE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let code = [header, parsed.as_ref().map_or("", |p| p.kind.as_str())]
            .into_iter()
            .map(plain_code)
            .find(|c| !c.is_empty())
            .unwrap_or_else(|| code_of(body));
        let message = match &parsed {
            Some(p) => p.message.clone(),
            None => xml_message(body),
        };
        ApiError {
            status: status.as_u16(),
            code,
            message: printable(&message),
        }
    }

    /// What the answer means to a service whose codes `not_found` mean "no such thing" and
    /// `kms` mean "the key may not be used".
    pub fn meaning(&self, not_found: &[&str], kms: &[&str]) -> Meaning {
        let code = self.code.as_str();
        if not_found.contains(&code) {
            return Meaning::NotFound;
        }
        if kms.contains(&code) {
            return Meaning::Denied { kms: true };
        }
        // "Signature expired: 20240101T000000Z is now earlier than …": the clock, not the key.
        if code == "InvalidSignatureException" && self.message.contains("Signature expired") {
            return Meaning::Credentials(Code::ClockSkew);
        }
        match code {
            "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "InvalidAccessKeyId" => Meaning::Credentials(Code::WrongKey),
            "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => {
                Meaning::Credentials(Code::ExpiredToken)
            }
            "RequestTimeTooSkewed" | "RequestExpired" => Meaning::Credentials(Code::ClockSkew),
            "AccessDeniedException" | "AccessDenied" => Meaning::Denied {
                kms: self.blames_kms(),
            },
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown" => Meaning::Throttled,
            "InternalServerError"
            | "InternalFailure"
            | "InternalServiceError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "RequestTimeout"
            | "RequestTimeoutException" => Meaning::ServiceFailed,
            _ if self.status == StatusCode::TOO_MANY_REQUESTS.as_u16() => Meaning::Throttled,
            _ if self.status >= 500 => Meaning::ServiceFailed,
            _ if self.status == 401 || self.status == 403 => Meaning::Denied {
                kms: self.blames_kms(),
            },
            _ => Meaning::Other,
        }
    }

    /// True when the message puts the blame on KMS (`kms:Decrypt`, "(Service: AWSKMS; …)", "the
    /// ciphertext refers to a customer master key …").
    fn blames_kms(&self) -> bool {
        ["kms:", "KMS", "customer master key"]
            .iter()
            .any(|word| self.message.contains(word))
    }

    /// `CODE: message`, `CODE`, or `HTTP STATUS` — for messages.
    pub fn shown(&self) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.code, self.message),
            (false, true) => self.code.clone(),
            (true, false) => format!("HTTP {}: {}", self.status, self.message),
            (true, true) => format!("HTTP {}", self.status),
        }
    }
}

/// Why an answer did not parse, in words that hold nothing of it (it may hold a secret).
pub fn problem(err: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match err.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not JSON",
        Category::Data => "not the expected fields",
        Category::Eof => "cut short",
    }
}

/// The code of `com.amazonaws.ssm#ParameterNotFound` or `ParameterNotFound:http://…`; empty
/// unless it is a plain name.
fn plain_code(raw: &str) -> String {
    let after_hash = raw.rsplit('#').next().unwrap_or_default();
    let code = after_hash.split(':').next().unwrap_or_default().trim();
    if code.len() <= CODE_MAX && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        code.to_string()
    } else {
        String::new()
    }
}

/// The `<Message>` of an XML error body, or empty.
fn xml_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map(|(message, _)| message.trim().to_string())
        .unwrap_or_default()
}

/// `text` with anything but printable ASCII replaced by `?`, cut to [`MESSAGE_MAX`] characters.
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MESSAGE_MAX)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().count() > MESSAGE_MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn read(status: u16, header: Option<&'static str>, body: &str) -> ApiError {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert(ERROR_TYPE_HEADER, HeaderValue::from_static(value));
        }
        ApiError::read(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
        )
    }

    #[test]
    fn reads_codes_from_the_header_the_json_body_or_xml() {
        let json = read(
            400,
            None,
            r#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"nope"}"#,
        );
        assert_eq!(
            (json.code.as_str(), json.message.as_str()),
            ("ParameterNotFound", "nope")
        );
        let header = read(400, Some("ThrottlingException:http://internal/"), "{}");
        assert_eq!(header.code, "ThrottlingException");
        assert_eq!(header.meaning(&[], &[]), Meaning::Throttled);
        let xml = read(
            403,
            None,
            "<ErrorResponse><Errors><Error><Code>AccessDenied</Code>\
             <Message>User: arn:aws:iam::123456789012:user/u is not authorized</Message>",
        );
        assert_eq!(xml.code, "AccessDenied");
        assert_eq!(xml.meaning(&[], &[]), Meaning::Denied { kms: false });
        assert!(xml.message.starts_with("User: arn:aws:iam::"));
        let hostile = read(
            400,
            None,
            "{\"__type\":\"<script>\",\"message\":\"a\\u001b[2Jb\"}",
        );
        assert_eq!(hostile.code, "");
        assert_eq!(hostile.message, "a?[2Jb");
        assert_eq!(
            read(503, None, "").meaning(&[], &[]),
            Meaning::ServiceFailed
        );
        assert_eq!(read(503, None, "").shown(), "HTTP 503");
    }

    #[test]
    fn sorts_what_the_credentials_did_wrong() {
        let code = |c: &str, m: &str| ApiError {
            status: 400,
            code: c.into(),
            message: m.into(),
        };
        let plain = |e: ApiError| e.meaning(&[], &[]);
        assert_eq!(
            plain(code("UnrecognizedClientException", "")),
            Meaning::Credentials(Code::WrongKey)
        );
        assert_eq!(
            plain(code(
                "InvalidSignatureException",
                "Signature expired: 2024…"
            )),
            Meaning::Credentials(Code::ClockSkew)
        );
        assert_eq!(
            plain(code("ExpiredTokenException", "")),
            Meaning::Credentials(Code::ExpiredToken)
        );
        assert_eq!(plain(code("ParameterNotFound", "")), Meaning::Other);
        let missing = code("ParameterNotFound", "");
        assert_eq!(
            missing.meaning(&["ParameterNotFound"], &[]),
            Meaning::NotFound
        );
        let kms = code(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/r/i is not authorized to perform: kms:Decrypt",
        );
        assert_eq!(plain(kms), Meaning::Denied { kms: true });
        let failure = code("DecryptionFailure", "");
        assert_eq!(
            failure.meaning(&[], &["DecryptionFailure"]),
            Meaning::Denied { kms: true }
        );
        assert!(printable(&"x".repeat(1000)).ends_with('…'));
    }
}
