//! One script as one supervised process: how it is started (shebang or `bash`), its environment, its
//! merged output streamed live and logged, its timeout, and how it ended.
//!
//! The script's stdout and stderr are one pipe that we read while it runs. A process the script
//! leaves running (a daemon started with `&`, the seed's way) inherits that pipe; once the script
//! has exited we wait [`DRAIN`] for it, then hand the pipe to a relay (`cat >> LOG`) outside our
//! process, which goes on appending to the log after we exit. Without it the daemon's next write
//! after the run would kill it with SIGPIPE. (Never the log file itself as the script's output:
//! `echo oops >/dev/stderr` or `tee /dev/stderr` open that again with O_TRUNC and empty the log.)
//!
//! Knows nothing of modules' order, init records or the status file: [`super`] decides what runs.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, PipeReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::error::ScriptOutcome;
use super::interrupt::{Interrupt, StopSignal};
use super::output::{LineSink, TAIL_LINES, pump};
use super::timeout::Stopper;

/// How often the supervisor looks at the child and the clock when there is no output.
const POLL: Duration = Duration::from_millis(50);

/// After the script exits, how long we keep reading output that a process it left running may still
/// be holding open (a daemon started with `&`); then the pipe goes to the relay and we move on.
const DRAIN: Duration = Duration::from_millis(1500);

/// Lines buffered between the reading thread and the supervisor, at most [`super::output::MAX_LINE`]
/// bytes each: a slow console slows the script down rather than filling memory.
const LINE_QUEUE: usize = TAIL_LINES * 4;

/// The relay, run by `sh`: a `cat` in the background that appends the pipe (its stdin) to the log
/// (its stdout), and `sh` exits at once, so `cat` is no child of ours (init reaps it) and
/// outlives us. The pipe goes through fd 3 because a background command's stdin is /dev/null in a
/// non-interactive shell unless it is redirected (POSIX Shell Command Language, 2.9.3). It also
/// ignores SIGINT, as background commands do: Ctrl-C on our terminal does not cut the daemons off.
const RELAY: &str = "exec 3<&0; cat <&3 3<&- &";

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

/// Runs `job` to its end: stdin from /dev/null, stdout and stderr into one pipe (so their order is
/// kept), its own process group, output echoed to `echo` and logged, stopped at its timeout or when
/// the run is interrupted. Processes the script leaves running are not waited for, and not stopped:
/// their output goes on into the log through the relay.
pub fn execute(job: Job<'_>, echo: &mut dyn Write) -> Result<Finished, JobError> {
    let Job {
        label,
        mut command,
        log,
        timeout,
        grace,
        interrupt,
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
    let stop = Arc::new(AtomicBool::new(false));
    let pumping = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name(format!("output of {label}"))
            .spawn(move || pump(reader, tx, &stop))
            .map_err(JobError::Spawn)?
    };

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
            Some((_, at)) if at.elapsed() >= DRAIN => break,
            Some(_) => {}
            None => {
                if let Some(signal) = interrupt.and_then(Interrupt::raised)
                    && stopper.interrupt(signal, Instant::now())
                {
                    sink.note(&format!(
                        "({signal}: passed on to the script's process group)"
                    ));
                }
                stopper.tick(Instant::now());
            }
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
    let (status, exited_at) = exited.unwrap_or((None, Instant::now()));
    let duration = exited_at.duration_since(started);
    // The pump sends what it still has and, when something still holds the pipe, gives it back.
    stop.store(true, Ordering::SeqCst);
    for line in rx.iter() {
        sink.line(&line);
    }
    let held_pipe = pumping.join().ok().flatten();
    stopper.finish(POLL);
    if let Some(pipe) = held_pipe {
        sink.flush_log();
        let note = match hand_off(pipe, log) {
            Ok(()) => format!(
                "(the script exited and left processes running that hold its output; it goes on \
                 into {})",
                log.display()
            ),
            Err(e) => format!(
                "(the script exited and left processes running that hold its output; it could not \
                 be handed on ({e}), so they may die of SIGPIPE once this run ends)"
            ),
        };
        sink.note(&note);
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
        interrupted: stopper.interrupted_by(),
    })
}

/// Gives the script's output `pipe`, still held by processes it left running, to the [`RELAY`],
/// which appends it to `log` for as long as they write, also after we exit.
fn hand_off(pipe: PipeReader, log: &Path) -> io::Result<()> {
    let out = OpenOptions::new().append(true).open(log)?;
    let status = Command::new("sh")
        .args(["-c", RELAY])
        .stdin(pipe)
        .stdout(out)
        .stderr(Stdio::null())
        // Out of our group: a Ctrl-C or a signal to our group does not reach it.
        .process_group(0)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("sh -c '{RELAY}' {status}")))
    }
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
