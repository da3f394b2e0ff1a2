//! The plan for an unpacked bundle: which module folders run, with which scripts, in which order,
//! and which are data folders, never run (DESIGN.md, "Archive layout" and "Modules and run
//! order"). What `bundle-bootstrap` runs.
//!
//! With `bundle.json` the manifest's order is kept and every module's and data folder's digest is
//! checked again; without it (a bundle made by hand with `tar | openssl enc`) `hand_made.rs`
//! finds and orders them. Names, versions and settings are held to the one rule of
//! [`crate::names`] either way: a bundle that breaks it is refused (exit 4). Reads the unpacked
//! folder only; runs nothing, writes nothing.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::env::{EnvTable, check_env_pair, pairs};
use super::manifest::{MANIFEST_FORMAT, MANIFEST_FORMAT_V1, Manifest};
use super::module::{
    Found, INIT_SCRIPTS, NameError, START_SCRIPTS, find_script, validate_module_name,
};
use super::plan_error::PlanError;
use super::{ARCHIVE_TOP, Content, MANIFEST_NAME, module_digest};

/// What to run from an unpacked bundle.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The bundle's name: the manifest's, else the fallback given (the URL's file name).
    pub name: String,
    /// The bundle's version: the manifest's, else the fallback given (the file's short sha256).
    pub version: String,
    /// The folder holding the module folders (`BUNDLE_ROOT`).
    pub root: PathBuf,
    /// The modules, in run order.
    pub modules: Vec<PlannedModule>,
    /// The data folders (files for the modules, never run): in the manifest's order (name order,
    /// as `bundle pack` writes it), else in name byte order.
    pub data: Vec<PlannedData>,
    /// Folders in `root` that are neither modules nor data folders: no start script and no
    /// `kind = "data"`, hidden, or not in the manifest. Escaped for printing (a hidden folder's
    /// name is not held to the name rule).
    pub skipped: Vec<String>,
    /// The bundle's settings for every module (the manifest's `env`), in key order.
    pub env: Vec<(String, String)>,
    /// Whether the plan came from `bundle.json`.
    pub from_manifest: bool,
}

/// One module to run.
#[derive(Debug, Clone)]
pub struct PlannedModule {
    /// The module's name (its folder's name; `BUNDLE_MODULE`).
    pub name: String,
    /// The module folder (the scripts' working directory).
    pub dir: PathBuf,
    /// The start script.
    pub start: PathBuf,
    /// The init script, if any.
    pub init: Option<PathBuf>,
    /// The content digest, as found on disk (checked against the manifest when there is one).
    pub digest: String,
    /// The modules it requires.
    pub requires: Vec<String>,
    /// Number of regular files, as found on disk.
    pub files: u64,
    /// Their total size in bytes, as found on disk.
    pub bytes: u64,
    /// The module's own default settings (its `module.toml`'s `[env]`), in key order.
    pub env: Vec<(String, String)>,
    /// Where `bundle pack` found it, as the manifest records it (`local`, `library:<path>`,
    /// `built-in:<version>`); `None` in a hand-made bundle.
    pub origin: Option<String>,
}

/// One data folder: unpacked with the bundle and checked, never run.
#[derive(Debug, Clone)]
pub struct PlannedData {
    /// The folder's name.
    pub name: String,
    /// The folder (`$BUNDLE_ROOT/<name>`).
    pub dir: PathBuf,
    /// The content digest, as found on disk (checked against the manifest when there is one).
    pub digest: String,
    /// Number of regular files, as found on disk.
    pub files: u64,
    /// Their total size in bytes, as found on disk.
    pub bytes: u64,
    /// Where `bundle pack` found it, as the manifest records it; `None` in a hand-made bundle.
    pub origin: Option<String>,
}

/// Plans the run of the bundle unpacked in `unpacked`.
///
/// The manifest is `start-up-bundle/bundle.json`, or `bundle.json` in the single top-level folder,
/// or `bundle.json` at the top. Without one, modules are the top-level folders, or the folders
/// inside the single top-level folder when it has no start script of its own; `fallback_name` and
/// `fallback_version` then name the bundle.
pub fn plan_unpacked(
    unpacked: &Path,
    fallback_name: &str,
    fallback_version: &str,
) -> Result<Plan, PlanError> {
    let top = folders(unpacked)?;
    let single = match top.visible.as_slice() {
        [only] => Some(unpacked.join(only)),
        _ => None,
    };
    let manifest_root = [
        Some(unpacked.join(ARCHIVE_TOP)),
        single.clone(),
        Some(unpacked.into()),
    ]
    .into_iter()
    .flatten()
    .find(|root| root.join(MANIFEST_NAME).is_file());
    if let Some(root) = manifest_root {
        return from_manifest(root);
    }
    let root = match single {
        Some(only) if find_script(&only, START_SCRIPTS) == Found::Absent => only,
        _ => unpacked.to_path_buf(),
    };
    super::hand_made::by_hand(root, fallback_name, fallback_version)
}

/// A folder's sub-folders (real folders, not symlinks) in name byte order; hidden ones apart
/// (escaped for printing). A visible folder's name must follow the name rule: it may become a
/// module's name, and one that does not refuses the bundle.
pub(super) struct Folders {
    /// Visible folders, names checked.
    pub visible: Vec<String>,
    /// Hidden folders, names escaped.
    pub hidden: Vec<String>,
}

pub(super) fn folders(dir: &Path) -> Result<Folders, PlanError> {
    let read = |source| PlanError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        if entry.file_type().map_err(read)?.is_dir() {
            names.push(entry.file_name());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = Folders {
        visible: Vec::new(),
        hidden: Vec::new(),
    };
    for n in names {
        let name = n.to_str().ok_or_else(|| PlanError::BadName {
            path: dir.to_path_buf(),
            name: n.to_string_lossy().into_owned(),
            source: NameError::NotUtf8,
        })?;
        if name.starts_with('.') {
            out.hidden.push(crate::names::printable(name).into_owned());
        } else {
            validate_module_name(name).map_err(|source| PlanError::BadName {
                path: dir.to_path_buf(),
                name: name.to_string(),
                source,
            })?;
            out.visible.push(name.to_string());
        }
    }
    Ok(out)
}

fn from_manifest(root: PathBuf) -> Result<Plan, PlanError> {
    let path = root.join(MANIFEST_NAME);
    let bytes = fs::read(&path).map_err(|source| PlanError::Read {
        path: path.clone(),
        source,
    })?;
    let bad_json = |source| PlanError::Manifest {
        path: path.clone(),
        source,
    };
    // The format number first, so a newer manifest gets a clear "update" rather than a field error.
    #[derive(serde::Deserialize)]
    struct Head {
        format: u64,
    }
    let head: Head = serde_json::from_slice(&bytes).map_err(bad_json)?;
    if !(u64::from(MANIFEST_FORMAT_V1)..=u64::from(MANIFEST_FORMAT)).contains(&head.format) {
        return Err(PlanError::Format {
            path,
            format: head.format,
        });
    }
    let manifest = Manifest::from_json(&bytes).map_err(bad_json)?;
    let label = |what: &'static str, value: &str, source| PlanError::BadLabel {
        path: path.clone(),
        what,
        value: crate::names::printable(value).into_owned(),
        source,
    };
    crate::names::validate_name(&manifest.name).map_err(|e| label("name", &manifest.name, e))?;
    crate::names::validate_version(&manifest.version)
        .map_err(|e| label("version", &manifest.version, e))?;
    let env = checked_env(&path, "the bundle", &manifest.env)?;
    let mut listed = BTreeSet::new();
    // Data folders first: a module may require one, and they are never run, so they are "before".
    let mut data = Vec::new();
    for d in &manifest.data {
        validate_module_name(&d.name).map_err(|source| PlanError::BadName {
            path: path.clone(),
            name: d.name.clone(),
            source,
        })?;
        if !listed.insert(d.name.as_str()) {
            return Err(PlanError::Duplicate {
                path,
                module: d.name.clone(),
            });
        }
        let dir = listed_folder(&root, &d.name)?;
        let (digest, files, bytes) = checked_digest(&d.name, &dir, &d.digest)?;
        data.push(PlannedData {
            name: d.name.clone(),
            dir,
            digest,
            files,
            bytes,
            origin: Some(d.origin.clone()),
        });
    }
    let mut modules = Vec::new();
    for m in &manifest.modules {
        validate_module_name(&m.name).map_err(|source| PlanError::BadName {
            path: path.clone(),
            name: m.name.clone(),
            source,
        })?;
        if let Some(requirement) = m.requires.iter().find(|r| !listed.contains(r.as_str())) {
            return Err(PlanError::ManifestOrder {
                path,
                module: m.name.clone(),
                requirement: crate::names::printable(requirement).into_owned(),
            });
        }
        if !listed.insert(m.name.as_str()) {
            return Err(PlanError::Duplicate {
                path,
                module: m.name.clone(),
            });
        }
        let dir = listed_folder(&root, &m.name)?;
        let start = script_path(&m.name, &dir, &m.start, START_SCRIPTS)?;
        let init = match &m.init {
            Some(init) => Some(script_path(&m.name, &dir, init, INIT_SCRIPTS)?),
            None => None,
        };
        let (digest, files, bytes) = checked_digest(&m.name, &dir, &m.digest)?;
        modules.push(PlannedModule {
            name: m.name.clone(),
            dir,
            start,
            init,
            digest,
            requires: m.requires.clone(),
            files,
            bytes,
            env: checked_env(&path, &m.name, &m.env)?,
            origin: Some(m.origin.clone()),
        });
    }
    let present = folders(&root)?;
    let skipped = present
        .visible
        .into_iter()
        .filter(|n| !listed.contains(n.as_str()))
        .chain(present.hidden)
        .collect();
    Ok(Plan {
        name: manifest.name,
        version: manifest.version,
        root,
        modules,
        data,
        skipped,
        env,
        from_manifest: true,
    })
}

/// Settings of the manifest (of the bundle, or of one module: `owner`) against the one rule.
pub(super) fn checked_env(
    path: &Path,
    owner: &str,
    table: &EnvTable,
) -> Result<Vec<(String, String)>, PlanError> {
    for (key, value) in table {
        check_env_pair(key, value).map_err(|problem| PlanError::Env {
            path: path.to_path_buf(),
            owner: owner.to_string(),
            problem,
        })?;
    }
    Ok(pairs(table))
}

/// The folder of a module or data folder the manifest lists: a real folder (not a symlink) under
/// `root`.
fn listed_folder(root: &Path, name: &str) -> Result<PathBuf, PlanError> {
    let dir = root.join(name);
    if fs::symlink_metadata(&dir).is_ok_and(|md| md.is_dir()) {
        Ok(dir)
    } else {
        Err(PlanError::ModuleMissing {
            module: name.to_string(),
            path: dir,
        })
    }
}

/// The digest of `dir`, which must be the one the manifest recorded at pack time.
fn checked_digest(name: &str, dir: &Path, expected: &str) -> Result<(String, u64, u64), PlanError> {
    let Content {
        digest,
        files,
        bytes,
    } = digest_of(dir)?;
    if digest != expected {
        return Err(PlanError::DigestMismatch {
            module: name.to_string(),
            path: dir.to_path_buf(),
            expected: expected.to_string(),
            actual: digest,
        });
    }
    Ok((digest, files, bytes))
}

/// The manifest's script name must be one of the two allowed names and a file in the module.
pub(super) fn script_path(
    module: &str,
    dir: &Path,
    name: &str,
    allowed: [&str; 2],
) -> Result<PathBuf, PlanError> {
    let path = dir.join(name);
    if allowed.contains(&name) && path.is_file() {
        Ok(path)
    } else {
        Err(PlanError::Script {
            module: module.to_string(),
            path,
        })
    }
}

pub(super) fn digest_of(dir: &Path) -> Result<Content, PlanError> {
    module_digest(dir).map_err(|source| PlanError::Read {
        path: dir.to_path_buf(),
        source,
    })
}
