//! An instance's life after the first boot: the saved configuration, offline boots, `rerun`,
//! `rollback`, the dry run's diff, and `status --wait` — with real processes, a real HTTP server on
//! 127.0.0.1 that goes away, and real state folders.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::http::Server;
use crate::support::{ITER, Mode, PASS, bootstrap, keygen, pack, pack_signed, run, scratch, write};

/// A personality `root/web-VERSION` named `web`, whose modules append `NAME VERSION` to `marks`.
pub(crate) fn web(root: &Path, version: &str, modules: &[&str]) -> PathBuf {
    let dir = root.join(format!("web-{version}"));
    for m in modules {
        write(
            &dir,
            &format!("{m}/start"),
            &format!(
                "echo \"$BUNDLE_MODULE $BUNDLE_VERSION\" >> '{}'\n",
                root.join("marks").display()
            ),
            Mode::Plain,
        );
    }
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"web\"\nversion = \"{version}\"\n"),
        Mode::Plain,
    );
    dir
}

fn marks(root: &Path) -> String {
    fs::read_to_string(root.join("marks")).unwrap_or_default()
}

/// `bundle-bootstrap SUB …` with this test's own configuration file and the passphrase in a file
/// (a source the configuration keeps).
struct Machine {
    config: PathBuf,
    pass: PathBuf,
    state: PathBuf,
}

impl Machine {
    fn new(root: &Path) -> Machine {
        let pass = root.join("pass.txt");
        fs::write(&pass, format!("{PASS}\n")).unwrap();
        Machine {
            config: root.join("etc/bootstrap.toml"),
            pass,
            state: root.join("state"),
        }
    }

    fn cmd(&self, sub: &str) -> std::process::Command {
        let mut cmd = bootstrap();
        cmd.arg(sub).arg("--config").arg(&self.config);
        cmd
    }

    /// The first boot: `run URL` with everything, which saves the configuration.
    fn first_run(&self, url: &str, extra: &[&str]) -> crate::support::Ran {
        run(self
            .cmd("run")
            .arg(url)
            .args(["--iter", ITER, "--retry-for", "2s"])
            .arg("--pass")
            .arg(format!("file:{}", self.pass.display()))
            .arg("--state-dir")
            .arg(&self.state)
            .args(extra))
    }

    fn again(&self, sub: &str, extra: &[&str]) -> crate::support::Ran {
        run(self.cmd(sub).args(extra))
    }

    fn status(&self, extra: &[&str]) -> crate::support::Ran {
        self.again("status", extra)
    }
}

#[test]
fn the_first_run_saves_what_later_boots_apply() {
    let tmp = scratch();
    let server = Server::start();
    let file = tmp.path().join("web.bundle");
    pack(&web(tmp.path(), "1", &["10-app"]), &file, &[]);
    server.put("/web.bundle", fs::read(&file).unwrap());
    let i = Machine::new(tmp.path());
    i.first_run(&server.url("/web.bundle"), &["--env", "ROLE=web"])
        .ok()
        .stderr_has("saved this configuration");
    let text = fs::read_to_string(&i.config).unwrap();
    assert!(text.contains("url = \"http://127.0.0.1:"), "{text}");
    assert!(
        text.contains(&format!("pass = \"file:{}\"", i.pass.display())),
        "{text}"
    );
    assert!(text.contains("env = [\"ROLE=web\"]"), "{text}");
    assert!(
        !text.contains(PASS),
        "the passphrase itself was saved:\n{text}"
    );
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&i.config), 0o600);
    assert_eq!(mode(i.config.parent().unwrap()), 0o700);

    // A later boot: no URL, no flags. A flag given now wins over the saved one.
    i.again("run", &[]).ok();
    i.again("run", &["--module-timeout", "1m", "--dry-run"])
        .ok();
    assert_eq!(marks(tmp.path()), "10-app 1\n10-app 1\n");

    // A configuration others can write, or with a key that is not a flag, is refused.
    fs::set_permissions(&i.config, fs::Permissions::from_mode(0o666)).unwrap();
    i.again("run", &[])
        .code(1)
        .stderr_has("others can write it");
    fs::set_permissions(&i.config, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(&i.config, format!("{text}modul-timeout = \"5m\"\n")).unwrap();
    i.again("run", &[])
        .code(1)
        .stderr_has("modul-timeout: not a `bundle-bootstrap run` flag");
    // Without any configuration, `run` asks for a URL.
    fs::remove_file(&i.config).unwrap();
    i.again("run", &[]).code(1).stderr_has("no URL given");
}

#[test]
fn a_boot_without_the_network_re_applies_the_last_verified_release() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let www = tmp.path().join("www");
    fs::create_dir(&www).unwrap();
    let file = www.join("web.bundle");
    pack_signed(
        &web(tmp.path(), "1", &["10-app"]),
        &file,
        &key,
        &["--expires", "6s"],
    )
    .ok();
    let server = Server::start();
    server.put("/web.bundle", fs::read(&file).unwrap());
    server.put(
        "/web.bundle.minisig",
        fs::read(www.join("web.bundle.minisig")).unwrap(),
    );
    let url = server.url("/web.bundle");
    let i = Machine::new(tmp.path());

    // The first boot of an instance has nothing to fall back on: it fails as before.
    let down = Server::start();
    let down_url = down.url("/web.bundle");
    drop(down);
    let first = tmp.path().join("first");
    run(i
        .cmd("run")
        .arg(&down_url)
        .args(["--iter", ITER, "--retry-for", "1s", "--pubkey", &key.b64])
        .arg("--pass")
        .arg(format!("file:{}", i.pass.display()))
        .arg("--state-dir")
        .arg(&first))
    .code(2);

    i.first_run(&url, &["--pubkey", &key.b64]).ok();
    drop(server);
    // The bucket is gone: the next boot says so, re-applies v1, and exits 0.
    let started = Instant::now();
    i.again("run", &["--offline-after", "1s"])
        .ok()
        .stderr_has("OFFLINE:")
        .stderr_has("re-applying the last release verified here: web 1");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(marks(tmp.path()), "10-app 1\n10-app 1\n");
    i.status(&[])
        .ok()
        .stdout_has("(offline re-apply): ok")
        .stdout_has("note: OFFLINE:");
    // --no-offline: fail as the first boot did.
    i.again("run", &["--no-offline"]).code(2);
    // Once its signature has expired, the release is no longer re-applied offline…
    std::thread::sleep(Duration::from_secs(6));
    i.again("run", &[]).code(2);
    // …unless the operator says so.
    i.again("run", &["--allow-expired"])
        .ok()
        .stderr_has("OFFLINE:");
}

#[test]
fn rerun_and_rollback_apply_kept_releases_without_lowering_the_floor() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let server = Server::start();
    let url = server.url("/web.bundle");
    let publish = |version: &str, seq: &str, modules: &[&str]| {
        let out = tmp.path().join(format!("out-{version}/web.bundle"));
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        pack_signed(
            &web(tmp.path(), version, modules),
            &out,
            &key,
            &["--seq", seq],
        )
        .ok();
        server.put("/web.bundle", fs::read(&out).unwrap());
        server.put(
            "/web.bundle.minisig",
            fs::read(out.with_extension("bundle.minisig")).unwrap(),
        );
    };
    let i = Machine::new(tmp.path());
    publish("1", "10", &["10-app", "20-old"]);
    i.first_run(&url, &["--pubkey", &key.b64]).ok();
    publish("2", "20", &["10-app", "30-new"]);
    // The dry run shows what v2 changes against the applied v1.
    i.again("run", &["--dry-run"])
        .ok()
        .stdout_has("against the applied release web 1")
        .stdout_has("version:   1 -> 2")
        .stdout_has("added:     30-new")
        .stdout_has("removed:   20-old")
        .stdout_has("unchanged: 10-app");
    i.again("run", &[]).ok();
    fs::remove_file(tmp.path().join("marks")).unwrap();

    i.again("rollback", &[])
        .ok()
        .stderr_has("rolling back to web 1")
        .stderr_has("ok (rollback): web 1");
    assert_eq!(marks(tmp.path()), "10-app 1\n20-old 1\n");
    assert_eq!(
        fs::read_to_string(i.state.join("seq/web")).unwrap(),
        "20\n",
        "a local rollback lowered the floor"
    );
    i.status(&[]).ok().stdout_has("(rollback): ok");
    i.again("rerun", &[]).ok().stderr_has("ok (rerun): web 1");
    i.again("rollback", &["--to", "20"])
        .ok()
        .stderr_has("ok (rollback): web 2");
    i.again("rollback", &["--to", "99"])
        .code(1)
        .stderr_has("no a release 99");
    i.again("rerun", &["http://elsewhere/x"])
        .code(1)
        .stderr_has("use run URL");
}

#[test]
fn status_wait_blocks_until_the_run_ends() {
    let tmp = scratch();
    let dir = tmp.path().join("slow");
    write(&dir, "10-slow/start", "sleep 2\n", Mode::Plain);
    let file = tmp.path().join("slow.bundle");
    pack(&dir, &file, &[]);
    let i = Machine::new(tmp.path());
    let running = crate::support::start(
        i.cmd("run")
            .arg(&file)
            .args(["--iter", ITER])
            .arg("--pass")
            .arg(format!("file:{}", i.pass.display()))
            .arg("--state-dir")
            .arg(&i.state),
    );
    std::thread::sleep(Duration::from_millis(800));
    i.status(&["--state-dir", &i.state.to_string_lossy()])
        .code(6)
        .stdout_has("running");
    i.status(&[
        "--state-dir",
        &i.state.to_string_lossy(),
        "--wait",
        "--timeout",
        "200ms",
    ])
    .code(6);
    let started = Instant::now();
    i.status(&["--state-dir", &i.state.to_string_lossy(), "--wait"])
        .ok()
        .stdout_has(": ok");
    assert!(started.elapsed() > Duration::from_millis(500));
    running.finish().ok();
}

#[test]
fn every_script_and_the_status_know_the_instance() {
    use crate::support::imds::{INSTANCE_ID, Imds, Instance};
    let tmp = scratch();
    let dir = tmp.path().join("who");
    write(
        &dir,
        "10-who/start",
        &format!(
            "echo \"$BUNDLE_INSTANCE_ID\" >> '{}'\n",
            tmp.path().join("ids").display()
        ),
        Mode::Plain,
    );
    let file = tmp.path().join("who.bundle");
    pack(&dir, &file, &[]);
    let imds = Imds::start(Instance {
        role: None,
        access_key_id: String::new(),
        secret_access_key: String::new(),
        token: String::new(),
        region: "eu-west-1".into(),
    });
    let i = Machine::new(tmp.path());
    run(i
        .cmd("run")
        .arg(&file)
        .args(["--iter", ITER])
        .arg("--pass")
        .arg(format!("file:{}", i.pass.display()))
        .arg("--state-dir")
        .arg(&i.state)
        .args(["--imds-endpoint", &imds.endpoint()])
        .env_remove("AWS_EC2_METADATA_DISABLED"))
    .ok();
    assert_eq!(
        fs::read_to_string(tmp.path().join("ids")).unwrap(),
        format!("{INSTANCE_ID}\n")
    );
    i.status(&[])
        .ok()
        .stdout_has(&format!("instance {INSTANCE_ID}"));
    // Without IMDS, the machine id (every systemd machine has one; this one may not).
    i.again("rerun", &[]).ok();
    let ids = fs::read_to_string(tmp.path().join("ids")).unwrap();
    let second = ids.lines().nth(1).unwrap();
    match fs::read_to_string("/etc/machine-id") {
        Ok(id) => assert_eq!(second, id.trim()),
        Err(_) => assert_eq!(second, ""),
    }
}
