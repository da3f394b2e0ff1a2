//! Fetch against the fault-injecting server in `support::http`: retries, resume, caps, TLS with a
//! CA made by the real `openssl`, local files, and redaction of presigned URLs.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use startup_bundle::exit::{Classify, Exit};
use startup_bundle::fetch::{self, FetchError, FetchOptions, Fetched, Overrun};

use crate::support::http::{Behaviour, Server, make_certs};
use crate::support::{scratch, sha256_hex};

const PATH: &str = "/b.enc";

/// Small timeouts and backoff so failures are quick.
pub(crate) fn quick() -> FetchOptions {
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

/// Bytes that differ at every offset, so a resume from the wrong place changes the hash.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Runs a fetch, collecting the log lines.
pub(crate) fn get(
    url: &str,
    dir: &Path,
    opts: &FetchOptions,
) -> (Result<Fetched, FetchError>, Vec<String>) {
    let mut lines = Vec::new();
    let result = fetch::fetch(url, dir, opts, &mut |line| lines.push(line.to_string()));
    (result, lines)
}

#[track_caller]
fn assert_fetched(fetched: &Fetched, dir: &Path, expected: &[u8]) {
    assert_eq!(fetched.size, expected.len() as u64);
    assert_eq!(
        fetched.sha256_hex(),
        sha256_hex(expected),
        "sha256 of the download"
    );
    assert_eq!(fs::read(&fetched.path).unwrap(), expected);
    assert_eq!(
        fetched.path.parent(),
        Some(dir),
        "temp file inside dest_dir"
    );
    let mode = fs::metadata(&fetched.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "temp file is private");
}

#[track_caller]
pub(crate) fn assert_dir_empty(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "temp file left behind: {left:?}");
}

#[test]
fn a_503_is_retried_with_one_log_line() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(5_000);
    srv.put(PATH, body.clone());
    srv.script(PATH, vec![Behaviour::Status(503), Behaviour::Ok]);
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    let fetched = result.expect("fetch after one 503");
    assert_fetched(&fetched, dir.path(), &body);
    assert_eq!(fetched.name, "b.enc");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let want = format!(
        "fetch: attempt 1 failed: HTTP 503 Service Unavailable from {}; retrying in ",
        srv.url(PATH)
    );
    assert!(lines[0].starts_with(&want), "{lines:?}");
    assert!(lines[0].ends_with("of --retry-for left)"), "{lines:?}");
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn a_429_retry_after_is_honoured() {
    let (srv, dir) = (Server::start(), scratch());
    srv.put(PATH, payload(100));
    srv.script(
        PATH,
        vec![Behaviour::RetryAfter {
            status: 429,
            secs: 1,
        }],
    );
    let started = Instant::now();
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    result.expect("fetch after a 429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "slept less than Retry-After"
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("HTTP 429 Too Many Requests"), "{lines:?}");
    assert!(lines[0].contains("retrying in 1.0s"), "{lines:?}");
}

#[test]
fn a_cut_body_resumes_with_range() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(100_000);
    srv.put(PATH, body.clone());
    srv.script(PATH, vec![Behaviour::CutAfter(30_000), Behaviour::Ok]);
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    assert_fetched(&result.expect("resumed fetch"), dir.path(), &body);
    let requests = srv.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].range, None);
    assert_eq!(requests[1].range.as_deref(), Some("bytes=30000-"));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("30000"), "{lines:?}");
}

#[test]
fn a_cut_body_restarts_when_the_server_has_no_ranges() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(100_000);
    srv.put(PATH, body.clone());
    srv.no_ranges(PATH);
    srv.script(PATH, vec![Behaviour::CutAfter(30_000), Behaviour::Ok]);
    let (result, _) = get(&srv.url(PATH), dir.path(), &quick());
    assert_fetched(&result.expect("restarted fetch"), dir.path(), &body);
    let ranges: Vec<_> = srv.requests().into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, vec![None, None]);
}

#[test]
fn a_206_from_the_wrong_offset_restarts_from_zero() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(100_000);
    srv.put(PATH, body.clone());
    srv.script(
        PATH,
        vec![
            Behaviour::CutAfter(30_000),
            Behaviour::WrongRange,
            Behaviour::Ok,
        ],
    );
    let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
    assert_fetched(&result.expect("restarted fetch"), dir.path(), &body);
    let ranges: Vec<_> = srv.requests().into_iter().map(|r| r.range).collect();
    assert_eq!(ranges, vec![None, Some("bytes=30000-".into()), None]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("starting again from zero"), "{lines:?}");
}

#[test]
fn a_stall_is_retried_and_resumed() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(100_000);
    srv.put(PATH, body.clone());
    srv.script(
        PATH,
        vec![Behaviour::Stall(Duration::from_secs(3)), Behaviour::Ok],
    );
    let opts = FetchOptions {
        stall_timeout: Duration::from_millis(300),
        ..quick()
    };
    let started = Instant::now();
    let (result, lines) = get(&srv.url(PATH), dir.path(), &opts);
    assert_fetched(&result.expect("fetch after a stall"), dir.path(), &body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited out the stall"
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("no data from"), "{lines:?}");
    assert_eq!(srv.requests()[1].range.as_deref(), Some("bytes=50000-"));
}

#[test]
fn a_slow_but_steady_body_is_not_a_stall() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(8_000);
    srv.put(PATH, body.clone());
    srv.script(
        PATH,
        vec![Behaviour::Slow {
            bytes_per_sec: 10_000,
        }],
    );
    // The whole body takes about 0.8 s, longer than the stall timeout; no single gap does.
    let opts = FetchOptions {
        stall_timeout: Duration::from_millis(400),
        ..quick()
    };
    let started = Instant::now();
    let (result, lines) = get(&srv.url(PATH), dir.path(), &opts);
    assert_fetched(&result.expect("slow fetch"), dir.path(), &body);
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "was not slow"
    );
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn a_refused_port_is_retried_until_the_budget_runs_out() {
    let dir = scratch();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let opts = FetchOptions {
        retry_for: Duration::from_millis(600),
        ..quick()
    };
    let started = Instant::now();
    let (result, lines) = get(&format!("http://127.0.0.1:{port}/b.enc"), dir.path(), &opts);
    let err = result.expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "overran the budget"
    );
    assert!(matches!(err, FetchError::GaveUp { .. }), "{err:?}");
    assert_eq!(err.exit(), Exit::Fetch);
    assert!(err.hint().unwrap().contains("--retry-for"));
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines[0].starts_with("fetch: attempt 1 failed: cannot connect to http://127.0.0.1:"));
    assert_dir_empty(dir.path());
}

#[test]
fn a_404_or_403_fails_at_once_with_a_hint() {
    for (status, hint) in [(404, "published"), (403, "presigned URL")] {
        let (srv, dir) = (Server::start(), scratch());
        srv.put(PATH, payload(100));
        srv.script(PATH, vec![Behaviour::Status(status)]);
        let (result, lines) = get(&srv.url(PATH), dir.path(), &quick());
        let err = result.expect_err("a 4xx is final");
        assert!(matches!(err, FetchError::Status { status: s, .. } if s == status));
        assert_eq!(err.exit(), Exit::Fetch);
        assert!(err.hint().unwrap().contains(hint), "{:?}", err.hint());
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(srv.requests().len(), 1);
        assert_dir_empty(dir.path());
    }
}

#[test]
fn max_size_stops_announced_and_streamed_bodies() {
    let (srv, dir) = (Server::start(), scratch());
    srv.put(PATH, payload(10_000));
    srv.script(PATH, vec![Behaviour::Ok, Behaviour::NoLength]);
    let opts = FetchOptions {
        max_size: 5_000,
        ..quick()
    };
    for how in [Overrun::Announced, Overrun::Streamed] {
        let (result, lines) = get(&srv.url(PATH), dir.path(), &opts);
        let err = result.expect_err("over the cap");
        assert!(
            matches!(err, FetchError::TooLarge { how: h, max: 5_000, .. } if h == how),
            "{err:?}"
        );
        assert_eq!(err.exit(), Exit::Fetch);
        assert_eq!(err.hint().as_deref(), Some("raise --max-size"));
        assert!(lines.is_empty(), "{lines:?}");
        assert_dir_empty(dir.path());
    }
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn redirects_are_followed_and_the_name_stays() {
    let (srv, dir) = (Server::start(), scratch());
    let body = payload(1_000);
    srv.put("/real/c.enc", body.clone());
    srv.script(PATH, vec![Behaviour::Redirect("/real/c.enc".into())]);
    let (result, _) = get(&srv.url(PATH), dir.path(), &quick());
    let fetched = result.expect("fetch through a redirect");
    assert_fetched(&fetched, dir.path(), &body);
    assert_eq!(fetched.name, "b.enc");
}

#[test]
fn https_works_with_the_private_ca_and_fails_at_once_without() {
    let dir = scratch();
    let certs_dir = scratch();
    let certs = make_certs(certs_dir.path());
    let srv = Server::start_tls(&certs.cert, &certs.key);
    let body = payload(20_000);
    srv.put(PATH, body.clone());

    let trusted = FetchOptions {
        ca_file: Some(certs.ca.clone()),
        ..quick()
    };
    let (result, lines) = get(&srv.url(PATH), dir.path(), &trusted);
    assert_fetched(&result.expect("https with --ca-file"), dir.path(), &body);
    assert!(lines.is_empty(), "{lines:?}");
    let served = srv.requests().len();

    let other = scratch();
    let started = Instant::now();
    let (result, lines) = get(&srv.url(PATH), other.path(), &quick());
    let err = result.expect_err("an unknown CA is refused");
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    assert_eq!(err.exit(), Exit::Fetch);
    assert!(err.hint().unwrap().contains("--ca-file"));
    assert!(lines.is_empty(), "retried a certificate error: {lines:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        srv.requests().len(),
        served,
        "no request after a refused handshake"
    );
    assert_dir_empty(other.path());
}

#[test]
fn bad_configuration_is_a_usage_error_and_leaves_nothing() {
    let dir = scratch();
    let junk = dir.path().join("junk.pem");
    fs::write(&junk, "no certificates here\n").unwrap();
    let dest = scratch();
    let opts = FetchOptions {
        ca_file: Some(junk),
        ..quick()
    };
    let cases = [
        ("https://127.0.0.1:1/b.enc", opts),
        ("s3://bucket", quick()),
        ("ftp://host/b.enc", quick()),
        ("https://", quick()),
    ];
    for (url, opts) in cases {
        let (result, _) = get(url, dest.path(), &opts);
        let err = result.expect_err(url);
        assert_eq!(err.exit(), Exit::Usage, "{url}: {err}");
        assert_dir_empty(dest.path());
    }
    let missing_dest = dest.path().join("nope");
    let (result, _) = get("/etc/hostname", &missing_dest, &quick());
    assert_eq!(result.expect_err("no dest dir").exit(), Exit::Usage);
}

#[test]
fn local_paths_and_file_urls_are_copied() {
    let (src, dir) = (scratch(), scratch());
    let body = payload(70_000);
    let file = src.path().join("local.enc");
    fs::write(&file, &body).unwrap();
    for url in [
        file.display().to_string(),
        format!("file://{}", file.display()),
    ] {
        let (result, lines) = get(&url, dir.path(), &quick());
        let fetched = result.expect(&url);
        assert_fetched(&fetched, dir.path(), &body);
        assert_eq!(fetched.name, "local.enc");
        assert!(lines.is_empty());
        fs::remove_file(&fetched.path).unwrap();
    }
    let small = FetchOptions {
        max_size: 1_000,
        ..quick()
    };
    let (result, _) = get(&file.display().to_string(), dir.path(), &small);
    assert!(matches!(result, Err(FetchError::TooLarge { .. })));

    let missing = src.path().join("missing.enc");
    let (result, _) = get(&missing.display().to_string(), dir.path(), &quick());
    let err = result.expect_err("missing file");
    assert_eq!(err.exit(), Exit::Fetch);
    assert!(err.to_string().contains("missing.enc"), "{err}");
    assert_dir_empty(dir.path());
}

#[test]
fn presigned_queries_never_reach_the_log() {
    let (srv, dir) = (Server::start(), scratch());
    srv.put(PATH, payload(100));
    srv.script(PATH, vec![Behaviour::Status(503), Behaviour::Status(404)]);
    let secret = "X-Amz-Signature=d3adb33f&X-Amz-Credential=AKIAEXAMPLE";
    let url = format!("{}?{secret}", srv.url(PATH));
    let (result, lines) = get(&url, dir.path(), &quick());
    let err = result.expect_err("ends in a 404");
    assert_eq!(lines.len(), 1);
    let shown = format!("{}?…", srv.url(PATH));
    assert!(lines[0].contains(&shown), "{lines:?}");
    assert!(err.to_string().contains(&shown), "{err}");
    for text in [lines[0].clone(), err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains("d3adb33f") && !text.contains("AKIA"),
            "{text}"
        );
    }
    let sent = srv.requests();
    assert!(sent[0].target.ends_with(secret), "the query is still sent");
}
