//! Loading a personality folder: its own modules and data folders, `bundle.toml`'s library ones
//! (and which library each comes from), every check, the run order and the digests. What
//! `bundle check` and `bundle pack` call.
//!
//! Reads folders; never writes; knows nothing of encryption, archives, fetching or running.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::bundle_toml::{BUNDLE_TOML, BundleToml, read_bundle_toml};
use super::check::{Problem, Problems, check_env};
use super::folder::{Checked, Declared, Findings, inspect};
use super::library::Libraries;
use super::lint;
use super::module::{
    Found, INIT_SCRIPTS, MODULE_TOML, Module, Origin, START_SCRIPTS, find_script,
    validate_module_name,
};
use super::{Personality, module_digest, run_order};

/// The version of a personality whose `bundle.toml` gives none.
pub const DEFAULT_VERSION: &str = "0";

/// Loads the personality in `dir`, looking up `bundle.toml`'s modules in `libraries` (in order; a
/// local module folder wins over a library one), and runs every check. Returns every problem found,
/// not only the first. Modules come back in run order, data folders in name order, all with their
/// digests; warnings (a module shadowing another, a setting that looks secret) ride along.
///
/// A requirement that is not in the bundle is an error, never pulled in silently: the operator
/// lists every library module in `bundle.toml`, so the bundle's content is what the file says.
pub fn load(dir: &Path, libraries: &Libraries) -> Result<Personality, Problems> {
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
    let mut found = Findings::default();
    let toml_path = dir.join(BUNDLE_TOML);
    let (bundle, messages) = read_bundle_toml(dir);
    let problems = &mut found.problems;
    problems.extend(messages.into_iter().map(|m| Problem::new(&toml_path, m)));
    let name = bundle.name.clone().unwrap_or_else(|| folder_name(dir));
    let version = bundle
        .version
        .clone()
        .unwrap_or_else(|| DEFAULT_VERSION.to_string());
    problems.extend(label_problems(dir, &bundle, &name, &version));
    if toml_path.is_file() {
        problems.extend(lint::placeholder_in(&toml_path));
    }
    let (env_problems, env_warnings) = check_env(&toml_path, &bundle.env);
    problems.extend(env_problems);
    found.warnings.extend(env_warnings);

    let mut candidates = local_candidates(dir, &mut found.problems);
    let local: BTreeSet<OsString> = candidates.iter().map(|(n, _, _)| n.clone()).collect();
    let mut listed = BTreeSet::new();
    for name in &bundle.modules {
        let problems = &mut found.problems;
        let shown = crate::names::printable(name);
        if !listed.insert(name.as_str()) {
            problems.push(Problem::new(
                &toml_path,
                format!("modules lists `{shown}` twice: remove one"),
            ));
            continue;
        }
        if let Err(e) = validate_module_name(name) {
            problems.push(Problem::new(
                &toml_path,
                format!("modules: `{shown}`: module name {e}"),
            ));
            continue;
        }
        let in_libraries = match libraries.find_all(name) {
            Ok(all) => all,
            Err(e) => {
                problems.push(Problem::new(&toml_path, e));
                continue;
            }
        };
        if local.contains(&OsString::from(name)) {
            // The personality's own folder wins over any library's: say so, it is easy to miss.
            if let Some((origin, _)) = in_libraries.first() {
                found.warnings.push(Problem::new(
                    dir.join(name),
                    format!(
                        "shadows `{name}` of the {}, which bundle.toml lists: this folder is \
                         packed; rename it, or remove `{name}` from modules in bundle.toml",
                        origin.describe()
                    ),
                ));
            }
            continue;
        }
        match in_libraries.split_first() {
            Some(((origin, module_dir), shadowed)) => {
                found
                    .warnings
                    .extend(shadow_warnings(name, origin, module_dir, shadowed));
                candidates.push((name.into(), module_dir.clone(), origin.clone()));
            }
            None => problems.push(Problem::new(
                &toml_path,
                format!(
                    "module `{name}` is listed in modules but found nowhere (looked in {}): \
                     add it to a library, or point --modules-path or BUNDLE_MODULES_PATH at \
                     the library that holds it",
                    libraries.looked_in(name, None)
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
    let (mut modules, mut data, mut declared) = (Vec::new(), Vec::new(), Vec::new());
    for (name, folder, origin) in candidates {
        match inspect(&name, folder, origin, &mut found, &mut declared) {
            Some(Checked::Module(m)) => modules.push(m),
            Some(Checked::Data(d)) => data.push(d),
            None => {}
        }
    }
    let Findings {
        mut problems,
        warnings,
    } = found;
    data.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    missing_requirements(dir, libraries, &known, &declared, &mut problems);
    let order = requires_order(dir, &modules, &mut problems);
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
        name,
        version,
        modules,
        data,
        env: bundle.env,
        warnings,
    })
}

/// The bundle's name and version against the one rule ([`crate::names`]): they become the
/// pointer's name, the rollback counter's file, `BUNDLE_NAME`, `BUNDLE_VERSION` and log lines.
fn label_problems(dir: &Path, bundle: &BundleToml, name: &str, version: &str) -> Vec<Problem> {
    let toml_path = dir.join(BUNDLE_TOML);
    let mut problems = Vec::new();
    if let Err(e) = crate::names::validate_name(name) {
        problems.push(match bundle.name {
            Some(_) => Problem::new(&toml_path, format!("`name`: the bundle name {e}")),
            None => Problem::new(
                dir,
                format!(
                    "the folder's name {:?} is the bundle's name when bundle.toml gives none, \
                     and it {e}: set name = \"…\" in bundle.toml, or rename the folder",
                    crate::names::printable(name)
                ),
            ),
        });
    }
    if let Err(e) = crate::names::validate_version(version) {
        problems.push(Problem::new(&toml_path, format!("`version`: {e}")));
    }
    problems
}

/// Warnings for a library module that hides a different module of the same name in a library
/// searched after it (the built-in one, say): the operator may not know which one is packed.
/// Identical content is not worth a word.
fn shadow_warnings(
    name: &str,
    origin: &Origin,
    used: &Path,
    shadowed: &[(Origin, PathBuf)],
) -> Vec<Problem> {
    let Ok(ours) = module_digest(used) else {
        return Vec::new(); // the checks of the folder itself report it
    };
    shadowed
        .iter()
        .filter(|(_, dir)| module_digest(dir).is_ok_and(|theirs| theirs.digest != ours.digest))
        .map(|(other, _)| {
            Problem::new(
                used,
                format!(
                    "`{name}` of the {} shadows a different `{name}` of the {}: the first is \
                     packed; if that is not what you meant, remove it or change --modules-path",
                    origin.describe(),
                    other.describe()
                ),
            )
        })
        .collect()
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

/// Checks every module's `requires`, a module without a start script included: each missing
/// requirement is a problem of its own.
fn missing_requirements(
    dir: &Path,
    libraries: &Libraries,
    known: &BTreeSet<String>,
    declared: &[Declared],
    problems: &mut Vec<Problem>,
) {
    for m in declared {
        for req in m.requires.iter().filter(|r| !known.contains(r.as_str())) {
            if validate_module_name(req).is_err() {
                continue; // reported with the module.toml
            }
            let path = m.dir.join(MODULE_TOML);
            let message = match libraries.find(req) {
                Some((origin, found)) => format!(
                    "`{}` requires `{req}`, which is not in this bundle; the {} has it{}: add \
                     it to modules in bundle.toml",
                    m.name,
                    origin.describe(),
                    match origin {
                        Origin::Library(_) => format!(" at {}", found.display()),
                        _ => String::new(),
                    }
                ),
                None => format!(
                    "`{}` requires `{req}`, found nowhere (looked in {}): add a module folder \
                     `{req}`, or add it to modules in bundle.toml with its library on \
                     --modules-path",
                    m.name,
                    libraries.looked_in(req, Some(dir))
                ),
            };
            problems.push(Problem::new(path, message));
        }
    }
}

/// Orders the usable modules. A requirement naming a data folder only says it must be in the
/// bundle: a data folder is never run, so it takes no place in the order. Returns indices into
/// `modules` in run order (empty when there is a cycle).
fn requires_order(dir: &Path, modules: &[Module], problems: &mut Vec<Problem>) -> Vec<usize> {
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
