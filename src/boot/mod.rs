//! What an instance does at boot: state → lock → record → passphrase → fetch → verify → unpack →
//! plan → run → current → hooks.
//!
//! The only place that knows the order of those stages; each is another file's or part's job
//! (`source` fetches, `release` verifies and unpacks, the runner runs, the state folder keeps).
//! Until the state folder passed its checks and the lock is held, a failure is only printed: no
//! file is written and no hook runs. From then on every run's outcome, whatever stage it failed at,
//! is in `status.json`, and the hooks run under the lock once it is recorded.
//!
//! A TERM or INT ([`BootOptions::interrupt`]) ends the run at the next stage boundary, or — while
//! scripts run — through the runner, which passes it on to the running script. Either way the run
//! is recorded as interrupted (exit 143 or 130) and the failure hook runs, with
//! `BUNDLE_RESULT=interrupted`: it reports the run whatever ended it.

pub mod config;
mod diff;
mod error;
pub mod instance;
mod options;
mod reapply;
mod release;
mod report;
pub mod source;
pub mod status;
pub mod units;
pub mod watch;

use std::io::Write;
use std::time::{Duration, Instant};

pub use diff::Diff;
pub use error::BootError;
pub use options::{BootOptions, DEFAULT_LOCK_WAIT, Mode, Offline, ParamsGiven, SignaturePolicy};
pub use reapply::{Reapply, reapply};
pub use report::{BootReport, first_line, summary};

use crate::exit::{Classify, Exit};
use crate::fetch;
use crate::runner::{self, ModuleToRun, Outcome, RunSpec};
use crate::secret::{self, Prompt};
use crate::state::{
    BundleInfo, Releases, RunKind, RunRecord, RunResult, Stage, StateDir, StateLock, Status,
};

pub use crate::state::{DEFAULT_STATE_DIR, default_state_dir};

/// Boots the bundle: the whole of `bundle-bootstrap run`.
pub fn boot(opts: &BootOptions, log: &mut dyn FnMut(&str)) -> Result<BootReport, BootError> {
    let started = Instant::now();
    let state = StateDir::open(&opts.state_dir)?;
    let lock = state.lock(opts.lock_wait, log)?;
    boot_locked(opts, &state, lock, started, log)
}

/// What [`boot_once_per_boot`] did.
#[derive(Debug)]
pub enum Booted {
    /// It ran, as [`boot`] does.
    Ran(Box<Result<BootReport, BootError>>),
    /// A run already succeeded in this boot (user-data's, before the boot unit): nothing was done,
    /// and the status is that run's.
    AlreadyApplied(Box<Status>),
}

/// [`boot`], unless a run already succeeded in this boot (`run --once-per-boot`, what the boot
/// unit runs): on an instance launched from an image with the units enabled, user-data applies
/// the bundle first and the unit, ordered after it, must not apply it a second time. Decided
/// under the lock, so a run that is still going is waited for, then seen.
pub fn boot_once_per_boot(opts: &BootOptions, log: &mut dyn FnMut(&str)) -> Booted {
    let started = Instant::now();
    let locked = StateDir::open(&opts.state_dir)
        .and_then(|state| state.lock(opts.lock_wait, log).map(|lock| (state, lock)));
    let (state, lock) = match locked {
        Ok(locked) => locked,
        Err(e) => return Booted::Ran(Box::new(Err(e.into()))),
    };
    match state.read_status() {
        Ok(last) if last.succeeded_in_this_boot() => Booted::AlreadyApplied(Box::new(last)),
        _ => Booted::Ran(Box::new(boot_locked(opts, &state, lock, started, log))),
    }
}

/// [`boot`] once the lock is held.
fn boot_locked(
    opts: &BootOptions,
    state: &StateDir,
    lock: StateLock,
    started: Instant,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let mut result = match opts.mode {
        Mode::DryRun => fetch_and_apply(opts, state, &lock, None, log),
        Mode::Run => {
            let mut record = begin(opts, state, &lock, RunKind::Run)?;
            let result = fetch_and_apply(opts, state, &lock, Some(&mut record), log);
            finish(opts, state, &mut record, &result, log);
            result
        }
    };
    if let Ok(report) = &mut result {
        report.duration = started.elapsed();
    }
    drop(lock);
    result
}

/// Starts the run's record under the lock, with the instance it runs on.
fn begin(
    opts: &BootOptions,
    state: &StateDir,
    lock: &StateLock,
    kind: RunKind,
) -> Result<RunRecord, BootError> {
    let mut record = state.begin_run(lock, kind, fetch::redact(&opts.url))?;
    record.status_mut().instance_id = instance::instance_id(&opts.fetch.s3.imds_endpoint);
    record.save()?;
    Ok(record)
}

/// The passphrase, the fetch, and everything after.
fn fetch_and_apply(
    opts: &BootOptions,
    state: &StateDir,
    lock: &StateLock,
    mut record: Option<&mut RunRecord>,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    set_stage(opts, &mut record, Stage::Fetch)?;
    let downloads = state.downloads(lock)?;
    // With a release to fall back on, a boot gives up fetching after --offline-after.
    let can_fall_back = record.is_some()
        && opts.offline.enabled
        && reapply::fallback(opts, &state.releases_read_only()).is_some();
    let capped;
    let fetching = match opts.offline.after {
        Some(after) if can_fall_back && after < opts.fetch.retry_for => {
            capped = BootOptions {
                fetch: crate::fetch::FetchOptions {
                    retry_for: after,
                    ..opts.fetch.clone()
                },
                ..opts.clone()
            };
            &capped
        }
        _ => opts,
    };
    let fetched = source::designated(fetching, &downloads, log).and_then(|designated| {
        if let Some(said) = &designated.said {
            log(said);
        }
        let source = source::fetch_designated(fetching, designated, &downloads, log)?;
        log(&source.said);
        Ok(source)
    });
    let source = match (fetched, record.as_deref_mut()) {
        (Ok(source), _) => source,
        (Err(e), Some(record)) if can_fall_back && e.exit() == Exit::Fetch => {
            return reapply::offline(opts, state, record, e, log);
        }
        (Err(e), _) => return Err(e),
    };
    // Read only now: an offline boot needs no passphrase (nor the network it may come from).
    let pass = secret::read_passphrase_with(opts.pass.as_ref(), Prompt::Never, &opts.fetch, log)?;
    apply(opts, state, record, &pass, source, log)
}

/// Moves the run to `stage` — unless a TERM or INT has arrived: then it stops here.
fn set_stage(
    opts: &BootOptions,
    record: &mut Option<&mut RunRecord>,
    stage: Stage,
) -> Result<(), BootError> {
    if let Some(signal) = opts.interrupt.raised() {
        return Err(BootError::Interrupted {
            signal,
            before: stage,
        });
    }
    match record {
        Some(r) => Ok(r.stage(stage)?),
        None => Ok(()),
    }
}

/// Every stage once the bytes are here: the signature, verify, unpack, plan, run. `record` is
/// `None` for a dry run, which records nothing in the status.
fn apply(
    opts: &BootOptions,
    state: &StateDir,
    mut record: Option<&mut RunRecord>,
    pass: &secret::Passphrase,
    mut source: source::Source,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    source::attach_signature(opts, &mut source, log)?;

    set_stage(opts, &mut record, Stage::Verify)?;
    let accepted = release::verify(opts, state, &source, log)?;
    if let (Some(r), Some(a)) = (record.as_deref_mut(), &accepted) {
        r.status_mut().notes.extend(a.allowed.iter().cloned());
    }

    set_stage(opts, &mut record, Stage::Unpack)?;
    let releases = state.releases()?;
    let opened = release::open(opts, &releases, &source, pass, accepted.as_ref(), log)?;
    let fetched_as = (source.download.fetched.validators.as_ref())
        .filter(|_| record.is_some())
        .map(|v| source::fetched_as(&source.url, v));
    drop(source);
    // Raised only now that the release decrypted and unpacked: a signed file with wrong
    // parameters cannot lock out every earlier good release.
    if let (Some(_), Some(a)) = (&record, &accepted) {
        let floor = state.floor();
        floor
            .record(&a.facts.name, a.facts.seq)
            .map_err(crate::state::StateError::io(
                "write",
                floor.path(&a.facts.name),
            ))?;
    }
    let report = run_release(opts, state, record, &releases, opened, log)?;
    // Kept with the applied release, so that the next `watch` poll of this URL is a 304.
    if let Some(fetched_as) = fetched_as
        && let Err(e) = releases.remember_fetch(&report.sha256, fetched_as)
    {
        log(&format!("could not keep how the URL answered: {e}"));
    }
    Ok(report)
}

/// The plan and run stages of a release that is on disk and trusted (just unpacked, or re-used
/// from this machine's record), then `current`. `record` is `None` for a dry run, which plans,
/// shows what changed since `current`, and runs nothing.
fn run_release(
    opts: &BootOptions,
    state: &StateDir,
    mut record: Option<&mut RunRecord>,
    releases: &Releases,
    opened: release::Opened,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let sha256 = opened.record.sha256.clone();
    releases.touch(&sha256);
    set_stage(opts, &mut record, Stage::Plan)?;
    let plan = opened.plan;
    let spec = RunSpec {
        bundle_name: plan.name.clone(),
        bundle_version: plan.version.clone(),
        root: plan.root.clone(),
        modules: plan.modules.iter().map(ModuleToRun::from).collect(),
        env: plan.env.clone(),
        instance_id: record
            .as_deref()
            .and_then(|r| r.status().instance_id.clone()),
    };
    let mut report = BootReport {
        name: plan.name.clone(),
        version: plan.version.clone(),
        sha256: sha256.clone(),
        signed: opened.record.signed.clone(),
        inits: runner::due_inits(&spec, state),
        diff: None,
        kind: RunKind::Run,
        plan,
        log_dir: None,
        duration: Duration::ZERO,
    };
    let Some(record) = record else {
        report.diff = diff::against_current(releases, &report.plan, &sha256);
        prune(releases, &sha256, log);
        return Ok(report);
    };
    {
        let status = record.status_mut();
        status.bundle = Some(BundleInfo {
            name: report.name.clone(),
            version: report.version.clone(),
            sha256: sha256.clone(),
            source: String::new(),
        });
        status.signed = report.signed.clone();
        report.kind = status.kind;
    }
    record.stage(Stage::Run)?;
    let ran = runner::run(
        &spec,
        state,
        record,
        &opts.run_options(),
        &mut std::io::stdout(),
        log,
    )?;
    releases.set_current(&sha256)?;
    prune(releases, &sha256, log);
    report.inits = ran.inits_run;
    report.log_dir = Some(record.log_dir().to_path_buf());
    Ok(report)
}

/// Removes old releases (never `current`, never the one just used).
fn prune(releases: &Releases, in_use: &str, log: &mut dyn FnMut(&str)) {
    for sha in releases.prune(&[in_use]) {
        log(&format!(
            "removed the old release {}",
            releases.dir(&sha).display()
        ));
    }
}

/// Records how the run ended, then runs the hook that applies — under the lock, after the status
/// says how it ended, so a hook that reads the status sees this run.
fn finish(
    opts: &BootOptions,
    state: &StateDir,
    record: &mut RunRecord,
    result: &Result<BootReport, BootError>,
    log: &mut dyn FnMut(&str),
) {
    let (hook, outcome, failed) = match result {
        Ok(_) => (&opts.on_success, Outcome::Success, None),
        Err(e) if e.interrupted().is_some() => (&opts.on_failure, Outcome::Interrupted, None),
        Err(e) => (&opts.on_failure, Outcome::Failure, e.failed_module()),
    };
    let saved = match result {
        Ok(_) => record.finish(RunResult::Ok, 0, None),
        Err(e) if e.interrupted().is_some() => {
            record.finish(RunResult::Interrupted, e.exit().code(), Some(e.to_string()))
        }
        Err(e) => record.finish(RunResult::Failed, e.exit().code(), Some(e.to_string())),
    };
    if let Err(e) = saved {
        log(&format!("could not record the run's outcome: {e}"));
    }
    // Every run, failed ones too (a watch retrying a failed release makes one per attempt): the
    // newest `--keep-runs` log folders stay, this run's among them.
    state.logs().prune(opts.keep_runs, record.log_dir());
    if let Some(cmd) = hook {
        log(&runner::announce::hook_begin(outcome));
        let started = Instant::now();
        let ran = runner::run_hook(
            cmd,
            outcome,
            failed,
            state,
            record.log_dir(),
            &opts.run_options(),
            &mut std::io::stdout(),
        );
        log(&runner::announce::hook_end(&ran, started.elapsed()));
        if let Err(e) = ran {
            log(&format!("hook failed: {e}"));
        }
    }
    let _ = std::io::stdout().flush();
}

impl From<&crate::personality::PlannedModule> for ModuleToRun {
    fn from(m: &crate::personality::PlannedModule) -> Self {
        ModuleToRun {
            name: m.name.clone(),
            dir: m.dir.clone(),
            start: m.start.clone(),
            init: m.init.clone(),
            digest: m.digest.clone(),
            env: m.env.clone(),
        }
    }
}
