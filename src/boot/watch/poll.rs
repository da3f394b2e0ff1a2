//! One poll, under the state folder's lock: what the URL designates now, compared with the
//! applied release and with the release whose last attempt failed, and — when it is due — a full
//! run of the designated bytes, downloaded once.
//!
//! A direct URL is asked with a conditional GET: the validators kept with the applied release
//! (or those of the failed release while it waits), so a server that still has those bytes
//! answers 304 and no body crosses the network. A pointer is fetched whole (it is small) and its
//! signed sha256 decides before the bundle is downloaded.

use std::time::Instant;

use crate::fetch::{self, Validators};
use crate::hashing;
use crate::secret::{self, Prompt};
use crate::state::{RunKind, Stage, StateDir, StateLock};

use super::super::error::BootError;
use super::super::options::BootOptions;
use super::super::report::BootReport;
use super::super::source::{self, Designated, Source};
use crate::date;

/// What the watch remembers between polls.
#[derive(Debug, Default)]
pub struct Memory {
    /// Polls made before this one.
    pub(super) polls: u64,
    /// The release whose last attempt failed, while the URL still designates it.
    pub(super) failed: Option<Failed>,
}

/// A release whose last attempt failed.
#[derive(Debug, Clone)]
pub(super) struct Failed {
    /// Its sha256.
    pub sha256: String,
    /// How the URL answered with its bytes.
    pub validators: Option<Validators>,
    /// Attempts so far, all failed.
    pub attempts: u32,
    /// The poll (counted from 0) at which it is tried again.
    pub retry_at: u64,
}

impl Memory {
    /// The failed release `sha256` when its retry is not due yet.
    fn waiting(&self, sha256: &str) -> Option<&Failed> {
        self.failed
            .as_ref()
            .filter(|f| f.sha256 == sha256 && self.polls < f.retry_at)
    }
}

/// What one poll found.
#[derive(Debug)]
pub enum Polled {
    /// The URL still designates the applied release.
    Unchanged {
        /// Its sha256.
        sha256: String,
        /// Whether the server said so with a 304 (no body).
        not_modified: bool,
    },
    /// It still designates the release that failed, whose retry is not due yet.
    Waiting {
        /// Its sha256.
        sha256: String,
        /// Polls left before it is tried again.
        polls_left: u64,
    },
    /// It designates other bytes (or a failed release is due again), which were applied or
    /// failed to apply.
    Applied {
        /// Their sha256.
        sha256: String,
        /// How the URL answered with them.
        validators: Option<Validators>,
        /// The run.
        result: Box<Result<BootReport, BootError>>,
    },
}

/// One poll, under the lock.
pub fn poll(
    opts: &BootOptions,
    memory: &Memory,
    log: &mut dyn FnMut(&str),
) -> Result<Polled, BootError> {
    let started = Instant::now();
    let state = StateDir::open(&opts.state_dir)?;
    let lock = state.lock(opts.lock_wait, log)?;
    let current = state.releases_read_only().current();
    warn_if_expired(&state, current.as_deref(), log);
    let downloads = state.downloads(&lock)?;
    let designated = source::designated(opts, &downloads, log)?;
    let unchanged = |sha256: &str, not_modified| Polled::Unchanged {
        sha256: sha256.to_string(),
        not_modified,
    };
    let waiting = |failed: &Failed| Polled::Waiting {
        sha256: failed.sha256.clone(),
        polls_left: failed.retry_at - memory.polls,
    };
    if let Some(sha) = &designated.pointed_sha256 {
        if current.as_deref() == Some(sha.as_str()) {
            return Ok(unchanged(sha, false));
        }
        if let Some(failed) = memory.waiting(sha) {
            return Ok(waiting(failed));
        }
    }
    let asked = asked(&state, &designated, current.as_deref(), memory);
    let said = designated.said.clone();
    let known = asked.as_ref().map(|(_, v)| v);
    let fetched = source::fetch_designated_if_changed(opts, designated, known, &downloads, log)?;
    let Some(source) = fetched else {
        // A 304: the URL still has the bytes of the validators sent.
        return match asked {
            Some((sha, _)) => Ok(match memory.waiting(&sha) {
                Some(failed) => waiting(failed),
                None => unchanged(&sha, true),
            }),
            // Not asked conditionally: the download refuses a 304 before this.
            None => Err(fetch::FetchError::not_modified(&opts.url).into()),
        };
    };
    let sha256 = source.download.sha256();
    let validators = source.download.fetched.validators.clone();
    if current.as_deref() == Some(sha256.as_str()) {
        // The same bytes under new validators (a re-upload, another server): keep these, so the
        // next poll is a 304 again.
        if let Some(v) = &validators {
            state
                .releases()?
                .remember_fetch(&sha256, source::fetched_as(&source.url, v))?;
        }
        return Ok(unchanged(&sha256, false));
    }
    if let Some(failed) = memory.waiting(&sha256) {
        return Ok(waiting(failed));
    }
    if let Some(said) = said {
        log(&said);
    }
    log(&source.said);
    log(&format!(
        "{} now designates {}: applying it",
        fetch::redact(&opts.url),
        hashing::short(&sha256)
    ));
    let result = apply(opts, &state, &lock, source, started, log);
    drop(lock);
    Ok(Polled::Applied {
        sha256,
        validators,
        result: Box::new(result),
    })
}

/// The validators to send with a direct URL, and the release they describe: the failed
/// release's while it waits (a 304 then means "still that one"), else the applied release's.
/// None for a pointer, and for a failed release that is due: its bytes are needed.
fn asked(
    state: &StateDir,
    designated: &Designated,
    current: Option<&str>,
    memory: &Memory,
) -> Option<(String, Validators)> {
    if designated.pointed_sha256.is_some() {
        return None;
    }
    match &memory.failed {
        Some(failed) if memory.waiting(&failed.sha256).is_some() => {
            Some((failed.sha256.clone(), failed.validators.clone()?))
        }
        Some(_) => None,
        None => {
            let sha = current?;
            let record = state.releases_read_only().record(sha)?;
            let known = source::known_validators(&designated.url, &record)?;
            Some((sha.to_string(), known))
        }
    }
}

/// The run of a release that is here: passphrase, signature, verify, unpack, init, start, hooks.
fn apply(
    opts: &BootOptions,
    state: &StateDir,
    lock: &StateLock,
    source: Source,
    started: Instant,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let mut record = super::super::begin(opts, state, lock, RunKind::Run)?;
    let mut result = (|| {
        let pass =
            secret::read_passphrase_with(opts.pass.as_ref(), Prompt::Never, &opts.fetch, log)?;
        record.stage(Stage::Fetch)?;
        super::super::apply(opts, state, Some(&mut record), &pass, source, log)
    })();
    super::super::finish(opts, state, &mut record, &result, log);
    if let Ok(report) = &mut result {
        report.duration = started.elapsed();
    }
    result
}

/// Says loudly when the signature of the applied release has expired: at every poll, also one
/// that finds nothing new (a mirror that stopped updating is not "unchanged").
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
