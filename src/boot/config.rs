//! The saved configuration: what the first `bundle-bootstrap run URL …` was started with, so a
//! later boot (the systemd unit), `run` with no URL, `rerun`, `rollback`, `watch` and `status`
//! apply the same thing without user-data.
//!
//! `/etc/startup-bundle/bootstrap.toml` (root) — one key per `run` flag, named as the flag without
//! its dashes, with the value as it would be typed:
//!
//! ```toml
//! url = "https://bundles.example.com/prod/web.latest"
//! pubkey = ["RWQ…"]
//! pass = "ssm:/team/bundle-pass"
//! env = ["ROLE=web"]
//! module-timeout = "1h"
//! on-failure = "/opt/aws/bin/cfn-signal -e 1 …"
//! ```
//!
//! Editing it is how an operator changes a flag on a running instance; flags given on the command
//! line win over it. It names what root fetches and runs, so it is refused unless it and its folder
//! belong to the user that reads it and nobody else can write them. It never holds a passphrase:
//! only its source (`file:`, `ssm:`, `secretsmanager:`), and only a source that outlives the boot.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Exit};
use crate::fsutil::{self, PRIVATE_FILE_MODE};

/// Where root keeps the configuration.
pub const DEFAULT_CONFIG: &str = "/etc/startup-bundle/bootstrap.toml";
/// The variable that names another configuration file (as `--config` does).
pub const CONFIG_ENV: &str = "BUNDLE_BOOTSTRAP_CONFIG";
/// A configuration file is a few lines; anything larger is not one.
const MAX_CONFIG: u64 = 256 * 1024;
/// The key that holds the URL (the one positional argument).
pub const URL_KEY: &str = "url";
/// Write permission for group or others.
const GROUP_OTHER_WRITE: u32 = 0o022;

/// The `--config` value that means "no configuration file": nothing is read or saved.
pub const NO_CONFIG: &str = "none";

/// Whether `path` is [`NO_CONFIG`].
pub fn is_none(path: &Path) -> bool {
    path.as_os_str() == NO_CONFIG
}

/// Where the configuration is when `--config` is not given: `$BUNDLE_BOOTSTRAP_CONFIG`, else
/// `/etc/startup-bundle/bootstrap.toml` for root, else `~/.config/startup-bundle/bootstrap.toml`.
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from(DEFAULT_CONFIG);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".config/startup-bundle/bootstrap.toml")
}

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or its folder is not safe to trust.
    #[error("refusing the configuration {}: {reason}", path.display())]
    Unsafe {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("cannot {action} the configuration {}", path.display())]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not the TOML this expects.
    #[error("the configuration {} is not valid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line when TOML says it).
        reason: String,
    },
    /// There is none, and it is needed.
    #[error("no URL given and no saved configuration at {}", path.display())]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
}

impl Classify for ConfigError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ConfigError::Unsafe { path, .. } => format!(
                "only its owner may write it: chown root {0}; chmod 600 {0} (and 700 on its folder)",
                crate::shell::quote(&path.to_string_lossy())
            ),
            ConfigError::Io { .. } => "check the path and its permissions".to_string(),
            ConfigError::Invalid { .. } => {
                "each key is a `bundle-bootstrap run` flag without its dashes (see README, \"The saved configuration\")"
                    .to_string()
            }
            ConfigError::Missing { .. } => {
                "give the bundle's URL (bundle-bootstrap run URL …), or --config FILE".to_string()
            }
        })
    }
}

/// One saved flag: its name (without dashes) and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// A flag without a value (`--allow-expired`).
    Switch,
    /// One value (`--module-timeout 1h`).
    One(String),
    /// Repeated values (`--pubkey A --pubkey B`).
    Many(Vec<String>),
}

/// A configuration: flags in the order they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedConfig {
    /// The URL, when saved.
    pub url: Option<String>,
    /// Every other flag.
    pub flags: Vec<(String, Saved)>,
}

impl SavedConfig {
    /// Reads the configuration at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<SavedConfig>, ConfigError> {
        if is_none(path) {
            return Ok(None);
        }
        let io_err = |action, source| ConfigError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", e)),
        };
        trusted(path, &meta)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let dir_meta = fs::metadata(dir).map_err(|e| io_err("read", e))?;
            trusted(dir, &dir_meta)?;
        }
        let mut text = String::new();
        fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG).read_to_string(&mut text))
            .map_err(|e| io_err("read", e))?;
        Self::parse(&text)
            .map(Some)
            .map_err(|reason| ConfigError::Invalid {
                path: path.to_path_buf(),
                reason,
            })
    }

    /// Reads the TOML text.
    pub fn parse(text: &str) -> Result<SavedConfig, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut config = SavedConfig::default();
        for (key, value) in table {
            let bad = |what: &str| format!("{key}: {what}");
            if key == URL_KEY {
                config.url = Some(
                    value
                        .as_str()
                        .ok_or_else(|| bad("write it as a string"))?
                        .to_string(),
                );
                continue;
            }
            let saved = match value {
                toml::Value::Boolean(true) => Saved::Switch,
                toml::Value::Boolean(false) => continue,
                toml::Value::String(s) => Saved::One(s),
                toml::Value::Integer(n) => Saved::One(n.to_string()),
                toml::Value::Array(items) => Saved::Many(
                    items
                        .into_iter()
                        .map(|v| match v {
                            toml::Value::String(s) => Ok(s),
                            toml::Value::Integer(n) => Ok(n.to_string()),
                            _ => Err(bad("a list holds strings")),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(bad("write a string, a number, true/false or a list")),
            };
            config.flags.push((key, saved));
        }
        Ok(config)
    }

    /// The TOML text, with a header saying what it is.
    pub fn to_toml(&self) -> String {
        let mut table = toml::Table::new();
        if let Some(url) = &self.url {
            table.insert(URL_KEY.into(), toml::Value::String(url.clone()));
        }
        for (key, saved) in &self.flags {
            let value = match saved {
                Saved::Switch => toml::Value::Boolean(true),
                Saved::One(v) => toml::Value::String(v.clone()),
                Saved::Many(vs) => {
                    toml::Value::Array(vs.iter().cloned().map(toml::Value::String).collect())
                }
            };
            table.insert(key.clone(), value);
        }
        format!(
            "# startup-bundle: how `bundle-bootstrap run` applies this instance's bundle.\n\
             # Written by the first run; each key is a `run` flag without its dashes. Edit it to\n\
             # change a flag; flags given on the command line win. Never a passphrase, only its source.\n\
             {}",
            toml::to_string(&table).unwrap_or_default()
        )
    }

    /// Writes it to `path` (mode 0600, its folder 0700 when created), atomically.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        if is_none(path) {
            return Ok(());
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            fsutil::create_private_dir(dir).map_err(|e| match e {
                fsutil::DirError::Io(source) => ConfigError::Io {
                    action: "create",
                    path: dir.to_path_buf(),
                    source,
                },
                fsutil::DirError::Unsafe(u) => ConfigError::Unsafe {
                    path: dir.to_path_buf(),
                    reason: u.to_string(),
                },
            })?;
        }
        fsutil::atomic_write(path, self.to_toml().as_bytes(), PRIVATE_FILE_MODE).map_err(|source| {
            ConfigError::Io {
                action: "write",
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The saved flags as command-line arguments (`--key=value`), to be parsed before the ones
    /// given, which therefore win.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for (key, saved) in &self.flags {
            match saved {
                Saved::Switch => args.push(OsString::from(format!("--{key}"))),
                Saved::One(v) => args.push(OsString::from(format!("--{key}={v}"))),
                Saved::Many(vs) => {
                    args.extend(vs.iter().map(|v| OsString::from(format!("--{key}={v}"))))
                }
            }
        }
        args
    }

    /// The value saved for `key`, when it holds one.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.flags.iter().find_map(|(k, v)| match v {
            Saved::One(value) if k == key => Some(value.as_str()),
            _ => None,
        })
    }
}

/// A file (or folder) root may take orders from: a real file or folder of the user reading it,
/// that nobody else can write.
fn trusted(path: &Path, meta: &fs::Metadata) -> Result<(), ConfigError> {
    let unsafe_because = |reason: String| ConfigError::Unsafe {
        path: path.to_path_buf(),
        reason,
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_because("it is a symbolic link".into()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_because(format!(
            "it is owned by uid {}, not by uid {me} or root",
            meta.uid()
        )));
    }
    if meta.mode() & GROUP_OTHER_WRITE != 0 {
        return Err(unsafe_because(format!(
            "others can write it (mode {:04o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_flags() {
        let config = SavedConfig {
            url: Some("https://h/web.latest".into()),
            flags: vec![
                (
                    "pubkey".into(),
                    Saved::Many(vec!["RWQa".into(), "RWQb".into()]),
                ),
                ("allow-expired".into(), Saved::Switch),
                ("module-timeout".into(), Saved::One("1h".into())),
            ],
        };
        let text = config.to_toml();
        let mut back = SavedConfig::parse(&text).unwrap();
        back.flags.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected = config.clone();
        expected.flags.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(back, expected);
        assert_eq!(
            expected.to_args(),
            [
                "--allow-expired",
                "--module-timeout=1h",
                "--pubkey=RWQa",
                "--pubkey=RWQb"
            ]
            .map(OsString::from)
        );
        assert!(SavedConfig::parse("url = 3").is_err());
        assert!(SavedConfig::parse("env = [{ a = 1 }]").is_err());
    }
}
