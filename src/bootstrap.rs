//! What an instance does at boot: lock → fetch → verify → decrypt → unpack → plan → run → hooks.
//!
//! The only place that knows the order of those stages. Each stage is another part's job; this file
//! wires them, keeps the release folders (`STATE/releases/<sha256>/`, `STATE/current`), and turns every
//! failure into one error that says which stage failed and what to do.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::archive::{ArchiveError, Limits};
use crate::enc::Params;
use crate::exit::{Classify, Exit};
use crate::fetch::{self, FetchError, FetchOptions};
use crate::open::{self, OpenError};
use crate::personality::{self, Plan, PlanError};
use crate::runner::{self, ModuleToRun, Outcome, RunError, RunOptions, RunSpec};
use crate::secret::{self, PassSpec, Prompt, SecretError};

/// Where state lives when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/startup-bundle";
/// How many unpacked releases are kept (the current one always among them).
pub const KEEP_RELEASES: usize = 3;
/// Hex digits of the sha256 used as the version of a bundle without a manifest.
const SHORT_SHA: usize = 12;
/// State folders hold decrypted module code: nobody else reads them.
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Whether to run the modules or only show the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetch, verify, decrypt, unpack and run.
    Run,
    /// Everything up to the plan; run nothing.
    DryRun,
}

/// Everything `bundle-bootstrap run` was asked to do.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// Where the bundle is: https, http, file URL or a path.
    pub url: String,
    /// Where the passphrase comes from (`BUNDLE_PASSPHRASE` when absent).
    pub pass: Option<PassSpec>,
    /// How the bundle was encrypted.
    pub params: Params,
    /// The expected sha256 of the bundle file, hex.
    pub sha256: Option<String>,
    /// The state folder.
    pub state_dir: PathBuf,
    /// Download behaviour.
    pub fetch: FetchOptions,
    /// Unpack caps.
    pub limits: Limits,
    /// Extra `KEY=VALUE` pairs for the modules.
    pub env: Vec<(String, String)>,
    /// Time a script may run.
    pub module_timeout: Duration,
    /// Time between TERM and KILL.
    pub kill_grace: Duration,
    /// Time to wait for another run's lock.
    pub lock_wait: Duration,
    /// Run or only plan.
    pub mode: Mode,
    /// Command run after a successful run.
    pub on_success: Option<String>,
    /// Command run after a failed run.
    pub on_failure: Option<String>,
}

/// What a finished boot did.
#[derive(Debug)]
pub struct BootReport {
    /// Bundle name (manifest, else the URL's file name).
    pub name: String,
    /// Bundle version (manifest, else the first hex digits of the sha256).
    pub version: String,
    /// sha256 of the bundle file.
    pub sha256: String,
    /// The plan that was (or, in a dry run, would be) run.
    pub plan: Plan,
    /// Modules whose init is due (dry run) or was run.
    pub inits: Vec<String>,
    /// The run's log folder (None for a dry run).
    pub log_dir: Option<PathBuf>,
    /// Wall time from start to finish.
    pub duration: Duration,
}

/// Why a boot failed, by stage.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The state folder could not be prepared.
    #[error("cannot prepare the state folder {path}")]
    State {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No passphrase.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The downloaded file is not the one pinned with `--sha256`.
    #[error("the bundle from {url} has sha256 {actual}, not the pinned {expected}")]
    Checksum {
        /// The (redacted) URL.
        url: String,
        /// What `--sha256` said.
        expected: String,
        /// What was downloaded.
        actual: String,
    },
    /// Decryption or unpacking failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The unpacked bundle has no runnable plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A module failed, or the lock or state could not be had (boxed: it carries the output tail).
    #[error(transparent)]
    Run(Box<RunError>),
}

impl Classify for BootError {
    fn exit(&self) -> Exit {
        match self {
            BootError::State { .. } => Exit::Usage,
            BootError::Secret(e) => e.exit(),
            BootError::Fetch(e) => e.exit(),
            BootError::Checksum { .. } => Exit::Verify,
            BootError::Open(e) => e.exit(),
            BootError::Plan(e) => e.exit(),
            BootError::Run(e) => e.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            BootError::State { .. } => Some("pass --state-dir DIR on a writable disk (run as root for the default)".into()),
            BootError::Secret(e) => e.hint(),
            BootError::Fetch(e) => e.hint(),
            BootError::Checksum { .. } => Some(
                "the file changed since it was pinned: republish and update --sha256, or check who can write to it"
                    .into(),
            ),
            BootError::Open(e) => e.hint(),
            BootError::Plan(e) => e.hint(),
            BootError::Run(e) => e.hint(),
        }
    }
}

impl BootError {
    /// The module that failed, when a module failed.
    pub fn failed_module(&self) -> Option<&str> {
        match self {
            BootError::Run(e) => e.failed_module(),
            _ => None,
        }
    }
}

/// Boots the bundle: the whole of `bundle-bootstrap run`. Hooks run after, on success or failure.
pub fn boot(opts: &BootOptions, log: &mut dyn FnMut(&str)) -> Result<BootReport, BootError> {
    let run_opts = run_options(opts);
    let result = boot_inner(opts, &run_opts, log);
    if opts.mode == Mode::Run {
        let (hook, outcome, failed) = match &result {
            Ok(_) => (&opts.on_success, Outcome::Success, None),
            Err(e) => (&opts.on_failure, Outcome::Failure, e.failed_module()),
        };
        if let Some(cmd) = hook
            && let Err(e) = runner::run_hook(cmd, outcome, failed, &run_opts)
        {
            log(&format!("hook failed: {e}"));
        }
    }
    result
}

fn run_options(opts: &BootOptions) -> RunOptions {
    let mut run = RunOptions::new(opts.state_dir.clone());
    run.env = opts.env.clone();
    run.strip_env = secret::secret_env_names(opts.pass.as_ref());
    run.module_timeout = opts.module_timeout;
    run.kill_grace = opts.kill_grace;
    run
}

fn boot_inner(
    opts: &BootOptions,
    run_opts: &RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let started = Instant::now();
    let pass = secret::read_passphrase(opts.pass.as_ref(), Prompt::Never)?;
    let state = &opts.state_dir;
    private_dir(state)?;
    let _lock = runner::lock(state, opts.lock_wait, log)?;

    let downloads = state.join("downloads");
    private_dir(&downloads)?;
    let fetched = fetch::fetch(&opts.url, &downloads, &opts.fetch, log)?;
    let download = TempFile(fetched.path.clone());
    let sha256 = fetched.sha256_hex();
    log(&format!(
        "fetched {} ({} bytes, sha256 {sha256})",
        fetch::redact(&opts.url),
        fetched.size
    ));
    if let Some(expected) = &opts.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(BootError::Checksum {
            url: fetch::redact(&opts.url),
            expected: expected.clone(),
            actual: sha256,
        });
    }
    // Signatures (`--pubkey`) are checked here, on the ciphertext, before any byte is decrypted.

    let releases = state.join("releases");
    private_dir(&releases)?;
    let release = releases.join(&sha256);
    let fallback_version = &sha256[..SHORT_SHA];
    let plan = match reuse(&release, &fetched.name, fallback_version, log) {
        Some(plan) => plan,
        None => {
            open::decrypt_unpack(
                &download.0,
                &pass,
                &opts.params,
                &release,
                &opts.limits,
                &|_| {},
            )?;
            personality::plan_unpacked(&release, &fetched.name, fallback_version)?
        }
    };
    drop(pass);
    drop(download);
    touch(&release);

    let spec = RunSpec {
        bundle_name: plan.name.clone(),
        bundle_version: plan.version.clone(),
        bundle_sha256: sha256.clone(),
        source: fetch::redact(&opts.url),
        root: plan.root.clone(),
        modules: plan
            .modules
            .iter()
            .map(|m| ModuleToRun {
                name: m.name.clone(),
                dir: m.dir.clone(),
                start: m.start.clone(),
                init: m.init.clone(),
                digest: m.digest.clone(),
            })
            .collect(),
    };
    let mut report = BootReport {
        name: plan.name.clone(),
        version: plan.version.clone(),
        sha256,
        inits: runner::due_inits(&spec, state),
        plan,
        log_dir: None,
        duration: Duration::ZERO,
    };
    if opts.mode == Mode::DryRun {
        report.duration = started.elapsed();
        return Ok(report);
    }
    let ran = runner::run(&spec, run_opts)?;
    set_current(state, &release)?;
    prune_releases(&releases, &release, log);
    report.inits = ran.inits_run;
    report.log_dir = Some(ran.log_dir);
    report.duration = started.elapsed();
    Ok(report)
}

/// A release unpacked by an earlier run is reused when it still matches its manifest; one that a module
/// changed is unpacked afresh.
fn reuse(release: &Path, name: &str, version: &str, log: &mut dyn FnMut(&str)) -> Option<Plan> {
    if !release.is_dir() {
        return None;
    }
    match personality::plan_unpacked(release, name, version) {
        Ok(plan) => {
            log(&format!(
                "reusing the unpacked release {}",
                release.display()
            ));
            Some(plan)
        }
        Err(e) => {
            log(&format!(
                "the unpacked release {} changed since it was unpacked ({e}); unpacking afresh",
                release.display()
            ));
            let _ = fs::remove_dir_all(release);
            None
        }
    }
}

fn private_dir(path: &Path) -> Result<(), BootError> {
    let state_err = |source| BootError::State {
        path: path.to_path_buf(),
        source,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(path)
        .map_err(state_err)?;
    let meta = fs::metadata(path).map_err(state_err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(PRIVATE_DIR_MODE))
            .map_err(state_err)?;
    }
    Ok(())
}

/// Marks a release as used now, so pruning keeps the most recently used ones.
fn touch(release: &Path) {
    if let Ok(dir) = fs::File::open(release) {
        let _ = dir.set_modified(std::time::SystemTime::now());
    }
}

/// Points `STATE/current` at the release, atomically (a new link renamed over the old one).
fn set_current(state: &Path, release: &Path) -> Result<(), BootError> {
    let current = state.join("current");
    let staged = state.join(format!(".current.{}", std::process::id()));
    let target = Path::new("releases").join(release.file_name().unwrap_or_default());
    let _ = fs::remove_file(&staged);
    std::os::unix::fs::symlink(&target, &staged)
        .and_then(|()| fs::rename(&staged, &current))
        .map_err(|source| BootError::State {
            path: current,
            source,
        })
}

/// Keeps the [`KEEP_RELEASES`] most recently used releases; the current one is never removed.
fn prune_releases(releases: &Path, current: &Path, log: &mut dyn FnMut(&str)) {
    let Ok(entries) = fs::read_dir(releases) else {
        return;
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .filter(|(_, p)| p != current)
        .collect();
    found.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    for (_, old) in found.into_iter().skip(KEEP_RELEASES - 1) {
        match fs::remove_dir_all(&old) {
            Ok(()) => log(&format!("removed the old release {}", old.display())),
            Err(e) => log(&format!(
                "could not remove the old release {}: {e}",
                old.display()
            )),
        }
    }
}

/// A downloaded file removed when the boot is done with it.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl BootReport {
    /// The plan for people: order, and which init scripts are due.
    pub fn plan_text(&self) -> String {
        let mut out = format!(
            "plan for {} {} (sha256 {}):\n",
            self.name, self.version, self.sha256
        );
        for (i, m) in self.plan.modules.iter().enumerate() {
            let init = match (&m.init, self.inits.contains(&m.name)) {
                (Some(_), true) => "init (due) + start",
                (Some(_), false) => "start (init already done)",
                (None, _) => "start",
            };
            out.push_str(&format!("  {}. {}: {init}\n", i + 1, m.name));
        }
        for s in &self.plan.skipped {
            out.push_str(&format!("  skipped: {s} (no start script)\n"));
        }
        out
    }
}

/// The last line a boot prints on stderr (cloud-init copies it to the console).
pub fn summary(result: &Result<BootReport, BootError>, mode: Mode) -> String {
    match (result, mode) {
        (Ok(r), Mode::DryRun) => format!(
            "dry run ok: {} {} (sha256 {}): {} modules planned, {} init due, nothing run",
            r.name,
            r.version,
            &r.sha256[..SHORT_SHA],
            r.plan.modules.len(),
            r.inits.len()
        ),
        (Ok(r), Mode::Run) => format!(
            "ok: {} {} (sha256 {}): {} modules started, {} init run, in {}",
            r.name,
            r.version,
            &r.sha256[..SHORT_SHA],
            r.plan.modules.len(),
            r.inits.len(),
            crate::duration::human(r.duration)
        ),
        (Err(e), _) => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default().to_string();
            format!("FAILED (exit {}): {first}", e.exit().code())
        }
    }
}

/// The default state folder when none is given.
pub fn default_state_dir() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_DIR)
}

impl From<RunError> for BootError {
    fn from(e: RunError) -> Self {
        BootError::Run(Box::new(e))
    }
}

impl From<ArchiveError> for BootError {
    fn from(e: ArchiveError) -> Self {
        BootError::Open(OpenError::Archive(e))
    }
}
