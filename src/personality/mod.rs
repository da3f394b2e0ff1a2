//! Personalities and modules: module folders and data folders, `module.toml`, `bundle.toml`,
//! module libraries, `requires` and run order, the checks behind `bundle check`, module digests,
//! settings (`[env]`), the standard library built into `bundle`, the `bundle.json` manifest and
//! archive layout, and the plan for an unpacked bundle (DESIGN.md,
//! "Words", "Modules and run order", "Archive layout").
//!
//! Knows nothing of encryption, compression, fetching or running scripts (it only has `bash -n`
//! or `sh -n` read a script, which runs nothing), and does not use `src/archive`:
//! [`Personality::layout`] says what goes where, the archive writer writes it.
//!
//! Choice: a `requires` naming a library module that `bundle.toml` does not list is an error, not
//! pulled in implicitly. Operators then see in one file everything a bundle holds.
//!
//! Choice: a folder that only carries files for the modules (secrets, configuration) says so with
//! `kind = "data"` in its `module.toml`. It is packed, digested, recorded in the manifest's `data`
//! list, unpacked and checked at boot like a module, and never run; a module may `require` it to
//! state that it reads it. A folder that is neither a module nor data is a `bundle check` problem,
//! not silently left out.

mod builtin;
mod bundle_toml;
mod check;
mod digest;
mod env;
mod folder;
mod hand_made;
mod library;
mod lint;
mod load;
mod manifest;
mod module;
mod order;
mod plan;
mod plan_error;
mod tree;

use std::path::PathBuf;

pub use builtin::{BUILTIN_VERSION, BuiltIn};
pub use bundle_toml::{BUNDLE_TOML, BUNDLE_TOML_KEYS, BundleToml};
pub use check::{Problem, Problems};
pub use digest::{Content, DIGEST_PREFIX, module_digest};
pub use env::{EnvTable, MAX_ENV_VALUE, RESERVED_ENV_PREFIX, check_env_pair};
pub use library::{
    DEFAULT_LIBRARY, Libraries, MODULES_PATH_ENV, library_paths, library_paths_from,
};
pub use lint::PLACEHOLDER;
pub use load::{DEFAULT_VERSION, load};
pub use manifest::{
    LayoutEntry, MANIFEST_FORMAT, MANIFEST_FORMAT_V1, MANIFEST_FORMAT_V2, Manifest, ManifestData,
    ManifestModule,
};
pub use module::{
    DataFolder, FolderKind, INIT_SCRIPTS, MAX_NAME_LEN, MODULE_TOML, MODULE_TOML_KEYS, Module,
    ModuleMeta, NameError, Origin, START_SCRIPTS, describe_origin, validate_module_name,
};
pub use order::{OrderError, run_order};
pub use plan::{Plan, PlannedData, PlannedModule, plan_unpacked};
pub use plan_error::PlanError;

/// The one top folder of every archive `bundle pack` writes (the seed's `start-up-bundle/`).
pub const ARCHIVE_TOP: &str = "start-up-bundle";
/// The manifest's file name inside [`ARCHIVE_TOP`].
pub const MANIFEST_NAME: &str = "bundle.json";

/// A checked personality, ready to pack.
#[derive(Debug, Clone)]
pub struct Personality {
    /// The personality folder.
    pub root: PathBuf,
    /// The bundle's name: `bundle.toml`'s, else the folder's name.
    pub name: String,
    /// The bundle's version: `bundle.toml`'s, else `"0"`.
    pub version: String,
    /// The modules, in run order.
    pub modules: Vec<Module>,
    /// The data folders (`kind = "data"`: files only, never run), in name byte order.
    pub data: Vec<DataFolder>,
    /// `bundle.toml`'s `[env]`: settings for every module.
    pub env: EnvTable,
    /// What is worth a look but does not stop packing: a module shadowing another of the same
    /// name, a setting that looks like a secret.
    pub warnings: Vec<Problem>,
}
