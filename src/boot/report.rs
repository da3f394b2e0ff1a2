//! What a finished boot did, for people: the plan of a dry run, and the one summary line a boot
//! ends with (cloud-init copies stderr to the console, so it is the last thing an operator sees).

use std::path::PathBuf;
use std::time::Duration;

use crate::exit::Classify;
use crate::hashing;
use crate::personality::Plan;
use crate::state::{RunKind, SignedInfo};

use super::diff::Diff;

use super::error::BootError;
use super::options::Mode;

/// What a finished boot did.
#[derive(Debug)]
pub struct BootReport {
    /// Bundle name (manifest, else the URL's file name).
    pub name: String,
    /// Bundle version (manifest, else the first hex digits of the sha256).
    pub version: String,
    /// sha256 of the bundle file.
    pub sha256: String,
    /// What the signature vouched for, when signed.
    pub signed: Option<SignedInfo>,
    /// The plan that was (or, in a dry run, would be) run.
    pub plan: Plan,
    /// Modules whose init is due (dry run) or was run.
    pub inits: Vec<String>,
    /// A dry run's changes against the applied release, when another one is applied.
    pub diff: Option<Diff>,
    /// What the run was: a fresh fetch, a rerun, a rollback, an offline re-apply.
    pub kind: RunKind,
    /// The run's log folder (None for a dry run).
    pub log_dir: Option<PathBuf>,
    /// Wall time from start to finish.
    pub duration: Duration,
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
        if let Some(diff) = &self.diff {
            out.push_str(&diff.text(&self.version));
        }
        out
    }
}

/// The last line a boot prints on stderr.
pub fn summary(result: &Result<BootReport, BootError>, mode: Mode) -> String {
    match (result, mode) {
        (Ok(r), Mode::DryRun) => format!(
            "dry run ok: {} {} (sha256 {}): {} modules planned, {} init due, nothing run",
            r.name,
            r.version,
            hashing::short(&r.sha256),
            r.plan.modules.len(),
            r.inits.len()
        ),
        (Ok(r), Mode::Run) => format!(
            "ok{}: {} {} (sha256 {}): {} modules started, {} init run, in {}",
            match r.kind {
                RunKind::Run => "",
                RunKind::Rerun => " (rerun)",
                RunKind::Rollback => " (rollback)",
                RunKind::Offline => " (OFFLINE: the last verified release, re-applied)",
            },
            r.name,
            r.version,
            hashing::short(&r.sha256),
            r.plan.modules.len(),
            r.inits.len(),
            crate::duration::human(r.duration)
        ),
        (Err(e), _) if e.interrupted().is_some() => {
            format!("INTERRUPTED (exit {}): {}", e.exit().code(), first_line(e))
        }
        (Err(e), _) => format!("FAILED (exit {}): {}", e.exit().code(), first_line(e)),
    }
}

/// The first line of an error's message.
pub fn first_line(e: &BootError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
