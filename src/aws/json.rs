//! The AWS JSON 1.1 protocol, the one SSM and Secrets Manager speak: a signed `POST /` whose
//! `X-Amz-Target` names the operation. Its error answers are read in `api_error.rs`.
//!
//! Builds requests; sends nothing.

use std::time::SystemTime;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::credentials::Credentials;
use super::endpoint::Service;
use super::sigv4::{self, AmzTime, Request, Scope, host_header};

pub use super::api_error::{ApiError, Meaning, problem};

/// The content type of every JSON 1.1 request.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
/// The header naming the operation.
const X_AMZ_TARGET: &str = "x-amz-target";

/// One signed request, ready to send.
#[derive(Debug)]
pub struct JsonRequest {
    /// Where to post it.
    pub url: Url,
    /// Every header (values marked sensitive).
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// A header value HTTP cannot carry (credentials with a newline, …); names the header only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the `{0}` header would hold characters HTTP does not allow")]
pub struct BadHeader(pub String);

/// `operation` of `service` at `url` with `body`, signed for `region` at `now`.
pub fn signed(
    service: &Service,
    operation: &str,
    url: &Url,
    region: &str,
    body: Vec<u8>,
    creds: &Credentials,
    now: SystemTime,
) -> Result<JsonRequest, BadHeader> {
    let time = AmzTime::at(now);
    let target = format!("{}.{operation}", service.target_prefix);
    let mut headers: Vec<(&str, &str)> = vec![
        (CONTENT_TYPE.as_str(), CONTENT_TYPE_JSON),
        (sigv4::X_AMZ_DATE, &time.stamp),
        (X_AMZ_TARGET, &target),
    ];
    if let Some(token) = creds.session_token() {
        headers.push((sigv4::X_AMZ_SECURITY_TOKEN, token));
    }
    let host = host_header(url);
    // Services other than S3 take the path URI-encoded twice: the URL holds it encoded once.
    let path = sigv4::uri_encode(url.path(), sigv4::Slash::Keep);
    let payload_hash = sigv4::payload_hash(&body);
    let request = Request {
        method: "POST",
        host: &host,
        path: &path,
        query: &[],
        headers: &headers,
        payload_hash: &payload_hash,
    };
    let scope = Scope {
        region,
        service: service.signing_name,
    };
    let authorization = sigv4::authorization(creds, scope, &time, &request);
    let mut map = HeaderMap::new();
    for (name, value) in headers
        .iter()
        .copied()
        .chain([(AUTHORIZATION.as_str(), authorization.as_str())])
    {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| BadHeader(name.into()))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| BadHeader(name.into()))?;
        // Keeps the token and signature out of reqwest's Debug output.
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(JsonRequest {
        url: url.clone(),
        headers: map,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::endpoint::SSM;

    #[test]
    fn signs_the_target_body_and_token() {
        let creds = Credentials::new("ASIAEXAMPLE".into(), "s".into(), Some("tok".into()));
        let url = Url::parse("http://127.0.0.1:4566/").unwrap();
        let sign = |body: &[u8]| {
            let now = SystemTime::UNIX_EPOCH;
            signed(
                &SSM,
                "GetParameter",
                &url,
                "us-east-1",
                body.to_vec(),
                &creds,
                now,
            )
            .unwrap()
        };
        let request = sign(br#"{"Name":"x"}"#);
        assert_eq!(request.headers[X_AMZ_TARGET], "AmazonSSM.GetParameter");
        assert_eq!(request.headers[CONTENT_TYPE], CONTENT_TYPE_JSON);
        assert_eq!(request.headers[sigv4::X_AMZ_SECURITY_TOKEN], "tok");
        let auth = request.headers[AUTHORIZATION].to_str().unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/19700101/us-east-1/ssm/aws4_request,\
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
            ),
            "{auth}"
        );
        let other = sign(br#"{"Name":"y"}"#);
        assert_ne!(request.headers[AUTHORIZATION], other.headers[AUTHORIZATION]);
    }
}
