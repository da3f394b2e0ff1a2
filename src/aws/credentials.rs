//! AWS credentials: the key pair (and session token) that signs requests, and the standard
//! `AWS_*` variables that hold one.
//!
//! Secrets live in zeroized strings and never reach `Debug`, logs or errors; only the access key
//! id's first characters are ever shown. Knows no HTTP and no files: the instance role comes from
//! `imds.rs`, a shared credentials file's profile from `profile.rs`, and the publisher's whole
//! look-up (profiles, `credential_process`, assumed roles) from `chain.rs`.

use std::fmt;

use zeroize::Zeroizing;

/// The standard variable holding the access key id.
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The standard variable holding the secret access key.
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The standard variable holding a temporary credential's session token.
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// Characters of the access key id shown in logs (`AKIA…`): enough to tell keys apart.
const SHOWN_KEY_CHARS: usize = 4;

/// Where a set of credentials came from, for logs and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
    Environment,
    /// The instance role of this name, through IMDSv2.
    InstanceRole(String),
    /// A profile of a shared credentials file.
    Profile {
        /// The file, e.g. `~/.aws/credentials`.
        file: String,
        /// The profile name.
        profile: String,
    },
    /// The `credential_process` of a profile.
    Process {
        /// The profile name.
        profile: String,
    },
    /// A role assumed through STS (`role_arn` of a profile) with other credentials.
    AssumedRole {
        /// The role.
        role_arn: String,
        /// The profile naming it.
        profile: String,
        /// Where the credentials that assumed it came from.
        via: Box<CredentialSource>,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment => {
                write!(f, "the environment ({ENV_ACCESS_KEY_ID})")
            }
            CredentialSource::InstanceRole(role) => {
                write!(f, "the instance role `{role}` via IMDSv2")
            }
            CredentialSource::Profile { file, profile } => {
                write!(f, "profile `{profile}` of {file}")
            }
            CredentialSource::Process { profile } => {
                write!(f, "the credential_process of profile `{profile}`")
            }
            CredentialSource::AssumedRole {
                role_arn,
                profile,
                via,
            } => write!(
                f,
                "role {role_arn} (profile `{profile}`), assumed with {via}"
            ),
        }
    }
}

/// An access key id, its secret, and the session token of temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.shown_key_id())
            .field("secret", &"…")
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Credentials {
    /// Credentials from their parts; an empty session token counts as none.
    pub fn new(access_key_id: String, secret: String, session_token: Option<String>) -> Self {
        Credentials {
            access_key_id,
            secret: Zeroizing::new(secret),
            session_token: session_token.filter(|t| !t.is_empty()).map(Zeroizing::new),
        }
    }

    /// The access key id (not a secret on its own, but shown shortened: see [`Self::shown_key_id`]).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The session token, for temporary (role) credentials.
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }

    /// The access key id's first characters and an ellipsis, safe for logs.
    pub fn shown_key_id(&self) -> String {
        let head: String = self.access_key_id.chars().take(SHOWN_KEY_CHARS).collect();
        format!("{head}…")
    }
}

/// Credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (plus `AWS_SESSION_TOKEN`),
/// looked up through `var`; None unless both keys are set and non-empty.
pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
    let id = var(ENV_ACCESS_KEY_ID).filter(|v| !v.is_empty())?;
    let secret = var(ENV_SECRET_ACCESS_KEY).filter(|v| !v.is_empty())?;
    Some(Credentials::new(id, secret, var(ENV_SESSION_TOKEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let creds = Credentials::new(
            "AKIDEXAMPLEKEY".into(),
            "very-secret".into(),
            Some("token-secret".into()),
        );
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKID…"), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("token-secret"));
        assert!(!shown.contains("AKIDEXAMPLEKEY"));
    }

    #[test]
    fn env_needs_both_keys() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let both = env(&[(ENV_ACCESS_KEY_ID, "id"), (ENV_SECRET_ACCESS_KEY, "s")]);
        let creds = from_env(&both).unwrap();
        assert_eq!(creds.access_key_id(), "id");
        assert_eq!(creds.session_token(), None);
        assert!(from_env(&env(&[(ENV_ACCESS_KEY_ID, "id")])).is_none());
        let empty = env(&[(ENV_ACCESS_KEY_ID, ""), (ENV_SECRET_ACCESS_KEY, "s")]);
        assert!(from_env(&empty).is_none());
        let token = env(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_SECRET_ACCESS_KEY, "s"),
            (ENV_SESSION_TOKEN, "t"),
        ]);
        assert_eq!(from_env(&token).unwrap().session_token(), Some("t"));
    }
}
