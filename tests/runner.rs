//! The runner against real scripts run as real processes in scratch folders: order, init records,
//! environment, output, failures, signals, timeouts, background daemons, the lock, status and hooks.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use startup_bundle::boot::status;
use startup_bundle::exit::{Classify, Exit};
use startup_bundle::runner::{
    self, ModuleToRun, Outcome, Phase, RunError, RunOptions, RunSpec, ScriptOutcome, StopSignal,
};
use startup_bundle::state::{RunKind, RunResult, StateDir, StateError, StepState};

use crate::support::{Mode, scratch, write};

/// A secret in the parent's environment that no script may see.
const SECRET: &str = "hunter2-do-not-leak";

/// A module folder `root/name` with a `start` script and maybe an `init`, both non-executable.
fn module(root: &Path, name: &str, start: &str, init: Option<&str>) -> ModuleToRun {
    write(root, &format!("{name}/start"), start, Mode::Plain);
    if let Some(init) = init {
        write(root, &format!("{name}/init"), init, Mode::Plain);
    }
    ModuleToRun {
        name: name.to_string(),
        dir: root.join(name),
        start: PathBuf::from("start"),
        init: init.map(|_| PathBuf::from("init")),
        digest: "sha256:one".to_string(),
        env: Vec::new(),
    }
}

fn spec(root: &Path, modules: Vec<ModuleToRun>) -> RunSpec {
    RunSpec {
        bundle_name: "web".into(),
        bundle_version: "1.2.3".into(),
        root: root.to_path_buf(),
        modules,
        env: Vec::new(),
        instance_id: Some("i-0123456789abcdef0".into()),
    }
}

/// The runner's options and the state folder it runs in.
struct Opts {
    run: RunOptions,
    state: PathBuf,
}

impl std::ops::Deref for Opts {
    type Target = RunOptions;
    fn deref(&self) -> &RunOptions {
        &self.run
    }
}

impl std::ops::DerefMut for Opts {
    fn deref_mut(&mut self) -> &mut RunOptions {
        &mut self.run
    }
}

/// Short timeouts, and a parent environment holding the passphrase and a `--pass env:` variable,
/// as on an instance.
fn options(state: &Path) -> Opts {
    let mut run = RunOptions {
        module_timeout: Duration::from_secs(20),
        kill_grace: Duration::from_millis(500),
        ..RunOptions::default()
    };
    run.strip_env.push("MY_PASS".into());
    let mut base: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    base.push(("BUNDLE_PASSPHRASE".into(), SECRET.into()));
    base.push(("MY_PASS".into(), SECRET.into()));
    base.push(("KEEP_ME".into(), "kept".into()));
    run.base_env = Some(base);
    Opts {
        run,
        state: state.to_path_buf(),
    }
}

/// Opens (creating) the state folder.
fn state_dir(state: &Path) -> StateDir {
    StateDir::open(state).expect("state folder")
}

/// What `boot` does around the runner: the lock, a record, the runner, the record finished.
fn run_to(
    spec: &RunSpec,
    opts: &Opts,
    echo: &mut dyn std::io::Write,
) -> Result<runner::RunReport, RunError> {
    let state = state_dir(&opts.state);
    let lock = state
        .lock(Duration::from_secs(10), &mut |_| {})
        .expect("lock");
    let mut record = state
        .begin_run(&lock, RunKind::Run, "https://example.com/web.bundle".into())
        .expect("record");
    let result = runner::run(spec, &state, &mut record, &opts.run, echo, &mut |_| {});
    match &result {
        Ok(_) => record.finish(RunResult::Ok, 0, None),
        Err(e) => record.finish(RunResult::Failed, e.exit().code(), Some(e.to_string())),
    }
    .expect("finish the record");
    result
}

/// Runs quietly.
fn run(spec: &RunSpec, opts: &Opts) -> Result<runner::RunReport, RunError> {
    run_to(spec, opts, &mut std::io::sink())
}

/// Runs, capturing the echoed output.
fn run_captured(spec: &RunSpec, opts: &Opts) -> (Result<runner::RunReport, RunError>, String) {
    let mut echo = Vec::new();
    let result = run_to(spec, opts, &mut echo);
    (result, String::from_utf8_lossy(&echo).into_owned())
}

/// The due inits, as a dry run sees them.
fn due_inits(spec: &RunSpec, state: &Path) -> Vec<String> {
    runner::due_inits(spec, &state_dir(state))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A script line that appends `<module> <phase>` to the shared trace file.
fn trace(dir: &Path) -> String {
    format!(
        "echo \"$BUNDLE_MODULE $BUNDLE_PHASE\" >> '{}'\n",
        dir.join("trace").display()
    )
}

#[test]
fn inits_once_per_digest_then_starts_every_time_in_order() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let t = trace(dir.path());
    let mut modules = vec![
        module(&root, "10-java", &t, Some(&t)),
        module(&root, "20-rabbitmq", &t, None),
        module(&root, "30-app", &t, Some(&t)),
    ];
    // Scripts may also be given as full paths, as the bundle's plan does.
    modules[0].start = modules[0].dir.join("start");
    modules[0].init = Some(modules[0].dir.join("init"));
    let opts = options(&state);

    assert_eq!(
        due_inits(&spec(&root, modules.clone()), &state),
        ["10-java", "30-app"]
    );
    let first = run(&spec(&root, modules.clone()), &opts).expect("first run");
    assert_eq!(first.inits_run, ["10-java", "30-app"]);
    assert_eq!(first.starts_run, ["10-java", "20-rabbitmq", "30-app"]);
    assert_eq!(
        read(&dir.path().join("trace")),
        "10-java init\n30-app init\n10-java start\n20-rabbitmq start\n30-app start\n"
    );

    fs::remove_file(dir.path().join("trace")).unwrap();
    assert!(due_inits(&spec(&root, modules.clone()), &state).is_empty());
    let second = run(&spec(&root, modules.clone()), &opts).expect("second run");
    assert!(second.inits_run.is_empty());
    assert_ne!(second.run_id, first.run_id, "run ids are unique");
    assert_ne!(second.log_dir, first.log_dir);
    assert_eq!(
        read(&dir.path().join("trace")),
        "10-java start\n20-rabbitmq start\n30-app start\n"
    );

    // A new content digest is a new module as far as init is concerned.
    fs::remove_file(dir.path().join("trace")).unwrap();
    modules[2].digest = "sha256:two".into();
    run(&spec(&root, modules), &opts).expect("third run");
    assert_eq!(
        read(&dir.path().join("trace")),
        "30-app init\n10-java start\n20-rabbitmq start\n30-app start\n"
    );
}

#[test]
fn a_failed_init_is_not_recorded_and_runs_again() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let m = module(&root, "10-db", "true\n", Some("exit 7\n"));
    let err = run(&spec(&root, vec![m.clone()]), &options(&state)).unwrap_err();
    assert!(
        matches!(
            err,
            RunError::ModuleFailed(ref f)
                if f.phase == Phase::Init && f.ended.outcome == ScriptOutcome::Exited(7)
        ),
        "{err:?}"
    );
    assert_eq!(due_inits(&spec(&root, vec![m.clone()]), &state), ["10-db"]);
    write(&root, "10-db/init", "true\n", Mode::Plain);
    let report = run(&spec(&root, vec![m.clone()]), &options(&state)).unwrap();
    assert_eq!(report.inits_run, ["10-db"]);
    assert!(due_inits(&spec(&root, vec![m]), &state).is_empty());
}

#[test]
fn scripts_get_the_bundle_environment_and_never_the_secrets() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let script = "env > env.out\npwd > pwd.out\nreadlink /proc/$$/fd/0 > stdin.out\n";
    let m = module(&root, "10-env", script, None);
    let mut opts = options(&state);
    opts.env.push(("ROLE".into(), "web".into()));
    run(&spec(&root, vec![m]), &opts).expect("run");

    let env = read(&root.join("10-env/env.out"));
    for expected in [
        "BUNDLE_MODULE=10-env".to_string(),
        format!("BUNDLE_ROOT={}", root.display()),
        "BUNDLE_PHASE=start".into(),
        "BUNDLE_NAME=web".into(),
        "BUNDLE_VERSION=1.2.3".into(),
        format!("BUNDLE_STATE_DIR={}", state.display()),
        "ROLE=web".into(),
        "KEEP_ME=kept".into(),
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing from:\n{env}"
        );
    }
    assert!(
        !env.contains(SECRET),
        "a secret leaked into the script's environment:\n{env}"
    );
    assert!(!env.contains("BUNDLE_PASSPHRASE") && !env.contains("MY_PASS="));
    assert_eq!(
        read(&root.join("10-env/pwd.out")).trim(),
        root.join("10-env").to_str().unwrap()
    );
    assert_eq!(read(&root.join("10-env/stdin.out")).trim(), "/dev/null");
}

#[test]
fn executable_scripts_use_their_shebang_others_run_with_bash() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    // Bash-only syntax proves `bash`; `#!/bin/cat` proves the kernel read the shebang line.
    let plain = module(
        &root,
        "10-plain",
        "[[ -n $BASH_VERSION ]] && echo \"bash here\"\n",
        None,
    );
    let exe = module(&root, "20-exe", "", None);
    write(
        &root,
        "20-exe/start",
        "#!/bin/cat\nprinted by cat\n",
        Mode::Exec,
    );
    let (result, echo) = run_captured(&spec(&root, vec![plain, exe]), &options(&state));
    result.expect("run");
    assert!(echo.contains("[10-plain] bash here\n"), "{echo}");
    assert!(
        echo.contains("[20-exe] #!/bin/cat\n[20-exe] printed by cat\n"),
        "{echo}"
    );
}

#[test]
fn output_is_merged_in_order_prefixed_live_and_logged_plain() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let script = "echo one\necho two >&2\necho three\nhead -c 200000 /dev/zero | tr '\\0' x\n";
    let m = module(&root, "10-out", script, None);
    let (result, echo) = run_captured(&spec(&root, vec![m]), &options(&state));
    let report = result.expect("run");
    assert!(
        echo.starts_with("[10-out] one\n[10-out] two\n[10-out] three\n"),
        "{echo}"
    );
    let log = read(&report.log_dir.join("10-out.start.log"));
    assert!(log.starts_with("one\ntwo\nthree\n"), "{}", &log[..40]);
    // 200,000 bytes without a newline arrive as lines of at most MAX_LINE bytes.
    let long: Vec<usize> = log.lines().skip(3).map(str::len).collect();
    assert_eq!(
        long,
        [
            runner::MAX_LINE,
            runner::MAX_LINE,
            runner::MAX_LINE,
            200_000 - 3 * runner::MAX_LINE
        ]
    );
}

/// Scripts often write `echo oops >/dev/stderr` or `| tee /dev/stderr`: that opens the script's own
/// output again, with O_TRUNC. Into a pipe that is harmless; had the script's output been its log
/// file, it would have emptied the log.
#[test]
fn output_written_through_dev_stderr_keeps_the_log_whole() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let script =
        "echo one\necho two >/dev/stderr\necho three | tee /dev/stderr >/dev/null\necho four\n";
    let m = module(&root, "10-dev", script, None);
    let (result, echo) = run_captured(&spec(&root, vec![m]), &options(&state));
    let report = result.expect("run");
    assert_eq!(
        read(&report.log_dir.join("10-dev.start.log")),
        "one\ntwo\nthree\nfour\n"
    );
    assert_eq!(
        echo,
        "[10-dev] one\n[10-dev] two\n[10-dev] three\n[10-dev] four\n"
    );
}

/// An echo that notes when each line arrived.
struct Timed(Vec<(Instant, String)>);

impl std::io::Write for Timed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        match self.0.last_mut() {
            Some((_, line)) if !line.ends_with('\n') => line.push_str(&text),
            _ => self.0.push((Instant::now(), text.into_owned())),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_is_echoed_while_the_script_runs() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let m = module(&root, "10-slow", "echo first\nsleep 1\necho second\n", None);
    let mut echo = Timed(Vec::new());
    run_to(&spec(&root, vec![m]), &options(&state), &mut echo).expect("run");
    let lines: Vec<&str> = echo.0.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines, ["[10-slow] first\n", "[10-slow] second\n"]);
    let gap = echo.0[1].0 - echo.0[0].0;
    assert!(
        gap >= Duration::from_millis(700),
        "the first line waited for the script to end: echoed {gap:?} before the second"
    );
}

#[test]
fn the_first_failure_stops_the_run_and_says_everything() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let a = module(&root, "10-ok", "echo fine\n", None);
    let b = module(
        &root,
        "20-rabbitmq",
        "for i in $(seq 1 30); do echo \"line $i\"; done\nexit 3\n",
        None,
    );
    let c = module(
        &root,
        "30-never",
        &format!("touch '{}'\n", dir.path().join("ran").display()),
        None,
    );
    let err = run(&spec(&root, vec![a, b, c]), &options(&state)).unwrap_err();

    let RunError::ModuleFailed(failed) = &err else {
        panic!("expected ModuleFailed, got {err:?}");
    };
    let (module, phase, script) = (&failed.module, &failed.phase, &failed.script);
    let (outcome, tail, log) = (&failed.ended.outcome, &failed.ended.tail, &failed.ended.log);
    assert_eq!(
        (module.as_str(), *phase, *outcome),
        ("20-rabbitmq", Phase::Start, ScriptOutcome::Exited(3))
    );
    assert_eq!(script, &root.join("20-rabbitmq/start"));
    assert_eq!(tail.len(), 20);
    assert_eq!(
        (tail[0].as_str(), tail[19].as_str()),
        ("line 11", "line 30")
    );
    assert_eq!(read(log).lines().count(), 30, "the log keeps every line");
    assert!(
        !dir.path().join("ran").exists(),
        "a module after the failure ran"
    );
    assert_eq!(err.exit(), Exit::Module);
    assert_eq!(err.failed_module(), Some("20-rabbitmq"));

    let text = err.to_string();
    assert!(
        text.starts_with("module 20-rabbitmq failed: start exited with status 3 after "),
        "{text}"
    );
    assert!(text.contains("last 20 lines:\n  | line 11\n"), "{text}");
    assert!(
        text.ends_with(&format!("full log: {}", log.display())),
        "{text}"
    );

    let status = status::read(&state).expect("status");
    assert_eq!(status.result, RunResult::Failed);
    assert!(status.finished.is_some());
    let states: Vec<_> = status
        .steps
        .iter()
        .map(|s| (s.module.as_str(), s.status, s.exit_code))
        .collect();
    assert_eq!(
        states,
        [
            ("10-ok", StepState::Ok, Some(0)),
            ("20-rabbitmq", StepState::Failed, Some(3)),
            ("30-never", StepState::Pending, None)
        ]
    );
    assert_eq!(status.failure.as_deref(), Some(text.as_str()));
    let table = status::render(&status);
    assert!(
        table.contains("FAILED") && table.contains("failed (status 3)"),
        "{table}"
    );
    assert!(table.contains(&text), "{table}");
}

#[test]
fn a_script_killed_by_a_signal_reports_it() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let m = module(&root, "10-crash", "echo going down\nkill -9 $$\n", None);
    let err = run(&spec(&root, vec![m]), &options(&state)).unwrap_err();
    assert!(
        matches!(
            err,
            RunError::ModuleFailed(ref f) if f.ended.outcome == ScriptOutcome::Signaled(9)
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("start was killed by signal 9 (SIGKILL)"),
        "{err}"
    );
    assert_eq!(status::read(&state).unwrap().steps[0].signal, Some(9));
}

/// Whether `pid` has gone (a zombie waiting for a reaper counts: it runs nothing).
fn gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| rest.starts_with('Z')),
    }
}

fn wait_gone(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_hanging_script_and_its_children_are_stopped_at_the_timeout() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let m = module(
        &root,
        "10-hang",
        "sleep 1000 &\necho $! > child.pid\nsleep 1000\n",
        None,
    );
    let mut opts = options(&state);
    // Long enough for bash to have written child.pid even on two busy cores.
    opts.module_timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let err = run(&spec(&root, vec![m]), &opts).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            RunError::ModuleFailed(ref f)
                if matches!(f.ended.outcome, ScriptOutcome::TimedOut { signal: 15, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out after 1.5s"), "{err}");
    let child: u32 = read(&root.join("10-hang/child.pid"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_gone(child),
        "the script's background child {child} survived the timeout"
    );
    assert!(status::read(&state).unwrap().steps[0].timed_out);
}

#[test]
fn a_script_that_ignores_sigterm_is_killed_after_the_grace() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    // An ignored signal stays ignored across exec, so `sleep` ignores SIGTERM too.
    let m = module(&root, "10-stubborn", "trap '' TERM\nsleep 1000\n", None);
    let mut opts = options(&state);
    // Long enough for bash to have run `trap` before the TERM arrives, even on two busy cores.
    opts.module_timeout = Duration::from_millis(1500);
    opts.kill_grace = Duration::from_millis(300);
    let err = run(&spec(&root, vec![m]), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            RunError::ModuleFailed(ref f)
                if matches!(f.ended.outcome, ScriptOutcome::TimedOut { signal: 9, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn a_daemon_holding_the_output_does_not_hang_the_run() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let a = module(
        &root,
        "10-daemon",
        "sleep 30 &\necho $! > daemon.pid\necho started\n",
        None,
    );
    let b = module(&root, "20-next", "echo next\n", None);
    let started = Instant::now();
    let (result, echo) = run_captured(&spec(&root, vec![a, b]), &options(&state));
    let elapsed = started.elapsed();
    let daemon: u32 = read(&root.join("10-daemon/daemon.pid"))
        .trim()
        .parse()
        .unwrap();
    let alive = !gone(daemon);
    if let Some(pid) = rustix::process::Pid::from_raw(daemon as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    result.expect("run");
    assert!(
        elapsed < Duration::from_secs(5),
        "the run waited {elapsed:?} for a daemon"
    );
    assert!(alive, "the daemon was killed though its script succeeded");
    assert!(
        echo.contains("[10-daemon] started\n") && echo.contains("[20-next] next\n"),
        "{echo}"
    );
}

#[test]
fn a_script_that_cannot_start_is_a_module_failure() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let m = module(&root, "10-bad", "", None);
    write(
        &root,
        "10-bad/start",
        "#!/nonexistent/interpreter\n",
        Mode::Exec,
    );
    let err = run(&spec(&root, vec![m]), &options(&state)).unwrap_err();
    assert!(matches!(err, RunError::NotStarted { .. }), "{err:?}");
    assert_eq!(err.exit(), Exit::Module);
    assert_eq!(status::read(&state).unwrap().result, RunResult::Failed);
}

#[test]
fn the_lock_is_exclusive_and_a_second_run_waits_then_gives_up() {
    let dir = scratch();
    let state = dir.path().join("state");
    let held = state_dir(&state)
        .lock(Duration::ZERO, &mut |_| {})
        .expect("lock");
    assert_eq!(
        read(&state.join("lock")).trim(),
        std::process::id().to_string()
    );

    let mut said = Vec::new();
    let started = Instant::now();
    let err = state_dir(&state)
        .lock(Duration::from_millis(300), &mut |m| {
            said.push(m.to_string())
        })
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        matches!(err, StateError::Locked { pid: Some(p), .. } if p == std::process::id()),
        "{err:?}"
    );
    assert_eq!(err.exit(), Exit::Usage);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains(&format!("(pid {})", std::process::id())),
        "{said:?}"
    );

    // A waiting run gets the lock as soon as the holder lets go.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    state_dir(&state)
        .lock(Duration::from_secs(5), &mut |_| {})
        .expect("lock after release");
    releaser.join().unwrap();
}

#[test]
fn two_holders_never_overlap() {
    let dir = scratch();
    let state = Arc::new(dir.path().join("state"));
    let inside = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (state, inside) = (Arc::clone(&state), Arc::clone(&inside));
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let _lock = state_dir(&state)
                        .lock(Duration::from_secs(10), &mut |_| {})
                        .unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    std::thread::sleep(Duration::from_millis(10));
                    inside.store(false, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker saw an overlap");
    }
}

#[test]
fn status_is_recorded_and_rendered() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    assert!(matches!(
        status::read(&state),
        Err(StateError::NoStatus { .. })
    ));
    let m = module(&root, "10-java", "echo hi\n", Some("true\n"));
    let report = run(&spec(&root, vec![m.clone()]), &options(&state)).unwrap();
    run(&spec(&root, vec![m]), &options(&state)).unwrap();

    let status = status::read(&state).unwrap();
    assert_eq!(status.result, RunResult::Ok);
    assert!(
        report.starts_run == ["10-java"] && status.steps.len() == 2,
        "the status describes the last run"
    );
    assert_eq!(status.source, "https://example.com/web.bundle");
    assert_eq!(status.started.len(), "2024-01-01T00:00:00Z".len());
    assert!(status.started.ends_with('Z') && status.finished.is_some());
    let rows: Vec<_> = status.steps.iter().map(|s| (s.phase, s.status)).collect();
    assert_eq!(
        rows,
        [
            (Phase::Init, StepState::Skipped),
            (Phase::Start, StepState::Ok)
        ]
    );
    assert!(status.steps[1].log.as_ref().is_some_and(|l| l.is_file()));

    let table = status::render(&status);
    assert!(
        table.contains(&format!("run {} (run): ok", status.run_id)),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("MODULE") && l.contains("DURATION")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("10-java") && l.contains("skipped")),
        "{table}"
    );
}

#[test]
fn the_hook_is_told_the_result_without_the_secrets() {
    let dir = scratch();
    let state = dir.path().join("state");
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    let out = dir.path().join("hook.env");
    let opts = options(&state);
    let sd = state_dir(&state);
    let cmd = format!("env > '{}'; echo notified", out.display());
    let hook = |cmd: &str, outcome, failed, echo: &mut dyn std::io::Write| {
        runner::run_hook(cmd, outcome, failed, &sd, &logs, &opts.run, echo)
    };
    let mut echo = Vec::new();
    hook(&cmd, Outcome::Failure, Some("20-rabbitmq"), &mut echo).expect("hook");
    let env = read(&out);
    assert!(env.lines().any(|l| l == "BUNDLE_RESULT=failure"), "{env}");
    assert!(
        env.lines().any(|l| l == "BUNDLE_FAILED_MODULE=20-rabbitmq"),
        "{env}"
    );
    assert!(!env.contains(SECRET), "{env}");
    assert_eq!(String::from_utf8_lossy(&echo), "[hook] notified\n");
    assert!(logs.join("hook.log").is_file());

    hook(&cmd, Outcome::Success, None, &mut std::io::sink()).expect("hook");
    let env = read(&out);
    assert!(env.lines().any(|l| l == "BUNDLE_RESULT=success"), "{env}");
    assert!(env.lines().any(|l| l == "BUNDLE_FAILED_MODULE="), "{env}");

    let err = hook(
        "echo oops; exit 4",
        Outcome::Success,
        None,
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::HookFailed { ref ended, .. } if ended.outcome == ScriptOutcome::Exited(4)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("  | oops"), "{err}");
}

#[test]
fn each_module_gets_its_own_private_state_folder_kept_between_runs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    // Counts its runs in its own folder, which must exist before it starts.
    let script = "test -d \"$BUNDLE_MODULE_STATE_DIR\"\n\
                  echo \"$BUNDLE_MODULE_STATE_DIR\" > where.out\n\
                  echo x >> \"$BUNDLE_MODULE_STATE_DIR/runs\"\n";
    let a = module(&root, "a", script, None);
    let b = module(&root, "b", script, None);
    let spec = spec(&root, vec![a, b]);
    let mut opts = options(&state);
    // `--env` cannot point a module at another folder: ours come last.
    opts.env
        .push(("BUNDLE_MODULE_STATE_DIR".into(), "/elsewhere".into()));
    run(&spec, &opts).expect("first run");
    run(&spec, &opts).expect("second run");
    for name in ["a", "b"] {
        let own = state.join("modules").join(name);
        assert_eq!(
            read(&root.join(name).join("where.out")).trim(),
            own.to_str().unwrap()
        );
        assert_eq!(
            read(&own.join("runs")),
            "x\nx\n",
            "{name}'s state was not kept"
        );
        let mode = fs::metadata(&own).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is not private", own.display());
    }
}

#[test]
fn an_interrupt_reaches_the_script_and_ends_the_run_even_when_the_script_exits_0() {
    let dir = scratch();
    let (root, state) = (dir.path().join("b"), dir.path().join("state"));
    let ready = dir.path().join("ready");
    // The script takes the TERM in its stride and exits 0: the run is still interrupted.
    let a = module(
        &root,
        "10-calm",
        &format!(
            "trap 'echo got TERM; exit 0' TERM\ntouch '{}'\nwhile :; do sleep 0.1; done\n",
            ready.display()
        ),
        None,
    );
    let b = module(
        &root,
        "20-never",
        &format!("touch '{}'\n", dir.path().join("ran").display()),
        None,
    );
    let opts = options(&state);
    let flag = opts.interrupt.clone();
    let raiser = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        while !ready.exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        flag.raise(StopSignal::Term);
    });
    let (result, echo) = run_captured(&spec(&root, vec![a, b]), &opts);
    raiser.join().unwrap();
    let err = result.unwrap_err();
    let RunError::Interrupted(stopped) = &err else {
        panic!("expected Interrupted, got {err:?}");
    };
    assert_eq!(
        (stopped.signal, stopped.module.as_str(), stopped.phase),
        (StopSignal::Term, "10-calm", Phase::Start)
    );
    let ended = stopped.ended.as_ref().expect("the script had started");
    assert_eq!(ended.outcome, ScriptOutcome::Exited(0));
    assert_eq!(err.exit(), Exit::Terminated);
    assert_eq!(err.exit().code(), 143);
    assert!(
        echo.contains("[10-calm] (SIGTERM: passed on to the script's process group)\n")
            && echo.contains("[10-calm] got TERM\n"),
        "{echo}"
    );
    assert!(
        err.to_string().starts_with(
            "stopped by SIGTERM during module 10-calm's start script, which exited with status 0 after "
        ),
        "{err}"
    );
    assert!(
        !dir.path().join("ran").exists(),
        "a module after the TERM ran"
    );
    let steps: Vec<_> = status::read(&state)
        .unwrap()
        .steps
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(steps, [StepState::Failed, StepState::Pending]);

    // The hook that reports it runs to its end although the flag is still raised.
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    let mut echo = Vec::new();
    runner::run_hook(
        "sleep 0.3; echo \"told: $BUNDLE_RESULT\"",
        Outcome::Interrupted,
        None,
        &state_dir(&state),
        &logs,
        &opts.run,
        &mut echo,
    )
    .expect("the hook");
    assert_eq!(String::from_utf8_lossy(&echo), "[hook] told: interrupted\n");
}
