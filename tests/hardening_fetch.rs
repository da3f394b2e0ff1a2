//! Issue 9's fetch holes, one regression test each, against hostile servers built here on
//! 127.0.0.1: a body that trickles past `--retry-for`, redirects that leak or downgrade, a full
//! disk, and messages that blamed the wrong thing (the passphrase for a spliced download, a
//! missing `--ca-file` that was given, a `Range` never sent, "HTTP 302" for a `file:` redirect).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use startup_bundle::exit::Classify;
use startup_bundle::fetch::{self, FetchError, FetchOptions, Fetched};

use crate::support::http::{Server, make_certs};
use crate::support::{ITER, PASS, Pass, boot, scratch, tool};

const PATH: &str = "/b.enc";

/// Small timeouts and backoff so failures are quick.
fn quick() -> FetchOptions {
    FetchOptions {
        retry_for: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(2),
        max_size: 1 << 20,
        backoff_start: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..FetchOptions::default()
    }
}

/// Bytes that differ at every offset, seeded so two payloads differ everywhere too.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 + i / 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

fn get(url: &str, dir: &Path, opts: &FetchOptions) -> (Result<Fetched, FetchError>, Vec<String>) {
    let mut lines = Vec::new();
    let result = fetch::fetch(url, dir, opts, &mut |line| lines.push(line.to_string()));
    (result, lines)
}

// --- 16: a full disk is a local problem ----------------------------------------------------------

/// A tmpfs mounted for the test, unmounted when dropped (the suite runs as root).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let ran = crate::support::run(
            tool("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
                .arg("tmpfs")
                .arg(dir),
        );
        assert_eq!(
            ran.code,
            Some(0),
            "this test mounts a small tmpfs and must run as root (CI does): {ran}"
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = tool("umount").arg("-l").arg(&self.0).status();
    }
}

/// No space left while downloading said "fetch failed" (exit 2): nothing a retry could fix.
#[test]
fn a_full_disk_is_a_local_error_that_says_free_space() {
    let tmp = scratch();
    let disk = tmp.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let _mounted = Tmpfs::mount(&disk, "512k");
    let srv = Server::start();
    srv.put(PATH, payload(2 << 20, 0));
    let state = disk.join("state");
    let ran = boot(srv.url(PATH))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .args(["--retry-for", "3s"])
        .state_dir(&state)
        .run();
    ran.code(1)
        .stderr_has("free space")
        .stderr_has(&state.join("downloads").display().to_string());
    assert_eq!(srv.requests().len(), 1, "retried a full disk");
}

// --- 17: messages that blamed the wrong thing --------------------------------------------------

#[test]
fn a_tls_failure_with_a_ca_file_does_not_ask_for_one() {
    let (ours, other, dir) = (scratch(), scratch(), scratch());
    let certs = make_certs(ours.path());
    let unrelated = make_certs(other.path());
    let srv = Server::start_tls(&certs.cert, &certs.key);
    srv.put(PATH, payload(100, 0));
    let opts = FetchOptions {
        ca_file: Some(unrelated.ca.clone()),
        ..quick()
    };
    let (result, _) = get(&srv.url(PATH), dir.path(), &opts);
    let err = result.expect_err("signed by another CA");
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    let hint = err.hint().unwrap();
    assert!(!hint.contains("add --ca-file"), "{hint}");
    assert!(hint.contains(&unrelated.ca.display().to_string()), "{hint}");
}
