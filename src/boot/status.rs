//! `bundle-bootstrap status`: the last run as recorded in the state folder, for people and for
//! health checks.
//!
//! A status that says "running" while no process holds the state folder's lock belongs to a run
//! that died (killed, power cut): it is shown as interrupted, never as running forever.
//!
//! Exit status: 0 the last run succeeded; 2, 3, 4, 5 it failed with that status (fetch, verify,
//! archive, module); 1 no run recorded, the state folder unreadable, or the last run failed on its
//! configuration; 6 a run is in progress; 7 the last run was interrupted.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::date;
use crate::duration::human;
use crate::state::{RunKind, RunResult, Stage, StateDir, StateError, Status, Step, StepState};

/// `status`'s exit when a run is in progress.
pub const EXIT_RUNNING: u8 = 6;
/// `status`'s exit when the last run was interrupted.
pub const EXIT_INTERRUPTED: u8 = 7;

/// The last run's status, with a dead "running" run shown as interrupted.
pub fn read(state_dir: &Path) -> Result<Status, StateError> {
    let state = StateDir::open_read_only(state_dir)?;
    let mut status = state.read_status()?;
    if status.result == RunResult::Running && !state.is_locked() {
        status.result = RunResult::Interrupted;
        status.notes.push(format!(
            "pid {} is gone: the run died before it finished",
            status.pid
        ));
    }
    Ok(status)
}

/// How often `status --wait` looks again.
const WAIT_TICK: Duration = Duration::from_millis(250);

/// Waits until no run holds the state folder (or `timeout` passed), then reads the status. A
/// state folder with no status yet is waited for too: the first boot may not have started.
pub fn wait(state_dir: &Path, timeout: Option<Duration>) -> Result<Status, StateError> {
    let started = std::time::Instant::now();
    loop {
        let timed_out = timeout.is_some_and(|t| started.elapsed() >= t);
        match StateDir::open_read_only(state_dir) {
            Ok(state) if !state.is_locked() => match read(state_dir) {
                Err(StateError::NoStatus { .. }) if !timed_out => {}
                other => return other,
            },
            Ok(_) if timed_out => return read(state_dir),
            Err(StateError::NoStatus { .. }) if !timed_out => {}
            Err(e) if timed_out || !matches!(e, StateError::NoStatus { .. }) => return Err(e),
            _ => {}
        }
        std::thread::sleep(WAIT_TICK);
    }
}

/// The exit status `status` ends with for this run (see the module docs).
pub fn exit_code(status: &Status) -> u8 {
    match status.result {
        RunResult::Ok => 0,
        RunResult::Failed => status.exit_code.filter(|c| *c != 0).unwrap_or(1),
        RunResult::Running => EXIT_RUNNING,
        RunResult::Interrupted => EXIT_INTERRUPTED,
    }
}

fn kind_text(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Run => "run",
        RunKind::Rerun => "rerun",
        RunKind::Rollback => "rollback",
        RunKind::Offline => "offline re-apply",
    }
}

fn stage_text(stage: Stage) -> &'static str {
    match stage {
        Stage::Start => "start",
        Stage::Fetch => "fetch",
        Stage::Verify => "verify",
        Stage::Unpack => "decrypt/unpack",
        Stage::Plan => "plan",
        Stage::Run => "run",
        Stage::Done => "done",
    }
}

/// The status as a table for people: one row per script, then the failure message if any.
pub fn render(s: &Status) -> String {
    let result = match (s.result, s.exit_code) {
        (RunResult::Running, _) => "running".to_string(),
        (RunResult::Ok, _) => "ok".to_string(),
        (RunResult::Failed, Some(code)) => {
            format!("FAILED at {} (exit {code})", stage_text(s.stage))
        }
        (RunResult::Failed, None) => "FAILED".to_string(),
        (RunResult::Interrupted, _) => format!("INTERRUPTED at {}", stage_text(s.stage)),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} ({}): {result} (pid {})",
        s.run_id,
        kind_text(s.kind),
        s.pid
    );
    match &s.bundle {
        Some(b) => {
            let _ = writeln!(
                out,
                "bundle {} {} from {} (sha256 {})",
                b.name, b.version, s.source, b.sha256
            );
        }
        None => {
            let _ = writeln!(out, "bundle from {} (not verified yet)", s.source);
        }
    }
    if let Some(signed) = &s.signed {
        let expires = signed.expires.map_or_else(
            || "never expires".to_string(),
            |t| format!("expires {}", date::format_rfc3339(t)),
        );
        let _ = writeln!(
            out,
            "signed by key {}, seq {}, {expires}",
            signed.key_id, signed.seq
        );
    }
    if let Some(id) = &s.instance_id {
        let _ = writeln!(out, "instance {id}");
    }
    if let Some(id) = &s.boot_id {
        let when = if crate::state::this_boot().as_ref() == Some(id) {
            "this boot"
        } else {
            "an earlier boot"
        };
        let _ = writeln!(out, "boot {id} ({when})");
    }
    for note in &s.notes {
        let _ = writeln!(out, "note: {note}");
    }
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
