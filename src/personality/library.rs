//! Module libraries: where `bundle.toml`'s module names are looked up, in order.
//!
//! Reads the `BUNDLE_MODULES_PATH` environment variable and folder metadata; nothing else.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

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

/// The first library holding a folder named `name`: `(library, module folder)`.
pub fn find_in_libraries(name: &str, libraries: &[PathBuf]) -> Option<(PathBuf, PathBuf)> {
    libraries
        .iter()
        .map(|lib| (lib.clone(), lib.join(name)))
        .find(|(_, dir)| dir.is_dir())
}

/// The places a module named `name` was looked for, for messages: `a/java, b/java`.
pub fn looked_in(name: &str, personality: Option<&Path>, libraries: &[PathBuf]) -> String {
    personality
        .into_iter()
        .chain(libraries.iter().map(PathBuf::as_path))
        .map(|p| p.join(name).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
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
