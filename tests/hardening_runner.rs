//! The runner's hardening, end to end with the real `bundle-bootstrap`: a process a module leaves
//! running outlives the run and keeps logging (hole 6: no SIGPIPE once we exit); TERM and INT stop
//! `run` and `watch` cleanly (passed on to the running script, recorded as interrupted, 143/130).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, getpgid, kill_process, kill_process_group, test_kill_process};
use startup_bundle::boot::status;
use startup_bundle::state::{RunResult, Stage, StepState};

use crate::support::http::{Behaviour, Server};
use crate::support::{
    ITER, Mode, PASS, Pass, Ran, boot, bootstrap, pack, run, scratch, watch, write,
};

/// A process group a test started through a module, killed when dropped — so a failed assertion
/// (or the old code, which left scripts running when it died) leaves nothing running.
struct Leftover {
    pid: Pid,
    group: Pid,
}

impl Leftover {
    /// The process whose pid a script wrote to `pid_file`, and its group; `None` when it has gone.
    fn from_pid_file(pid_file: &Path) -> Option<Leftover> {
        let text = fs::read_to_string(pid_file).ok()?;
        let pid = text.trim().parse::<i32>().ok().and_then(Pid::from_raw)?;
        let group = getpgid(Some(pid)).ok()?;
        assert_ne!(
            Some(group),
            getpgid(None).ok(),
            "the module's process is in the test's own group"
        );
        Some(Leftover { pid, group })
    }

    /// Whether the process still runs (a zombie does not).
    fn alive(&self) -> bool {
        test_kill_process(self.pid).is_ok()
            && fs::read_to_string(format!("/proc/{}/stat", self.pid.as_raw_nonzero()))
                .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
    }
}

impl Drop for Leftover {
    fn drop(&mut self) {
        let _ = kill_process_group(self.group, Signal::KILL);
    }
}

/// Lines of `log` that are exactly `line`.
fn count_lines(log: &Path, line: &str) -> usize {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == line)
        .count()
}

/// Whether a script has written `file` whole (one line).
fn written(file: &Path) -> bool {
    fs::read_to_string(file).is_ok_and(|text| text.ends_with('\n'))
}

/// Waits up to `limit` for `ready`.
fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ready()
}

/// Hole 6: a `start` script that leaves a daemon running with its output inherited (`&`, the seed's
/// way). Once `bundle-bootstrap` has exited, the daemon must go on running and logging; it used to
/// write into a pipe nobody read any more and die of SIGPIPE.
#[test]
fn a_daemon_left_by_a_start_script_outlives_the_run_and_keeps_logging() {
    let tmp = scratch();
    let dir = tmp.path().join("p");
    let pid_file = tmp.path().join("daemon.pid");
    let start = format!(
        "(while true; do echo tick; sleep 0.2; done) &\necho $! > '{}'\necho started\n",
        pid_file.display()
    );
    write(&dir, "10-daemon/start", &start, Mode::Plain);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");

    let ran = boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run();
    let daemon = Leftover::from_pid_file(&pid_file);
    ran.ok();
    let daemon = daemon.unwrap_or_else(|| panic!("the daemon is gone at once{ran}"));
    ran.stdout_has("[10-daemon] started\n");
    let log = status::read(&state).expect("status").steps[0]
        .log
        .clone()
        .expect("the start script's log");
    let at_exit = count_lines(&log, "tick");

    // bundle-bootstrap is gone: the daemon's next lines must still land in its log.
    let more = wait_for(Duration::from_secs(10), || {
        count_lines(&log, "tick") >= at_exit + 10
    });
    assert!(
        daemon.alive(),
        "the daemon died after bundle-bootstrap exited{ran}"
    );
    assert!(
        more,
        "the daemon's later lines never reached {} ({} ticks at exit, {} now){ran}",
        log.display(),
        at_exit,
        count_lines(&log, "tick")
    );
}

/// A bundle whose `10-slow` start script traps TERM and INT (writing the signal's name to `got`
/// and exiting 3) and waits after writing its pid to `ready`; `20-after` would write `after` if it
/// ever ran.
struct Slow {
    file: PathBuf,
    state: PathBuf,
    ready: PathBuf,
    got: PathBuf,
    after: PathBuf,
}

fn slow_bundle(tmp: &Path) -> Slow {
    let dir = tmp.join("p");
    let (ready, got, after) = (tmp.join("ready"), tmp.join("got"), tmp.join("after"));
    // A foreground `sleep` in a loop: it gets the signal with its group and bash runs the trap at
    // once (a background `sleep &` would ignore SIGINT in a non-interactive shell).
    let start = format!(
        "trap 'echo TERM > \"{got}\"; exit 3' TERM\n\
         trap 'echo INT > \"{got}\"; exit 3' INT\n\
         echo waiting\n\
         echo $$ > \"{ready}\"\n\
         while :; do sleep 0.1; done\n",
        got = got.display(),
        ready = ready.display()
    );
    write(&dir, "10-slow/start", &start, Mode::Plain);
    write(
        &dir,
        "20-after/start",
        &format!("touch \"{}\"\n", after.display()),
        Mode::Plain,
    );
    let file = tmp.join("p.bundle");
    pack(&dir, &file, &[]);
    Slow {
        file,
        state: tmp.join("state"),
        ready,
        got,
        after,
    }
}

/// Sends `signal` to the `bundle-bootstrap` that holds `state` (its pid from the status it keeps).
fn signal_the_run(state: &Path, signal: Signal) {
    let pid = status::read(state).expect("the running run's status").pid;
    let pid = Pid::from_raw(pid as i32).expect("a pid");
    kill_process(pid, signal).expect("signal bundle-bootstrap");
}

/// `bundle-bootstrap status`: exits 7 for an interrupted run.
fn status_of(state: &Path) -> Ran {
    run(bootstrap().arg("status").arg("--state-dir").arg(state)).in_dir(state)
}

/// The last line on stderr: the summary, after the time it starts with.
fn last_line(ran: &Ran) -> &str {
    let line = ran.stderr.lines().last().unwrap_or_default();
    line.split_once(' ').map_or(line, |(_time, rest)| rest)
}

/// `run` on the slow bundle, stopped with `signal` once its first script waits: what an operator
/// sees of it.
fn interrupt_a_run(signal: Signal, name: &str, code: i32) {
    let tmp = scratch();
    let slow = slow_bundle(tmp.path());
    let hook = tmp.path().join("hook");
    let running = boot(&slow.file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&slow.state)
        .arg("--on-failure")
        .arg(format!("echo \"$BUNDLE_RESULT\" > '{}'", hook.display()))
        .start();
    let ready = wait_for(Duration::from_secs(30), || written(&slow.ready));
    let _script = Leftover::from_pid_file(&slow.ready);
    if ready {
        signal_the_run(&slow.state, signal);
    }
    let ran = running.finish();
    assert!(ready, "the start script never got going{ran}");

    ran.code(code).stdout_has(&format!(
        "[10-slow] ({name}: passed on to the script's process group)"
    ));
    assert_eq!(
        fs::read_to_string(&slow.got).unwrap_or_default().trim(),
        &name[3..],
        "the script's process group did not get {name}{ran}"
    );
    assert!(!slow.after.exists(), "a module after the signal ran{ran}");
    assert!(
        last_line(&ran).starts_with(&format!(
            "bundle-bootstrap: INTERRUPTED (exit {code}): stopped by {name} during module 10-slow's start script, which exited with status 3 after "
        )),
        "the summary is not the last line{ran}"
    );
    assert_eq!(
        fs::read_to_string(&hook).unwrap_or_default().trim(),
        "interrupted",
        "the failure hook did not report the interruption{ran}"
    );

    let status = status::read(&slow.state).expect("status");
    assert_eq!(status.result, RunResult::Interrupted, "{ran}");
    assert_eq!(status.exit_code, Some(code as u8));
    let steps: Vec<_> = status
        .steps
        .iter()
        .map(|s| (s.module.as_str(), s.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("10-slow", StepState::Failed),
            ("20-after", StepState::Pending)
        ]
    );
    status_of(&slow.state)
        .code(7)
        .stdout_has("INTERRUPTED at run");
}

/// Lifecycle item 5: TERM to a run is passed on to the running script's process group, the run is
/// recorded as interrupted, the failure hook says so, and `bundle-bootstrap` exits 143 with the
/// summary last. It used to die of the TERM itself, leaving the script running without it.
#[test]
fn term_stops_a_run_through_its_script_and_exits_143() {
    interrupt_a_run(Signal::TERM, "SIGTERM", 143);
}

/// The same for INT (Ctrl-C): exit 130. Scripts run in their own process groups, so a terminal's
/// Ctrl-C never reaches them unless we pass it on.
#[test]
fn int_stops_a_run_through_its_script_and_exits_130() {
    interrupt_a_run(Signal::INT, "SIGINT", 130);
}

/// A TERM while the bundle downloads (no script running) ends the run at the next stage boundary:
/// nothing runs, and the run is recorded as interrupted at the fetch.
#[test]
fn term_during_the_download_stops_the_run_before_verify() {
    let tmp = scratch();
    let slow = slow_bundle(tmp.path());
    let server = Server::start();
    server.put("/p.bundle", fs::read(&slow.file).unwrap());
    // About four seconds for a bundle of a few hundred bytes.
    server.script("/p.bundle", vec![Behaviour::Slow { bytes_per_sec: 150 }]);
    let running = boot(server.url("/p.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&slow.state)
        .start();
    let fetching = wait_for(Duration::from_secs(30), || {
        !server.requests().is_empty()
            && status::read(&slow.state).is_ok_and(|s| s.stage == Stage::Fetch)
    });
    if fetching {
        signal_the_run(&slow.state, Signal::TERM);
    }
    let ran = running.finish();
    assert!(fetching, "the download never started{ran}");
    ran.code(143);
    assert!(
        last_line(&ran).starts_with(
            "bundle-bootstrap: INTERRUPTED (exit 143): stopped by SIGTERM before the verify stage"
        ),
        "{ran}"
    );
    assert!(!slow.ready.exists(), "a script ran after the TERM{ran}");
    let status = status::read(&slow.state).expect("status");
    assert_eq!(
        (status.result, status.stage),
        (RunResult::Interrupted, Stage::Fetch),
        "{ran}"
    );
    status_of(&slow.state)
        .code(7)
        .stdout_has("INTERRUPTED at fetch");
}

/// `watch` stops on TERM between two polls: a log line, exit 0.
#[test]
fn watch_stops_on_term_between_polls() {
    let tmp = scratch();
    let dir = tmp.path().join("p");
    write(&dir, "10-quick/start", "echo applied\n", Mode::Plain);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let running = watch(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--interval", "1h"])
        .start();
    let applied = wait_for(Duration::from_secs(30), || {
        status::read(&state).is_ok_and(|s| s.result == RunResult::Ok)
    });
    // The status is written before the lock is let go and the watch sleeps: either way the TERM
    // must stop it.
    if applied {
        signal_the_run(&state, Signal::TERM);
    }
    let started = Instant::now();
    let ran = running.finish();
    assert!(applied, "the first poll never applied the bundle{ran}");
    ran.code(0)
        .stderr_has("bundle-bootstrap watch: stopping on SIGTERM\n");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the watch took {:?} to stop{ran}",
        started.elapsed()
    );
}

/// `watch` stopped by TERM while it applies a change: the run is interrupted as `run`'s would be,
/// and the watch exits 143 since it left the bundle half applied.
#[test]
fn watch_stops_on_term_mid_run_with_143() {
    let tmp = scratch();
    let slow = slow_bundle(tmp.path());
    let running = watch(&slow.file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&slow.state)
        .args(["--interval", "1h"])
        .start();
    let ready = wait_for(Duration::from_secs(30), || written(&slow.ready));
    let _script = Leftover::from_pid_file(&slow.ready);
    if ready {
        signal_the_run(&slow.state, Signal::TERM);
    }
    let ran = running.finish();
    assert!(ready, "the start script never got going{ran}");
    ran.code(143)
        .stderr_has("bundle-bootstrap watch: INTERRUPTED (exit 143): stopped by SIGTERM during module 10-slow")
        .stderr_has("bundle-bootstrap watch: stopping on SIGTERM");
    assert_eq!(
        fs::read_to_string(&slow.got).unwrap_or_default().trim(),
        "TERM",
        "{ran}"
    );
    status_of(&slow.state).code(7);
}
