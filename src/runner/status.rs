//! `STATE/status.json`: the last run, module by module, for `bundle-bootstrap status` and for people
//! logged in while a run is going on. Written atomically at the start, after every script, and at the
//! end; read back and rendered as a table.
//!
//! Only describes runs; it never decides what runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::human;

use super::Phase;
use super::error::RunError;
use super::state::atomic_write;

/// The status file's name inside the state dir.
pub const STATUS_FILE: &str = "status.json";

/// The version of the status file's layout; bumped when a field changes meaning.
pub const STATUS_FORMAT: u32 = 1;

/// How a whole run ended, or that it is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    /// Still going (or the run died without a word: its pid is in the file).
    Running,
    /// Every due script succeeded.
    Ok,
    /// A script failed; see [`Status::failure`].
    Failed,
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
    /// Where it came from (URL or path).
    pub source: String,
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
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// When it ended, RFC 3339 UTC; `None` while running.
    pub finished: Option<String>,
    /// How it ended.
    pub result: RunResult,
    /// Which bundle.
    pub bundle: BundleInfo,
    /// The folder holding this run's logs.
    pub log_dir: PathBuf,
    /// Every script of the run in the order they run: all inits, then all starts.
    pub steps: Vec<Step>,
    /// The failure message, as printed when the run failed.
    pub failure: Option<String>,
}

/// The status file of `state_dir`.
pub fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATUS_FILE)
}

/// Writes `status` to `STATE/status.json`, atomically.
pub fn write_status(state_dir: &Path, status: &Status) -> Result<(), RunError> {
    let path = status_path(state_dir);
    let mut text = serde_json::to_vec_pretty(status).map_err(|source| RunError::BadStatus {
        path: path.clone(),
        source,
    })?;
    text.push(b'\n');
    atomic_write(&path, &text)
}

/// Reads the last run's status from `STATE/status.json`.
pub fn read_status(state_dir: &Path) -> Result<Status, RunError> {
    let path = status_path(state_dir);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunError::NoStatus {
                state_dir: state_dir.to_path_buf(),
            });
        }
        Err(e) => return Err(RunError::io("read", path)(e)),
    };
    serde_json::from_slice(&text).map_err(|source| RunError::BadStatus { path, source })
}

/// The status as a table for people: one row per script, then the failure message if any.
pub fn render_status(s: &Status) -> String {
    let result = match s.result {
        RunResult::Running => "running",
        RunResult::Ok => "ok",
        RunResult::Failed => "FAILED",
    };
    let mut out = String::new();
    let _ = writeln!(out, "run {}: {result} (pid {})", s.run_id, s.pid);
    let _ = writeln!(
        out,
        "bundle {} {} from {} (sha256 {})",
        s.bundle.name, s.bundle.version, s.bundle.source, s.bundle.sha256
    );
    let _ = writeln!(
        out,
        "started {}, finished {}",
        s.started,
        s.finished.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "logs {}", s.log_dir.display());
    let rows: Vec<[String; 4]> = s
        .steps
        .iter()
        .map(|step| {
            [
                step.module.clone(),
                step.phase.to_string(),
                state_text(step),
                step.duration_secs
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map_or_else(String::new, |d| human(Duration::from_secs_f64(d))),
            ]
        })
        .collect();
    let header = ["MODULE", "PHASE", "STATUS", "DURATION"].map(String::from);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    out.push('\n');
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if let Some(failure) = &s.failure {
        out.push('\n');
        out.push_str(failure);
        out.push('\n');
    }
    out
}

fn state_text(step: &Step) -> String {
    match step.status {
        StepState::Pending => "pending".into(),
        StepState::Running => "running".into(),
        StepState::Ok => "ok".into(),
        StepState::Skipped => "skipped".into(),
        StepState::Failed if step.timed_out => "failed (timed out)".into(),
        StepState::Failed => match (step.exit_code, step.signal) {
            (Some(code), _) => format!("failed (status {code})"),
            (None, Some(sig)) => format!("failed (signal {sig})"),
            (None, None) => "failed".into(),
        },
    }
}
