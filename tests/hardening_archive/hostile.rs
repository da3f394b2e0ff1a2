//! Hostile inputs built by hand for the issue 9 tests: raw tar headers and PAX records, the real
//! `openssl enc` over them, and the ways the tests open and inspect what came out.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use startup_bundle::archive::{self, ArchiveError, Limits};
use tar::EntryType as T;

use crate::support::{ITER, PASS, Ran, bundle, run, run_with_stdin, tool};

pub(super) const TOP: &str = "start-up-bundle";
pub(super) const PASS_VAR: &str = "SB_PASS";
/// One tar entry: a GNU header with `path` in its name field (no checks), then `data`, padded.
pub(super) fn entry(out: &mut Vec<u8>, path: &[u8], kind: T, link: &[u8], data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_mode(if kind == T::Directory { 0o755 } else { 0o644 });
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A PAX extended header (POSIX.1-2001 `x`) whose records apply to the entry after it.
pub(super) fn pax(out: &mut Vec<u8>, records: &[(&str, &[u8])]) {
    let mut body = Vec::new();
    for (key, value) in records {
        // "%d %s=%s\n", where the length counts its own digits.
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {key}=").as_bytes());
        body.extend_from_slice(value);
        body.push(b'\n');
    }
    entry(out, b"PaxHeaders/x", T::XHeader, b"", &body);
}

/// The end-of-archive marker: two zero blocks.
pub(super) fn end(mut tar: Vec<u8>) -> Vec<u8> {
    tar.extend_from_slice(&[0; 1024]);
    tar
}

/// `plain` encrypted by the real `openssl enc` with the test passphrase and `--iter`.
pub(super) fn openssl_enc(plain: &[u8], file: &Path) -> PathBuf {
    run_with_stdin(
        tool("openssl")
            .args([
                "enc",
                "-aes-256-cbc",
                "-pbkdf2",
                "-md",
                "sha256",
                "-iter",
                ITER,
            ])
            .args(["-pass", &format!("env:{PASS_VAR}"), "-out"])
            .arg(file)
            .env(PASS_VAR, PASS),
        plain,
    )
    .ok();
    file.to_path_buf()
}

/// `bundle unpack FILE -C DIR` with the test passphrase and `--iter` (unless `extra` asks for the
/// legacy KDF), plus `extra`.
pub(super) fn unpack(file: &Path, dir: &Path, extra: &[&str]) -> Ran {
    let mut cmd = bundle();
    cmd.arg("unpack").arg(file).arg("-C").arg(dir);
    if !extra.contains(&"--legacy-kdf") {
        cmd.args(["--iter", ITER]);
    }
    run(cmd
        .args(["--pass", &format!("env:{PASS_VAR}")])
        .args(extra)
        .env(PASS_VAR, PASS))
}

/// Every path below `dir`, sorted.
pub(super) fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(list) = fs::read_dir(&d) else { continue };
        for item in list {
            let path = item.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path);
            }
        }
    }
    out.sort();
    out
}

pub(super) fn unpack_lib(
    tar: Vec<u8>,
    dest: &Path,
    limits: &Limits,
) -> Result<archive::Unpacked, ArchiveError> {
    archive::unpack(io::Cursor::new(tar), dest, limits, &|_| {})
}

/// Polls `f` for up to 30 s.
pub(super) fn wait_for<R>(mut f: impl FnMut() -> Option<R>) -> R {
    let start = Instant::now();
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}
