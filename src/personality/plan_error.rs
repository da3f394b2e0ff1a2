//! Why an unpacked bundle cannot be planned: every reason is exit 4, a malformed archive.
//!
//! Errors only; the planning itself is in `plan.rs`.

use std::io;
use std::path::PathBuf;

use crate::exit::{Classify, Exit};

use super::manifest::{MANIFEST_FORMAT, MANIFEST_FORMAT_V1};
use super::module::NameError;
use super::order::OrderError;

/// Why an unpacked bundle cannot be run. Every variant is exit 4: the archive is malformed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A folder or file of the unpacked bundle could not be read.
    #[error("cannot read {path}")]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `bundle.json` is not a manifest.
    #[error("{path} is not a valid bundle manifest")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// `bundle.json` has a format this code does not read.
    #[error(
        "{path} has manifest format {format}; this program reads formats {MANIFEST_FORMAT_V1} to {MANIFEST_FORMAT}"
    )]
    Format {
        /// The manifest file.
        path: PathBuf,
        /// The format number found.
        format: u64,
    },
    /// A module name (in the manifest, a folder's, or a `requires`) is refused.
    #[error("module name \"{}\" in {} is refused", crate::names::printable(.name), .path.display())]
    BadName {
        /// The manifest, the folder holding the folder, or the `module.toml`.
        path: PathBuf,
        /// The name as found (escape it to print it).
        name: String,
        /// What is wrong with it.
        #[source]
        source: NameError,
    },
    /// The manifest's bundle name or version breaks the rule.
    #[error("the bundle {what} \"{value}\" in {path} is refused")]
    BadLabel {
        /// The manifest.
        path: PathBuf,
        /// `name` or `version`.
        what: &'static str,
        /// The value, escaped for printing.
        value: String,
        /// What is wrong with it.
        #[source]
        source: NameError,
    },
    /// A setting of the manifest (or of a hand-made bundle's `module.toml`) breaks the rule.
    #[error("{path}: a setting of {owner} is refused: {problem}")]
    Env {
        /// The manifest or `module.toml`.
        path: PathBuf,
        /// `the bundle`, or the module's name.
        owner: String,
        /// What is wrong, the key escaped.
        problem: String,
    },
    /// The manifest lists a module twice.
    #[error("{path} lists module `{module}` twice")]
    Duplicate {
        /// The manifest file.
        path: PathBuf,
        /// The module.
        module: String,
    },
    /// The manifest lists a module or data folder whose folder is not in the bundle.
    #[error("`{module}` is in the manifest, but {path} is not a folder of the bundle")]
    ModuleMissing {
        /// The module or data folder.
        module: String,
        /// Where its folder should be.
        path: PathBuf,
    },
    /// A module's start or init script is missing, not a file, or oddly named in the manifest.
    #[error("module `{module}`: script {path} is missing or not a file")]
    Script {
        /// The module.
        module: String,
        /// The script expected.
        path: PathBuf,
    },
    /// A module folder holds both names of one script.
    #[error("{path} holds both `{first}` and `{second}`: which one to run is ambiguous")]
    Ambiguous {
        /// The module folder.
        path: PathBuf,
        /// One name.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A module's or data folder's content differs from what the manifest recorded at pack time.
    #[error("`{module}` at {path} has digest {actual}, but the manifest says {expected}")]
    DigestMismatch {
        /// The module or data folder.
        module: String,
        /// Its folder.
        path: PathBuf,
        /// The manifest's digest.
        expected: String,
        /// The digest of what was unpacked.
        actual: String,
    },
    /// The manifest lists a module before one it requires, or requires one it does not list.
    #[error("{path}: module `{module}` requires `{requirement}`, which is not listed before it")]
    ManifestOrder {
        /// The manifest file.
        path: PathBuf,
        /// The module.
        module: String,
        /// Its requirement.
        requirement: String,
    },
    /// A data folder of a hand-made bundle holds a start or init script, which would never run.
    #[error("{path} is in a data folder (kind = \"data\" in its module.toml), which is never run")]
    DataScript {
        /// The script.
        path: PathBuf,
    },
    /// A `module.toml` in a hand-made bundle is malformed.
    #[error("{path} is not a valid module.toml")]
    ModuleToml {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// The modules of a hand-made bundle cannot be ordered.
    #[error("cannot order the modules in {root}")]
    Order {
        /// The folder holding the modules.
        root: PathBuf,
        /// The missing requirement or the cycle.
        #[source]
        source: OrderError,
    },
    /// No module folder (a folder with a start script) was found.
    #[error("no modules in {path}: a module is a folder with a start script")]
    NoModules {
        /// The folder searched.
        path: PathBuf,
    },
}

impl Classify for PlanError {
    fn exit(&self) -> Exit {
        Exit::Archive
    }
    fn hint(&self) -> Option<String> {
        match self {
            PlanError::DigestMismatch { .. } | PlanError::ModuleMissing { .. } => Some(
                "the bundle's content does not match its manifest: pack it again with `bundle pack`"
                    .into(),
            ),
            PlanError::Order { .. } | PlanError::ModuleToml { .. } | PlanError::DataScript { .. } => {
                Some("fix module.toml, check it with `bundle check`, and pack again".into())
            }
            PlanError::NoModules { .. } => Some(
                "list the archive with `tar -t`: modules go in start-up-bundle/<name>/start".into(),
            ),
            PlanError::Format { .. } => Some("update bundle-bootstrap".into()),
            PlanError::BadName { .. } | PlanError::BadLabel { .. } | PlanError::Env { .. } => {
                Some(
                    "this bundle was not made by `bundle pack`, or was changed: `bundle check` \
                     the personality and pack it again"
                        .into(),
                )
            }
            _ => None,
        }
    }
}
