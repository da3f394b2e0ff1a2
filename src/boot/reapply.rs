//! Applying a release already on this machine, without fetching it: `rerun` (the current one),
//! `rollback` (an earlier one kept on disk) and the offline fallback of a boot whose fetch failed
//! for good. Only a release this machine verified and unpacked (its record says so) is applied,
//! and only while its folder still matches that record.
//!
//! The rollback floor is never lowered by these local choices: a rollback re-applies old bytes
//! that were accepted when they were fetched; it does not make the machine accept older ones.

use std::time::Instant;

use crate::date;
use crate::fetch;
use crate::sign::ExpiryPolicy;
use crate::state::{ReleaseRecord, Releases, RunKind, RunRecord, StateDir};

use super::error::BootError;
use super::options::BootOptions;
use super::release;
use super::report::{BootReport, first_line};

/// Which kept release to apply again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reapply {
    /// `current`: the last release applied successfully (`rerun`).
    Current,
    /// An earlier one (`rollback`): by sha256 prefix or signed seq, else the one applied before
    /// `current`.
    Rollback {
        /// `--to SHA|SEQ`.
        to: Option<String>,
    },
}

/// `rerun` and `rollback`: applies a kept release under the lock, recorded as such, hooks and all.
pub fn reapply(
    opts: &BootOptions,
    which: &Reapply,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let started = Instant::now();
    let state = StateDir::open(&opts.state_dir)?;
    let lock = state.lock(opts.lock_wait, log)?;
    let kind = match which {
        Reapply::Current => RunKind::Rerun,
        Reapply::Rollback { .. } => RunKind::Rollback,
    };
    let mut record = super::begin(opts, &state, &lock, kind)?;
    let mut result = (|| {
        let releases = state.releases()?;
        let sha = pick(&releases, which)?;
        let opened = release::reopen(&releases, &sha)?;
        log(&format!(
            "{} {} {} (sha256 {}), verified here at {}",
            match which {
                Reapply::Current => "re-applying the current release",
                Reapply::Rollback { .. } => "rolling back to",
            },
            opened.record.name,
            opened.record.version,
            crate::hashing::short(&sha),
            opened.record.verified_at
        ));
        super::run_release(opts, &state, Some(&mut record), &releases, opened, log)
    })();
    super::finish(opts, &state, &mut record, &result, log);
    if let Ok(report) = &mut result {
        report.duration = started.elapsed();
    }
    drop(lock);
    result
}

/// The release a boot falls back to when its fetch failed for good: `current`, when this machine
/// applied one and (unless `--allow-expired`) its signature has not expired since.
pub(super) fn fallback(opts: &BootOptions, releases: &Releases) -> Option<ReleaseRecord> {
    let record = releases.record(&releases.current()?)?;
    let expired = record
        .signed
        .as_ref()
        .and_then(|s| s.expires)
        .is_some_and(|t| t <= date::now_unix());
    (!expired || opts.signature.expiry == ExpiryPolicy::AllowExpired).then_some(record)
}

/// The offline fallback: the fetch failed for good (`failure`), so `current` is applied again,
/// loudly, and recorded as an offline re-apply. Configured but possibly stale beats unconfigured.
pub(super) fn offline(
    opts: &BootOptions,
    state: &StateDir,
    record: &mut RunRecord,
    failure: BootError,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let releases = state.releases()?;
    let Some(kept) = fallback(opts, &releases) else {
        return Err(failure);
    };
    let seq = kept
        .signed
        .as_ref()
        .map_or_else(String::new, |s| format!(" seq {}", s.seq));
    let note = format!(
        "OFFLINE: {} could not be fetched ({}); re-applying the last release verified here: {} {}{seq} (sha256 {}), verified at {}",
        fetch::redact(&opts.url),
        first_line(&failure),
        kept.name,
        kept.version,
        crate::hashing::short(&kept.sha256),
        kept.verified_at
    );
    log(&note);
    let status = record.status_mut();
    status.kind = RunKind::Offline;
    status.notes.push(note);
    let opened = release::reopen(&releases, &kept.sha256)?;
    super::run_release(opts, state, Some(record), &releases, opened, log)
}

/// The sha256 of the release `which` names.
fn pick(releases: &Releases, which: &Reapply) -> Result<String, BootError> {
    let current = releases.current();
    let kept = releases.list();
    let listing = || {
        let lines: Vec<String> = kept
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}{}{}",
                    crate::hashing::short(&r.sha256),
                    r.name,
                    r.version,
                    r.signed
                        .as_ref()
                        .map_or_else(String::new, |s| format!(" seq {}", s.seq)),
                    if current.as_deref() == Some(r.sha256.as_str()) {
                        " (current)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        if lines.is_empty() {
            "none".to_string()
        } else {
            lines.join("; ")
        }
    };
    match which {
        Reapply::Current => current.clone().ok_or_else(|| BootError::NotKept {
            what: "a current release: nothing was applied successfully here yet".into(),
            kept: listing(),
        }),
        Reapply::Rollback { to: None } => {
            let mut earlier: Vec<&ReleaseRecord> = kept
                .iter()
                .filter(|r| current.as_deref() != Some(r.sha256.as_str()) && r.applied_at.is_some())
                .collect();
            earlier.sort_by(|a, b| b.applied_at.cmp(&a.applied_at));
            earlier
                .first()
                .map(|r| r.sha256.clone())
                .ok_or_else(|| BootError::NotKept {
                    what: "an earlier release applied here".into(),
                    kept: listing(),
                })
        }
        Reapply::Rollback { to: Some(to) } => {
            let by_seq = to.bytes().all(|b| b.is_ascii_digit()) && to.len() < 20;
            let found: Vec<&ReleaseRecord> = kept
                .iter()
                .filter(|r| {
                    if by_seq {
                        r.signed.as_ref().is_some_and(|s| s.seq.to_string() == *to)
                    } else {
                        to.len() >= 6 && r.sha256.starts_with(&to.to_ascii_lowercase())
                    }
                })
                .collect();
            match found.as_slice() {
                [one] => Ok(one.sha256.clone()),
                [] => Err(BootError::NotKept {
                    what: format!("a release {to} (a sha256 prefix of 6+ digits, or a signed seq)"),
                    kept: listing(),
                }),
                _ => Err(BootError::NotKept {
                    what: format!("exactly one release {to}: it names several"),
                    kept: listing(),
                }),
            }
        }
    }
}
