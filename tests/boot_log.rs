//! Issue 10 item 8: what `bundle-bootstrap run` prints is a boot log an operator can read — its
//! version first, every line of its own with a UTC time (ISO 8601), a begin and an end line per
//! script with its exit status and how long it ran, progress lines while a slow download goes on
//! (stderr is no terminal here, as at boot), sizes for people, and the one-line summary last.
//! The user-data side (the summary last when the wrapper fails) is in `userdata.rs`.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::support::http::{Behaviour, Server};
use crate::support::{ITER, Mode, PASS, Pass, Ran, boot, pack, scratch, write};

/// `2026-12-02T07:01:02Z`: the time every line of the bootstrap's own starts with.
const TIME_LEN: usize = "2026-12-02T07:01:02Z".len();

/// What follows `TIME bundle-bootstrap: ` on a line of the bootstrap's own; None for any other.
fn own(line: &str) -> Option<&str> {
    let (time, rest) = line.split_at_checked(TIME_LEN)?;
    let utc = time.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        19 => b == b'Z',
        _ => b.is_ascii_digit(),
    });
    rest.strip_prefix(" bundle-bootstrap: ").filter(|_| utc)
}

/// The bootstrap's own lines of a run (all of its stderr), each checked for its time and name.
fn own_lines(ran: &Ran) -> Vec<&str> {
    ran.stderr
        .lines()
        .map(|line| own(line).unwrap_or_else(|| panic!("not a timed line: {line:?}{ran}")))
        .collect()
}

/// The begin and end lines, in order, with the times they ran cut off (`… after 0.1s`).
fn steps<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|l| l.starts_with("begin ") || l.starts_with("end "))
        .map(|l| match l.split_once(" after ") {
            Some((what, time)) if time.ends_with('s') => what,
            _ => l,
        })
        .collect()
}

/// A personality: `a` (init and start) and `b` (start, exiting with `b_exit`).
fn personality(root: &Path, b_exit: u8) -> PathBuf {
    let dir = root.join("p");
    write(&dir, "a/init", "echo a init\n", Mode::Plain);
    write(&dir, "a/start", "echo a start\n", Mode::Plain);
    write(
        &dir,
        "b/start",
        &format!("echo b start\nexit {b_exit}\n"),
        Mode::Plain,
    );
    dir
}

/// Packs `dir` and serves it at `/p.bundle`.
fn serve(root: &Path, dir: &Path) -> Server {
    let file = root.join("p.bundle");
    pack(dir, &file, &[]);
    let server = Server::start();
    server.put("/p.bundle", fs::read(&file).unwrap());
    server
}

#[test]
fn the_log_starts_with_the_version_times_its_lines_and_ends_with_the_summary() {
    let tmp = scratch();
    let dir = personality(tmp.path(), 0);
    let server = serve(tmp.path(), &dir);
    let state = tmp.path().join("state");
    let run = || {
        boot(server.url("/p.bundle"))
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&state)
            .run()
    };
    let first = run();
    first.ok().stdout_has("[a] a init");
    let lines = own_lines(&first);
    let version = format!(
        "version {} (startup-bundle), run, pid ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(lines[0].starts_with(&version), "{first}");
    assert!(
        !lines[1..].iter().any(|l| l.starts_with("version ")),
        "the version once (the passphrase's re-exec is done before it){first}"
    );
    assert_eq!(
        steps(&lines),
        [
            "begin a init (step 1 of 3)",
            "end a init: exit 0",
            "begin a start (step 2 of 3)",
            "end a start: exit 0",
            "begin b start (step 3 of 3)",
            "end b start: exit 0",
        ],
        "{first}"
    );
    assert!(lines.last().unwrap().starts_with("ok: "), "{first}");

    // Once init has run, the steps are the starts.
    let again = run();
    again.ok();
    let lines = own_lines(&again);
    assert_eq!(
        steps(&lines),
        [
            "begin a start (step 1 of 2)",
            "end a start: exit 0",
            "begin b start (step 2 of 2)",
            "end b start: exit 0",
        ],
        "{again}"
    );
    assert!(lines.last().unwrap().starts_with("ok: "), "{again}");
}

#[test]
fn a_failed_script_ends_with_its_status_then_the_hook_then_the_summary() {
    let tmp = scratch();
    let dir = personality(tmp.path(), 3);
    let server = serve(tmp.path(), &dir);
    let ran = boot(server.url("/p.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&tmp.path().join("state"))
        .args(["--on-failure", "echo told"])
        .run();
    ran.code(5).stdout_has("[hook] told");
    let lines = own_lines(&ran);
    assert_eq!(
        &steps(&lines)[4..],
        [
            "begin b start (step 3 of 3)",
            "end b start: exit 3",
            "begin hook (failure)",
            "end hook: exit 0",
        ],
        "{ran}"
    );
    let error = lines.iter().position(|l| l.starts_with("error: module b"));
    assert!(error.is_some(), "the error is timed too{ran}");
    assert!(
        lines.last().unwrap().starts_with("FAILED (exit 5): "),
        "{ran}"
    );
    assert!(!ran.stderr.contains(PASS) && !ran.stdout.contains(PASS));
}

/// `len` random bytes: gzip cannot shrink them, so the bundle is as large as they are.
fn noise(len: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    fs::File::open("/dev/urandom")
        .and_then(|f| f.take(len).read_to_end(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

#[test]
fn a_slow_download_prints_progress_lines_unless_turned_off() {
    let tmp = scratch();
    let dir = personality(tmp.path(), 0);
    fs::write(dir.join("a/payload"), noise(64 * 1024)).unwrap();
    let server = serve(tmp.path(), &dir);
    // About two seconds each: a line at most every 100 ms is sure to come.
    let slow = || Behaviour::Slow {
        bytes_per_sec: 32 * 1024,
    };
    server.script("/p.bundle", vec![slow(), slow()]);
    let run = |every: &str, state: &str| {
        boot(server.url("/p.bundle"))
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&tmp.path().join(state))
            .env("BUNDLE_PROGRESS_EVERY", every)
            .run()
    };

    let ran = run("100ms", "state");
    ran.ok();
    let lines = own_lines(&ran);
    let progress: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("downloading p.bundle: "))
        .collect();
    assert!(!progress.is_empty(), "no progress line{ran}");
    assert!(
        progress
            .iter()
            .all(|l| l.contains(" KiB of ") && l.contains("%), ") && l.ends_with("/s")),
        "{progress:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fetched ") && l.contains(" KiB, sha256 ")),
        "the size is for people{ran}"
    );
    assert!(lines.last().unwrap().starts_with("ok: "), "{ran}");

    let quiet = run("0", "state-quiet");
    quiet.ok();
    assert!(
        !quiet.stderr.contains("downloading "),
        "BUNDLE_PROGRESS_EVERY=0 prints none{quiet}"
    );

    run("soon", "state-bad")
        .code(1)
        .stderr_has("BUNDLE_PROGRESS_EVERY: 'soon' is not a duration");
}
