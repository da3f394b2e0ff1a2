//! Every boot: `bundle-bootstrap install` and the units it writes, `run --once-per-boot`.
//!
//! The units are checked by the real `systemd-analyze verify`, including against Debian's own
//! `cloud-final.service` for ordering cycles. Installing calls `systemctl`; the CI machine runs no
//! systemd (and a machine that does must not have its real units changed by a test), so these
//! tests put a stand-in `systemctl` first on `PATH` that logs its arguments and fails when told to —
//! the one stand-in in the suite. The folder whose presence says "systemd runs this machine"
//! (sd_booted(3): `/run/systemd/system`) is named with the hidden `--systemd-dir`. The real thing,
//! under the real systemd and cloud-init, is the bootlab demonstration (README, "Every boot").

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lifecycle::web;
use crate::support::http::Server;
use crate::support::{
    ITER, Mode, PASS, Ran, bootstrap, pack, run, scratch, systemctl_stand_in, tool, write,
};

const BOOT: &str = "startup-bundle.service";
const WATCH: &str = "startup-bundle-watch.service";

/// A machine to install on: a saved configuration, a unit folder, a stand-in `systemctl`.
struct Machine {
    root: PathBuf,
    config: PathBuf,
    units: PathBuf,
    systemd: PathBuf,
    bin: PathBuf,
}

impl Machine {
    fn new(root: &Path) -> Machine {
        let m = Machine {
            root: root.to_path_buf(),
            config: root.join("etc/bootstrap.toml"),
            units: root.join("units"),
            systemd: root.join("run-systemd-system"),
            bin: root.join("fakebin"),
        };
        for dir in [&m.units, &m.systemd, &m.bin] {
            fs::create_dir_all(dir).unwrap();
        }
        fs::create_dir_all(m.config.parent().unwrap()).unwrap();
        fs::set_permissions(
            m.config.parent().unwrap(),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        systemctl_stand_in(&m.bin, &root.join("calls"));
        m
    }

    fn save_config(&self, text: &str) {
        fs::write(&self.config, text).unwrap();
        fs::set_permissions(&self.config, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn install(&self, extra: &[&str]) -> Command {
        let mut cmd = bootstrap();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.arg("--config")
            .arg(&self.config)
            .arg("install")
            .arg("--unit-dir")
            .arg(&self.units)
            .arg("--systemd-dir")
            .arg(&self.systemd)
            .args(extra)
            .env("PATH", path);
        cmd
    }

    /// The stand-in's calls since the last look.
    fn calls(&self) -> Vec<String> {
        let path = self.root.join("calls");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let _ = fs::remove_file(&path);
        text.lines().map(str::to_string).collect()
    }

    fn unit(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.units.join(name)).ok()
    }

    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.units)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn configured(root: &Path) -> Machine {
    let m = Machine::new(root);
    m.save_config("url = \"https://bundles.example.com/web.latest\"\npass = \"file:/etc/pw\"\n");
    m
}

#[test]
fn the_units_pass_systemd_analyze_and_make_no_cycle_with_cloud_init() {
    let tmp = scratch();
    let m = configured(tmp.path());
    run(&mut m.install(&["--watch", "30s"])).ok();
    let bin = env!("CARGO_BIN_EXE_bundle-bootstrap");
    let boot = m.unit(BOOT).unwrap();
    assert!(
        boot.contains(&format!(
            "ExecStart={bin} --config {} run --once-per-boot\n",
            m.config.display()
        )),
        "{boot}"
    );
    let watch = m.unit(WATCH).unwrap();
    assert!(watch.contains("watch --interval 30s\n"), "{watch}");
    for unit in [BOOT, WATCH] {
        let path = m.units.join(unit);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let verified = run(tool("systemd-analyze").arg("verify").arg(&path));
        verified.ok();
        assert!(
            verified.stderr.trim().is_empty(),
            "systemd-analyze warns:{verified}"
        );
    }

    // Debian's cloud-init orders cloud-final.service (user-data) after multi-user.target, which
    // wants both units: with the default dependencies, that is a cycle systemd breaks by dropping
    // a unit at boot. The same check finds it in a unit that keeps them.
    let lib = tmp.path().join("lib");
    let wants = lib.join("multi-user.target.wants");
    fs::create_dir_all(&wants).unwrap();
    write(&lib, "cloud-final.service", DEBIAN_CLOUD_FINAL, Mode::Plain);
    write(
        &lib,
        "cloud-init.target",
        DEBIAN_CLOUD_INIT_TARGET,
        Mode::Plain,
    );
    let cycles = |boot: &str, watch: &str| {
        fs::write(lib.join(BOOT), boot).unwrap();
        fs::write(lib.join(WATCH), watch).unwrap();
        for unit in [BOOT, WATCH, "cloud-final.service"] {
            let link = wants.join(unit);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(lib.join(unit), link).unwrap();
        }
        let ran = run(tool("systemd-analyze")
            .args(["verify", "multi-user.target"])
            .env("SYSTEMD_UNIT_PATH", format!("{}:", lib.display())));
        ran.ok();
        ran.stderr.contains("ordering cycle")
    };
    assert!(!cycles(&boot, &watch), "the units make an ordering cycle");
    let with_defaults =
        |text: &str| text.replace("DefaultDependencies=no", "DefaultDependencies=yes");
    assert!(
        cycles(&with_defaults(&boot), &watch),
        "systemd-analyze no longer finds the cycle this test guards against"
    );
}

/// `cloud-final.service` and `cloud-init.target` as Debian 12's cloud-init 22.4.2 ships them.
const DEBIAN_CLOUD_FINAL: &str = "[Unit]\nDescription=Execute cloud user/final scripts\n\
After=network-online.target cloud-config.service rc-local.service\nAfter=multi-user.target\n\
Before=apt-daily.service\nWants=network-online.target cloud-config.service\n\n[Service]\n\
Type=oneshot\nExecStart=/bin/true\nRemainAfterExit=yes\nTimeoutSec=0\nKillMode=process\n\
TasksMax=infinity\nStandardOutput=journal+console\n\n[Install]\nWantedBy=cloud-init.target\n";
const DEBIAN_CLOUD_INIT_TARGET: &str =
    "[Unit]\nDescription=Cloud-init target\nAfter=multi-user.target\n";

/// What `install --watch DUR` asks of systemctl, first time or again with the same interval.
const WATCH_INSTALL: [&str; 4] = [
    "daemon-reload",
    "enable startup-bundle.service",
    "enable startup-bundle-watch.service",
    "start --no-block startup-bundle-watch.service",
];

#[test]
fn install_enables_the_units_and_installing_again_changes_nothing() {
    let tmp = scratch();
    let m = configured(tmp.path());
    run(&mut m.install(&["--watch", "30s"]))
        .ok()
        .stderr_has("installed: startup-bundle.service (every later boot) and startup-bundle-watch.service (every 30s)");
    assert_eq!(m.calls(), WATCH_INSTALL);
    let before = (m.unit(BOOT), m.unit(WATCH));
    run(&mut m.install(&["--watch", "30s"]))
        .ok()
        .stderr_has("is up to date");
    assert_eq!((m.unit(BOOT), m.unit(WATCH)), before);
    assert_eq!(m.calls(), WATCH_INSTALL);
    // Another interval restarts the watch; no --watch removes it and leaves the boot unit.
    run(&mut m.install(&["--watch", "5m"])).ok();
    assert!(m.unit(WATCH).unwrap().contains("--interval 5m\n"));
    assert!(
        m.calls()
            .contains(&"restart --no-block startup-bundle-watch.service".to_string())
    );
    run(&mut m.install(&[])).ok();
    assert_eq!(m.listing(), [BOOT]);
    assert_eq!(m.unit(BOOT), before.0);
    assert_eq!(
        m.calls(),
        [
            "daemon-reload",
            "enable startup-bundle.service",
            "disable --now --no-block startup-bundle-watch.service",
            "daemon-reload",
        ]
    );
}

#[test]
fn a_failing_systemctl_leaves_the_machine_as_it_was() {
    let tmp = scratch();
    let m = configured(tmp.path());
    // A first install fails at the watch unit: nothing stays, and what was enabled is disabled.
    run(m
        .install(&["--watch", "30s"])
        .env("FAIL_ON", "enable startup-bundle-watch.service"))
    .code(1)
    .stderr_has("`systemctl enable startup-bundle-watch.service` failed")
    .stderr_has("Access denied")
    .stderr_has("undone");
    assert!(m.listing().is_empty(), "{:?}", m.listing());
    assert_eq!(
        m.calls(),
        [
            "daemon-reload",
            "enable startup-bundle.service",
            "enable startup-bundle-watch.service",
            "disable startup-bundle.service",
            "disable startup-bundle-watch.service",
            "daemon-reload",
        ]
    );
    // Over an earlier install, a failure puts its files back byte for byte.
    run(&mut m.install(&["--watch", "30s"])).ok();
    let before = (m.unit(BOOT), m.unit(WATCH));
    m.calls();
    let other_bin = tmp.path().join("other-bootstrap");
    fs::copy(env!("CARGO_BIN_EXE_bundle-bootstrap"), &other_bin).unwrap();
    run(m
        .install(&["--watch", "1m", "--bin"])
        .arg(&other_bin)
        .env("FAIL_ON", "restart --no-block startup-bundle-watch.service"))
    .code(1);
    assert_eq!((m.unit(BOOT), m.unit(WATCH)), before);
    // The units were installed before: they stay enabled.
    assert!(!m.calls().iter().any(|c| c.starts_with("disable")));
}

#[test]
fn without_systemd_or_a_configuration_nothing_is_written() {
    let tmp = scratch();
    let m = configured(tmp.path());
    fs::remove_dir(&m.systemd).unwrap();
    run(&mut m.install(&["--watch", "30s"]))
        .code(1)
        .stderr_has("systemd is not running this machine")
        .stderr_has("hint:");
    assert!(m.listing().is_empty());
    assert!(m.calls().is_empty());

    let m = Machine::new(&tmp.path().join("b"));
    run(&mut m.install(&[]))
        .code(1)
        .stderr_has("no saved configuration");
    m.save_config("pass = \"file:/etc/pw\"\n");
    run(&mut m.install(&[]))
        .code(1)
        .stderr_has("it names no URL");
    run(&mut m.install(&["--watch", "0s"])).code(1);
    assert!(m.listing().is_empty());
    assert!(m.calls().is_empty());
}

#[test]
fn a_unit_file_install_did_not_write_is_left_alone() {
    let tmp = scratch();
    let m = configured(tmp.path());
    let mine = "[Service]\nExecStart=/usr/local/bin/something-else\n";
    fs::write(m.units.join(BOOT), mine).unwrap();
    run(&mut m.install(&[]))
        .code(1)
        .stderr_has("was not written by bundle-bootstrap install");
    assert_eq!(m.unit(BOOT).as_deref(), Some(mine));
    // Masked (a link to /dev/null) is the administrator's decision too.
    fs::remove_file(m.units.join(BOOT)).unwrap();
    std::os::unix::fs::symlink("/dev/null", m.units.join(BOOT)).unwrap();
    run(&mut m.install(&[])).code(1);
    assert_eq!(
        fs::read_link(m.units.join(BOOT)).unwrap(),
        Path::new("/dev/null")
    );
    assert!(m.calls().is_empty());
}

#[test]
fn once_per_boot_skips_only_a_boot_that_already_applied() {
    let tmp = scratch();
    let server = Server::start();
    let file = tmp.path().join("web.bundle");
    pack(&web(tmp.path(), "1", &["app"]), &file, &[]);
    server.put("/web.bundle", fs::read(&file).unwrap());
    let pass = tmp.path().join("pass");
    fs::write(&pass, format!("{PASS}\n")).unwrap();
    let config = tmp.path().join("etc/bootstrap.toml");
    let state = tmp.path().join("state");
    let bootstrap_with =
        |args: &[&str]| -> Ran { run(bootstrap().arg("--config").arg(&config).args(args)) };
    let marks = || fs::read_to_string(tmp.path().join("marks")).unwrap_or_default();
    let status_path = state.join("status.json");
    // User-data's run at the first boot, then the boot unit's in the same boot: nothing.
    run(bootstrap()
        .arg("--config")
        .arg(&config)
        .args(["run", &server.url("/web.bundle"), "--iter", ITER])
        .arg("--pass")
        .arg(format!("file:{}", pass.display()))
        .arg("--state-dir")
        .arg(&state))
    .ok();
    let first = fs::read_to_string(&status_path).unwrap();
    bootstrap_with(&["run", "--once-per-boot"])
        .ok()
        .stderr_has("nothing to do (--once-per-boot): web 1");
    assert_eq!(marks(), "app 1\n");
    assert_eq!(
        fs::read_to_string(&status_path).unwrap(),
        first,
        "the status changed"
    );
    bootstrap_with(&["status"]).ok().stdout_has("(this boot)");

    // A later boot: the status was written in another one (its boot id differs).
    let this_boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let earlier = first.replace(this_boot.trim(), "00000000-0000-4000-8000-000000000000");
    assert_ne!(earlier, first, "status.json does not record the boot id");
    fs::write(&status_path, &earlier).unwrap();
    bootstrap_with(&["status"])
        .ok()
        .stdout_has("(an earlier boot)");
    bootstrap_with(&["run", "--once-per-boot"]).ok();
    assert_eq!(marks(), "app 1\n".repeat(2));

    // A run that failed in this boot is no reason to skip: the unit tries again.
    let failed = fs::read_to_string(&status_path)
        .unwrap()
        .replace("\"result\": \"ok\"", "\"result\": \"failed\"");
    fs::write(&status_path, failed).unwrap();
    bootstrap_with(&["run", "--once-per-boot"]).ok();
    assert_eq!(marks(), "app 1\n".repeat(3));
    // Nor is a status from before boot ids were recorded.
    let old: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&status_path).unwrap()).unwrap();
    let mut old = old.as_object().unwrap().clone();
    old.remove("boot_id");
    fs::write(&status_path, serde_json::to_string(&old).unwrap()).unwrap();
    bootstrap_with(&["run", "--once-per-boot"]).ok();
    assert_eq!(marks(), "app 1\n".repeat(4));
}
