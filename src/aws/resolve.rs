//! Who signs, and in which region, on an instance: credentials from the `AWS_*` variables, else
//! the instance role through IMDSv2; the region from the caller (a flag), else `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, else IMDS.
//!
//! IMDS is asked only when something is still missing and `AWS_EC2_METADATA_DISABLED` is not
//! `true`; its session is opened twice before concluding there is none (the first token request
//! of a boot may beat the network, and the AWS SDKs retry once too). What IMDS could not give is
//! said through `log`, prefixed with the caller's `label`; never a secret.

use super::credentials::{self, CredentialSource, Credentials};
use super::imds::{self, Imds, ImdsError};

/// Sessions tried before concluding there is no IMDS.
const IMDS_ATTEMPTS: u32 = 2;

/// What was found; either part may be missing.
#[derive(Debug)]
pub struct Found {
    /// The credentials and where they came from; None: none anywhere.
    pub signer: Option<(Credentials, CredentialSource)>,
    /// The region; None: none anywhere (the caller picks a default or says so).
    pub region: Option<String>,
}

/// Looks for credentials and a region: `region` first (a flag), then `env`, then IMDS at
/// `imds_endpoint`.
pub fn find(
    region: Option<&str>,
    imds_endpoint: &str,
    env: &dyn Fn(&str) -> Option<String>,
    tls: rustls::ClientConfig,
    label: &str,
    log: &mut dyn FnMut(&str),
) -> Found {
    let mut signer = credentials::from_env(env).map(|c| (c, CredentialSource::Environment));
    let mut region = region
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .or_else(|| super::env_region(env));
    let imds_off = env(imds::ENV_IMDS_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if (signer.is_none() || region.is_none()) && !imds_off {
        match open_imds(imds_endpoint, tls) {
            Ok(imds) => {
                if signer.is_none() {
                    match imds.role_credentials() {
                        Ok(Some((role, creds))) => {
                            signer = Some((creds, CredentialSource::InstanceRole(role)));
                        }
                        Ok(None) => log(&format!("{label}: the instance has no role attached")),
                        Err(e) => log(&format!("{label}: {e}")),
                    }
                }
                if region.is_none() {
                    match imds.region() {
                        Ok(found) => region = found,
                        Err(e) => log(&format!("{label}: no region from IMDS: {e}")),
                    }
                }
            }
            Err(e) => log(&format!("{label}: {e}")),
        }
    }
    Found { signer, region }
}

/// An IMDS session, asked for up to [`IMDS_ATTEMPTS`] times.
fn open_imds(endpoint: &str, tls: rustls::ClientConfig) -> Result<Imds, ImdsError> {
    let mut last = None;
    for _ in 0..IMDS_ATTEMPTS {
        match Imds::open(endpoint, tls.clone()) {
            Ok(imds) => return Ok(imds),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ImdsError::Unavailable {
        endpoint: endpoint.to_string(),
        reason: "not asked".into(),
    }))
}
