//! The EC2 instance metadata service, version 2 only: a session token, the instance role's
//! temporary credentials, and the instance's region.
//!
//! IMDSv2 (EC2 User Guide, "Use the Instance Metadata Service to access instance metadata"): a
//! `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` returns a token that every
//! `GET` then carries in `X-aws-ec2-metadata-token`. IMDSv1 (token-less GETs) is never used: it is
//! the one SSRF-prone variant and may be switched off on the instance. Timeouts are short and a
//! silent endpoint means "not on EC2": the caller then reads anonymously. Never logs a secret.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;

use super::credentials::Credentials;
use crate::errchain::root_cause;

/// Where IMDS answers on every EC2 instance (`--imds-endpoint` replaces it).
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The variable the AWS SDKs honour to switch IMDS off.
pub const ENV_IMDS_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const REGION_PATH: &str = "/latest/meta-data/placement/region";
const INSTANCE_ID_PATH: &str = "/latest/meta-data/instance-id";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Token lifetime asked for: the boot needs minutes, the maximum is 6 hours.
const TOKEN_TTL_SECONDS: u32 = 300;
/// IMDS is link-local and answers in milliseconds; waiting longer only delays a non-EC2 machine.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest answer read: credentials are about 1.5 KiB.
const MAX_ANSWER: u64 = 64 * 1024;
/// The `Code` of a usable credentials document.
const CODE_SUCCESS: &str = "Success";

/// Why IMDS gave nothing usable; said in one log line, never containing a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImdsError {
    /// No answer to the token request: not on EC2, IMDS switched off, or a hop limit too low.
    #[error("no instance metadata service at {endpoint}: {reason}")]
    Unavailable {
        /// The endpoint asked.
        endpoint: String,
        /// The last failure.
        reason: String,
    },
    /// IMDS answered, but not with what was asked for.
    #[error("the instance metadata service at {endpoint} answered {what}")]
    BadAnswer {
        /// The endpoint asked.
        endpoint: String,
        /// What was wrong.
        what: String,
    },
}

/// The credentials document of `/latest/meta-data/iam/security-credentials/<role>`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleDocument {
    code: String,
    access_key_id: String,
    secret_access_key: String,
    token: String,
}

/// A session with IMDS: one token, asked for when the session opens, carried by every GET.
pub struct Imds {
    client: Client,
    endpoint: String,
    token: String,
}

impl Imds {
    /// Opens a session against `endpoint` (`http://host[:port]`, no trailing slash needed): one
    /// token request, no retry.
    pub fn open(endpoint: &str, tls: rustls::ClientConfig) -> Result<Imds, ImdsError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            // IMDS is link-local: a proxy from the environment must never see the token.
            .no_proxy()
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ImdsError::Unavailable {
                endpoint: endpoint.clone(),
                reason: e.without_url().to_string(),
            })?;
        let token = fetch_token(&client, &endpoint)?;
        Ok(Imds {
            client,
            endpoint,
            token,
        })
    }

    /// The instance role's name and temporary credentials; Ok(None) when no role is attached.
    pub fn role_credentials(&self) -> Result<Option<(String, Credentials)>, ImdsError> {
        let Some(roles) = self.get(ROLES_PATH)? else {
            return Ok(None);
        };
        let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let role = role.to_string();
        let path = format!("{ROLES_PATH}{role}");
        let Some(text) = self.get(&path)? else {
            return Err(self.bad(format!("404 for the credentials of role `{role}`")));
        };
        // The document holds the secret: only where parsing failed is told, never what was there.
        let doc: RoleDocument = serde_json::from_str(&text).map_err(|e| {
            self.bad(format!(
                "an unreadable credentials document for role `{role}` (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if doc.code != CODE_SUCCESS {
            return Err(self.bad(format!(
                "Code `{}` for the credentials of role `{role}`",
                doc.code
            )));
        }
        let creds = Credentials::new(doc.access_key_id, doc.secret_access_key, Some(doc.token));
        Ok(Some((role, creds)))
    }

    /// The instance's region (`placement/region`); Ok(None) when IMDS does not know it.
    pub fn region(&self) -> Result<Option<String>, ImdsError> {
        Ok(self
            .get(REGION_PATH)?
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()))
    }

    /// The instance's id (`i-0123…`); Ok(None) when IMDS does not know it.
    pub fn instance_id(&self) -> Result<Option<String>, ImdsError> {
        Ok(self
            .get(INSTANCE_ID_PATH)?
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()))
    }

    /// A metadata GET with the session token; Ok(None) for 404.
    fn get(&self, path: &str) -> Result<Option<String>, ImdsError> {
        let request = self
            .client
            .get(format!("{}{path}", self.endpoint))
            .header(TOKEN_HEADER, &self.token);
        let (status, body) = send(request, &self.endpoint)?;
        match status {
            StatusCode::OK => Ok(Some(body)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(self.bad(format!("HTTP {} for {path}", s.as_u16()))),
        }
    }

    fn bad(&self, what: String) -> ImdsError {
        ImdsError::BadAnswer {
            endpoint: self.endpoint.clone(),
            what,
        }
    }
}

/// The session token: `PUT /latest/api/token` with the TTL header.
fn fetch_token(client: &Client, endpoint: &str) -> Result<String, ImdsError> {
    let request = client
        .put(format!("{endpoint}{TOKEN_PATH}"))
        .header(TTL_HEADER, TOKEN_TTL_SECONDS.to_string());
    match send(request, endpoint)? {
        (StatusCode::OK, token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
        (status, _) => Err(ImdsError::Unavailable {
            endpoint: endpoint.to_string(),
            reason: format!("HTTP {} for the token", status.as_u16()),
        }),
    }
}

/// Sends `request` and reads at most [`MAX_ANSWER`] bytes of the answer.
fn send(request: RequestBuilder, endpoint: &str) -> Result<(StatusCode, String), ImdsError> {
    let unavailable = |reason: String| ImdsError::Unavailable {
        endpoint: endpoint.to_string(),
        reason,
    };
    let response = request.send().map_err(|e| unavailable(root_cause(&e)))?;
    let status = response.status();
    let mut body = String::new();
    response
        .take(MAX_ANSWER)
        .read_to_string(&mut body)
        .map_err(|e| unavailable(e.to_string()))?;
    Ok((status, body))
}
