//! STS AssumeRole (AWS STS API Reference, "AssumeRole"): a profile's `role_arn`, assumed with the
//! credentials of its `source_profile` (or `credential_source`), gives temporary credentials.
//!
//! One `POST /` with a form body (`Action=AssumeRole&Version=2011-06-15&RoleArn=…`), signed with
//! SigV4 for service `sts` in the region the caller gives, to the endpoint the caller gives (see
//! [`STS`]). No retry: the publisher runs again. Sending this request is part of
//! finding credentials, like IMDS's. The answer holds a secret: only its `<Code>` and a short,
//! checked `<Message>` ever reach an error.

use std::io::Read;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use zeroize::Zeroizing;

use super::credentials::Credentials;
use super::endpoint::Service;
use super::error::{ERROR_BODY_MAX, code_of};
use super::sigv4::{self, AmzTime, Request, Scope, Slash, host_header, uri_encode};

/// The service name in the credential scope.
const SERVICE: &str = "sts";
/// The API version AssumeRole is called with.
const API_VERSION: &str = "2011-06-15";
/// The form body's media type.
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// Largest answer read: an AssumeRoleResponse is about 2 KiB.
const MAX_ANSWER: u64 = 64 * 1024;
/// Longest `<Message>` kept from an error answer.
const MESSAGE_MAX: usize = 300;
/// Connection timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole request timeout.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The role to assume, and where.
#[derive(Debug, Clone)]
pub struct AssumeRole<'a> {
    /// `role_arn`.
    pub role_arn: &'a str,
    /// `role_session_name` (the AWS CLI makes one up when absent; so does the caller).
    pub session_name: &'a str,
    /// `external_id`, when the role's trust policy asks for one.
    pub external_id: Option<&'a str>,
    /// The region the request is signed for.
    pub region: &'a str,
    /// The STS endpoint (`https://sts.REGION.amazonaws.com`, or an override).
    pub endpoint: &'a str,
}

/// Why STS gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// The endpoint is not usable.
    #[error("no usable STS endpoint: {0}")]
    Endpoint(String),
    /// The request did not complete.
    #[error("no answer from {endpoint}: {reason}")]
    Request {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// STS refused.
    #[error("STS answered HTTP {status}{}{}", if code.is_empty() { String::new() } else { format!(" {code}") }, if message.is_empty() { String::new() } else { format!(": {message}") })]
    Refused {
        /// The HTTP status.
        status: u16,
        /// STS's error code (`AccessDenied`, `InvalidClientTokenId`, …).
        code: String,
        /// Its message, checked and shortened.
        message: String,
    },
    /// The answer is not an AssumeRoleResponse.
    #[error("STS's answer holds no credentials")]
    BadAnswer,
}

/// STS, for [`super::endpoint::resolve`]: `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else
/// the regional endpoint the AWS CLI v2 uses.
pub const STS: Service = Service {
    shown: "STS",
    signing_name: SERVICE,
    // A Query API: the action is a form field, not an `X-Amz-Target` header.
    target_prefix: "",
    endpoint_var: "AWS_ENDPOINT_URL_STS",
};

/// Calls AssumeRole with `creds` and returns the role's temporary credentials.
pub fn assume_role(
    role: &AssumeRole<'_>,
    creds: &Credentials,
    tls: rustls::ClientConfig,
    now: SystemTime,
) -> Result<Credentials, StsError> {
    let url = Url::parse(role.endpoint)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| StsError::Endpoint(format!("{:?} is not an http(s) URL", role.endpoint)))?;
    let mut form = vec![
        ("Action", "AssumeRole"),
        ("Version", API_VERSION),
        ("RoleArn", role.role_arn),
        ("RoleSessionName", role.session_name),
    ];
    if let Some(id) = role.external_id {
        form.push(("ExternalId", id));
    }
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", uri_encode(v, Slash::Encode)))
        .collect();
    let body = body.join("&");
    let headers = signed_headers(&url, &body, creds, role.region, now).ok_or_else(|| {
        StsError::Endpoint(format!("{:?} cannot go into a header", role.endpoint))
    })?;
    let failed = |reason: String| StsError::Request {
        endpoint: role.endpoint.to_string(),
        reason,
    };
    let client = Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| failed(e.without_url().to_string()))?;
    let response = client
        .post(url)
        .headers(headers)
        .body(body)
        .send()
        .map_err(|e| failed(crate::errchain::root_cause(&e)))?;
    let status = response.status();
    let mut answer = Zeroizing::new(Vec::new());
    response
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        let head = &answer[..answer.len().min(ERROR_BODY_MAX as usize)];
        return Err(StsError::Refused {
            status: status.as_u16(),
            code: code_of(head),
            message: message_of(head),
        });
    }
    let text = String::from_utf8_lossy(&answer);
    let get = |tag: &str| element(&text, tag).map(str::to_string);
    match (
        get("AccessKeyId"),
        get("SecretAccessKey"),
        get("SessionToken"),
    ) {
        (Some(id), Some(secret), Some(token)) => Ok(Credentials::new(id, secret, Some(token))),
        _ => Err(StsError::BadAnswer),
    }
}

/// Every header to send: content type, `x-amz-date`, the session token if any, `Authorization`.
fn signed_headers(
    url: &Url,
    body: &str,
    creds: &Credentials,
    region: &str,
    now: SystemTime,
) -> Option<HeaderMap> {
    let time = AmzTime::at(now);
    let payload_hash = sigv4::payload_hash(body.as_bytes());
    let mut signed: Vec<(&str, &str)> = vec![
        (CONTENT_TYPE.as_str(), FORM),
        (sigv4::X_AMZ_DATE, &time.stamp),
    ];
    if let Some(token) = creds.session_token() {
        signed.push((sigv4::X_AMZ_SECURITY_TOKEN, token));
    }
    let host = host_header(url);
    let request = Request {
        method: "POST",
        host: &host,
        path: url.path(),
        query: &[],
        headers: &signed,
        payload_hash: &payload_hash,
    };
    let scope = Scope {
        region,
        service: SERVICE,
    };
    let authorization = sigv4::authorization(creds, scope, &time, &request);
    let mut out = HeaderMap::new();
    for (name, value) in signed
        .iter()
        .copied()
        .chain([("authorization", authorization.as_str())])
    {
        let mut value = HeaderValue::from_str(value).ok()?;
        value.set_sensitive(true);
        out.insert(HeaderName::from_bytes(name.as_bytes()).ok()?, value);
    }
    Some(out)
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let (_, rest) = xml.split_once(&format!("<{tag}>"))?;
    let (value, _) = rest.split_once(&format!("</{tag}>"))?;
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// The `<Message>` of an error answer, kept only when it is short plain text.
fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    element(&text, "Message")
        .filter(|m| m.len() <= MESSAGE_MAX && m.chars().all(|c| !c.is_control()))
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_and_keeps_only_plain_messages() {
        let xml = "<AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>\
                   <SecretAccessKey>s</SecretAccessKey></Credentials></AssumeRoleResult>";
        assert_eq!(element(xml, "AccessKeyId"), Some("ASIA1"));
        assert_eq!(element(xml, "SessionToken"), None);
        let denied = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole</Message></Error></ErrorResponse>";
        assert!(message_of(denied).contains("sts:AssumeRole"));
        assert_eq!(message_of(b"<Message>a\x1b[31mred</Message>"), "");
    }

    #[test]
    fn the_signature_scope_names_sts() {
        let url = Url::parse("http://127.0.0.1:5000/").unwrap();
        let creds = Credentials::new("AKIAX".into(), "s".into(), Some("tok".into()));
        let headers = signed_headers(
            &url,
            "Action=AssumeRole",
            &creds,
            "eu-west-1",
            SystemTime::now(),
        )
        .unwrap();
        let auth = headers.get("authorization").unwrap().to_str().unwrap();
        assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");
        assert!(auth.contains("x-amz-security-token"), "{auth}");
    }
}
