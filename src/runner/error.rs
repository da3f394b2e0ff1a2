//! The runner's one error enum, and how a script ended ([`ScriptOutcome`]).
//!
//! Owns the wording an operator reads when a module fails ("fail loudly", DESIGN.md "Modules and run
//! order"). It must not know how bundles are fetched, decrypted or unpacked.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration::human;
use crate::exit::{Classify, Exit};

use super::Phase;
use super::interrupt::StopSignal;

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// The script exited by itself with this status (0 is success).
    Exited(i32),
    /// The script was killed by this signal, not sent by us.
    Signaled(i32),
    /// The script passed its timeout and we stopped its process group; `signal` is what stopped the
    /// script itself (SIGTERM, or SIGKILL when SIGTERM was not enough within the grace period).
    TimedOut {
        /// The timeout it passed.
        after: Duration,
        /// The signal that stopped the script.
        signal: i32,
    },
}

impl ScriptOutcome {
    /// Whether the script succeeded (exited with status 0).
    pub fn success(self) -> bool {
        self == ScriptOutcome::Exited(0)
    }

    /// The exit status, when the script exited by itself.
    pub fn code(self) -> Option<i32> {
        match self {
            ScriptOutcome::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// The signal that ended the script, whoever sent it.
    pub fn signal(self) -> Option<i32> {
        match self {
            ScriptOutcome::Exited(_) => None,
            ScriptOutcome::Signaled(sig) | ScriptOutcome::TimedOut { signal: sig, .. } => Some(sig),
        }
    }
}

impl fmt::Display for ScriptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ScriptOutcome::Exited(code) => write!(f, "exited with status {code}"),
            ScriptOutcome::Signaled(sig) => write!(f, "was killed by {}", signal_text(sig)),
            ScriptOutcome::TimedOut { after, signal } => write!(
                f,
                "timed out after {} (--module-timeout) and was stopped with {}",
                human(after),
                signal_text(signal)
            ),
        }
    }
}

/// `signal 9 (SIGKILL)`, or `signal 42` for one without a common name.
pub fn signal_text(sig: i32) -> String {
    match signal_name(sig) {
        Some(name) => format!("signal {sig} ({name})"),
        None => format!("signal {sig}"),
    }
}

/// The name of the signals an operator is likely to meet (Linux numbering, signal(7)).
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Everything that can go wrong while running a bundle's scripts or keeping the state dir.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A module's script exited non-zero, was killed, or timed out. The run stopped there.
    #[error("{}", failure_text(.0))]
    ModuleFailed(Box<ModuleFailure>),
    /// A module's script could not be started at all (missing file, bad interpreter line, ...).
    #[error("module {module} failed: could not start its {phase} script {}", script.display())]
    NotStarted {
        /// The module's name.
        module: String,
        /// Which script: init or start.
        phase: Phase,
        /// The script that could not be started.
        script: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A TERM or INT stopped the run: passed on to the running script's process group, or caught
    /// between two scripts. Exit 143 or 130.
    #[error("{}", interrupted_text(.0))]
    Interrupted(Box<Interruption>),
    /// A log file could not be created.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What we were doing: "write", "create", "read", "lock", ...
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state folder could not be read or written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The after-run hook could not be started.
    #[error("the hook `{cmd}` could not be started")]
    HookNotStarted {
        /// The hook's command line.
        cmd: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The after-run hook failed. The run's own result stands; this is only reported.
    #[error("the hook `{cmd}` {} after {}{}", ended.outcome, human(ended.duration), tail_text(&ended.tail, &ended.log))]
    HookFailed {
        /// The hook's command line.
        cmd: String,
        /// How it ended.
        ended: Box<Ended>,
    },
}

/// How a script that failed ended, with what an operator reads.
#[derive(Debug, Clone)]
pub struct Ended {
    /// How it ended.
    pub outcome: ScriptOutcome,
    /// How long it ran.
    pub duration: Duration,
    /// Its last lines of output (at most 20).
    pub tail: Vec<String>,
    /// The full log of its output.
    pub log: PathBuf,
}

/// Which module's script failed, and how.
#[derive(Debug, Clone)]
pub struct ModuleFailure {
    /// The module's name.
    pub module: String,
    /// Which script: init or start.
    pub phase: Phase,
    /// The script that failed.
    pub script: PathBuf,
    /// How it ended.
    pub ended: Ended,
}

/// Where a TERM or INT stopped the run.
#[derive(Debug, Clone)]
pub struct Interruption {
    /// The signal.
    pub signal: StopSignal,
    /// The module whose script was running, or due next.
    pub module: String,
    /// Which of its scripts: init or start.
    pub phase: Phase,
    /// How that script ended once the signal was passed on to it; `None` when the signal came
    /// between two scripts and this one never started.
    pub ended: Option<Ended>,
}

impl RunError {
    /// How the failed (or interrupted) script ended, when a script (module or hook) failed.
    pub fn ended(&self) -> Option<&Ended> {
        match self {
            RunError::ModuleFailed(f) => Some(&f.ended),
            RunError::HookFailed { ended, .. } => Some(ended),
            RunError::Interrupted(i) => i.ended.as_ref(),
            _ => None,
        }
    }

    /// The signal that stopped the run, when one did.
    pub fn interrupted(&self) -> Option<StopSignal> {
        match self {
            RunError::Interrupted(i) => Some(i.signal),
            _ => None,
        }
    }
}

impl RunError {
    /// The module whose script failed, when a module failed (for `BUNDLE_FAILED_MODULE`).
    pub fn failed_module(&self) -> Option<&str> {
        match self {
            RunError::ModuleFailed(f) => Some(&f.module),
            RunError::NotStarted { module, .. } => Some(module),
            _ => None,
        }
    }

    /// Wraps an I/O error on `path`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RunError::Io { op, path, source }
    }
}

/// The multi-line message of [`RunError::ModuleFailed`], read by an operator at a glance.
fn failure_text(f: &ModuleFailure) -> String {
    let after = match f.ended.outcome {
        // The timeout message already says how long.
        ScriptOutcome::TimedOut { .. } => String::new(),
        _ => format!(" after {}", human(f.ended.duration)),
    };
    format!(
        "module {} failed: {} {}{after}\nscript: {}{}",
        f.module,
        f.phase,
        f.ended.outcome,
        f.script.display(),
        tail_text(&f.ended.tail, &f.ended.log)
    )
}

/// The message of [`RunError::Interrupted`]: its first line is the run's summary.
fn interrupted_text(i: &Interruption) -> String {
    match &i.ended {
        None => format!(
            "stopped by {} before module {}'s {} script",
            i.signal, i.module, i.phase
        ),
        Some(ended) => format!(
            "stopped by {} during module {}'s {} script, which {} after {}{}",
            i.signal,
            i.module,
            i.phase,
            ended.outcome,
            human(ended.duration),
            tail_text(&ended.tail, &ended.log)
        ),
    }
}

/// `\nlast N lines:\n  | ...\nfull log: PATH`.
fn tail_text(tail: &[String], log: &std::path::Path) -> String {
    let mut text = match tail.len() {
        0 => "\n(no output)".to_string(),
        1 => "\nlast line:".to_string(),
        n => format!("\nlast {n} lines:"),
    };
    for line in tail {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text.push_str(&format!("\nfull log: {}", log.display()));
    text
}

impl Classify for RunError {
    fn exit(&self) -> Exit {
        match self {
            RunError::ModuleFailed(_) | RunError::NotStarted { .. } => Exit::Module,
            RunError::Interrupted(i) => i.signal.exit(),
            RunError::State(e) => e.exit(),
            RunError::Io { .. } | RunError::HookNotStarted { .. } | RunError::HookFailed { .. } => {
                Exit::Usage
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RunError::ModuleFailed(f) => Some(format!(
                "fix module {} and apply the bundle again; modules after it did not run",
                f.module
            )),
            RunError::NotStarted { .. } => Some(
                "check the script's first line (#!) names an installed interpreter, or make it \
                 non-executable to run it with bash"
                    .to_string(),
            ),
            RunError::Interrupted(i) => Some(format!(
                "module {} and the modules after it did not finish: run bundle-bootstrap again to \
                 apply the bundle",
                i.module
            )),
            RunError::State(e) => e.hint(),
            RunError::Io { path, .. } => Some(format!(
                "check that {} is writable by this user and its disk has room",
                path.display()
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reads_at_a_glance() {
        let err = RunError::ModuleFailed(Box::new(ModuleFailure {
            module: "20-rabbitmq".into(),
            phase: Phase::Start,
            script: "/b/20-rabbitmq/start".into(),
            ended: Ended {
                outcome: ScriptOutcome::Exited(3),
                duration: Duration::from_millis(4200),
                tail: vec!["one".into(), "two".into()],
                log: "/var/lib/startup-bundle/logs/r/20-rabbitmq.start.log".into(),
            },
        }));
        assert_eq!(
            err.to_string(),
            "module 20-rabbitmq failed: start exited with status 3 after 4.2s\n\
             script: /b/20-rabbitmq/start\n\
             last 2 lines:\n  | one\n  | two\n\
             full log: /var/lib/startup-bundle/logs/r/20-rabbitmq.start.log"
        );
        assert_eq!(err.exit(), Exit::Module);
    }

    #[test]
    fn outcomes_name_their_signal() {
        assert_eq!(
            ScriptOutcome::Signaled(9).to_string(),
            "was killed by signal 9 (SIGKILL)"
        );
        let timed = ScriptOutcome::TimedOut {
            after: Duration::from_secs(1800),
            signal: 15,
        };
        assert!(timed.to_string().contains("timed out after 30m00s"));
        assert_eq!(timed.signal(), Some(15));
        assert_eq!(timed.code(), None);
        assert!(!timed.success());
        assert!(ScriptOutcome::Exited(0).success());
    }
}
