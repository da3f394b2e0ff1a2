//! The standard module library (`modules/` of this repository), built into `bundle` (see
//! `build.rs`) so that `modules = ["base", "rabbitmq"]` works from an installed binary. It is the
//! last library searched: a folder given with `--modules-path`, `BUNDLE_MODULES_PATH` or a local
//! `./modules` wins.
//!
//! The checks, digests and archive writer all read folders, so the library is written out once,
//! when a module is first looked up in it, into a private scratch folder that lives as long as
//! the [`BuiltIn`] value; files get fixed modes (0644, or 0755 when executable), so a module's
//! digest is the same on every machine. `bundle-bootstrap` never refers to it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::scratch::ScratchDir;

mod table {
    include!(concat!(env!("OUT_DIR"), "/modules.rs"));
}

/// The version of `bundle` whose library this is, recorded in the manifest's `origin`.
pub const BUILTIN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Mode of an extracted file without any executable bit.
const FILE_MODE: u32 = 0o644;
/// Mode of an executable file, and of every folder.
const EXEC_MODE: u32 = 0o755;

/// The built-in library, written out on first use.
#[derive(Debug, Default)]
pub struct BuiltIn {
    written: OnceLock<Result<ScratchDir, String>>,
}

impl BuiltIn {
    /// Whether the built-in library has a module or data folder named `name`.
    pub fn has(name: &str) -> bool {
        table::FILES.iter().any(|f| f.0 == name)
    }

    /// The names of its modules, sorted.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&str> = table::FILES.iter().map(|f| f.0).collect();
        names.dedup();
        names
    }

    /// The folder of module `name`, writing the library out first if this is the first look-up.
    /// `None` when there is no such module; an error when it could not be written.
    pub fn folder(&self, name: &str) -> Option<Result<PathBuf, String>> {
        if !Self::has(name) {
            return None;
        }
        let written = self.written.get_or_init(|| {
            write_out().map_err(|e| format!("cannot write the built-in module library: {e}"))
        });
        Some(match written {
            Ok(dir) => Ok(dir.path().join(name)),
            Err(e) => Err(e.clone()),
        })
    }
}

/// Writes every file of the table into a new private scratch folder.
fn write_out() -> io::Result<ScratchDir> {
    let scratch = ScratchDir::create("bundle-modules-")?;
    for (module, rel, mode, bytes) in table::FILES {
        let path = scratch.path().join(module).join(rel);
        if let Some(parent) = path.parent() {
            make_dirs(scratch.path(), parent)?;
        }
        fs::write(&path, bytes)?;
        let mode = if mode & 0o111 != 0 {
            EXEC_MODE
        } else {
            FILE_MODE
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(scratch)
}

/// Creates `dir` and its missing parents below `root`, each with [`EXEC_MODE`] whatever the umask.
fn make_dirs(root: &Path, dir: &Path) -> io::Result<()> {
    if dir == root || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(root, parent)?;
    }
    fs::DirBuilder::new().mode(EXEC_MODE).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(EXEC_MODE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_modules_are_built_in_and_written_out_once() {
        for name in ["base", "rabbitmq", "tinydns"] {
            assert!(BuiltIn::has(name), "{name}");
        }
        assert!(!BuiltIn::has("README.md") && !BuiltIn::has("nope"));
        let lib = BuiltIn::default();
        let base = lib.folder("base").unwrap().unwrap();
        assert!(base.join("start").is_file() && base.join("lib/pkg.sh").is_file());
        let mode = fs::metadata(base.join("start"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, EXEC_MODE);
        let again = lib.folder("erlang").unwrap().unwrap();
        assert_eq!(again.parent(), base.parent(), "written out once");
        assert!(lib.folder("nope").is_none());
        let root = base.parent().unwrap().to_path_buf();
        drop(lib);
        assert!(!root.exists(), "removed with the value");
    }
}
