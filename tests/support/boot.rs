//! `bundle-bootstrap run URL …` (and `watch URL …`), built one way for every test file:
//!
//! ```text
//! boot(&url).pass(Pass::Env(PASS)).iter(ITER).state_dir(&state).arg("--dry-run").run()
//! ```
//!
//! Nothing is added that a test did not ask for, so a test that leaves out `--pass` or `--iter`
//! is testing exactly that. The failure dump lists the state dir's parent: the test's scratch
//! folder, with the personality, the bundle and the state dir side by side.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{Ran, Running, start};

/// The variable [`Pass::Env`] puts the passphrase in.
pub const PASS_VAR: &str = "SB_PASS";

/// How the passphrase reaches `bundle-bootstrap`.
#[derive(Debug, Clone, Copy)]
pub enum Pass<'a> {
    /// `--pass env:SB_PASS`, with `SB_PASS` holding this: the way the README recommends.
    Env(&'a str),
    /// `--pass SPEC` exactly as given (`pass:wrong`, a typo), nothing in the environment.
    Spec(&'a str),
    /// No flag: `BUNDLE_PASSPHRASE` holds this, the source used when `--pass` is not given.
    Default(&'a str),
}

/// A `bundle-bootstrap` command being built.
pub struct Boot {
    cmd: Command,
    dir: Option<PathBuf>,
}

/// `bundle-bootstrap run URL`.
pub fn boot(url: impl AsRef<OsStr>) -> Boot {
    Boot::new("run", url.as_ref())
}

/// `bundle-bootstrap watch URL`: polls and applies changes, with the same flags as `run`.
pub fn watch(url: impl AsRef<OsStr>) -> Boot {
    Boot::new("watch", url.as_ref())
}

impl Boot {
    fn new(subcommand: &str, url: &OsStr) -> Boot {
        let mut cmd = super::bootstrap();
        cmd.arg(subcommand).arg(url);
        Boot { cmd, dir: None }
    }

    /// Hands over the passphrase.
    pub fn pass(mut self, pass: Pass<'_>) -> Self {
        match pass {
            Pass::Env(text) => {
                self.cmd
                    .args(["--pass", &format!("env:{PASS_VAR}")])
                    .env(PASS_VAR, text);
            }
            Pass::Spec(spec) => {
                self.cmd.args(["--pass", spec]);
            }
            Pass::Default(text) => {
                self.cmd.env("BUNDLE_PASSPHRASE", text);
            }
        }
        self
    }

    /// `--iter N`: the PBKDF2 count the bundle was packed with.
    pub fn iter(mut self, n: &str) -> Self {
        self.cmd.args(["--iter", n]);
        self
    }

    /// `--state-dir DIR`; a failure lists DIR's parent.
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.cmd.arg("--state-dir").arg(dir);
        self.dir = dir.parent().map(Path::to_path_buf);
        self
    }

    /// `--pubkey KEY` (a base64 key or a `.pub` file); give it again for a second key.
    pub fn pubkey(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.arg("--pubkey").arg(key);
        self
    }

    /// Any other argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// Any other arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets a variable in its environment.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Removes a variable from its environment.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs it to completion.
    pub fn run(self) -> Ran {
        self.start().finish()
    }

    /// Starts it with its output thrown away, for a test that kills it.
    pub fn spawn_child(mut self) -> std::process::Child {
        self.cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start bundle-bootstrap")
    }

    /// Starts it, for runs that must overlap; [`Running::finish`] waits.
    pub fn start(mut self) -> Running {
        let running = start(&mut self.cmd);
        match &self.dir {
            Some(dir) => running.in_dir(dir),
            None => running,
        }
    }
}
