//! The runner's hardening, end to end with the real `bundle-bootstrap`: a process a module leaves
//! running outlives the run and keeps logging (hole 6: no SIGPIPE once we exit).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, getpgid, kill_process_group, test_kill_process};
use startup_bundle::boot::status;

use crate::support::{ITER, Mode, PASS, Pass, boot, pack, scratch, write};

/// A process group a test started through a module, killed when dropped, so a failed assertion
/// leaves nothing running.
struct Leftover {
    pid: Pid,
    group: Pid,
}

impl Leftover {
    /// The process whose pid a script wrote to `pid_file`, and its group.
    fn from_pid_file(pid_file: &Path) -> Leftover {
        let text = fs::read_to_string(pid_file)
            .unwrap_or_else(|e| panic!("read {}: {e}", pid_file.display()));
        let pid = text
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(Pid::from_raw)
            .unwrap_or_else(|| panic!("{} holds no pid: {text:?}", pid_file.display()));
        let group = getpgid(Some(pid)).expect("the process group of a live process");
        assert_ne!(
            Some(group),
            getpgid(None).ok(),
            "the module's process is in the test's own group"
        );
        Leftover { pid, group }
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
    ran.ok().stdout_has("[10-daemon] started\n");
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
