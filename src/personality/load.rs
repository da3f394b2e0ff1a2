//! Loading a personality folder: its own modules and data folders, `bundle.toml`'s library ones,
//! every check, the run order and the digests. What `bundle check` and `bundle pack` call.
//!
//! Reads folders; never writes; knows nothing of encryption, archives, fetching or running.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::bundle_toml::{BUNDLE_TOML, label_problem, read_bundle_toml};
use super::check::{Problem, Problems, check_data_folder, check_module_files};
use super::library::{find_in_libraries, looked_in};
use super::module::{
    DataFolder, FolderKind, Found, INIT_SCRIPTS, MODULE_TOML, Module, Origin, START_SCRIPTS,
    find_script, read_meta, validate_module_name,
};
use super::{Personality, module_digest, run_order};

/// The version of a personality whose `bundle.toml` gives none.
pub const DEFAULT_VERSION: &str = "0";

/// Loads the personality in `dir`, looking up `bundle.toml`'s modules in `libraries` (in order; a
/// local module folder wins over a library one), and runs every check. Returns every problem found,
/// not only the first. Modules come back in run order, data folders in name order, all with their
/// digests.
///
/// A requirement that is not in the bundle is an error, never pulled in silently: the operator
/// lists every library module in `bundle.toml`, so the bundle's content is what the file says.
pub fn load(dir: &Path, libraries: &[PathBuf]) -> Result<Personality, Problems> {
    let fail = |p: Problem| Problems(vec![p], dir.to_path_buf());
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(fail(Problem::new(
                dir,
                "is not a folder: give the personality's folder",
            )));
        }
        Err(e) => return Err(fail(Problem::new(dir, format!("cannot be read: {e}")))),
    }
    let mut problems = Vec::new();
    let toml_path = dir.join(BUNDLE_TOML);
    let (bundle, messages) = read_bundle_toml(dir);
    problems.extend(messages.into_iter().map(|m| Problem::new(&toml_path, m)));
    for (key, value) in [("name", &bundle.name), ("version", &bundle.version)] {
        if let Some(p) = value.as_deref().and_then(|v| label_problem(key, v)) {
            problems.push(Problem::new(&toml_path, p));
        }
    }

    let mut candidates = local_candidates(dir, &mut problems);
    let local: BTreeSet<OsString> = candidates.iter().map(|(n, _, _)| n.clone()).collect();
    let mut listed = BTreeSet::new();
    for name in &bundle.modules {
        if !listed.insert(name.as_str()) {
            problems.push(Problem::new(
                &toml_path,
                format!("modules lists `{name}` twice: remove one"),
            ));
            continue;
        }
        if let Err(e) = validate_module_name(name) {
            problems.push(Problem::new(&toml_path, format!("modules: `{name}`: {e}")));
            continue;
        }
        if local.contains(&OsString::from(name)) {
            continue; // The personality's own folder wins over any library's.
        }
        match find_in_libraries(name, libraries) {
            Some((lib, module_dir)) => {
                candidates.push((name.into(), module_dir, Origin::Library(lib)));
            }
            None => problems.push(Problem::new(
                &toml_path,
                format!(
                    "module `{name}` is listed in modules but found nowhere (looked in {}): \
                     add it to a library, or point --modules-path or BUNDLE_MODULES_PATH at \
                     the library that holds it",
                    looked_in(name, None, libraries)
                ),
            )),
        }
    }

    // Names of every module and data folder, usable or not: requiring a broken one is not
    // "missing", and requiring a data folder is how a module says it reads its files.
    let known: BTreeSet<String> = candidates
        .iter()
        .filter_map(|(n, _, _)| n.to_str().map(str::to_string))
        .collect();
    let (mut modules, mut data) = (Vec::new(), Vec::new());
    for (name, folder, origin) in candidates {
        match inspect(&name, folder, origin, &mut problems) {
            Some(Checked::Module(m)) => modules.push(m),
            Some(Checked::Data(d)) => data.push(d),
            None => {}
        }
    }
    data.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let order = requires_order(dir, libraries, &known, &modules, &mut problems);
    if modules.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            dir,
            "no modules: add a module folder with a start script, or list library modules in \
             bundle.toml (modules = [\"java\"])",
        ));
    }
    if !problems.is_empty() {
        return Err(Problems(problems, dir.to_path_buf()));
    }

    for m in &mut modules {
        match module_digest(&m.dir) {
            Ok(c) => (m.digest, m.files, m.bytes) = (c.digest, c.files, c.bytes),
            Err(e) => problems.push(Problem::new(&m.dir, format!("cannot be read: {e}"))),
        }
    }
    for d in &mut data {
        match module_digest(&d.dir) {
            Ok(c) => (d.digest, d.files, d.bytes) = (c.digest, c.files, c.bytes),
            Err(e) => problems.push(Problem::new(&d.dir, format!("cannot be read: {e}"))),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems, dir.to_path_buf()));
    }
    let mut slots: Vec<Option<Module>> = modules.into_iter().map(Some).collect();
    let modules = order.iter().filter_map(|&i| slots[i].take()).collect();
    Ok(Personality {
        root: dir.to_path_buf(),
        name: bundle.name.unwrap_or_else(|| folder_name(dir)),
        version: bundle
            .version
            .unwrap_or_else(|| DEFAULT_VERSION.to_string()),
        modules,
        data,
    })
}

/// The personality's own module and data folders, in name byte order. Hidden entries (`.git`) and
/// plain files (`bundle.toml`, a README) are neither; a folder with no sign of being one (no
/// script, no `module.toml`) is a problem, never silently left out of the bundle.
fn local_candidates(dir: &Path, problems: &mut Vec<Problem>) -> Vec<(OsString, PathBuf, Origin)> {
    let mut names: Vec<OsString> = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect(),
        Err(e) => {
            problems.push(Problem::new(dir, format!("cannot be read: {e}")));
            return Vec::new();
        }
    };
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        // Follows a symlinked module folder on purpose: linking a shared module in is fine.
        if name.as_bytes().starts_with(b".") || !path.is_dir() {
            continue;
        }
        let looks_like_module = find_script(&path, START_SCRIPTS) != Found::Absent
            || find_script(&path, INIT_SCRIPTS) != Found::Absent
            || fs::symlink_metadata(path.join(MODULE_TOML)).is_ok();
        if looks_like_module {
            out.push((name, path, Origin::Local));
        } else {
            problems.push(Problem::new(
                &path,
                "not a module: add a start script, or a module.toml saying kind = \"data\" if \
                 the folder only carries files for the modules, or move it out of the \
                 personality folder",
            ));
        }
    }
    out
}

/// One checked folder of the personality.
enum Checked {
    /// A module, to run.
    Module(Module),
    /// A data folder, to pack and never run.
    Data(DataFolder),
}

/// Checks one module or data folder; returns it when it is usable for ordering (valid name and,
/// for a module, one start script). Digests are filled in later, once everything passed.
fn inspect(
    name: &OsString,
    dir: PathBuf,
    origin: Origin,
    problems: &mut Vec<Problem>,
) -> Option<Checked> {
    let name = match name.to_str().ok_or(super::NameError::NotUtf8) {
        Ok(n) => validate_module_name(n).map(|()| n.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = &name {
        problems.push(Problem::new(&dir, format!("{e}: rename the folder")));
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
                "`name` is \"{declared}\" but the folder is named \"{folder}\": make them equal \
                 (the folder's name is the module's name) or remove `name`"
            ),
        ));
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
    Some(Checked::Module(Module {
        name: name.ok()?,
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

/// Checks every `requires` (each missing one is a problem of its own), then orders the modules.
/// A requirement naming a data folder only says it must be in the bundle: a data folder is never
/// run, so it takes no place in the order. Returns indices into `modules` in run order (empty when
/// there is a cycle).
fn requires_order(
    dir: &Path,
    libraries: &[PathBuf],
    known: &BTreeSet<String>,
    modules: &[Module],
    problems: &mut Vec<Problem>,
) -> Vec<usize> {
    for m in modules {
        for req in m
            .meta
            .requires
            .iter()
            .filter(|r| !known.contains(r.as_str()))
        {
            let path = m.dir.join(MODULE_TOML);
            let message = match find_in_libraries(req, libraries) {
                Some((_, found)) => format!(
                    "`{}` requires `{req}`, which is not in this bundle; the library has it at \
                     {}: add it to modules in bundle.toml",
                    m.name,
                    found.display()
                ),
                None => format!(
                    "`{}` requires `{req}`, found nowhere (looked in {}): add a module folder \
                     `{req}`, or add it to modules in bundle.toml with its library on \
                     --modules-path",
                    m.name,
                    looked_in(req, Some(dir), libraries)
                ),
            };
            problems.push(Problem::new(path, message));
        }
    }
    let present: BTreeSet<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    let graph: Vec<(String, Vec<String>)> = modules
        .iter()
        .map(|m| {
            let reqs = m
                .meta
                .requires
                .iter()
                .filter(|r| present.contains(r.as_str()));
            (m.name.clone(), reqs.cloned().collect())
        })
        .collect();
    run_order(&graph).unwrap_or_else(|e| {
        problems.push(Problem::new(
            dir,
            format!("{e}: remove one of these requires (module.toml)"),
        ));
        Vec::new()
    })
}

/// The personality folder's own name (resolving `.`), the bundle's name by default.
fn folder_name(dir: &Path) -> String {
    fs::canonicalize(dir)
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".to_string())
}
