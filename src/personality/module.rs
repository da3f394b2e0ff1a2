//! One module: its name rule, its scripts (`start`/`start.sh`, `init`/`init.sh`) and its
//! `module.toml` (DESIGN.md, "Words" and "Modules and run order"); and the data folder, a folder
//! whose `module.toml` says `kind = "data"`: packed and unpacked like a module, never run.
//!
//! Reads one module folder; knows nothing of personalities, libraries, archives or running.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use crate::names::{MAX_NAME_LEN, NameError};

/// The start script's names, in the order they are looked for. Both present is ambiguous.
pub const START_SCRIPTS: [&str; 2] = ["start", "start.sh"];
/// The init script's names. Both present is ambiguous.
pub const INIT_SCRIPTS: [&str; 2] = ["init", "init.sh"];
/// A module's optional metadata file.
pub const MODULE_TOML: &str = "module.toml";
/// The keys `module.toml` may hold.
pub const MODULE_TOML_KEYS: [&str; 6] =
    ["name", "version", "description", "requires", "kind", "env"];

/// What a folder of a personality is, from `module.toml`'s `kind` (`module` when not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FolderKind {
    /// A module: a start script (and maybe an init script) that `bundle-bootstrap` runs.
    #[default]
    Module,
    /// A data folder: files only (secrets, configuration, a zone file) that modules read from
    /// `$BUNDLE_ROOT/<name>/`. Packed, digested and unpacked like a module; never run, and it may
    /// hold no start or init script.
    Data,
}

/// What a module's `module.toml` says. Every key is optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModuleMeta {
    /// Must equal the folder's name when given.
    pub name: Option<String>,
    /// Free text, for people.
    pub version: Option<String>,
    /// Free text, for people.
    pub description: Option<String>,
    /// Names of the modules (or data folders) that must be in the bundle and, for modules, run
    /// before this one. A data folder requires nothing: it is never run.
    pub requires: Vec<String>,
    /// A module (the default) or a data folder.
    pub kind: FolderKind,
    /// The module's default settings (`[env]`): set in its scripts' environment, under
    /// `bundle.toml`'s `[env]` and `--env`, which win.
    pub env: super::EnvTable,
}

/// Where a module was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A folder inside the personality itself.
    Local,
    /// A folder inside this module library (one of [`super::library_paths`]).
    Library(PathBuf),
    /// The standard library built into `bundle` (the last one searched).
    BuiltIn,
}

/// The manifest's spelling of [`Origin::BuiltIn`]'s prefix: `built-in:<bundle version>`.
const BUILTIN_PREFIX: &str = "built-in:";
/// The manifest's spelling of [`Origin::Library`]'s prefix: `library:<path>`.
const LIBRARY_PREFIX: &str = "library:";

impl fmt::Display for Origin {
    /// The manifest's spelling: `local`, `library:<path>` or `built-in:<bundle version>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Local => f.write_str("local"),
            Origin::Library(p) => write!(f, "{LIBRARY_PREFIX}{}", p.display()),
            Origin::BuiltIn => write!(f, "{BUILTIN_PREFIX}{}", super::builtin::BUILTIN_VERSION),
        }
    }
}

impl Origin {
    /// For people: `local`, `library /src/modules`, `built-in library (bundle 0.1.0)`.
    pub fn describe(&self) -> String {
        describe_origin(&self.to_string())
    }
}

/// An origin as a manifest records it (`local`, `library:<path>`, `built-in:<version>`), for
/// people; anything else as it is, escaped (it came from the bundle).
pub fn describe_origin(recorded: &str) -> String {
    let text = if let Some(path) = recorded.strip_prefix(LIBRARY_PREFIX) {
        format!("library {path}")
    } else if let Some(version) = recorded.strip_prefix(BUILTIN_PREFIX) {
        format!("built-in library (bundle {version})")
    } else {
        recorded.to_string()
    };
    crate::names::printable(&text).into_owned()
}

/// A checked module, ready to pack.
#[derive(Debug, Clone)]
pub struct Module {
    /// The folder's name, which is the module's name.
    pub name: String,
    /// The module folder.
    pub dir: PathBuf,
    /// The start script's file name: `start` or `start.sh`.
    pub start: String,
    /// The init script's file name, if any: `init` or `init.sh`.
    pub init: Option<String>,
    /// What `module.toml` said (defaults when there is none).
    pub meta: ModuleMeta,
    /// Where the module was found.
    pub origin: Origin,
    /// Content digest, `sha256:<hex>` (see [`super::module_digest`]).
    pub digest: String,
    /// Number of regular files in the module.
    pub files: u64,
    /// Total size of those files in bytes.
    pub bytes: u64,
}

/// A checked data folder, ready to pack: files only, never run.
#[derive(Debug, Clone)]
pub struct DataFolder {
    /// The folder's name (a module name: the same rule, the same namespace).
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// What `module.toml` said (`kind = "data"`).
    pub meta: ModuleMeta,
    /// Where the folder was found.
    pub origin: Origin,
    /// Content digest, `sha256:<hex>` (see [`super::module_digest`]).
    pub digest: String,
    /// Number of regular files in the folder.
    pub files: u64,
    /// Total size of those files in bytes.
    pub bytes: u64,
}

/// Checks a module or data folder name against the one name rule ([`crate::names`]).
pub fn validate_module_name(name: &str) -> Result<(), NameError> {
    crate::names::validate_name(name)
}

/// Which of a script's two names are present in a module folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Neither name.
    Absent,
    /// Exactly this one.
    One(&'static str),
    /// Both names: nobody can tell which one is meant.
    Ambiguous(&'static str, &'static str),
}

/// Looks for `names` (e.g. [`START_SCRIPTS`]) in `dir`. A dangling symlink counts as present, so
/// the later checks can complain about it rather than silently ignoring it.
pub fn find_script(dir: &Path, names: [&'static str; 2]) -> Found {
    let present = |n: &str| fs::symlink_metadata(dir.join(n)).is_ok();
    match (present(names[0]), present(names[1])) {
        (true, true) => Found::Ambiguous(names[0], names[1]),
        (true, false) => Found::One(names[0]),
        (false, true) => Found::One(names[1]),
        (false, false) => Found::Absent,
    }
}

/// Parses a TOML settings file strictly, reporting every problem: a syntax error (toml's message,
/// with line and column), each unknown key, and any wrongly typed value.
///
/// Returns the value when the known keys could be read (even if unknown keys were found, so the
/// checks that follow still see `name`, `modules`...), and every problem. `what` names the file
/// in messages (`module.toml`, `bundle.toml`); `known` lists its keys.
pub fn parse_toml_strict<T: DeserializeOwned>(
    text: &str,
    what: &str,
    known: &[&str],
) -> (Option<T>, Vec<String>) {
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let e: toml::de::Error = e;
            return (
                None,
                vec![format!("not valid TOML: {}", e.to_string().trim())],
            );
        }
    };
    let mut problems: Vec<String> = table
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            format!(
                "unknown key `{k}` ({what} knows only {}): remove or rename it",
                known.join(", ")
            )
        })
        .collect();
    let typed = if problems.is_empty() {
        // Straight from the text, so a type error carries its line and column.
        toml::from_str::<T>(text).map_err(|e| e.to_string())
    } else {
        table.retain(|k: &str, _| known.contains(&k));
        table.try_into::<T>().map_err(|e| e.to_string())
    };
    match typed {
        Ok(v) => (Some(v), problems),
        Err(e) => {
            problems.push(e.trim().to_string());
            (None, problems)
        }
    }
}

/// Reads `dir/module.toml` strictly: the metadata (defaults when there is no file or it cannot be
/// read) and every problem's message.
pub fn read_meta(dir: &Path) -> (ModuleMeta, Vec<String>) {
    let path = dir.join(MODULE_TOML);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let (meta, problems) = parse_toml_strict(&text, MODULE_TOML, &MODULE_TOML_KEYS);
            (meta.unwrap_or_default(), problems)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (ModuleMeta::default(), Vec::new()),
        Err(e) => (ModuleMeta::default(), vec![format!("cannot be read: {e}")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_toml_reports_every_unknown_key_and_type_errors() {
        let (meta, problems) = parse_toml_strict::<ModuleMeta>(
            "nmae = \"x\"\nrequire = [\"a\"]\nrequires = \"erlang\"\n",
            MODULE_TOML,
            &MODULE_TOML_KEYS,
        );
        assert!(meta.is_none());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("unknown key `nmae`")));
        assert!(problems.iter().any(|p| p.contains("unknown key `require`")));
        assert!(problems[2].contains("requires"), "{problems:?}");
    }

    #[test]
    fn module_toml_syntax_error_has_a_line() {
        let (meta, p) = parse_toml_strict::<ModuleMeta>("name = java\n", MODULE_TOML, &[]);
        assert!(meta.is_none());
        assert!(
            p[0].starts_with("not valid TOML") && p[0].contains("line 1"),
            "{p:?}"
        );
    }

    #[test]
    fn known_keys_survive_an_unknown_one() {
        let (m, problems) = parse_toml_strict::<ModuleMeta>(
            "name = \"x\"\ncolour = 1\n",
            MODULE_TOML,
            &MODULE_TOML_KEYS,
        );
        assert_eq!(m.unwrap().name.as_deref(), Some("x"));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn kind_is_module_by_default_data_when_said_and_nothing_else() {
        let parse =
            |text: &str| parse_toml_strict::<ModuleMeta>(text, MODULE_TOML, &MODULE_TOML_KEYS);
        let (m, problems) = parse("name = \"x\"\n");
        assert!(problems.is_empty());
        assert_eq!(m.unwrap().kind, FolderKind::Module);
        let (m, problems) = parse("kind = \"data\"\n");
        assert!(problems.is_empty());
        assert_eq!(m.unwrap().kind, FolderKind::Data);
        let (m, problems) = parse("kind = \"dta\"\n");
        assert!(m.is_none());
        assert!(
            problems[0].contains("unknown variant `dta`") && problems[0].contains("`data`"),
            "{problems:?}"
        );
    }

    #[test]
    fn module_toml_good() {
        let (m, problems) = parse_toml_strict::<ModuleMeta>(
            "name = \"rabbitmq\"\nrequires = [\"erlang\"]\n",
            MODULE_TOML,
            &MODULE_TOML_KEYS,
        );
        assert!(problems.is_empty());
        let m = m.unwrap();
        assert_eq!(m.name.as_deref(), Some("rabbitmq"));
        assert_eq!(m.requires, ["erlang"]);
    }
}
