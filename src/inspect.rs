//! `bundle inspect`: a bundle's name, version and modules in run order, nothing run.
//!
//! Opens the bundle through [`crate::open`] into a fresh private scratch folder, reads the plan and
//! throws the folder away.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{ArchiveError, Limits};
use crate::enc::Params;
use crate::exit::{Classify, Exit};
use crate::open::{self, OpenError};
use crate::personality::{self, PlanError, PlannedModule};
use crate::scratch::ScratchDir;
use crate::secret::Passphrase;

/// Why a bundle could not be unpacked or inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Decrypting or unpacking failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The unpacked bundle has no runnable plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A local file or folder could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for InspectError {
    fn exit(&self) -> Exit {
        match self {
            InspectError::Open(e) => e.exit(),
            InspectError::Plan(e) => e.exit(),
            InspectError::Io { .. } => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            InspectError::Open(e) => e.hint(),
            InspectError::Plan(e) => e.hint(),
            InspectError::Io { .. } => Some("check the path and its permissions".to_string()),
        }
    }
}

/// What `bundle inspect` shows.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// sha256 of the bundle file, hex.
    pub sha256: String,
    /// Size of the bundle file.
    pub size: u64,
    /// Whether the run order comes from a `bundle.json` (else computed, as for a hand-made bundle).
    pub manifest: bool,
    /// Modules in run order.
    pub modules: Vec<InspectedModule>,
    /// Data folders (files for the modules, never run), in name order.
    pub data: Vec<InspectedData>,
    /// Folders that are neither modules nor data folders, skipped at run time.
    pub skipped: Vec<String>,
    /// The bundle's settings for every module (`bundle.toml`'s `[env]`).
    pub env: BTreeMap<String, String>,
}

/// One data folder as `bundle inspect` shows it.
#[derive(Debug, Serialize)]
pub struct InspectedData {
    /// Folder name.
    pub name: String,
    /// Content digest.
    pub digest: String,
    /// Number of files.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Where `bundle pack` found it (`local`, `library:<path>`, `built-in:<version>`); `None` in
    /// a hand-made bundle.
    pub origin: Option<String>,
}

/// One module as `bundle inspect` shows it.
#[derive(Debug, Serialize)]
pub struct InspectedModule {
    /// Module name.
    pub name: String,
    /// Modules it requires.
    pub requires: Vec<String>,
    /// Content digest.
    pub digest: String,
    /// Number of files.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Whether it has an init script.
    pub init: bool,
    /// Where `bundle pack` found it; `None` in a hand-made bundle.
    pub origin: Option<String>,
    /// Its own default settings (`module.toml`'s `[env]`).
    pub env: BTreeMap<String, String>,
}

impl Inspection {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A few lines for people.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} {}\nsha256 {} ({} bytes){}\nmodules in run order:\n",
            self.name,
            self.version,
            self.sha256,
            self.size,
            if self.manifest {
                ""
            } else {
                "\nno bundle.json: order computed from the folders"
            }
        );
        for (i, m) in self.modules.iter().enumerate() {
            let requires = if m.requires.is_empty() {
                String::new()
            } else {
                format!(" requires {}", m.requires.join(", "))
            };
            out.push_str(&format!(
                "  {}. {}{}{} — {} files, {}, {}{}\n",
                i + 1,
                m.name,
                if m.init { " (init + start)" } else { "" },
                requires,
                m.files,
                crate::size::human(m.bytes),
                m.digest,
                origin_text(m.origin.as_deref())
            ));
            out.push_str(&env_text(&m.env, "     "));
        }
        if !self.data.is_empty() {
            out.push_str("data folders (never run):\n");
        }
        for d in &self.data {
            out.push_str(&format!(
                "  {} — {} files, {}, {}{}\n",
                d.name,
                d.files,
                crate::size::human(d.bytes),
                d.digest,
                origin_text(d.origin.as_deref())
            ));
        }
        if !self.env.is_empty() {
            out.push_str("settings for every module (--env at boot overrides them):\n");
            out.push_str(&env_text(&self.env, "  "));
        }
        for s in &self.skipped {
            out.push_str(&format!("  skipped: {s} (no start script)\n"));
        }
        out.trim_end().to_string()
    }
}

/// Decrypts and unpacks `bundle` into a private temp folder, reads its plan, and removes the folder.
/// A bundle without `bundle.json` is named after its file, as `bundle-bootstrap` names it.
pub fn inspect(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
    limits: &Limits,
) -> Result<Inspection, InspectError> {
    let fallback_name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    inspect_named(bundle, pass, params, limits, &fallback_name)
}

/// [`inspect`], naming a bundle without `bundle.json` `fallback_name` (its version is then the
/// file's short sha256).
pub fn inspect_named(
    bundle: &Path,
    pass: &Passphrase,
    params: &Params,
    limits: &Limits,
    fallback_name: &str,
) -> Result<Inspection, InspectError> {
    let io_err = |source| InspectError::Io {
        path: bundle.to_path_buf(),
        source,
    };
    let (sha256, size) = crate::hashing::file_sha256(bundle).map_err(io_err)?;
    let scratch = ScratchDir::create("bundle-inspect-").map_err(io_err)?;
    let dest = scratch.path().join("bundle");
    open::decrypt_unpack(bundle, pass, params, &dest, limits, &|_| {})?;
    let plan = personality::plan_unpacked(&dest, fallback_name, crate::hashing::short(&sha256))?;
    // The plan hashed every module once already; its counts are reused, not recomputed.
    let modules = plan.modules.iter().map(InspectedModule::from).collect();
    Ok(Inspection {
        name: plan.name,
        version: plan.version,
        sha256,
        size,
        manifest: plan.from_manifest,
        modules,
        data: plan
            .data
            .into_iter()
            .map(|d| InspectedData {
                name: d.name,
                digest: d.digest,
                files: d.files,
                bytes: d.bytes,
                origin: d.origin,
            })
            .collect(),
        skipped: plan.skipped,
        env: plan.env.into_iter().collect(),
    })
}

impl From<&PlannedModule> for InspectedModule {
    fn from(m: &PlannedModule) -> Self {
        InspectedModule {
            name: m.name.clone(),
            requires: m.requires.clone(),
            digest: m.digest.clone(),
            files: m.files,
            bytes: m.bytes,
            init: m.init.is_some(),
            origin: m.origin.clone(),
            env: m.env.iter().cloned().collect(),
        }
    }
}

impl From<ArchiveError> for InspectError {
    fn from(e: ArchiveError) -> Self {
        InspectError::Open(OpenError::from(e))
    }
}

/// `, from <where>` for the text, nothing for a hand-made bundle.
fn origin_text(origin: Option<&str>) -> String {
    origin
        .map(|o| format!(", from {}", personality::describe_origin(o)))
        .unwrap_or_default()
}

/// One `KEY=VALUE` line per setting, escaped (a value may hold a newline).
fn env_text(env: &BTreeMap<String, String>, indent: &str) -> String {
    env.iter()
        .map(|(k, v)| format!("{indent}{k}={}\n", crate::names::printable(v)))
        .collect()
}
