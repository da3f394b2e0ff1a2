//! `bundle.json`, the manifest `bundle pack` writes into the archive, and the archive layout of a
//! personality (DESIGN.md, "Archive layout").
//!
//! Produces bytes and a list of what goes where; the archive writer (src/archive) does the writing.

use std::path::PathBuf;

use super::{ARCHIVE_TOP, EnvTable, MANIFEST_NAME, Personality};

/// The first manifest format: modules only. Every `bundle-bootstrap` reads it, so it is still what
/// `bundle pack` writes for a bundle without data folders (byte for byte as before).
pub const MANIFEST_FORMAT_V1: u32 = 1;
/// Format 1 plus the `data` list. Written only for a bundle with data folders (and no settings),
/// so that a `bundle-bootstrap` that predates them refuses it with "update bundle-bootstrap"
/// (exit 4) instead of failing on a module that requires a folder it cannot see.
pub const MANIFEST_FORMAT_V2: u32 = 2;
/// The newest manifest format, which this code reads along with the older ones: format 2 plus the
/// settings (`env`, for the bundle and per module). Written only for a bundle with settings, so
/// that a `bundle-bootstrap` that predates them refuses it rather than run modules without them.
pub const MANIFEST_FORMAT: u32 = 3;

/// The manifest: what is in the bundle, in run order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT_V1`] to [`MANIFEST_FORMAT`] for what this code writes.
    pub format: u32,
    /// The bundle's name (`BUNDLE_NAME` at boot).
    pub name: String,
    /// The bundle's version (`BUNDLE_VERSION` at boot).
    pub version: String,
    /// The modules, in run order.
    pub modules: Vec<ManifestModule>,
    /// The data folders, in name order (format 2; absent, and empty, in format 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<ManifestData>,
    /// `bundle.toml`'s settings, for every module (format 3; absent, and empty, before).
    #[serde(default, skip_serializing_if = "EnvTable::is_empty")]
    pub env: EnvTable,
}

/// One module in the manifest.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ManifestModule {
    /// The module's name, which is its folder's name under the top folder.
    pub name: String,
    /// The modules it requires (from `module.toml`).
    pub requires: Vec<String>,
    /// Its content digest, `sha256:<hex>`, checked again at boot.
    pub digest: String,
    /// Number of regular files.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// The start script's file name: `start` or `start.sh`.
    pub start: String,
    /// The init script's file name, or null.
    pub init: Option<String>,
    /// `local`, `library:<path>` or `built-in:<bundle version>`: where pack found it, for people
    /// reading `bundle inspect`.
    pub origin: String,
    /// The module's own default settings, from its `module.toml` (format 3; absent, and empty,
    /// before).
    #[serde(default, skip_serializing_if = "EnvTable::is_empty")]
    pub env: EnvTable,
}

/// One data folder in the manifest: unpacked and checked like a module, never run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ManifestData {
    /// The folder's name, under the top folder.
    pub name: String,
    /// Its content digest, `sha256:<hex>`, checked again at boot.
    pub digest: String,
    /// Number of regular files.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// `local` or `library:<path>`, as for modules.
    pub origin: String,
}

impl Manifest {
    /// Pretty-printed JSON with a final newline. Deterministic: fields in declaration order.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and numbers into a Vec cannot fail; fall back to an empty
        // object rather than panic, and let the reader refuse it.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_else(|_| b"{}".to_vec());
        out.push(b'\n');
        out
    }

    /// Parses a manifest (any format number; the caller checks it).
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// One thing to put in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutEntry {
    /// A module folder copied in whole under the archive path `prefix`, e.g.
    /// `start-up-bundle/java`.
    Tree {
        /// Archive path of the folder.
        prefix: String,
        /// The folder on disk.
        dir: PathBuf,
    },
    /// A generated file, e.g. `start-up-bundle/bundle.json`.
    File {
        /// Archive path of the file.
        path: String,
        /// Its content.
        bytes: Vec<u8>,
    },
}

impl Personality {
    /// The manifest for this personality, modules in run order, data folders in name order, in the
    /// oldest format that holds it.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            format: self.manifest_format(),
            name: self.name.clone(),
            version: self.version.clone(),
            modules: self
                .modules
                .iter()
                .map(|m| ManifestModule {
                    name: m.name.clone(),
                    requires: m.meta.requires.clone(),
                    digest: m.digest.clone(),
                    files: m.files,
                    bytes: m.bytes,
                    start: m.start.clone(),
                    init: m.init.clone(),
                    origin: m.origin.to_string(),
                    env: m.meta.env.clone(),
                })
                .collect(),
            data: self
                .data
                .iter()
                .map(|d| ManifestData {
                    name: d.name.clone(),
                    digest: d.digest.clone(),
                    files: d.files,
                    bytes: d.bytes,
                    origin: d.origin.to_string(),
                })
                .collect(),
            env: self.env.clone(),
        }
    }

    /// The oldest format that holds everything this personality has: 1 for modules only, 2 with
    /// data folders, 3 with settings. Older bootstraps then read what they understand in full.
    fn manifest_format(&self) -> u32 {
        let settings = !self.env.is_empty() || self.modules.iter().any(|m| !m.meta.env.is_empty());
        if settings {
            MANIFEST_FORMAT
        } else if !self.data.is_empty() {
            MANIFEST_FORMAT_V2
        } else {
            MANIFEST_FORMAT_V1
        }
    }

    /// What goes into the archive: one [`LayoutEntry::Tree`] per module and data folder and the
    /// manifest, under [`ARCHIVE_TOP`] (the top folder itself is implied), sorted by archive path.
    pub fn layout(&self) -> Vec<LayoutEntry> {
        let modules = self.modules.iter().map(|m| (&m.name, &m.dir));
        let data = self.data.iter().map(|d| (&d.name, &d.dir));
        let mut out: Vec<LayoutEntry> = modules
            .chain(data)
            .map(|(name, dir)| LayoutEntry::Tree {
                prefix: format!("{ARCHIVE_TOP}/{name}"),
                dir: dir.clone(),
            })
            .collect();
        out.push(LayoutEntry::File {
            path: format!("{ARCHIVE_TOP}/{MANIFEST_NAME}"),
            bytes: self.manifest().to_json(),
        });
        let key = |e: &LayoutEntry| match e {
            LayoutEntry::Tree { prefix, .. } => prefix.clone(),
            LayoutEntry::File { path, .. } => path.clone(),
        };
        out.sort_by_key(key);
        out
    }
}
