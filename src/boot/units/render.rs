//! The text of the two systemd units. Pure: options in, unit file text out.
//!
//! Both units leave the default dependencies off and restate the ones they keep: a unit that
//! `multi-user.target` wants is otherwise ordered before that target, and Debian and Ubuntu order
//! `cloud-final.service` (user-data) after it, so `After=cloud-final.service` would be a cycle
//! (systemd.target(5), "Default Dependencies"). `After=` a unit that is not being started orders
//! nothing, so the same units work on a machine without cloud-init.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::{BOOT_UNIT, MARKER, UnitsError};
use crate::cli::Dur;

/// What the units run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitOptions {
    /// The `bundle-bootstrap` they run (absolute).
    pub bin: std::path::PathBuf,
    /// The saved configuration they apply (absolute).
    pub config: std::path::PathBuf,
}

/// Ordering and the default dependencies both units keep (see the module docs).
const ORDERING: &str = "\
# No default dependencies: with them, multi-user.target (which wants this unit) would be ordered
# after it, and Debian and Ubuntu order cloud-final.service after multi-user.target: a cycle.
# The defaults kept:
DefaultDependencies=no
Requires=sysinit.target
After=sysinit.target basic.target
Conflicts=shutdown.target
Before=shutdown.target
";

/// The service settings both units share — how stops treat what modules started, and the
/// hardening that leaves modules able to do their job — and their `[Install]` section.
const SHARED_SERVICE: &str = "\
# A stop or restart signals bundle-bootstrap alone, which passes the TERM on to the script it is
# running and records the run as interrupted (exit 143: the unit shows as failed). Daemons a module
# started in the background (`&`) stay in this unit's control group and keep running, as they do
# after user-data.
KillMode=process
# Not capped either (as cloud-final.service, which runs user-data, does not cap them).
TasksMax=infinity
# Hardening. Modules run as root and change the system: they install packages (which install
# setuid files), write /etc, /usr, /opt and /home, start daemons (in the background too, which then
# live under these settings), load kernel modules, set sysctls and the host name, mount volumes,
# and use setuid tools (sudo, su) and JITs (Java, Erlang, SBCL). Only what none of that needs is on:
# no 32-bit (i386, x32) system calls: a module that runs 32-bit x86 programs needs this line gone;
SystemCallArchitectures=native
# no SCHED_FIFO/SCHED_RR: a daemon that needs real-time scheduling belongs in its own unit.
RestrictRealtime=yes
# Left off, and why: NoNewPrivileges (sudo, su and other setuid tools stop working),
# RestrictSUIDSGID (package installs create setuid files), MemoryDenyWriteExecute (JITs: Java,
# Erlang, SBCL), LockPersonality (SBCL turns address randomization off with personality(2)),
# ProtectSystem, ProtectHome, ReadOnlyPaths (modules write /etc, /usr, /opt, /home), PrivateTmp
# (daemons left running would keep a /tmp nobody else sees), PrivateDevices (volumes, mkfs),
# ProtectKernelModules (modprobe), ProtectKernelTunables (sysctl), ProtectHostname (the base module
# sets it), ProtectClock (hwclock, date), ProtectKernelLogs (dmesg, log agents), ProtectControlGroups
# and RestrictNamespaces (container runtimes), ProtectProc (pgrep for another user's daemon),
# RestrictAddressFamilies and SystemCallFilter (networking and system tools need nearly all).

[Install]
WantedBy=multi-user.target
";

/// `startup-bundle.service`: re-applies the bundle at every boot after the first.
pub fn boot_unit(o: &UnitOptions) -> Result<String, UnitsError> {
    let config = arg(&o.config)?;
    let mut s = String::new();
    header(
        &mut s,
        BOOT_UNIT,
        "re-applies this instance's start-up bundle at every boot, from the\n# saved configuration (as `bundle-bootstrap run` with no URL)",
    );
    let _ = write!(
        s,
        "[Unit]\n\
         Description=startup-bundle: apply this instance's start-up bundle\n\
         Wants=network-online.target\n\
         # After user-data (cloud-final.service), which applies the bundle at an instance's first boot:\n\
         # --once-per-boot then finds that run and does nothing. Before cloud-init.target, so that\n\
         # \"cloud-init is done\" includes this run.\n\
         After=network-online.target cloud-final.service\n\
         Before=cloud-init.target\n\
         {ORDERING}\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={} --config {config} run --once-per-boot\n\
         # \"active (exited)\" after a successful run: `systemctl status startup-bundle` shows it, with\n\
         # the daemons the modules left running.\n\
         RemainAfterExit=yes\n\
         # bundle-bootstrap keeps its own time (--retry-for, --module-timeout, --offline-after).\n\
         TimeoutStartSec=infinity\n\
         StandardOutput=journal+console\n\
         StandardError=journal+console\n\
         SyslogIdentifier=startup-bundle\n\
         {SHARED_SERVICE}",
        arg(&o.bin)?
    );
    Ok(s)
}

/// `startup-bundle-watch.service`: polls every `interval` and applies what changed.
pub fn watch_unit(o: &UnitOptions, interval: Duration) -> Result<String, UnitsError> {
    let config = arg(&o.config)?;
    let every = Dur(interval).to_string();
    let mut s = String::new();
    header(
        &mut s,
        super::WATCH_UNIT,
        &format!("polls the bundle's URL every {every} and applies it when it changes"),
    );
    let _ = write!(
        s,
        "[Unit]\n\
         Description=startup-bundle: apply the bundle again when it changes (every {every})\n\
         Wants=network-online.target\n\
         # After the boot's own run, so that the two never take turns on the state folder at boot.\n\
         After=network-online.target {BOOT_UNIT}\n\
         {ORDERING}\
         \n\
         [Service]\n\
         Type=exec\n\
         ExecStart={} --config {config} watch --interval {every}\n\
         # A failed poll or apply does not stop the watch; a configuration mistake does (exit 1),\n\
         # and stays stopped until the configuration is fixed and the unit started again.\n\
         Restart=on-failure\n\
         RestartSec=1min\n\
         RestartPreventExitStatus=1\n\
         SyslogIdentifier=startup-bundle-watch\n\
         {SHARED_SERVICE}",
        arg(&o.bin)?
    );
    Ok(s)
}

fn header(s: &mut String, name: &str, what: &str) {
    let _ = write!(
        s,
        "{MARKER}\n\
         # {name} {what}.\n\
         # `bundle-bootstrap install` rewrites this file: change it there, or with a drop-in\n\
         # (systemctl edit {name}). README, \"Every boot: the systemd units\", says why each line is here.\n"
    );
}

/// A path as one `ExecStart=` word (systemd.service(5), "Command lines";
/// systemd.unit(5), "Specifiers"): `%` is written `%%`, `$` `$$`, `\` and `"` escaped, and a word
/// with spaces quoted. A path with a control character or that is not absolute is refused.
fn arg(path: &Path) -> Result<String, UnitsError> {
    let text = path.to_str().ok_or_else(|| UnitsError::BadPath {
        path: path.to_path_buf(),
        why: "is not UTF-8",
    })?;
    if !path.is_absolute() {
        return Err(UnitsError::BadPath {
            path: path.to_path_buf(),
            why: "is not absolute",
        });
    }
    if text.chars().any(char::is_control) {
        return Err(UnitsError::BadPath {
            path: path.to_path_buf(),
            why: "holds a control character",
        });
    }
    let mut word = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => word.push_str("%%"),
            '$' => word.push_str("$$"),
            '\\' => word.push_str("\\\\"),
            '"' => word.push_str("\\\""),
            c => word.push(c),
        }
    }
    Ok(if word.contains([' ', '\'', '"']) {
        format!("\"{word}\"")
    } else {
        word
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_one_word_systemd_reads_back() {
        assert_eq!(
            arg(Path::new("/usr/local/bin/b")).unwrap(),
            "/usr/local/bin/b"
        );
        assert_eq!(
            arg(Path::new("/opt/my dir/100%/$x")).unwrap(),
            "\"/opt/my dir/100%%/$$x\""
        );
        assert!(arg(Path::new("relative/b")).is_err());
        assert!(arg(Path::new("/a\nExecStartPre=/bin/evil")).is_err());
    }
}
