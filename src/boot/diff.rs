//! What a new release changes against the one applied here (`current`), for `run --dry-run`:
//! the version, and the modules added, removed, changed (by content digest) and unchanged.

use std::collections::BTreeMap;

use crate::hashing;
use crate::personality::{self, Plan};
use crate::state::Releases;

/// A new release against the applied one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The applied release: name, version, sha256.
    pub from: (String, String, String),
    /// Modules only in the new release.
    pub added: Vec<String>,
    /// Modules only in the applied one.
    pub removed: Vec<String>,
    /// Modules in both, with another content digest.
    pub changed: Vec<String>,
    /// Modules in both, the same.
    pub unchanged: Vec<String>,
}

/// The difference between `plan` (release `sha256`) and `current`, when something else is applied.
pub fn against_current(releases: &Releases, plan: &Plan, sha256: &str) -> Option<Diff> {
    let current = releases.current().filter(|c| c != sha256)?;
    let record = releases.record(&current)?;
    let old = personality::plan_unpacked(
        &releases.dir(&current),
        &record.name,
        hashing::short(&current),
    )
    .ok()?;
    Some(compare(&old, plan, current))
}

fn compare(old: &Plan, new: &Plan, old_sha: String) -> Diff {
    let before: BTreeMap<&str, &str> = old
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.digest.as_str()))
        .collect();
    let mut diff = Diff {
        from: (old.name.clone(), old.version.clone(), old_sha),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: Vec::new(),
    };
    for m in &new.modules {
        match before.get(m.name.as_str()) {
            None => diff.added.push(m.name.clone()),
            Some(digest) if *digest == m.digest => diff.unchanged.push(m.name.clone()),
            Some(_) => diff.changed.push(m.name.clone()),
        }
    }
    diff.removed = old
        .modules
        .iter()
        .filter(|m| !new.modules.iter().any(|n| n.name == m.name))
        .map(|m| m.name.clone())
        .collect();
    diff
}

impl Diff {
    /// The lines `--dry-run` prints under the plan.
    pub fn text(&self, new_version: &str) -> String {
        let (name, version, sha) = &self.from;
        let list = |names: &[String]| {
            if names.is_empty() {
                "-".to_string()
            } else {
                names.join(", ")
            }
        };
        format!(
            "against the applied release {name} {version} (sha256 {}):\n  version:   {version} -> {new_version}\n  added:     {}\n  removed:   {}\n  changed:   {}\n  unchanged: {}\n",
            hashing::short(sha),
            list(&self.added),
            list(&self.removed),
            list(&self.changed),
            list(&self.unchanged),
        )
    }
}
