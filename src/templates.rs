//! The starting personalities of `bundle-templates/`, embedded at build time (see `build.rs`), and
//! `bundle new DIR --template NAME`, which writes one out.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Exit};
use crate::personality::BUNDLE_TOML;

mod table {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// The template `bundle new` uses when none is named.
pub const DEFAULT_TEMPLATE: &str = "hello";

/// Why a template could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template of that name.
    #[error("there is no template {name:?}; the templates are: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The target folder exists and is not empty.
    #[error("{0} already exists and is not empty")]
    NotEmpty(PathBuf),
    /// The personality's name (the folder's, or `--name`) breaks the name rule.
    #[error("{shown:?} cannot name a personality")]
    BadName {
        /// The name, escaped for printing.
        shown: String,
        /// What is wrong with it.
        source: crate::names::NameError,
    },
    /// Writing failed.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for TemplateError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            TemplateError::Unknown { .. } => {
                Some("`bundle new --list` shows them with a line each".into())
            }
            TemplateError::NotEmpty(_) => Some("choose a new folder name".into()),
            TemplateError::BadName { .. } => Some(
                "the name becomes the bundle's NAME.latest and rollback counter: choose a folder \
                 name that follows the rule, or pass --name NAME"
                    .into(),
            ),
            TemplateError::Io { .. } => None,
        }
    }
}

/// The template names, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = table::FILES.iter().map(|f| f.0).collect();
    names.dedup();
    names
}

/// The first sentence of a template's README (after its title), to describe it in `--list`:
/// its first paragraph may be wrapped over several lines, and is read whole.
pub fn summary(name: &str) -> String {
    let Some(readme) = table::FILES
        .iter()
        .find(|f| f.0 == name && f.1 == "README.md")
    else {
        return String::new();
    };
    let text = String::from_utf8_lossy(readme.3);
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty() || l.starts_with('#'))
        .take_while(|l| !l.is_empty())
        .collect();
    let paragraph = paragraph.join(" ");
    match paragraph.find(". ") {
        Some(end) => paragraph[..=end].to_string(),
        None => paragraph,
    }
}

/// The name a personality written into `dir` gets by default: the folder's own name (resolving
/// `.` and `..` through the parent that exists).
pub fn default_name(dir: &Path) -> String {
    let resolved = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let resolved = fs::canonicalize(&resolved).unwrap_or(resolved);
    resolved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes template `template` into `dir` (created; must be absent or empty) as the personality
/// `name`: `bundle.toml`'s `name` is set to it, so each personality made from one template has a
/// pointer (`NAME.latest`) and a rollback counter of its own. Returns the files written.
pub fn write(template: &str, dir: &Path, name: &str) -> Result<usize, TemplateError> {
    let files: Vec<_> = table::FILES.iter().filter(|f| f.0 == template).collect();
    if files.is_empty() {
        return Err(TemplateError::Unknown {
            name: template.to_string(),
            known: names().join(", "),
        });
    }
    crate::names::validate_name(name).map_err(|source| TemplateError::BadName {
        shown: crate::names::printable(name).into_owned(),
        source,
    })?;
    if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(TemplateError::NotEmpty(dir.to_path_buf()));
    }
    for (_, rel, mode, bytes) in &files {
        let path = dir.join(rel);
        let io_err = |source| TemplateError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        if *rel == BUNDLE_TOML {
            fs::write(&path, named(bytes, name)).map_err(io_err)?;
        } else {
            fs::write(&path, bytes).map_err(io_err)?;
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).map_err(io_err)?;
    }
    Ok(files.len())
}

/// `bundle.toml`'s text with its `name = …` line set to `name` (added first when there is none).
/// `name` follows the name rule, so it needs no TOML escaping.
fn named(bytes: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let line = format!("name = \"{name}\"");
    let mut replaced = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            let key = l.trim_start();
            if !replaced && (key.starts_with("name ") || key.starts_with("name=")) {
                replaced = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        out.insert(0, line);
    }
    (out.join("\n") + "\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_line_is_set_or_added() {
        let text = "name = \"message-broker\"\nversion = \"0.1.0\"\n[env]\nA = \"b\"\n";
        assert_eq!(
            String::from_utf8(named(text.as_bytes(), "my-broker")).unwrap(),
            "name = \"my-broker\"\nversion = \"0.1.0\"\n[env]\nA = \"b\"\n"
        );
        assert_eq!(
            String::from_utf8(named(b"modules = []\n", "x")).unwrap(),
            "name = \"x\"\nmodules = []\n"
        );
    }

    #[test]
    fn every_template_names_itself_in_bundle_toml() {
        for template in names() {
            let toml = table::FILES
                .iter()
                .find(|f| f.0 == template && f.1 == BUNDLE_TOML)
                .unwrap_or_else(|| panic!("{template} has no bundle.toml"));
            let text = String::from_utf8_lossy(toml.3);
            assert!(
                text.lines().any(|l| l == format!("name = \"{template}\"")),
                "{template}: {text}"
            );
        }
    }
}
