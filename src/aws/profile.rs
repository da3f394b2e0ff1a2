//! The AWS shared files, found the way the AWS CLI finds them: `~/.aws/credentials` (or
//! `AWS_SHARED_CREDENTIALS_FILE`) for a profile's keys, `~/.aws/config` (or `AWS_CONFIG_FILE`) for
//! its region, and the profile from the caller, else `AWS_PROFILE`, else `default`.
//!
//! Reads only those two files, and only when asked; a missing file is "nothing there", not an
//! error. Secrets go straight into [`Credentials`]; nothing read here is logged.

use std::io;
use std::path::{Path, PathBuf};

use super::credentials::{CredentialSource, Credentials};

/// The credentials file when `AWS_SHARED_CREDENTIALS_FILE` is not set, under `$HOME`.
const DEFAULT_CREDENTIALS_FILE: &str = ".aws/credentials";
/// The config file when `AWS_CONFIG_FILE` is not set, under `$HOME`.
const DEFAULT_CONFIG_FILE: &str = ".aws/config";
/// The profile used when neither the caller nor `AWS_PROFILE` names one.
pub const DEFAULT_PROFILE: &str = "default";

/// Where the shared files are, and which profile of them to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFiles {
    /// The credentials file.
    pub credentials: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// The profile.
    pub profile: String,
}

impl SharedFiles {
    /// The files and profile for `profile` (None: `AWS_PROFILE`, else `default`), looking up
    /// `HOME` and the `AWS_*` variables through `env`.
    pub fn locate(profile: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> SharedFiles {
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let file_from = |var: &str, default: &str| {
            env(var)
                .filter(|v| !v.is_empty())
                .map_or_else(|| home.join(default), PathBuf::from)
        };
        let profile = profile
            .map(str::to_string)
            .or_else(|| env("AWS_PROFILE").filter(|p| !p.is_empty()))
            .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
        SharedFiles {
            credentials: file_from("AWS_SHARED_CREDENTIALS_FILE", DEFAULT_CREDENTIALS_FILE),
            config: file_from("AWS_CONFIG_FILE", DEFAULT_CONFIG_FILE),
            profile,
        }
    }

    /// The profile's keys from the credentials file; None when the file, the profile or a key is
    /// missing. Err: the file exists but cannot be read.
    pub fn credentials(&self) -> io::Result<Option<(Credentials, CredentialSource)>> {
        Ok(read_optional(&self.credentials)?
            .and_then(|text| from_profile(&text, &self.profile, &self.credentials)))
    }

    /// The profile's `region` from the config file (`[default]` or `[profile NAME]`); None when
    /// it names none. Err: the file exists but cannot be read.
    pub fn region(&self) -> io::Result<Option<String>> {
        Ok(read_optional(&self.config)?.and_then(|text| profile_region(&text, &self.profile)))
    }
}

/// The file's text, or None when it does not exist.
fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `key = value` pairs of section `[section]` in an AWS shared config or credentials file
/// (INI: `#`/`;` comments, whitespace around names and values ignored); None when it is absent.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut found: Option<Vec<(String, String)>> = None;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            if current == Some(section) && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if current == Some(section)
            && let Some((k, v)) = line.split_once('=')
            && let Some(pairs) = found.as_mut()
        {
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    found
}

/// Credentials of `profile` in a shared credentials file's text (`aws_access_key_id`,
/// `aws_secret_access_key`, `aws_session_token`); None when the profile or a key is missing.
fn from_profile(text: &str, profile: &str, file: &Path) -> Option<(Credentials, CredentialSource)> {
    let pairs = ini_section(text, profile)?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let creds = Credentials::new(
        get("aws_access_key_id")?,
        get("aws_secret_access_key")?,
        get("aws_session_token"),
    );
    let source = CredentialSource::Profile {
        file: file.display().to_string(),
        profile: profile.to_string(),
    };
    Some((creds, source))
}

/// The `region` of `profile` in an AWS config file (`[default]` or `[profile NAME]`).
fn profile_region(text: &str, profile: &str) -> Option<String> {
    let section = if profile == DEFAULT_PROFILE {
        DEFAULT_PROFILE.to_string()
    } else {
        format!("profile {profile}")
    };
    ini_section(text, &section)?
        .into_iter()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profiles_from_a_credentials_file() {
        let text = "\
# comment
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = s1

[publisher]
aws_access_key_id=AKIAPUB
; another comment
aws_secret_access_key=s2
aws_session_token = t2
[broken]
aws_access_key_id = only-id
";
        let file = Path::new("/home/u/.aws/credentials");
        let (creds, source) = from_profile(text, "publisher", file).unwrap();
        assert_eq!(creds.access_key_id(), "AKIAPUB");
        assert_eq!(creds.secret(), "s2");
        assert_eq!(creds.session_token(), Some("t2"));
        assert_eq!(
            source.to_string(),
            "profile `publisher` of /home/u/.aws/credentials"
        );
        assert_eq!(
            from_profile(text, "default", file).unwrap().0.secret(),
            "s1"
        );
        assert!(from_profile(text, "broken", file).is_none());
        assert!(from_profile(text, "absent", file).is_none());
    }

    #[test]
    fn finds_the_profile_region() {
        let text = "[default]\nregion = eu-west-1\n[profile pub]\nregion=ap-south-1\n";
        assert_eq!(
            profile_region(text, "default").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(profile_region(text, "pub").as_deref(), Some("ap-south-1"));
        assert_eq!(profile_region(text, "other"), None);
    }

    #[test]
    fn locates_files_from_home_and_the_variables() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/u".to_string()),
            "AWS_CONFIG_FILE" => Some("/etc/aws-config".to_string()),
            "AWS_PROFILE" => Some("ops".to_string()),
            _ => None,
        };
        let files = SharedFiles::locate(None, &env);
        assert_eq!(files.credentials, Path::new("/home/u/.aws/credentials"));
        assert_eq!(files.config, Path::new("/etc/aws-config"));
        assert_eq!(files.profile, "ops");
        assert_eq!(SharedFiles::locate(Some("pub"), &env).profile, "pub");
    }
}
