//! Problems found by `bundle check` and `bundle pack`, and the checks on a module's files: scripts
//! (shebang, CRLF, syntax), symlinks that leave the module, special files; and what a data folder
//! may not hold (scripts, `requires`, settings).
//!
//! Every problem is collected, never only the first, and each names its path and what to do.
//! Reads files; never writes; knows nothing of archives or encryption.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Exit};

use super::env::{EnvTable, check_env_pair, looks_secret};
use super::lint;
use super::module::{INIT_SCRIPTS, MODULE_TOML, ModuleMeta, START_SCRIPTS};
use super::tree::{self, Entry, Kind};

/// How many leading bytes decide whether an executable file is text (a script) or a binary.
const SNIFF_LEN: u64 = 8192;
/// The first bytes of an ELF binary.
const ELF_MAGIC: &[u8] = b"\x7fELF";
/// The first bytes of a script the kernel can execute directly.
const SHEBANG: &[u8] = b"#!";
/// Any executable bit.
const EXEC_BITS: u32 = 0o111;

/// One thing wrong with a personality or a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `path: message`, the path escaped: a folder name may hold anything, a newline included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            crate::names::printable_path(&self.path),
            self.message
        )
    }
}

/// Every problem found in one personality, in the order found, and the personality's folder.
#[derive(Debug, thiserror::Error)]
pub struct Problems(pub Vec<Problem>, pub PathBuf);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let noun = if n == 1 { "problem" } else { "problems" };
        write!(f, "{n} {noun} in {}:", self.1.display())?;
        for p in &self.0 {
            // Multi-line messages (toml's, with a caret under the column) stay inside their bullet.
            write!(f, "\n  - {}", p.to_string().replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl Classify for Problems {
    fn exit(&self) -> Exit {
        Exit::Usage
    }
    fn hint(&self) -> Option<String> {
        Some(format!(
            "fix these and run `bundle check {}` again",
            self.1.display()
        ))
    }
}

/// Checks every entry of a module folder; `scripts` are its start and init scripts' file names.
pub fn check_module_files(dir: &Path, scripts: &[&str]) -> Vec<Problem> {
    let entries = match tree::walk(dir) {
        Ok(e) => e,
        Err(e) => return vec![Problem::new(dir, format!("cannot be read: {e}"))],
    };
    let root = fs::canonicalize(dir).ok();
    let mut problems = Vec::new();
    for entry in &entries {
        match &entry.kind {
            Kind::Special(what) => problems.push(Problem::new(
                &entry.path,
                format!("a {what} cannot be packed (only files, folders and symlinks): remove it"),
            )),
            Kind::Symlink(target) => problems.extend(check_symlink(entry, target, root.as_deref())),
            Kind::File(_) => problems.extend(check_file(entry, scripts)),
            Kind::Dir => {}
        }
    }
    problems
}

/// What a data folder (`kind = "data"`) may not hold: a start or init script, which would never
/// run, and `requires`, since a folder that never runs has nothing to wait for.
pub fn check_data_folder(dir: &Path, meta: &ModuleMeta) -> Vec<Problem> {
    let mut problems: Vec<Problem> = START_SCRIPTS
        .iter()
        .chain(INIT_SCRIPTS.iter())
        .filter(|name| fs::symlink_metadata(dir.join(name)).is_ok())
        .map(|name| {
            Problem::new(
                dir.join(name),
                format!(
                    "is in a data folder (kind = \"data\" in module.toml), which is never run: \
                     remove `{name}`, or remove kind = \"data\" to make the folder a module"
                ),
            )
        })
        .collect();
    if !meta.requires.is_empty() {
        problems.push(Problem::new(
            dir.join(MODULE_TOML),
            format!(
                "a data folder (kind = \"data\") is never run, so it cannot require anything \
                 (requires = [{}]): remove requires; the modules that read its files require it",
                meta.requires
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if !meta.env.is_empty() {
        problems.push(Problem::new(
            dir.join(MODULE_TOML),
            "a data folder (kind = \"data\") is never run, so its [env] would reach no script: \
             move the settings to bundle.toml's [env]",
        ));
    }
    problems
}

/// The problems and warnings of one `[env]` table (in `file`): each setting against the rule,
/// and a warning for a key that looks like a secret.
pub fn check_env(file: &Path, env: &EnvTable) -> (Vec<Problem>, Vec<Problem>) {
    let (mut problems, mut warnings) = (Vec::new(), Vec::new());
    for (key, value) in env {
        if let Err(e) = check_env_pair(key, value) {
            problems.push(Problem::new(file, format!("[env]: {e}")));
        } else if looks_secret(key) {
            warnings.push(Problem::new(
                file,
                format!(
                    "[env]: `{key}` looks like a secret; a setting sits in every module's \
                     environment: ship the secret as a file in a data folder and set its path \
                     instead (`{key}_FILE = \"secrets/…\"`, if the module reads one)"
                ),
            ));
        }
    }
    (problems, warnings)
}

/// A symlink must be relative and stay inside the module: unpacking refuses anything else
/// (the tar-slip family, e.g. CVE-2018-20990 in tar-rs), so catch it at the publisher's desk.
fn check_symlink(entry: &Entry, target: &Path, root: Option<&Path>) -> Option<Problem> {
    if target.is_absolute() {
        return Some(Problem::new(
            &entry.path,
            format!(
                "symlink to the absolute path {}: bundles refuse absolute links; \
                 copy the file into the module or make the link relative",
                target.display()
            ),
        ));
    }
    // By name first, then through the filesystem, which also sees links via other links.
    let escapes_by_name = !tree::target_stays_inside(&entry.rel, target);
    let escapes_for_real = match (root, fs::canonicalize(&entry.path)) {
        (Some(root), Ok(real)) => !real.starts_with(root),
        _ => false,
    };
    (escapes_by_name || escapes_for_real).then(|| {
        Problem::new(
            &entry.path,
            format!(
                "symlink to {} points outside the module folder: copy the file into the module",
                target.display()
            ),
        )
    })
}

/// Script checks: CRLF line endings in any script; an executable script without a `#!` line; a
/// shell script that does not parse.
///
/// A script is the start or init script, any `*.sh`, or any executable file that is text (not
/// ELF, no NUL in its first [`SNIFF_LEN`] bytes).
fn check_file(entry: &Entry, scripts: &[&str]) -> Vec<Problem> {
    let top_level_script = entry.rel.parent() == Some(Path::new(""))
        && entry.rel.to_str().is_some_and(|r| scripts.contains(&r));
    let dot_sh = entry.rel.extension().is_some_and(|e| e == "sh");
    let executable = entry.mode & EXEC_BITS != 0;
    if !(top_level_script || dot_sh || executable) {
        return Vec::new();
    }
    let head = match sniff(&entry.path) {
        Ok(h) => h,
        Err(e) => return vec![Problem::new(&entry.path, format!("cannot be read: {e}"))],
    };
    let text = !head.starts_with(ELF_MAGIC) && !head.contains(&0);
    if !(top_level_script || dot_sh || text) {
        return Vec::new();
    }
    let mut problems = Vec::new();
    if executable && !head.starts_with(SHEBANG) {
        problems.push(Problem::new(
            &entry.path,
            "is executable but has no `#!` first line, so it cannot be executed: \
             add `#!/bin/bash` as its first line, or clear its executable bit (chmod -x) \
             to have it run with bash",
        ));
    }
    match fs::read(&entry.path) {
        Ok(all) if all.windows(2).any(|w| w == b"\r\n") => problems.push(Problem::new(
            &entry.path,
            "has CRLF (Windows) line endings, which break shells: convert it with \
             `dos2unix` or `sed -i 's/\\r$//'`",
        )),
        Ok(_) => {}
        Err(e) => problems.push(Problem::new(&entry.path, format!("cannot be read: {e}"))),
    }
    // Parsed only when nothing else is wrong: CRLF or a missing `#!` already says why it fails.
    if problems.is_empty()
        && let Some(shell) = lint::shell_of(&head, top_level_script || dot_sh)
    {
        problems.extend(lint::check_syntax(&entry.path, shell));
    }
    problems
}

fn sniff(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    fs::File::open(path)?
        .take(SNIFF_LEN)
        .read_to_end(&mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_display_counts_and_indents() {
        let p = Problems(
            vec![
                Problem::new("x/a", "one"),
                Problem::new("x/b", "two\nlines"),
            ],
            PathBuf::from("x"),
        );
        assert_eq!(
            p.to_string(),
            "2 problems in x:\n  - x/a: one\n  - x/b: two\n    lines"
        );
        assert_eq!(p.exit(), Exit::Usage);
        assert_eq!(
            p.hint().unwrap(),
            "fix these and run `bundle check x` again"
        );
        let one = Problems(vec![Problem::new("x/a", "one")], PathBuf::from("x"));
        assert!(one.to_string().starts_with("1 problem in x:"));
    }
}
