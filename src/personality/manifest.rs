//! `bundle.json`, the manifest `bundle pack` writes into the archive, and the archive layout of a
//! personality (DESIGN.md, "Archive layout").
//!
//! Produces bytes and a list of what goes where; the archive writer (src/archive) does the writing.

use std::path::PathBuf;

use super::{ARCHIVE_TOP, MANIFEST_NAME, Personality};

/// The manifest format this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// The manifest: what is in the bundle, in run order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`] for what this code writes.
    pub format: u32,
    /// The bundle's name (`BUNDLE_NAME` at boot).
    pub name: String,
    /// The bundle's version (`BUNDLE_VERSION` at boot).
    pub version: String,
    /// The modules, in run order.
    pub modules: Vec<ManifestModule>,
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
    /// `local` or `library:<path>`: where pack found it, for people reading `bundle inspect`.
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
    /// The manifest for this personality, modules in run order.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
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
                })
                .collect(),
        }
    }

    /// What goes into the archive: one [`LayoutEntry::Tree`] per module and the manifest, under
    /// [`ARCHIVE_TOP`] (the top folder itself is implied), sorted by archive path.
    pub fn layout(&self) -> Vec<LayoutEntry> {
        let mut out: Vec<LayoutEntry> = self
            .modules
            .iter()
            .map(|m| LayoutEntry::Tree {
                prefix: format!("{ARCHIVE_TOP}/{}", m.name),
                dir: m.dir.clone(),
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
