//! The one way the tests run a process and collect what it did: [`run`] to completion, [`start`]
//! now and [`Running::finish`] later (for processes that must overlap), [`run_with_stdin`] for
//! a tool that reads a password. Each gives a [`Ran`], whose assertions print everything on failure:
//! the command, its environment changes, its folder and a listing of that folder, as ripgrep's
//! `TestCommand` does.
//!
//! [`child_test`] is the same for the test binary itself, run again to execute one ignored test in
//! a process whose environment the parent chose (the environment is process-wide, and `set_var` is
//! unsafe).

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// Set in a [`child_test`]'s environment to the test it was started to run.
const CHILD_TEST: &str = "SB_TEST_CHILD";
/// A listing in a failure dump stops after this many entries.
const LISTING_MAX: usize = 400;

/// What a finished command did, printed in full when an assertion fails.
pub struct Ran {
    /// The command line, for the failure message.
    pub command: String,
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
    /// The environment the command changed (`K=V`, or `-K` for a removed variable).
    env: Vec<String>,
    /// How it ended, as the OS said.
    status: ExitStatus,
    /// The folder the dump lists: the command's working folder, or what [`Ran::in_dir`] names.
    dir: Option<PathBuf>,
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n--- command: {}", self.command)?;
        if !self.env.is_empty() {
            write!(f, "\n--- env: {}", self.env.join(" "))?;
        }
        write!(
            f,
            "\n--- exit: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )?;
        match &self.dir {
            Some(dir) => write!(f, "\n--- dir: {}\n{}", dir.display(), listing(dir))?,
            // The test process's own folder (the package root): named, not listed.
            None => match std::env::current_dir() {
                Ok(cwd) => write!(f, "\n--- dir: {} (the test's own)", cwd.display())?,
                Err(_) => write!(f, "\n--- dir: (the test's own)")?,
            },
        }
        write!(f, "\n---")
    }
}

impl Ran {
    /// Names the folder the failure dump lists, when the command did not run in it: the test's
    /// scratch folder, say, that its arguments point into.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Asserts the exit code, printing everything when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "unexpected exit status{self}");
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}{self}"
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}{self}"
        );
        self
    }
}

/// A started command whose output is being collected.
pub struct Running {
    child: Child,
    command: String,
    env: Vec<String>,
    dir: Option<PathBuf>,
}

impl Running {
    /// Waits for the process (reading its output all along) and says what it did.
    pub fn finish(self) -> Ran {
        let Running {
            child,
            command,
            env,
            dir,
        } = self;
        let Output {
            status,
            stdout,
            stderr,
        } = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("could not wait for {command}: {e}"));
        Ran {
            command,
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            env,
            status,
            dir,
        }
    }

    /// Names the folder the failure dump lists (see [`Ran::in_dir`]).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }
}

/// Starts a command with stdin empty and stdout and stderr captured; [`Running::finish`] waits.
pub fn start(cmd: &mut Command) -> Running {
    spawn(cmd, Stdio::null())
}

/// Runs a command to completion, stdin empty, capturing its output.
pub fn run(cmd: &mut Command) -> Ran {
    start(cmd).finish()
}

/// Runs a command to completion with `input` on its stdin (small: written before any output is
/// read), capturing its output.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Ran {
    let mut running = spawn(cmd, Stdio::piped());
    let mut stdin = running.child.stdin.take().expect("a piped stdin");
    stdin
        .write_all(input)
        .unwrap_or_else(|e| panic!("could not feed {}: {e}", running.command));
    drop(stdin);
    running.finish()
}

fn spawn(cmd: &mut Command, stdin: Stdio) -> Running {
    let command = describe(cmd);
    let env = cmd
        .get_envs()
        .map(|(k, v)| match v {
            Some(v) => format!("{}={}", k.to_string_lossy(), v.to_string_lossy()),
            None => format!("-{}", k.to_string_lossy()),
        })
        .collect();
    let dir = cmd.get_current_dir().map(Path::to_path_buf);
    let child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command}: {e}"));
    Running {
        child,
        command,
        env,
        dir,
    }
}

fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(
        cmd.get_args()
            .map(|a: &OsStr| a.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}

/// Every entry below `dir`, one a line: kind and permission bits, size, path (and a symlink's
/// target), sorted by path. Entries that vanish while it walks are left out, not fatal.
fn listing(dir: &Path) -> String {
    let mut rows = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            let kind = meta.file_type();
            let (tag, size, suffix) = if kind.is_symlink() {
                let target = fs::read_link(&path).unwrap_or_default();
                ('l', "-".to_string(), format!(" -> {}", target.display()))
            } else if kind.is_dir() {
                pending.push(path);
                ('d', "-".to_string(), "/".to_string())
            } else if kind.is_file() {
                ('-', meta.len().to_string(), String::new())
            } else {
                ('?', "-".to_string(), String::new())
            };
            let mode = meta.permissions().mode() & 0o7777;
            // Keyed by path so the listing reads as a tree (`p/m/start` before `p.bundle`).
            let line = format!("{tag}{mode:04o} {size:>10} {rel}{suffix}");
            rows.push((PathBuf::from(rel), line));
        }
    }
    if rows.is_empty() {
        return "(empty, or gone)".into();
    }
    rows.sort();
    let more = rows.len().saturating_sub(LISTING_MAX);
    let mut text: Vec<String> = rows.into_iter().take(LISTING_MAX).map(|r| r.1).collect();
    if more > 0 {
        text.push(format!("… and {more} more"));
    }
    text.join("\n")
}

/// The test binary itself, set to run only the ignored test `name` (its full path, such as
/// `archive::source_date_epoch_child`), in a process whose environment the caller sets. The
/// caller asserts `.ok().stdout_has("1 passed")`: a renamed child runs nothing and fails that.
pub fn child_test(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--ignored", "--nocapture"])
        .env(CHILD_TEST, name);
    cmd
}

/// First line of a test that [`child_test`] runs: such a test checks what its parent set up, so
/// run on its own (`cargo test -- --ignored`) it fails here, saying so, rather than on its checks.
#[track_caller]
pub fn only_as_child(parent: &str) {
    assert!(
        std::env::var_os(CHILD_TEST).is_some(),
        "this test runs only as a child of {parent}, which sets its environment; run that one"
    );
}
