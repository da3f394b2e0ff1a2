//! The `bundle-bootstrap run` command a try starts, kept as data so that the line printed is the
//! command run, word for word: no argument or variable is added on the side.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The proxy variables of the environment that could take the loopback request.
const PROXY_VARS: &[&str] = &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];
/// The variable that exempts hosts from them.
const NO_PROXY: &str = "NO_PROXY";

/// A program, its arguments and the variables set for it on top of this process's environment.
#[derive(Debug, Clone)]
pub struct BootCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set for it (shown before the program, as a shell does).
    pub env: Vec<(String, String)>,
}

impl BootCommand {
    /// `program` with no arguments yet.
    pub fn new(program: PathBuf) -> BootCommand {
        BootCommand {
            program,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Keeps a proxy from the environment off the loopback server: when a proxy variable is set,
    /// `NO_PROXY` gains `127.0.0.1` (and the printed line shows it).
    pub fn bypass_proxy(&mut self) {
        if !PROXY_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            return;
        }
        let value = match std::env::var(NO_PROXY).or_else(|_| std::env::var("no_proxy")) {
            Ok(v) if !v.is_empty() => format!("{v},127.0.0.1"),
            _ => "127.0.0.1".to_string(),
        };
        self.env.push((NO_PROXY.to_string(), value));
    }

    /// The process to start.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The command as a POSIX shell line that runs exactly it.
    pub fn shell_line(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::shell::quote(v)));
        let words = std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|w| crate::shell::quote(&w.to_string_lossy()));
        env.chain(words).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_quotes_what_needs_it() {
        let mut cmd = BootCommand::new(PathBuf::from("/opt/b b/bundle-bootstrap"));
        cmd.arg("run").arg("--env").arg("A=it's");
        cmd.env.push(("NO_PROXY".into(), "x,127.0.0.1".into()));
        assert_eq!(
            cmd.shell_line(),
            r"NO_PROXY=x,127.0.0.1 '/opt/b b/bundle-bootstrap' run --env 'A=it'\''s'"
        );
    }
}
