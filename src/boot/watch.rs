//! `bundle-bootstrap watch`: poll the bundle's URL and apply it again when it changes — cfn-hup's
//! job (seed 003), for bundles.
//!
//! Each poll holds the state folder's lock, learns which bytes the URL designates now (a release
//! pointer's signed sha256 — the pointer alone is fetched — or the sha256 of the file itself) and
//! compares them with `current`, the release of the last successful run. Unchanged: nothing runs,
//! and nothing is downloaded again. Changed: the bytes already downloaded go through the rest of a
//! run (signature, verify, unpack, init where due, every start, hooks). A failed poll or run is
//! logged and the watch goes on (also when another run holds the state folder); only a
//! configuration mistake (exit 1) stops it. Every poll also says, loudly, when the signature of
//! the applied release has expired: a mirror that stopped updating is not "unchanged".
//!
//! A TERM or INT stops it cleanly, with the log line "stopping on SIGTERM" (or SIGINT): between
//! polls at once, during a poll when the poll ends. A run it was applying is interrupted as `run`'s
//! is (the signal passed on to the running script, the run recorded as interrupted, the failure
//! hook run). The watch then exits 0 when it stopped between polls — being stopped is its normal
//! end — and 143 or 130 when it cut a run short, which left the bundle half applied.

use std::time::{Duration, Instant};

use crate::date;
use crate::exit::{Classify, Exit};
use crate::fetch;
use crate::hashing;
use crate::runner::StopSignal;
use crate::secret::{self, Prompt};
use crate::state::{RunKind, Stage, StateDir};

use super::error::BootError;
use super::options::{BootOptions, Mode};
use super::report::{BootReport, summary};
use super::source;

/// How often and how long to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Time between two polls.
    pub interval: Duration,
    /// Stop after this many polls (None: never).
    pub polls: Option<u64>,
}

/// What one poll found.
#[derive(Debug)]
pub enum Polled {
    /// The URL still designates the applied release.
    Unchanged {
        /// Its sha256.
        sha256: String,
    },
    /// It designates other bytes, which were applied (or failed to apply).
    Applied(Box<Result<BootReport, BootError>>),
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
    let mut done = 0u64;
    loop {
        let mut cut_short = None;
        match poll(opts, log) {
            Ok(Polled::Unchanged { sha256 }) => log(&format!(
                "unchanged: {} is still the applied release {}",
                fetch::redact(&opts.url),
                hashing::short(&sha256)
            )),
            Ok(Polled::Applied(result)) => {
                log(&summary(&result, Mode::Run));
                let result = *result;
                cut_short = result.as_ref().err().and_then(BootError::interrupted);
                if let Err(e) = result
                    && e.exit() == Exit::Usage
                    && !e.is_locked()
                {
                    return Err(e);
                }
            }
            Err(e) if e.is_locked() => log(&format!("poll skipped: {e}")),
            Err(e) if e.exit() == Exit::Usage => return Err(e),
            Err(e) => log(&format!(
                "poll failed: {e}; trying again in {}",
                crate::duration::human(every.interval)
            )),
        }
        if let Some(signal) = cut_short {
            log(&format!(
                "stopping on {signal}: the run it stopped is recorded as interrupted"
            ));
            return Ok(Stopped::RunInterrupted(signal));
        }
        done += 1;
        if every.polls.is_some_and(|n| done >= n) {
            return Ok(Stopped::PollsDone);
        }
        if let Some(signal) = opts.interrupt.sleep(every.interval) {
            log(&format!("stopping on {signal}"));
            return Ok(Stopped::Signal(signal));
        }
    }
}

/// One poll, under the lock: unchanged, or a full run of the new bytes (downloaded once).
pub fn poll(opts: &BootOptions, log: &mut dyn FnMut(&str)) -> Result<Polled, BootError> {
    let started = Instant::now();
    let state = StateDir::open(&opts.state_dir)?;
    let lock = state.lock(opts.lock_wait, log)?;
    let current = state.releases_read_only().current();
    warn_if_expired(&state, current.as_deref(), log);
    let downloads = state.downloads(&lock)?;
    let designated = source::designated(opts, &downloads, log)?;
    if let Some(sha) = &designated.pointed_sha256
        && current.as_deref() == Some(sha.as_str())
    {
        return Ok(Polled::Unchanged {
            sha256: sha.clone(),
        });
    }
    let source = source::fetch_designated(opts, designated, &downloads, log)?;
    let sha256 = source.download.sha256();
    if current.as_deref() == Some(sha256.as_str()) {
        return Ok(Polled::Unchanged { sha256 });
    }
    log(&format!(
        "{} now designates {}: applying it",
        fetch::redact(&opts.url),
        hashing::short(&sha256)
    ));
    let mut record = super::begin(opts, &state, &lock, RunKind::Run)?;
    let mut result = (|| {
        let pass =
            secret::read_passphrase_with(opts.pass.as_ref(), Prompt::Never, &opts.fetch, log)?;
        record.stage(Stage::Fetch)?;
        super::apply(opts, &state, Some(&mut record), &pass, source, log)
    })();
    super::finish(opts, &state, &mut record, &result, log);
    if let Ok(report) = &mut result {
        report.duration = started.elapsed();
    }
    drop(lock);
    Ok(Polled::Applied(Box::new(result)))
}

/// Says loudly when the signature of the applied release has expired.
fn warn_if_expired(state: &StateDir, current: Option<&str>, log: &mut dyn FnMut(&str)) {
    let Some(record) = current.and_then(|sha| state.releases_read_only().record(sha)) else {
        return;
    };
    if let Some(expires) = record.signed.as_ref().and_then(|s| s.expires)
        && expires <= date::now_unix()
    {
        log(&format!(
            "WARNING: the signature of the applied release {} {} expired at {}: the publisher has \
             not signed anything newer, or this mirror stopped updating",
            record.name,
            record.version,
            date::format_rfc3339(expires)
        ));
    }
}
