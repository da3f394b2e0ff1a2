//! `bundle-bootstrap install`: the systemd units that apply the bundle at every later boot
//! (`startup-bundle.service`) and, when asked, whenever it changes (`startup-bundle-watch.service`).
//!
//! Installing is one transaction. Nothing is written on a machine that does not run systemd
//! (sd_booted(3): `/run/systemd/system` is a folder), nor without a saved configuration naming a
//! URL. Then the unit files are written atomically, systemd reloads them, the boot unit is enabled
//! (never started: at the first boot user-data has just applied the bundle), and the watch unit is
//! enabled and started, queued (`--no-block`) behind the boot's own run. When any step fails,
//! every file written is put back as it was, every unit this install enabled is disabled, and
//! systemd reloads again: a machine is never left half-installed. Installing again is fine: an
//! unchanged file is not rewritten, and an install without a watch removes the watch unit an
//! earlier one wrote. A unit file this program did not write is never touched.

mod error;
mod render;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use error::UnitsError;
pub use render::{UnitOptions, boot_unit, watch_unit};

use crate::boot::config::SavedConfig;

/// The oneshot unit that applies the bundle at boot.
pub const BOOT_UNIT: &str = "startup-bundle.service";
/// The unit that polls for a new release.
pub const WATCH_UNIT: &str = "startup-bundle-watch.service";
/// Where administrators' unit files go (systemd.unit(5), "Unit File Load Path").
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";
/// The folder that exists only while systemd runs the machine (sd_booted(3)).
pub const SYSTEMD_RUN_DIR: &str = "/run/systemd/system";
/// The first line of every unit file this program writes: the sign that it may rewrite it.
const MARKER: &str = "# Written by `bundle-bootstrap install` (startup-bundle).";
/// Unit files are read by systemd and by people: 0644, as systemctl writes them.
const UNIT_MODE: u32 = 0o644;
/// The shortest `--watch` interval: polling faster only loads the server.
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// How many lines of systemctl's output an error keeps.
const OUTPUT_LINES: usize = 5;

/// What to install, and where.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// What the units run.
    pub units: UnitOptions,
    /// Install the watch unit, polling this often (`None`: no watch; an earlier one is removed).
    pub watch: Option<Duration>,
    /// Where the unit files go.
    pub unit_dir: PathBuf,
    /// The folder whose presence says that systemd runs this machine.
    pub systemd_dir: PathBuf,
    /// The `systemctl` to call (looked up on `PATH` when it has no `/`).
    pub systemctl: OsString,
}

/// What an install did.
#[derive(Debug, Default)]
pub struct Installed {
    /// Unit files written (new or changed).
    pub written: Vec<PathBuf>,
    /// Unit files that already said the same.
    pub unchanged: Vec<PathBuf>,
    /// Unit files removed (the watch unit of an earlier install).
    pub removed: Vec<PathBuf>,
}

/// Installs the units (see the module docs); says through `log` what it does.
pub fn install(o: &InstallOptions, log: &mut dyn FnMut(&str)) -> Result<Installed, UnitsError> {
    let booted = fs::symlink_metadata(&o.systemd_dir).is_ok_and(|m| m.is_dir());
    if !booted {
        return Err(UnitsError::NoSystemd {
            dir: o.systemd_dir.clone(),
        });
    }
    check_config(&o.units.config)?;
    check_program(&o.units.bin)?;
    let watch = match o.watch {
        Some(every) if every < MIN_WATCH_INTERVAL => return Err(UnitsError::Interval(every)),
        Some(every) => Some(watch_unit(&o.units, every)?),
        None => None,
    };
    let boot = boot_unit(&o.units)?;
    let mut tx = Transaction {
        o,
        files: Vec::new(),
        enabled: Vec::new(),
        disabled: Vec::new(),
        done: Installed::default(),
    };
    let boot_before = tx.read(BOOT_UNIT)?;
    let watch_before = tx.read(WATCH_UNIT)?;
    let result = tx.apply(&boot, boot_before, watch.as_deref(), watch_before, log);
    match result {
        Ok(()) => Ok(tx.done),
        Err(e) => {
            tx.undo(log);
            log("undone: this install left nothing behind");
            Err(e)
        }
    }
}

/// The configuration the units apply must exist and name a URL.
fn check_config(path: &Path) -> Result<(), UnitsError> {
    let bad = |why: String| UnitsError::BadConfig {
        path: path.to_path_buf(),
        why,
    };
    match SavedConfig::load(path) {
        Ok(Some(config)) if config.url.is_some() => Ok(()),
        Ok(Some(_)) => Err(bad("it names no URL".into())),
        Ok(None) => Err(UnitsError::NoConfig {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(bad(crate::cli::report::chain(&e))),
    }
}

/// The program the units run must be an executable file.
fn check_program(bin: &Path) -> Result<(), UnitsError> {
    use std::os::unix::fs::PermissionsExt as _;
    match fs::metadata(bin) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        _ => Err(UnitsError::BadPath {
            path: bin.to_path_buf(),
            why: "is not an executable file (--bin)",
        }),
    }
}

/// Writes a unit file atomically with mode 0644 whatever the umask: user-data runs under
/// `umask 077`, and systemd warns about unit files others cannot read.
fn write_unit(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut file = crate::fsutil::NewFile::create(path, UNIT_MODE)?;
    file.file()
        .set_permissions(fs::Permissions::from_mode(UNIT_MODE))?;
    file.write_all(text.as_bytes())?;
    file.place(crate::fsutil::Overwrite::Replace)
}

/// One install: what it changed so far, to undo it.
struct Transaction<'a> {
    o: &'a InstallOptions,
    /// Files changed, with what they held before (`None`: they did not exist).
    files: Vec<(PathBuf, Option<String>)>,
    /// Units this install enabled that were not installed before.
    enabled: Vec<&'static str>,
    /// Units this install disabled (an earlier watch).
    disabled: Vec<&'static str>,
    done: Installed,
}

impl Transaction<'_> {
    fn path(&self, unit: &str) -> PathBuf {
        self.o.unit_dir.join(unit)
    }

    /// The unit file as it is, when it exists; refused when this program did not write it.
    fn read(&self, unit: &str) -> Result<Option<String>, UnitsError> {
        let path = self.path(unit);
        let io_err = |source| UnitsError::Io {
            action: "read",
            path: path.clone(),
            source,
        };
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
            // A link (`systemctl mask` makes one to /dev/null) is an administrator's decision.
            Ok(meta) if !meta.is_file() => return Err(UnitsError::NotOurs { path }),
            Ok(_) => {}
        }
        let text = fs::read_to_string(&path).map_err(io_err)?;
        if !text.starts_with(MARKER) {
            return Err(UnitsError::NotOurs { path });
        }
        Ok(Some(text))
    }

    fn apply(
        &mut self,
        boot: &str,
        boot_before: Option<String>,
        watch: Option<&str>,
        watch_before: Option<String>,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), UnitsError> {
        let boot_new = boot_before.is_none();
        self.write(BOOT_UNIT, boot, boot_before, log)?;
        let watch_changed = match watch {
            Some(text) => self.write(WATCH_UNIT, text, watch_before.clone(), log)?,
            None => false,
        };
        self.systemctl(&["daemon-reload"])?;
        self.enable(BOOT_UNIT, boot_new)?;
        log(&format!(
            "enabled {BOOT_UNIT}: every later boot applies the bundle again (not this one: it just did)"
        ));
        match (watch, watch_before) {
            (Some(_), before) => {
                self.enable(WATCH_UNIT, before.is_none())?;
                // Queued, not waited for: at an instance's first boot from an image that has the
                // units, the boot unit waits for user-data, which is running this install.
                let verb = if watch_changed && before.is_some() {
                    "restart"
                } else {
                    "start"
                };
                self.systemctl(&[verb, "--no-block", WATCH_UNIT])?;
                log(&format!(
                    "enabled and started {WATCH_UNIT}: it polls for a new release"
                ));
            }
            (None, Some(before)) => {
                self.disabled.push(WATCH_UNIT);
                self.systemctl(&["disable", "--now", "--no-block", WATCH_UNIT])?;
                let path = self.path(WATCH_UNIT);
                self.files.push((path.clone(), Some(before)));
                fs::remove_file(&path).map_err(|source| UnitsError::Io {
                    action: "remove",
                    path: path.clone(),
                    source,
                })?;
                crate::fsutil::sync_dir(&self.o.unit_dir).ok();
                self.systemctl(&["daemon-reload"])?;
                log(&format!(
                    "stopped, disabled and removed {WATCH_UNIT} (this install has no --watch)"
                ));
                self.done.removed.push(path);
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Writes `text` as `unit` unless it already says that; returns whether it wrote.
    fn write(
        &mut self,
        unit: &str,
        text: &str,
        before: Option<String>,
        log: &mut dyn FnMut(&str),
    ) -> Result<bool, UnitsError> {
        let path = self.path(unit);
        if before.as_deref() == Some(text) {
            log(&format!("{} is up to date", path.display()));
            self.done.unchanged.push(path);
            return Ok(false);
        }
        write_unit(&path, text).map_err(|source| UnitsError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        log(&format!("wrote {}", path.display()));
        self.files.push((path.clone(), before));
        self.done.written.push(path);
        Ok(true)
    }

    fn enable(&mut self, unit: &'static str, new: bool) -> Result<(), UnitsError> {
        if new {
            self.enabled.push(unit);
        }
        self.systemctl(&["enable", unit])
    }

    fn systemctl(&self, args: &[&str]) -> Result<(), UnitsError> {
        let command = format!(
            "{} {}",
            Path::new(&self.o.systemctl).display(),
            args.join(" ")
        );
        let output = Command::new(&self.o.systemctl)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| UnitsError::Systemctl {
                command: command.clone(),
                why: format!("cannot start it: {e}"),
            })?;
        if output.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join(" / ");
        Err(UnitsError::Systemctl {
            command,
            why: format!(
                "{}{}{tail}",
                output.status,
                if tail.is_empty() { "" } else { ": " }
            ),
        })
    }

    /// Puts back every file as it was and disables what this install enabled (best effort:
    /// each failure is said, and the rest still undone).
    fn undo(&mut self, log: &mut dyn FnMut(&str)) {
        let mut say = |result: Result<(), UnitsError>| {
            if let Err(e) = result {
                log(&format!("undo: {e}"));
            }
        };
        // Disabled while their files are still there; re-enabled once they are back.
        for unit in std::mem::take(&mut self.enabled) {
            say(self.systemctl(&["disable", unit]));
        }
        for (path, before) in std::mem::take(&mut self.files).into_iter().rev() {
            let undone = match &before {
                Some(text) => write_unit(&path, text),
                None => fs::remove_file(&path),
            };
            say(undone.map_err(|source| UnitsError::Io {
                action: "restore",
                path,
                source,
            }));
        }
        crate::fsutil::sync_dir(&self.o.unit_dir).ok();
        say(self.systemctl(&["daemon-reload"]));
        for unit in std::mem::take(&mut self.disabled) {
            say(self.systemctl(&["enable", "--now", "--no-block", unit]));
        }
    }
}
