//! `STATE/status.json`: the last run — whatever stage it reached — module by module, for
//! `bundle-bootstrap status`, health checks, and people logged in while a run is going on. Written
//! atomically when the run takes the lock, at every stage, after every script, and at the end.
//!
//! Only describes runs; it never decides what runs, and no path in it is ever used to write.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, PRIVATE_FILE_MODE};

use super::error::StateError;

/// The version of the status file's layout; bumped when a field changes meaning. Format 1 files
/// (before every stage was recorded) still read.
pub const STATUS_FORMAT: u32 = 2;

/// A status file larger than this is not one of ours: it is refused, not read whole.
pub const MAX_STATUS_SIZE: u64 = 1024 * 1024;

/// Which script of a module a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Once per module and content digest on a machine.
    Init,
    /// Every time the bundle is applied.
    Start,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Init => "init",
            Phase::Start => "start",
        })
    }
}

/// What started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `run` (or `watch`): fetch what the URL designates and apply it.
    #[default]
    Run,
    /// `rerun`: apply the current release again.
    Rerun,
    /// `rollback`: apply an earlier release kept on disk.
    Rollback,
    /// The fetch failed for good and the last verified release was applied again.
    Offline,
}

/// How far the run got (where it stands, or where it failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading the passphrase and the configuration.
    #[default]
    Start,
    /// Downloading the bundle, its signature or pointer.
    Fetch,
    /// Checking the sha256 pin and the signature.
    Verify,
    /// Decrypting and unpacking.
    Unpack,
    /// Planning the run order.
    Plan,
    /// Running the modules' scripts.
    Run,
    /// Finished.
    Done,
}

/// How a whole run ended, or that it is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    /// Still going — or, when no run holds the lock, the run died without a word.
    Running,
    /// Every due script succeeded.
    Ok,
    /// The run failed at [`Status::stage`]; see [`Status::failure`].
    Failed,
    /// The run was stopped by a signal (TERM, INT) and recorded it.
    Interrupted,
}

/// Where one script (module + phase) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    /// Not run (yet, or ever: a run stops at its first failure).
    Pending,
    /// Running now.
    Running,
    /// Succeeded.
    Ok,
    /// Failed: exited non-zero, was killed or timed out.
    Failed,
    /// Not needed: an init already done at this content digest.
    Skipped,
}

/// The bundle a run applied, as the caller described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// `BUNDLE_NAME`.
    pub name: String,
    /// `BUNDLE_VERSION`.
    pub version: String,
    /// SHA-256 of the bundle file, hex.
    pub sha256: String,
    /// Where it came from (URL or path, redacted); format 1 kept it here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// What the signature vouched for, when the bundle was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInfo {
    /// The key id that signed (as minisign prints it).
    pub key_id: String,
    /// The signed sequence number.
    pub seq: u64,
    /// When the signature expires (UNIX time), if ever.
    #[serde(default)]
    pub expires: Option<u64>,
}

/// One script of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The module's name.
    pub module: String,
    /// init or start.
    pub phase: Phase,
    /// Where it stands.
    pub status: StepState,
    /// Exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Whether it was stopped at its timeout.
    #[serde(default)]
    pub timed_out: bool,
    /// How long it ran, in seconds.
    pub duration_secs: Option<f64>,
    /// Its log file, once it has run.
    pub log: Option<PathBuf>,
}

/// The whole of `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// [`STATUS_FORMAT`] of the writer.
    pub format: u32,
    /// The run's id, `YYYYMMDDTHHMMSSZ-<pid>`.
    pub run_id: String,
    /// The pid of the process that ran it.
    pub pid: u32,
    /// What started it.
    #[serde(default)]
    pub kind: RunKind,
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// When it ended, RFC 3339 UTC; `None` while running.
    pub finished: Option<String>,
    /// How it ended.
    pub result: RunResult,
    /// The exit status it ended with.
    #[serde(default)]
    pub exit_code: Option<u8>,
    /// How far it got.
    #[serde(default)]
    pub stage: Stage,
    /// Where the bundle was fetched from (redacted).
    #[serde(default)]
    pub source: String,
    /// Which bundle, once known (after verification or unpacking).
    #[serde(default)]
    pub bundle: Option<BundleInfo>,
    /// What its signature vouched for.
    #[serde(default)]
    pub signed: Option<SignedInfo>,
    /// The instance this ran on.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The boot this ran in (`/proc/sys/kernel/random/boot_id`), so that the boot unit can tell
    /// that user-data already applied the bundle in this boot; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// Things an operator must know about this run (an offline re-apply, an expired signature
    /// accepted on purpose, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The folder holding this run's logs (shown, never written through).
    pub log_dir: PathBuf,
    /// Every script of the run in the order they run: all inits, then all starts.
    pub steps: Vec<Step>,
    /// The failure message, as printed when the run failed.
    pub failure: Option<String>,
}

impl Status {
    /// A fresh status for a run that starts now.
    pub fn begin(run_id: String, kind: RunKind, source: String, log_dir: PathBuf) -> Status {
        Status {
            format: STATUS_FORMAT,
            run_id,
            pid: std::process::id(),
            kind,
            started: crate::date::rfc3339(std::time::SystemTime::now()),
            finished: None,
            result: RunResult::Running,
            exit_code: None,
            stage: Stage::Start,
            source,
            bundle: None,
            signed: None,
            instance_id: None,
            boot_id: this_boot(),
            notes: Vec::new(),
            log_dir,
            steps: Vec::new(),
            failure: None,
        }
    }
}

/// Where the kernel says which boot this is: a random UUID made at every boot (random(4)).
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// This boot's id, when the kernel tells it (`None` without `/proc`).
pub fn this_boot() -> Option<String> {
    let text = std::fs::read_to_string(BOOT_ID_PATH).ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_string())
}

impl Status {
    /// Whether this run succeeded in the current boot (a status without a boot id never did).
    pub fn succeeded_in_this_boot(&self) -> bool {
        self.result == RunResult::Ok && self.boot_id.is_some() && self.boot_id == this_boot()
    }
}

/// Writes `status` to `path`, atomically and durably.
pub(super) fn write(path: &Path, status: &Status) -> Result<(), StateError> {
    let mut text = serde_json::to_vec_pretty(status).map_err(|e| StateError::BadStatus {
        path: path.to_path_buf(),
        reason: format!("cannot be written: {e}"),
    })?;
    text.push(b'\n');
    fsutil::atomic_write(path, &text, PRIVATE_FILE_MODE).map_err(StateError::io("write", path))
}

/// Reads the status at `path` (in `state_dir`): never through a link, never more than
/// [`MAX_STATUS_SIZE`].
pub(super) fn read(state_dir: &Path, path: &Path) -> Result<Status, StateError> {
    let bad = |reason: String| StateError::BadStatus {
        path: path.to_path_buf(),
        reason,
    };
    let file: File = match OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NoStatus {
                state_dir: state_dir.to_path_buf(),
            });
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(bad("is a symbolic link, not a status file".into()));
        }
        Err(e) => return Err(StateError::io("read", path)(e)),
    };
    let mut text = Vec::new();
    file.take(MAX_STATUS_SIZE + 1)
        .read_to_end(&mut text)
        .map_err(StateError::io("read", path))?;
    if text.len() as u64 > MAX_STATUS_SIZE {
        return Err(bad(format!(
            "is larger than {}: not a status file",
            crate::size::human(MAX_STATUS_SIZE)
        )));
    }
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    match serde_json::from_slice::<Format>(&text) {
        Ok(f) if f.format > STATUS_FORMAT => {
            return Err(bad(format!(
                "was written by a newer bundle-bootstrap (format {}, this one reads up to {STATUS_FORMAT})",
                f.format
            )));
        }
        Ok(_) => {}
        Err(e) => return Err(bad(format!("is damaged: {e}"))),
    }
    let mut status: Status =
        serde_json::from_slice(&text).map_err(|e| bad(format!("is damaged: {e}")))?;
    // Format 1 kept the source inside the bundle block.
    if status.source.is_empty()
        && let Some(bundle) = &status.bundle
    {
        status.source = bundle.source.clone();
    }
    Ok(status)
}

/// The status of the run that holds the lock, kept on disk as it goes.
#[derive(Debug)]
pub struct RunRecord {
    path: PathBuf,
    status: Status,
}

impl RunRecord {
    pub(super) fn begin(path: PathBuf, status: Status) -> Result<RunRecord, StateError> {
        write(&path, &status)?;
        Ok(RunRecord { path, status })
    }

    /// The status as it stands.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The status, to change before [`RunRecord::save`].
    pub fn status_mut(&mut self) -> &mut Status {
        &mut self.status
    }

    /// This run's id.
    pub fn run_id(&self) -> &str {
        &self.status.run_id
    }

    /// This run's log folder.
    pub fn log_dir(&self) -> &Path {
        &self.status.log_dir
    }

    /// Moves the run to `stage` and saves.
    pub fn stage(&mut self, stage: Stage) -> Result<(), StateError> {
        self.status.stage = stage;
        self.save()
    }

    /// Writes the status as it stands.
    pub fn save(&self) -> Result<(), StateError> {
        write(&self.path, &self.status)
    }

    /// Records how the run ended and saves.
    pub fn finish(
        &mut self,
        result: RunResult,
        exit_code: u8,
        failure: Option<String>,
    ) -> Result<(), StateError> {
        self.status.result = result;
        self.status.exit_code = Some(exit_code);
        if result == RunResult::Ok {
            self.status.stage = Stage::Done;
        }
        self.status.failure = failure;
        self.status.finished = Some(crate::date::rfc3339(std::time::SystemTime::now()));
        self.save()
    }
}
