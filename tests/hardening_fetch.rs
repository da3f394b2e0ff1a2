//! Issue 9's fetch holes, one regression test each, against hostile servers built here on
//! 127.0.0.1: a body that trickles past `--retry-for`, redirects that leak or downgrade, a full
//! disk, and messages that blamed the wrong thing (the passphrase for a spliced download, a
//! missing `--ca-file` that was given, a `Range` never sent, "HTTP 302" for a `file:` redirect).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use startup_bundle::exit::{Classify, Exit};
use startup_bundle::fetch::{FetchError, FetchOptions};

use crate::fetch::{assert_dir_empty, get, quick};
use crate::support::http::{Behaviour, Server, make_certs};
use crate::support::{
    ITER, PASS, Pass, boot, keygen, pack, pack_signed, personality, scratch, sha256_hex, tool,
};

const PATH: &str = "/b.enc";

/// Bytes that differ at every offset, seeded so two payloads differ everywhere too.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 7 + i / 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

// --- 7: one deadline for the whole fetch ---------------------------------------------------------

/// A byte every 100 ms never trips a 2 s stall timeout; before, it held the fetch for 40 s.
#[test]
fn a_trickling_body_cannot_outlast_retry_for() {
    let (srv, dir) = (Server::start(), scratch());
    srv.put(PATH, payload(400, 0));
    srv.script(PATH, vec![Behaviour::Slow { bytes_per_sec: 10 }]);
    let opts = FetchOptions {
        retry_for: Duration::from_secs(1),
        ..quick()
    };
    let started = Instant::now();
    let (result, _) = get(&srv.url(PATH), dir.path(), &opts);
    let err = result.expect_err("a body slower than --retry-for");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ran {:?} past a 1 s --retry-for",
        started.elapsed()
    );
    assert_eq!(err.exit(), Exit::Fetch);
    assert!(err.to_string().contains("--retry-for"), "{err}");
    assert!(err.to_string().contains(&srv.url(PATH)), "{err}");
    assert!(err.hint().unwrap().contains("--retry-for"));
    assert_dir_empty(dir.path());
}

/// The bundle and its `.minisig` each arrive within `--retry-for`, but not both: one budget.
#[test]
fn the_bundle_and_its_signature_share_one_retry_for() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let file = tmp.path().join("shop.bundle");
    pack_signed(&personality(tmp.path()), &file, &key, &[]).ok();
    let bundle = fs::read(&file).unwrap();
    let sig = fs::read(tmp.path().join("shop.bundle.minisig")).unwrap();
    let srv = Server::start();
    srv.put("/shop.bundle", bundle.clone());
    srv.put("/shop.bundle.minisig", sig.clone());
    // About 2 s each (twenty slices, 100 ms apart), against a 3 s budget for both.
    let two_seconds = |len: usize| Behaviour::Slow {
        bytes_per_sec: len.div_ceil(2),
    };
    srv.script("/shop.bundle", vec![two_seconds(bundle.len())]);
    srv.script("/shop.bundle.minisig", vec![two_seconds(sig.len())]);
    let started = Instant::now();
    let ran = boot(srv.url("/shop.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .pubkey(&key.b64)
        .args(["--retry-for", "3s"])
        .state_dir(&tmp.path().join("state"))
        .run();
    ran.code(2)
        .stderr_has("shop.bundle.minisig")
        .stderr_has("--retry-for");
    assert!(started.elapsed() < Duration::from_secs(8), "{ran}");
}

// --- 8: redirects ------------------------------------------------------------------------------

/// reqwest's default `Referer` carried the presigned query (credential, signature) onwards;
/// credentials in the URL must not cross to another origin either.
#[test]
fn a_redirect_carries_no_referer_and_no_credentials_across_origins() {
    let (first, second, dir) = (Server::start(), Server::start(), scratch());
    second.put("/c.enc", payload(1_000, 0));
    first.script(PATH, vec![Behaviour::Redirect(second.url("/c.enc"))]);
    let url = format!(
        "http://user:pw@127.0.0.1:{}{PATH}?X-Amz-Signature=d3adb33f",
        first.port()
    );
    let (result, _) = get(&url, dir.path(), &quick());
    result.expect("a loopback-to-loopback redirect is followed");
    let asked = first.requests();
    assert!(asked[0].header("authorization").is_some(), "{asked:?}");
    let followed = second.requests();
    assert_eq!(followed.len(), 1, "{followed:?}");
    assert_eq!(followed[0].header("referer"), None, "{followed:?}");
    assert_eq!(followed[0].header("authorization"), None, "{followed:?}");
}

#[test]
fn an_https_to_http_redirect_is_refused_and_named() {
    let (certs_dir, dir) = (scratch(), scratch());
    let certs = make_certs(certs_dir.path());
    let tls = Server::start_tls(&certs.cert, &certs.key);
    let plain = Server::start();
    plain.put("/c.enc", payload(1_000, 0));
    let target = plain.url("/c.enc");
    tls.script(PATH, vec![Behaviour::Redirect(target.clone())]);
    let opts = FetchOptions {
        ca_file: Some(certs.ca.clone()),
        ..quick()
    };
    let (result, lines) = get(&tls.url(PATH), dir.path(), &opts);
    let err = result.expect_err("a downgrade to http");
    assert_eq!(err.exit(), Exit::Fetch);
    let text = err.to_string();
    assert!(
        text.contains(&target) && text.contains("https to http"),
        "{text}"
    );
    assert!(lines.is_empty(), "retried a refused redirect: {lines:?}");
    assert!(plain.requests().is_empty(), "followed the downgrade");
    assert_dir_empty(dir.path());
}

/// Refused before connecting: nothing listens at 169.254.169.254 here, and nothing may try.
#[test]
fn a_redirect_to_link_local_is_refused_before_connecting() {
    let (srv, dir) = (Server::start(), scratch());
    let target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    srv.script(PATH, vec![Behaviour::Redirect(target.into())]);
    let started = Instant::now();
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    let err = result.expect_err("a redirect to the metadata service");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "tried to connect"
    );
    let text = err.to_string();
    assert!(
        text.contains(target) && text.contains("link-local"),
        "{text}"
    );
    assert_eq!(err.exit(), Exit::Fetch);
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.requests().len(), 1);
}

/// A `file:` Location cannot be followed; it was reported as a bare "HTTP 302 Found".
#[test]
fn a_redirect_to_a_file_url_is_refused_by_name() {
    let (srv, dir) = (Server::start(), scratch());
    srv.script(PATH, vec![Behaviour::Redirect("file:///etc/shadow".into())]);
    let (result, _) = get(&srv.url(PATH), dir.path(), &quick());
    let err = result.expect_err("a redirect to a local file");
    let text = err.to_string();
    assert!(text.contains("file:///etc/shadow"), "{text}");
    assert!(!text.contains("HTTP 302 Found from"), "{text}");
    assert_eq!(err.exit(), Exit::Fetch);
}

#[test]
fn an_error_after_a_redirect_names_where_it_led() {
    let (srv, dir) = (Server::start(), scratch());
    srv.script(PATH, vec![Behaviour::Redirect("/moved/gone.enc".into())]);
    let (result, _) = get(&srv.url(PATH), dir.path(), &quick());
    let err = result.expect_err("the target is missing");
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/moved/gone.enc"), "{err}");
}

/// An S3 GET carries `x-amz-security-token` and a signature for one host: before, a redirect
/// took them to another (reqwest strips only `Authorization`).
#[test]
fn an_s3_redirect_is_not_followed() {
    let tmp = scratch();
    let (s3, elsewhere) = (Server::start(), Server::start());
    let target = elsewhere.url("/collect");
    s3.script(
        "/bundles/shop.bundle",
        vec![Behaviour::Redirect(target.clone())],
    );
    let ran = boot("s3://bundles/shop.bundle")
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .args(["--endpoint-url", &s3.url(""), "--region", "us-east-1"])
        .args(["--retry-for", "3s"])
        .env("AWS_ACCESS_KEY_ID", "AKIAHARDENING")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_SESSION_TOKEN", "session-token-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .state_dir(&tmp.path().join("state"))
        .run();
    ran.code(2).stderr_has(&target);
    assert!(elsewhere.requests().is_empty(), "followed: {ran}");
    assert!(!ran.stderr.contains("session-token-secret"));
}

/// Not a regression test (the state folder already empties `downloads/` under the lock): a
/// guard for the other half of hole 7, a `.part` file left by a run killed mid-download.
#[test]
fn a_part_file_left_by_a_killed_run_is_removed() {
    let (tmp, srv) = (scratch(), Server::start());
    let state = tmp.path().join("state");
    let missing = || {
        boot(srv.url("/missing.bundle"))
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&state)
            .run()
    };
    missing().code(2);
    let left = state.join("downloads/.fetch-killed.part");
    fs::write(&left, b"half a bundle").unwrap();
    missing().code(2);
    assert!(!left.exists(), "the killed run's .part is still there");
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

#[test]
fn a_206_to_a_request_without_range_is_not_said_to_answer_one() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(5_000, 0);
    srv.put(PATH, body.clone());
    srv.script(PATH, vec![Behaviour::Unasked206, Behaviour::Ok]);
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    assert_eq!(result.expect("the second answer is whole").size, 5_000);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!lines[0].contains("bytes=0-"), "{lines:?}");
    assert!(lines[0].contains("without Range"), "{lines:?}");
}

/// Cut at 30 000 bytes, then the object is replaced: a resume must not glue the new object's
/// tail to the old one's head (that file would fail to decrypt, blamed on the passphrase).
#[test]
fn a_replaced_object_is_never_spliced() {
    let (old, new) = (payload(100_000, 1), payload(100_000, 2));
    for server_kind in ["honours If-Range", "ignores If-Range", "sends no ETag"] {
        let (srv, dir) = (Server::start(), scratch());
        srv.put(PATH, old.clone());
        match server_kind {
            "ignores If-Range" => srv.ignore_if_range(PATH),
            "sends no ETag" => srv.no_etag(PATH),
            _ => {}
        }
        srv.script(
            PATH,
            vec![Behaviour::CutAfter(30_000), Behaviour::Replace(new.clone())],
        );
        let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
        let fetched = result.expect(server_kind);
        assert_eq!(
            fetched.sha256_hex(),
            sha256_hex(&new),
            "{server_kind}: spliced; {lines:?}; {:?}",
            srv.requests()
        );
    }
}

/// The same end to end: a bundle republished mid-download boots as the new one, not exit 3.
#[test]
fn a_bundle_replaced_mid_download_boots_the_new_one() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let (first, second) = (tmp.path().join("a.bundle"), tmp.path().join("b.bundle"));
    pack(&dir, &first, &["--compression", "none"]);
    pack(&dir, &second, &["--compression", "none"]);
    let (first, second) = (fs::read(first).unwrap(), fs::read(second).unwrap());
    let srv = Server::start();
    srv.put("/shop.bundle", first.clone());
    srv.script(
        "/shop.bundle",
        vec![
            Behaviour::CutAfter(first.len() / 2),
            Behaviour::Replace(second.clone()),
        ],
    );
    boot(srv.url("/shop.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&tmp.path().join("state"))
        .run()
        .ok()
        .stderr_has(&format!("sha256 {}", sha256_hex(&second)));
}
