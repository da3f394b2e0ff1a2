//! The starting personalities of `bundle-templates/`, embedded at build time (see `build.rs`), and
//! `bundle new DIR --template NAME`, which writes one out.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Exit};

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

/// Writes template `name` into `dir` (created; must be absent or empty). Returns the files written.
pub fn write(name: &str, dir: &Path) -> Result<usize, TemplateError> {
    let files: Vec<_> = table::FILES.iter().filter(|f| f.0 == name).collect();
    if files.is_empty() {
        return Err(TemplateError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        });
    }
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
        fs::write(&path, bytes).map_err(io_err)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).map_err(io_err)?;
    }
    Ok(files.len())
}
