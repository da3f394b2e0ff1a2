//! `bundle-bootstrap watch`: poll the bundle's URL and apply it again when it changes — cfn-hup's
//! job (seed 003), for bundles.
//!
//! Each poll learns which bytes the URL designates now (a release pointer's signed sha256, or the
//! sha256 of the file itself) and compares them with `STATE/current`, the release of the last
//! successful run. Unchanged: nothing runs. Changed, or the last run failed: a full `run` (fetch,
//! verify, decrypt, unpack, init where due, every start, hooks). A failed poll or run is logged and
//! the watch goes on (also when another run holds the state folder); only a configuration mistake
//! (exit 1) stops it.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::bootstrap::{self, BootError, BootOptions, Mode};
use crate::exit::{Classify, Exit};
use crate::fetch;
use crate::publish;
use crate::runner::RunError;
use crate::scratch::ScratchDir;

/// How often and how long to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Time between two polls.
    pub interval: Duration,
    /// Stop after this many polls (None: never).
    pub polls: Option<u64>,
}

/// Polls and re-applies until `polls` runs out; returns the first configuration error, if any.
pub fn watch(
    opts: &BootOptions,
    every: &WatchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(), BootError> {
    let mut done = 0u64;
    loop {
        match probe(opts, log) {
            Ok(sha) if applied(&opts.state_dir).as_deref() == Some(sha.as_str()) => {
                log(&format!(
                    "unchanged: {} is still the applied release {}",
                    fetch::redact(&opts.url),
                    crate::hashing::short(&sha)
                ));
            }
            Ok(sha) => {
                log(&format!(
                    "{} now designates {}: applying it",
                    fetch::redact(&opts.url),
                    crate::hashing::short(&sha)
                ));
                let result = bootstrap::boot(opts, log);
                log(&bootstrap::summary(&result, Mode::Run));
                if let Err(e) = result
                    && e.exit() == Exit::Usage
                    && !matches!(&e, BootError::Run(r) if matches!(**r, RunError::Locked { .. }))
                {
                    return Err(e);
                }
            }
            Err(e) if e.exit() == Exit::Usage => return Err(e),
            Err(e) => log(&format!(
                "poll failed: {e}; trying again in {}",
                crate::duration::human(every.interval)
            )),
        }
        done += 1;
        if every.polls.is_some_and(|n| done >= n) {
            return Ok(());
        }
        std::thread::sleep(every.interval);
    }
}

/// The sha256 of what the URL designates now.
fn probe(opts: &BootOptions, log: &mut dyn FnMut(&str)) -> Result<String, BootError> {
    let scratch = ScratchDir::create("bundle-watch-").map_err(|source| BootError::State {
        path: std::env::temp_dir(),
        source,
    })?;
    if publish::is_pointer(&opts.url) {
        let text = bootstrap::fetch_small_text(&opts.url, opts, scratch.path(), log)?;
        // Not trusted here: the run that follows verifies it against the release's bytes.
        let facts =
            publish::trusted_facts(&text).map_err(|e| crate::sign::VerifyError::Malformed {
                origin: fetch::redact(&opts.url),
                reason: e.to_string(),
            })?;
        return Ok(facts.sha256);
    }
    let fetched = fetch::fetch(&opts.url, scratch.path(), &opts.fetch, log)?;
    Ok(fetched.sha256_hex())
}

/// The sha256 of the release `STATE/current` points at: the last successful run's.
fn applied(state: &Path) -> Option<String> {
    let target = fs::read_link(state.join("current")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}
