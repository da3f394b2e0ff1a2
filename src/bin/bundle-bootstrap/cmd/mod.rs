//! One file per subcommand: its flags and its `run`; and how a subcommand's flags meet the saved
//! configuration.

pub mod install;
pub mod reapply;
pub mod run;
pub mod status;
pub mod watch;

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory as _;
use startup_bundle::boot::config::{ConfigError, SavedConfig};
use startup_bundle::cli::{self, Failure, RunArgs};
use startup_bundle::progress::{self, Progress};

use crate::Cli;

/// What every subcommand gets besides its flags.
pub struct Ctx {
    /// The saved configuration's path (`--config`, or the default).
    pub config: PathBuf,
    /// The command line as given, program first.
    pub args: Vec<OsString>,
    /// What clap made of it.
    pub matches: clap::ArgMatches,
}

impl Ctx {
    /// The saved configuration, when there is one.
    pub fn saved(&self) -> Result<Option<SavedConfig>, Failure> {
        Ok(SavedConfig::load(&self.config)?)
    }

    /// The flags of `sub` with the saved configuration in front of them (given flags win), parsed
    /// again; `url_given` says whether the command line named a URL. `Err(Ok(code))`: clap already
    /// reported a mistake in the saved flags.
    pub fn with_saved(&self, sub: &str, url_given: bool) -> Result<Cli, Result<ExitCode, Failure>> {
        let saved = self.saved().map_err(Err)?.ok_or_else(|| {
            Err(Failure::from(ConfigError::Missing {
                path: self.config.clone(),
            }))
        })?;
        let command = Cli::command();
        if let Some(run) = command.find_subcommand("run") {
            let known: Vec<&str> = run.get_arguments().filter_map(|a| a.get_long()).collect();
            if let Some((key, _)) = saved
                .flags
                .iter()
                .find(|(k, _)| !known.contains(&k.as_str()))
            {
                return Err(Err(Failure::from(ConfigError::Invalid {
                    path: self.config.clone(),
                    reason: format!("{key}: not a `bundle-bootstrap run` flag"),
                })));
            }
        }
        let mut argv = vec![self.args[0].clone()];
        argv.extend(cli::run_args::with_saved(
            &self.args[1..],
            sub,
            &saved,
            url_given,
        ));
        match cli::parse_matches::<Cli>(crate::PROGRAM, argv, true) {
            Ok((cli, _)) => Ok(cli),
            Err(code) => {
                log(&format!(
                    "(the flags above came from the saved configuration {})",
                    self.config.display()
                ));
                Err(Ok(code))
            }
        }
    }

    /// The state folder the saved configuration names, else the default.
    pub fn state_dir(&self) -> Result<PathBuf, Failure> {
        Ok(self
            .saved()?
            .and_then(|s| s.one("state-dir").map(PathBuf::from))
            .unwrap_or_else(startup_bundle::state::default_state_dir))
    }

    /// Saves the flags `sub` was given as the configuration (a `run URL` that is not a dry run).
    pub fn save(&self, sub: &str) {
        let Some(matches) = self.matches.subcommand_matches(sub) else {
            return;
        };
        let run = Cli::command();
        let Some(run) = run.find_subcommand("run") else {
            return;
        };
        if startup_bundle::boot::config::is_none(&self.config) {
            return;
        }
        let (config, note) = cli::run_args::saved_config(run, matches);
        match config.save(&self.config) {
            Ok(()) => log(&format!(
                "saved this configuration to {} (a later boot re-applies from it)",
                self.config.display()
            )),
            Err(e) => log(&format!("warning: {}", cli::report::chain(&e))),
        }
        if let Some(note) = note {
            log(&format!("note: {note}"));
        }
    }
}

/// The run flags of `sub`, from the command line or — without a URL — from the saved configuration
/// under them. Saves them when a URL was given and this is not a dry run.
pub fn resolve(
    args: RunArgs,
    sub: &str,
    ctx: &Ctx,
    pick: impl FnOnce(Cli) -> Option<RunArgs>,
) -> Result<RunArgs, Result<ExitCode, Failure>> {
    if args.url.is_some() {
        if !args.dry_run {
            ctx.save(sub);
        }
        return Ok(args);
    }
    let cli = ctx.with_saved(sub, false)?;
    pick(cli).ok_or_else(|| Err(Failure::usage("the saved configuration names no URL")))
}

/// Prints a message of the bootstrap's own log on stderr, each of its lines after the UTC time
/// (ISO 8601, whole seconds) and the program's name: the journal keeps every line as an entry of
/// its own, and the scripts' lines (`[module] …`) stay easy to tell apart.
pub fn log(text: &str) {
    log_as(super::PROGRAM, text);
}

/// [`log`], with `name` in place of the program's name (`bundle-bootstrap watch`).
pub fn log_as(name: &str, text: &str) {
    let now = startup_bundle::date::rfc3339(std::time::SystemTime::now());
    let mut err = std::io::stderr().lock();
    for line in text.lines() {
        // Nowhere to report a failing stderr.
        let _ = writeln!(err, "{now} {name}: {line}");
    }
}

/// The first line an applying subcommand prints: which bootstrap this is, so a boot log says what
/// ran it. A passphrase in the environment or an inherited descriptor is moved out first: that
/// re-executes this program (same pid), which would print every line before it twice.
/// (`RunArgs::options` tries again, and warns, if this could not.)
pub fn log_version(sub: &str, args: &RunArgs) {
    let _ = startup_bundle::secret::handoff(args.decrypt.pass.as_ref());
    log(&format!(
        "version {} (startup-bundle), {sub}, pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    ));
}

/// Progress lines for a long download or unpack: every `BUNDLE_PROGRESS_EVERY` (default 5s, `0`:
/// never) when stderr is not a terminal — cloud-init's log, the journal. A terminal gets none.
pub fn progress() -> Result<Progress, Failure> {
    if std::io::stderr().is_terminal() {
        return Ok(Progress::Quiet);
    }
    let every = match std::env::var(progress::EVERY_VAR) {
        Ok(text) => startup_bundle::duration::parse(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", progress::EVERY_VAR)))?,
        Err(_) => progress::DEFAULT_EVERY,
    };
    Ok(Progress::lines(every, log))
}
