//! One script as one supervised process: how it is started (shebang or `bash`), its environment, its
//! merged output streamed live, its timeout, and how it ended.
//!
//! Knows nothing of modules' order, init records or the status file: [`super`] decides what runs.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::error::ScriptOutcome;
use super::output::{LineSink, TAIL_LINES, pump};
use super::timeout::Stopper;

/// How often the supervisor looks at the child and the clock when there is no output.
const POLL: Duration = Duration::from_millis(50);

/// After the script exits, how long we keep reading output that a background child it started may
/// still be holding open (a daemon started with `&`); then we move on without it.
const DRAIN: Duration = Duration::from_millis(1500);

/// Lines buffered between the reading thread and the supervisor, at most [`super::output::MAX_LINE`]
/// bytes each: a slow console slows the script down rather than filling memory.
const LINE_QUEUE: usize = TAIL_LINES * 4;

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
    /// How long between SIGTERM and SIGKILL.
    pub grace: Duration,
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
}

/// Why a script could not be supervised at all.
#[derive(Debug)]
pub enum JobError {
    /// The log file could not be created.
    Log(io::Error),
    /// The process could not be started.
    Spawn(io::Error),
}

/// Runs `job` to its end: stdin from /dev/null, stdout and stderr into one pipe (so their order is
/// kept), its own process group, output echoed to `echo` and logged, stopped at its timeout.
pub fn execute(job: Job<'_>, echo: &mut dyn Write) -> Result<Finished, JobError> {
    let Job {
        label,
        mut command,
        log,
        timeout,
        grace,
    } = job;
    let mut log_file = io::BufWriter::new(File::create(log).map_err(JobError::Log)?);
    let (reader, writer) = io::pipe().map_err(JobError::Spawn)?;
    command
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(JobError::Spawn)?)
        .stderr(writer)
        // Own group, so the timeout can stop the script and everything it started (kill(2) on -pgid).
        .process_group(0);
    let started = Instant::now();
    let spawned = spawn(&mut command);
    // The command holds our copies of the pipe's write end; until they close we would never see EOF.
    drop(command);
    let mut child = spawned.map_err(JobError::Spawn)?;

    let (tx, rx) = mpsc::sync_channel(LINE_QUEUE);
    std::thread::Builder::new()
        .name(format!("output of {label}"))
        .spawn(move || pump(reader, tx))
        .map_err(JobError::Spawn)?;

    let mut sink = LineSink::new(label, echo, &mut log_file);
    let mut stopper = Stopper::new(child.id(), started, timeout, grace);
    // The exit status (None when it could not be read) and when we saw the script exit.
    let mut exited: Option<(Option<ExitStatus>, Instant)> = None;
    let mut eof = false;
    loop {
        if exited.is_none() {
            exited = wait_now(&mut child).map(|status| (status, Instant::now()));
        }
        match exited {
            Some(_) if eof => break,
            Some((_, at)) if at.elapsed() >= DRAIN => {
                sink.note("(script exited; a background process still holds its output, not waiting for it)");
                break;
            }
            Some(_) => {}
            None => stopper.tick(Instant::now()),
        }
        if eof {
            std::thread::sleep(POLL);
            continue;
        }
        match rx.recv_timeout(POLL) {
            Ok(line) => sink.line(&line),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => eof = true,
        }
    }
    let duration = started.elapsed();
    stopper.finish(POLL);
    let status = exited.and_then(|(status, _)| status);
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
    })
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
