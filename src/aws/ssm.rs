//! SSM Parameter Store's `GetParameter` with `WithDecryption`: the request, the value in the
//! answer, and the ARN and IAM permissions a refusal asks for.
//!
//! Builds and reads; sends nothing. The value is a secret: it goes straight into a zeroized
//! string and is never logged or put in an error.

use std::time::SystemTime;

use reqwest::Url;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::credentials::Credentials;
use super::endpoint::{self, SSM};
use super::json::{self, BadHeader, JsonRequest};

/// The operation.
pub const OPERATION: &str = "GetParameter";
/// The IAM action it needs.
pub const PERMISSION: &str = "ssm:GetParameter";
/// The codes that mean "no such parameter" (SSM API Reference, GetParameter, Errors).
pub const NOT_FOUND: &[&str] = &["ParameterNotFound", "ParameterVersionNotFound"];
/// The codes that blame the KMS key.
pub const KMS: &[&str] = &["InvalidKeyId"];
/// The longest name or ARN SSM accepts.
const NAME_MAX: usize = 2048;
/// The type of an encrypted parameter.
pub const SECURE_STRING: &str = "SecureString";

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value({}, …)", self.kind)
    }
}

/// Checks a parameter name (or ARN, optionally with `:version` or `:label`): letters, digits and
/// `_ . - / :` only, which is all SSM allows and keeps messages and logs plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/' | b':'));
    if name.is_empty() || name.len() > NAME_MAX || !plain {
        return Err(format!(
            "a parameter name has 1 to {NAME_MAX} letters, digits, `_`, `.`, `-` and `/` (an \
             ARN, `:`)"
        ));
    }
    Ok(())
}

/// The signed `GetParameter` request for `name`, decrypted, at `url` in `region`.
pub fn get_parameter(
    name: &str,
    url: &Url,
    region: &str,
    creds: &Credentials,
    now: SystemTime,
) -> Result<JsonRequest, BadHeader> {
    let body = serde_json::json!({ "Name": name, "WithDecryption": true }).to_string();
    json::signed(&SSM, OPERATION, url, region, body.into_bytes(), creds, now)
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Parameter")]
    parameter: Parameter,
}

#[derive(Deserialize)]
struct Parameter {
    #[serde(rename = "Value")]
    value: String,
    #[serde(rename = "Type", default)]
    kind: String,
}

/// A parameter's value and type.
pub struct Value {
    /// The (decrypted) value.
    pub text: Zeroizing<String>,
    /// `SecureString`, `String` or `StringList`; the caller may warn about a clear one.
    pub kind: String,
}

/// The value in a `GetParameter` answer. Err says what was wrong, never what was there.
pub fn value_of(body: &[u8]) -> Result<Value, String> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("no Parameter.Value in it ({})", json::problem(&e)))?;
    let Parameter { value, kind } = answer.parameter;
    let kind = if kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        kind
    } else {
        String::new()
    };
    Ok(Value {
        text: Zeroizing::new(value),
        kind,
    })
}

/// The parameter's ARN, for policies: `name` itself when it is one (without a `:version` or
/// `:label` selector), else `arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME` (no doubled `/`).
pub fn parameter_arn(name: &str, region: &str, account: Option<&str>) -> String {
    if name.starts_with("arn:") {
        // arn:aws:ssm:REGION:ACCOUNT:parameter/NAME[:SELECTOR]: six fields before the name.
        return match name.splitn(7, ':').collect::<Vec<_>>().as_slice() {
            [.., _resource, selector] if !selector.contains('/') => {
                name[..name.len() - selector.len() - 1].to_string()
            }
            _ => name.to_string(),
        };
    }
    let bare = name.split(':').next().unwrap_or(name);
    format!(
        "arn:{}:ssm:{region}:{}:parameter/{}",
        endpoint::partition(region),
        account.unwrap_or("ACCOUNT_ID"),
        bare.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in [
            "/team/pass",
            "pass",
            "/a/b:3",
            "arn:aws:ssm:eu-west-1:1:parameter/x",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\nb", "/x$(reboot)", &"x".repeat(3000)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_the_value_and_never_echoes_a_bad_answer() {
        let v = value_of(br#"{"Parameter":{"Name":"/p","Type":"SecureString","Value":"s3cr\"t"}}"#)
            .unwrap();
        assert_eq!(v.text.as_str(), "s3cr\"t");
        assert_eq!(v.kind, SECURE_STRING);
        let err = value_of(br#"{"Parameter":{"Valu":"hunter2"}}"#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(value_of(b"<html>").is_err());
    }

    #[test]
    fn arns_for_the_policy() {
        assert_eq!(
            parameter_arn("/team/pass", "eu-west-1", Some("123456789012")),
            "arn:aws:ssm:eu-west-1:123456789012:parameter/team/pass"
        );
        assert_eq!(
            parameter_arn("pass:3", "cn-north-1", None),
            "arn:aws-cn:ssm:cn-north-1:ACCOUNT_ID:parameter/pass"
        );
        let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/team/pass";
        assert_eq!(parameter_arn(arn, "us-east-1", None), arn);
        assert_eq!(
            parameter_arn(&format!("{arn}:prod"), "us-east-1", None),
            arn
        );
    }

    #[test]
    fn the_request_asks_for_decryption() {
        let creds = Credentials::new("AKIDEXAMPLE".into(), "s".into(), None);
        let url = Url::parse("https://ssm.eu-west-1.amazonaws.com/").unwrap();
        let request =
            get_parameter("/p", &url, "eu-west-1", &creds, SystemTime::UNIX_EPOCH).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Name": "/p", "WithDecryption": true})
        );
    }
}
