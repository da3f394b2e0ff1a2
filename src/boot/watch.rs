//! `bundle-bootstrap watch`: poll the bundle's URL and apply it again when it changes — cfn-hup's
//! job (seed 003), for bundles, fit for a fleet.
//!
//! Each poll holds the state folder's lock and learns which bytes the URL designates now (a
//! release pointer's signed sha256 — the pointer alone is fetched — or, for a direct URL, a
//! conditional GET that costs one 304 and no body while nothing changed; `poll.rs`). Unchanged:
//! nothing runs. Changed: the bytes go through the rest of a run (signature, verify, unpack, init
//! where due, every start, hooks).
//!
//! What keeps 10,000 instances from hurting the server and their journals (`pace.rs`): every
//! interval is moved by a random ±`--jitter` %, so instances started together drift apart; a
//! release that failed is not run again at every poll but after 2, 4, 8… polls (at most
//! `--max-backoff`), or at once when the URL designates other bytes — so its failure block and
//! hooks come once per attempt; a poll that finds nothing new is logged once an hour, not every
//! time. Every poll says, loudly, when the signature of the applied release has expired: a
//! mirror that stopped updating is not "unchanged".
//!
//! A failed poll or run is logged and the watch goes on (also when another run holds the state
//! folder); only a configuration mistake (exit 1) stops it. A TERM or INT stops it cleanly, with
//! the log line "stopping on SIGTERM" (or SIGINT): between polls at once, during a poll when the
//! poll ends. A run it was applying is interrupted as `run`'s is (the signal passed on to the
//! running script, the run recorded as interrupted, the failure hook run). The watch then exits 0
//! when it stopped between polls — being stopped is its normal end — and 143 or 130 when it cut
//! a run short, which left the bundle half applied.

mod pace;
mod poll;

use std::time::{Duration, Instant};

use crate::duration::human;
use crate::exit::{Classify, Exit};
use crate::fetch;
use crate::hashing;
use crate::runner::StopSignal;

use super::error::BootError;
use super::options::{BootOptions, Mode};
use super::report::summary;

pub use pace::{DEFAULT_JITTER_PERCENT, DEFAULT_MAX_BACKOFF, MAX_JITTER_PERCENT, jittered};
pub use poll::{Memory, Polled, poll};

/// How often and how long to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Time between two polls, before jitter.
    pub interval: Duration,
    /// Each interval is moved by a random amount within ± this percentage of it.
    pub jitter_percent: u8,
    /// The longest a failed release waits before it is tried again.
    pub max_backoff: Duration,
    /// Stop after this many polls (None: never).
    pub polls: Option<u64>,
}

/// Why a watch ended, when not on a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// `--polls` ran out.
    PollsDone,
    /// A TERM or INT arrived while no run was being applied.
    Signal(StopSignal),
    /// A TERM or INT interrupted the run it was applying (recorded as interrupted).
    RunInterrupted(StopSignal),
}

impl Stopped {
    /// The watch's exit status: 0, or 143/130 when it cut a run short (see the module docs).
    pub fn exit(self) -> Exit {
        match self {
            Stopped::PollsDone | Stopped::Signal(_) => Exit::Ok,
            Stopped::RunInterrupted(signal) => signal.exit(),
        }
    }
}

/// Polls and re-applies until `polls` runs out or a TERM or INT arrives; returns the first
/// configuration error, if any.
pub fn watch(
    opts: &BootOptions,
    every: &WatchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Stopped, BootError> {
    let mut memory = Memory::default();
    let mut quiet = pace::Quiet::default();
    let url = fetch::redact(&opts.url);
    loop {
        let mut cut_short = None;
        match poll(opts, &memory, log) {
            Ok(Polled::Unchanged {
                sha256,
                not_modified,
            }) => {
                memory.failed = None;
                let what = format!(
                    "unchanged: {url} is still the applied release {}",
                    hashing::short(&sha256)
                );
                let how = if not_modified {
                    " (304 Not Modified)"
                } else {
                    ""
                };
                say_quietly(&mut quiet, &what, how, log);
            }
            Ok(Polled::Waiting { sha256, polls_left }) => {
                let how = format!("; tried again in {polls_left} polls");
                say_quietly(&mut quiet, &waiting(&url, &sha256), &how, log);
            }
            Ok(Polled::Applied {
                sha256,
                validators,
                result,
            }) => {
                quiet.reset();
                log(&summary(&result, Mode::Run));
                let result = *result;
                cut_short = result.as_ref().err().and_then(BootError::interrupted);
                match result {
                    Err(e) if e.exit() == Exit::Usage && !e.is_locked() => return Err(e),
                    Err(_) if cut_short.is_none() => {
                        let short = hashing::short(&sha256).to_string();
                        // This line says when the next attempt comes: the polls until then
                        // need not (see `say_quietly`).
                        quiet.say(&waiting(&url, &sha256), Instant::now());
                        let (attempts, wait) =
                            remember_failure(&mut memory, sha256, validators, every);
                        let about = every
                            .interval
                            .saturating_mul(u32::try_from(wait).unwrap_or(u32::MAX));
                        log(&format!(
                            "the release {short} failed (attempt {attempts}): trying it again in \
                             {wait} polls (about {}), or at once when {url} designates other bytes",
                            human(about)
                        ));
                    }
                    _ => memory.failed = None,
                }
            }
            Err(e) if e.is_locked() => log(&format!("poll skipped: {e}")),
            Err(e) if e.exit() == Exit::Usage => return Err(e),
            Err(e) => {
                quiet.reset();
                log(&format!(
                    "poll failed: {e}; trying again in {}",
                    human(every.interval)
                ))
            }
        }
        if let Some(signal) = cut_short {
            log(&format!(
                "stopping on {signal}: the run it stopped is recorded as interrupted"
            ));
            return Ok(Stopped::RunInterrupted(signal));
        }
        memory.polls += 1;
        if every.polls.is_some_and(|n| memory.polls >= n) {
            return Ok(Stopped::PollsDone);
        }
        let pause = jittered(
            every.interval,
            every.jitter_percent,
            fetch::retry::random_u64(),
        );
        if let Some(signal) = opts.interrupt.sleep(pause) {
            log(&format!("stopping on {signal}"));
            return Ok(Stopped::Signal(signal));
        }
    }
}

/// What a poll that waits to try a failed release again finds.
fn waiting(url: &str, sha256: &str) -> String {
    format!(
        "waiting: {url} still designates the release {} that failed",
        hashing::short(sha256)
    )
}

/// Logs a repeated finding once, then once an hour with how many polls it stood for.
fn say_quietly(quiet: &mut pace::Quiet, what: &str, how: &str, log: &mut dyn FnMut(&str)) {
    match quiet.say(what, Instant::now()) {
        None => {}
        Some(None) => log(&format!("{what}{how}")),
        Some(Some(polls)) => log(&format!(
            "{what}{how} ({polls} polls found the same in the last {})",
            human(pace::QUIET_FOR)
        )),
    }
}

/// Records a failed attempt at `sha256` made at this poll: its count (reset when the bytes
/// differ from the last failure's) and the poll at which it is due again. Returns the count and
/// the polls to wait.
fn remember_failure(
    memory: &mut Memory,
    sha256: String,
    validators: Option<fetch::Validators>,
    every: &WatchOptions,
) -> (u32, u64) {
    let attempts = match &memory.failed {
        Some(f) if f.sha256 == sha256 => f.attempts.saturating_add(1),
        _ => 1,
    };
    let wait = pace::backoff_polls(attempts, every.interval, every.max_backoff);
    memory.failed = Some(poll::Failed {
        sha256,
        validators,
        attempts,
        retry_at: memory.polls.saturating_add(wait),
    });
    (attempts, wait)
}
