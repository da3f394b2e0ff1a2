//! The state dir's small files: init records (`STATE/init/`), run ids and their log folders
//! (`STATE/logs/<run-id>/`), UTC timestamps, and atomic writes (temp + rename).
//!
//! The lock and the status file have their own files; this one never runs a script.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::RunError;

/// Folder of init records inside the state dir.
pub const INIT_DIR: &str = "init";
/// Folder of per-run log folders inside the state dir.
pub const LOGS_DIR: &str = "logs";
/// Folder of the modules' own state folders inside the state dir: `modules/<module>/`, created
/// (mode 0700) before each script runs and given to it as `BUNDLE_MODULE_STATE_DIR`.
pub const MODULES_DIR: &str = "modules";
/// Mode of the folders made under [`MODULES_DIR`]: root's alone, like the rest of the state dir.
pub const MODULE_STATE_MODE: u32 = 0o700;

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
    let base = format!("{}-{}", compact_utc(now), std::process::id());
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

/// The civil UTC date and time of `t`: (year, month, day, hour, minute, second).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    // Times before 1970 do not happen on a booting instance; they print as the epoch.
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to a proleptic Gregorian date: Howard Hinnant's "civil_from_days" algorithm
    // (http://howardhinnant.github.io/date_algorithms.html), eras of 400 years from 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // All of these are small by construction (day ≤ 31, month ≤ 12, rem < 86400).
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    let rem = small(i64::try_from(rem).unwrap_or(0));
    (
        year,
        small(month),
        small(day),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// RFC 3339 UTC, to the second: `2024-05-01T12:34:56Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The compact form used in run ids: `20240501T123456Z`.
fn compact_utc(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn utc_dates() {
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400` (a leap day) and `date -u -d @1700000000`.
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(at(4_102_444_799)), "2099-12-31T23:59:59Z");
        assert_eq!(compact_utc(at(1_700_000_000)), "20231114T221320Z");
    }

    #[test]
    fn record_names_are_safe_and_exact() {
        let dir = Path::new("/s");
        assert_eq!(
            init_record_path(dir, "../x", "sha256:ab"),
            Path::new("/s/init/.._x@sha256_ab")
        );
    }
}
