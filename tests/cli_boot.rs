//! `bundle-bootstrap run|status` end to end: real bundles, a real HTTP server on 127.0.0.1, real scripts.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::http::{Behaviour, Server, make_certs};
use crate::support::{
    ITER, Mode, PASS, Pass, boot, bootstrap, bundle, pack, run, scratch, seed_bundle, tool, watch,
    write,
};

/// A personality whose modules append `NAME PHASE` to `$BUNDLE_STATE_DIR/trace` and dump their
/// environment to `$BUNDLE_STATE_DIR/env.NAME`.
fn tracing_personality(root: &Path, modules: &[(&str, &str)]) -> PathBuf {
    let dir = root.join("p");
    for (name, requires) in modules {
        let body = "echo \"$BUNDLE_MODULE $BUNDLE_PHASE\" >> \"$BUNDLE_STATE_DIR/trace\"\nenv > \"$BUNDLE_STATE_DIR/env.$BUNDLE_MODULE\"\necho \"hello from $BUNDLE_MODULE\"\n";
        write(&dir, &format!("{name}/start"), body, Mode::Plain);
        write(&dir, &format!("{name}/init"), body, Mode::Plain);
        if !requires.is_empty() {
            write(
                &dir,
                &format!("{name}/module.toml"),
                &format!("requires = [\"{requires}\"]\n"),
                Mode::Plain,
            );
        }
    }
    dir
}

/// The lines of `STATE/trace`, which the tracing modules append to.
pub(crate) fn trace(state: &Path) -> Vec<String> {
    fs::read_to_string(state.join("trace"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn runs_modules_over_http_in_requires_order_inits_once_and_survives_a_503() {
    let tmp = scratch();
    // Names say a, b, c; requires say c first, then a, then b.
    let dir = tracing_personality(tmp.path(), &[("a", "c"), ("b", "a"), ("c", "")]);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let server = Server::start();
    server.put("/p.bundle", fs::read(&file).unwrap());
    server.script("/p.bundle", vec![Behaviour::Status(503)]);
    let state = tmp.path().join("state");

    let url = server.url("/p.bundle");
    let first = boot(&url)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run();
    first
        .ok()
        .stdout_has("[a] hello from a")
        .stderr_has("503")
        .stderr_has("ok:");
    assert_eq!(
        trace(&state),
        [
            "c init", "a init", "b init", "c start", "a start", "b start"
        ]
    );

    // The second run: no init (same digests), every start again.
    boot(&url)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    assert_eq!(trace(&state)[6..], ["c start", "a start", "b start"]);
    assert!(state.join("current").join("start-up-bundle").is_dir());

    let status = run(bootstrap()
        .args(["status", "--json", "--state-dir"])
        .arg(&state))
    .in_dir(tmp.path());
    status.ok();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["result"], "ok", "{json}");
}

#[test]
fn the_passphrase_never_reaches_modules_logs_or_the_state_dir() {
    let tmp = scratch();
    let dir = tracing_personality(tmp.path(), &[("only", "")]);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let ran = boot(&file)
        .pass(Pass::Default(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--env", "GREETING=hi"])
        .run();
    ran.ok();
    let env = fs::read_to_string(state.join("env.only")).unwrap();
    assert!(
        env.contains("GREETING=hi")
            && env.contains("BUNDLE_NAME=p")
            && env.contains("BUNDLE_PHASE=start"),
        "{env}"
    );
    assert!(!env.contains("BUNDLE_PASSPHRASE"), "{env}");
    assert!(!ran.stdout.contains(PASS) && !ran.stderr.contains(PASS));
    let grep = run(tool("grep").args(["-r", "-l", "-F", PASS]).arg(&state));
    assert_eq!(
        grep.code,
        Some(1),
        "passphrase found in the state dir: {}",
        grep.stdout
    );

    // Named with --pass env:VAR, that variable is stripped too.
    let state2 = tmp.path().join("state2");
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state2)
        .run()
        .ok();
    assert!(
        !fs::read_to_string(state2.join("env.only"))
            .unwrap()
            .contains("SB_PASS")
    );
}

#[test]
fn a_failing_module_stops_the_run_loudly_with_exit_5() {
    let tmp = scratch();
    let dir = tracing_personality(tmp.path(), &[("10-first", ""), ("30-never", "")]);
    write(
        &dir,
        "20-broken/start",
        "#!/bin/bash\nfor i in $(seq 1 30); do echo \"line $i\"; done\necho 'disk full' >&2\nexit 7\n",
        Mode::Exec,
    );
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let hook_out = tmp.path().join("hook");
    let ran = boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .arg("--on-failure")
        .arg(format!(
            "echo \"$BUNDLE_RESULT $BUNDLE_FAILED_MODULE\" > {}",
            hook_out.display()
        ))
        .run();
    ran.code(5)
        .stderr_has("20-broken")
        .stderr_has("status 7")
        .stderr_has("disk full")
        .stderr_has("line 30");
    assert!(
        !ran.stderr.contains("line 5\n"),
        "more than the last 20 lines{ran}"
    );
    assert!(ran.stderr.contains(".log"), "no log path{ran}");
    assert!(
        !trace(&state)
            .iter()
            .any(|l| l.starts_with("30-never start")),
        "{:?}",
        trace(&state)
    );
    assert_eq!(
        fs::read_to_string(hook_out).unwrap().trim(),
        "failure 20-broken"
    );
    let last = ran.stderr.lines().last().unwrap();
    assert!(
        last.contains("FAILED") && last.contains("20-broken"),
        "{last}"
    );
}

#[test]
fn a_seed_style_bundle_from_tar_and_openssl_md5_runs_in_name_order() {
    let tmp = scratch();
    let src = tmp.path().join("src");
    for m in ["20-rabbitmq", "10-java", "30-tinydns"] {
        write(
            &src,
            &format!("start-up-bundle/{m}/start"),
            &format!("echo {m} >> \"$BUNDLE_STATE_DIR/trace\"\n"),
            Mode::Plain,
        );
    }
    let file = seed_bundle(&src, &tmp.path().join("seed.enc"));
    let state = tmp.path().join("state");
    boot(&file)
        .args(["--legacy-kdf", "--md", "md5"])
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .run()
        .ok();
    assert_eq!(trace(&state), ["10-java", "20-rabbitmq", "30-tinydns"]);
}

#[test]
fn a_sha256_mismatch_or_a_wrong_passphrase_runs_nothing() {
    let tmp = scratch();
    let dir = tracing_personality(tmp.path(), &[("m", "")]);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--sha256", &"0".repeat(64)])
        .run()
        .code(3)
        .stderr_has("sha256");
    boot(&file)
        .iter(ITER)
        .pass(Pass::Spec("pass:wrong"))
        .state_dir(&state)
        .run()
        .code(3);
    // Not a sha256 at all: refused as a usage error before anything is read. Everything else
    // about this boot is right, so with the check gone it would run (or fail on the digest, 3).
    for malformed in ["abc", &"g".repeat(64)] {
        boot(&file)
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&state)
            .args(["--sha256", malformed])
            .run()
            .code(1)
            .stderr_has("is not a sha256: give the 64 hex digits");
    }
    assert!(trace(&state).is_empty());
    assert!(!state.join("current").exists());
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let tmp = scratch();
    let dir = tracing_personality(tmp.path(), &[("a", ""), ("b", "a")]);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let ran = boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .arg("--dry-run")
        .run();
    ran.ok()
        .stdout_has("1. a: init (due) + start")
        .stdout_has("2. b");
    assert!(trace(&state).is_empty());
}

#[test]
fn fetch_failures_exit_2_and_usage_errors_exit_1() {
    let tmp = scratch();
    let server = Server::start();
    let state = tmp.path().join("state");
    boot(server.url("/missing.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .code(2)
        .stderr_has("404");
    run(bootstrap().args(["run"])).code(1);
    run(bootstrap().args(["run", "x", "--module-timeout", "soon"])).code(1);
    // A passphrase typed where the source goes is refused without being repeated.
    let typo = run(bootstrap().args(["run", "x", "--pass", "hunter2-typed-bare"]));
    typo.code(1).stderr_has("--pass takes");
    assert!(
        !typo.stderr.contains("hunter2"),
        "the mistyped passphrase was echoed{typo}"
    );
}

#[test]
fn a_hanging_module_is_killed_at_the_timeout() {
    let tmp = scratch();
    let dir = tmp.path().join("p");
    write(
        &dir,
        "hang/start",
        "sleep 300 &\necho $! > \"$BUNDLE_STATE_DIR/child\"\nsleep 300\n",
        Mode::Plain,
    );
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let started = std::time::Instant::now();
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--module-timeout", "3s"])
        .run()
        .code(5)
        .stderr_has("timed out");
    assert!(started.elapsed().as_secs() < 60);
    let child = fs::read_to_string(state.join("child")).unwrap();
    assert!(!alive(child.trim()), "the script's child survived");
}

/// A process that exists and is not a zombie (an orphan's zombie may linger until PID 1 reaps it).
fn alive(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

#[test]
fn two_runs_on_one_state_dir_never_overlap() {
    let tmp = scratch();
    let dir = tmp.path().join("p");
    let body = "echo \"begin $$\" >> \"$BUNDLE_STATE_DIR/trace\"\nsleep 1\necho \"end $$\" >> \"$BUNDLE_STATE_DIR/trace\"\n";
    write(&dir, "slow/start", body, Mode::Plain);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            boot(&file)
                .pass(Pass::Env(PASS))
                .iter(ITER)
                .state_dir(&state)
                .start()
        })
        .collect();
    for running in runs {
        running.finish().ok();
    }
    let lines = trace(&state);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("begin") && lines[1].starts_with("end"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("begin") && lines[3].starts_with("end"),
        "{lines:?}"
    );
}

#[test]
fn bundle_try_boots_the_hello_template_on_loopback() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle-templates/hello");
    // --yes: CI runs the tests as root, and a try as root asks first.
    let ran = run(bundle()
        .arg("try")
        .arg(&template)
        .args(["--iter", ITER, "--yes"]));
    ran.ok().stdout_has("[hello]").stderr_has("ok:");
}

#[test]
fn https_with_a_private_ca_and_a_cut_body_resumed_with_a_range_request() {
    let tmp = scratch();
    let dir = tracing_personality(tmp.path(), &[("m", "")]);
    write(&dir, "m/blob", &"x".repeat(300_000), Mode::Plain);
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &["--compression", "none"]);
    let certs = make_certs(tmp.path());
    let server = Server::start_tls(&certs.cert, &certs.key);
    server.put("/p.bundle", fs::read(&file).unwrap());
    server.script("/p.bundle", vec![Behaviour::CutAfter(100_000)]);
    let url = server.url("/p.bundle");
    assert!(url.starts_with("https://"), "{url}");

    // Without the private CA the certificate is refused at once: exit 2 with the --ca-file hint.
    boot(&url)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&tmp.path().join("s1"))
        .run()
        .code(2)
        .stderr_has("--ca-file");
    let state = tmp.path().join("s2");
    let ran = boot(&url)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .arg("--ca-file")
        .arg(&certs.ca)
        .run();
    ran.ok();
    assert_eq!(trace(&state), ["m init", "m start"]);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.range.as_deref() == Some("bytes=100000-")),
        "no resume: {:?}",
        server.requests()
    );
}

#[test]
fn a_refused_port_is_retried_within_retry_for_then_exit_2() {
    let tmp = scratch();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/p.bundle");
    let ran = boot(&url)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&tmp.path().join("state"))
        .args(["--retry-for", "2s"])
        .run();
    ran.code(2)
        .stderr_has("retrying in")
        .stderr_has("--retry-for");
}

#[test]
fn watch_applies_a_change_once_and_leaves_an_unchanged_bundle_alone() {
    let tmp = scratch();
    let make = |version: &str| {
        let dir = tmp.path().join(format!("p{version}"));
        write(
            &dir,
            "bundle.toml",
            &format!("name = \"p\"\nversion = \"{version}\"\n"),
            Mode::Plain,
        );
        write(
            &dir,
            "m/start",
            &format!("echo running {version} >> \"$BUNDLE_STATE_DIR/trace\"\n"),
            Mode::Plain,
        );
        let file = tmp.path().join(format!("{version}.bundle"));
        pack(&dir, &file, &[]);
        file
    };
    let (v1, v2) = (make("1"), make("2"));
    let served = tmp.path().join("served.bundle");
    fs::copy(&v1, &served).unwrap();
    let state = tmp.path().join("state");
    let watcher = watch(&served)
        .iter(ITER)
        .pass(Pass::Env(PASS))
        .args(["--interval", "300ms", "--polls", "20"])
        .state_dir(&state)
        .start();
    let wait_for = |line: &str| {
        for _ in 0..100 {
            if trace(&state).iter().any(|l| l == line) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{line:?} never ran: {:?}", trace(&state));
    };
    wait_for("running 1");
    let staged = tmp.path().join("staged");
    fs::copy(&v2, &staged).unwrap();
    fs::rename(&staged, &served).unwrap();
    wait_for("running 2");
    watcher.finish().ok();
    assert_eq!(
        trace(&state),
        ["running 1", "running 2"],
        "an unchanged bundle was applied again"
    );
}
