//! `bundle userdata`: the rendered scripts pass shellcheck and, executed for real under bash against a
//! server on 127.0.0.1 (install, state, log and configuration paths pointed into a scratch folder),
//! boot the bundle and install the units (into a scratch folder, with the stand-in `systemctl`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::http::Server;
use crate::support::{
    ITER, Mode, PASS, Ran, bootstrap, bundle, pack, run, scratch, sha256_hex, systemctl_stand_in,
    tool, write,
};

pub(crate) struct Setup {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) server: Server,
    pub(crate) bundle_sha: String,
    pub(crate) bootstrap_sha: String,
}

pub(crate) fn setup() -> Setup {
    let tmp = scratch();
    let dir = tmp.path().join("p");
    for (name, requires) in [("web", "db"), ("db", "")] {
        let body = "echo \"$BUNDLE_MODULE $BUNDLE_PHASE $GREETING\" >> \"$BUNDLE_STATE_DIR/trace\"\necho \"$BUNDLE_PHASE done\"\n";
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
    let file = tmp.path().join("p.bundle");
    pack(&dir, &file, &[]);
    let server = Server::start();
    server.put("/p.bundle", fs::read(&file).unwrap());
    let bootstrap = fs::read(env!("CARGO_BIN_EXE_bundle-bootstrap")).unwrap();
    server.put("/bundle-bootstrap", bootstrap.clone());
    fs::write(tmp.path().join("pass"), format!("{PASS}\n")).unwrap();
    Setup {
        bundle_sha: sha256_hex(&fs::read(&file).unwrap()),
        bootstrap_sha: sha256_hex(&bootstrap),
        tmp,
        server,
    }
}

impl Setup {
    /// Where the script downloads bundle-bootstrap from, and its sha256.
    pub(crate) fn bootstrap_flags(&self) -> [String; 4] {
        [
            "--bootstrap-url".into(),
            self.server.url("/bundle-bootstrap"),
            "--bootstrap-sha256".into(),
            self.bootstrap_sha.clone(),
        ]
    }

    pub(crate) fn render(&self, extra: &[impl AsRef<std::ffi::OsStr>]) -> Ran {
        let t = self.tmp.path();
        let pass = format!("file:{}", t.join("pass").display());
        run(self.render_command(&["--pass-from", &pass]).args(extra))
    }

    /// `bundle userdata` with the scratch paths, and `pass` for the passphrase flags.
    pub(crate) fn render_command(&self, pass: &[&str]) -> std::process::Command {
        let t = self.tmp.path();
        let mut cmd = bundle();
        cmd.args([
            "userdata",
            &self.server.url("/p.bundle"),
            "--iter",
            ITER,
            "--sha256",
            &self.bundle_sha,
        ])
        .args(pass)
        .arg("--state-dir")
        .arg(t.join("state"))
        .arg("--install-dir")
        .arg(t.join("bin"))
        .arg("--log-file")
        .arg(t.join("log/boot.log"))
        .args(["--env", "GREETING=hi"]);
        cmd
    }

    /// Runs the script as cloud-init would, but with the saved configuration in the scratch
    /// folder (`$BUNDLE_BOOTSTRAP_CONFIG`, which the script and bundle-bootstrap both honour), and
    /// `install` pointed at a scratch unit folder, at `systemd` as the folder that says systemd
    /// runs the machine, and at the stand-in `systemctl`: never this machine's own.
    pub(crate) fn execute_with(&self, script: &str, systemd: &str) -> Ran {
        let t = self.tmp.path();
        let install = "\"$INSTALL_DIR/bundle-bootstrap\" install";
        let script = script.replace(
            install,
            &format!(
                "{install} --unit-dir '{}' --systemd-dir '{}'",
                t.join("units").display(),
                t.join(systemd).display()
            ),
        );
        let path = t.join("user-data.sh");
        fs::write(&path, script).unwrap();
        fs::create_dir_all(t.join("units")).unwrap();
        fs::create_dir_all(t.join("run-systemd")).unwrap();
        systemctl_stand_in(&t.join("fakebin"), &t.join("calls"));
        let path_var = format!(
            "{}:{}",
            t.join("fakebin").display(),
            std::env::var("PATH").unwrap()
        );
        run(tool("bash")
            .arg(&path)
            .env("BUNDLE_BOOTSTRAP_CONFIG", self.config())
            .env("PATH", path_var))
    }

    pub(crate) fn execute(&self, script: &str) -> Ran {
        self.execute_with(script, "run-systemd")
    }

    pub(crate) fn config(&self) -> std::path::PathBuf {
        self.tmp.path().join("etc/bootstrap.toml")
    }

    /// What a later boot's unit runs: the saved configuration alone, no passphrase around.
    pub(crate) fn later_boot(&self) -> Ran {
        run(bootstrap().arg("--config").arg(self.config()).arg("run"))
    }

    pub(crate) fn trace(&self) -> Vec<String> {
        let text = fs::read_to_string(self.tmp.path().join("state/trace")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }
}

pub(crate) fn shellcheck(script: &str, dir: &Path) {
    let path = dir.join("check.sh");
    fs::write(&path, script).unwrap();
    run(tool("shellcheck").arg(&path)).ok();
}

#[test]
fn the_bootstrap_user_data_boots_the_bundle() {
    let s = setup();
    let rendered = s.render(&s.bootstrap_flags());
    rendered
        .ok()
        .stdout_has("#!/bin/bash")
        .stdout_has("set -euo pipefail");
    assert!(
        !rendered.stdout.contains(PASS),
        "the passphrase is in the script"
    );
    shellcheck(&rendered.stdout, s.tmp.path());
    let booted = s.execute(&rendered.stdout);
    booted.ok().stdout_has("installed: startup-bundle.service");
    // One console, in order: each script between its begin and end lines, the summary last
    // (again, after the units' lines).
    let at = |text: &str| booted.stdout.find(text).unwrap_or(usize::MAX);
    assert!(
        at("bundle-bootstrap: begin db init") < at("[db] init done")
            && at("[db] init done") < at("bundle-bootstrap: end db init: exit 0 after "),
        "{booted}"
    );
    assert!(
        last_line(&booted).contains(" bundle-bootstrap: ok: "),
        "{booted}"
    );
    assert_eq!(
        s.trace(),
        ["db init hi", "web init hi", "db start hi", "web start hi"]
    );
    assert!(s.tmp.path().join("bin/bundle-bootstrap").is_file());
    // The units are installed after the run, and run the downloaded program.
    let unit_path = s.tmp.path().join("units/startup-bundle.service");
    let unit = fs::read_to_string(&unit_path).unwrap();
    // The script's `umask 077` does not make it unreadable (systemd warns about such files).
    let mode = fs::metadata(&unit_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let bin = s.tmp.path().join("bin/bundle-bootstrap");
    assert!(
        unit.contains(&format!("ExecStart={} --config", bin.display())),
        "{unit}"
    );
    let calls = fs::read_to_string(s.tmp.path().join("calls")).unwrap();
    assert_eq!(calls, "daemon-reload\nenable startup-bundle.service\n");
    // The saved configuration names the passphrase file: a later boot needs nothing else.
    let saved = fs::read_to_string(s.config()).unwrap();
    assert!(
        saved.contains(&format!(
            "pass = \"file:{}\"",
            s.tmp.path().join("pass").display()
        )),
        "{saved}"
    );
    s.later_boot().ok();
    assert_eq!(s.trace().len(), 6);
    let log = fs::read_to_string(s.tmp.path().join("log/boot.log")).unwrap();
    assert!(
        log.contains("[web] start done"),
        "module output missing from the log: {log}"
    );
}

/// The console's last line.
fn last_line(ran: &Ran) -> &str {
    ran.stdout.lines().last().unwrap_or_default()
}

/// The script's own failure line, then bundle-bootstrap's summary, last: what an operator reads at
/// the end of /var/log/cloud-init-output.log.
fn assert_ends_with_failure_then_summary(ran: &Ran, code: i32, summary: &str) {
    ran.code(code);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let [.., failure, last] = lines[..] else {
        panic!("too few lines{ran}");
    };
    assert!(
        failure.starts_with("startup-bundle: FAILED at line ")
            && failure.contains(&format!("(exit {code})")),
        "{ran}"
    );
    assert!(
        last.contains(&format!(" bundle-bootstrap: {summary}")),
        "{ran}"
    );
}

#[test]
fn a_failed_boot_ends_with_the_bootstraps_summary() {
    let s = setup();
    fs::write(s.tmp.path().join("pass"), "not the passphrase\n").unwrap();
    let rendered = s.render(&s.bootstrap_flags());
    rendered.ok();
    let ran = s.execute(&rendered.stdout);
    assert_ends_with_failure_then_summary(&ran, 3, "FAILED (exit 3): ");
    assert!(
        ran.stdout
            .contains("startup-bundle: running bundle-bootstrap\n")
            && ran.stdout.contains(" bundle-bootstrap: version "),
        "{ran}"
    );
    // The log file ends the same way, and the copy of the output is gone.
    let log = fs::read_to_string(s.tmp.path().join("log/boot.log")).unwrap();
    assert_eq!(log.lines().last(), Some(last_line(&ran)));
    let state = fs::read_dir(s.tmp.path().join("state")).unwrap();
    let names: Vec<String> = state
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".bootstrap-output")),
        "{names:?}"
    );
    assert!(s.trace().is_empty());
}

#[test]
fn a_swapped_bootstrap_binary_stops_the_script_before_anything_runs() {
    let s = setup();
    let wrong = "0".repeat(64);
    let rendered = s.render(&[
        "--bootstrap-url",
        &s.server.url("/bundle-bootstrap"),
        "--bootstrap-sha256",
        &wrong,
    ]);
    rendered.ok();
    let ran = s.execute(&rendered.stdout);
    assert_ne!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains("refusing") || ran.stderr.contains("refusing"),
        "{ran}"
    );
    assert!(s.trace().is_empty());
    assert!(!s.tmp.path().join("bin/bundle-bootstrap").exists());
}

#[test]
fn the_shell_only_user_data_boots_with_curl_openssl_and_tar() {
    let s = setup();
    let rendered = s.render(&["--shell-only"]);
    rendered.ok();
    shellcheck(&rendered.stdout, s.tmp.path());
    s.execute(&rendered.stdout).ok();
    s.execute(&rendered.stdout).ok();
    assert_eq!(
        s.trace(),
        [
            "db init hi",
            "web init hi",
            "db start hi",
            "web start hi",
            "db start hi",
            "web start hi"
        ]
    );
}

#[test]
fn every_passphrase_source_renders_shellcheck_clean_and_inline_needs_consent() {
    let s = setup();
    let boot = [
        "--bootstrap-url",
        "https://example.invalid/b",
        "--bootstrap-sha256",
        &s.bootstrap_sha,
    ];
    let url = s.server.url("/p.bundle");
    let ssm = run(bundle()
        .args(["userdata", &url, "--pass-from", "ssm:/team/bundle-pass"])
        .args(boot));
    // bundle-bootstrap reads SSM and Secrets Manager itself: no aws CLI, no exported passphrase.
    ssm.ok().stdout_has("--pass ssm:/team/bundle-pass");
    assert!(
        !ssm.stdout.contains("aws ") && !ssm.stdout.contains("BUNDLE_PASSPHRASE"),
        "{}",
        ssm.stdout
    );
    shellcheck(&ssm.stdout, s.tmp.path());
    let secrets = run(bundle()
        .args(["userdata", &url, "--pass-from", "secretsmanager:team/pass"])
        .args(boot));
    secrets.ok().stdout_has("--pass secretsmanager:team/pass");
    assert!(!secrets.stdout.contains("aws "), "{}", secrets.stdout);
    run(bundle()
        .args(["userdata", &url, "--pass-from", "inline"])
        .args(boot)
        .env("BUNDLE_PASSPHRASE", PASS))
    .code(1)
    .stderr_has("metadata service");
    let inline = run(bundle()
        .args([
            "userdata",
            &url,
            "--pass-from",
            "inline",
            "--allow-inline-passphrase",
        ])
        .args(boot)
        .env("BUNDLE_PASSPHRASE", PASS));
    inline.ok().stdout_has("WARNING");
    shellcheck(&inline.stdout, s.tmp.path());
    run(bundle().args(["userdata", &url, "--pass-from", "ssm:x"]))
        .code(1)
        .stderr_has("--bootstrap-url");
    let huge = format!("BIG={}", "x".repeat(17_000));
    run(bundle()
        .args(["userdata", &url, "--pass-from", "ssm:x", "--env", &huge])
        .args(boot))
    .code(1)
    .stderr_has("16384");
}

#[test]
fn the_ssm_passphrase_is_read_with_the_aws_cli() {
    let s = setup();
    // A stand-in `aws` on PATH answering `ssm get-parameter` the way the real CLI prints a value.
    let fake = s.tmp.path().join("fakebin");
    write(
        &fake,
        "aws",
        &format!(
            "#!/bin/sh\ncase \"$*\" in *'ssm get-parameter --name /p'*) echo '{PASS}';; *) exit 2;; esac\n"
        ),
        Mode::Exec,
    );
    let rendered = run(bundle()
        .args([
            "userdata",
            &s.server.url("/p.bundle"),
            "--iter",
            ITER,
            "--pass-from",
            "ssm:/p",
            "--shell-only",
        ])
        .arg("--state-dir")
        .arg(s.tmp.path().join("state"))
        .arg("--log-file")
        .arg(s.tmp.path().join("log/boot.log")));
    rendered.ok();
    let path = s.tmp.path().join("ssm.sh");
    fs::write(&path, &rendered.stdout).unwrap();
    let new_path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    run(tool("bash")
        .arg(&path)
        .env("PATH", new_path)
        .env("AWS_DEFAULT_REGION", "eu-west-1"))
    .ok();
    assert_eq!(s.trace().len(), 4);
    // Without the aws CLI (Debian and Ubuntu images have none) the script says so and stops.
    run(tool("bash")
        .arg(&path)
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_DEFAULT_REGION", "eu-west-1"))
    .code(1)
    .stdout_has("needs the aws CLI");
    assert_eq!(s.trace().len(), 4, "nothing ran the second time");
}

#[test]
fn an_inline_passphrase_is_kept_root_only_for_later_boots_unless_no_units() {
    let s = setup();
    let inline = |extra: &[&str]| {
        let rendered = run(s
            .render_command(&[
                "--pass-from",
                "inline",
                "--allow-inline-passphrase",
                "--bootstrap-url",
                &s.server.url("/bundle-bootstrap"),
                "--bootstrap-sha256",
                &s.bootstrap_sha,
            ])
            .args(extra)
            .env("BUNDLE_PASSPHRASE", PASS));
        rendered.ok();
        shellcheck(&rendered.stdout, s.tmp.path());
        rendered.stdout
    };
    let kept = s.tmp.path().join("etc/passphrase");

    // --no-units: nothing is installed, nothing kept; the passphrase stays in the environment.
    let script = inline(&["--no-units"]);
    assert!(!script.contains(" install"), "{script}");
    s.execute(&script).ok();
    assert!(!kept.exists());
    assert!(!s.tmp.path().join("units/startup-bundle.service").exists());

    let script = inline(&["--watch", "30s"]);
    assert!(
        script.contains("bundle-bootstrap\" install --watch 30s\n"),
        "{script}"
    );
    s.execute(&script).ok();
    assert_eq!(fs::read_to_string(&kept).unwrap(), format!("{PASS}\n"));
    assert_eq!(
        fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved = fs::read_to_string(s.config()).unwrap();
    assert!(
        saved.contains(&format!("pass = \"file:{}\"", kept.display())),
        "{saved}"
    );
    assert!(!saved.contains(PASS));
    assert!(
        s.tmp
            .path()
            .join("units/startup-bundle-watch.service")
            .exists()
    );
    let before = s.trace().len();
    s.later_boot().ok();
    assert_eq!(s.trace().len(), before + 2);
}

#[test]
fn without_systemd_the_user_data_applies_the_bundle_then_fails_loudly() {
    let s = setup();
    let rendered = s.render(&s.bootstrap_flags());
    rendered.ok();
    let ran = s.execute_with(&rendered.stdout, "no-such-folder");
    ran.stdout_has("systemd is not running this machine");
    // The bundle was applied: the summary that says so stays last.
    assert_ends_with_failure_then_summary(&ran, 1, "ok: ");
    assert_eq!(s.trace().len(), 4, "the bundle was not applied first");
    assert!(!s.tmp.path().join("units/startup-bundle.service").exists());
    assert!(!s.tmp.path().join("calls").exists());
    // The units are for the bootstrap script only, and --watch means units.
    let url = s.server.url("/p.bundle");
    for extra in [
        &["--no-units", "--watch", "1m"][..],
        &["--shell-only", "--watch", "1m"],
    ] {
        run(bundle()
            .args(["userdata", &url, "--pass-from", "ssm:/p"])
            .args(extra))
        .code(1)
        .stderr_has("cannot be used with");
    }
}
