//! `credential_process`: a profile's command that prints credentials as JSON (AWS CLI User Guide,
//! "Sourcing credentials with an external process"):
//!
//! ```json
//! {"Version": 1, "AccessKeyId": "…", "SecretAccessKey": "…", "SessionToken": "…",
//!  "Expiration": "2026-01-01T00:00:00Z"}
//! ```
//!
//! The command line runs through `sh -c`, as the AWS CLI runs it through the shell, with no
//! standard input; its standard error is the operator's terminal, so its own message is seen. Its
//! output holds a secret: it is read into a zeroized buffer, capped, and never echoed — a parse
//! error names the line and column only.

use std::io::Read;
use std::process::{Command, Stdio};

use serde::Deserialize;
use zeroize::Zeroizing;

use super::credentials::Credentials;

/// The only `Version` of the output format.
const FORMAT_VERSION: u32 = 1;
/// Largest output read: credentials are about 1.5 KiB.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Why a `credential_process` gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// It could not be started.
    #[error("cannot start it: {0}")]
    Start(String),
    /// It exited with a failure.
    #[error("it exited with {0}")]
    Failed(String),
    /// Its output is not the documented JSON.
    #[error("its output is not credentials JSON: {0}")]
    Output(String),
    /// It printed credentials that have already expired.
    #[error("the credentials it printed expired at {0}")]
    Expired(String),
}

/// The documented output; `SessionToken` and `Expiration` are optional.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    version: u32,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Runs `command` and reads the credentials it prints; `now` (UNIX seconds) judges `Expiration`.
pub fn run(command: &str, now: u64) -> Result<Credentials, ProcessError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ProcessError::Start(e.to_string()))?;
    let mut out = Zeroizing::new(Vec::new());
    let read = match child.stdout.take() {
        Some(stdout) => stdout.take(MAX_OUTPUT + 1).read_to_end(&mut out).map(drop),
        None => Ok(()),
    };
    let status = child
        .wait()
        .map_err(|e| ProcessError::Start(e.to_string()))?;
    if !status.success() {
        return Err(ProcessError::Failed(status.to_string()));
    }
    read.map_err(|e| ProcessError::Output(e.to_string()))?;
    if out.len() as u64 > MAX_OUTPUT {
        return Err(ProcessError::Output(format!(
            "more than {MAX_OUTPUT} bytes"
        )));
    }
    parse(&out, now)
}

/// Reads the JSON output; never repeats any of it.
fn parse(bytes: &[u8], now: u64) -> Result<Credentials, ProcessError> {
    let doc: Output = serde_json::from_slice(bytes).map_err(|e| {
        ProcessError::Output(format!(
            "{} at line {}, column {}",
            match e.classify() {
                serde_json::error::Category::Data => "a missing or mistyped field",
                _ => "not JSON",
            },
            e.line(),
            e.column()
        ))
    })?;
    if doc.version != FORMAT_VERSION {
        return Err(ProcessError::Output(format!(
            "\"Version\": {} (only {FORMAT_VERSION} is defined)",
            doc.version
        )));
    }
    if let Some(expiration) = &doc.expiration {
        let at = crate::date::parse_rfc3339(expiration)
            .map_err(|_| ProcessError::Output("\"Expiration\" is not an RFC 3339 date".into()))?;
        if at <= now {
            return Err(ProcessError::Expired(crate::date::format_rfc3339(at)));
        }
    }
    if doc.access_key_id.is_empty() || doc.secret_access_key.is_empty() {
        return Err(ProcessError::Output(
            "an empty AccessKeyId or SecretAccessKey".into(),
        ));
    }
    Ok(Credentials::new(
        doc.access_key_id,
        doc.secret_access_key,
        doc.session_token,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn reads_the_documented_output() {
        let creds = parse(
            br#"{"Version": 1, "AccessKeyId": "AKIAX", "SecretAccessKey": "s",
                "SessionToken": "t", "Expiration": "2026-01-01T01:00:00Z"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(creds.access_key_id(), "AKIAX");
        assert_eq!(creds.session_token(), Some("t"));
        let plain = parse(
            br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s"}"#,
            NOW,
        );
        assert!(plain.is_ok());
    }

    #[test]
    fn refuses_other_versions_expired_and_broken_output_without_echoing_it() {
        let v2 = parse(
            br#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"s"}"#,
            NOW,
        );
        assert!(matches!(v2, Err(ProcessError::Output(m)) if m.contains("Version")));
        let expired = parse(
            br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"2025-12-31T23:00:00Z"}"#,
            NOW,
        );
        assert_eq!(
            expired.unwrap_err(),
            ProcessError::Expired("2025-12-31T23:00:00Z".into())
        );
        let broken = parse(
            br#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"hunter2"#,
            NOW,
        )
        .unwrap_err()
        .to_string();
        assert!(!broken.contains("hunter2"), "{broken}");
        let missing = parse(br#"{"Version":1,"SecretAccessKey":"hunter2"}"#, NOW)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("missing") && !missing.contains("hunter2"),
            "{missing}"
        );
    }

    #[test]
    fn runs_the_command_through_the_shell() {
        let creds = run(
            r#"printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"s"}' "AKIA$((1+1))""#,
            NOW,
        )
        .unwrap();
        assert_eq!(creds.access_key_id(), "AKIA2");
        assert!(matches!(run("exit 3", NOW), Err(ProcessError::Failed(s)) if s.contains('3')));
    }
}
