//! Runs a bundle's modules on the instance and keeps the state dir (DESIGN.md, "Modules and run
//! order" and "bundle-bootstrap"): every due `init` first, then every `start`, in run order; the first
//! failure stops the run, loudly.
//!
//! Given a ready list of modules, already unpacked and ordered. It knows nothing of encryption,
//! fetching, archives or module discovery, and never reads a passphrase: it only keeps them out of
//! the scripts' environment.
//!
//! State dir layout: `lock` (one run at a time), `status.json` (the last run), `init/` (one record
//! per module and content digest whose init succeeded), `logs/<run-id>/<module>.<phase>.log`.

// `RunError::ModuleFailed` carries everything the operator reads (paths, outcome, last lines), so it
// is large; it is returned at most once per run, where its size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

mod error;
mod hooks;
mod lock;
mod output;
mod script;
mod state;
mod status;
mod timeout;

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub use error::{RunError, ScriptOutcome};
pub use hooks::{Outcome, run_hook, run_hook_to};
pub use lock::{LOCK_FILE, StateLock, lock};
pub use output::{MAX_LINE, TAIL_LINES};
pub use script::ALWAYS_STRIPPED;
pub use status::{
    BundleInfo, RunResult, STATUS_FILE, Status, Step, StepState, read_status, render_status,
};

use script::{Job, JobError};

/// `--module-timeout`'s default: a module that takes longer than this is stuck.
pub const DEFAULT_MODULE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Time between SIGTERM and SIGKILL for a script past its timeout.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
/// Default timeout of the after-run hook.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The variable that holds the passphrase by default; never passed to a script.
pub const PASSPHRASE_VAR: &str = "BUNDLE_PASSPHRASE";

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
}

/// What to run: the bundle's facts (for the environment and the status file) and its modules in
/// run order.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// `BUNDLE_NAME`.
    pub bundle_name: String,
    /// `BUNDLE_VERSION`.
    pub bundle_version: String,
    /// SHA-256 of the bundle file, hex (recorded in the status file).
    pub bundle_sha256: String,
    /// Where the bundle came from (recorded in the status file).
    pub source: String,
    /// The unpacked folder holding the module folders: `BUNDLE_ROOT`.
    pub root: PathBuf,
    /// The modules, in run order.
    pub modules: Vec<ModuleToRun>,
}

/// Whether scripts' output is echoed to our stdout (it always goes to the log files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Echo each line, prefixed `[module] `.
    Stdout,
    /// Only the log files.
    Quiet,
}

/// How to run: the state dir, the scripts' environment, timeouts.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The state dir (init records, logs, status).
    pub state_dir: PathBuf,
    /// Extra variables for every script (`--env K=V`), set in order.
    pub env: Vec<(String, String)>,
    /// Variables removed from the scripts' environment: the passphrase's (`--pass env:VAR`).
    /// [`ALWAYS_STRIPPED`] is removed whatever this says.
    pub strip_env: Vec<String>,
    /// The environment scripts start from; `None` inherits ours. Stripping still applies.
    pub base_env: Option<Vec<(OsString, OsString)>>,
    /// `--module-timeout`: per script.
    pub module_timeout: Duration,
    /// Time between SIGTERM and SIGKILL once a script is past its timeout.
    pub kill_grace: Duration,
    /// Timeout of the after-run hook ([`run_hook`]).
    pub hook_timeout: Duration,
    /// Whether output is echoed to stdout.
    pub echo: Echo,
}

impl RunOptions {
    /// Defaults: 30 min per script, 10 s grace, echo to stdout, strip `BUNDLE_PASSPHRASE`, inherit the
    /// environment, 5 min for the hook.
    pub fn new(state_dir: PathBuf) -> Self {
        RunOptions {
            state_dir,
            env: Vec::new(),
            strip_env: vec![PASSPHRASE_VAR.to_string()],
            base_env: None,
            module_timeout: DEFAULT_MODULE_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            echo: Echo::Stdout,
        }
    }
}

/// Which of a module's scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Once per module and content digest on a machine.
    Init,
    /// Every time the bundle is applied.
    Start,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Init => "init",
            Phase::Start => "start",
        })
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
    /// How long the whole run took.
    pub duration: Duration,
}

/// Runs every due init, then every start, echoing output as `opts.echo` says. Does not take the
/// lock: hold [`lock`] around it.
pub fn run(spec: &RunSpec, opts: &RunOptions) -> Result<RunReport, RunError> {
    match opts.echo {
        Echo::Stdout => run_to(spec, opts, &mut std::io::stdout()),
        Echo::Quiet => run_to(spec, opts, &mut std::io::sink()),
    }
}

/// [`run`], echoing output to `echo` whatever `opts.echo` says.
pub fn run_to(
    spec: &RunSpec,
    opts: &RunOptions,
    echo: &mut dyn Write,
) -> Result<RunReport, RunError> {
    let clock = Instant::now();
    let state_dir = absolute(&opts.state_dir);
    state::prepare(&state_dir)?;
    let (run_id, log_dir) = state::new_run(&state_dir, SystemTime::now())?;

    // The plan: (module, phase, index of its row in the status) for every script that will run.
    let mut plan = Vec::new();
    let mut steps = Vec::new();
    for (i, m) in spec.modules.iter().enumerate() {
        if m.init.is_some() {
            let due = !state::init_done(&state_dir, &m.name, &m.digest);
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
    let mut status = Status {
        format: status::STATUS_FORMAT,
        run_id: run_id.clone(),
        pid: std::process::id(),
        started: state::rfc3339(SystemTime::now()),
        finished: None,
        result: RunResult::Running,
        bundle: BundleInfo {
            name: spec.bundle_name.clone(),
            version: spec.bundle_version.clone(),
            sha256: spec.bundle_sha256.clone(),
            source: spec.source.clone(),
        },
        log_dir: log_dir.clone(),
        steps,
        failure: None,
    };
    status::write_status(&state_dir, &status)?;

    let mut report = RunReport {
        run_id,
        log_dir,
        inits_run: Vec::new(),
        starts_run: Vec::new(),
        duration: Duration::ZERO,
    };
    for (i, phase, row) in plan {
        let module = &spec.modules[i];
        status.steps[row].status = StepState::Running;
        status::write_status(&state_dir, &status)?;
        let ran = run_one(spec, opts, &state_dir, &report, module, phase, echo);
        let step = &mut status.steps[row];
        match ran {
            Ok((finished, log)) => {
                step.exit_code = finished.outcome.code();
                step.signal = finished.outcome.signal();
                step.timed_out = matches!(finished.outcome, ScriptOutcome::TimedOut { .. });
                step.duration_secs = Some(finished.duration.as_secs_f64());
                step.log = Some(log.clone());
                if !finished.outcome.success() {
                    step.status = StepState::Failed;
                    let err = RunError::ModuleFailed {
                        module: module.name.clone(),
                        phase,
                        script: script_path(module, phase),
                        outcome: finished.outcome,
                        duration: finished.duration,
                        tail: finished.tail,
                        log,
                    };
                    return Err(fail(&state_dir, &mut status, err));
                }
                if phase == Phase::Init {
                    // Recorded only now that it succeeded, so a failed init runs again next time.
                    if let Err(err) =
                        state::record_init(&state_dir, &module.name, &module.digest, &report.run_id)
                    {
                        step.status = StepState::Failed;
                        return Err(fail(&state_dir, &mut status, err));
                    }
                    report.inits_run.push(module.name.clone());
                } else {
                    report.starts_run.push(module.name.clone());
                }
                step.status = StepState::Ok;
                status::write_status(&state_dir, &status)?;
            }
            Err(err) => {
                step.status = StepState::Failed;
                return Err(fail(&state_dir, &mut status, err));
            }
        }
    }
    status.result = RunResult::Ok;
    status.finished = Some(state::rfc3339(SystemTime::now()));
    status::write_status(&state_dir, &status)?;
    report.duration = clock.elapsed();
    Ok(report)
}

/// The modules whose init is due (no record for their name and digest), in run order: for dry runs.
pub fn due_inits(spec: &RunSpec, state_dir: &Path) -> Vec<String> {
    spec.modules
        .iter()
        .filter(|m| m.init.is_some() && !state::init_done(state_dir, &m.name, &m.digest))
        .map(|m| m.name.clone())
        .collect()
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

/// Marks the run failed in the status file and hands back `err`. A status write that fails here is
/// not reported: the module's failure is what the operator needs to see.
fn fail(state_dir: &Path, status: &mut Status, err: RunError) -> RunError {
    status.result = RunResult::Failed;
    status.finished = Some(state::rfc3339(SystemTime::now()));
    status.failure = Some(err.to_string());
    let _ = status::write_status(state_dir, status);
    err
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
    opts: &RunOptions,
    state_dir: &Path,
    report: &RunReport,
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
    let mut command = script::script_command(&script).map_err(not_started)?;
    // The module's own state, apart from the tool's (`init/`, `logs/`, ...): private, kept.
    let module_state = state_dir
        .join(state::MODULES_DIR)
        .join(state::file_safe(&module.name));
    let mut private = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(private.recursive(true), state::MODULE_STATE_MODE);
    private
        .create(&module_state)
        .map_err(RunError::io("create", &module_state))?;
    let mut extra = opts.env.clone();
    // Ours come last so that `--env` cannot make a script lie about where it runs.
    let root = absolute(&spec.root);
    extra.extend([
        ("BUNDLE_MODULE".into(), module.name.clone()),
        ("BUNDLE_ROOT".into(), root.to_string_lossy().into_owned()),
        ("BUNDLE_PHASE".into(), phase.to_string()),
        ("BUNDLE_NAME".into(), spec.bundle_name.clone()),
        ("BUNDLE_VERSION".into(), spec.bundle_version.clone()),
        (
            "BUNDLE_STATE_DIR".into(),
            state_dir.to_string_lossy().into_owned(),
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
    let log = report
        .log_dir
        .join(format!("{}.{phase}.log", state::file_safe(&module.name)));
    let job = Job {
        label: &module.name,
        command,
        log: &log,
        timeout: opts.module_timeout,
        grace: opts.kill_grace,
    };
    match script::execute(job, echo) {
        Ok(finished) => Ok((finished, log)),
        Err(JobError::Log(e)) => Err(RunError::io("create", log)(e)),
        Err(JobError::Spawn(e)) => Err(not_started(e)),
    }
}

/// `path` made absolute against our working directory (as is when that cannot be read).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
