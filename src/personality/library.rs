//! Module libraries: where `bundle.toml`'s module names are looked up, in order.
//!
//! Reads the `BUNDLE_MODULES_PATH` environment variable and folder metadata; the built-in library
//! is written out by `builtin.rs` when a look-up first reaches it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::builtin::{BUILTIN_VERSION, BuiltIn};
use super::module::Origin;

/// The environment variable listing module libraries, colon-separated like `PATH`.
pub const MODULES_PATH_ENV: &str = "BUNDLE_MODULES_PATH";
/// The library used when neither `--modules-path` nor [`MODULES_PATH_ENV`] is given, relative to
/// the current folder (the repo's shared `modules/`).
pub const DEFAULT_LIBRARY: &str = "./modules";

/// The module libraries to search, in order: the `--modules-path` values if any, else
/// `BUNDLE_MODULES_PATH` (colon-separated; empty entries ignored), else `./modules`.
pub fn library_paths(flag: &[PathBuf]) -> Vec<PathBuf> {
    library_paths_from(flag, std::env::var_os(MODULES_PATH_ENV).as_deref())
}

/// [`library_paths`] with the environment value passed in, for callers and tests that must not
/// depend on the process environment.
pub fn library_paths_from(flag: &[PathBuf], env: Option<&OsStr>) -> Vec<PathBuf> {
    if !flag.is_empty() {
        return flag.to_vec();
    }
    let from_env: Vec<PathBuf> = env
        .map(|v| {
            std::env::split_paths(v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if from_env.is_empty() {
        vec![PathBuf::from(DEFAULT_LIBRARY)]
    } else {
        from_env
    }
}

/// Where library modules come from, in order: folders (`--modules-path`, `BUNDLE_MODULES_PATH`
/// or `./modules`), then — unless left out — the library built into `bundle`.
#[derive(Debug, Default)]
pub struct Libraries {
    folders: Vec<PathBuf>,
    builtin: Option<BuiltIn>,
}

impl Libraries {
    /// `folders`, then the built-in library: what `bundle check`, `pack` and `try` search.
    pub fn with_builtin(folders: Vec<PathBuf>) -> Libraries {
        Libraries {
            folders,
            builtin: Some(BuiltIn::default()),
        }
    }

    /// Only `folders`: nothing built in.
    pub fn folders_only(folders: Vec<PathBuf>) -> Libraries {
        Libraries {
            folders,
            builtin: None,
        }
    }

    /// Every library holding a folder named `name`, in search order (the first one is used; the
    /// others are shadowed by it). A built-in library that could not be written out is an error.
    pub fn find_all(&self, name: &str) -> Result<Vec<(Origin, PathBuf)>, String> {
        let mut found: Vec<(Origin, PathBuf)> = self
            .folders
            .iter()
            .map(|lib| (Origin::Library(lib.clone()), lib.join(name)))
            .filter(|(_, dir)| dir.is_dir())
            .collect();
        if let Some(folder) = self.builtin.as_ref().and_then(|b| b.folder(name)) {
            found.push((Origin::BuiltIn, folder?));
        }
        Ok(found)
    }

    /// The first library holding a folder named `name`: where it comes from and the folder.
    pub fn find(&self, name: &str) -> Option<(Origin, PathBuf)> {
        self.find_all(name).ok()?.into_iter().next()
    }

    /// The places a module named `name` was looked for, for messages:
    /// `a/java, b/java, the built-in library`.
    pub fn looked_in(&self, name: &str, personality: Option<&Path>) -> String {
        let mut places: Vec<String> = personality
            .into_iter()
            .chain(self.folders.iter().map(PathBuf::as_path))
            .map(|p| p.join(name).display().to_string())
            .collect();
        if self.builtin.is_some() {
            places.push(format!(
                "the built-in library (bundle {BUILTIN_VERSION}: {})",
                BuiltIn::names().join(", ")
            ));
        }
        places.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_default() {
        let flag = vec![PathBuf::from("/f1"), PathBuf::from("/f2")];
        let env = Some(OsStr::new("/e1:/e2"));
        assert_eq!(library_paths_from(&flag, env), flag);
        assert_eq!(
            library_paths_from(&[], env),
            [PathBuf::from("/e1"), PathBuf::from("/e2")]
        );
        assert_eq!(library_paths_from(&[], None), [PathBuf::from("./modules")]);
        assert_eq!(
            library_paths_from(&[], Some(OsStr::new(""))),
            [PathBuf::from("./modules")]
        );
        assert_eq!(
            library_paths_from(&[], Some(OsStr::new(":/e1::"))),
            [PathBuf::from("/e1")]
        );
    }
}
