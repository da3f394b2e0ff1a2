//! The checks that catch at the publisher's desk what would otherwise fail at boot: a shell script
//! that does not parse (`bash -n` or `sh -n`, which read a script and run nothing), a `CHANGE-ME`
//! placeholder left from a template, and a module named like one of the state folder's own
//! entries.
//!
//! Reads files and runs the shell's syntax check only; never writes, never runs a script.

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::check::Problem;
use super::tree::{self, Kind};

/// The word the templates put where an operator must write something of their own (a password,
/// an address); `bundle check` refuses a personality whose own files still hold it.
pub const PLACEHOLDER: &str = "CHANGE-ME";

/// Files larger than this are not searched for [`PLACEHOLDER`]: a placeholder sits in a settings
/// file, not in a jar.
const MAX_SEARCHED: u64 = 4 * 1024 * 1024;
/// How much of a file decides whether it is text.
const SNIFF_LEN: usize = 8192;
/// Lines of the shell's complaint kept in the message.
const SYNTAX_LINES: usize = 3;

/// The shell that parses a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// `bash -n`.
    Bash,
    /// `sh -n`.
    Sh,
}

impl Shell {
    fn program(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Sh => "sh",
        }
    }
}

/// Which shell runs a file, from its first line: a `#!` naming bash or sh (directly or through
/// `env`); no `#!` at all for a start or init script (the runner hands it to bash) or a `*.sh`
/// file (sourced by a bash script, as `base/lib/pkg.sh` is). `None`: not a shell script.
pub fn shell_of(head: &[u8], bash_without_shebang: bool) -> Option<Shell> {
    let Some(line) = head.strip_prefix(b"#!") else {
        return bash_without_shebang.then_some(Shell::Bash);
    };
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let mut program = words.next()?;
    if program.ends_with("/env") {
        program = words.find(|w| !w.starts_with('-'))?;
    }
    match program.rsplit('/').next()? {
        "bash" => Some(Shell::Bash),
        "sh" | "dash" => Some(Shell::Sh),
        _ => None,
    }
}

/// `SHELL -n path`: the problem when the script does not parse. A shell that is not installed
/// checks nothing (the file is then checked where that shell is).
pub fn check_syntax(path: &Path, shell: Shell) -> Option<Problem> {
    let output = Command::new(shell.program())
        .arg("-n")
        .arg(path)
        // Nothing of ours reaches it: BASH_ENV and ENV name files a shell would read first.
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if output.status.success() {
        return None;
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = said.lines().take(SYNTAX_LINES).collect();
    Some(Problem::new(
        path,
        format!(
            "does not parse as a {} script, so it would fail at boot (`{} -n`: {}): fix the syntax",
            shell.program(),
            shell.program(),
            crate::names::printable(&lines.join(" / "))
        ),
    ))
}

/// Every file under `dir` (a folder of the personality itself) that still holds [`PLACEHOLDER`].
pub fn placeholders(dir: &Path) -> Vec<Problem> {
    let Ok(entries) = tree::walk(dir) else {
        return Vec::new(); // check_module_files reports an unreadable folder
    };
    entries
        .iter()
        .filter(|e| matches!(e.kind, Kind::File(len) if len <= MAX_SEARCHED))
        .filter_map(|e| placeholder_in(&e.path))
        .collect()
}

/// The problem when the text file `path` holds [`PLACEHOLDER`], naming every line that does.
pub fn placeholder_in(path: &Path) -> Option<Problem> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SEARCHED).read_to_end(&mut bytes))
        .ok()?;
    if bytes[..bytes.len().min(SNIFF_LEN)].contains(&0) {
        return None; // binary
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(PLACEHOLDER))
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    let (noun, list, verb) = match lines.as_slice() {
        [] => return None,
        [one] => ("line", one.clone(), "holds"),
        many => ("lines", many.join(", "), "hold"),
    };
    Some(Problem::new(
        path,
        format!(
            "{noun} {list} still {verb} the template's placeholder {PLACEHOLDER}: write your own \
             value there (a password: `openssl rand -hex 24`), it would fail or be guessed at boot"
        ),
    ))
}

/// The problem when a module or data folder is named like an entry the state folder keeps for
/// itself (`seq`, `logs`, `releases`, `init`…): the two would sit side by side in people's minds
/// and scripts (`$BUNDLE_STATE_DIR/init` is not the module's).
pub fn reserved_name(dir: &Path, name: &str) -> Option<Problem> {
    crate::state::RESERVED_NAMES.contains(&name).then(|| {
        Problem::new(
            dir,
            format!(
                "`{name}` is the name of an entry of bundle-bootstrap's state folder ({}): \
                 rename the folder",
                crate::state::RESERVED_NAMES.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_from_the_first_line() {
        assert_eq!(shell_of(b"#!/bin/bash\nx", false), Some(Shell::Bash));
        assert_eq!(shell_of(b"#!/usr/bin/env bash\n", false), Some(Shell::Bash));
        assert_eq!(shell_of(b"#! /bin/sh -e\n", false), Some(Shell::Sh));
        assert_eq!(
            shell_of(b"#!/usr/bin/env -S bash -e\n", false),
            Some(Shell::Bash)
        );
        assert_eq!(shell_of(b"#!/bin/dash\n", false), Some(Shell::Sh));
        assert_eq!(shell_of(b"#!/usr/bin/python3\n", true), None);
        assert_eq!(shell_of(b"echo hi\n", true), Some(Shell::Bash));
        assert_eq!(shell_of(b"echo hi\n", false), None);
    }
}
