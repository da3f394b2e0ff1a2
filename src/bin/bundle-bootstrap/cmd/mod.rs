//! One file per subcommand: its flags and its `run`; and how a subcommand's flags meet the saved
//! configuration.

pub mod install;
pub mod reapply;
pub mod run;
pub mod status;
pub mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory as _;
use startup_bundle::boot::config::{ConfigError, SavedConfig};
use startup_bundle::cli::{self, Failure, RunArgs};

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

/// Prints one line of the bootstrap's own log on stderr, prefixed with the program name.
pub fn log(line: &str) {
    eprintln!("{}: {line}", super::PROGRAM);
}
