//! The AWS shared files, found the way the AWS CLI finds them: `~/.aws/credentials` (or
//! `AWS_SHARED_CREDENTIALS_FILE`) for a profile's keys, `~/.aws/config` (or `AWS_CONFIG_FILE`) for
//! its region, and the profile from the caller, else `AWS_PROFILE`, else `default`.
//!
//! Reads only those two files, and only when asked; a missing file is "nothing there", not an
//! error. Secrets go straight into [`Credentials`]; nothing read here is logged. What a profile's
//! settings lead to (a process to run, a role to assume) is `chain.rs`'s business.

use std::io;
use std::path::{Path, PathBuf};

use super::credentials::Credentials;

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

/// What one profile of the shared files says about credentials and region.
#[derive(Debug, Clone)]
pub struct ProfileSettings {
    /// The profile's name.
    pub name: String,
    /// Static keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`).
    pub keys: Option<Credentials>,
    /// The file the keys were read from.
    pub keys_file: PathBuf,
    /// `credential_process`: a command that prints credentials as JSON.
    pub credential_process: Option<String>,
    /// `role_arn`: a role to assume through STS.
    pub role_arn: Option<String>,
    /// `source_profile`: the profile whose credentials assume `role_arn`.
    pub source_profile: Option<String>,
    /// `credential_source` (`Environment`, `Ec2InstanceMetadata`): where the credentials that
    /// assume `role_arn` come from, instead of a source profile.
    pub credential_source: Option<String>,
    /// `role_session_name`.
    pub role_session_name: Option<String>,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// Whether the profile is an IAM Identity Center (SSO) one, which is not read here.
    pub sso: bool,
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

    /// What profile `name` says in either file (the credentials file's `[name]`, the config
    /// file's `[profile name]` or `[default]`); None when neither file has it. Err: a file exists
    /// but cannot be read (which one is in the error's path).
    pub fn settings(&self, name: &str) -> Result<Option<ProfileSettings>, (PathBuf, io::Error)> {
        let read = |path: &PathBuf| read_optional(path).map_err(|e| (path.clone(), e));
        let in_credentials = read(&self.credentials)?.and_then(|t| ini_section(&t, name));
        let in_config = read(&self.config)?.and_then(|t| ini_section(&t, &config_section(name)));
        if in_credentials.is_none() && in_config.is_none() {
            return Ok(None);
        }
        let (credentials, config) = (
            in_credentials.unwrap_or_default(),
            in_config.unwrap_or_default(),
        );
        // The credentials file's keys win over the config file's, as in the AWS CLI.
        let (keys, keys_file) = match static_keys(&credentials) {
            Some(keys) => (Some(keys), self.credentials.clone()),
            None => (static_keys(&config), self.config.clone()),
        };
        let get = |key: &str| lookup(&config, key).or_else(|| lookup(&credentials, key));
        Ok(Some(ProfileSettings {
            name: name.to_string(),
            keys,
            keys_file,
            credential_process: get("credential_process"),
            role_arn: get("role_arn"),
            source_profile: get("source_profile"),
            credential_source: get("credential_source"),
            role_session_name: get("role_session_name"),
            external_id: get("external_id"),
            region: get("region"),
            sso: get("sso_session").is_some() || get("sso_start_url").is_some(),
        }))
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

/// The value of `key` (case-insensitive name) in a section, when not empty.
fn lookup(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// `aws_access_key_id`, `aws_secret_access_key` (and `aws_session_token`) of a section; None
/// unless both keys are there.
fn static_keys(pairs: &[(String, String)]) -> Option<Credentials> {
    Some(Credentials::new(
        lookup(pairs, "aws_access_key_id")?,
        lookup(pairs, "aws_secret_access_key")?,
        lookup(pairs, "aws_session_token"),
    ))
}

/// The config file's section of a profile: `[default]` or `[profile NAME]`.
fn config_section(profile: &str) -> String {
    if profile == DEFAULT_PROFILE {
        DEFAULT_PROFILE.to_string()
    } else {
        format!("profile {profile}")
    }
}

/// The `region` of `profile` in an AWS config file (`[default]` or `[profile NAME]`).
fn profile_region(text: &str, profile: &str) -> Option<String> {
    lookup(&ini_section(text, &config_section(profile))?, "region")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_profile_from_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &credentials,
            "\
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
",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile publisher]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n\
             region = eu-north-1\n[profile deploy]\nrole_arn = arn:aws:iam::1:role/r\n\
             source_profile = publisher\nCredential_Process = /bin/creds --x\n",
        )
        .unwrap();
        let files = SharedFiles {
            credentials: credentials.clone(),
            config,
            profile: "publisher".into(),
        };
        let publisher = files.settings("publisher").unwrap().unwrap();
        let keys = publisher.keys.unwrap();
        assert_eq!(keys.access_key_id(), "AKIAPUB");
        assert_eq!(keys.secret(), "s2");
        assert_eq!(keys.session_token(), Some("t2"));
        assert_eq!(publisher.keys_file, credentials);
        assert_eq!(publisher.region.as_deref(), Some("eu-north-1"));
        let deploy = files.settings("deploy").unwrap().unwrap();
        assert!(deploy.keys.is_none());
        assert_eq!(deploy.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(deploy.source_profile.as_deref(), Some("publisher"));
        assert_eq!(deploy.credential_process.as_deref(), Some("/bin/creds --x"));
        assert!(files.settings("broken").unwrap().unwrap().keys.is_none());
        assert!(files.settings("absent").unwrap().is_none());
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
