//! `bundle userdata`: the rendered scripts pass shellcheck and, executed for real under bash against a
//! server on 127.0.0.1 (install, state and log paths pointed into a scratch folder), boot the bundle.

use std::fs;
use std::path::Path;

use crate::support::http::Server;
use crate::support::{ITER, Mode, PASS, Ran, bundle, pack, run, scratch, sha256_hex, tool, write};

struct Setup {
    tmp: tempfile::TempDir,
    server: Server,
    bundle_sha: String,
    bootstrap_sha: String,
}

fn setup() -> Setup {
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
    fn render(&self, extra: &[&str]) -> Ran {
        let t = self.tmp.path();
        run(bundle()
            .args([
                "userdata",
                &self.server.url("/p.bundle"),
                "--iter",
                ITER,
                "--sha256",
                &self.bundle_sha,
            ])
            .arg("--pass-from")
            .arg(format!("file:{}", t.join("pass").display()))
            .arg("--state-dir")
            .arg(t.join("state"))
            .arg("--install-dir")
            .arg(t.join("bin"))
            .arg("--log-file")
            .arg(t.join("log/boot.log"))
            .args(["--env", "GREETING=hi"])
            .args(extra))
    }

    fn execute(&self, script: &str) -> Ran {
        let path = self.tmp.path().join("user-data.sh");
        fs::write(&path, script).unwrap();
        run(tool("bash").arg(&path))
    }

    fn trace(&self) -> Vec<String> {
        let text = fs::read_to_string(self.tmp.path().join("state/trace")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }
}

fn shellcheck(script: &str, dir: &Path) {
    let path = dir.join("check.sh");
    fs::write(&path, script).unwrap();
    run(tool("shellcheck").arg(&path)).ok();
}

#[test]
fn the_bootstrap_user_data_boots_the_bundle() {
    let s = setup();
    let rendered = s.render(&[
        "--bootstrap-url",
        &s.server.url("/bundle-bootstrap"),
        "--bootstrap-sha256",
        &s.bootstrap_sha,
    ]);
    rendered
        .ok()
        .stdout_has("#!/bin/bash")
        .stdout_has("set -euo pipefail");
    assert!(
        !rendered.stdout.contains(PASS),
        "the passphrase is in the script"
    );
    shellcheck(&rendered.stdout, s.tmp.path());
    s.execute(&rendered.stdout).ok();
    assert_eq!(
        s.trace(),
        ["db init hi", "web init hi", "db start hi", "web start hi"]
    );
    assert!(s.tmp.path().join("bin/bundle-bootstrap").is_file());
    let log = fs::read_to_string(s.tmp.path().join("log/boot.log")).unwrap();
    assert!(
        log.contains("[web] start done"),
        "module output missing from the log: {log}"
    );
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
