//! Why a publisher's S3 call failed, and which exit status and hint that maps to.
//!
//! Holds no secret: URLs are `s3://bucket/key`, credentials appear only as their source.

use std::io;
use std::path::PathBuf;

use crate::aws::error::Code;
use crate::aws::s3::RequestError;
use crate::exit::{Classify, Exit};
use crate::fetch::FetchError;

/// Why an S3 call failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// Neither the environment nor the credentials file had keys.
    #[error(
        "no AWS credentials for s3://{bucket}: no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and no profile `{profile}` in {file}"
    )]
    NoCredentials {
        /// The bucket.
        bucket: String,
        /// The profile looked for.
        profile: String,
        /// The credentials file looked in.
        file: String,
    },
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
    #[error("{op} {url}: HTTP {status}{}", if code.is_empty() { String::new() } else { format!(" {code}") })]
    Status {
        /// `PUT`, `GET`, `LIST`.
        op: &'static str,
        /// `s3://bucket/key`.
        url: String,
        /// The HTTP status.
        status: u16,
        /// S3's error code, or empty.
        code: String,
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
            S3Error::NoCredentials { .. } | S3Error::ReadFile { .. } | S3Error::Build(_) => {
                Exit::Usage
            }
            S3Error::Setup(e) => e.exit(),
            _ => Exit::Fetch,
        }
    }

    fn hint(&self) -> Option<String> {
        let text = match self {
            S3Error::NoCredentials { .. } => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile of ~/.aws/credentials"
            }
            S3Error::Status { code, status, .. } => match Code::of(code).advice() {
                Some(advice) => advice,
                None if *status == 403 => {
                    "check that the credentials' IAM or bucket policy allows the call"
                }
                None => return None,
            },
            S3Error::Setup(e) => return e.hint(),
            _ => return None,
        };
        Some(text.to_string())
    }
}
