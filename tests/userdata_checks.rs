//! Issue 12, item 5: `bundle userdata` renders only what will work. The `bundle-bootstrap run`
//! line goes through that program's own parser when rendering; `--shell-only` refuses the flags and
//! URLs it cannot honour; sha256 pins are checked; a missing pin gets a hint. The shell-only
//! script reads `bundle.json` with a real JSON parser (the bundle's settings included) and keeps
//! init records the way `bundle-bootstrap` does, so switching between the two runs no init again.

use std::fs;

use crate::support::{ITER, bundle, keygen, pack, run, tool};
use crate::userdata::{setup, shellcheck};

#[test]
fn flags_after_the_double_dash_are_checked_by_the_bootstrap_parser() {
    let s = setup();
    let boot = s.bootstrap_flags();
    let render = |extra: &[&str]| {
        let mut args: Vec<String> = boot.to_vec();
        args.push("--".into());
        args.extend(extra.iter().map(|a| a.to_string()));
        s.render(&args)
    };
    render(&["--module-timout", "5m"])
        .code(1)
        .stderr_has("bundle: error: bundle-bootstrap run would refuse this: unexpected argument '--module-timout'")
        .stderr_has("did you mean --module-timeout?")
        .stderr_has("hint:");
    // The script already gives --state-dir (and --pass, --iter, --sha256): a second one is refused.
    render(&["--state-dir", "/elsewhere"])
        .code(1)
        .stderr_has("'--state-dir <DIR>' cannot be used multiple times");
    render(&["--module-timeout", "soon"])
        .code(1)
        .stderr_has("soon");
    render(&["--pubkey", "notakey"])
        .code(1)
        .stderr_has("--pubkey \"notakey\"");
    render(&["--allow-downgrade"])
        .code(1)
        .stderr_has("give --pubkey too");
    render(&["https://elsewhere/b.bundle"])
        .code(1)
        .stderr_has("unexpected argument");
    // What the parser accepts is rendered as given: a key, or a key file on the instance.
    let key = keygen(s.tmp.path(), "k");
    let good = render(&[
        "--module-timeout",
        "1h",
        "--pubkey",
        &key.b64,
        "--pubkey",
        "/etc/startup-bundle/old.pub",
    ]);
    good.ok()
        .stdout_has(&format!("--module-timeout 1h --pubkey {}", key.b64));
    shellcheck(&good.stdout, s.tmp.path());
}

#[test]
fn sha256_pins_are_checked_and_a_missing_one_gets_a_hint() {
    let s = setup();
    let url = s.server.url("/p.bundle");
    let base = ["userdata", url.as_str(), "--pass-from", "ssm:/p"];
    run(bundle().args(base).args([
        "--bootstrap-url",
        "https://h/b",
        "--bootstrap-sha256",
        "zzz",
    ]))
    .code(1)
    .stderr_has("\"zzz\" is not a sha256 pin");
    run(bundle()
        .args(base)
        .args([
            "--bootstrap-url",
            "https://h/b",
            "--bootstrap-sha256",
            &s.bootstrap_sha,
        ])
        .args(["--sha256", "abc"]))
    .code(1)
    .stderr_has("\"abc\" is not a sha256");
    run(bundle().args(base).args(["--bootstrap-url", "https://h/b"]))
        .code(1)
        .stderr_has("--bootstrap-sha256 is required")
        .stderr_has("hint: pin the file you upload")
        .stderr_has("sha256sum")
        .stderr_has("--bootstrap-file");
}

#[test]
fn shell_only_refuses_what_it_cannot_honour() {
    let s = setup();
    let url = s.server.url("/p.bundle");
    let key = keygen(s.tmp.path(), "k");
    let shell_only = |bundle_url: &str, extra: &[&str]| {
        run(bundle()
            .args([
                "userdata",
                bundle_url,
                "--pass-from",
                "ssm:/p",
                "--shell-only",
            ])
            .args(extra))
    };
    shell_only(
        &url,
        &["--", "--pubkey", &key.b64, "--module-timeout", "1h"],
    )
    .code(1)
    .stderr_has("--shell-only cannot honour --pubkey, --module-timeout after --")
    .stderr_has("hint: drop --shell-only");
    // A typo still gets the parser's message first.
    shell_only(&url, &["--", "--pubkye", &key.b64])
        .code(1)
        .stderr_has("unexpected argument '--pubkye'");
    let pointer = s.server.url("/p.latest");
    shell_only(&pointer, &[])
        .code(1)
        .stderr_has(&format!("cannot follow the release pointer {pointer}"));
    shell_only("s3://team/p.bundle", &[])
        .code(1)
        .stderr_has("cannot read s3://team/p.bundle");
    shell_only(&url, &["--bootstrap-url", "https://h/b"])
        .code(1)
        .stderr_has("cannot be used with");
}

#[test]
fn switching_between_the_two_user_data_runs_no_init_again() {
    let s = setup();
    let shell_only = s.render(&["--shell-only"]);
    shell_only.ok().stdout_has("json");
    assert!(
        !shell_only.stdout.contains("sed -n"),
        "bundle.json is read with patterns:\n{}",
        shell_only.stdout
    );
    let with_bootstrap =
        s.render(&[&s.bootstrap_flags()[..], &["--no-units".to_string()]].concat());
    with_bootstrap.ok();
    s.execute(&shell_only.stdout).ok();
    s.execute(&with_bootstrap.stdout).ok();
    s.execute(&shell_only.stdout).ok();
    let inits: Vec<String> = s
        .trace()
        .into_iter()
        .filter(|l| l.contains(" init "))
        .collect();
    assert_eq!(inits, ["db init hi", "web init hi"]);
    assert_eq!(s.trace().len(), 2 + 3 * 2);
    // The records are bundle-bootstrap's: name, then the exact module and digest inside.
    let records: Vec<_> = fs::read_dir(s.tmp.path().join("state/init"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for name in records {
        assert!(name.contains("@sha256_"), "{name}");
        let text = fs::read_to_string(s.tmp.path().join("state/init").join(&name)).unwrap();
        let module = name.split('@').next().unwrap();
        assert!(
            text.starts_with(&format!("module={module}\ndigest=sha256:")),
            "{text}"
        );
    }
}

#[test]
fn the_shell_only_user_data_applies_the_bundles_settings_under_env() {
    let tmp = crate::support::scratch();
    let dir = crate::operator_personality::settings_personality(tmp.path());
    // A quote in a value: the script's quoting of what Python read.
    let toml = dir.join("bundle.toml");
    let text = fs::read_to_string(&toml).unwrap();
    fs::write(
        &toml,
        text.replace("B = \"bundle\"", "B = \"it's the bundle's\""),
    )
    .unwrap();
    let file = tmp.path().join("conf.bundle");
    pack(&dir, &file, &[]);
    fs::write(
        tmp.path().join("pass"),
        format!("{}\n", crate::support::PASS),
    )
    .unwrap();
    let rendered = run(bundle()
        .args(["userdata", &format!("file://{}", file.display())])
        .args(["--shell-only", "--iter", ITER])
        .arg("--pass-from")
        .arg(format!("file:{}", tmp.path().join("pass").display()))
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("--log-file")
        .arg(tmp.path().join("boot.log"))
        .args(["--env", "C=flag"]));
    rendered.ok();
    shellcheck(&rendered.stdout, tmp.path());
    let script = tmp.path().join("user-data.sh");
    fs::write(&script, &rendered.stdout).unwrap();
    run(tool("bash").arg(&script))
        .ok()
        .stdout_has("A=module B=it's the bundle's C=flag name=conf")
        .stdout_has("ok: conf");
}
