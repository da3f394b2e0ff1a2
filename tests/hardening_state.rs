//! Regression tests for the holes an attack on the state folder, the signature binding, the hooks,
//! pruning, the rollback floor, `status`, `watch` and the passphrase found (the hardening issue,
//! holes 1, 2, 3, 5, 9, 11, 12, 14 and the state half of 17). Each builds its hostile input here and
//! runs the real binaries, as root, as an instance would.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};

use crate::support::{
    ITER, Mode, PASS, Pass, boot, bootstrap, bundle, keygen, pack, pack_signed, run, scratch,
    sha256_hex, tool, watch, write,
};

/// The uid of `nobody`: another local user.
const NOBODY: u32 = 65534;

/// A personality `root/NAME` whose module records each run in `marks/NAME` beside it.
fn marking(root: &Path, name: &str, version: &str) -> PathBuf {
    let dir = root.join(name);
    let marks = root.join("marks");
    fs::create_dir_all(&marks).unwrap();
    write(
        &dir,
        "10-mark/start",
        &format!(
            "echo \"$BUNDLE_NAME $BUNDLE_VERSION\" >> '{}'\n",
            marks.join(name).display()
        ),
        Mode::Plain,
    );
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"{name}\"\nversion = \"{version}\"\n"),
        Mode::Plain,
    );
    dir
}

fn marks(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("marks").join(name)).unwrap_or_default()
}

/// Hole 1: a state folder owned by someone else, or with a folder inside it that is a link, is
/// refused before anything is fetched or run.
#[test]
fn a_state_folder_owned_by_another_user_is_refused() {
    let tmp = scratch();
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .code(1)
        .stderr_has("owned by uid 65534")
        .stderr_has("hint: check who made");
    assert_eq!(marks(tmp.path(), "web"), "");

    chown(&state, Some(0), Some(0)).unwrap();
    fs::create_dir(tmp.path().join("elsewhere")).unwrap();
    symlink(tmp.path().join("elsewhere"), state.join("releases")).unwrap();
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .code(1)
        .stderr_has("releases: it is a symbolic link");
    assert_eq!(marks(tmp.path(), "web"), "");
}

/// Hole 1: a release folder planted for the real bundle's sha256 (its manifest consistent with
/// its own files) is never run: only a release this machine verified and unpacked is re-used.
#[test]
fn a_planted_release_folder_is_never_run() {
    let tmp = scratch();
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack(&dir, &file, &[]);
    let sha = sha256_hex(&fs::read(&file).unwrap());
    // The attacker's copy: the same manifest, a different start script, digests recomputed by
    // packing a personality of the same name and unpacking it.
    let evil_dir = tmp.path().join("evil/web");
    write(
        &evil_dir,
        "10-mark/start",
        &format!(
            "echo planted >> '{}'\n",
            tmp.path().join("marks/web").display()
        ),
        Mode::Plain,
    );
    write(
        &evil_dir,
        "bundle.toml",
        "name = \"web\"\nversion = \"1\"\n",
        Mode::Plain,
    );
    let evil = tmp.path().join("evil.bundle");
    pack(&evil_dir, &evil, &[]);
    let state = tmp.path().join("state");
    let release = state.join("releases").join(&sha);
    fs::create_dir_all(&release).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(state.join("releases"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&release, fs::Permissions::from_mode(0o700)).unwrap();
    run(bundle()
        .arg("unpack")
        .arg(&evil)
        .arg("-C")
        .arg(&release)
        .args(["--iter", ITER, "--pass", &format!("pass:{PASS}")]))
    .ok();

    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    assert_eq!(marks(tmp.path(), "web"), "web 1\n", "the planted start ran");
    // Now the release was verified here; its record makes a second boot re-use it.
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok()
        .stderr_has("reusing the unpacked release");
    assert!(state.join("releases").join(format!("{sha}.json")).is_file());
}

/// Hole 2: `db.bundle` and its signature copied over `web.bundle` are refused (TUF's
/// mix-and-match): a signed boot is bound to the name it asked for.
#[test]
fn a_signature_for_another_bundle_is_refused() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let db = marking(tmp.path(), "db", "1");
    let www = tmp.path().join("www");
    fs::create_dir(&www).unwrap();
    pack_signed(&db, &www.join("db.bundle"), &key, &["--seq", "5"]).ok();
    fs::copy(www.join("db.bundle"), www.join("web.bundle")).unwrap();
    fs::copy(
        www.join("db.bundle.minisig"),
        www.join("web.bundle.minisig"),
    )
    .unwrap();
    let state = tmp.path().join("state");
    boot(www.join("web.bundle"))
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run()
        .code(3)
        .stderr_has("the signature is for the bundle \"db\", but this instance boots \"web\"");
    assert_eq!(marks(tmp.path(), "db"), "");
    // The real one, and an explicit --name for a file published under another name, are fine.
    boot(www.join("db.bundle"))
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run()
        .ok();
    boot(www.join("web.bundle"))
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .args(["--name", "db"])
        .run()
        .ok();
}

/// Hole 3a: a run that fails before it has a passphrase, with a hook, leaves a private state
/// folder that the next run accepts.
#[test]
fn a_failure_hook_never_leaves_a_state_folder_others_can_read() {
    let tmp = scratch();
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("fresh/state");
    let told = tmp.path().join("told");
    let hook = format!("echo \"$BUNDLE_RESULT\" > '{}'", told.display());
    boot(&file)
        .iter(ITER)
        .state_dir(&state)
        .args(["--on-failure", &hook])
        .run()
        .code(1)
        .stderr_has("no passphrase");
    assert_eq!(fs::read_to_string(&told).unwrap(), "failure\n");
    let mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the state folder is private");
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--on-failure", &hook])
        .run()
        .ok();
    assert_eq!(marks(tmp.path(), "web"), "web 1\n");
}

/// Hole 3b and 3c: a hook never writes through a link planted in a shared state folder, and never
/// where `status.json` says.
#[test]
fn a_hook_writes_neither_through_a_planted_link_nor_where_the_status_says() {
    let tmp = scratch();
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack(&dir, &file, &[]);
    let victim = tmp.path().join("victim");
    fs::write(&victim, "keep me\n").unwrap();
    // A shared (0755) state folder with a link another user planted at logs/hook.log.
    let shared = tmp.path().join("shared");
    fs::create_dir_all(shared.join("logs")).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
    symlink(&victim, shared.join("logs/hook.log")).unwrap();
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&shared)
        .args(["--on-failure", "echo overwritten"])
        .run()
        .code(1)
        .stderr_has("hint: chmod 700");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");

    // A private state folder whose status.json names another folder as the last run's logs.
    let state = tmp.path().join("state");
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let status = fs::read_to_string(state.join("status.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&status).unwrap();
    json["log_dir"] = serde_json::Value::String(elsewhere.display().to_string());
    fs::write(state.join("status.json"), json.to_string()).unwrap();
    boot(tmp.path().join("missing.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args([
            "--retry-for",
            "1s",
            "--no-offline",
            "--on-failure",
            "echo told",
        ])
        .run()
        .code(2)
        .stdout_has("[hook] told");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// Hole 5: dry runs of other bundles never prune the release `current` points at.
#[test]
fn pruning_never_removes_the_current_release() {
    let tmp = scratch();
    let state = tmp.path().join("state");
    let first = tmp.path().join("v0.bundle");
    pack(&marking(tmp.path(), "v0", "0"), &first, &[]);
    boot(&first)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    let current = fs::read_link(state.join("current")).unwrap();
    for n in 1..=3 {
        let file = tmp.path().join(format!("v{n}.bundle"));
        pack(
            &marking(tmp.path(), &format!("v{n}"), &n.to_string()),
            &file,
            &[],
        );
        boot(&file)
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&state)
            .arg("--dry-run")
            .run()
            .ok();
    }
    assert!(
        state.join(&current).join("start-up-bundle").is_dir(),
        "current ({}) was pruned",
        current.display()
    );
}

/// Hole 11: a signed bundle that does not decrypt (its signed parameters are wrong) does not
/// raise the rollback floor: the good earlier releases still boot.
#[test]
fn the_rollback_floor_rises_only_once_a_release_unpacked() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let dir = marking(tmp.path(), "web", "1");
    let good = tmp.path().join("good/web.bundle");
    let bad = tmp.path().join("bad/web.bundle");
    fs::create_dir_all(good.parent().unwrap()).unwrap();
    fs::create_dir_all(bad.parent().unwrap()).unwrap();
    pack_signed(&dir, &good, &key, &["--seq", "10"]).ok();
    // Packed with ITER rounds, signed as if with 7: it can never decrypt. `bundle sign` refuses
    // to sign parameters that do not open the file, so the signature is made by minisign.
    pack(&dir, &bad, &[]);
    let comment = format!(
        "startup-bundle v1 name=web version=1 seq=500 sha256={} cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter=7",
        sha256_hex(&fs::read(&bad).unwrap())
    );
    run(tool("minisign")
        .args(["-S", "-s"])
        .arg(&key.secret)
        .arg("-m")
        .arg(&bad)
        .args(["-t", &comment]))
    .ok();
    let state = tmp.path().join("state");
    boot(&bad)
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run()
        .code(3);
    assert!(!state.join("seq/web").exists(), "the floor rose");
    boot(&good)
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run()
        .ok();
    assert_eq!(fs::read_to_string(state.join("seq/web")).unwrap(), "10\n");
}

/// Hole 12: `status` records every run's outcome, whatever stage it failed at, and a run that
/// died is "interrupted", never "running" forever.
#[test]
fn status_tells_the_truth_about_every_run() {
    let tmp = scratch();
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let status = || run(bootstrap().arg("status").arg("--state-dir").arg(&state));
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    status().ok().stdout_has(": ok");
    // A fetch failure (2), a wrong passphrase (3): each recorded, with its stage and status.
    boot(tmp.path().join("missing.bundle"))
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .args(["--retry-for", "1s", "--no-offline"])
        .run()
        .code(2);
    status().code(2).stdout_has("FAILED at fetch (exit 2)");
    // (Another file: the same bytes verified before are re-used without decrypting again.)
    let other = tmp.path().join("other.bundle");
    pack(&dir, &other, &[]);
    boot(&other)
        .pass(Pass::Env("wrong"))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .code(3);
    status()
        .code(3)
        .stdout_has("FAILED at decrypt/unpack (exit 3)");
    // A run that died mid-way: its status says running, its pid is gone, the lock is free.
    let text = fs::read_to_string(state.join("status.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["result"] = "running".into();
    json["pid"] = 4_000_000.into();
    json["finished"] = serde_json::Value::Null;
    fs::write(state.join("status.json"), json.to_string()).unwrap();
    status()
        .code(7)
        .stdout_has("INTERRUPTED")
        .stdout_has("pid 4000000 is gone");
}

/// Hole 14: `watch` says, at every poll, that the signature of the applied release expired.
#[test]
fn watch_reports_an_expired_signature_on_every_poll() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let dir = marking(tmp.path(), "web", "1");
    let file = tmp.path().join("web.bundle");
    pack_signed(&dir, &file, &key, &["--expires", "2s"]).ok();
    let state = tmp.path().join("state");
    boot(&file)
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run()
        .ok();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let ran = watch(&file)
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .args(["--polls", "2", "--interval", "100ms", "--allow-expired"])
        .run();
    ran.ok();
    assert_eq!(
        ran.stderr
            .matches("WARNING: the signature of the applied release web 1 expired")
            .count(),
        2,
        "{ran}"
    );
}

/// Hole 17 (state): a pointer over the signature cap is "not a signature", not "raise
/// --max-size"; a damaged or huge status.json is called what it is.
#[test]
fn state_and_pointer_messages_say_what_is_wrong() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let www = tmp.path().join("www");
    fs::create_dir(&www).unwrap();
    fs::write(www.join("web.latest"), "x".repeat(40_000)).unwrap();
    let state = tmp.path().join("state");
    let ran = boot(www.join("web.latest"))
        .pass(Pass::Env(PASS))
        .state_dir(&state)
        .pubkey(&key.b64)
        .run();
    ran.code(3)
        .stderr_has("not a minisign signature or release pointer");
    assert!(!ran.stderr.contains("--max-size"), "{ran}");

    let status = || run(bootstrap().arg("status").arg("--state-dir").arg(&state));
    fs::write(state.join("status.json"), "{\"format\": 1, \"run_id\": ").unwrap();
    let ran = status();
    ran.code(1).stderr_has("is damaged");
    assert!(!ran.stderr.contains("version"), "{ran}");
    let big = fs::File::create(state.join("status.json")).unwrap();
    big.set_len(300 << 20).unwrap();
    status().code(1).stderr_has("is larger than 1.0 MiB");
}

/// Hole 9: a module reads the passphrase neither from an inherited `fd:N` nor from its parent's
/// environment; `pass:` is warned about wherever a passphrase is read.
#[test]
fn modules_cannot_read_the_passphrase() {
    let tmp = scratch();
    let dir = tmp.path().join("spy");
    let seen = tmp.path().join("seen");
    write(
        &dir,
        "10-spy/start",
        &format!(
            "{{ cat <&3; tr '\\0' '\\n' < /proc/$PPID/environ; }} >> '{}' 2>/dev/null || true\n",
            seen.display()
        ),
        Mode::Plain,
    );
    let file = tmp.path().join("spy.bundle");
    pack(&dir, &file, &[]);
    let pass_file = tmp.path().join("pass.txt");
    fs::write(&pass_file, format!("{PASS}\n")).unwrap();
    let state = tmp.path().join("state");
    // fd:3 open on a file (a module could re-read it from the start), and BUNDLE_PASSPHRASE.
    let script = format!(
        "exec 3< '{}'; exec '{}' run '{}' --pass fd:3 --iter {ITER} --state-dir '{}'",
        pass_file.display(),
        env!("CARGO_BIN_EXE_bundle-bootstrap"),
        file.display(),
        state.display()
    );
    // Never this machine's own saved configuration (a `run URL` writes one).
    run(std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("BUNDLE_BOOTSTRAP_CONFIG", "none"))
    .ok();
    boot(&file)
        .pass(Pass::Default(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run()
        .ok();
    let seen_text = fs::read_to_string(&seen).unwrap();
    assert!(!seen_text.contains(PASS), "a module read it:\n{seen_text}");
    assert!(seen_text.contains("PATH="), "the spy did not run");

    for cmd in [
        boot(&file)
            .pass(Pass::Spec(&format!("pass:{PASS}")))
            .iter(ITER)
            .state_dir(&state)
            .run(),
        run(bundle().arg("inspect").arg(&file).args([
            "--iter",
            ITER,
            "--pass",
            &format!("pass:{PASS}"),
        ])),
        run(bundle()
            .arg("unpack")
            .arg(&file)
            .arg("-C")
            .arg(tmp.path().join("out"))
            .args(["--iter", ITER, "--pass", &format!("pass:{PASS}")])),
    ] {
        cmd.ok().stderr_has("warning: --pass pass:");
    }
}
