//! `bundle-bootstrap install`: the systemd units (see `startup_bundle::boot::units`).

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::boot::config;
use startup_bundle::boot::units::{self, InstallOptions, UnitOptions};
use startup_bundle::cli::{Dur, Failure};

use super::{Ctx, log};

/// `install`'s flags.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Also install startup-bundle-watch.service, which polls this often and applies a new release
    /// [default: no watch; the watch unit of an earlier install is removed]
    #[arg(long, value_name = "DUR")]
    pub watch: Option<Dur>,
    /// Where the unit files go
    #[arg(long, value_name = "DIR", default_value = units::DEFAULT_UNIT_DIR)]
    pub unit_dir: PathBuf,
    /// The bundle-bootstrap the units run [default: this program]
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// The folder whose presence says that systemd runs this machine (for tests on machines
    /// whose systemd is not the one to talk to)
    #[arg(long, value_name = "DIR", default_value = units::SYSTEMD_RUN_DIR, hide = true)]
    pub systemd_dir: PathBuf,
}

impl InstallArgs {
    /// Installs the units; exit 1 when nothing could be installed (and nothing was left behind).
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        if config::is_none(&ctx.config) {
            return Err(Failure::usage_hint(
                "install needs the saved configuration the units apply, and --config none names none",
                "give --config FILE, or leave it out for /etc/startup-bundle/bootstrap.toml",
            ));
        }
        let bin = match self.bin {
            Some(bin) => absolute(bin),
            None => std::env::current_exe().map_err(|e| {
                Failure::usage(format!(
                    "cannot tell where this program is: {e}; give --bin PATH"
                ))
            })?,
        };
        let opts = InstallOptions {
            units: UnitOptions {
                bin,
                config: absolute(ctx.config.clone()),
            },
            watch: self.watch.map(|d| d.0),
            unit_dir: self.unit_dir,
            systemd_dir: self.systemd_dir,
            systemctl: "systemctl".into(),
        };
        units::install(&opts, &mut log)?;
        if let Ok(Some(saved)) = ctx.saved()
            && saved.one("pass").is_none()
        {
            log(&format!(
                "warning: {} names no passphrase source: a later boot can re-apply the release kept \
                 here, but not decrypt a new one; add pass = \"file:PATH\" to it",
                ctx.config.display()
            ));
        }
        log(&match opts.watch {
            Some(every) => format!(
                "installed: {} (every later boot) and {} (every {})",
                units::BOOT_UNIT,
                units::WATCH_UNIT,
                Dur(every)
            ),
            None => format!("installed: {} (every later boot)", units::BOOT_UNIT),
        });
        Ok(ExitCode::SUCCESS)
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}
