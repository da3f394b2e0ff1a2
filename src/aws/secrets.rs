//! Secrets Manager's `GetSecretValue`: the request, the `SecretString` in the answer, and the
//! ARN a refusal's policy needs.
//!
//! Builds and reads; sends nothing. The value is a secret: it goes straight into a zeroized
//! string and is never logged or put in an error. A secret stored as `SecretBinary` is refused:
//! a passphrase is text.

use std::time::SystemTime;

use reqwest::Url;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::credentials::Credentials;
use super::endpoint::{self, SECRETS_MANAGER};
use super::json::{self, BadHeader, JsonRequest};

/// The operation.
pub const OPERATION: &str = "GetSecretValue";
/// The IAM action it needs.
pub const PERMISSION: &str = "secretsmanager:GetSecretValue";
/// The code that means "no such secret" (Secrets Manager API Reference, GetSecretValue, Errors).
pub const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];
/// The code that blames the KMS key: the secret could not be decrypted with it.
pub const KMS: &[&str] = &["DecryptionFailure"];
/// The longest secret id (name or ARN) accepted.
const ID_MAX: usize = 2048;
/// The random suffix Secrets Manager adds to a secret's ARN, as a policy wildcard.
const ARN_SUFFIX_WILDCARD: &str = "-??????";

/// Checks a secret id (name or ARN): letters, digits and `/ _ + = . @ - :` only, which is all
/// Secrets Manager allows and keeps messages and logs plain.
pub fn check_id(id: &str) -> Result<(), String> {
    let plain = id.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'/' | b'_' | b'+' | b'=' | b'.' | b'@' | b'-' | b':')
    });
    if id.is_empty() || id.len() > ID_MAX || !plain {
        return Err(format!(
            "a secret id has 1 to {ID_MAX} letters, digits, `/`, `_`, `+`, `=`, `.`, `@` and `-` \
             (an ARN, `:`)"
        ));
    }
    Ok(())
}

/// The signed `GetSecretValue` request for `id` (its current version) at `url` in `region`.
pub fn get_secret_value(
    id: &str,
    url: &Url,
    region: &str,
    creds: &Credentials,
    now: SystemTime,
) -> Result<JsonRequest, BadHeader> {
    let body = serde_json::json!({ "SecretId": id }).to_string();
    json::signed(
        &SECRETS_MANAGER,
        OPERATION,
        url,
        region,
        body.into_bytes(),
        creds,
        now,
    )
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SecretString")]
    string: Option<String>,
    #[serde(rename = "SecretBinary")]
    binary: Option<serde::de::IgnoredAny>,
}

/// Why an answer holds no usable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoText {
    /// The secret is stored as `SecretBinary`.
    Binary,
    /// The answer is not a `GetSecretValue` answer; says why, never what was there.
    Unreadable(String),
}

/// The `SecretString` of a `GetSecretValue` answer.
pub fn value_of(body: &[u8]) -> Result<Zeroizing<String>, NoText> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        NoText::Unreadable(format!(
            "not a GetSecretValue answer ({})",
            json::problem(&e)
        ))
    })?;
    match answer {
        Answer {
            string: Some(text), ..
        } => Ok(Zeroizing::new(text)),
        Answer {
            binary: Some(_), ..
        } => Err(NoText::Binary),
        _ => Err(NoText::Unreadable("no SecretString in it".into())),
    }
}

/// The secret's ARN, for policies: `id` itself when it is one, else
/// `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-??????` (the suffix Secrets Manager
/// adds, as IAM's documentation writes it).
pub fn secret_arn(id: &str, region: &str, account: Option<&str>) -> String {
    if id.starts_with("arn:") {
        return id.to_string();
    }
    format!(
        "arn:{}:secretsmanager:{region}:{}:secret:{id}{ARN_SUFFIX_WILDCARD}",
        endpoint::partition(region),
        account.unwrap_or("ACCOUNT_ID"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in [
            "team/pass",
            "a+b=c.d@e-f_g",
            "arn:aws:secretsmanager:eu-west-1:1:secret:x",
        ] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "x;reboot", "a\u{7}"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_binary_secret_is_refused_and_a_bad_answer_never_echoed() {
        let v = value_of(br#"{"ARN":"a","Name":"n","SecretString":"s3cret"}"#).unwrap();
        assert_eq!(v.as_str(), "s3cret");
        assert_eq!(
            value_of(br#"{"Name":"n","SecretBinary":"aGk="}"#),
            Err(NoText::Binary)
        );
        let Err(NoText::Unreadable(why)) = value_of(br#"{"SecretString":["hunter2"]}"#) else {
            panic!("an array is no secret string");
        };
        assert!(!why.contains("hunter2"), "{why}");
    }

    #[test]
    fn arns_for_the_policy() {
        assert_eq!(
            secret_arn("team/pass", "eu-west-1", Some("123456789012")),
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pass-??????"
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:team/pass-AbCdEf";
        assert_eq!(secret_arn(arn, "us-east-1", None), arn);
    }
}
