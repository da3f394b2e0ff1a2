//! Shared test helpers: the built binaries, scratch folders, outside tools, and readable failures.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Our test servers live here: never through a proxy a CI machine may set.
const LOOPBACK: &str = "127.0.0.1,localhost";

/// `bundle`, as built by cargo for this test run.
pub fn bundle() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bundle"));
    cmd.env_remove("BUNDLE_PASSPHRASE")
        .env_remove("BUNDLE_MODULES_PATH");
    cmd.stdin(Stdio::null());
    cmd
}

/// `bundle-bootstrap`, as built by cargo for this test run.
pub fn bootstrap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bundle-bootstrap"));
    cmd.env_remove("BUNDLE_PASSPHRASE")
        .env("NO_PROXY", LOOPBACK);
    cmd.stdin(Stdio::null());
    cmd
}

/// A scratch folder removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sb-test-")
        .tempdir()
        .expect("create a scratch folder")
}

/// An outside tool the test needs. Fails loudly when missing: `.ci/run` installs it.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{name}` on PATH; .ci/run installs it (apt-get install …)"
    );
    let mut cmd = Command::new(name);
    cmd.stdin(Stdio::null());
    cmd
}

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
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- command: {}\n--- exit: {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Ran {
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

/// Runs a command to completion, capturing its output.
pub fn run(cmd: &mut Command) -> Ran {
    let command = describe(cmd);
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not start {command}: {e}"));
    Ran {
        command,
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
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

/// How [`write`] leaves a file's permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0644: data, or a script the runner must hand to `bash`.
    Plain,
    /// 0755: a script the kernel runs through its `#!` line.
    Exec,
}

/// Writes `text` to `dir/rel`, creating parents, with `mode`'s permission bits.
pub fn write(dir: &Path, rel: &str, text: &str, mode: Mode) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let bits = match mode {
        Mode::Plain => 0o644,
        Mode::Exec => 0o755,
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits)).unwrap();
}

/// The fault-injecting HTTP(S) server on 127.0.0.1.
pub mod http;

/// An IMDSv2 server on 127.0.0.1 (token, role credentials, region).
pub mod imds;

/// `s3s-fs` on 127.0.0.1: a real S3-compatible server that checks SigV4 signatures.
pub mod s3_server;
