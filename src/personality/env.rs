//! A personality's settings: the `[env]` tables of `bundle.toml` (for every module) and of a
//! module's `module.toml` (that module's defaults), recorded in `bundle.json` and set in the
//! scripts' environment at boot, under `--env` (which wins) and the `BUNDLE_*` variables (which
//! nobody can override).
//!
//! The one rule for a setting, used at pack time and again at boot on the manifest: the key is a
//! portable variable name that does not start with `BUNDLE_` (ours, the passphrase's among them),
//! the value holds no NUL byte and stays under [`MAX_ENV_VALUE`]. Settings are for what is not
//! secret: a value sits in every module's environment; secrets travel as files in a data folder.

use std::collections::BTreeMap;

/// A table of settings, sorted by key (so the manifest is deterministic).
pub type EnvTable = BTreeMap<String, String>;

/// The prefix of the variables `bundle-bootstrap` sets itself.
pub const RESERVED_ENV_PREFIX: &str = "BUNDLE_";
/// The longest value, in bytes: settings are words and paths; a zone or a key belongs in a file.
pub const MAX_ENV_VALUE: usize = 64 * 1024;

/// Words in a key that suggest a secret (compared upper-case).
const SECRET_WORDS: [&str; 6] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "COOKIE", "PRIVATE"];
/// Endings that make such a key a path to a file, which is fine.
const PATH_ENDINGS: [&str; 4] = ["_FILE", "_PATH", "_SOURCE", "_DIR"];

/// Checks one setting against the rule; the message says what is wrong and what to do.
pub fn check_env_pair(key: &str, value: &str) -> Result<(), String> {
    let shown = crate::names::printable(key);
    if !crate::names::valid_env_key(key) {
        return Err(format!(
            "`{shown}` is not a variable name: use letters, digits and _, not starting with a digit"
        ));
    }
    if key.starts_with(RESERVED_ENV_PREFIX) {
        return Err(format!(
            "`{shown}`: variables starting with {RESERVED_ENV_PREFIX} are set by bundle-bootstrap \
             itself; rename it"
        ));
    }
    if value.contains('\0') {
        return Err(format!(
            "`{shown}` holds a NUL byte, which no environment can carry: remove it"
        ));
    }
    if value.len() > MAX_ENV_VALUE {
        return Err(format!(
            "`{shown}` is {} bytes long (at most {MAX_ENV_VALUE}): put the text in a file of a \
             data folder and set the file's path instead",
            value.len()
        ));
    }
    Ok(())
}

/// Whether `key` looks like it names a secret rather than a setting or a path to a file.
pub fn looks_secret(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
        && !PATH_ENDINGS.iter().any(|e| upper.ends_with(e))
}

/// A table as `(key, value)` pairs in key order, for the runner.
pub fn pairs(table: &EnvTable) -> Vec<(String, String)> {
    table.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(check_env_pair("RABBITMQ_USERS_FILE", "broker-secrets/users").is_ok());
        assert!(
            check_env_pair("TINYDNS_DATA", "a\nb").is_ok(),
            "newlines are data"
        );
        for (key, value, needle) in [
            ("1X", "v", "not a variable name"),
            ("A-B", "v", "not a variable name"),
            ("X\n\u{1b}[2J", "v", "X\\n\\u{1b}[2J"),
            ("BUNDLE_ROOT", "/", "set by bundle-bootstrap"),
            ("BUNDLE_PASSPHRASE", "x", "set by bundle-bootstrap"),
            ("A", "x\0y", "NUL"),
        ] {
            let e = check_env_pair(key, value).unwrap_err();
            assert!(e.contains(needle), "{key:?}: {e}");
        }
        assert!(check_env_pair("A", &"x".repeat(MAX_ENV_VALUE + 1)).is_err());
    }

    #[test]
    fn secrets_are_told_from_paths() {
        for k in ["RABBITMQ_COOKIE", "DB_PASSWORD", "api_token"] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "RABBITMQ_COOKIE_FILE",
            "DB_PASSWORD_FILE",
            "BASE_HOSTNAME",
            "JAVA_VERSION",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }
}
