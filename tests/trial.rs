//! `bundle try` (issue 12, item 4): it says what it is about to do to this host and asks first; a
//! second try on a kept state folder honours the init records; `--sign` boots from a signed
//! pointer; the lines it prints are the commands it runs; a failure keeps its logs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli_boot::trace;
use crate::support::http::Server;
use crate::support::{ITER, Mode, bundle, keygen, run, scratch, tool, write};

/// A personality whose module `m` appends `m PHASE` to `$BUNDLE_STATE_DIR/trace`; its start
/// script names a package install that never runs (`true ||`), so the try has a reason to ask.
fn tracing(root: &Path) -> PathBuf {
    let dir = root.join("traced");
    let body = "echo \"$BUNDLE_MODULE $BUNDLE_PHASE\" >> \"$BUNDLE_STATE_DIR/trace\"\n";
    write(&dir, "m/init", body, Mode::Plain);
    write(
        &dir,
        "m/start",
        &format!("{body}true || pkg_install never-installed-pkg\n"),
        Mode::Plain,
    );
    dir
}

/// `bundle try DIR --iter ITER …` with its scratch folders under `tmp`.
fn try_in(tmp: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = bundle();
    cmd.env("TMPDIR", tmp)
        .arg("try")
        .arg(dir)
        .args(["--iter", ITER])
        .args(extra);
    cmd
}

/// The text after `prefix` on the stderr line that holds it.
fn line_after(stderr: &str, prefix: &str) -> String {
    let at = stderr
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{stderr}"));
    stderr[at + prefix.len()..]
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// The path that follows `prefix` on the line that holds it (up to the first space).
fn path_after(text: &str, prefix: &str) -> PathBuf {
    let line = line_after(text, prefix);
    PathBuf::from(line.split(' ').next().unwrap_or_default())
}

/// Runs a printed command line with `sh -c`, as a user pasting it would.
fn sh(line: &str, tmp: &Path) -> crate::support::Ran {
    run(Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::null()))
}

#[test]
fn it_says_what_it_would_change_and_without_a_terminal_needs_yes() {
    let tmp = scratch();
    // A library module: a try asks before running one, whoever runs it.
    let lib = tmp.path().join("lib");
    write(
        &lib,
        "greeter/start",
        "touch \"$BUNDLE_STATE_DIR/greeter-ran\"\nsystemctl enable --now greeter.service || true\n",
        Mode::Plain,
    );
    let dir = tracing(tmp.path());
    write(
        &dir,
        "bundle.toml",
        "name = \"traced\"\nmodules = [\"greeter\"]\n",
        Mode::Plain,
    );
    let refused = run(try_in(tmp.path(), &dir, &["--keep"])
        .arg("--modules-path")
        .arg(&lib));
    refused
        .code(1)
        .stderr_has(&format!(
            "greeter (library {}): starts services",
            lib.display()
        ))
        .stderr_has("start:2: systemctl enable --now greeter.service || true")
        .stderr_has("m (local): installs packages")
        .stderr_has("start:2: true || pkg_install never-installed-pkg")
        .stderr_has("there is no terminal to ask")
        .stderr_has("it runs library modules (greeter)")
        .stderr_has("hint: read what it would do above, then pass --yes");
    // Nothing ran, nothing was packed or kept.
    assert!(
        !refused.stderr.contains("try: running:"),
        "{}",
        refused.stderr
    );
    let left: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("bundle-try-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let ran = run(try_in(tmp.path(), &dir, &["--yes", "--keep"])
        .arg("--modules-path")
        .arg(&lib));
    ran.ok().stderr_has("greeter (library");
    let state = path_after(&ran.stderr, "state folder ");
    assert!(state.join("greeter-ran").is_file(), "{ran}");
}

#[test]
fn on_a_terminal_it_asks_and_no_runs_nothing() {
    let tmp = scratch();
    let dir = tracing(tmp.path());
    // `script` gives the try a terminal; the answer is typed into it.
    let asked = |answer: &str| {
        let line = format!(
            "{} try {} --iter {ITER} --keep",
            env!("CARGO_BIN_EXE_bundle"),
            dir.display()
        );
        let mut cmd = tool("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env("TMPDIR", tmp.path());
        crate::support::run_with_stdin(&mut cmd, answer.as_bytes())
    };
    let no = asked("n\n");
    no.code(1)
        .stdout_has("go on, on this host? [y/N]")
        .stdout_has("not running: nothing was changed");
    assert!(!no.stdout.contains("try: running:"), "{no}");

    let yes = asked("y\n");
    yes.ok().stdout_has("go on, on this host? [y/N]");
    let state = path_after(&yes.stdout, "state folder ");
    assert_eq!(trace(&state), ["m init", "m start"], "{yes}");
}

#[test]
fn a_second_try_on_the_kept_state_runs_start_again_and_not_init() {
    let tmp = scratch();
    let dir = tracing(tmp.path());
    let first = run(&mut try_in(
        tmp.path(),
        &dir,
        &["--yes", "--keep", "--env", "GREETING=hi there"],
    ));
    first.ok().stderr_has("kept the scratch folder");
    let state = path_after(&first.stderr, "state folder ");
    assert_eq!(trace(&state), ["m init", "m start"]);

    // The line it prints is the command that does it: pasted into a shell, it runs start alone.
    let again = line_after(&first.stderr, "to try it again on this state: ");
    assert!(again.contains("--state-dir"), "{again}");
    assert!(again.contains("'GREETING=hi there'"), "{again}");
    let second = sh(&again, tmp.path());
    second.ok();
    assert_eq!(trace(&state), ["m init", "m start", "m start"], "{second}");
    // It printed the same line again (the same state, the same flags).
    assert_eq!(
        line_after(&second.stderr, "to try it again on this state: "),
        again
    );

    // The bootstrap's line is the command run, word for word: with the kept bundle served again
    // at the same path, the same words boot it (the passphrase from its file, never the line).
    let running = line_after(&first.stderr, "running: ");
    let kept = path_after(&first.stderr, "kept the scratch folder ");
    let passphrase = fs::read_to_string(kept.join("passphrase")).unwrap();
    assert!(!first.stderr.contains(passphrase.trim()) && !first.stdout.contains(passphrase.trim()));
    assert!(
        running.contains(&format!(
            "--pass file:{}",
            kept.join("passphrase").display()
        )),
        "{running}"
    );
    let served = Server::start();
    served.put(
        "/traced.bundle",
        fs::read(kept.join("www/traced.bundle")).unwrap(),
    );
    let old = &running[running.find("http://").unwrap()..];
    let old = &old[..old.find("/traced.bundle").unwrap()];
    let replayed = running.replacen(old, served.url("").trim_end_matches('/'), 1);
    sh(&replayed, tmp.path()).ok();
    assert_eq!(trace(&state)[3..], ["m start"]);
}

#[test]
fn sign_boots_from_a_signed_pointer_with_the_public_key() {
    let tmp = scratch();
    let dir = tracing(tmp.path());
    let key = keygen(tmp.path(), "try");
    let state = tmp.path().join("state");
    let signed = || {
        run(try_in(tmp.path(), &dir, &["--yes", "--sign"])
            .arg(&key.secret)
            .arg("--state-dir")
            .arg(&state))
    };
    let first = signed();
    first.ok().stderr_has("published it at http://127.0.0.1:");
    let running = line_after(&first.stderr, "running: ");
    assert!(running.contains("/traced.latest --pubkey "), "{running}");
    assert!(running.contains(&key.b64), "{running}");
    assert!(!running.contains("--sha256"), "{running}");
    // A later boot from a newer pointer on the same state: the floor holds, init stays done.
    signed().ok();
    assert_eq!(trace(&state), ["m init", "m start", "m start"]);
    assert!(state.join("seq").read_dir().unwrap().next().is_some());
}

#[test]
fn a_failed_try_keeps_its_scratch_folder_and_logs() {
    let tmp = scratch();
    let dir = tmp.path().join("failing");
    write(
        &dir,
        "broken/start",
        "echo about to fail\nexit 7\n",
        Mode::Plain,
    );
    let ran = run(&mut try_in(tmp.path(), &dir, &["--yes"]));
    ran.code(5)
        .stderr_has("the run failed; kept the scratch folder");
    let state = path_after(&ran.stderr, "state folder ");
    let logs: Vec<PathBuf> = fs::read_dir(state.join("logs"))
        .unwrap()
        .flat_map(|run| fs::read_dir(run.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        logs.iter().any(|log| fs::read_to_string(log)
            .unwrap_or_default()
            .contains("about to fail")),
        "{logs:?}{ran}"
    );
}

#[test]
fn the_readmes_first_command_runs_without_asking_for_an_ordinary_user() {
    // The quick start, `bundle try bundle-templates/hello`, on a fresh machine: an ordinary user,
    // no terminal needed, no --yes. As root (CI), it runs as `nobody` through setpriv.
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle-templates/hello");
    let line = format!(
        "{} try {} --iter {ITER}",
        env!("CARGO_BIN_EXE_bundle"),
        template.display()
    );
    let mut cmd = if rustix::process::geteuid().is_root() {
        let mut cmd = tool("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        cmd.args(["sh", "-c", &line]);
        cmd
    } else {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &line]);
        cmd
    };
    // /tmp: a folder nobody can write in too; the scratch folder is removed after a good run.
    cmd.env("TMPDIR", "/tmp").env("HOME", "/tmp");
    let ran = run(&mut cmd);
    ran.ok()
        .stdout_has("[hello]")
        .stderr_has("runs these modules as uid ")
        .stderr_has("hello (local): nothing seen that installs packages");
    assert!(!ran.stderr.contains("go on"), "{ran}");
}
