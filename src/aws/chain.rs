//! The publisher's credentials, found the way the AWS tools find them, for the common cases:
//!
//! 1. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) — unless a profile
//!    was named with `--profile`, which, as in the AWS CLI, then wins;
//! 2. the profile (`--profile`, else `AWS_PROFILE`, else `default`) of `~/.aws/credentials` and
//!    `~/.aws/config`: a `role_arn` is assumed through STS with the credentials of its
//!    `source_profile` (itself any of these) or its `credential_source` (`Environment`,
//!    `Ec2InstanceMetadata`); else its static keys; else its `credential_process`. IAM Identity
//!    Center (SSO) profiles are not read: `aws configure export-credentials` turns them into (1);
//! 3. the instance role through IMDSv2, on a build host (`AWS_EC2_METADATA_DISABLED=true` skips it).
//!
//! A profile named on purpose that does not exist is an error, not a fall-through. Every error
//! names the source it was reading; secrets never reach one.

use std::path::PathBuf;
use std::time::SystemTime;

use super::credentials::{self, CredentialSource, Credentials};
use super::endpoint;
use super::imds::{self, Imds, ImdsError};
use super::process::{self, ProcessError};
use super::profile::{ProfileSettings, SharedFiles};
use super::sts::{self, AssumeRole, StsError};

/// Longest chain of `source_profile`s followed (the AWS CLI has no fixed limit; a loop needs one).
const MAX_SOURCE_DEPTH: usize = 8;
/// The variable that points the IMDS look-up at another endpoint (as the AWS SDKs read it).
pub const ENV_IMDS_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// Prefix of the session name of an assumed role (CloudTrail shows it).
const SESSION_PREFIX: &str = "startup-bundle";

/// Where to look.
pub struct Lookup<'a> {
    /// `--profile`, when given.
    pub profile: Option<&'a str>,
    /// The environment (`HOME`, `AWS_*`).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// IMDS (`--imds-endpoint`), for the instance role of a build host and `credential_source =
    /// Ec2InstanceMetadata`; else `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else 169.254.169.254.
    pub imds_endpoint: Option<&'a str>,
    /// TLS for STS and IMDS.
    pub tls: rustls::ClientConfig,
    /// The time (signing, expiry of process credentials, session names).
    pub now: SystemTime,
}

/// Credentials found, where from, and the region their profile names.
#[derive(Debug)]
pub struct Found {
    /// The key pair.
    pub creds: Credentials,
    /// Where it came from.
    pub source: CredentialSource,
    /// The chosen profile's `region`, if it has one.
    pub region: Option<String>,
}

/// Why no credentials could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A shared file exists but cannot be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The profile asked for is in neither file.
    #[error("no profile `{profile}` in {} or {}", files.credentials.display(), files.config.display())]
    NoProfile {
        /// The profile.
        profile: String,
        /// The files looked in.
        files: SharedFiles,
    },
    /// An IAM Identity Center (SSO) profile.
    #[error("profile `{0}` is an IAM Identity Center (SSO) profile, which bundle does not read")]
    Sso(String),
    /// The profile has no keys, process or role.
    #[error(
        "profile `{0}` has no aws_access_key_id/aws_secret_access_key, credential_process or role_arn"
    )]
    Empty(String),
    /// `role_arn` without `source_profile` or a usable `credential_source`.
    #[error("profile `{profile}` has role_arn but {what}")]
    RoleSource {
        /// The profile.
        profile: String,
        /// What is wrong.
        what: String,
    },
    /// `source_profile` names a profile that is not there, or the chain loops.
    #[error("profile `{profile}`: source_profile `{source_profile}` {what}")]
    SourceProfile {
        /// The profile.
        profile: String,
        /// Its source profile.
        source_profile: String,
        /// "is in neither file", "loops back", ….
        what: &'static str,
    },
    /// The `credential_process` failed.
    #[error("the credential_process of profile `{profile}` gave no credentials: {source}")]
    Process {
        /// The profile.
        profile: String,
        /// Why.
        #[source]
        source: ProcessError,
    },
    /// STS refused to let these credentials assume the role, or could not be reached.
    #[error("assuming role {role_arn} (profile `{profile}`) with {via} failed: {source}")]
    AssumeRole {
        /// The role.
        role_arn: String,
        /// The profile naming it.
        profile: String,
        /// Where the credentials that asked came from.
        via: CredentialSource,
        /// What STS said.
        #[source]
        source: Box<StsError>,
    },
    /// `credential_source = Ec2InstanceMetadata` without an instance role.
    #[error("profile `{profile}` takes its credentials from the instance role, but {reason}")]
    NoInstanceRole {
        /// The profile.
        profile: String,
        /// Why there is none.
        reason: String,
    },
    /// Nothing anywhere.
    #[error(
        "no AWS credentials: no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no profile `{profile}` in {} or {}, and no instance role ({imds})",
        files.credentials.display(), files.config.display()
    )]
    Nothing {
        /// The profile looked for.
        profile: String,
        /// The files looked in.
        files: SharedFiles,
        /// Why IMDS gave nothing.
        imds: String,
    },
}

/// Finds the publisher's credentials (see the module's documentation for the order).
pub fn find(lookup: &Lookup<'_>) -> Result<Found, CredentialError> {
    let env = lookup.env;
    if lookup.profile.is_none()
        && let Some(creds) = credentials::from_env(env)
    {
        return Ok(Found {
            creds,
            source: CredentialSource::Environment,
            region: None,
        });
    }
    let files = SharedFiles::locate(lookup.profile, env);
    let named_on_purpose =
        lookup.profile.is_some() || env("AWS_PROFILE").is_some_and(|p| !p.is_empty());
    let mut visited = Vec::new();
    match from_profile(lookup, &files, &files.profile, &mut visited)? {
        Some((creds, source, settings)) => Ok(Found {
            creds,
            source,
            region: settings.region,
        }),
        None if named_on_purpose => Err(CredentialError::NoProfile {
            profile: files.profile.clone(),
            files,
        }),
        None => match instance_role(lookup) {
            Ok((creds, source)) => Ok(Found {
                creds,
                source,
                region: None,
            }),
            Err(reason) => Err(CredentialError::Nothing {
                profile: files.profile.clone(),
                files,
                imds: reason,
            }),
        },
    }
}

/// Credentials of profile `name`; None when neither file has it.
fn from_profile(
    lookup: &Lookup<'_>,
    files: &SharedFiles,
    name: &str,
    visited: &mut Vec<String>,
) -> Result<Option<(Credentials, CredentialSource, ProfileSettings)>, CredentialError> {
    let Some(settings) = files
        .settings(name)
        .map_err(|(path, source)| CredentialError::ReadFile { path, source })?
    else {
        return Ok(None);
    };
    visited.push(name.to_string());
    if let Some(role_arn) = settings.role_arn.clone() {
        let (via_creds, via) = role_source(lookup, files, &settings, visited)?;
        let creds = assume(lookup, &settings, &role_arn, &via_creds, &via)?;
        let source = CredentialSource::AssumedRole {
            role_arn,
            profile: name.to_string(),
            via: Box::new(via),
        };
        return Ok(Some((creds, source, settings)));
    }
    if settings.sso {
        return Err(CredentialError::Sso(name.to_string()));
    }
    if let Some(keys) = settings.keys.clone() {
        let source = CredentialSource::Profile {
            file: settings.keys_file.display().to_string(),
            profile: name.to_string(),
        };
        return Ok(Some((keys, source, settings)));
    }
    if let Some(command) = &settings.credential_process {
        let creds = process::run(command, crate::date::unix(lookup.now)).map_err(|source| {
            CredentialError::Process {
                profile: name.to_string(),
                source,
            }
        })?;
        let source = CredentialSource::Process {
            profile: name.to_string(),
        };
        return Ok(Some((creds, source, settings)));
    }
    Err(CredentialError::Empty(name.to_string()))
}

/// The credentials that assume a profile's role: its `source_profile`'s (its own static keys when
/// it names itself) or its `credential_source`.
fn role_source(
    lookup: &Lookup<'_>,
    files: &SharedFiles,
    settings: &ProfileSettings,
    visited: &mut Vec<String>,
) -> Result<(Credentials, CredentialSource), CredentialError> {
    let profile = settings.name.clone();
    let role_err = |what: &str| CredentialError::RoleSource {
        profile: profile.clone(),
        what: what.to_string(),
    };
    match (&settings.source_profile, &settings.credential_source) {
        (Some(source), _) if *source == settings.name => {
            let keys = settings
                .keys
                .clone()
                .ok_or_else(|| role_err("names itself as source_profile without keys"))?;
            let via = CredentialSource::Profile {
                file: settings.keys_file.display().to_string(),
                profile: profile.clone(),
            };
            Ok((keys, via))
        }
        (Some(source), _) => {
            let source_err = |what| CredentialError::SourceProfile {
                profile: profile.clone(),
                source_profile: source.clone(),
                what,
            };
            if visited.contains(source) {
                return Err(source_err("loops back to a profile already followed"));
            }
            if visited.len() >= MAX_SOURCE_DEPTH {
                return Err(source_err("is too many source_profiles deep"));
            }
            let (creds, via, _) = from_profile(lookup, files, source, visited)?
                .ok_or_else(|| source_err("is in neither shared file"))?;
            Ok((creds, via))
        }
        (None, Some(kind)) if kind == "Environment" => credentials::from_env(lookup.env)
            .map(|c| (c, CredentialSource::Environment))
            .ok_or_else(|| {
                role_err("credential_source = Environment and no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            }),
        (None, Some(kind)) if kind == "Ec2InstanceMetadata" => {
            instance_role(lookup).map_err(|reason| CredentialError::NoInstanceRole {
                profile: profile.clone(),
                reason,
            })
        }
        (None, Some(other)) => Err(role_err(&format!(
            "credential_source = {other}, which bundle does not read (Environment, Ec2InstanceMetadata)"
        ))),
        (None, None) => Err(role_err("neither source_profile nor credential_source")),
    }
}

/// STS AssumeRole for `settings`' role with `via_creds`.
fn assume(
    lookup: &Lookup<'_>,
    settings: &ProfileSettings,
    role_arn: &str,
    via_creds: &Credentials,
    via: &CredentialSource,
) -> Result<Credentials, CredentialError> {
    let region = settings
        .region
        .clone()
        .or_else(|| super::env_region(lookup.env))
        .unwrap_or_else(|| super::DEFAULT_REGION.to_string());
    let failed = |source: StsError| CredentialError::AssumeRole {
        role_arn: role_arn.to_string(),
        profile: settings.name.clone(),
        via: via.clone(),
        source: Box::new(source),
    };
    let endpoint = endpoint::resolve(&sts::STS, &region, lookup.env)
        .map_err(|e| failed(StsError::Endpoint(e.to_string())))?
        .url
        .to_string();
    let session = settings
        .role_session_name
        .clone()
        .unwrap_or_else(|| format!("{SESSION_PREFIX}-{}", crate::date::unix(lookup.now)));
    let role = AssumeRole {
        role_arn,
        session_name: &session,
        external_id: settings.external_id.as_deref(),
        region: &region,
        endpoint: &endpoint,
    };
    sts::assume_role(&role, via_creds, lookup.tls.clone(), lookup.now).map_err(failed)
}

/// The instance role through IMDSv2; Err says why there is none, in one line.
fn instance_role(lookup: &Lookup<'_>) -> Result<(Credentials, CredentialSource), String> {
    let env = lookup.env;
    if env(imds::ENV_IMDS_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(format!("{}=true", imds::ENV_IMDS_DISABLED));
    }
    let endpoint = lookup
        .imds_endpoint
        .map(str::to_string)
        .or_else(|| env(ENV_IMDS_ENDPOINT).filter(|e| !e.is_empty()))
        .unwrap_or_else(|| imds::DEFAULT_IMDS_ENDPOINT.to_string());
    let found = Imds::open(&endpoint, lookup.tls.clone())
        .and_then(|imds| imds.role_credentials())
        .map_err(|e: ImdsError| e.to_string())?;
    match found {
        Some((role, creds)) => Ok((creds, CredentialSource::InstanceRole(role))),
        None => Err(format!("the instance at {endpoint} has no role attached")),
    }
}
