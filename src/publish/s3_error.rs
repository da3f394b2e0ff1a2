//! Why a publisher's S3 call failed, and which exit status and hint that maps to.
//!
//! Holds no secret: URLs are `s3://bucket/key`, credentials appear only as their source.

use std::io;
use std::path::PathBuf;

use crate::aws::chain::CredentialError;
use crate::aws::error::Code;
use crate::aws::s3::RequestError;
use crate::aws::sts::StsError;
use crate::exit::{Classify, Exit};
use crate::fetch::FetchError;

/// Why an S3 call failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No credentials could be found, or the ones a profile names could not be had.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The bucket, key, endpoint or region is unusable, or the credentials cannot be sent.
    #[error(transparent)]
    Build(#[from] RequestError),
    /// The CA file is unusable, or the HTTP client could not be set up.
    #[error(transparent)]
    Setup(#[from] FetchError),
    /// The local file to upload could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The request did not complete (connection, timeout, a cut answer).
    #[error("{op} {url} failed")]
    Request {
        /// `PUT`, `GET`, `LIST`.
        op: &'static str,
        /// `s3://bucket/key`.
        url: String,
        /// What reqwest said (without the URL).
        #[source]
        source: reqwest::Error,
    },
    /// The answer was cut while it was read.
    #[error("reading the answer to {op} {url} failed")]
    Body {
        /// `GET`.
        op: &'static str,
        /// `s3://bucket/key`.
        url: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// S3 answered with an error.
    #[error("{op} {url}: HTTP {status}{} (signed with credentials from {signer})", if code.is_empty() { String::new() } else { format!(" {code}") })]
    Status {
        /// `PUT`, `GET`, `LIST`.
        op: &'static str,
        /// `s3://bucket/key`.
        url: String,
        /// The HTTP status.
        status: u16,
        /// S3's error code, or empty.
        code: String,
        /// Where the credentials that signed came from (no secret).
        signer: String,
    },
    /// The object is larger than [`super::s3::GET_MAX`].
    #[error("{url} is larger than {max} bytes")]
    TooLarge {
        /// `s3://bucket/key`.
        url: String,
        /// The cap.
        max: u64,
    },
    /// A listing answer was not a `ListBucketResult`.
    #[error("the listing of {url} is not a ListBucketResult")]
    BadListing {
        /// `s3://bucket/prefix`.
        url: String,
    },
}

impl Classify for S3Error {
    fn exit(&self) -> Exit {
        match self {
            S3Error::Credentials(e) => e.exit(),
            S3Error::ReadFile { .. } | S3Error::Build(_) => Exit::Usage,
            S3Error::Setup(e) => e.exit(),
            _ => Exit::Fetch,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            S3Error::Credentials(e) => e.hint(),
            S3Error::Status {
                code, status, op, ..
            } => Some(match Code::of(code).advice() {
                Some(advice) => advice.to_string(),
                None if matches!(*status, 401 | 403) => format!(
                    "the credentials need {} on it: check their IAM policy and the bucket policy",
                    permission(op)
                ),
                None => return None,
            }),
            S3Error::Setup(e) => e.hint(),
            _ => None,
        }
    }
}

/// The IAM action an S3 call needs (AWS Service Authorization Reference, Amazon S3).
fn permission(op: &str) -> &'static str {
    match op {
        "PUT" => "s3:PutObject",
        "LIST" => "s3:ListBucket",
        _ => "s3:GetObject",
    }
}

impl Classify for CredentialError {
    fn exit(&self) -> Exit {
        match self {
            CredentialError::AssumeRole { source, .. }
                if matches!(**source, StsError::Request { .. }) =>
            {
                Exit::Fetch
            }
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            CredentialError::ReadFile { .. } => "check the file's permissions".into(),
            CredentialError::NoProfile { .. } => {
                "check --profile or AWS_PROFILE against `aws configure list-profiles`".into()
            }
            CredentialError::Sso(profile) => format!(
                "log in and export the session: aws sso login --profile {profile} && \
                 eval \"$(aws configure export-credentials --profile {profile} --format env)\""
            ),
            CredentialError::Empty(_) | CredentialError::RoleSource { .. } => {
                "see \"Configuration and credential file settings\" in the AWS CLI User Guide".into()
            }
            CredentialError::SourceProfile { .. } => {
                "source_profile must name a profile with keys, a credential_process or a role".into()
            }
            CredentialError::Process { .. } => {
                "run the credential_process command by hand: it must print {\"Version\": 1, \"AccessKeyId\": …, \"SecretAccessKey\": …} and exit 0".into()
            }
            CredentialError::AssumeRole {
                role_arn,
                via,
                source,
                ..
            } => match source.as_ref() {
                StsError::Refused { code, .. } if code == "AccessDenied" => format!(
                    "{via} needs permission sts:AssumeRole on {role_arn}, and the role's trust policy must allow it"
                ),
                StsError::Refused { code, .. } => match Code::of(code).advice() {
                    Some(advice) => format!("{advice} ({via})"),
                    None => format!("check the credentials of {via}"),
                },
                StsError::Request { .. } => {
                    "check the network, or AWS_ENDPOINT_URL_STS if it is set".into()
                }
                _ => return None,
            },
            CredentialError::NoInstanceRole { .. } => {
                "attach an instance profile to this build host, or use source_profile".into()
            }
            CredentialError::Nothing { .. } => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with --profile or AWS_PROFILE (for SSO: eval \"$(aws configure export-credentials --format env)\")".into()
            }
        })
    }
}
