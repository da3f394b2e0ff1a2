//! The state dir's small files: init records (`STATE/init/`), run ids and their log folders
//! (`STATE/logs/<run-id>/`), UTC timestamps, and atomic writes (temp + rename).
//!
//! The lock and the status file have their own files; this one never runs a script.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::RunError;

/// Folder of init records inside the state dir.
pub const INIT_DIR: &str = "init";
/// Folder of per-run log folders inside the state dir.
pub const LOGS_DIR: &str = "logs";

/// The state dir's `init/` folder.
pub fn init_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(INIT_DIR)
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never half of one:
/// a temp file in the same folder, synced, then renamed over `path`.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| -> io::Result<()> {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(RunError::io("write", temp)(source));
    }
    fs::rename(&temp, path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        RunError::io("write", path)(source)
    })
}

/// The file that records `module`'s init at `digest`: `init/<module>@<digest>`, with any byte that is
/// not safe in a file name replaced by `_` (the file's content holds the exact pair).
pub fn init_record_path(state_dir: &Path, module: &str, digest: &str) -> PathBuf {
    init_dir(state_dir).join(format!("{}@{}", file_safe(module), file_safe(digest)))
}

/// `text` usable as (part of) one file name: every character other than ASCII letters, digits and
/// `-_.+` becomes `_`, so no name can climb out of its folder.
pub fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The content of an init record: exactly which module and digest it stands for.
fn init_record_text(module: &str, digest: &str) -> String {
    format!("module={module}\ndigest={digest}\n")
}

/// Whether `module`'s init has already succeeded at `digest` on this machine.
pub fn init_done(state_dir: &Path, module: &str, digest: &str) -> bool {
    fs::read_to_string(init_record_path(state_dir, module, digest))
        .is_ok_and(|text| text.starts_with(&init_record_text(module, digest)))
}

/// Records that `module`'s init succeeded at `digest` (atomically: a crash leaves no half record).
pub fn record_init(
    state_dir: &Path,
    module: &str,
    digest: &str,
    run_id: &str,
) -> Result<(), RunError> {
    let text = format!(
        "{}run={run_id}\nfinished={}\n",
        init_record_text(module, digest),
        rfc3339(SystemTime::now())
    );
    atomic_write(
        &init_record_path(state_dir, module, digest),
        text.as_bytes(),
    )
}

/// Creates the state dir's folders.
pub fn prepare(state_dir: &Path) -> Result<(), RunError> {
    for dir in [init_dir(state_dir), state_dir.join(LOGS_DIR)] {
        fs::create_dir_all(&dir).map_err(RunError::io("create", dir))?;
    }
    Ok(())
}

/// Picks this run's id, `YYYYMMDDTHHMMSSZ-<pid>`, and creates its log folder. A second run in the
/// same second of the same process gets `-2`, `-3`…: `create_dir` claims the name atomically.
pub fn new_run(state_dir: &Path, now: SystemTime) -> Result<(String, PathBuf), RunError> {
    let base = format!("{}-{}", crate::date::compact(now), std::process::id());
    let logs = state_dir.join(LOGS_DIR);
    let mut n = 1u32;
    loop {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = logs.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(RunError::io("create", dir)(e)),
        }
    }
}

/// RFC 3339 UTC, to the second: `2024-05-01T12:34:56Z`.
pub fn rfc3339(t: SystemTime) -> String {
    crate::date::rfc3339(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_safe_and_exact() {
        let dir = Path::new("/s");
        assert_eq!(
            init_record_path(dir, "../x", "sha256:ab"),
            Path::new("/s/init/.._x@sha256_ab")
        );
    }
}
