//! Target `unpack`: arbitrary bytes (gzip, zstd or plain tar, or anything else) into
//! [`startup_bundle::archive::unpack`], in a fresh folder per input. Checks that it never panics
//! and that, whatever it returned:
//! - nothing was written outside the folder: a canary file beside it is unchanged, and the
//!   folders above hold nothing new (no leftover `.out.partial-*` either);
//! - when it succeeded, every symlink it made resolves inside the unpacked folder (following other
//!   symlinks as the kernel would), no file or folder has a setuid, setgid or sticky bit or is a
//!   device, fifo or socket, the limits held, the folder is private (0700), and progress only grew.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Cursor;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use startup_bundle::archive::{Limits, Unpacked, unpack};

use crate::Verdict;
use crate::scratch::Scratch;
use crate::walk;

/// Small caps, so a decompression bomb costs milliseconds, not gigabytes.
pub const LIMITS: Limits = Limits {
    max_bytes: 8 << 20,
    max_entries: 1000,
};

/// The canary's name and content; it sits beside the folder `unpack` writes into.
const CANARY: &str = "canary";
const CANARY_CONTENT: &[u8] = b"an archive that changes this escaped its folder\n";
/// The folder `unpack` gets as `dest`'s parent, and `dest`'s name inside it.
const PARENT: &str = "parent";
const DEST: &str = "out";
/// What `unpack` promises for the folder it makes (DESIGN.md: private until the runner is done).
const PRIVATE_DIR_MODE: u32 = 0o700;
/// Permission bits; anything above (setuid 0o4000, setgid 0o2000, sticky 0o1000) must be dropped.
const PERMISSION_BITS: u32 = 0o777;

/// Unpacks one input in a fresh folder and checks what it left. Panics on a broken invariant.
pub fn check(data: &[u8]) -> Verdict {
    let scratch = match Scratch::new("unpack") {
        Ok(s) => s,
        Err(e) => panic!("cannot make a scratch folder (not a finding; fix the machine): {e}"),
    };
    let top = fs::canonicalize(scratch.path()).unwrap_or_else(|_| scratch.path().to_path_buf());
    let canary = top.join(CANARY);
    let parent = top.join(PARENT);
    let dest = parent.join(DEST);
    if let Err(e) = fs::write(&canary, CANARY_CONTENT).and_then(|()| fs::create_dir(&parent)) {
        panic!("cannot set up {} (not a finding): {e}", top.display());
    }

    let progress = Progress::default();
    let report = |n: u64| progress.heard(n);
    let result = unpack(Cursor::new(data.to_vec()), &dest, &LIMITS, &report);

    check_canary(&canary);
    assert_eq!(
        names(&top),
        BTreeSet::from([CANARY.to_owned(), PARENT.to_owned()]),
        "something appeared beside the unpack folder's parent"
    );
    let expected: BTreeSet<String> = match &result {
        Ok(_) => BTreeSet::from([DEST.to_owned()]),
        Err(_) => BTreeSet::new(),
    };
    assert_eq!(
        names(&parent),
        expected,
        "the unpack folder's parent holds something unexpected after {:?}",
        result.as_ref().map(|_| ()).map_err(|e| e.to_string())
    );
    assert!(
        !progress.went_back.load(Ordering::Relaxed),
        "progress went backwards"
    );
    match result {
        Ok(unpacked) => {
            check_unpacked(&unpacked, &dest, progress.most.load(Ordering::Relaxed));
            Verdict::Accepted
        }
        Err(_) => Verdict::Refused,
    }
}

/// The highest byte count the progress callback heard, and whether it ever went down.
#[derive(Default)]
struct Progress {
    most: AtomicU64,
    went_back: AtomicBool,
}

impl Progress {
    fn heard(&self, n: u64) {
        if self.most.fetch_max(n, Ordering::Relaxed) > n {
            self.went_back.store(true, Ordering::Relaxed);
        }
    }
}

fn check_canary(canary: &Path) {
    let meta = match fs::symlink_metadata(canary) {
        Ok(m) => m,
        Err(e) => panic!("the canary beside the unpack folder is gone: {e}"),
    };
    assert!(meta.is_file(), "the canary was replaced by something else");
    assert_eq!(
        fs::read(canary).ok().as_deref(),
        Some(CANARY_CONTENT),
        "the canary's content changed"
    );
}

/// The names in a folder.
fn names(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    }
}

/// What a successful unpack must have made.
fn check_unpacked(unpacked: &Unpacked, dest: &Path, progress: u64) {
    assert_eq!(unpacked.root, dest, "unpack reports another folder");
    assert!(
        unpacked.entries <= LIMITS.max_entries,
        "more entries than the limit: {unpacked:?}"
    );
    assert!(
        unpacked.bytes <= LIMITS.max_bytes,
        "more bytes than the limit: {unpacked:?}"
    );
    assert!(
        progress <= unpacked.bytes,
        "progress heard {progress} bytes: {unpacked:?}"
    );
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) => panic!("unpack succeeded but {} is missing: {e}", dest.display()),
    };
    assert!(meta.is_dir(), "{} is not a folder", dest.display());
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        PRIVATE_DIR_MODE,
        "the unpacked folder is not private"
    );
    let tree = match walk::tree(dest) {
        Ok(t) => t,
        Err(e) => panic!("cannot walk {}: {e}", dest.display()),
    };
    let mut inodes = HashSet::new();
    let mut file_bytes = 0u64;
    for (path, meta) in &tree {
        let kind = meta.file_type();
        assert!(
            kind.is_dir() || kind.is_file() || kind.is_symlink(),
            "{} is a device, fifo or socket",
            path.display()
        );
        if kind.is_symlink() {
            if let Err(why) = walk::resolve_inside(dest, path) {
                panic!("symlink escape: {why}");
            }
            continue;
        }
        assert_eq!(
            meta.permissions().mode() & 0o7777 & !PERMISSION_BITS,
            0,
            "{} kept a setuid, setgid or sticky bit",
            path.display()
        );
        if kind.is_file() && inodes.insert((meta.dev(), meta.ino())) {
            file_bytes += meta.len();
        }
    }
    assert!(
        file_bytes <= unpacked.bytes,
        "{file_bytes} bytes on disk but unpack counted {}",
        unpacked.bytes
    );
}
