//! The plan for an unpacked bundle: which module folders run, with which scripts, in which order,
//! and which are data folders, never run (DESIGN.md, "Archive layout" and "Modules and run
//! order"). What `bundle-bootstrap` runs.
//!
//! With `bundle.json` the manifest's order is kept and every module's and data folder's digest is
//! checked again; without it (a bundle made by hand with `tar | openssl enc`) the module folders
//! (a start script) and data folders (`kind = "data"` in `module.toml`) are found and ordered
//! here. Reads the unpacked folder only; runs nothing, writes nothing.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::manifest::{MANIFEST_FORMAT, MANIFEST_FORMAT_V1, Manifest};
use super::module::{
    FolderKind, Found, INIT_SCRIPTS, MODULE_TOML, ModuleMeta, NameError, START_SCRIPTS,
    find_script, validate_module_name,
};
use super::plan_error::PlanError;
use super::{ARCHIVE_TOP, Content, MANIFEST_NAME, module_digest, run_order};

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
    /// `kind = "data"`, hidden, or not in the manifest.
    pub skipped: Vec<String>,
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
    by_hand(root, fallback_name, fallback_version)
}

/// A folder's sub-folders (real folders, not symlinks) in name byte order; hidden ones apart.
struct Folders {
    visible: Vec<String>,
    hidden: Vec<String>,
}

fn folders(dir: &Path) -> Result<Folders, PlanError> {
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
            path: dir.join(&n),
            name: n.to_string_lossy().into_owned(),
            source: NameError::NotUtf8,
        })?;
        if name.starts_with('.') {
            out.hidden.push(name.to_string());
        } else {
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
                requirement: requirement.clone(),
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
        from_manifest: true,
    })
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
fn script_path(
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

fn digest_of(dir: &Path) -> Result<Content, PlanError> {
    module_digest(dir).map_err(|source| PlanError::Read {
        path: dir.to_path_buf(),
        source,
    })
}

/// A bundle without a manifest: every folder of `root` with a start script is a module, every one
/// whose `module.toml` says `kind = "data"` is a data folder; the others are skipped.
fn by_hand(root: PathBuf, name: &str, version: &str) -> Result<Plan, PlanError> {
    let present = folders(&root)?;
    let mut skipped = present.hidden;
    let mut found = Vec::new();
    let mut data = Vec::new();
    for folder in present.visible {
        let dir = root.join(&folder);
        let meta = hand_meta(&dir)?;
        if meta.kind == FolderKind::Data {
            if let Some(script) = START_SCRIPTS
                .iter()
                .chain(INIT_SCRIPTS.iter())
                .find(|s| fs::symlink_metadata(dir.join(s)).is_ok())
            {
                return Err(PlanError::DataScript {
                    path: dir.join(script),
                });
            }
            let Content {
                digest,
                files,
                bytes,
            } = digest_of(&dir)?;
            data.push(PlannedData {
                name: folder,
                dir,
                digest,
                files,
                bytes,
            });
            continue;
        }
        let start = match find_script(&dir, START_SCRIPTS) {
            Found::Absent => {
                skipped.push(folder);
                continue;
            }
            Found::Ambiguous(first, second) => {
                return Err(PlanError::Ambiguous {
                    path: dir,
                    first,
                    second,
                });
            }
            Found::One(s) => script_path(&folder, &dir, s, START_SCRIPTS)?,
        };
        let init = match find_script(&dir, INIT_SCRIPTS) {
            Found::Absent => None,
            Found::Ambiguous(first, second) => {
                return Err(PlanError::Ambiguous {
                    path: dir,
                    first,
                    second,
                });
            }
            Found::One(s) => Some(script_path(&folder, &dir, s, INIT_SCRIPTS)?),
        };
        let Content {
            digest,
            files,
            bytes,
        } = digest_of(&dir)?;
        found.push(PlannedModule {
            name: folder,
            dir,
            start,
            init,
            digest,
            requires: meta.requires,
            files,
            bytes,
        });
    }
    if found.is_empty() {
        return Err(PlanError::NoModules { path: root });
    }
    // A data folder is in the bundle and never runs: requiring it orders nothing.
    let data_names: BTreeSet<&str> = data.iter().map(|d| d.name.as_str()).collect();
    let graph: Vec<(String, Vec<String>)> = found
        .iter()
        .map(|m| {
            let reqs = m
                .requires
                .iter()
                .filter(|r| !data_names.contains(r.as_str()));
            (m.name.clone(), reqs.cloned().collect())
        })
        .collect();
    let order = run_order(&graph).map_err(|source| PlanError::Order {
        root: root.clone(),
        source,
    })?;
    let mut slots: Vec<Option<PlannedModule>> = found.into_iter().map(Some).collect();
    Ok(Plan {
        name: name.to_string(),
        version: version.to_string(),
        root,
        modules: order.iter().filter_map(|&i| slots[i].take()).collect(),
        data,
        skipped,
        from_manifest: false,
    })
}

fn hand_meta(dir: &Path) -> Result<ModuleMeta, PlanError> {
    let path = dir.join(MODULE_TOML);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|source| PlanError::ModuleToml { path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ModuleMeta::default()),
        Err(source) => Err(PlanError::Read { path, source }),
    }
}
