//! Unpacked releases: `STATE/releases/<sha256>/` (what the extractor wrote), beside it
//! `<sha256>.json` (the record of what was verified and decrypted here), and `STATE/current`, the
//! link to the release of the last successful run.
//!
//! A release folder is only ever re-used — by a later boot, `rerun`, `rollback` or an offline boot
//! — when its record exists: the record is written by this tool, in a folder only we can write,
//! right after the bytes it names were verified, decrypted and unpacked on this machine. A folder
//! someone else put there has no record and is never run.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, PRIVATE_FILE_MODE};

use super::error::StateError;
use super::status::SignedInfo;

/// How many unpacked releases are kept (the current one, and the one in use, always among them).
pub const KEEP_RELEASES: usize = 3;
/// Suffix of a release's record file.
const RECORD_SUFFIX: &str = ".json";
/// A record is a few hundred bytes; anything much larger is not one.
const MAX_RECORD: u64 = 64 * 1024;
/// Hex digits of a sha256.
const SHA256_HEX_LEN: usize = 64;

/// What this machine verified and unpacked: the proof that a release folder may be run again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// sha256 of the bundle file (the folder's name).
    pub sha256: String,
    /// sha256 of the `bundle.json` as unpacked; the folder is re-used only while it still matches.
    /// `None` for a bundle without a manifest, which is never re-used.
    pub manifest_sha256: Option<String>,
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// Where it was fetched from (redacted).
    pub source: String,
    /// What its signature vouched for, when signed.
    pub signed: Option<SignedInfo>,
    /// When it was verified and unpacked here, RFC 3339.
    pub verified_at: String,
    /// When it was last applied successfully here, RFC 3339.
    #[serde(default)]
    pub applied_at: Option<String>,
    /// How its URL answered the download that brought it, for `watch`'s conditional GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_as: Option<FetchedAs>,
}

/// The validators a server gave with a release's bytes (`ETag`, `Last-Modified`): a later poll
/// of the same URL sends them back, and a server that still has these bytes answers 304.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedAs {
    /// sha256 of the URL as given, query included: the validators hold for that URL alone, and a
    /// presigned URL's credentials are not written down.
    pub url_sha256: String,
    /// The answer's entity-tag, as sent.
    pub etag: Option<String>,
    /// The answer's `Last-Modified`, as sent.
    pub last_modified: Option<String>,
}

/// The releases of one state folder.
#[derive(Debug, Clone)]
pub struct Releases {
    dir: PathBuf,
    current: PathBuf,
}

impl Releases {
    pub(super) fn new(dir: PathBuf, current: PathBuf) -> Releases {
        Releases { dir, current }
    }

    /// The folder of the release `sha256` (which must be 64 hex digits: the caller computed it).
    pub fn dir(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    fn record_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}{RECORD_SUFFIX}"))
    }

    /// The record of `sha256`, when this machine verified and unpacked it and its folder is still
    /// a private folder of ours.
    pub fn record(&self, sha256: &str) -> Option<ReleaseRecord> {
        if !is_sha256(sha256) || fsutil::check_private_dir(&self.dir(sha256)).is_err() {
            return None;
        }
        let mut text = Vec::new();
        fs::File::open(self.record_path(sha256))
            .and_then(|f| f.take(MAX_RECORD).read_to_end(&mut text))
            .ok()?;
        let record: ReleaseRecord = serde_json::from_slice(&text).ok()?;
        (record.sha256 == sha256).then_some(record)
    }

    /// Writes the record of a release just verified and unpacked (or just applied).
    pub fn write_record(&self, record: &ReleaseRecord) -> Result<(), StateError> {
        let path = self.record_path(&record.sha256);
        let mut text = serde_json::to_vec_pretty(record).unwrap_or_default();
        text.push(b'\n');
        fsutil::atomic_write(&path, &text, PRIVATE_FILE_MODE)
            .map_err(StateError::io("write", &path))
    }

    /// Keeps with the release `sha256` how its URL answered (see [`FetchedAs`]); nothing when
    /// this machine has no record of it.
    pub fn remember_fetch(&self, sha256: &str, fetched_as: FetchedAs) -> Result<(), StateError> {
        match self.record(sha256) {
            Some(record) if record.fetched_as.as_ref() != Some(&fetched_as) => {
                self.write_record(&ReleaseRecord {
                    fetched_as: Some(fetched_as),
                    ..record
                })
            }
            _ => Ok(()),
        }
    }

    /// Removes a release's folder and record (a changed or untrusted folder).
    pub fn remove(&self, sha256: &str) -> Result<(), StateError> {
        let record = self.record_path(sha256);
        if let Err(e) = fs::remove_file(&record)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(StateError::io("remove", record)(e));
        }
        let dir = self.dir(sha256);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {
                fs::remove_dir_all(&dir).map_err(StateError::io("remove", &dir))
            }
            Ok(_) => fs::remove_file(&dir).map_err(StateError::io("remove", &dir)),
            Err(_) => Ok(()),
        }
    }

    /// The sha256 `current` points at, when it points at a release folder.
    pub fn current(&self) -> Option<String> {
        let target = fs::read_link(&self.current).ok()?;
        let name = target.file_name()?.to_str()?.to_string();
        let expected = Path::new(super::RELEASES_DIR).join(&name);
        (target == expected && is_sha256(&name)).then_some(name)
    }

    /// Points `current` at the release `sha256`, atomically and durably, and stamps its record as
    /// applied now.
    pub fn set_current(&self, sha256: &str) -> Result<(), StateError> {
        let target = Path::new(super::RELEASES_DIR).join(sha256);
        fsutil::atomic_symlink(&target, &self.current)
            .map_err(StateError::io("write", &self.current))?;
        if let Some(mut record) = self.record(sha256) {
            record.applied_at = Some(crate::date::rfc3339(SystemTime::now()));
            self.write_record(&record)?;
        }
        Ok(())
    }

    /// Every release kept here with a record, most recently verified first.
    pub fn list(&self) -> Vec<ReleaseRecord> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<ReleaseRecord> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|name| is_sha256(name))
            .filter_map(|sha| self.record(&sha))
            .collect();
        found.sort_by(|a, b| b.verified_at.cmp(&a.verified_at));
        found
    }

    /// Marks a release as used now, so pruning keeps the most recently used ones.
    pub fn touch(&self, sha256: &str) {
        if let Ok(dir) = fs::File::open(self.dir(sha256)) {
            let _ = dir.set_modified(SystemTime::now());
        }
    }

    /// Keeps the [`KEEP_RELEASES`] most recently used releases. Never removes `current`'s, nor any
    /// in `protect` (the release this run uses), nor anything that is not a release folder.
    /// Returns the sha256 of every release removed.
    pub fn prune(&self, protect: &[&str]) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let current = self.current();
        let keep_always = |name: &str| protect.contains(&name) || current.as_deref() == Some(name);
        let mut found: Vec<(SystemTime, String)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let meta = e.metadata().ok()?;
                (is_sha256(&name) && meta.is_dir()).then_some((meta.modified().ok()?, name))
            })
            .collect();
        found.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        let kept_always = found.iter().filter(|(_, n)| keep_always(n)).count();
        let room = KEEP_RELEASES.saturating_sub(kept_always);
        found
            .into_iter()
            .filter(|(_, n)| !keep_always(n))
            .skip(room)
            .filter(|(_, sha)| self.remove(sha).is_ok())
            .map(|(_, sha)| sha)
            .collect()
    }
}

/// Whether `name` is 64 lower-case hex digits (a release folder's name).
fn is_sha256(name: &str) -> bool {
    name.len() == SHA256_HEX_LEN && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(n: u8) -> String {
        format!("{:064x}", n)
    }

    #[test]
    fn never_prunes_current_or_the_one_in_use() {
        let tmp = crate::scratch::ScratchDir::create("sb-releases-").unwrap();
        let rel = Releases::new(tmp.path().join("releases"), tmp.path().join("current"));
        fs::create_dir(tmp.path().join("releases")).unwrap();
        for n in 1..=6 {
            fs::create_dir(rel.dir(&sha(n))).unwrap();
            let at = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(1_700_000_000 + u64::from(n));
            fs::File::open(rel.dir(&sha(n)))
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        rel.set_current(&sha(1)).unwrap();
        assert_eq!(rel.current(), Some(sha(1)));
        let removed = rel.prune(&[&sha(2)]);
        // 1 (current) and 2 (in use) stay, and one more: the newest, 6.
        assert_eq!(removed.len(), 3, "{removed:?}");
        for n in [1, 2, 6] {
            assert!(rel.dir(&sha(n)).is_dir(), "{n}");
        }
    }
}
