//! `bundle.toml`: a personality's name, version, the library modules it takes by name, and its
//! settings (`[env]`).
//!
//! Parses one file; knows nothing of libraries or module folders.

use std::fs;
use std::path::Path;

use super::module::parse_toml_strict;

/// The personality's settings file.
pub const BUNDLE_TOML: &str = "bundle.toml";
/// The keys `bundle.toml` may hold.
pub const BUNDLE_TOML_KEYS: [&str; 4] = ["name", "version", "modules", "env"];

/// What `bundle.toml` says. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BundleToml {
    /// The bundle's name; defaults to the personality folder's name.
    pub name: Option<String>,
    /// The bundle's version; defaults to `"0"`.
    pub version: Option<String>,
    /// Modules taken by name from the module libraries.
    pub modules: Vec<String>,
    /// Settings for every module (`[env]`): over each module's own defaults, under `--env`.
    pub env: super::EnvTable,
}

/// Reads `dir/bundle.toml` strictly: its settings (defaults when there is none or it cannot be
/// read) and every problem's message.
pub fn read_bundle_toml(dir: &Path) -> (BundleToml, Vec<String>) {
    match fs::read_to_string(dir.join(BUNDLE_TOML)) {
        Ok(text) => {
            let (b, problems) = parse_toml_strict(&text, BUNDLE_TOML, &BUNDLE_TOML_KEYS);
            (b.unwrap_or_default(), problems)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (BundleToml::default(), Vec::new()),
        Err(e) => (BundleToml::default(), vec![format!("cannot be read: {e}")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_keys() {
        let (b, problems) = parse_toml_strict::<BundleToml>(
            "name = \"web\"\nversion = \"2\"\nmodules = [\"java\", \"rabbitmq\"]\n\
             [env]\nJAVA_VERSION = \"21\"\n",
            BUNDLE_TOML,
            &BUNDLE_TOML_KEYS,
        );
        assert!(problems.is_empty());
        let b = b.unwrap();
        assert_eq!(b.name.as_deref(), Some("web"));
        assert_eq!(b.version.as_deref(), Some("2"));
        assert_eq!(b.modules, ["java", "rabbitmq"]);
        assert_eq!(b.env.get("JAVA_VERSION").map(String::as_str), Some("21"));
    }

    #[test]
    fn a_setting_is_a_string() {
        let (b, problems) =
            parse_toml_strict::<BundleToml>("[env]\nPORT = 5672\n", BUNDLE_TOML, &BUNDLE_TOML_KEYS);
        assert!(b.is_none());
        assert!(
            problems[0].contains("env.PORT") || problems[0].contains("PORT"),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_keys_each_reported() {
        let (_, e) = parse_toml_strict::<BundleToml>(
            "nmae = \"x\"\nmodule = []\n",
            BUNDLE_TOML,
            &BUNDLE_TOML_KEYS,
        );
        assert_eq!(e.len(), 2);
        assert!(e.iter().any(|m| m.contains("unknown key `nmae`")));
        assert!(
            e.iter()
                .any(|m| m.contains("unknown key `module`") && m.contains("bundle.toml"))
        );
    }
}
