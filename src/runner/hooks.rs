//! The after-run hook: a command an operator gives to be told how a run ended (a notification, a
//! health flag). Run with `sh -c`, in the scripts' stripped environment, with its own timeout.
//!
//! A hook only reports; it never changes the run's result, and it knows nothing of the modules
//! beyond the failed one's name.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::state::StateDir;

use super::RunOptions;
use super::error::RunError;
use super::script::{self, Job, JobError};

/// The prefix of the hook's echoed output: `[hook] `.
const HOOK_LABEL: &str = "hook";

/// The hook's log file name, in the run's log folder.
const HOOK_LOG: &str = "hook.log";

/// How the run ended, as told to the hook in `BUNDLE_RESULT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `BUNDLE_RESULT=success`.
    Success,
    /// `BUNDLE_RESULT=failure`.
    Failure,
    /// `BUNDLE_RESULT=interrupted`: a TERM or INT stopped the run (the failure hook runs).
    Interrupted,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// Runs `sh -c CMD` with `BUNDLE_RESULT` and `BUNDLE_FAILED_MODULE` (empty on success), echoing its
/// output prefixed `[hook] ` to `echo` and logging it to `log_dir/hook.log`. `log_dir` is the log
/// folder of the run that holds the lock — never a path read back from a state file. An error only
/// reports the hook's own failure.
pub fn run_hook(
    cmd: &str,
    outcome: Outcome,
    failed_module: Option<&str>,
    state: &StateDir,
    log_dir: &Path,
    opts: &RunOptions,
    echo: &mut dyn Write,
) -> Result<(), RunError> {
    let log = log_dir.join(HOOK_LOG);
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd);
    let mut extra = opts.env.clone();
    extra.extend([
        ("BUNDLE_RESULT".into(), outcome.as_str().into()),
        (
            "BUNDLE_FAILED_MODULE".into(),
            failed_module.unwrap_or_default().into(),
        ),
        (
            "BUNDLE_STATE_DIR".into(),
            state.path().to_string_lossy().into_owned(),
        ),
    ]);
    script::set_env(
        &mut command,
        opts.base_env.as_deref(),
        &opts.strip_env,
        &extra,
    );
    let job = Job {
        label: HOOK_LABEL,
        command,
        log: &log,
        timeout: opts.hook_timeout,
        grace: opts.kill_grace,
        // It reports an interrupted run too, so it runs to its end (or its timeout) after the
        // signal; a second signal still ends everything at once.
        interrupt: None,
    };
    let finished = match script::execute(job, echo) {
        Ok(finished) => finished,
        Err(JobError::Log(e)) => return Err(RunError::io("create", log)(e)),
        Err(JobError::Spawn(source)) => {
            return Err(RunError::HookNotStarted {
                cmd: cmd.to_string(),
                source,
            });
        }
    };
    if finished.outcome.success() {
        Ok(())
    } else {
        Err(RunError::HookFailed {
            cmd: cmd.to_string(),
            ended: Box::new(super::Ended {
                outcome: finished.outcome,
                duration: finished.duration,
                tail: finished.tail,
                log,
            }),
        })
    }
}
