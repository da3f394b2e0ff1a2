//! The AWS client, a leaf: SigV4 signing, credentials (the `AWS_*` variables, the shared files,
//! the instance role through IMDSv2), S3 addressing and signed requests, what S3's error answers
//! mean, and the JSON APIs a passphrase is read from (SSM Parameter Store, Secrets Manager).
//!
//! It builds requests and reads answers; the callers send them. `fetch` does the bootstrap's GET
//! with its own retries, deadline and redirect rules; the publisher does PUT, GET and LIST;
//! `secret` posts `GetParameter` and `GetSecretValue`. Nothing here retries, sleeps, or knows who
//! called: no `fetch`, no `publish`, no `boot`, no `secret`. The only requests sent from here are
//! part of finding credentials: IMDS's (`resolve`, which logs what IMDS could not give), and the
//! publisher's STS AssumeRole (`chain`, which also runs a profile's `credential_process`).
//! Secrets live in zeroized strings and never reach `Debug`, logs or errors.

mod api_error;
#[cfg(feature = "publisher")]
pub mod chain;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod imds;
pub mod json;
#[cfg(feature = "publisher")]
pub mod process;
#[cfg(feature = "publisher")]
pub mod profile;
pub mod resolve;
pub mod s3;
pub mod secrets;
mod sigv4;
pub mod ssm;
#[cfg(feature = "publisher")]
pub mod sts;

/// The region used when neither a flag, the environment, a profile nor IMDS names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The standard variables naming the region, in the order the AWS CLI reads them.
pub const ENV_REGIONS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// The region named by `AWS_REGION` or `AWS_DEFAULT_REGION` (looked up through `env`), if any.
pub fn env_region(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    ENV_REGIONS
        .iter()
        .find_map(|name| env(name).filter(|r| !r.is_empty()))
}

/// True when `region` looks like a region name (`eu-west-1`): lower-case letters, digits and `-`.
/// Checked before a region goes into a host name, or into a hint taken from an answer.
pub fn is_region_name(region: &str) -> bool {
    /// Longer than any region AWS has; an answer claiming more is not a region.
    const MAX_LEN: usize = 32;
    !region.is_empty()
        && region.len() <= MAX_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
