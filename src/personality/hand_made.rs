//! The plan of a bundle made by hand (`tar | openssl enc`, no `bundle.json`): every folder with a
//! start script is a module, every one whose `module.toml` says `kind = "data"` a data folder,
//! ordered by `requires` here; names held to the same rule as a manifest's.
//!
//! Reads the unpacked folder only; runs nothing, writes nothing.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::module::{
    FolderKind, Found, INIT_SCRIPTS, MODULE_TOML, ModuleMeta, START_SCRIPTS, find_script,
    validate_module_name,
};
use super::plan::{Plan, PlannedData, PlannedModule, checked_env, digest_of, folders, script_path};
use super::plan_error::PlanError;
use super::{Content, run_order};

/// The name of a hand-made bundle whose URL gives nothing usable.
const DEFAULT_HAND_MADE_NAME: &str = "bundle";

/// A bundle without a manifest: every folder of `root` with a start script is a module, every one
/// whose `module.toml` says `kind = "data"` is a data folder; the others are skipped.
pub(super) fn by_hand(root: PathBuf, name: &str, version: &str) -> Result<Plan, PlanError> {
    // Not chosen by anyone (the URL's file name): made to follow the rule, never refused.
    let name = crate::names::derive_name(name, DEFAULT_HAND_MADE_NAME);
    let present = folders(&root)?;
    let mut skipped = present.hidden;
    let mut found = Vec::new();
    let mut data = Vec::new();
    for folder in present.visible {
        let dir = root.join(&folder);
        let meta = hand_meta(&dir)?;
        for required in &meta.requires {
            validate_module_name(required).map_err(|source| PlanError::BadName {
                path: dir.join(MODULE_TOML),
                name: required.clone(),
                source,
            })?;
        }
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
                origin: None,
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
        let env = checked_env(&dir.join(MODULE_TOML), &folder, &meta.env)?;
        found.push(PlannedModule {
            name: folder,
            dir,
            start,
            init,
            digest,
            requires: meta.requires,
            files,
            bytes,
            env,
            origin: None,
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
        name,
        version: version.to_string(),
        root,
        modules: order.iter().filter_map(|&i| slots[i].take()).collect(),
        data,
        skipped,
        env: Vec::new(),
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
