//! One folder of a personality, local or from a library, checked: its name, its `module.toml`
//! (settings included), its scripts and files, and whether it is a module or a data folder.
//!
//! Reads one folder; never writes; knows nothing of the other folders or of run order.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::check::{Problem, check_data_folder, check_env, check_module_files};
use super::lint;
use super::module::{
    DataFolder, FolderKind, Found, INIT_SCRIPTS, MODULE_TOML, Module, Origin, START_SCRIPTS,
    find_script, read_meta, validate_module_name,
};

/// What the checks found so far: problems stop packing, warnings do not.
#[derive(Debug, Default)]
pub struct Findings {
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
    /// Every warning, in the order found.
    pub warnings: Vec<Problem>,
}

/// One checked folder of the personality.
pub enum Checked {
    /// A module, to run.
    Module(Module),
    /// A data folder, to pack and never run.
    Data(DataFolder),
}

/// What a module folder requires, recorded even when the module is unusable (no start script),
/// so a missing requirement is reported now and not only once the module is fixed.
pub struct Declared {
    /// The module's name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Its `requires`.
    pub requires: Vec<String>,
}

/// Checks one module or data folder; returns it when it is usable for ordering (valid name and,
/// for a module, one start script). Digests are filled in later, once everything passed.
pub fn inspect(
    name: &OsString,
    dir: PathBuf,
    origin: Origin,
    found: &mut Findings,
    declared: &mut Vec<Declared>,
) -> Option<Checked> {
    let problems = &mut found.problems;
    let name = match name.to_str().ok_or(super::NameError::NotUtf8) {
        Ok(n) => validate_module_name(n).map(|()| n.to_string()),
        Err(e) => Err(e),
    };
    match &name {
        Err(e) => problems.push(Problem::new(
            &dir,
            format!("module name {e}: rename the folder"),
        )),
        Ok(n) => problems.extend(lint::reserved_name(&dir, n)),
    }
    if origin == Origin::Local {
        problems.extend(lint::placeholders(&dir));
    }
    let toml_path = dir.join(MODULE_TOML);
    let (meta, messages) = read_meta(&dir);
    problems.extend(messages.into_iter().map(|m| Problem::new(&toml_path, m)));
    if let (Some(declared), Ok(folder)) = (&meta.name, &name)
        && declared != folder
    {
        problems.push(Problem::new(
            &toml_path,
            format!(
                "`name` is {:?} but the folder is named \"{folder}\": make them equal \
                 (the folder's name is the module's name) or remove `name`",
                crate::names::printable(declared)
            ),
        ));
    }
    for required in &meta.requires {
        if let Err(e) = validate_module_name(required) {
            problems.push(Problem::new(
                &toml_path,
                format!(
                    "requires {:?}: module name {e}",
                    crate::names::printable(required)
                ),
            ));
        }
    }
    if meta.kind == FolderKind::Data {
        problems.extend(check_data_folder(&dir, &meta));
        problems.extend(check_module_files(&dir, &[]));
        return Some(Checked::Data(DataFolder {
            name: name.ok()?,
            dir,
            meta,
            origin,
            digest: String::new(),
            files: 0,
            bytes: 0,
        }));
    }
    let (env_problems, env_warnings) = check_env(&toml_path, &meta.env);
    problems.extend(env_problems);
    found.warnings.extend(env_warnings);
    let problems = &mut found.problems;
    let start = script(&dir, START_SCRIPTS, problems);
    if start.is_none() && find_script(&dir, START_SCRIPTS) == Found::Absent {
        problems.push(Problem::new(
            &dir,
            "no start script: add an executable `start` (or `start.sh`) to the module, or \
             kind = \"data\" to its module.toml if the folder only carries files",
        ));
    }
    let init = script(&dir, INIT_SCRIPTS, problems);
    let scripts: Vec<&str> = [start, init].into_iter().flatten().collect();
    problems.extend(check_module_files(&dir, &scripts));
    let name = name.ok()?;
    declared.push(Declared {
        name: name.clone(),
        dir: dir.clone(),
        requires: meta.requires.clone(),
    });
    Some(Checked::Module(Module {
        name,
        dir,
        start: start?.to_string(),
        init: init.map(str::to_string),
        meta,
        origin,
        digest: String::new(),
        files: 0,
        bytes: 0,
    }))
}

/// The script present under one of `names`, when exactly one is and it is a file.
fn script(
    dir: &Path,
    names: [&'static str; 2],
    problems: &mut Vec<Problem>,
) -> Option<&'static str> {
    match find_script(dir, names) {
        Found::Absent => None,
        Found::Ambiguous(a, b) => {
            problems.push(Problem::new(
                dir,
                format!("both `{a}` and `{b}` are present, which is ambiguous: keep one"),
            ));
            None
        }
        Found::One(n) if dir.join(n).is_file() => Some(n),
        Found::One(n) => {
            problems.push(Problem::new(
                dir.join(n),
                "is not a file (a folder, or a symlink to nothing): make it a script",
            ));
            None
        }
    }
}
