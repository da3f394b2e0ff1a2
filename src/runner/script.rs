//! One script as one supervised process: how it is started (shebang or `bash`), its environment, its
//! merged output logged and streamed live, its timeout, and how it ended.
//!
//! The script writes its stdout and stderr straight into its log file, and we follow that file to
//! echo it. Never a pipe: a process the script leaves running (a daemon started with `&`, the seed's
//! way) inherits that output, and a pipe's reader — us — goes away when the run ends; its next write
//! would kill it with SIGPIPE. A file outlives us, so such a process keeps running and logging.
//!
//! Knows nothing of modules' order, init records or the status file: [`super`] decides what runs.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::error::ScriptOutcome;
use super::interrupt::{Interrupt, StopSignal};
use super::output::{Follow, LineSink};
use super::timeout::Stopper;

/// How often the supervisor looks at the log, the child and the clock when there is no new output:
/// also the most a line waits before it is echoed.
const POLL: Duration = Duration::from_millis(50);

/// How many bytes of output the supervisor echoes before it looks at the child and the clock again,
/// so that a script printing without pause is still stopped at its timeout.
const ECHO_BUDGET: usize = 128 * 1024;

/// Variables no script ever sees, whatever the caller asks (DESIGN.md, "Passphrases").
pub const ALWAYS_STRIPPED: &[&str] = &[crate::secret::PASSPHRASE_VAR];

/// The status reported when the real one could not be read: never a shell's own value, never success.
const UNKNOWN_STATUS: i32 = -1;

/// The file mode bits that make a script "executable" (any of user, group, other).
const EXEC_BITS: u32 = 0o111;

/// How many times a spawn that fails with ETXTBSY is retried: a script written a moment ago may still
/// be open for writing in a child forked by another thread until that child execs.
const TXTBSY_RETRIES: u32 = 10;

/// A `Command` for `script`: executed directly when executable (its `#!` line picks the interpreter),
/// else `bash SCRIPT` (DESIGN.md, "Modules and run order").
pub fn script_command(script: &Path) -> io::Result<Command> {
    let mode = std::fs::metadata(script)?.permissions().mode();
    Ok(if mode & EXEC_BITS != 0 {
        Command::new(script)
    } else {
        let mut cmd = Command::new("bash");
        cmd.arg(script);
        cmd
    })
}

/// Gives `cmd` its environment: `base` (or ours when `None`), minus the secrets, plus `extra` in order.
pub fn set_env(
    cmd: &mut Command,
    base: Option<&[(OsString, OsString)]>,
    strip: &[String],
    extra: &[(String, String)],
) {
    if let Some(base) = base {
        cmd.env_clear();
        cmd.envs(base.iter().map(|(k, v)| (k, v)));
    }
    for name in ALWAYS_STRIPPED {
        cmd.env_remove(name);
    }
    for name in strip {
        cmd.env_remove(name);
    }
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
}

/// One script to supervise.
pub struct Job<'a> {
    /// Prefix of echoed lines: `[label] `.
    pub label: &'a str,
    /// The command, with program, arguments, working directory and environment set.
    pub command: Command,
    /// Where its unprefixed output goes; created (truncated) here.
    pub log: &'a Path,
    /// When to stop it.
    pub timeout: Duration,
    /// How long between SIGTERM (or the interrupting signal) and SIGKILL.
    pub grace: Duration,
    /// The run's interrupt flag: once raised, its signal is passed on to the script's group.
    /// `None` for what must run to its end even then (the hook that reports the interruption).
    pub interrupt: Option<&'a Interrupt>,
}

/// How a supervised script ended.
#[derive(Debug)]
pub struct Finished {
    /// Exit status, signal, or timeout.
    pub outcome: ScriptOutcome,
    /// How long it ran.
    pub duration: Duration,
    /// Its last lines of output.
    pub tail: Vec<String>,
    /// The interrupting signal passed on to it, when the run was interrupted while it ran.
    pub interrupted: Option<StopSignal>,
}

/// Why a script could not be supervised at all.
#[derive(Debug)]
pub enum JobError {
    /// The log file could not be created.
    Log(io::Error),
    /// The process could not be started.
    Spawn(io::Error),
}

/// Runs `job` to its end: stdin from /dev/null, stdout and stderr into its log file (one open file,
/// so their order is kept), its own process group, the log echoed to `echo` as it grows, stopped at
/// its timeout or when the run is interrupted. Processes the script leaves running are not waited
/// for, and not stopped.
pub fn execute(job: Job<'_>, echo: &mut dyn Write) -> Result<Finished, JobError> {
    let Job {
        label,
        mut command,
        log,
        timeout,
        grace,
        interrupt,
    } = job;
    let (out, tail) = open_log(log).map_err(JobError::Log)?;
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(JobError::Log)?)
        .stderr(out)
        // Own group, so the timeout can stop the script and everything it started (kill(2) on -pgid).
        .process_group(0);
    let started = Instant::now();
    let spawned = spawn(&mut command);
    // The command holds our copies of the log's write side; only the script's are needed.
    drop(command);
    let mut child = spawned.map_err(JobError::Spawn)?;

    let mut sink = LineSink::new(label, echo);
    let mut follow = Follow::new(&tail);
    let mut stopper = Stopper::new(child.id(), started, timeout, grace);
    // The exit status, None when it could not be read.
    let status = loop {
        let echoed = follow.read_new(ECHO_BUDGET, &mut sink);
        if let Some(status) = wait_now(&mut child) {
            break status;
        }
        if let Some(signal) = interrupt.and_then(Interrupt::raised)
            && stopper.interrupt(signal, Instant::now())
        {
            sink.note(&format!(
                "({signal}: passed on to the script's process group)"
            ));
        }
        stopper.tick(Instant::now());
        if echoed == 0 {
            std::thread::sleep(POLL);
        }
    };
    let duration = started.elapsed();
    // A write(2) to a file is in it once the call returns: all the script wrote is there now. What
    // its leftover processes write from here on stays in the log only.
    let written = tail.metadata().map_or(u64::MAX, |m| m.len());
    follow.read_to(written, &mut sink);
    follow.finish(&mut sink);
    stopper.finish(POLL);
    let interrupted = stopper.interrupted_by();
    if stopper.stopped_with().is_none() && interrupted.is_none() && stopper.group_alive() {
        sink.note(&format!(
            "(the script exited and left processes running; what they print goes to {})",
            log.display()
        ));
    }
    let outcome = match (stopper.stopped_with(), status) {
        (Some(signal), _) => ScriptOutcome::TimedOut {
            after: timeout,
            signal,
        },
        (None, Some(status)) => outcome_of(status),
        // waitpid(2) failed: the child is gone and its status with it.
        (None, None) => ScriptOutcome::Exited(UNKNOWN_STATUS),
    };
    Ok(Finished {
        outcome,
        duration,
        tail: sink.into_tail(),
        interrupted,
    })
}

/// Creates (empties) the log a script writes to, and opens it a second time for us to follow with
/// our own offset. O_APPEND: every write lands at the end, also after an operator empties the log
/// of a daemon that writes to it for months (`: > LOG`).
fn open_log(log: &Path) -> io::Result<(File, File)> {
    let out = OpenOptions::new().append(true).create(true).open(log)?;
    out.set_len(0)?;
    let tail = File::open(log)?;
    Ok((out, tail))
}

/// Spawns, retrying briefly on ETXTBSY (see [`TXTBSY_RETRIES`]).
fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::TXTBSY.raw_os_error())
                    && tries < TXTBSY_RETRIES =>
            {
                tries += 1;
                std::thread::sleep(POLL);
            }
            other => return other,
        }
    }
}

/// `Some` once the child has exited, holding its status; a child we cannot wait for counts as exited
/// with an unknown status.
fn wait_now(child: &mut Child) -> Option<Option<ExitStatus>> {
    match child.try_wait() {
        Ok(status) => status.map(Some),
        Err(_) => Some(None),
    }
}

fn outcome_of(status: ExitStatus) -> ScriptOutcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => ScriptOutcome::Exited(code),
        (None, Some(sig)) => ScriptOutcome::Signaled(sig),
        (None, None) => ScriptOutcome::Exited(UNKNOWN_STATUS),
    }
}
