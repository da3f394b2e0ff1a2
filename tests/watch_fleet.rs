//! `watch`, fit for a fleet (issue 10, item 6), against the test HTTP server on 127.0.0.1: an
//! unchanged poll is one 304 and no body, a failed release backs off (its hooks run once per
//! attempt) until the URL designates new bytes, quiet polls are one log line, run logs are pruned.
//!
//! Every assertion counts requests, answers, hook runs or log lines; none times anything. Where a
//! change must land between two given polls, the server makes it (`Behaviour::Replace` on the
//! N-th request), so the poll that sees it is known.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::http::{Answered, Behaviour, Server};
use crate::support::{ITER, Mode, PASS, Pass, Ran, boot, pack, scratch, watch, write};

/// The bundle's path on the server.
const PATH: &str = "/web.bundle";
/// Short enough for a test, long enough for a poll to end before the next.
const INTERVAL: &str = "200ms";

/// Packs `web` version `version` whose one module appends `running VERSION` to
/// `$BUNDLE_STATE_DIR/trace`, then exits `status`.
fn web(root: &Path, version: &str, status: u8) -> Vec<u8> {
    let dir = root.join(format!("web-{version}"));
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"web\"\nversion = \"{version}\"\n"),
        Mode::Plain,
    );
    write(
        &dir,
        "10-m/start",
        &format!("echo running {version} >> \"$BUNDLE_STATE_DIR/trace\"\nexit {status}\n"),
        Mode::Plain,
    );
    let file = root.join(format!("web-{version}.bundle"));
    pack(&dir, &file, &[]);
    fs::read(&file).unwrap()
}

/// The lines the modules wrote.
fn trace(state: &Path) -> Vec<String> {
    lines(&state.join("trace"))
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `watch` of the server's bundle with the test passphrase, `polls` polls, `INTERVAL` apart.
fn watching(server: &Server, state: &Path, polls: u32, extra: &[&str]) -> Ran {
    watch(server.url(PATH))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(state)
        .args(["--interval", INTERVAL, "--polls", &polls.to_string()])
        .args(extra)
        .run()
}

fn statuses(answers: &[Answered]) -> Vec<u16> {
    answers.iter().map(|a| a.status).collect()
}

fn count(ran: &Ran, needle: &str) -> usize {
    ran.stderr.matches(needle).count()
}

/// A hook that appends `BUNDLE_RESULT` to `file`.
fn hook(file: &Path) -> String {
    format!("echo \"$BUNDLE_RESULT\" >> '{}'", file.display())
}

#[test]
fn an_unchanged_bundle_costs_one_304_per_poll_and_one_log_line() {
    let tmp = scratch();
    let server = Server::start();
    let v1 = web(tmp.path(), "1", 0);
    server.put(PATH, v1.clone());
    let state = tmp.path().join("state");
    let ran = watching(&server, &state, 6, &[]);
    ran.ok();
    assert_eq!(trace(&state), ["running 1"], "{ran}");
    let answers = server.answers(PATH);
    assert_eq!(statuses(&answers), [200, 304, 304, 304, 304, 304], "{ran}");
    assert_eq!(
        answers.iter().map(|a| a.body).sum::<usize>(),
        v1.len(),
        "a 304 carried a body"
    );
    // Each later poll sent back the ETag of the first answer.
    assert_eq!(server.requests()[0].header("if-none-match"), None);
    for request in &server.requests()[1..] {
        assert!(request.header("if-none-match").is_some(), "{request:?}");
    }
    assert_eq!(count(&ran, "unchanged: "), 1, "{ran}");
    assert_eq!(count(&ran, "(304 Not Modified)"), 1, "{ran}");
}

#[test]
fn a_run_keeps_the_validators_so_the_first_watch_poll_is_a_304() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 0));
    let state = tmp.path().join("state");
    boot(server.url(PATH))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    let ran = watching(&server, &state, 3, &[]);
    ran.ok();
    assert_eq!(
        statuses(&server.answers(PATH)),
        [200, 304, 304, 304],
        "{ran}"
    );
    assert_eq!(trace(&state), ["running 1"], "{ran}");
}

#[test]
fn a_server_without_conditional_gets_is_downloaded_but_not_applied_again() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 0));
    server.ignore_if_none_match(PATH);
    let state = tmp.path().join("state");
    let ran = watching(&server, &state, 4, &[]);
    ran.ok();
    assert_eq!(statuses(&server.answers(PATH)), [200; 4], "{ran}");
    assert_eq!(trace(&state), ["running 1"], "{ran}");
    // One "fetched" line (the poll that applied), one "unchanged" line.
    assert_eq!(count(&ran, "fetched "), 1, "{ran}");
    assert_eq!(count(&ran, "unchanged: "), 1, "{ran}");
}

#[test]
fn new_bytes_after_304s_are_applied_at_the_poll_that_sees_them() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 0));
    let v2 = web(tmp.path(), "2", 0);
    server.script(
        PATH,
        vec![Behaviour::Ok, Behaviour::Ok, Behaviour::Replace(v2)],
    );
    let state = tmp.path().join("state");
    let ran = watching(&server, &state, 4, &[]);
    ran.ok();
    assert_eq!(
        statuses(&server.answers(PATH)),
        [200, 304, 200, 304],
        "{ran}"
    );
    assert_eq!(trace(&state), ["running 1", "running 2"], "{ran}");
}

/// Polls 0, 2, 6 and 11 try the failing release (2, 4, then at most --max-backoff = 5 polls
/// apart); the polls between ask with its ETag and get 304s.
#[test]
fn a_failed_release_backs_off_and_its_hook_runs_once_per_attempt() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 3));
    let state = tmp.path().join("state");
    let hooked = tmp.path().join("hooked");
    let ran = watching(
        &server,
        &state,
        12,
        &["--max-backoff", "1s", "--on-failure", &hook(&hooked)],
    );
    ran.ok();
    assert_eq!(lines(&hooked), ["failure"; 4], "{ran}");
    assert_eq!(trace(&state), ["running 1"; 4], "{ran}");
    let expected = [200, 304, 200, 304, 304, 304, 200, 304, 304, 304, 304, 200];
    assert_eq!(statuses(&server.answers(PATH)), expected, "{ran}");
    assert_eq!(count(&ran, "failed (attempt 4)"), 1, "{ran}");
    // Each attempt's line says when the next comes: the polls between say nothing.
    assert_eq!(count(&ran, "waiting: "), 0, "{ran}");
}

/// The failing release waits until poll 6 after its second attempt (poll 2); the server swaps in
/// a good release at poll 3, which is applied there and then — within `--polls 5`.
#[test]
fn new_bytes_end_the_backoff_at_once() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 3));
    let v2 = web(tmp.path(), "2", 0);
    server.script(
        PATH,
        vec![
            Behaviour::Ok,
            Behaviour::Ok,
            Behaviour::Ok,
            Behaviour::Replace(v2),
        ],
    );
    let state = tmp.path().join("state");
    let hooked = tmp.path().join("hooked");
    let ran = watching(
        &server,
        &state,
        5,
        &[
            "--on-failure",
            &hook(&hooked),
            "--on-success",
            &hook(&hooked),
        ],
    );
    ran.ok();
    assert_eq!(lines(&hooked), ["failure", "failure", "success"], "{ran}");
    assert_eq!(
        trace(&state),
        ["running 1", "running 1", "running 2"],
        "{ran}"
    );
    assert_eq!(
        statuses(&server.answers(PATH)),
        [200, 304, 200, 200, 304],
        "{ran}"
    );
}

/// Failed runs are pruned too: a release retried at every poll leaves `--keep-runs` folders.
#[test]
fn run_logs_are_pruned_to_keep_runs() {
    let tmp = scratch();
    let server = Server::start();
    server.put(PATH, web(tmp.path(), "1", 3));
    let state = tmp.path().join("state");
    // --max-backoff of one interval: every poll is an attempt.
    let ran = watching(
        &server,
        &state,
        6,
        &["--max-backoff", INTERVAL, "--keep-runs", "3"],
    );
    ran.ok();
    assert_eq!(trace(&state).len(), 6, "{ran}");
    let kept: Vec<PathBuf> = fs::read_dir(state.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}\n{ran}");
}

#[test]
fn jitter_and_keep_runs_out_of_range_are_usage_errors() {
    let tmp = scratch();
    let server = Server::start();
    let state = tmp.path().join("state");
    watching(&server, &state, 1, &["--jitter", "60"])
        .code(1)
        .stderr_has("--jitter 60% is too much: at most 50%");
    watching(&server, &state, 1, &["--jitter", "ten"])
        .code(1)
        .stderr_has("write a whole percentage");
    watching(&server, &state, 1, &["--keep-runs", "0"])
        .code(1)
        .stderr_has("--keep-runs must be at least 1");
    assert!(server.requests().is_empty(), "a refused watch polled");
}
