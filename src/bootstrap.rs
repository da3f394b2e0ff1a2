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
use crate::publish;
use crate::runner::{self, ModuleToRun, Outcome, RunError, RunOptions, RunSpec};
use crate::secret::{self, PassSpec, Prompt, SecretError};
use crate::sign::{self, ExpiryPolicy, SeqStore, TrustedKey, VerifyError};

/// Where state lives when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/startup-bundle";
/// How many unpacked releases are kept (the current one always among them).
pub const KEEP_RELEASES: usize = 3;
/// State folders hold decrypted module code: nobody else reads them.
const PRIVATE_DIR_MODE: u32 = 0o700;
/// A `.minisig` is under 1 KiB; anything much larger is not one.
const MAX_SIGNATURE_SIZE: u64 = 16 * 1024;

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
    /// How the bundle was encrypted (with `--pubkey`, the signed comment says instead).
    pub params: Params,
    /// Signature checks (`--pubkey`, `--allow-downgrade`, `--allow-expired`).
    pub signature: SignaturePolicy,
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

/// What `--pubkey`, `--allow-downgrade` and `--allow-expired` ask for.
#[derive(Debug, Clone, Default)]
pub struct SignaturePolicy {
    /// Keys whose signatures are accepted (repeatable, for rotation); empty: no signature check.
    pub keys: Vec<TrustedKey>,
    /// Whether an older sequence number than the highest applied here is refused.
    pub rollback: Rollback,
    /// Whether an expired signature is refused.
    pub expiry: ExpiryPolicy,
    /// Whether decryption flags were given (a conflict with the signed ones is then logged).
    pub params_given: ParamsGiven,
}

/// Whether a signed bundle older than one already applied may be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rollback {
    /// Refuse it (the default): nobody can serve last month's bundle to this machine.
    #[default]
    Refuse,
    /// Apply it (`--allow-downgrade`); the recorded highest number stays.
    AllowDowngrade,
}

/// Where the decryption flags came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamsGiven {
    /// Nothing was given: the defaults.
    #[default]
    Defaults,
    /// `--cipher`, `--iter`, `--md` or `--legacy-kdf` was given.
    Flags,
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
    /// A release pointer (`NAME.latest`) was given without `--pubkey`: it is only a signature.
    #[error("{url} is a release pointer; it can only be followed with --pubkey")]
    UnsignedPointer {
        /// The (redacted) pointer URL.
        url: String,
    },
    /// The signature names another bundle than the one inside the bytes, or the pointer.
    #[error("the signature is for the bundle {signed:?}, but this is {inside:?}")]
    NameMismatch {
        /// The name the signature vouches for.
        signed: String,
        /// The name the pointer or the manifest gives.
        inside: String,
    },
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
    /// The signature is missing, bad, from an unknown key, or expired.
    #[error(transparent)]
    Signature(#[from] VerifyError),
    /// The signed sequence number is lower than one this machine already applied.
    #[error(
        "refusing {name} seq {seq}: this machine already applied seq {highest} of {name} (an older bundle served again?)"
    )]
    Rollback {
        /// Bundle name (signed).
        name: String,
        /// Its sequence number (signed).
        seq: u64,
        /// The highest applied here.
        highest: u64,
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
            BootError::Checksum { .. } | BootError::Rollback { .. } => Exit::Verify,
            BootError::UnsignedPointer { .. } => Exit::Usage,
            BootError::NameMismatch { .. } => Exit::Verify,
            BootError::Signature(e) => e.exit(),
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
            BootError::NameMismatch { .. } => Some(
                "someone replaced this bundle with another one signed by the same key: check who can write to it"
                    .into(),
            ),
            BootError::UnsignedPointer { .. } => {
                Some("pass --pubkey with the publisher's public key (repeatable during a key rotation)".into())
            }
            BootError::Checksum { .. } => Some(
                "the file changed since it was pinned: republish and update --sha256, or check who can write to it"
                    .into(),
            ),
            BootError::Signature(e) => e.hint(),
            BootError::Rollback { .. } => Some(
                "publish it again signed with a higher --seq, or pass --allow-downgrade to go back on purpose"
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
            // Another run holds the state folder: it is that run's result the hook must report.
            Err(BootError::Run(e)) if matches!(**e, RunError::Locked { .. }) => {
                (&None, Outcome::Failure, None)
            }
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
    let (url, pointer) = resolve_pointer(opts, &downloads, log)?;
    let fetched = fetch::fetch(&url, &downloads, &opts.fetch, log)?;
    let download = TempFile(fetched.path.clone());
    let sha256 = fetched.sha256_hex();
    log(&format!(
        "fetched {} ({} bytes, sha256 {sha256})",
        fetch::redact(&url),
        fetched.size
    ));
    if let Some(expected) = &opts.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(BootError::Checksum {
            url: fetch::redact(&url),
            expected: expected.clone(),
            actual: sha256,
        });
    }
    // Signatures (`--pubkey`) are checked here, on the ciphertext, before any byte is decrypted.
    let (params, signed_name) = check_signature(
        opts,
        &url,
        pointer.as_deref(),
        &download.0,
        &sha256,
        &downloads,
        log,
    )?;

    let releases = state.join("releases");
    private_dir(&releases)?;
    let release = releases.join(&sha256);
    let fallback_version = crate::hashing::short(&sha256);
    let plan = match reuse(&release, &fetched.name, fallback_version, log) {
        Some(plan) => plan,
        None => {
            open::decrypt_unpack(&download.0, &pass, &params, &release, &opts.limits, &|_| {})?;
            personality::plan_unpacked(&release, &fetched.name, fallback_version)?
        }
    };
    drop(pass);
    drop(download);
    // One key may sign several bundles: the bytes must be the personality the signature names, or
    // whoever can write to the bucket could swap `db` in for `web`.
    if let Some(signed) = signed_name
        && plan.from_manifest
        && plan.name != signed
    {
        return Err(BootError::NameMismatch {
            signed,
            inside: plan.name,
        });
    }
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
        prune_releases(&releases, &release, log);
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

/// With `--pubkey`: fetches URL.minisig, checks it over the downloaded file with the given keys, judges
/// its expiry and sequence number, raises the rollback floor, and returns the signed decryption
/// parameters. Without: the flags' parameters.
#[allow(clippy::too_many_arguments)] // one call site; each argument is a different stage's output
fn check_signature(
    opts: &BootOptions,
    bundle_url: &str,
    pointer: Option<&str>,
    file: &Path,
    sha256: &str,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(Params, Option<String>), BootError> {
    let policy = &opts.signature;
    if policy.keys.is_empty() {
        return Ok((opts.params, None));
    }
    let (origin, text) = match pointer {
        // A release pointer *is* the release's signature: verified here against the bytes it names.
        Some(text) => (fetch::redact(&opts.url), text.to_string()),
        None => {
            let url = sign::sig_url(bundle_url);
            let origin = fetch::redact(&url);
            let text = match fetch_small_text(&url, opts, downloads, log) {
                Ok(text) => text,
                Err(BootError::Fetch(e)) if is_missing(&e) => {
                    return Err(VerifyError::NotSigned {
                        what: fetch::redact(bundle_url),
                        sig: origin,
                    }
                    .into());
                }
                Err(e) => return Err(e),
            };
            (origin, text)
        }
    };
    let verified = sign::verify::verify_file(file, &text, &origin, &policy.keys)?;
    let now = crate::date::now_unix();
    let facts = sign::verify::judge(&verified, now, policy.expiry)?;
    if facts.sha256 != sha256 {
        return Err(VerifyError::Sha256Mismatch {
            signed: facts.sha256,
            actual: sha256.to_string(),
        }
        .into());
    }
    log(&format!(
        "signature good: key {} ({}), {} {} seq {}",
        verified.key_id, verified.key_source, facts.name, facts.version, facts.seq
    ));
    if let Some(expires) = facts
        .expires
        .filter(|_| sign::verify::is_expired(&facts, now))
    {
        log(&format!(
            "the signature expired at {}; applying it anyway (--allow-expired)",
            crate::date::format_rfc3339(expires)
        ));
    }
    let floor = SeqStore::new(&opts.state_dir);
    let state_err = |source| BootError::State {
        path: floor.path(&facts.name),
        source,
    };
    if let Some(highest) = floor.highest(&facts.name).map_err(state_err)?
        && facts.seq < highest
    {
        if policy.rollback == Rollback::Refuse {
            return Err(BootError::Rollback {
                name: facts.name,
                seq: facts.seq,
                highest,
            });
        }
        log(&format!(
            "seq {} is older than seq {highest} applied here; applying it anyway (--allow-downgrade)",
            facts.seq
        ));
    }
    if opts.mode == Mode::Run {
        floor.record(&facts.name, facts.seq).map_err(state_err)?;
    }
    if policy.params_given == ParamsGiven::Flags && facts.params != opts.params {
        log(&format!(
            "decrypting with the signed parameters ({}), not the flags given ({})",
            facts.params.openssl_flags(),
            opts.params.openssl_flags()
        ));
    }
    Ok((facts.params, Some(facts.name)))
}

/// A signature that is not there, as opposed to one that could not be fetched.
/// Follows a release pointer (`…/NAME.latest`): fetches it and returns the URL of the release its
/// signed comment names, with the pointer's text (the release's signature). Not a pointer: the URL as
/// given. The comment is only trusted once `check_signature` verified it with the release's bytes.
fn resolve_pointer(
    opts: &BootOptions,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<(String, Option<String>), BootError> {
    if !publish::is_pointer(&opts.url) {
        return Ok((opts.url.clone(), None));
    }
    let shown = fetch::redact(&opts.url);
    if opts.signature.keys.is_empty() {
        return Err(BootError::UnsignedPointer { url: shown });
    }
    let text = fetch_small_text(&opts.url, opts, downloads, log)?;
    let facts = publish::trusted_facts(&text).map_err(|e| VerifyError::Malformed {
        origin: shown.clone(),
        reason: e.to_string(),
    })?;
    let stem = publish::pointer_name(&opts.url);
    if stem != facts.name {
        return Err(BootError::NameMismatch {
            signed: facts.name,
            inside: format!("{stem} (the pointer's name)"),
        });
    }
    let url = publish::release_url(&opts.url, &facts);
    log(&format!(
        "{shown} points at {} {} seq {}: {}",
        facts.name,
        facts.version,
        facts.seq,
        fetch::redact(&url)
    ));
    Ok((url, Some(text)))
}

/// Downloads a signature-sized text file (a `.minisig` or a pointer).
pub(crate) fn fetch_small_text(
    url: &str,
    opts: &BootOptions,
    downloads: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<String, BootError> {
    let small = FetchOptions {
        max_size: MAX_SIGNATURE_SIZE,
        ..opts.fetch.clone()
    };
    let fetched = fetch::fetch(url, downloads, &small, log)?;
    let file = TempFile(fetched.path.clone());
    let bytes = fs::read(&file.0).map_err(|source| BootError::State {
        path: file.0.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| {
        VerifyError::Malformed {
            origin: fetch::redact(url),
            reason: "not text".into(),
        }
        .into()
    })
}

fn is_missing(e: &FetchError) -> bool {
    match e {
        FetchError::Status { status, .. } => matches!(status, 404 | 410),
        FetchError::Local { source, .. } => source.kind() == io::ErrorKind::NotFound,
        _ => false,
    }
}

/// A release unpacked by an earlier run is reused when it still matches its manifest; one that a module
/// changed is unpacked afresh.
fn reuse(release: &Path, name: &str, version: &str, log: &mut dyn FnMut(&str)) -> Option<Plan> {
    if !release.is_dir() {
        return None;
    }
    match personality::plan_unpacked(release, name, version) {
        // Without a manifest the digests come from the folders as they are now, which a module may
        // have written into: unpack afresh so init records keep meaning "this content".
        Ok(plan) if !plan.from_manifest => {
            let _ = fs::remove_dir_all(release);
            None
        }
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
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR_MODE)
                .create(path)
                .map_err(state_err)?;
        }
        Err(e) => return Err(state_err(e)),
    }
    // It holds decrypted module code: a folder others can read is refused, never silently changed
    // (chmod on a shared folder such as /tmp would break the machine).
    let meta = fs::metadata(path).map_err(state_err)?;
    if !meta.is_dir() || meta.permissions().mode() & 0o077 != 0 {
        return Err(state_err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it exists and others can read it; the state folder must be private (mode 0700) or not exist yet",
        )));
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
            crate::hashing::short(&r.sha256),
            r.plan.modules.len(),
            r.inits.len()
        ),
        (Ok(r), Mode::Run) => format!(
            "ok: {} {} (sha256 {}): {} modules started, {} init run, in {}",
            r.name,
            r.version,
            crate::hashing::short(&r.sha256),
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
