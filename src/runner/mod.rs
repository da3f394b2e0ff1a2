//! Runs a bundle's modules on the instance (DESIGN.md, "Modules and run order"): every due `init`
//! first, then every `start`, in run order; the first failure stops the run, loudly. So does a TERM
//! or INT ([`Interrupt`]): passed on to the running script's process group, then the run ends as
//! interrupted.
//!
//! Given a ready list of modules, already unpacked and ordered, an opened state folder and the
//! run's record. It knows nothing of encryption, fetching, archives or module discovery, and never
//! reads a passphrase: it only keeps them out of the scripts' environment. Where things live in the
//! state folder is [`crate::state`]'s business.

pub mod announce;
mod error;
mod hooks;
mod interrupt;
mod output;
mod script;
mod timeout;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use error::{Ended, Interruption, ModuleFailure, RunError, ScriptOutcome};
pub use hooks::{Outcome, run_hook};
pub use interrupt::{Interrupt, StopSignal};
pub use output::{MAX_LINE, TAIL_LINES};
pub use script::ALWAYS_STRIPPED;

pub use crate::state::Phase;
use crate::state::{RunRecord, StateDir, Step, StepState};

use script::{Job, JobError};

/// `--module-timeout`'s default: a module that takes longer than this is stuck.
pub const DEFAULT_MODULE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Time between SIGTERM and SIGKILL for a script past its timeout.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
/// Default timeout of the after-run hook.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// One module, unpacked and ready to run.
#[derive(Debug, Clone)]
pub struct ModuleToRun {
    /// Its name (folder name): output prefix, `BUNDLE_MODULE`, init record and log names.
    pub name: String,
    /// Its folder: the scripts' working directory.
    pub dir: PathBuf,
    /// The start script: absolute, under `dir` (`dir/start`), or relative to `dir` (`start`).
    pub start: PathBuf,
    /// The init script, if any; the same forms as `start`.
    pub init: Option<PathBuf>,
    /// The module's content digest: its init runs again when this changes.
    pub digest: String,
    /// The module's own default settings (its `module.toml`'s `[env]`): set first, so the
    /// bundle's settings and `--env` win over them.
    pub env: Vec<(String, String)>,
}

/// What to run: the bundle's facts (for the environment) and its modules in run order.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// `BUNDLE_NAME`.
    pub bundle_name: String,
    /// `BUNDLE_VERSION`.
    pub bundle_version: String,
    /// The unpacked folder holding the module folders: `BUNDLE_ROOT`.
    pub root: PathBuf,
    /// The modules, in run order.
    pub modules: Vec<ModuleToRun>,
    /// The bundle's settings for every module (`bundle.toml`'s `[env]`): over each module's own,
    /// under `--env`.
    pub env: Vec<(String, String)>,
    /// `BUNDLE_INSTANCE_ID`, when known.
    pub instance_id: Option<String>,
}

/// How to run: the scripts' environment and timeouts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Extra variables for every script (`--env K=V`), set in order.
    pub env: Vec<(String, String)>,
    /// Variables removed from the scripts' environment: the passphrase's (`--pass env:VAR`).
    /// [`ALWAYS_STRIPPED`] is removed whatever this says.
    pub strip_env: Vec<String>,
    /// The environment scripts start from; `None` inherits ours. Stripping still applies.
    pub base_env: Option<Vec<(OsString, OsString)>>,
    /// `--module-timeout`: per script.
    pub module_timeout: Duration,
    /// Time between SIGTERM (or the interrupting signal) and SIGKILL once a script is past its
    /// timeout (or the run is interrupted).
    pub kill_grace: Duration,
    /// Timeout of the after-run hook ([`run_hook`]).
    pub hook_timeout: Duration,
    /// Raised by TERM or INT: the run stops (see [`Interrupt`]). The default is never raised.
    pub interrupt: Interrupt,
}

impl Default for RunOptions {
    /// 30 min per script, 10 s grace, inherit the environment, 5 min for the hook.
    fn default() -> Self {
        RunOptions {
            env: Vec::new(),
            strip_env: Vec::new(),
            base_env: None,
            module_timeout: DEFAULT_MODULE_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            interrupt: Interrupt::new(),
        }
    }
}

/// What a successful run did.
#[derive(Debug)]
pub struct RunReport {
    /// The run's id, `YYYYMMDDTHHMMSSZ-<pid>`.
    pub run_id: String,
    /// The folder of its logs.
    pub log_dir: PathBuf,
    /// Modules whose init ran, in order.
    pub inits_run: Vec<String>,
    /// Modules whose start ran, in order.
    pub starts_run: Vec<String>,
    /// How long the scripts took.
    pub duration: Duration,
}

/// Runs every due init, then every start, echoing each output line to `echo` (prefixed
/// `[module] `), saying through `log` when each script begins and how it ended (exit status,
/// time), and recording every step in `record`. The caller holds the lock and finishes the
/// record; on failure the failed step is recorded here. When `opts.interrupt` is raised, the running
/// script gets the signal (its step is recorded as failed, with how it ended) and the run ends with
/// [`RunError::Interrupted`]; a script that had already succeeded stands, and no later one starts.
pub fn run(
    spec: &RunSpec,
    state: &StateDir,
    record: &mut RunRecord,
    opts: &RunOptions,
    echo: &mut dyn Write,
    log: &mut dyn FnMut(&str),
) -> Result<RunReport, RunError> {
    let clock = Instant::now();
    let inits = state.init_records();
    // The plan: (module, phase, index of its row in the status) for every script that will run.
    let mut plan = Vec::new();
    let mut steps = Vec::new();
    for (i, m) in spec.modules.iter().enumerate() {
        if m.init.is_some() {
            let due = !inits.done(&m.name, &m.digest);
            if due {
                plan.push((i, Phase::Init, steps.len()));
            }
            let status = if due {
                StepState::Pending
            } else {
                StepState::Skipped
            };
            steps.push(new_step(&m.name, Phase::Init, status));
        }
    }
    for (i, m) in spec.modules.iter().enumerate() {
        plan.push((i, Phase::Start, steps.len()));
        steps.push(new_step(&m.name, Phase::Start, StepState::Pending));
    }
    record.status_mut().steps = steps;
    record.save()?;

    let mut report = RunReport {
        run_id: record.run_id().to_string(),
        log_dir: record.log_dir().to_path_buf(),
        inits_run: Vec::new(),
        starts_run: Vec::new(),
        duration: Duration::ZERO,
    };
    let steps = plan.len();
    for (n, (i, phase, row)) in plan.into_iter().enumerate() {
        let module = &spec.modules[i];
        if let Some(signal) = opts.interrupt.raised() {
            return Err(interrupted(signal, module, phase, None));
        }
        record.status_mut().steps[row].status = StepState::Running;
        record.save()?;
        log(&announce::begin(&module.name, phase, n + 1, steps));
        let ran = run_one(spec, state, record.log_dir(), opts, module, phase, echo);
        let step = &mut record.status_mut().steps[row];
        let (finished, log_file) = match ran {
            Ok(done) => {
                log(&announce::end(
                    &module.name,
                    phase,
                    done.0.outcome,
                    done.0.duration,
                ));
                done
            }
            Err(err) => {
                log(&announce::not_started(&module.name, phase));
                step.status = StepState::Failed;
                return Err(err);
            }
        };
        step.exit_code = finished.outcome.code();
        step.signal = finished.outcome.signal();
        step.timed_out = matches!(finished.outcome, ScriptOutcome::TimedOut { .. });
        step.duration_secs = Some(finished.duration.as_secs_f64());
        step.log = Some(log_file.clone());
        if let Some(signal) = finished.interrupted {
            step.status = StepState::Failed;
            let ended = Ended {
                outcome: finished.outcome,
                duration: finished.duration,
                tail: finished.tail,
                log: log_file,
            };
            return Err(interrupted(signal, module, phase, Some(ended)));
        }
        if !finished.outcome.success() {
            step.status = StepState::Failed;
            return Err(RunError::ModuleFailed(Box::new(ModuleFailure {
                module: module.name.clone(),
                phase,
                script: script_path(module, phase),
                ended: Ended {
                    outcome: finished.outcome,
                    duration: finished.duration,
                    tail: finished.tail,
                    log: log_file,
                },
            })));
        }
        if phase == Phase::Init {
            // Recorded only now that it succeeded, so a failed init runs again next time.
            if let Err(err) = inits.record(&module.name, &module.digest, record.run_id()) {
                record.status_mut().steps[row].status = StepState::Failed;
                return Err(err.into());
            }
            report.inits_run.push(module.name.clone());
        } else {
            report.starts_run.push(module.name.clone());
        }
        record.status_mut().steps[row].status = StepState::Ok;
        record.save()?;
    }
    report.duration = clock.elapsed();
    Ok(report)
}

/// The modules whose init is due (no record for their name and digest), in run order: for dry runs.
pub fn due_inits(spec: &RunSpec, state: &StateDir) -> Vec<String> {
    let inits = state.init_records();
    spec.modules
        .iter()
        .filter(|m| m.init.is_some() && !inits.done(&m.name, &m.digest))
        .map(|m| m.name.clone())
        .collect()
}

fn interrupted(
    signal: StopSignal,
    module: &ModuleToRun,
    phase: Phase,
    ended: Option<Ended>,
) -> RunError {
    RunError::Interrupted(Box::new(Interruption {
        signal,
        module: module.name.clone(),
        phase,
        ended,
    }))
}

fn new_step(module: &str, phase: Phase, status: StepState) -> Step {
    Step {
        module: module.to_string(),
        phase,
        status,
        exit_code: None,
        signal: None,
        timed_out: false,
        duration_secs: None,
        log: None,
    }
}

/// The absolute path of a module's script for `phase`: as given when absolute or already under the
/// module's folder (`dir/start`), else taken from that folder (`start`).
fn script_path(module: &ModuleToRun, phase: Phase) -> PathBuf {
    let script = match (phase, &module.init) {
        (Phase::Init, Some(init)) => init,
        _ => &module.start,
    };
    if script.starts_with(&module.dir) {
        absolute(script)
    } else {
        absolute(&module.dir.join(script))
    }
}

/// Runs one script of `module`; gives back how it ended and its log file.
fn run_one(
    spec: &RunSpec,
    state: &StateDir,
    log_dir: &Path,
    opts: &RunOptions,
    module: &ModuleToRun,
    phase: Phase,
    echo: &mut dyn Write,
) -> Result<(script::Finished, PathBuf), RunError> {
    let script = script_path(module, phase);
    let not_started = |source| RunError::NotStarted {
        module: module.name.clone(),
        phase,
        script: script.clone(),
        source,
    };
    let module_state = state.module_dir(&module.name)?;
    let mut command = script::script_command(&script).map_err(not_started)?;
    // Settings from the weakest to the strongest: the module's defaults, the bundle's, `--env`.
    let mut extra = module.env.clone();
    extra.extend(spec.env.iter().cloned());
    extra.extend(opts.env.iter().cloned());
    // Ours come last so that `--env` cannot make a script lie about where it runs.
    let root = absolute(&spec.root);
    extra.extend([
        ("BUNDLE_MODULE".into(), module.name.clone()),
        ("BUNDLE_ROOT".into(), root.to_string_lossy().into_owned()),
        ("BUNDLE_PHASE".into(), phase.to_string()),
        ("BUNDLE_NAME".into(), spec.bundle_name.clone()),
        ("BUNDLE_VERSION".into(), spec.bundle_version.clone()),
        (
            "BUNDLE_INSTANCE_ID".into(),
            spec.instance_id.clone().unwrap_or_default(),
        ),
        (
            "BUNDLE_STATE_DIR".into(),
            state.path().to_string_lossy().into_owned(),
        ),
        (
            "BUNDLE_MODULE_STATE_DIR".into(),
            module_state.to_string_lossy().into_owned(),
        ),
    ]);
    script::set_env(
        &mut command,
        opts.base_env.as_deref(),
        &opts.strip_env,
        &extra,
    );
    command.current_dir(absolute(&module.dir));
    let log = log_dir.join(format!("{}.{phase}.log", file_safe(&module.name)));
    let job = Job {
        label: &module.name,
        command,
        log: &log,
        timeout: opts.module_timeout,
        grace: opts.kill_grace,
        interrupt: Some(&opts.interrupt),
    };
    match script::execute(job, echo) {
        Ok(finished) => Ok((finished, log)),
        Err(JobError::Log(e)) => Err(RunError::io("create", log)(e)),
        Err(JobError::Spawn(e)) => Err(not_started(e)),
    }
}

/// `name` as one file name: anything but ASCII letters, digits and `-_.+` becomes `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `path` made absolute against our working directory (as is when that cannot be read).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
