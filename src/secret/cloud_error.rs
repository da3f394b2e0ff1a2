//! Why a passphrase could not be read from SSM or Secrets Manager, and which exit status and hint
//! that maps to.
//!
//! Every message names the parameter or secret, and who signed (the access key's first
//! characters and where the credentials came from) — never the value. What the service said is
//! kept only as a plain code and a printable, shortened message (`crate::aws::json`).
//!
//! Exit statuses: a service that could not be reached within `--retry-for`, or not over TLS, is
//! 2 (as a fetch that failed: the network); everything the service answered — no such
//! parameter, access denied, refused credentials, a binary secret — and every local mistake is 1
//! (configuration: no retry fixes it).

use std::time::Duration;

use super::cloud::Store;
use crate::aws::endpoint::EndpointError;
use crate::aws::error::Code;
use crate::aws::json::BadHeader;
use crate::duration::human;
use crate::exit::{Classify, Exit};
use crate::fetch::FetchError;

/// Where README explains the policy an instance role needs.
const README_SECTION: &str = "README, \"A passphrase from AWS\"";

/// Everything that can stop a passphrase read from AWS.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The name or id holds characters the service does not allow.
    #[error("{thing} cannot be read: {why}")]
    BadId {
        /// "SSM parameter NAME".
        thing: String,
        /// What is allowed.
        why: String,
    },
    /// Neither the `AWS_*` variables nor an instance role gave credentials.
    #[error(
        "cannot read {thing}: no AWS credentials (no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         and no instance role from IMDSv2)"
    )]
    NoCredentials {
        /// "SSM parameter NAME".
        thing: String,
        /// The IAM action the role will need.
        permission: &'static str,
    },
    /// An endpoint variable or the region is unusable.
    #[error("cannot read {thing}")]
    Endpoint {
        /// "SSM parameter NAME".
        thing: String,
        /// What is wrong.
        #[source]
        source: EndpointError,
    },
    /// The request could not be made: TLS, `--ca-file`, the HTTP client.
    #[error("cannot read {thing}")]
    Net {
        /// "SSM parameter NAME".
        thing: String,
        /// The fetch layer's error (its exit status and hint are kept).
        #[source]
        source: FetchError,
    },
    /// The credentials cannot go into a header.
    #[error("cannot sign the request for {thing}")]
    Header {
        /// "SSM parameter NAME".
        thing: String,
        /// Which header.
        #[source]
        source: BadHeader,
    },
    /// No such parameter or secret.
    #[error("no {noun} {id} in {region} (asked {endpoint})")]
    NotFound {
        /// "parameter" or "secret".
        noun: &'static str,
        /// Its name or id.
        id: String,
        /// The region asked.
        region: String,
        /// The endpoint asked.
        endpoint: String,
    },
    /// The credentials are good but may not read it.
    #[error("access denied to {thing} in {region} for {signer}: it needs {needs} ({said})")]
    Denied {
        /// "SSM parameter NAME".
        thing: String,
        /// The region asked.
        region: String,
        /// Who signed.
        signer: String,
        /// The IAM permission and resource missing.
        needs: String,
        /// The service blamed KMS.
        kms: bool,
        /// Which store, for the hint.
        store: Store,
        /// What the service said.
        said: String,
    },
    /// The credentials themselves were refused.
    #[error("{endpoint} refused the credentials {signer} reading {thing} ({said})")]
    Credentials {
        /// "SSM parameter NAME".
        thing: String,
        /// The endpoint.
        endpoint: String,
        /// Who signed.
        signer: String,
        /// What kind of refusal.
        code: Code,
        /// What the service said.
        said: String,
    },
    /// A secret stored as binary.
    #[error(
        "Secrets Manager secret {id} holds a SecretBinary: a passphrase must be a SecretString"
    )]
    Binary {
        /// The secret's id.
        id: String,
    },
    /// Any other refusal.
    #[error("{endpoint} refused to give {thing} ({said})")]
    Refused {
        /// "SSM parameter NAME".
        thing: String,
        /// The endpoint.
        endpoint: String,
        /// What the service said.
        said: String,
    },
    /// A 200 answer that is not what was asked for.
    #[error("{endpoint} answered for {thing} with {why}")]
    BadAnswer {
        /// "SSM parameter NAME".
        thing: String,
        /// The endpoint.
        endpoint: String,
        /// What was wrong (never what was there).
        why: String,
    },
    /// No answer within `--retry-for`.
    #[error(
        "cannot read {thing}: no answer from {endpoint} after {attempts} attempt(s) in {}; {last}",
        human(*retry_for)
    )]
    GaveUp {
        /// "SSM parameter NAME".
        thing: String,
        /// The endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The budget.
        retry_for: Duration,
        /// The last failure.
        last: String,
    },
}

impl Classify for CloudError {
    fn exit(&self) -> Exit {
        match self {
            CloudError::GaveUp { .. } => Exit::Fetch,
            CloudError::Net { source, .. } => source.exit(),
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            CloudError::BadId { .. } => "check the name after ssm: or secretsmanager:".into(),
            CloudError::NoCredentials { permission, .. } => format!(
                "attach an instance role allowed {permission} (and make IMDSv2 reachable), or \
                 set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ),
            CloudError::Endpoint { .. } => {
                "fix or unset the AWS_ENDPOINT_URL variable named, or pass --region".into()
            }
            CloudError::Net { source, .. } => return source.hint(),
            CloudError::Header { .. } => {
                "the credentials hold characters HTTP cannot carry: check them".into()
            }
            CloudError::NotFound { .. } => "check the name and the region: pass --region or set \
                                            AWS_REGION (else the instance's region from IMDS is used)"
                .into(),
            CloudError::Denied { kms: true, .. } => format!(
                "allow kms:Decrypt on the key in the key's policy or the role's ({README_SECTION})"
            ),
            CloudError::Denied {
                store: Store::Ssm, ..
            } => format!(
                "grant it in the role's (or user's) IAM policy; a SecureString under a customer \
                 managed KMS key needs kms:Decrypt on that key too ({README_SECTION})"
            ),
            CloudError::Denied { .. } => {
                format!("grant it in the role's (or user's) IAM policy ({README_SECTION})")
            }
            CloudError::Credentials { code, .. } => {
                return code.advice().map(str::to_string);
            }
            CloudError::Binary { id } => format!(
                "store the passphrase as text: aws secretsmanager put-secret-value --secret-id \
                 {id} --secret-string …"
            ),
            CloudError::Refused { .. } => return None,
            CloudError::BadAnswer { .. } => {
                "is an AWS_ENDPOINT_URL variable pointing at something else than the service?"
                    .into()
            }
            CloudError::GaveUp { .. } => "check the network and the endpoint; --retry-for gives \
                                          it longer"
                .into(),
        })
    }
}
